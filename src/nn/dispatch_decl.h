/* The staged kernel wrappers of kernel_device.c (builds with CUDA):
 * each takes its CPU kernel's arguments. Private to src/nn. */
#ifndef ANOMALY_SRC_NN_DISPATCH_DECL_H
#define ANOMALY_SRC_NN_DISPATCH_DECL_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/ops.h"
#include "anomaly/ops/fused.h"

void dx_swish_forward(real *out, const real *inp, size_t n);
void dx_swish_backward(real *dinp, const real *dout, const real *inp, size_t n);
void dx_relu_forward(real *out, const real *inp, size_t n);
void dx_relu_backward(real *dinp, const real *dout, const real *inp, size_t n);
void dx_sigmoid_forward(real *out, const real *inp, size_t n);
void dx_sigmoid_backward(real *dinp, const real *dout, const real *out, size_t n);
void dx_add_forward(real *out, const real *a, const real *b, size_t n);
void dx_add_backward(real *da, real *db, const real *dout, size_t n);
void dx_channel_scale_forward(real *out, const real *inp, const real *s, int n, int c, int hw);
void dx_channel_scale_backward(real *dinp, real *ds, const real *dout, const real *inp, const real *s, int n, int c, int hw);
void dx_dropout_forward(real *out, const real *inp, const uint8_t *mask, real scale, size_t n);
void dx_dropout_backward(real *dinp, const real *dout, const uint8_t *mask, real scale, size_t n);
void dx_drop_connect_forward(real *out, const real *inp, const uint8_t *keep, real rate, int n, size_t inner);
void dx_drop_connect_backward(real *dinp, const real *dout, const uint8_t *keep, real rate, int n, size_t inner);
void dx_l2norm_rows_forward(real *out, const real *inp, int rows, int cols, real eps);
void dx_l2norm_rows_backward(real *dinp, const real *dout, const real *inp, int rows, int cols, real eps);
void dx_batchnorm2d_forward_train(real *out, real *mean, real *rstd, real *running_mean, real *running_var, const real *inp, const real *gamma, const real *beta, const BatchNormShape *s);
void dx_batchnorm2d_forward_eval(real *out, const real *inp, const real *gamma, const real *beta, const real *running_mean, const real *running_var, const BatchNormShape *s);
void dx_batchnorm2d_backward(real *dinp, real *dgamma, real *dbeta, const real *dout, const real *inp, const real *mean, const real *rstd, const real *gamma, const BatchNormShape *s);
void dx_batchnorm2d_backward_eval(real *dinp, real *dgamma, real *dbeta, const real *dout, const real *inp, const real *running_mean, const real *running_var, const real *gamma, const BatchNormShape *s);
void dx_batchnorm2d_act_forward_train(real *out, real *z, real *mean, real *rstd, real *affine, real *running_mean, real *running_var, const real *inp, const real *gamma, const real *beta, const BatchNormShape *s, BnAct act);
void dx_batchnorm2d_act_recompute(real *out, const real *inp, const real *affine, const BatchNormShape *s, BnAct act);
void dx_batchnorm2d_act_backward(real *dinp, real *dgamma, real *dbeta, const real *dout, const real *inp, const real *z, const real *mean, const real *rstd, const real *affine, const real *gamma, const BatchNormShape *s, BnAct act);
void dx_batchnorm2d_add_relu_forward_train(real *out, real *mean, real *rstd, real *running_mean, real *running_var, const real *inp, const real *res, const real *gamma, const real *beta, const BatchNormShape *s);
void dx_batchnorm2d_add_relu_backward(real *dinp, real *dres, real *dgamma, real *dbeta, const real *dout, const real *out, const real *inp, const real *mean, const real *rstd, const real *gamma, const BatchNormShape *s);
void dx_global_avgpool_forward(real *out, const real *inp, int n, int c, int hw);
void dx_global_avgpool_backward(real *dinp, const real *dout, int n, int c, int hw);
void dx_maxpool2d_forward(real *out, const real *inp, const Pool2dShape *s);
void dx_maxpool2d_backward(real *dinp, const real *dout, const real *inp, const Pool2dShape *s);
void dx_avgpool2d_forward(real *out, const real *inp, const Pool2dShape *s);
void dx_avgpool2d_backward(real *dinp, const real *dout, const Pool2dShape *s);
void dx_conv2d_forward(real *out, const real *inp, const real *weight, const real *bias, const Conv2dShape *s, void *work);
void dx_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp, const real *weight, const Conv2dShape *s, void *work);
void dx_depthwise_conv2d_forward(real *out, const real *inp, const real *weight, const real *bias, const Conv2dShape *s);
void dx_depthwise_conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp, const real *weight, const Conv2dShape *s);
void dx_linear_forward(real *out, const real *inp, const real *weight, const real *bias, int n, int in_f, int out_f);
void dx_linear_backward(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp, const real *weight, int n, int in_f, int out_f);
void dx_radix_softmax_forward(real *out, const real *inp, int n, int card, int radix, int inner);
void dx_radix_softmax_backward(real *dinp, const real *dout, const real *out, int n, int card, int radix, int inner);
void dx_radix_sum_forward(real *out, const real *inp, int n, int radix, int c, int hw);
void dx_radix_sum_backward(real *dinp, const real *dout, int n, int radix, int c, int hw);
void dx_radix_weighted_sum_forward(real *out, const real *inp, const real *attn, int n, int radix, int c, int hw);
void dx_radix_weighted_sum_backward(real *dinp, real *dattn, const real *dout, const real *inp, const real *attn, int n, int radix, int c, int hw);
double dx_cross_entropy_forward(const real *logits, const int *labels, int n, int c);
void dx_cross_entropy_backward(real *dlogits, const real *logits, const int *labels, int n, int c, real dloss);
double dx_label_smoothing_forward(const real *logits, const int *labels, int n, int c, real eps, int classes);
void dx_label_smoothing_backward(real *dlogits, const real *logits, const int *labels, int n, int c, real eps, int classes, real dloss);
void dx_arcface_forward(real *out, const real *cos, const int *labels, const uint8_t *target, int n, int c, real margin, real scale);
void dx_arcface_backward(real *dcos, const real *dout, const real *cos, const int *labels, const uint8_t *target, int n, int c, real margin, real scale);
void dx_adam_update(real *param, const real *grad, real *m, real *v, size_t n, const AdamConfig *cfg, long step);
void dx_sgd_update(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg, long step);
double dx_grad_global_norm(const real *grad, size_t n);
double dx_clip_grad_norm(real *grad, size_t n, double max_norm);
double dx_clip_adam_update(real *param, real *grad, real *m, real *v, size_t n, const AdamConfig *cfg, long step, double max_norm);

#endif
