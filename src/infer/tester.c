/* The pieces of `anomaly test`: reading what training left behind, loading
 * checkpoints with clear refusals, batched prediction, the fold ensemble and
 * the one-class merge. The command itself is src/cli/cmd_test.c. */
#include "anomaly/tester.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/arena.h"
#include "anomaly/csv.h"
#include "anomaly/error.h"
#include "anomaly/loader.h"
#include "anomaly/safetensors.h"
#include "anomaly/tape.h"
#include "anomaly/train_step.h"

/* ---- train_args.csv and labels.csv ---- */

int train_args_read(const char *path, TrainArgs *a, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    CsvTable t;
    if (csv_read(path, &t, err, errlen) != 0) return -1;
    int ck = csv_column_checked(&t, "key", err, errlen);
    int cv = ck < 0 ? -1 : csv_column_checked(&t, "value", err, errlen);
    if (cv < 0) {
        csv_free(&t);
        return -1;
    }
    a->count = (int)t.n_rows;
    a->key = xcalloc(t.n_rows + 1, sizeof *a->key, "train_args");
    a->value = xcalloc(t.n_rows + 1, sizeof *a->value, "train_args");
    for (size_t r = 0; r < t.n_rows; r++) {
        a->key[r] = xstrdup(csv_cell(&t, r, ck));
        a->value[r] = xstrdup(csv_cell(&t, r, cv));
    }
    csv_free(&t);
    return 0;
}

void train_args_free(TrainArgs *a) {
    for (int i = 0; i < a->count; i++) {
        free(a->key[i]);
        free(a->value[i]);
    }
    free(a->key);
    free(a->value);
    memset(a, 0, sizeof *a);
}

const char *train_args_get(const TrainArgs *a, const char *key) {
    /* the last row wins, as a flag given twice does */
    for (int i = a->count - 1; i >= 0; i--)
        if (strcmp(a->key[i], key) == 0) return a->value[i];
    return NULL;
}

void labels_free(char **labels, int n) {
    for (int i = 0; i < n; i++) free(labels[i]);
    free(labels);
}

int labels_read(const char *path, char ***labels, int *n, char *err, size_t errlen) {
    *labels = NULL;
    *n = 0;
    CsvTable t;
    if (csv_read(path, &t, err, errlen) != 0) return -1;
    int col = csv_column_checked(&t, "label", err, errlen);
    if (col < 0 || t.n_rows == 0 || t.n_rows > INT_MAX) {
        if (col >= 0) error_format(err, errlen, "%s: no labels", path);
        csv_free(&t);
        return -1;
    }
    char **l = xcalloc(t.n_rows, sizeof *l, "labels");
    for (size_t r = 0; r < t.n_rows; r++) {
        const char *s = csv_cell(&t, r, col);
        for (size_t q = 0; q < r; q++)
            if (strcmp(l[q], s) == 0) {
                error_format(err, errlen, "%s:%d: label '%s' appears again", path, t.line[r], s);
                labels_free(l, (int)r);
                csv_free(&t);
                return -1;
            }
        l[r] = xstrdup(s);
    }
    *labels = l;
    *n = (int)t.n_rows;
    csv_free(&t);
    return 0;
}

/* Integer row: absent gives def; present must be a whole number in [lo, hi]. */
static int arg_int(const TrainArgs *a, const char *path, const char *key, int def, int lo, int hi, int *out,
                   char *err, size_t errlen) {
    const char *v = train_args_get(a, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return error_format(err, errlen, "%s: %s is '%s', expected a whole number in [%d, %d]", path, key, v, lo, hi);
    *out = (int)x;
    return 0;
}

/* Booleans as Python's str() or a C flag writes them. */
static int arg_bool(const TrainArgs *a, const char *path, const char *key, int *out, char *err, size_t errlen) {
    const char *v = train_args_get(a, key);
    if (!v) return 0;
    if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "yes")) *out = 1;
    else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "no") || !*v) *out = 0;
    else return error_format(err, errlen, "%s: %s is '%s', expected 1 or 0", path, key, v);
    return 0;
}

