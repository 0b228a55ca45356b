/* Runs one case of the check-cuda table: seeded inputs, the CPU kernel and
 * its CUDA twin on copies of them, every output compared. Gradient buffers
 * start from random values on both sides, so accumulation (+=) is checked
 * too. Built into every binary; the runners exist only with CUDA=1. */
#include "anomaly/cuda_check.h"

#ifndef ANOMALY_CUDA

int cuda_check_built(void) { return 0; }

void cuda_check_run_case(const CudaCase *c, CheckReport *r) {
    (void)c;
    (void)r;
}

#else

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/cuda.h"
#include "anomaly/error.h"
#include "anomaly/ops.h"
#include "anomaly/rng.h"

int cuda_check_built(void) { return 1; }

#define RUN_MAX_ALLOC 96

typedef struct Run {
    const CudaCase *c;
    CheckReport *r;
    Rng rng;
    void *host[RUN_MAX_ALLOC], *dev[RUN_MAX_ALLOC];
    int nh, nd;
} Run;

static void *host_alloc(Run *u, size_t bytes) {
    if (u->nh == RUN_MAX_ALLOC) fatal("check-cuda: too many arrays in one case");
    return u->host[u->nh++] = xcalloc(1, bytes ? bytes : 1, "a check-cuda array");
}

/* n zeroed reals on the host */
static real *H(Run *u, size_t n) { return host_alloc(u, n * sizeof(real)); }

/* n reals ~ U(lo, hi) on the host */
static real *U(Run *u, size_t n, double lo, double hi) {
    real *p = H(u, n);
    for (size_t i = 0; i < n; i++) p[i] = (real)rng_range(&u->rng, lo, hi);
    return p;
}

static real *copy(Run *u, const real *h, size_t n) {
    real *p = H(u, n);
    memcpy(p, h, n * sizeof(real));
    return p;
}

/* a device copy of bytes of host memory (NULL stays NULL) */
static void *Dbytes(Run *u, const void *h, size_t bytes) {
    if (!h) return NULL;
    if (u->nd == RUN_MAX_ALLOC) fatal("check-cuda: too many arrays in one case");
    return u->dev[u->nd++] = cuda_dup(h, bytes, "a check-cuda array");
}

static real *D(Run *u, const real *h, size_t n) { return Dbytes(u, h, n * sizeof(real)); }

/* compares the CPU's cpu[n] with the device array gpu[n] */
static void CMP(Run *u, const char *output, const real *cpu, const real *gpu, size_t n,
                double len) {
    cuda_sync(u->c->op);
    real *got = xmalloc((n ? n : 1) * sizeof(real), "a check-cuda result");
    cuda_download(got, gpu, n * sizeof(real));
    DiffStats d;
    diff_stats(&d, cpu, got, n);
    check_report_line(u->r, u->c, output, len, &d);
    free(got);
}

/* compares two scalars (a loss, a norm) */
static void CMP1(Run *u, const char *output, double cpu, double gpu, double len) {
    real a = (real)cpu, b = (real)gpu;
    DiffStats d;
    diff_stats(&d, &a, &b, 1);
    /* the scalars come back in double: compare them as computed */
    if (isfinite(cpu) && isfinite(gpu)) {
        d.max_abs = fabs(gpu - cpu);
        d.max_rel = cpu != 0 ? d.max_abs / fabs(cpu) : d.max_abs;
        d.nmse = cpu != 0 ? (d.max_abs / fabs(cpu)) * (d.max_abs / fabs(cpu)) : d.max_abs > 0;
    }
    check_report_line(u->r, u->c, output, len, &d);
}

/* NaN, infinities and signed zeros at spread-out positions */
static void inject_specials(real *x, size_t n) {
    const real v[5] = {(real)NAN, (real)INFINITY, -(real)INFINITY, (real)0, -(real)0};
    for (size_t i = 0, k = 0; i < n; i += 97, k++) x[i] = v[k % 5];
}

/* ---- activations and elementwise ---- */

static void run_act(Run *u) {
    const size_t n = (size_t)u->c->p[0];
    real *x = U(u, n, -8, 8), *gy = U(u, n, -1, 1), *acc = U(u, n, -1, 1);
    if (u->c->p[1]) inject_specials(x, n);
    real *y = H(u, n), *dx = copy(u, acc, n);
    real *dX = D(u, x, n), *dY = D(u, y, n), *dG = D(u, gy, n), *dDX = D(u, acc, n);
    const char *op = u->c->op;
    if (strcmp(op, "swish") == 0) {
        swish_forward(y, x, n);
        swish_backward(dx, gy, x, n);
        swish_forward_cuda(dY, dX, n);
        swish_backward_cuda(dDX, dG, dX, n);
    } else if (strcmp(op, "relu") == 0) {
        relu_forward(y, x, n);
        relu_backward(dx, gy, x, n);
        relu_forward_cuda(dY, dX, n);
        relu_backward_cuda(dDX, dG, dX, n);
    } else {
        sigmoid_forward(y, x, n);
        sigmoid_backward(dx, gy, y, n);
        sigmoid_forward_cuda(dY, dX, n);
        /* backward from the CPU's output, so only the backward is compared */
        real *dYc = D(u, y, n);
        sigmoid_backward_cuda(dDX, dG, dYc, n);
    }
    CMP(u, "out", y, dY, n, 1);
    CMP(u, "dinp", dx, dDX, n, 1);
}

