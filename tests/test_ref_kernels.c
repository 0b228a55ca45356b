/* Every fast kernel of src/ops against its reference (the `_ref` twin, the
 * definition the exact mode runs), on the shapes the models use: EfficientNet
 * b0 and b6 early and late layers, ResNeXt's grouped convolutions, odd sizes,
 * batch 1. For each kernel and each instruction-set level this CPU has
 * (isa_force: generic, avx2, avx512):
 *   - fast vs reference: bit for bit where the fast kernel computes the same
 *     formula in the same order (noted BITS below), else within a bound
 *     relative to the largest reference value (CHECK_CLOSE): float / double
 *       act (swish, sigmoid): 1e-6 / 1e-14   (exp: own polynomial or libm vs pm_exp)
 *       channel_scale ds, global average pool, radix softmax: 1e-6 / 1e-13
 *       BatchNorm, fused, bn+add+relu: 1e-5 / 1e-12 (sums in another order)
 *       linear, convolutions: 2e-5 / 1e-12 (OpenBLAS, FMA, blocked sums)
 *       losses, Adam, clipping: 1e-6 / 1e-12 (libm vs pm_*); the gradient
 *       norm (2M squares in double, chunked vs in order): 1e-11 relative
 *   - the fast kernel in the exact mode (exact_mode_set(1)) returns the
 *     reference's bits: the dispatch works;
 *   - the reference at 1 and 3 threads: the same bits.
 * The reference convolutions (unfold + gemm_ref) also equal the direct loops
 * of src/ops/conv2d_loops.c bit for bit. */
#include "check.h"

#include <omp.h>

#include "anomaly/exact.h"
#include "anomaly/isa.h"
#include "anomaly/ops.h"
#include "anomaly/ops/fused.h"

#define BITS (-1.0)

static const char *level_name = "?";

/* Inputs of every case: big enough arrays, filled once. */
#define POOL_N ((size_t)1 << 21)
static real *X, *Y, *Z, *W; /* U(-1, 1) */
static uint8_t *MASK;       /* 0 or 1 */

typedef struct Ctx {
    size_t n;
    int a, b, c, d;       /* shape numbers, per op */
    real p, q;            /* scalars, per op */
    int act;              /* BnAct */
    BatchNormShape bn;
    Pool2dShape pool;
    Conv2dShape conv;
    long step;
} Ctx;

typedef void (*RunFn)(const Ctx *c, int ref, real *out);

/* Gradient buffers start from a fixed non-zero pattern, so that the
 * accumulate-into contract is exercised. */
static void prefill(real *g, size_t n) {
    for (size_t i = 0; i < n; i++) g[i] = (real)((int)(i % 7) - 3) * (real)0.125;
}

/* Runs op fast and reference, then the fast one in the exact mode, then the
 * reference at another thread count; see the file comment. */
static void compare(const char *what, RunFn run, const Ctx *c, size_t nout, double tol) {
    real *f = new_real(nout), *r = new_real(nout), *e = new_real(nout), *r1 = new_real(nout);
    char name[200];
    snprintf(name, sizeof name, "%s [%s]", what, level_name);
    run(c, 0, f);
    run(c, 1, r);
    if (tol < 0)
        CHECK(memcmp(f, r, nout * sizeof(real)) == 0, "%s: fast differs from the reference bits",
              name);
    else
        CHECK_CLOSE(name, f, r, nout, tol);
    exact_mode_set(1);
    run(c, 0, e);
    exact_mode_set(0);
    CHECK(memcmp(e, r, nout * sizeof(real)) == 0, "%s: the exact mode is not the reference", name);
    const int T = omp_get_max_threads();
    omp_set_num_threads(T == 1 ? 3 : 1);
    run(c, 1, r1);
    omp_set_num_threads(T);
    CHECK(memcmp(r1, r, nout * sizeof(real)) == 0, "%s: the reference depends on the thread count",
          name);
    free(f);
    free(r);
    free(e);
    free(r1);
}

/* Calls fn(c) once per instruction-set level this CPU has. */
static void each_level(void (*fn)(void)) {
    static const IsaLevel levels[] = {ISA_GENERIC, ISA_AVX2, ISA_AVX512};
    const IsaLevel keep = isa_level();
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        if (levels[i] > isa_cpu_level()) continue;
        if (isa_force(levels[i]) != 0) continue;
        level_name = isa_name(levels[i]);
        fn();
    }
    isa_force(keep);
}

/* ---- activations ---- */

static void run_swish(const Ctx *c, int ref, real *out) {
    (ref ? swish_forward_ref : swish_forward)(out, X, c->n);
}
static void run_swish_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? swish_backward_ref : swish_backward)(out, Y, X, c->n);
}
static void run_relu(const Ctx *c, int ref, real *out) {
    (ref ? relu_forward_ref : relu_forward)(out, X, c->n);
}
static void run_relu_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? relu_backward_ref : relu_backward)(out, Y, X, c->n);
}
static void run_sigmoid(const Ctx *c, int ref, real *out) {
    (ref ? sigmoid_forward_ref : sigmoid_forward)(out, X, c->n);
}
static void run_sigmoid_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? sigmoid_backward_ref : sigmoid_backward)(out, Y, Z, c->n);
}

