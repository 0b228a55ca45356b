/* ResNeXt and ResNeSt: parameter tables (counts, PyTorch names, shapes,
 * order), forward shapes and named outputs, whole-network gradients against
 * finite differences (f64), BatchNorm state in training, the ArcFace head,
 * thread-count independence, and logits of the PyTorch twins on the same
 * (hash-initialised) weights; module-by-module agreement is
 * tools/compare_model.py's job. */
#include "check.h"

#include <omp.h>
#include <stdint.h>

#include "anomaly/arena.h"
#include "anomaly/model.h"
#include "anomaly/ops.h"
#include "anomaly/resnet.h"
#include "anomaly/rng.h"
#include "anomaly/tape.h"

static Model *make(const char *name, int classes, int arcface) {
    ModelConfig cfg = model_config_default(name, classes);
    cfg.arcface = arcface;
    return model_create(&cfg);
}

static void fill_normal(real *x, size_t n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) x[i] = (real)rng_normal(&r);
}

static int all_finite(const real *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* A forward on a fresh step: x [n, 3, hw, hw]. */
static Tensor *forward(Model *m, Tape *t, real *x, int n, int hw, int training, int recording) {
    tape_reset(t);
    t->training = training;
    t->recording = recording;
    Tensor *in = tape_wrap(t, x, n, 3, hw, hw);
    return model_forward(m, t, in);
}

static int has_shape(const Model *m, const char *name, int ndim, int s0, int s1, int s2, int s3) {
    int i = params_find(&m->params, name);
    if (i < 0) return 0;
    const ParamEntry *e = &m->params.entries[i];
    int want[4] = {s0, s1, s2, s3};
    if (e->ndim != ndim) return 0;
    for (int d = 0; d < ndim; d++)
        if (e->shape[d] != want[d]) return 0;
    return 1;
}

/* ------------------------------------------------------------------------ */

static void test_param_counts(void) {
    /* resnest50d_4s2x40d, by hand: stem 28,768; a block with input i, planes
     * p and width w = 80 p / 64 has i w + 7 w^2 + 17 w + 4 p w + 8 p
     * parameters (attention width = w), each layer's first block adds a
     * downsample of 4 i p + 8 p; the four layers give 264,432 + 1,478,272 +
     * 8,640,384 + 17,956,736, fc 2,049,000: 30,417,592, as the PyTorch twin
     * (timm's structure) counts. */
    static const struct {
        const char *name;
        size_t trainable;
        int entries;
    } want[] = {
        {"resnext50_32x4d", 25028904, 320},
        {"resnext101_32x8d", 88791336, 626},
        {"resnest50d_4s2x40d", 30417592, 476},
    };
    for (int k = 0; k < 3; k++) {
        CHECK(model_known(want[k].name), "%s is not registered", want[k].name);
        Model *m = make(want[k].name, 1000, 0);
        size_t sum = 0;
        for (int i = 0; i < m->params.count; i++)
            if (m->params.entries[i].kind == PARAM_TRAINABLE) sum += m->params.entries[i].numel;
        CHECK(sum == want[k].trainable && m->params.n_param == sum, "%s: %zu trainable, expected %zu",
              want[k].name, sum, want[k].trainable);
        CHECK(m->params.count == want[k].entries, "%s: %d state-dict entries, expected %d",
              want[k].name, m->params.count, want[k].entries);
        CHECK(m->head_features == 2048, "%s: head features %d", want[k].name, m->head_features);
        model_free(m);
    }
    CHECK(!model_known("resnext50") && !model_known("resnest50d"), "partial names must not match");
    CHECK(resnest_make_divisible(80, 8, 32) == 80 && resnest_make_divisible(20, 8, 32) == 32 &&
              resnest_make_divisible(100, 8, 32) == 104 && resnest_make_divisible(11, 8, 8) == 16,
          "make_divisible differs from timm's");
}

static void test_names_shapes_order(void) {
    Model *m = make("resnext50_32x4d", 1000, 0);
    CHECK(has_shape(m, "conv1.weight", 4, 64, 3, 7, 7), "resnext50 conv1.weight");
    CHECK(has_shape(m, "layer1.0.conv2.weight", 4, 128, 4, 3, 3), "resnext50 grouped conv2");
    CHECK(has_shape(m, "layer1.0.downsample.0.weight", 4, 256, 64, 1, 1), "resnext50 layer1 downsample");
    CHECK(has_shape(m, "layer4.0.downsample.1.running_var", 1, 2048, 0, 0, 0), "resnext50 layer4 BN");
    CHECK(params_find(&m->params, "layer1.1.downsample.0.weight") < 0, "only first blocks downsample");
    CHECK(has_shape(m, "fc.weight", 2, 1000, 2048, 0, 0) && has_shape(m, "fc.bias", 1, 1000, 0, 0, 0),
          "resnext50 fc");
    CHECK(strcmp(m->params.entries[0].name, "conv1.weight") == 0 &&
              strcmp(m->params.entries[m->params.count - 1].name, "fc.bias") == 0,
          "resnext50 first/last entries");
    model_free(m);

    m = make("resnext101_32x8d", 1000, 0);
    CHECK(has_shape(m, "layer4.0.conv2.weight", 4, 2048, 64, 3, 3), "resnext101 grouped conv2");
    CHECK(params_find(&m->params, "layer3.22.bn3.num_batches_tracked") >= 0 &&
              params_find(&m->params, "layer3.23.conv1.weight") < 0,
          "resnext101 has 23 blocks in layer3");
    model_free(m);

    m = make("resnest50d_4s2x40d", 1000, 0);
    CHECK(has_shape(m, "conv1.0.weight", 4, 32, 3, 3, 3) && has_shape(m, "conv1.6.weight", 4, 64, 32, 3, 3),
          "resnest deep stem");
    CHECK(params_find(&m->params, "conv1.4.running_mean") >= 0 && params_find(&m->params, "bn1.weight") >= 0,
          "resnest stem BNs");
    CHECK(has_shape(m, "layer1.0.conv2.conv.weight", 4, 320, 10, 3, 3), "split-attention conv");
    CHECK(has_shape(m, "layer1.0.conv2.fc1.weight", 4, 80, 40, 1, 1), "split-attention fc1");
    CHECK(has_shape(m, "layer1.0.conv2.fc2.weight", 4, 320, 40, 1, 1), "split-attention fc2");
    CHECK(has_shape(m, "layer4.2.conv2.fc2.bias", 1, 2560, 0, 0, 0), "layer4 fc2 bias");
    CHECK(has_shape(m, "layer1.0.downsample.1.weight", 4, 256, 64, 1, 1), "layer1 'd' downsample conv");
    CHECK(params_find(&m->params, "layer1.0.downsample.0.weight") < 0, "downsample.0 is a pool");
    /* one block, in timm's module registration order */
    static const char *const block[] = {
        "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
        "bn1.num_batches_tracked", "conv2.conv.weight", "conv2.bn0.weight", "conv2.bn0.bias",
        "conv2.bn0.running_mean", "conv2.bn0.running_var", "conv2.bn0.num_batches_tracked",
        "conv2.fc1.weight", "conv2.fc1.bias", "conv2.bn1.weight", "conv2.bn1.bias",
        "conv2.bn1.running_mean", "conv2.bn1.running_var", "conv2.bn1.num_batches_tracked",
        "conv2.fc2.weight", "conv2.fc2.bias", "conv3.weight", "bn3.weight", "bn3.bias",
        "bn3.running_mean", "bn3.running_var", "bn3.num_batches_tracked", "downsample.1.weight",
        "downsample.2.weight", "downsample.2.bias", "downsample.2.running_mean",
        "downsample.2.running_var", "downsample.2.num_batches_tracked", "conv1.weight"};
    int at = params_find(&m->params, "layer2.0.conv1.weight");
    for (int i = 0; i < (int)(sizeof block / sizeof block[0]); i++) {
        char name[128];
        snprintf(name, sizeof name, "layer2.%d.%s", i == 33 ? 1 : 0, block[i]);
        CHECK(at + i < m->params.count && strcmp(m->params.entries[at + i].name, name) == 0,
              "entry %d after layer2.0.conv1.weight is %s, expected %s", i,
              at + i < m->params.count ? m->params.entries[at + i].name : "(end)", name);
    }
    model_free(m);
}

/* ------------------------------------------------------------------------ */

typedef struct Seen {
    int count, nonfinite, layers, fc, maxpool, avd, pool_down;
    size_t bytes; /* all named outputs: what a recording forward keeps at least */
} Seen;

static void seen_hook(void *user, const char *name, const Tensor *x) {
    Seen *s = user;
    s->count++;
    s->bytes += tensor_numel(x) * sizeof(real);
    if (!all_finite(x->data, tensor_numel(x))) s->nonfinite++;
    if (strncmp(name, "layer", 5) == 0 && name[5] && name[6] == '\0') s->layers++;
    if (strcmp(name, "fc") == 0) s->fc++;
    if (strcmp(name, "maxpool") == 0) s->maxpool++;
    if (strstr(name, ".avd_first")) s->avd++;
    if (strstr(name, ".downsample.0")) s->pool_down++;
}

/* Inference at 64x64, batch 2: logits shape, every named output (the twins'
 * dump_names plus layer1..layer4) finite, and a memory peak well under the
 * activations a recording forward would keep, since each block's
 * temporaries are freed. */
static void test_forward_shapes_64(void) {
    static const struct {
        const char *name;
        int named;
    } models[] = {{"resnext50_32x4d", 128}, {"resnext101_32x8d", 247}, {"resnest50d_4s2x40d", 202}};
    const int n = 2, hw = 64, classes = 10;
    real *x = malloc(sizeof(real) * n * 3 * hw * hw);
    fill_normal(x, (size_t)n * 3 * hw * hw, 7);
    for (int k = 0; k < 3; k++) {
#ifdef ANOMALY_F64
        if (k == 1) continue; /* resnext50's code at 3.5x the cost: f32 covers it */
#endif
        Model *m = make(models[k].name, classes, 0);
        model_init(m, 1);
        Arena a;
        arena_init(&a, (size_t)64 << 20); /* no overflow chunks: keep_only can release */
        Tape t;
        tape_init(&t, &a);
        Seen s = {0};
        t.dump = seen_hook;
        t.dump_user = &s;
        Tensor *y = forward(m, &t, x, n, hw, 0, 0);
        CHECK(y->n == n && y->c == classes && y->h == 1 && y->w == 1, "%s: output [%d, %d, %d, %d]",
              models[k].name, y->n, y->c, y->h, y->w);
        CHECK(all_finite(y->data, tensor_numel(y)), "%s: non-finite logits", models[k].name);
        CHECK(s.count == models[k].named && s.layers == 4 && s.fc == 1 && s.maxpool == 1 && !s.nonfinite,
              "%s: %d named outputs (expected %d), %d layerN, %d fc, %d maxpool, %d non-finite",
              models[k].name, s.count, models[k].named, s.layers, s.fc, s.maxpool, s.nonfinite);
        if (k == 2)
            CHECK(s.avd == 3 && s.pool_down == 3, "resnest: %d avd pools, %d shortcut pools (3 each)",
                  s.avd, s.pool_down);
        CHECK(a.peak * 2 < s.bytes, "%s: inference peak %zu bytes, named outputs %zu", models[k].name,
              a.peak, s.bytes);
        tape_free(&t);
        arena_free(&a);
        model_free(m);
    }
    free(x);
}

/* ------------------------------------------------------------------------ */

static double loss_value(Model *m, Tape *t, real *x, int n, int hw, const int *labels) {
    Tensor *y = forward(m, t, x, n, hw, 1, 0);
    return cross_entropy_forward(y->data, labels, n, y->c * y->h * y->w);
}

/* The derivative of the loss w.r.t. *v by differences; f0 is the loss at
 * the current point. The loss of a 50-layer ReLU network has a kink wherever
 * an activation crosses zero, and in a training step they lie closer than
 * any one step can avoid for every parameter; so this tries a few steps,
 * fixed and scaled to the slope, each as a central difference and, if that
 * is off, as second-order one-sided ones (one of which misses a single
 * nearby kink), and returns the estimate closest to `an` (stopping at the
 * first within `good`, relative). A wrong gradient matches none of them.
 * *v is restored exactly. */
static double differences(Model *m, Tape *t, real *x, int n, int hw, const int *labels, double f0,
                          real *v, double an, double good) {
    const double scale = fmax(fabs(an), 1e-3);
    const double steps[4] = {1e-7, 1e-8, 1e-7 / scale, 1e-8 / scale};
    static const int order[4] = {1, -1, 2, -2};
    const real saved = *v;
    double best = NAN;
    for (int s = 0; s < 4 && !(fabs(best - an) <= good * fabs(an)); s++) {
        double h = fmin(steps[s], 1e-6), f[5], est[3];
        f[2] = f0;
        for (int o = 0; o < 4; o++) {
            *v = saved + (real)(order[o] * h);
            f[order[o] + 2] = loss_value(m, t, x, n, hw, labels);
            if (o == 1) {
                est[0] = (f[3] - f[1]) / (2 * h);
                if (!(fabs(est[0] - an) >= fabs(best - an))) best = est[0];
                if (fabs(best - an) <= good * fabs(an)) break;
            }
        }
        if (fabs(best - an) <= good * fabs(an)) break;
        est[1] = (-3 * f[2] + 4 * f[3] - f[4]) / (2 * h);
        est[2] = (3 * f[2] - 4 * f[1] + f[0]) / (2 * h);
        for (int e = 1; e < 3; e++)
            if (!(fabs(est[e] - an) >= fabs(best - an))) best = est[e];
    }
    *v = saved;
    return best;
}

/* Every BatchNorm counted one batch and moved its running statistics. */
static void check_bn_state(const char *name, const ParamTable *p) {
    int counters = 0, stale = 0;
    for (int i = 0; i < p->count; i++) {
        const ParamEntry *e = &p->entries[i];
        int moved = 0;
        if (e->kind == PARAM_COUNTER) {
            counters++;
            moved = *params_counter(p, i) == 1;
        } else if (e->kind == PARAM_BUFFER) {
            real init = strstr(e->name, "running_mean") ? 0 : 1;
            const real *v = params_data(p, i);
            for (size_t j = 0; j < e->numel; j++) moved |= v[j] != init;
        } else {
            continue;
        }
        if (!moved && stale++ < 5) printf("  %s: %s not updated\n", name, e->name);
    }
    CHECK(counters > 50 && stale == 0, "%s: %d stale BatchNorm entries (%d BatchNorms)", name, stale,
          counters);
}

/* One training step of the whole network (train-mode BatchNorm,
 * cross-entropy loss) at 24x24, batch 4: the odd 3x3 maps reach the
 * ceil-mode shortcut pool's partial window. The step's gradients are finite
 * and non-zero, the BatchNorm state moves, an eval forward then leaves it.
 * In f64 the gradients w.r.t. single parameters across the network and an
 * input pixel match finite differences to 3e-6. (Batch 2 is too rough to
 * difference: split attention's bn1 then normalises two values per
 * channel.) */
static void train_step_check(const char *name, const char *const *singles, int n_singles) {
    const int n = 4, hw = 24, classes = 3;
    const int labels[4] = {2, 0, 1, 2};
    size_t nx = (size_t)n * 3 * hw * hw;
    real *x = malloc(sizeof(real) * nx), *gx = malloc(sizeof(real) * nx);
    fill_normal(x, nx, 11);
    Model *m = make(name, classes, 0);
    model_init(m, 3);
    ParamTable *p = &m->params;
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);

    params_zero_grad(p);
    tape_reset(&t);
    t.training = t.recording = 1;
    Tensor *in = tape_wrap(&t, x, n, 3, hw, hw);
    in->requires_grad = 1;
    Tensor *loss = ag_cross_entropy(&t, model_forward(m, &t, in), labels);
    tape_backward(&t, loss, 1);
    CHECK(in->grad && all_finite(in->grad, nx), "%s: input gradient missing or non-finite", name);
    if (in->grad) memcpy(gx, in->grad, sizeof(real) * nx);
    CHECK(all_finite(p->grad, p->n_param), "%s: non-finite parameter gradient", name);
    double gsum = 0, xsum = 0;
    for (size_t i = 0; i < p->n_param; i++) gsum += fabs(p->grad[i]);
    for (size_t i = 0; i < nx; i++) xsum += fabs(gx[i]);
    CHECK(gsum > 0 && xsum > 0, "%s: gradients are all zero (params %g, input %g)", name, gsum, xsum);

    check_bn_state(name, p);
    real *before = malloc(sizeof(real) * p->n_buffer);
    memcpy(before, p->buffer, sizeof(real) * p->n_buffer);
    forward(m, &t, x, n, hw, 0, 0);
    CHECK_SAME_BITS("running statistics after an eval forward", before, p->buffer,
                    sizeof(real) * p->n_buffer);
    CHECK(*params_counter(p, params_find(p, "bn1.num_batches_tracked")) == 1,
          "%s: an eval forward counted a batch", name);
    free(before);

#ifdef ANOMALY_F64
    const double tol = 3e-6, f0 = loss_value(m, &t, x, n, hw, labels);
    char what[160];
    Rng r;
    rng_seed(&r, 5);
    for (int k = 0; k < n_singles; k++) {
        int e = params_find(p, singles[k]);
        CHECK(e >= 0, "%s: no parameter %s", name, singles[k]);
        if (e < 0) continue;
        size_t j = (size_t)(rng_uniform(&r) * (double)p->entries[e].numel);
        double an = params_grad(p, e)[j];
        double fd = differences(m, &t, x, n, hw, labels, f0, params_data(p, e) + j, an, tol / 3);
        snprintf(what, sizeof what, "%s d loss / d %s[%zu]", name, singles[k], j);
        CHECK_CLOSE_D(what, &an, &fd, 1, tol);
    }
    size_t pixel = nx - 300;
    double an = gx[pixel];
    double fd = differences(m, &t, x, n, hw, labels, f0, x + pixel, an, tol / 3);
    snprintf(what, sizeof what, "%s d loss / d input[%zu]", name, pixel);
    CHECK_CLOSE_D(what, &an, &fd, 1, tol);
#else
    (void)singles;
    (void)n_singles;
    (void)differences;
#endif
    tape_free(&t);
    arena_free(&a);
    model_free(m);
    free(x);
    free(gx);
}

