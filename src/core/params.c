#include "anomaly/params.h"
#include "anomaly/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void params_init(ParamTable *t) { memset(t, 0, sizeof *t); }

void params_free(ParamTable *t) {
    free(t->entries);
    free(t->param);
    free(t->grad);
    free(t->m);
    free(t->v);
    free(t->buffer);
    free(t->counter);
    memset(t, 0, sizeof *t);
}

int params_find(const ParamTable *t, const char *name) {
    for (int i = 0; i < t->count; i++)
        if (strcmp(t->entries[i].name, name) == 0) return i;
    return -1;
}

int params_add(ParamTable *t, const char *name, ParamKind kind, int ndim, const int *shape) {
    if (t->finalized) fatal("parameter %s added after the table was finalized", name);
    if (strlen(name) >= PARAM_NAME_MAX) fatal("parameter name too long: %s", name);
    if (ndim < 0 || ndim > PARAM_MAX_DIMS) fatal("parameter %s: %d dimensions", name, ndim);
    if (params_find(t, name) >= 0) fatal("parameter %s registered twice", name);
    if (t->count == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->entries = xrealloc(t->entries, (size_t)t->cap * sizeof *t->entries, "the parameter table");
    }
    ParamEntry *e = &t->entries[t->count];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", name);
    e->kind = kind;
    e->ndim = ndim;
    e->numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] <= 0) fatal("parameter %s: dimension %d is %d", name, d, shape[d]);
        e->shape[d] = shape[d];
        e->numel *= (size_t)shape[d];
    }
    if (kind == PARAM_COUNTER && e->numel != 1) fatal("counter %s must be a scalar", name);
    switch (kind) {
    case PARAM_TRAINABLE: e->offset = t->n_param; t->n_param += e->numel; break;
    case PARAM_BUFFER: e->offset = t->n_buffer; t->n_buffer += e->numel; break;
    case PARAM_COUNTER: e->offset = t->n_counter; t->n_counter += e->numel; break;
    }
    return t->count++;
}

void params_finalize(ParamTable *t) {
    if (t->finalized) return;
    t->param = xcalloc(t->n_param, sizeof(real), "parameters");
    t->grad = xcalloc(t->n_param, sizeof(real), "gradients");
    t->buffer = xcalloc(t->n_buffer, sizeof(real), "buffers");
    t->counter = xcalloc(t->n_counter, sizeof(int64_t), "counters");
    t->finalized = 1;
}

void params_alloc_moments(ParamTable *t) {
    if (!t->finalized) fatal("optimizer state requested before the parameter table was finalized");
    if (!t->m) t->m = xcalloc(t->n_param, sizeof(real), "optimizer moments");
    if (!t->v) t->v = xcalloc(t->n_param, sizeof(real), "optimizer moments");
}

static const ParamEntry *entry(const ParamTable *t, int idx) {
    if (idx < 0 || idx >= t->count) fatal("parameter index %d out of range", idx);
    if (!t->finalized) fatal("parameter %s used before the table was finalized", t->entries[idx].name);
    return &t->entries[idx];
}

real *params_data(const ParamTable *t, int idx) {
    const ParamEntry *e = entry(t, idx);
    if (e->kind == PARAM_TRAINABLE) return t->param + e->offset;
    if (e->kind == PARAM_BUFFER) return t->buffer + e->offset;
    fatal("parameter %s is a counter, not a float tensor", e->name);
}

real *params_grad(const ParamTable *t, int idx) {
    const ParamEntry *e = entry(t, idx);
    if (e->kind != PARAM_TRAINABLE) fatal("parameter %s has no gradient", e->name);
    return t->grad + e->offset;
}

int64_t *params_counter(const ParamTable *t, int idx) {
    const ParamEntry *e = entry(t, idx);
    if (e->kind != PARAM_COUNTER) fatal("parameter %s is not a counter", e->name);
    return t->counter + e->offset;
}

Tensor params_tensor(const ParamTable *t, int idx) {
    const ParamEntry *e = entry(t, idx);
    Tensor x;
    memset(&x, 0, sizeof x);
    x.data = params_data(t, idx);
    x.n = x.c = x.h = x.w = 1;
    if (e->ndim >= 1) x.n = e->shape[0];
    if (e->ndim >= 2) x.c = e->shape[1];
    if (e->ndim >= 3) x.h = e->shape[2];
    if (e->ndim >= 4) x.w = e->shape[3];
    if (e->kind == PARAM_TRAINABLE) {
        x.grad = t->grad + e->offset;
        x.requires_grad = 1;
    }
    return x;
}

void params_zero_grad(ParamTable *t) {
    if (t->grad) memset(t->grad, 0, t->n_param * sizeof(real));
}