static void act_cases(void) {
    /* b0 stem output at 224 px (batch 1), b0 head (7x7x1280, batch 2),
     * b6 stem at an odd size (batch 3), a few odd values */
    const size_t sizes[] = {(size_t)32 * 112 * 112, (size_t)2 * 1280 * 49, (size_t)3 * 56 * 33 * 33, 37};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        Ctx c = {.n = sizes[k]};
        char w[64];
#define ACT(name, fn, tol) snprintf(w, sizeof w, name " n=%zu", c.n), compare(w, fn, &c, c.n, tol)
        ACT("swish_forward", run_swish, TOL(1e-6, 1e-14));
        ACT("swish_backward", run_swish_b, TOL(1e-6, 1e-14));
        ACT("relu_forward", run_relu, BITS);
        ACT("relu_backward", run_relu_b, BITS);
        ACT("sigmoid_forward", run_sigmoid, TOL(1e-6, 1e-14));
        ACT("sigmoid_backward", run_sigmoid_b, BITS);
#undef ACT
    }
}
static void test_act(void) { each_level(act_cases); }

/* ---- elementwise ---- */

static void run_add(const Ctx *c, int ref, real *out) {
    (ref ? add_forward_ref : add_forward)(out, X, Y, c->n);
}
static void run_add_b(const Ctx *c, int ref, real *out) {
    prefill(out, 2 * c->n);
    /* da and db apart, then one buffer twice (a tensor added to itself) */
    (ref ? add_backward_ref : add_backward)(out, out + c->n, Y, c->n);
    (ref ? add_backward_ref : add_backward)(out, out, Z, c->n);
}
static void run_cscale(const Ctx *c, int ref, real *out) {
    (ref ? channel_scale_forward_ref : channel_scale_forward)(out, X, Y, c->a, c->b, c->c);
}
static void run_cscale_dx(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? channel_scale_backward_ref : channel_scale_backward)(out, NULL, Z, X, Y, c->a, c->b, c->c);
}
static void run_cscale_ds(const Ctx *c, int ref, real *out) {
    prefill(out, (size_t)c->a * c->b);
    (ref ? channel_scale_backward_ref : channel_scale_backward)(NULL, out, Z, X, Y, c->a, c->b, c->c);
}
static void run_dropout(const Ctx *c, int ref, real *out) {
    (ref ? dropout_forward_ref : dropout_forward)(out, X, MASK, c->p, c->n);
    prefill(out + c->n, c->n);
    (ref ? dropout_backward_ref : dropout_backward)(out + c->n, Y, MASK, c->p, c->n);
}
static void run_dconnect(const Ctx *c, int ref, real *out) {
    (ref ? drop_connect_forward_ref : drop_connect_forward)(out, X, MASK, c->p, c->a, c->n / c->a);
    prefill(out + c->n, c->n);
    (ref ? drop_connect_backward_ref : drop_connect_backward)(out + c->n, Y, MASK, c->p, c->a,
                                                              c->n / c->a);
}
static void run_l2norm(const Ctx *c, int ref, real *out) {
    (ref ? l2norm_rows_forward_ref : l2norm_rows_forward)(out, X, c->a, c->b, c->p);
    prefill(out + c->n, c->n);
    (ref ? l2norm_rows_backward_ref : l2norm_rows_backward)(out + c->n, Y, X, c->a, c->b, c->p);
}

static void elementwise_cases(void) {
    /* squeeze-excitation shapes: b0 early (batch 1, 96 x 56x56), b6 late (2304 x 5x5), odd */
    const int shapes[][3] = {{1, 96, 56 * 56}, {2, 2304, 25}, {3, 7, 13}};
    for (size_t k = 0; k < 3; k++) {
        Ctx c = {.a = shapes[k][0], .b = shapes[k][1], .c = shapes[k][2]};
        c.n = (size_t)c.a * c.b * c.c;
        char w[80];
        snprintf(w, sizeof w, "add n=%zu", c.n);
        compare(w, run_add, &c, c.n, BITS);
        snprintf(w, sizeof w, "add_backward n=%zu", c.n);
        compare(w, run_add_b, &c, 2 * c.n, BITS);
        snprintf(w, sizeof w, "channel_scale [%d,%d,%d]", c.a, c.b, c.c);
        compare(w, run_cscale, &c, c.n, BITS);
        snprintf(w, sizeof w, "channel_scale_backward dx [%d,%d,%d]", c.a, c.b, c.c);
        compare(w, run_cscale_dx, &c, c.n, BITS);
        snprintf(w, sizeof w, "channel_scale_backward ds [%d,%d,%d]", c.a, c.b, c.c);
        compare(w, run_cscale_ds, &c, (size_t)c.a * c.b, TOL(1e-6, 1e-13));
        c.p = (real)(1 / 0.8);
        snprintf(w, sizeof w, "dropout n=%zu", c.n);
        compare(w, run_dropout, &c, 2 * c.n, BITS);
        c.p = (real)0.2;
        snprintf(w, sizeof w, "drop_connect n=%zu", c.n);
        compare(w, run_dconnect, &c, 2 * c.n, BITS);
    }
    /* the cosine head's rows: b0 features, and a row below eps */
    Ctx c = {.a = 4, .b = 1280, .p = (real)1e-12};
    c.n = (size_t)c.a * c.b;
    compare("l2norm_rows [4,1280]", run_l2norm, &c, 2 * c.n, BITS);
    Ctx tiny = {.a = 3, .b = 5, .p = (real)10};
    tiny.n = 15;
    compare("l2norm_rows [3,5] clamped", run_l2norm, &tiny, 2 * tiny.n, BITS);
}
static void test_elementwise(void) { each_level(elementwise_cases); }

/* ---- pooling ---- */

