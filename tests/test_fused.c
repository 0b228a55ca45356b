/* The speed work: fused BatchNorm + activation kernels against the unfused
 * ones (bit for bit), finite differences, thread-count independence, the
 * tape's fusion of an activation into the BatchNorm before it (and its
 * fallback when the BatchNorm output has another consumer), the explicit
 * fused op, the vectorised sigmoid's accuracy, the tape's recycling of
 * gradient buffers, and the profile report. */
#include "check.h"
#include "bn_params.h"

#include <omp.h>
#include <stdint.h>
#include <unistd.h>

#include "anomaly/arena.h"
#include "anomaly/ops.h"
#include "anomaly/ops/fused.h"
#include "anomaly/params.h"
#include "anomaly/profile.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

static real *copy_real(const real *a, size_t n) {
    real *p = new_real(n);
    memcpy(p, a, n * sizeof(real));
    return p;
}

/* One problem: x [n, c, hw], dL/dout = w, BatchNorm parameters [c]. */
typedef struct Case {
    BatchNormShape s;
    real *x, *w, *gamma, *beta, *rmean, *rvar;
} Case;

static size_t numel(const Case *k) { return (size_t)k->s.n * k->s.c * k->s.hw; }

static Case case_new(int n, int c, int hw, uint64_t seed) {
    Case k;
    k.s.n = n;
    k.s.c = c;
    k.s.hw = hw;
    k.s.eps = (real)1e-3;
    k.s.momentum = (real)0.01;
    const size_t m = (size_t)n * c * hw;
    k.x = new_real(m);
    k.w = new_real(m);
    k.gamma = new_real(c);
    k.beta = new_real(c);
    k.rmean = new_real(c);
    k.rvar = new_real(c);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < m; i++) k.x[i] = (real)(2 * rng_normal(&r) + 0.3 * (int)(i % 5));
    for (size_t i = 0; i < m; i++) k.w[i] = (real)rng_range(&r, -1, 1);
    for (int i = 0; i < c; i++) {
        k.gamma[i] = (real)rng_range(&r, 0.5, 1.5);
        k.beta[i] = (real)rng_range(&r, -0.5, 0.5);
        k.rmean[i] = (real)rng_range(&r, -0.3, 0.3);
        k.rvar[i] = (real)rng_range(&r, 0.5, 2.0);
    }
    return k;
}

static void case_free(Case *k) {
    free(k->x);
    free(k->w);
    free(k->gamma);
    free(k->beta);
    free(k->rmean);
    free(k->rvar);
}

static void act_fwd(BnAct act, real *out, const real *in, size_t n) {
    if (act == BN_ACT_SWISH) swish_forward(out, in, n);
    else relu_forward(out, in, n);
}

static void act_bwd(BnAct act, real *din, const real *dout, const real *in, size_t n) {
    if (act == BN_ACT_SWISH) swish_backward(din, dout, in, n);
    else relu_backward(din, dout, in, n);
}

static const char *act_name(BnAct act) { return act == BN_ACT_SWISH ? "swish" : "relu"; }

