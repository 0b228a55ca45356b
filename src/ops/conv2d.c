/* 2-D convolution through im2col + GEMM.
 *
 * Work is split into tasks of (image, group, band of output rows); each task
 * unfolds its band into a per-thread column buffer and runs one
 * single-threaded GEMM. Bands keep the column buffer near cache size and give
 * a single image enough tasks to occupy every thread. The band height depends
 * only on the shape, never on the thread count, so every output element is
 * computed by the same sequence of operations whatever the thread count.
 *
 * Workspace layout (conv2d_workspace_bytes), T = omp_get_max_threads():
 *   [T column buffers]  each K x band_pixels reals (none for the 1x1 path),
 *                       K = c/groups * kh * kw
 *   [S weight slots]    backward only: each one image's dweight contribution
 *                       [oc, c/groups, kh, kw]; S = min(T, n), the images
 *                       of one wave
 * Every piece starts on a 64-byte boundary so threads never share a line.
 *
 * dweight is a sum over images. Each image's contribution is computed whole
 * into its slot (one task per image and group, in parallel), then the slots
 * are added into dweight in image order, so the rounding is the same for any
 * thread count. dbias is reduced per channel, images in order. */
#include "anomaly/ops/conv2d.h"
#include "anomaly/blas.h"
#include "anomaly/error.h"
#include "im2col.h"

#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

/* Target size of one band's column buffer: about half a typical L2. */
#define CONV_BAND_BYTES ((size_t)512 * 1024)
/* Fewer pixels per GEMM than this costs more in packing than it saves. */
#define CONV_BAND_MIN_PIXELS 1024

typedef struct ConvPlan {
    int cg, ocg;       /* channels per group, in and out */
    int K;             /* cg * kh * kw: rows of the column matrix */
    size_t hw, ohw;    /* input and output plane sizes */
    int pointwise;     /* 1x1, stride 1, no padding: the input is the column matrix */
    int band_rows;     /* output rows per band */
    int nbands;
    size_t col_stride; /* reals per thread's column buffer (64-byte multiple) */
    size_t wsize;      /* reals in the weight */
    size_t slot_stride;
    int nslots;        /* images per backward wave: one per thread */
} ConvPlan;

static size_t round_up_64(size_t reals) {
    const size_t per = 64 / sizeof(real);
    return (reals + per - 1) / per * per;
}

static ConvPlan conv_plan(const Conv2dShape *s, int threads) {
    ConvPlan p;
    p.cg = s->c / s->groups;
    p.ocg = s->oc / s->groups;
    p.K = p.cg * s->kh * s->kw;
    p.hw = (size_t)s->h * s->w;
    p.ohw = (size_t)s->oh * s->ow;
    p.pointwise = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_t == 0 &&
                  s->pad_b == 0 && s->pad_l == 0 && s->pad_r == 0;
    size_t pixels = CONV_BAND_BYTES / ((size_t)p.K * sizeof(real));
    if (pixels < CONV_BAND_MIN_PIXELS) pixels = CONV_BAND_MIN_PIXELS;
    size_t rows = (pixels + s->ow - 1) / s->ow;
    p.band_rows = rows > (size_t)s->oh ? s->oh : (int)rows;
    p.nbands = (s->oh + p.band_rows - 1) / p.band_rows;
    p.col_stride = p.pointwise ? 0 : round_up_64((size_t)p.K * p.band_rows * s->ow);
    p.wsize = (size_t)s->oc * p.K;
    p.slot_stride = round_up_64(p.wsize);
    p.nslots = threads < s->n ? threads : s->n;
    return p;
}

