/* Grouped convolution with few channels per group (ResNeXt's 3x3 convs:
 * 32 groups of 4 to 32 channels) as a direct kernel.
 *
 * Through im2col each group would unfold its few input channels into a
 * column matrix kh * kw times the input's size, for a GEMM with 4 to 32
 * rows: the copies cost more than the arithmetic. Here each (image, group)
 * copies its input planes once into zero-padded scratch planes
 * (direct_conv.h) and computes four output channels over two vectors of
 * output columns at a time, so every input vector loaded feeds four sums.
 * Each output is bias + its taps summed over (input channel, ky, kx) in
 * order. The input gradient is the same kind of gather over the output
 * channels (as depthwise.c's). Tasks are (image, group), so no result
 * depends on the thread count. The weight gradient stays with im2col and
 * GEMM (conv2d.c), whose column matrix it needs anyway. */
#include "grouped.h"
#include "anomaly/error.h"
#include "direct_conv.h"

#include <stdlib.h>
#include <string.h>

/* Output (or, for the input gradient, input) channels per block, and
 * vectors of columns per block. */
#define OB 4
#define JB 2

int grouped_conv_direct(const Conv2dShape *s) {
    const int cg = s->c / s->groups, ocg = s->oc / s->groups;
    return s->groups > 1 && s->dh == 1 && s->dw == 1 && s->kh * s->kw > 1 && cg <= 64 &&
           ocg <= 64 && (cg > 1 || ocg > 1);
}

/* Eight sums, four channels by two vectors, in named variables (as an
 * array they would live in memory): a<channel><vector>. */
#define ACC8_DECL(init)                                                                    \
    vreal a00 = VSPLAT(init), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00,       \
          a30 = a00, a31 = a00
#define ACC8_ADD(w0, w1, w2, w3, x0, x1) \
    do {                                 \
        a00 += (w0) * (x0);              \
        a01 += (w0) * (x1);              \
        a10 += (w1) * (x0);              \
        a11 += (w1) * (x1);              \
        a20 += (w2) * (x0);              \
        a21 += (w2) * (x1);              \
        a30 += (w3) * (x0);              \
        a31 += (w3) * (x1);              \
    } while (0)

/* Stores the sums of one block: channel k of the block at dst + k * kstep,
 * vector j at offset at[j], n[j] real columns; only nk channels, nj vectors. */
VINLINE void acc8_store(real *dst, size_t kstep, const size_t at[JB], const int n[JB], int nk,
                        int nj, const vreal acc[OB][JB]) {
    for (int k = 0; k < nk; k++)
        for (int j = 0; j < nj; j++) vstore_n(dst + (size_t)k * kstep + at[j], &acc[k][j], n[j]);
}

/* One (image, group): y [ocg, oh, ow] from the padded planes xp [cg][plane];
 * w [ocg, cg, kh, kw]; zero: a row of K zeros for a short last block. */
VEC_DISPATCH_VOID_FMA(forward_group, (real *y, const real *xp, const real *w, const real *bias,
                                      const real *zero, const ptrdiff_t *toff,
                                      const Conv2dShape *s, PadGeom g),
             (y, xp, w, bias, zero, toff, s, g)) {
    VEC_FMA_BODY
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, kk = g.kk, K = cg * kk;
    const size_t plane = dconv_plane_reals(g), ohw = (size_t)s->oh * s->ow;
    const int per_row = g.owv / VLANES, njobs = s->oh * per_row;
    for (int o0 = 0; o0 < ocg; o0 += OB) {
        const int nk = ocg - o0 < OB ? ocg - o0 : OB;
        const real *wr[OB];
        for (int k = 0; k < OB; k++) wr[k] = k < nk ? w + (size_t)(o0 + k) * K : zero;
        for (int j0 = 0; j0 < njobs; j0 += JB) {
            const int nj = njobs - j0 < JB ? njobs - j0 : JB;
            size_t base[JB], at[JB];
            int cnt[JB];
            for (int j = 0; j < JB; j++) {
                const int job = j < nj ? j0 + j : j0; /* a spare lane redoes j0 */
                const int oy = job / per_row, ox = job % per_row * VLANES;
                base[j] = (size_t)oy * s->sh * g.rs + (size_t)ox;
                at[j] = (size_t)oy * s->ow + (size_t)ox;
                cnt[j] = s->ow - ox < VLANES ? s->ow - ox : VLANES;
            }
            vreal acc[OB][JB];
            for (int k = 0; k < OB; k++) {
                const real b = bias && k < nk ? bias[o0 + k] : 0;
                for (int j = 0; j < JB; j++) acc[k][j] = VSPLAT(b);
            }
            /* the bias differs per channel: start the named sums from it */
            vreal a00 = acc[0][0], a01 = acc[0][1], a10 = acc[1][0], a11 = acc[1][1];
            vreal a20 = acc[2][0], a21 = acc[2][1], a30 = acc[3][0], a31 = acc[3][1];
            for (int ci = 0; ci < cg; ci++) {
                const real *p0 = xp + (size_t)ci * plane + base[0];
                const real *p1 = xp + (size_t)ci * plane + base[1];
                const real *w0 = wr[0] + ci * kk, *w1 = wr[1] + ci * kk;
                const real *w2 = wr[2] + ci * kk, *w3 = wr[3] + ci * kk;
                for (int t = 0; t < kk; t++) {
                    vreal x0, x1;
                    vload(&x0, p0 + toff[t]);
                    vload(&x1, p1 + toff[t]);
                    ACC8_ADD(w0[t], w1[t], w2[t], w3[t], x0, x1);
                }
            }
            acc[0][0] = a00; acc[0][1] = a01; acc[1][0] = a10; acc[1][1] = a11;
            acc[2][0] = a20; acc[2][1] = a21; acc[3][0] = a30; acc[3][1] = a31;
            acc8_store(y + (size_t)o0 * ohw, ohw, at, cnt, nk, nj, acc);
        }
    }
}

