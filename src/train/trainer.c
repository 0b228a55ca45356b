/* The epoch loop of one training run and its rules (see trainer.h). */
#include "anomaly/trainer.h"

#include <dirent.h>
#include <inttypes.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "anomaly/atomic_file.h"
#include "anomaly/dist.h"
#include "anomaly/error.h"
#include "anomaly/loader.h"
#include "anomaly/metrics.h"
#include "anomaly/profile.h"
#include "anomaly/safetensors.h"

#define STATE_DTYPE (REAL_BITS == 64 ? ST_F64 : ST_F32)
#define LOG_HEADER "epoch,train_loss,train_f1,val_loss,val_f1,lr,seconds,saved\n"

/* ---- rules ---- */

void epoch_rule_init(EpochRule *r, TrainMethod method, int patience) {
    memset(r, 0, sizeof *r);
    r->method = method;
    early_stop_init(&r->es, patience);
    r->best_f1 = 0;
}

int epoch_rule_update(EpochRule *r, double train_loss, double train_f1, double val_loss) {
    if (r->method == TRAIN_BASELINE) {
        int saved = early_stop_update(&r->es, val_loss);
        return (saved ? EPOCH_SAVE : 0) | (early_stop_done(&r->es) ? EPOCH_STOP : 0);
    }
    if (train_f1 == 1.0 || (train_loss < r->es.best && train_f1 > r->best_f1)) {
        r->es.best = train_loss;
        r->best_f1 = train_f1;
        r->es.bad_epochs = 0;
        return EPOCH_SAVE | (train_f1 == 1.0 ? EPOCH_STOP : 0);
    }
    r->es.bad_epochs++;
    return early_stop_done(&r->es) ? EPOCH_STOP : 0;
}

/* ---- labels ---- */

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int trainer_one_class_labels(const char *const *labels, int n_labels, const int *image_label, size_t n_images,
                             const char *cls, char ***names, int *out) {
    size_t clen = strlen(cls);
    /* A label string of class cls, or NULL for "null". */
    const char **own = xcalloc((size_t)n_labels + 1, sizeof *own, "one-class labels");
    int any = 0;
    for (int l = 0; l < n_labels; l++)
        if (label_class_len(labels[l]) == clen && strncmp(labels[l], cls, clen) == 0) own[l] = labels[l];
    char **list = xcalloc((size_t)n_labels + 2, sizeof *list, "one-class labels");
    int n = 0;
    unsigned char *used = xcalloc((size_t)n_labels + 1, 1, "one-class labels"); /* [n_labels] + null */
    for (size_t i = 0; i < n_images; i++) {
        int l = image_label[i];
        if (l < 0 || l >= n_labels) fatal("one-class relabelling: image %zu has label %d of %d", i, l, n_labels);
        int slot = own[l] ? l : n_labels;
        any |= own[l] != NULL;
        if (!used[slot]) {
            used[slot] = 1;
            list[n++] = xstrdup(own[l] ? own[l] : "null");
        }
    }
    if (!any) {
        trainer_free_names(list, n);
        free(own);
        free(used);
        *names = NULL;
        return 0;
    }
    qsort(list, (size_t)n, sizeof *list, cmp_str);
    for (size_t i = 0; i < n_images; i++) {
        const char *s = own[image_label[i]] ? own[image_label[i]] : "null";
        char **hit = bsearch(&s, list, (size_t)n, sizeof *list, cmp_str);
        out[i] = (int)(hit - list);
    }
    free(own);
    free(used);
    *names = list;
    return n;
}

void trainer_free_names(char **names, int n) {
    if (!names) return;
    for (int i = 0; i < n; i++) free(names[i]);
    free(names);
}