int test_model_from_args(const TrainArgs *a, const char *path, TestModel *tm, char *err, size_t errlen) {
    memset(tm, 0, sizeof *tm);
    const char *model = train_args_get(a, "model");
    const char *model_name = train_args_get(a, "model_name");
    if (!model) model = "efficientnet";
    if (strcmp(model, "efficientnet") == 0) {
        int arch;
        if (arg_int(a, path, "arch", 6, 0, 7, &arch, err, errlen)) return -1;
        snprintf(tm->name, sizeof tm->name, "efficientnet-b%d", arch);
        snprintf(tm->suffix, sizeof tm->suffix, "E%d", arch);
    } else {
        const char *name = model_name ? model_name : model;
        if (strlen(name) >= sizeof tm->name)
            return error_format(err, errlen, "%s: model_name '%.40s...' is too long", path, name);
        snprintf(tm->name, sizeof tm->name, "%s", name);
        snprintf(tm->suffix, sizeof tm->suffix, "%s", name);
    }
    if (!model_known(tm->name))
        return error_format(err, errlen, "%s: unknown model '%s' (anomaly models lists them)", path, tm->name);
    const char *arcloss = train_args_get(a, "arcloss");
    int head = 0;
    if (arg_bool(a, path, "arcface", &head, err, errlen)) return -1;
    /* the ArcFace loss implies the cosine head */
    tm->arcface = head || (arcloss && strcmp(arcloss, "arcface") == 0);
    tm->scale = 8;
    const char *scale = train_args_get(a, "scale");
    if (scale) {
        char *end;
        tm->scale = strtod(scale, &end);
        if (end == scale || *end || !isfinite(tm->scale) || tm->scale <= 0)
            return error_format(err, errlen, "%s: scale is '%s', expected a positive number", path, scale);
    }
    const char *pad = train_args_get(a, "same_padding");
    if (!pad || strcmp(pad, "static") == 0) tm->same_padding = SAME_STATIC;
    else if (strcmp(pad, "dynamic") == 0) tm->same_padding = SAME_DYNAMIC;
    else return error_format(err, errlen, "%s: same_padding is '%s', expected static or dynamic", path, pad);
    if (arg_int(a, path, "image_size", 0, 0, 65535, &tm->pad_size, err, errlen)) return -1;
    if (arg_int(a, path, "img_size", 576, 1, 65535, &tm->img_size, err, errlen)) return -1;
    if (arg_int(a, path, "batch_size", 48, 1, 1 << 20, &tm->batch_size, err, errlen)) return -1;
    if (arg_int(a, path, "fold", 10, 1, 1000, &tm->folds, err, errlen)) return -1;
    const char *method = train_args_get(a, "train_method");
    if (!method || strcmp(method, "baseline") == 0) tm->one_class = 0;
    else if (strcmp(method, "one_class") == 0) tm->one_class = 1;
    else return error_format(err, errlen, "%s: train_method is '%s', expected baseline or one_class", path, method);
    return 0;
}

/* ---- checkpoints ---- */

/* N of "model_N.safetensors", or 0 for any other name. */
static long checkpoint_epoch(const char *name) {
    static const char pre[] = "model_", suf[] = ".safetensors";
    size_t len = strlen(name), np = sizeof pre - 1, ns = sizeof suf - 1;
    if (len <= np + ns || strncmp(name, pre, np) != 0 || strcmp(name + len - ns, suf) != 0) return 0;
    long e = 0;
    for (size_t i = np; i < len - ns; i++) {
        if (name[i] < '0' || name[i] > '9' || e > 100000000L) return 0;
        e = 10 * e + (name[i] - '0');
    }
    return e;
}

int latest_checkpoint(const char *run_dir, char *path, size_t len) {
    DIR *d = opendir(run_dir);
    if (!d) return -1;
    long best = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long k = checkpoint_epoch(e->d_name);
        if (k > best) best = k;
    }
    closedir(d);
    if (best > 0) snprintf(path, len, "%s/model_%ld.safetensors", run_dir, best);
    return (int)best;
}

