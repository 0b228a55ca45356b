/* Autograd wrappers of the pooling kernels. */
#include "anomaly/ops/pool.h"
#include "anomaly/error.h"
#include "anomaly/profile.h"
#include "dispatch.h"

typedef struct PoolCtx {
    Tensor *x, *y;
    Pool2dShape s; /* resolved for x (unused by the global pool) */
} PoolCtx;

static real *pool_dinp(Tape *t, const PoolCtx *k) {
    if (!k->y->grad || !k->x->requires_grad) return NULL;
    return tape_grad(t, k->x);
}

static PoolCtx *pool_record(Tape *t, Tensor *x, Tensor *y, const Pool2dShape *s) {
    PoolCtx *k = tape_ctx(t, sizeof *k);
    k->x = x;
    k->y = y;
    if (s) k->s = *s;
    return k;
}

static void global_avgpool_node_backward(Tape *t, void *ctx) {
    PoolCtx *k = ctx;
    real *dx = pool_dinp(t, k);
    if (dx) global_avgpool_backward(dx, k->y->grad, k->x->n, k->x->c, k->x->h * k->x->w);
}

/* x [n, c, h, w] -> [n, c, 1, 1] */
Tensor *ag_global_avgpool(Tape *t, Tensor *x) {
    Tensor *y = tape_tensor(t, x->n, x->c, 1, 1);
    const double start = profile_start();
    global_avgpool_forward(y->data, x->data, x->n, x->c, x->h * x->w);
    profile_stop(start, "global_avgpool", NULL, PROFILE_FORWARD);
    if (t->recording) {
        tape_push(t, "global_avgpool", global_avgpool_node_backward, pool_record(t, x, y, NULL));
        tape_node_output(t, y);
    }
    return y;
}

/* The caller's shape with n, c, h, w taken from x, resolved; fatal if no
 * window fits. */
static Pool2dShape pool_shape_for(const Tensor *x, const Pool2dShape *s, const char *op) {
    Pool2dShape r = *s;
    r.n = x->n;
    r.c = x->c;
    r.h = x->h;
    r.w = x->w;
    char err[256];
    if (pool2d_shape_resolve(&r, err, sizeof err) != 0) fatal("%s: %s", op, err);
    return r;
}

static void maxpool2d_node_backward(Tape *t, void *ctx) {
    PoolCtx *k = ctx;
    real *dx = pool_dinp(t, k);
    /* x may be recomputed (the ResNet stem's last BatchNorm + ReLU) */
    if (dx) maxpool2d_backward(dx, k->y->grad, tape_input(t, k->x), &k->s);
}

/* x [n, c, h, w] -> [n, c, oh, ow]; only the kernel, stride, padding and
 * mode fields of s are read. x must live as long as the tape's step. */
Tensor *ag_maxpool2d(Tape *t, Tensor *x, const Pool2dShape *s) {
    const Pool2dShape r = pool_shape_for(x, s, "maxpool2d");
    Tensor *y = tape_tensor(t, x->n, x->c, r.oh, r.ow);
    const double start = profile_start();
    maxpool2d_forward(y->data, x->data, &r);
    profile_stop(start, "maxpool2d", NULL, PROFILE_FORWARD);
    if (t->recording) {
        tape_push(t, "maxpool2d", maxpool2d_node_backward, pool_record(t, x, y, &r));
        tape_node_output(t, y);
    }
    return y;
}

static void avgpool2d_node_backward(Tape *t, void *ctx) {
    PoolCtx *k = ctx;
    real *dx = pool_dinp(t, k);
    if (dx) avgpool2d_backward(dx, k->y->grad, &k->s);
}

/* x [n, c, h, w] -> [n, c, oh, ow]; as ag_maxpool2d. */
Tensor *ag_avgpool2d(Tape *t, Tensor *x, const Pool2dShape *s) {
    const Pool2dShape r = pool_shape_for(x, s, "avgpool2d");
    Tensor *y = tape_tensor(t, x->n, x->c, r.oh, r.ow);
    const double start = profile_start();
    avgpool2d_forward(y->data, x->data, &r);
    profile_stop(start, "avgpool2d", NULL, PROFILE_FORWARD);
    if (t->recording) {
        tape_push(t, "avgpool2d", avgpool2d_node_backward, pool_record(t, x, y, &r));
        tape_node_output(t, y);
    }
    return y;
}
