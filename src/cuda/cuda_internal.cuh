/* Shared by the CUDA kernels of src/cuda: launch sizes, the one block
 * reduction every deterministic sum goes through, and the GEMM.
 *
 * With CUDA=emu the same files compile as C++ for the CPU (emu.h provides
 * the CUDA names, emu_runtime.cpp runs each block's threads as fibers), so
 * the kernels' logic is tested on machines without a GPU. */
#ifndef ANOMALY_SRC_CUDA_INTERNAL_CUH
#define ANOMALY_SRC_CUDA_INTERNAL_CUH

#ifndef ANOMALY_CUDA_EMU
#include <cuda_runtime.h>
/* kernel<<<grid, block>>>(args), written CU_LAUNCH(kernel, grid, block)(args) */
#define CU_LAUNCH(kernel, grid, block) kernel<<<grid, block>>>
#endif
#include <math.h>
#include <stddef.h>

#include "anomaly/cuda.h"
extern "C" {
#include "anomaly/error.h" /* a C header without C++ guards */
}

/* Threads per block of the elementwise kernels and of every reduction:
 * fixed, so a reduction's order depends on the shape only. */
#ifndef CU_THREADS
#define CU_THREADS 256
#endif

static inline unsigned cu_blocks(size_t n) {
    size_t b = (n + CU_THREADS - 1) / CU_THREADS;
    if (b < 1) b = 1;
    return b > 2147483647u ? 2147483647u : (unsigned)b;
}

/* After a launch: a bad configuration is fatal now, naming the kernel. */
#define CU_LAUNCHED(name)                                                              \
    do {                                                                               \
        cudaError_t e_ = cudaGetLastError();                                           \
        if (e_ != cudaSuccess) fatal("CUDA kernel %s: %s", name, cudaGetErrorString(e_)); \
    } while (0)

/* Grid-stride loop over [0, n). */
#define CU_FOR(i, n) \
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

/* Sum of one double per thread of a CU_THREADS block, in a fixed tree; the
 * result is valid in thread 0. sh: CU_THREADS doubles of shared memory. */
__device__ static inline double cu_block_sum(double v, double *sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int w = CU_THREADS / 2; w > 0; w >>= 1) {
        if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

/* sigmoid(x) and 1 - sigmoid(x) as the CPU's sigmoid_pair_scalar. */
__device__ static inline void cu_sigmoid_pair(real x, real *s, real *q) {
#ifdef ANOMALY_F64
    const real e = exp(-fabs(x));
#else
    const real e = expf(-fabsf(x));
#endif
    const real p = (real)1 / ((real)1 + e);
    const real m = e * p;
    if (x >= 0) {
        *s = p;
        *q = m;
    } else {
        *s = m;
        *q = p;
    }
}

/* Row-major GEMM on the device: C[m, n] = alpha * op(A) op(B) + beta * C,
 * op(A) [m, k], op(B) [k, n]; lda, ldb, ldc are row strides as in blas.h.
 * Batched over `batch` matrices sA, sB, sC elements apart (batch 1: one).
 * (gemm.cu) */
void cu_gemm(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a, int lda,
             long long sa, const real *b, int ldb, long long sb, real beta, real *c, int ldc,
             long long sc, int batch);

/* The column-major, cuBLAS-convention GEMM cu_gemm calls: cuBLAS itself
 * (device.cu), or the emulator's loops (emu_runtime.cpp). */
void cu_gemm_colmajor(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a,
                      int lda, long long sa, const real *b, int ldb, long long sb, real beta,
                      real *c, int ldc, long long sc, int batch);

#endif
