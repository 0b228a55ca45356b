/* The CUDA twin of src/ops (built with `make CUDA=1`).
 *
 * Every function here mirrors the CPU kernel of the same name without the
 * `_cuda` suffix (the headers in include/anomaly/ops): the same arguments and the same
 * semantics (backward kernels ACCUMULATE, NULL skips a gradient), but every
 * array is a DEVICE pointer. Shapes, configs and scalars stay on the host.
 * The kernels exist to check the CPU reference against a GPU, not for speed.
 *
 * Determinism: every reduction runs in one fixed order (a block per output,
 * a fixed tree over a fixed block size, sums in double where the CPU sums
 * in double); no floating-point atomics. cuBLAS runs in CUBLAS_DEFAULT_MATH
 * (TF32 off), which is bit-reproducible on one GPU model.
 *
 * Errors (no device, a failed allocation or launch) are fatal() with the
 * CUDA error string. */
#ifndef ANOMALY_CUDA_H
#define ANOMALY_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "real.h"
#include "ops/batchnorm.h"
#include "ops/conv2d.h"
#include "ops/fused.h"
#include "ops/optim.h"
#include "ops/pool.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- device memory (src/cuda/device.cu) ---- */

/* 0 when a CUDA device can be used; else -1 with the reason in err
 * ("no CUDA device", or the runtime's error). Selects device 0. */
int cuda_device_ready(char *err, size_t errlen);
/* "NVIDIA H200, compute 9.0, CUDA runtime 13.0, driver 13.0" */
void cuda_device_describe(char *buf, size_t len);
/* Device allocations: fatal() naming `what` on failure. */
void *cuda_alloc(size_t bytes, const char *what);
void cuda_free(void *p);
void cuda_upload(void *dst, const void *src, size_t bytes);
void cuda_download(void *dst, const void *src, size_t bytes);
void cuda_memset0(void *p, size_t bytes);
/* Host array copied to a new device allocation. */
void *cuda_dup(const void *src, size_t bytes, const char *what);
/* Waits for the device; a failed kernel is fatal() naming `what`. */
void cuda_sync(const char *what);

/* ---- activations (act.cu) ---- */
void swish_forward_cuda(real *out, const real *inp, size_t n);
void swish_backward_cuda(real *dinp, const real *dout, const real *inp, size_t n);
void relu_forward_cuda(real *out, const real *inp, size_t n);
void relu_backward_cuda(real *dinp, const real *dout, const real *inp, size_t n);
void sigmoid_forward_cuda(real *out, const real *inp, size_t n);
void sigmoid_backward_cuda(real *dinp, const real *dout, const real *out, size_t n);

/* ---- elementwise (elementwise.cu); masks are device arrays too ---- */
void add_forward_cuda(real *out, const real *a, const real *b, size_t n);
void add_backward_cuda(real *da, real *db, const real *dout, size_t n);
void channel_scale_forward_cuda(real *out, const real *inp, const real *s, int n, int c, int hw);
void channel_scale_backward_cuda(real *dinp, real *ds, const real *dout, const real *inp,
                                 const real *s, int n, int c, int hw);
void dropout_forward_cuda(real *out, const real *inp, const uint8_t *mask, real scale, size_t n);
void dropout_backward_cuda(real *dinp, const real *dout, const uint8_t *mask, real scale,
                           size_t n);
void drop_connect_forward_cuda(real *out, const real *inp, const uint8_t *keep, real rate, int n,
                               size_t inner);
void drop_connect_backward_cuda(real *dinp, const real *dout, const uint8_t *keep, real rate,
                                int n, size_t inner);
void l2norm_rows_forward_cuda(real *out, const real *inp, int rows, int cols, real eps);
void l2norm_rows_backward_cuda(real *dinp, const real *dout, const real *inp, int rows, int cols,
                               real eps);

/* ---- BatchNorm and the fused ops (batchnorm.cu) ---- */
void batchnorm2d_forward_train_cuda(real *out, real *mean, real *rstd, real *running_mean,
                                    real *running_var, const real *inp, const real *gamma,
                                    const real *beta, const BatchNormShape *s);
void batchnorm2d_forward_eval_cuda(real *out, const real *inp, const real *gamma,
                                   const real *beta, const real *running_mean,
                                   const real *running_var, const BatchNormShape *s);
void batchnorm2d_backward_cuda(real *dinp, real *dgamma, real *dbeta, const real *dout,
                               const real *inp, const real *mean, const real *rstd,
                               const real *gamma, const BatchNormShape *s);
void batchnorm2d_backward_eval_cuda(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                    const real *inp, const real *running_mean,
                                    const real *running_var, const real *gamma,
                                    const BatchNormShape *s);
void batchnorm2d_act_forward_train_cuda(real *out, real *z, real *mean, real *rstd, real *affine,
                                        real *running_mean, real *running_var, const real *inp,
                                        const real *gamma, const real *beta,
                                        const BatchNormShape *s, BnAct act);
