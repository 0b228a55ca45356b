/* The host side of `anomaly check-cuda`, which needs no GPU: the comparison
 * statistics, the tolerance rule, and the case table itself (every case
 * names a known op, every op has cases, every shape resolves, the shapes
 * print as the table says). */
#include "check.h"

#include "anomaly/cuda_check.h"
#include "anomaly/ops.h"

#include <string.h>

static void test_diff_stats_values(void) {
    real ref[4] = {1, -2, 4, 0}, got[4] = {1, -2.5, 4, 0.001f};
    DiffStats d;
    diff_stats(&d, ref, got, 4);
    CHECK(d.n == 4 && d.mismatch == 0 && d.nonfinite == 0, "counts %zu %zu %zu", d.n, d.mismatch,
          d.nonfinite);
    CHECK(fabs(d.max_abs - 0.5) < 1e-7, "max_abs %g", d.max_abs);
    /* relative: 0.5 / 2 at index 1; index 3 divides by the floor 1e-6 * 4 */
    CHECK(fabs(d.max_rel - 0.001f / 4e-6) < 1, "max_rel %g", d.max_rel);
    const double nmse = (0.25 + (double)0.001f * 0.001f) / 21.0;
    CHECK(fabs(d.nmse - nmse) < 1e-9, "nmse %g, expected %g", d.nmse, nmse);
    diff_stats(&d, ref, ref, 4);
    CHECK(d.max_abs == 0 && d.nmse == 0 && d.max_rel == 0, "identical arrays");
    real z[3] = {0, 0, 0}, nz[3] = {0, 1e-30f, 0};
    diff_stats(&d, z, z, 3);
    CHECK(d.nmse == 0, "zeros against zeros: nmse %g", d.nmse);
    diff_stats(&d, z, nz, 3);
    CHECK(isinf(d.nmse) && !diff_ok(&d, 1), "anything against zeros fails: nmse %g", d.nmse);
}

static void test_diff_stats_nonfinite(void) {
    real ref[5] = {NAN, INFINITY, -INFINITY, 1, 2};
    real same[5] = {NAN, INFINITY, -INFINITY, 1, 2};
    real swapped[5] = {NAN, -INFINITY, INFINITY, 1, 2};
    real finite[5] = {0, INFINITY, -INFINITY, 1, 2};
    real extra[5] = {NAN, INFINITY, -INFINITY, NAN, 2};
    DiffStats d;
    diff_stats(&d, ref, same, 5);
    CHECK(d.nonfinite == 3 && d.mismatch == 0 && d.nmse == 0 && diff_ok(&d, 0), "same specials");
    diff_stats(&d, ref, swapped, 5);
    CHECK(d.mismatch == 2 && !diff_ok(&d, 1), "swapped infinities: %zu", d.mismatch);
    diff_stats(&d, ref, finite, 5);
    CHECK(d.mismatch == 1 && !diff_ok(&d, 1), "a NaN lost: %zu", d.mismatch);
    diff_stats(&d, ref, extra, 5);
    CHECK(d.mismatch == 1 && !diff_ok(&d, 1), "a NaN made: %zu", d.mismatch);
}

static void test_tolerance_rule(void) {
    const double e = REAL_EPSILON;
    CHECK(fabs(diff_tolerance(4, 1) - 16 * e * e) < 1e-3 * 16 * e * e, "k 4, len 1");
    CHECK(fabs(diff_tolerance(4, 0) - 16 * e * e) < 1e-3 * 16 * e * e, "len 0 counts as 1");
    CHECK(fabs(diff_tolerance(4, 1000) / diff_tolerance(4, 10) - 100) < 1e-9, "scales with len");
#ifdef ANOMALY_F64
    CHECK(diff_tolerance(16, 1e6) < 1e-10, "double: at most 1e-10 for the largest reductions");
#else
    CHECK(diff_tolerance(4, 1) > 1e-14 && diff_tolerance(4, 1) < 1e-12, "float32 scale");
#endif
    /* a value off by one ulp among many passes, off by a part in 1e3 fails */
    enum { N = 1000 };
    real ref[N], got[N];
    for (int i = 0; i < N; i++) ref[i] = got[i] = (real)(1 + i % 7);
    got[5] = nextafter(ref[5], 10);
    DiffStats d;
    diff_stats(&d, ref, got, N);
    CHECK(diff_ok(&d, diff_tolerance(4, 1)), "one ulp: nmse %g", d.nmse);
    got[5] = ref[5] * (real)1.001;
    diff_stats(&d, ref, got, N);
    CHECK(!diff_ok(&d, diff_tolerance(4, 64)), "a part in 1e3: nmse %g", d.nmse);
    d.nmse = NAN;
    CHECK(!diff_ok(&d, 1), "a NaN nmse fails");
}