int arc_targets_parse(const char *spec, const char *const *labels, int n_labels, uint8_t *out, char *err,
                      size_t errlen) {
    memset(out, 0, (size_t)n_labels);
    if (strcmp(spec, "batch") == 0) return 1;
    if (strcmp(spec, "all") == 0) {
        memset(out, 1, (size_t)n_labels);
        return 0;
    }
    if (strcmp(spec, "baseline") == 0) {
        static const char *const classes[] = {"cable", "capsule", "screw", "transistor", "zipper"};
        for (int l = 0; l < n_labels; l++)
            for (size_t k = 0; k < sizeof classes / sizeof classes[0]; k++) {
                size_t len = strlen(classes[k]);
                if (label_class_len(labels[l]) == len && strncmp(labels[l], classes[k], len) == 0 &&
                    strcmp(label_state(labels[l]), "good") != 0)
                    out[l] = 1;
            }
        return 0;
    }
    const char *p = spec;
    do {
        char *end;
        errno = 0;
        long k = strtol(p, &end, 10);
        if (errno || end == p || k < 0 || k >= n_labels || (*end && *end != ',') || (*end == ',' && !end[1])) {
            snprintf(err, errlen, "--arc_targets must be baseline, all, batch or label indices 0..%d like 4,5,6, not '%s'",
                     n_labels - 1, spec);
            return -1;
        }
        out[k] = 1;
        p = *end ? end + 1 : end;
    } while (*p);
    return 0;
}

void arc_targets_batch(uint8_t *out, int n_labels, const int *labels, int n, int null_label) {
    memset(out, 0, (size_t)n_labels);
    for (int i = 0; i < n; i++)
        if (labels[i] != null_label && labels[i] >= 0 && labels[i] < n_labels) out[labels[i]] = 1;
}

uint64_t trainer_run_seed(uint64_t seed, uint64_t key) {
    Rng r;
    rng_stream(&r, seed, 0x72756e /* "run" */, key);
    return rng_u64(&r);
}

/* ---- files of a run ---- */

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int file_exists(const char *path) { return access(path, F_OK) == 0; }

/* Removes what a killed run may have left beyond its last state: checkpoints
 * of later epochs, rank states of other epochs and the temporaries of
 * interrupted writes. */
static void clean_run_dir(const char *dir, int keep_epochs) {
    DIR *d = opendir(dir);
    if (!d) fatal("cannot read the run directory %s: %s", dir, strerror(errno));
    struct dirent *e;
    char path[4096];
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        int epoch = 0, end = 0;
        int stale = strstr(name, ".tmp.") != NULL;
        if (!stale && sscanf(name, "model_%d.safetensors%n", &epoch, &end) == 1 && name[end] == '\0')
            stale = epoch > keep_epochs;
        else if (!stale && sscanf(name, "rank_state_%d.safetensors%n", &epoch, &end) == 1 && name[end] == '\0')
            stale = epoch != keep_epochs;
        if (!stale) continue;
        path_printf(path, sizeof path, "%s/%s", dir, name);
        if (remove(path) != 0) fatal("cannot remove %s: %s", path, strerror(errno));
    }
    closedir(d);
}

static void write_text(const char *path, const char *a, const char *b) {
    AtomicFile f;
    atomic_file_open(&f, path);
    fputs(a, f.fp);
    fputs(b, f.fp);
    atomic_file_commit(&f);
}

static void append_log(TrainState *s, const char *row) {
    size_t a = strlen(s->log), b = strlen(row);
    s->log = xrealloc(s->log, a + b + 1, "the training log");
    memcpy(s->log + a, row, b + 1);
}

/* ---- one pass over a loader ---- */

typedef struct Pass {
    double loss; /* mean of the batch losses */
    double f1;
    size_t images;
} Pass;

/* Index of the largest logit, the first on ties, NaN above all (torch.argmax). */
static int argmax_row(const real *x, int c) {
    int best = 0;
    for (int j = 1; j < c; j++)
        if ((isnan(x[j]) && !isnan(x[best])) || x[j] > x[best]) best = j;
    return best;
}

