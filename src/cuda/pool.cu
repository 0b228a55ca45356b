/* Pooling on the GPU (src/ops/pool.c). Backward kernels gather: one thread
 * per input cell adds the gradients of the windows that read it, windows
 * in row-major order as the CPU adds them, so no atomics are needed. */
#include "cuda_internal.cuh"

__global__ static void k_gap_fwd(real *out, const real *inp, int hw) {
    __shared__ double sh[CU_THREADS];
    const real *x = inp + (size_t)blockIdx.x * hw;
    double v = 0;
    for (int i = threadIdx.x; i < hw; i += CU_THREADS) v += x[i];
    v = cu_block_sum(v, sh);
    if (threadIdx.x == 0) out[blockIdx.x] = (real)(v / hw);
}

__global__ static void k_gap_bwd(real *dinp, const real *dout, size_t total, int hw) {
    CU_FOR(i, total) dinp[i] += dout[i / hw] / (real)hw;
}

void global_avgpool_forward_cuda(real *out, const real *inp, int n, int c, int hw) {
    CU_LAUNCH(k_gap_fwd, n * c, CU_THREADS)(out, inp, hw);
    CU_LAUNCHED("global_avgpool_forward");
}

void global_avgpool_backward_cuda(real *dinp, const real *dout, int n, int c, int hw) {
    const size_t total = (size_t)n * c * hw;
    CU_LAUNCH(k_gap_bwd, cu_blocks(total), CU_THREADS)(dinp, dout, total, hw);
    CU_LAUNCHED("global_avgpool_backward");
}

/* Plain-value copy of the shape for the kernels. */
typedef struct PoolDims {
    int h, w, oh, ow, kh, kw, sh, sw, pt, pl, cip;
} PoolDims;

static PoolDims dims(const Pool2dShape *s, const char *who) {
    if (s->oh < 1 || s->ow < 1) fatal("%s: call pool2d_shape_resolve first", who);
    PoolDims d = {s->h, s->w, s->oh, s->ow, s->kh, s->kw, s->sh, s->sw, s->pad_t, s->pad_l,
                  s->count_include_pad};
    return d;
}

/* The CPU's max_index: first maximum in row-major order, NaN wins. */
__device__ static int max_index(const real *x, PoolDims d, int oy, int ox) {
    int y0 = oy * d.sh - d.pt, x0 = ox * d.sw - d.pl;
    int y1 = y0 + d.kh < d.h ? y0 + d.kh : d.h;
    int x1 = x0 + d.kw < d.w ? x0 + d.kw : d.w;
    if (y0 < 0) y0 = 0;
    if (x0 < 0) x0 = 0;
    int best = y0 * d.w + x0;
    real best_val = -INFINITY;
    for (int y = y0; y < y1; y++)
        for (int xx = x0; xx < x1; xx++) {
            const int i = y * d.w + xx;
            const real v = x[i];
            if (v > best_val || v != v) {
                best_val = v;
                best = i;
            }
        }
    return best;
}

__global__ static void k_maxpool_fwd(real *out, const real *inp, PoolDims d, size_t total) {
    CU_FOR(i, total) {
        const size_t p = i / ((size_t)d.oh * d.ow);
        const int o = (int)(i % ((size_t)d.oh * d.ow));
        const real *x = inp + p * d.h * d.w;
        out[i] = x[max_index(x, d, o / d.ow, o % d.ow)];
    }
}

/* The output rows (or columns) whose window covers input index y:
 * [lo, hi] with o * s - pad <= y < o * s - pad + k. */
__device__ static void covering(int y, int k, int s, int pad, int n_out, int *lo, int *hi) {
    const int a = y + pad - k + 1; /* o * s >= a */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = (y + pad) / s; /* o * s <= y + pad */
    if (*hi > n_out - 1) *hi = n_out - 1;
}

__global__ static void k_maxpool_bwd(real *dinp, const real *dout, const real *inp, PoolDims d,
                                     size_t total) {
    CU_FOR(i, total) {
        const size_t p = i / ((size_t)d.h * d.w);
        const int cell = (int)(i % ((size_t)d.h * d.w)), y = cell / d.w, x = cell % d.w;
        const real *xp = inp + p * d.h * d.w;
        const real *dy = dout + p * d.oh * d.ow;
        int oy0, oy1, ox0, ox1;
        covering(y, d.kh, d.sh, d.pt, d.oh, &oy0, &oy1);
        covering(x, d.kw, d.sw, d.pl, d.ow, &ox0, &ox1);
        real acc = dinp[i];
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++)
                if (max_index(xp, d, oy, ox) == cell) acc += dy[oy * d.ow + ox];
        dinp[i] = acc;
    }
}