static void test_table_consistent(void) {
    char err[200];
    CHECK(cuda_case_count >= 60, "only %zu cases", cuda_case_count);
    for (size_t i = 0; i < cuda_op_count; i++) {
        int n = 0;
        for (size_t k = 0; k < cuda_case_count; k++) n += strcmp(cuda_cases[k].op, cuda_ops[i].name) == 0;
        CHECK(n >= 1, "op %s has no case", cuda_ops[i].name);
        CHECK(cuda_op_find(cuda_ops[i].name) == &cuda_ops[i], "lookup of %s", cuda_ops[i].name);
    }
    CHECK(cuda_op_find("no_such_op") == NULL, "an unknown op is found");
    for (size_t k = 0; k < cuda_case_count; k++) {
        const CudaCase *c = &cuda_cases[k];
        CHECK(cuda_op_find(c->op) != NULL, "case %zu: unknown op %s", k, c->op);
        CHECK(c->tol >= 1 && c->tol <= 64, "case %zu: tolerance factor %g", k, c->tol);
        const int *p = c->p;
        if (strcmp(c->op, "conv2d") == 0 || strcmp(c->op, "depthwise") == 0) {
            const int dw = c->op[0] == 'd';
            Conv2dShape s = {p[0], p[1], p[2], p[3], dw ? p[1] : p[4], dw ? p[4] : p[5],
                             dw ? p[4] : p[5], dw ? p[5] : p[6], dw ? p[5] : p[6], dw ? 1 : p[12],
                             dw ? 1 : p[12], dw ? p[6] : p[7], dw ? p[7] : p[8], dw ? p[8] : p[9],
                             dw ? p[9] : p[10], dw ? p[1] : p[11], 0, 0};
            CHECK(conv2d_shape_resolve(&s, err, sizeof err) == 0, "case %zu: %s", k, err);
        }
        if (strstr(c->op, "pool2d")) {
            Pool2dShape s = {p[0], p[1], p[2], p[3], p[4], p[4], p[5], p[5], p[6], p[6], p[7], 0, 0, 0};
            CHECK(pool2d_shape_resolve(&s, err, sizeof err) == 0, "case %zu: %s", k, err);
        }
        if (strncmp(c->op, "b", 1) == 0) /* BatchNorm: training needs two values a channel */
            CHECK((long)p[0] * p[2] >= 2, "case %zu: n * hw = %ld", k, (long)p[0] * p[2]);
    }
}

static void test_case_shape_text(void) {
    char buf[160];
    const CudaCase *grouped = NULL;
    for (size_t k = 0; k < cuda_case_count; k++)
        if (strcmp(cuda_cases[k].op, "conv2d") == 0 && strstr(cuda_cases[k].note, "grouped"))
            grouped = &cuda_cases[k];
    CHECK(grouped != NULL, "no grouped convolution case");
    if (!grouped) return;
    cuda_case_shape(grouped, buf, sizeof buf);
    CHECK(strstr(buf, " g32 ") != NULL && strstr(buf, "(resnext") != NULL, "shape text: %s", buf);
    const CudaCase odd = {"linear", {3, 17, 5, 0}, 4, ""};
    cuda_case_shape(&odd, buf, sizeof buf);
    CHECK(strcmp(buf, "n3 in17 out5 bias0") == 0, "shape text: '%s'", buf);
}

int main(void) {
    RUN(test_diff_stats_values);
    RUN(test_diff_stats_nonfinite);
    RUN(test_tolerance_rule);
    RUN(test_table_consistent);
    RUN(test_case_shape_text);
    CHECK_MAIN_END();
}
