/* Writing a data set in the Dacon layout (tables, folds, a temporary tree
 * renamed into place), and the look-alike set written through it. */
#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly/atomic_file.h"
#include "anomaly/csv.h"
#include "anomaly/error.h"
#include "anomaly/folds.h"
#include "anomaly/rng.h"
#include "anomaly/synth.h"

/* ---- directories ---- */

/* 1: a directory with entries; 0: an empty directory; -1: missing;
 * fatal() when it is something else. */
static int dir_state(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return -1;
        fatal("cannot look at %s: %s", path, strerror(errno));
    }
    if (!S_ISDIR(st.st_mode)) fatal("%s exists and is not a directory", path);
    DIR *d = opendir(path);
    if (!d) fatal("cannot read the directory %s: %s", path, strerror(errno));
    int full = 0;
    for (struct dirent *e; !full && (e = readdir(d));)
        full = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return full;
}

/* rm -r without following symbolic links. */
static void remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) fatal("cannot read the directory %s: %s", path, strerror(errno));
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            size_t n = strlen(path) + strlen(e->d_name) + 2;
            char *child = xmalloc(n, "a path");
            snprintf(child, n, "%s/%s", path, e->d_name);
            remove_tree(child);
            free(child);
        }
        closedir(d);
        if (rmdir(path) != 0) fatal("cannot remove %s: %s", path, strerror(errno));
    } else if (unlink(path) != 0) {
        fatal("cannot remove %s: %s", path, strerror(errno));
    }
}

static void make_dir(const char *path) {
    if (mkdir(path, 0777) != 0) fatal("cannot create the directory %s: %s", path, strerror(errno));
}

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = xmalloc(n, "a path");
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* ---- the layout ---- */

void layout_begin(LayoutWriter *w, const char *out, int force, size_t n_train, size_t n_test) {
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/') len--;
    if (len == 0) fatal("the output directory name is empty");
    w->out = xmalloc(len + 1, "a path");
    memcpy(w->out, out, len);
    w->out[len] = '\0';
    w->force = force;
    if (dir_state(w->out) == 1 && !force)
        fatal("%s exists and is not empty; choose another --out or pass --force to replace it", w->out);
    /* enough digits that train (1...) and test (2...) numbers keep one width */
    size_t most = n_train > n_test ? n_train : n_test, base = 10000;
    w->digits = 5;
    while (2 * base + most > 10 * base) base *= 10, w->digits++;
    size_t n = len + 32;
    w->tmp = xmalloc(n, "a path");
    snprintf(w->tmp, n, "%s.tmp.%ld", w->out, (long)getpid());
    remove_tree(w->tmp); /* a leftover of an earlier run with our pid */
    make_dir(w->tmp);
    atomic_dir_track(w->tmp); /* fatal() removes it */
    char *p = join(w->tmp, "train");
    make_dir(p);
    free(p);
    p = join(w->tmp, "test");
    make_dir(p);
    free(p);
}

void layout_file_name(const LayoutWriter *w, int test, size_t i, char *buf, size_t len) {
    unsigned long long base = test ? 2 : 1;
    for (int d = 1; d < w->digits; d++) base *= 10;
    snprintf(buf, len, "%llu.png", base + (unsigned long long)i);
}

void layout_image_path(const LayoutWriter *w, int test, size_t i, char *buf, size_t len) {
    char name[64];
    layout_file_name(w, test, i, name, sizeof name);
    snprintf(buf, len, "%s/%s/%s", w->tmp, test ? "test" : "train", name);
}

void layout_path(const LayoutWriter *w, const char *name, char *buf, size_t len) {
    snprintf(buf, len, "%s/%s", w->tmp, name);
}

static void write_answers(const LayoutWriter *w, const char *name, const LayoutTables *t, int truth) {
    static const char *const header[2] = {"index", "label"};
    char path[4096], idx[32], label[512];
    layout_path(w, name, path, sizeof path);
    CsvWriter cw;
    csv_writer_open(&cw, path, 2, header);
    for (size_t i = 0; i < t->n_test; i++) {
        int l = truth ? t->test_label[i] : 0;
        snprintf(idx, sizeof idx, "%zu", i);
        snprintf(label, sizeof label, "%s-%s", t->cls[l], t->state[l]);
        const char *row[2] = {idx, label};
        csv_writer_row(&cw, row);
    }
    csv_writer_commit(&cw);
}