int tester_load(Model *m, const char *ckpt, const char *labels_path, char *err, size_t errlen) {
    char why[1024];
    if (safetensors_read_params(ckpt, &m->params, why, sizeof why) == 0) return 0;
    /* The classifier is the last matrix of the state dict; when only its row
     * count differs, the labels and the checkpoint disagree. */
    const ParamEntry *head = NULL;
    for (int i = m->params.count - 1; i >= 0 && !head; i--)
        if (m->params.entries[i].ndim == 2) head = &m->params.entries[i];
    SafeTensors st;
    char ignored[256];
    if (head && safetensors_open(ckpt, &st, ignored, sizeof ignored) == 0) {
        const StTensor *t = safetensors_find_param(&st, head->name);
        int outputs = t && t->ndim == 2 && t->shape[1] == head->shape[1] ? (int)t->shape[0] : -1;
        safetensors_close(&st);
        if (outputs >= 0 && outputs != head->shape[0])
            return error_format(err, errlen, "%s: the model has %d outputs but %s lists %d labels", ckpt, outputs,
                           labels_path, head->shape[0]);
    }
    return error_format(err, errlen, "checkpoint does not fit %s%s: %s", m->cfg.name,
                   m->cfg.arcface ? " (ArcFace head)" : "", why);
}

/* ---- prediction ---- */

void tester_predict(Model *m, double scale, const char *const *paths, size_t n, int img_size, int batch_size,
                    real *out, Progress *p) {
    tester_predict_timed(m, scale, paths, n, img_size, batch_size, out, p, NULL);
}

void tester_predict_timed(Model *m, double scale, const char *const *paths, size_t n, int img_size,
                          int batch_size, real *out, Progress *p, PredictTimes *times) {
    const double t_start = omp_get_wtime();
    double network_s = 0;
    int c = m->cfg.num_classes;
    LoaderConfig lc = loader_config_test(img_size, batch_size);
    Loader *L = loader_create(&lc, paths, NULL, n, NULL, 0);
    Arena arena;
    arena_init(&arena, 0);
    Tape t;
    tape_init(&t, &arena);
    loader_start_epoch(L, 0);
    size_t batches = 0, images = 0;
    const Batch *b;
    while ((b = loader_next(L)) != NULL) {
        const double t0 = omp_get_wtime();
        Tensor *y = model_logits(m, &t, b->x, b->n, b->size, b->size, scale); /* [b->n, c] */
        network_s += omp_get_wtime() - t0;
        for (int i = 0; i < b->n; i++)
            memcpy(out + (size_t)b->index[i] * (size_t)c, y->data + (size_t)i * (size_t)c, (size_t)c * sizeof *out);
        batches++;
        images += (size_t)b->n;
        if (p) progress_update(p, batches, images);
    }
    if (times) {
        times->loader = loader_times(L);
        times->network_s = network_s;
        times->images = images;
        times->batches = batches;
    }
    tape_free(&t);
    arena_free(&arena);
    loader_free(L);
    if (times) times->wall_s = omp_get_wtime() - t_start;
}

/* x > y in torch.argmax's order, where NaN is above everything. */
static int above(real x, real y) { return (isnan(x) && !isnan(y)) || x > y; }

void features_mean_argmax(const real *features, int K, size_t n, int c, int *pred) {
    real *mean = xmalloc((size_t)c * sizeof *mean, "fold mean"); /* [c] */
    for (size_t r = 0; r < n; r++) {
        for (int j = 0; j < c; j++) {
            real s = 0;
            for (int k = 0; k < K; k++) s += features[((size_t)k * n + r) * (size_t)c + (size_t)j];
            mean[j] = s / (real)K;
        }
        int best = 0;
        for (int j = 1; j < c; j++)
            if (above(mean[j], mean[best])) best = j;
        pred[r] = best;
    }
    free(mean);
}

/* ---- one-class merge ---- */

size_t one_class_merge(const char *const *base, size_t n, const char *const *const *pred, int n_models,
                       const char **out, int *claims) {
    size_t conflicts = 0;
    for (size_t r = 0; r < n; r++) {
        out[r] = base[r];
        claims[r] = 0;
        for (int j = 0; j < n_models; j++) {
            if (strcmp(pred[j][r], "null") == 0) continue;
            out[r] = pred[j][r];
            claims[r]++;
        }
        if (claims[r] > 1) conflicts++;
    }
    return conflicts;
}
