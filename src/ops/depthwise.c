/* Depthwise convolution as a direct kernel.
 *
 * im2col would copy every input pixel kh*kw times to feed GEMMs with a single
 * output row. Instead each (image, channel) plane is copied once into a
 * zero-padded scratch plane, so the tap loops need no bounds tests and run
 * over whole rows: blocks of DW_LANES output columns, a fixed length the
 * compiler vectorises even at -O2 (whose cost model skips loops of unknown
 * length).
 *
 * Forward and dinp: one task per (image, channel). dweight and dbias: one
 * task per channel, images in order, with per-column partial sums that keep
 * the row loops vectorisable. Nothing depends on the thread count. */
#include "anomaly/ops/depthwise.h"
#include "anomaly/error.h"

#include <stdlib.h>
#include <string.h>

#define DW_LANES 8

static void check_depthwise(const Conv2dShape *s) {
    if (s->groups != s->c || s->oc != s->c || s->dh != 1 || s->dw != 1)
        fatal("depthwise conv2d needs groups == in == out channels and no dilation "
              "(got groups %d, channels %d -> %d, dilation %dx%d)",
              s->groups, s->c, s->oc, s->dh, s->dw);
}

/* The padded plane, stored by column phase: padded column p of a row sits
 * in segment p % sw at index p / sw. Tap kx of output column ox reads padded
 * column ox * sw + kx, i.e. segment kx % sw at index ox + kx / sw, so every
 * stride reads consecutive memory. Each segment has room for the last,
 * partial block of output columns to read past the row (zeros). */
typedef struct PadGeom {
    int hp;   /* rows: h + pad_t + pad_b */
    int wq;   /* entries per phase segment */
    int rs;   /* row stride: sw * wq */
} PadGeom;

static PadGeom pad_geom(const Conv2dShape *s) {
    PadGeom g;
    const int ow_blocks = (s->ow + DW_LANES - 1) / DW_LANES * DW_LANES;
    const int wp = s->w + s->pad_l + s->pad_r;
    g.hp = s->h + s->pad_t + s->pad_b;
    g.wq = (wp + s->sw - 1) / s->sw;
    if (ow_blocks + (s->kw - 1) / s->sw > g.wq) g.wq = ow_blocks + (s->kw - 1) / s->sw;
    g.rs = s->sw * g.wq;
    return g;
}

/* toff[ky * kw + kx]: where tap (ky, kx) of output (0, 0) sits in the
 * padded plane; output (oy, ox) adds oy * sh * rs + ox. Caller frees. */
static size_t *tap_offsets(const Conv2dShape *s, PadGeom g) {
    size_t *toff = xmalloc((size_t)s->kh * s->kw * sizeof *toff, "depthwise tap offsets");
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++)
            toff[ky * s->kw + kx] =
                (size_t)ky * g.rs + (size_t)(kx % s->sw) * g.wq + (size_t)(kx / s->sw);
    return toff;
}

/* dst [hp, rs] = src [h, w] surrounded by zeros, in phase layout. */
static void pad_plane(real *dst, const real *src, const Conv2dShape *s, PadGeom g) {
    memset(dst, 0, (size_t)g.hp * g.rs * sizeof *dst);
    for (int iy = 0; iy < s->h; iy++) {
        real *row = dst + (size_t)(iy + s->pad_t) * g.rs;
        const real *in = src + (size_t)iy * s->w;
        if (s->sw == 1) {
            memcpy(row + s->pad_l, in, (size_t)s->w * sizeof *row);
            continue;
        }
        for (int ix = 0; ix < s->w; ix++) {
            const int p = ix + s->pad_l;
            row[(p % s->sw) * g.wq + p / s->sw] = in[ix];
        }
    }
}

/* One output row; xr: the padded plane at the row's first input row. Every
 * value is b + its taps in (ky, kx) order, DW_LANES columns at a time in
 * registers. The last block may be partial: it reads zeros past the row and
 * stores only the real columns. */
static void forward_row(real *yr, const real *xr, const real *wc, const size_t *toff, int kk,
                        real b, int ow) {
    for (int ox = 0; ox < ow; ox += DW_LANES) {
        real acc[DW_LANES];
        for (int l = 0; l < DW_LANES; l++) acc[l] = b;
        for (int t = 0; t < kk; t++) {
            const real wv = wc[t];
            const real *p = xr + toff[t] + ox;
            for (int l = 0; l < DW_LANES; l++) acc[l] += wv * p[l];
        }
        const int n = ow - ox < DW_LANES ? ow - ox : DW_LANES;
        for (int l = 0; l < n; l++) yr[ox + l] = acc[l];
    }
}

void depthwise_conv2d_forward(real *out, const real *inp, const real *weight,
                              const real *bias, const Conv2dShape *s) {
    check_depthwise(s);
    const PadGeom g = pad_geom(s);
    size_t *toff = tap_offsets(s, g);
    const int kk = s->kh * s->kw;
    const long ntask = (long)s->n * s->c;
#pragma omp parallel if (ntask > 1)
    {
        real *xp = xmalloc((size_t)g.hp * g.rs * sizeof *xp, "a depthwise padded plane");
#pragma omp for schedule(static)
        for (long t = 0; t < ntask; t++) {
            const int c = (int)(t % s->c);
            const real *wc = weight + (size_t)c * s->kh * s->kw; /* [kh, kw] */
            real *y = out + (size_t)t * s->oh * s->ow;           /* [oh, ow] */
            pad_plane(xp, inp + (size_t)t * s->h * s->w, s, g);
            for (int oy = 0; oy < s->oh; oy++)
                forward_row(y + (size_t)oy * s->ow, xp + (size_t)oy * s->sh * g.rs, wc, toff, kk,
                            bias ? bias[c] : 0, s->ow);
        }
        free(xp);
    }
    free(toff);
}

