/* Row-major GEMM on `real`: C = alpha * op(A) * op(B) + beta * C.
 *
 * Calls cblas_sgemm, or cblas_dgemm in the 64-bit build. OpenBLAS is kept
 * single-threaded (blas_init): the library parallelises over images, groups
 * and channels itself, so results never depend on the thread count. */
#ifndef ANOMALY_BLAS_H
#define ANOMALY_BLAS_H

#include "real.h"

/* Sets OpenBLAS to one thread; safe to call more than once. */
void blas_init(void);

/* op(A) is M x K, op(B) is K x N, C is M x N (all row-major). */
void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);

#endif