static void run_add(Run *u) {
    const size_t n = (size_t)u->c->p[0];
    real *a = U(u, n, -1, 1), *b = U(u, n, -1, 1), *g = U(u, n, -1, 1);
    real *da = U(u, n, -1, 1), *db = U(u, n, -1, 1), *y = H(u, n);
    real *dA = D(u, a, n), *dB = D(u, b, n), *dG = D(u, g, n), *dY = D(u, y, n);
    real *dDA = D(u, da, n), *dDB = D(u, db, n);
    add_forward(y, a, b, n);
    add_backward(da, db, g, n);
    add_forward_cuda(dY, dA, dB, n);
    add_backward_cuda(dDA, dDB, dG, n);
    CMP(u, "out", y, dY, n, 1);
    CMP(u, "da", da, dDA, n, 1);
    CMP(u, "db", db, dDB, n, 1);
}

static void run_channel_scale(Run *u) {
    const int n = u->c->p[0], c = u->c->p[1], hw = u->c->p[2];
    const size_t tot = (size_t)n * c * hw, nc = (size_t)n * c;
    real *x = U(u, tot, -2, 2), *s = U(u, nc, 0, 1), *g = U(u, tot, -1, 1);
    real *y = H(u, tot), *dx = U(u, tot, -1, 1), *ds = U(u, nc, -1, 1);
    real *dX = D(u, x, tot), *dS = D(u, s, nc), *dG = D(u, g, tot), *dY = D(u, y, tot);
    real *dDX = D(u, dx, tot), *dDS = D(u, ds, nc);
    channel_scale_forward(y, x, s, n, c, hw);
    channel_scale_backward(dx, ds, g, x, s, n, c, hw);
    channel_scale_forward_cuda(dY, dX, dS, n, c, hw);
    channel_scale_backward_cuda(dDX, dDS, dG, dX, dS, n, c, hw);
    CMP(u, "out", y, dY, tot, 1);
    CMP(u, "dinp", dx, dDX, tot, 1);
    CMP(u, "ds", ds, dDS, nc, hw);
}

static uint8_t *mask_of(Run *u, size_t n, double keep) {
    uint8_t *m = host_alloc(u, n);
    for (size_t i = 0; i < n; i++) m[i] = rng_uniform(&u->rng) < keep;
    return m;
}

static void run_dropout(Run *u) {
    const size_t n = (size_t)u->c->p[0];
    const real p = (real)(u->c->p[1] / 100.0), scale = 1 / (1 - p);
    real *x = U(u, n, -1, 1), *g = U(u, n, -1, 1), *y = H(u, n), *dx = U(u, n, -1, 1);
    uint8_t *m = mask_of(u, n, 1 - p);
    real *dX = D(u, x, n), *dG = D(u, g, n), *dY = D(u, y, n), *dDX = D(u, dx, n);
    uint8_t *dM = Dbytes(u, m, n);
    dropout_forward(y, x, m, scale, n);
    dropout_backward(dx, g, m, scale, n);
    dropout_forward_cuda(dY, dX, dM, scale, n);
    dropout_backward_cuda(dDX, dG, dM, scale, n);
    CMP(u, "out", y, dY, n, 1);
    CMP(u, "dinp", dx, dDX, n, 1);
}

static void run_drop_connect(Run *u) {
    const int n = u->c->p[0];
    const size_t inner = (size_t)u->c->p[1], tot = n * inner;
    const real rate = (real)(u->c->p[2] / 100.0);
    real *x = U(u, tot, -1, 1), *g = U(u, tot, -1, 1), *y = H(u, tot), *dx = U(u, tot, -1, 1);
    uint8_t *k = mask_of(u, (size_t)n, 0.6);
    k[0] = 1;
    if (n > 1) k[1] = 0;
    real *dX = D(u, x, tot), *dG = D(u, g, tot), *dY = D(u, y, tot), *dDX = D(u, dx, tot);
    uint8_t *dK = Dbytes(u, k, (size_t)n);
    drop_connect_forward(y, x, k, rate, n, inner);
    drop_connect_backward(dx, g, k, rate, n, inner);
    drop_connect_forward_cuda(dY, dX, dK, rate, n, inner);
    drop_connect_backward_cuda(dDX, dG, dK, rate, n, inner);
    CMP(u, "out", y, dY, tot, 1);
    CMP(u, "dinp", dx, dDX, tot, 1);
}

