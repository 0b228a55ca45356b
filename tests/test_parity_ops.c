/* Every kernel against PyTorch: replays the fixtures written by
 * tools/make_op_fixtures.py (tests/fixtures/ops, or the directory in
 * ANOMALY_FIXTURES) and compares the forward result within 1e-5 and every
 * gradient within 1e-4 of the largest reference value. Both builds compare
 * against the same float32 files. Each backward is run twice into the same
 * buffers to check that it accumulates (+=) rather than overwrites. */
#include "check.h"

#include <dirent.h>
#include <stdint.h>

#include "anomaly/arena.h"
#include "anomaly/error.h"
#include "anomaly/ops.h"
#include "anomaly/safetensors.h"
#include "anomaly/tape.h"

#ifndef TOL_FWD /* overridable to measure the margin: -DTOL_FWD=1e-6 */
#define TOL_FWD 1e-5
#endif
#ifndef TOL_GRAD
#define TOL_GRAD 1e-4
#endif
#define MAX_ALLOCS 64

typedef struct Fx {
    SafeTensors st;
    void *allocs[MAX_ALLOCS];
    int n_allocs;
} Fx;

static void *fx_keep(Fx *f, void *p) {
    if (f->n_allocs == MAX_ALLOCS) fatal("too many buffers in one fixture");
    return f->allocs[f->n_allocs++] = p;
}

static real *fx_zeros(Fx *f, size_t n) { return fx_keep(f, xcalloc(n ? n : 1, sizeof(real), "a buffer")); }

/* A fixture tensor as `real`; its element count must be n. */
static real *fx_real(Fx *f, const char *name, size_t n) {
    const StTensor *t = safetensors_find(&f->st, name);
    real *out = fx_zeros(f, n);
    if (!t) { CHECK(0, "fixture has no tensor '%s'", name); return out; }
    if (t->numel != n) { CHECK(0, "'%s' has %zu elements, expected %zu", name, t->numel, n); return out; }
    if (st_tensor_to_real(t, out)) CHECK(0, "'%s' is %s, not a float tensor", name, st_dtype_name(t->dtype));
    return out;
}

static int *fx_labels(Fx *f, const char *name, size_t n) {
    const StTensor *t = safetensors_find(&f->st, name);
    int64_t *tmp = fx_keep(f, xcalloc(n ? n : 1, sizeof *tmp, "labels"));
    int *out = fx_keep(f, xcalloc(n ? n : 1, sizeof *out, "labels"));
    if (!t || t->numel != n || st_tensor_to_i64(t, tmp)) CHECK(0, "'%s': %zu integers expected", name, n);
    for (size_t i = 0; i < n; i++) out[i] = (int)tmp[i];
    return out;
}

static uint8_t *fx_mask(Fx *f, const char *name, size_t n) {
    const StTensor *t = safetensors_find(&f->st, name);
    uint8_t *out = fx_keep(f, xcalloc(n ? n : 1, 1, "a mask"));
    if (!t || t->numel != n || (t->dtype != ST_U8 && t->dtype != ST_BOOL)) {
        CHECK(0, "'%s': %zu bytes of U8 expected", name, n);
        return out;
    }
    memcpy(out, t->data, n);
    return out;
}

static double fx_num(Fx *f, const char *key) {
    const char *v = safetensors_meta(&f->st, key);
    char *end = NULL;
    double x = v ? strtod(v, &end) : 0;
    if (!v || end == v || *end) CHECK(0, "metadata '%s' is %s", key, v ? v : "missing");
    return x;
}

static int fx_int(Fx *f, const char *key) { return (int)fx_num(f, key); }

/* check_close over `real` with zero-filled scratch (check.h's CHECK_CLOSE
 * trips gcc's -Wmaybe-uninitialized when n is not a constant). */
