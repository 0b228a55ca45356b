/* gemm_ref, the exact mode's GEMM: every element is the plain k-ordered sum
 * (bit for bit, against a three-loop product written here), whatever the
 * transposes, the blocking edges and the thread count; close to OpenBLAS;
 * beta = 0 does not read C; and gemm() runs it in the exact mode. */
#include <omp.h>

#include "anomaly/blas.h"
#include "anomaly/exact.h"
#include "check.h"

/* The definition: acc over k = 0..K-1 in order, then alpha * acc + beta * C. */
static void plain_gemm(int ta, int tb, int M, int N, int K, real alpha, const real *A, int lda,
                       const real *B, int ldb, real beta, real *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            real acc = 0;
            for (int k = 0; k < K; k++) {
                const real a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                const real b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
            }
            real *c = &C[(size_t)i * ldc + j];
            *c = beta == 0 ? alpha * acc : alpha * acc + beta * *c;
        }
}

typedef struct Case {
    int M, N, K;
} Case;

/* Sizes around the tile edges (4 rows, 64 columns), a 1x1 convolution of a
 * late b0 stage (N = 4 positions), a long K (3x3 over 512 channels). */
static const Case cases[] = {{1, 1, 1},    {3, 5, 7},     {4, 64, 9},   {5, 65, 33}, {17, 130, 100},
                             {32, 4, 1152}, {96, 300, 27}, {7, 1, 4608}, {64, 129, 0}};

static void run_case(const Case *c, int ta, int tb, real alpha, real beta) {
    Rng r;
    rng_seed(&r, (uint64_t)(c->M * 131 + c->N * 7 + c->K + ta * 2 + tb));
    const int lda = (ta ? c->M : c->K) + 3, ldb = (tb ? c->K : c->N) + 2, ldc = c->N + 1;
    const size_t na = (size_t)(ta ? c->K : c->M) * lda + 1, nb = (size_t)(tb ? c->N : c->K) * ldb + 1;
    const size_t nc = (size_t)c->M * ldc;
    real *A = new_real(na), *B = new_real(nb), *C0 = new_real(nc), *C1 = new_real(nc);
    real *C2 = new_real(nc), *C3 = new_real(nc);
    fill_uniform(A, na, &r, -1, 1);
    fill_uniform(B, nb, &r, -1, 1);
    fill_uniform(C0, nc, &r, -1, 1);
    memcpy(C1, C0, nc * sizeof *C0);
    memcpy(C2, C0, nc * sizeof *C0);
    memcpy(C3, C0, nc * sizeof *C0);
    plain_gemm(ta, tb, c->M, c->N, c->K, alpha, A, lda, B, ldb, beta, C0, ldc);
    omp_set_num_threads(1);
    gemm_ref(ta, tb, c->M, c->N, c->K, alpha, A, lda, B, ldb, beta, C1, ldc);
    omp_set_num_threads(2);
    gemm_ref(ta, tb, c->M, c->N, c->K, alpha, A, lda, B, ldb, beta, C2, ldc);
    gemm(ta, tb, c->M, c->N, c->K, alpha, A, lda, B, ldb, beta, C3, ldc); /* OpenBLAS */
    char what[96];
    snprintf(what, sizeof what, "%dx%dx%d ta=%d tb=%d alpha=%g beta=%g", c->M, c->N, c->K, ta, tb,
             (double)alpha, (double)beta);
    CHECK_SAME_BITS(what, C0, C1, nc * sizeof *C0);
    CHECK_SAME_BITS(what, C1, C2, nc * sizeof *C0);
    /* OpenBLAS sums in another order: close, with a bound that grows with K. */
    CHECK_CLOSE(what, C3, C0, nc, TOL(2e-7, 4e-16) * (c->K + 4));
    free(A), free(B), free(C0), free(C1), free(C2), free(C3);
}

static void test_gemm_ref_is_the_ordered_sum(void) {
    const int saved = omp_get_max_threads();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int t = 0; t < 4; t++) {
            run_case(&cases[i], t & 1, t >> 1, 1, 0);
            run_case(&cases[i], t & 1, t >> 1, (real)0.5, 1);
            run_case(&cases[i], t & 1, t >> 1, (real)-1.25, (real)0.75);
        }
    omp_set_num_threads(saved);
}

/* beta = 0: C is written, not read (a NaN there must not survive), as BLAS. */
static void test_gemm_ref_beta_zero_ignores_c(void) {
    real A[6] = {1, 2, 3, 4, 5, 6}, B[6] = {1, 0, 0, 1, 1, 1}, C[4];
    for (int i = 0; i < 4; i++) C[i] = NAN;
    gemm_ref(0, 0, 2, 2, 3, 1, A, 3, B, 2, 0, C, 2);
    const real want[4] = {4, 5, 10, 11};
    CHECK_SAME_BITS("beta 0", C, want, sizeof C);
}

/* gemm() is gemm_ref in the exact mode, OpenBLAS otherwise. */
static void test_gemm_exact_mode_dispatch(void) {
    const Case c = {33, 70, 513};
    Rng r;
    rng_seed(&r, 9);
    real *A = new_real((size_t)c.M * c.K), *B = new_real((size_t)c.K * c.N);
    real *C0 = new_real((size_t)c.M * c.N), *C1 = new_real((size_t)c.M * c.N);
    fill_uniform(A, (size_t)c.M * c.K, &r, -1, 1);
    fill_uniform(B, (size_t)c.K * c.N, &r, -1, 1);
    gemm_ref(0, 0, c.M, c.N, c.K, 1, A, c.K, B, c.N, 0, C0, c.N);
    exact_mode_set(1);
    gemm(0, 0, c.M, c.N, c.K, 1, A, c.K, B, c.N, 0, C1, c.N);
    exact_mode_set(0);
    CHECK_SAME_BITS("gemm in the exact mode", C0, C1, (size_t)c.M * c.N * sizeof *C0);
    free(A), free(B), free(C0), free(C1);
}

int main(void) {
    RUN(test_gemm_ref_is_the_ordered_sum);
    RUN(test_gemm_ref_beta_zero_ignores_c);
    RUN(test_gemm_exact_mode_dispatch);
    CHECK_MAIN_END();
}