static void run_l2norm(Run *u) {
    const int rows = u->c->p[0], cols = u->c->p[1];
    const size_t tot = (size_t)rows * cols;
    const real eps = (real)1e-12;
    real *x = U(u, tot, -1, 1), *g = U(u, tot, -1, 1), *y = H(u, tot), *dx = U(u, tot, -1, 1);
    if (u->c->p[2]) memset(x, 0, (size_t)cols * sizeof(real));
    real *dX = D(u, x, tot), *dG = D(u, g, tot), *dY = D(u, y, tot), *dDX = D(u, dx, tot);
    l2norm_rows_forward(y, x, rows, cols, eps);
    l2norm_rows_backward(dx, g, x, rows, cols, eps);
    l2norm_rows_forward_cuda(dY, dX, rows, cols, eps);
    l2norm_rows_backward_cuda(dDX, dG, dX, rows, cols, eps);
    CMP(u, "out", y, dY, tot, cols);
    CMP(u, "dinp", dx, dDX, tot, cols);
}

/* ---- BatchNorm ---- */

typedef struct BnData {
    BatchNormShape s;
    size_t tot, c;
    real *x, *gamma, *beta, *rm, *rv, *g, *res;
} BnData;

static BnData bn_data(Run *u) {
    const int *p = u->c->p;
    BnData b;
    b.s.n = p[0];
    b.s.c = p[1];
    b.s.hw = p[2];
    b.s.eps = (real)pow(10.0, -p[3]);
    b.s.momentum = (real)(p[4] / 100.0);
    b.tot = (size_t)p[0] * p[1] * p[2];
    b.c = (size_t)p[1];
    b.x = U(u, b.tot, p[5] - 2.0, p[5] + 2.0);
    b.gamma = U(u, b.c, 0.5, 1.5);
    b.beta = U(u, b.c, -0.5, 0.5);
    b.rm = U(u, b.c, -0.5, 0.5);
    b.rv = U(u, b.c, 0.5, 2);
    b.g = U(u, b.tot, -1, 1);
    b.res = U(u, b.tot, -1, 1);
    return b;
}

static void run_bn_train(Run *u) {
    BnData b = bn_data(u);
    const double len = (double)b.s.n * b.s.hw;
    real *y = H(u, b.tot), *mean = H(u, b.c), *rstd = H(u, b.c);
    real *rm = copy(u, b.rm, b.c), *rv = copy(u, b.rv, b.c);
    real *dx = U(u, b.tot, -1, 1), *dgm = U(u, b.c, -1, 1), *dbt = U(u, b.c, -1, 1);
    real *dX = D(u, b.x, b.tot), *dGa = D(u, b.gamma, b.c), *dBe = D(u, b.beta, b.c);
    real *dY = D(u, y, b.tot), *dMean = D(u, mean, b.c), *dRstd = D(u, rstd, b.c);
    real *dRm = D(u, b.rm, b.c), *dRv = D(u, b.rv, b.c), *dG = D(u, b.g, b.tot);
    real *dDX = D(u, dx, b.tot), *dDG = D(u, dgm, b.c), *dDB = D(u, dbt, b.c);
    batchnorm2d_forward_train(y, mean, rstd, rm, rv, b.x, b.gamma, b.beta, &b.s);
    batchnorm2d_backward(dx, dgm, dbt, b.g, b.x, mean, rstd, b.gamma, &b.s);
    batchnorm2d_forward_train_cuda(dY, dMean, dRstd, dRm, dRv, dX, dGa, dBe, &b.s);
    /* backward from the CPU's statistics: compares the backward alone */
    real *cMean = D(u, mean, b.c), *cRstd = D(u, rstd, b.c);
    batchnorm2d_backward_cuda(dDX, dDG, dDB, dG, dX, cMean, cRstd, dGa, &b.s);
    CMP(u, "out", y, dY, b.tot, len);
    CMP(u, "mean", mean, dMean, b.c, len);
    CMP(u, "rstd", rstd, dRstd, b.c, len);
    CMP(u, "running_mean", rm, dRm, b.c, len);
    CMP(u, "running_var", rv, dRv, b.c, len);
    CMP(u, "dinp", dx, dDX, b.tot, len);
    CMP(u, "dgamma", dgm, dDG, b.c, len);
    CMP(u, "dbeta", dbt, dDB, b.c, len);
}

static void run_bn_eval(Run *u) {
    BnData b = bn_data(u);
    const double len = (double)b.s.n * b.s.hw;
    real *y = H(u, b.tot), *dx = U(u, b.tot, -1, 1), *dgm = U(u, b.c, -1, 1), *dbt = U(u, b.c, -1, 1);
    real *dX = D(u, b.x, b.tot), *dGa = D(u, b.gamma, b.c), *dBe = D(u, b.beta, b.c);
    real *dRm = D(u, b.rm, b.c), *dRv = D(u, b.rv, b.c), *dG = D(u, b.g, b.tot), *dY = D(u, y, b.tot);
    real *dDX = D(u, dx, b.tot), *dDG = D(u, dgm, b.c), *dDB = D(u, dbt, b.c);
    batchnorm2d_forward_eval(y, b.x, b.gamma, b.beta, b.rm, b.rv, &b.s);
    batchnorm2d_backward_eval(dx, dgm, dbt, b.g, b.x, b.rm, b.rv, b.gamma, &b.s);
    batchnorm2d_forward_eval_cuda(dY, dX, dGa, dBe, dRm, dRv, &b.s);
    batchnorm2d_backward_eval_cuda(dDX, dDG, dDB, dG, dX, dRm, dRv, dGa, &b.s);
    CMP(u, "out", y, dY, b.tot, 1);
    CMP(u, "dinp", dx, dDX, b.tot, 1);
    CMP(u, "dgamma", dgm, dDG, b.c, len);
    CMP(u, "dbeta", dbt, dDB, b.c, len);
}

