/* Fold files: the real seed files, the restricted pickle, plain .npy,
 * writing, and the stratified split. */
#include "check.h"
#include "tmpdir.h"

#include <stdint.h>
#include <unistd.h>

#include "anomaly/folds.h"
#include "anomaly/rng.h"

/* A .npy v1.0 file: the header dict padded as NumPy pads it, then payload. */
static void write_npy(const char *path, const char *dict, const void *payload, size_t n) {
    size_t len = strlen(dict), total = len + 1;
    total += 64 - (10 + total) % 64;
    uint8_t *buf = calloc(10 + total + n, 1);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (uint8_t)(total & 0xff);
    buf[9] = (uint8_t)(total >> 8);
    memset(buf + 10, ' ', total);
    memcpy(buf + 10, dict, len);
    buf[10 + total - 1] = '\n';
    memcpy(buf + 10 + total, payload, n);
    write_bytes(path, buf, 10 + total + n);
    free(buf);
}

static const char *seed_dir(void) {
    static const char *dirs[] = {"/work/shared/seed/data", "../shared/seed/data"};
    for (size_t i = 0; i < 2; i++) {
        char p[256];
        snprintf(p, sizeof p, "%s/5-Fold_idx.npy", dirs[i]);
        if (access(p, R_OK) == 0) return dirs[i];
    }
    return NULL;
}

static void check_real(int k, size_t n_train, size_t n_val) {
    const char *dir = seed_dir();
    if (!dir) {
        check_skip("the original fold files are not here (/work/shared/seed/data or ../shared/seed/data)");
        return;
    }
    char path[256], err[512];
    snprintf(path, sizeof path, "%s/%d-Fold_idx.npy", dir, k);
    Folds f;
    int rc = folds_read(path, &f, err, sizeof err);
    CHECK(rc == 0, "read %s: %s", path, err);
    if (rc) return;
    CHECK(f.k == k, "k = %d", f.k);
    for (int j = 0; j < f.k; j++) {
        /* 4277 is not a multiple of K: some folds hold one sample less. */
        size_t t = f.folds[j].n_train, v = f.folds[j].n_val;
        CHECK((t == n_train && v == n_val) || (t == n_train + 1 && v == n_val - 1),
              "fold %d: %zu train, %zu val", j + 1, t, v);
        for (size_t i = 1; i < v; i++) CHECK(f.folds[j].val[i - 1] < f.folds[j].val[i], "val not sorted");
    }
    CHECK(f.folds[0].n_train == n_train && f.folds[0].n_val == n_val, "fold 1 sizes");
    rc = folds_validate(&f, 4277, err, sizeof err);
    CHECK(rc == 0, "validate: %s", err);
    /* NumPy wrote these files; writing them again must give the same bytes. */
    const char *out = tmp_path("again.npy");
    folds_write(out, &f);
    size_t na, nb;
    uint8_t *a = read_bytes(path, &na), *b = read_bytes(out, &nb);
    CHECK(a && b && na == nb && memcmp(a, b, na) == 0,
          "rewritten file differs from NumPy's (%zu vs %zu bytes)", na, nb);
    free(a);
    free(b);
    folds_free(&f);
}

static void test_real_5fold(void) { check_real(5, 3421, 856); }
static void test_real_10fold(void) { check_real(10, 3849, 428); }

static void make_small(Folds *f, size_t n, int k) {
    int *labels = malloc(n * sizeof *labels);
    for (size_t i = 0; i < n; i++) labels[i] = (int)(i * 7 % 3);
    folds_make_stratified(f, labels, n, k, 42);
    free(labels);
}