/* Shapes with planes that are, and are not, whole vectors. */
static const int SHAPES[][3] = {{2, 3, 49}, {3, 5, 64}, {1, 4, 37}, {4, 2, 1024}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* The unfused forward: BatchNorm then the activation. */
static void unfused_forward(const Case *k, BnAct act, real *out, real *z, real *mean, real *rstd,
                            real *rm, real *rv) {
    batchnorm2d_forward_train(z, mean, rstd, rm, rv, k->x, k->gamma, k->beta, &k->s);
    act_fwd(act, out, z, numel(k));
}

static void test_forward_matches_unfused(void) {
    for (int a = 1; a <= 2; a++)
        for (size_t i = 0; i < NSHAPES; i++) {
            const BnAct act = (BnAct)a;
            Case k = case_new(SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], 10 + i);
            const size_t m = numel(&k);
            const int c = k.s.c;
            real *o1 = new_real(m), *z1 = new_real(m), *s1 = new_real(4 * c);
            real *o2 = new_real(m), *z2 = new_real(m), *s2 = new_real(4 * c);
            memcpy(s1 + 2 * c, k.rmean, c * sizeof(real));
            memcpy(s1 + 3 * c, k.rvar, c * sizeof(real));
            memcpy(s2 + 2 * c, k.rmean, c * sizeof(real));
            memcpy(s2 + 3 * c, k.rvar, c * sizeof(real));
            unfused_forward(&k, act, o1, z1, s1, s1 + c, s1 + 2 * c, s1 + 3 * c);
            batchnorm2d_act_forward_train(o2, z2, s2, s2 + c, NULL, s2 + 2 * c, s2 + 3 * c, k.x,
                                          k.gamma, k.beta, &k.s, act);
            char what[96];
            snprintf(what, sizeof what, "%s hw %d: output", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, o1, o2, m * sizeof(real));
            snprintf(what, sizeof what, "%s hw %d: BatchNorm output", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, z1, z2, m * sizeof(real));
            snprintf(what, sizeof what, "%s hw %d: statistics", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, s1, s2, 4 * c * sizeof(real));
            /* without z the output is the same */
            memset(o2, 0, m * sizeof(real));
            real *affine = new_real(2 * (size_t)c);
            batchnorm2d_act_forward_train(o2, NULL, s2, s2 + c, affine, NULL, NULL, k.x, k.gamma,
                                          k.beta, &k.s, act);
            snprintf(what, sizeof what, "%s hw %d: output without z", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, o1, o2, m * sizeof(real));
            /* recomputed from the saved affine: the same again */
            memset(o2, 0, m * sizeof(real));
            batchnorm2d_act_recompute(o2, k.x, affine, &k.s, act);
            snprintf(what, sizeof what, "%s hw %d: output recomputed", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, o1, o2, m * sizeof(real));
            free(affine);
            free(o1); free(z1); free(s1); free(o2); free(z2); free(s2);
            case_free(&k);
        }
}

/* grads: dinp [m] (starting from `start`), dgamma [c], dbeta [c] (from 0.5). */
static real *unfused_backward(const Case *k, BnAct act, const real *start) {
    const size_t m = numel(k);
    const int c = k->s.c;
    real *z = new_real(m), *out = new_real(m), *st = new_real(2 * c), *dz = new_real(m);
    real *g = new_real(m + 2 * (size_t)c);
    unfused_forward(k, act, out, z, st, st + c, NULL, NULL);
    memcpy(g, start, m * sizeof(real));
    for (int i = 0; i < 2 * c; i++) g[m + i] = (real)0.5;
    act_bwd(act, dz, k->w, z, m);
    batchnorm2d_backward(g, g + m, g + m + c, dz, k->x, st, st + c, k->gamma, &k->s);
    free(z); free(out); free(st); free(dz);
    return g;
}

static real *fused_backward(const Case *k, BnAct act, const real *start, int keep_z) {
    const size_t m = numel(k);
    const int c = k->s.c;
    real *z = new_real(m), *out = new_real(m), *st = new_real(4 * (size_t)c);
    real *g = new_real(m + 2 * (size_t)c);
    batchnorm2d_act_forward_train(out, z, st, st + c, st + 2 * c, NULL, NULL, k->x, k->gamma,
                                  k->beta, &k->s, act);
    memcpy(g, start, m * sizeof(real));
    for (int i = 0; i < 2 * c; i++) g[m + i] = (real)0.5;
    batchnorm2d_act_backward(g, g + m, g + m + c, k->w, k->x, keep_z ? z : NULL, st, st + c,
                             keep_z ? NULL : st + 2 * c, k->gamma, &k->s, act);
    free(z); free(out); free(st);
    return g;
}

