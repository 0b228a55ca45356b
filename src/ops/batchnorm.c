/* BatchNorm2d kernels with PyTorch semantics.
 *
 * Channel statistics (mean, variance, and the two gradient sums of the
 * backward pass) are accumulated in double, plane by plane, in one fixed
 * order per channel. Threads split the channels, never a
 * channel's sum, so every result is the same for any thread count. */
#include "anomaly/ops/batchnorm.h"
#include "anomaly/error.h"

#include <math.h>

/* Below this many elements a parallel region costs more than it saves. */
#define BN_PARALLEL_MIN 32768

static size_t plane_offset(const BatchNormShape *s, int b, int ch) {
    return ((size_t)b * (size_t)s->c + (size_t)ch) * (size_t)s->hw;
}

/* sum(x) over one plane [hw], in double, with four interleaved partial sums
 * (one dependency chain would bound the speed by the add latency) combined
 * in a fixed order. */
static double plane_sum(const real *x, int hw) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int i = 0;
    for (; i + 4 <= hw; i += 4) {
        a0 += x[i];
        a1 += x[i + 1];
        a2 += x[i + 2];
        a3 += x[i + 3];
    }
    for (; i < hw; i++) a0 += x[i];
    return (a0 + a1) + (a2 + a3);
}

/* sum((x - mu)^2) over one plane [hw], as plane_sum. */
static double plane_sq_dev(const real *x, int hw, double mu) {
    double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    int i = 0;
    for (; i + 4 <= hw; i += 4) {
        const double d0 = x[i] - mu, d1 = x[i + 1] - mu, d2 = x[i + 2] - mu, d3 = x[i + 3] - mu;
        a0 += d0 * d0;
        a1 += d1 * d1;
        a2 += d2 * d2;
        a3 += d3 * d3;
    }
    for (; i < hw; i++) {
        const double d = x[i] - mu;
        a0 += d * d;
    }
    return (a0 + a1) + (a2 + a3);
}

/* sum(dy) and sum(dy * (x - mu)) over one plane [hw], as plane_sum. */
static void plane_grad_sums(const real *dy, const real *x, int hw, double mu, double *sum_dy,
                            double *sum_dy_xmu) {
    double a0 = 0, a1 = 0, b0 = 0, b1 = 0;
    int i = 0;
    for (; i + 2 <= hw; i += 2) {
        a0 += dy[i];
        a1 += dy[i + 1];
        b0 += dy[i] * (x[i] - mu);
        b1 += dy[i + 1] * (x[i + 1] - mu);
    }
    for (; i < hw; i++) {
        a0 += dy[i];
        b0 += dy[i] * (x[i] - mu);
    }
    *sum_dy += a0 + a1;
    *sum_dy_xmu += b0 + b1;
}

static void check_shape(const BatchNormShape *s, const char *who) {
    if (s->n < 1 || s->c < 1 || s->hw < 1)
        fatal("%s: bad shape n = %d, c = %d, hw = %d", who, s->n, s->c, s->hw);
}

/* out, inp [n, c, hw]; mean, rstd [c] (written); running_mean, running_var [c]
 * (updated in place, may be NULL); gamma, beta [c]. */
void batchnorm2d_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                               real *running_var, const real *inp, const real *gamma,
                               const real *beta, const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_forward_train");
    const size_t count = (size_t)s->n * (size_t)s->hw;
    if (count < 2)
        fatal("batchnorm2d: training needs more than one value per channel "
              "(n = %d, h*w = %d)", s->n, s->hw);
    const int n = s->n, c = s->c, hw = s->hw;
    const double eps = s->eps, momentum = s->momentum;
#pragma omp parallel for schedule(static) if (count * (size_t)c >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        double sum = 0;
        for (int b = 0; b < n; b++) sum += plane_sum(inp + plane_offset(s, b, ch), hw);
        const double mu = sum / (double)count;
        /* Two passes: the centred sum of squares does not cancel like
         * E[x^2] - E[x]^2 would for channels with a large mean. */
        double sq = 0;
        for (int b = 0; b < n; b++) sq += plane_sq_dev(inp + plane_offset(s, b, ch), hw, mu);
        const double var = sq / (double)count;
        const double rs = 1.0 / sqrt(var + eps);
        mean[ch] = (real)mu;
        rstd[ch] = (real)rs;
        if (running_mean)
            running_mean[ch] = (real)(momentum * mu + (1.0 - momentum) * running_mean[ch]);
        if (running_var)
            running_var[ch] = (real)(momentum * (sq / (double)(count - 1)) +
                                     (1.0 - momentum) * running_var[ch]);
        /* y = x * scale + shift, as PyTorch folds the affine transform. */
        const real scale = (real)(gamma[ch] * rs);
        const real shift = (real)(beta[ch] - mu * gamma[ch] * rs);
        for (int b = 0; b < n; b++) {
            const real *x = inp + plane_offset(s, b, ch); /* [hw] */
            real *y = out + plane_offset(s, b, ch);       /* [hw] */
            for (int i = 0; i < hw; i++) y[i] = x[i] * scale + shift;
        }
    }
}