static void run_gap(const Ctx *c, int ref, real *out) {
    (ref ? global_avgpool_forward_ref : global_avgpool_forward)(out, X, c->a, c->b, c->c);
}
static void run_gap_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? global_avgpool_backward_ref : global_avgpool_backward)(out, Y, c->a, c->b, c->c);
}
static size_t pool_in(const Pool2dShape *s) { return (size_t)s->n * s->c * s->h * s->w; }
static size_t pool_out(const Pool2dShape *s) { return (size_t)s->n * s->c * s->oh * s->ow; }
static void run_maxpool(const Ctx *c, int ref, real *out) {
    (ref ? maxpool2d_forward_ref : maxpool2d_forward)(out, X, &c->pool);
    prefill(out + pool_out(&c->pool), pool_in(&c->pool));
    (ref ? maxpool2d_backward_ref : maxpool2d_backward)(out + pool_out(&c->pool), Y, X, &c->pool);
}
static void run_avgpool(const Ctx *c, int ref, real *out) {
    (ref ? avgpool2d_forward_ref : avgpool2d_forward)(out, X, &c->pool);
    prefill(out + pool_out(&c->pool), pool_in(&c->pool));
    (ref ? avgpool2d_backward_ref : avgpool2d_backward)(out + pool_out(&c->pool), Y, &c->pool);
}

static void pool_cases(void) {
    const int gap[][3] = {{2, 1280, 49}, {1, 2048, 49}, {3, 5, 7}, {1, 2304, 17 * 17}};
    for (size_t k = 0; k < 4; k++) {
        Ctx c = {.a = gap[k][0], .b = gap[k][1], .c = gap[k][2]};
        c.n = (size_t)c.a * c.b * c.c;
        char w[80];
        snprintf(w, sizeof w, "global_avgpool [%d,%d,%d]", c.a, c.b, c.c);
        compare(w, run_gap, &c, (size_t)c.a * c.b, TOL(1e-6, 1e-13));
        snprintf(w, sizeof w, "global_avgpool_backward [%d,%d,%d]", c.a, c.b, c.c);
        compare(w, run_gap_b, &c, c.n, BITS);
    }
    /* ResNeXt stem max pool; ResNeSt's average pools (3x3 s1 p1, 2x2 s2
     * ceil without padding counts); odd sizes in ceil mode */
    const Pool2dShape shapes[] = {
        {.n = 2, .c = 64, .h = 32, .w = 32, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_l = 1},
        {.n = 1, .c = 64, .h = 15, .w = 15, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .pad_t = 1, .pad_l = 1,
         .count_include_pad = 1},
        {.n = 3, .c = 5, .h = 15, .w = 13, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .ceil_mode = 1},
        {.n = 2, .c = 3, .h = 11, .w = 9, .kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_l = 1,
         .ceil_mode = 1, .count_include_pad = 1},
    };
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        Ctx c = {.pool = shapes[k]};
        char err[200], w[120];
        if (pool2d_shape_resolve(&c.pool, err, sizeof err)) {
            CHECK(0, "bad pool shape %zu: %s", k, err);
            continue;
        }
        const size_t n = pool_out(&c.pool) + pool_in(&c.pool);
        snprintf(w, sizeof w, "maxpool2d %zu [%d,%d,%d,%d]", k, c.pool.n, c.pool.c, c.pool.h, c.pool.w);
        compare(w, run_maxpool, &c, n, BITS);
        snprintf(w, sizeof w, "avgpool2d %zu [%d,%d,%d,%d]", k, c.pool.n, c.pool.c, c.pool.h, c.pool.w);
        compare(w, run_avgpool, &c, n, BITS);
    }
}
static void test_pool(void) { each_level(pool_cases); }

/* ---- linear ---- */

static void run_linear(const Ctx *c, int ref, real *out) {
    const int n = c->a, in_f = c->b, out_f = c->c;
    (ref ? linear_forward_ref : linear_forward)(out, X, W, c->d ? Y : NULL, n, in_f, out_f);
}
static void run_linear_b(const Ctx *c, int ref, real *out) {
    const int n = c->a, in_f = c->b, out_f = c->c;
    const size_t nx = (size_t)n * in_f, nw = (size_t)out_f * in_f;
    prefill(out, nx + nw + out_f);
    (ref ? linear_backward_ref : linear_backward)(out, out + nx, out + nx + nw, Z, X, W, n, in_f,
                                                  out_f);
}

static void linear_cases(void) {
    /* b0 and ResNeXt heads, batch 1, odd */
    const int shapes[][4] = {{4, 1280, 88, 1}, {1, 2048, 5, 1}, {3, 7, 3, 0}, {2, 2304, 88, 1}};
    for (size_t k = 0; k < 4; k++) {
        Ctx c = {.a = shapes[k][0], .b = shapes[k][1], .c = shapes[k][2], .d = shapes[k][3]};
        char w[80];
        snprintf(w, sizeof w, "linear [%d,%d]->%d", c.a, c.b, c.c);
        compare(w, run_linear, &c, (size_t)c.a * c.c, TOL(2e-5, 1e-12));
        snprintf(w, sizeof w, "linear_backward [%d,%d]->%d", c.a, c.b, c.c);
        compare(w, run_linear_b, &c, (size_t)c.a * c.b + (size_t)c.c * c.b + c.c, TOL(2e-5, 1e-12));
    }
}
static void test_linear(void) { each_level(linear_cases); }

/* ---- losses ---- */

static int LABELS[8] = {3, 0, 87, 41, 4, 1, 2, 60};
static uint8_t TARGET[88];

static void run_ce_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? cross_entropy_backward_ref : cross_entropy_backward)(out, X, LABELS, c->a, c->b, (real)0.7);
}
static void run_ls_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? label_smoothing_backward_ref : label_smoothing_backward)(out, X, LABELS, c->a, c->b,
                                                                    (real)0.1, 88, (real)0.7);
}
static void run_arc(const Ctx *c, int ref, real *out) {
    (ref ? arcface_forward_ref : arcface_forward)(out, X, LABELS, TARGET, c->a, c->b, (real)0.5,
                                                  (real)30);
    prefill(out + c->n, c->n);
    (ref ? arcface_backward_ref : arcface_backward)(out + c->n, Y, X, LABELS, TARGET, c->a, c->b,
                                                    (real)0.5, (real)30);
}