static void run_bn_act(Run *u) {
    BnData b = bn_data(u);
    const BnAct act = strcmp(u->c->op, "bn_swish") == 0 ? BN_ACT_SWISH : BN_ACT_RELU;
    const double len = (double)b.s.n * b.s.hw;
    real *y = H(u, b.tot), *z = H(u, b.tot), *mean = H(u, b.c), *rstd = H(u, b.c);
    real *aff = H(u, 2 * b.c), *rm = copy(u, b.rm, b.c), *rv = copy(u, b.rv, b.c);
    real *y2 = H(u, b.tot);
    real *dx = U(u, b.tot, -1, 1), *dgm = U(u, b.c, -1, 1), *dbt = U(u, b.c, -1, 1);
    real *dx2 = copy(u, dx, b.tot);
    real *dX = D(u, b.x, b.tot), *dGa = D(u, b.gamma, b.c), *dBe = D(u, b.beta, b.c);
    real *dY = D(u, y, b.tot), *dZ = D(u, z, b.tot), *dMean = D(u, mean, b.c);
    real *dRstd = D(u, rstd, b.c), *dAff = D(u, aff, 2 * b.c), *dRm = D(u, b.rm, b.c);
    real *dRv = D(u, b.rv, b.c), *dG = D(u, b.g, b.tot), *dY2 = D(u, y2, b.tot);
    real *dDX = D(u, dx, b.tot), *dDG = D(u, dgm, b.c), *dDB = D(u, dbt, b.c);
    real *dDX2 = D(u, dx, b.tot);
    batchnorm2d_act_forward_train(y, z, mean, rstd, aff, rm, rv, b.x, b.gamma, b.beta, &b.s, act);
    batchnorm2d_act_recompute(y2, b.x, aff, &b.s, act);
    batchnorm2d_act_backward(dx, dgm, dbt, b.g, b.x, z, mean, rstd, aff, b.gamma, &b.s, act);
    batchnorm2d_act_backward(dx2, NULL, NULL, b.g, b.x, NULL, mean, rstd, aff, b.gamma, &b.s, act);
    batchnorm2d_act_forward_train_cuda(dY, dZ, dMean, dRstd, dAff, dRm, dRv, dX, dGa, dBe, &b.s,
                                       act);
    /* the rest from the CPU's saved tensors: each kernel compared alone */
    real *cZ = D(u, z, b.tot), *cMean = D(u, mean, b.c), *cRstd = D(u, rstd, b.c);
    real *cAff = D(u, aff, 2 * b.c);
    batchnorm2d_act_recompute_cuda(dY2, dX, cAff, &b.s, act);
    batchnorm2d_act_backward_cuda(dDX, dDG, dDB, dG, dX, cZ, cMean, cRstd, cAff, dGa, &b.s, act);
    batchnorm2d_act_backward_cuda(dDX2, NULL, NULL, dG, dX, NULL, cMean, cRstd, cAff, dGa, &b.s,
                                  act);
    CMP(u, "out", y, dY, b.tot, len);
    CMP(u, "z", z, dZ, b.tot, len);
    CMP(u, "mean", mean, dMean, b.c, len);
    CMP(u, "rstd", rstd, dRstd, b.c, len);
    CMP(u, "affine", aff, dAff, 2 * b.c, len);
    CMP(u, "running_mean", rm, dRm, b.c, len);
    CMP(u, "running_var", rv, dRv, b.c, len);
    CMP(u, "recompute", y2, dY2, b.tot, 1);
    CMP(u, "dinp", dx, dDX, b.tot, len);
    CMP(u, "dgamma", dgm, dDG, b.c, len);
    CMP(u, "dbeta", dbt, dDB, b.c, len);
    CMP(u, "dinp(affine)", dx2, dDX2, b.tot, len);
}

