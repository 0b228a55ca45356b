/* Activations on the GPU: one thread per element, formulas as src/ops/act.c. */
#include "cuda_internal.cuh"

__global__ static void k_swish_fwd(real *out, const real *inp, size_t n) {
    CU_FOR(i, n) {
        real s, q;
        cu_sigmoid_pair(inp[i], &s, &q);
        out[i] = inp[i] * s;
    }
}

__global__ static void k_swish_bwd(real *dinp, const real *dout, const real *inp, size_t n) {
    CU_FOR(i, n) {
        real s, q;
        const real x = inp[i];
        cu_sigmoid_pair(x, &s, &q);
        dinp[i] += dout[i] * (s * (1 + x * q));
    }
}

/* x < 0 ? 0 : x, so NaN stays NaN */
__global__ static void k_relu_fwd(real *out, const real *inp, size_t n) {
    CU_FOR(i, n) out[i] = inp[i] < 0 ? (real)0 : inp[i];
}

/* passes where !(x <= 0): positive or NaN */
__global__ static void k_relu_bwd(real *dinp, const real *dout, const real *inp, size_t n) {
    CU_FOR(i, n) dinp[i] += !(inp[i] <= 0) ? dout[i] : (real)0;
}

__global__ static void k_sigmoid_fwd(real *out, const real *inp, size_t n) {
    CU_FOR(i, n) {
        real s, q;
        cu_sigmoid_pair(inp[i], &s, &q);
        out[i] = s;
    }
}

__global__ static void k_sigmoid_bwd(real *dinp, const real *dout, const real *out, size_t n) {
    CU_FOR(i, n) dinp[i] += dout[i] * ((real)1 - out[i]) * out[i];
}

void swish_forward_cuda(real *out, const real *inp, size_t n) {
    CU_LAUNCH(k_swish_fwd, cu_blocks(n), CU_THREADS)(out, inp, n);
    CU_LAUNCHED("swish_forward");
}
void swish_backward_cuda(real *dinp, const real *dout, const real *inp, size_t n) {
    CU_LAUNCH(k_swish_bwd, cu_blocks(n), CU_THREADS)(dinp, dout, inp, n);
    CU_LAUNCHED("swish_backward");
}
void relu_forward_cuda(real *out, const real *inp, size_t n) {
    CU_LAUNCH(k_relu_fwd, cu_blocks(n), CU_THREADS)(out, inp, n);
    CU_LAUNCHED("relu_forward");
}
void relu_backward_cuda(real *dinp, const real *dout, const real *inp, size_t n) {
    CU_LAUNCH(k_relu_bwd, cu_blocks(n), CU_THREADS)(dinp, dout, inp, n);
    CU_LAUNCHED("relu_backward");
}
void sigmoid_forward_cuda(real *out, const real *inp, size_t n) {
    CU_LAUNCH(k_sigmoid_fwd, cu_blocks(n), CU_THREADS)(out, inp, n);
    CU_LAUNCHED("sigmoid_forward");
}
void sigmoid_backward_cuda(real *dinp, const real *dout, const real *out, size_t n) {
    CU_LAUNCH(k_sigmoid_bwd, cu_blocks(n), CU_THREADS)(dinp, dout, out, n);
    CU_LAUNCHED("sigmoid_backward");
}
