/* Adam, SGD and global gradient-norm clipping as torch.optim and
 * torch.nn.utils.clip_grad_norm_ of PyTorch 1.13 (single-tensor path).
 *
 * Each update replays PyTorch's sequence of tensor ops, rounding to `real`
 * where PyTorch rounds: hyper-parameters are Python floats that become
 * float32 scalars, bias corrections and the step size are computed in
 * double. ATen's CPU kernels fuse two places into one multiply-add:
 * `a.add_(b, alpha=s)` (an explicit fmadd) and addcmul's
 * `self + (value * t1) * t2` (contracted by the compiler); addcdiv rounds
 * after every operation. With these roundings the results equal PyTorch's
 * to the bit (tests/test_optim.c). The statements are split and contraction
 * is switched off so no compiler fuses anything else.
 *
 * The update loops are elementwise, so splitting them over threads cannot
 * change a result; the norm is summed in fixed-size chunks whose partial
 * sums are added in chunk order, whatever the thread count. */
#include "anomaly/ops/optim.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "vec.h"

#include <math.h>
#include <stdlib.h>

/* GCC's ISO mode never contracts; clang must be told. */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#ifdef ANOMALY_F64
#define FMA_R fma
#define SQRT_R sqrt
#else
#define FMA_R fmaf
#define SQRT_R sqrtf
#endif

/* Below this many elements a parallel region costs more than it saves. */
#define PAR_MIN 32768
/* Elements per partial sum of the norm; fixed, so the order of additions is. */
#define NORM_CHUNK 8192

/* Elements per parallel task of the updates. */
#define UPDATE_CHUNK 16384

typedef struct AdamConsts {
    real wd, b1, b2, one_m_b1, one_m_b2, neg_step_size, bc2_sqrt, eps;
    real coef;  /* clipping: grad *= coef first (and written back), when clip */
    int decay, clip;
} AdamConsts;

/* Lane by lane fused multiply-add and square root: each lane rounds as the
 * scalar fmaf / sqrtf (one IEEE rounding), so the vector loop below gives
 * the scalar loop's bits. The compiler turns them into vector instructions
 * where the target has them (the square root only without errno: the
 * Makefile builds this file with -fno-math-errno, which changes no value). */
VINLINE void vfma_lanes(vreal *r, const vreal *a, const vreal *b, const vreal *c) {
    const vreal x = *a, y = *b, z = *c;
    vreal t;
    for (int l = 0; l < VLANES; l++) t[l] = FMA_R(x[l], y[l], z[l]);
    *r = t;
}
VINLINE void vsqrt_lanes(vreal *r, const vreal *a) {
    const vreal x = *a;
    vreal t;
    for (int l = 0; l < VLANES; l++) t[l] = SQRT_R(x[l]);
    *r = t;
}

