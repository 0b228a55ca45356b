/* BatchNorm2d + activation, fused (see fused.h).
 *
 * One task per channel, as batchnorm.c, with the same per-channel sums
 * (bn_channel.h), so each value equals the unfused kernels' bit for bit.
 * The activation runs through the same vector code as act.c for every
 * element, the last partial vector of a plane included. Backward keeps the
 * channel's activation gradient in a per-thread buffer of n * hw values,
 * which the two BatchNorm passes then read from cache. */
#include "anomaly/ops/fused.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"
#include "act_rows.h"
#include "bn_channel.h"

#include <math.h>
#include <stdlib.h>

/* Below this many elements a parallel region costs more than it saves. */
#define FUSED_PARALLEL_MIN 32768

/* y = act(z), lane by lane as act.c computes it. */
VINLINE void act_forward(vreal *y, const vreal *z, BnAct act) {
    if (act == BN_ACT_SWISH) {
        vreal s, q;
        vsigmoid_pair(&s, &q, z);
        *y = *z * s;
    } else {
        /* z < 0 ? 0 : z, so NaN stays NaN */
        const vint neg = *z < 0;
        *y = (vreal)((vint)*z & ~neg);
    }
}

/* The activation's input gradient as act.c's backward accumulates it into
 * a zeroed buffer (0 + ..., which turns -0 into +0 just as there). */
VINLINE void act_backward(vreal *dz, const vreal *g, const vreal *z, BnAct act) {
    if (act == BN_ACT_SWISH) {
        vreal s, q;
        vsigmoid_pair(&s, &q, z);
        *dz = VSPLAT(0) + *g * (s * (1 + *z * q));
    } else {
        /* passes where !(z <= 0): positive or NaN, as relu_backward */
        const vint pass = ~(*z <= 0);
        *dz = VSPLAT(0) + (vreal)((vint)*g & pass);
    }
}

/* out[i] = act(z), z = inp[i] * scale + shift (also stored unless NULL),
 * i < n: the one place this arithmetic is written, for the fused kernels
 * and the convolutions' epilogue (act_rows), so their bits agree. */
VINLINE void affine_act_span(real *out, real *z, const real *inp, int n, real scale, real shift,
                             BnAct act) {
    for (int i = 0; i < n; i += VLANES) {
        const int m = n - i < VLANES ? n - i : VLANES;
        vreal x, zv, y;
        vload_n(&x, inp + i, m);
        zv = x * scale + shift;
        act_forward(&y, &zv, act);
        if (z) vstore_n(z + i, &zv, m);
        vstore_n(out + i, &y, m);
    }
}

/* affine_act_span over the planes of channel ch. */
VINLINE void fused_apply_channel(real *out, real *z, const real *inp, real scale, real shift,
                                 const BatchNormShape *s, BnAct act, int ch) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    for (int p = 0; p < s->n; p++) {
        const size_t at = off + (size_t)p * stride;
        affine_act_span(out + at, z ? z + at : NULL, inp + at, s->hw, scale, shift, act);
    }
}

VEC_DISPATCH_VOID(fused_forward_channel, (real *out, real *z, real *mean, real *rstd,
                                          real *affine, real *running_mean, real *running_var,
                                          const real *inp, const real *gamma, const real *beta,
                                          const BatchNormShape *s, BnAct act, int ch),
             (out, z, mean, rstd, affine, running_mean, running_var, inp, gamma, beta, s, act,
              ch)) {
    real scale, shift; /* statistics exactly as batchnorm2d_forward_train */
    bn_channel_stats(mean, rstd, running_mean, running_var, inp, gamma, beta, s, ch, &scale, &shift);
    if (affine) {
        affine[ch] = scale;
        affine[s->c + ch] = shift;
    }
    fused_apply_channel(out, z, inp, scale, shift, s, act, ch);
}

VEC_DISPATCH_VOID(fused_recompute_channel, (real *out, const real *inp, const real *affine,
                                            const BatchNormShape *s, BnAct act, int ch),
             (out, inp, affine, s, act, ch)) {
    fused_apply_channel(out, NULL, inp, affine[ch], affine[s->c + ch], s, act, ch);
}

void batchnorm2d_act_forward_train(real *out, real *z, real *mean, real *rstd, real *affine,
                                   real *running_mean, real *running_var, const real *inp,
                                   const real *gamma, const real *beta, const BatchNormShape *s,
                                   BnAct act) {
    if (exact_mode()) {
        batchnorm2d_act_forward_train_ref(out, z, mean, rstd, affine, running_mean, running_var,
                                          inp, gamma, beta, s, act);
        return;
    }
    bn_check_shape(s, "batchnorm2d_act_forward_train", 1);
    const size_t total = (size_t)s->n * s->c * s->hw;
#pragma omp parallel for schedule(static) if (total >= FUSED_PARALLEL_MIN)
    for (int ch = 0; ch < s->c; ch++)
        fused_forward_channel(out, z, mean, rstd, affine, running_mean, running_var, inp, gamma,
                              beta, s, act, ch);
}