static void run_bn_add_relu(Run *u) {
    BnData b = bn_data(u);
    const double len = (double)b.s.n * b.s.hw;
    real *y = H(u, b.tot), *mean = H(u, b.c), *rstd = H(u, b.c);
    real *rm = copy(u, b.rm, b.c), *rv = copy(u, b.rv, b.c);
    real *dx = U(u, b.tot, -1, 1), *dr = U(u, b.tot, -1, 1);
    real *dgm = U(u, b.c, -1, 1), *dbt = U(u, b.c, -1, 1);
    real *dX = D(u, b.x, b.tot), *dRes = D(u, b.res, b.tot), *dGa = D(u, b.gamma, b.c);
    real *dBe = D(u, b.beta, b.c), *dY = D(u, y, b.tot), *dMean = D(u, mean, b.c);
    real *dRstd = D(u, rstd, b.c), *dRm = D(u, b.rm, b.c), *dRv = D(u, b.rv, b.c);
    real *dG = D(u, b.g, b.tot), *dDX = D(u, dx, b.tot), *dDR = D(u, dr, b.tot);
    real *dDG = D(u, dgm, b.c), *dDB = D(u, dbt, b.c);
    batchnorm2d_add_relu_forward_train(y, mean, rstd, rm, rv, b.x, b.res, b.gamma, b.beta, &b.s);
    batchnorm2d_add_relu_backward(dx, dr, dgm, dbt, b.g, y, b.x, mean, rstd, b.gamma, &b.s);
    batchnorm2d_add_relu_forward_train_cuda(dY, dMean, dRstd, dRm, dRv, dX, dRes, dGa, dBe, &b.s);
    real *cY = D(u, y, b.tot), *cMean = D(u, mean, b.c), *cRstd = D(u, rstd, b.c);
    batchnorm2d_add_relu_backward_cuda(dDX, dDR, dDG, dDB, dG, cY, dX, cMean, cRstd, dGa, &b.s);
    CMP(u, "out", y, dY, b.tot, len);
    CMP(u, "mean", mean, dMean, b.c, len);
    CMP(u, "rstd", rstd, dRstd, b.c, len);
    CMP(u, "running_mean", rm, dRm, b.c, len);
    CMP(u, "running_var", rv, dRv, b.c, len);
    CMP(u, "dinp", dx, dDX, b.tot, len);
    CMP(u, "dres", dr, dDR, b.tot, 1);
    CMP(u, "dgamma", dgm, dDG, b.c, len);
    CMP(u, "dbeta", dbt, dDB, b.c, len);
}

/* ---- pools ---- */

static void run_gap(Run *u) {
    const int n = u->c->p[0], c = u->c->p[1], hw = u->c->p[2];
    const size_t tot = (size_t)n * c * hw, nc = (size_t)n * c;
    real *x = U(u, tot, -1, 1), *g = U(u, nc, -1, 1), *y = H(u, nc), *dx = U(u, tot, -1, 1);
    real *dX = D(u, x, tot), *dG = D(u, g, nc), *dY = D(u, y, nc), *dDX = D(u, dx, tot);
    global_avgpool_forward(y, x, n, c, hw);
    global_avgpool_backward(dx, g, n, c, hw);
    global_avgpool_forward_cuda(dY, dX, n, c, hw);
    global_avgpool_backward_cuda(dDX, dG, n, c, hw);
    CMP(u, "out", y, dY, nc, hw);
    CMP(u, "dinp", dx, dDX, tot, 1);
}

static void run_pool2d(Run *u) {
    const int *p = u->c->p;
    const int is_max = strcmp(u->c->op, "maxpool2d") == 0;
    Pool2dShape s;
    memset(&s, 0, sizeof s);
    s.n = p[0], s.c = p[1], s.h = p[2], s.w = p[3];
    s.kh = s.kw = p[4];
    s.sh = s.sw = p[5];
    s.pad_t = s.pad_l = p[6];
    s.ceil_mode = p[7];
    s.count_include_pad = is_max ? 0 : p[8];
    char err[200];
    if (pool2d_shape_resolve(&s, err, sizeof err) != 0) fatal("check-cuda %s: %s", u->c->op, err);
    const size_t in = (size_t)s.n * s.c * s.h * s.w, out = (size_t)s.n * s.c * s.oh * s.ow;
    real *x = U(u, in, -1, 1), *g = U(u, out, -1, 1), *y = H(u, out), *dx = U(u, in, -1, 1);
    if (is_max && p[8]) inject_specials(x, in);
    if (is_max) /* ties: a few windows of equal values */
        for (size_t i = 1; i < in; i += 13) x[i] = x[i - 1];
    real *dX = D(u, x, in), *dG = D(u, g, out), *dY = D(u, y, out), *dDX = D(u, dx, in);
    if (is_max) {
        maxpool2d_forward(y, x, &s);
        maxpool2d_backward(dx, g, x, &s);
        maxpool2d_forward_cuda(dY, dX, &s);
        maxpool2d_backward_cuda(dDX, dG, dX, &s);
    } else {
        avgpool2d_forward(y, x, &s);
        avgpool2d_backward(dx, g, &s);
        avgpool2d_forward_cuda(dY, dX, &s);
        avgpool2d_backward_cuda(dDX, dG, &s);
    }
    const double win = (double)s.kh * s.kw;
    CMP(u, "out", y, dY, out, is_max ? 1 : win);
    CMP(u, "dinp", dx, dDX, in, win);
}