static void loss_cases(void) {
    const int shapes[][2] = {{8, 88}, {1, 5}};
    for (int k = 0; k < 2; k++) {
        Ctx c = {.a = shapes[k][0], .b = shapes[k][1]};
        c.n = (size_t)c.a * c.b;
        char w[80];
        for (int i = 0; i < c.a; i++) LABELS[i] %= c.b;
        const double ce = cross_entropy_forward(X, LABELS, c.a, c.b);
        const double ce_ref = cross_entropy_forward_ref(X, LABELS, c.a, c.b);
        CHECK(fabs(ce - ce_ref) <= 1e-13 * fabs(ce_ref), "cross_entropy [%s]: %.17g vs %.17g",
              level_name, ce, ce_ref);
        const double ls = label_smoothing_forward(X, LABELS, c.a, c.b, (real)0.1, 88);
        const double ls_ref = label_smoothing_forward_ref(X, LABELS, c.a, c.b, (real)0.1, 88);
        CHECK(fabs(ls - ls_ref) <= 1e-13 * fabs(ls_ref), "label_smoothing [%s]: %.17g vs %.17g",
              level_name, ls, ls_ref);
        exact_mode_set(1);
        const double ce_x = cross_entropy_forward(X, LABELS, c.a, c.b);
        const double ls_x = label_smoothing_forward(X, LABELS, c.a, c.b, (real)0.1, 88);
        exact_mode_set(0);
        CHECK(ce_x == ce_ref && ls_x == ls_ref, "losses [%s]: the exact mode is not the reference",
              level_name);
        snprintf(w, sizeof w, "cross_entropy_backward [%d,%d]", c.a, c.b);
        compare(w, run_ce_b, &c, c.n, TOL(1e-6, 1e-12));
        snprintf(w, sizeof w, "label_smoothing_backward [%d,%d]", c.a, c.b);
        compare(w, run_ls_b, &c, c.n, TOL(1e-6, 1e-12));
        snprintf(w, sizeof w, "arcface [%d,%d]", c.a, c.b);
        compare(w, run_arc, &c, 2 * c.n, TOL(1e-6, 1e-12));
    }
}
static void test_loss(void) { each_level(loss_cases); }

/* ---- optimizers ---- */

/* out: param, m, v (Adam) or param, buf (SGD), from fixed starting values */
static void run_adam(const Ctx *c, int ref, real *out) {
    memcpy(out, X, c->n * sizeof(real));
    for (size_t i = 0; i < c->n; i++) {
        out[c->n + i] = Y[i] * (real)0.01;
        out[2 * c->n + i] = Z[i] * Z[i] * (real)1e-4;
    }
    const AdamConfig cfg = {5e-5, 0.9, 0.999, 1e-8, 1e-4};
    (ref ? adam_update_ref : adam_update)(out, W, out + c->n, out + 2 * c->n, c->n, &cfg, c->step);
}
/* out: param, m, v, grad (clipped) */
static void run_clip_adam(const Ctx *c, int ref, real *out) {
    run_adam(c, ref, out);
    for (size_t i = 0; i < c->n; i++) out[3 * c->n + i] = W[i] * (real)10; /* clipped */
    const AdamConfig cfg = {5e-5, 0.9, 0.999, 1e-8, 1e-4};
    (ref ? clip_adam_update_ref : clip_adam_update)(out, out + 3 * c->n, out + c->n,
                                                    out + 2 * c->n, c->n, &cfg, c->step + 1, 2.0);
}
static void run_sgd(const Ctx *c, int ref, real *out) {
    memcpy(out, X, c->n * sizeof(real));
    memcpy(out + c->n, Y, c->n * sizeof(real));
    const SgdConfig cfg = {0.01, 0.9, 5e-4};
    (ref ? sgd_update_ref : sgd_update)(out, W, out + c->n, c->n, &cfg, c->step);
}
static void run_clip(const Ctx *c, int ref, real *out) {
    memcpy(out, W, c->n * sizeof(real));
    (ref ? clip_grad_norm_ref : clip_grad_norm)(out, c->n, 1.0);
}

static void optim_cases(void) {
    const size_t sizes[] = {100003, 7};
    for (int k = 0; k < 2; k++)
        for (long step = 1; step <= 7; step += 6) {
            Ctx c = {.n = sizes[k], .step = step};
            char w[80];
            snprintf(w, sizeof w, "adam n=%zu step %ld", c.n, step);
            compare(w, run_adam, &c, 3 * c.n, TOL(1e-6, 1e-12));
            snprintf(w, sizeof w, "clip_adam n=%zu step %ld", c.n, step);
            compare(w, run_clip_adam, &c, 4 * c.n, TOL(1e-6, 1e-12));
            snprintf(w, sizeof w, "sgd n=%zu step %ld", c.n, step);
            compare(w, run_sgd, &c, 2 * c.n, BITS);
        }
    Ctx c = {.n = POOL_N};
    compare("clip_grad_norm", run_clip, &c, c.n, TOL(1e-6, 1e-12));
    const double nf = grad_global_norm(W, POOL_N), nr = grad_global_norm_ref(W, POOL_N);
    CHECK(fabs(nf - nr) <= 1e-11 * nr, "grad_global_norm [%s]: %.17g vs %.17g", level_name, nf, nr);
    exact_mode_set(1);
    const double nx = grad_global_norm(W, POOL_N);
    exact_mode_set(0);
    CHECK(nx == nr, "grad_global_norm [%s]: the exact mode is not the reference", level_name);
}
static void test_optim(void) { each_level(optim_cases); }

/* ---- split attention ---- */

