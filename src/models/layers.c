/* Layer registration, application and PyTorch-default initialisation. */
#include "anomaly/layers.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int add_param(ParamTable *t, ParamKind kind, int ndim, const int *shape, const char *fmt,
                     const char *base) {
    char name[PARAM_NAME_MAX];
    snprintf(name, sizeof name, fmt, base);
    return params_add(t, name, kind, ndim, shape);
}

void conv_register(Conv *c, ParamTable *t, const char *name, int in, int out, int k, int stride,
                   int pad, int groups, int bias) {
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", name);
    c->in = in;
    c->out = out;
    c->kh = c->kw = k;
    c->stride = stride;
    c->dilation = 1;
    c->groups = groups;
    c->pad_t = c->pad_b = c->pad_l = c->pad_r = pad;
    int shape[4] = {out, in / groups, k, k};
    c->weight = add_param(t, PARAM_TRAINABLE, 4, shape, "%s.weight", name);
    c->bias = bias ? add_param(t, PARAM_TRAINABLE, 1, &out, "%s.bias", name) : -1;
}

void same_pads(int i, int k, int s, int d, int *before, int *after) {
    int o = (i + s - 1) / s;
    int pad = (o - 1) * s + (k - 1) * d + 1 - i;
    if (pad < 0) pad = 0;
    *before = pad / 2;
    *after = pad - pad / 2;
}

void conv_set_static_same(Conv *c, int image_size) {
    same_pads(image_size, c->kh, c->stride, c->dilation, &c->pad_t, &c->pad_b);
    same_pads(image_size, c->kw, c->stride, c->dilation, &c->pad_l, &c->pad_r);
    c->same_dynamic = 0;
}

/* The layer's shape for input x (SAME padding resolved). */
static Conv2dShape conv_shape(const Conv *c, const Tensor *x) {
    Conv2dShape s;
    memset(&s, 0, sizeof s);
    s.n = x->n;
    s.c = x->c;
    s.h = x->h;
    s.w = x->w;
    s.oc = c->out;
    s.kh = c->kh;
    s.kw = c->kw;
    s.sh = s.sw = c->stride;
    s.dh = s.dw = c->dilation;
    s.groups = c->groups;
    if (c->same_dynamic) {
        same_pads(x->h, c->kh, c->stride, c->dilation, &s.pad_t, &s.pad_b);
        same_pads(x->w, c->kw, c->stride, c->dilation, &s.pad_l, &s.pad_r);
    } else {
        s.pad_t = c->pad_t;
        s.pad_b = c->pad_b;
        s.pad_l = c->pad_l;
        s.pad_r = c->pad_r;
    }
    return s;
}

static Tensor *conv_apply_impl(Tape *t, const ParamTable *p, const Conv *c, Tensor *x,
                               int transient) {
    const Conv2dShape s = conv_shape(c, x);
    Tensor w = params_tensor(p, c->weight);
    Tensor b, *bp = NULL;
    if (c->bias >= 0) {
        b = params_tensor(p, c->bias);
        bp = &b;
    }
    /* ag_conv2d keeps pointers to w and b for backward: copy them into the arena. */
    Tensor *wa = arena_alloc(t->arena, sizeof *wa);
    *wa = w;
    Tensor *ba = NULL;
    if (bp) {
        ba = arena_alloc(t->arena, sizeof *ba);
        *ba = b;
    }
    Tensor *y = transient ? ag_conv2d_transient(t, c->name, x, wa, ba, &s)
                          : ag_conv2d(t, c->name, x, wa, ba, &s);
    tape_named(t, c->name, y);
    return y;
}

Tensor *conv_apply(Tape *t, const ParamTable *p, const Conv *c, Tensor *x) {
    return conv_apply_impl(t, p, c, x, 0);
}

Tensor *conv_apply_transient(Tape *t, const ParamTable *p, const Conv *c, Tensor *x) {
    /* a --dump or Grad-CAM hook may hold on to the output: keep it then */
    return conv_apply_impl(t, p, c, x, !t->dump);
}

void bn_register(BatchNorm *b, ParamTable *t, const char *name, int c, real eps, real momentum) {
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->weight = add_param(t, PARAM_TRAINABLE, 1, &c, "%s.weight", name);
    b->bias = add_param(t, PARAM_TRAINABLE, 1, &c, "%s.bias", name);
    b->running_mean = add_param(t, PARAM_BUFFER, 1, &c, "%s.running_mean", name);
    b->running_var = add_param(t, PARAM_BUFFER, 1, &c, "%s.running_var", name);
    b->num_batches_tracked = add_param(t, PARAM_COUNTER, 0, NULL, "%s.num_batches_tracked", name);
    b->eps = eps;
    b->momentum = momentum;
}

