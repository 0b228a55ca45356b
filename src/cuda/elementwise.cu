/* Elementwise kernels on the GPU (src/ops/elementwise.c): one thread per
 * element; the per-plane and per-row sums take one block each, in double,
 * in the fixed tree of cu_block_sum. */
#include "cuda_internal.cuh"

__global__ static void k_add(real *out, const real *a, const real *b, size_t n) {
    CU_FOR(i, n) out[i] = a[i] + b[i];
}

void add_forward_cuda(real *out, const real *a, const real *b, size_t n) {
    CU_LAUNCH(k_add, cu_blocks(n), CU_THREADS)(out, a, b, n);
    CU_LAUNCHED("add_forward");
}

void add_backward_cuda(real *da, real *db, const real *dout, size_t n) {
    /* one after the other, so da == db receives dout twice */
    if (da) CU_LAUNCH(k_add, cu_blocks(n), CU_THREADS)(da, da, dout, n);
    if (db) CU_LAUNCH(k_add, cu_blocks(n), CU_THREADS)(db, db, dout, n);
    CU_LAUNCHED("add_backward");
}

__global__ static void k_channel_scale(real *out, const real *inp, const real *s, size_t total,
                                       int hw) {
    CU_FOR(i, total) out[i] = inp[i] * s[i / hw];
}

void channel_scale_forward_cuda(real *out, const real *inp, const real *s, int n, int c, int hw) {
    const size_t total = (size_t)n * c * hw;
    CU_LAUNCH(k_channel_scale, cu_blocks(total), CU_THREADS)(out, inp, s, total, hw);
    CU_LAUNCHED("channel_scale_forward");
}

__global__ static void k_channel_scale_dx(real *dinp, const real *dout, const real *s,
                                          size_t total, int hw) {
    CU_FOR(i, total) dinp[i] += dout[i] * s[i / hw];
}

/* One block per plane: acc[p] += sum_j g[p, j] * x[p, j] in double. */
__global__ static void k_plane_dot(real *acc, const real *g, const real *x, int hw) {
    __shared__ double sh[CU_THREADS];
    const size_t off = (size_t)blockIdx.x * hw;
    double v = 0;
    for (int j = threadIdx.x; j < hw; j += CU_THREADS) v += (double)g[off + j] * x[off + j];
    v = cu_block_sum(v, sh);
    if (threadIdx.x == 0) acc[blockIdx.x] += (real)v;
}

void channel_scale_backward_cuda(real *dinp, real *ds, const real *dout, const real *inp,
                                 const real *s, int n, int c, int hw) {
    const size_t total = (size_t)n * c * hw;
    if (dinp) CU_LAUNCH(k_channel_scale_dx, cu_blocks(total), CU_THREADS)(dinp, dout, s, total, hw);
    if (ds) CU_LAUNCH(k_plane_dot, n * c, CU_THREADS)(ds, dout, inp, hw);
    CU_LAUNCHED("channel_scale_backward");
}

__global__ static void k_dropout(real *out, const real *inp, const uint8_t *mask, real scale,
                                 size_t n, int accumulate) {
    CU_FOR(i, n) {
        const real v = inp[i] * (mask[i] ? scale : (real)0);
        out[i] = accumulate ? out[i] + v : v;
    }
}

void dropout_forward_cuda(real *out, const real *inp, const uint8_t *mask, real scale, size_t n) {
    CU_LAUNCH(k_dropout, cu_blocks(n), CU_THREADS)(out, inp, mask, scale, n, 0);
    CU_LAUNCHED("dropout_forward");
}

void dropout_backward_cuda(real *dinp, const real *dout, const uint8_t *mask, real scale,
                           size_t n) {
    CU_LAUNCH(k_dropout, cu_blocks(n), CU_THREADS)(dinp, dout, mask, scale, n, 1);
    CU_LAUNCHED("dropout_backward");
}

/* (x / keep_prob) * keep forward, dy * keep / keep_prob backward, as the CPU. */
__global__ static void k_drop_connect_fwd(real *out, const real *inp, const uint8_t *keep,
                                          real kp, size_t total, size_t inner) {
    CU_FOR(i, total) out[i] = inp[i] / kp * (real)keep[i / inner];
}

__global__ static void k_drop_connect_bwd(real *dinp, const real *dout, const uint8_t *keep,
                                          real kp, size_t total, size_t inner) {
    CU_FOR(i, total) dinp[i] += dout[i] * (real)keep[i / inner] / kp;
}

static real keep_prob(real rate) { return (real)(1.0 - (double)rate); }

void drop_connect_forward_cuda(real *out, const real *inp, const uint8_t *keep, real rate, int n,
                               size_t inner) {
    const size_t total = (size_t)n * inner;
    CU_LAUNCH(k_drop_connect_fwd, cu_blocks(total), CU_THREADS)(out, inp, keep, keep_prob(rate), total,
                                                          inner);
    CU_LAUNCHED("drop_connect_forward");
}

void drop_connect_backward_cuda(real *dinp, const real *dout, const uint8_t *keep, real rate,
                                int n, size_t inner) {
    const size_t total = (size_t)n * inner;
    CU_LAUNCH(k_drop_connect_bwd, cu_blocks(total), CU_THREADS)(dinp, dout, keep, keep_prob(rate), total,
                                                          inner);
    CU_LAUNCHED("drop_connect_backward");
}

/* One block per row: the norm (rounded to real as the CPU's row_norm), then
 * the row. backward also needs sum(g * x). */
__global__ static void k_l2norm_fwd(real *out, const real *inp, int cols, real eps) {
    __shared__ double sh[CU_THREADS];
    const real *x = inp + (size_t)blockIdx.x * cols;
    real *y = out + (size_t)blockIdx.x * cols;
    double v = 0;
    for (int j = threadIdx.x; j < cols; j += CU_THREADS) v += (double)x[j] * x[j];
    const real nrm = (real)sqrt(cu_block_sum(v, sh));
    const real d = nrm >= eps ? nrm : eps;
    for (int j = threadIdx.x; j < cols; j += CU_THREADS) y[j] = x[j] / d;
}

__global__ static void k_l2norm_bwd(real *dinp, const real *dout, const real *inp, int cols,
                                    real eps) {
    __shared__ double sh[CU_THREADS];
    const size_t off = (size_t)blockIdx.x * cols;
    const real *x = inp + off, *g = dout + off;
    real *dx = dinp + off;
    double v = 0, dot = 0;
    for (int j = threadIdx.x; j < cols; j += CU_THREADS) {
        v += (double)x[j] * x[j];
        dot += (double)g[j] * x[j];
    }
    const real nrm = (real)sqrt(cu_block_sum(v, sh));
    dot = cu_block_sum(dot, sh);
    const double d = nrm >= eps ? nrm : eps;
    const double through_norm = nrm >= eps && nrm > 0 ? -dot / (d * d) / (double)nrm : 0.0;
    for (int j = threadIdx.x; j < cols; j += CU_THREADS)
        dx[j] += (real)(g[j] / d + x[j] * through_norm);
}

void l2norm_rows_forward_cuda(real *out, const real *inp, int rows, int cols, real eps) {
    CU_LAUNCH(k_l2norm_fwd, rows, CU_THREADS)(out, inp, cols, eps);
    CU_LAUNCHED("l2norm_rows_forward");
}

void l2norm_rows_backward_cuda(real *dinp, const real *dout, const real *inp, int rows, int cols,
                               real eps) {
    CU_LAUNCH(k_l2norm_bwd, rows, CU_THREADS)(dinp, dout, inp, cols, eps);
    CU_LAUNCHED("l2norm_rows_backward");
}
