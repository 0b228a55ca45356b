/* BatchNorm2d: forward against a naive double loop, running statistics
 * against hand-computed values, central finite differences for every input
 * in train and eval mode, thread-count independence, and the autograd
 * wrapper against the kernels. */
#include "check.h"
#include "bn_params.h"

#include <omp.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anomaly/arena.h"
#include "anomaly/ops/batchnorm.h"
#include "anomaly/params.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

/* One BN problem: loss = sum(out * w), so dL/dout = w. */
typedef struct BnCase {
    BatchNormShape s;
    int train;
    real *x, *gamma, *beta, *rmean, *rvar, *w; /* x, w [n, c, hw]; the rest [c] */
} BnCase;

static size_t bn_numel(const BnCase *k) { return (size_t)k->s.n * k->s.c * k->s.hw; }

static BnCase bn_case_new(int n, int c, int hw, int train, uint64_t seed) {
    BnCase k;
    k.s.n = n;
    k.s.c = c;
    k.s.hw = hw;
    k.s.eps = (real)1e-3;
    k.s.momentum = (real)0.1;
    k.train = train;
    size_t m = (size_t)n * c * hw;
    k.x = new_real(m);
    k.w = new_real(m);
    k.gamma = new_real(c);
    k.beta = new_real(c);
    k.rmean = new_real(c);
    k.rvar = new_real(c);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < m; i++) k.x[i] = (real)(rng_normal(&r) + 0.5 * (int)(i % 3));
    fill_uniform(k.w, m, &r, -1, 1);
    fill_uniform(k.gamma, c, &r, 0.5, 1.5);
    fill_uniform(k.beta, c, &r, -0.5, 0.5);
    fill_uniform(k.rmean, c, &r, -0.3, 0.3);
    fill_uniform(k.rvar, c, &r, 0.5, 2.0);
    return k;
}

static void bn_case_free(BnCase *k) {
    free(k->x);
    free(k->w);
    free(k->gamma);
    free(k->beta);
    free(k->rmean);
    free(k->rvar);
}

/* Forward into out; train mode updates scratch copies of the running stats,
 * so repeated calls (finite differences) see the same problem. */
static void bn_forward(const BnCase *k, real *out, real *mean, real *rstd) {
    int c = k->s.c;
    if (k->train) {
        real *rm = new_real(c), *rv = new_real(c);
        memcpy(rm, k->rmean, c * sizeof(real));
        memcpy(rv, k->rvar, c * sizeof(real));
        batchnorm2d_forward_train(out, mean, rstd, rm, rv, k->x, k->gamma, k->beta, &k->s);
        free(rm);
        free(rv);
    } else {
        batchnorm2d_forward_eval(out, k->x, k->gamma, k->beta, k->rmean, k->rvar, &k->s);
    }
}

static double bn_loss(const BnCase *k) {
    size_t m = bn_numel(k);
    real *out = new_real(m), *mean = new_real(k->s.c), *rstd = new_real(k->s.c);
    bn_forward(k, out, mean, rstd);
    double l = 0;
    for (size_t i = 0; i < m; i++) l += (double)out[i] * k->w[i];
    free(out);
    free(mean);
    free(rstd);
    return l;
}

/* Analytic gradients of bn_loss into zeroed dx, dgamma, dbeta. */
static void bn_grads(const BnCase *k, real *dx, real *dgamma, real *dbeta) {
    size_t m = bn_numel(k);
    real *out = new_real(m), *mean = new_real(k->s.c), *rstd = new_real(k->s.c);
    bn_forward(k, out, mean, rstd);
    if (k->train)
        batchnorm2d_backward(dx, dgamma, dbeta, k->w, k->x, mean, rstd, k->gamma, &k->s);
    else
        batchnorm2d_backward_eval(dx, dgamma, dbeta, k->w, k->x, k->rmean, k->rvar, k->gamma,
                                  &k->s);
    free(out);
    free(mean);
    free(rstd);
}

/* Central differences of bn_loss with respect to every element of p. */
static void bn_numeric_grad(BnCase *k, real *p, size_t n, double *g) {
    const double h = TOL(1e-2, 1e-6);
    for (size_t i = 0; i < n; i++) {
        real v = p[i];
        p[i] = (real)(v + h);
        double lp = bn_loss(k);
        p[i] = (real)(v - h);
        double lm = bn_loss(k);
        p[i] = v;
        g[i] = (lp - lm) / (2 * h);
    }
}

