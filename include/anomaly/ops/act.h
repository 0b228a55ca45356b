/* Elementwise activations. Backward ACCUMULATES into dinp. */
#ifndef ANOMALY_OPS_ACT_H
#define ANOMALY_OPS_ACT_H

#include <stddef.h>
#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

/* swish / SiLU: y = x * sigmoid(x) */
void swish_forward(real *out, const real *inp, size_t n);
/* Reference: element by element, sigmoid from pm_exp (see src/ops/ref/act.c). */
void swish_forward_ref(real *out, const real *inp, size_t n);
void swish_backward(real *dinp, const real *dout, const real *inp, size_t n);
void swish_backward_ref(real *dinp, const real *dout, const real *inp, size_t n);
/* ReLU: y = max(x, 0); gradient 0 at x = 0 as PyTorch. */
void relu_forward(real *out, const real *inp, size_t n);
/* Reference: element by element (no sums). */
void relu_forward_ref(real *out, const real *inp, size_t n);
void relu_backward(real *dinp, const real *dout, const real *inp, size_t n);
void relu_backward_ref(real *dinp, const real *dout, const real *inp, size_t n);
/* sigmoid; backward uses the saved output. */
void sigmoid_forward(real *out, const real *inp, size_t n);
/* Reference: element by element, pm_exp. */
void sigmoid_forward_ref(real *out, const real *inp, size_t n);
void sigmoid_backward(real *dinp, const real *dout, const real *out, size_t n);
void sigmoid_backward_ref(real *dinp, const real *dout, const real *out, size_t n);

Tensor *ag_swish(Tape *t, Tensor *x);
Tensor *ag_relu(Tape *t, Tensor *x);
Tensor *ag_sigmoid(Tape *t, Tensor *x);
/* For an x that nothing reads afterwards: in inference (tape not recording)
 * the output overwrites x and the call returns x; recording, the same as
 * ag_swish / ag_relu. */
Tensor *ag_swish_inplace(Tape *t, Tensor *x);
Tensor *ag_relu_inplace(Tape *t, Tensor *x);

#endif
