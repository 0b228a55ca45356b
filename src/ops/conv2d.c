/* 2-D convolution through im2col + GEMM.
 *
 * The output columns (pixels) of each group are cut into tiles: a band of
 * output rows of one image when images are large, several whole images when
 * they are small, so every GEMM sees a few thousand columns (a GEMM over
 * the whole batch falls out of cache; one over a 7x7 image is too narrow to
 * run well). A tile's column matrix is the input itself for a 1x1 band,
 * else it is unfolded (im2col) or packed into a per-thread buffer.
 *
 * Tasks are (group, tile, block of matrix rows): rows are split only when a
 * layer has too few tiles to occupy the threads. Every split depends on the
 * shape alone, never on the thread count, and each output element is
 * computed by one task, so results are the same for any thread count.
 *
 * Grouped convolutions with few channels per group take a direct kernel
 * instead (grouped.c) for the forward pass and the input gradient.
 *
 * dweight sums over tiles. Tiles are taken in a fixed number of chunks;
 * each chunk sums its tiles in order (GEMM with beta = 1) into a slot, and
 * the slots are added into dweight in chunk order (with one chunk, straight
 * into dweight). dbias is reduced per channel, images in order.
 *
 * Workspace (conv2d_workspace_bytes), T = omp_get_max_threads():
 *   [T column buffers]  K x tile_cols reals each, K = c/groups * kh * kw
 *                       (none when every tile is a 1x1 band)
 *   [T stage buffers]   ocg x tile_cols reals each: packed dout rows, or
 *                       output rows of a multi-image tile (multi-image only)
 *   [chunk slots]       backward, more than one chunk: [oc, c/groups, kh, kw]
 * Every piece starts on a 64-byte boundary so threads never share a line. */
#include "anomaly/ops/conv2d.h"
#include "anomaly/ops/fused.h"
#include "act_rows.h"
#include "anomaly/exact.h"
#include "anomaly/blas.h"
#include "anomaly/error.h"
#include "grouped.h"
#include "im2col.h"

#include <limits.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

/* A tile's column matrix should be about this size (half a typical L2)... */
#define CONV_TILE_BYTES ((size_t)512 * 1024)
/* ...within these many columns: fewer cost more in packing than they save,
 * more fall out of cache. */
#define CONV_MIN_COLS 1024
#define CONV_MAX_COLS 4096
/* Fewer (group, tile) pairs than this: split the rows of the matrices too. */
#define CONV_MIN_TASKS 4
/* dweight: tiles are summed in at most this many chunks. */
#define CONV_DW_CHUNKS 8

typedef struct ConvPlan {
    int cg, ocg;       /* channels per group, in and out */
    int K, khw;        /* cg * kh * kw: rows of the column matrix; kh * kw */
    size_t hw, ohw;    /* input and output plane sizes */
    int pointwise;     /* 1x1, stride 1, no padding: the input is the column matrix */
    int ipt;           /* images per tile; 1: tiles are bands of one image */
    int band_rows;     /* output rows per band (ipt == 1) */
    int nbands;        /* bands per image (ipt == 1) */
    int ntiles;        /* tiles per group */
    int tile_cols;     /* columns of the widest tile */
    int mblk, nmblk;   /* forward and dweight: output channels per task, tasks per tile */
    int kblk, nkblk;   /* dinp: column-matrix rows (whole channels) per task, tasks per unit */
    int dx_units;      /* dinp: per group, tiles, or images when bands of one image overlap
                        * in the input (their tiles then run in order in one task) */
    int nchunks, tiles_per_chunk; /* dweight */
    size_t col_stride; /* reals per thread's column buffer (64-byte multiple, may be 0) */
    size_t stage_stride;
    size_t wsize;      /* reals in the weight */
    size_t slot_stride;
} ConvPlan;

typedef struct Tile {
    int n0, nimg;      /* images [n0, n0 + nimg) */
    int oy0, oy1;      /* output rows (the whole image when nimg > 1) */
    int cols;
} Tile;

