/* Elementwise activations. Each element is independent, so splitting the
 * array between threads cannot change any result. */
#include "anomaly/ops/act.h"
#include "anomaly/exact.h"
#include "vec.h"

#include <math.h>

/* Below this many elements a parallel region costs more than it saves. */
#define ACT_PARALLEL_MIN 32768
/* Elements per parallel task of the vectorised kernels. */
#define ACT_CHUNK 16384

/* Every element, the last partial vector included, goes through the same
 * vector code, so its value never depends on where a thread's share begins. */

/* out, inp [n] */
VEC_DISPATCH_VOID(swish_forward_span, (real *out, const real *inp, size_t n), (out, inp, n)) {
    for (size_t i = 0; i < n; i += VLANES) {
        const int m = n - i < VLANES ? (int)(n - i) : VLANES;
        vreal x, s, q, y;
        vload_n(&x, inp + i, m);
        vsigmoid_pair(&s, &q, &x);
        y = x * s;
        vstore_n(out + i, &y, m);
    }
}

/* dinp, dout, inp [n]: d/dx x*s(x) = s * (1 + x * (1 - s)). */
VEC_DISPATCH_VOID(swish_backward_span, (real *dinp, const real *dout, const real *inp, size_t n),
             (dinp, dout, inp, n)) {
    for (size_t i = 0; i < n; i += VLANES) {
        const int m = n - i < VLANES ? (int)(n - i) : VLANES;
        vreal x, g, d, s, q;
        vload_n(&x, inp + i, m);
        vload_n(&g, dout + i, m);
        vload_n(&d, dinp + i, m);
        vsigmoid_pair(&s, &q, &x);
        d += g * (s * (1 + x * q));
        vstore_n(dinp + i, &d, m);
    }
}

/* out, inp [n] */
VEC_DISPATCH_VOID(sigmoid_forward_span, (real *out, const real *inp, size_t n), (out, inp, n)) {
    for (size_t i = 0; i < n; i += VLANES) {
        const int m = n - i < VLANES ? (int)(n - i) : VLANES;
        vreal x, s, q;
        vload_n(&x, inp + i, m);
        vsigmoid_pair(&s, &q, &x);
        vstore_n(out + i, &s, m);
    }
}

typedef void (*UnarySpan)(real *, const real *, size_t);

static void run_unary(UnarySpan f, real *out, const real *inp, size_t n) {
    const size_t chunks = (n + ACT_CHUNK - 1) / ACT_CHUNK;
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t k = 0; k < chunks; k++) {
        const size_t lo = k * ACT_CHUNK;
        f(out + lo, inp + lo, n - lo < ACT_CHUNK ? n - lo : ACT_CHUNK);
    }
}

void swish_forward(real *out, const real *inp, size_t n) {
    if (exact_mode()) {
        swish_forward_ref(out, inp, n);
        return;
    }
    run_unary(swish_forward_span, out, inp, n);
}

void swish_backward(real *dinp, const real *dout, const real *inp, size_t n) {
    if (exact_mode()) {
        swish_backward_ref(dinp, dout, inp, n);
        return;
    }
    const size_t chunks = (n + ACT_CHUNK - 1) / ACT_CHUNK;
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t k = 0; k < chunks; k++) {
        const size_t lo = k * ACT_CHUNK;
        swish_backward_span(dinp + lo, dout + lo, inp + lo, n - lo < ACT_CHUNK ? n - lo : ACT_CHUNK);
    }
}

/* out, inp [n]: inp < 0 ? 0 : inp, so NaN propagates as in PyTorch.
 * Branch-free: the sign of an activation is a coin toss for a predictor. */
VEC_DISPATCH_VOID(relu_forward_span, (real *out, const real *inp, size_t n), (out, inp, n)) {
    for (size_t i = 0; i < n; i += VLANES) {
        const int m = n - i < VLANES ? (int)(n - i) : VLANES;
        vreal x;
        vload_n(&x, inp + i, m);
        const vint neg = x < 0;
        x = (vreal)((vint)x & ~neg);
        vstore_n(out + i, &x, m);
    }
}

/* dinp, dout, inp [n]: dout passes where !(inp <= 0), so the gradient at
 * x == 0 is 0 (PyTorch's threshold) and NaN inputs pass it. */
VEC_DISPATCH_VOID(relu_backward_span, (real *dinp, const real *dout, const real *inp, size_t n),
             (dinp, dout, inp, n)) {
    for (size_t i = 0; i < n; i += VLANES) {
        const int m = n - i < VLANES ? (int)(n - i) : VLANES;
        vreal x, g, d;
        vload_n(&x, inp + i, m);
        vload_n(&g, dout + i, m);
        vload_n(&d, dinp + i, m);
        const vint pass = ~(x <= 0);
        d += (vreal)((vint)g & pass);
        vstore_n(dinp + i, &d, m);
    }
}

void relu_forward(real *out, const real *inp, size_t n) {
    if (exact_mode()) {
        relu_forward_ref(out, inp, n);
        return;
    }
    run_unary(relu_forward_span, out, inp, n);
}

void relu_backward(real *dinp, const real *dout, const real *inp, size_t n) {
    if (exact_mode()) {
        relu_backward_ref(dinp, dout, inp, n);
        return;
    }
    const size_t chunks = (n + ACT_CHUNK - 1) / ACT_CHUNK;
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t k = 0; k < chunks; k++) {
        const size_t lo = k * ACT_CHUNK;
        relu_backward_span(dinp + lo, dout + lo, inp + lo, n - lo < ACT_CHUNK ? n - lo : ACT_CHUNK);
    }
}

/* out, inp [n] */
void sigmoid_forward(real *out, const real *inp, size_t n) {
    if (exact_mode()) {
        sigmoid_forward_ref(out, inp, n);
        return;
    }
    run_unary(sigmoid_forward_span, out, inp, n);
}

/* dinp, dout, out [n]: from the saved output y, dx = dy * (1 - y) * y. */
void sigmoid_backward(real *dinp, const real *dout, const real *out, size_t n) {
    if (exact_mode()) {
        sigmoid_backward_ref(dinp, dout, out, n);
        return;
    }
#pragma omp parallel for schedule(static) if (n >= ACT_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * ((real)1 - out[i]) * out[i];
}
