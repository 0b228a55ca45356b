/* Linear, elementwise and cosine-head kernels and their autograd wrappers:
 * forward against naive loops, every input's gradient against central finite
 * differences, the wrappers against the kernels through tape_backward, and
 * 1- vs 2-thread bit identity. */
#include "check.h"

#include <omp.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anomaly/arena.h"
#include "anomaly/ops/elementwise.h"
#include "anomaly/ops/linear.h"
#include "anomaly/params.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

#define GRAD_TOL TOL(3e-3, 1e-6)
#define FD_STEP TOL(1e-2, 1e-5)

static real *randn(size_t n, Rng *r, double lo, double hi) {
    real *x = malloc((n ? n : 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (real)rng_range(r, lo, hi);
    return x;
}

static real *zeros(size_t n) { return calloc(n ? n : 1, sizeof(real)); }

static real *copy_of(const real *x, size_t n) {
    real *y = malloc((n ? n : 1) * sizeof *y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* Forward of the function under test: reads its inputs from ctx. */
typedef void (*ForwardFn)(void *ctx, real *out);

static double weighted(const real *g, const real *o, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)g[i] * o[i];
    return s;
}

/* grad[j] = d(sum_i g_i out_i)/dx_j by central differences (x is restored). */
static void numeric_grad(real *grad, ForwardFn fwd, void *ctx, real *x, size_t nx, const real *g,
                         size_t nout, double h) {
    real *o = malloc(nout * sizeof *o);
    for (size_t j = 0; j < nx; j++) {
        real save = x[j];
        real xp = (real)(save + h), xm = (real)(save - h);
        x[j] = xp;
        fwd(ctx, o);
        double lp = weighted(g, o, nout);
        x[j] = xm;
        fwd(ctx, o);
        double lm = weighted(g, o, nout);
        x[j] = save;
        grad[j] = (real)((lp - lm) / ((double)xp - (double)xm));
    }
    free(o);
}

/* Backward must add to what is there: start from `base` and subtract it. */
static void subtract(real *x, const real *base, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] -= base[i];
}

/* ------------------------------------------------------------------------ */

typedef struct LinearCase {
    real *x, *w, *b;
    int n, in_f, out_f;
} LinearCase;

static void linear_fwd(void *p, real *out) {
    LinearCase *c = p;
    linear_forward(out, c->x, c->w, c->b, c->n, c->in_f, c->out_f);
}

/* ref [n, out_f] = x w^T (+ b), in double. */
static void linear_loops(real *ref, const real *x, const real *w, const real *b, int n, int in_f,
                         int out_f) {
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out_f; o++) {
            double s = b ? b[o] : 0;
            for (int k = 0; k < in_f; k++) s += (double)x[i * in_f + k] * w[o * in_f + k];
            ref[i * out_f + o] = (real)s;
        }
}

static void test_linear_forward_matches_loops(void) {
    Rng r;
    rng_seed(&r, 1);
    int n = 5, in_f = 37, out_f = 11;
    size_t no = (size_t)n * out_f;
    real *x = randn((size_t)n * in_f, &r, -1, 1), *w = randn((size_t)out_f * in_f, &r, -1, 1);
    real *b = randn(out_f, &r, -1, 1), *got = zeros(no), *ref = zeros(no);
    linear_loops(ref, x, w, b, n, in_f, out_f);
    linear_forward(got, x, w, b, n, in_f, out_f);
    CHECK_CLOSE("with bias", got, ref, no, TOL(1e-5, 1e-13));
    linear_loops(ref, x, w, NULL, n, in_f, out_f);
    linear_forward(got, x, w, NULL, n, in_f, out_f);
    CHECK_CLOSE("without bias", got, ref, no, TOL(1e-5, 1e-13));
    free(x); free(w); free(b); free(got); free(ref);
}

static void test_linear_grads(void) {
    Rng r;
    rng_seed(&r, 2);
    LinearCase c = {NULL, NULL, NULL, 3, 7, 5};
    size_t nx = (size_t)c.n * c.in_f, nw = (size_t)c.out_f * c.in_f, no = (size_t)c.n * c.out_f;
    c.x = randn(nx, &r, -1, 1);
    c.w = randn(nw, &r, -1, 1);
    c.b = randn(c.out_f, &r, -1, 1);
    real *g = randn(no, &r, -1, 1);
    real *base_x = randn(nx, &r, -1, 1), *base_w = randn(nw, &r, -1, 1);
    real *base_b = randn(c.out_f, &r, -1, 1);
    real *dx = copy_of(base_x, nx), *dw = copy_of(base_w, nw), *db = copy_of(base_b, c.out_f);
    linear_backward(dx, dw, db, g, c.x, c.w, c.n, c.in_f, c.out_f);
    subtract(dx, base_x, nx);
    subtract(dw, base_w, nw);
    subtract(db, base_b, c.out_f);
    real *num = zeros(nw);
    numeric_grad(num, linear_fwd, &c, c.x, nx, g, no, FD_STEP);
    CHECK_CLOSE("dinp", dx, num, nx, GRAD_TOL);
    numeric_grad(num, linear_fwd, &c, c.w, nw, g, no, FD_STEP);
    CHECK_CLOSE("dweight", dw, num, nw, GRAD_TOL);
    numeric_grad(num, linear_fwd, &c, c.b, c.out_f, g, no, FD_STEP);
    CHECK_CLOSE("dbias", db, num, c.out_f, GRAD_TOL);

    /* NULL skips a gradient and leaves the others as they were. */
    real *dw2 = zeros(nw);
    linear_backward(NULL, dw2, NULL, g, c.x, c.w, c.n, c.in_f, c.out_f);
    CHECK_CLOSE("dweight alone", dw2, dw, nw, TOL(1e-5, 1e-12));
    free(c.x); free(c.w); free(c.b); free(g); free(base_x); free(base_w); free(base_b);
    free(dx); free(dw); free(db); free(num); free(dw2);
}

/* ------------------------------------------------------------------------ */

static void test_add_exact(void) {
    Rng r;
    rng_seed(&r, 3);
    size_t n = 50;
    real *a = randn(n, &r, -1, 1), *b = randn(n, &r, -1, 1), *g = randn(n, &r, -1, 1);
    real *out = zeros(n), *da = zeros(n), *db = zeros(n), *want = zeros(n);
    add_forward(out, a, b, n);
    for (size_t i = 0; i < n; i++) want[i] = a[i] + b[i];
    CHECK_CLOSE("a + b", out, want, n, 0);
    add_backward(da, db, g, n);
    CHECK_CLOSE("da", da, g, n, 0);
    CHECK_CLOSE("db", db, g, n, 0);
    /* One buffer for both operands (x + x) receives dout twice. */
    real *dx = zeros(n);
    add_backward(dx, dx, g, n);
    for (size_t i = 0; i < n; i++) want[i] = 2 * g[i];
    CHECK_CLOSE("d(x + x)", dx, want, n, 0);
    free(a); free(b); free(g); free(out); free(da); free(db); free(want); free(dx);
}

typedef struct ScaleCase {
    real *x, *s;
    int n, c, hw;
} ScaleCase;

static void scale_fwd(void *p, real *out) {
    ScaleCase *k = p;
    channel_scale_forward(out, k->x, k->s, k->n, k->c, k->hw);
}

static void test_channel_scale_grads(void) {
    Rng r;
    rng_seed(&r, 4);
    ScaleCase k = {NULL, NULL, 2, 3, 5};
    size_t nx = (size_t)k.n * k.c * k.hw, ns = (size_t)k.n * k.c;
    k.x = randn(nx, &r, -1, 1);
    k.s = randn(ns, &r, -1, 1);
    real *g = randn(nx, &r, -1, 1), *out = zeros(nx);
    scale_fwd(&k, out);
    CHECK(out[7] == k.x[7] * k.s[1], "out[0, 1, 2] = x * s[0, 1]");
    real *bx = randn(nx, &r, -1, 1), *bs = randn(ns, &r, -1, 1);
    real *dx = copy_of(bx, nx), *ds = copy_of(bs, ns);
    channel_scale_backward(dx, ds, g, k.x, k.s, k.n, k.c, k.hw);
    subtract(dx, bx, nx);
    subtract(ds, bs, ns);
    real *num = zeros(nx);
    numeric_grad(num, scale_fwd, &k, k.x, nx, g, nx, FD_STEP);
    CHECK_CLOSE("dinp", dx, num, nx, GRAD_TOL);
    numeric_grad(num, scale_fwd, &k, k.s, ns, g, nx, FD_STEP);
    CHECK_CLOSE("ds", ds, num, ns, GRAD_TOL);
    free(k.x); free(k.s); free(g); free(out); free(bx); free(bs); free(dx); free(ds); free(num);
}

static void test_dropout_with_mask_exact(void) {
    Rng r;
    rng_seed(&r, 5);
    size_t n = 64;
    real *x = randn(n, &r, -2, 2), *g = randn(n, &r, -1, 1), *out = zeros(n), *dx = zeros(n);
    uint8_t mask[64];
    for (size_t i = 0; i < n; i++) mask[i] = (uint8_t)(rng_uniform(&r) >= 0.3);
    real scale = (real)1 / (real)(1 - 0.3);
    dropout_forward(out, x, mask, scale, n);
    dropout_backward(dx, g, mask, scale, n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        real want = mask[i] ? x[i] * scale : 0, dwant = mask[i] ? g[i] * scale : 0;
        if (out[i] != want || dx[i] != dwant) bad++;
    }
    CHECK(bad == 0, "%d elements differ from x * mask / (1 - p)", bad);
    free(x); free(g); free(out); free(dx);
}

static void test_drop_connect_with_keep_exact(void) {
    Rng r;
    rng_seed(&r, 6);
    int n = 4;
    size_t inner = 30, total = (size_t)n * inner;
    real *x = randn(total, &r, -2, 2), *g = randn(total, &r, -1, 1);
    real *out = zeros(total), *dx = zeros(total);
    uint8_t keep[4] = {1, 0, 1, 0};
    real rate = (real)0.125, kp = (real)(1 - 0.125);
    drop_connect_forward(out, x, keep, rate, n, inner);
    drop_connect_backward(dx, g, keep, rate, n, inner);
    int bad = 0;
    for (size_t i = 0; i < total; i++) {
        int k = keep[i / inner];
        if (out[i] != (k ? x[i] / kp : 0) || dx[i] != (k ? g[i] / kp : 0)) bad++;
    }
    CHECK(bad == 0, "%d elements differ from x * keep / (1 - rate)", bad);
    free(x); free(g); free(out); free(dx);
}

/* ------------------------------------------------------------------------ */

typedef struct NormCase {
    real *x;
    int rows, cols;
    real eps;
} NormCase;

static void norm_fwd(void *p, real *out) {
    NormCase *k = p;
    l2norm_rows_forward(out, k->x, k->rows, k->cols, k->eps);
}

static void test_l2norm_forward_and_grads(void) {
    Rng r;
    rng_seed(&r, 7);
    NormCase k = {NULL, 4, 9, (real)1e-12};
    size_t n = (size_t)k.rows * k.cols;
    k.x = randn(n, &r, -1, 1);
    real *out = zeros(n), *ref = zeros(n), *g = randn(n, &r, -1, 1);
    norm_fwd(&k, out);
    for (int i = 0; i < k.rows; i++) {
        double s = 0;
        for (int j = 0; j < k.cols; j++) s += (double)k.x[i * k.cols + j] * k.x[i * k.cols + j];
        for (int j = 0; j < k.cols; j++) ref[i * k.cols + j] = (real)(k.x[i * k.cols + j] / sqrt(s));
    }
    CHECK_CLOSE("x / ||x||", out, ref, n, TOL(1e-6, 1e-14));
    real *base = randn(n, &r, -1, 1), *dx = copy_of(base, n), *num = zeros(n);
    l2norm_rows_backward(dx, g, k.x, k.rows, k.cols, k.eps);
    subtract(dx, base, n);
    numeric_grad(num, norm_fwd, &k, k.x, n, g, n, FD_STEP);
    CHECK_CLOSE("dinp", dx, num, n, GRAD_TOL);
    free(k.x); free(out); free(ref); free(g); free(base); free(dx); free(num);
}

/* Rows whose norm falls below eps are divided by the constant eps; an
 * all-zero row gives zeros and the gradient dy / eps. A large eps keeps the
 * finite differences in range in float. */
static void test_l2norm_near_zero_row(void) {
    Rng r;
    rng_seed(&r, 8);
    NormCase k = {NULL, 3, 6, (real)1e-3};
    size_t n = (size_t)k.rows * k.cols;
    k.x = zeros(n);
    for (int j = 0; j < k.cols; j++) {
        k.x[j] = (real)rng_range(&r, -1e-4, 1e-4);    /* row 0: norm < eps */
        k.x[2 * k.cols + j] = (real)rng_range(&r, 0.5, 1); /* row 2: ordinary */
    }                                                  /* row 1: all zero */
    real *out = zeros(n), *g = randn(n, &r, -1, 1), *dx = zeros(n), *num = zeros(n);
    norm_fwd(&k, out);
    int bad = 0;
    for (int j = 0; j < 2 * k.cols; j++)
        if (out[j] != k.x[j] / k.eps) bad++;
    CHECK(bad == 0, "clamped rows must be x / eps (%d differ)", bad);
    l2norm_rows_backward(dx, g, k.x, k.rows, k.cols, k.eps);
    real *want = zeros(2 * (size_t)k.cols);
    for (int j = 0; j < 2 * k.cols; j++) want[j] = g[j] / k.eps;
    CHECK_CLOSE("clamped rows: dy / eps", dx, want, 2 * (size_t)k.cols, TOL(1e-6, 1e-15));
    numeric_grad(num, norm_fwd, &k, k.x, n, g, n, TOL(1e-6, 1e-8) * 1e-2);
    CHECK_CLOSE("clamped rows by differences", dx, num, 2 * (size_t)k.cols, GRAD_TOL);
    numeric_grad(num, norm_fwd, &k, k.x, n, g, n, FD_STEP);
    CHECK_CLOSE("ordinary row", dx + 2 * k.cols, num + 2 * k.cols, (size_t)k.cols, GRAD_TOL);

    /* The library's eps 1e-12 with a row of norm ~1e-14. */
    real tiny[3] = {(real)1e-14, (real)-2e-14, (real)0}, y[3], dy[3] = {1, 2, 3}, dt[3] = {0};
    l2norm_rows_forward(y, tiny, 1, 3, (real)1e-12);
    l2norm_rows_backward(dt, dy, tiny, 1, 3, (real)1e-12);
    CHECK(y[0] == tiny[0] / (real)1e-12 && dt[1] == 2 / (real)1e-12,
          "eps 1e-12: y %g, dx %g", (double)y[0], (double)dt[1]);
    free(k.x); free(out); free(g); free(dx); free(num); free(want);
}

/* ------------------------------------------------------------------------ */

static Tape *new_tape(Arena *a, Tape *t) {
    arena_init(a, 1 << 20);
    tape_init(t, a);
    t->recording = 1;
    t->training = 1;
    return t;
}

static void free_tape(Arena *a, Tape *t) {
    tape_free(t);
    arena_free(a);
}

/* Seeds out's gradient with g and runs the tape. */
static void backward_with(Tape *t, Tensor *out, const real *g) {
    memcpy(tape_grad(t, out), g, tensor_numel(out) * sizeof(real));
    tape_backward(t, out, 0);
}

static Tensor *input(Tape *t, real *data, int n, int c, int h, int w) {
    Tensor *x = tape_wrap(t, data, n, c, h, w);
    x->requires_grad = 1;
    return x;
}

static void test_ag_linear_matches_kernels(void) {
    Rng r;
    rng_seed(&r, 9);
    int n = 3, c = 2, h = 2, w = 2, in_f = 8, out_f = 4;
    ParamTable p;
    params_init(&p);
    int ws[2] = {out_f, in_f};
    int wi = params_add(&p, "fc.weight", PARAM_TRAINABLE, 2, ws);
    int bi = params_add(&p, "fc.bias", PARAM_TRAINABLE, 1, &out_f);
    params_finalize(&p);
    for (size_t i = 0; i < p.n_param; i++) p.param[i] = (real)rng_range(&r, -1, 1);
    Tensor wt = params_tensor(&p, wi), bt = params_tensor(&p, bi);
    real *x = randn((size_t)n * in_f, &r, -1, 1), *g = randn((size_t)n * out_f, &r, -1, 1);

    Arena a;
    Tape t;
    new_tape(&a, &t);
    Tensor *xt = input(&t, x, n, c, h, w);
    Tensor *y = ag_linear(&t, "fc", xt, &wt, &bt);
    CHECK(y->n == n && y->c == out_f && y->h == 1 && y->w == 1, "output shape");
    backward_with(&t, y, g);

    real *ref = zeros((size_t)n * out_f), *dx = zeros((size_t)n * in_f);
    real *dw = zeros((size_t)out_f * in_f), *db = zeros(out_f);
    linear_forward(ref, x, wt.data, bt.data, n, in_f, out_f);
    linear_backward(dx, dw, db, g, x, wt.data, n, in_f, out_f);
    CHECK_CLOSE("forward", y->data, ref, (size_t)n * out_f, 0);
    CHECK_CLOSE("dx", xt->grad, dx, (size_t)n * in_f, 0);
    CHECK_CLOSE("dweight in the table", params_grad(&p, wi), dw, (size_t)out_f * in_f, 0);
    CHECK_CLOSE("dbias in the table", params_grad(&p, bi), db, out_f, 0);

    /* Without recording nothing is pushed. */
    tape_reset(&t);
    t.recording = 0;
    ag_linear(&t, "fc", tape_wrap(&t, x, n, c, h, w), &wt, &bt);
    CHECK(t.count == 0, "inference pushed %d nodes", t.count);
    free_tape(&a, &t);
    params_free(&p);
    free(x); free(g); free(ref); free(dx); free(dw); free(db);
}

/* fatal() exits, so the mismatch runs in a child whose stderr is read back. */
static void test_ag_linear_mismatch_is_fatal(void) {
    int fd[2];
    if (pipe(fd) != 0) { check_skip("no pipe"); return; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) { check_skip("no fork"); return; }
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        Arena a;
        Tape t;
        new_tape(&a, &t);
        real xd[6] = {0}, wd[10] = {0};
        Tensor *x = tape_wrap(&t, xd, 1, 6, 1, 1), *w = tape_wrap(&t, wd, 2, 5, 1, 1);
        ag_linear(&t, "head._fc", x, w, NULL);
        _exit(0);
    }
    close(fd[1]);
    char msg[512] = {0};
    size_t len = 0;
    ssize_t k;
    while (len + 1 < sizeof msg && (k = read(fd[0], msg + len, sizeof msg - 1 - len)) > 0)
        len += (size_t)k;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "expected exit status 1");
    CHECK(strstr(msg, "head._fc") != NULL, "message must name the layer: %s", msg);
}