/* out, inp [n, c, hw]; gamma, beta, running_mean, running_var [c]. */
void batchnorm2d_forward_eval(real *out, const real *inp, const real *gamma, const real *beta,
                              const real *running_mean, const real *running_var,
                              const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_forward_eval");
    const int n = s->n, c = s->c, hw = s->hw;
    const double eps = s->eps;
    const size_t total = (size_t)n * (size_t)c * (size_t)hw;
#pragma omp parallel for schedule(static) if (total >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const double rs = 1.0 / sqrt((double)running_var[ch] + eps);
        const real scale = (real)(gamma[ch] * rs);
        const real shift = (real)(beta[ch] - running_mean[ch] * (gamma[ch] * rs));
        for (int b = 0; b < n; b++) {
            const real *x = inp + plane_offset(s, b, ch); /* [hw] */
            real *y = out + plane_offset(s, b, ch);       /* [hw] */
            for (int i = 0; i < hw; i++) y[i] = x[i] * scale + shift;
        }
    }
}

/* dinp, dout, inp [n, c, hw]; dgamma, dbeta, mean, rstd, gamma [c].
 * Any of dinp, dgamma, dbeta may be NULL (not wanted).
 * With xhat = (x - mean) * rstd and M = n * hw:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat),
 *   dx = gamma * rstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)). */
void batchnorm2d_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                          const real *inp, const real *mean, const real *rstd,
                          const real *gamma, const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_backward");
    const int n = s->n, c = s->c, hw = s->hw;
    const double count = (double)n * (double)hw;
    const size_t total = (size_t)n * (size_t)c * (size_t)hw;
#pragma omp parallel for schedule(static) if (total >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const double mu = mean[ch], rs = rstd[ch];
        double sum_dy = 0, sum_dy_xmu = 0; /* sum(dy), sum(dy * (x - mean)) */
        for (int b = 0; b < n; b++)
            plane_grad_sums(dout + plane_offset(s, b, ch), inp + plane_offset(s, b, ch), hw, mu,
                            &sum_dy, &sum_dy_xmu);
        if (dbeta) dbeta[ch] += (real)sum_dy;
        if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
        if (!dinp) continue;
        /* dx = (dy - mean(dy) - (x - mean) * k) * gamma * rstd, where
         * k = sum(dy * (x - mean)) * rstd^2 / M. */
        const real mean_dy = (real)(sum_dy / count);
        const real k = (real)(sum_dy_xmu * rs * rs / count);
        const real mu_r = (real)mu;
        const real g = (real)(gamma[ch] * rs);
        for (int b = 0; b < n; b++) {
            const real *x = inp + plane_offset(s, b, ch);   /* [hw] */
            const real *dy = dout + plane_offset(s, b, ch); /* [hw] */
            real *dx = dinp + plane_offset(s, b, ch);       /* [hw] */
            for (int i = 0; i < hw; i++) dx[i] += (dy[i] - mean_dy - (x[i] - mu_r) * k) * g;
        }
    }
}

/* dinp, dout, inp [n, c, hw]; dgamma, dbeta, running_mean, running_var,
 * gamma [c]. Any of dinp, dgamma, dbeta may be NULL. The statistics are
 * constants here, so dx = dy * gamma * rstd. */
void batchnorm2d_backward_eval(real *dinp, real *dgamma, real *dbeta, const real *dout,
                               const real *inp, const real *running_mean,
                               const real *running_var, const real *gamma,
                               const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_backward_eval");
    const int n = s->n, c = s->c, hw = s->hw;
    const double eps = s->eps;
    const size_t total = (size_t)n * (size_t)c * (size_t)hw;
#pragma omp parallel for schedule(static) if (total >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const double mu = running_mean[ch];
        const double rs = 1.0 / sqrt((double)running_var[ch] + eps);
        if (dgamma || dbeta) {
            double sum_dy = 0, sum_dy_xmu = 0;
            for (int b = 0; b < n; b++)
                plane_grad_sums(dout + plane_offset(s, b, ch), inp + plane_offset(s, b, ch), hw,
                                mu, &sum_dy, &sum_dy_xmu);
            if (dbeta) dbeta[ch] += (real)sum_dy;
            if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
        }
        if (!dinp) continue;
        const real g = (real)(gamma[ch] * rs);
        for (int b = 0; b < n; b++) {
            const real *dy = dout + plane_offset(s, b, ch); /* [hw] */
            real *dx = dinp + plane_offset(s, b, ch);       /* [hw] */
            for (int i = 0; i < hw; i++) dx[i] += dy[i] * g;
        }
    }
}
