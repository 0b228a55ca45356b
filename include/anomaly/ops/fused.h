/* BatchNorm2d followed by an activation (swish or ReLU), as one kernel.
 *
 * The unfused pair writes the BatchNorm output, reads it back for the
 * activation, and in backward writes the activation's input gradient to
 * memory only to read it again for BatchNorm's. The fused kernels work a
 * channel at a time, so the intermediate stays in cache. The values are
 * those of the unfused kernels, bit for bit: the same formulas in the same
 * order. Backward without the BatchNorm output recomputes it with the
 * affine map the forward used (saved in `affine`), so it too is exact.
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
 * statistics = inp * scale + shift per channel; z [n, c, hw] is also
 * written unless NULL. mean, rstd [c]: saved for backward; affine [2c]:
 * scale then shift, saved unless NULL; running_mean, running_var [c]:
 * updated (either may be NULL); gamma, beta [c]. */
void batchnorm2d_act_forward_train(real *out, real *z, real *mean, real *rstd, real *affine,
                                   real *running_mean, real *running_var, const real *inp,
                                   const real *gamma, const real *beta, const BatchNormShape *s,
                                   BnAct act);
/* Reference (src/ops/ref/fused.c): batchnorm2d_forward_train_ref's sums,
 * then the reference activation; backward: the activation's, then
 * batchnorm2d_backward_ref's. */
void batchnorm2d_act_forward_train_ref(real *out, real *z, real *mean, real *rstd, real *affine,
                                       real *running_mean, real *running_var, const real *inp,
                                       const real *gamma, const real *beta,
                                       const BatchNormShape *s, BnAct act);

/* out = act(inp * scale + shift) with the forward's saved affine [2c]: its
 * output again, bit for bit (for activations recomputed in backward). */
void batchnorm2d_act_recompute(real *out, const real *inp, const real *affine,
                               const BatchNormShape *s, BnAct act);
void batchnorm2d_act_recompute_ref(real *out, const real *inp, const real *affine,
                                   const BatchNormShape *s, BnAct act);

/* Train-mode backward through act and BatchNorm. dout: gradient of out;
 * inp: BatchNorm's input; z: its output, or NULL to recompute it from inp
 * and the forward's affine [2c]. */
void batchnorm2d_act_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                              const real *inp, const real *z, const real *mean, const real *rstd,
                              const real *affine, const real *gamma, const BatchNormShape *s,
                              BnAct act);
void batchnorm2d_act_backward_ref(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                  const real *inp, const real *z, const real *mean,
                                  const real *rstd, const real *affine, const real *gamma,
                                  const BatchNormShape *s, BnAct act);

/* Train mode: out = relu(batchnorm(inp) + res) [n, c, hw], the end of a
 * ResNet bottleneck, without writing BatchNorm's output or the sum.
 * Statistics as batchnorm2d_act_forward_train. */
void batchnorm2d_add_relu_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                                        real *running_var, const real *inp, const real *res,
                                        const real *gamma, const real *beta,
                                        const BatchNormShape *s);
/* Reference (src/ops/ref/fused_add.c): batchnorm2d_forward_train_ref's sums,
 * then add and ReLU; backward: ReLU's and add's, then batchnorm2d_backward_ref's. */
void batchnorm2d_add_relu_forward_train_ref(real *out, real *mean, real *rstd, real *running_mean,
                                            real *running_var, const real *inp, const real *res,
                                            const real *gamma, const real *beta,
                                            const BatchNormShape *s);

/* Its backward, from the forward's output: dres receives the gradient of
 * res, dinp that of BatchNorm's input (each accumulated, either may be
 * NULL). */
void batchnorm2d_add_relu_backward(real *dinp, real *dres, real *dgamma, real *dbeta,
                                   const real *dout, const real *out, const real *inp,
                                   const real *mean, const real *rstd, const real *gamma,
                                   const BatchNormShape *s);
void batchnorm2d_add_relu_backward_ref(real *dinp, real *dres, real *dgamma, real *dbeta,
                                       const real *dout, const real *out, const real *inp,
                                       const real *mean, const real *rstd, const real *gamma,
                                       const BatchNormShape *s);

/* Autograd: act(batchnorm(x)) without keeping the BatchNorm output (in
 * eval mode, or when t->training is 0: the two unfused ops). Arguments as
 * ag_batchnorm2d. */
Tensor *ag_batchnorm2d_act(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                           real *running_mean, real *running_var, int64_t *counter, real eps,
                           real momentum, BnAct act);
/* The same, not keeping the output either when the tape records a training
 * step: it goes to the tape's recompute buffer and is recomputed from x in
 * backward (tape_input), so its one consumer must be a convolution called
 * right after. */
Tensor *ag_batchnorm2d_act_transient(Tape *t, const char *name, Tensor *x, Tensor *gamma,
                                     Tensor *beta, real *running_mean, real *running_var,
                                     int64_t *counter, real eps, real momentum, BnAct act);

/* Inference (tape neither recording nor training) only: act(batchnorm(x))
 * with the running statistics, written over x and returned, in one pass:
 * the affine map as batchnorm2d_forward_eval computes it, then
 * batchnorm2d_act_recompute, so the same bits as the two eval kernels one
 * after the other. */
Tensor *ag_batchnorm2d_act_eval_inplace(Tape *t, const char *name, Tensor *x, Tensor *gamma,
                                        Tensor *beta, const real *running_mean,
                                        const real *running_var, real eps, BnAct act);

/* Autograd: relu(batchnorm(x) + res) keeping only x and the output (in eval
 * mode, or when t->training is 0: the three unfused ops). */
Tensor *ag_batchnorm2d_add_relu(Tape *t, const char *name, Tensor *x, Tensor *res, Tensor *gamma,
                                Tensor *beta, real *running_mean, real *running_var,
                                int64_t *counter, real eps, real momentum);

#endif