static size_t round_up_64(size_t reals) {
    const size_t per = 64 / sizeof(real);
    return (reals + per - 1) / per * per;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* Splits m rows into blocks (multiples of `unit`) so that `pairs` tiles
 * give about CONV_MIN_TASKS tasks. */
static void split_rows(int m, int unit, long pairs, int *blk, int *nblk) {
    int want = pairs >= CONV_MIN_TASKS ? 1 : (int)ceil_div(CONV_MIN_TASKS, (int)pairs);
    int units = ceil_div(m, unit);
    if (want > units) want = units;
    *blk = ceil_div(units, want) * unit;
    if (*blk > m) *blk = m;
    *nblk = ceil_div(m, *blk);
}

static ConvPlan conv_plan(const Conv2dShape *s) {
    ConvPlan p;
    p.cg = s->c / s->groups;
    p.ocg = s->oc / s->groups;
    p.khw = s->kh * s->kw;
    p.K = p.cg * p.khw;
    p.hw = (size_t)s->h * s->w;
    p.ohw = (size_t)s->oh * s->ow;
    p.pointwise = s->kh == 1 && s->kw == 1 && s->sh == 1 && s->sw == 1 && s->pad_t == 0 &&
                  s->pad_b == 0 && s->pad_l == 0 && s->pad_r == 0;
    size_t cols = CONV_TILE_BYTES / ((size_t)p.K * sizeof(real));
    if (cols < CONV_MIN_COLS) cols = CONV_MIN_COLS;
    if (cols > CONV_MAX_COLS) cols = CONV_MAX_COLS;
    if (2 * p.ohw <= cols && s->n > 1) {
        p.ipt = (int)(cols / p.ohw);
        if (p.ipt > s->n) p.ipt = s->n;
        p.band_rows = s->oh;
        p.nbands = 1;
        p.ntiles = ceil_div(s->n, p.ipt);
        p.tile_cols = (int)(p.ipt * p.ohw);
    } else {
        p.ipt = 1;
        size_t rows = (cols + s->ow - 1) / s->ow;
        p.band_rows = rows > (size_t)s->oh ? s->oh : (int)rows;
        p.nbands = ceil_div(s->oh, p.band_rows);
        p.ntiles = s->n * p.nbands;
        p.tile_cols = p.band_rows * s->ow;
    }
    const long pairs = (long)s->groups * p.ntiles;
    p.dx_units = !p.pointwise && p.ipt == 1 ? s->n : p.ntiles;
    split_rows(p.ocg, 16, pairs, &p.mblk, &p.nmblk);
    split_rows(p.K, p.khw * (p.khw >= 16 ? 1 : ceil_div(16, p.khw)), (long)s->groups * p.dx_units,
               &p.kblk, &p.nkblk);
    p.nchunks = p.ntiles < CONV_DW_CHUNKS ? p.ntiles : CONV_DW_CHUNKS;
    p.tiles_per_chunk = ceil_div(p.ntiles, p.nchunks);
    p.nchunks = ceil_div(p.ntiles, p.tiles_per_chunk);
    const int packed = p.ipt > 1;
    p.col_stride = p.pointwise && !packed ? 0 : round_up_64((size_t)p.K * p.tile_cols);
    p.stage_stride = packed ? round_up_64((size_t)p.ocg * p.tile_cols) : 0;
    p.wsize = (size_t)s->oc * p.K;
    p.slot_stride = p.nchunks > 1 ? round_up_64(p.wsize) : 0;
    return p;
}

static Tile tile_of(const ConvPlan *p, const Conv2dShape *s, int t) {
    Tile tl;
    if (p->ipt > 1) {
        tl.n0 = t * p->ipt;
        tl.nimg = s->n - tl.n0 < p->ipt ? s->n - tl.n0 : p->ipt;
        tl.oy0 = 0;
        tl.oy1 = s->oh;
    } else {
        tl.n0 = t / p->nbands;
        tl.nimg = 1;
        tl.oy0 = t % p->nbands * p->band_rows;
        tl.oy1 = tl.oy0 + p->band_rows < s->oh ? tl.oy0 + p->band_rows : s->oh;
    }
    tl.cols = tl.nimg * (tl.oy1 - tl.oy0) * s->ow;
    return tl;
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
    const ConvPlan p = conv_plan(s);
    return (size_t)omp_get_max_threads() * (p.col_stride + p.stage_stride) * sizeof(real);
}

size_t conv2d_backward_workspace_bytes(const Conv2dShape *s) {
    const ConvPlan p = conv_plan(s);
    return ((size_t)omp_get_max_threads() * (p.col_stride + p.stage_stride) +
            (size_t)p.nchunks * p.slot_stride) * sizeof(real);
}

size_t conv2d_workspace_bytes(const Conv2dShape *s) {
    size_t f = conv2d_forward_workspace_bytes(s), b = conv2d_backward_workspace_bytes(s);
    return f > b ? f : b;
}

/* The column matrix of tile tl, group g: [K, cols], rows *ld apart. A 1x1
 * band is the input itself; anything else is built in col. */
static const real *tile_matrix(real *col, size_t *ld, const real *inp, const Conv2dShape *s,
                               const ConvPlan *p, const Tile *tl, int g) {
    const size_t p0 = (size_t)tl->oy0 * s->ow;
    const real *x0 = inp + ((size_t)tl->n0 * s->c + (size_t)g * p->cg) * p->hw; /* [cg, h, w] */
    if (p->pointwise && tl->nimg == 1) {
        *ld = p->hw;
        return x0 + p0;
    }
    *ld = (size_t)tl->cols;
    for (int i = 0; i < tl->nimg; i++) {
        const real *x = x0 + (size_t)i * s->c * p->hw;
        real *dst = col + (size_t)i * (tl->oy1 - tl->oy0) * s->ow;
        if (p->pointwise) {
            for (int ci = 0; ci < p->cg; ci++)
                memcpy(dst + (size_t)ci * *ld, x + (size_t)ci * p->hw, p->ohw * sizeof(real));
        } else {
            im2col_rows(dst, *ld, x, s, p->cg, tl->oy0, tl->oy1);
        }
    }
    return col;
}

/* Rows [m0, m0 + mc) of dout for tile tl, group g: [mc, cols], rows *ld
 * apart; packed into stage when the tile spans images. */
static const real *tile_dout(real *stage, size_t *ld, const real *dout, const Conv2dShape *s,
                             const ConvPlan *p, const Tile *tl, int g, int m0, int mc) {
    const size_t p0 = (size_t)tl->oy0 * s->ow;
    const real *d0 = dout + ((size_t)tl->n0 * s->oc + (size_t)g * p->ocg + m0) * p->ohw;
    if (tl->nimg == 1) {
        *ld = p->ohw;
        return d0 + p0;
    }
    *ld = (size_t)tl->cols;
    for (int i = 0; i < tl->nimg; i++)
        for (int o = 0; o < mc; o++)
            memcpy(stage + (size_t)o * *ld + (size_t)i * p->ohw,
                   d0 + ((size_t)i * s->oc + o) * p->ohw, p->ohw * sizeof(real));
    return stage;
}

/* Forward task: output channels [m0, m0 + mc) of group g over tile tl. */
static void forward_task(real *out, const real *inp, const real *weight, const real *bias,
                         const Conv2dShape *s, const ConvPlan *p, real *col, real *stage,
                         const Tile *tl, int g, int m0, int mc, const real *affine, BnAct act) {
    size_t ldb;
    const real *B = tile_matrix(col, &ldb, inp, s, p, tl, g);
    const real *wg = weight + ((size_t)g * p->ocg + m0) * p->K; /* [mc, K] */
    const size_t p0 = (size_t)tl->oy0 * s->ow;
    real *y0 = out + ((size_t)tl->n0 * s->oc + (size_t)g * p->ocg + m0) * p->ohw;
    if (tl->nimg == 1) {
        gemm(0, 0, mc, tl->cols, p->K, 1, wg, p->K, B, (int)ldb, 0, y0 + p0, (int)p->ohw);
    } else {
        gemm(0, 0, mc, tl->cols, p->K, 1, wg, p->K, B, (int)ldb, 0, stage, tl->cols);
        for (int i = 0; i < tl->nimg; i++)
            for (int o = 0; o < mc; o++)
                memcpy(y0 + ((size_t)i * s->oc + o) * p->ohw,
                       stage + (size_t)o * tl->cols + (size_t)i * p->ohw, p->ohw * sizeof(real));
    }
    const int np = (tl->oy1 - tl->oy0) * s->ow;
    if (bias)
        for (int i = 0; i < tl->nimg; i++)
            for (int o = 0; o < mc; o++) {
                const real b = bias[g * p->ocg + m0 + o];
                real *row = y0 + ((size_t)i * s->oc + o) * p->ohw + p0;
                for (int j = 0; j < np; j++) row[j] += b;
            }
    if (!affine) return;
    /* BatchNorm + activation on the block just written, still in cache */
    const int ch = g * p->ocg + m0;
    for (int i = 0; i < tl->nimg; i++)
        batchnorm2d_act_rows(y0 + (size_t)i * s->oc * p->ohw + p0, p->ohw, mc, np, affine + ch,
                             affine + s->oc + ch, act);
}

/* The forward; with affine, each task's output block then goes through
 * BatchNorm + activation (conv2d_forward_bn_act). */
static void forward_impl(real *out, const real *inp, const real *weight, const real *bias,
                         const Conv2dShape *s, void *work, const real *affine, BnAct act) {
    if (exact_mode()) {
        if (affine) conv2d_forward_bn_act_ref(out, inp, weight, bias, s, work, affine, act);
        else conv2d_forward_ref(out, inp, weight, bias, s, work);
        return;
    }
    if (grouped_conv_direct(s)) {
        grouped_conv2d_forward(out, inp, weight, bias, s);
        if (affine) {
            const BatchNormShape bs = {s->n, s->oc, s->oh * s->ow, 0, 0};
            batchnorm2d_act_recompute(out, out, affine, &bs, act);
        }
        return;
    }
    const int T = omp_get_max_threads();
    const ConvPlan p = conv_plan(s);
    real *bufs = work; /* [T][col_stride + stage_stride] */
    const long per_group = (long)p.ntiles * p.nmblk, ntask = (long)s->groups * per_group;
#pragma omp parallel for num_threads(T) schedule(dynamic, 1) if (ntask > 1)
    for (long t = 0; t < ntask; t++) {
        real *col = bufs ? bufs + (size_t)omp_get_thread_num() * (p.col_stride + p.stage_stride)
                         : NULL;
        const int g = (int)(t / per_group), mb = (int)(t % p.nmblk);
        const Tile tl = tile_of(&p, s, (int)(t % per_group / p.nmblk));
        const int m0 = mb * p.mblk, mc = p.ocg - m0 < p.mblk ? p.ocg - m0 : p.mblk;
        forward_task(out, inp, weight, bias, s, &p, col, col ? col + p.col_stride : NULL, &tl, g,
                     m0, mc, affine, act);
    }
}

void conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                    const Conv2dShape *s, void *work) {
    forward_impl(out, inp, weight, bias, s, work, NULL, 0);
}