static int close_real(const char *file, int line, const char *what, const real *got, const real *ref,
                      size_t n, double tol) {
    double *g = xcalloc(n + 1, sizeof *g, "a comparison"), *r = xcalloc(n + 1, sizeof *r, "a comparison");
    for (size_t i = 0; i < n; i++) {
        g[i] = got[i];
        r[i] = ref[i];
    }
    int ok = check_close_impl(file, line, what, g, r, n, tol);
    free(g);
    free(r);
    return ok;
}
#define CMP(what, got, ref, n, tol) close_real(__FILE__, __LINE__, what, got, ref, n, tol)

/* Runs `call` twice into zeroed gradient buffers: the first result must match
 * the reference, the second twice the reference (accumulation). */
#define GRAD_TWICE(call, ...)                                      \
    do {                                                           \
        call;                                                      \
        check_grads(0, __VA_ARGS__, (const char *)NULL);           \
        call;                                                      \
        check_grads(1, __VA_ARGS__, (const char *)NULL);           \
    } while (0)

/* Arguments: (name, got, ref, n) quadruples, NULL-terminated. */
static void check_grads(int twice, ...) {
    va_list ap;
    va_start(ap, twice);
    const char *name;
    while ((name = va_arg(ap, const char *))) {
        const real *got = va_arg(ap, const real *), *ref = va_arg(ap, const real *);
        size_t n = va_arg(ap, size_t);
        real *want = xmalloc((n ? n : 1) * sizeof *want, "a reference");
        for (size_t i = 0; i < n; i++) want[i] = twice ? 2 * ref[i] : ref[i];
        char what[96];
        snprintf(what, sizeof what, "%s%s", name, twice ? " (second call must accumulate)" : "");
        CMP(what, got, want, n, TOL_GRAD);
        free(want);
    }
    va_end(ap);
}
#define G(name, got, ref, n) name, (const real *)(got), (const real *)(ref), (size_t)(n)

/* ---- per-family runners ---- */

static void run_conv(Fx *f, int depthwise) {
    Conv2dShape s = {fx_int(f, "n"), fx_int(f, "c"), fx_int(f, "h"), fx_int(f, "w"), fx_int(f, "oc"),
                     fx_int(f, "kh"), fx_int(f, "kw"), fx_int(f, "sh"), fx_int(f, "sw"), fx_int(f, "dh"),
                     fx_int(f, "dw"), fx_int(f, "pad_t"), fx_int(f, "pad_b"), fx_int(f, "pad_l"),
                     fx_int(f, "pad_r"), fx_int(f, "groups"), 0, 0};
    char err[256];
    if (conv2d_shape_resolve(&s, err, sizeof err)) { CHECK(0, "shape: %s", err); return; }
    int bias = fx_int(f, "bias");
    size_t ni = (size_t)s.n * s.c * s.h * s.w, no = (size_t)s.n * s.oc * s.oh * s.ow;
    size_t nw = (size_t)s.oc * (s.c / s.groups) * s.kh * s.kw;
    real *x = fx_real(f, "inp", ni), *w = fx_real(f, "weight", nw), *dout = fx_real(f, "dout", no);
    real *b = bias ? fx_real(f, "bias", (size_t)s.oc) : NULL;
    real *ref = fx_real(f, "out", no), *rdx = fx_real(f, "dinp", ni), *rdw = fx_real(f, "dweight", nw);
    real *rdb = bias ? fx_real(f, "dbias", (size_t)s.oc) : NULL;
    real *out = fx_zeros(f, no);
    void *work = fx_keep(f, xmalloc(conv2d_workspace_bytes(&s) + 1, "conv workspace"));
    for (int path = 0; path < 3; path++) {
        real *dx = fx_zeros(f, ni), *dw = fx_zeros(f, nw), *db = fx_zeros(f, (size_t)s.oc);
        const char *tag = path == 0 ? "im2col" : path == 1 ? "direct loops" : "depthwise kernel";
        if (path == 2 && !depthwise) break;
        char what[64];
        snprintf(what, sizeof what, "out (%s)", tag);
        if (path == 0) conv2d_forward(out, x, w, b, &s, work);
        if (path == 1) conv2d_forward_loops(out, x, w, b, &s);
        if (path == 2) depthwise_conv2d_forward(out, x, w, b, &s);
        CMP(what, out, ref, no, TOL_FWD);
        snprintf(what, sizeof what, "%s: dinp", tag);
        if (path == 0) {
            GRAD_TWICE(conv2d_backward(dx, dw, bias ? db : NULL, dout, x, w, &s, work), G(what, dx, rdx, ni),
                       G("dweight", dw, rdw, nw), G("dbias", db, bias ? rdb : db, bias ? s.oc : 0));
        } else if (path == 1) {
            GRAD_TWICE(conv2d_backward_loops(dx, dw, bias ? db : NULL, dout, x, w, &s), G(what, dx, rdx, ni),
                       G("dweight", dw, rdw, nw), G("dbias", db, bias ? rdb : db, bias ? s.oc : 0));
        } else {
            GRAD_TWICE(depthwise_conv2d_backward(dx, dw, bias ? db : NULL, dout, x, w, &s), G(what, dx, rdx, ni),
                       G("dweight", dw, rdw, nw), G("dbias", db, bias ? rdb : db, bias ? s.oc : 0));
        }
    }
}
static void run_conv2d(Fx *f) { run_conv(f, 0); }
static void run_depthwise(Fx *f) { run_conv(f, 1); }