typedef struct RunCtx {
    const TrainConfig *c;
    const TrainRun *run;
    Model *m;
    Tape tape;
    Arena arena;
    StepConfig sc;
    uint8_t *targets;    /* [n_names] ArcFace targets, or NULL */
    int per_batch;       /* targets decided per batch */
    int null_label;
    int *truth, *pred;   /* [largest subset] */
    DistGroup g;         /* data-parallel ranks */
    int lead;            /* rank 0: writes and prints */
    int local_batch;     /* images of a full train batch on this rank */
} RunCtx;

/* ---- data-parallel pieces ---- */

static void average_grad(void *ctx, real *grad, size_t n) { dist_average((const DistGroup *)ctx, grad, n); }

/* The pass's numbers over all ranks: per[nb][2] holds this rank's loss sum
 * and image count of each batch, truth/pred its n predictions. Every rank
 * gets the same result: batch losses summed in rank order over the shards,
 * divided by the batch's images; F1 over every rank's predictions. */
static Pass reduce_pass(RunCtx *x, const double *per, size_t nb, size_t n) {
    Pass r = {0, 0, 0};
    void *all;
    size_t bytes;
    dist_allgather(&x->g, per, 2 * nb * sizeof *per, &all, &bytes);
    const double *a = all;
    double sum = 0;
    size_t batches = 0;
    for (size_t k = 0; k < nb; k++) {
        double loss = 0, images = 0;
        for (int q = 0; q < x->g.size; q++) {
            loss += a[(size_t)q * 2 * nb + 2 * k];
            images += a[(size_t)q * 2 * nb + 2 * k + 1];
        }
        if (images > 0) {
            sum += loss / images;
            batches++;
        }
    }
    free(all);
    int *pairs = xmalloc((n ? n : 1) * 2 * sizeof *pairs, "epoch predictions");
    for (size_t i = 0; i < n; i++) {
        pairs[2 * i] = x->truth[i];
        pairs[2 * i + 1] = x->pred[i];
    }
    dist_allgather(&x->g, pairs, 2 * n * sizeof *pairs, &all, &bytes);
    free(pairs);
    r.images = bytes / (2 * sizeof *pairs);
    int *truth = xmalloc((r.images ? r.images : 1) * 2 * sizeof *truth, "epoch predictions"), *pred = truth + r.images;
    const int *b = all;
    for (size_t i = 0; i < r.images; i++) {
        truth[i] = b[2 * i];
        pred[i] = b[2 * i + 1];
    }
    free(all);
    r.loss = batches ? sum / (double)batches : NAN;
    r.f1 = macro_f1(truth, pred, r.images, x->run->n_names);
    free(truth);
    return r;
}

/* DDP's rule for buffers (broadcast_buffers, its default): before every
 * forward pass rank 0's BatchNorm running statistics and counters overwrite
 * the other ranks' own, so validation uses the statistics the checkpoints
 * hold, and no rank's buffers outlive a step. */
static void sync_buffers(RunCtx *x) {
    if (x->g.size == 1) return;
    ParamTable *t = &x->m->params;
    dist_broadcast(&x->g, t->buffer, t->n_buffer * sizeof *t->buffer, 0);
    dist_broadcast(&x->g, t->counter, t->n_counter * sizeof *t->counter, 0);
}

/* rank_state_{epoch}.safetensors: what ranks 1..P-1 keep for themselves,
 * their dropout streams (rank{r}.rng), written by rank 0. */
static void rank_state_path(char *buf, size_t len, const char *dir, int epoch) {
    path_printf(buf, len, "%s/rank_state_%d.safetensors", dir, epoch);
}