void conv2d_forward_bn_act(real *out, const real *inp, const real *weight, const real *bias,
                           const Conv2dShape *s, void *work, const real *affine, BnAct act) {
    if (act != BN_ACT_SWISH && act != BN_ACT_RELU)
        fatal("conv2d_forward_bn_act: unknown activation %d", (int)act);
    forward_impl(out, inp, weight, bias, s, work, affine, act);
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

/* dinp task: column-matrix rows [k0, k0 + kc) (whole channels) of group g
 * over tile tl: dcol = W_g^T dY, then into dinp. */
static void dinp_task(real *dinp, const real *dout, const real *weight, const Conv2dShape *s,
                      const ConvPlan *p, real *col, real *stage, const Tile *tl, int g, int k0,
                      int kc) {
    size_t ldd;
    const real *D = tile_dout(stage, &ldd, dout, s, p, tl, g, 0, p->ocg);
    const real *wg = weight + (size_t)g * p->ocg * p->K + k0; /* columns k0.. of [ocg, K] */
    const size_t p0 = (size_t)tl->oy0 * s->ow;
    const int ci0 = k0 / p->khw;
    real *dx0 = dinp + ((size_t)tl->n0 * s->c + (size_t)g * p->cg + ci0) * p->hw;
    if (p->pointwise && tl->nimg == 1) {
        gemm(1, 0, kc, tl->cols, p->ocg, 1, wg, p->K, D, (int)ldd, 1, dx0 + p0, (int)p->hw);
        return;
    }
    gemm(1, 0, kc, tl->cols, p->ocg, 1, wg, p->K, D, (int)ldd, 0, col, tl->cols);
    const size_t img_cols = (size_t)(tl->oy1 - tl->oy0) * s->ow;
    for (int i = 0; i < tl->nimg; i++) {
        real *dx = dx0 + (size_t)i * s->c * p->hw;
        const real *src = col + (size_t)i * img_cols;
        if (p->pointwise) {
            for (int ci = 0; ci < kc; ci++) {
                real *d = dx + (size_t)ci * p->hw;
                const real *c = src + (size_t)ci * tl->cols;
                for (size_t j = 0; j < p->ohw; j++) d[j] += c[j];
            }
        } else {
            col2im_rows(dx, src, (size_t)tl->cols, s, kc / p->khw, tl->oy0, tl->oy1);
        }
    }
}

/* dweight task: output channels [m0, m0 + mc) of group g, summed over the
 * tiles of chunk ch into dst ([mc, K] rows of dweight or of a slot). */
static void dweight_task(real *dst, int accumulate, const real *dout, const real *inp,
                         const Conv2dShape *s, const ConvPlan *p, real *col, real *stage, int g,
                         int ch, int m0, int mc) {
    const int t0 = ch * p->tiles_per_chunk;
    const int t1 = t0 + p->tiles_per_chunk < p->ntiles ? t0 + p->tiles_per_chunk : p->ntiles;
    for (int t = t0; t < t1; t++) {
        const Tile tl = tile_of(p, s, t);
        size_t ldb, ldd;
        const real *B = tile_matrix(col, &ldb, inp, s, p, &tl, g);
        const real *D = tile_dout(stage, &ldd, dout, s, p, &tl, g, m0, mc);
        /* dW (+)= dY_tile * col_tile^T */
        gemm(0, 1, mc, p->K, tl.cols, 1, D, (int)ldd, B, (int)ldb,
             accumulate || t > t0 ? 1 : 0, dst, p->K);
    }
}

void conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                     const real *weight, const Conv2dShape *s, void *work) {
    if (exact_mode()) {
        conv2d_backward_ref(dinp, dweight, dbias, dout, inp, weight, s, work);
        return;
    }
    const int T = omp_get_max_threads();
    const ConvPlan p = conv_plan(s);
    if (dbias) bias_backward(dbias, dout, s, &p);
    if (dinp && grouped_conv_direct(s)) {
        grouped_conv2d_backward_input(dinp, dout, weight, s);
        dinp = NULL;
    }
    if (!dinp && !dweight) return;
    const size_t per_thread = p.col_stride + p.stage_stride;
    real *slots = (real *)work + (size_t)T * per_thread; /* [nchunks][slot_stride] */
    const int G = s->groups;
    /* dinp tasks first, then dweight tasks: one list, one barrier */
    const long nx = dinp ? (long)G * p.dx_units * p.nkblk : 0;
    const long nw = dweight ? (long)G * p.nchunks * p.nmblk : 0;
#pragma omp parallel num_threads(T) if (nx + nw > 1)
    {
        real *col = per_thread ? (real *)work + (size_t)omp_get_thread_num() * per_thread : NULL;
        real *stage = col ? col + p.col_stride : NULL;
#pragma omp for schedule(dynamic, 1)
        for (long t = 0; t < nx + nw; t++) {
            if (t < nx) {
                const long per_group = (long)p.dx_units * p.nkblk;
                const int g = (int)(t / per_group), kb = (int)(t % p.nkblk);
                const int unit = (int)(t % per_group / p.nkblk);
                const int k0 = kb * p.kblk, kc = p.K - k0 < p.kblk ? p.K - k0 : p.kblk;
                /* a unit is one tile, or the bands of one image, in order */
                const int nt = p.dx_units == p.ntiles ? 1 : p.nbands;
                for (int b = 0; b < nt; b++) {
                    const Tile tl = tile_of(&p, s, unit * nt + b);
                    dinp_task(dinp, dout, weight, s, &p, col, stage, &tl, g, k0, kc);
                }
            } else {
                const long u = t - nx, per_group = (long)p.nchunks * p.nmblk;
                const int g = (int)(u / per_group), mb = (int)(u % p.nmblk);
                const int ch = (int)(u % per_group / p.nmblk);
                const int m0 = mb * p.mblk, mc = p.ocg - m0 < p.mblk ? p.ocg - m0 : p.mblk;
                const size_t row = ((size_t)g * p.ocg + m0) * p.K;
                if (p.nchunks == 1)
                    dweight_task(dweight + row, 1, dout, inp, s, &p, col, stage, g, 0, m0, mc);
                else
                    dweight_task(slots + (size_t)ch * p.slot_stride + row, 0, dout, inp, s, &p,
                                 col, stage, g, ch, m0, mc);
            }
        }
        if (dweight && p.nchunks > 1) {
#pragma omp for schedule(static)
            for (size_t j = 0; j < p.wsize; j++) {
                real acc = dweight[j];
                for (int c = 0; c < p.nchunks; c++) acc += slots[(size_t)c * p.slot_stride + j];
                dweight[j] = acc;
            }
        }
    }
}
