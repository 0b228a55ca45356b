/* The look-alike data set and import-idx's ingredients: per-label counts,
 * rendering (determinism, every label, gray classes, visible defects), the
 * written layout read back, the bitmap font and the gzip decoder. */
#include "check.h"

#include <omp.h>
#include <stdint.h>
#include <unistd.h>

#include "anomaly/dataset.h"
#include "anomaly/folds.h"
#include "anomaly/inflate.h"
#include "anomaly/synth.h"

/* The font is internal to the generator; its lookup is checked here. */
const uint8_t *font_glyph(char c);

static int good_of(int label) {
    char name[64];
    snprintf(name, sizeof name, "%s-good", mvtec_labels[label].cls);
    return mvtec_label_index(name);
}

static void test_counts_full(void) {
    int c[MVTEC_N_LABELS], t[MVTEC_N_LABELS];
    CHECK(synth_train_counts(SYNTH_FULL_TRAIN, c) == 0, "4277 refused");
    CHECK(synth_default_test(SYNTH_FULL_TRAIN) == SYNTH_FULL_TEST, "default test %d", synth_default_test(4277));
    CHECK(synth_test_counts(SYNTH_FULL_TEST, t) == 0, "2154 refused");
    int sum = 0, sum_t = 0;
    for (int i = 0; i < MVTEC_N_LABELS; i++) {
        CHECK(c[i] == mvtec_labels[i].train, "%s-%s: %d train, SPEC says %d", mvtec_labels[i].cls,
              mvtec_labels[i].state, c[i], mvtec_labels[i].train);
        CHECK(t[i] == mvtec_test_count(&mvtec_labels[i]), "%s-%s: %d test, SPEC says %d", mvtec_labels[i].cls,
              mvtec_labels[i].state, t[i], mvtec_test_count(&mvtec_labels[i]));
        sum += c[i], sum_t += t[i];
    }
    CHECK(sum == 4277 && sum_t == 2154, "sums %d %d", sum, sum_t);
    /* spot checks straight from SPEC section 11 */
    CHECK(c[mvtec_label_index("wood-color")] == 4 && c[mvtec_label_index("hazelnut-good")] == 391,
          "wood-color %d, hazelnut-good %d", c[74], c[33]);
}

/* --defect_share: the two groups get exactly their totals, each label at
 * least 2, in the real proportions within its group (never more than its
 * share rounded up unless on the floor); impossible splits are refused. */
static void test_counts_mix(void) {
    static const int splits[][2] = {{600, 300}, {1000, 500}, {4277, 648}, {300, 270}, {176, 146}};
    int c[MVTEC_N_LABELS], real_counts[MVTEC_N_LABELS];
    synth_train_counts(SYNTH_FULL_TRAIN, real_counts);
    for (size_t k = 0; k < sizeof splits / sizeof splits[0]; k++) {
        const int n = splits[k][0], n_def = splits[k][1];
        CHECK(synth_train_counts_mix(n, n_def, c) == 0, "%d with %d defective refused", n, n_def);
        int sum_def = 0, sum_good = 0, w_def = 0, w_good = 0;
        for (int i = 0; i < MVTEC_N_LABELS; i++) {
            if (mvtec_label_is_good(&mvtec_labels[i])) w_good += mvtec_labels[i].train;
            else w_def += mvtec_labels[i].train;
        }
        for (int i = 0; i < MVTEC_N_LABELS; i++) {
            const int good = mvtec_label_is_good(&mvtec_labels[i]);
            if (good) sum_good += c[i];
            else sum_def += c[i];
            CHECK(c[i] >= 2, "%d/%d: label %d gets %d", n, n_def, i, c[i]);
            const double share = (double)(good ? n - n_def : n_def) * mvtec_labels[i].train /
                                 (good ? w_good : w_def);
            CHECK(c[i] <= (int)share + 1 || c[i] == 2, "%d/%d: label %d gets %d for a share of %.2f",
                  n, n_def, i, c[i], share);
        }
        CHECK(sum_def == n_def && sum_good == n - n_def, "%d/%d: %d defective, %d good", n, n_def,
              sum_def, sum_good);
        /* the real split gives the real counts */
        if (n == SYNTH_FULL_TRAIN)
            CHECK(memcmp(c, real_counts, sizeof c) == 0, "4277 with 648 defective: not SPEC's counts");
    }
    CHECK(synth_train_counts_mix(600, 145, c) == -1, "145 images for 73 defect labels accepted");
    CHECK(synth_train_counts_mix(600, 571, c) == -1, "29 images for 15 good labels accepted");
}

