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
    for (int s = 0; s < TAPE_RECOMPUTE_SLOTS; s++) {
        free(t->recompute_buf[s]);
        t->recompute_buf[s] = NULL;
        t->recompute_cap[s] = 0;
        t->recompute_owner[s] = NULL;
    }
}

/* Slot s's buffer for a new owner of n values. */
static real *slot_buffer(Tape *t, int s, size_t n) {
    if (s < 0 || s >= TAPE_RECOMPUTE_SLOTS) fatal("tape: no recompute slot %d", s);
    if (n > t->recompute_cap[s]) {
        free(t->recompute_buf[s]); /* nothing in it is needed any more */
        t->recompute_buf[s] = xmalloc(n * sizeof(real), "a recompute buffer");
        t->recompute_cap[s] = n;
    }
    t->recompute_owner[s] = NULL;
    return t->recompute_buf[s];
}

Tensor *tape_transient(Tape *t, int slot, int n, int c, int h, int w) {
    Tensor *x = tape_wrap(t, NULL, n, c, h, w);
    x->data = slot_buffer(t, slot, tensor_numel(x));
    x->recompute_slot = slot;
    x->requires_grad = t->recording;
    t->recompute_owner[slot] = x;
    return x;
}

const real *tape_input(Tape *t, Tensor *x) {
    if (!x->recompute) return x->data;
    const int s = x->recompute_slot;
    if (t->recompute_owner[s] == x) return x->data;
    if (t->recompute_busy[s])
        fatal("tape: recomputing a tensor needs recompute slot %d, which the tensor being "
              "recomputed uses", s);
    t->recompute_busy[s] = 1;
    real *buf = slot_buffer(t, s, tensor_numel(x));
    x->recompute(t, x->recompute_ctx, buf);
    t->recompute_busy[s] = 0;
    x->data = buf;
    t->recompute_owner[s] = x;
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
    /* the tensors of the last step are gone (their addresses come again) */
    for (int s = 0; s < TAPE_RECOMPUTE_SLOTS; s++) t->recompute_owner[s] = NULL;
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
    t->nodes[t->count].mark = arena_mark(t->arena);
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

static void spill_free(void *user, void *block, size_t bytes) {
    if (bytes >= sizeof(FreeGrad)) give_free(user, block, bytes);
}

real *tape_grad(Tape *t, Tensor *x) {
    if (x->grad) return x->grad;
    const size_t bytes = tensor_numel(x) * sizeof(real);
    real *g = take_free(t, grad_bytes(x));
    if (!g && t->in_backward)
        g = arena_take_below(t->arena, t->dead_floor, &t->dead_frontier, bytes, spill_free, t);
    if (!g) g = arena_alloc(t->arena, bytes);
    zero_bytes(g, bytes);
    x->grad = g;
    return g;
}

void tape_backward(Tape *t, Tensor *loss, real seed) {
    /* Nothing is dead yet: the range starts empty at the last node's push.
     * What was allocated after it (copies the caller keeps) is never
     * reused. */
    t->dead_frontier = t->dead_floor = t->count ? t->nodes[t->count - 1].mark : arena_mark(t->arena);
    real *g = tape_grad(t, loss);
    size_t n = tensor_numel(loss);
    for (size_t i = 0; i < n; i++) g[i] += seed;
    t->in_backward = !t->no_reuse;
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
        if (i > 0) {
            /* what nodes i.. allocated after node i-1's push is dead now */
            const ArenaMark floor = t->nodes[i - 1].mark;
            if (t->poison_dead) arena_fill_between(t->arena, floor, t->dead_floor, 0xff);
            t->dead_floor = floor;
        }
    }
    t->in_backward = 0;
}

void tape_named(Tape *t, const char *name, const Tensor *x) {
    if (t->dump) t->dump(t->dump_user, name, x);
}
