/* The GEMM ceiling of this machine for `make bench`: single-threaded sgemm
 * (or dgemm) through the library's gemm(), as the kernels call it, on one
 * core and on T cores at once (one independent product per thread, as the
 * kernels run them). Built and run by tools/bench.sh; prints one line:
 *   gemm <size> <threads> <GFLOP/s on one core> <GFLOP/s on all threads> <core note>
 * blas_init() gives it the same OpenBLAS kernels as the anomaly binary. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "anomaly/blas.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Best of `reps` timings of one size^3 product per thread, in GFLOP/s
 * summed over the threads. */
static double run(int size, int threads, int reps) {
    double best = 0;
    real **a = malloc((size_t)threads * sizeof *a), **b = malloc((size_t)threads * sizeof *b);
    real **c = malloc((size_t)threads * sizeof *c);
    const size_t n = (size_t)size * size;
    for (int t = 0; t < threads; t++) {
        a[t] = malloc(n * sizeof(real));
        b[t] = malloc(n * sizeof(real));
        c[t] = malloc(n * sizeof(real));
        for (size_t i = 0; i < n; i++) {
            a[t][i] = (real)((i * 7 + (size_t)t) % 13) / 13;
            b[t][i] = (real)((i * 5 + 3) % 11) / 11;
        }
    }
    for (int r = 0; r < reps; r++) {
        const double t0 = now();
#pragma omp parallel num_threads(threads)
        {
            const int t = omp_get_thread_num();
            gemm(0, 0, size, size, size, 1, a[t], size, b[t], size, 0, c[t], size);
        }
        const double gf = 2.0 * size * size * (double)size * threads / (now() - t0) / 1e9;
        if (gf > best) best = gf;
    }
    for (int t = 0; t < threads; t++) {
        free(a[t]);
        free(b[t]);
        free(c[t]);
    }
    free(a);
    free(b);
    free(c);
    return best;
}

int main(int argc, char **argv) {
    blas_init();
    const int threads = argc > 1 ? atoi(argv[1]) : omp_get_max_threads();
    const int size = argc > 2 ? atoi(argv[2]) : 1024;
    run(size, 1, 1); /* warm-up */
    const double one = run(size, 1, 5), all = run(size, threads, 5);
    printf("gemm %d %d %.1f %.1f %s\n", size, threads, one, all, blas_core_note());
    return 0;
}
