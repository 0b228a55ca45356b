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

/* vec.h's 64-byte vreal is kept in memory, not in registers, by GCC on
 * AVX2 targets, which made these kernels five times slower there. So the
 * elementwise loops run on 32-byte vectors (bnh), a register on AVX2 and
 * AVX-512 alike, and the sums in double come in two widths: 64-byte
 * vectors on AVX-512 (_v64), 32-byte ones elsewhere (_v32), chosen per call
 * by isa_level(). A _v32 step still covers VLANES values, with the per-lane
 * sums and the final tree of vdbl_total, so both give the same bits. */
#define BNH_BYTES 32
#define BNH_LANES ((int)(BNH_BYTES / sizeof(real)))
typedef real bnh __attribute__((vector_size(BNH_BYTES)));
typedef double bnd __attribute__((vector_size(32))); /* 4 doubles */
typedef vint_lane bnhi __attribute__((vector_size(BNH_BYTES)));

VINLINE void bnh_load(bnh *v, const real *p) { memcpy(v, p, sizeof *v); }
VINLINE void bnh_store(real *p, const bnh *v) { memcpy(p, v, sizeof *v); }

/* Per-lane double sums of a VLANES step: lanes 0-3, 4-7 in l0, l1 and (in
 * float) lanes 8-11, 12-15 in h0, h1: vec.h's lo and hi vdbl in halves. */
typedef struct BnSum {
    bnd l0, l1, h0, h1;
} BnSum;

VINLINE void bn_sum_zero(BnSum *a) { a->l0 = a->l1 = a->h0 = a->h1 = (bnd){0}; }

/* The VLANES values at x as four vectors of doubles (in double the last
 * two are zero). */
VINLINE void bn_widen_step(bnd w[4], const real *x) {
#ifdef ANOMALY_F64
    memcpy(&w[0], x, sizeof w[0]);
    memcpy(&w[1], x + 4, sizeof w[1]);
    w[2] = w[3] = (bnd){0};
#else
    typedef float f4 __attribute__((vector_size(16)));
    for (int k = 0; k < 4; k++) {
        f4 q;
        memcpy(&q, x + 4 * k, sizeof q);
        w[k] = __builtin_convertvector(q, bnd);
    }
#endif
}

/* vdbl_total of lo = (l0, l1), hi = (h0, h1). */
VINLINE double bn_sum_total(const BnSum *a) {
    const bnd v0 = a->l0 + a->h0, v1 = a->l1 + a->h1; /* lanes 0-3 and 4-7 of lo + hi */
    return ((v0[0] + v1[0]) + (v0[2] + v1[2])) + ((v0[1] + v1[1]) + (v0[3] + v1[3]));
}

/* sum(x) */
VINLINE double bn_sum_v32(const real *base, size_t stride, int n, int hw) {
    BnSum acc;
    bn_sum_zero(&acc);
    double tail = 0;
    for (int p = 0; p < n; p++) {
        const real *x = base + (size_t)p * stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            bnd w[4];
            bn_widen_step(w, x + i);
            acc.l0 += w[0];
            acc.l1 += w[1];
#ifndef ANOMALY_F64 /* in double the step is lo alone */
            acc.h0 += w[2];
            acc.h1 += w[3];
#endif
        }
        for (; i < hw; i++) tail += x[i];
    }
    return bn_sum_total(&acc) + tail;
}

/* sum((x - mu)^2) */
VINLINE double bn_sq_dev_v32(const real *base, size_t stride, int n, int hw, double mu) {
    BnSum acc;
    bn_sum_zero(&acc);
    const bnd m = (bnd){0} + mu;
    double tail = 0;
    for (int p = 0; p < n; p++) {
        const real *x = base + (size_t)p * stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            bnd w[4];
            bn_widen_step(w, x + i);
            w[0] -= m;
            w[1] -= m;
            acc.l0 += w[0] * w[0];
            acc.l1 += w[1] * w[1];
#ifndef ANOMALY_F64
            w[2] -= m;
            w[3] -= m;
            acc.h0 += w[2] * w[2];
            acc.h1 += w[3] * w[3];
#endif
        }
        for (; i < hw; i++) {
            const double d = x[i] - mu;
            tail += d * d;
        }
    }
    return bn_sum_total(&acc) + tail;
}