/* gamma and beta as tensors in the arena: the ag_ ops keep them by pointer
 * until backward. */
static void bn_param_views(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor **g,
                           Tensor **be) {
    *g = arena_alloc(t->arena, sizeof **g);
    *be = arena_alloc(t->arena, sizeof **be);
    **g = params_tensor(p, b->weight);
    **be = params_tensor(p, b->bias);
}

Tensor *bn_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x) {
    Tensor *g, *be;
    bn_param_views(t, p, b, &g, &be);
    /* x is a convolution's output that only this BatchNorm reads:
     * inference overwrites it (named above, so a dump has it already) */
    Tensor *y = ag_batchnorm2d_inplace(t, b->name, x, g, be, params_data(p, b->running_mean),
                                       params_data(p, b->running_var),
                                       params_counter(p, b->num_batches_tracked), b->eps,
                                       b->momentum);
    tape_named(t, b->name, y);
    return y;
}

/* Inference without --dump: the tape keeps nothing, so the eval-only
 * one-pass ops may run. */
static int lean_inference(const Tape *t) { return !t->dump && !t->training && !t->recording; }

/* act(bn(x)) as one op in training without --dump (kept, or transient). */
static Tensor *bn_act_fused_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x,
                                  BnAct act, int transient) {
    Tensor *g, *be;
    if (lean_inference(t)) { /* one pass over x instead of two */
        bn_param_views(t, p, b, &g, &be);
        return ag_batchnorm2d_act_eval_inplace(t, b->name, x, g, be,
                                               params_data(p, b->running_mean),
                                               params_data(p, b->running_var), b->eps, act);
    }
    if (t->dump || !t->training) {
        Tensor *y = bn_apply(t, p, b, x);
        return act == BN_ACT_SWISH ? ag_swish_inplace(t, y) : ag_relu_inplace(t, y);
    }
    bn_param_views(t, p, b, &g, &be);
    return (transient ? ag_batchnorm2d_act_transient : ag_batchnorm2d_act)(
        t, b->name, x, g, be, params_data(p, b->running_mean), params_data(p, b->running_var),
        params_counter(p, b->num_batches_tracked), b->eps, b->momentum, act);
}

Tensor *bn_act_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x, BnAct act) {
    return bn_act_fused_apply(t, p, b, x, act, 0);
}

Tensor *bn_act_apply_transient(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x,
                               BnAct act) {
    return bn_act_fused_apply(t, p, b, x, act, 1);
}

Tensor *conv_bn_act_apply(Tape *t, const ParamTable *p, const Conv *c, const BatchNorm *b,
                          Tensor *x, BnAct act, int flags) {
    if (!lean_inference(t)) {
        Tensor *y = (flags & CONV_TRANSIENT ? conv_apply_transient : conv_apply)(t, p, c, x);
        return (flags & BN_TRANSIENT ? bn_act_apply_transient : bn_act_apply)(t, p, b, y, act);
    }
    /* inference: one kernel, the convolution's output never in memory */
    const Conv2dShape s = conv_shape(c, x);
    Tensor w = params_tensor(p, c->weight), bias, *bp = NULL, *g, *be;
    if (c->bias >= 0) {
        bias = params_tensor(p, c->bias);
        bp = &bias;
    }
    bn_param_views(t, p, b, &g, &be);
    return ag_conv2d_bn_act_eval(t, c->name, x, &w, bp, &s, g, be,
                                 params_data(p, b->running_mean), params_data(p, b->running_var),
                                 b->eps, act);
}

Tensor *bn_add_relu_apply(Tape *t, const ParamTable *p, const BatchNorm *b, Tensor *x,
                          Tensor *res) {
    if (t->dump || !t->training) /* inference: in place, res is only read */
        return ag_relu_inplace(t, ag_add_inplace(t, bn_apply(t, p, b, x), res));
    Tensor *g, *be;
    bn_param_views(t, p, b, &g, &be);
    return ag_batchnorm2d_add_relu(t, b->name, x, res, g, be, params_data(p, b->running_mean),
                                   params_data(p, b->running_var),
                                   params_counter(p, b->num_batches_tracked), b->eps,
                                   b->momentum);
}

