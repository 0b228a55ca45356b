/* Device selection, memory helpers and the cuBLAS handle of the CUDA twin. */
#include <cublas_v2.h>
#include <stdio.h>

#include "cuda_internal.cuh"

static int device_checked; /* 1 ready, -1 not */

int cuda_device_ready(char *err, size_t errlen) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver || (e == cudaSuccess && count == 0)) {
        if (err) snprintf(err, errlen, "no CUDA device (%s)",
                          e == cudaSuccess ? "the runtime sees 0 devices" : cudaGetErrorString(e));
        device_checked = -1;
        return -1;
    }
    if (e != cudaSuccess) {
        if (err) snprintf(err, errlen, "no CUDA device (%s)", cudaGetErrorString(e));
        device_checked = -1;
        return -1;
    }
    e = cudaSetDevice(0);
    if (e != cudaSuccess) {
        if (err) snprintf(err, errlen, "no CUDA device (cudaSetDevice: %s)", cudaGetErrorString(e));
        device_checked = -1;
        return -1;
    }
    device_checked = 1;
    return 0;
}

void cuda_device_describe(char *buf, size_t len) {
    cudaDeviceProp p;
    int rt = 0, drv = 0;
    cudaRuntimeGetVersion(&rt);
    cudaDriverGetVersion(&drv);
    if (cudaGetDeviceProperties(&p, 0) != cudaSuccess) {
        snprintf(buf, len, "unknown device");
        return;
    }
    snprintf(buf, len, "%s, compute %d.%d, %d SMs, CUDA runtime %d.%d, driver %d.%d", p.name,
             p.major, p.minor, p.multiProcessorCount, rt / 1000, rt % 1000 / 10, drv / 1000,
             drv % 1000 / 10);
}

static void require_device(void) {
    char err[256];
    if (device_checked == 0 && cuda_device_ready(err, sizeof err) != 0) fatal("%s", err);
    if (device_checked < 0) fatal("no CUDA device");
}

void *cuda_alloc(size_t bytes, const char *what) {
    require_device();
    void *p = NULL;
    cudaError_t e = cudaMalloc(&p, bytes ? bytes : 1);
    if (e != cudaSuccess)
        fatal("out of device memory allocating %zu bytes for %s (%s)", bytes, what,
              cudaGetErrorString(e));
    return p;
}

void cuda_free(void *p) {
    if (p) cudaFree(p);
}

void cuda_upload(void *dst, const void *src, size_t bytes) {
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
    if (e != cudaSuccess) fatal("CUDA upload of %zu bytes: %s", bytes, cudaGetErrorString(e));
}

void cuda_download(void *dst, const void *src, size_t bytes) {
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    if (e != cudaSuccess) fatal("CUDA download of %zu bytes: %s", bytes, cudaGetErrorString(e));
}

void cuda_memset0(void *p, size_t bytes) {
    cudaError_t e = cudaMemset(p, 0, bytes);
    if (e != cudaSuccess) fatal("CUDA memset of %zu bytes: %s", bytes, cudaGetErrorString(e));
}

void *cuda_dup(const void *src, size_t bytes, const char *what) {
    void *p = cuda_alloc(bytes, what);
    if (bytes) cuda_upload(p, src, bytes);
    return p;
}

void cuda_sync(const char *what) {
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) fatal("CUDA %s: %s", what, cudaGetErrorString(e));
}

/* ---- cuBLAS ---- */

static cublasHandle_t blas_handle;

static cublasHandle_t handle(void) {
    if (!blas_handle) {
        require_device();
        if (cublasCreate(&blas_handle) != CUBLAS_STATUS_SUCCESS) fatal("cublasCreate failed");
        /* CUBLAS_DEFAULT_MATH: no TF32 tensor-core rounding of float32
         * inputs, so a float GEMM rounds like a float GEMM. */
        if (cublasSetMathMode(blas_handle, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS)
            fatal("cublasSetMathMode failed");
    }
    return blas_handle;
}

/* cuBLAS's column-major GEMM, strided-batched when batch > 1. */
void cu_gemm_colmajor(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a,
                      int lda, long long sa, const real *b, int ldb, long long sb, real beta,
                      real *c, int ldc, long long sc, int batch) {
    const cublasOperation_t oa = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t ob = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t st;
#ifdef ANOMALY_F64
    if (batch == 1)
        st = cublasDgemm(handle(), oa, ob, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
    else
        st = cublasDgemmStridedBatched(handle(), oa, ob, m, n, k, &alpha, a, lda, sa, b, ldb, sb,
                                       &beta, c, ldc, sc, batch);
#else
    if (batch == 1)
        st = cublasSgemm(handle(), oa, ob, m, n, k, &alpha, a, lda, b, ldb, &beta, c, ldc);
    else
        st = cublasSgemmStridedBatched(handle(), oa, ob, m, n, k, &alpha, a, lda, sa, b, ldb, sb,
                                       &beta, c, ldc, sc, batch);
#endif
    if (st != CUBLAS_STATUS_SUCCESS)
        fatal("cuBLAS GEMM %dx%dx%d failed (status %d)", m, n, k, (int)st);
}
