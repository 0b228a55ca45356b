/* Autograd wrappers of the fully connected layer and the cosine (ArcFace)
 * head. */
#include "anomaly/ops/linear.h"
#include "anomaly/ops/elementwise.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "dispatch.h"

typedef struct LinearCtx {
    Tensor *x, *w, *b, *out; /* b may be NULL */
    int n, in_f, out_f;
} LinearCtx;

static void linear_backward_node(Tape *t, void *p) {
    LinearCtx *c = p;
    if (!c->out->grad) return; /* the output did not reach the loss */
    real *dx = c->x->requires_grad ? tape_grad(t, c->x) : NULL;
    real *dw = c->w->requires_grad ? tape_grad(t, c->w) : NULL;
    real *db = c->b && c->b->requires_grad ? tape_grad(t, c->b) : NULL;
    linear_backward(dx, dw, db, c->out->grad, c->x->data, c->w->data, c->n, c->in_f, c->out_f);
    profile_add_flops(2.0 * c->n * c->in_f * c->out_f * ((dx != NULL) + (dw != NULL)));
}

Tensor *ag_linear(Tape *t, const char *name, Tensor *x, Tensor *w, Tensor *b) {
    int n = x->n, in_f = x->c * x->h * x->w;
    int out_f = w->n, w_in = w->c * w->h * w->w;
    if (w_in != in_f)
        fatal("%s: input has %d features ([%d, %d, %d, %d]) but the weight [%d, %d] expects %d",
              name, in_f, x->n, x->c, x->h, x->w, out_f, w_in, w_in);
    if (b && tensor_numel(b) != (size_t)out_f)
        fatal("%s: bias has %zu values for %d outputs", name, tensor_numel(b), out_f);

    Tensor *out = tape_tensor(t, n, out_f, 1, 1);
    const double start = profile_start();
    linear_forward(out->data, x->data, w->data, b ? b->data : NULL, n, in_f, out_f);
    profile_stop(start, "linear", name, PROFILE_FORWARD);
    profile_add_flops(2.0 * n * in_f * out_f);

    int need = x->requires_grad || w->requires_grad || (b && b->requires_grad);
    out->requires_grad = t->recording && need;
    if (out->requires_grad) {
        LinearCtx *c = tape_ctx(t, sizeof *c);
        c->x = x;
        c->w = w;
        c->b = b;
        c->out = out;
        c->n = n;
        c->in_f = in_f;
        c->out_f = out_f;
        tape_push(t, "linear", linear_backward_node, c);
        tape_node_output(t, out);
    }
    return out;
}

/* Composed from recorded ops, so the gradient reaches both x and w through
 * the two normalisations without a hand-written backward. */
Tensor *ag_cosine(Tape *t, const char *name, Tensor *x, Tensor *w) {
    int f = x->c * x->h * x->w, wf = w->c * w->h * w->w;
    if (f != wf)
        fatal("%s: input has %d features but the weight [%d, %d] expects %d", name, f, w->n, wf,
              wf);
    const real eps = (real)1e-12; /* F.normalize's default */
    Tensor *xn = ag_l2norm_rows(t, x, eps);
    Tensor *wn = ag_l2norm_rows(t, w, eps);
    return ag_linear(t, name, xn, wn, NULL);
}
