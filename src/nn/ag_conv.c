/* Autograd wrapper of the convolution kernels. */
#include "anomaly/ops/conv2d.h"
#include "anomaly/ops/depthwise.h"
#include "anomaly/ops/fused.h"
#include "anomaly/error.h"
#include "anomaly/kernel_device.h"
#include "anomaly/profile.h"
#include "ag_fuse.h"
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

/* The shape of conv(x) with w and b, checked: fatal() naming the layer. */
static Conv2dShape conv_resolve(const char *name, const Tensor *x, const Tensor *w,
                                const Tensor *b, const Conv2dShape *shape) {
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
    return s;
}

static int is_depthwise(const Conv2dShape *s) {
    return s->groups == s->c && s->oc == s->c && s->dh == 1 && s->dw == 1;
}

static Tensor *conv_apply(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                          const Conv2dShape *shape, int transient) {
    const Conv2dShape s = conv_resolve(name, x, w, b, shape);
    transient = transient && t->recording;
    Tensor *y = transient ? tape_transient(t, TAPE_SLOT_CONV, s.n, s.oc, s.oh, s.ow)
                          : tape_tensor(t, s.n, s.oc, s.oh, s.ow);
    const int depthwise = is_depthwise(&s);
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

/* ---- inference: convolution + BatchNorm + activation -------------------- */

Tensor *ag_conv2d_bn_act_eval(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b,
                              const Conv2dShape *shape, Tensor *gamma, Tensor *beta,
                              const real *running_mean, const real *running_var, real eps,
                              BnAct act) {
    if (!name) name = "(unnamed)";
    if (act != BN_ACT_SWISH && act != BN_ACT_RELU)
        fatal("conv layer %s: unknown activation %d", name, (int)act);
    if (t->recording || t->training)
        fatal("conv layer %s: the fused eval op is for inference only", name);
    const Conv2dShape s = conv_resolve(name, x, w, b, shape);
    Tensor *y = tape_tensor(t, s.n, s.oc, s.oh, s.ow);
    const BatchNormShape bs = ag_bn_shape(name, y, gamma, beta, running_mean, running_var, eps,
                                          0, 0);
    const int depthwise = is_depthwise(&s);
    ArenaMark m = arena_mark(t->arena);
    real *affine = arena_alloc(t->arena, 2 * (size_t)s.oc * sizeof(real));
    batchnorm2d_eval_affine(affine, gamma->data, beta->data, running_mean, running_var, &bs);
    const double start = profile_start();
    if (kernel_device_is_cuda()) { /* the twins of the two kernels */
        conv_run(t, y->data, x->data, w->data, b ? b->data : NULL, &s, depthwise);
        batchnorm2d_act_recompute(y->data, y->data, affine, &bs, act);
    } else if (depthwise) {
        depthwise_conv2d_forward_bn_act(y->data, x->data, w->data, b ? b->data : NULL, &s,
                                        affine, act);
    } else {
        void *work = arena_alloc(t->arena, conv2d_forward_workspace_bytes(&s));
        conv2d_forward_bn_act(y->data, x->data, w->data, b ? b->data : NULL, &s, work, affine,
                              act);
    }
    profile_stop(start,
                 depthwise ? (act == BN_ACT_SWISH ? "depthwise_conv2d+bn+swish"
                                                  : "depthwise_conv2d+bn+relu")
                           : (act == BN_ACT_SWISH ? "conv2d+bn+swish" : "conv2d+bn+relu"),
                 name, PROFILE_FORWARD);
    profile_add_flops(conv_flops(&s));
    arena_release(t->arena, m);
    return y;
}
