/* BatchNorm2d + residual add + ReLU, fused: the end of a ResNet bottleneck
 * (see fused.h).
 *
 * The unfused chain keeps three tensors alive until backward (BatchNorm's
 * output, the sum, the ReLU output) and makes five passes over memory; the
 * fused kernel keeps only the output and works a channel at a time. The
 * arithmetic is that of batchnorm.c, elementwise.c and act.c in the same
 * order, so every value equals the unfused chain's bit for bit: ReLU passes
 * its gradient where !(sum <= 0), which is exactly where !(out <= 0). */
#include "anomaly/ops/fused.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"
#include "bn_channel.h"

#include <stdlib.h>

/* Below this many elements a parallel region costs more than it saves. */
#define FUSED_ADD_PARALLEL_MIN 32768

VEC_DISPATCH_VOID(bn_add_relu_forward_channel, (real *out, real *mean, real *rstd,
                                                real *running_mean, real *running_var,
                                                const real *inp, const real *res,
                                                const real *gamma, const real *beta,
                                                const BatchNormShape *s, int ch),
             (out, mean, rstd, running_mean, running_var, inp, res, gamma, beta, s, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    real scale, shift;
    bn_channel_stats(mean, rstd, running_mean, running_var, inp, gamma, beta, s, ch, &scale, &shift);
    for (int p = 0; p < s->n; p++) {
        const size_t at = off + (size_t)p * stride;
        for (int i = 0; i < s->hw; i += VLANES) {
            const int m = s->hw - i < VLANES ? s->hw - i : VLANES;
            vreal x, r, z;
            vload_n(&x, inp + at + i, m);
            vload_n(&r, res + at + i, m);
            z = x * scale + shift; /* BatchNorm */
            z = z + r;             /* the residual */
            const vint neg = z < 0; /* ReLU, NaN stays NaN */
            z = (vreal)((vint)z & ~neg);
            vstore_n(out + at + i, &z, m);
        }
    }
}

void batchnorm2d_add_relu_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                                        real *running_var, const real *inp, const real *res,
                                        const real *gamma, const real *beta,
                                        const BatchNormShape *s) {
    if (exact_mode()) {
        batchnorm2d_add_relu_forward_train_ref(out, mean, rstd, running_mean, running_var, inp,
                                               res, gamma, beta, s);
        return;
    }
    bn_check_shape(s, "batchnorm2d_add_relu_forward_train", 1);
    const size_t total = (size_t)s->n * s->c * s->hw;
#pragma omp parallel for schedule(static) if (total >= FUSED_ADD_PARALLEL_MIN)
    for (int ch = 0; ch < s->c; ch++)
        bn_add_relu_forward_channel(out, mean, rstd, running_mean, running_var, inp, res, gamma,
                                    beta, s, ch);
}

/* dzb [n, hw]: scratch for the channel's gradient at the sum. */
VEC_DISPATCH_VOID(bn_add_relu_backward_channel, (real *dinp, real *dres, real *dgamma,
                                                 real *dbeta, real *dzb, const real *dout,
                                                 const real *out, const real *inp,
                                                 const real *mean, const real *rstd,
                                                 const real *gamma, const BatchNormShape *s,
                                                 int ch),
             (dinp, dres, dgamma, dbeta, dzb, dout, out, inp, mean, rstd, gamma, s, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    for (int p = 0; p < s->n; p++) {
        const size_t at = off + (size_t)p * stride;
        real *d = dzb + (size_t)p * s->hw;
        for (int i = 0; i < s->hw; i += VLANES) {
            const int m = s->hw - i < VLANES ? s->hw - i : VLANES;
            vreal y, g, dz;
            vload_n(&y, out + at + i, m);
            vload_n(&g, dout + at + i, m);
            const vint pass = ~(y <= 0);
            dz = VSPLAT(0) + (vreal)((vint)g & pass); /* as relu_backward into zeros */
            vstore_n(d + i, &dz, m);
            if (dres) {
                vreal r;
                vload_n(&r, dres + at + i, m);
                r += dz; /* as add_backward */
                vstore_n(dres + at + i, &r, m);
            }
        }
    }
    /* BatchNorm's gradient from the sum's */
    bn_backward_from_packed(dinp, dgamma, dbeta, dzb, inp, mean, rstd, gamma, s, ch);
}

void batchnorm2d_add_relu_backward(real *dinp, real *dres, real *dgamma, real *dbeta,
                                   const real *dout, const real *out, const real *inp,
                                   const real *mean, const real *rstd, const real *gamma,
                                   const BatchNormShape *s) {
    if (exact_mode()) {
        batchnorm2d_add_relu_backward_ref(dinp, dres, dgamma, dbeta, dout, out, inp, mean, rstd,
                                          gamma, s);
        return;
    }
    bn_check_shape(s, "batchnorm2d_add_relu_backward", 0);
    if (!dinp && !dres && !dgamma && !dbeta) return;
    const size_t total = (size_t)s->n * s->c * s->hw, plane = (size_t)s->n * s->hw;
#pragma omp parallel if (total >= FUSED_ADD_PARALLEL_MIN)
    {
        real *dzb = xmalloc(plane * sizeof *dzb, "a BatchNorm gradient buffer");
#pragma omp for schedule(static)
        for (int ch = 0; ch < s->c; ch++)
            bn_add_relu_backward_channel(dinp, dres, dgamma, dbeta, dzb, dout, out, inp, mean,
                                         rstd, gamma, s, ch);
        free(dzb);
    }
}