static void check_bn_grads(int train) {
    BnCase k = bn_case_new(3, 4, 5, train, 11 + train);
    size_t m = bn_numel(&k);
    int c = k.s.c;
    real *dx = new_real(m), *dg = new_real(c), *db = new_real(c);
    bn_grads(&k, dx, dg, db);
    double *num = malloc(m * sizeof *num), *ana = malloc(m * sizeof *ana);
    const double tol = TOL(1e-3, 1e-7);
    struct { const char *name; real *param, *grad; size_t n; } v[3] = {
        {"dx", k.x, dx, m}, {"dgamma", k.gamma, dg, (size_t)c}, {"dbeta", k.beta, db, (size_t)c}};
    for (int j = 0; j < 3; j++) {
        bn_numeric_grad(&k, v[j].param, v[j].n, num);
        for (size_t i = 0; i < v[j].n; i++) ana[i] = v[j].grad[i];
        CHECK_CLOSE_D(v[j].name, ana, num, v[j].n, tol);
    }
    free(num);
    free(ana);
    free(dx);
    free(dg);
    free(db);
    bn_case_free(&k);
}

static void test_bn_train_grads(void) { check_bn_grads(1); }
static void test_bn_eval_grads(void) { check_bn_grads(0); }

/* Forward in both modes against a double loop over the definition. */
static void test_bn_forward_naive(void) {
    BnCase k = bn_case_new(2, 3, 7, 1, 5);
    size_t m = bn_numel(&k);
    int n = k.s.n, c = k.s.c, hw = k.s.hw;
    for (size_t i = 0; i < m; i++) k.x[i] += (real)100; /* a large mean */
    real *out = new_real(m), *mean = new_real(c), *rstd = new_real(c);
    real *want = new_real(m), *want_mean = new_real(c), *want_rstd = new_real(c);
    real *rm = new_real(c), *rv = new_real(c), *want_rm = new_real(c), *want_rv = new_real(c);
    memcpy(rm, k.rmean, c * sizeof(real));
    memcpy(rv, k.rvar, c * sizeof(real));
    for (int ch = 0; ch < c; ch++) {
        double s = 0, sq = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) s += k.x[((size_t)b * c + ch) * hw + i];
        double mu = s / (n * hw);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                double d = k.x[((size_t)b * c + ch) * hw + i] - mu;
                sq += d * d;
            }
        double var = sq / (n * hw), rs = 1 / sqrt(var + (double)k.s.eps);
        want_mean[ch] = (real)mu;
        want_rstd[ch] = (real)rs;
        want_rm[ch] = (real)(0.9 * k.rmean[ch] + 0.1 * mu);
        want_rv[ch] = (real)(0.9 * k.rvar[ch] + 0.1 * sq / (n * hw - 1));
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                size_t j = ((size_t)b * c + ch) * hw + i;
                want[j] = (real)((k.x[j] - mu) * rs * k.gamma[ch] + k.beta[ch]);
            }
    }
    batchnorm2d_forward_train(out, mean, rstd, rm, rv, k.x, k.gamma, k.beta, &k.s);
    CHECK_CLOSE("train out", out, want, m, TOL(2e-4, 1e-12));
    CHECK_CLOSE("mean", mean, want_mean, c, TOL(1e-6, 1e-14));
    CHECK_CLOSE("rstd", rstd, want_rstd, c, TOL(1e-6, 1e-14));
    CHECK_CLOSE("running_mean", rm, want_rm, c, TOL(1e-6, 1e-14));
    CHECK_CLOSE("running_var", rv, want_rv, c, TOL(1e-6, 1e-14));

    for (int ch = 0; ch < c; ch++) {
        double rs = 1 / sqrt((double)k.rvar[ch] + (double)k.s.eps);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                size_t j = ((size_t)b * c + ch) * hw + i;
                want[j] = (real)((k.x[j] - (double)k.rmean[ch]) * rs * k.gamma[ch] + k.beta[ch]);
            }
    }
    batchnorm2d_forward_eval(out, k.x, k.gamma, k.beta, k.rmean, k.rvar, &k.s);
    CHECK_CLOSE("eval out", out, want, m, TOL(1e-6, 1e-13));
    free(out); free(mean); free(rstd); free(want); free(want_mean); free(want_rstd);
    free(rm); free(rv); free(want_rm); free(want_rv);
    bn_case_free(&k);
}