static void test_train_step_resnext(void) {
    static const char *const singles[] = {"conv1.weight", "layer1.0.conv2.weight",
                                          "layer2.0.downsample.0.weight", "layer4.1.bn2.bias"};
    train_step_check("resnext50_32x4d", singles, 4);
}

static void test_train_step_resnest(void) {
    static const char *const singles[] = {"conv1.3.weight", "layer1.0.conv2.conv.weight",
                                          "layer2.1.conv2.fc2.weight", "layer3.0.downsample.1.weight"};
    train_step_check("resnest50d_4s2x40d", singles, 4);
}

/* ------------------------------------------------------------------------ */

/* Logits of the PyTorch twins in float64 (tools/twin, weights from
 * tools/hash_init.py with seed 1, 5 classes, input [4, 3, 32, 32] with
 * x[i] = (7919 i mod 1000) / 500 - 1) in eval and train mode. Train mode is
 * checked in f64 only: batch statistics over four samples amplify rounding
 * about 1e4-fold (PyTorch's own float32 logits differ by up to 2e-3). */
static void golden(const char *name, const double *eval_ref, const double *train_ref) {
    const int n = 4, hw = 32, classes = 5;
    size_t nx = (size_t)n * 3 * hw * hw;
    real *x = malloc(sizeof(real) * nx);
    for (size_t i = 0; i < nx; i++) x[i] = (real)((double)(i * 7919 % 1000) / 500.0 - 1.0);
    Model *m = make(name, classes, 0);
    params_init_hash(&m->params, 1);
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    for (int training = 0; training <= 1; training++) {
#ifndef ANOMALY_F64
        if (training) break;
#endif
        Tensor *y = forward(m, &t, x, n, hw, training, 0);
        double got[20];
        for (int i = 0; i < n * classes; i++) got[i] = y->data[i];
        char what[96];
        snprintf(what, sizeof what, "%s %s logits", name, training ? "train" : "eval");
        CHECK(tensor_numel(y) == (size_t)(n * classes), "%s: %zu logits", what, tensor_numel(y));
        CHECK_CLOSE_D(what, got, training ? train_ref : eval_ref, (size_t)(n * classes),
                      TOL(1e-4, training ? 1e-9 : 1e-12));
    }
    tape_free(&t);
    arena_free(&a);
    model_free(m);
    free(x);
}