static void run_batchnorm(Fx *f, int train) {
    BatchNormShape s = {fx_int(f, "n"), fx_int(f, "c"), fx_int(f, "h") * fx_int(f, "w"),
                        (real)fx_num(f, "eps"), (real)fx_num(f, "momentum")};
    size_t ni = (size_t)s.n * s.c * s.hw, nc = (size_t)s.c;
    real *x = fx_real(f, "inp", ni), *g = fx_real(f, "gamma", nc), *b = fx_real(f, "beta", nc);
    real *rm = fx_real(f, "running_mean", nc), *rv = fx_real(f, "running_var", nc);
    real *dout = fx_real(f, "dout", ni), *out = fx_zeros(f, ni);
    real *dx = fx_zeros(f, ni), *dg = fx_zeros(f, nc), *db = fx_zeros(f, nc);
    real *rdx = fx_real(f, "dinp", ni), *rdg = fx_real(f, "dgamma", nc), *rdb = fx_real(f, "dbeta", nc);
    if (train) {
        real *mean = fx_zeros(f, nc), *rstd = fx_zeros(f, nc);
        batchnorm2d_forward_train(out, mean, rstd, rm, rv, x, g, b, &s);
        CMP("out", out, fx_real(f, "out", ni), ni, TOL_FWD);
        CMP("saved mean", mean, fx_real(f, "mean", nc), nc, TOL_FWD);
        CMP("saved rstd", rstd, fx_real(f, "rstd", nc), nc, TOL_FWD);
        CMP("running_mean after the update", rm, fx_real(f, "running_mean_out", nc), nc, TOL_FWD);
        CMP("running_var after the update", rv, fx_real(f, "running_var_out", nc), nc, TOL_FWD);
        GRAD_TWICE(batchnorm2d_backward(dx, dg, db, dout, x, mean, rstd, g, &s), G("dinp", dx, rdx, ni),
                   G("dgamma", dg, rdg, nc), G("dbeta", db, rdb, nc));
    } else {
        batchnorm2d_forward_eval(out, x, g, b, rm, rv, &s);
        CMP("out", out, fx_real(f, "out", ni), ni, TOL_FWD);
        GRAD_TWICE(batchnorm2d_backward_eval(dx, dg, db, dout, x, rm, rv, g, &s), G("dinp", dx, rdx, ni),
                   G("dgamma", dg, rdg, nc), G("dbeta", db, rdb, nc));
    }
}
static void run_bn_train(Fx *f) { run_batchnorm(f, 1); }
static void run_bn_eval(Fx *f) { run_batchnorm(f, 0); }

