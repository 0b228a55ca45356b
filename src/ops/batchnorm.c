/* BatchNorm2d kernels with PyTorch semantics.
 *
 * Channel statistics (mean, variance, and the two gradient sums of the
 * backward pass) are accumulated in double, in one fixed order per channel
 * (bn_channel.h). Threads split the channels, never a channel's sum, so
 * every result is the same for any thread count. A channel's n planes are
 * read a few times in a row (statistics, then the output), so the later
 * passes mostly hit the cache. */
#include "anomaly/ops/batchnorm.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"
#include "bn_channel.h"

#include <math.h>

/* Below this many elements a parallel region costs more than it saves. */
#define BN_PARALLEL_MIN 32768

VEC_DISPATCH_VOID(forward_train_channel, (real *out, real *mean, real *rstd, real *running_mean,
                                          real *running_var, const real *inp, const real *gamma,
                                          const real *beta, const BatchNormShape *s, int ch),
             (out, mean, rstd, running_mean, running_var, inp, gamma, beta, s, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    real scale, shift;
    bn_channel_stats(mean, rstd, running_mean, running_var, inp, gamma, beta, s, ch, &scale, &shift);
    bn_affine(out + off, inp + off, stride, s->n, s->hw, scale, shift);
}

/* out, inp [n, c, hw]; mean, rstd [c] (written); running_mean, running_var [c]
 * (updated in place, may be NULL); gamma, beta [c]. */
void batchnorm2d_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                               real *running_var, const real *inp, const real *gamma,
                               const real *beta, const BatchNormShape *s) {
    if (exact_mode()) {
        batchnorm2d_forward_train_ref(out, mean, rstd, running_mean, running_var, inp, gamma,
                                      beta, s);
        return;
    }
    bn_check_shape(s, "batchnorm2d_forward_train", 1);
    const size_t count = (size_t)s->n * (size_t)s->hw;
    const int c = s->c;
#pragma omp parallel for schedule(static) if (count * (size_t)c >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++)
        forward_train_channel(out, mean, rstd, running_mean, running_var, inp, gamma, beta, s,
                              ch);
}

