/* Row-major GEMM through a column-major (cuBLAS-convention) one. */
#include "cuda_internal.cuh"

/* Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, and a
 * row-major matrix read column-major is its transpose: so the column-major
 * call takes B first, A second, with m and n swapped and the same flags. */
void cu_gemm(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a, int lda,
             long long sa, const real *b, int ldb, long long sb, real beta, real *c, int ldc,
             long long sc, int batch) {
    if (m <= 0 || n <= 0) return;
    cu_gemm_colmajor(trans_b, trans_a, n, m, k, alpha, b, ldb, sb, a, lda, sa, beta, c, ldc, sc,
                     batch);
}