/* in[j] += wv * gr[j] for j in [0, n). */
static inline void axpy_row(real *restrict in, const real *restrict gr, real wv, int n) {
    int j = 0;
    for (; j + DW_LANES <= n; j += DW_LANES)
        for (int l = 0; l < DW_LANES; l++) in[j + l] += wv * gr[j + l];
    for (; j < n; j++) in[j] += wv * gr[j];
}

/* Scatters dout into a zeroed padded plane, then adds its interior to dinp. */
static void backward_input(real *dinp, const real *dout, const real *weight, const Conv2dShape *s) {
    const PadGeom g = pad_geom(s);
    size_t *toff = tap_offsets(s, g);
    const int kk = s->kh * s->kw;
    const long ntask = (long)s->n * s->c;
#pragma omp parallel if (ntask > 1)
    {
        real *dp = xmalloc((size_t)g.hp * g.rs * sizeof *dp, "a depthwise padded plane");
#pragma omp for schedule(static)
        for (long t = 0; t < ntask; t++) {
            const int c = (int)(t % s->c);
            const real *wc = weight + (size_t)c * s->kh * s->kw;  /* [kh, kw] */
            const real *dy = dout + (size_t)t * s->oh * s->ow;    /* [oh, ow] */
            real *dx = dinp + (size_t)t * s->h * s->w;            /* [h, w] */
            memset(dp, 0, (size_t)g.hp * g.rs * sizeof *dp);
            for (int oy = 0; oy < s->oh; oy++) {
                real *row = dp + (size_t)oy * s->sh * g.rs;
                const real *gr = dy + (size_t)oy * s->ow; /* [ow] */
                for (int k = 0; k < kk; k++) axpy_row(row + toff[k], gr, wc[k], s->ow);
            }
            for (int iy = 0; iy < s->h; iy++) {
                const real *row = dp + (size_t)(iy + s->pad_t) * g.rs;
                real *dst = dx + (size_t)iy * s->w;
                if (s->sw == 1) {
                    for (int ix = 0; ix < s->w; ix++) dst[ix] += row[ix + s->pad_l];
                    continue;
                }
                for (int ix = 0; ix < s->w; ix++) {
                    const int p = ix + s->pad_l;
                    dst[ix] += row[(p % s->sw) * g.wq + p / s->sw];
                }
            }
        }
        free(dp);
    }
    free(toff);
}

/* part[j] += gr[j] * in[j] for j in [0, n). */
static inline void mul_acc_row(real *restrict part, const real *restrict gr,
                               const real *restrict in, int n) {
    int j = 0;
    for (; j + DW_LANES <= n; j += DW_LANES)
        for (int l = 0; l < DW_LANES; l++) part[j + l] += gr[j + l] * in[j + l];
    for (; j < n; j++) part[j] += gr[j] * in[j];
}

static void backward_params(real *dweight, real *dbias, const real *dout, const real *inp,
                            const Conv2dShape *s) {
    const PadGeom g = pad_geom(s);
    size_t *toff = tap_offsets(s, g);
    const int kk = s->kh * s->kw, ow = s->ow;
#pragma omp parallel if (s->c > 1)
    {
        real *xp = dweight ? xmalloc((size_t)g.hp * g.rs * sizeof *xp, "a depthwise padded plane")
                           : NULL;
        /* part[(ky * kw + kx) * ow + ox]: running sums per output column;
         * row kk collects dbias */
        real *part = xmalloc((size_t)(kk + 1) * ow * sizeof *part, "depthwise gradient sums");
#pragma omp for schedule(static)
        for (int c = 0; c < s->c; c++) {
            memset(part, 0, (size_t)(kk + 1) * ow * sizeof *part);
            real *pb = part + (size_t)kk * ow; /* [ow] */
            for (int n = 0; n < s->n; n++) {
                const size_t plane = (size_t)n * s->c + c;
                const real *dy = dout + plane * s->oh * ow; /* [oh, ow] */
                if (xp) pad_plane(xp, inp + plane * s->h * s->w, s, g);
                for (int oy = 0; oy < s->oh; oy++) {
                    const real *gr = dy + (size_t)oy * ow; /* [ow] */
                    if (dbias)
                        for (int ox = 0; ox < ow; ox++) pb[ox] += gr[ox];
                    if (!xp) continue;
                    const real *row = xp + (size_t)oy * s->sh * g.rs;
                    for (int k = 0; k < kk; k++)
                        mul_acc_row(part + (size_t)k * ow, gr, row + toff[k], ow);
                }
            }
            for (int r = 0; r <= kk; r++) {
                const real *pr = part + (size_t)r * ow;
                real acc = 0;
                for (int ox = 0; ox < ow; ox++) acc += pr[ox];
                if (r < kk && dweight) dweight[(size_t)c * kk + r] += acc;
                if (r == kk && dbias) dbias[c] += acc;
            }
        }
        free(part);
        free(xp);
    }
    free(toff);
}

void depthwise_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                               const real *inp, const real *weight, const Conv2dShape *s) {
    check_depthwise(s);
    if (dinp) backward_input(dinp, dout, weight, s);
    if (dweight || dbias) backward_params(dweight, dbias, dout, inp, s);
}