int conv2d_shape_resolve(Conv2dShape *s, char *err, size_t errlen) {
#define BAD(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)
    if (s->n <= 0 || s->c <= 0 || s->h <= 0 || s->w <= 0)
        BAD("conv2d: input shape [%d, %d, %d, %d] has a non-positive size", s->n, s->c, s->h, s->w);
    if (s->oc <= 0) BAD("conv2d: output channels %d must be positive", s->oc);
    if (s->kh <= 0 || s->kw <= 0) BAD("conv2d: kernel %dx%d must be positive", s->kh, s->kw);
    if (s->sh <= 0 || s->sw <= 0) BAD("conv2d: stride %dx%d must be positive", s->sh, s->sw);
    if (s->dh <= 0 || s->dw <= 0) BAD("conv2d: dilation %dx%d must be positive", s->dh, s->dw);
    if (s->pad_t < 0 || s->pad_b < 0 || s->pad_l < 0 || s->pad_r < 0)
        BAD("conv2d: padding (top %d, bottom %d, left %d, right %d) must not be negative",
            s->pad_t, s->pad_b, s->pad_l, s->pad_r);
    if (s->groups <= 0) BAD("conv2d: groups %d must be positive", s->groups);
    if (s->c % s->groups)
        BAD("conv2d: groups %d must divide the input channels %d", s->groups, s->c);
    if (s->oc % s->groups)
        BAD("conv2d: groups %d must divide the output channels %d", s->groups, s->oc);
    /* extent of the dilated kernel, and of the padded input */
    const long long span_h = (long long)s->dh * (s->kh - 1) + 1;
    const long long span_w = (long long)s->dw * (s->kw - 1) + 1;
    const long long in_h = (long long)s->h + s->pad_t + s->pad_b;
    const long long in_w = (long long)s->w + s->pad_l + s->pad_r;
    if (span_h > in_h || span_w > in_w)
        BAD("conv2d: kernel %dx%d (dilation %dx%d) does not fit the padded input %lldx%lld: "
            "empty output", s->kh, s->kw, s->dh, s->dw, in_h, in_w);
    const long long oh = (in_h - span_h) / s->sh + 1, ow = (in_w - span_w) / s->sw + 1;
    const long long k = (long long)(s->c / s->groups) * s->kh * s->kw;
    /* GEMM dimensions are ints */
    if (oh * ow > INT_MAX || k > INT_MAX || (long long)s->h * s->w > INT_MAX)
        BAD("conv2d: shape too large (output %lldx%lld, %lld rows per column)", oh, ow, k);
    s->oh = (int)oh;
    s->ow = (int)ow;
    return 0;
#undef BAD
}

size_t conv2d_forward_workspace_bytes(const Conv2dShape *s) {
    int T = omp_get_max_threads();
    ConvPlan p = conv_plan(s, T);
    return (size_t)T * p.col_stride * sizeof(real);
}

size_t conv2d_backward_workspace_bytes(const Conv2dShape *s) {
    int T = omp_get_max_threads();
    ConvPlan p = conv_plan(s, T);
    return ((size_t)T * p.col_stride + (size_t)p.nslots * p.slot_stride) * sizeof(real);
}

size_t conv2d_workspace_bytes(const Conv2dShape *s) {
    size_t f = conv2d_forward_workspace_bytes(s), b = conv2d_backward_workspace_bytes(s);
    return f > b ? f : b;
}

/* One band of one image and group: out rows [oy0, oy1). */
static void forward_band(real *out, const real *inp, const real *weight, const real *bias,
                         const Conv2dShape *s, const ConvPlan *p, real *col, int n, int g,
                         int band) {
    const int oy0 = band * p->band_rows;
    const int oy1 = oy0 + p->band_rows < s->oh ? oy0 + p->band_rows : s->oh;
    const int np = (oy1 - oy0) * s->ow;
    const size_t p0 = (size_t)oy0 * s->ow;
    const real *x = inp + ((size_t)n * s->c + (size_t)g * p->cg) * p->hw;     /* [cg, h, w] */
    const real *wg = weight + (size_t)g * p->ocg * p->K;                      /* [ocg, K] */
    real *y = out + ((size_t)n * s->oc + (size_t)g * p->ocg) * p->ohw + p0;   /* [ocg, ohw] */
    const real *B;
    int ldb;
    if (p->pointwise) {
        B = x + p0;
        ldb = (int)p->hw;
    } else {
        im2col_rows(col, x, s, p->cg, oy0, oy1);
        B = col;
        ldb = np;
    }
    gemm(0, 0, p->ocg, np, p->K, 1, wg, p->K, B, ldb, 0, y, (int)p->ohw);
    if (bias) {
        for (int o = 0; o < p->ocg; o++) {
            const real b = bias[g * p->ocg + o];
            real *row = y + (size_t)o * p->ohw;
            for (int i = 0; i < np; i++) row[i] += b;
        }
    }
}

void conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                    const Conv2dShape *s, void *work) {
    const int T = omp_get_max_threads();
    const ConvPlan p = conv_plan(s, T);
    real *cols = work; /* [T][col_stride] */
    const long nb = p.nbands, G = s->groups, ntask = (long)s->n * G * nb;
#pragma omp parallel for num_threads(T) schedule(dynamic, 1) if (ntask > 1)
    for (long t = 0; t < ntask; t++) {
        /* the 1x1 path needs no buffer, and may be given none */
        real *col = p.col_stride ? cols + (size_t)omp_get_thread_num() * p.col_stride : NULL;
        forward_band(out, inp, weight, bias, s, &p, col, (int)(t / (G * nb)), (int)(t / nb % G),
                     (int)(t % nb));
    }
}

