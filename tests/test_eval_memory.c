/* Lean inference: with the tape not recording, BatchNorm, the activations,
 * the squeeze-excitation scale and the residual add overwrite their input
 * (a temporary nothing reads afterwards) and each block keeps only its
 * output. The logits must be those of the same eval-mode forward with every
 * op recorded and every activation kept, bit for bit, for each model family;
 * and EfficientNet-B0's activation arena must stay within a bound set by
 * its largest module output. */
#include "check.h"

#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "anomaly/arena.h"
#include "anomaly/model.h"
#include "anomaly/ops.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"
#include "anomaly/train_step.h"

/* Running statistics other than 0 and 1, so eval-mode BatchNorm changes
 * every value. */
static void random_buffers(Model *m) {
    ParamTable *p = &m->params;
    Rng r;
    rng_seed(&r, 5);
    for (int i = 0; i < p->count; i++) {
        if (p->entries[i].kind != PARAM_BUFFER) continue;
        real *d = params_data(p, i);
        const int var = strstr(p->entries[i].name, "running_var") != NULL;
        for (size_t k = 0; k < p->entries[i].numel; k++)
            d[k] = var ? (real)rng_range(&r, 0.5, 1.5) : (real)(0.1 * rng_normal(&r));
    }
}

/* Logits of the eval-mode forward; lean: model_logits (not recording),
 * else the same forward with the tape recording. *peak: arena peak bytes. */
static real *eval_logits(Model *m, real *x, int n, int hw, int lean, size_t *peak) {
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    Tensor *y;
    if (lean) {
        y = model_logits(m, &t, x, n, hw, hw, 1);
    } else {
        t.training = 0;
        t.recording = 1;
        y = model_forward(m, &t, tape_wrap(&t, x, n, 3, hw, hw));
    }
    real *out = malloc(sizeof(real) * tensor_numel(y));
    memcpy(out, y->data, sizeof(real) * tensor_numel(y));
    *peak = a.peak;
    tape_free(&t);
    arena_free(&a);
    return out;
}

static void largest_output(void *user, const char *name, const Tensor *x) {
    (void)name;
    size_t *m = user;
    if (tensor_numel(x) > *m) *m = tensor_numel(x);
}

/* Values in the largest named module output of an inference forward. */
static size_t largest_module_output(Model *m, real *x, int n, int hw) {
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    size_t largest = 0;
    t.dump = largest_output;
    t.dump_user = &largest;
    model_logits(m, &t, x, n, hw, hw, 1);
    tape_free(&t);
    arena_free(&a);
    return largest;
}

static Model *make_model(const char *name, int classes) {
    ModelConfig cfg = model_config_default(name, classes);
    Model *m = model_create(&cfg);
    model_init(m, 9);
    random_buffers(m);
    return m;
}

static real *random_images(int n, int hw) {
    const size_t nx = (size_t)n * 3 * hw * hw;
    real *x = malloc(sizeof(real) * nx);
    Rng rng;
    rng_seed(&rng, 21);
    for (size_t i = 0; i < nx; i++) x[i] = (real)rng_normal(&rng);
    return x;
}

static void check_same_logits(const char *name, int n, int hw) {
    const int classes = 5;
    Model *m = make_model(name, classes);
    real *x = random_images(n, hw);
    const size_t nx = (size_t)n * 3 * hw * hw;
    real *x_copy = malloc(sizeof(real) * nx);
    memcpy(x_copy, x, sizeof(real) * nx);
    size_t lean_peak, kept_peak;
    real *kept = eval_logits(m, x, n, hw, 0, &kept_peak);
    real *lean = eval_logits(m, x, n, hw, 1, &lean_peak);
    char what[128];
    snprintf(what, sizeof what, "%s: eval logits, lean vs recorded", name);
    CHECK_SAME_BITS(what, lean, kept, sizeof(real) * (size_t)n * classes);
    snprintf(what, sizeof what, "%s: the caller's images are left as they were", name);
    CHECK_SAME_BITS(what, x, x_copy, sizeof(real) * nx);
    CHECK(lean_peak * 4 < kept_peak, "%s: lean inference used %zu bytes of activations, the "
          "recorded forward %zu: expected under a quarter", name, lean_peak, kept_peak);
    free(lean);
    free(kept);
    free(x_copy);
    free(x);
    model_free(m);
}

static void test_efficientnet_same_bits(void) { check_same_logits("efficientnet-b0", 2, 64); }
static void test_resnext_same_bits(void) { check_same_logits("resnext50_32x4d", 2, 32); }
static void test_resnest_same_bits(void) { check_same_logits("resnest50d_4s2x40d", 2, 32); }

/* B0 at 128 px x 2: the peak is where the first stride-2 block holds its
 * input, the expansion (the largest module output, M values) and the
 * depthwise output (M / 4) at once, plus the small SE and projection
 * tensors. Keeping one more tensor of the block (BatchNorm's or swish's
 * output beside the expansion, as before the in-place ops) breaks it. */
static void test_efficientnet_arena_bound(void) {
    const int n = 2, hw = 128;
    /* convolution workspaces are per thread: a fixed count, a fixed sum */
    omp_set_num_threads(2);
    Model *m = make_model("efficientnet-b0", 5);
    real *x = random_images(n, hw);
    const size_t largest = largest_module_output(m, x, n, hw) * sizeof(real);
    size_t peak;
    real *y = eval_logits(m, x, n, hw, 1, &peak);
    const size_t bound = largest * 3 / 2 + ((size_t)1 << 20);
    CHECK(peak <= bound, "efficientnet-b0 %d px x %d: activation arena peak %zu bytes, bound "
          "%zu (1.5 x the largest module output, %zu bytes, + 1 MiB)", hw, n, peak, bound,
          largest);
    free(y);
    free(x);
    model_free(m);
}

int main(void) {
    RUN(test_efficientnet_same_bits);
    RUN(test_resnext_same_bits);
    RUN(test_resnest_same_bits);
    RUN(test_efficientnet_arena_bound);
    CHECK_MAIN_END();
}