static void test_ag_add_and_scale_accumulate(void) {
    Rng r;
    rng_seed(&r, 10);
    int n = 2, c = 3, hw = 4;
    size_t nx = (size_t)n * c * hw, ns = (size_t)n * c;
    real *x = randn(nx, &r, -1, 1), *s = randn(ns, &r, -1, 1), *g = randn(nx, &r, -1, 1);
    Arena a;
    Tape t;
    new_tape(&a, &t);
    /* y = x + x: x used twice by one op. */
    Tensor *xt = input(&t, x, n, c, 2, 2);
    backward_with(&t, ag_add(&t, xt, xt), g);
    real *want = zeros(nx);
    for (size_t i = 0; i < nx; i++) want[i] = 2 * g[i];
    CHECK_CLOSE("d(x + x)", xt->grad, want, nx, 0);

    /* z = x * s + x: a squeeze-excitation residual. */
    tape_reset(&t);
    xt = input(&t, x, n, c, 2, 2);
    Tensor *st = input(&t, s, n, c, 1, 1);
    backward_with(&t, ag_add(&t, ag_channel_scale(&t, xt, st), xt), g);
    real *dx = copy_of(g, nx), *ds = zeros(ns);
    channel_scale_backward(dx, ds, g, x, s, n, c, hw);
    CHECK_CLOSE("dx of x * s + x", xt->grad, dx, nx, 0);
    CHECK_CLOSE("ds of x * s + x", st->grad, ds, ns, 0);
    free_tape(&a, &t);
    free(x); free(s); free(g); free(want); free(dx); free(ds);
}

