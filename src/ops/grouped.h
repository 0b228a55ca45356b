/* Grouped convolution with few channels per group as a direct kernel
 * (grouped.c). Private to src/ops: conv2d.c routes such shapes here. */
#ifndef ANOMALY_SRC_OPS_GROUPED_H
#define ANOMALY_SRC_OPS_GROUPED_H

#include "anomaly/ops/conv2d.h"

/* 1 when s (resolved) is a grouped, undilated convolution with a kernel
 * larger than 1x1 and at most 64 channels per group in and out (but not
 * one in and one out: that is depthwise.c's). */
int grouped_conv_direct(const Conv2dShape *s);

/* out [n, oc, oh, ow] (overwritten); inp [n, c, h, w];
 * weight [oc, c/groups, kh, kw]; bias [oc] or NULL. */
void grouped_conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                            const Conv2dShape *s);
/* dinp [n, c, h, w] += the input gradient; dout [n, oc, oh, ow]. */
void grouped_conv2d_backward_input(real *dinp, const real *dout, const real *weight,
                                   const Conv2dShape *s);

#endif
