/* Adam, SGD and gradient-norm clipping on the GPU (src/ops/optim.c): the
 * same constants and roundings (explicit fma where the CPU fuses, nothing
 * else contracted: the build passes -fmad=false). The norm sums fixed
 * chunks of NORM_CHUNK values in one block each (double, fixed tree), the
 * chunk sums then added in chunk order by one thread. */
#include "cuda_internal.cuh"

#ifdef ANOMALY_F64
#define FMA_R fma
#define SQRT_R sqrt
#else
#define FMA_R fmaf
#define SQRT_R sqrtf
#endif

#define NORM_CHUNK 8192

typedef struct AdamConsts {
    real wd, b1, b2, one_m_b1, one_m_b2, neg_step_size, bc2_sqrt, eps;
    int decay;
} AdamConsts;

__global__ static void k_adam(real *param, const real *grad, real *m, real *v, size_t n,
                              AdamConsts k) {
    CU_FOR(i, n) {
        real g = grad[i];
        if (k.decay) g = FMA_R(param[i], k.wd, g);
        real mi = m[i] * k.b1;
        mi = FMA_R(g, k.one_m_b1, mi);
        real vi = v[i] * k.b2;
        real gs = k.one_m_b2 * g;
        vi = FMA_R(gs, g, vi);
        real denom = SQRT_R(vi) / k.bc2_sqrt;
        denom = denom + k.eps;
        real upd = k.neg_step_size * mi;
        upd = upd / denom;
        m[i] = mi;
        v[i] = vi;
        param[i] = param[i] + upd;
    }
}

void adam_update_cuda(real *param, const real *grad, real *m, real *v, size_t n,
                      const AdamConfig *cfg, long step) {
    if (step < 1) fatal("Adam step count must start at 1 (got %ld)", step);
    AdamConsts k;
    k.wd = (real)cfg->weight_decay;
    k.b1 = (real)cfg->beta1;
    k.b2 = (real)cfg->beta2;
    k.one_m_b1 = (real)(1.0 - cfg->beta1);
    k.one_m_b2 = (real)(1.0 - cfg->beta2);
    const double bc1 = 1.0 - pow(cfg->beta1, (double)step);
    const double bc2 = 1.0 - pow(cfg->beta2, (double)step);
    k.neg_step_size = (real)(-(cfg->lr / bc1));
    k.bc2_sqrt = (real)sqrt(bc2);
    k.eps = (real)cfg->eps;
    k.decay = cfg->weight_decay != 0;
    CU_LAUNCH(k_adam, cu_blocks(n), CU_THREADS)(param, grad, m, v, n, k);
    CU_LAUNCHED("adam_update");
}

__global__ static void k_sgd(real *param, const real *grad, real *buf, size_t n, real wd, real mom,
                             real neg_lr, int decay, int use_buf, int first) {
    CU_FOR(i, n) {
        real d = grad[i];
        if (decay) d = FMA_R(param[i], wd, d);
        if (use_buf) {
            if (first) {
                buf[i] = d;
            } else {
                real b = buf[i] * mom;
                buf[i] = b + d;
            }
            d = buf[i];
        }
        param[i] = FMA_R(d, neg_lr, param[i]);
    }
}

void sgd_update_cuda(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                     long step) {
    if (step < 1) fatal("SGD step count must start at 1 (got %ld)", step);
    const int use_buf = cfg->momentum != 0;
    if (use_buf && !buf) fatal("SGD with momentum needs a momentum buffer");
    CU_LAUNCH(k_sgd, cu_blocks(n), CU_THREADS)(param, grad, buf, n, (real)cfg->weight_decay,
                                        (real)cfg->momentum, (real)(-cfg->lr),
                                        cfg->weight_decay != 0, use_buf, step == 1);
    CU_LAUNCHED("sgd_update");
}

__global__ static void k_chunk_sumsq(double *part, const real *grad, size_t n) {
    __shared__ double sh[CU_THREADS];
    const size_t lo = (size_t)blockIdx.x * NORM_CHUNK;
    const size_t hi = lo + NORM_CHUNK < n ? lo + NORM_CHUNK : n;
    double v = 0;
    for (size_t i = lo + threadIdx.x; i < hi; i += CU_THREADS) v += (double)grad[i] * grad[i];
    v = cu_block_sum(v, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = v;
}

__global__ static void k_total(double *out, const double *part, size_t chunks) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        double t = 0;
        for (size_t k = 0; k < chunks; k++) t += part[k];
        *out = sqrt(t);
    }
}

double grad_global_norm_cuda(const real *grad, size_t n) {
    if (n == 0) return 0;
    const size_t chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
    double *part = (double *)cuda_alloc((chunks + 1) * sizeof(double), "gradient-norm partial sums");
    CU_LAUNCH(k_chunk_sumsq, (unsigned)chunks, CU_THREADS)(part, grad, n);
    CU_LAUNCH(k_total, 1, 1)(part + chunks, part, chunks);
    CU_LAUNCHED("grad_global_norm");
    double norm;
    cuda_download(&norm, part + chunks, sizeof norm);
    cuda_free(part);
    return norm;
}

__global__ static void k_scale(real *grad, size_t n, real coef) {
    CU_FOR(i, n) grad[i] *= coef;
}

double clip_grad_norm_cuda(real *grad, size_t n, double max_norm) {
    const double norm = grad_global_norm_cuda(grad, n);
    const real total = (real)norm;
    const real coef = (real)max_norm / (total + (real)1e-6);
    if (!(coef >= 1)) {
        CU_LAUNCH(k_scale, cu_blocks(n), CU_THREADS)(grad, n, coef);
        CU_LAUNCHED("clip_grad_norm");
    }
    return norm;
}