/* Channel 0 holds 1,2,3,4 and channel 1 holds 10,10,20,20 (n = 2, hw = 2). */
static void test_bn_running_stats_by_hand(void) {
    real x[8] = {1, 2, 10, 10, 3, 4, 20, 20};
    real gamma[2] = {1, 2}, beta[2] = {0, 1};
    real rm[2] = {0, 1}, rv[2] = {1, 2}, out[8], mean[2], rstd[2];
    BatchNormShape s = {2, 2, 2, (real)1e-5, (real)0.1};
    batchnorm2d_forward_train(out, mean, rstd, rm, rv, x, gamma, beta, &s);
    /* mean 2.5, 15; biased var 1.25, 25; unbiased 5/3, 100/3 */
    real want_mean[2] = {2.5, 15};
    real want_rstd[2] = {(real)(1 / sqrt(1.25 + 1e-5)), (real)(1 / sqrt(25 + 1e-5))};
    real want_rm[2] = {(real)0.25, (real)2.4};
    real want_rv[2] = {(real)(0.9 + 0.1 * 5.0 / 3), (real)(1.8 + 0.1 * 100.0 / 3)};
    CHECK_CLOSE("mean", mean, want_mean, 2, TOL(1e-7, 1e-15));
    CHECK_CLOSE("rstd", rstd, want_rstd, 2, TOL(1e-6, 1e-15));
    CHECK_CLOSE("running_mean", rm, want_rm, 2, TOL(1e-7, 1e-15));
    CHECK_CLOSE("running_var", rv, want_rv, 2, TOL(1e-7, 1e-15));
    double a = 1 / sqrt(1.25 + 1e-5), b = 2 / sqrt(25 + 1e-5);
    real want_out[8] = {(real)(-1.5 * a), (real)(-0.5 * a), (real)(1 - 5 * b), (real)(1 - 5 * b),
                        (real)(0.5 * a),  (real)(1.5 * a),  (real)(1 + 5 * b), (real)(1 + 5 * b)};
    CHECK_CLOSE("out", out, want_out, 8, TOL(1e-6, 1e-14));
    /* A second step compounds the moving averages. */
    batchnorm2d_forward_train(out, mean, rstd, rm, rv, x, gamma, beta, &s);
    real want_rm2[2] = {(real)(0.9 * 0.25 + 0.25), (real)(0.9 * 2.4 + 1.5)};
    CHECK_CLOSE("running_mean after two steps", rm, want_rm2, 2, TOL(1e-7, 1e-15));
}

static void test_bn_backward_accumulates(void) {
    for (int train = 0; train <= 1; train++) {
        BnCase k = bn_case_new(2, 3, 4, train, 21);
        size_t m = bn_numel(&k);
        real *dx1 = new_real(m), *dg1 = new_real(3), *db1 = new_real(3);
        real *dx2 = new_real(m), *dg2 = new_real(3), *db2 = new_real(3);
        bn_grads(&k, dx1, dg1, db1);
        bn_grads(&k, dx2, dg2, db2);
        bn_grads(&k, dx2, dg2, db2);
        for (size_t i = 0; i < m; i++) dx1[i] *= 2;
        for (int i = 0; i < 3; i++) { dg1[i] *= 2; db1[i] *= 2; }
        CHECK_CLOSE(train ? "train dx" : "eval dx", dx2, dx1, m, TOL(1e-6, 1e-14));
        CHECK_CLOSE("dgamma", dg2, dg1, 3, TOL(1e-6, 1e-14));
        CHECK_CLOSE("dbeta", db2, db1, 3, TOL(1e-6, 1e-14));
        free(dx1); free(dg1); free(db1); free(dx2); free(dg2); free(db2);
        bn_case_free(&k);
    }
}

