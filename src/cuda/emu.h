/* CPU emulation of the little of CUDA that src/cuda uses (make CUDA=emu):
 * force-included before every .cu file compiled as C++. Kernels run as
 * plain functions; each block's threads are fibers that switch at
 * __syncthreads() (emu_runtime.cpp), blocks run one after another, so a
 * function-static array is the block's shared memory. Blocks are smaller
 * than on the GPU (CU_THREADS 32), which only changes the order of the
 * fixed reduction trees. Not for speed: for testing the kernels' indexing
 * and arithmetic on machines without a GPU. */
#ifndef ANOMALY_SRC_CUDA_EMU_H
#define ANOMALY_SRC_CUDA_EMU_H

#include <functional>

#define ANOMALY_CUDA_EMU 1
#define CU_THREADS 32
#define __global__
#define __device__
#define __shared__ static

struct EmuDim {
    unsigned x, y, z;
};
extern EmuDim blockIdx, threadIdx, blockDim, gridDim;

void __syncthreads(void);

typedef int cudaError_t;
#define cudaSuccess 0
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline const char *cudaGetErrorString(cudaError_t) { return "emulated"; }

/* Runs fn once per thread of every block of a grid x block launch. */
void emu_run(unsigned grid, unsigned block, const std::function<void()> &fn);

template <typename F> struct EmuLaunch;
template <typename... P> struct EmuLaunch<void (*)(P...)> {
    void (*kernel)(P...);
    unsigned grid, block;
    void operator()(P... args) const {
        void (*k)(P...) = kernel;
        emu_run(grid, block, [&] { k(args...); });
    }
};

#define CU_LAUNCH(kernel, g, b) (EmuLaunch<decltype(&kernel)>{&kernel, (unsigned)(g), (unsigned)(b)})

#endif