static void save_rank_state(RunCtx *x, int epoch) {
    void *all;
    size_t bytes;
    dist_allgather(&x->g, x->m->rng.s, sizeof x->m->rng.s, &all, &bytes);
    if (x->lead) {
        StWriter w;
        st_writer_init(&w);
        char v[32], name[64];
        snprintf(v, sizeof v, "%d", x->g.size);
        st_writer_meta(&w, "ranks", v);
        snprintf(v, sizeof v, "%d", epoch);
        st_writer_meta(&w, "epoch", v);
        for (int q = 1; q < x->g.size; q++) {
            int64_t shape[1] = {4};
            snprintf(name, sizeof name, "rank%d.rng", q);
            st_writer_add_raw(&w, name, ST_I64, (const unsigned char *)all + (size_t)q * sizeof x->m->rng.s, 1,
                              shape);
        }
        char path[4096];
        rank_state_path(path, sizeof path, x->run->dir, epoch);
        st_writer_commit(&w, path);
        st_writer_free(&w);
    }
    free(all);
}

/* A resumed run continues with the ranks it had: rank r > 0 takes back its
 * dropout stream; a change of P is refused. */
static void load_rank_state(RunCtx *x, int epoch) {
    char path[4096], err[1024], name[64];
    rank_state_path(path, sizeof path, x->run->dir, epoch);
    int here = access(path, F_OK) == 0;
    if (x->g.size == 1) {
        if (here) fatal("cannot resume: %s: the run was trained data-parallel; resume it with the same mpirun -np", path);
        return;
    }
    if (!here)
        fatal("cannot resume with %d ranks: %s is missing (the run was trained by one process; resume it so)",
              x->g.size, path);
    SafeTensors st;
    if (safetensors_open(path, &st, err, sizeof err)) fatal("cannot resume: %s", err);
    const char *ranks = safetensors_meta(&st, "ranks");
    if (!ranks || atoi(ranks) != x->g.size)
        fatal("cannot resume: %s was written by %s ranks, this job has %d; resume with the same mpirun -np", path,
              ranks ? ranks : "?", x->g.size);
    if (x->g.rank > 0) {
        snprintf(name, sizeof name, "rank%d.rng", x->g.rank);
        const StTensor *r = safetensors_find(&st, name);
        int64_t rng[4];
        if (!r || r->numel != 4 || st_tensor_to_i64(r, rng))
            fatal("cannot resume: %s lacks the dropout stream of rank %d", path, x->g.rank);
        for (int k = 0; k < 4; k++) x->m->rng.s[k] = (uint64_t)rng[k];
    }
    safetensors_close(&st);
}


static Pass run_pass(RunCtx *x, Loader *L, int epoch, int train, TrainState *s) {
    const TrainRun *run = x->run;
    Pass r = {0, 0, 0};
    char what[128];
    snprintf(what, sizeof what, "%s epoch %d/%d %s", run->title, epoch, x->c->epochs, train ? "train" : "val");
    loader_start_epoch(L, epoch);
    const size_t nb = loader_num_batches(L);
    double *per = x->g.size > 1 ? xcalloc(2 * (nb ? nb : 1), sizeof *per, "batch losses") : NULL;
    Progress p;
    progress_begin(&p, x->lead ? x->c->progress : PROGRESS_STYLE_OFF, what, nb);
    double sum = 0;
    size_t batches = 0;
    const Batch *b;
    if (!train) sync_buffers(x); /* eval changes no buffer: once is enough */
    while ((b = loader_next(L)) != NULL) {
        if (train && b->n < 2 && b->n < x->local_batch) {
            /* Only after skipped images; BatchNorm statistics need two samples. */
            warn("%s: a batch of one image left after skipping unreadable ones is not trained on", what);
            continue;
        }
        if (x->per_batch) arc_targets_batch(x->targets, run->n_names, b->label, b->n, x->null_label);
        StepResult sr;
        if (train) {
            sync_buffers(x);
            sr = train_step(x->m, &x->tape, b->x, b->n, b->size, b->size, b->label, &x->sc, &s->step);
        } else {
            tape_reset(&x->tape);
            x->tape.training = 0;
            x->tape.recording = 0;
            sr = loss_forward(x->m, &x->tape, b->x, b->n, b->size, b->size, b->label, &x->sc);
        }
        int c = (int)(tensor_numel(sr.logits) / (size_t)b->n);
        for (int i = 0; i < b->n; i++) {
            x->truth[r.images + (size_t)i] = b->label[i];
            x->pred[r.images + (size_t)i] = argmax_row(sr.logits->data + (size_t)i * (size_t)c, c);
        }
        sum += sr.loss;
        batches++;
        if (per) {
            per[2 * b->number] = sr.loss * b->n;
            per[2 * b->number + 1] = b->n;
        }
        r.images += (size_t)b->n;
        progress_update(&p, b->number + 1, r.images);
    }
    progress_end(&p);
    if (per) {
        r = reduce_pass(x, per, nb, r.images);
        free(per);
        return r;
    }
    r.loss = batches ? sum / (double)batches : NAN;
    r.f1 = macro_f1(x->truth, x->pred, r.images, run->n_names);
    return r;
}

