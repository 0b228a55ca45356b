/* Learning-rate schedulers with PyTorch 1.13 semantics (SPEC §5), and the
 * early-stopping counter of the training loop.
 *
 *   Reduce  torch.optim.lr_scheduler.ReduceLROnPlateau(mode='min', factor,
 *           patience, threshold=1e-4, threshold_mode='rel', cooldown=0,
 *           min_lr=0, eps=1e-8), stepped once an epoch with a metric;
 *   Step    torch.optim.lr_scheduler.StepLR(step_size, gamma), stepped once
 *           an epoch (the metric is ignored).
 *
 * The learning rate is a double, as the optimizer's param_group['lr'] is a
 * Python float, and it is updated the way PyTorch updates it: StepLR
 * multiplies the current lr by gamma (its chainable form, not
 * base_lr * gamma^k), so the sequences match to the last bit.
 *
 * A Sched is a plain struct: copying it is saving it. sched_format /
 * sched_parse turn it into one line of text and back (exact: every double is
 * written with 17 significant digits, inf as "inf"), for checkpoints. */
#ifndef ANOMALY_SCHED_H
#define ANOMALY_SCHED_H

#include <stddef.h>

typedef enum SchedKind { SCHED_REDUCE, SCHED_STEP } SchedKind;

typedef struct Sched {
    SchedKind kind;
    double lr;          /* the current learning rate; read it after each step */
    int last_epoch;     /* steps taken (PyTorch's last_epoch) */
    /* ReduceLROnPlateau */
    double factor;      /* new lr = lr * factor */
    int patience;       /* bad epochs tolerated before a reduction */
    double threshold;   /* relative: better means metric < best * (1 - threshold) */
    int cooldown;       /* epochs after a reduction during which bad epochs don't count */
    double min_lr;
    double eps;         /* a reduction smaller than this is skipped */
    double best;        /* best metric so far (inf before the first step) */
    int num_bad_epochs;
    int cooldown_counter;
    /* StepLR */
    int step_size;
    double gamma;
} Sched;

/* ReduceLROnPlateau with PyTorch's defaults for everything but factor and
 * patience. fatal() when factor >= 1 (as PyTorch raises). */
void sched_init_reduce(Sched *s, double lr, double factor, int patience);
/* StepLR; fatal() when step_size < 1. */
void sched_init_step(Sched *s, double lr, int step_size, double gamma);

/* One epoch: updates s->lr. `metric` is the monitored loss (ignored by
 * StepLR); a NaN metric never counts as an improvement, as in PyTorch. */
void sched_step(Sched *s, double metric);

/* "Reduce" / "Step" (the original --scheduler values) and back; -1 / NULL
 * when unknown. */
int sched_kind_from_name(const char *name);
const char *sched_kind_name(SchedKind kind);

/* One line of `key=value` pairs, no newline. Returns what snprintf returns. */
int sched_format(char *buf, size_t len, const Sched *s);
/* Parses what sched_format wrote. Returns 0, or -1 with the reason in err. */
int sched_parse(Sched *s, const char *text, char *err, size_t errlen);

/* Early stopping as the training loop uses it: an epoch improves when its
 * value is strictly below the best so far; training stops once `patience`
 * consecutive epochs have not improved. */
typedef struct EarlyStop {
    double best;        /* inf before the first update */
    int bad_epochs;
    int patience;
} EarlyStop;

void early_stop_init(EarlyStop *e, int patience);
/* Records one epoch; returns 1 when it improved (the caller saves then). */
int early_stop_update(EarlyStop *e, double value);
/* 1 when training should stop. */
int early_stop_done(const EarlyStop *e);

#endif
