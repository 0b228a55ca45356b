/* BatchNorm2d with PyTorch semantics.
 *
 * Train: normalise with the batch mean and biased variance over (n, h, w);
 * running = (1 - momentum) * running + momentum * batch, with the UNBIASED
 * variance (count / (count - 1)) going into running_var. The caller
 * increments num_batches_tracked. Eval: normalise with the running
 * statistics. Backward (train mode) ACCUMULATES into dinp, dgamma, dbeta. */
#ifndef ANOMALY_OPS_BATCHNORM_H
#define ANOMALY_OPS_BATCHNORM_H

#include <stdint.h>
#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

typedef struct BatchNormShape {
    int n, c, hw;
    real eps;      /* 1e-3 EfficientNet, 1e-5 ResNet family */
    real momentum; /* PyTorch convention: 0.01 EfficientNet, 0.1 ResNet */
} BatchNormShape;

/* out, inp [n, c, hw]; mean, rstd [c]: saved for backward (rstd = 1/sqrt(var+eps));
 * running_mean, running_var [c]: updated in place (either may be NULL).
 * Needs n * hw >= 2, as PyTorch. Statistics are summed in double. */
void batchnorm2d_forward_train(real *out, real *mean, real *rstd, real *running_mean,
                               real *running_var, const real *inp, const real *gamma,
                               const real *beta, const BatchNormShape *s);
/* Reference (src/ops/ref/batchnorm.c): every channel sum in double, images
 * b = 0..n-1, then positions 0..hw-1, in order (mean, then squared
 * deviations; backward: sum(dy), sum(dy * (x - mean)) together). */
void batchnorm2d_forward_train_ref(real *out, real *mean, real *rstd, real *running_mean,
                                   real *running_var, const real *inp, const real *gamma,
                                   const real *beta, const BatchNormShape *s);
void batchnorm2d_forward_eval(real *out, const real *inp, const real *gamma, const real *beta,
                              const real *running_mean, const real *running_var,
                              const BatchNormShape *s);
void batchnorm2d_forward_eval_ref(real *out, const real *inp, const real *gamma, const real *beta,
                                  const real *running_mean, const real *running_var,
                                  const BatchNormShape *s);
/* affine [2c]: the eval-mode map batchnorm2d_forward_eval applies,
 * y = x * affine[ch] + affine[c + ch] (the form batchnorm2d_act_recompute
 * takes). */
void batchnorm2d_eval_affine(real *affine, const real *gamma, const real *beta,
                             const real *running_mean, const real *running_var,
                             const BatchNormShape *s);
/* Train-mode backward (through the batch statistics). dinp, dgamma and dbeta
 * may each be NULL when not wanted. */
void batchnorm2d_backward(real *dinp, real *dgamma, real *dbeta, const real *dout,
                          const real *inp, const real *mean, const real *rstd,
                          const real *gamma, const BatchNormShape *s);
void batchnorm2d_backward_ref(real *dinp, real *dgamma, real *dbeta, const real *dout,
                              const real *inp, const real *mean, const real *rstd,
                              const real *gamma, const BatchNormShape *s);
/* Eval-mode backward (running statistics are constants). */
void batchnorm2d_backward_eval(real *dinp, real *dgamma, real *dbeta, const real *dout,
                               const real *inp, const real *running_mean,
                               const real *running_var, const real *gamma,
                               const BatchNormShape *s);
void batchnorm2d_backward_eval_ref(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                   const real *inp, const real *running_mean,
                                   const real *running_var, const real *gamma,
                                   const BatchNormShape *s);

/* Autograd. gamma, beta: trainable [c]; running_mean/var: buffers [c];
 * counter: num_batches_tracked (incremented in train mode), may be NULL.
 * Uses batch statistics when t->training, running ones otherwise. A gamma
 * or beta length other than x's channel count is a fatal error naming
 * `name`. Gradients: x's when x->requires_grad, gamma's and beta's when
 * theirs is set. */
Tensor *ag_batchnorm2d(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                       real *running_mean, real *running_var, int64_t *counter,
                       real eps, real momentum);
/* ag_batchnorm2d for an x that nothing reads afterwards (a convolution's
 * output): in inference (tape not recording) in eval mode the output
 * overwrites x and the call returns x, so inference holds one buffer where
 * PyTorch frees the input. Otherwise the same as ag_batchnorm2d. */
Tensor *ag_batchnorm2d_inplace(Tape *t, const char *name, Tensor *x, Tensor *gamma,
                               Tensor *beta, real *running_mean, real *running_var,
                               int64_t *counter, real eps, real momentum);

#endif
