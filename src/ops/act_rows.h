/* Private to src/ops: the epilogue of the eval-mode convolution +
 * BatchNorm + activation kernels (conv2d.c, depthwise.c, depthwise_small.c),
 * defined in fused.c. */
#ifndef ANOMALY_SRC_OPS_ACT_ROWS_H
#define ANOMALY_SRC_OPS_ACT_ROWS_H

#include <stddef.h>

#include "anomaly/ops/fused.h"

/* In place on rows [rows][cols], ld apart (one channel's values each):
 * row r = act(row * scale[r] + shift[r]), each value bit for bit as
 * batchnorm2d_act_recompute computes it, applied to an output block while
 * it is still in cache. Not parallel; the fast path's vector code (its
 * reference is batchnorm2d_act_recompute_ref over the whole tensor). */
void batchnorm2d_act_rows(real *y, size_t ld, int rows, int cols, const real *scale,
                          const real *shift, BnAct act);

#endif
