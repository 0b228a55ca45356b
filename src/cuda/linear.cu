/* nn.Linear on the GPU (src/ops/linear.c): cuBLAS GEMMs, the bias
 * gradient summed per column in double, rows in order. */
#include "cuda_internal.cuh"

__global__ static void k_rows_bias(real *out, const real *bias, int n, int out_f) {
    CU_FOR(i, (size_t)n * out_f) out[i] = bias[i % out_f];
}

__global__ static void k_col_sums(real *dbias, const real *dout, int n, int out_f) {
    CU_FOR(o, (size_t)out_f) {
        double s = 0; /* rows in order, as the CPU */
        for (int i = 0; i < n; i++) s += dout[(size_t)i * out_f + o];
        dbias[o] += (real)s;
    }
}

void linear_forward_cuda(real *out, const real *inp, const real *weight, const real *bias, int n,
                         int in_f, int out_f) {
    real beta = 0;
    if (bias) { /* from the bias, as PyTorch's addmm */
        CU_LAUNCH(k_rows_bias, cu_blocks((size_t)n * out_f), CU_THREADS)(out, bias, n, out_f);
        CU_LAUNCHED("linear bias");
        beta = 1;
    }
    cu_gemm(0, 1, n, out_f, in_f, 1, inp, in_f, 0, weight, in_f, 0, beta, out, out_f, 0, 1);
}

void linear_backward_cuda(real *dinp, real *dweight, real *dbias, const real *dout,
                          const real *inp, const real *weight, int n, int in_f, int out_f) {
    if (dinp) cu_gemm(0, 0, n, in_f, out_f, 1, dout, out_f, 0, weight, in_f, 0, 1, dinp, in_f, 0, 1);
    if (dweight)
        cu_gemm(1, 0, out_f, in_f, n, 1, dout, out_f, 0, inp, in_f, 0, 1, dweight, in_f, 0, 1);
    if (dbias) {
        CU_LAUNCH(k_col_sums, cu_blocks((size_t)out_f), CU_THREADS)(dbias, dout, n, out_f);
        CU_LAUNCHED("linear dbias");
    }
}
