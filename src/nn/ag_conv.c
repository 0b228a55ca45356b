/* Autograd wrapper of the convolution kernels. */
#include "anomaly/ops/conv2d.h"
#include "anomaly/ops/depthwise.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "dispatch.h"

typedef struct ConvNode {
    Conv2dShape s;
    int depthwise;
    Tensor *x, *w, *b, *y;
    Tensor x_view, w_view, b_view; /* see keep() */
} ConvNode;

/* Parameter views (params_tensor) are usually temporaries on the caller's
 * stack, gone by backward time; their data and grad pointers are stable, so
 * the node keeps a copy. A tensor whose gradient will be allocated lazily
 * lives in the arena and is kept by pointer, so tape_grad() reaches the
 * tensor the rest of the graph sees. */
static Tensor *keep(Tensor *t, Tensor *view) {
    if (!t) return NULL;
    if (t->grad || !t->requires_grad) {
        *view = *t;
        return view;
    }
    return t;
}

/* Multiplies and adds of the forward pass (backward: as much per gradient). */
static double conv_flops(const Conv2dShape *s) {
    return 2.0 * s->n * s->oc * s->oh * s->ow * (double)(s->c / s->groups) * s->kh * s->kw;
}

static void conv_backward(Tape *t, void *ctx) {
    ConvNode *c = ctx;
    if (!c->y->grad) return; /* nothing downstream used the output */
    real *dx = c->x->requires_grad ? tape_grad(t, c->x) : NULL;
    real *dw = c->w->requires_grad ? tape_grad(t, c->w) : NULL;
    real *db = c->b && c->b->requires_grad ? tape_grad(t, c->b) : NULL;
    if (!dx && !dw && !db) return;
    profile_add_flops(conv_flops(&c->s) * ((dx != NULL) + (dw != NULL)));
    if (c->depthwise) {
        depthwise_conv2d_backward(dx, dw, db, c->y->grad, tape_input(t, c->x), c->w->data, &c->s);
        return;
    }
    ArenaMark m = arena_mark(t->arena);
    void *work = arena_alloc(t->arena, conv2d_backward_workspace_bytes(&c->s));
    conv2d_backward(dx, dw, db, c->y->grad, tape_input(t, c->x), c->w->data, &c->s, work);
    arena_release(t->arena, m);
}

/* y = conv(x): the forward kernels (the workspace on the arena's top). */
static void conv_run(Tape *t, real *y, const real *x, const real *w, const real *bias,
                     const Conv2dShape *s, int depthwise) {
    if (depthwise) {
        depthwise_conv2d_forward(y, x, w, bias, s);
        return;
    }
    ArenaMark m = arena_mark(t->arena);
    void *work = arena_alloc(t->arena, conv2d_forward_workspace_bytes(s));
    conv2d_forward(y, x, w, bias, s, work);
    arena_release(t->arena, m);
}

/* A transient output again, for tape_input(): the same kernels on the same
 * input and weights (not yet updated in backward), so the same bits. Its
 * time counts to the backward of the node that asked for it; its FLOPs are
 * not counted (profiles count the model's). */
static void conv_recompute(Tape *t, const void *ctx, real *out) {
    const ConvNode *c = ctx;
    conv_run(t, out, tape_input(t, c->x), c->w->data, c->b ? c->b->data : NULL, &c->s,
             c->depthwise);
}

static Tensor *conv_apply(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                          const Conv2dShape *shape, int transient) {
    if (!x || !w) fatal("conv layer %s: missing %s", name, x ? "weight" : "input");
    Conv2dShape s = *shape;
    s.n = x->n;
    s.c = x->c;
    s.h = x->h;
    s.w = x->w;
    char err[256];
    if (conv2d_shape_resolve(&s, err, sizeof err))
        fatal("conv layer %s (input [%d, %d, %d, %d]): %s", name, x->n, x->c, x->h, x->w, err);
    const int cg = s.c / s.groups;
    if (w->n != s.oc || w->c != cg || w->h != s.kh || w->w != s.kw)
        fatal("conv layer %s: weight is [%d, %d, %d, %d] but input [%d, %d, %d, %d] with %d "
              "groups and %d outputs needs [%d, %d, %d, %d]",
              name, w->n, w->c, w->h, w->w, x->n, x->c, x->h, x->w, s.groups, s.oc, s.oc, cg,
              s.kh, s.kw);
    if (b && tensor_numel(b) != (size_t)s.oc)
        fatal("conv layer %s: bias has %zu values, expected %d", name, tensor_numel(b), s.oc);

    transient = transient && t->recording;
    Tensor *y = transient ? tape_transient(t, TAPE_SLOT_CONV, s.n, s.oc, s.oh, s.ow)
                          : tape_tensor(t, s.n, s.oc, s.oh, s.ow);
    const int depthwise = s.groups == s.c && s.oc == s.c && s.dh == 1 && s.dw == 1;
    const double start = profile_start();
    conv_run(t, y->data, x->data, w->data, b ? b->data : NULL, &s, depthwise);
    profile_stop(start, depthwise ? "depthwise_conv2d" : "conv2d", name, PROFILE_FORWARD);
    profile_add_flops(conv_flops(&s));

    y->requires_grad = t->recording && (x->requires_grad || w->requires_grad ||
                                        (b && b->requires_grad));
    if (!y->requires_grad) return y;
    ConvNode *c = tape_ctx(t, sizeof *c);
    c->s = s;
    c->depthwise = depthwise;
    c->x = keep(x, &c->x_view);
    c->w = keep(w, &c->w_view);
    c->b = keep(b, &c->b_view);
    c->y = y;
    if (transient) {
        y->recompute = conv_recompute;
        y->recompute_ctx = c;
    }
    tape_push(t, depthwise ? "depthwise_conv2d" : "conv2d", conv_backward, c);
    tape_node_output(t, y);
    return y;
}

Tensor *ag_conv2d(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                  const Conv2dShape *shape) {
    return conv_apply(t, name, x, w, b, shape, 0);
}

Tensor *ag_conv2d_transient(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                            const Conv2dShape *shape) {
    return conv_apply(t, name, x, w, b, shape, 1);
}
