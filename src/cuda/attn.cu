/* ResNeSt split-attention pieces on the GPU (src/ops/attn.c): one thread per
 * output value, sums over the radix in the CPU's order; dattn takes one
 * block per (sample, split, channel), summing h*w in double. */
#include "cuda_internal.cuh"

#define MAX_RADIX 64

__global__ static void k_sigmoid_d(real *out, const real *inp, size_t total) {
    CU_FOR(i, total) out[i] = 1 / (1 + (real)exp(-(double)inp[i]));
}

/* one thread per (sample, group, inner) softmax over the radix */
__global__ static void k_rsoftmax_fwd(real *out, const real *inp, int n, int card, int radix,
                                      int inner) {
    CU_FOR(t, (size_t)n * card * inner) {
        const int i = (int)(t % inner);
        const size_t g = t / inner;
        const int b = (int)(g / card), k = (int)(g % card);
        const real *x = inp + g * radix * inner;
        real e[MAX_RADIX];
        real mx = x[i];
        for (int r = 1; r < radix; r++)
            if (x[(size_t)r * inner + i] > mx) mx = x[(size_t)r * inner + i];
        real sum = 0;
        for (int r = 0; r < radix; r++) {
            e[r] = (real)exp((double)(x[(size_t)r * inner + i] - mx));
            sum += e[r];
        }
        for (int r = 0; r < radix; r++)
            out[(((size_t)b * radix + r) * card + k) * inner + i] = e[r] / sum;
    }
}

__global__ static void k_sigmoid_bwd_y(real *dinp, const real *dout, const real *out,
                                       size_t total) {
    CU_FOR(i, total) dinp[i] += dout[i] * (1 - out[i]) * out[i];
}

__global__ static void k_rsoftmax_bwd(real *dinp, const real *dout, const real *out, int n,
                                      int card, int radix, int inner) {
    CU_FOR(t, (size_t)n * card * inner) {
        const int i = (int)(t % inner);
        const size_t g = t / inner;
        const int b = (int)(g / card), k = (int)(g % card);
        real *dx = dinp + g * radix * inner;
        double dot = 0;
        for (int r = 0; r < radix; r++) {
            const size_t o = (((size_t)b * radix + r) * card + k) * inner + i;
            dot += (double)dout[o] * out[o];
        }
        for (int r = 0; r < radix; r++) {
            const size_t o = (((size_t)b * radix + r) * card + k) * inner + i;
            dx[(size_t)r * inner + i] += (real)(out[o] * (dout[o] - dot));
        }
    }
}

static void check_radix(int radix) {
    if (radix < 1 || radix > MAX_RADIX)
        fatal("radix softmax (CUDA): radix %d outside [1, %d]", radix, MAX_RADIX);
}

void radix_softmax_forward_cuda(real *out, const real *inp, int n, int card, int radix, int inner) {
    check_radix(radix);
    const size_t total = (size_t)n * card * radix * inner;
    if (radix == 1)
        CU_LAUNCH(k_sigmoid_d, cu_blocks(total), CU_THREADS)(out, inp, total);
    else
        CU_LAUNCH(k_rsoftmax_fwd, cu_blocks((size_t)n * card * inner), CU_THREADS)(out, inp, n, card,
                                                                             radix, inner);
    CU_LAUNCHED("radix_softmax_forward");
}

void radix_softmax_backward_cuda(real *dinp, const real *dout, const real *out, int n, int card,
                                 int radix, int inner) {
    check_radix(radix);
    const size_t total = (size_t)n * card * radix * inner;
    if (radix == 1)
        CU_LAUNCH(k_sigmoid_bwd_y, cu_blocks(total), CU_THREADS)(dinp, dout, out, total);
    else
        CU_LAUNCH(k_rsoftmax_bwd, cu_blocks((size_t)n * card * inner), CU_THREADS)(dinp, dout, out, n,
                                                                             card, radix, inner);
    CU_LAUNCHED("radix_softmax_backward");
}

