/* The ArcFace head's state-dict key: the original keeps it as a bare
 * nn.Parameter `_fc`, so checkpoints are written with `_fc`; files with the
 * older `_fc.weight` are still read (weights, --pretrained, test), and a file
 * holding both is refused. */
#include "check.h"
#include "tmpdir.h"

#include <string.h>

#include "anomaly/model.h"
#include "anomaly/safetensors.h"
#include "anomaly/error.h"
#include "anomaly/trainer.h"

static Model *arcface_b0(int classes, uint64_t seed) {
    ModelConfig cfg = model_config_default("efficientnet-b0", classes);
    cfg.arcface = 1;
    Model *m = model_create(&cfg);
    model_init(m, seed);
    return m;
}

/* Writes the table, renaming `_fc` to `rename_to` (NULL: keep) and adding
 * `extra` as a copy of `_fc` (NULL: none). */
static void save_renamed(const char *path, const ParamTable *t, const char *rename_to, const char *extra) {
    StWriter w;
    st_writer_init(&w);
    for (int i = 0; i < t->count; i++) {
        const ParamEntry *e = &t->entries[i];
        int64_t shape[PARAM_MAX_DIMS];
        for (int d = 0; d < e->ndim; d++) shape[d] = e->shape[d];
        int head = strcmp(e->name, "_fc") == 0;
        if (e->kind == PARAM_COUNTER) {
            st_writer_add_i64(&w, e->name, params_counter(t, i), e->ndim, shape);
            continue;
        }
        st_writer_add_real(&w, head && rename_to ? rename_to : e->name, params_data(t, i), e->ndim, shape);
        if (head && extra) st_writer_add_real(&w, extra, params_data(t, i), e->ndim, shape);
    }
    st_writer_commit(&w, path);
}

/* Files hold float32: the heads agree once rounded to it. */
static int same_head(const Model *a, const Model *b) {
    int i = params_find(&a->params, "_fc"), j = params_find(&b->params, "_fc");
    if (i < 0 || j < 0) return 0;
    const real *x = params_data(&a->params, i), *y = params_data(&b->params, j);
    for (size_t k = 0; k < a->params.entries[i].numel; k++)
        if ((float)x[k] != (float)y[k]) return 0;
    return 1;
}

static void test_written_as_fc(void) {
    Model *m = arcface_b0(6, 1);
    const char *p = tmp_path("w.safetensors");
    safetensors_save_params(p, &m->params);
    SafeTensors st;
    char err[512];
    CHECK(safetensors_open(p, &st, err, sizeof err) == 0, "%s", err);
    const StTensor *fc = safetensors_find(&st, "_fc");
    CHECK(fc && fc->ndim == 2 && fc->shape[0] == 6 && fc->shape[1] == 1280, "the head is saved as `_fc` [6, 1280]");
    CHECK(!safetensors_find(&st, "_fc.weight"), "no `_fc.weight` in a new file");
    safetensors_close(&st);
    model_free(m);
}

static void test_reads_both_keys(void) {
    Model *src = arcface_b0(6, 2), *m = arcface_b0(6, 3);
    char err[512];
    const char *old = tmp_path("old.safetensors");
    save_renamed(old, &src->params, "_fc.weight", NULL);
    CHECK(safetensors_read_params(old, &m->params, err, sizeof err) == 0, "`_fc.weight` file: %s", err);
    CHECK(same_head(m, src), "the head comes from `_fc.weight`");
    model_init(m, 3);
    const char *now = tmp_path("new.safetensors");
    save_renamed(now, &src->params, NULL, NULL);
    CHECK(safetensors_read_params(now, &m->params, err, sizeof err) == 0, "`_fc` file: %s", err);
    CHECK(same_head(m, src), "the head comes from `_fc`");
    /* --pretrained reads the old key too (the head loads: same class count) */
    model_init(m, 3);
    int head = -1;
    CHECK(load_pretrained(old, m, &head, err, sizeof err) == 0, "pretrained: %s", err);
    CHECK(head == 1 && same_head(m, src), "--pretrained loads the head from `_fc.weight`");
    model_free(src);
    model_free(m);
}