static void run_act(Fx *f, int which) {
    size_t n = (size_t)fx_int(f, "numel");
    real *x = fx_real(f, "inp", n), *dout = fx_real(f, "dout", n), *out = fx_zeros(f, n);
    real *dx = fx_zeros(f, n), *rdx = fx_real(f, "dinp", n);
    if (which == 0) swish_forward(out, x, n);
    if (which == 1) relu_forward(out, x, n);
    if (which == 2) sigmoid_forward(out, x, n);
    CMP("out", out, fx_real(f, "out", n), n, TOL_FWD);
    if (which == 0) GRAD_TWICE(swish_backward(dx, dout, x, n), G("dinp", dx, rdx, n));
    if (which == 1) GRAD_TWICE(relu_backward(dx, dout, x, n), G("dinp", dx, rdx, n));
    if (which == 2) GRAD_TWICE(sigmoid_backward(dx, dout, out, n), G("dinp", dx, rdx, n));
}
static void run_swish(Fx *f) { run_act(f, 0); }
static void run_relu(Fx *f) { run_act(f, 1); }
static void run_sigmoid(Fx *f) { run_act(f, 2); }

static void run_gap(Fx *f) {
    int n = fx_int(f, "n"), c = fx_int(f, "c"), hw = fx_int(f, "h") * fx_int(f, "w");
    size_t ni = (size_t)n * c * hw, no = (size_t)n * c;
    real *x = fx_real(f, "inp", ni), *dout = fx_real(f, "dout", no), *out = fx_zeros(f, no), *dx = fx_zeros(f, ni);
    global_avgpool_forward(out, x, n, c, hw);
    CMP("out", out, fx_real(f, "out", no), no, TOL_FWD);
    GRAD_TWICE(global_avgpool_backward(dx, dout, n, c, hw), G("dinp", dx, fx_real(f, "dinp", ni), ni));
}

static void run_pool(Fx *f, int max) {
    int k = fx_int(f, "k"), st = fx_int(f, "s"), p = fx_int(f, "pad");
    Pool2dShape s = {fx_int(f, "n"), fx_int(f, "c"), fx_int(f, "h"), fx_int(f, "w"), k, k, st, st, p, p,
                     fx_int(f, "ceil_mode"), fx_int(f, "count_include_pad"), 0, 0};
    char err[256];
    if (pool2d_shape_resolve(&s, err, sizeof err)) { CHECK(0, "shape: %s", err); return; }
    const StTensor *ro = safetensors_find(&f->st, "out");
    CHECK(ro && ro->ndim == 4 && ro->shape[2] == s.oh && ro->shape[3] == s.ow,
          "output size %dx%d differs from PyTorch's", s.oh, s.ow);
    size_t ni = (size_t)s.n * s.c * s.h * s.w, no = (size_t)s.n * s.c * s.oh * s.ow;
    real *x = fx_real(f, "inp", ni), *dout = fx_real(f, "dout", no), *out = fx_zeros(f, no), *dx = fx_zeros(f, ni);
    real *rdx = fx_real(f, "dinp", ni);
    if (max) maxpool2d_forward(out, x, &s);
    else avgpool2d_forward(out, x, &s);
    CMP("out", out, fx_real(f, "out", no), no, TOL_FWD);
    if (max) GRAD_TWICE(maxpool2d_backward(dx, dout, x, &s), G("dinp", dx, rdx, ni));
    else GRAD_TWICE(avgpool2d_backward(dx, dout, &s), G("dinp", dx, rdx, ni));
}
static void run_maxpool(Fx *f) { run_pool(f, 1); }
static void run_avgpool(Fx *f) { run_pool(f, 0); }

static void run_linear(Fx *f) {
    int n = fx_int(f, "n"), in = fx_int(f, "in_f"), on = fx_int(f, "out_f"), bias = fx_int(f, "bias");
    size_t ni = (size_t)n * in, no = (size_t)n * on, nw = (size_t)on * in;
    real *x = fx_real(f, "inp", ni), *w = fx_real(f, "weight", nw), *b = bias ? fx_real(f, "bias", on) : NULL;
    real *dout = fx_real(f, "dout", no), *out = fx_zeros(f, no);
    real *dx = fx_zeros(f, ni), *dw = fx_zeros(f, nw), *db = fx_zeros(f, on);
    linear_forward(out, x, w, b, n, in, on);
    CMP("out", out, fx_real(f, "out", no), no, TOL_FWD);
    GRAD_TWICE(linear_backward(dx, dw, bias ? db : NULL, dout, x, w, n, in, on), G("dinp", dx, fx_real(f, "dinp", ni), ni),
               G("dweight", dw, fx_real(f, "dweight", nw), nw),
               G("dbias", db, bias ? fx_real(f, "dbias", on) : db, bias ? on : 0));
}