/* param, grad, m, v [n] */
VEC_DISPATCH_VOID(adam_span, (real *param, real *grad, real *m, real *v, size_t n,
                                 const AdamConsts *k), (param, grad, m, v, n, k)) {
    const real wd = k->wd, b1 = k->b1, b2 = k->b2, one_m_b1 = k->one_m_b1;
    const real one_m_b2 = k->one_m_b2, neg_step_size = k->neg_step_size;
    const real bc2_sqrt = k->bc2_sqrt, eps = k->eps, coef = k->coef;
    const int decay = k->decay, clip = k->clip;
    size_t i = 0;
    const vreal vwd = VSPLAT(wd), vomb1 = VSPLAT(one_m_b1);
    for (; i + VLANES <= n; i += VLANES) {
        vreal g, p, mi, vi, gs, t, denom, upd;
        vload(&g, grad + i);
        vload(&p, param + i);
        vload(&mi, m + i);
        vload(&vi, v + i);
        if (clip) {
            g = g * coef;
            vstore(grad + i, &g);
        }
        if (decay) vfma_lanes(&g, &p, &vwd, &g);
        mi = mi * b1;
        vfma_lanes(&mi, &g, &vomb1, &mi);
        vi = vi * b2;
        gs = one_m_b2 * g;
        vfma_lanes(&vi, &gs, &g, &vi);
        vsqrt_lanes(&t, &vi);
        denom = t / bc2_sqrt;
        denom = denom + eps;
        upd = neg_step_size * mi;
        upd = upd / denom;
        vstore(m + i, &mi);
        vstore(v + i, &vi);
        p = p + upd;
        vstore(param + i, &p);
    }
    for (; i < n; i++) {
        real g = grad[i];
        if (clip) grad[i] = g = g * coef;        /* clip_grad_norm: grad.mul_(coef) */
        if (decay) g = FMA_R(param[i], wd, g);   /* grad.add(param, alpha=wd) */
        real mi = m[i] * b1;                     /* exp_avg.mul_(beta1) */
        mi = FMA_R(g, one_m_b1, mi);             /* .add_(grad, alpha=1-beta1) */
        real vi = v[i] * b2;                     /* exp_avg_sq.mul_(beta2) */
        real gs = one_m_b2 * g;                  /* .addcmul_(grad, grad, value=1-beta2) */
        vi = FMA_R(gs, g, vi);
        real denom = SQRT_R(vi) / bc2_sqrt;      /* (exp_avg_sq.sqrt() / bc2_sqrt) */
        denom = denom + eps;                     /* .add_(eps) */
        real upd = neg_step_size * mi;           /* param.addcdiv_(exp_avg, denom, -step_size) */
        upd = upd / denom;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] + upd;
    }
}

static void adam_consts(AdamConsts *k, const AdamConfig *cfg, long step) {
    if (step < 1) fatal("Adam step count must start at 1 (got %ld)", step);
    k->wd = (real)cfg->weight_decay;
    k->b1 = (real)cfg->beta1;
    k->b2 = (real)cfg->beta2;
    k->one_m_b1 = (real)(1.0 - cfg->beta1);
    k->one_m_b2 = (real)(1.0 - cfg->beta2);
    const double bc1 = 1.0 - pow(cfg->beta1, (double)step);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)step);
    k->neg_step_size = (real)(-(cfg->lr / bc1));
    k->bc2_sqrt = (real)sqrt(bc2);
    k->eps = (real)cfg->eps;
    k->decay = cfg->weight_decay != 0;
    k->coef = 1;
    k->clip = 0;
}

static void adam_pass(real *param, real *grad, real *m, real *v, size_t n, const AdamConsts *k) {
    const size_t chunks = (n + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t c = 0; c < chunks; c++) {
        const size_t lo = c * UPDATE_CHUNK, len = n - lo < UPDATE_CHUNK ? n - lo : UPDATE_CHUNK;
        adam_span(param + lo, grad + lo, m + lo, v + lo, len, k);
    }
}

void adam_update(real *param, const real *grad, real *m, real *v, size_t n,
                 const AdamConfig *cfg, long step) {
    if (exact_mode()) {
        adam_update_ref(param, grad, m, v, n, cfg, step);
        return;
    }
    AdamConsts k;
    adam_consts(&k, cfg, step);
    const double start = profile_start();
    /* grad is only written when clipping */
    adam_pass(param, (real *)grad, m, v, n, &k);
    profile_stop(start, "adam", "(optimizer)", PROFILE_UPDATE);
}

/* The clipping coefficient as clip_grad_norm forms it: in `real`, applied
 * unless it is >= 1 (a NaN norm applies it). */
static int clip_coef(double norm, double max_norm, real *coef) {
    const real total = (real)norm;
    *coef = (real)max_norm / (total + (real)1e-6);
    return !(*coef >= 1);
}