/* ---- convolutions and linear ---- */

static void run_conv(Run *u) {
    const int *p = u->c->p;
    const int dw = strcmp(u->c->op, "depthwise") == 0;
    Conv2dShape s;
    memset(&s, 0, sizeof s);
    s.n = p[0], s.c = p[1], s.h = p[2], s.w = p[3];
    if (dw) {
        s.oc = s.c;
        s.kh = s.kw = p[4];
        s.sh = s.sw = p[5];
        s.pad_t = p[6], s.pad_b = p[7], s.pad_l = p[8], s.pad_r = p[9];
        s.groups = s.c;
        s.dh = s.dw = 1;
    } else {
        s.oc = p[4];
        s.kh = s.kw = p[5];
        s.sh = s.sw = p[6];
        s.pad_t = p[7], s.pad_b = p[8], s.pad_l = p[9], s.pad_r = p[10];
        s.groups = p[11];
        s.dh = s.dw = p[12];
    }
    const int has_bias = dw ? p[10] : p[13];
    char err[200];
    if (conv2d_shape_resolve(&s, err, sizeof err) != 0) fatal("check-cuda %s: %s", u->c->op, err);
    const int cg = s.c / s.groups, ocg = s.oc / s.groups;
    const size_t in = (size_t)s.n * s.c * s.h * s.w, out = (size_t)s.n * s.oc * s.oh * s.ow;
    const size_t wn = (size_t)s.oc * cg * s.kh * s.kw, ohw = (size_t)s.oh * s.ow;
    const double bound = 1 / sqrt((double)cg * s.kh * s.kw);
    real *x = U(u, in, -1, 1), *w = U(u, wn, -bound, bound);
    real *b = has_bias ? U(u, (size_t)s.oc, -0.5, 0.5) : NULL;
    real *g = U(u, out, -1, 1), *y = H(u, out), *dx = U(u, in, -1, 1), *dwt = U(u, wn, -1, 1);
    real *db = U(u, (size_t)s.oc, -1, 1);
    real *dX = D(u, x, in), *dW = D(u, w, wn), *dB = D(u, b, (size_t)s.oc), *dG = D(u, g, out);
    real *dY = D(u, y, out), *dDX = D(u, dx, in), *dDW = D(u, dwt, wn), *dDB = D(u, db, (size_t)s.oc);
    if (dw) {
        depthwise_conv2d_forward(y, x, w, b, &s);
        depthwise_conv2d_backward(dx, dwt, db, g, x, w, &s);
        depthwise_conv2d_forward_cuda(dY, dX, dW, dB, &s);
        depthwise_conv2d_backward_cuda(dDX, dDW, dDB, dG, dX, dW, &s);
    } else {
        void *work = xmalloc(conv2d_workspace_bytes(&s) + 64, "a convolution workspace");
        conv2d_forward(y, x, w, b, &s, work);
        conv2d_backward(dx, dwt, db, g, x, w, &s, work);
        free(work);
        conv2d_forward_cuda(dY, dX, dW, dB, &s);
        conv2d_backward_cuda(dDX, dDW, dDB, dG, dX, dW, &s);
    }
    CMP(u, "out", y, dY, out, (double)cg * s.kh * s.kw);
    CMP(u, "dinp", dx, dDX, in, (double)ocg * s.kh * s.kw);
    CMP(u, "dweight", dwt, dDW, wn, (double)s.n * ohw);
    CMP(u, "dbias", db, dDB, (size_t)s.oc, (double)s.n * ohw);
}

static void run_linear(Run *u) {
    const int n = u->c->p[0], in_f = u->c->p[1], out_f = u->c->p[2];
    const size_t ni = (size_t)n * in_f, no = (size_t)n * out_f, wn = (size_t)out_f * in_f;
    const double bound = 1 / sqrt((double)in_f);
    real *x = U(u, ni, -1, 1), *w = U(u, wn, -bound, bound);
    real *b = u->c->p[3] ? U(u, (size_t)out_f, -bound, bound) : NULL;
    real *g = U(u, no, -1, 1), *y = H(u, no), *dx = U(u, ni, -1, 1), *dwt = U(u, wn, -1, 1);
    real *db = U(u, (size_t)out_f, -1, 1);
    real *dX = D(u, x, ni), *dW = D(u, w, wn), *dB = D(u, b, (size_t)out_f), *dG = D(u, g, no);
    real *dY = D(u, y, no), *dDX = D(u, dx, ni), *dDW = D(u, dwt, wn), *dDB = D(u, db, (size_t)out_f);
    linear_forward(y, x, w, b, n, in_f, out_f);
    linear_backward(dx, dwt, db, g, x, w, n, in_f, out_f);
    linear_forward_cuda(dY, dX, dW, dB, n, in_f, out_f);
    linear_backward_cuda(dDX, dDW, dDB, dG, dX, dW, n, in_f, out_f);
    CMP(u, "out", y, dY, no, in_f);
    CMP(u, "dinp", dx, dDX, ni, out_f);
    CMP(u, "dweight", dwt, dDW, wn, n);
    CMP(u, "dbias", db, dDB, (size_t)out_f, n);
}