static void test_backward_matches_unfused(void) {
    for (int a = 1; a <= 2; a++)
        for (size_t i = 0; i < NSHAPES; i++) {
            const BnAct act = (BnAct)a;
            Case k = case_new(SHAPES[i][0], SHAPES[i][1], SHAPES[i][2], 20 + i);
            const size_t m = numel(&k), ng = m + 2 * (size_t)k.s.c;
            real *start = new_real(m);
            for (size_t j = 0; j < m; j++) start[j] = (real)(0.25 * (double)(j % 7) - 0.5);
            real *want = unfused_backward(&k, act, start);
            real *got = fused_backward(&k, act, start, 1);
            real *approx = fused_backward(&k, act, start, 0);
            char what[96];
            snprintf(what, sizeof what, "%s hw %d: gradients (accumulated)", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, got, want, ng * sizeof(real));
            snprintf(what, sizeof what, "%s hw %d: gradients, z recomputed", act_name(act), k.s.hw);
            CHECK_SAME_BITS(what, approx, want, ng * sizeof(real));
            free(start); free(want); free(got); free(approx);
            case_free(&k);
        }
}

/* loss = sum(act(bn(x)) * w) in double, through the fused forward. */
static double fused_loss(const Case *k, BnAct act) {
    const size_t m = numel(k);
    const int c = k->s.c;
    real *out = new_real(m), *st = new_real(2 * c);
    batchnorm2d_act_forward_train(out, NULL, st, st + c, NULL, NULL, NULL, k->x, k->gamma,
                                  k->beta, &k->s, act);
    double L = 0;
    for (size_t i = 0; i < m; i++) L += (double)out[i] * k->w[i];
    free(out);
    free(st);
    return L;
}

static void test_fused_gradcheck(void) {
    for (int a = 1; a <= 2; a++) {
        const BnAct act = (BnAct)a;
        Case k = case_new(2, 2, 5, 30 + a);
        const size_t m = numel(&k);
        const int c = k.s.c;
        real *zero = new_real(m);
        real *g = fused_backward(&k, act, zero, 0);
        for (int i = 0; i < 2 * c; i++) g[m + i] -= (real)0.5; /* fused_backward starts at 0.5 */
        real *args[3] = {k.x, k.gamma, k.beta};
        const size_t counts[3] = {m, (size_t)c, (size_t)c}, offs[3] = {0, m, m + c};
        const char *names[3] = {"dinp", "dgamma", "dbeta"};
        const double h = TOL(1e-2, 1e-6);
        for (int p = 0; p < 3; p++) {
            double *num = malloc(counts[p] * sizeof *num), *ana = malloc(counts[p] * sizeof *ana);
            for (size_t i = 0; i < counts[p]; i++) {
                const real keep = args[p][i];
                args[p][i] = (real)(keep + h);
                const double lp = fused_loss(&k, act);
                args[p][i] = (real)(keep - h);
                const double lm = fused_loss(&k, act);
                args[p][i] = keep;
                num[i] = (lp - lm) / (2 * h);
                ana[i] = g[offs[p] + i];
            }
            char what[96];
            snprintf(what, sizeof what, "%s: %s vs finite differences", act_name(act), names[p]);
            /* ReLU's kink makes float differences noisy near zero */
            CHECK_CLOSE_D(what, ana, num, counts[p], TOL(act == BN_ACT_RELU ? 3e-2 : 5e-3, 1e-6));
            free(num);
            free(ana);
        }
        free(zero);
        free(g);
        case_free(&k);
    }
}

static void test_fused_threads_bitwise(void) {
    Case k = case_new(4, 9, 1000, 41); /* large enough to run in parallel */
    const size_t m = numel(&k), ng = m + 2 * (size_t)k.s.c;
    real *start = new_real(m), *r[2][3];
    const int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        for (int a = 1; a <= 2; a++) r[t][a - 1] = fused_backward(&k, (BnAct)a, start, a == 1);
        real *out = new_real(m), *st = new_real(2 * (size_t)k.s.c);
        batchnorm2d_act_forward_train(out, NULL, st, st + k.s.c, NULL, NULL, NULL, k.x, k.gamma,
                                      k.beta, &k.s, BN_ACT_SWISH);
        r[t][2] = out;
        free(st);
    }
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("swish backward", r[0][0], r[1][0], ng * sizeof(real));
    CHECK_SAME_BITS("relu backward", r[0][1], r[1][1], ng * sizeof(real));
    CHECK_SAME_BITS("swish forward", r[0][2], r[1][2], m * sizeof(real));
    for (int t = 0; t < 2; t++)
        for (int j = 0; j < 3; j++) free(r[t][j]);
    free(start);
    case_free(&k);
}

