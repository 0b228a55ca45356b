/* Autograd wrapper of the fused BatchNorm + residual add + ReLU (fused.h):
 * the node keeps BatchNorm's input and the output, nothing in between. */
#include "anomaly/ops/act.h"
#include "anomaly/ops/batchnorm.h"
#include "anomaly/ops/elementwise.h"
#include "anomaly/ops/fused.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "ag_fuse.h"
#include "dispatch.h"

typedef struct BnAddReluCtx {
    Tensor *x, *res, *out;
    const real *gamma;
    real *dgamma, *dbeta;
    real *mean, *rstd;
    BatchNormShape s;
} BnAddReluCtx;

static void bn_add_relu_node_backward(Tape *t, void *ctx) {
    BnAddReluCtx *k = ctx;
    if (!k->out->grad) return;
    real *dx = k->x->requires_grad ? tape_grad(t, k->x) : NULL;
    real *dres = k->res->requires_grad ? tape_grad(t, k->res) : NULL;
    batchnorm2d_add_relu_backward(dx, dres, k->dgamma, k->dbeta, k->out->grad, k->out->data,
                                  tape_input(t, k->x), k->mean, k->rstd, k->gamma, &k->s);
}

Tensor *ag_batchnorm2d_add_relu(Tape *t, const char *name, Tensor *x, Tensor *res, Tensor *gamma,
                                Tensor *beta, real *running_mean, real *running_var,
                                int64_t *counter, real eps, real momentum) {
    if (!t->training)
        return ag_relu(t, ag_add(t, ag_batchnorm2d(t, name, x, gamma, beta, running_mean,
                                                    running_var, counter, eps, momentum),
                                 res));
    if (!name) name = "(unnamed)";
    if (x == res) fatal("batchnorm %s: the residual is the BatchNorm input itself", name);
    if (res->n != x->n || res->c != x->c || res->h != x->h || res->w != x->w)
        fatal("add: shapes differ: [%d, %d, %d, %d] and [%d, %d, %d, %d]", x->n, x->c, x->h,
              x->w, res->n, res->c, res->h, res->w);
    const BatchNormShape s =
        ag_bn_shape(name, x, gamma, beta, running_mean, running_var, eps, momentum, 1);
    Tensor *out = tape_tensor(t, x->n, x->c, x->h, x->w);
    BnAddReluCtx *k = tape_ctx(t, sizeof *k);
    k->mean = tape_ctx(t, (size_t)s.c * sizeof(real));
    k->rstd = tape_ctx(t, (size_t)s.c * sizeof(real));
    const double start = profile_start();
    batchnorm2d_add_relu_forward_train(out->data, k->mean, k->rstd, running_mean, running_var,
                                       x->data, res->data, gamma->data, beta->data, &s);
    profile_stop(start, "batchnorm2d+add+relu", name, PROFILE_FORWARD);
    if (counter) (*counter)++;
    if (!t->recording) return out;
    k->x = x;
    k->res = res;
    k->out = out;
    k->gamma = gamma->data;
    k->dgamma = gamma->requires_grad ? tape_grad(t, gamma) : NULL;
    k->dbeta = beta->requires_grad ? tape_grad(t, beta) : NULL;
    k->s = s;
    tape_push(t, "batchnorm2d+add+relu", bn_add_relu_node_backward, k);
    tape_node_output(t, out);
    return out;
}