/* sum(dy) and sum(dy * (x - mu)); dy and x share the layout. */
VINLINE void bn_grad_sums_v32(const real *dy_base, const real *x_base, size_t dy_stride,
                          size_t x_stride, int n, int hw, double mu, double *sum_dy,
                          double *sum_dy_xmu) {
    BnSum s, q;
    bn_sum_zero(&s);
    bn_sum_zero(&q);
    const bnd m = (bnd){0} + mu;
    double st = 0, pt = 0;
    for (int p = 0; p < n; p++) {
        const real *dy = dy_base + (size_t)p * dy_stride, *x = x_base + (size_t)p * x_stride;
        int i = 0;
        for (; i + VLANES <= hw; i += VLANES) {
            bnd g[4], v[4];
            bn_widen_step(g, dy + i);
            bn_widen_step(v, x + i);
            s.l0 += g[0];
            s.l1 += g[1];
            s.h0 += g[2];
            s.h1 += g[3];
            q.l0 += g[0] * (v[0] - m);
            q.l1 += g[1] * (v[1] - m);
            /* in double these add 0 * (0 - mu), as the 64-byte code did */
            q.h0 += g[2] * (v[2] - m);
            q.h1 += g[3] * (v[3] - m);
        }
        for (; i < hw; i++) {
            st += dy[i];
            pt += dy[i] * (x[i] - mu);
        }
    }
    *sum_dy = bn_sum_total(&s) + st;
    *sum_dy_xmu = bn_sum_total(&q) + pt;
}

/* The sums on 64-byte vectors, for AVX-512 (see above). */

/* sum(x) */
VINLINE double bn_sum_v64(const real *base, size_t stride, int n, int hw) {
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
VINLINE double bn_sq_dev_v64(const real *base, size_t stride, int n, int hw, double mu) {
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
VINLINE void bn_grad_sums_v64(const real *dy_base, const real *x_base, size_t dy_stride,
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

/* The sums on the level's width: 64-byte vectors where they are registers
 * (AVX-512), else 32-byte ones; the same bits either way. */
VINLINE double bn_sum(const real *base, size_t stride, int n, int hw) {
    return isa_level() >= ISA_AVX512 ? bn_sum_v64(base, stride, n, hw)
                                     : bn_sum_v32(base, stride, n, hw);
}

VINLINE double bn_sq_dev(const real *base, size_t stride, int n, int hw, double mu) {
    return isa_level() >= ISA_AVX512 ? bn_sq_dev_v64(base, stride, n, hw, mu)
                                     : bn_sq_dev_v32(base, stride, n, hw, mu);
}

VINLINE void bn_grad_sums(const real *dy_base, const real *x_base, size_t dy_stride,
                          size_t x_stride, int n, int hw, double mu, double *sum_dy,
                          double *sum_dy_xmu) {
    if (isa_level() >= ISA_AVX512)
        bn_grad_sums_v64(dy_base, x_base, dy_stride, x_stride, n, hw, mu, sum_dy, sum_dy_xmu);
    else
        bn_grad_sums_v32(dy_base, x_base, dy_stride, x_stride, n, hw, mu, sum_dy, sum_dy_xmu);
}

/* out = x * scale + shift */
VINLINE void bn_affine(real *out_base, const real *x_base, size_t stride, int n, int hw,
                       real scale, real shift) {
    for (int p = 0; p < n; p++) {
        const real *x = x_base + (size_t)p * stride;
        real *y = out_base + (size_t)p * stride;
        int i = 0;
        for (; i + BNH_LANES <= hw; i += BNH_LANES) {
            bnh v;
            bnh_load(&v, x + i);
            v = v * scale + shift;
            bnh_store(y + i, &v);
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
        for (; i + BNH_LANES <= hw; i += BNH_LANES) {
            bnh v, d, o;
            bnh_load(&v, x + i);
            bnh_load(&d, dy + i);
            bnh_load(&o, dx + i);
            o += (d - mean_dy - (v - mu) * k) * g;
            bnh_store(dx + i, &o);
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