VEC_DISPATCH_VOID(forward_eval_channel, (real *out, const real *inp, const real *gamma,
                                         const real *beta, const real *running_mean,
                                         const real *running_var, const BatchNormShape *s, int ch),
             (out, inp, gamma, beta, running_mean, running_var, s, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    real scale, shift;
    bn_eval_scale_shift(gamma, beta, running_mean, running_var, s, ch, &scale, &shift);
    bn_affine(out + off, inp + off, stride, s->n, s->hw, scale, shift);
}

void batchnorm2d_eval_affine(real *affine, const real *gamma, const real *beta,
                             const real *running_mean, const real *running_var,
                             const BatchNormShape *s) {
    for (int ch = 0; ch < s->c; ch++)
        bn_eval_scale_shift(gamma, beta, running_mean, running_var, s, ch, &affine[ch],
                            &affine[s->c + ch]);
}

/* out, inp [n, c, hw]; gamma, beta, running_mean, running_var [c]. */
void batchnorm2d_forward_eval(real *out, const real *inp, const real *gamma, const real *beta,
                              const real *running_mean, const real *running_var,
                              const BatchNormShape *s) {
    if (exact_mode()) {
        batchnorm2d_forward_eval_ref(out, inp, gamma, beta, running_mean, running_var, s);
        return;
    }
    bn_check_shape(s, "batchnorm2d_forward_eval", 0);
    const size_t total = (size_t)s->n * (size_t)s->c * (size_t)s->hw;
#pragma omp parallel for schedule(static) if (total >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < s->c; ch++)
        forward_eval_channel(out, inp, gamma, beta, running_mean, running_var, s, ch);
}

VEC_DISPATCH_VOID(backward_channel, (real *dinp, real *dgamma, real *dbeta, const real *dout,
                                     const real *inp, const real *mean, const real *rstd,
                                     const real *gamma, const BatchNormShape *s, int ch),
             (dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, s, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    const double count = (double)s->n * (double)s->hw;
    const double mu = mean[ch], rs = rstd[ch];
    double sum_dy, sum_dy_xmu; /* sum(dy), sum(dy * (x - mean)) */
    bn_grad_sums(dout + off, inp + off, stride, stride, s->n, s->hw, mu, &sum_dy, &sum_dy_xmu);
    if (dbeta) dbeta[ch] += (real)sum_dy;
    if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
    if (!dinp) return;
    /* dx = (dy - mean(dy) - (x - mean) * k) * gamma * rstd, where
     * k = sum(dy * (x - mean)) * rstd^2 / M. */
    bn_dx(dinp + off, dout + off, inp + off, stride, stride, s->n, s->hw,
          (real)(sum_dy / count), (real)mu, (real)(sum_dy_xmu * rs * rs / count),
          (real)(gamma[ch] * rs));
}

/* dinp, dout, inp [n, c, hw]; dgamma, dbeta, mean, rstd, gamma [c].
 * Any of dinp, dgamma, dbeta may be NULL (not wanted).
 * With xhat = (x - mean) * rstd and M = n * hw:
 *   dbeta = sum(dy), dgamma = sum(dy * xhat),
 *   dx = gamma * rstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat)). */
void batchnorm2d_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                          const real *inp, const real *mean, const real *rstd,
                          const real *gamma, const BatchNormShape *s) {
    if (exact_mode()) {
        batchnorm2d_backward_ref(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, s);
        return;
    }
    bn_check_shape(s, "batchnorm2d_backward", 0);
    const size_t total = (size_t)s->n * (size_t)s->c * (size_t)s->hw;
#pragma omp parallel for schedule(static) if (total >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < s->c; ch++)
        backward_channel(dinp, dgamma, dbeta, dout, inp, mean, rstd, gamma, s, ch);
}

VEC_DISPATCH_VOID(backward_eval_channel, (real *dinp, real *dgamma, real *dbeta, const real *dout,
                                          const real *inp, const real *running_mean,
                                          const real *running_var, const real *gamma,
                                          const BatchNormShape *s, int ch),
             (dinp, dgamma, dbeta, dout, inp, running_mean, running_var, gamma, s, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    const double mu = running_mean[ch];
    const double rs = 1.0 / sqrt((double)running_var[ch] + s->eps);
    if (dgamma || dbeta) {
        double sum_dy, sum_dy_xmu;
        bn_grad_sums(dout + off, inp + off, stride, stride, s->n, s->hw, mu, &sum_dy,
                     &sum_dy_xmu);
        if (dbeta) dbeta[ch] += (real)sum_dy;
        if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
    }
    if (!dinp) return;
    const real g = (real)(gamma[ch] * rs);
    for (int b = 0; b < s->n; b++) {
        const real *dy = dout + off + (size_t)b * stride; /* [hw] */
        real *dx = dinp + off + (size_t)b * stride;       /* [hw] */
        int i = 0;
        for (; i + VLANES <= s->hw; i += VLANES) {
            vreal d, o;
            vload(&d, dy + i);
            vload(&o, dx + i);
            o += d * g;
            vstore(dx + i, &o);
        }
        for (; i < s->hw; i++) dx[i] += dy[i] * g;
    }
}

/* dinp, dout, inp [n, c, hw]; dgamma, dbeta, running_mean, running_var,
 * gamma [c]. Any of dinp, dgamma, dbeta may be NULL. The statistics are
 * constants here, so dx = dy * gamma * rstd. */
void batchnorm2d_backward_eval(real *dinp, real *dgamma, real *dbeta, const real *dout,
                               const real *inp, const real *running_mean,
                               const real *running_var, const real *gamma,
                               const BatchNormShape *s) {
    if (exact_mode()) {
        batchnorm2d_backward_eval_ref(dinp, dgamma, dbeta, dout, inp, running_mean, running_var,
                                      gamma, s);
        return;
    }
    bn_check_shape(s, "batchnorm2d_backward_eval", 0);
    const size_t total = (size_t)s->n * (size_t)s->c * (size_t)s->hw;
#pragma omp parallel for schedule(static) if (total >= BN_PARALLEL_MIN)
    for (int ch = 0; ch < s->c; ch++)
        backward_eval_channel(dinp, dgamma, dbeta, dout, inp, running_mean, running_var, gamma,
                              s, ch);
}