static void run_rsoft(const Ctx *c, int ref, real *out) {
    (ref ? radix_softmax_forward_ref : radix_softmax_forward)(out, X, c->a, c->b, c->c, c->d);
}
static void run_rsoft_b(const Ctx *c, int ref, real *out) {
    prefill(out, c->n);
    (ref ? radix_softmax_backward_ref : radix_softmax_backward)(out, Y, Z, c->a, c->b, c->c, c->d);
}
static void run_rsum(const Ctx *c, int ref, real *out) {
    const size_t o = c->n / c->b; /* radix = b */
    (ref ? radix_sum_forward_ref : radix_sum_forward)(out, X, c->a, c->b, c->c, c->d);
    prefill(out + o, c->n);
    (ref ? radix_sum_backward_ref : radix_sum_backward)(out + o, Y, c->a, c->b, c->c, c->d);
}
static void run_rwsum(const Ctx *c, int ref, real *out) {
    const size_t o = c->n / c->b, na = (size_t)c->a * c->b * c->c;
    (ref ? radix_weighted_sum_forward_ref : radix_weighted_sum_forward)(out, X, Z, c->a, c->b,
                                                                        c->c, c->d);
    prefill(out + o, c->n + na);
    (ref ? radix_weighted_sum_backward_ref : radix_weighted_sum_backward)(
        out + o, out + o + c->n, Y, X, Z, c->a, c->b, c->c, c->d);
}

static void attn_cases(void) {
    /* ResNeSt: radix 2, cardinality 1, early and late widths; radix 1; radix 4 card 2 */
    const int soft[][4] = {{2, 1, 2, 64}, {1, 1, 2, 512}, {3, 1, 1, 40}, {2, 2, 4, 9}};
    for (int k = 0; k < 4; k++) {
        Ctx c = {.a = soft[k][0], .b = soft[k][1], .c = soft[k][2], .d = soft[k][3]};
        c.n = (size_t)c.a * c.b * c.c * c.d;
        char w[80];
        snprintf(w, sizeof w, "radix_softmax [%d,%d,%d,%d]", c.a, c.b, c.c, c.d);
        compare(w, run_rsoft, &c, c.n, TOL(1e-6, 1e-13));
        snprintf(w, sizeof w, "radix_softmax_backward [%d,%d,%d,%d]", c.a, c.b, c.c, c.d);
        compare(w, run_rsoft_b, &c, c.n, BITS);
    }
    const int sums[][4] = {{2, 2, 64, 16 * 16}, {1, 2, 512, 49}, {3, 4, 5, 7}};
    for (int k = 0; k < 3; k++) {
        Ctx c = {.a = sums[k][0], .b = sums[k][1], .c = sums[k][2], .d = sums[k][3]};
        c.n = (size_t)c.a * c.b * c.c * c.d;
        char w[80];
        snprintf(w, sizeof w, "radix_sum [%d,%d,%d,%d]", c.a, c.b, c.c, c.d);
        compare(w, run_rsum, &c, c.n / c.b + c.n, BITS);
        snprintf(w, sizeof w, "radix_weighted_sum [%d,%d,%d,%d]", c.a, c.b, c.c, c.d);
        compare(w, run_rwsum, &c, c.n / c.b + c.n + (size_t)c.a * c.b * c.c, BITS);
    }
}
static void test_attn(void) { each_level(attn_cases); }

/* ---- BatchNorm and the fused kernels ---- */

static size_t bn_n(const BatchNormShape *s) { return (size_t)s->n * s->c * s->hw; }

/* running statistics from fixed values */
static void bn_running(real *rm, real *rv, int c) {
    for (int i = 0; i < c; i++) {
        rm[i] = Z[i] * (real)0.1;
        rv[i] = (real)1 + Z[i] * Z[i];
    }
}

