/* Autograd wrappers of the elementwise kernels. */
#include "anomaly/ops/elementwise.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "dispatch.h"

#include <string.h>

static int same_shape(const Tensor *a, const Tensor *b) {
    return a->n == b->n && a->c == b->c && a->h == b->h && a->w == b->w;
}

/* ------------------------------------------------------------------------ */

typedef struct AddCtx {
    Tensor *a, *b, *out;
} AddCtx;

static void add_backward_node(Tape *t, void *p) {
    AddCtx *c = p;
    if (!c->out->grad) return;
    /* With a == b both calls return one buffer, which then gets dout twice. */
    real *da = c->a->requires_grad ? tape_grad(t, c->a) : NULL;
    real *db = c->b->requires_grad ? tape_grad(t, c->b) : NULL;
    add_backward(da, db, c->out->grad, tensor_numel(c->out));
}

/* With `inplace` (inference only) the sum overwrites a and is a. */
static Tensor *add_apply(Tape *t, Tensor *a, Tensor *b, int inplace) {
    if (!same_shape(a, b))
        fatal("add: shapes differ: [%d, %d, %d, %d] and [%d, %d, %d, %d]", a->n, a->c, a->h,
              a->w, b->n, b->c, b->h, b->w);
    Tensor *out = inplace ? a : tape_tensor(t, a->n, a->c, a->h, a->w);
    const double start = profile_start();
    add_forward(out->data, a->data, b->data, tensor_numel(a));
    profile_stop(start, "add", NULL, PROFILE_FORWARD);
    if (inplace) return out;
    out->requires_grad = t->recording && (a->requires_grad || b->requires_grad);
    if (out->requires_grad) {
        AddCtx *c = tape_ctx(t, sizeof *c);
        c->a = a;
        c->b = b;
        c->out = out;
        tape_push(t, "add", add_backward_node, c);
        tape_node_output(t, out);
    }
    return out;
}

Tensor *ag_add(Tape *t, Tensor *a, Tensor *b) { return add_apply(t, a, b, 0); }

Tensor *ag_add_inplace(Tape *t, Tensor *a, Tensor *b) { return add_apply(t, a, b, !t->recording); }

/* ------------------------------------------------------------------------ */

typedef struct ChannelScaleCtx {
    Tensor *x, *s, *out;
} ChannelScaleCtx;

static void channel_scale_backward_node(Tape *t, void *p) {
    ChannelScaleCtx *c = p;
    if (!c->out->grad) return;
    Tensor *x = c->x;
    real *dx = x->requires_grad ? tape_grad(t, x) : NULL;
    real *ds = c->s->requires_grad ? tape_grad(t, c->s) : NULL;
    channel_scale_backward(dx, ds, c->out->grad, x->data, c->s->data, x->n, x->c, x->h * x->w);
}

/* With `inplace` (inference only) the product overwrites x and is x. */
static Tensor *channel_scale_apply(Tape *t, Tensor *x, Tensor *s, int inplace) {
    if (s->n != x->n || s->c != x->c || s->h != 1 || s->w != 1)
        fatal("channel scale: scale [%d, %d, %d, %d] does not fit input [%d, %d, %d, %d]", s->n,
              s->c, s->h, s->w, x->n, x->c, x->h, x->w);
    Tensor *out = inplace ? x : tape_tensor(t, x->n, x->c, x->h, x->w);
    const double start = profile_start();
    channel_scale_forward(out->data, x->data, s->data, x->n, x->c, x->h * x->w);
    profile_stop(start, "channel_scale", NULL, PROFILE_FORWARD);
    if (inplace) return out;
    out->requires_grad = t->recording && (x->requires_grad || s->requires_grad);
    if (out->requires_grad) {
        ChannelScaleCtx *c = tape_ctx(t, sizeof *c);
        c->x = x;
        c->s = s;
        c->out = out;
        tape_push(t, "channel_scale", channel_scale_backward_node, c);
        tape_node_output(t, out);
    }
    return out;
}

Tensor *ag_channel_scale(Tape *t, Tensor *x, Tensor *s) { return channel_scale_apply(t, x, s, 0); }

Tensor *ag_channel_scale_inplace(Tape *t, Tensor *x, Tensor *s) {
    return channel_scale_apply(t, x, s, !t->recording);
}

/* ------------------------------------------------------------------------ */