static void test_roundtrip(void) {
    Folds f, g;
    make_small(&f, 23, 3);
    const char *p = tmp_path("rt.npy");
    folds_write(p, &f);
    char err[512];
    int rc = folds_read(p, &g, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(g.k == f.k, "k %d vs %d", g.k, f.k);
    for (int j = 0; j < f.k && j < g.k; j++) {
        CHECK(g.folds[j].n_train == f.folds[j].n_train && g.folds[j].n_val == f.folds[j].n_val,
              "sizes of fold %d", j);
        CHECK(memcmp(g.folds[j].train, f.folds[j].train, f.folds[j].n_train * 8) == 0, "train of fold %d", j);
        CHECK(memcmp(g.folds[j].val, f.folds[j].val, f.folds[j].n_val * 8) == 0, "val of fold %d", j);
    }
    folds_free(&f);
    folds_free(&g);
}

static void expect_error(const char *path, const char *needle) {
    Folds f;
    char err[512] = "";
    int rc = folds_read(path, &f, err, sizeof err);
    CHECK(rc == -1, "%s was accepted", path);
    CHECK(strstr(err, needle) != NULL, "error '%s' does not mention '%s'", err, needle);
    CHECK(strstr(err, path) != NULL, "error '%s' does not name the file", err);
}

static void test_rejects_foreign_global(void) {
    /* What `pickle.dumps(os.system)` style payloads look like: a GLOBAL
     * naming os.system, called through REDUCE. */
    static const char evil[] = "\x80\x03"
                               "cos\nsystem\nq\x00"
                               "X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03.";
    const char *p = tmp_path("F.npy");
    write_npy(p, "{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }", evil, sizeof evil - 1);
    expect_error(p, "pickle global os.system is not allowed");
    /* builtins.eval, and an opcode the format never uses (INST 'i'). */
    static const char evil2[] = "\x80\x03"
                                "cbuiltins\neval\n)R.";
    write_npy(p, "{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }", evil2, sizeof evil2 - 1);
    expect_error(p, "pickle global builtins.eval is not allowed");
    static const char evil3[] = "\x80\x03(S'ls'\nios\nsystem\n.";
    write_npy(p, "{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }", evil3, sizeof evil3 - 1);
    expect_error(p, "is not allowed");
    static const char proto4[] = "\x80\x04\x95\x00.";
    write_npy(p, "{'descr': '|O', 'fortran_order': False, 'shape': (1, 2), }", proto4, sizeof proto4 - 1);
    expect_error(p, "protocol 4 is not supported");
}

static void test_rejects_truncated(void) {
    Folds f;
    make_small(&f, 20, 2);
    const char *p = tmp_path("full.npy"), *q = tmp_path("cut.npy");
    folds_write(p, &f);
    folds_free(&f);
    size_t n;
    uint8_t *d = read_bytes(p, &n);
    int accepted = 0;
    for (size_t cut = 0; cut < n; cut++) {
        write_bytes(q, d, cut);
        char err[512];
        Folds g;
        if (folds_read(q, &g, err, sizeof err) == 0) {
            accepted++;
            folds_free(&g);
        }
    }
    CHECK(accepted == 0, "%d truncated copies were accepted", accepted);
    write_bytes(q, d, n - 20);
    expect_error(q, "truncated");
    free(d);
}

/* Random byte changes must give an error or a well-formed result, never a
 * crash (run under AddressSanitizer too). */
static void test_survives_corruption(void) {
    Folds f;
    make_small(&f, 12, 3);
    const char *p = tmp_path("fz.npy");
    folds_write(p, &f);
    folds_free(&f);
    size_t n;
    uint8_t *d = read_bytes(p, &n), *m = malloc(n);
    Rng r;
    rng_seed(&r, 1);
    int rejected = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(m, d, n);
        int flips = 1 + (int)rng_below(&r, 4);
        for (int k = 0; k < flips; k++) m[128 + rng_below(&r, n - 128)] = (uint8_t)rng_u64(&r);
        write_bytes(p, m, n);
        Folds g;
        char err[512];
        if (folds_read(p, &g, err, sizeof err) == 0) {
            CHECK(g.k >= 1 && g.folds, "accepted without folds");
            folds_free(&g);
        } else {
            rejected++;
            CHECK(err[0] != 0, "no error message");
        }
    }
    CHECK(rejected > 1000, "only %d of 3000 corrupt copies were rejected", rejected);
    free(d);
    free(m);
}

static void test_plain_npy(void) {
    /* (K=2, 2, M=3) int64, C order */
    int64_t a[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    const char *p = tmp_path("plain.npy");
    write_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2, 3), }", a, sizeof a);
    Folds f;
    char err[512];
    int rc = folds_read(p, &f, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(f.k == 2 && f.folds[1].n_val == 3, "shape");
        CHECK(f.folds[0].train[2] == 2 && f.folds[0].val[0] == 3 && f.folds[1].val[2] == 11,
              "C order values");
        folds_free(&f);
    }
    /* the same array in Fortran order: element [k][j][m] at k + 2*(j + 2*m) */
    int64_t b[12];
    for (int k = 0; k < 2; k++)
        for (int j = 0; j < 2; j++)
            for (int m = 0; m < 3; m++) b[k + 2 * (j + 2 * m)] = a[(k * 2 + j) * 3 + m];
    write_npy(p, "{'descr': '<i8', 'fortran_order': True, 'shape': (2, 2, 3), }", b, sizeof b);
    rc = folds_read(p, &f, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(f.folds[0].train[2] == 2 && f.folds[0].val[0] == 3 && f.folds[1].val[2] == 11,
              "Fortran order values");
        folds_free(&f);
    }
    /* per-sample fold numbers, int32 */
    int32_t ids[7] = {0, 1, 2, 0, 1, 2, 0};
    write_npy(p, "{'descr': '<i4', 'fortran_order': False, 'shape': (7,), }", ids, sizeof ids);
    rc = folds_read(p, &f, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc == 0) {
        CHECK(f.k == 3 && f.folds[0].n_val == 3 && f.folds[0].n_train == 4, "fold sizes");
        CHECK(f.folds[0].val[1] == 3 && f.folds[2].train[0] == 0, "fold members");
        CHECK(folds_validate(&f, 7, err, sizeof err) == 0, "%s", err);
        folds_free(&f);
    }
}

