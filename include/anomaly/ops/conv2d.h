/* 2-D convolution, NCHW, through im2col + GEMM.
 *
 * Any kernel size, stride, dilation and groups; padding is given per side
 * (top, bottom, left, right), so TensorFlow "SAME" asymmetric pads need no
 * copy. 1x1 stride-1 unpadded convolutions skip im2col. Backward kernels
 * ACCUMULATE (+=) into dinp, dweight and dbias; pass NULL to skip one. */
#ifndef ANOMALY_OPS_CONV2D_H
#define ANOMALY_OPS_CONV2D_H

#include <stddef.h>
#include "../real.h"
#include "../tensor.h"
#include "../tape.h"
#include "fused.h" /* BnAct */

typedef struct Conv2dShape {
    int n, c, h, w;                 /* input */
    int oc;                         /* output channels */
    int kh, kw;                     /* kernel */
    int sh, sw;                     /* stride */
    int dh, dw;                     /* dilation (1 = none) */
    int pad_t, pad_b, pad_l, pad_r; /* zero padding per side */
    int groups;
    int oh, ow;                     /* output size: set by conv2d_shape_resolve */
} Conv2dShape;

/* Computes oh, ow and validates (positive sizes, c and oc divisible by
 * groups, output non-empty). Returns 0, or -1 with a message in err. */
int conv2d_shape_resolve(Conv2dShape *s, char *err, size_t errlen);

/* Bytes of scratch conv2d_forward / conv2d_backward need at the current
 * OpenMP thread count (omp_get_max_threads()). Size the workspace and call
 * the kernel under the same thread count: the kernel gives each thread its
 * own slice. conv2d_workspace_bytes is enough for both directions; the
 * forward alone needs less (nothing for the 1x1 stride-1 unpadded path). */
size_t conv2d_workspace_bytes(const Conv2dShape *s);
size_t conv2d_forward_workspace_bytes(const Conv2dShape *s);
size_t conv2d_backward_workspace_bytes(const Conv2dShape *s);

/* out [n, oc, oh, ow] (overwritten); inp [n, c, h, w];
 * weight [oc, c/groups, kh, kw]; bias [oc] or NULL; work: at least
 * conv2d_forward_workspace_bytes(s) bytes (backward: the backward size).
 * dinp, dweight, dbias: gradients of inp, weight, bias, each NULL to skip;
 * dout [n, oc, oh, ow]. Results are bit-identical for any thread count. */
void conv2d_forward(real *out, const real *inp, const real *weight, const real *bias,
                    const Conv2dShape *s, void *work);
/* Inference: out = act(conv2d(inp) * affine[ch] + affine[oc + ch]), an
 * eval-mode BatchNorm's affine map (batchnorm2d_eval_affine) and the
 * activation applied to each GEMM task's output block while it is in cache:
 * the bits of conv2d_forward then batchnorm2d_act_recompute, one memory
 * pass fewer. The grouped direct kernel (few channels a group) and the
 * exact mode apply it over the whole output afterwards. Arguments
 * otherwise as conv2d_forward. */
void conv2d_forward_bn_act(real *out, const real *inp, const real *weight, const real *bias,
                           const Conv2dShape *s, void *work, const real *affine, BnAct act);
/* Reference (src/ops/ref/conv2d.c): conv2d_forward_ref, then
 * batchnorm2d_act_recompute_ref over the whole output. */
void conv2d_forward_bn_act_ref(real *out, const real *inp, const real *weight, const real *bias,
                               const Conv2dShape *s, void *work, const real *affine, BnAct act);
/* Reference (src/ops/ref/conv2d.c): per image and group, unfold (im2col)
 * and gemm_ref. An output is one sum in `real` from zero over its K =
 * c/groups * kh * kw terms in (input channel, kernel row, kernel column)
 * order, plus the bias after. Backward: dweight += one such sum per image
 * (over output pixels in row-major order), images in order; dinp gets,
 * per image, kernel tap by tap in (channel, row, column) order, the tap's
 * sum over the group's output channels in order; dbias += the sum over
 * images and pixels in double. `work` is not used. */
void conv2d_forward_ref(real *out, const real *inp, const real *weight, const real *bias,
                        const Conv2dShape *s, void *work);
void conv2d_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, const Conv2dShape *s, void *work);
void conv2d_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                         const real *inp, const real *weight, const Conv2dShape *s, void *work);

/* Direct loops over output pixel, then (input channel, kernel row, kernel
 * column): the definition the reference above is tested against, bit for
 * bit (same terms, same order, same roundings; padding taps, which add
 * exact zeros there, are skipped here). */
void conv2d_forward_loops(real *out, const real *inp, const real *weight, const real *bias,
                          const Conv2dShape *s);
void conv2d_backward_loops(real *dinp, real *dweight, real *dbias, const real *dout,
                           const real *inp, const real *weight, const Conv2dShape *s);

/* Autograd: y = conv2d(x, w, b). w is [oc, c/groups, kh, kw] as a Tensor
 * with n = oc, c = c/groups, h = kh, w = kw; b may be NULL (any tensor of oc
 * values). The shape's n, c, h, w are taken from x; a bad shape or a
 * mismatch with w or b is a fatal error naming `name`. Depthwise shapes
 * (groups == c == oc, dilation 1) use the direct kernel. Backward computes
 * dx only if x->requires_grad, dw / db only if they require grad. A tensor
 * that already has its grad pointer (a parameter view) may be a temporary:
 * the node keeps a copy of it; one whose gradient is allocated lazily must
 * live until backward (tape tensors do). */
Tensor *ag_conv2d(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                  const Conv2dShape *s);
/* The same, but in training the output is not kept: it is a transient of
 * the tape's convolution slot (tape_transient), recomputed from x in
 * backward when its consumer asks (tape_input). Its consumers must read it
 * before the next transient convolution output is made. Inference: as
 * ag_conv2d. */
Tensor *ag_conv2d_transient(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                            const Conv2dShape *s);

/* Inference only (the tape neither recording nor training):
 * act(batchnorm(conv2d(x))) with the BatchNorm's running statistics, one
 * kernel (conv2d_forward_bn_act or depthwise_conv2d_forward_bn_act): the
 * bits of ag_conv2d then ag_batchnorm2d_act_eval_inplace without writing
 * the convolution's output to memory and reading it back. */
Tensor *ag_conv2d_bn_act_eval(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                              const Conv2dShape *s, Tensor *gamma, Tensor *beta,
                              const real *running_mean, const real *running_var, real eps,
                              BnAct act);

#endif
