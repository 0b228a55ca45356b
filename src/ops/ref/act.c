/* Reference activations: one element at a time, no sums. The exponential
 * is pm_exp (pmath.h), evaluated in double and rounded to `real` once, so
 * every CPU gets the same bits. Threads split the elements, which are
 * independent, so the thread count never changes a bit. */
#include "anomaly/ops/act.h"
#include "anomaly/pmath.h"

#include <math.h>

/* sigmoid(x) and 1 - sigmoid(x), exp() only ever seeing -|x| (no overflow):
 * with e = exp(-|x|), sigmoid(|x|) = 1 / (1 + e) and sigmoid(-|x|) = e * that. */
static void sigmoid_pair(real x, real *s, real *one_minus_s) {
    const real e = (real)pm_exp(-fabs((double)x));
    const real p = (real)1 / ((real)1 + e);
    const real q = e * p;
    *s = x >= 0 ? p : q;
    *one_minus_s = x >= 0 ? q : p;
}

void swish_forward_ref(real *out, const real *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        real s, q;
        sigmoid_pair(inp[i], &s, &q);
        out[i] = inp[i] * s;
    }
}

/* d/dx x * s(x) = s * (1 + x * (1 - s)) */
void swish_backward_ref(real *dinp, const real *dout, const real *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        real s, q;
        sigmoid_pair(inp[i], &s, &q);
        dinp[i] += dout[i] * (s * (1 + inp[i] * q));
    }
}

/* x < 0 ? 0 : x, so NaN propagates (and -0 stays -0). */
void relu_forward_ref(real *out, const real *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] < 0 ? 0 : inp[i];
}

/* The gradient passes where !(x <= 0): 0 at x == 0 (PyTorch's threshold),
 * NaN inputs pass it. A blocked gradient still adds +0 (as the fast kernel). */
void relu_backward_ref(real *dinp, const real *dout, const real *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] += inp[i] <= 0 ? (real)0 : dout[i];
}

void sigmoid_forward_ref(real *out, const real *inp, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        real s, q;
        sigmoid_pair(inp[i], &s, &q);
        out[i] = s;
    }
}

/* From the saved output y: dx = dy * (1 - y) * y. */
void sigmoid_backward_ref(real *dinp, const real *dout, const real *out, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * ((real)1 - out[i]) * out[i];
}
