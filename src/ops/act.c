/* Elementwise activations. Each element is independent, so splitting the
 * array between threads cannot change any result. */
#include "anomaly/ops/act.h"

#include <math.h>

/* Below this many elements a parallel region costs more than it saves. */
#define ACT_PARALLEL_MIN 32768

#ifdef ANOMALY_F64
#define real_exp exp
#define real_fabs fabs
#else
#define real_exp expf
#define real_fabs fabsf
#endif

/* sigmoid(x) and 1 - sigmoid(x), both to full relative precision and without
 * overflow: exp() only ever sees -|x|. */
static inline void sigmoid_pair(real x, real *s, real *one_minus_s) {
    const real e = real_exp(-real_fabs(x)); /* in (0, 1] */
    const real p = (real)1 / ((real)1 + e); /* sigmoid(|x|) */
    const real q = e * p;                   /* sigmoid(-|x|) */
    if (x >= 0) {
        *s = p;
        *one_minus_s = q;
    } else {
        *s = q;
        *one_minus_s = p;
    }
}

/* out, inp [n] */
void swish_forward(real *out, const real *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        real s, q;
        sigmoid_pair(inp[i], &s, &q);
        out[i] = inp[i] * s;
    }
}

/* dinp, dout, inp [n]: d/dx x*s(x) = s * (1 + x * (1 - s)). */
void swish_backward(real *dinp, const real *dout, const real *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        real s, q;
        sigmoid_pair(inp[i], &s, &q);
        dinp[i] += dout[i] * (s * ((real)1 + inp[i] * q));
    }
}

/* out, inp [n]. Written so that NaN propagates as in PyTorch. */
void relu_forward(real *out, const real *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] < 0 ? (real)0 : inp[i];
}

/* dinp, dout, inp [n]; the gradient at x == 0 is 0 (PyTorch's threshold). */
void relu_backward(real *dinp, const real *dout, const real *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        if (!(inp[i] <= 0)) dinp[i] += dout[i];
}

/* out, inp [n] */
void sigmoid_forward(real *out, const real *inp, size_t n) {
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        real s, q;
        sigmoid_pair(inp[i], &s, &q);
        out[i] = s;
    }
}

/* dinp, dout, out [n]: from the saved output y, dx = dy * (1 - y) * y. */
void sigmoid_backward(real *dinp, const real *dout, const real *out, size_t n) {
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * ((real)1 - out[i]) * out[i];
}
