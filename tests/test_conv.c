/* Convolution kernels: fast paths against the direct loops, finite
 * differences, thread-count determinism, the autograd wrapper, shape checks. */
#include "check.h"

#include <omp.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anomaly/arena.h"
#include "anomaly/ops/conv2d.h"
#include "anomaly/ops/depthwise.h"
#include "anomaly/params.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

typedef struct ConvCase {
    const char *name;
    Conv2dShape s; /* zero stride, dilation or groups mean 1 */
    int bias;
} ConvCase;

static Conv2dShape resolved(Conv2dShape s) {
    if (!s.sh) s.sh = 1;
    if (!s.sw) s.sw = 1;
    if (!s.dh) s.dh = 1;
    if (!s.dw) s.dw = 1;
    if (!s.groups) s.groups = 1;
    char err[256];
    if (conv2d_shape_resolve(&s, err, sizeof err)) {
        printf("bad test shape: %s\n", err);
        exit(2);
    }
    return s;
}

static real *rand_buf(size_t n, Rng *r) {
    real *p = malloc((n ? n : 1) * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (real)rng_range(r, -1, 1);
    return p;
}

static real *copy_buf(const real *src, size_t n) {
    real *p = malloc((n ? n : 1) * sizeof *p);
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* Sizes of the four arrays of a shape. */
typedef struct Sizes { size_t x, w, y, b; } Sizes;
static Sizes sizes(const Conv2dShape *s) {
    Sizes z = {(size_t)s->n * s->c * s->h * s->w, (size_t)s->oc * (s->c / s->groups) * s->kh * s->kw,
               (size_t)s->n * s->oc * s->oh * s->ow, (size_t)s->oc};
    return z;
}

static int is_depthwise(const Conv2dShape *s) {
    return s->groups == s->c && s->oc == s->c && s->dh == 1 && s->dw == 1;
}

/* The fast kernel under test: im2col+GEMM, or the direct depthwise one. */
static void fast_forward(real *y, const real *x, const real *w, const real *b,
                         const Conv2dShape *s, int depthwise) {
    if (depthwise) {
        depthwise_conv2d_forward(y, x, w, b, s);
        return;
    }
    void *work = malloc(conv2d_forward_workspace_bytes(s) + 1);
    conv2d_forward(y, x, w, b, s, work);
    free(work);
}

static void fast_backward(real *dx, real *dw, real *db, const real *dy, const real *x,
                          const real *w, const Conv2dShape *s, int depthwise) {
    if (depthwise) {
        depthwise_conv2d_backward(dx, dw, db, dy, x, w, s);
        return;
    }
    void *work = malloc(conv2d_backward_workspace_bytes(s) + 1);
    conv2d_backward(dx, dw, db, dy, x, w, s, work);
    free(work);
}

/* Forward (into a NaN-filled output: it must be overwritten) and backward
 * (into non-zero gradients: they must be accumulated) against the direct
 * loops. */
static void compare_with_ref(const ConvCase *cc, int depthwise, Rng *r) {
    Conv2dShape s = resolved(cc->s);
    Sizes z = sizes(&s);
    real *x = rand_buf(z.x, r), *w = rand_buf(z.w, r), *dy = rand_buf(z.y, r);
    real *b = cc->bias ? rand_buf(z.b, r) : NULL;
    real *y = malloc(z.y * sizeof *y), *y_ref = malloc(z.y * sizeof *y_ref);
    for (size_t i = 0; i < z.y; i++) y[i] = (real)NAN;
    fast_forward(y, x, w, b, &s, depthwise);
    conv2d_forward_loops(y_ref, x, w, b, &s);
    char what[160];
    snprintf(what, sizeof what, "%s: forward", cc->name);
    CHECK_CLOSE(what, y, y_ref, z.y, TOL(2e-5, 1e-12));

    real *dx = rand_buf(z.x, r), *dw = rand_buf(z.w, r), *db = rand_buf(z.b, r);
    real *dx_ref = copy_buf(dx, z.x), *dw_ref = copy_buf(dw, z.w), *db_ref = copy_buf(db, z.b);
    fast_backward(dx, dw, db, dy, x, w, &s, depthwise);
    conv2d_backward_loops(dx_ref, dw_ref, db_ref, dy, x, w, &s);
    snprintf(what, sizeof what, "%s: dinp", cc->name);
    CHECK_CLOSE(what, dx, dx_ref, z.x, TOL(2e-5, 1e-12));
    snprintf(what, sizeof what, "%s: dweight", cc->name);
    CHECK_CLOSE(what, dw, dw_ref, z.w, TOL(2e-5, 1e-12));
    snprintf(what, sizeof what, "%s: dbias", cc->name);
    CHECK_CLOSE(what, db, db_ref, z.b, TOL(2e-5, 1e-12));

    /* each gradient alone: the others NULL */
    real *only = calloc(z.x + z.w + z.b, sizeof *only), *only_ref = calloc(z.x + z.w + z.b, sizeof *only);
    fast_backward(only, NULL, NULL, dy, x, w, &s, depthwise);
    fast_backward(NULL, only + z.x, NULL, dy, x, w, &s, depthwise);
    fast_backward(NULL, NULL, only + z.x + z.w, dy, x, w, &s, depthwise);
    conv2d_backward_loops(only_ref, only_ref + z.x, only_ref + z.x + z.w, dy, x, w, &s);
    snprintf(what, sizeof what, "%s: one gradient at a time", cc->name);
    CHECK_CLOSE(what, only, only_ref, z.x + z.w + z.b, TOL(2e-5, 1e-12));

    free(x); free(w); free(dy); free(b); free(y); free(y_ref);
    free(dx); free(dw); free(db); free(dx_ref); free(dw_ref); free(db_ref);
    free(only); free(only_ref);
}

#define SHAPE(...) ((Conv2dShape){__VA_ARGS__})

static const ConvCase conv_cases[] = {
    {"3x3 s1 p1 odd sizes", SHAPE(.n = 2, .c = 3, .h = 9, .w = 7, .oc = 5, .kh = 3, .kw = 3, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1), 1},
    {"3x3 s2 TF-SAME 0/1, batch 3", SHAPE(.n = 3, .c = 4, .h = 10, .w = 11, .oc = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_r = 1), 0},
    {"5x5 s2 pads 1/2", SHAPE(.n = 1, .c = 2, .h = 13, .w = 12, .oc = 3, .kh = 5, .kw = 5, .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 2, .pad_l = 1, .pad_r = 2), 1},
    {"3x3 dilation 2", SHAPE(.n = 2, .c = 3, .h = 11, .w = 10, .oc = 4, .kh = 3, .kw = 3, .dh = 2, .dw = 2, .pad_t = 2, .pad_b = 2, .pad_l = 2, .pad_r = 2), 1},
    {"3x3 groups 2, batch 3", SHAPE(.n = 3, .c = 4, .h = 8, .w = 9, .oc = 6, .kh = 3, .kw = 3, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 2), 1},
    {"3x3 s2 groups 4", SHAPE(.n = 2, .c = 8, .h = 9, .w = 9, .oc = 8, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 4), 0},
    {"1x1 s1 (no im2col), batch 3", SHAPE(.n = 3, .c = 6, .h = 5, .w = 7, .oc = 4, .kh = 1, .kw = 1), 1},
    {"1x1 s1 groups 2", SHAPE(.n = 2, .c = 4, .h = 6, .w = 5, .oc = 6, .kh = 1, .kw = 1, .groups = 2), 0},
    {"1x1 s2", SHAPE(.n = 3, .c = 5, .h = 9, .w = 8, .oc = 7, .kh = 1, .kw = 1, .sh = 2, .sw = 2), 0},
    {"1x1 padded", SHAPE(.n = 1, .c = 3, .h = 4, .w = 5, .oc = 2, .kh = 1, .kw = 1, .pad_t = 1, .pad_r = 1), 1},
    {"7x7 s2 p3 (ResNet stem)", SHAPE(.n = 2, .c = 3, .h = 23, .w = 21, .oc = 8, .kh = 7, .kw = 7, .sh = 2, .sw = 2, .pad_t = 3, .pad_b = 3, .pad_l = 3, .pad_r = 3), 0},
    {"1x3 stride 2x1 dilation 1x2", SHAPE(.n = 2, .c = 3, .h = 7, .w = 9, .oc = 2, .kh = 1, .kw = 3, .sh = 2, .dw = 2, .pad_l = 2, .pad_r = 1), 1},
    {"depthwise shape through im2col", SHAPE(.n = 2, .c = 4, .h = 7, .w = 6, .oc = 4, .kh = 3, .kw = 3, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 4), 1},
    {"kernel as large as the padded input", SHAPE(.n = 2, .c = 2, .h = 4, .w = 3, .oc = 3, .kh = 5, .kw = 5, .pad_t = 1, .pad_b = 0, .pad_l = 1, .pad_r = 1), 1},
    {"3x3 several row bands", SHAPE(.n = 2, .c = 16, .h = 41, .w = 40, .oc = 4, .kh = 3, .kw = 3, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 2), 1},
    {"3x3 s2 several row bands", SHAPE(.n = 1, .c = 32, .h = 83, .w = 80, .oc = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_r = 1), 0},
    {"1x1 s1 several row bands", SHAPE(.n = 1, .c = 256, .h = 47, .w = 48, .oc = 6, .kh = 1, .kw = 1), 1},
};

static void test_conv2d_matches_reference(void) {
    Rng r;
    rng_seed(&r, 1);
    for (size_t i = 0; i < sizeof conv_cases / sizeof *conv_cases; i++)
        compare_with_ref(&conv_cases[i], 0, &r);
}

static const ConvCase dw_cases[] = {
    {"dw k3 s1 p1", SHAPE(.n = 2, .c = 5, .h = 9, .w = 11, .oc = 5, .kh = 3, .kw = 3, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 5), 1},
    {"dw k3 s2 TF-SAME 0/1", SHAPE(.n = 3, .c = 4, .h = 10, .w = 12, .oc = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_r = 1, .groups = 4), 0},
    {"dw k5 s1 p2", SHAPE(.n = 2, .c = 3, .h = 8, .w = 7, .oc = 3, .kh = 5, .kw = 5, .pad_t = 2, .pad_b = 2, .pad_l = 2, .pad_r = 2, .groups = 3), 1},
    {"dw k5 s2 TF-SAME 1/2", SHAPE(.n = 2, .c = 3, .h = 13, .w = 14, .oc = 3, .kh = 5, .kw = 5, .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 2, .pad_l = 1, .pad_r = 2, .groups = 3), 1},
    {"dw k3 s2 pads 1/0 0/1", SHAPE(.n = 1, .c = 2, .h = 9, .w = 9, .oc = 2, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_r = 1, .groups = 2), 0},
    {"dw k5 on a 3x2 image", SHAPE(.n = 2, .c = 2, .h = 3, .w = 2, .oc = 2, .kh = 5, .kw = 5, .pad_t = 2, .pad_b = 2, .pad_l = 2, .pad_r = 2, .groups = 2), 1},
    {"dw k3x5 s1x2 unpadded", SHAPE(.n = 2, .c = 3, .h = 6, .w = 11, .oc = 3, .kh = 3, .kw = 5, .sw = 2, .groups = 3), 1},
};

static void test_depthwise_matches_reference(void) {
    Rng r;
    rng_seed(&r, 2);
    for (size_t i = 0; i < sizeof dw_cases / sizeof *dw_cases; i++)
        compare_with_ref(&dw_cases[i], 1, &r);
}

/* loss = sum(conv(x, w, b) * R), in double. */
static double probe_loss(const real *x, const real *w, const real *b, const real *R,
                         const Conv2dShape *s, int depthwise, real *y) {
    Sizes z = sizes(s);
    fast_forward(y, x, w, b, s, depthwise);
    double L = 0;
    for (size_t i = 0; i < z.y; i++) L += (double)y[i] * R[i];
    return L;
}

/* Central differences of the probe loss against the analytic gradients
 * (conv is linear in each argument, so only rounding separates them). */
static void grad_check(const ConvCase *cc, int depthwise, Rng *r) {
    Conv2dShape s = resolved(cc->s);
    Sizes z = sizes(&s);
    real *x = rand_buf(z.x, r), *w = rand_buf(z.w, r), *b = rand_buf(z.b, r), *R = rand_buf(z.y, r);
    real *y = malloc(z.y * sizeof *y);
    real *gx = calloc(z.x, sizeof *gx), *gw = calloc(z.w, sizeof *gw), *gb = calloc(z.b, sizeof *gb);
    fast_backward(gx, gw, gb, R, x, w, &s, depthwise);
    const real eps = (real)TOL(1e-2, 1e-3);
    real *args[3] = {x, w, b}, *grads[3] = {gx, gw, gb};
    size_t counts[3] = {z.x, z.w, z.b};
    const char *names[3] = {"dinp", "dweight", "dbias"};
    for (int a = 0; a < 3; a++) {
        double *num = malloc(counts[a] * sizeof *num), *ana = malloc(counts[a] * sizeof *ana);
        for (size_t i = 0; i < counts[a]; i++) {
            real keep = args[a][i];
            args[a][i] = keep + eps;
            double lp = probe_loss(x, w, b, R, &s, depthwise, y);
            args[a][i] = keep - eps;
            double lm = probe_loss(x, w, b, R, &s, depthwise, y);
            args[a][i] = keep;
            num[i] = (lp - lm) / (2 * (double)eps);
            ana[i] = grads[a][i];
        }
        char what[160];
        snprintf(what, sizeof what, "%s: %s vs finite differences", cc->name, names[a]);
        CHECK_CLOSE_D(what, ana, num, counts[a], TOL(2e-3, 1e-6));
        free(num);
        free(ana);
    }
    free(x); free(w); free(b); free(R); free(y); free(gx); free(gw); free(gb);
}

static void test_conv2d_gradcheck(void) {
    static const ConvCase cases[] = {
        {"gc 3x3 s2 groups 2 asym", SHAPE(.n = 2, .c = 4, .h = 6, .w = 5, .oc = 4, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_l = 1, .groups = 2), 1},
        {"gc 3x3 dilation 2", SHAPE(.n = 1, .c = 2, .h = 7, .w = 6, .oc = 3, .kh = 3, .kw = 3, .dh = 2, .dw = 2, .pad_t = 1, .pad_b = 1, .pad_l = 2, .pad_r = 2), 1},
        {"gc 1x1", SHAPE(.n = 2, .c = 3, .h = 4, .w = 5, .oc = 2, .kh = 1, .kw = 1), 1},
    };
    Rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) grad_check(&cases[i], 0, &r);
}

static void test_depthwise_gradcheck(void) {
    static const ConvCase cases[] = {
        {"gc dw k3 s2 SAME", SHAPE(.n = 2, .c = 3, .h = 7, .w = 8, .oc = 3, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_r = 1, .groups = 3), 1},
        {"gc dw k5 s1", SHAPE(.n = 1, .c = 2, .h = 6, .w = 7, .oc = 2, .kh = 5, .kw = 5, .pad_t = 2, .pad_b = 2, .pad_l = 2, .pad_r = 2, .groups = 2), 1},
    };
    Rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) grad_check(&cases[i], 1, &r);
}

