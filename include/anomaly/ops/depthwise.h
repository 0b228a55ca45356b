/* Depthwise 2-D convolution (groups = in = out channels) as a direct kernel:
 * any kernel size (EfficientNet uses 3 and 5) and stride (1 or 2 there),
 * per-side padding, dilation 1. Takes a resolved Conv2dShape with
 * groups == c == oc; anything else is a fatal error. Backward ACCUMULATES
 * (+=) into dinp, dweight, dbias (each may be NULL). Results do not depend on
 * the thread count. */
#ifndef ANOMALY_OPS_DEPTHWISE_H
#define ANOMALY_OPS_DEPTHWISE_H

#include "conv2d.h"

/* out [n, c, oh, ow]; inp [n, c, h, w]; weight [c, 1, kh, kw]; bias [c] or NULL. */
void depthwise_conv2d_forward(real *out, const real *inp, const real *weight,
                              const real *bias, const Conv2dShape *s);
/* Inference: out = act(conv(inp) * affine[ch] + affine[c + ch]) with an
 * eval-mode BatchNorm's affine map and the activation, each plane as it
 * is made: the bits of depthwise_conv2d_forward then
 * batchnorm2d_act_recompute. */
void depthwise_conv2d_forward_bn_act(real *out, const real *inp, const real *weight,
                                     const real *bias, const Conv2dShape *s,
                                     const real *affine, BnAct act);
/* Reference: depthwise_conv2d_forward_ref, then batchnorm2d_act_recompute_ref. */
void depthwise_conv2d_forward_bn_act_ref(real *out, const real *inp, const real *weight,
                                         const real *bias, const Conv2dShape *s,
                                         const real *affine, BnAct act);
/* Reference: conv2d_forward_ref / conv2d_backward_ref (groups == c: a
 * channel's output is its sum over (kernel row, kernel column) in order). */
void depthwise_conv2d_forward_ref(real *out, const real *inp, const real *weight,
                                  const real *bias, const Conv2dShape *s);
void depthwise_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                               const real *inp, const real *weight, const Conv2dShape *s);
void depthwise_conv2d_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                                   const real *inp, const real *weight, const Conv2dShape *s);

#endif
