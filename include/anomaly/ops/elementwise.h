/* Elementwise and broadcasting helpers. Backward ACCUMULATES. */
#ifndef ANOMALY_OPS_ELEMENTWISE_H
#define ANOMALY_OPS_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>
#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

/* out = a + b (residual add). */
void add_forward(real *out, const real *a, const real *b, size_t n);
/* Reference: element by element; backward adds dout to da, then to db. */
void add_forward_ref(real *out, const real *a, const real *b, size_t n);
void add_backward(real *da, real *db, const real *dout, size_t n);
void add_backward_ref(real *da, real *db, const real *dout, size_t n);

/* Per-channel scale (squeeze-excitation): out[i,c,:] = inp[i,c,:] * s[i,c].
 * inp [n, c, hw]; s [n, c]. */
void channel_scale_forward(real *out, const real *inp, const real *s, int n, int c, int hw);
/* Reference: ds[i,c] += (real) of sum_j dout * inp over j = 0..hw-1 in order, in double. */
void channel_scale_forward_ref(real *out, const real *inp, const real *s, int n, int c, int hw);
void channel_scale_backward(real *dinp, real *ds, const real *dout, const real *inp,
                            const real *s, int n, int c, int hw);
void channel_scale_backward_ref(real *dinp, real *ds, const real *dout, const real *inp,
                                const real *s, int n, int c, int hw);

/* Dropout with an explicit keep mask (1 keep, 0 drop): out = inp * mask * scale,
 * scale = 1 / (1 - p). The mask comes from the caller so tests can use
 * PyTorch's. */
void dropout_forward(real *out, const real *inp, const uint8_t *mask, real scale, size_t n);
/* Reference: element by element (no sums). */
void dropout_forward_ref(real *out, const real *inp, const uint8_t *mask, real scale, size_t n);
void dropout_backward(real *dinp, const real *dout, const uint8_t *mask, real scale, size_t n);
void dropout_backward_ref(real *dinp, const real *dout, const uint8_t *mask, real scale,
                          size_t n);

/* Per-sample drop-connect: out[i,:] = inp[i,:] * keep[i] / (1 - rate);
 * inp [n, inner]; keep [n] (1 keep, 0 drop). */
void drop_connect_forward(real *out, const real *inp, const uint8_t *keep, real rate,
                          int n, size_t inner);
/* Reference: element by element (no sums). */
void drop_connect_forward_ref(real *out, const real *inp, const uint8_t *keep, real rate, int n,
                              size_t inner);
void drop_connect_backward(real *dinp, const real *dout, const uint8_t *keep, real rate,
                           int n, size_t inner);
void drop_connect_backward_ref(real *dinp, const real *dout, const uint8_t *keep, real rate,
                               int n, size_t inner);

/* Row L2-normalise as F.normalize(p=2, dim=1, eps): out = x / max(||x||, eps).
 * inp, out [rows, cols]. */
void l2norm_rows_forward(real *out, const real *inp, int rows, int cols, real eps);
/* Reference: the squared norm and sum(dout * x) of a row in double, j = 0..cols-1 in order. */
void l2norm_rows_forward_ref(real *out, const real *inp, int rows, int cols, real eps);
void l2norm_rows_backward(real *dinp, const real *dout, const real *inp, int rows, int cols,
                          real eps);
void l2norm_rows_backward_ref(real *dinp, const real *dout, const real *inp, int rows, int cols,
                              real eps);

Tensor *ag_add(Tape *t, Tensor *a, Tensor *b);
/* x [n, c, h, w] times s [n, c, 1, 1]. Inputs of the ag_* wrappers are kept
 * by pointer until backward; the masks below are copied. */
Tensor *ag_channel_scale(Tape *t, Tensor *x, Tensor *s);
/* For a first operand that nothing reads afterwards: in inference (tape not
 * recording) the output overwrites a (x) and the call returns it; b (s) is
 * only read. Recording, the same as ag_add / ag_channel_scale. */
Tensor *ag_add_inplace(Tape *t, Tensor *a, Tensor *b);
Tensor *ag_channel_scale_inplace(Tape *t, Tensor *x, Tensor *s);
/* The caller draws the keep mask (one byte per element of x for dropout, one
 * per sample for drop-connect); both are the identity (no node, output = x)
 * when the tape is not training or the rate is 0. */
Tensor *ag_dropout(Tape *t, Tensor *x, const uint8_t *mask, real p);
Tensor *ag_drop_connect(Tape *t, Tensor *x, const uint8_t *keep, real rate);
/* Rows are samples: x viewed as [n, c*h*w]. Backward treats the norm as a
 * constant (eps) where it was clamped, as PyTorch's clamp_min does. */
Tensor *ag_l2norm_rows(Tape *t, Tensor *x, real eps);

/* Cosine head (ArcFace): out [n, k, 1, 1] = normalize(x) . normalize(w)^T
 * with F.normalize's eps 1e-12; x [n, f] (c*h*w = f is flattened), w [k, f]
 * (kept by pointer until backward). Gradients reach both x and w. */
Tensor *ag_cosine(Tape *t, const char *name, Tensor *x, Tensor *w);

#endif