static void test_rejects_other_files(void) {
    const char *p = tmp_path("bad.npy");
    float x[4] = {0};
    write_npy(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", x, sizeof x);
    expect_error(p, "dtype '<f4'");
    write_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2, 3), }", x, sizeof x);
    expect_error(p, "data bytes");
    write_npy(p, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2 3), }", x, sizeof x);
    expect_error(p, "malformed .npy header");
    write_bytes(p, "hello, world\n", 13);
    expect_error(p, "not a .npy file");
    expect_error(tmp_path("missing.npy"), "No such file");
}

static void test_validate_catches_problems(void) {
    Folds f;
    make_small(&f, 10, 2);
    char err[256];
    CHECK(folds_validate(&f, 10, err, sizeof err) == 0, "%s", err);
    CHECK(folds_validate(&f, 11, err, sizeof err) == -1, "11 samples not detected");
    int64_t saved = f.folds[1].val[0];
    f.folds[1].val[0] = f.folds[0].val[0];
    CHECK(folds_validate(&f, 10, err, sizeof err) == -1, "overlapping validation sets not detected");
    f.folds[1].val[0] = -1;
    CHECK(folds_validate(&f, 10, err, sizeof err) == -1 && strstr(err, "outside"), "negative index: %s", err);
    f.folds[1].val[0] = saved;
    folds_free(&f);
}

static void test_stratified(void) {
    size_t n = 1000;
    int k = 5, n_labels = 7;
    int *labels = malloc(n * sizeof *labels);
    Rng r;
    rng_seed(&r, 3);
    for (size_t i = 0; i < n; i++)
        labels[i] = rng_below(&r, 4) ? 0 : 1 + (int)rng_below(&r, (uint64_t)n_labels - 1);
    Folds f, g, h;
    folds_make_stratified(&f, labels, n, k, 42);
    folds_make_stratified(&g, labels, n, k, 42);
    folds_make_stratified(&h, labels, n, k, 43);
    char err[256];
    CHECK(folds_validate(&f, n, err, sizeof err) == 0, "%s", err);
    int same = 1, differ = 0;
    for (int j = 0; j < k; j++) {
        CHECK(f.folds[j].n_val == n / (size_t)k, "fold %d has %zu", j, f.folds[j].n_val);
        for (size_t i = 1; i < f.folds[j].n_train; i++)
            CHECK(f.folds[j].train[i - 1] < f.folds[j].train[i], "train not sorted");
        same &= f.folds[j].n_val == g.folds[j].n_val &&
                memcmp(f.folds[j].val, g.folds[j].val, f.folds[j].n_val * 8) == 0;
        differ |= f.folds[j].n_val != h.folds[j].n_val ||
                  memcmp(f.folds[j].val, h.folds[j].val, f.folds[j].n_val * 8) != 0;
    }
    CHECK(same, "the same seed gave different folds");
    CHECK(differ, "another seed gave the same folds");
    for (int lab = 0; lab < n_labels; lab++) {
        size_t lo = n, hi = 0;
        for (int j = 0; j < k; j++) {
            size_t c = 0;
            for (size_t i = 0; i < f.folds[j].n_val; i++) c += labels[f.folds[j].val[i]] == lab;
            if (c < lo) lo = c;
            if (c > hi) hi = c;
        }
        CHECK(hi - lo <= 1, "label %d: per-fold counts from %zu to %zu", lab, lo, hi);
    }
    folds_free(&f);
    folds_free(&g);
    folds_free(&h);
    free(labels);
}

int main(void) {
    tmpdir_create("folds");
    RUN(test_real_5fold);
    RUN(test_real_10fold);
    RUN(test_roundtrip);
    RUN(test_rejects_foreign_global);
    RUN(test_rejects_truncated);
    RUN(test_survives_corruption);
    RUN(test_plain_npy);
    RUN(test_rejects_other_files);
    RUN(test_validate_catches_problems);
    RUN(test_stratified);
    tmpdir_remove();
    CHECK_MAIN_END();
}