/* ---- a run ---- */

static void start_fresh(RunCtx *x, TrainState *s) {
    const TrainConfig *c = x->c;
    model_init(x->m, x->run->seed);
    /* Each rank its own dropout masks; rank 0 keeps the single-process stream. */
    if (x->g.rank > 0) rng_stream(&x->m->rng, x->run->seed, 0x64726f70 /* "drop" */, (uint64_t)x->g.rank);
    if (c->pretrained) {
        char err[1024];
        int head = 0;
        if (load_pretrained(c->pretrained, x->m, &head, err, sizeof err)) fatal("%s", err);
        if (!head && x->lead)
            printf("%s: the head of %s does not fit %d classes; it starts from its initialisation\n", x->run->title,
                   c->pretrained, x->run->n_names);
    }
    memset(s, 0, sizeof *s);
    s->seed = x->run->seed;
    if (c->scheduler == SCHED_REDUCE) sched_init_reduce(&s->sched, c->lr, c->lr_factor, c->patience);
    else sched_init_step(&s->sched, c->lr, 2, 0.9);
    epoch_rule_init(&s->rule, c->method, c->patience);
    s->log = xstrdup("");
}

/* The images a resumed run's first part skipped as unreadable, marked in
 * both loaders (an index outside a loader's subset changes nothing there). */
static void mark_bad_images(const char *list, const char *state_path, size_t n, Loader *a, Loader *b) {
    for (const char *p = list; p && *p;) {
        char *end;
        errno = 0;
        const unsigned long long i = strtoull(p, &end, 10);
        if (errno || end == p || (*end && *end != ',') || i >= n)
            fatal("cannot resume: %s: bad_images '%s' does not fit the %zu train images", state_path, list, n);
        loader_mark_bad(a, (size_t)i);
        if (b) loader_mark_bad(b, (size_t)i);
        p = *end ? end + 1 : end;
    }
}

/* s->bad_images from what the loaders know. */
static void remember_bad_images(TrainState *s, size_t n, const Loader *a, const Loader *b) {
    size_t len = 0, cap = 64;
    char *list = xmalloc(cap, "the list of unreadable images");
    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (!loader_is_bad(a, i) && !(b && loader_is_bad(b, i))) continue;
        if (cap - len < 32) list = xrealloc(list, cap *= 2, "the list of unreadable images");
        len += (size_t)snprintf(list + len, cap - len, "%s%zu", len ? "," : "", i);
    }
    free(s->bad_images);
    s->bad_images = len ? list : NULL;
    if (!len) free(list);
}

