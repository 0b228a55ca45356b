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

/* The kernels, once per instruction-set level (grouped_body.h). */
#if defined(VEC_TARGET_V4)
#define GK_SUF v4
#define GK_TARGET VEC_TARGET_V4
#define GK_BYTES 64
#include "grouped_body.h"
#undef GK_SUF
#undef GK_TARGET
#undef GK_BYTES
#define GK_SUF v3
#define GK_TARGET VEC_TARGET_V3
#define GK_BYTES 32
#include "grouped_body.h"
#undef GK_SUF
#undef GK_TARGET
#undef GK_BYTES
#endif
#define GK_SUF v1
#define GK_TARGET
#define GK_BYTES 16
#include "grouped_body.h"
#undef GK_SUF
#undef GK_TARGET
#undef GK_BYTES

int grouped_conv_direct(const Conv2dShape *s) {
    const int cg = s->c / s->groups, ocg = s->oc / s->groups;
    return s->groups > 1 && s->dh == 1 && s->dw == 1 && s->kh * s->kw > 1 && cg <= 64 &&
           ocg <= 64 && (cg > 1 || ocg > 1);
}

static void forward_group(real *y, const real *xp, const real *w, const real *bias,
                          const real *zero, const ptrdiff_t *toff, const Conv2dShape *s,
                          PadGeom g) {
#if defined(VEC_TARGET_V4)
    if (isa_level() >= ISA_AVX512) {
        forward_group_v4(y, xp, w, bias, zero, toff, s, g);
        return;
    }
    if (isa_level() >= ISA_AVX2) {
        forward_group_v3(y, xp, w, bias, zero, toff, s, g);
        return;
    }
#endif
    forward_group_v1(y, xp, w, bias, zero, toff, s, g);
}

static void dinp_group(real *dp, const real *dyp, const real *w, const real *zero, int *tap,
                       ptrdiff_t *off, const Conv2dShape *s, PadGeom g, DoutGeom d) {
#if defined(VEC_TARGET_V4)
    if (isa_level() >= ISA_AVX512) {
        dinp_group_v4(dp, dyp, w, zero, tap, off, s, g, d);
        return;
    }
    if (isa_level() >= ISA_AVX2) {
        dinp_group_v3(dp, dyp, w, zero, tap, off, s, g, d);
        return;
    }
#endif
    dinp_group_v1(dp, dyp, w, zero, tap, off, s, g, d);
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