/* Everything a BN call produces, for the thread-count comparison. */
static void bn_run_all(const BnCase *k, real *out_t, real *stats, real *out_e, real *grads) {
    size_t m = bn_numel(k);
    int c = k->s.c;
    memcpy(stats + 2 * c, k->rmean, c * sizeof(real));
    memcpy(stats + 3 * c, k->rvar, c * sizeof(real));
    batchnorm2d_forward_train(out_t, stats, stats + c, stats + 2 * c, stats + 3 * c, k->x,
                              k->gamma, k->beta, &k->s);
    batchnorm2d_forward_eval(out_e, k->x, k->gamma, k->beta, k->rmean, k->rvar, &k->s);
    memset(grads, 0, (2 * m + 4 * c) * sizeof(real));
    batchnorm2d_backward(grads, grads + m, grads + m + c, k->w, k->x, stats, stats + c, k->gamma,
                         &k->s);
    batchnorm2d_backward_eval(grads + m + 2 * c, grads + 2 * m + 2 * c, grads + 2 * m + 3 * c,
                              k->w, k->x, k->rmean, k->rvar, k->gamma, &k->s);
}

static void test_bn_threads_bitwise(void) {
    BnCase k = bn_case_new(4, 9, 1024, 1, 3); /* large enough to run in parallel */
    size_t m = bn_numel(&k);
    int c = k.s.c;
    size_t ng = 2 * m + 4 * (size_t)c;
    real *o1 = new_real(m), *s1 = new_real(4 * c), *e1 = new_real(m), *g1 = new_real(ng);
    real *o2 = new_real(m), *s2 = new_real(4 * c), *e2 = new_real(m), *g2 = new_real(ng);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    bn_run_all(&k, o1, s1, e1, g1);
    omp_set_num_threads(2);
    bn_run_all(&k, o2, s2, e2, g2);
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("train out", o1, o2, m * sizeof(real));
    CHECK_SAME_BITS("statistics", s1, s2, 4 * c * sizeof(real));
    CHECK_SAME_BITS("eval out", e1, e2, m * sizeof(real));
    CHECK_SAME_BITS("gradients", g1, g2, ng * sizeof(real));
    free(o1); free(s1); free(e1); free(g1); free(o2); free(s2); free(e2); free(g2);
    bn_case_free(&k);
}

/* A model-like parameter table with one BN layer of c channels. */
/* One BN step through the tape, with dL/dy = k->w. */
static Tensor *bn_tape_step(Tape *t, BnParams *b, const BnCase *k, int h, int w) {
    Tensor *x = tape_wrap(t, k->x, k->s.n, k->s.c, h, w);
    x->requires_grad = 1;
    Tensor g = params_tensor(&b->p, b->weight), be = params_tensor(&b->p, b->bias);
    Tensor *y = ag_batchnorm2d(t, "bn", x, &g, &be, params_data(&b->p, b->rmean),
                               params_data(&b->p, b->rvar), params_counter(&b->p, b->count),
                               k->s.eps, k->s.momentum);
    memcpy(tape_grad(t, y), k->w, bn_numel(k) * sizeof(real));
    tape_backward(t, y, 0);
    return x;
}

static void test_ag_batchnorm_matches_kernels(void) {
    for (int train = 1; train >= 0; train--) {
        BnCase k = bn_case_new(2, 3, 6, train, 31);
        size_t m = bn_numel(&k);
        int c = k.s.c;
        BnParams b;
        bn_params_init(&b, k.s.c, k.gamma, k.beta, k.rmean, k.rvar);
        Arena a;
        arena_init(&a, 1 << 16);
        Tape t;
        tape_init(&t, &a);
        t.recording = 1;
        t.training = train;
        Tensor *x = bn_tape_step(&t, &b, &k, 2, 3);

        real *dx = new_real(m), *dg = new_real(c), *db = new_real(c);
        real *rm = new_real(c), *rv = new_real(c), *mean = new_real(c), *rstd = new_real(c);
        real *out = new_real(m);
        memcpy(rm, k.rmean, c * sizeof(real));
        memcpy(rv, k.rvar, c * sizeof(real));
        if (train) batchnorm2d_forward_train(out, mean, rstd, rm, rv, k.x, k.gamma, k.beta, &k.s);
        bn_grads(&k, dx, dg, db);
        CHECK(x->grad != NULL, "no input gradient");
        if (x->grad) CHECK_CLOSE("dx", x->grad, dx, m, 0);
        CHECK_CLOSE("dgamma", params_grad(&b.p, b.weight), dg, c, 0);
        CHECK_CLOSE("dbeta", params_grad(&b.p, b.bias), db, c, 0);
        CHECK_CLOSE("running_mean", params_data(&b.p, b.rmean), rm, c, 0);
        CHECK_CLOSE("running_var", params_data(&b.p, b.rvar), rv, c, 0);
        int64_t want_count = train ? 1 : 0;
        CHECK(*params_counter(&b.p, b.count) == want_count, "num_batches_tracked %lld, want %lld",
              (long long)*params_counter(&b.p, b.count), (long long)want_count);

        /* Inference: no node, no saved state, the same output. */
        tape_reset(&t);
        t.recording = 0;
        Tensor *xi = tape_wrap(&t, k.x, k.s.n, k.s.c, 2, 3);
        Tensor g = params_tensor(&b.p, b.weight), be = params_tensor(&b.p, b.bias);
        Tensor *y = ag_batchnorm2d(&t, "bn", xi, &g, &be, params_data(&b.p, b.rmean),
                                   params_data(&b.p, b.rvar), NULL, k.s.eps, k.s.momentum);
        CHECK(t.count == 0 && !y->requires_grad, "inference must not record");
        if (!train) {
            batchnorm2d_forward_eval(out, k.x, k.gamma, k.beta, k.rmean, k.rvar, &k.s);
            CHECK_CLOSE("eval output", y->data, out, m, 0);
        }
        free(dx); free(dg); free(db); free(rm); free(rv); free(mean); free(rstd); free(out);
        tape_free(&t);
        arena_free(&a);
        params_free(&b.p);
        bn_case_free(&k);
    }
}