/* Forward and backward (accumulating onto the same starting gradients)
 * under 1 and 2 threads must agree bit for bit. */
static void test_thread_count_determinism(void) {
    static const ConvCase cases[] = {
        {"det 3x3 groups 2 bands, batch 5", SHAPE(.n = 5, .c = 16, .h = 37, .w = 40, .oc = 8, .kh = 3, .kw = 3, .sh = 1, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 2), 1},
        {"det 1x1 batch 3", SHAPE(.n = 3, .c = 24, .h = 13, .w = 11, .oc = 10, .kh = 1, .kw = 1), 1},
        {"det 3x3 s2 batch 1", SHAPE(.n = 1, .c = 8, .h = 50, .w = 45, .oc = 12, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_r = 1), 0},
        {"det depthwise k5 s2, batch 3", SHAPE(.n = 3, .c = 12, .h = 21, .w = 19, .oc = 12, .kh = 5, .kw = 5, .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 2, .pad_l = 1, .pad_r = 2, .groups = 12), 1},
    };
    const int saved = omp_get_max_threads();
    Rng r;
    rng_seed(&r, 5);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const ConvCase *cc = &cases[k];
        Conv2dShape s = resolved(cc->s);
        Sizes z = sizes(&s);
        const int dwise = is_depthwise(&s);
        real *x = rand_buf(z.x, &r), *w = rand_buf(z.w, &r), *dy = rand_buf(z.y, &r);
        real *b = cc->bias ? rand_buf(z.b, &r) : NULL;
        real *g0 = rand_buf(z.x + z.w + z.b, &r);
        real *y[2], *g[2];
        for (int t = 0; t < 2; t++) {
            omp_set_num_threads(t + 1);
            y[t] = malloc(z.y * sizeof(real));
            g[t] = copy_buf(g0, z.x + z.w + z.b);
            fast_forward(y[t], x, w, b, &s, dwise);
            fast_backward(g[t], g[t] + z.x, g[t] + z.x + z.w, dy, x, w, &s, dwise);
        }
        omp_set_num_threads(saved);
        char what[160];
        snprintf(what, sizeof what, "%s: forward", cc->name);
        CHECK_SAME_BITS(what, y[0], y[1], z.y * sizeof(real));
        snprintf(what, sizeof what, "%s: dinp", cc->name);
        CHECK_SAME_BITS(what, g[0], g[1], z.x * sizeof(real));
        snprintf(what, sizeof what, "%s: dweight", cc->name);
        CHECK_SAME_BITS(what, g[0] + z.x, g[1] + z.x, z.w * sizeof(real));
        snprintf(what, sizeof what, "%s: dbias", cc->name);
        CHECK_SAME_BITS(what, g[0] + z.x + z.w, g[1] + z.x + z.w, z.b * sizeof(real));
        free(x); free(w); free(dy); free(b); free(g0);
        for (int t = 0; t < 2; t++) { free(y[t]); free(g[t]); }
    }
}