static void test_golden_logits(void) {
    static const double resnext_eval[20] = {
        0.055843874879753105, -0.1332530015883112,   -0.026215321703742113, -0.042783084724865354,
        -0.06997613808993648, 0.058178427858075296,  -0.134273117197683,    -0.028836816749971357,
        -0.044215148329824504, -0.0651070613345293,  0.05721472032149353,   -0.1301482954739673,
        -0.030111789914584373, -0.04801887321765354, -0.0667446959251223,   0.059301689215414136,
        -0.1313215349812252,  -0.0296887437286711,   -0.046105616686243044, -0.06643402507064175};
    static const double resnext_train[20] = {
        0.7093647427190529,   -1.2914766809785745, -0.5401723065526141,  0.28330265660524445,
        -0.1118619196582033,  3.3364743115976094,  -1.4836246697412854,  -0.5598558843065502,
        0.3641457874318278,   0.4466231891203878,  1.9934737020747328,   -1.5431616230962704,
        -0.9509885530900519,  0.5476279313101452,  -0.46323784734258155, -0.33104896102261316,
        -1.4164063414572348,  -0.4476579942865768, 0.16771414270759633,  -0.21300172508615273};
    static const double resnest_eval[20] = {
        0.04984863638162547,  -0.1678725195814405,  -0.020445416662903833, -0.11410586736754713,
        0.03588674045668476,  0.049879205689070866, -0.16788624343564157,  -0.020449131866547343,
        -0.11411466040879997, 0.03588265997265361,  0.04986862129508662,   -0.16788122675708986,
        -0.020443320692883328, -0.11412772998129253, 0.0358693099088229,   0.04987983757688612,
        -0.16788849563652397, -0.020459914525516473, -0.11410471790503718, 0.03589973617487824};
    static const double resnest_train[20] = {
        0.46000773597407874,  -1.5201657128472403,  -0.5755212294907925, -0.5570086709508757,
        -0.03013608239046084, 1.0127935162436352,   -0.42803071837306117, -0.28082903921013064,
        0.6490960004741361,   0.02900531261387726,  2.124999973201503,   -1.4845105488277976,
        -0.1208621927096511,  0.1487999448038915,   -0.7736691663788771, 0.8825251020193642,
        -0.595077583740702,   -0.8452529600536522,  -0.27741500913853057, 0.040286034857170944};
    golden("resnext50_32x4d", resnext_eval, resnext_train);
    golden("resnest50d_4s2x40d", resnest_eval, resnest_train);
}

