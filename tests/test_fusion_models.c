/* A training step with the fused and recomputed ops (BatchNorm + activation,
 * BatchNorm + residual + ReLU, activations recomputed in backward) against
 * the same step with every op recorded separately and every activation
 * kept (what a --dump run records): logits, loss, every parameter gradient,
 * the input gradient and the BatchNorm statistics agree bit for bit, for
 * each model family, and the fused step keeps less.
 *
 * The backward pass puts gradients in activations that died (tape.c): a
 * third step fills every byte that dies with NaN as it dies and must still
 * give the same bits (a read of dead memory would show), and the step's
 * peak must stay close to what its forward pass kept (without the reuse,
 * the gradients come on top). */
#include "check.h"

#include <stdint.h>

#include "anomaly/arena.h"
#include "anomaly/model.h"
#include "anomaly/ops.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

static void ignore_dump(void *user, const char *name, const Tensor *x) {
    (void)user;
    (void)name;
    (void)x;
}

typedef struct StepResult {
    real *logits, *grad, *buffers, *dx;
    real loss;
    size_t arena_used, forward_used;
} StepResult;

static StepResult step(Model *m, const real *init_buffers, real *x, int n, int hw,
                       const int *labels, int plain, int poison, int no_reuse) {
    StepResult r;
    ParamTable *p = &m->params;
    rng_seed(&m->rng, 77); /* the same dropout and drop-connect masks */
    memcpy(p->buffer, init_buffers, sizeof(real) * p->n_buffer);
    for (int i = 0; i < p->count; i++)
        if (p->entries[i].kind == PARAM_COUNTER) *params_counter(p, i) = 0;
    params_zero_grad(p);
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    t.training = t.recording = 1;
    if (plain) t.dump = ignore_dump; /* a dump hook turns every fusion off */
    Tensor *in = tape_wrap(&t, x, n, 3, hw, hw);
    in->requires_grad = 1;
    Tensor *y = model_forward(m, &t, in);
    Tensor *loss = ag_cross_entropy(&t, y, labels);
    r.forward_used = a.used + a.extra_used;
    /* backward reuses the activations' memory: read them first */
    r.logits = malloc(sizeof(real) * tensor_numel(y));
    memcpy(r.logits, y->data, sizeof(real) * tensor_numel(y));
    r.loss = loss->data[0];
    t.poison_dead = poison;
    t.no_reuse = no_reuse;
    tape_backward(&t, loss, 1);
    const size_t nx = (size_t)n * 3 * hw * hw;
    r.grad = malloc(sizeof(real) * p->n_param);
    memcpy(r.grad, p->grad, sizeof(real) * p->n_param);
    r.buffers = malloc(sizeof(real) * p->n_buffer);
    memcpy(r.buffers, p->buffer, sizeof(real) * p->n_buffer);
    r.dx = malloc(sizeof(real) * nx);
    memcpy(r.dx, in->grad, sizeof(real) * nx);
    r.arena_used = a.peak;
    tape_free(&t);
    arena_free(&a);
    return r;
}

static void step_free(StepResult *r) {
    free(r->logits);
    free(r->grad);
    free(r->buffers);
    free(r->dx);
}

/* Every result of step `a` equals step `b`'s bit for bit. */
static void check_same_step(const char *name, const char *how, const StepResult *a,
                            const StepResult *b, const Model *m, size_t n_logits, size_t nx) {
    char what[160];
    snprintf(what, sizeof what, "%s: logits, %s", name, how);
    CHECK_SAME_BITS(what, a->logits, b->logits, sizeof(real) * n_logits);
    snprintf(what, sizeof what, "%s: loss, %s", name, how);
    CHECK_SAME_BITS(what, &a->loss, &b->loss, sizeof(real));
    snprintf(what, sizeof what, "%s: parameter gradients, %s", name, how);
    CHECK_SAME_BITS(what, a->grad, b->grad, sizeof(real) * m->params.n_param);
    snprintf(what, sizeof what, "%s: input gradient, %s", name, how);
    CHECK_SAME_BITS(what, a->dx, b->dx, sizeof(real) * nx);
    snprintf(what, sizeof what, "%s: running statistics, %s", name, how);
    CHECK_SAME_BITS(what, a->buffers, b->buffers, sizeof(real) * m->params.n_buffer);
}

static void check_model(const char *name, int hw) {
    const int n = 4, classes = 5;
    const int labels[4] = {1, 4, 0, 2};
    const size_t nx = (size_t)n * 3 * hw * hw;
    real *x = malloc(sizeof(real) * nx);
    Rng rng;
    rng_seed(&rng, 21);
    for (size_t i = 0; i < nx; i++) x[i] = (real)rng_normal(&rng);
    ModelConfig cfg = model_config_default(name, classes);
    Model *m = model_create(&cfg);
    model_init(m, 9);
    real *buffers = malloc(sizeof(real) * m->params.n_buffer);
    memcpy(buffers, m->params.buffer, sizeof(real) * m->params.n_buffer);

    StepResult plain = step(m, buffers, x, n, hw, labels, 1, 0, 0);
    StepResult fused = step(m, buffers, x, n, hw, labels, 0, 0, 0);
    StepResult poisoned = step(m, buffers, x, n, hw, labels, 0, 1, 0);
    StepResult kept = step(m, buffers, x, n, hw, labels, 0, 0, 1);
    const size_t n_logits = (size_t)n * classes;
    check_same_step(name, "fused vs plain", &fused, &plain, m, n_logits, nx);
    check_same_step(name, "dead memory poisoned vs plain", &poisoned, &plain, m, n_logits, nx);
    check_same_step(name, "dead memory left alone vs plain", &kept, &plain, m, n_logits, nx);
    /* what backward adds on top of the forward's activations (gradients,
     * workspaces) is at least a third less with the reuse; at these small
     * sizes workspaces are much of it (at 224 px: +3 % instead of +30 %) */
    const size_t extra = fused.arena_used - fused.forward_used;
    const size_t extra_kept = kept.arena_used - kept.forward_used;
    CHECK(extra * 3 <= extra_kept * 2,
          "%s: backward added %zu bytes to the forward's %zu with the reuse, %zu without", name,
          extra, fused.forward_used, extra_kept);
    /* the fused step keeps less: at least a fifth less activation memory */
    CHECK(fused.arena_used * 5 < plain.arena_used * 4,
          "%s: fused step used %zu bytes of activations, plain %zu", name, fused.arena_used,
          plain.arena_used);
    step_free(&plain);
    step_free(&fused);
    step_free(&poisoned);
    step_free(&kept);
    free(buffers);
    model_free(m);
    free(x);
}

static void test_resnext(void) { check_model("resnext50_32x4d", 32); }
static void test_resnest(void) { check_model("resnest50d_4s2x40d", 32); }
static void test_efficientnet(void) { check_model("efficientnet-b0", 48); }

int main(void) {
    RUN(test_resnext);
    RUN(test_resnest);
    RUN(test_efficientnet);
    CHECK_MAIN_END();
}
