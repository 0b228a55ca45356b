/* The parameter table: every parameter, buffer and counter of a model, by its
 * PyTorch state-dict name, in registration (= state-dict) order.
 *
 * Trainable parameters live contiguously in `param` (with `grad` and the
 * optimizer moments `m`, `v` of the same length), so an optimizer is one flat
 * loop. Buffers (BN running statistics) live in `buffer`; int64 counters
 * (num_batches_tracked) in `counter`. Checkpoints are a walk over `entries`. */
#ifndef ANOMALY_PARAMS_H
#define ANOMALY_PARAMS_H

#include <stddef.h>
#include <stdint.h>
#include "real.h"
#include "tensor.h"

#define PARAM_NAME_MAX 128
#define PARAM_MAX_DIMS 4

typedef enum ParamKind {
    PARAM_TRAINABLE = 0, /* in param/grad/m/v */
    PARAM_BUFFER = 1,    /* float buffer (running_mean, running_var) */
    PARAM_COUNTER = 2    /* int64 scalar (num_batches_tracked) */
} ParamKind;

typedef struct ParamEntry {
    char name[PARAM_NAME_MAX];
    ParamKind kind;
    int ndim;
    int shape[PARAM_MAX_DIMS];
    size_t numel;
    size_t offset; /* into param/grad (TRAINABLE), buffer, or counter */
} ParamEntry;

typedef struct ParamTable {
    ParamEntry *entries;
    int count, cap;
    size_t n_param, n_buffer, n_counter; /* element counts */
    real *param, *grad, *m, *v;          /* n_param each; m, v may be NULL */
    real *buffer;                        /* n_buffer */
    int64_t *counter;                    /* n_counter */
    int finalized;
} ParamTable;

void params_init(ParamTable *t);
void params_free(ParamTable *t);

/* Registration (before params_finalize): returns the entry index. A name
 * registered twice is a fatal error. shape has ndim entries (ndim 0: scalar). */
int params_add(ParamTable *t, const char *name, ParamKind kind, int ndim, const int *shape);

/* Allocates the storage (zero-filled, including grad); no more adds after. */
void params_finalize(ParamTable *t);
/* Allocates the optimizer moments m and v (zero-filled) if not yet there. */
void params_alloc_moments(ParamTable *t);

/* Lookup by name; -1 if absent. */
int params_find(const ParamTable *t, const char *name);
/* Pointer to an entry's float storage (TRAINABLE or BUFFER). */
real *params_data(const ParamTable *t, int idx);
/* Pointer to a TRAINABLE entry's gradient. */
real *params_grad(const ParamTable *t, int idx);
int64_t *params_counter(const ParamTable *t, int idx);

/* A tensor view of a TRAINABLE or BUFFER entry: shape mapped to NCHW
 * (ndim 1: [s0,1,1,1]; 2: [s0,s1,1,1]; 4: as is), grad set for TRAINABLE. */
Tensor params_tensor(const ParamTable *t, int idx);

/* Zeroes all gradients. */
void params_zero_grad(ParamTable *t);

#endif