static void test_counts_scaled(void) {
    static const int sizes[] = {176, 177, 200, 300, 1000, 2138, 4276, 4278, 9000};
    int c[MVTEC_N_LABELS];
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int n = sizes[k], sum = 0;
        CHECK(synth_train_counts(n, c) == 0, "%d refused", n);
        for (int i = 0; i < MVTEC_N_LABELS; i++) {
            sum += c[i];
            CHECK(c[i] >= 2, "n %d: %s-%s gets %d", n, mvtec_labels[i].cls, mvtec_labels[i].state, c[i]);
            /* never more than its proportional share rounded up */
            double share = (double)n * mvtec_labels[i].train / SYNTH_FULL_TRAIN;
            CHECK(c[i] <= (int)share + 1 || c[i] == 2, "n %d: label %d gets %d for a share of %.2f", n, i, c[i], share);
        }
        CHECK(sum == n, "n %d: counts sum to %d", n, sum);
    }
    CHECK(synth_train_counts(175, c) == -1, "175 train images accepted");
    CHECK(synth_train_counts(0, c) == -1, "0 train images accepted");
    /* half the set: the rare labels keep their floor of 2 */
    synth_train_counts(2138, c);
    CHECK(c[mvtec_label_index("wood-color")] == 2, "wood-color at 2138: %d", c[74]);

    static const int tests[] = {0, 2, 100, 176, 1000, 2154, 5000};
    for (size_t k = 0; k < sizeof tests / sizeof tests[0]; k++) {
        int m = tests[k], sum = 0;
        CHECK(synth_test_counts(m, c) == 0, "test %d refused", m);
        for (int i = 0; i < MVTEC_N_LABELS; i++) {
            sum += c[i];
            CHECK(c[i] % 2 == 0, "test %d: odd count %d", m, c[i]);
            if (m >= 2 * MVTEC_N_LABELS) CHECK(c[i] >= 2, "test %d: label %d gets %d", m, i, c[i]);
        }
        CHECK(sum == m, "test %d: counts sum to %d", m, sum);
    }
    CHECK(synth_test_counts(101, c) == -1, "odd test size accepted");
    CHECK(synth_test_counts(-2, c) == -1, "negative test size accepted");
    CHECK(synth_default_test(300) % 2 == 0 && synth_default_test(300) == 152, "default test for 300: %d",
          synth_default_test(300));
}

static size_t img_bytes(const Image *a) { return (size_t)a->w * a->h * 3; }

static void test_render_deterministic(void) {
    Image a, b;
    for (int l = 0; l < MVTEC_N_LABELS; l += 7) {
        synth_render(&a, l, 64, 5, 17);
        synth_render(&b, l, 64, 5, 17);
        CHECK_SAME_BITS(mvtec_labels[l].cls, a.px, b.px, img_bytes(&a));
        image_free(&b);
        synth_render(&b, l, 64, 6, 17);
        CHECK(memcmp(a.px, b.px, img_bytes(&a)) != 0, "label %d: seeds 5 and 6 give the same image", l);
        image_free(&b);
        synth_render(&b, l, 64, 5, 18);
        CHECK(memcmp(a.px, b.px, img_bytes(&a)) != 0, "label %d: keys 17 and 18 give the same image", l);
        image_free(&b);
        image_free(&a);
    }
    /* the same images whatever the thread count */
    Image one[MVTEC_N_LABELS], two[MVTEC_N_LABELS];
    omp_set_num_threads(1);
#pragma omp parallel for schedule(dynamic, 1)
    for (int l = 0; l < MVTEC_N_LABELS; l++) synth_render(&one[l], l, 48, 9, (uint64_t)l);
    omp_set_num_threads(2);
#pragma omp parallel for schedule(dynamic, 1)
    for (int l = 0; l < MVTEC_N_LABELS; l++) synth_render(&two[l], l, 48, 9, (uint64_t)l);
    for (int l = 0; l < MVTEC_N_LABELS; l++) {
        CHECK_SAME_BITS("1 vs 2 threads", one[l].px, two[l].px, img_bytes(&one[l]));
        image_free(&one[l]);
        image_free(&two[l]);
    }
}

