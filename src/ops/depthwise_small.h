/* Depthwise convolution on small planes, vectorised across channels
 * (depthwise_small.c). Private to src/ops: depthwise.c calls it for the
 * shapes depthwise_small_applies() accepts. Same contract as
 * depthwise_conv2d_forward / _backward (backward accumulates). */
#ifndef ANOMALY_SRC_OPS_DEPTHWISE_SMALL_H
#define ANOMALY_SRC_OPS_DEPTHWISE_SMALL_H

#include "anomaly/ops/conv2d.h"

/* Output rows at most 8 columns wide (and every tap inside the padded
 * input). */
int depthwise_small_applies(const Conv2dShape *s);
/* affine [2c] (or NULL): then act(out * scale + shift) per channel, as
 * conv2d_forward_bn_act. */
void depthwise_small_forward(real *out, const real *inp, const real *weight, const real *bias,
                             const Conv2dShape *s, const real *affine, BnAct act);
void depthwise_small_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                              const real *inp, const real *weight, const Conv2dShape *s);

#endif