/* ---- split attention ---- */

static void run_radix_softmax(Run *u) {
    const int n = u->c->p[0], card = u->c->p[1], radix = u->c->p[2], inner = u->c->p[3];
    const size_t tot = (size_t)n * card * radix * inner;
    real *x = U(u, tot, -4, 4), *g = U(u, tot, -1, 1), *y = H(u, tot), *dx = U(u, tot, -1, 1);
    real *dX = D(u, x, tot), *dG = D(u, g, tot), *dY = D(u, y, tot), *dDX = D(u, dx, tot);
    radix_softmax_forward(y, x, n, card, radix, inner);
    radix_softmax_backward(dx, g, y, n, card, radix, inner);
    radix_softmax_forward_cuda(dY, dX, n, card, radix, inner);
    real *cY = D(u, y, tot);
    radix_softmax_backward_cuda(dDX, dG, cY, n, card, radix, inner);
    CMP(u, "out", y, dY, tot, radix);
    CMP(u, "dinp", dx, dDX, tot, radix);
}

static void run_radix_sum(Run *u) {
    const int n = u->c->p[0], radix = u->c->p[1], c = u->c->p[2], hw = u->c->p[3];
    const size_t out = (size_t)n * c * hw, in = out * radix, na = (size_t)n * radix * c;
    const int weighted = strcmp(u->c->op, "radix_weighted_sum") == 0;
    real *x = U(u, in, -1, 1), *a = U(u, na, 0, 1), *g = U(u, out, -1, 1), *y = H(u, out);
    real *dx = U(u, in, -1, 1), *da = U(u, na, -1, 1);
    real *dX = D(u, x, in), *dA = D(u, a, na), *dG = D(u, g, out), *dY = D(u, y, out);
    real *dDX = D(u, dx, in), *dDA = D(u, da, na);
    if (weighted) {
        radix_weighted_sum_forward(y, x, a, n, radix, c, hw);
        radix_weighted_sum_backward(dx, da, g, x, a, n, radix, c, hw);
        radix_weighted_sum_forward_cuda(dY, dX, dA, n, radix, c, hw);
        radix_weighted_sum_backward_cuda(dDX, dDA, dG, dX, dA, n, radix, c, hw);
    } else {
        radix_sum_forward(y, x, n, radix, c, hw);
        radix_sum_backward(dx, g, n, radix, c, hw);
        radix_sum_forward_cuda(dY, dX, n, radix, c, hw);
        radix_sum_backward_cuda(dDX, dG, n, radix, c, hw);
    }
    CMP(u, "out", y, dY, out, radix);
    CMP(u, "dinp", dx, dDX, in, 1);
    if (weighted) CMP(u, "dattn", da, dDA, na, hw);
}

/* ---- losses ---- */

static int *labels_of(Run *u, int n, int c) {
    int *l = host_alloc(u, (size_t)n * sizeof(int));
    for (int i = 0; i < n; i++) l[i] = (int)rng_below(&u->rng, (uint64_t)c);
    return l;
}

static void run_ce(Run *u) {
    const int n = u->c->p[0], c = u->c->p[1], smooth = strcmp(u->c->op, "label_smoothing") == 0;
    const int classes = u->c->p[2];
    const real eps = (real)(u->c->p[3] / 100.0), dloss = (real)0.75;
    const size_t tot = (size_t)n * c;
    real *z = U(u, tot, -6, 6), *dz = U(u, tot, -1, 1);
    int *l = labels_of(u, n, c);
    real *dZ = D(u, z, tot), *dDZ = D(u, dz, tot);
    int *dL = Dbytes(u, l, (size_t)n * sizeof(int));
    double lc, lg;
    if (smooth) {
        lc = label_smoothing_forward(z, l, n, c, eps, classes);
        label_smoothing_backward(dz, z, l, n, c, eps, classes, dloss);
        lg = label_smoothing_forward_cuda(dZ, dL, n, c, eps, classes);
        label_smoothing_backward_cuda(dDZ, dZ, dL, n, c, eps, classes, dloss);
    } else {
        lc = cross_entropy_forward(z, l, n, c);
        cross_entropy_backward(dz, z, l, n, c, dloss);
        lg = cross_entropy_forward_cuda(dZ, dL, n, c);
        cross_entropy_backward_cuda(dDZ, dZ, dL, n, c, dloss);
    }
    CMP1(u, "loss", lc, lg, tot);
    CMP(u, "dlogits", dz, dDZ, tot, c);
}