/* Builds the layer's parameter views on its own stack frame, as model code
 * does, so the tape must not keep pointers to them. */
static Tensor *conv_layer(Tape *t, ParamTable *p, int iw, int ib, Tensor *x, const Conv2dShape *s) {
    Tensor w = params_tensor(p, iw), b;
    if (ib >= 0) b = params_tensor(p, ib);
    return ag_conv2d(t, "layer", x, &w, ib >= 0 ? &b : NULL, s);
}

static void ag_case(const ConvCase *cc, Rng *r) {
    Conv2dShape s = resolved(cc->s);
    Sizes z = sizes(&s);
    ParamTable p;
    params_init(&p);
    int wshape[4] = {s.oc, s.c / s.groups, s.kh, s.kw}, bshape[1] = {s.oc};
    int iw = params_add(&p, "conv.weight", PARAM_TRAINABLE, 4, wshape);
    int ib = cc->bias ? params_add(&p, "conv.bias", PARAM_TRAINABLE, 1, bshape) : -1;
    params_finalize(&p);
    real *pw = params_data(&p, iw), *pb = ib >= 0 ? params_data(&p, ib) : NULL;
    for (size_t i = 0; i < z.w; i++) pw[i] = (real)rng_range(r, -1, 1);
    for (size_t i = 0; pb && i < z.b; i++) pb[i] = (real)rng_range(r, -1, 1);
    real *x = rand_buf(z.x, r), *dy = rand_buf(z.y, r);
    real *y_ref = malloc(z.y * sizeof *y_ref);
    real *gx_ref = calloc(z.x, sizeof *gx_ref), *gw_ref = calloc(z.w, sizeof *gw_ref),
         *gb_ref = calloc(z.b, sizeof *gb_ref);
    conv2d_forward_loops(y_ref, x, pw, pb, &s);
    conv2d_backward_loops(gx_ref, gw_ref, pb ? gb_ref : NULL, dy, x, pw, &s);

    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    char what[160];
    for (int pass = 0; pass < 3; pass++) {
        /* pass 0: everything trains; 1: x needs no gradient; 2: inference */
        params_zero_grad(&p);
        t.recording = pass < 2;
        Tensor *xt = tape_wrap(&t, x, s.n, s.c, s.h, s.w);
        xt->requires_grad = pass == 0;
        Tensor *yt = conv_layer(&t, &p, iw, ib, xt, &s);
        CHECK(yt->n == s.n && yt->c == s.oc && yt->h == s.oh && yt->w == s.ow, "%s: output shape", cc->name);
        snprintf(what, sizeof what, "%s pass %d: ag forward", cc->name, pass);
        CHECK_CLOSE(what, yt->data, y_ref, z.y, TOL(2e-5, 1e-12));
        if (pass == 2) {
            CHECK(t.count == 0 && !yt->requires_grad, "%s: inference must record nothing", cc->name);
            tape_reset(&t);
            continue;
        }
        CHECK(t.count == 1, "%s: one node expected, got %d", cc->name, t.count);
        memcpy(tape_grad(&t, yt), dy, z.y * sizeof(real));
        tape_backward(&t, yt, 0);
        snprintf(what, sizeof what, "%s pass %d: ag dweight", cc->name, pass);
        CHECK_CLOSE(what, params_grad(&p, iw), gw_ref, z.w, TOL(2e-5, 1e-12));
        if (pb) {
            snprintf(what, sizeof what, "%s pass %d: ag dbias", cc->name, pass);
            CHECK_CLOSE(what, params_grad(&p, ib), gb_ref, z.b, TOL(2e-5, 1e-12));
        }
        if (pass == 0) {
            snprintf(what, sizeof what, "%s: ag dinp", cc->name);
            CHECK(xt->grad != NULL, "%s: x->grad missing", cc->name);
            if (xt->grad) CHECK_CLOSE(what, xt->grad, gx_ref, z.x, TOL(2e-5, 1e-12));
        } else {
            CHECK(xt->grad == NULL, "%s: x without requires_grad got a gradient", cc->name);
        }
        tape_reset(&t);
    }
    tape_free(&t);
    arena_free(&a);
    params_free(&p);
    free(x); free(dy); free(y_ref); free(gx_ref); free(gw_ref); free(gb_ref);
}

