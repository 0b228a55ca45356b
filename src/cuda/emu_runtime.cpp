/* The runtime of the CUDA emulation (make CUDA=emu, see emu.h): fibers for
 * a block's threads, host memory standing in for device memory, and a
 * column-major GEMM with cuBLAS's conventions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

#include "cuda_internal.cuh"

EmuDim blockIdx, threadIdx, blockDim, gridDim;

#define EMU_STACK (256 * 1024)

static ucontext_t sched_ctx;
static ucontext_t fibers[CU_THREADS];
static char *stacks[CU_THREADS];
static int finished[CU_THREADS];
static int current;
static const std::function<void()> *body;

/* Thrown by __syncthreads in a block run without fibers. */
struct NeedsFibers {};
static int direct; /* 1 while a block's threads run straight, one after another */

void __syncthreads(void) {
    if (direct) throw NeedsFibers();
    swapcontext(&fibers[current], &sched_ctx);
}

static void fiber_main(void) {
    (*body)();
    finished[current] = 1; /* returns to sched_ctx through uc_link */
}

/* Runs block b's threads one after another on this stack. Only kernels
 * without __syncthreads get through; a barrier throws before any thread
 * has written global memory (the reductions here only compute and fill
 * shared memory before their first barrier), and the block is run again
 * with fibers. */
static bool run_direct(unsigned block, const std::function<void()> &fn) {
    direct = 1;
    try {
        for (unsigned t = 0; t < block; t++) {
            current = (int)t;
            threadIdx = {t, 0, 0};
            fn();
        }
    } catch (NeedsFibers &) {
        direct = 0;
        return false;
    }
    direct = 0;
    return true;
}

static void run_fibers(unsigned block) {
    for (unsigned t = 0; t < block; t++) {
        if (!stacks[t]) stacks[t] = (char *)xmalloc(EMU_STACK, "an emulated thread's stack");
        getcontext(&fibers[t]);
        fibers[t].uc_stack.ss_sp = stacks[t];
        fibers[t].uc_stack.ss_size = EMU_STACK;
        fibers[t].uc_link = &sched_ctx;
        makecontext(&fibers[t], fiber_main, 0);
        finished[t] = 0;
    }
    /* every round runs each live thread up to its next barrier */
    for (unsigned live = block; live > 0;) {
        live = 0;
        for (unsigned t = 0; t < block; t++) {
            if (finished[t]) continue;
            current = (int)t;
            threadIdx = {t, 0, 0};
            swapcontext(&sched_ctx, &fibers[t]);
            live += !finished[t];
        }
    }
}

void emu_run(unsigned grid, unsigned block, const std::function<void()> &fn) {
    if (block < 1 || block > CU_THREADS) fatal("CUDA emulation: block of %u threads", block);
    body = &fn;
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    bool fibered = false; /* once a block met a barrier, all of this launch use fibers */
    for (unsigned b = 0; b < grid; b++) {
        blockIdx = {b, 0, 0};
        if (!fibered && run_direct(block, fn)) continue;
        fibered = true;
        run_fibers(block);
    }
}

/* ---- device memory: host memory ---- */

int cuda_device_ready(char *err, size_t errlen) {
    (void)err;
    (void)errlen;
    return 0;
}

void cuda_device_describe(char *buf, size_t len) {
    snprintf(buf, len, "CPU emulation of the CUDA kernels (make CUDA=emu, blocks of %d threads), "
                       "no GPU", CU_THREADS);
}

void *cuda_alloc(size_t bytes, const char *what) { return xmalloc(bytes ? bytes : 1, what); }
void cuda_free(void *p) { free(p); }
void cuda_upload(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }
void cuda_download(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }
void cuda_memset0(void *p, size_t bytes) { memset(p, 0, bytes); }

void *cuda_dup(const void *src, size_t bytes, const char *what) {
    void *p = cuda_alloc(bytes, what);
    if (bytes) memcpy(p, src, bytes);
    return p;
}

void cuda_sync(const char *what) { (void)what; }

/* ---- cuBLAS's GEMM: column-major, element (i, j) of X at X[i + j * ldx] ---- */

void cu_gemm_colmajor(int trans_a, int trans_b, int m, int n, int k, real alpha, const real *a,
                      int lda, long long sa, const real *b, int ldb, long long sb, real beta,
                      real *c, int ldc, long long sc, int batch) {
    if ((trans_a ? lda < k : lda < m) || (trans_b ? ldb < n : ldb < k) || ldc < m)
        fatal("CUDA emulation: GEMM %dx%dx%d with leading dimensions %d, %d, %d (cuBLAS would "
              "refuse them)", m, n, k, lda, ldb, ldc);
    for (int q = 0; q < batch; q++) {
        const real *A = a + q * sa, *B = b + q * sb;
        real *C = c + q * sc;
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                real s = 0;
                for (int p = 0; p < k; p++) {
                    const real x = trans_a ? A[p + (size_t)i * lda] : A[i + (size_t)p * lda];
                    const real y = trans_b ? B[j + (size_t)p * ldb] : B[p + (size_t)j * ldb];
                    s += x * y;
                }
                real *out = &C[i + (size_t)j * ldc];
                *out = beta == 0 ? alpha * s : alpha * s + beta * *out;
            }
    }
}
