/* BatchNorm2d, BatchNorm + activation and BatchNorm + add + ReLU on the GPU
 * (src/ops/batchnorm.c, fused.c, fused_add.c).
 *
 * Statistics and the two gradient sums: one block per channel, each thread
 * summing a fixed strided share in double, the shares added in a fixed tree
 * (cu_block_sum). The per-channel constants then go to an elementwise
 * kernel, with the CPU's formulas in the CPU's order. One code path serves
 * the plain, fused and add+ReLU variants (Mode). */
#include "cuda_internal.cuh"

typedef enum Mode { MODE_PLAIN = 0, MODE_SWISH, MODE_RELU, MODE_ADD_RELU } Mode;

static Mode act_mode(BnAct act) {
    if (act == BN_ACT_SWISH) return MODE_SWISH;
    if (act == BN_ACT_RELU) return MODE_RELU;
    fatal("batchnorm2d_act (CUDA): unknown activation %d", (int)act);
}

static void check_shape(const BatchNormShape *s, const char *who, int train) {
    if (s->n < 1 || s->c < 1 || s->hw < 1)
        fatal("%s: bad shape n = %d, c = %d, hw = %d", who, s->n, s->c, s->hw);
    if (train && (long)s->n * s->hw < 2)
        fatal("batchnorm2d: training needs more than one value per channel "
              "(n = %d, h*w = %d)", s->n, s->hw);
}

/* element e of channel ch's n * hw values */
__device__ static inline size_t at(int ch, size_t e, int c, int hw) {
    return ((e / hw) * c + ch) * hw + e % hw;
}

/* Block per channel: batch mean, 1/sqrt(var + eps), running statistics and
 * the folded affine aff[ch] = scale, aff[c + ch] = shift. */
__global__ static void k_stats(real *mean, real *rstd, real *rm, real *rv, real *aff,
                               const real *inp, const real *gamma, const real *beta, int n, int c,
                               int hw, double eps, double momentum) {
    __shared__ double sh[CU_THREADS];
    const int ch = blockIdx.x;
    const size_t count = (size_t)n * hw;
    double v = 0;
    for (size_t e = threadIdx.x; e < count; e += CU_THREADS) v += inp[at(ch, e, c, hw)];
    const double mu = cu_block_sum(v, sh) / (double)count;
    v = 0;
    for (size_t e = threadIdx.x; e < count; e += CU_THREADS) {
        const double d = inp[at(ch, e, c, hw)] - mu;
        v += d * d;
    }
    const double sq = cu_block_sum(v, sh);
    if (threadIdx.x != 0) return;
    const double rs = 1.0 / sqrt(sq / (double)count + eps);
    mean[ch] = (real)mu;
    rstd[ch] = (real)rs;
    if (rm) rm[ch] = (real)(momentum * mu + (1.0 - momentum) * rm[ch]);
    if (rv) rv[ch] = (real)(momentum * (sq / (double)(count - 1)) + (1.0 - momentum) * rv[ch]);
    aff[ch] = (real)(gamma[ch] * rs);
    aff[c + ch] = (real)(beta[ch] - mu * gamma[ch] * rs);
}

__global__ static void k_eval_affine(real *aff, const real *gamma, const real *beta,
                                     const real *rm, const real *rv, int c, double eps) {
    CU_FOR(ch, (size_t)c) {
        const double rs = 1.0 / sqrt((double)rv[ch] + eps);
        aff[ch] = (real)(gamma[ch] * rs);
        aff[c + ch] = (real)(beta[ch] - rm[ch] * (gamma[ch] * rs));
    }
}

__device__ static inline real act_fwd(real z, Mode m) {
    if (m == MODE_SWISH) {
        real s, q;
        cu_sigmoid_pair(z, &s, &q);
        return z * s;
    }
    if (m == MODE_RELU || m == MODE_ADD_RELU) return z < 0 ? (real)0 : z;
    return z;
}

/* out = act(x * scale + shift [+ res]); z (BatchNorm's output) too unless NULL */
__global__ static void k_apply(real *out, real *z, const real *inp, const real *res,
                               const real *aff, size_t total, int c, int hw, Mode m) {
    CU_FOR(i, total) {
        const int ch = (int)((i / hw) % c);
        real v = inp[i] * aff[ch] + aff[c + ch];
        if (z) z[i] = v;
        if (m == MODE_ADD_RELU) v = v + res[i];
        out[i] = act_fwd(v, m);
    }
}

/* The gradient at BatchNorm's output from the gradient g at the op's output:
 * through the activation at z (given, or recomputed from inp and the saved
 * affine), or through ReLU at the op's output y (add+ReLU). */
__device__ static inline real grad_at_bn(size_t i, int ch, int c, const real *dout,
                                         const real *inp, const real *z, const real *y,
                                         const real *aff, Mode m) {
    const real g = dout[i];
    if (m == MODE_PLAIN) return g;
    if (m == MODE_ADD_RELU) return (real)0 + (!(y[i] <= 0) ? g : (real)0);
    const real zv = z ? z[i] : inp[i] * aff[ch] + aff[c + ch];
    if (m == MODE_RELU) return (real)0 + (!(zv <= 0) ? g : (real)0);
    real s, q;
    cu_sigmoid_pair(zv, &s, &q);
    return (real)0 + g * (s * (1 + zv * q));
}