void batchnorm2d_act_recompute_cuda(real *out, const real *inp, const real *affine,
                                    const BatchNormShape *s, BnAct act);
void batchnorm2d_act_backward_cuda(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                   const real *inp, const real *z, const real *mean,
                                   const real *rstd, const real *affine, const real *gamma,
                                   const BatchNormShape *s, BnAct act);
void batchnorm2d_add_relu_forward_train_cuda(real *out, real *mean, real *rstd,
                                             real *running_mean, real *running_var,
                                             const real *inp, const real *res, const real *gamma,
                                             const real *beta, const BatchNormShape *s);
void batchnorm2d_add_relu_backward_cuda(real *dinp, real *dres, real *dgamma, real *dbeta,
                                        const real *dout, const real *out, const real *inp,
                                        const real *mean, const real *rstd, const real *gamma,
                                        const BatchNormShape *s);

/* ---- pools (pool.cu); the Pool2dShape must be resolved ---- */
void global_avgpool_forward_cuda(real *out, const real *inp, int n, int c, int hw);
void global_avgpool_backward_cuda(real *dinp, const real *dout, int n, int c, int hw);
void maxpool2d_forward_cuda(real *out, const real *inp, const Pool2dShape *s);
void maxpool2d_backward_cuda(real *dinp, const real *dout, const real *inp, const Pool2dShape *s);
void avgpool2d_forward_cuda(real *out, const real *inp, const Pool2dShape *s);
void avgpool2d_backward_cuda(real *dinp, const real *dout, const Pool2dShape *s);

/* ---- convolution: im2col + cuBLAS GEMM, any groups (conv2d.cu) ----
 * No workspace argument: the scratch is allocated inside. */
void conv2d_forward_cuda(real *out, const real *inp, const real *weight, const real *bias,
                         const Conv2dShape *s);
void conv2d_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                          const real *inp, const real *weight, const Conv2dShape *s);

/* ---- depthwise, direct (depthwise.cu) ---- */
void depthwise_conv2d_forward_cuda(real *out, const real *inp, const real *weight,
                                   const real *bias, const Conv2dShape *s);
void depthwise_conv2d_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                                    const real *inp, const real *weight, const Conv2dShape *s);

/* ---- linear (linear.cu) ---- */
void linear_forward_cuda(real *out, const real *inp, const real *weight, const real *bias, int n,
                         int in_f, int out_f);
void linear_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                          const real *inp, const real *weight, int n, int in_f, int out_f);

/* ---- split attention (attn.cu) ---- */
void radix_softmax_forward_cuda(real *out, const real *inp, int n, int card, int radix, int inner);
void radix_softmax_backward_cuda(real *dinp, const real *dout, const real *out, int n, int card,
                                 int radix, int inner);
void radix_sum_forward_cuda(real *out, const real *inp, int n, int radix, int c, int hw);
void radix_sum_backward_cuda(real *dinp, const real *dout, int n, int radix, int c, int hw);
void radix_weighted_sum_forward_cuda(real *out, const real *inp, const real *attn, int n,
                                     int radix, int c, int hw);
void radix_weighted_sum_backward_cuda(real *dinp, real *dattn, const real *dout, const real *inp,
                                      const real *attn, int n, int radix, int c, int hw);

/* ---- losses (loss.cu); labels [n] and target [c] are device arrays, the
 * loss value comes back to the host. Labels are checked on the host side
 * by the caller (the CPU kernels check them). ---- */
double cross_entropy_forward_cuda(const real *logits, const int *labels, int n, int c);
void cross_entropy_backward_cuda(real *dlogits, const real *logits, const int *labels, int n,
                                 int c, real dloss);
double label_smoothing_forward_cuda(const real *logits, const int *labels, int n, int c, real eps,
                                    int classes);
void label_smoothing_backward_cuda(real *dlogits, const real *logits, const int *labels, int n,
                                   int c, real eps, int classes, real dloss);
void arcface_forward_cuda(real *out, const real *cos, const int *labels, const uint8_t *target,
                          int n, int c, real margin, real scale);
void arcface_backward_cuda(real *dcos, const real *dout, const real *cos, const int *labels,
                           const uint8_t *target, int n, int c, real margin, real scale);

/* ---- optimizers and clipping (optim.cu) ---- */
void adam_update_cuda(real *param, const real *grad, real *m, real *v, size_t n,
                      const AdamConfig *cfg, long step);
void sgd_update_cuda(real *param, const real *grad, real *buf, size_t n, const SgdConfig *cfg,
                     long step);
double grad_global_norm_cuda(const real *grad, size_t n);
double clip_grad_norm_cuda(real *grad, size_t n, double max_norm);

#ifdef __cplusplus
}
#endif

#endif