static void test_every_label_renders(void) {
    static const int sides[2] = {64, 128};
    for (int s = 0; s < 2; s++)
        for (int l = 0; l < MVTEC_N_LABELS; l++) {
            Image a;
            synth_render(&a, l, sides[s], 1, 3);
            CHECK(a.w == sides[s] && a.h == sides[s], "label %d: %dx%d", l, a.w, a.h);
            int lo = 255, hi = 0;
            for (size_t i = 0; i < img_bytes(&a); i++) {
                if (a.px[i] < lo) lo = a.px[i];
                if (a.px[i] > hi) hi = a.px[i];
            }
            CHECK(hi - lo > 60, "label %d at %d px: nearly flat (%d..%d)", l, sides[s], lo, hi);
            image_free(&a);
        }
}

static void test_gray_classes(void) {
    for (int l = 0; l < MVTEC_N_LABELS; l++) {
        int cls = mvtec_class_index(mvtec_labels[l].cls), colour = 0;
        for (int k = 0; k < 2; k++) {
            Image a;
            synth_render(&a, l, 64, 2, (uint64_t)k);
            for (size_t i = 0; i < img_bytes(&a); i += 3)
                if (a.px[i] != a.px[i + 1] || a.px[i] != a.px[i + 2]) colour++;
            image_free(&a);
        }
        if (mvtec_classes[cls].gray)
            CHECK(colour == 0, "%s-%s: %d coloured pixels", mvtec_labels[l].cls, mvtec_labels[l].state, colour);
        else
            CHECK(colour > 0, "%s-%s: no colour at all", mvtec_labels[l].cls, mvtec_labels[l].state);
    }
}

/* A defect must be visible: against the good image of the same scene, at
 * least `need` pixels change by 60 levels or more (summed over channels),
 * and the images differ nowhere else by much (the defect is local or a
 * change of the part, not a different scene). */
static void check_visible(int side, int need) {
    for (int l = 0; l < MVTEC_N_LABELS; l++) {
        if (mvtec_label_is_good(&mvtec_labels[l])) continue;
        int g = good_of(l);
        for (uint64_t key = 0; key < 4; key++) {
            Image a, b;
            synth_render(&a, l, side, 11, key);
            synth_render(&b, g, side, 11, key);
            int strong = 0, same = 0;
            double mean = 0;
            for (size_t i = 0; i < img_bytes(&a); i += 3) {
                int d = abs(a.px[i] - b.px[i]) + abs(a.px[i + 1] - b.px[i + 1]) + abs(a.px[i + 2] - b.px[i + 2]);
                strong += d >= 60;
                same += d == 0;
                mean += d;
            }
            mean /= (double)side * side * 3;
            CHECK(strong >= need && mean > 0.02, "%s-%s at %d px, key %llu: %d strongly changed pixels, mean %.3f",
                  mvtec_labels[l].cls, mvtec_labels[l].state, side, (unsigned long long)key, strong, mean);
            /* the scene itself (lighting, sensor noise, texture) is shared */
            CHECK(same >= side * side * 3 / 10, "%s-%s at %d px, key %llu: only %d of %d pixels unchanged",
                  mvtec_labels[l].cls, mvtec_labels[l].state, side, (unsigned long long)key, same, side * side);
            image_free(&a);
            image_free(&b);
        }
    }
}

static void test_defect_visible(void) {
    check_visible(128, 6);
    check_visible(64, 1);
}

static void test_warp(void) {
    Image a, w1, w2;
    synth_render(&a, mvtec_label_index("pill-good"), 64, 3, 1);
    synth_warp(&w1, &a, 3, 1);
    synth_warp(&w2, &a, 3, 1);
    CHECK(w1.w == 64 && w1.h == 64, "warped size %dx%d", w1.w, w1.h);
    CHECK_SAME_BITS("warp", w1.px, w2.px, img_bytes(&w1));
    double mean = 0;
    for (size_t i = 0; i < img_bytes(&a); i++) mean += abs(a.px[i] - w1.px[i]);
    mean /= img_bytes(&a);
    CHECK(mean > 0.5 && mean < 40, "warp changes the image by %.2f levels on average", mean);
    image_free(&a);
    image_free(&w1);
    image_free(&w2);
}