/* The CPU's avg_window; returns the divisor (0: empty window). */
__device__ static int avg_window(PoolDims d, int oy, int ox, int *wy0, int *wy1, int *wx0,
                                 int *wx1) {
    int y0 = oy * d.sh - d.pt, x0 = ox * d.sw - d.pl;
    int y1 = y0 + d.kh < d.h + d.pt ? y0 + d.kh : d.h + d.pt;
    int x1 = x0 + d.kw < d.w + d.pl ? x0 + d.kw : d.w + d.pl;
    const int padded = (y1 - y0) * (x1 - x0);
    *wy0 = y0 > 0 ? y0 : 0;
    *wx0 = x0 > 0 ? x0 : 0;
    *wy1 = y1 < d.h ? y1 : d.h;
    *wx1 = x1 < d.w ? x1 : d.w;
    const int div = d.cip ? padded : (*wy1 - *wy0) * (*wx1 - *wx0);
    return div > 0 && *wy0 < *wy1 && *wx0 < *wx1 ? div : 0;
}

__global__ static void k_avgpool_fwd(real *out, const real *inp, PoolDims d, size_t total) {
    CU_FOR(i, total) {
        const size_t p = i / ((size_t)d.oh * d.ow);
        const int o = (int)(i % ((size_t)d.oh * d.ow));
        const real *x = inp + p * d.h * d.w;
        int y0, y1, x0, x1;
        const int div = avg_window(d, o / d.ow, o % d.ow, &y0, &y1, &x0, &x1);
        real sum = 0;
        for (int y = y0; y < y1; y++)
            for (int xx = x0; xx < x1; xx++) sum += x[y * d.w + xx];
        out[i] = div ? sum / (real)div : (real)0;
    }
}

__global__ static void k_avgpool_bwd(real *dinp, const real *dout, PoolDims d, size_t total) {
    CU_FOR(i, total) {
        const size_t p = i / ((size_t)d.h * d.w);
        const int cell = (int)(i % ((size_t)d.h * d.w)), y = cell / d.w, x = cell % d.w;
        const real *dy = dout + p * d.oh * d.ow;
        int oy0, oy1, ox0, ox1;
        covering(y, d.kh, d.sh, d.pt, d.oh, &oy0, &oy1);
        covering(x, d.kw, d.sw, d.pl, d.ow, &ox0, &ox1);
        real acc = dinp[i];
        for (int oy = oy0; oy <= oy1; oy++)
            for (int ox = ox0; ox <= ox1; ox++) {
                int y0, y1, x0, x1;
                const int div = avg_window(d, oy, ox, &y0, &y1, &x0, &x1);
                if (div && y >= y0 && y < y1 && x >= x0 && x < x1)
                    acc += dy[oy * d.ow + ox] / (real)div;
            }
        dinp[i] = acc;
    }
}

void maxpool2d_forward_cuda(real *out, const real *inp, const Pool2dShape *s) {
    const PoolDims d = dims(s, "maxpool2d_forward_cuda");
    const size_t total = (size_t)s->n * s->c * s->oh * s->ow;
    CU_LAUNCH(k_maxpool_fwd, cu_blocks(total), CU_THREADS)(out, inp, d, total);
    CU_LAUNCHED("maxpool2d_forward");
}

void maxpool2d_backward_cuda(real *dinp, const real *dout, const real *inp, const Pool2dShape *s) {
    const PoolDims d = dims(s, "maxpool2d_backward_cuda");
    const size_t total = (size_t)s->n * s->c * s->h * s->w;
    CU_LAUNCH(k_maxpool_bwd, cu_blocks(total), CU_THREADS)(dinp, dout, inp, d, total);
    CU_LAUNCHED("maxpool2d_backward");
}

void avgpool2d_forward_cuda(real *out, const real *inp, const Pool2dShape *s) {
    const PoolDims d = dims(s, "avgpool2d_forward_cuda");
    const size_t total = (size_t)s->n * s->c * s->oh * s->ow;
    CU_LAUNCH(k_avgpool_fwd, cu_blocks(total), CU_THREADS)(out, inp, d, total);
    CU_LAUNCHED("avgpool2d_forward");
}

void avgpool2d_backward_cuda(real *dinp, const real *dout, const Pool2dShape *s) {
    const PoolDims d = dims(s, "avgpool2d_backward_cuda");
    const size_t total = (size_t)s->n * s->c * s->h * s->w;
    CU_LAUNCH(k_avgpool_bwd, cu_blocks(total), CU_THREADS)(dinp, dout, d, total);
    CU_LAUNCHED("avgpool2d_backward");
}
