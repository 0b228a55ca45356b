/* Whole models against the PyTorch twin, from committed fixtures written by
 * tools/compare_model.py --double --fixture (see tests/fixtures/models/README):
 * eval logits, and K training steps (losses, then every parameter and
 * running statistic through per-tensor sums and sampled elements).
 *
 * The references are float64. The double build must match them tightly
 * through every step. The float32 build checks the eval logits and the first
 * step's loss: a float32 training step is ill-conditioned (PyTorch's own
 * float32 and float64 gradients differ by 1e-5 for EfficientNet and by far
 * more for ResNeSt at these batch sizes), and Adam turns that into sign flips
 * of weights whose gradient is near zero, so later steps are compared in the
 * double build only. */
#include "check.h"

#include <dirent.h>
#include <string.h>

#include "anomaly/model.h"
#include "anomaly/safetensors.h"
#include "anomaly/train_step.h"

static const char *fixture_dir(void) {
    const char *d = getenv("ANOMALY_MODEL_FIXTURES");
    return d ? d : "tests/fixtures/models";
}

static const char *meta(const SafeTensors *st, const char *key) {
    const char *v = safetensors_meta(st, key);
    if (!v) {
        printf("  %s: no metadata '%s'\n", st->path, key);
        exit(1);
    }
    return v;
}

static const StTensor *need(const SafeTensors *st, const char *name) {
    const StTensor *t = safetensors_find(st, name);
    if (!t) {
        printf("  %s: no tensor '%s'\n", st->path, name);
        exit(1);
    }
    return t;
}

static real *as_real(const StTensor *t) {
    real *v = malloc(t->numel * sizeof *v);
    st_tensor_to_real(t, v);
    return v;
}

