/* Reference optimizers and gradient clipping (optim.h): one element at a
 * time, with PyTorch 1.13's roundings as src/ops/optim.c describes them.
 * fma() is IEEE 754's fused multiply-add, rounded once on every CPU (in
 * hardware or in the C library), so it is as portable as + and *. The bias
 * corrections use pm_pow. The norm is one sum of squares in double, in
 * index order. Threads split the elements of the updates only. */
#include "anomaly/ops/optim.h"
#include "anomaly/error.h"
#include "anomaly/pmath.h"

#include <math.h>

#ifdef ANOMALY_F64
#define FMA_R fma
#define SQRT_R sqrt
#else
#define FMA_R fmaf
#define SQRT_R sqrtf
#endif

void adam_update_ref(real *param, const real *grad, real *m, real *v, size_t n,
                     const AdamConfig *cfg, long step) {
    if (step < 1) fatal("Adam step count must start at 1 (got %ld)", step);
    const real wd = (real)cfg->weight_decay, b1 = (real)cfg->beta1, b2 = (real)cfg->beta2;
    const real one_m_b1 = (real)(1.0 - cfg->beta1), one_m_b2 = (real)(1.0 - cfg->beta2);
    const double bc1 = 1.0 - pm_pow(cfg->beta1, (double)step);
    const double bc2 = 1.0 - pm_pow(cfg->beta2, (double)step);
    const real neg_step_size = (real)(-(cfg->lr / bc1)), bc2_sqrt = (real)sqrt(bc2);
    const real eps = (real)cfg->eps;
    const int decay = cfg->weight_decay != 0;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        real g = grad[i];
        if (decay) g = FMA_R(param[i], wd, g);          /* grad.add(param, alpha=wd) */
        const real mi = FMA_R(g, one_m_b1, m[i] * b1);  /* exp_avg.mul_(b1).add_(g, 1-b1) */
        const real vi = FMA_R(one_m_b2 * g, g, v[i] * b2); /* exp_avg_sq.mul_(b2).addcmul_ */
        real denom = SQRT_R(vi) / bc2_sqrt;             /* exp_avg_sq.sqrt() / bc2_sqrt */
        denom = denom + eps;                            /* .add_(eps) */
        real upd = neg_step_size * mi;                  /* addcdiv_(exp_avg, denom, -step) */
        upd = upd / denom;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] + upd;
    }
}

void sgd_update_ref(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                    long step) {
    if (step < 1) fatal("SGD step count must start at 1 (got %ld)", step);
    const real wd = (real)cfg->weight_decay, mom = (real)cfg->momentum;
    const real neg_lr = (real)(-cfg->lr);
    const int decay = cfg->weight_decay != 0, use_buf = cfg->momentum != 0, first = step == 1;
    if (use_buf && !buf) fatal("SGD with momentum needs a momentum buffer");
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        real d = grad[i];
        if (decay) d = FMA_R(param[i], wd, d); /* grad.add(param, alpha=wd) */
        if (use_buf) {
            buf[i] = first ? d : buf[i] * mom + d; /* buf.mul_(momentum).add_(d) */
            d = buf[i];
        }
        param[i] = FMA_R(d, neg_lr, param[i]); /* param.add_(d, alpha=-lr) */
    }
}

double grad_global_norm_ref(const real *grad, size_t n) {
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += (double)grad[i] * grad[i];
    return sqrt(sum);
}

/* coef = max_norm / (norm + 1e-6) in `real`; multiplies unless coef >= 1
 * (so a NaN norm makes every gradient NaN, as PyTorch). */
double clip_grad_norm_ref(real *grad, size_t n, double max_norm) {
    const double norm = grad_global_norm_ref(grad, n);
    const real coef = (real)max_norm / ((real)norm + (real)1e-6);
    if (!(coef >= 1)) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) grad[i] *= coef;
    }
    return norm;
}

double clip_adam_update_ref(real *param, real *grad, real *m, real *v, size_t n,
                            const AdamConfig *cfg, long step, double max_norm) {
    const double norm = max_norm > 0 ? clip_grad_norm_ref(grad, n, max_norm)
                                     : grad_global_norm_ref(grad, n);
    adam_update_ref(param, grad, m, v, n, cfg, step);
    return norm;
}