/* ------------------------------------------------------------------------ */

/* The cosine head (shared by both families): a bare fc.weight last in the
 * table, outputs in [-1, 1]. */
static void test_arcface_head(void) {
    const int n = 2, hw = 32, classes = 6;
    real *x = malloc(sizeof(real) * n * 3 * hw * hw);
    fill_normal(x, (size_t)n * 3 * hw * hw, 10);
    Arena a;
    arena_init(&a, 1 << 20);
    Tape t;
    tape_init(&t, &a);
    Model *m = make("resnest50d_4s2x40d", classes, 1);
    model_init(m, 6);
    const ParamTable *p = &m->params;
    CHECK(strcmp(p->entries[p->count - 1].name, "fc.weight") == 0 && params_find(p, "fc.bias") < 0 &&
              has_shape(m, "fc.weight", 2, classes, 2048, 0, 0),
          "the cosine head is a bare fc.weight [%d, 2048]", classes);
    Tensor *y = forward(m, &t, x, n, hw, 0, 0);
    int ok = y->n == n && y->c == classes;
    for (size_t i = 0; ok && i < tensor_numel(y); i++) ok = fabs(y->data[i]) <= 1 + 1e-6;
    CHECK(ok, "cosine outputs must be [%d, %d] within [-1, 1]", n, classes);
    model_free(m);
    tape_free(&t);
    arena_free(&a);
    free(x);
}

