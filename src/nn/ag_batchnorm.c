/* Autograd wrapper of BatchNorm2d. */
#include "anomaly/ops/batchnorm.h"
#include "anomaly/error.h"

#include <string.h>

typedef struct BatchNormCtx {
    Tensor *x, *y;
    const real *gamma;    /* [c] */
    real *dgamma, *dbeta; /* [c], NULL when gamma / beta are not trained */
    /* Train mode: batch mean and rstd. Eval mode: copies of the running mean
     * and variance taken at forward time. */
    real *stat_a, *stat_b; /* [c] */
    int train;
    BatchNormShape s;
} BatchNormCtx;

static void batchnorm2d_node_backward(Tape *t, void *ctx) {
    BatchNormCtx *k = ctx;
    if (!k->y->grad) return; /* the output did not reach the loss */
    real *dx = k->x->requires_grad ? tape_grad(t, k->x) : NULL;
    if (k->train)
        batchnorm2d_backward(dx, k->dgamma, k->dbeta, k->y->grad, k->x->data, k->stat_a,
                             k->stat_b, k->gamma, &k->s);
    else
        batchnorm2d_backward_eval(dx, k->dgamma, k->dbeta, k->y->grad, k->x->data, k->stat_a,
                                  k->stat_b, k->gamma, &k->s);
}

static void check_vector(const char *name, const char *what, const Tensor *v, int c) {
    if (!v || !v->data) fatal("batchnorm %s: %s is missing", name, what);
    if (tensor_numel(v) != (size_t)c)
        fatal("batchnorm %s: %s has %zu values but the input has %d channels", name, what,
              tensor_numel(v), c);
}

/* x [n, c, h, w] (must live as long as the tape's step); gamma, beta [c];
 * running_mean, running_var [c]. */
Tensor *ag_batchnorm2d(Tape *t, const char *name, Tensor *x, Tensor *gamma, Tensor *beta,
                       real *running_mean, real *running_var, int64_t *counter,
                       real eps, real momentum) {
    if (!name) name = "(unnamed)";
    check_vector(name, "weight (gamma)", gamma, x->c);
    check_vector(name, "bias (beta)", beta, x->c);
    if (!running_mean || !running_var) fatal("batchnorm %s: running statistics are missing", name);
    BatchNormShape s = {x->n, x->c, x->h * x->w, eps, momentum};
    const int train = t->training;
    if (train && (long)s.n * s.hw < 2)
        fatal("batchnorm %s: training needs more than one value per channel (input [%d, %d, %d, %d])",
              name, x->n, x->c, x->h, x->w);

    Tensor *y = tape_tensor(t, x->n, x->c, x->h, x->w);
    BatchNormCtx *k = tape_ctx(t, sizeof *k);
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
    /* Parameter tensors are often views made on the caller's stack, so the
     * gradient pointers are taken now rather than at backward time. */
    k->dgamma = gamma->requires_grad ? tape_grad(t, gamma) : NULL;
    k->dbeta = beta->requires_grad ? tape_grad(t, beta) : NULL;
    k->train = train;
    k->s = s;
    tape_push(t, "batchnorm2d", batchnorm2d_node_backward, k);
    return y;
}