/* Block per channel: sum(dy), sum(dy * (x - mu)) in double; dgamma, dbeta
 * accumulated; k4 = the dx constants (mean_dy, mu, k, g) of the CPU's bn_dx.
 * train: mu, rs from mean/rstd; eval: from the running statistics. */
__global__ static void k_grad_sums(real *dgamma, real *dbeta, real *k4, const real *dout,
                                   const real *inp, const real *z, const real *y,
                                   const real *aff, const real *mean, const real *rstd,
                                   const real *rm, const real *rv, const real *gamma, int n,
                                   int c, int hw, double eps, Mode m, int train) {
    __shared__ double sh[CU_THREADS];
    const int ch = blockIdx.x;
    const size_t count = (size_t)n * hw;
    const double mu = train ? (double)mean[ch] : (double)rm[ch];
    const double rs = train ? (double)rstd[ch] : 1.0 / sqrt((double)rv[ch] + eps);
    double s1 = 0, s2 = 0;
    for (size_t e = threadIdx.x; e < count; e += CU_THREADS) {
        const size_t i = at(ch, e, c, hw);
        const double dy = grad_at_bn(i, ch, c, dout, inp, z, y, aff, m);
        s1 += dy;
        s2 += dy * (inp[i] - mu);
    }
    const double sum_dy = cu_block_sum(s1, sh);
    const double sum_dy_xmu = cu_block_sum(s2, sh);
    if (threadIdx.x != 0) return;
    if (dbeta) dbeta[ch] += (real)sum_dy;
    if (dgamma) dgamma[ch] += (real)(sum_dy_xmu * rs);
    k4[ch] = (real)(sum_dy / (double)count);
    k4[c + ch] = (real)mu;
    k4[2 * c + ch] = (real)(sum_dy_xmu * rs * rs / (double)count);
    k4[3 * c + ch] = (real)(gamma[ch] * rs);
}

/* dx += (dy - mean_dy - (x - mu) * k) * g (train) or dy * g (eval);
 * dres += dy (add+ReLU). */
__global__ static void k_dx(real *dinp, real *dres, const real *k4, const real *dout,
                            const real *inp, const real *z, const real *y, const real *aff,
                            size_t total, int c, int hw, Mode m, int train) {
    CU_FOR(i, total) {
        const int ch = (int)((i / hw) % c);
        const real dy = grad_at_bn(i, ch, c, dout, inp, z, y, aff, m);
        if (dres) dres[i] += dy;
        if (!dinp) continue;
        const real g = k4[3 * c + ch];
        if (train)
            dinp[i] += (dy - k4[ch] - (inp[i] - k4[c + ch]) * k4[2 * c + ch]) * g;
        else
            dinp[i] += dy * g;
    }
}

static size_t total_of(const BatchNormShape *s) { return (size_t)s->n * s->c * s->hw; }

/* The statistics, then the elementwise pass; aff_out keeps the affine. */
static void forward_train(real *out, real *z, real *mean, real *rstd, real *aff_out, real *rm,
                          real *rv, const real *inp, const real *res, const real *gamma,
                          const real *beta, const BatchNormShape *s, Mode m) {
    real *aff = aff_out ? aff_out : (real *)cuda_alloc(2 * (size_t)s->c * sizeof(real), "BatchNorm affine");
    CU_LAUNCH(k_stats, s->c, CU_THREADS)(mean, rstd, rm, rv, aff, inp, gamma, beta, s->n, s->c, s->hw,
                                  (double)s->eps, (double)s->momentum);
    CU_LAUNCHED("batchnorm statistics");
    CU_LAUNCH(k_apply, cu_blocks(total_of(s)), CU_THREADS)(out, z, inp, res, aff, total_of(s), s->c,
                                                    s->hw, m);
    CU_LAUNCHED("batchnorm apply");
    if (!aff_out) cuda_free(aff);
}

static void backward(real *dinp, real *dres, real *dgamma, real *dbeta, const real *dout,
                     const real *inp, const real *z, const real *y, const real *aff,
                     const real *mean, const real *rstd, const real *rm, const real *rv,
                     const real *gamma, const BatchNormShape *s, Mode m, int train) {
    real *k4 = (real *)cuda_alloc(4 * (size_t)s->c * sizeof(real), "BatchNorm gradient constants");
    CU_LAUNCH(k_grad_sums, s->c, CU_THREADS)(dgamma, dbeta, k4, dout, inp, z, y, aff, mean, rstd, rm, rv,
                                      gamma, s->n, s->c, s->hw, (double)s->eps, m, train);
    CU_LAUNCHED("batchnorm gradient sums");
    if (dinp || dres) {
        CU_LAUNCH(k_dx, cu_blocks(total_of(s)), CU_THREADS)(dinp, dres, k4, dout, inp, z, y, aff,
                                                     total_of(s), s->c, s->hw, m, train);
        CU_LAUNCHED("batchnorm dx");
    }
    cuda_free(k4);
}

