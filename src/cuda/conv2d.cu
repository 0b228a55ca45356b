/* 2-D convolution on the GPU through im2col + cuBLAS (src/ops/conv2d.c):
 * any kernel, stride, dilation, per-side padding and groups. An image at a
 * time: its column matrix [c * kh * kw, oh * ow] (group g's rows are
 * contiguous), then one strided-batched GEMM over the groups. The input
 * gradient is the GEMM W^T dout into a column matrix, folded back by a
 * gathering col2im (one thread per input value, no atomics). dweight adds
 * the images' GEMMs in image order (beta = 1), dbias sums in double per
 * channel: every result is deterministic. */
#include "cuda_internal.cuh"

typedef struct ConvDims {
    int c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, oh, ow;
} ConvDims;

static ConvDims conv_dims(const Conv2dShape *s, const char *who) {
    if (s->oh < 1 || s->ow < 1 || s->groups < 1 || s->c % s->groups || s->oc % s->groups)
        fatal("%s: unresolved or bad shape (call conv2d_shape_resolve first)", who);
    ConvDims d = {s->c, s->h, s->w, s->kh, s->kw, s->sh, s->sw,
                  s->dh, s->dw, s->pad_t, s->pad_l, s->oh, s->ow};
    return d;
}

static int pointwise(const Conv2dShape *s) {
    return s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_t == 0 &&
           s->pad_b == 0 && s->pad_l == 0 && s->pad_r == 0;
}

/* col [c * kh * kw, oh * ow] of one image inp [c, h, w] */
__global__ static void k_im2col(real *col, const real *inp, ConvDims d, size_t total) {
    CU_FOR(i, total) {
        const size_t ohw = (size_t)d.oh * d.ow;
        const int row = (int)(i / ohw), o = (int)(i % ohw);
        const int kx = row % d.kw, ky = (row / d.kw) % d.kh, ci = row / (d.kw * d.kh);
        const int y = (o / d.ow) * d.sh - d.pt + ky * d.dh;
        const int x = (o % d.ow) * d.sw - d.pl + kx * d.dw;
        col[i] = y >= 0 && y < d.h && x >= 0 && x < d.w ? inp[((size_t)ci * d.h + y) * d.w + x]
                                                         : (real)0;
    }
}

/* dinp [c, h, w] += the column matrix folded back, gathered per input value */
__global__ static void k_col2im(real *dinp, const real *col, ConvDims d, size_t total) {
    CU_FOR(i, total) {
        const size_t ohw = (size_t)d.oh * d.ow;
        const int x = (int)(i % d.w), y = (int)((i / d.w) % d.h), ci = (int)(i / ((size_t)d.w * d.h));
        real acc = 0;
        for (int ky = 0; ky < d.kh; ky++) {
            const int ty = y + d.pt - ky * d.dh;
            if (ty < 0 || ty % d.sh) continue;
            const int oy = ty / d.sh;
            if (oy >= d.oh) continue;
            for (int kx = 0; kx < d.kw; kx++) {
                const int tx = x + d.pl - kx * d.dw;
                if (tx < 0 || tx % d.sw) continue;
                const int ox = tx / d.sw;
                if (ox >= d.ow) continue;
                acc += col[((size_t)(ci * d.kh + ky) * d.kw + kx) * ohw + (size_t)oy * d.ow + ox];
            }
        }
        dinp[i] += acc;
    }
}

__global__ static void k_add_bias(real *out, const real *bias, size_t total, int oc, size_t ohw) {
    CU_FOR(i, total) out[i] += bias[(i / ohw) % oc];
}

/* Block per channel: dbias[o] += sum over images and pixels, in double. */
__global__ static void k_dbias(real *dbias, const real *dout, int n, int oc, size_t ohw) {
    __shared__ double sh[CU_THREADS];
    const int o = blockIdx.x;
    const size_t count = (size_t)n * ohw;
    double v = 0;
    for (size_t e = threadIdx.x; e < count; e += CU_THREADS)
        v += dout[((e / ohw) * oc + o) * ohw + e % ohw];
    v = cu_block_sum(v, sh);
    if (threadIdx.x == 0) dbias[o] += (real)v;
}