/* ---- the tape ----------------------------------------------------------- */

static Tensor *tape_bn(Tape *t, BnParams *b, const Case *k, Tensor *x) {
    Tensor *g = arena_alloc(t->arena, sizeof *g), *be = arena_alloc(t->arena, sizeof *be);
    *g = params_tensor(&b->p, b->weight);
    *be = params_tensor(&b->p, b->bias);
    return ag_batchnorm2d(t, "bn", x, g, be, params_data(&b->p, b->rmean),
                          params_data(&b->p, b->rvar), params_counter(&b->p, b->count), k->s.eps,
                          k->s.momentum);
}

static int tape_has_op(const Tape *t, const char *op) {
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->nodes[i].op, op) == 0) return 1;
    return 0;
}

/* x -> bn -> act, dL/dout = w (and, with `twice`, also y = bn(x) itself
 * reaches the loss with weight w: y + act(y)). Returns dinp, dgamma, dbeta. */
static real *tape_run(const Case *k, BnAct act, int twice, int *fused) {
    const size_t m = numel(k);
    const int c = k->s.c;
    BnParams b;
    bn_params_init(&b, k->s.c, k->gamma, k->beta, k->rmean, k->rvar);
    Arena a;
    arena_init(&a, 0);
    Tape t;
    tape_init(&t, &a);
    t.recording = 1;
    t.training = 1;
    Tensor *x = tape_wrap(&t, k->x, k->s.n, c, 1, k->s.hw);
    x->requires_grad = 1;
    Tensor *y = tape_bn(&t, &b, k, x);
    Tensor *out = act == BN_ACT_SWISH ? ag_swish(&t, y) : ag_relu(&t, y);
    if (twice) out = ag_add(&t, out, y);
    *fused = tape_has_op(&t, act == BN_ACT_SWISH ? "batchnorm2d+swish" : "batchnorm2d+relu");
    memcpy(tape_grad(&t, out), k->w, m * sizeof(real));
    tape_backward(&t, out, 0);
    real *g = new_real(m + 2 * (size_t)c);
    memcpy(g, x->grad, m * sizeof(real));
    memcpy(g + m, b.p.grad, 2 * (size_t)c * sizeof(real)); /* weight then bias */
    tape_free(&t);
    arena_free(&a);
    params_free(&b.p);
    return g;
}

static void test_tape_fuses_bn_act(void) {
    for (int a = 1; a <= 2; a++) {
        const BnAct act = (BnAct)a;
        Case k = case_new(3, 4, 50, 50 + a);
        const size_t m = numel(&k), ng = m + 2 * (size_t)k.s.c;
        real *zero = new_real(m);
        real *want = unfused_backward(&k, act, zero);
        for (int i = 0; i < 2 * k.s.c; i++) want[m + i] -= (real)0.5;
        int fused = 0;
        real *got = tape_run(&k, act, 0, &fused);
        CHECK(fused, "%s after a BatchNorm was not recorded as a fused node", act_name(act));
        char what[64];
        snprintf(what, sizeof what, "%s: tape gradients", act_name(act));
        CHECK_CLOSE(what, got, want, ng, TOL(1e-6, 1e-14));
        free(zero); free(want); free(got);
        case_free(&k);
    }
}

/* y = bn(x) feeds the activation and an add: the fused node must hand its
 * part to y's gradient and let BatchNorm's node run as usual. */
static void test_tape_fusion_falls_back(void) {
    for (int a = 1; a <= 2; a++) {
        const BnAct act = (BnAct)a;
        Case k = case_new(2, 3, 20, 60 + a);
        const size_t m = numel(&k), ng = m + 2 * (size_t)k.s.c;
        const int c = k.s.c;
        /* by hand: dy = act'(y) * w + w */
        real *z = new_real(m), *out = new_real(m), *st = new_real(2 * c), *dy = copy_real(k.w, m);
        real *want = new_real(ng);
        unfused_forward(&k, act, out, z, st, st + c, NULL, NULL);
        act_bwd(act, dy, k.w, z, m);
        batchnorm2d_backward(want, want + m, want + m + c, dy, k.x, st, st + c, k.gamma, &k.s);
        int fused = 0;
        real *got = tape_run(&k, act, 1, &fused);
        char what[64];
        snprintf(what, sizeof what, "%s used twice: tape gradients", act_name(act));
        CHECK_CLOSE(what, got, want, ng, TOL(1e-6, 1e-14));
        free(z); free(out); free(st); free(dy); free(want); free(got);
        case_free(&k);
    }
}