__global__ static void k_rsum_fwd(real *out, const real *inp, int n, int radix, size_t plane) {
    CU_FOR(t, (size_t)n * plane) {
        const size_t b = t / plane, j = t % plane;
        const real *x = inp + b * radix * plane;
        real s = x[j];
        for (int r = 1; r < radix; r++) s += x[(size_t)r * plane + j];
        out[t] = s;
    }
}

__global__ static void k_rsum_bwd(real *dinp, const real *dout, int n, int radix, size_t plane) {
    CU_FOR(t, (size_t)n * radix * plane) dinp[t] += dout[(t / plane / radix) * plane + t % plane];
}

void radix_sum_forward_cuda(real *out, const real *inp, int n, int radix, int c, int hw) {
    const size_t plane = (size_t)c * hw;
    CU_LAUNCH(k_rsum_fwd, cu_blocks((size_t)n * plane), CU_THREADS)(out, inp, n, radix, plane);
    CU_LAUNCHED("radix_sum_forward");
}

void radix_sum_backward_cuda(real *dinp, const real *dout, int n, int radix, int c, int hw) {
    const size_t plane = (size_t)c * hw;
    CU_LAUNCH(k_rsum_bwd, cu_blocks((size_t)n * radix * plane), CU_THREADS)(dinp, dout, n, radix, plane);
    CU_LAUNCHED("radix_sum_backward");
}

__global__ static void k_rwsum_fwd(real *out, const real *inp, const real *attn, int n, int radix,
                                   int c, int hw) {
    CU_FOR(t, (size_t)n * c * hw) {
        const int j = (int)(t % hw);
        const size_t p = t / hw;
        const int b = (int)(p / c), ch = (int)(p % c);
        const real *x0 = inp + ((size_t)b * radix * c + ch) * hw;
        const real *a = attn + (size_t)b * radix * c + ch;
        real y = x0[j] * a[0];
        for (int r = 1; r < radix; r++) y += x0[(size_t)r * c * hw + j] * a[(size_t)r * c];
        out[t] = y;
    }
}

__global__ static void k_rwsum_dx(real *dinp, const real *dout, const real *attn, int radix, int c,
                                  int hw, size_t total) {
    CU_FOR(t, total) {
        const size_t p = t / hw; /* (b, r, ch) */
        const size_t b = p / ((size_t)radix * c);
        const int ch = (int)(p % c);
        dinp[t] += dout[(b * c + ch) * hw + t % hw] * attn[p];
    }
}

__global__ static void k_rwsum_dattn(real *dattn, const real *dout, const real *inp, int radix,
                                     int c, int hw) {
    __shared__ double sh[CU_THREADS];
    const size_t p = blockIdx.x, b = p / ((size_t)radix * c);
    const int ch = (int)(p % c);
    const real *g = dout + (b * c + ch) * hw, *x = inp + p * hw;
    double v = 0;
    for (int j = threadIdx.x; j < hw; j += CU_THREADS) v += (double)g[j] * x[j];
    v = cu_block_sum(v, sh);
    if (threadIdx.x == 0) dattn[p] += (real)v;
}

void radix_weighted_sum_forward_cuda(real *out, const real *inp, const real *attn, int n,
                                     int radix, int c, int hw) {
    CU_LAUNCH(k_rwsum_fwd, cu_blocks((size_t)n * c * hw), CU_THREADS)(out, inp, attn, n, radix, c, hw);
    CU_LAUNCHED("radix_weighted_sum_forward");
}

void radix_weighted_sum_backward_cuda(real *dinp, real *dattn, const real *dout, const real *inp,
                                      const real *attn, int n, int radix, int c, int hw) {
    const size_t total = (size_t)n * radix * c * hw;
    if (dinp) CU_LAUNCH(k_rwsum_dx, cu_blocks(total), CU_THREADS)(dinp, dout, attn, radix, c, hw, total);
    if (dattn) CU_LAUNCH(k_rwsum_dattn, n * radix * c, CU_THREADS)(dattn, dout, inp, radix, c, hw);
    CU_LAUNCHED("radix_weighted_sum_backward");
}