void linear_register(Linear *l, ParamTable *t, const char *name, int in, int out, int bias) {
    memset(l, 0, sizeof *l);
    snprintf(l->name, sizeof l->name, "%s", name);
    l->in = in;
    l->out = out;
    int shape[2] = {out, in};
    l->weight = add_param(t, PARAM_TRAINABLE, 2, shape, "%s.weight", name);
    l->bias = bias ? add_param(t, PARAM_TRAINABLE, 1, &out, "%s.bias", name) : -1;
}

Tensor *linear_apply(Tape *t, const ParamTable *p, const Linear *l, Tensor *x) {
    Tensor *w = arena_alloc(t->arena, sizeof *w), *b = NULL;
    *w = params_tensor(p, l->weight);
    if (l->bias >= 0) {
        b = arena_alloc(t->arena, sizeof *b);
        *b = params_tensor(p, l->bias);
    }
    Tensor *y = ag_linear(t, l->name, x, w, b);
    tape_named(t, l->name, y);
    return y;
}

void layer_named(Tape *t, const Tensor *x, const char *fmt, ...) {
    if (!t->dump) return;
    char name[LAYER_NAME_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    tape_named(t, name, x);
}

static void uniform_fill(real *w, size_t n, double bound, Rng *r) {
    for (size_t i = 0; i < n; i++) w[i] = (real)rng_range(r, -bound, bound);
}

void conv_init(const ParamTable *p, const Conv *c, Rng *r) {
    int fan_in = (c->in / c->groups) * c->kh * c->kw;
    double bound = 1.0 / sqrt((double)fan_in);
    uniform_fill(params_data(p, c->weight), p->entries[c->weight].numel, bound, r);
    if (c->bias >= 0) uniform_fill(params_data(p, c->bias), (size_t)c->out, bound, r);
}

void bn_init(const ParamTable *p, const BatchNorm *b) {
    size_t n = p->entries[b->weight].numel;
    real *w = params_data(p, b->weight), *bias = params_data(p, b->bias);
    real *mean = params_data(p, b->running_mean), *var = params_data(p, b->running_var);
    for (size_t i = 0; i < n; i++) {
        w[i] = 1;
        bias[i] = 0;
        mean[i] = 0;
        var[i] = 1;
    }
    *params_counter(p, b->num_batches_tracked) = 0;
}

void linear_init(const ParamTable *p, const Linear *l, Rng *r) {
    double bound = 1.0 / sqrt((double)l->in);
    uniform_fill(params_data(p, l->weight), (size_t)l->in * (size_t)l->out, bound, r);
    if (l->bias >= 0) uniform_fill(params_data(p, l->bias), (size_t)l->out, bound, r);
}

void xavier_uniform(real *w, int fan_out, int fan_in, Rng *r) {
    uniform_fill(w, (size_t)fan_out * (size_t)fan_in, sqrt(6.0 / (fan_in + fan_out)), r);
}

Tensor *dropout_apply(Tape *t, Model *m, Tensor *x, double p) {
    if (!t->training || p <= 0) return x;
    size_t n = tensor_numel(x);
    uint8_t *mask = arena_alloc(t->arena, n);
    for (size_t i = 0; i < n; i++) mask[i] = rng_uniform(&m->rng) >= p;
    return ag_dropout(t, x, mask, (real)p);
}

Tensor *drop_connect_apply(Tape *t, Model *m, Tensor *x, double rate) {
    if (!t->training || rate <= 0) return x;
    uint8_t *keep = arena_alloc(t->arena, (size_t)x->n);
    /* lukemelas: floor(keep_prob + U[0,1)) keeps a sample when U >= rate. */
    for (int i = 0; i < x->n; i++) keep[i] = rng_uniform(&m->rng) >= rate;
    return ag_drop_connect(t, x, keep, (real)rate);
}

Tensor *keep_only(Tape *t, ArenaMark mark, Tensor *x) {
    if (t->recording) return x;
    /* Park the output outside the arena, free the block's temporaries, and
     * bring the output back at the mark. */
    size_t bytes = tensor_numel(x) * sizeof(real);
    real *parked = xmalloc(bytes, "a block output");
    memcpy(parked, x->data, bytes);
    Tensor keep = *x;
    arena_release(t->arena, mark);
    Tensor *y = arena_alloc(t->arena, sizeof *y);
    *y = keep;
    y->data = arena_alloc(t->arena, bytes);
    y->grad = NULL;
    memcpy(y->data, parked, bytes);
    free(parked);
    return y;
}
