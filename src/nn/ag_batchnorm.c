/* Autograd wrappers of BatchNorm2d and of BatchNorm2d + activation.
 *
 * A swish or ReLU recorded right after a train-mode BatchNorm, on its
 * output, is fused in backward (ag_fuse.h): when the activation is the
 * output's only consumer, one pass per channel computes the activation's
 * and BatchNorm's gradients together (batchnorm2d_act_backward), and the
 * BatchNorm node has nothing left to do. */
#include "anomaly/ops/act.h"
#include "anomaly/ops/batchnorm.h"
#include "anomaly/ops/fused.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "ag_fuse.h"
#include "dispatch.h"

#include <string.h>

typedef struct BatchNormCtx {
    Tensor *x, *y;
    const real *gamma, *beta; /* [c] */
    real *dgamma, *dbeta; /* [c], NULL when gamma / beta are not trained */
    /* Train mode: batch mean and rstd. Eval mode: copies of the running mean
     * and variance taken at forward time. */
    real *stat_a, *stat_b; /* [c] */
    int train;
    int fused_done; /* set when a fused activation node did this node's work */
    BatchNormShape s;
} BatchNormCtx;

static void batchnorm2d_node_backward(Tape *t, void *ctx) {
    BatchNormCtx *k = ctx;
    if (k->fused_done || !k->y->grad) return; /* nothing left, or no gradient arrived */
    real *dx = k->x->requires_grad ? tape_grad(t, k->x) : NULL;
    if (k->train)
        batchnorm2d_backward(dx, k->dgamma, k->dbeta, k->y->grad, tape_input(t, k->x), k->stat_a,
                             k->stat_b, k->gamma, &k->s);
    else
        batchnorm2d_backward_eval(dx, k->dgamma, k->dbeta, k->y->grad, tape_input(t, k->x), k->stat_a,
                                  k->stat_b, k->gamma, &k->s);
}

static void check_vector(const char *name, const char *what, const Tensor *v, int c) {
    if (!v || !v->data) fatal("batchnorm %s: %s is missing", name, what);
    if (tensor_numel(v) != (size_t)c)
        fatal("batchnorm %s: %s has %zu values but the input has %d channels", name, what,
              tensor_numel(v), c);
}

BatchNormShape ag_bn_shape(const char *name, const Tensor *x, const Tensor *gamma,
                           const Tensor *beta, const real *running_mean, const real *running_var,
                           real eps, real momentum, int train) {
    check_vector(name, "weight (gamma)", gamma, x->c);
    check_vector(name, "bias (beta)", beta, x->c);
    if (!running_mean || !running_var) fatal("batchnorm %s: running statistics are missing", name);
    BatchNormShape s = {x->n, x->c, x->h * x->w, eps, momentum};
    if (train && (long)s.n * s.hw < 2)
        fatal("batchnorm %s: training needs more than one value per channel (input [%d, %d, %d, %d])",
              name, x->n, x->c, x->h, x->w);
    return s;
}

/* x [n, c, h, w] (must live as long as the tape's step); gamma, beta [c];
 * running_mean, running_var [c]. With `inplace` (inference in eval mode
 * only) the output overwrites x and is x. */
static Tensor *batchnorm2d(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                           real *running_mean, real *running_var, int64_t *counter, real eps,
                           real momentum, int inplace) {
    if (!name) name = "(unnamed)";
    const int train = t->training;
    const BatchNormShape s =
        ag_bn_shape(name, x, gamma, beta, running_mean, running_var, eps, momentum, train);
    if (inplace) {
        /* elementwise per channel: each value is read before it is written */
        const double start = profile_start();
        batchnorm2d_forward_eval(x->data, x->data, gamma->data, beta->data, running_mean,
                                 running_var, &s);
        profile_stop(start, "batchnorm2d", name, PROFILE_FORWARD);
        return x;
    }

    Tensor *y = tape_tensor(t, x->n, x->c, x->h, x->w);
    BatchNormCtx *k = tape_ctx(t, sizeof *k);
    const double start = profile_start();
    if (train) {
        k->stat_a = tape_ctx(t, (size_t)s.c * sizeof(real));
        k->stat_b = tape_ctx(t, (size_t)s.c * sizeof(real));
        batchnorm2d_forward_train(y->data, k->stat_a, k->stat_b, running_mean, running_var,
                                  x->data, gamma->data, beta->data, &s);
        if (counter) (*counter)++;
    } else {
        batchnorm2d_forward_eval(y->data, x->data, gamma->data, beta->data, running_mean,
                                 running_var, &s);
    }
    profile_stop(start, "batchnorm2d", name, PROFILE_FORWARD);
    if (!t->recording) return y;

    if (!train) {
        k->stat_a = tape_ctx(t, (size_t)s.c * sizeof(real));
        k->stat_b = tape_ctx(t, (size_t)s.c * sizeof(real));
        memcpy(k->stat_a, running_mean, (size_t)s.c * sizeof(real));
        memcpy(k->stat_b, running_var, (size_t)s.c * sizeof(real));
    }
    k->x = x;
    k->y = y;
    k->gamma = gamma->data;
    k->beta = beta->data;
    /* Parameter tensors are often views made on the caller's stack, so the
     * gradient pointers are taken now rather than at backward time. */
    k->dgamma = gamma->requires_grad ? tape_grad(t, gamma) : NULL;
    k->dbeta = beta->requires_grad ? tape_grad(t, beta) : NULL;
    k->train = train;
    k->s = s;
    tape_push(t, "batchnorm2d", batchnorm2d_node_backward, k);
    tape_node_output(t, y);
    return y;
}

