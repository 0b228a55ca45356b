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

/* op(A) is M x K, op(B) is K x N, C is M x N (all row-major). In the exact
 * mode this is gemm_ref(). */
void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);

/* The reference GEMM (src/ops/ref/gemm.c), the same contract. Each element
 * is one sum in a fixed order, whatever the blocking and the thread count:
 *   acc = 0; for k = 0 .. K-1: acc += op(A)[i][k] * op(B)[k][j]
 *   C[i][j] = alpha * acc + beta * C[i][j]   (beta == 0: C is not read;
 *   alpha == 1 and beta == 0 or 1 multiply by nothing)
 * so a convolution through im2col and gemm_ref sums exactly as the direct
 * loop over (input channel, kernel row, kernel column) does. */
void gemm_ref(int trans_a, int trans_b, int M, int N, int K, real alpha,
              const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc);

#endif