static void test_ag_batchnorm2d_act(void) {
    for (int train = 1; train >= 0; train--) {
        Case k = case_new(2, 3, 30, 70 + train);
        const size_t m = numel(&k), ng = m + 2 * (size_t)k.s.c;
        const int c = k.s.c;
        real *res[2];
        for (int explicit_op = 0; explicit_op < 2; explicit_op++) {
            BnParams b;
            bn_params_init(&b, k.s.c, k.gamma, k.beta, k.rmean, k.rvar);
            Arena a;
            arena_init(&a, 0);
            Tape t;
            tape_init(&t, &a);
            t.recording = 1;
            t.training = train;
            Tensor *x = tape_wrap(&t, k.x, k.s.n, c, 1, k.s.hw);
            x->requires_grad = 1;
            Tensor *out;
            if (explicit_op) {
                Tensor g = params_tensor(&b.p, b.weight), be = params_tensor(&b.p, b.bias);
                out = ag_batchnorm2d_act(&t, "bn", x, &g, &be, params_data(&b.p, b.rmean),
                                         params_data(&b.p, b.rvar), params_counter(&b.p, b.count),
                                         k.s.eps, k.s.momentum, BN_ACT_SWISH);
            } else {
                out = ag_swish(&t, tape_bn(&t, &b, &k, x));
            }
            memcpy(tape_grad(&t, out), k.w, m * sizeof(real));
            res[explicit_op] = new_real(ng + m + 2 * (size_t)c);
            /* the output before backward, which may reuse its memory */
            memcpy(res[explicit_op] + ng, out->data, m * sizeof(real));
            tape_backward(&t, out, 0);
            memcpy(res[explicit_op], x->grad, m * sizeof(real));
            memcpy(res[explicit_op] + m, b.p.grad, 2 * (size_t)c * sizeof(real));
            memcpy(res[explicit_op] + ng + m, params_data(&b.p, b.rmean), c * sizeof(real));
            memcpy(res[explicit_op] + ng + m + c, params_data(&b.p, b.rvar), c * sizeof(real));
            CHECK(*params_counter(&b.p, b.count) == train, "num_batches_tracked %lld",
                  (long long)*params_counter(&b.p, b.count));
            tape_free(&t);
            arena_free(&a);
            params_free(&b.p);
        }
        CHECK_CLOSE(train ? "train: fused op vs BatchNorm + swish" : "eval: fused op vs BatchNorm + swish",
                    res[1], res[0], ng + m + 2 * (size_t)c, TOL(1e-5, 1e-12));
        free(res[0]);
        free(res[1]);
        case_free(&k);
    }
}

/* ---- the vectorised sigmoid --------------------------------------------- */

static void test_sigmoid_accuracy(void) {
    const size_t n = 20011; /* not a multiple of the vector length */
    real *x = new_real(n + 5), *s = new_real(n + 5), *sw = new_real(n + 5), *off = new_real(n + 5);
    for (size_t i = 0; i < n; i++) x[i] = (real)(-40.0 + 80.0 * (double)i / (double)(n - 1));
    sigmoid_forward(s, x, n);
    swish_forward(sw, x, n);
    double worst_s = 0, worst_w = 0;
    for (size_t i = 0; i < n; i++) {
        const long double t = 1.0L / (1.0L + expl(-(long double)x[i]));
        const long double tw = (long double)x[i] * t;
        const double es = (double)(fabsl(s[i] - t) / t);
        const double ew = tw != 0 ? (double)(fabsl(sw[i] - tw) / fabsl(tw)) : 0;
        if (es > worst_s) worst_s = es;
        if (ew > worst_w) worst_w = ew;
    }
    CHECK(worst_s <= TOL(4e-7, 4e-16), "sigmoid: worst relative error %.3g", worst_s);
    CHECK(worst_w <= TOL(4e-7, 4e-16), "swish: worst relative error %.3g", worst_w);
    /* a value does not depend on where in the array (or a vector) it sits */
    swish_forward(off, x + 3, n - 3);
    CHECK_SAME_BITS("swish of a shifted array", off, sw + 3, (n - 3) * sizeof(real));
    free(x); free(s); free(sw); free(off);
}