void batchnorm2d_act_recompute(real *out, const real *inp, const real *affine,
                               const BatchNormShape *s, BnAct act) {
    if (exact_mode()) {
        batchnorm2d_act_recompute_ref(out, inp, affine, s, act);
        return;
    }
    bn_check_shape(s, "batchnorm2d_act_recompute", 0);
    const size_t total = (size_t)s->n * s->c * s->hw;
#pragma omp parallel for schedule(static) if (total >= FUSED_PARALLEL_MIN)
    for (int ch = 0; ch < s->c; ch++) fused_recompute_channel(out, inp, affine, s, act, ch);
}

/* rows [rows][cols], ld apart: row r = act(row * scale[r] + shift[r]), in
 * place (elementwise, so where a row starts or ends in its vectors does
 * not change a bit). */
VEC_DISPATCH_VOID(act_rows, (real *y, size_t ld, int rows, int cols, const real *scale,
                             const real *shift, BnAct act),
                  (y, ld, rows, cols, scale, shift, act)) {
    for (int r = 0; r < rows; r++) {
        real *row = y + (size_t)r * ld;
        affine_act_span(row, NULL, row, cols, scale[r], shift[r], act);
    }
}

void batchnorm2d_act_rows(real *y, size_t ld, int rows, int cols, const real *scale,
                          const real *shift, BnAct act) {
    if (rows > 0 && cols > 0) act_rows(y, ld, rows, cols, scale, shift, act);
}

/* dzb [n, hw]: scratch for the channel's activation gradient. */
VEC_DISPATCH_VOID(fused_backward_channel, (real *dinp, real *dgamma, real *dbeta, real *dzb,
                                           const real *dout, const real *inp, const real *z,
                                           const real *mean, const real *rstd, const real *affine,
                                           const real *gamma, const BatchNormShape *s, BnAct act,
                                           int ch),
             (dinp, dgamma, dbeta, dzb, dout, inp, z, mean, rstd, affine, gamma, s, act, ch)) {
    const size_t stride = (size_t)s->c * s->hw, off = (size_t)ch * s->hw;
    /* without z: the BatchNorm output as the forward computed it */
    const real scale = z ? 0 : affine[ch], shift = z ? 0 : affine[s->c + ch];
    for (int p = 0; p < s->n; p++) {
        const size_t at = off + (size_t)p * stride;
        real *d = dzb + (size_t)p * s->hw;
        for (int i = 0; i < s->hw; i += VLANES) {
            const int m = s->hw - i < VLANES ? s->hw - i : VLANES;
            vreal zv, g, dz;
            if (z) {
                vload_n(&zv, z + at + i, m);
            } else {
                vload_n(&zv, inp + at + i, m);
                zv = zv * scale + shift;
            }
            vload_n(&g, dout + at + i, m);
            act_backward(&dz, &g, &zv, act);
            vstore_n(d + i, &dz, m);
        }
    }
    /* from here on as batchnorm2d_backward, with dy read from dzb */
    bn_backward_from_packed(dinp, dgamma, dbeta, dzb, inp, mean, rstd, gamma, s, ch);
}

void batchnorm2d_act_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                              const real *inp, const real *z, const real *mean, const real *rstd,
                              const real *affine, const real *gamma, const BatchNormShape *s,
                              BnAct act) {
    if (exact_mode()) {
        batchnorm2d_act_backward_ref(dinp, dgamma, dbeta, dout, inp, z, mean, rstd, affine, gamma,
                                     s, act);
        return;
    }
    bn_check_shape(s, "batchnorm2d_act_backward", 0);
    if (!z && !affine) fatal("batchnorm2d_act_backward: neither the BatchNorm output nor its affine");
    if (!dinp && !dgamma && !dbeta) return;
    const size_t total = (size_t)s->n * s->c * s->hw, plane = (size_t)s->n * s->hw;
#pragma omp parallel if (total >= FUSED_PARALLEL_MIN)
    {
        real *dzb = xmalloc(plane * sizeof *dzb, "a BatchNorm gradient buffer");
#pragma omp for schedule(static)
        for (int ch = 0; ch < s->c; ch++)
            fused_backward_channel(dinp, dgamma, dbeta, dzb, dout, inp, z, mean, rstd, affine, gamma,
                                   s, act, ch);
        free(dzb);
    }
}
