/* Reference depthwise convolution (depthwise.h): the general reference
 * convolution with groups == c == oc, where each output is its channel's
 * sum over (kernel row, kernel column) in order (see ref/conv2d.c). */
#include "anomaly/ops/depthwise.h"
#include "anomaly/error.h"

static void check_depthwise(const Conv2dShape *s) {
    if (s->groups != s->c || s->oc != s->c || s->dh != 1 || s->dw != 1)
        fatal("depthwise conv2d needs groups == in == out channels and no dilation "
              "(got groups %d, channels %d -> %d, dilation %dx%d)",
              s->groups, s->c, s->oc, s->dh, s->dw);
}

void depthwise_conv2d_forward_ref(real *out, const real *inp, const real *weight,
                                  const real *bias, const Conv2dShape *s) {
    check_depthwise(s);
    conv2d_forward_ref(out, inp, weight, bias, s, NULL);
}

void depthwise_conv2d_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                                   const real *inp, const real *weight, const Conv2dShape *s) {
    check_depthwise(s);
    conv2d_backward_ref(dinp, dweight, dbias, dout, inp, weight, s, NULL);
}
