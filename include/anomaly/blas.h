/* Row-major GEMM on `real`: C = alpha * op(A) * op(B) + beta * C.
 *
 * Calls cblas_sgemm, or cblas_dgemm in the 64-bit build. OpenBLAS is kept
 * single-threaded (blas_init): the library parallelises over images, groups
 * and channels itself, so results never depend on the thread count. */
#ifndef ANOMALY_BLAS_H
#define ANOMALY_BLAS_H

#include "real.h"

/* Sets OpenBLAS to one thread; safe to call more than once. Call it first
 * thing in main (the anomaly binary does): it may also set OPENBLAS_CORETYPE
 * (OpenBLAS fell back to generic kernels on a CPU with AVX2 + FMA or
 * AVX-512) and GOMP_SPINCOUNT (unset, like OMP_WAIT_POLICY: a short spin)
 * and re-execute the program with the same arguments, since both are read
 * only when the libraries load; ANOMALY_KEEP_ENV=1 turns that off. See
 * src/core/blas.c for why. */
void blas_init(void);

/* One line naming the OpenBLAS kernels in use, the OpenMP spin limit if
 * blas_init chose it, and who chose them. */
const char *blas_core_note(void);

/* op(A) is M x K, op(B) is K x N, C is M x N (all row-major). */
void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);

#endif
