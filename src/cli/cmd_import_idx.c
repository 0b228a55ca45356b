/* anomaly import-idx: Fashion-MNIST (IDX files, gzipped or not) in the Dacon
 * layout, so the whole pipeline can run on a small real data set.
 *
 * Labels become "fashion-<name>" (class "fashion", state the garment name
 * lowercased, '-' dropped and other non-alphanumerics turned to '_'), the
 * 28x28 gray images 3-channel PNGs. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/args.h"
#include "anomaly/error.h"
#include "anomaly/idx.h"
#include "anomaly/inflate.h"
#include "anomaly/synth.h"

int cmd_import_idx(int argc, char **argv);

#define N_FASHION 10
static const char *const fashion_names[N_FASHION] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

#define MAX_IDX_BYTES ((size_t)1 << 31)

typedef struct Idx {
    uint8_t *data; /* the whole file, decompressed */
    IdxView v;
} Idx;

/* An IDX file of unsigned bytes with `dims` dimensions (1: labels, 3: images). */
static void idx_read(Idx *x, const char *path, int dims) {
    size_t n;
    char err[512];
    if (read_file_maybe_gzip(path, MAX_IDX_BYTES, &x->data, &n, err, sizeof err)) fatal("%s", err);
    if (idx_parse(x->data, n, path, dims, &x->v, err, sizeof err)) fatal("%s", err);
}

/* "T-shirt/top" -> "tshirt_top". */
static void state_name(const char *name, char *out, size_t len) {
    size_t j = 0;
    for (const char *c = name; *c && j + 1 < len; c++) {
        if (*c == '-') continue;
        out[j++] = isalnum((unsigned char)*c) ? (char)tolower((unsigned char)*c) : '_';
    }
    out[j] = '\0';
}

static char states[N_FASHION][32];

static int by_state(const void *a, const void *b) {
    return strcmp(states[*(const int *)a], states[*(const int *)b]);
}

/* Loads one split (images + labels), keeping at most `limit` items, and maps
 * the labels to sorted label indices. */
static size_t load_split(const char *images, const char *labels, long long limit, const int *rank, Idx *img,
                         int **label) {
    Idx lab;
    idx_read(img, images, 3);
    idx_read(&lab, labels, 1);
    if (img->v.count != lab.v.count)
        fatal("%s has %zu images but %s has %zu labels", images, img->v.count, labels, lab.v.count);
    size_t n = img->v.count;
    if (limit >= 0 && (size_t)limit < n) n = (size_t)limit;
    *label = xmalloc((n + 1) * sizeof **label, "labels");
    for (size_t i = 0; i < n; i++) {
        if (lab.v.items[i] >= N_FASHION)
            fatal("%s: label %d of item %zu is not a Fashion-MNIST class (0-9)", labels, lab.v.items[i], i);
        (*label)[i] = rank[lab.v.items[i]];
    }
    free(lab.data);
    return n;
}

static void write_images(const LayoutWriter *w, int test, const Idx *x, size_t n) {
    Image img;
    image_alloc(&img, x->v.cols, x->v.rows);
    char path[4096];
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src = x->v.items + i * x->v.item_size;
        for (size_t p = 0; p < x->v.item_size; p++) img.px[3 * p] = img.px[3 * p + 1] = img.px[3 * p + 2] = src[p];
        layout_image_path(w, test, i, path, sizeof path);
        image_write_png(path, &img);
    }
    image_free(&img);
}

int cmd_import_idx(int argc, char **argv) {
    const char *images = NULL, *labels = NULL, *out = NULL, *test_images = NULL, *test_labels = NULL;
    long long limit = -1, seed = 42;
    int force = 0;
    const ArgSpec specs[] = {
        {"images", ARG_STRING, &images, "train images, IDX (e.g. train-images-idx3-ubyte.gz)", NULL, 1},
        {"labels", ARG_STRING, &labels, "train labels, IDX (e.g. train-labels-idx1-ubyte.gz)", NULL, 1},
        {"out", ARG_STRING, &out, "the data-set directory to create", NULL, 1},
        {"test_images", ARG_STRING, &test_images, "test images, IDX (optional)", NULL, 0},
        {"test_labels", ARG_STRING, &test_labels, "test labels, IDX (with --test_images)", NULL, 0},
        {"limit", ARG_LONG, &limit, "keep at most the first N images of each split", NULL, 0},
        {"seed", ARG_LONG, &seed, "seed of the stratified folds (default 42)", NULL, 0},
        {"force", ARG_FLAG, &force, "replace --out when it exists and is not empty", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("import-idx",
               "--images IDX[.gz] --labels IDX[.gz] --out DIR [--test_images IDX --test_labels IDX] [--limit N]",
               specs, argc, argv, NULL, 0);
    if (!test_images != !test_labels) fatal("anomaly import-idx: give both --test_images and --test_labels, or neither");
    if (limit < -1 || limit == 0) fatal("anomaly import-idx: --limit must be positive");

    /* labels are indexed in sorted order of their strings, as everywhere */
    int order[N_FASHION], rank[N_FASHION];
    const char *cls[N_FASHION], *state[N_FASHION];
    for (int i = 0; i < N_FASHION; i++) {
        state_name(fashion_names[i], states[i], sizeof states[i]);
        order[i] = i;
    }
    qsort(order, N_FASHION, sizeof order[0], by_state);
    for (int r = 0; r < N_FASHION; r++) {
        rank[order[r]] = r;
        cls[r] = "fashion";
        state[r] = states[order[r]];
    }

    Idx train, test = {0};
    int *train_label, *test_label = NULL;
    size_t n_train = load_split(images, labels, limit, rank, &train, &train_label), n_test = 0;
    if (test_images) n_test = load_split(test_images, test_labels, limit, rank, &test, &test_label);

    LayoutWriter w;
    layout_begin(&w, out, force, n_train, n_test);
    write_images(&w, 0, &train, n_train);
    if (n_test) write_images(&w, 1, &test, n_test);
    LayoutTables t = {N_FASHION, cls, state, n_train, train_label, n_test, test_label, (uint64_t)seed};
    layout_write_tables(&w, &t);
    layout_commit(&w);
    printf("wrote %s: %zu train and %zu test images of %dx%d px, %d labels fashion-*\n", out, n_train, n_test,
           train.v.cols, train.v.rows, N_FASHION);
    free(train.data);
    free(test.data);
    free(train_label);
    free(test_label);
    return 0;
}
