/* The resumable state of a training run, and weights to start one from
 * (see trainer.h). */
#include "anomaly/trainer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/safetensors.h"

#define STATE_FORMAT "anomaly-train-state-1"
#define STATE_DTYPE (REAL_BITS == 64 ? ST_F64 : ST_F32)

static void entry_shape(const ParamEntry *e, int64_t *shape) {
    for (int d = 0; d < e->ndim; d++) shape[d] = e->shape[d];
}

/* Same shape; a scalar may be stored as [1], as PyTorch accepts. */
static int same_shape(const StTensor *s, const ParamEntry *e) {
    if (e->ndim == 0 && s->ndim == 1 && s->shape[0] == 1) return 1;
    if (s->ndim != e->ndim) return 0;
    for (int d = 0; d < e->ndim; d++)
        if (s->shape[d] != e->shape[d]) return 0;
    return 1;
}

/* Shape and dtype of s against e: 0, or -1 with the reason. */
static int check_tensor(const char *path, const StTensor *s, const ParamEntry *e, const char *name, char *err,
                        size_t errlen) {
    if (!same_shape(s, e)) {
        char got[128], want[128];
        int64_t shape[PARAM_MAX_DIMS];
        entry_shape(e, shape);
        st_format_shape(got, sizeof got, s->ndim, s->shape);
        st_format_shape(want, sizeof want, e->ndim, shape);
        return error_format(err, errlen, "%s: '%s' has shape %s, the model expects %s", path, name, got, want);
    }
    int counter = e->kind == PARAM_COUNTER;
    int ok = counter ? s->dtype == ST_I64 || s->dtype == ST_I32 : s->dtype == ST_F32 || s->dtype == ST_F64;
    if (!ok)
        return error_format(err, errlen, "%s: '%s' is %s, expected %s", path, name, st_dtype_name(s->dtype),
                       counter ? "I64" : "F32 or F64");
    return 0;
}

static void copy_tensor(const StTensor *s, const ParamTable *t, int i, real *dst) {
    if (t->entries[i].kind == PARAM_COUNTER) st_tensor_to_i64(s, params_counter(t, i));
    else st_tensor_to_real(s, dst ? dst : params_data(t, i));
}

/* ---- train_state.safetensors ---- */

/* Name of part k of entry e: 0 the weights, 1 and 2 the moments. */
static void part_name(char *buf, size_t len, int k, const ParamEntry *e) {
    snprintf(buf, len, k == 0 ? "%s" : k == 1 ? "optim.m.%s" : "optim.v.%s", e->name);
}

/* Part k of entry e in the file; a bare entry (the ArcFace head `_fc`) may
 * be stored as `<name>.weight` by older builds. */
static const StTensor *find_part(const SafeTensors *st, int k, const ParamEntry *e) {
    char name[PARAM_NAME_MAX + 24];
    part_name(name, sizeof name, k, e);
    const StTensor *x = safetensors_find(st, name);
    if (x || strchr(e->name, '.')) return x;
    strcat(name, ".weight");
    return safetensors_find(st, name);
}


static void meta_printf(StWriter *w, const char *key, const char *fmt, ...) ANOMALY_PRINTF(3, 4);
static void meta_printf(StWriter *w, const char *key, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    st_writer_meta(w, key, buf);
}

void train_state_save(const char *path, const TrainState *s, const Model *m) {
    const ParamTable *t = &m->params;
    StWriter w;
    st_writer_init(&w);
    char sched[1024];
    sched_format(sched, sizeof sched, &s->sched);
    st_writer_meta(&w, "format", STATE_FORMAT);
    st_writer_meta(&w, "model", m->cfg.name);
    meta_printf(&w, "num_classes", "%d", m->cfg.num_classes);
    meta_printf(&w, "arcface", "%d", m->cfg.arcface);
    meta_printf(&w, "real_bits", "%d", REAL_BITS);
    meta_printf(&w, "epoch", "%d", s->epoch);
    meta_printf(&w, "step", "%ld", s->step);
    meta_printf(&w, "finished", "%d", s->finished);
    st_writer_meta(&w, "sched", sched);
    meta_printf(&w, "method", "%d", (int)s->rule.method);
    meta_printf(&w, "best_loss", "%.17g", s->rule.es.best);
    meta_printf(&w, "bad_epochs", "%d", s->rule.es.bad_epochs);
    meta_printf(&w, "patience", "%d", s->rule.es.patience);
    meta_printf(&w, "best_f1", "%.17g", s->rule.best_f1);
    meta_printf(&w, "model_rng", "%016" PRIx64 " %016" PRIx64 " %016" PRIx64 " %016" PRIx64, m->rng.s[0],
                m->rng.s[1], m->rng.s[2], m->rng.s[3]);
    meta_printf(&w, "loader_seed", "%" PRIu64, s->seed);
    st_writer_meta(&w, "log", s->log ? s->log : "");
    st_writer_meta(&w, "bad_images", s->bad_images ? s->bad_images : "");
    for (int i = 0; i < t->count; i++) {
        const ParamEntry *e = &t->entries[i];
        int64_t shape[PARAM_MAX_DIMS];
        entry_shape(e, shape);
        if (e->kind == PARAM_COUNTER) st_writer_add_i64(&w, e->name, params_counter(t, i), e->ndim, shape);
        else st_writer_add_raw(&w, e->name, STATE_DTYPE, params_data(t, i), e->ndim, shape);
    }
    /* Moments after the weights, so the weights read like a state dict. */
    for (int k = 0; k < 2 && t->m; k++) {
        const real *mom = k == 0 ? t->m : t->v;
        for (int i = 0; i < t->count; i++) {
            const ParamEntry *e = &t->entries[i];
            if (e->kind != PARAM_TRAINABLE) continue;
            char name[PARAM_NAME_MAX + 16];
            int64_t shape[PARAM_MAX_DIMS];
            entry_shape(e, shape);
            part_name(name, sizeof name, k + 1, e);
            st_writer_add_raw(&w, name, STATE_DTYPE, mom + e->offset, e->ndim, shape);
        }
    }
    st_writer_commit(&w, path);
}

