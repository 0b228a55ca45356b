/* Padded planes shared by the direct convolution kernels (depthwise.c,
 * grouped.c). Private to src/ops.
 *
 * A kernel copies each input plane once into a zero-padded scratch plane so
 * its tap loops need no bounds tests and read whole vectors of output
 * columns; for a strided convolution the plane is stored by column phase so
 * every tap still reads consecutive memory. A gradient plane of dout gets
 * zero borders the same way, for the input-gradient gather. */
#ifndef ANOMALY_SRC_OPS_DIRECT_CONV_H
#define ANOMALY_SRC_OPS_DIRECT_CONV_H

#include <stddef.h>

#include "anomaly/ops/conv2d.h"
#include "vec.h"

/* The padded plane, stored by column phase: padded column p of a row sits
 * in segment p % sw at index p / sw. Tap kx of output column ox reads padded
 * column ox * sw + kx, i.e. segment kx % sw at index ox + kx / sw, so every
 * stride reads consecutive memory. Each segment has room for the last,
 * partial vector of output columns to read past the row (zeros). */
/* The widest vector any direct kernel reads (grouped_body.h's AVX-512
 * variant: 64 bytes), whatever vec.h's VLANES: the planes' room past the
 * last output column is sized for it. */
#define DCONV_MAX_LANES ((int)(64 / sizeof(real)))

typedef struct PadGeom {
    int hp;   /* rows: h + pad_t + pad_b */
    int wq;   /* entries per phase segment */
    int rs;   /* row stride: sw * wq */
    int owv;  /* output columns rounded up to whole vectors */
    int kk;   /* taps: kh * kw */
} PadGeom;

PadGeom dconv_pad_geom(const Conv2dShape *s);
static inline size_t dconv_plane_reals(PadGeom g) { return (size_t)g.hp * g.rs; }
/* toff[ky * kw + kx]: where tap (ky, kx) of output (0, 0) sits in the
 * padded plane; output (oy, ox) adds oy * sh * rs + ox. Caller frees. */
ptrdiff_t *dconv_tap_offsets(const Conv2dShape *s, PadGeom g);
/* Writes src [h, w] into the interior of dst [hp, rs] (phase layout); the
 * border is never written (zero it once: dconv_zeroed_plane). */
void dconv_pad_plane(real *dst, const real *src, const Conv2dShape *s, PadGeom g);
/* dst [h, w] += the interior of the padded plane src. */
void dconv_unpad_add(real *dst, const real *src, const Conv2dShape *s, PadGeom g);
/* A zeroed scratch plane of `reals` values (xmalloc; caller frees). */
real *dconv_zeroed_plane(size_t reals, const char *what);

/* dinp as a gather. Output (oy, ox) reaches padded position
 * (oy * sh + ky, ox * sw + kx), i.e. phase kx % sw, index ox + kx / sw of
 * padded row pr = oy * sh + ky. So the value at (pr, phase, j) is the sum
 * over taps with ky = pr (mod sh) and kx = phase (mod sw) of
 * w[ky, kx] * dout[(pr - ky) / sh, j - kx / sw]. dout is first copied into
 * a plane with zero borders (DoutGeom) so that every such tap reads memory:
 * zeros where it falls outside dout. */
typedef struct DoutGeom {
    int top;  /* zero rows above dout: ceil((kh - 1) / sh) */
    int left; /* zero columns left of dout: (kw - 1) / sw */
    int rows, cols;
} DoutGeom;

DoutGeom dconv_dout_geom(const Conv2dShape *s, PadGeom g);
/* Copies dy [oh, ow] into the interior of dst [rows, cols] (zero borders,
 * as dconv_pad_plane). */
void dconv_pad_dout(real *dst, const real *dy, const Conv2dShape *s, DoutGeom d);

#endif
