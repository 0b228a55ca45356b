/* Autograd wrappers of the losses: a criterion returns a [1, 1, 1, 1] loss
 * whose gradient (set by tape_backward, normally 1) is the dloss its
 * backward scales by; ag_arcface returns the margin logits for a criterion. */
#include "anomaly/ops/loss.h"
#include "anomaly/error.h"
#include "dispatch.h"

#include <string.h>

typedef enum LossKind { LOSS_CE, LOSS_SMOOTHING, LOSS_ARCFACE } LossKind;

typedef struct LossCtx {
    LossKind kind;
    Tensor *x, *out;
    const int *labels;      /* [n], a copy in the arena */
    const uint8_t *target;  /* [c] copy, or NULL (every label) */
    int n, c;
    real eps;
    int classes;
    real margin, scale;
} LossCtx;

/* Rows are samples: a tensor [n, c, h, w] is read as [n, c*h*w]. */
static int features(const Tensor *x) { return x->c * x->h * x->w; }

static void loss_backward(Tape *t, void *p) {
    LossCtx *k = p;
    if (!k->out->grad) return; /* nothing downstream asked for a gradient */
    real *dx = tape_grad(t, k->x);
    switch (k->kind) {
    case LOSS_CE:
        cross_entropy_backward(dx, k->x->data, k->labels, k->n, k->c, k->out->grad[0]);
        break;
    case LOSS_SMOOTHING:
        label_smoothing_backward(dx, k->x->data, k->labels, k->n, k->c, k->eps, k->classes,
                                 k->out->grad[0]);
        break;
    case LOSS_ARCFACE:
        arcface_backward(dx, k->out->grad, k->x->data, k->labels, k->target, k->n, k->c,
                         k->margin, k->scale);
        break;
    }
}

/* Records the node; labels and target are copied because the caller's
 * arrays need not live until backward. */
static void push_loss(Tape *t, const char *op, const LossCtx *proto, const uint8_t *target) {
    if (!t->recording || !proto->x->requires_grad) return;
    LossCtx *k = tape_ctx(t, sizeof *k);
    *k = *proto;
    int *labels = tape_ctx(t, (size_t)proto->n * sizeof *labels);
    memcpy(labels, proto->labels, (size_t)proto->n * sizeof *labels);
    k->labels = labels;
    if (target) {
        uint8_t *tg = tape_ctx(t, (size_t)proto->c);
        memcpy(tg, target, (size_t)proto->c);
        k->target = tg;
    }
    tape_push(t, op, loss_backward, k);
    tape_node_output(t, k->out);
}

Tensor *ag_cross_entropy(Tape *t, Tensor *logits, const int *labels) {
    LossCtx k = {.kind = LOSS_CE, .x = logits, .labels = labels, .n = logits->n,
                 .c = features(logits)};
    k.out = tape_tensor(t, 1, 1, 1, 1);
    k.out->data[0] = (real)cross_entropy_forward(logits->data, labels, k.n, k.c);
    push_loss(t, "cross_entropy", &k, NULL);
    return k.out;
}

Tensor *ag_label_smoothing(Tape *t, Tensor *logits, const int *labels, real eps, int classes) {
    LossCtx k = {.kind = LOSS_SMOOTHING, .x = logits, .labels = labels, .n = logits->n,
                 .c = features(logits), .eps = eps, .classes = classes};
    k.out = tape_tensor(t, 1, 1, 1, 1);
    k.out->data[0] = (real)label_smoothing_forward(logits->data, labels, k.n, k.c, eps, classes);
    push_loss(t, "label_smoothing", &k, NULL);
    return k.out;
}

Tensor *ag_arcface(Tape *t, Tensor *cos, const int *labels, const uint8_t *target, real margin,
                   real scale) {
    LossCtx k = {.kind = LOSS_ARCFACE, .x = cos, .labels = labels, .n = cos->n,
                 .c = features(cos), .margin = margin, .scale = scale};
    k.out = tape_tensor(t, cos->n, cos->c, cos->h, cos->w);
    arcface_forward(k.out->data, cos->data, labels, target, k.n, k.c, margin, scale);
    push_loss(t, "arcface", &k, target);
    return k.out;
}
