/* Depthwise convolution on the GPU as direct kernels (src/ops/depthwise.c):
 * one thread per output (forward) or input value (input gradient, gathered);
 * dweight takes one block per weight, summing over images and pixels in
 * double in a fixed order. */
#include "cuda_internal.cuh"

void conv_dbias_cuda(real *dbias, const real *dout, int n, int oc, size_t ohw);

typedef struct DwDims {
    int c, h, w, kh, kw, sh, sw, pt, pl, oh, ow;
} DwDims;

static DwDims dw_dims(const Conv2dShape *s, const char *who) {
    if (s->groups != s->c || s->oc != s->c || s->dh != 1 || s->dw != 1 || s->oh < 1 || s->ow < 1)
        fatal("%s: not a resolved depthwise shape (groups %d, c %d, oc %d, dilation %dx%d)", who,
              s->groups, s->c, s->oc, s->dh, s->dw);
    DwDims d = {s->c, s->h, s->w, s->kh, s->kw, s->sh, s->sw, s->pad_t, s->pad_l, s->oh, s->ow};
    return d;
}

__global__ static void k_dw_fwd(real *out, const real *inp, const real *weight, const real *bias,
                                DwDims d, size_t total) {
    CU_FOR(i, total) {
        const int ox = (int)(i % d.ow), oy = (int)((i / d.ow) % d.oh);
        const size_t plane = i / ((size_t)d.ow * d.oh); /* b * c + ch */
        const int ch = (int)(plane % d.c);
        const real *x = inp + plane * d.h * d.w, *wt = weight + (size_t)ch * d.kh * d.kw;
        real acc = 0;
        for (int ky = 0; ky < d.kh; ky++) {
            const int y = oy * d.sh - d.pt + ky;
            if (y < 0 || y >= d.h) continue;
            for (int kx = 0; kx < d.kw; kx++) {
                const int xx = ox * d.sw - d.pl + kx;
                if (xx < 0 || xx >= d.w) continue;
                acc += x[y * d.w + xx] * wt[ky * d.kw + kx];
            }
        }
        out[i] = bias ? acc + bias[ch] : acc;
    }
}

__global__ static void k_dw_dx(real *dinp, const real *dout, const real *weight, DwDims d,
                               size_t total) {
    CU_FOR(i, total) {
        const int x = (int)(i % d.w), y = (int)((i / d.w) % d.h);
        const size_t plane = i / ((size_t)d.w * d.h);
        const int ch = (int)(plane % d.c);
        const real *g = dout + plane * d.oh * d.ow, *wt = weight + (size_t)ch * d.kh * d.kw;
        real acc = 0;
        for (int ky = 0; ky < d.kh; ky++) {
            const int ty = y + d.pt - ky;
            if (ty < 0 || ty % d.sh || ty / d.sh >= d.oh) continue;
            for (int kx = 0; kx < d.kw; kx++) {
                const int tx = x + d.pl - kx;
                if (tx < 0 || tx % d.sw || tx / d.sw >= d.ow) continue;
                acc += g[(ty / d.sh) * d.ow + tx / d.sw] * wt[ky * d.kw + kx];
            }
        }
        dinp[i] += acc;
    }
}

/* Block per (channel, ky, kx). */
__global__ static void k_dw_dweight(real *dweight, const real *dout, const real *inp, DwDims d,
                                    int n) {
    __shared__ double sh[CU_THREADS];
    const int kx = blockIdx.x % d.kw, ky = (blockIdx.x / d.kw) % d.kh, ch = blockIdx.x / (d.kw * d.kh);
    const size_t ohw = (size_t)d.oh * d.ow, count = (size_t)n * ohw;
    double v = 0;
    for (size_t e = threadIdx.x; e < count; e += CU_THREADS) {
        const size_t b = e / ohw;
        const int o = (int)(e % ohw), oy = o / d.ow, ox = o % d.ow;
        const int y = oy * d.sh - d.pt + ky, x = ox * d.sw - d.pl + kx;
        if (y < 0 || y >= d.h || x < 0 || x >= d.w) continue;
        const size_t plane = b * d.c + ch;
        v += (double)dout[plane * ohw + o] * inp[(plane * d.h + y) * d.w + x];
    }
    v = cu_block_sum(v, sh);
    if (threadIdx.x == 0) dweight[blockIdx.x] += (real)v;
}

void depthwise_conv2d_forward_cuda(real *out, const real *inp, const real *weight,
                                   const real *bias, const Conv2dShape *s) {
    const DwDims d = dw_dims(s, "depthwise_conv2d_forward_cuda");
    const size_t total = (size_t)s->n * s->c * s->oh * s->ow;
    CU_LAUNCH(k_dw_fwd, cu_blocks(total), CU_THREADS)(out, inp, weight, bias, d, total);
    CU_LAUNCHED("depthwise forward");
}

void depthwise_conv2d_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                                    const real *inp, const real *weight, const Conv2dShape *s) {
    const DwDims d = dw_dims(s, "depthwise_conv2d_backward_cuda");
    if (dinp) {
        const size_t total = (size_t)s->n * s->c * s->h * s->w;
        CU_LAUNCH(k_dw_dx, cu_blocks(total), CU_THREADS)(dinp, dout, weight, d, total);
        CU_LAUNCHED("depthwise dinp");
    }
    if (dweight) {
        CU_LAUNCH(k_dw_dweight, s->c * s->kh * s->kw, CU_THREADS)(dweight, dout, inp, d, s->n);
        CU_LAUNCHED("depthwise dweight");
    }
    if (dbias) conv_dbias_cuda(dbias, dout, s->n, s->c, (size_t)s->oh * s->ow);
}
