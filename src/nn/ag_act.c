/* Autograd wrappers of the elementwise activations. */
#include "anomaly/ops/act.h"
#include "anomaly/profile.h"
#include "ag_fuse.h"
#include "dispatch.h"

typedef struct ActCtx {
    Tensor *x, *y; /* input and output, same shape */
} ActCtx;

/* Runs the forward kernel into a new tensor and records `backward`; with
 * `inplace` (inference only) the output overwrites x and is x (each value
 * is read before it is written). */
static Tensor *act_apply(Tape *t, Tensor *x, const char *op,
                         void (*forward)(real *, const real *, size_t), TapeBackwardFn backward,
                         int inplace) {
    Tensor *y = inplace ? x : tape_tensor(t, x->n, x->c, x->h, x->w);
    const double start = profile_start();
    forward(y->data, x->data, tensor_numel(x));
    profile_stop(start, op, NULL, PROFILE_FORWARD);
    if (t->recording) {
        ActCtx *k = tape_ctx(t, sizeof *k);
        k->x = x;
        k->y = y;
        tape_push(t, op, backward, k);
        tape_node_output(t, y);
    }
    return y;
}

/* The input gradient, or NULL when there is nothing to do. */
static real *act_dinp(Tape *t, const ActCtx *k) {
    if (!k->y->grad || !k->x->requires_grad) return NULL;
    return tape_grad(t, k->x);
}

static void swish_node_backward(Tape *t, void *ctx) {
    ActCtx *k = ctx;
    real *dx = act_dinp(t, k);
    if (dx) swish_backward(dx, k->y->grad, k->x->data, tensor_numel(k->x));
}

static void relu_node_backward(Tape *t, void *ctx) {
    ActCtx *k = ctx;
    real *dx = act_dinp(t, k);
    if (dx) relu_backward(dx, k->y->grad, k->x->data, tensor_numel(k->x));
}

static void sigmoid_node_backward(Tape *t, void *ctx) {
    ActCtx *k = ctx;
    real *dx = act_dinp(t, k);
    if (dx) sigmoid_backward(dx, k->y->grad, k->y->data, tensor_numel(k->x));
}

/* x: any shape; it must live as long as the tape's step (swish and relu
 * read it again in backward, sigmoid reads its own output). */
Tensor *ag_swish(Tape *t, Tensor *x) {
    Tensor *y = ag_batchnorm2d_then_act(t, x, BN_ACT_SWISH);
    if (y) return y;
    return act_apply(t, x, "swish", swish_forward, swish_node_backward, 0);
}

Tensor *ag_relu(Tape *t, Tensor *x) {
    Tensor *y = ag_batchnorm2d_then_act(t, x, BN_ACT_RELU);
    if (y) return y;
    return act_apply(t, x, "relu", relu_forward, relu_node_backward, 0);
}

Tensor *ag_sigmoid(Tape *t, Tensor *x) {
    return act_apply(t, x, "sigmoid", sigmoid_forward, sigmoid_node_backward, 0);
}

Tensor *ag_swish_inplace(Tape *t, Tensor *x) {
    if (t->recording) return ag_swish(t, x); /* may fuse with its BatchNorm */
    return act_apply(t, x, "swish", swish_forward, swish_node_backward, 1);
}

Tensor *ag_relu_inplace(Tape *t, Tensor *x) {
    if (t->recording) return ag_relu(t, x);
    return act_apply(t, x, "relu", relu_forward, relu_node_backward, 1);
}