/* A training step (forward and backward) is bit-identical on 1 and 2 threads. */
static void test_threads_bitwise(void) {
    const int n = 2, hw = 16;
    const int labels[2] = {1, 0};
    real *x = malloc(sizeof(real) * n * 3 * hw * hw);
    fill_normal(x, (size_t)n * 3 * hw * hw, 12);
    Model *m = make("resnest50d_4s2x40d", 3, 0);
    model_init(m, 7);
    real *buffers = malloc(sizeof(real) * m->params.n_buffer);
    memcpy(buffers, m->params.buffer, sizeof(real) * m->params.n_buffer);
    real *out[2], *grad[2];
    int saved = omp_get_max_threads();
    for (int run = 0; run < 2; run++) {
        omp_set_num_threads(run + 1);
        memcpy(m->params.buffer, buffers, sizeof(real) * m->params.n_buffer);
        params_zero_grad(&m->params);
        Arena a;
        arena_init(&a, 1 << 20);
        Tape t;
        tape_init(&t, &a);
        Tensor *y = forward(m, &t, x, n, hw, 1, 1);
        /* backward reuses the activations' memory: the logits first */
        out[run] = malloc(sizeof(real) * tensor_numel(y));
        memcpy(out[run], y->data, sizeof(real) * tensor_numel(y));
        tape_backward(&t, ag_cross_entropy(&t, y, labels), 1);
        grad[run] = malloc(sizeof(real) * m->params.n_param);
        memcpy(grad[run], m->params.grad, sizeof(real) * m->params.n_param);
        tape_free(&t);
        arena_free(&a);
    }
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("logits on 1 and 2 threads", out[0], out[1], sizeof(real) * n * 3);
    CHECK_SAME_BITS("gradients on 1 and 2 threads", grad[0], grad[1], sizeof(real) * m->params.n_param);
    for (int run = 0; run < 2; run++) {
        free(out[run]);
        free(grad[run]);
    }
    free(buffers);
    model_free(m);
    free(x);
}

int main(void) {
    RUN(test_param_counts);
    RUN(test_names_shapes_order);
    RUN(test_forward_shapes_64);
    RUN(test_golden_logits);
    RUN(test_train_step_resnext);
    RUN(test_train_step_resnest);
    RUN(test_arcface_head);
    RUN(test_threads_bitwise);
    CHECK_MAIN_END();
}