static void test_ag_dropout_and_drop_connect(void) {
    Rng r;
    rng_seed(&r, 11);
    int n = 3, c = 8;
    size_t nx = (size_t)n * c;
    real *x = randn(nx, &r, -1, 1), *g = randn(nx, &r, -1, 1);
    uint8_t mask[24], keep[3] = {1, 0, 1};
    for (size_t i = 0; i < nx; i++) mask[i] = (uint8_t)(i % 3 != 0);
    Arena a;
    Tape t;
    new_tape(&a, &t);
    Tensor *xt = input(&t, x, n, c, 1, 1);
    CHECK(ag_dropout(&t, xt, mask, 0) == xt && ag_drop_connect(&t, xt, keep, 0) == xt,
          "rate 0 must be the identity");
    t.training = 0;
    CHECK(ag_dropout(&t, xt, mask, (real)0.5) == xt && ag_drop_connect(&t, xt, keep, (real)0.5) == xt,
          "eval must be the identity");
    CHECK(t.count == 0, "identity pushed %d nodes", t.count);
    t.training = 1;

    real scale = (real)1 / (real)(1 - 0.25), *want = zeros(nx), *dwant = zeros(nx);
    uint8_t caller[24];
    memcpy(caller, mask, sizeof caller);
    Tensor *y = ag_dropout(&t, xt, caller, (real)0.25);
    memset(caller, 0, sizeof caller); /* the wrapper must have its own copy */
    backward_with(&t, y, g);
    dropout_forward(want, x, mask, scale, nx);
    dropout_backward(dwant, g, mask, scale, nx);
    CHECK_CLOSE("dropout forward", y->data, want, nx, 0);
    CHECK_CLOSE("dropout backward", xt->grad, dwant, nx, 0);

    tape_reset(&t);
    xt = input(&t, x, n, c, 1, 1);
    y = ag_drop_connect(&t, xt, keep, (real)0.25);
    backward_with(&t, y, g);
    memset(dwant, 0, nx * sizeof *dwant);
    drop_connect_forward(want, x, keep, (real)0.25, n, (size_t)c);
    drop_connect_backward(dwant, g, keep, (real)0.25, n, (size_t)c);
    CHECK_CLOSE("drop-connect forward", y->data, want, nx, 0);
    CHECK_CLOSE("drop-connect backward", xt->grad, dwant, nx, 0);
    free_tape(&a, &t);
    free(x); free(g); free(want); free(dwant);
}