Tensor *ag_batchnorm2d(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                       real *running_mean, real *running_var, int64_t *counter,
                       real eps, real momentum) {
    return batchnorm2d(t, name, x, gamma, beta, running_mean, running_var, counter, eps,
                       momentum, 0);
}

Tensor *ag_batchnorm2d_inplace(Tape *t, const char *name, Tensor *x, Tensor *gamma,
                               Tensor *beta, real *running_mean, real *running_var,
                               int64_t *counter, real eps, real momentum) {
    return batchnorm2d(t, name, x, gamma, beta, running_mean, running_var, counter, eps,
                       momentum, !t->recording && !t->training);
}

/* ---- BatchNorm + activation ------------------------------------------- */

typedef struct BnActCtx {
    BatchNormCtx *bn; /* the BatchNorm node whose output the activation read */
    Tensor *out;
    BnAct act;
} BnActCtx;

static void bn_act_node_backward(Tape *t, void *ctx) {
    BnActCtx *k = ctx;
    BatchNormCtx *bn = k->bn;
    Tensor *y = bn->y; /* BatchNorm output = activation input */
    if (!k->out->grad) return;
    if (y->grad) {
        /* y has another consumer, whose gradient is already there: the
         * activation adds its own and BatchNorm's node runs as usual */
        if (k->act == BN_ACT_SWISH)
            swish_backward(y->grad, k->out->grad, y->data, tensor_numel(y));
        else
            relu_backward(y->grad, k->out->grad, y->data, tensor_numel(y));
        return;
    }
    real *dx = bn->x->requires_grad ? tape_grad(t, bn->x) : NULL;
    batchnorm2d_act_backward(dx, bn->dgamma, bn->dbeta, k->out->grad, tape_input(t, bn->x), y->data,
                             bn->stat_a, bn->stat_b, NULL, bn->gamma, &bn->s, k->act);
    bn->fused_done = 1;
}

Tensor *ag_batchnorm2d_then_act(Tape *t, Tensor *x, BnAct act) {
    if (!t->recording || t->count == 0) return NULL;
    const TapeNode *last = &t->nodes[t->count - 1];
    if (last->backward != batchnorm2d_node_backward) return NULL;
    BatchNormCtx *bn = last->ctx;
    if (bn->y != x || !bn->train || bn->fused_done) return NULL;
    const char *op = act == BN_ACT_SWISH ? "swish" : "relu";
    Tensor *out = tape_tensor(t, x->n, x->c, x->h, x->w);
    const double start = profile_start();
    if (act == BN_ACT_SWISH)
        swish_forward(out->data, x->data, tensor_numel(x));
    else
        relu_forward(out->data, x->data, tensor_numel(x));
    profile_stop(start, op, NULL, PROFILE_FORWARD);
    BnActCtx *k = tape_ctx(t, sizeof *k);
    k->bn = bn;
    k->out = out;
    k->act = act;
    tape_push(t, act == BN_ACT_SWISH ? "batchnorm2d+swish" : "batchnorm2d+relu",
              bn_act_node_backward, k);
    tape_node_output(t, out);
    return out;
}

/* ---- the fused op, without the BatchNorm output ----------------------- */

typedef struct FusedCtx {
    Tensor *x, *out;
    const real *gamma;
    real *dgamma, *dbeta;
    real *mean, *rstd, *affine; /* [c], [c], [2c] */
    BatchNormShape s;
    BnAct act;
} FusedCtx;

static void fused_node_backward(Tape *t, void *ctx) {
    FusedCtx *k = ctx;
    if (!k->out->grad) return;
    real *dx = k->x->requires_grad ? tape_grad(t, k->x) : NULL;
    batchnorm2d_act_backward(dx, k->dgamma, k->dbeta, k->out->grad, tape_input(t, k->x), NULL,
                             k->mean, k->rstd, k->affine, k->gamma, &k->s, k->act);
}

