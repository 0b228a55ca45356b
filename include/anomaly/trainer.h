/* Training (SPEC section 5): the epoch loop of `anomaly train`, its rules,
 * and the files it leaves behind.
 *
 * An experiment {results}/{exp} holds train_args.csv (key,value: the
 * resolved flags), labels.csv (the data set's sorted labels) and one run
 * directory per fold (baseline: Fold{k}_{suffix}) or per class (one_class:
 * {class}_{suffix}, with its own labels.csv), suffix being E{arch} for
 * EfficientNet and the model name otherwise. A run directory holds:
 *
 *   model_{epoch}.safetensors  the plain state dict, saved when the epoch
 *                              rule says so (float32, PyTorch names)
 *   log.csv                    epoch,train_loss,train_f1,val_loss,val_f1,lr,seconds,saved
 *   train_state.safetensors    everything needed to continue (below)
 *   done                       empty; the run is over
 *
 * Every file is written atomically. After each epoch the files are written
 * in the order model, train_state, log.csv, so train_state is the commit
 * point: a run killed at any moment resumes from the last epoch whose state
 * reached the disk, and what it redoes comes out the same bytes (the loader
 * draws from streams keyed by (seed, epoch, image), the model's dropout
 * stream is part of the state).
 *
 * Data-parallel (c->group of P > 1 ranks, `mpirun -np P anomaly train`):
 * every rank walks the same global batches of batch_size images and takes
 * its contiguous share of each (loader shards), runs forward and backward on
 * it with its own BatchNorm batch statistics, as PyTorch DDP does without
 * SyncBatchNorm, and the gradients are averaged over the ranks in a fixed
 * order (dist_average) before clipping and the optimizer step, which every
 * rank then takes alike. BatchNorm running statistics follow DDP's default
 * (broadcast_buffers): before every forward pass rank 0's overwrite the
 * other ranks', so they are the ones checkpoints hold and validation uses.
 * Each rank has its own dropout stream (rank r > 0 draws from stream r).
 * Validation is sharded like training. Batch losses and predictions are
 * gathered, so every rank computes the same epoch numbers and takes the same
 * decisions. Only rank 0 writes files and prints; for --resume it also
 * writes rank_state_{epoch}.safetensors (rank{r}.rng: the dropout streams
 * of ranks 1..P-1) before train_state, which every rank reads back (the run
 * directory must be visible to every rank). A run is resumed with the P it
 * started with.
 *
 * Reported numbers: an epoch's loss is the mean of its batch losses (each
 * the criterion's batch mean), summed in double in batch order; F1 is the
 * macro F1 of all of the epoch's predictions, argmax of the logits the
 * criterion saw (with ArcFace, the margin logits, as the seed's
 * model(images, labels) gave them). */
#ifndef ANOMALY_TRAINER_H
#define ANOMALY_TRAINER_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/dataset.h"
#include "anomaly/dist.h"
#include "anomaly/model.h"
#include "anomaly/progress.h"
#include "anomaly/sched.h"
#include "anomaly/train_step.h"

typedef enum TrainMethod { TRAIN_BASELINE = 0, TRAIN_ONE_CLASS = 1 } TrainMethod;

/* ---- the epoch rules ---- */

enum { EPOCH_SAVE = 1, EPOCH_STOP = 2 };

/* Baseline: an epoch whose validation loss is below the best so far saves a
 * checkpoint; `patience` epochs in a row without one stop the run.
 * One-class: train F1 == 1 saves and stops; else train loss below the best
 * saved loss and train F1 above the best saved F1 (0 before the first save)
 * saves; any other epoch counts toward stopping after `patience` of them. */
typedef struct EpochRule {
    TrainMethod method;
    EarlyStop es;   /* best (saved) loss, epochs without a save, patience */
    double best_f1; /* one-class only */
} EpochRule;

void epoch_rule_init(EpochRule *r, TrainMethod method, int patience);
/* Records one epoch; returns EPOCH_SAVE and/or EPOCH_STOP. val_loss is
 * ignored by one-class. */
int epoch_rule_update(EpochRule *r, double train_loss, double train_f1, double val_loss);

/* ---- labels ---- */

/* One-class relabelling of class `cls`: an image keeps its label when the
 * label's class is cls and becomes "null" otherwise. names: the sorted
 * (byte order) distinct relabelled strings (allocated, free with
 * trainer_free_names); out[n_images]: each image's index into names.
 * labels[n_labels] are label strings, image_label[n_images] indices into
 * them. Returns the number of names; 0 when no image has class cls. */
int trainer_one_class_labels(const char *const *labels, int n_labels, const int *image_label, size_t n_images,
                             const char *cls, char ***names, int *out);
