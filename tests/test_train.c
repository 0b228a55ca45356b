/* The training loop's pure parts: one-class relabelling, the epoch rules of
 * both methods, ArcFace target sets, the resumable state's round trip,
 * --pretrained head handling and the progress line. (The loop itself, resume
 * and the command's errors are tested end to end by test_train.sh.) */
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "anomaly/error.h"
#include "anomaly/labels.h"
#include "anomaly/progress.h"
#include "anomaly/safetensors.h"
#include "anomaly/trainer.h"

static void test_one_class_labels(void) {
    const char *labels[] = {"bottle-broken", "bottle-good", "cable-bent", "cable-good", "pill-color", "pillow-good"};
    int image[] = {1, 2, 3, 0, 4, 5, 3, 2};
    int out[8];
    char **names;
    int n = trainer_one_class_labels(labels, 6, image, 8, "cable", &names, out);
    CHECK(n == 3, "cable: %d names", n);
    if (n == 3) {
        CHECK(strcmp(names[0], "cable-bent") == 0 && strcmp(names[1], "cable-good") == 0 &&
                  strcmp(names[2], "null") == 0, "cable names %s %s %s", names[0], names[1], names[2]);
        int want[] = {2, 0, 1, 2, 2, 2, 1, 0};
        for (int i = 0; i < 8; i++) CHECK(out[i] == want[i], "cable image %d: %d, want %d", i, out[i], want[i]);
    }
    trainer_free_names(names, n);
    /* "null" sorts before "pill-..."; "pillow-good" is another class. */
    n = trainer_one_class_labels(labels, 6, image, 8, "pill", &names, out);
    CHECK(n == 2 && strcmp(names[0], "null") == 0 && strcmp(names[1], "pill-color") == 0, "pill names");
    CHECK(out[4] == 1 && out[5] == 0 && out[0] == 0, "pill relabelling %d %d %d", out[4], out[5], out[0]);
    trainer_free_names(names, n);
    /* Only labels present among the images count: bottle-broken (0) is on image 3. */
    int only_good[] = {1, 2};
    n = trainer_one_class_labels(labels, 6, only_good, 2, "bottle", &names, out);
    CHECK(n == 2 && strcmp(names[0], "bottle-good") == 0 && strcmp(names[1], "null") == 0, "bottle names");
    trainer_free_names(names, n);
    n = trainer_one_class_labels(labels, 6, image, 8, "zipper", &names, out);
    CHECK(n == 0 && names == NULL, "a class without images gives no names (%d)", n);
}

static void test_epoch_rule_baseline(void) {
    /* Saves on strict improvement of the validation loss; stops after
     * `patience` epochs in a row without one. Train numbers do not matter. */
    EpochRule r;
    epoch_rule_init(&r, TRAIN_BASELINE, 3);
    const double val[] = {1.0, 0.9, 0.95, 0.9, 0.8, 0.85, 0.86, 0.87};
    const int want[] = {EPOCH_SAVE, EPOCH_SAVE, 0, 0, EPOCH_SAVE, 0, 0, EPOCH_STOP};
    for (int e = 0; e < 8; e++) {
        int d = epoch_rule_update(&r, 0.1 * e, 1.0, val[e]);
        CHECK(d == want[e], "epoch %d: decision %d, want %d", e + 1, d, want[e]);
    }
    CHECK(r.es.best == 0.8 && r.es.bad_epochs == 3, "best %g, bad %d", r.es.best, r.es.bad_epochs);
    /* A NaN loss never improves. */
    epoch_rule_init(&r, TRAIN_BASELINE, 1);
    CHECK(epoch_rule_update(&r, 0, 0, NAN) == EPOCH_STOP, "NaN counts as no improvement");
}