static void run_add(Fx *f) {
    size_t n = (size_t)fx_int(f, "numel");
    real *a = fx_real(f, "a", n), *b = fx_real(f, "b", n), *dout = fx_real(f, "dout", n), *out = fx_zeros(f, n);
    real *da = fx_zeros(f, n), *db = fx_zeros(f, n);
    add_forward(out, a, b, n);
    CMP("out", out, fx_real(f, "out", n), n, TOL_FWD);
    GRAD_TWICE(add_backward(da, db, dout, n), G("da", da, fx_real(f, "da", n), n), G("db", db, fx_real(f, "db", n), n));
}

static void run_channel_scale(Fx *f) {
    int n = fx_int(f, "n"), c = fx_int(f, "c"), hw = fx_int(f, "hw");
    size_t ni = (size_t)n * c * hw, ns = (size_t)n * c;
    real *x = fx_real(f, "inp", ni), *s = fx_real(f, "s", ns), *dout = fx_real(f, "dout", ni), *out = fx_zeros(f, ni);
    real *dx = fx_zeros(f, ni), *ds = fx_zeros(f, ns);
    channel_scale_forward(out, x, s, n, c, hw);
    CMP("out", out, fx_real(f, "out", ni), ni, TOL_FWD);
    GRAD_TWICE(channel_scale_backward(dx, ds, dout, x, s, n, c, hw), G("dinp", dx, fx_real(f, "dinp", ni), ni),
               G("ds", ds, fx_real(f, "ds", ns), ns));
}

static void run_dropout(Fx *f) {
    size_t n = (size_t)fx_int(f, "numel");
    real scale = (real)(1.0 / (1.0 - fx_num(f, "p")));
    real *x = fx_real(f, "inp", n), *dout = fx_real(f, "dout", n), *out = fx_zeros(f, n), *dx = fx_zeros(f, n);
    uint8_t *mask = fx_mask(f, "mask", n);
    dropout_forward(out, x, mask, scale, n);
    CMP("out", out, fx_real(f, "out", n), n, TOL_FWD);
    GRAD_TWICE(dropout_backward(dx, dout, mask, scale, n), G("dinp", dx, fx_real(f, "dinp", n), n));
}

static void run_drop_connect(Fx *f) {
    int n = fx_int(f, "n");
    size_t inner = (size_t)fx_int(f, "inner"), ni = n * inner;
    real rate = (real)fx_num(f, "rate");
    real *x = fx_real(f, "inp", ni), *dout = fx_real(f, "dout", ni), *out = fx_zeros(f, ni), *dx = fx_zeros(f, ni);
    uint8_t *keep = fx_mask(f, "keep", (size_t)n);
    drop_connect_forward(out, x, keep, rate, n, inner);
    CMP("out", out, fx_real(f, "out", ni), ni, TOL_FWD);
    GRAD_TWICE(drop_connect_backward(dx, dout, keep, rate, n, inner), G("dinp", dx, fx_real(f, "dinp", ni), ni));
}

static void run_l2norm(Fx *f) {
    int rows = fx_int(f, "rows"), cols = fx_int(f, "cols");
    real eps = (real)fx_num(f, "eps");
    size_t n = (size_t)rows * cols;
    real *x = fx_real(f, "inp", n), *dout = fx_real(f, "dout", n), *out = fx_zeros(f, n), *dx = fx_zeros(f, n);
    l2norm_rows_forward(out, x, rows, cols, eps);
    CMP("out", out, fx_real(f, "out", n), n, TOL_FWD);
    GRAD_TWICE(l2norm_rows_backward(dx, dout, x, rows, cols, eps), G("dinp", dx, fx_real(f, "dinp", n), n));
}