void layout_write_tables(const LayoutWriter *w, const LayoutTables *t) {
    char path[4096], idx[32], file[64], label[512];
    CsvWriter cw;
    static const char *const train_header[5] = {"index", "file_name", "class", "state", "label"};
    layout_path(w, "train/train_df.csv", path, sizeof path);
    csv_writer_open(&cw, path, 5, train_header);
    for (size_t i = 0; i < t->n_train; i++) {
        int l = t->train_label[i];
        snprintf(idx, sizeof idx, "%zu", i);
        layout_file_name(w, 0, i, file, sizeof file);
        snprintf(label, sizeof label, "%s-%s", t->cls[l], t->state[l]);
        const char *row[5] = {idx, file, t->cls[l], t->state[l], label};
        csv_writer_row(&cw, row);
    }
    csv_writer_commit(&cw);

    static const char *const test_header[2] = {"index", "file_name"};
    layout_path(w, "test_df.csv", path, sizeof path);
    csv_writer_open(&cw, path, 2, test_header);
    for (size_t i = 0; i < t->n_test; i++) {
        snprintf(idx, sizeof idx, "%zu", i);
        layout_file_name(w, 1, i, file, sizeof file);
        const char *row[2] = {idx, file};
        csv_writer_row(&cw, row);
    }
    csv_writer_commit(&cw);
    write_answers(w, "sample_submission.csv", t, 0);
    write_answers(w, "test_answer.csv", t, 1);

    static const int ks[2] = {5, 10};
    for (int j = 0; j < 2; j++) {
        if (t->n_train < (size_t)ks[j]) {
            warn("%zu train images: no %d-Fold_idx.npy", t->n_train, ks[j]);
            continue;
        }
        Folds f;
        folds_make_stratified(&f, t->train_label, t->n_train, ks[j], t->fold_seed);
        snprintf(file, sizeof file, "%d-Fold_idx.npy", ks[j]);
        layout_path(w, file, path, sizeof path);
        folds_write(path, &f);
        folds_free(&f);
    }
}

void layout_commit(LayoutWriter *w) {
    int state = dir_state(w->out);
    char *old = NULL;
    if (state == 1) { /* only with force (checked at the start) */
        size_t n = strlen(w->out) + 32;
        old = xmalloc(n, "a path");
        snprintf(old, n, "%s.old.%ld", w->out, (long)getpid());
        if (rename(w->out, old) != 0) fatal("cannot move %s aside: %s", w->out, strerror(errno));
    } else if (state == 0 && rmdir(w->out) != 0) {
        fatal("cannot replace the empty directory %s: %s", w->out, strerror(errno));
    }
    if (rename(w->tmp, w->out) != 0) {
        const int e = errno;
        if (old && rename(old, w->out) != 0) /* the previous data set back in place */
            fatal("cannot rename %s to %s: %s; the previous data set is at %s", w->tmp, w->out, strerror(e), old);
        fatal("cannot rename %s to %s: %s", w->tmp, w->out, strerror(e));
    }
    atomic_dir_untrack();
    if (old) {
        remove_tree(old);
        free(old);
    }
    free(w->out);
    free(w->tmp);
    w->out = w->tmp = NULL;
}

/* ---- the look-alike set ---- */

static void shuffle(int *a, size_t n, Rng *r) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        int t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

#define TEST_KEY (1ULL << 32) /* test originals' stream keys, apart from train's */
#define SYNTH_BLOCK 64

/* Writes (and frees) the images of the block starting at image `first`;
 * images below n_train are train images, the rest test images. */
static void write_block(const LayoutWriter *w, Image *imgs, long first, long total, long n_train) {
    char path[4096];
    for (long i = first; i < first + SYNTH_BLOCK && i < total; i++) {
        int test = i >= n_train;
        layout_image_path(w, test, (size_t)(test ? i - n_train : i), path, sizeof path);
        image_write_png(path, &imgs[i - first]);
        image_free(&imgs[i - first]);
    }
}