void grouped_conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                            const Conv2dShape *s) {
    const PadGeom g = dconv_pad_geom(s);
    ptrdiff_t *toff = dconv_tap_offsets(s, g);
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, K = cg * g.kk;
    const size_t plane = dconv_plane_reals(g), hw = (size_t)s->h * s->w;
    const size_t ohw = (size_t)s->oh * s->ow;
    const long ntask = (long)s->n * s->groups;
#pragma omp parallel if (ntask > 1)
    {
        real *xp = dconv_zeroed_plane(plane * cg, "grouped convolution planes");
        real *zero = dconv_zeroed_plane((size_t)K, "a zero weight row");
#pragma omp for schedule(static)
        for (long t = 0; t < ntask; t++) {
            const int n = (int)(t / s->groups), gr = (int)(t % s->groups);
            const real *x = inp + ((size_t)n * s->c + (size_t)gr * cg) * hw; /* [cg, h, w] */
            for (int ci = 0; ci < cg; ci++)
                dconv_pad_plane(xp + (size_t)ci * plane, x + (size_t)ci * hw, s, g);
            forward_group(out + ((size_t)n * s->oc + (size_t)gr * ocg) * ohw, xp,
                          weight + (size_t)gr * ocg * K, bias ? bias + (size_t)gr * ocg : NULL,
                          zero, toff, s, g);
        }
        free(zero);
        free(xp);
    }
    free(toff);
}

/* The input gradient of one (image, group), as depthwise.c's gather with a
 * sum over the group's output channels: the value at padded row pr, phase
 * ph, index j of input channel ci is the sum over output channels o, then
 * taps (ky, kx) with ky = pr (mod sh), kx = ph (mod sw), of
 * w[o, ci, ky, kx] * dout[o, (pr - ky) / sh, j - kx / sw].
 * dp [cg][plane] (interior rows written); dyp [ocg][dplane] (dconv_pad_dout). */