/* No plain kernel: the autograd wrapper on a tape, fed `dout` as the seed. */
static void run_cosine(Fx *f) {
    int n = fx_int(f, "n"), nf = fx_int(f, "f"), k = fx_int(f, "k");
    size_t ni = (size_t)n * nf, nw = (size_t)k * nf, no = (size_t)n * k;
    Arena a;
    Tape t;
    arena_init(&a, 1 << 16);
    tape_init(&t, &a);
    t.recording = t.training = 1;
    Tensor *x = tape_wrap(&t, fx_real(f, "inp", ni), n, nf, 1, 1);
    x->requires_grad = 1;
    Tensor w = {.data = fx_real(f, "weight", nw), .grad = fx_zeros(f, nw), .n = k, .c = nf, .h = 1, .w = 1, .requires_grad = 1};
    Tensor *out = ag_cosine(&t, "cosine", x, &w);
    CHECK(tensor_numel(out) == no, "output has %zu elements", tensor_numel(out));
    if (tensor_numel(out) == no) {
        CMP("out", out->data, fx_real(f, "out", no), no, TOL_FWD);
        memcpy(tape_grad(&t, out), fx_real(f, "dout", no), no * sizeof(real));
        tape_backward(&t, out, 0);
        CMP("dinp", tape_grad(&t, x), fx_real(f, "dinp", ni), ni, TOL_GRAD);
        CMP("dweight", w.grad, fx_real(f, "dweight", nw), nw, TOL_GRAD);
    }
    tape_free(&t);
    arena_free(&a);
}

static void run_radix_softmax(Fx *f) {
    int n = fx_int(f, "n"), card = fx_int(f, "card"), radix = fx_int(f, "radix"), inner = fx_int(f, "inner");
    size_t m = (size_t)n * card * radix * inner;
    real *x = fx_real(f, "inp", m), *dout = fx_real(f, "dout", m), *out = fx_zeros(f, m), *dx = fx_zeros(f, m);
    radix_softmax_forward(out, x, n, card, radix, inner);
    CMP("out", out, fx_real(f, "out", m), m, TOL_FWD);
    GRAD_TWICE(radix_softmax_backward(dx, dout, out, n, card, radix, inner), G("dinp", dx, fx_real(f, "dinp", m), m));
}

static void run_radix_sum(Fx *f, int weighted) {
    int n = fx_int(f, "n"), radix = fx_int(f, "radix"), c = fx_int(f, "c"), hw = fx_int(f, "hw");
    size_t ni = (size_t)n * radix * c * hw, no = (size_t)n * c * hw, na = (size_t)n * radix * c;
    real *x = fx_real(f, "inp", ni), *dout = fx_real(f, "dout", no), *out = fx_zeros(f, no), *dx = fx_zeros(f, ni);
    real *rdx = fx_real(f, "dinp", ni);
    if (weighted) {
        real *at = fx_real(f, "attn", na), *dat = fx_zeros(f, na);
        radix_weighted_sum_forward(out, x, at, n, radix, c, hw);
        CMP("out", out, fx_real(f, "out", no), no, TOL_FWD);
        GRAD_TWICE(radix_weighted_sum_backward(dx, dat, dout, x, at, n, radix, c, hw), G("dinp", dx, rdx, ni),
                   G("dattn", dat, fx_real(f, "dattn", na), na));
    } else {
        radix_sum_forward(out, x, n, radix, c, hw);
        CMP("out", out, fx_real(f, "out", no), no, TOL_FWD);
        GRAD_TWICE(radix_sum_backward(dx, dout, n, radix, c, hw), G("dinp", dx, rdx, ni));
    }
}
static void run_rsum(Fx *f) { run_radix_sum(f, 0); }
static void run_rwsum(Fx *f) { run_radix_sum(f, 1); }

