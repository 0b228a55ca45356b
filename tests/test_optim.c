/* Optimizers and gradient clipping against PyTorch 1.13 (fixtures written by
 * tools/make_optim_fixtures.py into tests/fixtures/optim/), hand-computed
 * steps, and thread-count independence. */
#include "check.h"

#include <omp.h>
#include <stdint.h>

#include "anomaly/ops/optim.h"
#include "anomaly/rng.h"

#define FIXTURE_DIR "tests/fixtures/optim/"
#define MAX_N 64

#ifdef ANOMALY_F64
#define REF "f64"
#else
#define REF "f32"
#endif

/* Reads the line `key v0 v1 ...` of a fixture into out[n]; 0 when the file or
 * the key is missing or the line is short. */
static int fixture_read(const char *file, const char *key, double *out, int n) {
    char path[256];
    snprintf(path, sizeof path, FIXTURE_DIR "%s", file);
    FILE *f = fopen(path, "r");
    if (!f) {
        printf("  cannot open %s (run the test from the repository root)\n", path);
        return 0;
    }
    char *line = NULL;
    size_t cap = 0;
    size_t klen = strlen(key);
    int got = 0;
    while (getline(&line, &cap, f) > 0) {
        if (strncmp(line, key, klen) != 0 || line[klen] != ' ') continue;
        char *p = line + klen, *end;
        for (got = 0; got < n; got++, p = end) {
            out[got] = strtod(p, &end);
            if (end == p) break;
        }
        break;
    }
    free(line);
    fclose(f);
    if (got != n) printf("  %s: key %s has %d of %d values\n", path, key, got, n);
    return got == n;
}

static void to_real(real *dst, const double *src, int n) {
    for (int i = 0; i < n; i++) dst[i] = (real)src[i];
}

/* Elementwise: |got - ref| <= tol * max(|ref|, floor). */
static int close_each(const char *what, const real *got, const double *ref, int n, double tol,
                      double floor_) {
    for (int i = 0; i < n; i++) {
        double scale = fabs(ref[i]) > floor_ ? fabs(ref[i]) : floor_;
        if (!(fabs(got[i] - ref[i]) <= tol * scale)) {
            CHECK(0, "%s[%d]: got %.9g, ref %.9g (rel err %.3g, tol %.1g)", what, i, (double)got[i],
                  ref[i], fabs(got[i] - ref[i]) / scale, tol);
            return 0;
        }
    }
    return 1;
}

/* check_close of real results against double references. */
static int close_rd(const char *file, int line, const char *what, const real *got,
                    const double *ref, size_t n, double tol) {
    double g[MAX_N];
    for (size_t i = 0; i < n; i++) g[i] = got[i];
    return check_close_impl(file, line, what, g, ref, n, tol);
}
#define CHECK_CLOSE_RD(what, got, ref, n, tol) close_rd(__FILE__, __LINE__, what, got, ref, n, tol)

typedef enum { OPT_ADAM, OPT_SGD } OptKind;

/* Replays a fixture's gradient sequence and compares every step's params,
 * both elementwise and as the change from the start (the change is what a
 * small learning rate makes hard to see in the params themselves). */
