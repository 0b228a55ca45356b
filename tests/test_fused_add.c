/* The fused BatchNorm + residual add + ReLU (ResNet bottleneck end): bit
 * for bit the unfused chain forward and backward (gradients accumulated
 * into non-zero buffers), finite differences, thread-count independence,
 * the autograd op against the three recorded ops when the residual has
 * another consumer, and eval mode. */
#include "check.h"
#include "bn_params.h"

#include <omp.h>
#include <stdint.h>

#include "anomaly/arena.h"
#include "anomaly/ops.h"
#include "anomaly/ops/fused.h"
#include "anomaly/params.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

/* x, res [n, c, hw]; dL/dout = w; BatchNorm parameters [c]. */
typedef struct Case {
    BatchNormShape s;
    real *x, *res, *w, *gamma, *beta;
} Case;

static size_t numel(const Case *k) { return (size_t)k->s.n * k->s.c * k->s.hw; }

static Case case_new(int n, int c, int hw, uint64_t seed) {
    Case k = {{n, c, hw, (real)1e-5, (real)0.1}, NULL, NULL, NULL, NULL, NULL};
    const size_t m = numel(&k);
    k.x = new_real(m);
    k.res = new_real(m);
    k.w = new_real(m);
    k.gamma = new_real(c);
    k.beta = new_real(c);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < m; i++) k.x[i] = (real)(2 * rng_normal(&r) + 0.3 * (int)(i % 5));
    for (size_t i = 0; i < m; i++) k.res[i] = (real)rng_range(&r, -1.5, 1.5);
    for (size_t i = 0; i < m; i++) k.w[i] = (real)rng_range(&r, -1, 1);
    for (int i = 0; i < c; i++) {
        k.gamma[i] = (real)rng_range(&r, 0.5, 1.5);
        k.beta[i] = (real)rng_range(&r, -0.5, 0.5);
    }
    /* exact zeros of the sum: the ReLU's kink is taken as PyTorch takes it */
    for (size_t i = 0; i < m; i += 11) k.res[i] = 0;
    return k;
}

static void case_free(Case *k) {
    free(k->x); free(k->res); free(k->w); free(k->gamma); free(k->beta);
}

static const int SHAPES[][3] = {{2, 3, 49}, {3, 5, 64}, {1, 4, 37}, {4, 2, 1024}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* stats [4c]: mean, rstd, running mean (0.1 each), running var (1.5 each) */
static real *new_stats(int c) {
    real *st = new_real(4 * (size_t)c);
    for (int i = 0; i < c; i++) {
        st[2 * c + i] = (real)0.1;
        st[3 * c + i] = (real)1.5;
    }
    return st;
}

static void unfused_forward(const Case *k, real *out, real *z, real *sum, real *st) {
    const int c = k->s.c;
    batchnorm2d_forward_train(z, st, st + c, st + 2 * c, st + 3 * c, k->x, k->gamma, k->beta,
                              &k->s);
    add_forward(sum, z, k->res, numel(k));
    relu_forward(out, sum, numel(k));
}

static void test_forward_matches_unfused(void) {
    for (size_t i = 0; i < NSHAPES; i++) {
        Case k = case_new(SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], 10 + i);
        const size_t m = numel(&k);
        const int c = k.s.c;
        real *o1 = new_real(m), *z = new_real(m), *sum = new_real(m), *s1 = new_stats(c);
        real *o2 = new_real(m), *s2 = new_stats(c);
        unfused_forward(&k, o1, z, sum, s1);
        batchnorm2d_add_relu_forward_train(o2, s2, s2 + c, s2 + 2 * c, s2 + 3 * c, k.x, k.res,
                                           k.gamma, k.beta, &k.s);
        char what[64];
        snprintf(what, sizeof what, "hw %d: output", k.s.hw);
        CHECK_SAME_BITS(what, o1, o2, m * sizeof(real));
        snprintf(what, sizeof what, "hw %d: batch and running statistics", k.s.hw);
        CHECK_SAME_BITS(what, s1, s2, 4 * (size_t)c * sizeof(real));
        free(o1); free(z); free(sum); free(s1); free(o2); free(s2);
        case_free(&k);
    }
}

/* Gradients [dinp m | dres m | dgamma c | dbeta c], accumulated onto
 * `start` (m values for dinp and dres) and 0.5 for dgamma, dbeta. */
