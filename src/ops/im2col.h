/* im2col / col2im over a band of output rows, and the index arithmetic the
 * convolution kernels share. Private to src/ops. */
#ifndef ANOMALY_SRC_OPS_IM2COL_H
#define ANOMALY_SRC_OPS_IM2COL_H

#include "anomaly/ops/conv2d.h"

/* For an output axis of n_out positions reading input index
 * i = o * stride + off, sets [*lo, *hi) to the outputs whose input lies in
 * [0, n_in). Everything outside that range reads zero padding, so kernels
 * run their inner loops without a bounds test. */
static inline void conv_valid_range(int n_out, int stride, int off, int n_in, int *lo, int *hi) {
    /* first o with o*stride + off >= 0 */
    int a = off >= 0 ? 0 : (-off + stride - 1) / stride;
    /* one past the last o with o*stride + off <= n_in - 1 */
    int b = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / stride + 1;
    if (a > n_out) a = n_out;
    if (b > n_out) b = n_out;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

/* Unfolds output rows [oy0, oy1) of one image and one group.
 * col: cg * kh * kw rows of (oy1 - oy0) * ow values, rows ldc apart (ldc
 * larger than a row when several images share one column matrix), row
 * index (ci * kh + ky) * kw + kx; inp [cg, h, w]: the group's first channel
 * of one image. */
void im2col_rows(real *col, size_t ldc, const real *inp, const Conv2dShape *s, int cg, int oy0,
                 int oy1);

/* The adjoint: ACCUMULATES (+=) col back into dinp.
 * dinp [cg, h, w]; col as above. */
void col2im_rows(real *dinp, const real *col, size_t ldc, const Conv2dShape *s, int cg, int oy0,
                 int oy1);

#endif