static void test_font(void) {
    const uint8_t *none = font_glyph('\1');
    for (int l = 0; l < MVTEC_N_LABELS; l++) {
        char label[64];
        snprintf(label, sizeof label, "%s-%s", mvtec_labels[l].cls, mvtec_labels[l].state);
        for (const char *c = label; *c; c++) CHECK(font_glyph(*c) != none, "no glyph for '%c'", *c);
    }
    for (char c = '0'; c <= '9'; c++) CHECK(font_glyph(c) != none, "no glyph for '%c'", c);
    CHECK(font_glyph('F') != none && font_glyph('g') != font_glyph('q'), "glyph table mixed up");
}

static char tmpdir[64];

static void test_write_dataset(void) {
    char out[256], err[512], path[512];
    snprintf(out, sizeof out, "%s/data", tmpdir);
    SynthOptions o = {out, 176, 20, 32, 7, 1, 0, 1, NAN};
    synth_write_dataset(&o);
    Dataset ds;
    int rc = dataset_open(out, &ds, err, sizeof err);
    CHECK(rc == 0, "dataset_open: %s", err);
    if (rc) return;
    CHECK(ds.n_train == 176 && ds.n_labels == 88 && ds.n_test == 20, "train %zu, labels %d, test %zu", ds.n_train,
          ds.n_labels, ds.n_test);
    int per_label[MVTEC_N_LABELS] = {0};
    for (size_t i = 0; i < ds.n_train; i++) {
        per_label[ds.train_label[i]]++;
        CHECK(strcmp(ds.labels[ds.train_label[i]], "") != 0, "empty label");
    }
    for (int l = 0; l < ds.n_labels; l++) {
        char want[64];
        snprintf(want, sizeof want, "%s-%s", mvtec_labels[l].cls, mvtec_labels[l].state);
        CHECK(strcmp(ds.labels[l], want) == 0, "label %d is %s, not %s", l, ds.labels[l], want);
        CHECK(per_label[l] == 2, "label %d: %d images", l, per_label[l]);
    }
    CHECK(strcmp(ds.train_file[0], "10000.png") == 0 && strcmp(ds.test_file[0], "20000.png") == 0,
          "file names %s %s", ds.train_file[0], ds.test_file[0]);
    Image img;
    rc = image_read(ds.train_path[5], &img, err, sizeof err);
    CHECK(rc == 0 && img.w == 32 && img.h == 32, "train image: %s", rc ? err : "wrong size");
    if (!rc) image_free(&img);
    for (int k = 5; k <= 10; k += 5) {
        Folds f;
        snprintf(path, sizeof path, "%s/%d-Fold_idx.npy", out, k);
        rc = folds_read(path, &f, err, sizeof err);
        CHECK(rc == 0, "%s", err);
        if (rc) continue;
        CHECK(f.k == k && folds_validate(&f, ds.n_train, err, sizeof err) == 0, "%d folds: %s", k, err);
        folds_free(&f);
    }
    snprintf(path, sizeof path, "%s/sheet.png", out);
    rc = image_read(path, &img, err, sizeof err);
    CHECK(rc == 0 && img.w > 11 * 32 && img.h > 8 * 32, "sheet: %s", rc ? err : "too small");
    if (!rc) image_free(&img);
    snprintf(path, sizeof path, "%s/data.tmp.%ld", tmpdir, (long)getpid());
    CHECK(access(path, F_OK) != 0, "the temporary directory %s is still there", path);
    dataset_free(&ds);
}

/* gzip files written by Python's gzip module (mtime 0): one stored block,
 * one fixed-Huffman block, one dynamic-Huffman block with back-references. */
static const uint8_t gz_stored[30] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x01, 0x07, 0x00, 0xf8, 0xff, 0x73,
    0x74, 0x6f, 0x72, 0x65, 0x64, 0x21, 0xa2, 0x65, 0xef, 0x09, 0x07, 0x00, 0x00, 0x00};
