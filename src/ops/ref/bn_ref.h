/* BatchNorm pieces the reference kernels share (ref/batchnorm.c,
 * ref/fused.c, ref/fused_add.c). Private to src/ops/ref. */
#ifndef ANOMALY_SRC_OPS_REF_BN_REF_H
#define ANOMALY_SRC_OPS_REF_BN_REF_H

#include "anomaly/ops/batchnorm.h"

/* fatal() naming `who` unless n, c, hw >= 1 and, for batch statistics
 * (train), a channel holds more than one value. */
void bn_ref_check(const BatchNormShape *s, const char *who, int train);

/* Train-mode statistics of every channel: mean[c], rstd[c] = 1/sqrt(var +
 * eps), the running statistics updated (either may be NULL), and the
 * affine map PyTorch applies, scale = gamma * rstd, shift = beta - mean *
 * gamma * rstd, into affine[2c] (scales, then shifts). Sums in double,
 * images b = 0..n-1 then positions i = 0..hw-1 in order; two passes (mean,
 * then squared deviations). */
void bn_ref_stats(real *mean, real *rstd, real *running_mean, real *running_var, real *affine,
                  const real *inp, const real *gamma, const real *beta, const BatchNormShape *s);

/* out[b, ch, i] = inp[b, ch, i] * affine[ch] + affine[c + ch] */
void bn_ref_apply(real *out, const real *inp, const real *affine, const BatchNormShape *s);

#endif