/* out: y, mean, rstd, running_mean, running_var */
static void run_bn_train(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real *mean = out + bn_n(s), *rstd = mean + s->c, *rm = rstd + s->c, *rv = rm + s->c;
    bn_running(rm, rv, s->c);
    (ref ? batchnorm2d_forward_train_ref : batchnorm2d_forward_train)(out, mean, rstd, rm, rv, X, W,
                                                                      W + s->c, s);
}
static void run_bn_eval(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real rm[2304], rv[2304];
    bn_running(rm, rv, s->c);
    (ref ? batchnorm2d_forward_eval_ref : batchnorm2d_forward_eval)(out, X, W, W + s->c, rm, rv, s);
}
/* out: dx, dgamma, dbeta; statistics from the reference forward */
static void bn_stats(const BatchNormShape *s, real *mean, real *rstd, real *affine) {
    real *y = new_real(bn_n(s));
    batchnorm2d_act_forward_train_ref(y, NULL, mean, rstd, affine, NULL, NULL, X, W, W + s->c, s,
                                      BN_ACT_SWISH);
    free(y);
}
static void run_bn_back(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real mean[2304], rstd[2304], affine[2 * 2304];
    bn_stats(s, mean, rstd, affine);
    prefill(out, bn_n(s) + 2 * s->c);
    (ref ? batchnorm2d_backward_ref : batchnorm2d_backward)(out, out + bn_n(s), out + bn_n(s) + s->c,
                                                            Y, X, mean, rstd, W, s);
}
static void run_bn_back_eval(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real rm[2304], rv[2304];
    bn_running(rm, rv, s->c);
    prefill(out, bn_n(s) + 2 * s->c);
    (ref ? batchnorm2d_backward_eval_ref : batchnorm2d_backward_eval)(
        out, out + bn_n(s), out + bn_n(s) + s->c, Y, X, rm, rv, W, s);
}
/* out: y, z, mean, rstd, affine, running_mean, running_var */
static void run_bn_act(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real *z = out + bn_n(s), *mean = z + bn_n(s), *rstd = mean + s->c, *aff = rstd + s->c;
    real *rm = aff + 2 * s->c, *rv = rm + s->c;
    bn_running(rm, rv, s->c);
    (ref ? batchnorm2d_act_forward_train_ref : batchnorm2d_act_forward_train)(
        out, z, mean, rstd, aff, rm, rv, X, W, W + s->c, s, (BnAct)c->act);
}
static void run_bn_act_recompute(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real mean[2304], rstd[2304], affine[2 * 2304];
    bn_stats(s, mean, rstd, affine);
    (ref ? batchnorm2d_act_recompute_ref : batchnorm2d_act_recompute)(out, X, affine, s,
                                                                      (BnAct)c->act);
}
/* out: dx, dgamma, dbeta; with z saved (d == 1) or recomputed (d == 0) */
static void run_bn_act_back(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real mean[2304], rstd[2304], affine[2 * 2304];
    real *y = new_real(bn_n(s)), *z = new_real(bn_n(s));
    batchnorm2d_act_forward_train_ref(y, z, mean, rstd, affine, NULL, NULL, X, W, W + s->c, s,
                                      (BnAct)c->act);
    prefill(out, bn_n(s) + 2 * s->c);
    (ref ? batchnorm2d_act_backward_ref : batchnorm2d_act_backward)(
        out, out + bn_n(s), out + bn_n(s) + s->c, Y, X, c->d ? z : NULL, mean, rstd,
        c->d ? NULL : affine, W, s, (BnAct)c->act);
    free(y);
    free(z);
}
/* out: y, mean, rstd, running_mean, running_var */
static void run_bn_add_relu(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    real *mean = out + bn_n(s), *rstd = mean + s->c, *rm = rstd + s->c, *rv = rm + s->c;
    bn_running(rm, rv, s->c);
    (ref ? batchnorm2d_add_relu_forward_train_ref : batchnorm2d_add_relu_forward_train)(
        out, mean, rstd, rm, rv, X, Z, W, W + s->c, s);
}
/* out: dx, dres, dgamma, dbeta */
static void run_bn_add_relu_back(const Ctx *c, int ref, real *out) {
    const BatchNormShape *s = &c->bn;
    const size_t n = bn_n(s);
    real mean[2304], rstd[2304];
    real *y = new_real(n);
    batchnorm2d_add_relu_forward_train_ref(y, mean, rstd, NULL, NULL, X, Z, W, W + s->c, s);
    prefill(out, 2 * n + 2 * s->c);
    (ref ? batchnorm2d_add_relu_backward_ref : batchnorm2d_add_relu_backward)(
        out, out + n, out + 2 * n, out + 2 * n + s->c, Y, y, X, mean, rstd, W, s);
    free(y);
}

static void bn_cases(void) {
    /* b0 early at 224 px (batch 1), b0 late, b6 early (odd size), b6 late,
     * ResNeXt early and late, odd */
    const BatchNormShape shapes[] = {
        {1, 32, 112 * 112, (real)1e-3, (real)0.01}, {2, 1280, 49, (real)1e-3, (real)0.01},
        {2, 56, 33 * 33, (real)1e-3, (real)0.01},   {3, 2304, 9, (real)1e-3, (real)0.01},
        {4, 64, 28 * 28, (real)1e-5, (real)0.1},    {2, 2048, 49, (real)1e-5, (real)0.1},
        {3, 5, 7, (real)1e-5, (real)0.1},
    };
    const double tol = TOL(1e-5, 1e-12);
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        Ctx c = {.bn = shapes[k]};
        const BatchNormShape *s = &c.bn;
        const size_t n = bn_n(s);
        char w[120];
#define BN(name, fn, len, t)                                                              \
    snprintf(w, sizeof w, name " [%d,%d,%d]", s->n, s->c, s->hw), compare(w, fn, &c, len, t)
        BN("batchnorm2d_forward_train", run_bn_train, n + 4 * s->c, tol);
        BN("batchnorm2d_forward_eval", run_bn_eval, n, BITS);
        BN("batchnorm2d_backward", run_bn_back, n + 2 * s->c, tol);
        BN("batchnorm2d_backward_eval", run_bn_back_eval, n + 2 * s->c, tol);
        for (c.act = BN_ACT_SWISH; c.act <= BN_ACT_RELU; c.act++) {
            BN("batchnorm2d_act_forward_train", run_bn_act, 2 * n + 6 * s->c, tol);
            BN("batchnorm2d_act_recompute", run_bn_act_recompute, n,
               c.act == BN_ACT_RELU ? BITS : TOL(1e-6, 1e-14));
            for (c.d = 0; c.d <= 1; c.d++)
                BN("batchnorm2d_act_backward", run_bn_act_back, n + 2 * s->c, tol);
        }
        BN("batchnorm2d_add_relu_forward_train", run_bn_add_relu, n + 4 * s->c, tol);
        BN("batchnorm2d_add_relu_backward", run_bn_add_relu_back, 2 * n + 2 * s->c, tol);
#undef BN
    }
}
static void test_batchnorm(void) { each_level(bn_cases); }

/* ---- convolutions ---- */

typedef struct ConvSizes { size_t x, w, y; } ConvSizes;
static ConvSizes conv_sizes(const Conv2dShape *s) {
    ConvSizes z = {(size_t)s->n * s->c * s->h * s->w,
                   (size_t)s->oc * (s->c / s->groups) * s->kh * s->kw,
                   (size_t)s->n * s->oc * s->oh * s->ow};
    return z;
}
static int depthwise_shape(const Conv2dShape *s) {
    return s->groups == s->c && s->oc == s->c && s->dh == 1 && s->dw == 1;
}