static int parse_long(const char *v, long lo, long hi, long *out) {
    if (!v || !*v) return -1;
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

static int parse_double(const char *v, double *out) {
    if (!v || !*v) return -1;
    char *end;
    *out = strtod(v, &end);
    return *end ? -1 : 0;
}

/* The metadata of a state file into n (but the log), *log and r. */
static int read_meta(const SafeTensors *st, const char *path, const Model *m, TrainState *n, const char **log,
                     Rng *r, char *err, size_t errlen) {
    const char *fmt = safetensors_meta(st, "format"), *model = safetensors_meta(st, "model");
    long classes = 0, arcface = 0;
    if (!fmt || strcmp(fmt, STATE_FORMAT) != 0)
        return error_format(err, errlen, "%s: not a training state of this program (format '%s')", path, fmt ? fmt : "");
    if (!model || parse_long(safetensors_meta(st, "num_classes"), 1, 1L << 30, &classes) ||
        parse_long(safetensors_meta(st, "arcface"), 0, 1, &arcface))
        return error_format(err, errlen, "%s: the model's name, num_classes or arcface entry is missing", path);
    if (strcmp(model, m->cfg.name) != 0 || classes != m->cfg.num_classes || arcface != m->cfg.arcface)
        return error_format(err, errlen, "%s: a state of %s with %ld classes%s, but this run builds %s with %d classes%s",
                       path, model, classes, arcface ? " (ArcFace head)" : "", m->cfg.name, m->cfg.num_classes,
                       m->cfg.arcface ? " (ArcFace head)" : "");
    const char *bits = safetensors_meta(st, "real_bits");
    if (bits && atoi(bits) != REAL_BITS)
        warn("%s was written by the float%s build; continuing in float%d, not bit for bit", path, bits, REAL_BITS);
    const char *sched = safetensors_meta(st, "sched"), *rng = safetensors_meta(st, "model_rng");
    const char *seed = safetensors_meta(st, "loader_seed");
    long epoch, finished, method, bad, patience;
    *log = safetensors_meta(st, "log");
    if (parse_long(safetensors_meta(st, "epoch"), 0, 1L << 30, &epoch) ||
        parse_long(safetensors_meta(st, "step"), 0, 1L << 62, &n->step) ||
        parse_long(safetensors_meta(st, "finished"), 0, 1, &finished) ||
        parse_long(safetensors_meta(st, "method"), 0, 1, &method) ||
        parse_long(safetensors_meta(st, "bad_epochs"), 0, 1L << 30, &bad) ||
        parse_long(safetensors_meta(st, "patience"), 0, 1L << 30, &patience) ||
        parse_double(safetensors_meta(st, "best_loss"), &n->rule.es.best) ||
        parse_double(safetensors_meta(st, "best_f1"), &n->rule.best_f1) || !sched || !rng || !*log || !seed)
        return error_format(err, errlen, "%s: a counter, the scheduler, the log or a stream is missing or malformed", path);
    char serr[256];
    if (sched_parse(&n->sched, sched, serr, sizeof serr))
        return error_format(err, errlen, "%s: scheduler state: %s", path, serr);
    char *end;
    errno = 0;
    n->seed = strtoull(seed, &end, 10);
    if (errno || *end || !*seed ||
        sscanf(rng, "%" SCNx64 " %" SCNx64 " %" SCNx64 " %" SCNx64, &r->s[0], &r->s[1], &r->s[2], &r->s[3]) != 4)
        return error_format(err, errlen, "%s: the loader seed or the dropout stream is malformed", path);
    n->epoch = (int)epoch;
    n->finished = (int)finished;
    n->rule.method = (TrainMethod)method;
    n->rule.es.bad_epochs = (int)bad;
    n->rule.es.patience = (int)patience;
    return 0;
}

int train_state_load(const char *path, TrainState *s, Model *m, char *err, size_t errlen) {
    SafeTensors st;
    if (safetensors_open(path, &st, err, errlen)) return -1;
    ParamTable *t = &m->params;
    TrainState n;
    Rng r;
    const char *log = NULL;
    memset(&n, 0, sizeof n);
    int rc = read_meta(&st, path, m, &n, &log, &r, err, errlen);
    /* Moments are there once a step was taken; every tensor is checked
     * before anything is copied. */
    int parts = 1, expected = t->count;
    for (int i = 0; i < t->count; i++) {
        if (t->entries[i].kind == PARAM_TRAINABLE) {
            parts = find_part(&st, 1, &t->entries[i]) ? 3 : 1;
            break;
        }
    }
    for (int k = 0; k < parts && !rc; k++) {
        for (int i = 0; i < t->count && !rc; i++) {
            const ParamEntry *e = &t->entries[i];
            if (k > 0 && e->kind != PARAM_TRAINABLE) continue;
            char name[PARAM_NAME_MAX + 16];
            part_name(name, sizeof name, k, e);
            const StTensor *x = find_part(&st, k, e);
            rc = x ? check_tensor(path, x, e, name, err, errlen) : error_format(err, errlen, "%s: '%s' is missing", path, name);
            expected += k > 0;
        }
    }
    if (!rc && st.count != expected)
        rc = error_format(err, errlen, "%s: %d tensors where the run's state has %d", path, st.count, expected);
    if (!rc) {
        if (parts == 3) params_alloc_moments(t);
        for (int k = 0; k < parts; k++) {
            for (int i = 0; i < t->count; i++) {
                const ParamEntry *e = &t->entries[i];
                if (k > 0 && e->kind != PARAM_TRAINABLE) continue;
                copy_tensor(find_part(&st, k, e), t, i, k == 0 ? NULL : (k == 1 ? t->m : t->v) + e->offset);
            }
        }
        m->rng = r;
        n.log = xstrdup(log);
        /* absent in states written before images were remembered: none */
        const char *bad = safetensors_meta(&st, "bad_images");
        n.bad_images = bad && *bad ? xstrdup(bad) : NULL;
        *s = n;
    }
    safetensors_close(&st);
    return rc;
}

void train_state_free(TrainState *s) {
    free(s->log);
    s->log = NULL;
    free(s->bad_images);
    s->bad_images = NULL;
}

/* ---- pretrained weights ---- */

int load_pretrained(const char *path, Model *m, int *head_loaded, char *err, size_t errlen) {
    ParamTable *t = &m->params;
    SafeTensors st;
    char why[1024];
    if (safetensors_open(path, &st, why, sizeof why))
        return error_format(err, errlen, "--pretrained: %s", why);
    /* The head is the module of the table's last entry (_fc. or fc.). */
    const char *last = t->entries[t->count - 1].name, *dot = strrchr(last, '.');
    size_t hlen = dot ? (size_t)(dot - last) + 1 : strlen(last);
    int rc = 0, head_ok = 1, n_head_model = 0, n_head_file = 0;
    for (int i = 0; i < t->count && !rc; i++) {
        const ParamEntry *e = &t->entries[i];
        const StTensor *x = safetensors_find_param(&st, e->name);
        int head = strncmp(e->name, last, hlen) == 0;
        n_head_model += head;
        if (head) {
            head_ok = head_ok && x && check_tensor(path, x, e, e->name, why, sizeof why) == 0;
        } else if (!x) {
            rc = error_format(err, errlen, "%s does not fit %s: missing key '%s' (the model has %d tensors, the file %d)",
                         path, m->cfg.name, e->name, t->count, st.count);
        } else if (check_tensor(path, x, e, e->name, why, sizeof why)) {
            rc = error_format(err, errlen, "%s does not fit %s: %s", path, m->cfg.name, why);
        }
    }
    for (int i = 0; i < st.count && !rc; i++) {
        const char *name = st.tensors[i].name;
        if (strncmp(name, last, hlen) == 0) n_head_file++;
        else if (params_find(t, name) < 0)
            rc = error_format(err, errlen, "%s does not fit %s: unexpected key '%s' (not in the model)", path,
                         m->cfg.name, name);
    }
    if (!rc) {
        head_ok = head_ok && n_head_file == n_head_model;
        for (int i = 0; i < t->count; i++)
            if (head_ok || strncmp(t->entries[i].name, last, hlen) != 0)
                copy_tensor(safetensors_find_param(&st, t->entries[i].name), t, i, NULL);
        *head_loaded = head_ok;
    }
    safetensors_close(&st);
    return rc;
}
