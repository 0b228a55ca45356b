/* The exact mode on whole models: a training step (forward, loss,
 * backward, clipping, Adam update) of EfficientNet-b0 and ResNeXt-50 gives
 * the same bytes at 1 and 2 threads (logits, loss, gradients, updated
 * parameters, Adam moments, BatchNorm statistics), and a step of the fast path agrees with
 * the exact one within float rounding, amplified by the network: logits
 * and loss to 1e-3 / 1e-9, gradients to 5e-2 / 1e-8 of their largest value
 * (float / double). A wrong kernel misses these by orders of magnitude.
 *
 * That comparison uses a batch of 8: the last stages see 1x1 images, and
 * BatchNorm over only 2 values per channel (a batch of 2) is a sign
 * function of their difference, which turns the last-bit differences of
 * the sums into differences of order one. With 8 values it still
 * amplifies: ResNeXt's first-layer gradients move by ~1e-2 of the largest
 * gradient in float when the sums round differently. */
#include "check.h"

#include <omp.h>

#include "anomaly/arena.h"
#include "anomaly/exact.h"
#include "anomaly/model.h"
#include "anomaly/tape.h"
#include "anomaly/train_step.h"

typedef struct Run {
    real *logits, *grad, *param, *m, *v, *buffer;
    double loss;
} Run;

static real *copy(const real *src, size_t n) {
    real *p = new_real(n);
    memcpy(p, src, n * sizeof *p);
    return p;
}

/* One training step from the same initial model and batch. */
static Run run(const char *name, int hw, int N, int threads, int exact) {
    enum { CLASSES = 5 };
    const int labels[8] = {3, 1, 0, 4, 2, 2, 1, 3};
    ModelConfig cfg = model_config_default(name, CLASSES);
    Model *m = model_create(&cfg);
    model_init(m, 9);
    const size_t nx = (size_t)N * 3 * hw * hw;
    real *x = new_real(nx);
    Rng r;
    rng_seed(&r, 21);
    fill_uniform(x, nx, &r, -2, 2);
    const int keep_threads = omp_get_max_threads();
    omp_set_num_threads(threads);
    exact_mode_set(exact);
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    StepConfig sc = step_config_default();
    sc.adam.lr = 1e-3; /* a visible update */
    long step = 0;
    Run out;
    const StepResult res = train_step(m, &t, x, N, hw, hw, labels, &sc, &step);
    const ParamTable *p = &m->params;
    out.loss = res.loss;
    out.logits = copy(res.logits->data, (size_t)N * CLASSES);
    out.grad = copy(p->grad, p->n_param);
    out.param = copy(p->param, p->n_param);
    out.m = copy(p->m, p->n_param);
    out.v = copy(p->v, p->n_param);
    out.buffer = copy(p->buffer, p->n_buffer);
    exact_mode_set(0);
    omp_set_num_threads(keep_threads);
    tape_free(&t);
    arena_free(&a);
    model_free(m);
    free(x);
    return out;
}

static void run_free(Run *r) {
    free(r->logits);
    free(r->param);
    free(r->grad);
    free(r->m);
    free(r->v);
    free(r->buffer);
}

static void check_model(const char *name, int hw) {
    ModelConfig cfg = model_config_default(name, 5);
    Model *m = model_create(&cfg);
    const size_t np = m->params.n_param, nb = m->params.n_buffer;
    model_free(m);
    Run one = run(name, hw, 2, 1, 1), two = run(name, hw, 2, 2, 1);
    char what[160];
#define SAME(field, n)                                                              \
    snprintf(what, sizeof what, "%s: exact mode, " #field " at 1 and 2 threads", name); \
    CHECK_SAME_BITS(what, one.field, two.field, (n) * sizeof(real))
    SAME(logits, 10);
    SAME(grad, np);
    SAME(param, np);
    SAME(m, np);
    SAME(v, np);
    SAME(buffer, nb);
#undef SAME
    CHECK(one.loss == two.loss, "%s: exact-mode losses differ", name);
    run_free(&one);
    run_free(&two);
    Run exact = run(name, hw, 8, 2, 1), fast = run(name, hw, 8, 2, 0);
    snprintf(what, sizeof what, "%s: logits, fast vs exact", name);
    CHECK_CLOSE(what, fast.logits, exact.logits, 40, TOL(1e-3, 1e-9));
    CHECK(fabs(fast.loss - exact.loss) <= TOL(1e-3, 1e-9) * fabs(exact.loss),
          "%s: loss, fast %.9g vs exact %.9g", name, fast.loss, exact.loss);
    snprintf(what, sizeof what, "%s: gradients, fast vs exact", name);
    CHECK_CLOSE(what, fast.grad, exact.grad, np, TOL(5e-2, 1e-8));
    run_free(&exact);
    run_free(&fast);
}

static void test_efficientnet_b0(void) { check_model("efficientnet-b0", 32); }
static void test_resnext50(void) { check_model("resnext50_32x4d", 32); }

int main(void) {
    RUN(test_efficientnet_b0);
    RUN(test_resnext50);
    CHECK_MAIN_END();
}
