#include "anomaly/blas.h"

#include <cblas.h>

void blas_init(void) { openblas_set_num_threads(1); }

/* Runs before main in every program that links gemm, so no kernel can reach
 * a multi-threaded OpenBLAS from inside an OpenMP region. */
#if defined(__GNUC__)
__attribute__((constructor)) static void blas_init_at_load(void) { blas_init(); }
#endif

void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc) {
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#ifdef ANOMALY_F64
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