/* Sum of x[0..n) in a fixed order: 8 interleaved partial sums (which the
 * compiler can keep in one vector register), then combined pairwise. */
static real sum_fixed(const real *x, size_t n) {
    real acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; l++) acc[l] += x[i + l];
    for (; i < n; i++) acc[i & 7] += x[i];
    return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
}

static void bias_backward(real *dbias, const real *dout, const Conv2dShape *s, const ConvPlan *p) {
#pragma omp parallel for schedule(static) if (s->oc > 1)
    for (int o = 0; o < s->oc; o++) {
        real acc = dbias[o];
        for (int n = 0; n < s->n; n++)
            acc += sum_fixed(dout + ((size_t)n * s->oc + o) * p->ohw, p->ohw);
        dbias[o] = acc;
    }
}

/* One image and group: accumulates dinp (if dx) and writes this image's
 * whole dweight contribution for the group into slot (if slot). */
static void backward_task(real *dinp, real *slot, const real *dout, const real *inp,
                          const real *weight, const Conv2dShape *s, const ConvPlan *p, real *col,
                          int n, int g) {
    const real *x = inp + ((size_t)n * s->c + (size_t)g * p->cg) * p->hw;    /* [cg, h, w] */
    real *dx = dinp ? dinp + ((size_t)n * s->c + (size_t)g * p->cg) * p->hw : NULL;
    const real *dy = dout + ((size_t)n * s->oc + (size_t)g * p->ocg) * p->ohw; /* [ocg, ohw] */
    const real *wg = weight + (size_t)g * p->ocg * p->K;                       /* [ocg, K] */
    real *sg = slot ? slot + (size_t)g * p->ocg * p->K : NULL;                 /* [ocg, K] */
    const int ldy = (int)p->ohw;
    for (int band = 0; band < p->nbands; band++) {
        const int oy0 = band * p->band_rows;
        const int oy1 = oy0 + p->band_rows < s->oh ? oy0 + p->band_rows : s->oh;
        const int np = (oy1 - oy0) * s->ow;
        const size_t p0 = (size_t)oy0 * s->ow;
        if (sg) {
            const real *B = x + p0;
            int ldb = (int)p->hw;
            if (!p->pointwise) {
                im2col_rows(col, x, s, p->cg, oy0, oy1);
                B = col;
                ldb = np;
            }
            /* dW_g (+)= dY_band * col_band^T */
            gemm(0, 1, p->ocg, p->K, np, 1, dy + p0, ldy, B, ldb, band ? 1 : 0, sg, p->K);
        }
        if (dx) {
            if (p->pointwise) {
                gemm(1, 0, p->cg, np, p->ocg, 1, wg, p->K, dy + p0, ldy, 1, dx + p0, (int)p->hw);
            } else {
                gemm(1, 0, p->K, np, p->ocg, 1, wg, p->K, dy + p0, ldy, 0, col, np);
                col2im_rows(dx, col, s, p->cg, oy0, oy1);
            }
        }
    }
}

void conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, const Conv2dShape *s, void *work) {
    const int T = omp_get_max_threads();
    const ConvPlan p = conv_plan(s, T);
    if (dbias) bias_backward(dbias, dout, s, &p);
    if (!dinp && !dweight) return;
    real *cols = work;                                /* [T][col_stride] */
    real *slots = cols + (size_t)T * p.col_stride;    /* [nslots][slot_stride] */
    const int wave = dweight ? p.nslots : s->n;
    const int G = s->groups;
#pragma omp parallel num_threads(T) if ((long)s->n * G > 1 || (dweight && p.wsize > 4096))
    {
        real *col = cols + (size_t)omp_get_thread_num() * p.col_stride;
        for (int n0 = 0; n0 < s->n; n0 += wave) {
            const int wn = n0 + wave <= s->n ? wave : s->n - n0;
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < wn * G; t++) {
                const int i = t / G;
                backward_task(dinp, dweight ? slots + (size_t)i * p.slot_stride : NULL, dout, inp,
                              weight, s, &p, col, n0 + i, t % G);
            }
            if (dweight) {
#pragma omp for schedule(static)
                for (size_t j = 0; j < p.wsize; j++) {
                    real acc = dweight[j];
                    for (int i = 0; i < wn; i++) acc += slots[(size_t)i * p.slot_stride + j];
                    dweight[j] = acc;
                }
            }
        }
    }
}
