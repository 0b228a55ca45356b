#include "anomaly/tape.h"
#include "anomaly/error.h"

#include <stdlib.h>
#include <string.h>

void tape_init(Tape *t, Arena *arena) {
    memset(t, 0, sizeof *t);
    t->arena = arena;
}

void tape_free(Tape *t) {
    free(t->nodes);
    t->nodes = NULL;
    t->count = t->cap = 0;
}

void tape_reset(Tape *t) {
    t->count = 0;
    arena_reset(t->arena);
}

void tape_push(Tape *t, const char *op, TapeBackwardFn fn, void *ctx) {
    if (!t->recording) return;
    if (t->count == t->cap) {
        /* Grows during the first step only; later steps reuse the array. */
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->nodes = xrealloc(t->nodes, (size_t)t->cap * sizeof *t->nodes, "the autograd tape");
    }
    t->nodes[t->count].backward = fn;
    t->nodes[t->count].ctx = ctx;
    t->nodes[t->count].op = op;
    t->count++;
}

void *tape_ctx(Tape *t, size_t bytes) { return arena_calloc(t->arena, bytes); }

Tensor *tape_tensor(Tape *t, int n, int c, int h, int w) {
    if (n <= 0 || c <= 0 || h <= 0 || w <= 0)
        fatal("tensor of shape [%d, %d, %d, %d] has an empty dimension", n, c, h, w);
    Tensor *x = arena_calloc(t->arena, sizeof *x);
    x->n = n;
    x->c = c;
    x->h = h;
    x->w = w;
    x->data = arena_alloc(t->arena, tensor_numel(x) * sizeof(real));
    x->requires_grad = t->recording;
    return x;
}

Tensor *tape_wrap(Tape *t, real *data, int n, int c, int h, int w) {
    Tensor *x = arena_calloc(t->arena, sizeof *x);
    x->data = data;
    x->n = n;
    x->c = c;
    x->h = h;
    x->w = w;
    return x;
}

real *tape_grad(Tape *t, Tensor *x) {
    if (!x->grad) x->grad = arena_calloc(t->arena, tensor_numel(x) * sizeof(real));
    return x->grad;
}

void tape_backward(Tape *t, Tensor *loss, real seed) {
    real *g = tape_grad(t, loss);
    size_t n = tensor_numel(loss);
    for (size_t i = 0; i < n; i++) g[i] += seed;
    for (int i = t->count - 1; i >= 0; i--) t->nodes[i].backward(t, t->nodes[i].ctx);
}

void tape_named(Tape *t, const char *name, const Tensor *x) {
    if (t->dump) t->dump(t->dump_user, name, x);
}