static void run_fixture(const char *file, OptKind kind, const void *cfg) {
    double init[MAX_N], ref[MAX_N], tmp[MAX_N], n_d, steps_d;
    if (!fixture_read(file, "n", &n_d, 1) || !fixture_read(file, "steps", &steps_d, 1) ||
        !fixture_read(file, "init", init, (int)n_d)) {
        CHECK(0, "fixture %s unreadable", file);
        return;
    }
    int n = (int)n_d, steps = (int)steps_d;
    real p[MAX_N], g[MAX_N], m[MAX_N] = {0}, v[MAX_N] = {0};
    to_real(p, init, n);
    int same_bits = 0;
    for (int t = 1; t <= steps; t++) {
        char key[32];
        snprintf(key, sizeof key, "grad%d", t);
        CHECK(fixture_read(file, key, tmp, n), "missing %s", key);
        to_real(g, tmp, n);
        if (kind == OPT_ADAM) adam_update(p, g, m, v, (size_t)n, cfg, t);
        else sgd_update(p, g, m, (size_t)n, cfg, t);
        snprintf(key, sizeof key, REF "_step%d", t);
        CHECK(fixture_read(file, key, ref, n), "missing %s", key);
        char what[64];
        snprintf(what, sizeof what, "%s step %d params", file, t);
        close_each(what, p, ref, n, TOL(1e-6, 1e-12), 1e-3);
        double dgot[MAX_N], dref[MAX_N];
        for (int i = 0; i < n; i++) {
            dgot[i] = (double)p[i] - init[i];
            dref[i] = ref[i] - init[i];
            same_bits += (real)ref[i] == p[i];
        }
        snprintf(what, sizeof what, "%s step %d change", file, t);
        CHECK_CLOSE_D(what, dgot, dref, (size_t)n, TOL(1e-2, 1e-9));
    }
    /* The update replays PyTorch's roundings op by op, so on IEEE hardware
     * the sequences agree to the bit; a difference means the order changed. */
    CHECK(same_bits == n * steps, "%s: only %d of %d values bit-identical to PyTorch " REF, file,
          same_bits, n * steps);
}

static const AdamConfig ADAM_SMALL = {5e-5, 0.9, 0.999, 1e-8, 1e-4};
static const AdamConfig ADAM_LARGE = {1e-2, 0.9, 0.999, 1e-8, 1e-4};
static const SgdConfig SGD_CFG = {1e-2, 0.9, 5e-4};

static void test_adam_lr5e_05_matches_torch(void) { run_fixture("adam_lr5e-05.txt", OPT_ADAM, &ADAM_SMALL); }
static void test_adam_lr1e_02_matches_torch(void) { run_fixture("adam_lr1e-02.txt", OPT_ADAM, &ADAM_LARGE); }
static void test_sgd_matches_torch(void) { run_fixture("sgd_lr1e-02.txt", OPT_SGD, &SGD_CFG); }

/* Two clip cases: max_norm 2 scales the gradients, max_norm 100 leaves them
 * bit-for-bit alone; both return the norm before clipping. */
static void check_clip_case(const char *file) {
    double grad[MAX_N], ref[MAX_N], n_d, max_norm, norm_ref;
    if (!fixture_read(file, "n", &n_d, 1) || !fixture_read(file, "max_norm", &max_norm, 1) ||
        !fixture_read(file, "grad", grad, (int)n_d) ||
        !fixture_read(file, REF "_norm", &norm_ref, 1) ||
        !fixture_read(file, REF "_clipped", ref, (int)n_d)) {
        CHECK(0, "fixture %s unreadable", file);
        return;
    }
    int n = (int)n_d;
    real g[MAX_N], before[MAX_N];
    to_real(g, grad, n);
    memcpy(before, g, sizeof g);
    double norm = clip_grad_norm(g, (size_t)n, max_norm);
    CHECK(fabs(norm - norm_ref) <= TOL(1e-6, 1e-12) * norm_ref, "%s: norm %.9g, torch %.9g", file,
          norm, norm_ref);
    close_each(file, g, ref, n, TOL(1e-6, 1e-12), 1e-3);
    if (norm < max_norm) CHECK_SAME_BITS("gradients below max_norm", g, before, n * sizeof *g);
    else CHECK(memcmp(g, before, n * sizeof *g) != 0, "%s: gradients were not clipped", file);
}

static void test_clip_matches_torch(void) {
    check_clip_case("clip_2.txt");
    check_clip_case("clip_100.txt");
}

/* The 1e-6 in the coefficient matters for tiny norms: a norm of 1e-6 with
 * max_norm 1e-6 halves the gradients. A NaN norm makes every gradient NaN,
 * as clamp(NaN, max=1) does in PyTorch. */