static void test_ag_conv2d(void) {
    static const ConvCase cases[] = {
        {"ag 3x3 s2 groups 2", SHAPE(.n = 3, .c = 4, .h = 9, .w = 8, .oc = 6, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_b = 1, .pad_r = 1, .groups = 2), 1},
        {"ag 1x1", SHAPE(.n = 2, .c = 5, .h = 4, .w = 6, .oc = 3, .kh = 1, .kw = 1), 0},
        {"ag depthwise k5 s2", SHAPE(.n = 2, .c = 6, .h = 11, .w = 10, .oc = 6, .kh = 5, .kw = 5, .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 2, .pad_l = 1, .pad_r = 2, .groups = 6), 1},
    };
    Rng r;
    rng_seed(&r, 6);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) ag_case(&cases[i], &r);
}

/* Runs ag_conv2d on a [2, 4, 5, 5] input with an 8-output 3x3 layer whose
 * weight is [wn, wc, wk, wk] in a child process. A bad layer must make
 * fatal() exit 1 with a message naming the layer and containing needle. */
static void expect_conv_exit(int wn, int wc, int wk, int groups, int want_status, const char *needle) {
    int fd[2];
    if (pipe(fd)) { CHECK(0, "pipe failed"); return; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        omp_set_num_threads(1); /* the parent's OpenMP thread pool did not survive fork() */
        Arena a;
        arena_init(&a, 1 << 16);
        Tape t;
        tape_init(&t, &a);
        static real xd[2 * 4 * 5 * 5], wd[8 * 4 * 5 * 5];
        Tensor *x = tape_wrap(&t, xd, 2, 4, 5, 5);
        Tensor w = {.data = wd, .n = wn, .c = wc, .h = wk, .w = wk};
        Conv2dShape s = SHAPE(.oc = 8, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = groups);
        ag_conv2d(&t, "blocks.7.conv", x, &w, NULL, &s);
        _exit(0);
    }
    close(fd[1]);
    char buf[1024] = {0};
    size_t got = 0;
    ssize_t k;
    while (got + 1 < sizeof buf && (k = read(fd[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)k;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == want_status,
          "weight [%d, %d, %d, %d], groups %d: want exit %d, got status %d (%s)", wn, wc, wk, wk,
          groups, want_status, status, buf);
    if (want_status)
        CHECK(strstr(buf, "blocks.7.conv") && strstr(buf, needle), "message lacks the layer or '%s': %s",
              needle, buf);
}

static void test_ag_conv2d_rejects_bad_weight(void) {
    expect_conv_exit(8, 4, 3, 1, 0, NULL); /* the right weight passes */
    expect_conv_exit(8, 2, 3, 2, 0, NULL);
    expect_conv_exit(8, 3, 3, 1, 1, "needs [8, 4, 3, 3]");
    expect_conv_exit(6, 4, 3, 1, 1, "needs [8, 4, 3, 3]");
    expect_conv_exit(8, 4, 5, 1, 1, "needs [8, 4, 3, 3]");
    expect_conv_exit(8, 4, 3, 2, 1, "needs [8, 2, 3, 3]");
    expect_conv_exit(8, 4, 3, 3, 1, "groups 3 must divide the input channels 4");
}

static void test_shape_resolve(void) {
    struct { Conv2dShape s; int oh, ow; } good[] = {
        {SHAPE(.n = 1, .c = 1, .h = 10, .w = 224, .oc = 1, .kh = 3, .kw = 7, .sh = 2, .sw = 2, .dh = 1, .dw = 1, .pad_b = 1, .pad_l = 3, .pad_r = 3, .groups = 1), 5, 112},
        {SHAPE(.n = 1, .c = 1, .h = 11, .w = 8, .oc = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 2, .dh = 2, .dw = 1, .pad_t = 2, .pad_b = 2, .pad_l = 1, .pad_r = 1, .groups = 1), 11, 4},
        {SHAPE(.n = 1, .c = 1, .h = 4, .w = 4, .oc = 1, .kh = 4, .kw = 4, .sh = 3, .sw = 3, .dh = 1, .dw = 1, .groups = 1), 1, 1},
    };
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        int rc = conv2d_shape_resolve(&good[i].s, err, sizeof err);
        CHECK(rc == 0 && good[i].s.oh == good[i].oh && good[i].s.ow == good[i].ow,
              "good shape %zu: rc %d, %dx%d, want %dx%d", i, rc, good[i].s.oh, good[i].s.ow, good[i].oh, good[i].ow);
    }
    const Conv2dShape base = SHAPE(.n = 2, .c = 4, .h = 8, .w = 8, .oc = 6, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1, .groups = 2);
    struct { const char *why; Conv2dShape s; const char *needle; } bad[] = {
        {"no images", base, "non-positive"},
        {"zero width", base, "non-positive"},
        {"no outputs", base, "output channels"},
        {"zero kernel", base, "kernel"},
        {"zero stride", base, "stride"},
        {"zero dilation", base, "dilation"},
        {"negative pad", base, "padding"},
        {"zero groups", base, "groups"},
        {"groups vs inputs", base, "input channels"},
        {"groups vs outputs", base, "output channels"},
        {"kernel too big", base, "empty output"},
        {"dilated kernel too big", base, "empty output"},
    };
    bad[0].s.n = 0;
    bad[1].s.w = 0;
    bad[2].s.oc = 0;
    bad[3].s.kw = 0;
    bad[4].s.sh = 0;
    bad[5].s.dw = -1;
    bad[6].s.pad_l = -1;
    bad[7].s.groups = 0;
    bad[8].s.c = 5;
    bad[9].s.oc = 5;
    bad[10].s.kh = 9;
    bad[11].s.dh = 4;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = 0;
        int rc = conv2d_shape_resolve(&bad[i].s, err, sizeof err);
        CHECK(rc == -1 && strstr(err, bad[i].needle), "%s: rc %d, message '%s' lacks '%s'",
              bad[i].why, rc, err, bad[i].needle);
    }
}

int main(void) {
    RUN(test_conv2d_matches_reference);
    RUN(test_depthwise_matches_reference);
    RUN(test_conv2d_gradcheck);
    RUN(test_depthwise_gradcheck);
    RUN(test_thread_count_determinism);
    RUN(test_ag_conv2d);
    RUN(test_ag_conv2d_rejects_bad_weight);
    RUN(test_shape_resolve);
    CHECK_MAIN_END();
}