static void run_arcface(Run *u) {
    const int n = u->c->p[0], c = u->c->p[1];
    const real margin = (real)(u->c->p[2] / 100.0), scale = (real)u->c->p[3];
    const size_t tot = (size_t)n * c;
    real *x = U(u, tot, -1.02, 1.02), *g = U(u, tot, -1, 1), *y = H(u, tot), *dx = U(u, tot, -1, 1);
    int *l = labels_of(u, n, c);
    uint8_t *t = NULL;
    if (u->c->p[4]) {
        t = host_alloc(u, (size_t)c);
        for (int j = 0; j < c; j += 2) t[j] = 1;
    }
    real *dX = D(u, x, tot), *dG = D(u, g, tot), *dY = D(u, y, tot), *dDX = D(u, dx, tot);
    int *dL = Dbytes(u, l, (size_t)n * sizeof(int));
    uint8_t *dT = Dbytes(u, t, (size_t)c);
    arcface_forward(y, x, l, t, n, c, margin, scale);
    arcface_backward(dx, g, x, l, t, n, c, margin, scale);
    arcface_forward_cuda(dY, dX, dL, dT, n, c, margin, scale);
    arcface_backward_cuda(dDX, dG, dX, dL, dT, n, c, margin, scale);
    CMP(u, "out", y, dY, tot, 1);
    CMP(u, "dcos", dx, dDX, tot, 1);
}

/* ---- optimizers ---- */

static void run_optim(Run *u) {
    const size_t n = (size_t)u->c->p[0];
    const int steps = u->c->p[1], adam = strcmp(u->c->op, "adam") == 0;
    real *w = U(u, n, -1, 1), *m = H(u, n), *v = H(u, n);
    real *dW = D(u, w, n), *dM = D(u, m, n), *dV = D(u, v, n), *dGr = D(u, m, n);
    AdamConfig ac = {1e-3, 0.9, 0.999, 1e-8, u->c->p[2] ? 1e-4 : 0};
    SgdConfig sc = {1e-2, u->c->p[2] / 100.0, u->c->p[3] ? 5e-4 : 0};
    for (int k = 1; k <= steps; k++) {
        real *g = U(u, n, -1e-3, 1e-3);
        cuda_upload(dGr, g, n * sizeof(real));
        if (adam) {
            adam_update(w, g, m, v, n, &ac, k);
            adam_update_cuda(dW, dGr, dM, dV, n, &ac, k);
        } else {
            sgd_update(w, g, m, n, &sc, k);
            sgd_update_cuda(dW, dGr, dM, n, &sc, k);
        }
        cuda_sync("optimizer step");
    }
    CMP(u, "param", w, dW, n, 1);
    if (adam || sc.momentum != 0) CMP(u, adam ? "exp_avg" : "momentum", m, dM, n, 1);
    if (adam) CMP(u, "exp_avg_sq", v, dV, n, 1);
}

static void run_clip(Run *u) {
    const size_t n = (size_t)u->c->p[0];
    real *g = U(u, n, -0.01, 0.01);
    real *dG = D(u, g, n);
    const double nc = clip_grad_norm(g, n, u->c->p[1]);
    const double ng = clip_grad_norm_cuda(dG, n, u->c->p[1]);
    CMP1(u, "norm", nc, ng, (double)n);
    CMP(u, "grad", g, dG, n, 1);
}

typedef struct Runner {
    const char *op;
    void (*run)(Run *);
} Runner;

static const Runner runners[] = {
    {"swish", run_act}, {"relu", run_act}, {"sigmoid", run_act}, {"add", run_add},
    {"channel_scale", run_channel_scale}, {"dropout", run_dropout},
    {"drop_connect", run_drop_connect}, {"l2norm_rows", run_l2norm},
    {"batchnorm_train", run_bn_train}, {"batchnorm_eval", run_bn_eval},
    {"bn_swish", run_bn_act}, {"bn_relu", run_bn_act}, {"bn_add_relu", run_bn_add_relu},
    {"global_avgpool", run_gap}, {"maxpool2d", run_pool2d}, {"avgpool2d", run_pool2d},
    {"conv2d", run_conv}, {"depthwise", run_conv}, {"linear", run_linear},
    {"radix_softmax", run_radix_softmax}, {"radix_sum", run_radix_sum},
    {"radix_weighted_sum", run_radix_sum}, {"cross_entropy", run_ce},
    {"label_smoothing", run_ce}, {"arcface", run_arcface}, {"adam", run_optim},
    {"sgd", run_optim}, {"clip_grad_norm", run_clip},
};

void cuda_check_run_case(const CudaCase *c, CheckReport *r) {
    const Runner *found = NULL;
    for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++)
        if (strcmp(runners[i].op, c->op) == 0) found = &runners[i];
    if (!found) fatal("check-cuda: op '%s' has no CUDA twin in this build", c->op);
    Run u;
    memset(&u, 0, sizeof u);
    u.c = c;
    u.r = r;
    rng_seed(&u.rng, 20240531u + (uint64_t)(c - cuda_cases));
    found->run(&u);
    r->cases++;
    for (int i = 0; i < u.nd; i++) cuda_free(u.dev[i]);
    for (int i = 0; i < u.nh; i++) free(u.host[i]);
}

#endif
