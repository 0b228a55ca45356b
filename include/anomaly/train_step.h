/* One training step and one inference pass on a batch, shared by the
 * `step` audit command and the trainer. */
#ifndef ANOMALY_TRAIN_STEP_H
#define ANOMALY_TRAIN_STEP_H

#include <stdint.h>

#include "model.h"
#include "ops/optim.h"
#include "tape.h"

typedef enum Criterion { CRITERION_CE = 0, CRITERION_SMOOTHING = 1 } Criterion;
typedef enum Optimizer { OPTIMIZER_ADAM = 0, OPTIMIZER_SGD = 1 } Optimizer;

typedef struct StepConfig {
    Criterion criterion;
    double smoothing;      /* 0.1 */
    int smoothing_classes; /* C of the smoothing formula; 0 = the model's classes */
    int arcloss;           /* 1: ArcFace margin on the cosine head */
    double margin, scale;  /* 0.1, 8 */
    const uint8_t *arc_target; /* [classes] labels that get the margin; NULL = all */
    Optimizer optimizer;
    AdamConfig adam;
    SgdConfig sgd;
    double clipping;       /* global grad-norm limit; <= 0: no clipping */
    /* Data-parallel training: called on the gradients after backward and
     * before clipping (the average over ranks); NULL: none. */
    void (*reduce_grad)(void *ctx, real *grad, size_t n);
    void *reduce_ctx;
} StepConfig;

/* The seed's defaults: smoothing 0.1, margin 0.1, scale 8, Adam lr 5e-5
 * wd 1e-4, SGD momentum 0.9 wd 5e-4, clipping 2. */
StepConfig step_config_default(void);

typedef struct StepResult {
    double loss;
    double grad_norm; /* before clipping */
    Tensor *logits;   /* [n, classes]: valid until the next tape_reset */
} StepResult;

/* Resets the tape, runs forward in train mode, the loss, backward,
 * c->reduce_grad, clipping and one optimizer update (*step is incremented first: PyTorch's count).
 * x: [n, 3, h, w]; labels [n]. Gradients stay in m->params.grad. */
StepResult train_step(Model *m, Tape *t, real *x, int n, int h, int w, const int *labels,
                      const StepConfig *c, long *step);

/* Loss and logits without an update, in the tape's current mode. */
StepResult loss_forward(Model *m, Tape *t, real *x, int n, int h, int w, const int *labels,
                        const StepConfig *c);

/* Inference: resets the tape, eval mode, no recording; returns logits
 * [n, classes] (ArcFace head: scale * cos). */
Tensor *model_logits(Model *m, Tape *t, real *x, int n, int h, int w, double arc_scale);

/* ArcFace target set of SPEC section 4 ("baseline", 88 labels): 1 for the
 * labels that get the margin. out has 88 entries. */
void arcface_baseline_targets(uint8_t *out);

#endif
