/* Padded planes for the direct convolution kernels (depthwise.c,
 * grouped.c): geometry, copies in and out, and the tap offsets. */
#include "direct_conv.h"
#include "anomaly/error.h"

#include <stdlib.h>
#include <string.h>

PadGeom dconv_pad_geom(const Conv2dShape *s) {
    PadGeom g;
    const int wp = s->w + s->pad_l + s->pad_r;
    g.owv = (s->ow + VLANES - 1) / VLANES * VLANES;
    g.hp = s->h + s->pad_t + s->pad_b;
    g.wq = (wp + s->sw - 1) / s->sw;
    const int owmax = (s->ow + DCONV_MAX_LANES - 1) / DCONV_MAX_LANES * DCONV_MAX_LANES;
    if (owmax + (s->kw - 1) / s->sw > g.wq) g.wq = owmax + (s->kw - 1) / s->sw;
    g.rs = s->sw * g.wq;
    g.kk = s->kh * s->kw;
    return g;
}

/* toff[ky * kw + kx]: where tap (ky, kx) of output (0, 0) sits in the
 * padded plane; output (oy, ox) adds oy * sh * rs + ox. Caller frees. */
ptrdiff_t *dconv_tap_offsets(const Conv2dShape *s, PadGeom g) {
    ptrdiff_t *toff = xmalloc((size_t)g.kk * sizeof *toff, "convolution tap offsets");
    for (int ky = 0; ky < s->kh; ky++)
        for (int kx = 0; kx < s->kw; kx++)
            toff[ky * s->kw + kx] =
                (ptrdiff_t)ky * g.rs + (ptrdiff_t)(kx % s->sw) * g.wq + kx / s->sw;
    return toff;
}

/* Writes src [h, w] into the interior of the padded plane dst [hp, rs]
 * (phase layout). The border is never written: the caller zeroes a plane
 * once, and every plane of a call has the same interior. */
void dconv_pad_plane(real *dst, const real *src, const Conv2dShape *s, PadGeom g) {
    for (int iy = 0; iy < s->h; iy++) {
        real *row = dst + (size_t)(iy + s->pad_t) * g.rs;
        const real *in = src + (size_t)iy * s->w;
        if (s->sw == 1) {
            memcpy(row + s->pad_l, in, (size_t)s->w * sizeof *row);
            continue;
        }
        /* phase ph holds the columns ix with (ix + pad_l) % sw == ph */
        for (int ph = 0; ph < s->sw; ph++) {
            const int ix0 = ((ph - s->pad_l) % s->sw + s->sw) % s->sw;
            real *seg = row + (size_t)ph * g.wq + (ix0 + s->pad_l) / s->sw;
            const int cnt = ix0 < s->w ? (s->w - ix0 + s->sw - 1) / s->sw : 0;
            for (int j = 0; j < cnt; j++) seg[j] = in[ix0 + j * s->sw];
        }
    }
}

/* dst [h, w] += the interior of the padded plane src (phase layout). */
void dconv_unpad_add(real *dst, const real *src, const Conv2dShape *s, PadGeom g) {
    for (int iy = 0; iy < s->h; iy++) {
        const real *row = src + (size_t)(iy + s->pad_t) * g.rs;
        real *out = dst + (size_t)iy * s->w;
        if (s->sw == 1) {
            for (int ix = 0; ix < s->w; ix++) out[ix] += row[ix + s->pad_l];
            continue;
        }
        for (int ph = 0; ph < s->sw; ph++) {
            const int ix0 = ((ph - s->pad_l) % s->sw + s->sw) % s->sw;
            const real *seg = row + (size_t)ph * g.wq + (ix0 + s->pad_l) / s->sw;
            const int cnt = ix0 < s->w ? (s->w - ix0 + s->sw - 1) / s->sw : 0;
            for (int j = 0; j < cnt; j++) out[ix0 + j * s->sw] += seg[j];
        }
    }
}

/* A zeroed scratch plane for one thread. */
real *dconv_zeroed_plane(size_t reals, const char *what) {
    real *p = xmalloc(reals * sizeof *p, what);
    memset(p, 0, reals * sizeof *p);
    return p;
}


DoutGeom dconv_dout_geom(const Conv2dShape *s, PadGeom g) {
    DoutGeom d;
    d.top = (s->kh - 1 + s->sh - 1) / s->sh;
    d.left = (s->kw - 1) / s->sw;
    /* the last interior padded row reads dout row (pad_t + h - 1) / sh */
    int last = (s->pad_t + s->h - 1) / s->sh;
    if (last < s->oh - 1) last = s->oh - 1;
    d.rows = d.top + last + 1;
    d.cols = d.left + g.wq + DCONV_MAX_LANES;
    return d;
}

/* Copies dy into the interior of dst (zero borders, as pad_plane). */
void dconv_pad_dout(real *dst, const real *dy, const Conv2dShape *s, DoutGeom d) {
    for (int oy = 0; oy < s->oh; oy++)
        memcpy(dst + (size_t)(oy + d.top) * d.cols + d.left, dy + (size_t)oy * s->ow,
               (size_t)s->ow * sizeof *dst);
}