static void test_epoch_rule_one_class(void) {
    EpochRule r;
    epoch_rule_init(&r, TRAIN_ONE_CLASS, 3);
    /* (train loss, train F1): a save needs both better; F1 1 saves and stops whatever the loss */
    const double seq[][2] = {{1.0, 0.5}, {0.9, 0.5}, {0.8, 0.6}, {0.85, 0.7}, {0.7, 0.55}, {0.9, 1.0}};
    const int want[] = {EPOCH_SAVE, 0, EPOCH_SAVE, 0, 0, EPOCH_SAVE | EPOCH_STOP};
    for (int e = 0; e < 6; e++) {
        int d = epoch_rule_update(&r, seq[e][0], seq[e][1], 123.0);
        CHECK(d == want[e], "epoch %d: decision %d, want %d", e + 1, d, want[e]);
        if (e == 3) CHECK(r.es.bad_epochs == 1, "a save resets the count (%d)", r.es.bad_epochs);
    }
    /* Patience: two epochs without a save stop the run. */
    epoch_rule_init(&r, TRAIN_ONE_CLASS, 2);
    CHECK(epoch_rule_update(&r, 1.0, 0.5, 0) == EPOCH_SAVE, "first epoch saves");
    CHECK(epoch_rule_update(&r, 1.1, 0.6, 0) == 0, "a worse loss does not save");
    CHECK(epoch_rule_update(&r, 0.9, 0.4, 0) == EPOCH_STOP, "a worse F1 does not save; patience reached");
    /* An F1 of 0 before any save is not above the initial best. */
    epoch_rule_init(&r, TRAIN_ONE_CLASS, 5);
    CHECK(epoch_rule_update(&r, 1.0, 0.0, 0) == 0, "F1 0 does not save");
}

static void test_arc_targets(void) {
    /* "baseline" found by name over the 88 labels is SPEC's index set. */
    char names[MVTEC_N_LABELS][64];
    const char *labels[MVTEC_N_LABELS];
    for (int i = 0; i < MVTEC_N_LABELS; i++) {
        snprintf(names[i], sizeof names[i], "%s-%s", mvtec_labels[i].cls, mvtec_labels[i].state);
        labels[i] = names[i];
    }
    uint8_t got[MVTEC_N_LABELS], want[MVTEC_N_LABELS];
    char err[256];
    CHECK(arc_targets_parse("baseline", labels, MVTEC_N_LABELS, got, err, sizeof err) == 0, "baseline parses");
    arcface_baseline_targets(want);
    CHECK(memcmp(got, want, sizeof got) == 0, "baseline by name differs from SPEC's indices");
    int count = 0;
    for (int i = 0; i < MVTEC_N_LABELS; i++) count += got[i];
    CHECK(count == 29, "%d baseline targets, want 29", count);
    /* A subset of the labels keeps the rule. */
    const char *sub[] = {"cable-bent_wire", "cable-good", "pill-crack", "zipper-rough"};
    uint8_t s[4];
    arc_targets_parse("baseline", sub, 4, s, err, sizeof err);
    CHECK(s[0] == 1 && s[1] == 0 && s[2] == 0 && s[3] == 1, "baseline on a subset %d%d%d%d", s[0], s[1], s[2], s[3]);
    CHECK(arc_targets_parse("all", sub, 4, s, err, sizeof err) == 0 && s[0] && s[1] && s[2] && s[3], "all");
    CHECK(arc_targets_parse("batch", sub, 4, s, err, sizeof err) == 1, "batch is decided per batch");
    CHECK(arc_targets_parse("1,3", sub, 4, s, err, sizeof err) == 0 && !s[0] && s[1] && !s[2] && s[3], "a list");
    const char *bad[] = {"4", "1,,2", "x", "1,", "-1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(arc_targets_parse(bad[i], sub, 4, s, err, sizeof err) == -1 && strstr(err, "--arc_targets"),
              "'%s' must be refused", bad[i]);
    int batch[] = {2, 0, 2, 3};
    arc_targets_batch(s, 4, batch, 4, 3);
    CHECK(s[0] == 1 && s[1] == 0 && s[2] == 1 && s[3] == 0, "batch set without null: %d%d%d%d", s[0], s[1], s[2], s[3]);
}

static void fill_model(Model *m, double salt) {
    ParamTable *p = &m->params;
    params_alloc_moments(p);
    for (size_t i = 0; i < p->n_param; i++) {
        p->param[i] = (real)sin(salt + 0.001 * (double)i);
        p->m[i] = (real)(1e-3 * cos(salt + (double)i));
        p->v[i] = (real)(1e-6 * (1 + sin(3 * salt + (double)i)));
    }
    for (size_t i = 0; i < p->n_buffer; i++) p->buffer[i] = (real)(salt + 1.0 / (1.0 + (double)i));
    for (size_t i = 0; i < p->n_counter; i++) p->counter[i] = (int64_t)(salt * 1000) + (int64_t)i;
    rng_stream(&m->rng, 7, (uint64_t)(salt * 100), 3);
    rng_u64(&m->rng);
}

static int same_table(const ParamTable *a, const ParamTable *b, int moments) {
    int same = memcmp(a->param, b->param, a->n_param * sizeof(real)) == 0 &&
               memcmp(a->buffer, b->buffer, a->n_buffer * sizeof(real)) == 0 &&
               memcmp(a->counter, b->counter, a->n_counter * sizeof(int64_t)) == 0;
    if (moments)
        same = same && b->m && b->v && memcmp(a->m, b->m, a->n_param * sizeof(real)) == 0 &&
               memcmp(a->v, b->v, a->n_param * sizeof(real)) == 0;
    return same;
}

