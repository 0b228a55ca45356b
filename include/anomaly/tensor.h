/* A tensor is a view: a pointer to NCHW data, its gradient, and its shape.
 *
 * Tensors never own memory. Activations live in a step's Arena, parameters
 * in the ParamTable. 2-D tensors [N, F] use n = N, c = F, h = w = 1. */
#ifndef ANOMALY_TENSOR_H
#define ANOMALY_TENSOR_H

#include <stddef.h>
#include "real.h"

struct Tape;

typedef struct Tensor {
    real *data;   /* [n, c, h, w] */
    real *grad;   /* same shape; NULL until backward needs it */
    int n, c, h, w;
    int requires_grad; /* 1: backward computes grad for this tensor */
    /* Set on a training activation kept only until its consumer has read
     * it (it lives in one of the tape's recompute buffers, recompute_slot):
     * writes the values again, bit for bit, into out. See tape_input(). */
    void (*recompute)(struct Tape *t, const void *ctx, real *out);
    const void *recompute_ctx;
    int recompute_slot;
} Tensor;

static inline size_t tensor_numel(const Tensor *t) {
    return (size_t)t->n * (size_t)t->c * (size_t)t->h * (size_t)t->w;
}

#endif