int trainer_train_run(const TrainConfig *c, const Dataset *ds, const TrainRun *run) {
    char state_path[4096], done_path[4096], log_path[4096], path[4096];
    path_printf(state_path, sizeof state_path, "%s/train_state.safetensors", run->dir);
    path_printf(done_path, sizeof done_path, "%s/done", run->dir);
    path_printf(log_path, sizeof log_path, "%s/log.csv", run->dir);
    const DistGroup g = c->group.size > 0 ? c->group : dist_self();
    const int lead = g.rank == 0;
    if (c->resume && file_exists(done_path)) {
        if (lead) printf("%s: finished before (%s), skipped\n", run->title, done_path);
        return RUN_SKIPPED;
    }
    if (c->batch_size % g.size != 0)
        fatal("%s: --batch_size %d does not split evenly over %d ranks", run->title, c->batch_size, g.size);
    if (g.size > 1 && c->skip_bad)
        fatal("%s: --skip_bad_images is not supported data-parallel (the ranks' shards would differ in size)",
              run->title);
    if (run->n_train < (size_t)c->batch_size)
        fatal("%s: %zu train images, fewer than --batch_size %d: not one batch to train on (the last partial "
              "batch is dropped)", run->title, run->n_train, c->batch_size);
    RunCtx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.run = run;
    x.g = g;
    x.lead = lead;
    x.local_batch = c->batch_size / g.size;
    ModelConfig mc = c->model;
    mc.num_classes = run->n_names;
    x.m = model_create(&mc);
    TrainState s;
    if (c->resume && file_exists(state_path)) {
        char err[1024];
        if (train_state_load(state_path, &s, x.m, err, sizeof err)) fatal("cannot resume: %s", err);
        load_rank_state(&x, s.epoch);
        if (lead) printf("%s: resuming after epoch %d (%s)\n", run->title, s.epoch, run->dir);
    } else {
        char val[64] = "no validation";
        if (run->n_val) snprintf(val, sizeof val, "%zu validation images", run->n_val);
        if (lead) {
            printf("%s: %s, %d classes, %zu train images, %s, seed %llu -> %s", run->title, mc.name, run->n_names,
                   run->n_train, val, (unsigned long long)run->seed, run->dir);
            if (g.size > 1) printf(", data-parallel over %d ranks (%d images each)", g.size, x.local_batch);
            printf("\n");
        }
        start_fresh(&x, &s);
    }
    fflush(stdout);
    if (lead) {
        clean_run_dir(run->dir, s.epoch);
        write_text(log_path, LOG_HEADER, s.log);
    }

    /* --profile: every op of this run (validation included), per training
     * step; reported before the model (which owns the layer names) is freed. */
    const long profile_step0 = s.step;
    const double profile_t0 = profile_now();
    if (c->profile) {
        profile_enable(1);
        profile_reset();
    }

    x.sc = c->step;
    if (g.size > 1) {
        x.sc.reduce_grad = average_grad;
        x.sc.reduce_ctx = &x.g;
    }
    x.null_label = -1;
    for (int l = 0; l < run->n_names; l++)
        if (strcmp(run->names[l], "null") == 0) x.null_label = l;
    if (c->model.arcface) {
        char err[512];
        x.targets = xmalloc((size_t)run->n_names, "ArcFace targets");
        x.per_batch = arc_targets_parse(c->arc_targets, run->names, run->n_names, x.targets, err, sizeof err);
        if (x.per_batch < 0) fatal("%s", err);
        x.sc.arc_target = x.targets;
    }
    size_t most = run->n_train > run->n_val ? run->n_train : run->n_val;
    x.truth = xmalloc(most * sizeof *x.truth, "epoch labels");
    x.pred = xmalloc(most * sizeof *x.pred, "epoch predictions");
    arena_init(&x.arena, 0);
    tape_init(&x.tape, &x.arena);

    LoaderConfig tc = loader_config_train(c->img_size, c->batch_size);
    tc.aug_ver = c->aug_ver;
    tc.skip_bad = c->skip_bad;
    tc.seed = s.seed;
    tc.shard = g.rank;
    tc.shards = g.size;
    Loader *train = loader_create(&tc, (const char *const *)ds->train_path, run->labels, ds->n_train,
                                  run->train_idx, run->n_train);
    Loader *val = NULL;
    if (run->n_val) {
        LoaderConfig vc = loader_config_test(c->img_size, c->batch_size);
        vc.aug_ver = c->val_aug_ver;
        vc.skip_bad = c->skip_bad;
        vc.seed = s.seed;
        vc.shard = g.rank;
        vc.shards = g.size;
        val = loader_create(&vc, (const char *const *)ds->train_path, run->labels, ds->n_train, run->val_idx,
                            run->n_val);
    }

    mark_bad_images(s.bad_images, state_path, ds->n_train, train, val);

    int here = 0, status = RUN_FINISHED;
    while (!s.finished && s.epoch < c->epochs) {
        int epoch = s.epoch + 1;
        double lr = s.sched.lr, t0 = now_seconds();
        x.sc.adam.lr = x.sc.sgd.lr = lr;
        Pass tr = run_pass(&x, train, epoch, 1, &s);
        Pass va = {NAN, NAN, 0};
        if (val) va = run_pass(&x, val, epoch, 0, &s);
        int d = epoch_rule_update(&s.rule, tr.loss, tr.f1, va.loss);
        sched_step(&s.sched, val ? va.loss : tr.loss);
        if ((d & EPOCH_SAVE) && lead) {
            path_printf(path, sizeof path, "%s/model_%d.safetensors", run->dir, epoch);
            safetensors_save_params(path, &x.m->params);
        }
        double secs = now_seconds() - t0;
        char row[512], vl[64] = "", vf[64] = "";
        if (val) {
            snprintf(vl, sizeof vl, "%.9g", va.loss);
            snprintf(vf, sizeof vf, "%.9g", va.f1);
        }
        snprintf(row, sizeof row, "%d,%.9g,%.9g,%s,%s,%.9g,%.3f,%d\n", epoch, tr.loss, tr.f1, vl, vf, lr, secs,
                 (d & EPOCH_SAVE) != 0);
        append_log(&s, row);
        s.epoch = epoch;
        s.finished = (d & EPOCH_STOP) || epoch >= c->epochs;
        remember_bad_images(&s, ds->n_train, train, val);
        if (g.size > 1) save_rank_state(&x, epoch);
        if (lead) {
            train_state_save(state_path, &s, x.m);
            write_text(log_path, LOG_HEADER, s.log);
            if (g.size > 1) {
                rank_state_path(path, sizeof path, run->dir, epoch - 1);
                if (file_exists(path) && remove(path) != 0) fatal("cannot remove %s: %s", path, strerror(errno));
            }
        }
        if (lead) printf("%s epoch %d/%d train_loss %.4f train_f1 %.4f", run->title, epoch, c->epochs, tr.loss, tr.f1);
        if (val && lead) printf(" val_loss %.4f val_f1 %.4f", va.loss, va.f1);
        if (lead) printf(" lr %g %.1fs%s\n", lr, secs, (d & EPOCH_SAVE) ? " saved" : "");
        fflush(stdout);
        if (++here == c->stop_after_epoch && !s.finished) {
            status = RUN_INTERRUPTED;
            break;
        }
    }
    if (s.finished && lead) {
        write_text(done_path, "", "");
        printf("%s: done after %d epoch%s%s\n", run->title, s.epoch, s.epoch == 1 ? "" : "s",
               s.epoch < c->epochs ? (run->n_val ? " (early stop)" : " (stopped)") : "");
    }
    fflush(stdout);
    loader_free(train);
    loader_free(val);
    tape_free(&x.tape);
    arena_free(&x.arena);
    free(x.truth);
    free(x.pred);
    free(x.targets);
    if (c->profile) {
        if (lead) {
            printf("%s: profile over %ld training steps (validation included)\n", run->title,
                   s.step - profile_step0);
            profile_report(stdout, s.step > profile_step0 ? (int)(s.step - profile_step0) : 1,
                           profile_now() - profile_t0);
        }
        profile_enable(0);
    }
    train_state_free(&s);
    model_free(x.m);
    return status;
}