static void test_train_state_round_trip(void) {
    char dir[] = "/tmp/anomaly_test_train.XXXXXX", path[256], path2[256], err[1024];
    if (!mkdtemp(dir)) {
        CHECK(0, "cannot make a temporary directory");
        return;
    }
    snprintf(path, sizeof path, "%s/train_state.safetensors", dir);
    snprintf(path2, sizeof path2, "%s/model.safetensors", dir);
    ModelConfig mc = model_config_default("efficientnet-b0", 3);
    Model *a = model_create(&mc), *b = model_create(&mc);
    fill_model(a, 0.25);
    fill_model(b, 0.75);
    TrainState s, r;
    memset(&s, 0, sizeof s);
    s.epoch = 7;
    s.step = 123456789012L;
    s.finished = 0;
    sched_init_reduce(&s.sched, 5e-5, 0.1, 5);
    sched_step(&s.sched, 0.3);
    sched_step(&s.sched, 0.31);
    epoch_rule_init(&s.rule, TRAIN_ONE_CLASS, 4);
    epoch_rule_update(&s.rule, 0.123456789012345678, 1.0 / 3.0, 0);
    epoch_rule_update(&s.rule, 0.2, 0.1, 0);
    s.seed = 0xfedcba9876543210ULL;
    s.log = xstrdup("1,0.5,0.25,,,5e-05,1.000,1\n2,\"quoted\",0,,,5e-05,2.000,0\n");
    train_state_save(path, &s, a);
    CHECK(train_state_load(path, &r, b, err, sizeof err) == 0, "load: %s", err);
    CHECK(same_table(&a->params, &b->params, 1), "weights, buffers, counters or moments differ");
    CHECK(memcmp(&a->rng, &b->rng, sizeof a->rng) == 0, "dropout stream differs");
    CHECK(r.epoch == 7 && r.step == 123456789012L && r.finished == 0 && r.seed == s.seed, "counters");
    CHECK(memcmp(&r.sched, &s.sched, sizeof s.sched) == 0, "scheduler state differs");
    CHECK(r.rule.method == TRAIN_ONE_CLASS && r.rule.es.best == s.rule.es.best && r.rule.best_f1 == s.rule.best_f1 &&
              r.rule.es.bad_epochs == 1 && r.rule.es.patience == 4, "epoch rule state differs");
    CHECK(r.log && strcmp(r.log, s.log) == 0, "log differs: %s", r.log ? r.log : "(null)");
    train_state_free(&r);

    /* A state of a fresh run (no step yet, inf best) has no moments. */
    Model *c = model_create(&mc);
    model_init(c, 5);
    TrainState f;
    memset(&f, 0, sizeof f);
    sched_init_step(&f.sched, 1e-3, 2, 0.9);
    epoch_rule_init(&f.rule, TRAIN_BASELINE, 5);
    f.log = xstrdup("");
    train_state_save(path, &f, c);
    Model *d = model_create(&mc);
    CHECK(train_state_load(path, &r, d, err, sizeof err) == 0, "load without moments: %s", err);
    CHECK(same_table(&c->params, &d->params, 0) && d->params.m == NULL, "fresh state");
    CHECK(isinf(r.rule.es.best) && isinf(r.sched.best), "inf survives the trip");
    train_state_free(&r);

    /* Refusals: another head, a plain checkpoint, a truncated file. */
    ModelConfig other = model_config_default("efficientnet-b0", 4);
    Model *e = model_create(&other);
    CHECK(train_state_load(path, &r, e, err, sizeof err) == -1 && strstr(err, "3 classes"), "other head: %s", err);
    safetensors_save_params(path2, &c->params);
    CHECK(train_state_load(path2, &r, d, err, sizeof err) == -1 && strstr(err, "not a training state"),
          "a checkpoint is not a state: %s", err);
    FILE *fp = fopen(path, "r+b");
    if (fp) {
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fclose(fp);
        CHECK(truncate(path, size - 5) == 0, "truncate");
        CHECK(train_state_load(path, &r, d, err, sizeof err) == -1, "a truncated state must be refused");
    }
    free(s.log);
    free(f.log);
    model_free(a);
    model_free(b);
    model_free(c);
    model_free(d);
    model_free(e);
    remove(path);
    remove(path2);
    rmdir(dir);
}