static void test_clip_by_hand(void) {
    real g[2] = {(real)6e-7, (real)8e-7};
    double norm = clip_grad_norm(g, 2, 1e-6);
    double want[2] = {3e-7, 4e-7};
    CHECK(fabs(norm - 1e-6) < 1e-12, "norm %.9g, want 1e-6", norm);
    CHECK_CLOSE_RD("clip near the epsilon", g, want, 2, TOL(1e-6, 1e-12));
    real h[3] = {1, (real)NAN, 2};
    norm = clip_grad_norm(h, 3, 2.0);
    CHECK(isnan(norm) && isnan(h[0]) && isnan(h[2]), "a NaN norm must spread to every gradient");
}

static void fill_normal(real *x, size_t n, uint64_t seed, double scale) {
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (real)(scale * rng_normal(&r));
}

/* A few million gradients (hundreds of norm chunks): the norm and the clip
 * must not depend on how many threads summed the chunks. */
static void test_norm_same_for_1_and_2_threads(void) {
    const size_t n = 3000017;
    real *g = malloc(n * sizeof *g), *g1 = malloc(n * sizeof *g), *g2 = malloc(n * sizeof *g);
    fill_normal(g, n, 11, 1e-3);
    long double exact = 0;
    for (size_t i = 0; i < n; i++) exact += (long double)g[i] * g[i];
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    double n1 = grad_global_norm(g, n);
    memcpy(g1, g, n * sizeof *g);
    clip_grad_norm(g1, n, 0.5);
    omp_set_num_threads(2);
    double n2 = grad_global_norm(g, n);
    memcpy(g2, g, n * sizeof *g);
    clip_grad_norm(g2, n, 0.5);
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("norm, 1 vs 2 threads", &n1, &n2, sizeof n1);
    CHECK_SAME_BITS("clipped gradients, 1 vs 2 threads", g1, g2, n * sizeof *g1);
    double want = sqrt((double)exact);
    CHECK(fabs(n1 - want) <= 1e-12 * want, "norm %.17g, long double sum gives %.17g", n1, want);
    CHECK(n1 > 0.5, "test needs a norm above max_norm (got %g)", n1);
    free(g);
    free(g1);
    free(g2);
}

static void test_updates_same_for_1_and_2_threads(void) {
    const size_t n = 200003;
    real *p[2], *m[2], *v[2], *g = malloc(n * sizeof *g);
    for (int k = 0; k < 2; k++) {
        p[k] = malloc(n * sizeof(real));
        m[k] = calloc(n, sizeof(real));
        v[k] = calloc(n, sizeof(real));
        fill_normal(p[k], n, 3, 1.0);
    }
    int saved = omp_get_max_threads();
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k + 1);
        for (long t = 1; t <= 3; t++) {
            fill_normal(g, n, 100 + (uint64_t)t, 0.1);
            adam_update(p[k], g, m[k], v[k], n, &ADAM_LARGE, t);
            sgd_update(p[k], g, m[k], n, &SGD_CFG, t + 1);
        }
    }
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("params, 1 vs 2 threads", p[0], p[1], n * sizeof(real));
    CHECK_SAME_BITS("Adam v, 1 vs 2 threads", v[0], v[1], n * sizeof(real));
    for (int k = 0; k < 2; k++) {
        free(p[k]);
        free(m[k]);
        free(v[k]);
    }
    free(g);
}

/* The fused clip + Adam pass must give the bits of clip_grad_norm then
 * adam_update (params, moments, the clipped gradients, the norm): clipping
 * applied, not needed, and off, at 1 and 2 threads, on a length that leaves
 * a partial vector at the end. */
