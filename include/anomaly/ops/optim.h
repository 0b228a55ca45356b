/* Optimizers with PyTorch semantics (torch.optim, single-tensor path) and
 * global gradient-norm clipping (torch.nn.utils.clip_grad_norm_). They run
 * over flat arrays: a ParamTable's param/grad/m/v. The updates round where
 * PyTorch 1.13's CPU kernels round, so they reproduce its float32 (and
 * float64) sequences bit for bit; results never depend on the thread count. */
#ifndef ANOMALY_OPS_OPTIM_H
#define ANOMALY_OPS_OPTIM_H

#include <stddef.h>
#include "../real.h"

typedef struct AdamConfig {
    double lr, beta1, beta2, eps, weight_decay; /* 5e-5, 0.9, 0.999, 1e-8, 1e-4 */
} AdamConfig;

/* One Adam step; `step` is the 1-based step count after this update.
 * The gradient used is grad + wd * param (L2, as torch.optim.Adam); the
 * grad array itself is not modified. m, v start at zero. */
void adam_update(real *param, const real *grad, real *m, real *v, size_t n,
                 const AdamConfig *cfg, long step);
/* Reference: element by element with the same roundings (fma is one IEEE
 * rounding on every CPU); bias corrections through pm_pow. */
void adam_update_ref(real *param, const real *grad, real *m, real *v, size_t n,
                     const AdamConfig *cfg, long step);

typedef struct SgdConfig {
    double lr, momentum, weight_decay; /* momentum 0.9, weight decay 5e-4 */
} SgdConfig;

/* One SGD step with momentum (dampening 0, no Nesterov), weight decay added
 * to the gradient. buf is the momentum buffer; on the first step (step == 1)
 * it is set to the gradient. With momentum 0, buf is unused (may be NULL). */
void sgd_update(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                long step);
/* Reference: element by element, the same roundings. */
void sgd_update_ref(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                    long step);

/* Global L2 norm of grad [n], accumulated in double over fixed-size chunks
 * added in order (PyTorch sums in float32, so it may differ by ~1e-6). */
double grad_global_norm(const real *grad, size_t n);
/* Reference: one sum of squares in double, i = 0..n-1 in order. */
double grad_global_norm_ref(const real *grad, size_t n);
/* clip_grad_norm_: coef = max_norm / (norm + 1e-6), formed in `real` like
 * PyTorch's float32 tensor; grads *= coef when coef < 1 (also when the norm
 * is NaN, which makes every gradient NaN, as in PyTorch). Returns the norm
 * before clipping. */
double clip_grad_norm(real *grad, size_t n, double max_norm);
/* Reference: the norm of grad_global_norm_ref, the same coefficient. */
double clip_grad_norm_ref(real *grad, size_t n, double max_norm);

/* clip_grad_norm (when max_norm > 0) and then adam_update in one pass over
 * the parameters after the norm: the same results as the two calls in turn,
 * grad left clipped. Returns the norm before clipping. */
double clip_adam_update(real *param, real *grad, real *m, real *v, size_t n,
                        const AdamConfig *cfg, long step, double max_norm);
/* Reference: clip_grad_norm_ref (or grad_global_norm_ref when max_norm <= 0),
 * then adam_update_ref. */
double clip_adam_update_ref(real *param, real *grad, real *m, real *v, size_t n,
                            const AdamConfig *cfg, long step, double max_norm);

#endif
