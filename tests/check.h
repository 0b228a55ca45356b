/* A tiny test harness. Each test_*.c builds into one executable whose main()
 * calls RUN(fn) for each test; every test prints exactly one line:
 *   ok <name>            passed
 *   FAIL <name>: ...     failed (details on the lines before)
 *   skip <name>: reason  not run, and why
 * The executable exits non-zero if anything failed. tests/run_tests.sh adds
 * the lines up across executables and both precisions. */
#ifndef ANOMALY_CHECK_H
#define ANOMALY_CHECK_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/real.h"
#include "anomaly/rng.h"

static int check_test_failed;  /* failures inside the running test */
static int check_total_failed; /* tests failed in this executable */
static const char *check_skip_reason;

/* n zeroed reals (at least one, so n = 0 is not NULL); free() them. */
static inline real *new_real(size_t n) { return calloc(n ? n : 1, sizeof(real)); }

/* a[i] ~ U(lo, hi) from r, in order. */
static inline void fill_uniform(real *a, size_t n, Rng *r, double lo, double hi) {
    for (size_t i = 0; i < n; i++) a[i] = (real)rng_range(r, lo, hi);
}

/* Tolerance by precision: TOL(float_tol, double_tol). */
#ifdef ANOMALY_F64
#define TOL(f32, f64) (f64)
#define PREC_NAME "f64"
#else
#define TOL(f32, f64) (f32)
#define PREC_NAME "f32"
#endif

static inline void check_fail(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    printf("  %s:%d: ", file, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    check_test_failed++;
}

#define CHECK(cond, ...)                                            \
    do {                                                            \
        if (!(cond)) check_fail(__FILE__, __LINE__, __VA_ARGS__);   \
    } while (0)

/* Marks the running test as skipped; the test should return right after. */
static inline void check_skip(const char *reason) { check_skip_reason = reason; }

/* Compares got with ref: passes when max|got - ref| <= tol * max(max|ref|, 1e-30)
 * (error relative to the largest reference value) and nothing is NaN/Inf.
 * On failure prints max abs and rel error, its index and values. */
static inline int check_close_impl(const char *file, int line, const char *what, const double *got,
                            const double *ref, size_t n, double tol) {
    double max_ref = 0, max_err = 0;
    size_t worst = 0, first_bad = n;
    for (size_t i = 0; i < n; i++) {
        if (fabs(ref[i]) > max_ref) max_ref = fabs(ref[i]);
        if (!isfinite(got[i]) || !isfinite(ref[i])) {
            if (first_bad == n) first_bad = i;
            continue;
        }
        double e = fabs(got[i] - ref[i]);
        if (e > max_err) { max_err = e; worst = i; }
    }
    double scale = max_ref > 1e-30 ? max_ref : 1e-30;
    if (first_bad != n) {
        check_fail(file, line, "%s: non-finite value at index %zu: got %.9g, ref %.9g", what,
                   first_bad, got[first_bad], ref[first_bad]);
        return 0;
    }
    if (max_err > tol * scale) {
        size_t first = 0;
        for (; first < n; first++)
            if (fabs(got[first] - ref[first]) > tol * scale) break;
        check_fail(file, line,
                   "%s: max abs err %.3g, rel %.3g (tol %.1g) at index %zu (got %.9g, ref %.9g); "
                   "first beyond tol at %zu (got %.9g, ref %.9g); n = %zu",
                   what, max_err, max_err / scale, tol, worst, got[worst], ref[worst], first,
                   first < n ? got[first] : 0.0, first < n ? ref[first] : 0.0, n);
        return 0;
    }
    return 1;
}

/* check_close over real arrays (converted to double for the comparison). */
static inline int check_close_real(const char *file, int line, const char *what, const real *got,
                            const real *ref, size_t n, double tol) {
    double *g = calloc(n ? n : 1, sizeof *g), *r = calloc(n ? n : 1, sizeof *r);
    for (size_t i = 0; i < n; i++) { g[i] = got[i]; r[i] = ref[i]; }
    int ok = check_close_impl(file, line, what, g, r, n, tol);
    free(g);
    free(r);
    return ok;
}

#define CHECK_CLOSE(what, got, ref, n, tol) \
    check_close_real(__FILE__, __LINE__, what, got, ref, n, tol)
#define CHECK_CLOSE_D(what, got, ref, n, tol) \
    check_close_impl(__FILE__, __LINE__, what, got, ref, n, tol)

/* Bitwise equality (determinism checks). */
#define CHECK_SAME_BITS(what, a, b, bytes)                                          \
    CHECK(memcmp((a), (b), (bytes)) == 0, "%s: results differ bitwise", what)

/* Test files: write_bytes aborts the executable when the file cannot be
 * written; read_bytes returns the whole file (NULL if it cannot be opened),
 * malloc'ed with one spare byte, its length in *n (0 if unopened). */
static inline void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n)) {
        printf("  cannot write %s\n", path);
        exit(1);
    }
    fclose(fp);
}

static inline uint8_t *read_bytes(const char *path, size_t *n) {
    *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *d = malloc((size_t)len + 1);
    *n = fread(d, 1, (size_t)len, fp);
    fclose(fp);
    return d;
}

#define RUN(fn)                                                         \
    do {                                                                \
        check_test_failed = 0;                                          \
        check_skip_reason = NULL;                                       \
        fn();                                                           \
        if (check_test_failed) {                                        \
            printf("FAIL %s: %d check(s) failed\n", #fn, check_test_failed); \
            check_total_failed++;                                       \
        } else if (check_skip_reason) {                                 \
            printf("skip %s: %s\n", #fn, check_skip_reason);            \
        } else {                                                        \
            printf("ok %s\n", #fn);                                     \
        }                                                               \
        fflush(stdout);                                                 \
    } while (0)

#define CHECK_MAIN_END() return check_total_failed ? 1 : 0

#endif
