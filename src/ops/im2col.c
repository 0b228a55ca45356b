/* im2col / col2im on a band of output rows.
 *
 * Working on a band rather than the whole image keeps the column matrix
 * small enough to stay in cache between the unfold and the GEMM that reads
 * it, and lets one image be split across threads. */
#include "im2col.h"

#include <string.h>

void im2col_rows(real *col, size_t ldc, const real *inp, const Conv2dShape *s, int cg, int oy0,
                 int oy1) {
    const int h = s->h, w = s->w, ow = s->ow;
    const int sw = s->sw;
    for (int ci = 0; ci < cg; ci++) {
        const real *plane = inp + (size_t)ci * h * w; /* [h, w] */
        for (int ky = 0; ky < s->kh; ky++) {
            for (int kx = 0; kx < s->kw; kx++) {
                real *row = col + ((size_t)(ci * s->kh + ky) * s->kw + kx) * ldc;
                const int off_x = kx * s->dw - s->pad_l;
                int lo, hi;
                conv_valid_range(ow, sw, off_x, w, &lo, &hi);
                for (int oy = oy0; oy < oy1; oy++) {
                    real *dst = row + (size_t)(oy - oy0) * ow; /* [ow] */
                    const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                    if (iy < 0 || iy >= h || lo == hi) {
                        memset(dst, 0, (size_t)ow * sizeof *dst);
                        continue;
                    }
                    /* input of output column lo; column lo + j reads src[j * sw] */
                    const real *src = plane + (size_t)iy * w + (lo * sw + off_x);
                    const int n = hi - lo;
                    for (int ox = 0; ox < lo; ox++) dst[ox] = 0;
                    if (sw == 1) {
                        memcpy(dst + lo, src, (size_t)n * sizeof *dst);
                    } else {
                        for (int j = 0; j < n; j++) dst[lo + j] = src[(size_t)j * sw];
                    }
                    for (int ox = hi; ox < ow; ox++) dst[ox] = 0;
                }
            }
        }
    }
}

void col2im_rows(real *dinp, const real *col, size_t ldc, const Conv2dShape *s, int cg, int oy0,
                 int oy1) {
    const int h = s->h, w = s->w, ow = s->ow;
    const int sw = s->sw;
    for (int ci = 0; ci < cg; ci++) {
        real *plane = dinp + (size_t)ci * h * w; /* [h, w] */
        for (int ky = 0; ky < s->kh; ky++) {
            for (int kx = 0; kx < s->kw; kx++) {
                const real *row = col + ((size_t)(ci * s->kh + ky) * s->kw + kx) * ldc;
                const int off_x = kx * s->dw - s->pad_l;
                int lo, hi;
                conv_valid_range(ow, sw, off_x, w, &lo, &hi);
                if (lo == hi) continue;
                for (int oy = oy0; oy < oy1; oy++) {
                    const int iy = oy * s->sh - s->pad_t + ky * s->dh;
                    if (iy < 0 || iy >= h) continue;
                    const real *src = row + (size_t)(oy - oy0) * ow + lo;
                    real *dst = plane + (size_t)iy * w + (lo * sw + off_x); /* dst[j * sw] */
                    const int n = hi - lo;
                    if (sw == 1) {
                        for (int j = 0; j < n; j++) dst[j] += src[j];
                    } else {
                        for (int j = 0; j < n; j++) dst[(size_t)j * sw] += src[j];
                    }
                }
            }
        }
    }
}