static int run_fixture(const char *path) {
    SafeTensors st;
    char err[512];
    int failed_before = check_test_failed;
    if (safetensors_open(path, &st, err, sizeof err) != 0) {
        CHECK(0, "%s", err);
        return 0;
    }
    ModelConfig cfg = model_config_default(meta(&st, "model"), atoi(meta(&st, "num_classes")));
    cfg.arcface = strcmp(meta(&st, "arcface"), "True") == 0;
    cfg.same_padding = strcmp(meta(&st, "same_padding"), "dynamic") == 0 ? SAME_DYNAMIC : SAME_STATIC;
    cfg.image_size = atoi(meta(&st, "image_size"));
    cfg.dropout = 0;
    cfg.drop_connect = 0;
    Model *m = model_create(&cfg);
    params_init_hash(&m->params, (uint64_t)atoll(meta(&st, "seed")));

    const StTensor *xt = need(&st, "input"), *lt = need(&st, "labels");
    int n = (int)xt->shape[0], h = (int)xt->shape[2], w = (int)xt->shape[3];
    real *x = as_real(xt);
    int64_t *l64 = malloc((size_t)n * sizeof *l64);
    st_tensor_to_i64(lt, l64);
    int *labels = malloc((size_t)n * sizeof *labels);
    for (int i = 0; i < n; i++) labels[i] = (int)l64[i];
    double scale = atof(meta(&st, "scale"));

    Arena arena;
    arena_init(&arena, 0);
    Tape t;
    tape_init(&t, &arena);
    Tensor *y = model_logits(m, &t, x, n, h, w, scale);
    real *ref = as_real(need(&st, "logits"));
    char what[2048];
    snprintf(what, sizeof what, "%s eval logits", path);
    CHECK_CLOSE(what, y->data, ref, tensor_numel(y), TOL(1e-4, 1e-6));
    free(ref);

    StepConfig c = step_config_default();
    c.criterion = strcmp(meta(&st, "criterion"), "ce") == 0 ? CRITERION_CE : CRITERION_SMOOTHING;
    c.arcloss = strcmp(meta(&st, "arcloss"), "True") == 0;
    c.margin = atof(meta(&st, "margin"));
    c.scale = scale;
    c.optimizer = strcmp(meta(&st, "optimizer"), "SGD") == 0 ? OPTIMIZER_SGD : OPTIMIZER_ADAM;
    c.adam.lr = c.sgd.lr = atof(meta(&st, "lr"));
    c.adam.weight_decay = c.sgd.weight_decay = atof(meta(&st, "weight_decay"));
    c.clipping = atof(meta(&st, "clipping"));
    int steps = atoi(meta(&st, "steps"));
#ifndef ANOMALY_F64
    steps = 1; /* see the comment at the top */
#endif
    real *ref_loss = as_real(need(&st, "losses"));
    long step = 0;
    for (int k = 0; k < steps; k++) {
        StepResult r = train_step(m, &t, x, n, h, w, labels, &c, &step);
        real got = (real)r.loss;
        snprintf(what, sizeof what, "%s loss of step %d", path, k + 1);
        CHECK_CLOSE(what, &got, &ref_loss[k], 1, TOL(1e-4, 1e-7));
    }
    free(ref_loss);

    /* Parameters and statistics after the steps (double build). */
#ifdef ANOMALY_F64
    const ParamTable *p = &m->params;
    int tensors = 0;
    for (int i = 0; i < p->count; i++) {
        const ParamEntry *e = &p->entries[i];
        char key[PARAM_NAME_MAX + 8];
        if (e->kind == PARAM_COUNTER) {
            CHECK(*params_counter(p, i) == steps, "%s: %s is %lld after %d steps", path, e->name,
                  (long long)*params_counter(p, i), steps);
            continue;
        }
        const real *d = params_data(p, i);
        snprintf(key, sizeof key, "sum/%s", e->name);
        const StTensor *sum_t = need(&st, key);
        real tmp;
        st_tensor_to_real(sum_t, &tmp);
        double ref_sum = tmp;
        double got_sum = 0;
        for (size_t k = 0; k < e->numel; k++) got_sum += fabs((double)d[k]);
        snprintf(what, sizeof what, "%s sum|%s|", path, e->name);
        CHECK_CLOSE_D(what, &got_sum, &ref_sum, 1, 1e-6);
        snprintf(key, sizeof key, "pos/%s", e->name);
        const StTensor *pos_t = need(&st, key);
        snprintf(key, sizeof key, "val/%s", e->name);
        real *vals = as_real(need(&st, key));
        int64_t *pos = malloc(pos_t->numel * sizeof *pos);
        st_tensor_to_i64(pos_t, pos);
        real *got = malloc(pos_t->numel * sizeof *got);
        for (size_t k = 0; k < pos_t->numel; k++) got[k] = d[pos[k]];
        snprintf(what, sizeof what, "%s %s (sampled)", path, e->name);
        CHECK_CLOSE(what, got, vals, pos_t->numel, 1e-5);
        free(vals);
        free(pos);
        free(got);
        tensors++;
    }
    CHECK(tensors > 0, "%s: no parameters compared", path);
#endif
    printf("  %s: %s, %d steps\n", path, cfg.name, steps);
    tape_free(&t);
    arena_free(&arena);
    free(x);
    free(l64);
    free(labels);
    model_free(m);
    safetensors_close(&st);
    return check_test_failed == failed_before;
}

static void test_model_fixtures(void) {
    DIR *dir = opendir(fixture_dir());
    CHECK(dir != NULL, "cannot open %s", fixture_dir());
    if (!dir) return;
    int count = 0;
    struct dirent *de;
    char *names[64];
    while ((de = readdir(dir)) && count < 64)
        if (strstr(de->d_name, ".safetensors")) names[count++] = strdup(de->d_name);
    closedir(dir);
    CHECK(count >= 3, "expected at least 3 model fixtures in %s, found %d", fixture_dir(), count);
    for (int i = 0; i < count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", fixture_dir(), names[i]);
        run_fixture(path);
        free(names[i]);
    }
}

int main(void) {
    RUN(test_model_fixtures);
    CHECK_MAIN_END();
}
