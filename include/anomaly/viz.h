/* Pictures of what a run did (src/viz/): training curves. All
 * draw with the raster module (raster.h) and write PNGs atomically.
 *
 * Functions returning int give 0, or -1 with a one-line reason naming the
 * file in err; nothing is written then. */
#ifndef ANOMALY_VIZ_H
#define ANOMALY_VIZ_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/image.h"

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

#endif