double clip_adam_update(real *param, real *grad, real *m, real *v, size_t n,
                        const AdamConfig *cfg, long step, double max_norm) {
    if (exact_mode()) return clip_adam_update_ref(param, grad, m, v, n, cfg, step, max_norm);
    AdamConsts k;
    adam_consts(&k, cfg, step);
    double start = profile_start();
    const double norm = grad_global_norm(grad, n);
    if (max_norm > 0) k.clip = clip_coef(norm, max_norm, &k.coef);
    profile_stop(start, "clip_grad_norm", "(optimizer)", PROFILE_UPDATE);
    start = profile_start();
    adam_pass(param, grad, m, v, n, &k);
    profile_stop(start, "adam", "(optimizer)", PROFILE_UPDATE);
    return norm;
}

void sgd_update(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                long step) {
    if (exact_mode()) {
        sgd_update_ref(param, grad, buf, n, cfg, step);
        return;
    }
    if (step < 1) fatal("SGD step count must start at 1 (got %ld)", step);
    const real wd = (real)cfg->weight_decay, mom = (real)cfg->momentum;
    const real neg_lr = (real)(-cfg->lr);
    const int decay = cfg->weight_decay != 0, use_buf = cfg->momentum != 0, first = step == 1;
    if (use_buf && !buf) fatal("SGD with momentum needs a momentum buffer");
    const double start = profile_start();
    /* param, grad, buf [n] */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        real d = grad[i];
        if (decay) d = FMA_R(param[i], wd, d); /* grad.add(param, alpha=wd) */
        if (use_buf) {
            if (first) {
                buf[i] = d;                    /* buf = clone(d_p) */
            } else {
                real b = buf[i] * mom;         /* buf.mul_(momentum) */
                buf[i] = b + d;                /* .add_(d_p, alpha=1 - dampening) */
            }
            d = buf[i];
        }
        param[i] = FMA_R(d, neg_lr, param[i]); /* param.add_(d_p, alpha=-lr) */
    }
    profile_stop(start, "sgd", "(optimizer)", PROFILE_UPDATE);
}

/* Squares are exact in double; four accumulators shorten the dependency
 * chain without making the order depend on anything but n. grad [len] */
static double chunk_sumsq(const real *grad, size_t len) {
    double s[4] = {0, 0, 0, 0};
    size_t i = 0;
    for (; i + 4 <= len; i += 4)
        for (int k = 0; k < 4; k++) s[k] += (double)grad[i + k] * grad[i + k];
    for (; i < len; i++) s[0] += (double)grad[i] * grad[i];
    return (s[0] + s[1]) + (s[2] + s[3]);
}

double grad_global_norm(const real *grad, size_t n) {
    if (exact_mode()) return grad_global_norm_ref(grad, n);
    if (n == 0) return 0;
    size_t chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    if (chunks == 1) return sqrt(chunk_sumsq(grad, n));
    double *part = xmalloc(chunks * sizeof *part, "gradient-norm partial sums"); /* [chunks] */
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
    for (size_t k = 0; k < chunks; k++) {
        size_t lo = k * NORM_CHUNK, len = n - lo < NORM_CHUNK ? n - lo : NORM_CHUNK;
        part[k] = chunk_sumsq(grad + lo, len);
    }
    double total = 0;
    for (size_t k = 0; k < chunks; k++) total += part[k];
    free(part);
    return sqrt(total);
}

/* PyTorch's total norm is a float32 tensor, so the coefficient is formed in
 * `real`. It multiplies unless coef >= 1, so a NaN norm spreads NaN into
 * every gradient, as clamp(coef, max=1) does in PyTorch. grad [n] */
double clip_grad_norm(real *grad, size_t n, double max_norm) {
    if (exact_mode()) return clip_grad_norm_ref(grad, n, max_norm);
    const double start = profile_start();
    double norm = grad_global_norm(grad, n);
    real coef;
    if (clip_coef(norm, max_norm, &coef)) {
#pragma omp parallel for schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) grad[i] *= coef;
    }
    profile_stop(start, "clip_grad_norm", "(optimizer)", PROFILE_UPDATE);
    return norm;
}