static void run_loss(Fx *f, int smoothing) {
    int n = fx_int(f, "n"), c = fx_int(f, "c");
    size_t m = (size_t)n * c;
    real *z = fx_real(f, "logits", m), *dz = fx_zeros(f, m), dloss = fx_real(f, "dloss", 1)[0];
    int *y = fx_labels(f, "labels", (size_t)n);
    real eps = smoothing ? (real)fx_num(f, "eps") : 0;
    int classes = smoothing ? fx_int(f, "classes") : c;
    real loss = (real)(smoothing ? label_smoothing_forward(z, y, n, c, eps, classes) : cross_entropy_forward(z, y, n, c));
    CMP("loss", &loss, fx_real(f, "loss", 1), 1, TOL_FWD);
    if (smoothing) GRAD_TWICE(label_smoothing_backward(dz, z, y, n, c, eps, classes, dloss), G("dlogits", dz, fx_real(f, "dlogits", m), m));
    else GRAD_TWICE(cross_entropy_backward(dz, z, y, n, c, dloss), G("dlogits", dz, fx_real(f, "dlogits", m), m));
}
static void run_ce(Fx *f) { run_loss(f, 0); }
static void run_ls(Fx *f) { run_loss(f, 1); }

static void run_arcface(Fx *f) {
    int n = fx_int(f, "n"), c = fx_int(f, "c");
    size_t m = (size_t)n * c;
    real margin = (real)fx_num(f, "margin"), scale = (real)fx_num(f, "scale");
    real *cs = fx_real(f, "cos", m), *dout = fx_real(f, "dout", m), *out = fx_zeros(f, m), *dc = fx_zeros(f, m);
    int *y = fx_labels(f, "labels", (size_t)n);
    const uint8_t *target = fx_int(f, "has_target") ? fx_mask(f, "target", (size_t)c) : NULL;
    arcface_forward(out, cs, y, target, n, c, margin, scale);
    CMP("out", out, fx_real(f, "out", m), m, TOL_FWD);
    GRAD_TWICE(arcface_backward(dc, dout, cs, y, target, n, c, margin, scale), G("dcos", dc, fx_real(f, "dcos", m), m));
}

static void run_optim(Fx *f, int adam) {
    size_t n = (size_t)fx_int(f, "n");
    int steps = fx_int(f, "steps");
    real *p = fx_real(f, "param", n), *g = fx_real(f, "grads", n * steps), *traj = fx_real(f, "params_after", n * steps);
    real *m = fx_zeros(f, n), *v = fx_zeros(f, n);
    AdamConfig ac = {fx_num(f, "lr"), 0, 0, 0, fx_num(f, "weight_decay")};
    SgdConfig sc = {ac.lr, 0, ac.weight_decay};
    if (adam) {
        ac.beta1 = fx_num(f, "beta1");
        ac.beta2 = fx_num(f, "beta2");
        ac.eps = fx_num(f, "eps");
    } else {
        sc.momentum = fx_num(f, "momentum");
    }
    for (int k = 0; k < steps; k++) {
        char what[64];
        snprintf(what, sizeof what, "param after step %d", k + 1);
        if (adam) adam_update(p, g + k * n, m, v, n, &ac, k + 1);
        else sgd_update(p, g + k * n, m, n, &sc, k + 1);
        CMP(what, p, traj + k * n, n, TOL_FWD);
    }
    if (adam) {
        CMP("exp_avg", m, fx_real(f, "m", n), n, TOL_FWD);
        CMP("exp_avg_sq", v, fx_real(f, "v", n), n, TOL_FWD);
    } else {
        CMP("momentum_buffer", m, fx_real(f, "buf", n), n, TOL_FWD);
    }
}
static void run_adam(Fx *f) { run_optim(f, 1); }
static void run_sgd(Fx *f) { run_optim(f, 0); }