static real *grads_start(const Case *k, const real *start) {
    const size_t m = numel(k);
    real *g = new_real(2 * m + 2 * (size_t)k->s.c);
    memcpy(g, start, m * sizeof(real));
    memcpy(g + m, start, m * sizeof(real));
    for (int i = 0; i < 2 * k->s.c; i++) g[2 * m + i] = (real)0.5;
    return g;
}

static real *unfused_backward(const Case *k, const real *start) {
    const size_t m = numel(k);
    const int c = k->s.c;
    real *out = new_real(m), *z = new_real(m), *sum = new_real(m), *st = new_stats(c);
    real *dsum = new_real(m), *dz = new_real(m);
    unfused_forward(k, out, z, sum, st);
    real *g = grads_start(k, start);
    relu_backward(dsum, k->w, sum, m);
    add_backward(dz, g + m, dsum, m);
    batchnorm2d_backward(g, g + 2 * m, g + 2 * m + c, dz, k->x, st, st + c, k->gamma, &k->s);
    free(out); free(z); free(sum); free(st); free(dsum); free(dz);
    return g;
}

static real *fused_backward(const Case *k, const real *start) {
    const size_t m = numel(k);
    const int c = k->s.c;
    real *out = new_real(m), *st = new_stats(c);
    batchnorm2d_add_relu_forward_train(out, st, st + c, NULL, NULL, k->x, k->res, k->gamma,
                                       k->beta, &k->s);
    real *g = grads_start(k, start);
    batchnorm2d_add_relu_backward(g, g + m, g + 2 * m, g + 2 * m + c, k->w, out, k->x, st,
                                  st + c, k->gamma, &k->s);
    free(out); free(st);
    return g;
}

static void test_backward_matches_unfused(void) {
    for (size_t i = 0; i < NSHAPES; i++) {
        Case k = case_new(SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], 20 + i);
        const size_t m = numel(&k), ng = 2 * m + 2 * (size_t)k.s.c;
        real *start = new_real(m);
        for (size_t j = 0; j < m; j++) start[j] = (real)(0.25 * (double)(j % 7) - 0.5);
        real *want = unfused_backward(&k, start), *got = fused_backward(&k, start);
        char what[64];
        snprintf(what, sizeof what, "hw %d: gradients (accumulated)", k.s.hw);
        CHECK_SAME_BITS(what, got, want, ng * sizeof(real));
        free(start); free(want); free(got);
        case_free(&k);
    }
}

/* loss = sum(relu(bn(x) + res) * w) in double */
static double fused_loss(const Case *k) {
    const size_t m = numel(k);
    real *out = new_real(m), *st = new_stats(k->s.c);
    batchnorm2d_add_relu_forward_train(out, st, st + k->s.c, NULL, NULL, k->x, k->res, k->gamma,
                                       k->beta, &k->s);
    double L = 0;
    for (size_t i = 0; i < m; i++) L += (double)out[i] * k->w[i];
    free(out); free(st);
    return L;
}

static void test_gradcheck(void) {
    Case k = case_new(2, 2, 5, 31);
    for (size_t i = 0; i < numel(&k); i++) k.res[i] += (real)0.05; /* no sums sitting on 0 */
    const size_t m = numel(&k);
    const int c = k.s.c;
    real *zero = new_real(m), *g = fused_backward(&k, zero);
    for (int i = 0; i < 2 * c; i++) g[2 * m + i] -= (real)0.5;
    real *args[4] = {k.x, k.res, k.gamma, k.beta};
    const size_t counts[4] = {m, m, (size_t)c, (size_t)c}, offs[4] = {0, m, 2 * m, 2 * m + c};
    const char *names[4] = {"dinp", "dres", "dgamma", "dbeta"};
    const double h = TOL(1e-2, 1e-6);
    for (int p = 0; p < 4; p++) {
        double *num = malloc(counts[p] * sizeof *num), *ana = malloc(counts[p] * sizeof *ana);
        for (size_t i = 0; i < counts[p]; i++) {
            const real keep = args[p][i];
            args[p][i] = (real)(keep + h);
            const double lp = fused_loss(&k);
            args[p][i] = (real)(keep - h);
            const double lm = fused_loss(&k);
            args[p][i] = keep;
            num[i] = (lp - lm) / (2 * h);
            ana[i] = g[offs[p] + i];
        }
        char what[64];
        snprintf(what, sizeof what, "%s vs finite differences", names[p]);
        CHECK_CLOSE_D(what, ana, num, counts[p], TOL(3e-2, 1e-6));
        free(num); free(ana);
    }
    free(zero); free(g);
    case_free(&k);
}

