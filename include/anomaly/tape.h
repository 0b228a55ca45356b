/* Reverse-mode autograd by a tape of recorded ops.
 *
 * Autograd wrappers (ag_* functions, declared beside each kernel family in
 * include/anomaly/ops/) compute the forward kernel, allocate their output in
 * the tape's arena, and, when the tape records, push a node holding a
 * backward function and a small context (also in the arena). tape_backward()
 * replays the nodes in reverse. Backward functions ACCUMULATE into gradients
 * (+=), so a tensor used twice (a residual) just receives two contributions.
 *
 * Gradients of activations are allocated lazily (zeroed) by tape_grad(), and
 * recycled once the op that produced the activation has run its backward
 * (tape_node_output), so a step holds only the gradients in use. They are
 * placed in activations that died: once node i's backward has run, nothing
 * the arena handed out after node i-1 was pushed is read again (every op
 * allocates its output and context before it pushes its node, and a node
 * reads only its own context, its output and its inputs, all older), so
 * tape_grad takes new gradient buffers from there before growing the arena
 * (arena_take_below): the peak of a step is about its forward activations,
 * not those plus every gradient. So every activation, the logits and the
 * loss included, is gone after tape_backward: read them before, or copy
 * them into the arena after the last node was pushed (never reused). With
 * recording off (inference) no node is pushed and nothing is saved for
 * backward. */
#ifndef ANOMALY_TAPE_H
#define ANOMALY_TAPE_H

#include "arena.h"
#include "tensor.h"

typedef struct Tape Tape;

/* The recompute buffers (tape_transient): convolution outputs, and
 * BatchNorm + activation outputs. */
enum { TAPE_SLOT_CONV, TAPE_SLOT_ACT, TAPE_RECOMPUTE_SLOTS };
typedef void (*TapeBackwardFn)(Tape *tape, void *ctx);

typedef struct TapeNode {
    TapeBackwardFn backward;
    void *ctx;
    const char *op;    /* op name, for profiles and error messages */
    const char *layer; /* profile_layer() when pushed (NULL unless profiling) */
    Tensor *out;       /* the node's output (tape_node_output), or NULL */
    ArenaMark mark;    /* the arena when the node was pushed */
} TapeNode;

/* Called with every named module output when set (the --dump hook). */
typedef void (*TapeDumpFn)(void *user, const char *name, const Tensor *t);

struct Tape {
    Arena *arena;
    TapeNode *nodes;
    int count, cap;
    int recording;  /* 1: push nodes (training); 0: inference */
    int training;   /* 1: train-mode semantics (BN batch stats, dropout) */
    TapeDumpFn dump;
    void *dump_user;
    void *grad_free; /* recycled gradient buffers (see tape_node_output) */
    /* see tape_transient */
    real *recompute_buf[TAPE_RECOMPUTE_SLOTS];
    size_t recompute_cap[TAPE_RECOMPUTE_SLOTS];
    const Tensor *recompute_owner[TAPE_RECOMPUTE_SLOTS]; /* whose values it holds */
    int recompute_busy[TAPE_RECOMPUTE_SLOTS];
    /* During tape_backward: the arena between dead_floor and dead_frontier
     * is free (see tape_backward). For tests: poison_dead fills what dies
     * with NaN bytes so that a read of it shows; no_reuse leaves it alone
     * (what the reuse saves). */
    int in_backward;
    ArenaMark dead_floor, dead_frontier;
    int poison_dead, no_reuse;
};

void tape_init(Tape *t, Arena *arena);
void tape_free(Tape *t);
/* Forgets all nodes and resets the arena (keeps capacity: no malloc later). */
void tape_reset(Tape *t);

/* Pushes a node; ctx must live in the tape's arena (use tape_ctx). */
void tape_push(Tape *t, const char *op, TapeBackwardFn fn, void *ctx);
/* Names the output of the node just pushed. Once that node's backward has
 * run nothing reads out's gradient any more, so tape_backward recycles the
 * buffer for later tape_grad calls and sets out->grad to NULL: the step then
 * holds only the gradients still in use, not one per activation. out must
 * be a tensor the op made (tape_tensor), never an input or a parameter. */
void tape_node_output(Tape *t, Tensor *out);

/* Zeroed context storage in the arena. */
void *tape_ctx(Tape *t, size_t bytes);

/* A new activation tensor in the arena (data uninitialised). requires_grad
 * is set when the tape records. */
Tensor *tape_tensor(Tape *t, int n, int c, int h, int w);
/* A new tensor viewing existing data (e.g. inputs); requires_grad = 0. */
Tensor *tape_wrap(Tape *t, real *data, int n, int c, int h, int w);
/* Gradient buffer of x, allocated zeroed on first use (reusing a recycled
 * buffer when one is large enough). */
real *tape_grad(Tape *t, Tensor *x);

/* Activations recomputed in backward instead of kept. tape_transient makes
 * a tensor whose data is the tape's recompute buffer `slot`; the op sets its
 * recompute function. It lives only until the next tensor of the same slot
 * is made, so its consumers must read it right away in forward and fetch it
 * with tape_input() in backward. A recompute function may fetch its own
 * inputs with tape_input() as long as they are of the other slot (or kept),
 * and a backward needs at most one recomputed input at a time. The buffers
 * grow during the first step only. */
Tensor *tape_transient(Tape *t, int slot, int n, int c, int h, int w);
/* x->data; when x->recompute is set and its slot holds another tensor's
 * values, recomputed into the slot first (the slot remembers whose values it
 * holds, so consumers in a row recompute once). */
const real *tape_input(Tape *t, Tensor *x);

/* Seeds loss->grad with `seed` (usually 1) and runs all nodes in reverse. */
void tape_backward(Tape *t, Tensor *loss, real seed);

/* Reports a named module output to the dump hook, if any. */
void tape_named(Tape *t, const char *name, const Tensor *x);

#endif
