/* Inference on the test set (SPEC section 6): the pieces of `anomaly test`.
 *
 * An experiment directory {results}/{exp} holds what `anomaly train` wrote
 * (the layout is fixed between the two commands):
 *
 *   train_args.csv      key,value: the resolved training flags
 *   labels.csv          label: the sorted labels the outputs index
 *   Fold{k}_{suffix}/   baseline run of fold k (1-based)
 *   {class}_{suffix}/   one-class run of a class, with its own labels.csv
 *
 * where suffix is E{arch} for `--model efficientnet` and the model name
 * otherwise. A run directory holds model_{epoch}.safetensors checkpoints;
 * inference takes the highest epoch.
 *
 * Everything that can be wrong with an experiment is found before any image
 * is decoded: functions returning int give 0, or -1 with a one-line reason
 * naming the file in err. */
#ifndef ANOMALY_TESTER_H
#define ANOMALY_TESTER_H

#include <stddef.h>

#include "anomaly/loader.h"
#include "anomaly/model.h"
#include "anomaly/progress.h"
#include "anomaly/real.h"

/* ---- train_args.csv and labels.csv ---- */

typedef struct TrainArgs {
    int count;
    char **key, **value; /* [count], in file order */
} TrainArgs;

int train_args_read(const char *path, TrainArgs *a, char *err, size_t errlen);
void train_args_free(TrainArgs *a);
/* The value of key, or NULL when the file has no such row. */
const char *train_args_get(const TrainArgs *a, const char *key);

/* The label column of a labels.csv: *labels[n] strings (free with
 * labels_free). An empty list or a repeated label is an error. */
int labels_read(const char *path, char ***labels, int *n, char *err, size_t errlen);
void labels_free(char **labels, int n);

/* What inference needs to rebuild the trained model. */
typedef struct TestModel {
    char name[64];    /* registry name, e.g. "efficientnet-b0" */
    char suffix[72];  /* run directory suffix: "E0" for efficientnet-b0, or the model name */
    int arcface;      /* cosine head: logits = scale * cos */
    double scale;
    SamePadding same_padding;
    int pad_size;     /* EfficientNet static pads: 0 = native size */
    int img_size;
    int batch_size;
    int folds;        /* K of the fold file */
    int one_class;    /* train_method one_class */
} TestModel;

/* Reads the model, arch, model_name, arcface, arcloss, scale, same_padding,
 * image_size (static pad size), img_size, batch_size, fold and train_method
 * rows; a missing row takes the training default. The head is the cosine
 * one when the arcface row is true or arcloss is arcface. An unknown model
 * or a malformed value is an error naming the file and the row. */
int test_model_from_args(const TrainArgs *a, const char *path, TestModel *tm, char *err, size_t errlen);

/* ---- checkpoints ---- */

/* The highest N of run_dir/model_N.safetensors (N a positive number), with
 * its path in path[len]; 0 when there is none; -1 when run_dir cannot be
 * read. Temporary files of an interrupted save never count. */
int latest_checkpoint(const char *run_dir, char *path, size_t len);

/* Loads a checkpoint into m. A checkpoint of another model, or whose head
 * has another number of outputs than labels_path lists (m was built with
 * that many classes), is an error saying which. */
int tester_load(Model *m, const char *ckpt, const char *labels_path, char *err, size_t errlen);

/* ---- prediction ---- */

/* Logits of the images paths[0..n) in order: the test transform (resize to
 * img_size, normalize), batches of batch_size, eval mode; ArcFace heads give
 * scale * cos. out: [n][m->cfg.num_classes]. An unreadable image is fatal,
 * naming the file. p (may be NULL) is updated after every batch; it counts
 * ceil(n / batch_size) batches. */
void tester_predict(Model *m, double scale, const char *const *paths, size_t n, int img_size, int batch_size,
                    real *out, Progress *p);

/* Where the time of one tester_predict_timed call went: wall_s from the
 * loader's creation to its end, network_s inside the model's forward, and
 * the loader's own account (its wait_s is the time the network waited for
 * data; busy_s the decode and resize work, on the background thread). */
typedef struct PredictTimes {
    double wall_s, network_s;
    size_t images, batches;
    LoaderTimes loader;
} PredictTimes;

/* tester_predict, also filling *times (may be NULL). */
void tester_predict_timed(Model *m, double scale, const char *const *paths, size_t n, int img_size,
                          int batch_size, real *out, Progress *p, PredictTimes *times);

/* The fold ensemble: mean over the K folds of features [K][n][c] (summed in
 * fold order, then divided by K, as torch.mean does), then the index of the
 * largest mean (the first on ties; NaN counts as largest, as torch.argmax).
 * pred: [n]. */
void features_mean_argmax(const real *features, int K, size_t n, int c, int *pred);

/* ---- one-class merge ---- */

/* Rows whose class models disagree with the base: pred[j][r] is class model
 * j's prediction for row r ("null": no claim). Class models are applied in
 * order j = 0..n_models-1, so when several claim a row the last one wins.
 * out[r] points at base[r] or at the winning prediction; claims[r] counts
 * the models claiming row r. Returns the number of rows claimed by more than
 * one model. */
size_t one_class_merge(const char *const *base, size_t n, const char *const *const *pred, int n_models,
                       const char **out, int *claims);

#endif
