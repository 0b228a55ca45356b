/* Split attention (ResNeSt) pieces, in timm's memory layouts.
 * Backward ACCUMULATES. */
#ifndef ANOMALY_OPS_ATTN_H
#define ANOMALY_OPS_ATTN_H

#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

/* timm RadixSoftmax: inp [n, card, radix, inner] is viewed, transposed to
 * [n, radix, card, inner] and softmaxed over radix; out is [n, radix, card,
 * inner] (flattened). With radix == 1: plain sigmoid, layout unchanged. */
void radix_softmax_forward(real *out, const real *inp, int n, int card, int radix, int inner);
/* Reference: a softmax's exponentials (pm_exp) summed in `real`, r = 0..radix-1
 * in order; backward's dot product in double in the same order. */
void radix_softmax_forward_ref(real *out, const real *inp, int n, int card, int radix, int inner);
void radix_softmax_backward(real *dinp, const real *dout, const real *out, int n, int card,
                            int radix, int inner);
void radix_softmax_backward_ref(real *dinp, const real *dout, const real *out, int n, int card,
                                int radix, int inner);

/* Sum of the radix splits: out [n, c, hw] = sum_r inp [n, r, c, hw]. */
void radix_sum_forward(real *out, const real *inp, int n, int radix, int c, int hw);
/* Reference: splits added in `real`, r = 0..radix-1 in order. */
void radix_sum_forward_ref(real *out, const real *inp, int n, int radix, int c, int hw);
void radix_sum_backward(real *dinp, const real *dout, int n, int radix, int c, int hw);
void radix_sum_backward_ref(real *dinp, const real *dout, int n, int radix, int c, int hw);

/* Attention-weighted sum: out [n, c, hw] = sum_r inp[n, r, c, hw] * attn[n, r, c]. */
void radix_weighted_sum_forward(real *out, const real *inp, const real *attn, int n, int radix,
                                int c, int hw);
/* Reference: rounded products added in `real`, r = 0..radix-1 in order;
 * dattn[n, r, c] += (real) of sum_j dout * inp in double, j = 0..hw-1 in order. */
void radix_weighted_sum_forward_ref(real *out, const real *inp, const real *attn, int n,
                                    int radix, int c, int hw);
void radix_weighted_sum_backward(real *dinp, real *dattn, const real *dout, const real *inp,
                                 const real *attn, int n, int radix, int c, int hw);
void radix_weighted_sum_backward_ref(real *dinp, real *dattn, const real *dout, const real *inp,
                                     const real *attn, int n, int radix, int c, int hw);

/* x [n, card*radix*inner, 1, 1] -> [n, radix*card*inner, 1, 1] (each
 * sample's c*h*w values are split, as timm's view(batch, card, radix, -1));
 * radix at most 64. */
Tensor *ag_radix_softmax(Tape *t, Tensor *x, int card, int radix);
/* x [n, radix*c, h, w] -> [n, c, h, w]. */
Tensor *ag_radix_sum(Tape *t, Tensor *x, int radix);
/* ag_global_avgpool(ag_radix_sum(x)), x [n, radix*c, h, w] -> [n, c, 1, 1],
 * with the same kernels (the same bits) but without keeping the sum: it is
 * a temporary of the forward, and of the backward for its gradient. */
Tensor *ag_radix_sum_gap(Tape *t, Tensor *x, int radix);
/* x [n, radix*c, h, w], attn [n, radix*c, 1, 1] -> [n, c, h, w]. */
Tensor *ag_radix_weighted_sum(Tape *t, Tensor *x, Tensor *attn, int radix);

#endif