VEC_DISPATCH_VOID_FMA(dinp_group, (real *dp, const real *dyp, const real *w, const real *zero,
                                   int *tap, ptrdiff_t *off, const Conv2dShape *s, PadGeom g,
                                   DoutGeom d), (dp, dyp, w, zero, tap, off, s, g, d)) {
    VEC_FMA_BODY
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, kk = g.kk, K = cg * kk;
    const size_t plane = dconv_plane_reals(g), dplane = (size_t)d.rows * d.cols;
    const int per_seg = (g.wq + VLANES - 1) / VLANES;
    for (int a = 0; a < s->sh; a++) {
        const int pr0 = s->pad_t + ((a - s->pad_t) % s->sh + s->sh) % s->sh;
        const int nrows = pr0 < s->pad_t + s->h ? (s->pad_t + s->h - 1 - pr0) / s->sh + 1 : 0;
        for (int ph = 0; ph < s->sw; ph++) {
            int nt = 0; /* taps of this class, in (ky, kx) order */
            for (int ky = a; ky < s->kh; ky += s->sh)
                for (int kx = ph; kx < s->kw; kx += s->sw) {
                    tap[nt] = ky * s->kw + kx;
                    off[nt] = -((ptrdiff_t)((ky - a) / s->sh) * d.cols + kx / s->sw);
                    nt++;
                }
            const int njobs = nrows * per_seg;
            for (int c0 = 0; c0 < cg; c0 += OB) {
                const int nk = cg - c0 < OB ? cg - c0 : OB;
                for (int j0 = 0; j0 < njobs; j0 += JB) {
                    const int nj = njobs - j0 < JB ? njobs - j0 : JB;
                    size_t base[JB], at[JB];
                    int cnt[JB];
                    for (int j = 0; j < JB; j++) {
                        const int job = j < nj ? j0 + j : j0;
                        const int pr = pr0 + job / per_seg * s->sh, jj = job % per_seg * VLANES;
                        base[j] = (size_t)(d.top + (pr - a) / s->sh) * d.cols + d.left + jj;
                        at[j] = (size_t)pr * g.rs + (size_t)ph * g.wq + jj;
                        cnt[j] = g.wq - jj < VLANES ? g.wq - jj : VLANES;
                    }
                    ACC8_DECL(0);
                    for (int o = 0; o < ocg; o++) {
                        const real *q0 = dyp + (size_t)o * dplane + base[0];
                        const real *q1 = dyp + (size_t)o * dplane + base[1];
                        const real *wo = w + (size_t)o * K;
                        const real *w0 = wo + (size_t)c0 * kk;
                        const real *w1 = nk > 1 ? w0 + kk : zero, *w2 = nk > 2 ? w0 + 2 * kk : zero;
                        const real *w3 = nk > 3 ? w0 + 3 * kk : zero;
                        for (int t = 0; t < nt; t++) {
                            vreal x0, x1;
                            vload(&x0, q0 + off[t]);
                            vload(&x1, q1 + off[t]);
                            const int ti = tap[t];
                            ACC8_ADD(w0[ti], w1[ti], w2[ti], w3[ti], x0, x1);
                        }
                    }
                    const vreal acc[OB][JB] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
                    acc8_store(dp + (size_t)c0 * plane, plane, at, cnt, nk, nj, acc);
                }
            }
        }
    }
}

void grouped_conv2d_backward_input(real *dinp, const real *dout, const real *weight,
                                   const Conv2dShape *s) {
    const PadGeom g = dconv_pad_geom(s);
    const DoutGeom d = dconv_dout_geom(s, g);
    const int cg = s->c / s->groups, ocg = s->oc / s->groups, K = cg * g.kk;
    const size_t plane = dconv_plane_reals(g), dplane = (size_t)d.rows * d.cols;
    const size_t hw = (size_t)s->h * s->w, ohw = (size_t)s->oh * s->ow;
    const long ntask = (long)s->n * s->groups;
#pragma omp parallel if (ntask > 1)
    {
        /* dp: rows and columns written whole before they are read */
        real *dp = xmalloc(plane * cg * sizeof *dp, "grouped convolution planes");
        real *dyp = dconv_zeroed_plane(dplane * ocg, "grouped convolution gradient planes");
        real *zero = dconv_zeroed_plane((size_t)K, "a zero weight row");
        int *tap = xmalloc((size_t)g.kk * sizeof *tap, "convolution taps");
        ptrdiff_t *off = xmalloc((size_t)g.kk * sizeof *off, "convolution taps");
#pragma omp for schedule(static)
        for (long t = 0; t < ntask; t++) {
            const int n = (int)(t / s->groups), gr = (int)(t % s->groups);
            const real *dy = dout + ((size_t)n * s->oc + (size_t)gr * ocg) * ohw; /* [ocg, oh, ow] */
            for (int o = 0; o < ocg; o++)
                dconv_pad_dout(dyp + (size_t)o * dplane, dy + (size_t)o * ohw, s, d);
            dinp_group(dp, dyp, weight + (size_t)gr * ocg * K, zero, tap, off, s, g, d);
            real *dx = dinp + ((size_t)n * s->c + (size_t)gr * cg) * hw; /* [cg, h, w] */
            for (int ci = 0; ci < cg; ci++)
                dconv_unpad_add(dx + (size_t)ci * hw, dp + (size_t)ci * plane, s, g);
        }
        free(off);
        free(tap);
        free(zero);
        free(dyp);
        free(dp);
    }
}
