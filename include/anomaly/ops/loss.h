/* Losses of SPEC section 4, value and gradient. All losses are means over the
 * batch. Backward ACCUMULATES dloss * d(loss)/d(input) into its output.
 * A label outside [0, c) is a fatal error naming the label and the sample. */
#ifndef ANOMALY_OPS_LOSS_H
#define ANOMALY_OPS_LOSS_H

#include <stdint.h>
#include "../real.h"
#include "../tensor.h"
#include "../tape.h"

/* Mean softmax cross-entropy. logits [n, c]; labels [n] in [0, c).
 * Returns the loss (accumulated in double). */
double cross_entropy_forward(const real *logits, const int *labels, int n, int c);
/* Reference: each row's log-sum-exp in double, j = 0..c-1 in order, rows
 * added in order; pm_exp / pm_log. */
double cross_entropy_forward_ref(const real *logits, const int *labels, int n, int c);
void cross_entropy_backward(real *dlogits, const real *logits, const int *labels, int n, int c,
                            real dloss);
void cross_entropy_backward_ref(real *dlogits, const real *logits, const int *labels, int n,
                                int c, real dloss);

/* Label smoothing: q = eps/(classes-1) off the true class, 1-eps on it;
 * loss = mean_i -sum_j q_ij log_softmax(logits)_ij. `classes` is normally c.
 * The original always passed 88, even to models with fewer outputs; with
 * classes != c each of the c-1 wrong classes still gets eps/(classes-1),
 * exactly as its formula computed, so the target mass is
 * (1-eps) + (c-1)*eps/(classes-1) instead of 1. classes < 2 is fatal. */
double label_smoothing_forward(const real *logits, const int *labels, int n, int c, real eps,
                               int classes);
/* Reference: as cross_entropy_forward_ref; a row's weighted sum j = 0..c-1 in order. */
double label_smoothing_forward_ref(const real *logits, const int *labels, int n, int c, real eps,
                                   int classes);
void label_smoothing_backward(real *dlogits, const real *logits, const int *labels, int n, int c,
                              real eps, int classes, real dloss);
void label_smoothing_backward_ref(real *dlogits, const real *logits, const int *labels, int n,
                                  int c, real eps, int classes, real dloss);

/* ArcFace margin: theta = acos(clamp(cos, -1, 1)); for samples whose label is
 * in the target set (target[label] != 0), theta of the true class += margin;
 * out = scale * cos(theta'). Every other entry is scale * cos, unclamped.
 * cos, out [n, c]; target [c] or NULL (= all labels).
 * Backward evaluates the margin entries' slope
 * scale * sin(acos(x) + margin) / sqrt(1 - x^2) at x clamped to
 * +-(1 - 1e-7), so it stays finite at and beyond +-1. */
void arcface_forward(real *out, const real *cos, const int *labels, const uint8_t *target,
                     int n, int c, real margin, real scale);
/* Reference: element by element (no sums); pm_acos / pm_cos / pm_sin. */
void arcface_forward_ref(real *out, const real *cos, const int *labels, const uint8_t *target,
                         int n, int c, real margin, real scale);
void arcface_backward(real *dcos, const real *dout, const real *cos, const int *labels,
                      const uint8_t *target, int n, int c, real margin, real scale);
void arcface_backward_ref(real *dcos, const real *dout, const real *cos, const int *labels,
                          const uint8_t *target, int n, int c, real margin, real scale);

/* Autograd. Rows are samples: an input [n, c, h, w] is read as [n, c*h*w].
 * The criteria return a [1, 1, 1, 1] loss; backward scales by its gradient
 * (the seed of tape_backward). ag_arcface returns the margin logits, shaped
 * like cos, for a criterion. labels and target are copied onto the tape. */
Tensor *ag_cross_entropy(Tape *t, Tensor *logits, const int *labels);
Tensor *ag_label_smoothing(Tape *t, Tensor *logits, const int *labels, real eps, int classes);
Tensor *ag_arcface(Tape *t, Tensor *cos, const int *labels, const uint8_t *target, real margin,
                   real scale);

#endif