/* ------------------------------------------------------------------------ */

typedef struct CosineCase {
    real *x, *w;
    int n, k, f;
} CosineCase;

/* The head built from the kernels: normalize both, then a bias-free linear. */
static void cosine_fwd(void *p, real *out) {
    CosineCase *c = p;
    real *xn = zeros((size_t)c->n * c->f), *wn = zeros((size_t)c->k * c->f);
    l2norm_rows_forward(xn, c->x, c->n, c->f, (real)1e-12);
    l2norm_rows_forward(wn, c->w, c->k, c->f, (real)1e-12);
    linear_forward(out, xn, wn, NULL, c->n, c->f, c->k);
    free(xn);
    free(wn);
}

static void test_cosine_head_grads(void) {
    Rng r;
    rng_seed(&r, 12);
    CosineCase c = {NULL, NULL, 3, 5, 6};
    size_t nx = (size_t)c.n * c.f, nw = (size_t)c.k * c.f, no = (size_t)c.n * c.k;
    ParamTable p;
    params_init(&p);
    int ws[2] = {c.k, c.f};
    int wi = params_add(&p, "_fc", PARAM_TRAINABLE, 2, ws);
    params_finalize(&p);
    for (size_t i = 0; i < nw; i++) p.param[i] = (real)rng_range(&r, -1, 1);
    c.x = randn(nx, &r, -1, 1);
    c.w = p.param;
    real *g = randn(no, &r, -1, 1);

    Arena a;
    Tape t;
    new_tape(&a, &t);
    Tensor wt = params_tensor(&p, wi);
    Tensor *xt = input(&t, c.x, c.n, c.f, 1, 1);
    Tensor *y = ag_cosine(&t, "_fc", xt, &wt);
    CHECK(y->n == c.n && y->c == c.k, "output [%d, %d]", y->n, y->c);

    real *ref = zeros(no);
    for (int i = 0; i < c.n; i++)
        for (int j = 0; j < c.k; j++) {
            double dot = 0, xx = 0, ww = 0;
            for (int q = 0; q < c.f; q++) {
                double xv = c.x[i * c.f + q], wv = c.w[j * c.f + q];
                dot += xv * wv;
                xx += xv * xv;
                ww += wv * wv;
            }
            ref[i * c.k + j] = (real)(dot / sqrt(xx) / sqrt(ww));
        }
    CHECK_CLOSE("cosines", y->data, ref, no, TOL(1e-6, 1e-14));

    backward_with(&t, y, g);
    real *num = zeros(nw);
    numeric_grad(num, cosine_fwd, &c, c.x, nx, g, no, FD_STEP);
    CHECK_CLOSE("dx", xt->grad, num, nx, GRAD_TOL);
    numeric_grad(num, cosine_fwd, &c, c.w, nw, g, no, FD_STEP);
    CHECK_CLOSE("dW in the table", params_grad(&p, wi), num, nw, GRAD_TOL);
    free_tape(&a, &t);
    params_free(&p);
    free(c.x); free(g); free(ref); free(num);
}