/* The output again, for tape_input(); the input may be recomputed itself
 * (a transient convolution output). */
static void fused_recompute(Tape *t, const void *ctx, real *out) {
    const FusedCtx *k = ctx;
    batchnorm2d_act_recompute(out, tape_input(t, k->x), k->affine, &k->s, k->act);
}

static Tensor *bn_act_fused(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                            real *running_mean, real *running_var, int64_t *counter, real eps,
                            real momentum, BnAct act, int transient) {
    if (!t->training) {
        Tensor *y = ag_batchnorm2d(t, name, x, gamma, beta, running_mean, running_var, counter,
                                   eps, momentum);
        return act == BN_ACT_SWISH ? ag_swish(t, y) : ag_relu(t, y);
    }
    if (!name) name = "(unnamed)";
    const BatchNormShape s =
        ag_bn_shape(name, x, gamma, beta, running_mean, running_var, eps, momentum, 1);
    transient = transient && t->recording;
    Tensor *out;
    if (transient) {
        out = tape_transient(t, TAPE_SLOT_ACT, x->n, x->c, x->h, x->w);
    } else {
        out = tape_tensor(t, x->n, x->c, x->h, x->w);
    }
    FusedCtx *k = tape_ctx(t, sizeof *k);
    k->mean = tape_ctx(t, (size_t)s.c * sizeof(real));
    k->rstd = tape_ctx(t, (size_t)s.c * sizeof(real));
    k->affine = tape_ctx(t, 2 * (size_t)s.c * sizeof(real));
    const double start = profile_start();
    batchnorm2d_act_forward_train(out->data, NULL, k->mean, k->rstd, k->affine, running_mean,
                                  running_var, x->data, gamma->data, beta->data, &s, act);
    profile_stop(start, act == BN_ACT_SWISH ? "batchnorm2d+swish" : "batchnorm2d+relu", name,
                 PROFILE_FORWARD);
    if (counter) (*counter)++;
    if (!t->recording) return out;
    k->x = x;
    k->out = out;
    k->gamma = gamma->data;
    k->dgamma = gamma->requires_grad ? tape_grad(t, gamma) : NULL;
    k->dbeta = beta->requires_grad ? tape_grad(t, beta) : NULL;
    k->s = s;
    k->act = act;
    if (transient) {
        out->recompute = fused_recompute;
        out->recompute_ctx = k;
    }
    tape_push(t, act == BN_ACT_SWISH ? "batchnorm2d+swish" : "batchnorm2d+relu",
              fused_node_backward, k);
    tape_node_output(t, out);
    return out;
}

Tensor *ag_batchnorm2d_act(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                           real *running_mean, real *running_var, int64_t *counter, real eps,
                           real momentum, BnAct act) {
    return bn_act_fused(t, name, x, gamma, beta, running_mean, running_var, counter, eps,
                        momentum, act, 0);
}

Tensor *ag_batchnorm2d_act_transient(Tape *t, const char *name, Tensor *x, Tensor *gamma,
                                     Tensor *beta, real *running_mean, real *running_var,
                                     int64_t *counter, real eps, real momentum, BnAct act) {
    return bn_act_fused(t, name, x, gamma, beta, running_mean, running_var, counter, eps,
                        momentum, act, 1);
}

/* ---- inference: BatchNorm (running statistics) + activation in place -- */

Tensor *ag_batchnorm2d_act_eval_inplace(Tape *t, const char *name, Tensor *x, Tensor *gamma,
                                        Tensor *beta, const real *running_mean,
                                        const real *running_var, real eps, BnAct act) {
    if (!name) name = "(unnamed)";
    if (t->recording || t->training)
        fatal("batchnorm %s: the in-place eval op is for inference only", name);
    const BatchNormShape s = ag_bn_shape(name, x, gamma, beta, running_mean, running_var, eps, 0, 0);
    /* the affine map exactly as batchnorm2d_forward_eval computes it, then
     * the fused kernel's y = act(x * scale + shift): the two kernels' bits */
    ArenaMark m = arena_mark(t->arena);
    real *affine = arena_alloc(t->arena, 2 * (size_t)s.c * sizeof(real));
    batchnorm2d_eval_affine(affine, gamma->data, beta->data, running_mean, running_var, &s);
    const double start = profile_start();
    batchnorm2d_act_recompute(x->data, x->data, affine, &s, act);
    profile_stop(start, act == BN_ACT_SWISH ? "batchnorm2d+swish" : "batchnorm2d+relu", name,
                 PROFILE_FORWARD);
    arena_release(t->arena, m);
    return x;
}