void batchnorm2d_forward_train_cuda(real *out, real *mean, real *rstd, real *running_mean,
                                    real *running_var, const real *inp, const real *gamma,
                                    const real *beta, const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_forward_train_cuda", 1);
    forward_train(out, NULL, mean, rstd, NULL, running_mean, running_var, inp, NULL, gamma, beta,
                  s, MODE_PLAIN);
}

void batchnorm2d_forward_eval_cuda(real *out, const real *inp, const real *gamma,
                                   const real *beta, const real *running_mean,
                                   const real *running_var, const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_forward_eval_cuda", 0);
    real *aff = (real *)cuda_alloc(2 * (size_t)s->c * sizeof(real), "BatchNorm affine");
    CU_LAUNCH(k_eval_affine, cu_blocks((size_t)s->c), CU_THREADS)(aff, gamma, beta, running_mean,
                                                           running_var, s->c, (double)s->eps);
    CU_LAUNCH(k_apply, cu_blocks(total_of(s)), CU_THREADS)(out, NULL, inp, NULL, aff, total_of(s), s->c,
                                                    s->hw, MODE_PLAIN);
    CU_LAUNCHED("batchnorm2d_forward_eval");
    cuda_free(aff);
}

void batchnorm2d_backward_cuda(real *dinp, real *dgamma, real *dbeta, const real *dout,
                               const real *inp, const real *mean, const real *rstd,
                               const real *gamma, const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_backward_cuda", 0);
    backward(dinp, NULL, dgamma, dbeta, dout, inp, NULL, NULL, NULL, mean, rstd, NULL, NULL, gamma,
             s, MODE_PLAIN, 1);
}

void batchnorm2d_backward_eval_cuda(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                    const real *inp, const real *running_mean,
                                    const real *running_var, const real *gamma,
                                    const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_backward_eval_cuda", 0);
    backward(dinp, NULL, dgamma, dbeta, dout, inp, NULL, NULL, NULL, NULL, NULL, running_mean,
             running_var, gamma, s, MODE_PLAIN, 0);
}

void batchnorm2d_act_forward_train_cuda(real *out, real *z, real *mean, real *rstd, real *affine,
                                        real *running_mean, real *running_var, const real *inp,
                                        const real *gamma, const real *beta,
                                        const BatchNormShape *s, BnAct act) {
    check_shape(s, "batchnorm2d_act_forward_train_cuda", 1);
    forward_train(out, z, mean, rstd, affine, running_mean, running_var, inp, NULL, gamma, beta,
                  s, act_mode(act));
}

void batchnorm2d_act_recompute_cuda(real *out, const real *inp, const real *affine,
                                    const BatchNormShape *s, BnAct act) {
    check_shape(s, "batchnorm2d_act_recompute_cuda", 0);
    CU_LAUNCH(k_apply, cu_blocks(total_of(s)), CU_THREADS)(out, NULL, inp, NULL, affine, total_of(s),
                                                    s->c, s->hw, act_mode(act));
    CU_LAUNCHED("batchnorm2d_act_recompute");
}

void batchnorm2d_act_backward_cuda(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                   const real *inp, const real *z, const real *mean,
                                   const real *rstd, const real *affine, const real *gamma,
                                   const BatchNormShape *s, BnAct act) {
    check_shape(s, "batchnorm2d_act_backward_cuda", 0);
    if (!z && !affine)
        fatal("batchnorm2d_act_backward_cuda: neither the BatchNorm output nor its affine");
    if (!dinp && !dgamma && !dbeta) return;
    backward(dinp, NULL, dgamma, dbeta, dout, inp, z, NULL, affine, mean, rstd, NULL, NULL, gamma,
             s, act_mode(act), 1);
}

void batchnorm2d_add_relu_forward_train_cuda(real *out, real *mean, real *rstd,
                                             real *running_mean, real *running_var,
                                             const real *inp, const real *res, const real *gamma,
                                             const real *beta, const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_add_relu_forward_train_cuda", 1);
    forward_train(out, NULL, mean, rstd, NULL, running_mean, running_var, inp, res, gamma, beta, s,
                  MODE_ADD_RELU);
}

void batchnorm2d_add_relu_backward_cuda(real *dinp, real *dres, real *dgamma, real *dbeta,
                                        const real *dout, const real *out, const real *inp,
                                        const real *mean, const real *rstd, const real *gamma,
                                        const BatchNormShape *s) {
    check_shape(s, "batchnorm2d_add_relu_backward_cuda", 0);
    if (!dinp && !dres && !dgamma && !dbeta) return;
    backward(dinp, dres, dgamma, dbeta, dout, inp, NULL, out, NULL, mean, rstd, NULL, NULL, gamma,
             s, MODE_ADD_RELU, 1);
}