static void run_clip(Fx *f) {
    size_t n = (size_t)fx_int(f, "n");
    real *g = fx_real(f, "grad", n), ref_norm = fx_real(f, "norm", 1)[0];
    real norm0 = (real)grad_global_norm(g, n), norm = (real)clip_grad_norm(g, n, fx_num(f, "max_norm"));
    CMP("grad_global_norm", &norm0, &ref_norm, 1, TOL_FWD);
    CMP("returned norm", &norm, &ref_norm, 1, TOL_FWD);
    CMP("clipped grad", g, fx_real(f, "grad_out", n), n, TOL_FWD);
}

static const struct { const char *op; void (*run)(Fx *); } OPS[] = {
    {"conv2d", run_conv2d}, {"depthwise", run_depthwise}, {"batchnorm_train", run_bn_train},
    {"batchnorm_eval", run_bn_eval}, {"swish", run_swish}, {"relu", run_relu}, {"sigmoid", run_sigmoid},
    {"global_avgpool", run_gap}, {"maxpool", run_maxpool}, {"avgpool", run_avgpool}, {"linear", run_linear},
    {"add", run_add}, {"channel_scale", run_channel_scale}, {"dropout", run_dropout},
    {"drop_connect", run_drop_connect}, {"l2norm_rows", run_l2norm}, {"cosine", run_cosine},
    {"radix_softmax", run_radix_softmax}, {"radix_sum", run_rsum}, {"radix_weighted_sum", run_rwsum},
    {"cross_entropy", run_ce}, {"label_smoothing", run_ls}, {"arcface", run_arcface}, {"adam", run_adam},
    {"sgd", run_sgd}, {"clip_grad_norm", run_clip},
};
#define N_OPS (sizeof OPS / sizeof OPS[0])
static int op_seen[N_OPS];

/* ---- driver ---- */

static const char *fixture_dir;
static char **files;
static int n_files;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list_fixtures(void) {
    DIR *d = opendir(fixture_dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 13 || strcmp(e->d_name + n - 12, ".safetensors") != 0) continue;
        files = xrealloc(files, (size_t)(n_files + 1) * sizeof *files, "a file list");
        files[n_files++] = xstrdup(e->d_name);
    }
    if (d) closedir(d);
    qsort(files, (size_t)n_files, sizeof *files, cmp_str);
}

static void test_fixtures_present(void) {
    CHECK(n_files > 0, "no fixtures in %s (run tools/make_op_fixtures.py)", fixture_dir);
}

static void run_fixture(const char *name) {
    char path[1024], err[512];
    Fx f;
    memset(&f, 0, sizeof f);
    snprintf(path, sizeof path, "%s/%s", fixture_dir, name);
    check_test_failed = 0;
    check_skip_reason = NULL;
    if (safetensors_open(path, &f.st, err, sizeof err)) {
        CHECK(0, "%s", err);
    } else {
        const char *op = safetensors_meta(&f.st, "op");
        size_t k = 0;
        while (op && k < N_OPS && strcmp(OPS[k].op, op) != 0) k++;
        if (!op || k == N_OPS) {
            CHECK(0, "unknown op '%s'", op ? op : "(none)");
        } else {
            op_seen[k] = 1;
            OPS[k].run(&f);
        }
        safetensors_close(&f.st);
    }
    for (int i = 0; i < f.n_allocs; i++) free(f.allocs[i]);
    if (check_test_failed) {
        printf("FAIL %s: %d check(s) failed\n", name, check_test_failed);
        check_total_failed++;
    } else {
        printf("ok %s\n", name);
    }
    fflush(stdout);
}

static void test_every_op_covered(void) {
    for (size_t k = 0; k < N_OPS; k++) CHECK(op_seen[k], "no fixture exercised op '%s'", OPS[k].op);
}

int main(void) {
    fixture_dir = getenv("ANOMALY_FIXTURES");
    if (!fixture_dir || !*fixture_dir) fixture_dir = "tests/fixtures/ops";
    list_fixtures();
    RUN(test_fixtures_present);
    for (int i = 0; i < n_files; i++) run_fixture(files[i]);
    RUN(test_every_op_covered);
    for (int i = 0; i < n_files; i++) free(files[i]);
    free(files);
    CHECK_MAIN_END();
}