void trainer_free_names(char **names, int n);

/* ArcFace target sets (SPEC section 4) over a label list: "baseline" (the
 * non-good labels of cable, capsule, screw, transistor and zipper, found by
 * name, so any subset of the 88 labels works), "all", "batch" (decided per
 * batch by arc_targets_batch) or a comma list of label indices.
 * out[n_labels]. Returns 1 for "batch", 0 otherwise, -1 with the reason in
 * err for anything else. */
int arc_targets_parse(const char *spec, const char *const *labels, int n_labels, uint8_t *out, char *err,
                      size_t errlen);
/* The "batch" set: labels present in the batch other than null_label
 * (-1: none). out[n_labels]. */
void arc_targets_batch(uint8_t *out, int n_labels, const int *labels, int n, int null_label);

/* ---- the resumable state (train_state.c) ---- */

typedef struct TrainState {
    int epoch;          /* epochs completed */
    long step;          /* optimizer steps taken */
    int finished;       /* the rule stopped the run (or max epochs) */
    Sched sched;
    EpochRule rule;
    uint64_t seed;      /* the run's seed: initialisation and loader streams */
    char *log;          /* log.csv rows so far, without the header (owned) */
    char *bad_images;   /* data-set indices skipped as unreadable, "3,17" (owned; NULL: none) */
} TrainState;

/* Writes train_state.safetensors: every entry of the model's table
 * (trainables and buffers in the build's precision, F32 or F64, so a
 * resumed float64 run is exact too; counters I64), the optimizer moments
 * as optim.m.<name> / optim.v.<name> when allocated, and in __metadata__
 * the fields of s, the model's name and its dropout stream. */
void train_state_save(const char *path, const TrainState *s, const Model *m);
/* Reads it back into s (log allocated) and m (weights, moments, dropout
 * stream). Returns 0, or -1 with the reason naming the file in err (a state
 * of another model or an incomplete file among them); m is untouched then. */
int train_state_load(const char *path, TrainState *s, Model *m, char *err, size_t errlen);
void train_state_free(TrainState *s);

/* Loads converted ImageNet (or any) weights into m. The head (the entries
 * of the model's last trainable module, e.g. _fc or fc) is loaded only when
 * the file's head has exactly the model's names and shapes; otherwise the
 * head keeps its initialisation and *head_kept is set to 0 (1 when loaded).
 * Any other missing, unexpected or misshapen tensor is an error: -1 with
 * the reason in err, m untouched. */
int load_pretrained(const char *path, Model *m, int *head_loaded, char *err, size_t errlen);

/* ---- running ---- */

typedef struct TrainConfig {
    ModelConfig model;       /* num_classes is set per run */
    StepConfig step;         /* lr is taken from the scheduler each epoch */
    SchedKind scheduler;
    double lr, lr_factor;
    int patience, epochs, batch_size, img_size;
    int aug_ver;             /* train transform: 1 or 2 */
    int val_aug_ver;         /* 0: the test transform; the train's to restore the seed's quirk */
    TrainMethod method;
    const char *arc_targets; /* spec for arc_targets_parse */
    int skip_bad;
    const char *pretrained;  /* NULL: PyTorch-default initialisation */
    int resume;
    ProgressStyle progress;
    int stop_after_epoch;    /* > 0: leave after this many epochs of this invocation */
    int profile;             /* 1: time every op; print a table per run at its end */
    DistGroup group;         /* data-parallel ranks of each run (size 1: this process alone) */
} TrainConfig;

typedef struct TrainRun {
    const char *title;       /* "fold 1", "class bottle": starts each log line */
    const char *dir;         /* the run directory (created by the caller) */
    uint64_t seed;           /* initialisation, dropout and loader streams */
    const int64_t *train_idx; /* [n_train] data-set indices to train on */
    size_t n_train;
    const int64_t *val_idx;  /* [n_val]; n_val 0: no validation (one-class) */
    size_t n_val;
    const int *labels;       /* [ds->n_train] each image's index into names */
    int n_names;
    const char *const *names; /* [n_names] the labels the outputs index */
} TrainRun;

/* The seed of run `key` (fold k, or 1000 + class index) of a --seed. */
uint64_t trainer_run_seed(uint64_t seed, uint64_t key);

enum { RUN_FINISHED = 0, RUN_SKIPPED = 1, RUN_INTERRUPTED = 2 };

/* Trains one run in run->dir: continues its train_state when c->resume,
 * skips it when it is done, starts afresh otherwise. Prints one line per
 * epoch on stdout. Returns RUN_*; fatal() on errors. */
int trainer_train_run(const TrainConfig *c, const Dataset *ds, const TrainRun *run);

#endif