/* The kernel a model runs for this shape (ag_conv2d): depthwise or conv2d. */
static void run_conv(const Ctx *c, int ref, real *out) {
    const Conv2dShape *s = &c->conv;
    const real *bias = c->d ? Y : NULL;
    if (depthwise_shape(s)) {
        (ref ? depthwise_conv2d_forward_ref : depthwise_conv2d_forward)(out, X, W, bias, s);
    } else {
        void *work = malloc(conv2d_workspace_bytes(s) + 64);
        (ref ? conv2d_forward_ref : conv2d_forward)(out, X, W, bias, s, work);
        free(work);
    }
}
/* which: 0 dinp, 1 dweight, 2 dbias */
static void run_conv_b(const Ctx *c, int ref, real *out) {
    const Conv2dShape *s = &c->conv;
    const int which = c->a;
    prefill(out, which == 0 ? conv_sizes(s).x : which == 1 ? conv_sizes(s).w : (size_t)s->oc);
    real *dx = which == 0 ? out : NULL, *dw = which == 1 ? out : NULL, *db = which == 2 ? out : NULL;
    if (depthwise_shape(s)) {
        (ref ? depthwise_conv2d_backward_ref : depthwise_conv2d_backward)(dx, dw, db, Z, X, W, s);
    } else {
        void *work = malloc(conv2d_workspace_bytes(s) + 64);
        (ref ? conv2d_backward_ref : conv2d_backward)(dx, dw, db, Z, X, W, s, work);
        free(work);
    }
}

/* reference (unfold + gemm_ref) against the direct loops: bit for bit */
static void conv_ref_vs_loops(const Conv2dShape *s, int bias, const char *name) {
    const ConvSizes z = conv_sizes(s);
    real *a = new_real(z.y), *b = new_real(z.y);
    conv2d_forward_ref(a, X, W, bias ? Y : NULL, s, NULL);
    conv2d_forward_loops(b, X, W, bias ? Y : NULL, s);
    CHECK(memcmp(a, b, z.y * sizeof(real)) == 0, "%s: forward reference != direct loops", name);
    free(a);
    free(b);
    const size_t ng = z.x + z.w + s->oc;
    a = new_real(ng);
    b = new_real(ng);
    prefill(a, ng);
    prefill(b, ng);
    conv2d_backward_ref(a, a + z.x, a + z.x + z.w, Z, X, W, s, NULL);
    conv2d_backward_loops(b, b + z.x, b + z.x + z.w, Z, X, W, s);
    CHECK(memcmp(a, b, z.x * sizeof(real)) == 0, "%s: dinp reference != direct loops", name);
    CHECK(memcmp(a + z.x, b + z.x, z.w * sizeof(real)) == 0,
          "%s: dweight reference != direct loops", name);
    CHECK(memcmp(a + z.x + z.w, b + z.x + z.w, s->oc * sizeof(real)) == 0,
          "%s: dbias reference != direct loops", name);
    if (depthwise_shape(s)) {
        /* the depthwise reference's direct loops: the same bits as the
         * general reference (and so as the loops above) */
        real *y = new_real(z.y), *g = new_real(ng);
        depthwise_conv2d_forward_ref(y, X, W, bias ? Y : NULL, s);
        conv2d_forward_loops(b, X, W, bias ? Y : NULL, s);
        CHECK(memcmp(y, b, z.y * sizeof(real)) == 0, "%s: depthwise forward reference differs", name);
        prefill(g, ng);
        depthwise_conv2d_backward_ref(g, g + z.x, g + z.x + z.w, Z, X, W, s);
        CHECK(memcmp(a, g, ng * sizeof(real)) == 0, "%s: depthwise backward reference differs", name);
        free(y);
        free(g);
    }
    free(a);
    free(b);
}

typedef struct ConvCase {
    const char *name;
    Conv2dShape s;
    int bias;
} ConvCase;