/* a[i] == b[i] after b went through a float32 checkpoint. */
static int same_as_saved(const real *a, const real *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != (real)(float)b[i]) return 0;
    return 1;
}

static void test_pretrained_head(void) {
    char dir[] = "/tmp/anomaly_test_train.XXXXXX", path[256], err[1024];
    if (!mkdtemp(dir)) {
        CHECK(0, "cannot make a temporary directory");
        return;
    }
    snprintf(path, sizeof path, "%s/w.safetensors", dir);
    ModelConfig big = model_config_default("efficientnet-b0", 7), mine = model_config_default("efficientnet-b0", 5);
    Model *src = model_create(&big), *m = model_create(&mine), *ref = model_create(&mine);
    model_init(src, 1);
    model_init(m, 2);
    model_init(ref, 2);
    safetensors_save_params(path, &src->params);
    int head = -1;
    CHECK(load_pretrained(path, m, &head, err, sizeof err) == 0, "load: %s", err);
    CHECK(head == 0, "a 7-class head must not load into 5 classes");
    int fc = params_find(&m->params, "_fc.weight"), conv = params_find(&m->params, "_conv_stem.weight");
    const ParamEntry *e = &m->params.entries[fc];
    CHECK(memcmp(params_data(&m->params, fc), params_data(&ref->params, fc), e->numel * sizeof(real)) == 0,
          "the head keeps its initialisation");
    CHECK(same_as_saved(params_data(&m->params, conv), params_data(&src->params, conv),
                        m->params.entries[conv].numel), "the body is loaded");
    /* Same head shape: everything loads. */
    model_init(ref, 9);
    safetensors_save_params(path, &ref->params);
    CHECK(load_pretrained(path, m, &head, err, sizeof err) == 0 && head == 1, "same head: %s", err);
    CHECK(same_as_saved(m->params.param, ref->params.param, m->params.n_param) &&
              same_as_saved(m->params.buffer, ref->params.buffer, m->params.n_buffer), "every tensor loaded");
    /* Another architecture is an error, naming the problem. */
    ModelConfig b1 = model_config_default("efficientnet-b1", 5);
    Model *other = model_create(&b1);
    CHECK(load_pretrained(path, other, &head, err, sizeof err) == -1 && strstr(err, "does not fit efficientnet-b1"),
          "b0 weights into b1: %s", err);
    model_free(src);
    model_free(m);
    model_free(ref);
    model_free(other);
    remove(path);
    rmdir(dir);
}

static void test_progress_format(void) {
    char buf[256];
    progress_format(buf, sizeof buf, "fold 1 epoch 2/3 train", 5, 10, 40, 4.0, 10);
    CHECK(strcmp(buf, "fold 1 epoch 2/3 train 5/10 [=====>    ] 10.0 img/s ETA 0:04") == 0, "bar: '%s'", buf);
    progress_format(buf, sizeof buf, "val", 10, 10, 80, 8.0, 4);
    CHECK(strcmp(buf, "val 10/10 [====] 10.0 img/s ETA 0:00") == 0, "full bar: '%s'", buf);
    progress_format(buf, sizeof buf, "x", 0, 3, 0, 0.0, 0);
    CHECK(strcmp(buf, "x 0/3 batches, 0.0 img/s, ETA ?") == 0, "plain line: '%s'", buf);
    progress_format_duration(buf, sizeof buf, 3661.4);
    CHECK(strcmp(buf, "1:01:01") == 0, "duration '%s'", buf);
    progress_format_duration(buf, sizeof buf, 59.6);
    CHECK(strcmp(buf, "1:00") == 0, "duration '%s'", buf);
    CHECK(progress_style_parse("auto") == PROGRESS_STYLE_AUTO && progress_style_parse("on") == PROGRESS_STYLE_ON &&
              progress_style_parse("off") == PROGRESS_STYLE_OFF && progress_style_parse("yes") == -1, "styles");
}

static void test_run_seed(void) {
    uint64_t a = trainer_run_seed(42, 1), b = trainer_run_seed(42, 2), c = trainer_run_seed(43, 1);
    CHECK(a != b && a != c && b != c, "run seeds must differ by fold and by seed");
    CHECK(trainer_run_seed(42, 1) == a, "run seeds are a function of (seed, key)");
}

int main(void) {
    RUN(test_one_class_labels);
    RUN(test_epoch_rule_baseline);
    RUN(test_epoch_rule_one_class);
    RUN(test_arc_targets);
    RUN(test_train_state_round_trip);
    RUN(test_pretrained_head);
    RUN(test_progress_format);
    RUN(test_run_seed);
    CHECK_MAIN_END();
}
