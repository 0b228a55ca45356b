/* Reference BatchNorm2d (batchnorm.h). Channel sums are taken in double,
 * images b = 0..n-1, then positions i = 0..hw-1, in that order; everything
 * else is per element. Threads split the channels, never a sum. */
#include "anomaly/ops/batchnorm.h"
#include "anomaly/error.h"
#include "bn_ref.h"

#include <math.h>
#include <stdlib.h>

void bn_ref_check(const BatchNormShape *s, const char *who, int train) {
    if (s->n < 1 || s->c < 1 || s->hw < 1)
        fatal("%s: bad shape n = %d, c = %d, hw = %d", who, s->n, s->c, s->hw);
    if (train && (long)s->n * s->hw < 2)
        fatal("batchnorm2d: training needs more than one value per channel "
              "(n = %d, h*w = %d)", s->n, s->hw);
}

/* Element (b, ch, i) of an [n, c, hw] tensor. */
#define AT(b, ch, i) (((size_t)(b) * s->c + (ch)) * s->hw + (i))

void bn_ref_stats(real *mean, real *rstd, real *running_mean, real *running_var, real *affine,
                  const real *inp, const real *gamma, const real *beta, const BatchNormShape *s) {
    const double count = (double)s->n * s->hw, momentum = s->momentum;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++) {
        double sum = 0, sq = 0;
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++) sum += inp[AT(b, ch, i)];
        const double mu = sum / count;
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++) {
                const double d = inp[AT(b, ch, i)] - mu;
                sq += d * d;
            }
        const double rs = 1.0 / sqrt(sq / count + s->eps);
        mean[ch] = (real)mu;
        rstd[ch] = (real)rs;
        if (running_mean)
            running_mean[ch] = (real)(momentum * mu + (1.0 - momentum) * running_mean[ch]);
        if (running_var) /* the unbiased variance */
            running_var[ch] =
                (real)(momentum * (sq / (count - 1)) + (1.0 - momentum) * running_var[ch]);
        affine[ch] = (real)(gamma[ch] * rs);
        affine[s->c + ch] = (real)(beta[ch] - mu * gamma[ch] * rs);
    }
}

void bn_ref_apply(real *out, const real *inp, const real *affine, const BatchNormShape *s) {
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++)
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++)
                out[AT(b, ch, i)] = inp[AT(b, ch, i)] * affine[ch] + affine[s->c + ch];
}

void batchnorm2d_forward_train_ref(real *out, real *mean, real *rstd, real *running_mean,
                                   real *running_var, const real *inp, const real *gamma,
                                   const real *beta, const BatchNormShape *s) {
    bn_ref_check(s, "batchnorm2d_forward_train", 1);
    real *affine = xmalloc(2 * (size_t)s->c * sizeof *affine, "BatchNorm affine map");
    bn_ref_stats(mean, rstd, running_mean, running_var, affine, inp, gamma, beta, s);
    bn_ref_apply(out, inp, affine, s);
    free(affine);
}

/* scale = gamma / sqrt(running_var + eps), shift = beta - running_mean * scale
 * (both formed in double, rounded once) */
void batchnorm2d_forward_eval_ref(real *out, const real *inp, const real *gamma, const real *beta,
                                  const real *running_mean, const real *running_var,
                                  const BatchNormShape *s) {
    bn_ref_check(s, "batchnorm2d_forward_eval", 0);
    real *affine = xmalloc(2 * (size_t)s->c * sizeof *affine, "BatchNorm affine map");
    for (int ch = 0; ch < s->c; ch++) {
        const double rs = 1.0 / sqrt((double)running_var[ch] + s->eps);
        affine[ch] = (real)(gamma[ch] * rs);
        affine[s->c + ch] = (real)(beta[ch] - running_mean[ch] * (gamma[ch] * rs));
    }
    bn_ref_apply(out, inp, affine, s);
    free(affine);
}

/* Per channel, with M = n * hw:
 *   dbeta += sum(dy), dgamma += sum(dy * (x - mean)) * rstd   (sums in double)
 *   dx += (dy - sum(dy) / M - (x - mean) * k) * gamma * rstd,
 *   k = sum(dy * (x - mean)) * rstd^2 / M   (each factor rounded to `real`). */
void batchnorm2d_backward_ref(real *dinp, real *dgamma, real *dbeta, const real *dout,
                              const real *inp, const real *mean, const real *rstd,
                              const real *gamma, const BatchNormShape *s) {
    bn_ref_check(s, "batchnorm2d_backward", 0);
    const double count = (double)s->n * s->hw;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++) {
        const double mu = mean[ch], rs = rstd[ch];
        double sum_dy = 0, sum_dy_xmu = 0;
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++) {
                sum_dy += dout[AT(b, ch, i)];
                sum_dy_xmu += dout[AT(b, ch, i)] * (inp[AT(b, ch, i)] - mu);
            }
        if (dbeta) dbeta[ch] += (real)sum_dy;
        if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
        if (!dinp) continue;
        const real mean_dy = (real)(sum_dy / count), m = (real)mu;
        const real k = (real)(sum_dy_xmu * rs * rs / count), g = (real)(gamma[ch] * rs);
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++)
                dinp[AT(b, ch, i)] += (dout[AT(b, ch, i)] - mean_dy - (inp[AT(b, ch, i)] - m) * k) * g;
    }
}

/* The statistics are constants: dx += dy * gamma * rstd; dgamma, dbeta as
 * in train mode but around the running mean. */
void batchnorm2d_backward_eval_ref(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                   const real *inp, const real *running_mean,
                                   const real *running_var, const real *gamma,
                                   const BatchNormShape *s) {
    bn_ref_check(s, "batchnorm2d_backward_eval", 0);
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < s->c; ch++) {
        const double mu = running_mean[ch];
        const double rs = 1.0 / sqrt((double)running_var[ch] + s->eps);
        double sum_dy = 0, sum_dy_xmu = 0;
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++) {
                sum_dy += dout[AT(b, ch, i)];
                sum_dy_xmu += dout[AT(b, ch, i)] * (inp[AT(b, ch, i)] - mu);
            }
        if (dbeta) dbeta[ch] += (real)sum_dy;
        if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
        if (!dinp) continue;
        const real g = (real)(gamma[ch] * rs);
        for (int b = 0; b < s->n; b++)
            for (int i = 0; i < s->hw; i++) dinp[AT(b, ch, i)] += dout[AT(b, ch, i)] * g;
    }
}
