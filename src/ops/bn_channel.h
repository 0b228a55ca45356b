/* One channel's share of the BatchNorm kernels, vectorised. Private to
 * src/ops (batchnorm.c, fused.c).
 *
 * A channel is n planes of hw values, plane b at base + b * stride (stride
 * c * hw in an NCHW tensor, hw in a packed buffer). Sums are taken in
 * double, VLANES values at a time into per-lane partial sums kept across
 * the planes, then added in a fixed tree; the few values past the last
 * whole vector of a plane go into a scalar sum added last. So every sum
 * depends on the shape only, never on the thread that runs the channel.
 * These are inline helpers: the callers are VEC_DISPATCH kernels and so compile
 * them once per instruction set. */
#ifndef ANOMALY_SRC_OPS_BN_CHANNEL_H
#define ANOMALY_SRC_OPS_BN_CHANNEL_H

#include <math.h>
#include <stddef.h>

#include "anomaly/error.h"
#include "anomaly/ops/batchnorm.h"
#include "vec.h"

/* fatal() naming `who` unless n, c, hw >= 1 and, for batch statistics
 * (train), there is more than one value per channel. */
static inline void bn_check_shape(const BatchNormShape *s, const char *who, int train) {
    if (s->n < 1 || s->c < 1 || s->hw < 1)
        fatal("%s: bad shape n = %d, c = %d, hw = %d", who, s->n, s->c, s->hw);
    if (train && (long)s->n * s->hw < 2)
        fatal("batchnorm2d: training needs more than one value per channel "
              "(n = %d, h*w = %d)", s->n, s->hw);
}

/* sum(x) */
VINLINE double bn_sum(const real *base, size_t stride, int n, int hw) {
    vdbl lo = VDSPLAT(0), hi = VDSPLAT(0), a, b;
    double tail = 0;
    for (int p = 0; p < n; p++) {
        const real *x = base + (size_t)p * stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            vreal v;
            vload(&v, x + i);
            vwiden(&a, &b, &v);
            lo += a;
            hi += b;
        }
        for (; i < hw; i++) tail += x[i];
    }
    return vdbl_total(&lo, &hi) + tail;
}

/* sum((x - mu)^2) */
VINLINE double bn_sq_dev(const real *base, size_t stride, int n, int hw, double mu) {
    vdbl lo = VDSPLAT(0), hi = VDSPLAT(0), a, b;
    const vdbl m = VDSPLAT(mu);
    double tail = 0;
    for (int p = 0; p < n; p++) {
        const real *x = base + (size_t)p * stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            vreal v;
            vload(&v, x + i);
            vwiden(&a, &b, &v);
            a -= m;
            lo += a * a;
#ifndef ANOMALY_F64 /* in double the vector widens to lo alone */
            b -= m;
            hi += b * b;
#endif
        }
        for (; i < hw; i++) {
            const double d = x[i] - mu;
            tail += d * d;
        }
    }
    return vdbl_total(&lo, &hi) + tail;
}

/* sum(dy) and sum(dy * (x - mu)); dy and x share the layout. */
VINLINE void bn_grad_sums(const real *dy_base, const real *x_base, size_t dy_stride,
                          size_t x_stride, int n, int hw, double mu, double *sum_dy,
                          double *sum_dy_xmu) {
    vdbl slo = VDSPLAT(0), shi = VDSPLAT(0), plo = VDSPLAT(0), phi = VDSPLAT(0);
    vdbl ga, gb, xa, xb;
    const vdbl m = VDSPLAT(mu);
    double st = 0, pt = 0;
    for (int p = 0; p < n; p++) {
        const real *dy = dy_base + (size_t)p * dy_stride, *x = x_base + (size_t)p * x_stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            vreal g, v;
            vload(&g, dy + i);
            vload(&v, x + i);
            vwiden(&ga, &gb, &g);
            vwiden(&xa, &xb, &v);
            slo += ga;
            shi += gb;
            plo += ga * (xa - m);
            phi += gb * (xb - m);
        }
        for (; i < hw; i++) {
            st += dy[i];
            pt += dy[i] * (x[i] - mu);
        }
    }
    *sum_dy = vdbl_total(&slo, &shi) + st;
    *sum_dy_xmu = vdbl_total(&plo, &phi) + pt;
}