static void test_both_keys_refused(void) {
    Model *src = arcface_b0(6, 2), *m = arcface_b0(6, 3);
    char err[512] = "";
    const char *p = tmp_path("both.safetensors");
    save_renamed(p, &src->params, NULL, "_fc.weight");
    CHECK(safetensors_read_params(p, &m->params, err, sizeof err) != 0, "a file with both keys must be refused");
    CHECK(strstr(err, "'_fc' and '_fc.weight' are both present") != NULL, "message: %s", err);
    /* a dotted name never falls back: conv weights keep their own key */
    save_renamed(p, &src->params, "_fc.bias", NULL);
    CHECK(safetensors_read_params(p, &m->params, err, sizeof err) != 0 && strstr(err, "missing key '_fc'"),
          "message: %s", err);
    model_free(src);
    model_free(m);
}

/* A resume state written before the rename holds `_fc.weight` and its
 * moments `optim.m._fc.weight`, `optim.v._fc.weight`; it still resumes. */
static void test_resume_old_state(void) {
    Model *a = arcface_b0(6, 4), *b = arcface_b0(6, 5);
    params_alloc_moments(&a->params);
    for (size_t i = 0; i < a->params.n_param; i++) a->params.m[i] = (real)i, a->params.v[i] = (real)(2 * i);
    TrainState s, r;
    memset(&s, 0, sizeof s);
    memset(&r, 0, sizeof r);
    sched_init_reduce(&s.sched, 5e-5, 0.1, 5);
    epoch_rule_init(&s.rule, TRAIN_BASELINE, 4);
    s.log = xstrdup("1,0.5,0.25,,,5e-05,1.000,1\n");
    s.step = 3;
    const char *p = tmp_path("state.safetensors"), *q = tmp_path("old_state.safetensors");
    train_state_save(p, &s, a);
    SafeTensors st;
    char err[512];
    CHECK(safetensors_open(p, &st, err, sizeof err) == 0, "%s", err);
    StWriter w;
    st_writer_init(&w);
    for (int i = 0; i < st.n_meta; i++) st_writer_meta(&w, st.meta_keys[i], st.meta_values[i]);
    int renamed = 0;
    for (int i = 0; i < st.count; i++) {
        const StTensor *t = &st.tensors[i];
        char name[PARAM_NAME_MAX + 24];
        size_t n = strlen(t->name);
        int head = n >= 3 && strcmp(t->name + n - 3, "_fc") == 0;
        snprintf(name, sizeof name, "%s%s", t->name, head ? ".weight" : "");
        renamed += head;
        st_writer_add_raw(&w, name, t->dtype, t->data, t->ndim, t->shape);
    }
    st_writer_commit(&w, q);
    safetensors_close(&st);
    CHECK(renamed == 3, "renamed %d of the head's 3 parts", renamed);
    CHECK(train_state_load(q, &r, b, err, sizeof err) == 0, "old state: %s", err);
    int fc = params_find(&b->params, "_fc");
    const ParamEntry *e = &b->params.entries[fc];
    CHECK(same_head(a, b) && b->params.m && b->params.m[e->offset + 1] == (real)(e->offset + 1) &&
              b->params.v[e->offset + 2] == (real)(2 * (e->offset + 2)),
          "the head and its moments come from the old names");
    train_state_free(&r);
    free(s.log);
    model_free(a);
    model_free(b);
}

int main(void) {
    tmpdir_create("fc_key");
    RUN(test_written_as_fc);
    RUN(test_reads_both_keys);
    RUN(test_both_keys_refused);
    RUN(test_resume_old_state);
    tmpdir_remove();
    CHECK_MAIN_END();
}