static const uint8_t gz_fixed[28] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57,
    0xc8, 0x40, 0x27, 0x01, 0xe3, 0x51, 0x3d, 0x8d, 0x17, 0x00, 0x00, 0x00};
static const uint8_t gz_dynamic[313] = {
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x8d, 0x54, 0xcb, 0x0e, 0x83, 0x30,
    0x0c, 0xbb, 0xe7, 0x2b, 0xf8, 0xb3, 0x09, 0x10, 0x87, 0x49, 0xbc, 0xc4, 0x98, 0xa6, 0xed, 0xeb,
    0x37, 0xa9, 0x2d, 0x60, 0xc7, 0xa9, 0x76, 0x21, 0x6a, 0xc8, 0xcb, 0x76, 0x5a, 0xb3, 0xcf, 0x7d,
    0x5d, 0x87, 0xad, 0x99, 0x86, 0xbd, 0x1d, 0x6f, 0xf3, 0x73, 0x6f, 0xba, 0x65, 0xdf, 0xc7, 0x81,
    0xcc, 0xf9, 0xfb, 0xd1, 0x6f, 0xc3, 0xab, 0xc9, 0x59, 0xd9, 0x24, 0x5f, 0x3b, 0x2f, 0x53, 0x3b,
    0xbe, 0xf3, 0x09, 0x7d, 0x39, 0x30, 0x57, 0x2b, 0xde, 0x62, 0xeb, 0x6e, 0x34, 0xd8, 0x85, 0xe7,
    0xea, 0xdb, 0xee, 0x17, 0x63, 0xd8, 0xce, 0x38, 0xea, 0x3c, 0x3b, 0xd8, 0x00, 0x4f, 0x62, 0x40,
    0x67, 0x6a, 0x98, 0x93, 0x23, 0x2e, 0xa9, 0x02, 0x0e, 0x69, 0xa9, 0xa0, 0x23, 0x3a, 0x47, 0x25,
    0x73, 0xba, 0x11, 0x1a, 0x23, 0xd3, 0xd4, 0x41, 0x07, 0xab, 0xa0, 0x2f, 0xe9, 0xae, 0x1d, 0x4b,
    0x63, 0x26, 0xb9, 0xe1, 0x71, 0xae, 0xdf, 0xdc, 0x42, 0x11, 0x96, 0x7c, 0xae, 0x86, 0x81, 0xa6,
    0xc9, 0xf0, 0x20, 0x48, 0x07, 0xc6, 0x48, 0xa7, 0x10, 0xb8, 0x42, 0x08, 0xcb, 0x51, 0x34, 0x3b,
    0xc4, 0xb3, 0x83, 0x11, 0x0e, 0x0d, 0x12, 0x88, 0x50, 0x98, 0x11, 0xa6, 0x32, 0x10, 0xcf, 0x4d,
    0x56, 0xc9, 0x50, 0x80, 0x8b, 0xf8, 0x48, 0xbc, 0xd2, 0x44, 0x72, 0x48, 0x37, 0x0a, 0x74, 0xfb,
    0x63, 0xe7, 0xea, 0xaa, 0x41, 0x86, 0x7a, 0x5f, 0xc4, 0x7c, 0x65, 0x2e, 0x6a, 0xae, 0x70, 0x85,
    0x2b, 0x4c, 0x3b, 0xec, 0x16, 0xcf, 0xed, 0x00, 0x52, 0x2a, 0x14, 0x88, 0xd6, 0xc5, 0xf5, 0x96,
    0x93, 0xd9, 0x95, 0x01, 0xe4, 0xd6, 0x3d, 0x0b, 0x7a, 0xdb, 0x88, 0x6e, 0x3a, 0x9a, 0xaf, 0xa6,
    0x05, 0xe1, 0xe2, 0xc1, 0x0a, 0xfa, 0x0b, 0x0b, 0x7a, 0xc9, 0x17, 0x42, 0x85, 0x54, 0x57, 0x25,
    0x62, 0xdf, 0xe2, 0xbb, 0xfb, 0xef, 0x93, 0x19, 0x51, 0x2c, 0xb7, 0x93, 0x71, 0xd8, 0x15, 0x01,
    0xc8, 0x79, 0x15, 0x84, 0x47, 0x01, 0xa8, 0x95, 0x47, 0x90, 0xba, 0xc5, 0xa4, 0x18, 0xee, 0xea,
    0x17, 0x88, 0xb3, 0x48, 0x58, 0xd0, 0x07, 0x00, 0x00};