/* out = x * scale + shift */
VINLINE void bn_affine(real *out_base, const real *x_base, size_t stride, int n, int hw,
                       real scale, real shift) {
    for (int p = 0; p < n; p++) {
        const real *x = x_base + (size_t)p * stride;
        real *y = out_base + (size_t)p * stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            vreal v;
            vload(&v, x + i);
            v = v * scale + shift;
            vstore(y + i, &v);
        }
        for (; i < hw; i++) y[i] = x[i] * scale + shift;
    }
}

/* dx += (dy - mean_dy - (x - mu) * k) * g, the train-mode input gradient;
 * dy may have its own layout (dy_stride), dx and x share the tensor's. */
VINLINE void bn_dx(real *dx_base, const real *dy_base, const real *x_base, size_t dy_stride,
                   size_t stride, int n, int hw, real mean_dy, real mu, real k, real g) {
    for (int p = 0; p < n; p++) {
        const real *x = x_base + (size_t)p * stride, *dy = dy_base + (size_t)p * dy_stride;
        real *dx = dx_base + (size_t)p * stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            vreal v, d, o;
            vload(&v, x + i);
            vload(&d, dy + i);
            vload(&o, dx + i);
            o += (d - mean_dy - (v - mu) * k) * g;
            vstore(dx + i, &o);
        }
        for (; i < hw; i++) dx[i] += (dy[i] - mean_dy - (x[i] - mu) * k) * g;
    }
}

/* Train-mode BatchNorm backward of channel ch from the gradient at its
 * output dzb [n, hw] (packed): dgamma, dbeta, dinp accumulated (each may be
 * NULL), as batchnorm2d_backward computes them. Shared by the fused
 * kernels, which first build dzb through their activation. */
VINLINE void bn_backward_from_packed(real *dinp, real *dgamma, real *dbeta, const real *dzb,
                                     const real *inp, const real *mean, const real *rstd,
                                     const real *gamma, const BatchNormShape *s, int ch) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    const double count = (double)s->n * (double)s->hw;
    const double mu = mean[ch], rs = rstd[ch];
    double sum_dy, sum_dy_xmu;
    bn_grad_sums(dzb, inp + off, (size_t)s->hw, stride, s->n, s->hw, mu, &sum_dy, &sum_dy_xmu);
    if (dbeta) dbeta[ch] += (real)sum_dy;
    if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
    if (!dinp) return;
    bn_dx(dinp + off, dzb, inp + off, (size_t)s->hw, stride, s->n, s->hw,
          (real)(sum_dy / count), (real)mu, (real)(sum_dy_xmu * rs * rs / count),
          (real)(gamma[ch] * rs));
}

/* Eval-mode affine map of one channel from the running statistics, as
 * PyTorch folds it: y = x * scale + shift. */
VINLINE void bn_eval_scale_shift(const real *gamma, const real *beta, const real *running_mean,
                                 const real *running_var, const BatchNormShape *s, int ch,
                                 real *scale, real *shift) {
    const double rs = 1.0 / sqrt((double)running_var[ch] + s->eps);
    *scale = (real)(gamma[ch] * rs);
    *shift = (real)(beta[ch] - running_mean[ch] * (gamma[ch] * rs));
}

/* Train-mode statistics of one channel, shared by batchnorm2d_forward_train
 * and the fused BatchNorm+activation: batch mean and 1/sqrt(var + eps) into
 * mean[ch] / rstd[ch], the running statistics updated (the unbiased variance
 * into running_var), and the folded affine y = x * scale + shift as PyTorch
 * applies it. */
VINLINE void bn_channel_stats(real *mean, real *rstd, real *running_mean, real *running_var,
                              const real *inp, const real *gamma, const real *beta,
                              const BatchNormShape *s, int ch, real *scale, real *shift) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    const double count = (double)s->n * (double)s->hw, momentum = s->momentum;
    const double mu = bn_sum(inp + off, stride, s->n, s->hw) / count;
    /* Two passes: the centred sum of squares does not cancel like
     * E[x^2] - E[x]^2 would for channels with a large mean. */
    const double sq = bn_sq_dev(inp + off, stride, s->n, s->hw, mu);
    const double rs = 1.0 / sqrt(sq / count + s->eps);
    mean[ch] = (real)mu;
    rstd[ch] = (real)rs;
    if (running_mean)
        running_mean[ch] = (real)(momentum * mu + (1.0 - momentum) * running_mean[ch]);
    if (running_var)
        running_var[ch] =
            (real)(momentum * (sq / (count - 1)) + (1.0 - momentum) * running_var[ch]);
    *scale = (real)(gamma[ch] * rs);
    *shift = (real)(beta[ch] - mu * gamma[ch] * rs);
}

#endif