static void test_threads_bitwise(void) {
    Case k = case_new(4, 9, 1000, 41); /* large enough to run in parallel */
    const size_t m = numel(&k), ng = 2 * m + 2 * (size_t)k.s.c;
    real *start = new_real(m), *r[2];
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        r[t] = fused_backward(&k, start);
    }
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("1 vs 2 threads: gradients", r[0], r[1], ng * sizeof(real));
    free(r[0]); free(r[1]); free(start);
    case_free(&k);
}

/* ---- the autograd op ---------------------------------------------------- */

/* out = relu(bn(x) + r) + r with r = 2 * res, so r has a second consumer
 * (as a ResNet block's input has: the shortcut and the next convolution).
 * Returns [dx | dres | dgamma dbeta | out | running mean, var]. */
static real *tape_run(const Case *k, int train, int fused_op) {
    const size_t m = numel(k);
    const int c = k->s.c;
    BnParams b;
    bn_params_init(&b, k->s.c, k->gamma, k->beta, NULL, NULL);
    Arena a;
    arena_init(&a, 0);
    Tape t;
    tape_init(&t, &a);
    t.recording = 1;
    t.training = train;
    Tensor *x = tape_wrap(&t, k->x, k->s.n, c, 1, k->s.hw);
    Tensor *res = tape_wrap(&t, k->res, k->s.n, c, 1, k->s.hw);
    x->requires_grad = res->requires_grad = 1;
    Tensor *r = ag_add(&t, res, res);
    Tensor g = params_tensor(&b.p, b.weight), be = params_tensor(&b.p, b.bias);
    real *rm = params_data(&b.p, b.rmean), *rv = params_data(&b.p, b.rvar);
    int64_t *cnt = params_counter(&b.p, b.count);
    Tensor *out;
    if (fused_op)
        out = ag_batchnorm2d_add_relu(&t, "bn", x, r, &g, &be, rm, rv, cnt, k->s.eps,
                                      k->s.momentum);
    else
        out = ag_relu(&t, ag_add(&t, ag_batchnorm2d(&t, "bn", x, &g, &be, rm, rv, cnt, k->s.eps,
                                                     k->s.momentum),
                                 r));
    out = ag_add(&t, out, r);
    memcpy(tape_grad(&t, out), k->w, m * sizeof(real));
    real *res_v = new_real(3 * m + 4 * (size_t)c);
    /* the output before backward, which may reuse its memory */
    memcpy(res_v + 2 * m + 2 * c, out->data, m * sizeof(real));
    tape_backward(&t, out, 0);
    memcpy(res_v, x->grad, m * sizeof(real));
    memcpy(res_v + m, res->grad, m * sizeof(real));
    memcpy(res_v + 2 * m, b.p.grad, 2 * (size_t)c * sizeof(real));
    memcpy(res_v + 3 * m + 2 * c, rm, c * sizeof(real));
    memcpy(res_v + 3 * m + 3 * c, rv, c * sizeof(real));
    CHECK(*cnt == train, "num_batches_tracked %lld", (long long)*cnt);
    tape_free(&t);
    arena_free(&a);
    params_free(&b.p);
    return res_v;
}

static void test_ag_op(void) {
    for (int train = 1; train >= 0; train--) {
        Case k = case_new(3, 4, 50, 50 + train);
        const size_t n = 3 * numel(&k) + 4 * (size_t)k.s.c;
        real *want = tape_run(&k, train, 0), *got = tape_run(&k, train, 1);
        CHECK_SAME_BITS(train ? "train: fused op vs BatchNorm, add, ReLU on the tape"
                              : "eval: fused op vs BatchNorm, add, ReLU on the tape",
                        got, want, n * sizeof(real));
        free(want); free(got);
        case_free(&k);
    }
}

int main(void) {
    RUN(test_forward_matches_unfused);
    RUN(test_backward_matches_unfused);
    RUN(test_gradcheck);
    RUN(test_threads_bitwise);
    RUN(test_ag_op);
    CHECK_MAIN_END();
}