static void test_ag_l2norm_matches_kernel(void) {
    Rng r;
    rng_seed(&r, 13);
    int n = 3, c = 2, hw = 5;
    size_t nx = (size_t)n * c * hw;
    real *x = randn(nx, &r, -1, 1), *g = randn(nx, &r, -1, 1);
    real *want = zeros(nx), *dwant = zeros(nx);
    Arena a;
    Tape t;
    new_tape(&a, &t);
    Tensor *xt = input(&t, x, n, c, 1, hw);
    Tensor *y = ag_l2norm_rows(&t, xt, (real)1e-12);
    backward_with(&t, y, g);
    l2norm_rows_forward(want, x, n, c * hw, (real)1e-12);
    l2norm_rows_backward(dwant, g, x, n, c * hw, (real)1e-12);
    CHECK_CLOSE("forward (rows = samples)", y->data, want, nx, 0);
    CHECK_CLOSE("backward", xt->grad, dwant, nx, 0);
    free_tape(&a, &t);
    free(x); free(g); free(want); free(dwant);
}

/* ------------------------------------------------------------------------ */

/* Runs every parallel kernel on inputs past the single-thread cut-off. */
static void run_all(real *res, const real *x, const real *y, const real *s, const real *g,
                    const uint8_t *mask, int n, int c, int hw) {
    size_t nx = (size_t)n * c * hw, ns = (size_t)n * c;
    real *o = res;
    add_forward(o, x, y, nx); o += nx;
    add_backward(o, o + nx, g, nx); o += 2 * nx;
    channel_scale_forward(o, x, s, n, c, hw); o += nx;
    channel_scale_backward(o, o + nx, g, x, s, n, c, hw); o += nx + ns;
    dropout_forward(o, x, mask, (real)1.25, nx); o += nx;
    dropout_backward(o, g, mask, (real)1.25, nx); o += nx;
    drop_connect_forward(o, x, mask, (real)0.2, n, (size_t)c * hw); o += nx;
    drop_connect_backward(o, g, mask, (real)0.2, n, (size_t)c * hw); o += nx;
    l2norm_rows_forward(o, x, n * c, hw, (real)1e-12); o += nx;
    l2norm_rows_backward(o, g, x, n * c, hw, (real)1e-12); o += nx;
    linear_forward(o, x, y, s, n * c / 8, 8 * hw, n * c / 8);
    o += (size_t)(n * c / 8) * (n * c / 8);
    linear_backward(o, o + nx, o + 2 * nx, g, x, y, n * c / 8, 8 * hw, n * c / 8);
}

