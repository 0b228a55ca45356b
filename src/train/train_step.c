/* A training step: forward, loss, backward, clipping, optimizer update. */
#include "anomaly/train_step.h"
#include "anomaly/error.h"
#include "anomaly/ops.h"
#include "../nn/dispatch.h"

#include <string.h>

StepConfig step_config_default(void) {
    StepConfig c;
    memset(&c, 0, sizeof c);
    c.criterion = CRITERION_SMOOTHING;
    c.smoothing = 0.1;
    c.margin = 0.1;
    c.scale = 8;
    c.optimizer = OPTIMIZER_ADAM;
    c.adam.lr = 5e-5;
    c.adam.beta1 = 0.9;
    c.adam.beta2 = 0.999;
    c.adam.eps = 1e-8;
    c.adam.weight_decay = 1e-4;
    c.sgd.lr = 5e-5;
    c.sgd.momentum = 0.9;
    c.sgd.weight_decay = 5e-4;
    c.clipping = 2.0;
    return c;
}

void arcface_baseline_targets(uint8_t *out) {
    /* Anomaly labels of cable, capsule, screw, transistor and zipper, without
     * the "good" ones (9, 15, 55, 72, 84). */
    static const int ranges[][2] = {{4, 8}, {10, 14}, {16, 18}, {56, 60}, {69, 71}, {73, 73},
                                    {80, 83}, {85, 87}};
    memset(out, 0, 88);
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        for (int k = ranges[i][0]; k <= ranges[i][1]; k++) out[k] = 1;
}

static Tensor *head_logits(Model *m, Tape *t, Tensor *head, const int *labels, const StepConfig *c) {
    if (!m->cfg.arcface) return head;
    /* Cosine head: margin only with --arcloss; otherwise plain scale * cos. */
    return ag_arcface(t, head, labels, c->arc_target, c->arcloss ? (real)c->margin : 0,
                      (real)c->scale);
}

StepResult loss_forward(Model *m, Tape *t, real *x, int n, int h, int w, const int *labels,
                        const StepConfig *c) {
    StepResult r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= m->cfg.num_classes)
            fatal("label %d of sample %d is outside 0..%d", labels[i], i, m->cfg.num_classes - 1);
    Tensor *in = tape_wrap(t, x, n, 3, h, w);
    Tensor *logits = head_logits(m, t, model_forward(m, t, in), labels, c);
    Tensor *loss;
    if (c->criterion == CRITERION_SMOOTHING) {
        int classes = c->smoothing_classes > 0 ? c->smoothing_classes : m->cfg.num_classes;
        loss = ag_label_smoothing(t, logits, labels, (real)c->smoothing, classes);
    } else {
        loss = ag_cross_entropy(t, logits, labels);
    }
    r.loss = loss->data[0];
    r.logits = logits;
    if (t->recording) {
        /* backward reuses the activations' memory: the logits the caller
         * reads afterwards are a copy made after the last node */
        r.logits = tape_wrap(t, arena_alloc(t->arena, tensor_numel(logits) * sizeof(real)),
                             logits->n, logits->c, logits->h, logits->w);
        memcpy(r.logits->data, logits->data, tensor_numel(logits) * sizeof(real));
        tape_backward(t, loss, 1);
    }
    return r;
}

StepResult train_step(Model *m, Tape *t, real *x, int n, int h, int w, const int *labels,
                      const StepConfig *c, long *step) {
    ParamTable *p = &m->params;
    tape_reset(t);
    t->training = 1;
    t->recording = 1;
    params_zero_grad(p);
    StepResult r = loss_forward(m, t, x, n, h, w, labels, c);
    if (c->reduce_grad) c->reduce_grad(c->reduce_ctx, p->grad, p->n_param);
    params_alloc_moments(p);
    ++*step;
    if (c->optimizer == OPTIMIZER_ADAM) {
        /* one pass over the parameters for clipping and the update */
        r.grad_norm = clip_adam_update(p->param, p->grad, p->m, p->v, p->n_param, &c->adam,
                                       *step, c->clipping);
    } else {
        r.grad_norm = c->clipping > 0 ? clip_grad_norm(p->grad, p->n_param, c->clipping)
                                      : grad_global_norm(p->grad, p->n_param);
        sgd_update(p->param, p->grad, p->m, p->n_param, &c->sgd, *step);
    }
    return r;
}

Tensor *model_logits(Model *m, Tape *t, real *x, int n, int h, int w, double arc_scale) {
    tape_reset(t);
    t->training = 0;
    t->recording = 0;
    Tensor *in = tape_wrap(t, x, n, 3, h, w);
    Tensor *out = model_forward(m, t, in);
    if (m->cfg.arcface) {
        size_t k = tensor_numel(out);
        for (size_t i = 0; i < k; i++) out->data[i] *= (real)arc_scale;
    }
    return out;
}