/* Dropout and drop-connect share one context: a private copy of the mask
 * (the caller's buffer may be reused before backward) and the factor. */
typedef struct MaskCtx {
    Tensor *x, *out;
    uint8_t *mask;
    real factor; /* dropout: scale; drop-connect: rate */
} MaskCtx;

static MaskCtx *mask_ctx(Tape *t, Tensor *x, Tensor *out, const uint8_t *mask, size_t count,
                         real factor) {
    MaskCtx *c = tape_ctx(t, sizeof *c);
    c->x = x;
    c->out = out;
    c->mask = tape_ctx(t, count);
    memcpy(c->mask, mask, count);
    c->factor = factor;
    return c;
}

static void dropout_backward_node(Tape *t, void *p) {
    MaskCtx *c = p;
    if (!c->out->grad || !c->x->requires_grad) return;
    dropout_backward(tape_grad(t, c->x), c->out->grad, c->mask, c->factor, tensor_numel(c->x));
}

Tensor *ag_dropout(Tape *t, Tensor *x, const uint8_t *mask, real p) {
    if (!(p >= 0 && p <= 1)) fatal("dropout: rate %g is outside [0, 1]", (double)p);
    if (!t->training || p == 0) return x;
    /* PyTorch divides the 0/1 noise by (1 - p), a double rounded to the
     * tensor's type; p = 1 keeps nothing. */
    real scale = p < 1 ? (real)1 / (real)(1.0 - (double)p) : 0;
    size_t count = tensor_numel(x);
    Tensor *out = tape_tensor(t, x->n, x->c, x->h, x->w);
    const double start = profile_start();
    dropout_forward(out->data, x->data, mask, scale, count);
    profile_stop(start, "dropout", NULL, PROFILE_FORWARD);
    out->requires_grad = t->recording && x->requires_grad;
    if (out->requires_grad) {
        tape_push(t, "dropout", dropout_backward_node, mask_ctx(t, x, out, mask, count, scale));
        tape_node_output(t, out);
    }
    return out;
}

static void drop_connect_backward_node(Tape *t, void *p) {
    MaskCtx *c = p;
    if (!c->out->grad || !c->x->requires_grad) return;
    Tensor *x = c->x;
    drop_connect_backward(tape_grad(t, x), c->out->grad, c->mask, c->factor, x->n,
                          (size_t)x->c * x->h * x->w);
}

Tensor *ag_drop_connect(Tape *t, Tensor *x, const uint8_t *keep, real rate) {
    if (!(rate >= 0 && rate < 1)) fatal("drop-connect: rate %g is outside [0, 1)", (double)rate);
    if (!t->training || rate == 0) return x;
    Tensor *out = tape_tensor(t, x->n, x->c, x->h, x->w);
    const double start = profile_start();
    drop_connect_forward(out->data, x->data, keep, rate, x->n, (size_t)x->c * x->h * x->w);
    profile_stop(start, "drop_connect", NULL, PROFILE_FORWARD);
    out->requires_grad = t->recording && x->requires_grad;
    if (out->requires_grad) {
        tape_push(t, "drop_connect", drop_connect_backward_node,
                  mask_ctx(t, x, out, keep, (size_t)x->n, rate));
        tape_node_output(t, out);
    }
    return out;
}

/* ------------------------------------------------------------------------ */

typedef struct L2NormCtx {
    Tensor *x, *out;
    real eps;
} L2NormCtx;

static void l2norm_backward_node(Tape *t, void *p) {
    L2NormCtx *c = p;
    if (!c->out->grad || !c->x->requires_grad) return;
    Tensor *x = c->x;
    l2norm_rows_backward(tape_grad(t, x), c->out->grad, x->data, x->n, x->c * x->h * x->w,
                         c->eps);
}

Tensor *ag_l2norm_rows(Tape *t, Tensor *x, real eps) {
    Tensor *out = tape_tensor(t, x->n, x->c, x->h, x->w);
    l2norm_rows_forward(out->data, x->data, x->n, x->c * x->h * x->w, eps);
    out->requires_grad = t->recording && x->requires_grad;
    if (out->requires_grad) {
        L2NormCtx *c = tape_ctx(t, sizeof *c);
        c->x = x;
        c->out = out;
        c->eps = eps;
        tape_push(t, "l2norm_rows", l2norm_backward_node, c);
        tape_node_output(t, out);
    }
    return out;
}
