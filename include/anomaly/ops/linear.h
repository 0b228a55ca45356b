/* Fully connected layer as PyTorch nn.Linear: out = inp * weight^T + bias.
 * Backward ACCUMULATES. */
#ifndef ANOMALY_OPS_LINEAR_H
#define ANOMALY_OPS_LINEAR_H

#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

/* out [n, out_f]; inp [n, in_f]; weight [out_f, in_f]; bias [out_f] or NULL. */
void linear_forward(real *out, const real *inp, const real *weight, const real *bias,
                    int n, int in_f, int out_f);
/* Reference: out[i][o] = (sum over k = 0..in_f-1 in order, in `real`, from 0) + bias[o];
 * dinp[i][k] += sum over o in order; dweight[o][k] += sum over rows i in order;
 * dbias[o] += (real) of the sum over rows in double. As gemm_ref, bit for bit. */
void linear_forward_ref(real *out, const real *inp, const real *weight, const real *bias, int n,
                        int in_f, int out_f);
void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, int n, int in_f, int out_f);
void linear_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                         const real *inp, const real *weight, int n, int in_f, int out_f);

/* x: [n, in_f] (any h, w with c*h*w = in_f is flattened); w: [out_f, in_f];
 * b: [out_f] or NULL. Returns [n, out_f, 1, 1]. A feature-count mismatch is
 * a fatal error naming `name`. w and b are kept by pointer until backward. */
Tensor *ag_linear(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b);

#endif