static const ConvCase CONV_CASES[] = {
    /* EfficientNet b0: stem (TF "SAME": pad bottom/right), 1x1 expand at
     * batch 1, depthwise 3x3 s2 and 5x5, head 1x1 */
    {"b0 stem", {.n = 2, .c = 3, .h = 64, .w = 64, .oc = 32, .kh = 3, .kw = 3, .sh = 2, .sw = 2,
                 .pad_b = 1, .pad_r = 1}, 0},
    {"b0 expand 1x1", {.n = 1, .c = 16, .h = 56, .w = 56, .oc = 96, .kh = 1, .kw = 1}, 0},
    {"b0 dw 3x3 s2", {.n = 2, .c = 96, .h = 28, .w = 28, .oc = 96, .kh = 3, .kw = 3, .sh = 2,
                      .sw = 2, .pad_b = 1, .pad_r = 1, .groups = 96}, 0},
    {"b0 dw 5x5 late", {.n = 2, .c = 672, .h = 7, .w = 7, .oc = 672, .kh = 5, .kw = 5, .pad_t = 2,
                        .pad_b = 2, .pad_l = 2, .pad_r = 2, .groups = 672}, 0},
    /* b0 at 64 px: the last stages' 2x2 to 8x8 planes (channel-blocked
     * kernel; channel counts that leave a partial block) */
    {"b0@64 dw 5x5 2x2", {.n = 2, .c = 40, .h = 2, .w = 2, .oc = 40, .kh = 5, .kw = 5, .pad_t = 2,
                          .pad_b = 2, .pad_l = 2, .pad_r = 2, .groups = 40}, 1},
    {"b0@64 dw 3x3 s2 8x8", {.n = 3, .c = 36, .h = 8, .w = 8, .oc = 36, .kh = 3, .kw = 3, .sh = 2,
                             .sw = 2, .pad_b = 1, .pad_r = 1, .groups = 36}, 0},
    {"b0 head 1x1", {.n = 2, .c = 320, .h = 7, .w = 7, .oc = 1280, .kh = 1, .kw = 1}, 0},
    {"b0 se reduce (bias)", {.n = 2, .c = 96, .h = 1, .w = 1, .oc = 4, .kh = 1, .kw = 1}, 1},
    {"dw 3x3 odd, bias", {.n = 2, .c = 5, .h = 9, .w = 7, .oc = 5, .kh = 3, .kw = 3, .sh = 2,
                          .sw = 1, .pad_t = 1, .pad_b = 1, .pad_l = 0, .pad_r = 2, .groups = 5}, 1},
    /* EfficientNet b6: stem at an odd size, depthwise 5x5 s2 odd, late 1x1 */
    {"b6 stem odd", {.n = 1, .c = 3, .h = 33, .w = 35, .oc = 56, .kh = 3, .kw = 3, .sh = 2,
                     .sw = 2, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1}, 0},
    {"b6 dw 5x5 s2 odd", {.n = 3, .c = 240, .h = 15, .w = 15, .oc = 240, .kh = 5, .kw = 5,
                          .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 2, .pad_l = 1, .pad_r = 2,
                          .groups = 240}, 0},
    {"b6 late 1x1", {.n = 1, .c = 576, .h = 5, .w = 5, .oc = 2304, .kh = 1, .kw = 1}, 0},
    /* ResNeXt-50 32x4d: stem 7x7 s2, grouped 3x3 early (4 channels a
     * group) and late (32 a group, stride 2), 1x1 downsample s2 */
    {"resnext stem", {.n = 1, .c = 3, .h = 48, .w = 48, .oc = 64, .kh = 7, .kw = 7, .sh = 2,
                      .sw = 2, .pad_t = 3, .pad_b = 3, .pad_l = 3, .pad_r = 3}, 0},
    {"resnext g32 early", {.n = 2, .c = 128, .h = 28, .w = 28, .oc = 128, .kh = 3, .kw = 3,
                           .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1, .groups = 32}, 0},
    {"resnext g32 late s2", {.n = 1, .c = 1024, .h = 14, .w = 14, .oc = 1024, .kh = 3, .kw = 3,
                             .sh = 2, .sw = 2, .pad_t = 1, .pad_b = 1, .pad_l = 1, .pad_r = 1,
                             .groups = 32}, 0},
    {"resnext downsample", {.n = 2, .c = 256, .h = 14, .w = 14, .oc = 512, .kh = 1, .kw = 1,
                            .sh = 2, .sw = 2}, 0},
    /* odd: dilation, asymmetric padding, bias, groups 1 */
    {"odd dilated", {.n = 3, .c = 5, .h = 11, .w = 13, .oc = 7, .kh = 3, .kw = 3, .sh = 2,
                     .sw = 1, .dh = 2, .dw = 2, .pad_t = 1, .pad_b = 2, .pad_r = 1}, 1},
};

static void conv_cases(void) {
    for (size_t k = 0; k < sizeof CONV_CASES / sizeof CONV_CASES[0]; k++) {
        Ctx c = {.conv = CONV_CASES[k].s, .d = CONV_CASES[k].bias};
        Conv2dShape *s = &c.conv;
        if (!s->sh) s->sh = 1;
        if (!s->sw) s->sw = 1;
        if (!s->dh) s->dh = 1;
        if (!s->dw) s->dw = 1;
        if (!s->groups) s->groups = 1;
        char err[200], w[120];
        if (conv2d_shape_resolve(s, err, sizeof err)) {
            CHECK(0, "%s: %s", CONV_CASES[k].name, err);
            continue;
        }
        const ConvSizes z = conv_sizes(s);
        const double tol = TOL(2e-5, 1e-12);
        snprintf(w, sizeof w, "conv %s", CONV_CASES[k].name);
        compare(w, run_conv, &c, z.y, tol);
        const char *grad[3] = {"dinp", "dweight", "dbias"};
        const size_t len[3] = {z.x, z.w, (size_t)s->oc};
        for (c.a = 0; c.a < 3; c.a++) {
            snprintf(w, sizeof w, "conv %s %s", CONV_CASES[k].name, grad[c.a]);
            compare(w, run_conv_b, &c, len[c.a], tol);
        }
        if (!strcmp(level_name, "generic")) conv_ref_vs_loops(s, c.d, CONV_CASES[k].name);
    }
}
static void test_conv(void) { each_level(conv_cases); }

int main(void) {
    Rng r;
    rng_seed(&r, 16);
    X = new_real(POOL_N);
    Y = new_real(POOL_N);
    Z = new_real(POOL_N);
    W = new_real(POOL_N);
    MASK = malloc(POOL_N);
    fill_uniform(X, POOL_N, &r, -1, 1);
    fill_uniform(Y, POOL_N, &r, -1, 1);
    fill_uniform(Z, POOL_N, &r, 0.05, 0.95); /* also sigmoid outputs and attention weights */
    fill_uniform(W, POOL_N, &r, -1, 1);
    for (size_t i = 0; i < POOL_N; i++) MASK[i] = rng_uniform(&r) < 0.8;
    for (int i = 0; i < 88; i++) TARGET[i] = i % 3 != 0;
    /* a wider spread for the activations' exp, and special values */
    for (size_t i = 0; i < 4096; i++) X[i] *= 12;
    X[1] = 0, X[2] = -(real)0, X[3] = 100, X[4] = -100, X[5] = (real)-87.5;
    RUN(test_act);
    RUN(test_elementwise);
    RUN(test_pool);
    RUN(test_linear);
    RUN(test_loss);
    RUN(test_optim);
    RUN(test_attn);
    RUN(test_batchnorm);
    RUN(test_conv);
    free(X);
    free(Y);
    free(Z);
    free(W);
    free(MASK);
    CHECK_MAIN_END();
}
