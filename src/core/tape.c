#include "anomaly/tape.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"

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
    free(t->recompute_buf);
    t->recompute_buf = NULL;
    t->recompute_cap = 0;
}

real *tape_recompute_buffer(Tape *t, size_t n) {
    if (n > t->recompute_cap) {
        free(t->recompute_buf); /* nothing in it is needed any more */
        t->recompute_buf = xmalloc(n * sizeof(real), "the recompute buffer");
        t->recompute_cap = n;
    }
    return t->recompute_buf;
}

const real *tape_input(Tape *t, Tensor *x) {
    if (!x->recompute) return x->data;
    real *buf = tape_recompute_buffer(t, tensor_numel(x));
    x->recompute(x->recompute_ctx, buf);
    x->data = buf;
    return buf;
}

/* A recycled gradient buffer; the header lives in the buffer itself (arena
 * blocks are at least 64 bytes). */
typedef struct FreeGrad {
    struct FreeGrad *next;
    size_t bytes;
} FreeGrad;

void tape_reset(Tape *t) {
    t->count = 0;
    t->grad_free = NULL;
    arena_reset(t->arena);
}

static size_t grad_bytes(const Tensor *x) {
    const size_t b = tensor_numel(x) * sizeof(real);
    return (b + 63) & ~(size_t)63; /* the arena's rounding */
}

/* The smallest recycled buffer of at least `bytes`, unlinked; NULL if none. */
static void *take_free(Tape *t, size_t bytes) {
    FreeGrad **best = NULL;
    for (FreeGrad **p = (FreeGrad **)&t->grad_free; *p; p = &(*p)->next)
        if ((*p)->bytes >= bytes && (!best || (*p)->bytes < (*best)->bytes)) best = p;
    if (!best) return NULL;
    FreeGrad *f = *best;
    *best = f->next;
    return f;
}

static void give_free(Tape *t, void *block, size_t bytes) {
    FreeGrad *f = block;
    f->bytes = bytes;
    f->next = t->grad_free;
    t->grad_free = f;
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
    t->nodes[t->count].layer = profile_enabled() ? profile_layer() : NULL;
    t->nodes[t->count].out = NULL;
    t->count++;
}

void tape_node_output(Tape *t, Tensor *out) {
    if (t->recording && t->count > 0) t->nodes[t->count - 1].out = out;
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

/* Zeroes a gradient buffer; a large one on every thread (a step zeroes
 * about as many bytes of gradients as it holds activations). */
static void zero_bytes(void *p, size_t bytes) {
    const size_t chunk = (size_t)1 << 20;
    if (bytes < 4 * chunk) {
        memset(p, 0, bytes);
        return;
    }
    const long chunks = (long)((bytes + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
    for (long k = 0; k < chunks; k++) {
        const size_t lo = (size_t)k * chunk;
        memset((char *)p + lo, 0, bytes - lo < chunk ? bytes - lo : chunk);
    }
}

real *tape_grad(Tape *t, Tensor *x) {
    if (x->grad) return x->grad;
    const size_t bytes = tensor_numel(x) * sizeof(real);
    real *g = take_free(t, grad_bytes(x));
    if (!g) g = arena_alloc(t->arena, bytes);
    zero_bytes(g, bytes);
    x->grad = g;
    return g;
}

void tape_backward(Tape *t, Tensor *loss, real seed) {
    real *g = tape_grad(t, loss);
    size_t n = tensor_numel(loss);
    for (size_t i = 0; i < n; i++) g[i] += seed;
    for (int i = t->count - 1; i >= 0; i--) {
        const TapeNode *node = &t->nodes[i];
        const double start = profile_start();
        node->backward(t, node->ctx);
        profile_stop(start, node->op, node->layer, PROFILE_BACKWARD);
        Tensor *out = node->out;
        if (out && out->grad && out != loss) {
            give_free(t, out->grad, grad_bytes(out));
            out->grad = NULL;
        }
    }
}

void tape_named(Tape *t, const char *name, const Tensor *x) {
    if (t->dump) t->dump(t->dump_user, name, x);
}
