/* The look-alike data set (SPEC sections 10 and 11): procedural pictures of
 * the 15 MVTec-AD classes and their 88 class-state labels, written in the
 * Dacon layout (SPEC section 1), and the writer of that layout, shared with
 * `anomaly import-idx`.
 *
 * Every image comes from its own random streams, keyed by (seed, image key):
 * stream 0 draws the scene (pose, lighting, texture phase), stream 1 the
 * defect, stream 2 the warp of a test image's second copy. So the data set is
 * the same bytes for the same flags whatever the thread count, and a good and
 * a defective image with the same key show the same scene. */
#ifndef ANOMALY_SYNTH_H
#define ANOMALY_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/image.h"
#include "anomaly/labels.h"

#define SYNTH_FULL_TRAIN 4277 /* the real train set */
#define SYNTH_FULL_TEST 2154  /* the real test set */
#define SYNTH_MIN_TRAIN (2 * MVTEC_N_LABELS)
#define SYNTH_DEFAULT_SIZE 128

/* ---- how many images of each label ---- */

/* Train images per label (mvtec_labels order) for n_train images in all.
 * At 4277 these are SPEC section 11's counts. Otherwise the counts are
 * scaled by largest remainders with a floor of 2: every label whose share
 * n_train * count / 4277 is below 2 gets 2, the shares of the others are
 * recomputed over what is left (repeated until no share falls below 2), each
 * of the others gets the whole part of its share, and the images still
 * missing go one each to the largest fractional parts (ties: the lower
 * label index). The counts sum to n_train. Returns 0, or -1 when n_train is
 * below SYNTH_MIN_TRAIN (176). */
int synth_train_counts(int n_train, int counts[MVTEC_N_LABELS]);
/* The same with n_defective of the n_train images defective: the defect
 * labels share n_defective, the good labels the rest, each group in the
 * real proportions with at least 2 per label. -1 when a group cannot give
 * every label 2. */
int synth_train_counts_mix(int n_train, int n_defective, int counts[MVTEC_N_LABELS]);

/* The test size that goes with n_train train images: 2154 scaled like the
 * train set, rounded to the nearest even number (2154 at 4277). */
int synth_default_test(int n_train);

/* Test images per label for n_test images in all. Each test image is shown
 * twice (as is, and slightly warped), so n_test must be even: n_test / 2
 * originals are shared out over the labels in proportion to their real test
 * counts (mvtec_test_count), by the same largest-remainder rule with a floor
 * of one original per label when there are at least 88 originals (else no
 * floor); every count is even. Returns 0, or -1 when n_test is odd or
 * negative. */
int synth_test_counts(int n_test, int counts[MVTEC_N_LABELS]);

/* ---- pictures ---- */

/* Renders an image of label `label` (index into mvtec_labels), side x side
 * pixels, from the streams keyed by (seed, key). Allocates img. Grid, screw
 * and zipper come out gray (R = G = B). */
void synth_render(Image *img, int label, int side, uint64_t seed, uint64_t key);

/* The second copy of a test image: a small rotation (within 6 degrees),
 * scale (0.95-1.05) and shift (within 3 %), drawn from stream 2 of
 * (seed, key), applied like albumentations' ShiftScaleRotate. Allocates out. */
void synth_warp(Image *out, const Image *in, uint64_t seed, uint64_t key);

/* A contact sheet: one image of every label in an 11 x 8 grid, the images
 * of one class sharing a scene, each tile labelled with its class and state.
 * Allocates sheet. */
void synth_sheet(Image *sheet, int side, uint64_t seed);

/* ---- the data set ---- */

typedef struct SynthOptions {
    const char *out; /* the directory to create */
    int n_train;     /* SYNTH_FULL_TRAIN by default */
    int n_test;      /* negative: synth_default_test(n_train) */
    int size;        /* image side in pixels */
    uint64_t seed;
    int sheet; /* also write out/sheet.png */
    int force; /* replace a non-empty `out` */
    int quiet; /* no summary line */
    double defect_share; /* share of defective train images, in (0, 1); NAN: the real share */
} SynthOptions;

/* Writes the whole layout (see LayoutTables) with the images of the look-
 * alike set: train images in a seeded random label order, test originals
 * each written twice, the copies in a seeded random order. fatal() on error. */
void synth_write_dataset(const SynthOptions *opt);

/* ---- writing a data set in the Dacon layout ----
 *
 *   out/train/NNNNN.png, out/train/train_df.csv (index,file_name,class,state,label)
 *   out/test/NNNNN.png, out/test_df.csv (index,file_name)
 *   out/sample_submission.csv (index,label: every row the first label)
 *   out/test_answer.csv (index,label: the true labels, for scoring)
 *   out/5-Fold_idx.npy, out/10-Fold_idx.npy (stratified by label; written
 *   only when there are at least K train images)
 *
 * Train files are named 10000.png, 10001.png, ...; test files 20000.png, ...
 * (more digits when a set would overflow five). Everything is written into
 * the sibling directory out.tmp.<pid>, renamed to `out` only when complete,
 * so an interrupted run never leaves anything that looks like a data set
 * (the temporary directory may stay behind; remove it). */
typedef struct LayoutWriter {
    char *out, *tmp;
    int digits; /* of the file numbers */
    int force;
} LayoutWriter;

/* Checks `out` (missing or an empty directory; a non-empty one only with
 * force) and creates the temporary tree. fatal() on error. */
void layout_begin(LayoutWriter *w, const char *out, int force, size_t n_train, size_t n_test);
/* The file name of train (test = 0) or test (test = 1) image i. */
void layout_file_name(const LayoutWriter *w, int test, size_t i, char *buf, size_t len);
/* The path at which to write that image now (inside the temporary tree). */
void layout_image_path(const LayoutWriter *w, int test, size_t i, char *buf, size_t len);
/* The path of another file of the data set (e.g. "sheet.png"), inside the
 * temporary tree. */
void layout_path(const LayoutWriter *w, const char *name, char *buf, size_t len);

typedef struct LayoutTables {
    int n_labels;
    const char *const *cls;   /* [n_labels] class of each label, labels sorted */
    const char *const *state; /* [n_labels] state of each label */
    size_t n_train;
    const int *train_label;   /* [n_train] label of each train file, in file order */
    size_t n_test;
    const int *test_label;    /* [n_test] label of each test file */
    uint64_t fold_seed;
} LayoutTables;

/* Writes the CSV tables and the fold files into the temporary tree. */
void layout_write_tables(const LayoutWriter *w, const LayoutTables *t);
/* Renames the finished tree to `out` (moving a replaced one aside and then
 * removing it) and frees w. fatal() on error. */
void layout_commit(LayoutWriter *w);

#endif