/* The text gz_dynamic holds: words picked by a small LCG, 2000 bytes. */
static void dynamic_text(uint8_t *out, size_t n) {
    static const char *const words[7] = {"anomaly ", "bottle ", "cable ", "screw ", "zipper ", "metal_nut ", "\n"};
    uint32_t x = 12345;
    for (size_t at = 0; at < n;) {
        x = (x * 1103515245u + 12345u) & 0x7fffffffu;
        for (const char *w = words[(x >> 16) % 7]; *w && at < n; w++) out[at++] = (uint8_t)*w;
    }
}

static void test_inflate(void) {
    uint8_t *out, want[2000], bad[sizeof gz_dynamic];
    size_t n;
    char err[256];
    CHECK(gzip_decode(gz_stored, sizeof gz_stored, 1 << 20, &out, &n, err, sizeof err) == 0, "stored: %s", err);
    CHECK(n == 7 && memcmp(out, "stored!", 7) == 0, "stored block decoded wrong");
    free(out);
    CHECK(gzip_decode(gz_fixed, sizeof gz_fixed, 1 << 20, &out, &n, err, sizeof err) == 0, "fixed: %s", err);
    CHECK(n == 23 && memcmp(out, "hello hello hello hello", 23) == 0, "fixed block decoded wrong");
    free(out);
    dynamic_text(want, sizeof want);
    CHECK(gzip_decode(gz_dynamic, sizeof gz_dynamic, 1 << 20, &out, &n, err, sizeof err) == 0, "dynamic: %s", err);
    CHECK(n == sizeof want && memcmp(out, want, n) == 0, "dynamic block decoded wrong (%zu bytes)", n);
    free(out);
    CHECK(crc32_update(0, (const uint8_t *)"123456789", 9) == 0xCBF43926u, "CRC-32 check value");

    /* errors, never crashes: truncation, corruption, an output limit */
    for (size_t cut = 1; cut < sizeof gz_dynamic; cut += 13) {
        int rc = gzip_decode(gz_dynamic, cut, 1 << 20, &out, &n, err, sizeof err);
        CHECK(rc == -1, "truncated to %zu bytes: accepted", cut);
        if (!rc) free(out);
    }
    int caught = 0;
    for (size_t at = 10; at < sizeof gz_dynamic; at += 7) {
        memcpy(bad, gz_dynamic, sizeof bad);
        bad[at] ^= 0x24;
        int rc = gzip_decode(bad, sizeof bad, 1 << 20, &out, &n, err, sizeof err);
        caught += rc == -1;
        if (!rc) free(out);
    }
    CHECK(caught >= (int)((sizeof gz_dynamic - 10) / 7) - 1, "only %d corruptions caught", caught);
    CHECK(gzip_decode(gz_dynamic, sizeof gz_dynamic, 1000, &out, &n, err, sizeof err) == -1,
          "output limit ignored");
    uint8_t two[2 * sizeof gz_fixed];
    memcpy(two, gz_fixed, sizeof gz_fixed);
    memcpy(two + sizeof gz_fixed, gz_fixed, sizeof gz_fixed);
    CHECK(gzip_decode(two, sizeof two, 1 << 20, &out, &n, err, sizeof err) == 0 && n == 46, "two members: %s", err);
    if (n == 46) free(out);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anomaly_test_synth.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("FAIL test_synth: cannot create a temporary directory\n");
        return 1;
    }
    RUN(test_counts_full);
    RUN(test_counts_scaled);
    RUN(test_counts_mix);
    RUN(test_render_deterministic);
    RUN(test_every_label_renders);
    RUN(test_gray_classes);
    RUN(test_defect_visible);
    RUN(test_warp);
    RUN(test_font);
    RUN(test_write_dataset);
    RUN(test_inflate);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("  could not remove %s\n", tmpdir);
    CHECK_MAIN_END();
}