static void test_threads_bit_identical(void) {
    Rng r;
    rng_seed(&r, 14);
    int n = 4, c = 16, hw = 600;
    size_t nx = (size_t)n * c * hw, ns = (size_t)n * c, nres = 16 * nx + ns;
    real *x = randn(nx, &r, -1, 1), *y = randn(nx, &r, -1, 1), *s = randn(ns, &r, -1, 1);
    real *g = randn(nx, &r, -1, 1), *r1 = zeros(nres), *r2 = zeros(nres);
    uint8_t *mask = malloc(nx);
    for (size_t i = 0; i < nx; i++) mask[i] = (uint8_t)(rng_uniform(&r) >= 0.2);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    run_all(r1, x, y, s, g, mask, n, c, hw);
    omp_set_num_threads(2);
    run_all(r2, x, y, s, g, mask, n, c, hw);
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("1 vs 2 threads", r1, r2, nres * sizeof(real));
    free(x); free(y); free(s); free(g); free(r1); free(r2); free(mask);
}

int main(void) {
    RUN(test_linear_forward_matches_loops);
    RUN(test_linear_grads);
    RUN(test_add_exact);
    RUN(test_channel_scale_grads);
    RUN(test_dropout_with_mask_exact);
    RUN(test_drop_connect_with_keep_exact);
    RUN(test_l2norm_forward_and_grads);
    RUN(test_l2norm_near_zero_row);
    RUN(test_ag_linear_matches_kernels);
    RUN(test_ag_linear_mismatch_is_fatal);
    RUN(test_ag_add_and_scale_accumulate);
    RUN(test_ag_dropout_and_drop_connect);
    RUN(test_cosine_head_grads);
    RUN(test_ag_l2norm_matches_kernel);
    RUN(test_threads_bit_identical);
    CHECK_MAIN_END();
}