/* Runs fn in a child process; passes when it exits with status 1 and its
 * stderr contains `needle`. */
static void expect_fatal(void (*fn)(void), const char *needle) {
    int fd[2];
    if (pipe(fd) != 0) { CHECK(0, "pipe failed"); return; }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 2);
        close(fd[0]);
        fn();
        _exit(0);
    }
    close(fd[1]);
    char msg[1024] = {0};
    size_t got = 0;
    ssize_t r;
    while (got < sizeof msg - 1 && (r = read(fd[0], msg + got, sizeof msg - 1 - got)) > 0)
        got += (size_t)r;
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1, "expected a fatal error (status %d)", status);
    CHECK(strstr(msg, needle) != NULL, "message \"%s\" lacks \"%s\"", msg, needle);
}

static void bn_with_wrong_gamma(void) {
    Arena a;
    arena_init(&a, 1 << 12);
    Tape t;
    tape_init(&t, &a);
    real x[12] = {0}, g[3] = {1, 1, 1}, b[4] = {0}, rm[4] = {0}, rv[4] = {1, 1, 1, 1};
    Tensor *xt = tape_wrap(&t, x, 1, 4, 3, 1);
    Tensor *gt = tape_wrap(&t, g, 3, 1, 1, 1), *bt = tape_wrap(&t, b, 4, 1, 1, 1);
    ag_batchnorm2d(&t, "layer1.bn", xt, gt, bt, rm, rv, NULL, (real)1e-5, (real)0.1);
}

static void bn_train_single_value(void) {
    Arena a;
    arena_init(&a, 1 << 12);
    Tape t;
    tape_init(&t, &a);
    t.training = 1;
    real x[2] = {0}, g[2] = {1, 1}, b[2] = {0}, rm[2] = {0}, rv[2] = {1, 1};
    Tensor *xt = tape_wrap(&t, x, 1, 2, 1, 1);
    Tensor *gt = tape_wrap(&t, g, 2, 1, 1, 1), *bt = tape_wrap(&t, b, 2, 1, 1, 1);
    ag_batchnorm2d(&t, "fc1.bn", xt, gt, bt, rm, rv, NULL, (real)1e-5, (real)0.1);
}

static void test_ag_batchnorm_rejects_bad_input(void) {
    expect_fatal(bn_with_wrong_gamma, "layer1.bn: weight (gamma) has 3 values but the input has 4 channels");
    expect_fatal(bn_train_single_value, "more than one value per channel");
}

int main(void) {
    RUN(test_bn_forward_naive);
    RUN(test_bn_running_stats_by_hand);
    RUN(test_bn_train_grads);
    RUN(test_bn_eval_grads);
    RUN(test_bn_backward_accumulates);
    RUN(test_bn_threads_bitwise);
    RUN(test_ag_batchnorm_matches_kernels);
    RUN(test_ag_batchnorm_rejects_bad_input);
    CHECK_MAIN_END();
}
