/* Pictures of what a run did (src/viz/): training curves, augmentation
 * sheets, Grad-CAM heat maps, and the HTML report that gathers them. All
 * draw with the raster module (raster.h) and write PNGs atomically.
 *
 * Functions returning int give 0, or -1 with a one-line reason naming the
 * file in err; nothing is written then. */
#ifndef ANOMALY_VIZ_H
#define ANOMALY_VIZ_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/image.h"
#include "anomaly/model.h"
#include "anomaly/real.h"
#include "anomaly/tester.h"

/* ---- curves.c ---- */

/* One run's log.csv (epoch,train_loss,train_f1,val_loss,val_f1,lr,...,saved
 * as `anomaly train` writes it): empty cells are NaN. */
typedef struct RunLog {
    char name[256]; /* the run directory's name, e.g. Fold1_E0 */
    int n;          /* epochs */
    double *epoch, *train_loss, *train_f1, *val_loss, *val_f1, *lr;
    int *saved;
} RunLog;

int run_log_read(const char *path, RunLog *log, char *err, size_t errlen);
void run_log_free(RunLog *log);
/* The runs of an experiment directory: every subdirectory holding a
 * log.csv, sorted by name. No run at all is an error. */
int exp_logs_read(const char *exp_dir, RunLog **logs, int *n, char *err, size_t errlen);
void exp_logs_free(RunLog *logs, int n);

/* Train and validation loss (left) and macro F1 (right) per epoch, one
 * colour per run, the learning rate on the loss panel's right axis, saved
 * epochs marked by squares. img is allocated (image_free). */
void curves_render(Image *img, const RunLog *logs, int n, const char *title);
/* curves_render of exp_dir's runs, written to out_png. */
int curves_write(const char *exp_dir, const char *out_png, char *err, size_t errlen);

/* ---- exp_model.c ---- */

/* The model of an experiment's first run (runs sorted by name) at its
 * latest checkpoint, built as train_args.csv says, with the label names of
 * labels.csv. NULL with the reason in err when any of it is missing or does
 * not fit. ckpt (may be NULL) receives the checkpoint's path. */
Model *exp_first_model(const char *exp_dir, TestModel *tm, char ***labels, int *n_labels, char *ckpt,
                       size_t ckpt_len, char *err, size_t errlen);

/* ---- report.c: one self-contained HTML page ---- */

typedef struct ReportConfig {
    const char *exp_dir;    /* results/EXP: train_args.csv, labels.csv, runs, features, submission */
    const char *data_path;  /* the data set (test images, test_df.csv); NULL: no image section */
    const char *answers;    /* index,label truth; NULL: {data_path}/test_answer.csv if it exists */
    const char *submission; /* NULL: {exp_dir}/sub_baseline_{EXP}.csv if it exists */
    const char *explain;    /* a file holding `anomaly ensemble --explain` output, or NULL */
    int worst;              /* wrong test images shown with their CAMs (default 8) */
} ReportConfig;

/* The run's settings, curves, per-label table, confusion matrix, the most
 * confidently wrong test images with the Grad-CAM of the predicted and the
 * true label (the first run's model), and the explain text; every picture
 * inlined as a base64 PNG, nothing fetched. A section whose inputs are
 * absent says so and what makes them; a file named by the config that
 * cannot be read is an error. */
int report_write(const ReportConfig *c, const char *out_html, char *err, size_t errlen);

#endif

/* ---- augment_sheet.c ---- */

/* n draws of the train augmentations of one image, as training draws them
 * for image `index` in epochs first_epoch .. first_epoch + n - 1 (stream
 * rng_stream(seed, epoch, index)), each resized to size x size (shown
 * enlarged to at least 96 px) with its epoch and its ops, in the `anomaly
 * augment` log format, written under it. out is allocated. */
void augment_sheet(Image *out, const Image *in, int n, int aug_ver, int size, uint64_t seed, uint64_t index,
                   uint64_t first_epoch);

/* ---- cam.c: Grad-CAM ---- */

/* The module Grad-CAM looks at: the last convolution's output,
 * `_conv_head` for EfficientNet, `layer4` for ResNeXt and ResNeSt. */
const char *cam_layer(const Model *m);

typedef struct Cam {
    int h, w;      /* the feature map's size */
    real *map;     /* [h][w]: relu(sum_k alpha_k A_k), alpha_k the spatial
                      mean of d score / d A_k (not normalised) */
    int n_classes;
    real *logits;  /* [n_classes]: inference logits (scale * cos for ArcFace) */
} Cam;

/* Grad-CAM of one normalised image x [3][h][w] for class `label` in eval
 * mode, with the tape's own backward; score = the label's logit. */
void cam_compute(Cam *cam, Model *m, const real *x, int h, int w, int label, double arc_scale);
void cam_free(Cam *cam);

/* The map bilinearly resized to w x h (half-pixel centres, as OpenCV's and
 * PyTorch's align_corners=False) and divided by its maximum: [h][w] in
 * [0, 1] (all 0 when the map is). */
void cam_upsample(real *out, const Cam *cam, int w, int h);

/* The picture: img enlarged `scale` times with the heat map blended over it
 * (weight 0.5), a colour bar, and up to two lines of text under it. out is
 * allocated. */
void cam_overlay(Image *out, const Image *img, const Cam *cam, int scale, const char *line1,
                 const char *line2);
