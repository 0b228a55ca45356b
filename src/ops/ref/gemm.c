/* The reference GEMM: C = alpha * op(A) * op(B) + beta * C, row-major.
 *
 * Every element of C is one sum over k = 0, 1, ..., K-1 in that order,
 * started from zero, then scaled and added to beta * C (see blas.h). The
 * blocking below only decides which elements are computed together: a tile
 * of TILE_M rows by TILE_N columns keeps its TILE_M * TILE_N sums side by
 * side and adds the products of one k to all of them before the next k, so
 * each sum still sees its terms in k order. Tiles are independent, so the
 * threads that share them never change a bit.
 *
 * The inner loop runs across the columns of a tile: independent sums, which
 * the compiler may put in vector lanes without reordering any of them. No
 * multiply-add is fused (the library is built with -ffp-contract=off), so
 * every product is rounded before it is added, on every CPU. */
#include "anomaly/blas.h"

#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "anomaly/error.h"

#define TILE_M 4
#define TILE_N 64

/* op(B)[0:K, j0:j0+n] copied into packed[k * TILE_N + c]. */
static void pack_b(real *packed, int trans_b, const real *B, int ldb, int K, int j0, int n) {
    for (int k = 0; k < K; k++) {
        real *row = packed + (size_t)k * TILE_N;
        for (int c = 0; c < n; c++)
            row[c] = trans_b ? B[(size_t)(j0 + c) * ldb + k] : B[(size_t)k * ldb + j0 + c];
        for (int c = n; c < TILE_N; c++) row[c] = 0;
    }
}

/* op(A)[i0:i0+m, 0:K] copied into packed[k * TILE_M + r]. */
static void pack_a(real *packed, int trans_a, const real *A, int lda, int K, int i0, int m) {
    for (int k = 0; k < K; k++)
        for (int r = 0; r < TILE_M; r++)
            packed[(size_t)k * TILE_M + r] =
                r >= m ? 0 : trans_a ? A[(size_t)k * lda + i0 + r] : A[(size_t)(i0 + r) * lda + k];
}

/* The sums of one tile, in k order, then the write-back. Only the first
 * `width` (n rounded up to 16) packed columns are summed. */
static void tile(real *C, int ldc, const real *pa, const real *pb, int K, int i0, int m, int j0,
                 int n, real alpha, real beta) {
    real acc[TILE_M][TILE_N];
    const int width = (n + 15) / 16 * 16;
    memset(acc, 0, sizeof acc);
    for (int k = 0; k < K; k++) {
        const real *b = pb + (size_t)k * TILE_N;
        for (int r = 0; r < TILE_M; r++) {
            const real a = pa[(size_t)k * TILE_M + r];
            for (int c = 0; c < width; c++) acc[r][c] += a * b[c];
        }
    }
    for (int r = 0; r < m; r++) {
        real *out = C + (size_t)(i0 + r) * ldc + j0;
        for (int c = 0; c < n; c++)
            out[c] = beta == 0 ? alpha * acc[r][c] : alpha * acc[r][c] + beta * out[c];
    }
}

void gemm_ref(int trans_a, int trans_b, int M, int N, int K, real alpha,
              const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    const long col_blocks = (N + TILE_N - 1) / TILE_N, row_blocks = (M + TILE_M - 1) / TILE_M;
    const long tiles = col_blocks * row_blocks;
    const size_t kk = K > 0 ? (size_t)K : 1;
    const double flops = 2.0 * M * N * (double)K;
    /* Outside a parallel region, and when the product is worth it, the
     * threads take contiguous runs of tiles (column block major, so each
     * packs a column panel once per run); inside one (per image, per group)
     * it runs on the calling thread. */
#pragma omp parallel if (!omp_in_parallel() && flops > 1e6)
    {
        const long nt = omp_get_num_threads(), t = omp_get_thread_num();
        const long first = tiles * t / nt, last = tiles * (t + 1) / nt;
        real *pb = xmalloc(kk * TILE_N * sizeof *pb, "gemm_ref panel");
        real *pa = xmalloc(kk * TILE_M * sizeof *pa, "gemm_ref panel");
        long packed_jb = -1;
        for (long id = first; id < last; id++) {
            const long jb = id / row_blocks, ib = id % row_blocks;
            const int j0 = (int)jb * TILE_N, n = N - j0 < TILE_N ? N - j0 : TILE_N;
            const int i0 = (int)ib * TILE_M, m = M - i0 < TILE_M ? M - i0 : TILE_M;
            if (jb != packed_jb) {
                pack_b(pb, trans_b, B, ldb, K, j0, n);
                packed_jb = jb;
            }
            pack_a(pa, trans_a, A, lda, K, i0, m);
            tile(C, ldc, pa, pb, K, i0, m, j0, n, alpha, beta);
        }
        free(pa);
        free(pb);
    }
}