static void test_clip_adam_is_clip_then_adam(void) {
    const size_t n = 200003;
    const double limits[3] = {0.5, 1e9, 0};
    real *a[4], *b[4], *g = malloc(n * sizeof *g);
    int saved = omp_get_max_threads();
    for (int L = 0; L < 3; L++)
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            for (int k = 0; k < 4; k++) {
                a[k] = calloc(n, sizeof(real));
                b[k] = calloc(n, sizeof(real));
            }
            fill_normal(a[0], n, 3, 1.0);
            memcpy(b[0], a[0], n * sizeof(real));
            int same = 1;
            for (long t = 1; t <= 3; t++) {
                fill_normal(g, n, 200 + (uint64_t)t, 0.01);
                memcpy(a[1], g, n * sizeof *g);
                memcpy(b[1], g, n * sizeof *g);
                const double na = limits[L] > 0 ? clip_grad_norm(a[1], n, limits[L])
                                                : grad_global_norm(a[1], n);
                adam_update(a[0], a[1], a[2], a[3], n, &ADAM_LARGE, t);
                const double nb = clip_adam_update(b[0], b[1], b[2], b[3], n, &ADAM_LARGE, t,
                                                   limits[L]);
                same &= na == nb;
                for (int k = 0; k < 4; k++) same &= memcmp(a[k], b[k], n * sizeof(real)) == 0;
            }
            CHECK(same, "clip_adam_update differs from clip_grad_norm + adam_update "
                  "(max_norm %g, %d threads)", limits[L], threads);
            if (L == 0) CHECK(memcmp(b[1], g, n * sizeof *g) != 0, "the gradients were not clipped");
            for (int k = 0; k < 4; k++) {
                free(a[k]);
                free(b[k]);
            }
        }
    omp_set_num_threads(saved);
    free(g);
}

/* Without weight decay Adam's first step is -lr * g / (|g| + eps): the bias
 * corrections undo the moments' (1 - beta) factors exactly. */
static void test_adam_first_step_by_hand(void) {
    AdamConfig cfg = {1e-3, 0.9, 0.999, 1e-8, 0};
    real p[4] = {0, 0, 0, 0}, g[4] = {0.5f, -2.0f, 1e-9f, 0}, m[4] = {0}, v[4] = {0};
    adam_update(p, g, m, v, 4, &cfg, 1);
    double want[4];
    for (int i = 0; i < 4; i++) want[i] = -1e-3 * g[i] / (fabs(g[i]) + 1e-8);
    CHECK_CLOSE_RD("first Adam step", p, want, 4, TOL(1e-6, 1e-12));
    CHECK(p[3] == 0 && m[3] == 0 && v[3] == 0, "a zero gradient without decay must not move");
}

/* Two steps of SGD with momentum and weight decay, then momentum 0 (no
 * buffer at all), against the formulas in double. */
static void test_sgd_by_hand(void) {
    real p[2] = {1.0f, -0.5f}, buf[2] = {7, 7}, g1[2] = {0.25f, 0.125f}, g2[2] = {-0.5f, 0.75f};
    SgdConfig cfg = {0.1, 0.9, 0.01};
    double q[2] = {1.0, -0.5}, b[2];
    sgd_update(p, g1, buf, 2, &cfg, 1);
    for (int i = 0; i < 2; i++) {
        b[i] = g1[i] + 0.01 * q[i]; /* the first step starts the buffer at the gradient */
        q[i] -= 0.1 * b[i];
    }
    sgd_update(p, g2, buf, 2, &cfg, 2);
    for (int i = 0; i < 2; i++) {
        b[i] = 0.9 * b[i] + g2[i] + 0.01 * q[i];
        q[i] -= 0.1 * b[i];
    }
    CHECK_CLOSE_RD("SGD momentum", p, q, 2, TOL(1e-6, 1e-14));
    CHECK_CLOSE_RD("SGD buffer", buf, b, 2, TOL(1e-6, 1e-14));
    SgdConfig plain = {0.1, 0, 0};
    real r[2] = {1.0f, -0.5f};
    sgd_update(r, g1, NULL, 2, &plain, 5);
    double want[2] = {1.0 - 0.025, -0.5 - 0.0125};
    CHECK_CLOSE_RD("SGD without momentum", r, want, 2, TOL(1e-7, 1e-15));
}

int main(void) {
    RUN(test_adam_lr5e_05_matches_torch);
    RUN(test_adam_lr1e_02_matches_torch);
    RUN(test_sgd_matches_torch);
    RUN(test_clip_matches_torch);
    RUN(test_clip_by_hand);
    RUN(test_norm_same_for_1_and_2_threads);
    RUN(test_updates_same_for_1_and_2_threads);
    RUN(test_clip_adam_is_clip_then_adam);
    RUN(test_adam_first_step_by_hand);
    RUN(test_sgd_by_hand);
    CHECK_MAIN_END();
}