/* ---- the tape's memory -------------------------------------------------- */

/* A chain of elementwise ops: every intermediate gradient is released as
 * soon as its producer's backward has run, so later ones reuse it, and the
 * gradients that reach the inputs stay right. */
static void test_tape_recycles_gradients(void) {
    const int n = 4, c = 8, hw = 256, len = 12;
    const size_t m = (size_t)n * c * hw;
    real *xv = new_real(m);
    for (size_t i = 0; i < m; i++) xv[i] = (real)((double)(i % 17) / 17 - 0.4);
    Arena a;
    arena_init(&a, 0);
    Tape t;
    tape_init(&t, &a);
    t.recording = 1;
    Tensor *x = tape_wrap(&t, xv, n, c, 1, hw);
    x->requires_grad = 1;
    Tensor *y = x, *mid[12];
    for (int i = 0; i < len; i++) mid[i] = y = i % 2 ? ag_relu(&t, y) : ag_add(&t, y, y);
    const size_t forward_used = a.used;
    tape_backward(&t, y, 1);
    int released = 0; /* all but the last, the "loss" given to tape_backward */
    for (int i = 0; i < len - 1; i++) released += mid[i]->grad == NULL;
    CHECK(released == len - 1 && mid[len - 1]->grad, "%d of %d intermediate gradients released",
          released, len - 1);
    /* without recycling backward would need len more tensors */
    CHECK(a.used - forward_used <= 3 * m * sizeof(real) + 4096,
          "backward grew the arena by %zu bytes for tensors of %zu", a.used - forward_used,
          m * sizeof(real));
    /* d/dx of 6 doublings and ReLUs: 64 where x > 0, else 0 */
    int bad = 0;
    for (size_t i = 0; i < m; i++) bad += x->grad[i] != (xv[i] > 0 ? 64 : 0);
    CHECK(!bad, "%d input gradients wrong", bad);
    tape_free(&t);
    arena_free(&a);
    free(xv);
}

/* ---- the profile --------------------------------------------------------- */

static void test_profile_report(void) {
    Case k = case_new(2, 3, 40, 80);
    profile_reset();
    profile_enable(1);
    int fused = 0;
    real *g = tape_run(&k, BN_ACT_SWISH, 0, &fused);
    profile_enable(0);
    char path[] = "/tmp/anomaly_profile_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
    if (f) {
        profile_report(f, 1, 0);
        rewind(f);
        char text[8192] = {0};
        size_t got = fread(text, 1, sizeof text - 1, f);
        fclose(f);
        unlink(path);
        CHECK(got > 0, "empty report");
        CHECK(strstr(text, "batchnorm2d") != NULL, "no BatchNorm row:\n%s", text);
        CHECK(strstr(text, "batchnorm2d+swish") != NULL, "no fused backward row:\n%s", text);
        CHECK(strstr(text, "layer") != NULL && strstr(text, "bn") != NULL,
              "no layer table:\n%s", text);
    }
    profile_reset();
    free(g);
    case_free(&k);
}

int main(void) {
    RUN(test_forward_matches_unfused);
    RUN(test_backward_matches_unfused);
    RUN(test_fused_gradcheck);
    RUN(test_fused_threads_bitwise);
    RUN(test_tape_fuses_bn_act);
    RUN(test_tape_fusion_falls_back);
    RUN(test_ag_batchnorm2d_act);
    RUN(test_sigmoid_accuracy);
    RUN(test_tape_recycles_gradients);
    RUN(test_profile_report);
    CHECK_MAIN_END();
}
