/* BatchNorm2d followed by an activation (swish or ReLU), as one kernel.
 *
 * The unfused pair writes the BatchNorm output, reads it back for the
 * activation, and in backward writes the activation's input gradient to
 * memory only to read it again for BatchNorm's. The fused kernels work a
 * channel at a time, so the intermediate stays in cache. The values are
 * those of the unfused kernels, bit for bit: the same formulas in the same
 * order. (Only when backward is not given the BatchNorm output does it
 * recompute it, from the saved statistics, which are rounded to `real`: the
 * activation's slope is then taken within an ulp of the forward's input.)
 * Backward ACCUMULATES into dinp, dgamma, dbeta (each may be NULL). Results
 * do not depend on the thread count. */
#ifndef ANOMALY_OPS_FUSED_H
#define ANOMALY_OPS_FUSED_H

#include "../real.h"
#include "../tensor.h"
#include "../tape.h"
#include "batchnorm.h"

typedef enum BnAct { BN_ACT_SWISH = 1, BN_ACT_RELU = 2 } BnAct;

/* Train mode. out [n, c, hw] = act(z), z = batchnorm(inp) with batch
 * statistics; z [n, c, hw] is also written unless NULL. mean, rstd [c]:
 * saved for backward; running_mean, running_var [c]: updated (either may be
 * NULL); gamma, beta [c]. */
void batchnorm2d_act_forward_train(real *out, real *z, real *mean, real *rstd,
                                   real *running_mean, real *running_var, const real *inp,
                                   const real *gamma, const real *beta, const BatchNormShape *s,
                                   BnAct act);

/* Train-mode backward through act and BatchNorm. dout: gradient of out;
 * inp: BatchNorm's input; z: its output, or NULL to recompute it from inp
 * and the saved statistics. */
void batchnorm2d_act_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                              const real *inp, const real *z, const real *mean, const real *rstd,
                              const real *gamma, const real *beta, const BatchNormShape *s,
                              BnAct act);

/* Autograd: act(batchnorm(x)) without keeping the BatchNorm output (in
 * eval mode, or when t->training is 0: the two unfused ops). Arguments as
 * ag_batchnorm2d. */
Tensor *ag_batchnorm2d_act(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                           real *running_mean, real *running_var, int64_t *counter, real eps,
                           real momentum, BnAct act);

#endif