void synth_write_dataset(const SynthOptions *o) {
    int train_counts[MVTEC_N_LABELS], test_counts[MVTEC_N_LABELS];
    if (o->size < 16 || o->size > 4096) fatal("synth: --size must be between 16 and 4096, not %d", o->size);
    if (synth_train_counts(o->n_train, train_counts) != 0)
        fatal("synth: --train must be at least %d (two images of each of the 88 labels), not %d",
              SYNTH_MIN_TRAIN, o->n_train);
    if (!isnan(o->defect_share)) {
        if (!(o->defect_share > 0 && o->defect_share < 1))
            fatal("synth: --defect_share must be between 0 and 1 (exclusive), not %g",
                  o->defect_share);
        const int n_def = (int)floor(o->defect_share * o->n_train + 0.5);
        if (synth_train_counts_mix(o->n_train, n_def, train_counts) != 0)
            fatal("synth: --defect_share %g of %d train images leaves %d defective and %d good "
                  "images: need at least 2 per defect label (146) and 2 per good label (30)",
                  o->defect_share, o->n_train, n_def, o->n_train - n_def);
    }
    int n_test = o->n_test < 0 ? synth_default_test(o->n_train) : o->n_test;
    if (synth_test_counts(n_test, test_counts) != 0)
        fatal("synth: --test must be even and not negative (each test image appears twice, as is "
              "and warped), not %d", n_test);
    double t0 = omp_get_wtime();

    /* train: labels dealt in a seeded random order */
    size_t n_train = (size_t)o->n_train;
    int *train_label = xmalloc(n_train * sizeof *train_label, "train labels");
    size_t at = 0;
    for (int l = 0; l < MVTEC_N_LABELS; l++)
        for (int i = 0; i < train_counts[l]; i++) train_label[at++] = l;
    Rng r;
    rng_stream(&r, o->seed, 0x7472616e, 0); /* "tran" */
    shuffle(train_label, n_train, &r);
    /* test: originals numbered per label; slot 2j and 2j+1 show original j
     * as is and warped; the slots are shuffled into file order */
    size_t n_pairs = (size_t)n_test / 2;
    int *pair_label = xmalloc((n_pairs + 1) * sizeof *pair_label, "test labels");
    at = 0;
    for (int l = 0; l < MVTEC_N_LABELS; l++)
        for (int i = 0; i < test_counts[l] / 2; i++) pair_label[at++] = l;
    int *slot = xmalloc(((size_t)n_test + 1) * sizeof *slot, "test order");
    int *test_label = xmalloc(((size_t)n_test + 1) * sizeof *test_label, "test labels");
    for (int i = 0; i < n_test; i++) slot[i] = i;
    rng_stream(&r, o->seed, 0x74657374, 0); /* "test" */
    shuffle(slot, (size_t)n_test, &r);
    for (int i = 0; i < n_test; i++) test_label[i] = pair_label[slot[i] / 2];

    LayoutWriter w;
    layout_begin(&w, o->out, o->force, n_train, (size_t)n_test);
    long total = (long)n_train + n_test;
    /* Blocks of images: while one thread writes block b - 1, the others
     * (and then it too) render block b. Writing stays on one thread at a
     * time because the atomic-file registry behind image_write_png is not
     * thread-safe; a critical section would leave threads spinning. */
    Image *block[2];
    for (int k = 0; k < 2; k++) block[k] = xcalloc(SYNTH_BLOCK, sizeof(Image), "an image block");
    long n_blocks = (total + SYNTH_BLOCK - 1) / SYNTH_BLOCK;
    for (long b = 0; b <= n_blocks; b++) {
        long begin = b * SYNTH_BLOCK, end = begin + SYNTH_BLOCK < total ? begin + SYNTH_BLOCK : total;
#pragma omp parallel
        {
#pragma omp single nowait
            if (b > 0) write_block(&w, block[(b - 1) % 2], (b - 1) * SYNTH_BLOCK, total, (long)n_train);
#pragma omp for schedule(dynamic, 1) nowait
            for (long i = begin; i < end; i++) {
                Image *img = &block[b % 2][i - begin];
                if (i < (long)n_train) {
                    synth_render(img, train_label[i], o->size, o->seed, (uint64_t)i);
                    continue;
                }
                size_t t = (size_t)(i - (long)n_train);
                uint64_t key = TEST_KEY + (uint64_t)(slot[t] / 2);
                synth_render(img, test_label[t], o->size, o->seed, key);
                if (slot[t] % 2) { /* the second copy, warped */
                    Image warped;
                    synth_warp(&warped, img, o->seed, key);
                    image_free(img);
                    *img = warped;
                }
            }
        }
    }
    free(block[0]);
    free(block[1]);
    static const char *cls[MVTEC_N_LABELS], *state[MVTEC_N_LABELS];
    for (int l = 0; l < MVTEC_N_LABELS; l++) cls[l] = mvtec_labels[l].cls, state[l] = mvtec_labels[l].state;
    LayoutTables t = {MVTEC_N_LABELS, cls, state, n_train, train_label, (size_t)n_test, test_label, o->seed};
    layout_write_tables(&w, &t);
    if (o->sheet) {
        Image sheet;
        char path[4096];
        synth_sheet(&sheet, o->size, o->seed);
        layout_path(&w, "sheet.png", path, sizeof path);
        image_write_png(path, &sheet);
        image_free(&sheet);
    }
    char *out = xstrdup(o->out);
    layout_commit(&w);
    if (!o->quiet)
        printf("wrote %s: %zu train and %d test images of %dx%d px, 88 labels, seed %llu "
               "in %.1f s\n", out, n_train, n_test, o->size, o->size, (unsigned long long)o->seed,
               omp_get_wtime() - t0);
    free(out);
    free(train_label);
    free(pair_label);
    free(slot);
    free(test_label);
}