void conv_dbias_cuda(real *dbias, const real *dout, int n, int oc, size_t ohw);
void conv_dbias_cuda(real *dbias, const real *dout, int n, int oc, size_t ohw) {
    CU_LAUNCH(k_dbias, oc, CU_THREADS)(dbias, dout, n, oc, ohw);
    CU_LAUNCHED("conv dbias");
}

void conv2d_forward_cuda(real *out, const real *inp, const real *weight, const real *bias,
                         const Conv2dShape *s) {
    const ConvDims d = conv_dims(s, "conv2d_forward_cuda");
    const int G = s->groups, cg = s->c / G, ocg = s->oc / G, K = cg * s->kh * s->kw;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    const size_t col_n = (size_t)s->c * s->kh * s->kw * ohw;
    const int pw = pointwise(s);
    real *col = pw ? NULL : (real *)cuda_alloc(col_n * sizeof(real), "a convolution column matrix");
    for (int b = 0; b < s->n; b++) {
        const real *x = inp + (size_t)b * s->c * hw;
        if (!pw) {
            CU_LAUNCH(k_im2col, cu_blocks(col_n), CU_THREADS)(col, x, d, col_n);
            CU_LAUNCHED("im2col");
        }
        cu_gemm(0, 0, ocg, (int)ohw, K, 1, weight, K, (long long)ocg * K, pw ? x : col, (int)ohw,
                (long long)K * ohw, 0, out + (size_t)b * s->oc * ohw, (int)ohw,
                (long long)ocg * ohw, G);
    }
    if (bias) {
        const size_t total = (size_t)s->n * s->oc * ohw;
        CU_LAUNCH(k_add_bias, cu_blocks(total), CU_THREADS)(out, bias, total, s->oc, ohw);
        CU_LAUNCHED("conv bias");
    }
    cuda_free(col);
}

void conv2d_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                          const real *inp, const real *weight, const Conv2dShape *s) {
    const ConvDims d = conv_dims(s, "conv2d_backward_cuda");
    const int G = s->groups, cg = s->c / G, ocg = s->oc / G, K = cg * s->kh * s->kw;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    const size_t col_n = (size_t)s->c * s->kh * s->kw * ohw, in_n = (size_t)s->c * hw;
    const int pw = pointwise(s);
    real *col = pw ? NULL : (real *)cuda_alloc(col_n * sizeof(real), "a convolution column matrix");
    for (int b = 0; b < s->n; b++) {
        const real *x = inp + (size_t)b * in_n, *g = dout + (size_t)b * s->oc * ohw;
        if (dweight) {
            if (!pw) {
                CU_LAUNCH(k_im2col, cu_blocks(col_n), CU_THREADS)(col, x, d, col_n);
                CU_LAUNCHED("im2col");
            }
            cu_gemm(0, 1, ocg, K, (int)ohw, 1, g, (int)ohw, (long long)ocg * ohw, pw ? x : col,
                    (int)ohw, (long long)K * ohw, 1, dweight, K, (long long)ocg * K, G);
        }
        if (dinp) {
            real *dx = dinp + (size_t)b * in_n;
            if (pw) {
                cu_gemm(1, 0, K, (int)ohw, ocg, 1, weight, K, (long long)ocg * K, g, (int)ohw,
                        (long long)ocg * ohw, 1, dx, (int)ohw, (long long)K * ohw, G);
            } else {
                cu_gemm(1, 0, K, (int)ohw, ocg, 1, weight, K, (long long)ocg * K, g, (int)ohw,
                        (long long)ocg * ohw, 0, col, (int)ohw, (long long)K * ohw, G);
                CU_LAUNCH(k_col2im, cu_blocks(in_n), CU_THREADS)(dx, col, d, in_n);
                CU_LAUNCHED("col2im");
            }
        }
    }
    if (dbias) conv_dbias_cuda(dbias, dout, s->n, s->oc, ohw);
    cuda_free(col);
}
