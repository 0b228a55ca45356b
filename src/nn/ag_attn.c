/* Autograd wrappers of the split-attention kernels. */
#include "anomaly/ops/attn.h"
#include "anomaly/ops/pool.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "dispatch.h"

#include <string.h>

typedef struct RadixCtx {
    Tensor *x, *attn, *out; /* attn: weighted sum only */
    int card, radix, inner; /* softmax: inner; sums: inner = c of the output */
} RadixCtx;

static RadixCtx *radix_ctx(Tape *t, Tensor *x, Tensor *attn, Tensor *out, int card, int radix,
                           int inner) {
    RadixCtx *c = tape_ctx(t, sizeof *c);
    c->x = x;
    c->attn = attn;
    c->out = out;
    c->card = card;
    c->radix = radix;
    c->inner = inner;
    return c;
}

/* ------------------------------------------------------------------------ */

static void radix_softmax_backward_node(Tape *t, void *p) {
    RadixCtx *c = p;
    if (!c->out->grad || !c->x->requires_grad) return;
    radix_softmax_backward(tape_grad(t, c->x), c->out->grad, c->out->data, c->x->n, c->card,
                           c->radix, c->inner);
}

Tensor *ag_radix_softmax(Tape *t, Tensor *x, int card, int radix) {
    int per = x->c * x->h * x->w;
    if (card <= 0 || radix <= 0 || per % (card * radix) != 0)
        fatal("radix softmax: %d values per sample do not split into %d groups of radix %d", per,
              card, radix);
    int inner = per / (card * radix);
    Tensor *out = tape_tensor(t, x->n, x->c, x->h, x->w);
    const double start = profile_start();
    radix_softmax_forward(out->data, x->data, x->n, card, radix, inner);
    profile_stop(start, "radix_softmax", NULL, PROFILE_FORWARD);
    out->requires_grad = t->recording && x->requires_grad;
    if (out->requires_grad) {
        tape_push(t, "radix_softmax", radix_softmax_backward_node,
                  radix_ctx(t, x, NULL, out, card, radix, inner));
        tape_node_output(t, out);
    }
    return out;
}

/* ------------------------------------------------------------------------ */

static void radix_sum_backward_node(Tape *t, void *p) {
    RadixCtx *c = p;
    if (!c->out->grad || !c->x->requires_grad) return;
    Tensor *o = c->out;
    radix_sum_backward(tape_grad(t, c->x), o->grad, o->n, c->radix, o->c, o->h * o->w);
}

Tensor *ag_radix_sum(Tape *t, Tensor *x, int radix) {
    if (radix <= 0 || x->c % radix != 0)
        fatal("radix sum: %d channels do not split into radix %d", x->c, radix);
    int c = x->c / radix;
    Tensor *out = tape_tensor(t, x->n, c, x->h, x->w);
    const double start = profile_start();
    radix_sum_forward(out->data, x->data, x->n, radix, c, x->h * x->w);
    profile_stop(start, "radix_sum", NULL, PROFILE_FORWARD);
    out->requires_grad = t->recording && x->requires_grad;
    if (out->requires_grad) {
        tape_push(t, "radix_sum", radix_sum_backward_node, radix_ctx(t, x, NULL, out, 1, radix, c));
        tape_node_output(t, out);
    }
    return out;
}

/* ------------------------------------------------------------------------ */

static void radix_sum_gap_backward_node(Tape *t, void *p) {
    RadixCtx *c = p;
    if (!c->out->grad || !c->x->requires_grad) return;
    const Tensor *x = c->x;
    const int n = x->n, hw = x->h * x->w;
    real *dx = tape_grad(t, c->x);
    /* the sum's gradient as the two nodes had it: zeroed, then the pool's */
    ArenaMark m = arena_mark(t->arena);
    const size_t count = (size_t)n * c->inner * hw;
    real *dsum = arena_alloc(t->arena, count * sizeof(real));
    memset(dsum, 0, count * sizeof(real));
    global_avgpool_backward(dsum, c->out->grad, n, c->inner, hw);
    radix_sum_backward(dx, dsum, n, c->radix, c->inner, hw);
    arena_release(t->arena, m);
}

Tensor *ag_radix_sum_gap(Tape *t, Tensor *x, int radix) {
    if (radix <= 0 || x->c % radix != 0)
        fatal("radix sum: %d channels do not split into radix %d", x->c, radix);
    const int c = x->c / radix, hw = x->h * x->w;
    Tensor *out = tape_tensor(t, x->n, c, 1, 1);
    ArenaMark m = arena_mark(t->arena);
    real *sum = arena_alloc(t->arena, (size_t)x->n * c * hw * sizeof(real));
    double start = profile_start();
    radix_sum_forward(sum, x->data, x->n, radix, c, hw);
    profile_stop(start, "radix_sum", NULL, PROFILE_FORWARD);
    start = profile_start();
    global_avgpool_forward(out->data, sum, x->n, c, hw);
    profile_stop(start, "global_avgpool", NULL, PROFILE_FORWARD);
    arena_release(t->arena, m);
    out->requires_grad = t->recording && x->requires_grad;
    if (out->requires_grad) {
        tape_push(t, "radix_sum+global_avgpool", radix_sum_gap_backward_node,
                  radix_ctx(t, x, NULL, out, 1, radix, c));
        tape_node_output(t, out);
    }
    return out;
}

/* ------------------------------------------------------------------------ */

static void radix_weighted_sum_backward_node(Tape *t, void *p) {
    RadixCtx *c = p;
    if (!c->out->grad) return;
    Tensor *o = c->out;
    real *dx = c->x->requires_grad ? tape_grad(t, c->x) : NULL;
    real *da = c->attn->requires_grad ? tape_grad(t, c->attn) : NULL;
    /* x may be recomputed in backward (ResNeSt's bn0 output): tape_input */
    radix_weighted_sum_backward(dx, da, o->grad, tape_input(t, c->x), c->attn->data, o->n,
                                c->radix, o->c, o->h * o->w);
}

Tensor *ag_radix_weighted_sum(Tape *t, Tensor *x, Tensor *attn, int radix) {
    if (radix <= 0 || x->c % radix != 0)
        fatal("radix weighted sum: %d channels do not split into radix %d", x->c, radix);
    if (attn->n != x->n || attn->c * attn->h * attn->w != x->c)
        fatal("radix weighted sum: attention [%d, %d, %d, %d] does not fit input [%d, %d, %d, %d]",
              attn->n, attn->c, attn->h, attn->w, x->n, x->c, x->h, x->w);
    int c = x->c / radix;
    Tensor *out = tape_tensor(t, x->n, c, x->h, x->w);
    const double start = profile_start();
    radix_weighted_sum_forward(out->data, x->data, attn->data, x->n, radix, c, x->h * x->w);
    profile_stop(start, "radix_weighted_sum", NULL, PROFILE_FORWARD);
    out->requires_grad = t->recording && (x->requires_grad || attn->requires_grad);
    if (out->requires_grad) {
        tape_push(t, "radix_weighted_sum", radix_weighted_sum_backward_node,
                  radix_ctx(t, x, attn, out, 1, radix, c));
        tape_node_output(t, out);
    }
    return out;
}
