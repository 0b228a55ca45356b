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
 * (tape_node_output), so a step holds only the gradients in use. With
 * recording off (inference) no node is pushed and nothing is saved for
 * backward. */
#ifndef ANOMALY_TAPE_H
#define ANOMALY_TAPE_H

#include "arena.h"
#include "tensor.h"

typedef struct Tape Tape;
typedef void (*TapeBackwardFn)(Tape *tape, void *ctx);

typedef struct TapeNode {
    TapeBackwardFn backward;
    void *ctx;
    const char *op;    /* op name, for profiles and error messages */
    const char *layer; /* profile_layer() when pushed (NULL unless profiling) */
    Tensor *out;       /* the node's output (tape_node_output), or NULL */
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
    real *recompute_buf; /* see tape_recompute_buffer */
    size_t recompute_cap;
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

/* Activations recomputed in backward instead of kept: a tensor made with
 * tape_recompute_buffer() as data and a recompute function lives only until
 * the next such tensor is made, so its one consumer must read it right away
 * in forward and fetch it with tape_input() in backward (the consumers'
 * backward runs in reverse order, so each recomputes over the one before).
 * The buffer grows during the first step only. */
real *tape_recompute_buffer(Tape *t, size_t n);
/* x->data, recomputed into the shared buffer first when x->recompute is set. */
const real *tape_input(Tape *t, Tensor *x);

/* Seeds loss->grad with `seed` (usually 1) and runs all nodes in reverse. */
void tape_backward(Tape *t, Tensor *loss, real seed);

/* Reports a named module output to the dump hook, if any. */
void tape_named(Tape *t, const char *name, const Tensor *x);

#endif
