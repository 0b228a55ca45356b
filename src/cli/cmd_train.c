/* anomaly train: SPEC section 5 with the original's flags (section 8).
 * Everything the command line, the data set, the fold file and --pretrained
 * can get wrong is found before anything is written. */
#include <dirent.h>
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly/args.h"
#include "anomaly/atomic_file.h"
#include "anomaly/csv.h"
#include "anomaly/dist.h"
#include "anomaly/error.h"
#include "anomaly/exact.h"
#include "anomaly/folds.h"
#include "anomaly/trainer.h"
#include "anomaly/viz.h"

int cmd_train(int argc, char **argv);

typedef struct Flags {
    const char *exp_num, *data_path, *model, *model_name, *optimizer, *criterion, *scheduler, *train_method;
    const char *arcloss, *device, *progress, *pretrained, *folds, *classes, *results, *val_transform;
    const char *arc_targets, *same_padding, *model_path;
    int arch, img_size, batch_size, epochs, aug_ver, patience, fold, smoothing_classes, threads;
    int resume, skip_bad, multi_gpu, num_workers, ensemble, stop_after_epoch, profile, fold_parallel;
    double lr, weight_decay, lr_factor, clipping, margin, scale;
    long long seed;
} Flags;

/* ---- the experiment's files ---- */

typedef struct KeyValues {
    int n;
    char key[40][32];
    char value[40][1024];
} KeyValues;

static void kv_str(KeyValues *kv, const char *key, const char *value) {
    if (kv->n == 40) fatal("too many training arguments");
    snprintf(kv->key[kv->n], sizeof kv->key[0], "%s", key);
    snprintf(kv->value[kv->n++], sizeof kv->value[0], "%s", value);
}

static void kv_int(KeyValues *kv, const char *key, long long v) {
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    kv_str(kv, key, b);
}

/* The shortest text that reads back as the same double. */
static void kv_num(KeyValues *kv, const char *key, double v) {
    char b[64];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) snprintf(b, sizeof b, "%.17g", v);
    kv_str(kv, key, b);
}

/* Writes path, or checks that the experiment there was trained with the same
 * arguments (data_path may move). */
static void train_args_sync(const char *path, const KeyValues *kv) {
    CsvTable t;
    char err[1024];
    if (access(path, F_OK) != 0) {
        CsvWriter w;
        const char *header[] = {"key", "value"};
        csv_writer_open(&w, path, 2, header);
        for (int i = 0; i < kv->n; i++) {
            const char *row[] = {kv->key[i], kv->value[i]};
            csv_writer_row(&w, row);
        }
        csv_writer_commit(&w);
        return;
    }
    if (csv_read(path, &t, err, sizeof err)) fatal("%s", err);
    int ck = csv_column(&t, "key"), cv = csv_column(&t, "value");
    for (int i = 0; i < kv->n; i++) {
        if (strcmp(kv->key[i], "data_path") == 0) continue;
        const char *was = NULL;
        for (size_t r = 0; r < t.n_rows && !was; r++)
            if (strcmp(csv_cell(&t, r, ck), kv->key[i]) == 0) was = csv_cell(&t, r, cv);
        if (!was && strcmp(kv->key[i], "exact") == 0) was = "0"; /* written before the exact mode */
        if (!was || strcmp(was, kv->value[i]) != 0)
            fatal("%s: this experiment was trained with %s '%s', not '%s'; give the same flags to continue it, or "
                  "another --exp_num", path, kv->key[i], was ? was : "(none)", kv->value[i]);
    }
    csv_free(&t);
}

/* Writes a labels.csv, or checks the one there lists the same labels. */
static void labels_sync(const char *path, const char *const *labels, int n) {
    if (access(path, F_OK) == 0) {
        CsvTable t;
        char err[1024];
        if (csv_read(path, &t, err, sizeof err)) fatal("%s", err);
        int c = csv_column(&t, "label");
        int same = t.n_rows == (size_t)n;
        for (int i = 0; same && i < n; i++) same = strcmp(csv_cell(&t, (size_t)i, c), labels[i]) == 0;
        csv_free(&t);
        if (!same) fatal("%s lists other labels than this data set has (%d); use another --exp_num", path, n);
        return;
    }
    CsvWriter w;
    const char *header[] = {"label"};
    csv_writer_open(&w, path, 1, header);
    for (int i = 0; i < n; i++) csv_writer_row(&w, &labels[i]);
    csv_writer_commit(&w);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* mkdir -p; fatal() naming the folder. */
static void make_dirs(const char *path) {
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p) continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) fatal("cannot create the folder %s: %s", buf, strerror(errno));
        if (!is_dir(buf)) fatal("cannot create the folder %s: a file of that name is in the way", buf);
        *p = c;
        if (!c) break;
    }
}

/* A run directory that holds a state, a checkpoint or the done marker (a
 * run that failed before its first epoch left nothing worth keeping). */
static int run_started(const char *path) {
    DIR *d = opendir(path);
    if (!d) return 0;
    struct dirent *e;
    int any = 0;
    while (!any && (e = readdir(d)) != NULL)
        any = strncmp(e->d_name, "model_", 6) == 0 || strcmp(e->d_name, "train_state.safetensors") == 0 ||
              strcmp(e->d_name, "done") == 0;
    closedir(d);
    return any;
}

/* ---- flags ---- */

/* "1,3" into sel[1..k]; fatal on anything else. */
static void parse_list_ints(const char *spec, int k, unsigned char *sel) {
    const char *p = spec;
    do {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > k || (*end && *end != ',') || (*end == ',' && !end[1]))
            fatal("anomaly train: --folds must list folds between 1 and %d like 1,3, not '%s'", k, spec);
        sel[v] = 1;
        p = *end ? end + 1 : end;
    } while (*p);
}

static void resolve_model(const Flags *f, char *name, size_t len, char *suffix, size_t slen) {
    if (strcmp(f->model, "efficientnet") == 0) {
        if (f->arch < 0 || f->arch > 7) fatal("anomaly train: --arch must be 0..7 (efficientnet-b0..b7), not %d", f->arch);
        snprintf(name, len, "efficientnet-b%d", f->arch);
        snprintf(suffix, slen, "E%d", f->arch);
        return;
    }
    const char *mn = f->model_name ? f->model_name
                     : strcmp(f->model, "resnext") == 0 ? "resnext50_32x4d" : "resnest50d_4s2x40d";
    if (strncmp(mn, f->model, strlen(f->model)) != 0 || !model_known(mn))
        fatal("anomaly train: --model_name '%s' is not a %s model this build knows (anomaly models lists them)", mn,
              f->model);
    snprintf(name, len, "%s", mn);
    snprintf(suffix, slen, "%s", mn);
}

static void check_flags(const Flags *f) {
    if (strcmp(f->device, "cuda") == 0)
        fatal("anomaly train: --device cuda: this build has no CUDA path; train with --device cpu");
    if (!*f->exp_num || strchr(f->exp_num, '/') || strcmp(f->exp_num, ".") == 0 || strcmp(f->exp_num, "..") == 0)
        fatal("anomaly train: --exp_num must name one folder, not '%s'", f->exp_num);
    if (f->img_size < 1 || f->batch_size < 1 || f->epochs < 1 || f->patience < 1)
        fatal("anomaly train: --img_size, --batch_size, --epochs and --patience must be at least 1");
    if (f->aug_ver != 1 && f->aug_ver != 2) fatal("anomaly train: --aug_ver must be 1 or 2, not %d", f->aug_ver);
    if (!(f->lr > 0) || f->clipping < 0 || (f->weight_decay < 0 && f->weight_decay != -1) || !(f->scale > 0))
        fatal("anomaly train: --lr and --scale must be positive, --clipping and --weight_decay not negative");
    if (!(f->lr_factor > 0 && f->lr_factor < 1)) fatal("anomaly train: --lr_factor must be between 0 and 1");
    if (f->fold < 2) fatal("anomaly train: --fold must be at least 2, not %d", f->fold);
    if (f->seed < 0) fatal("anomaly train: --seed must not be negative");
    if (f->threads < 0 || f->smoothing_classes < 0 || f->stop_after_epoch < 0)
        fatal("anomaly train: --threads, --smoothing_classes and --stop_after_epoch must not be negative");
    int one = strcmp(f->train_method, "one_class") == 0;
    if (one && f->folds) fatal("anomaly train: --folds is for baseline training; one_class takes --classes");
    if (!one && f->classes) fatal("anomaly train: --classes is for one_class training; baseline takes --folds");
}

/* ---- the runs ---- */

/* A run and the storage behind its pointers. */
typedef struct RunSlot {
    TrainRun run;
    char *title, *dir;
    int *labels;  /* one-class relabelling, or NULL */
    char **names; /* one-class names, or NULL */
} RunSlot;

typedef struct Runs {
    int n;
    RunSlot *v; /* [n] */
} Runs;

static TrainRun *add_run(Runs *r, const char *title, const char *dir) {
    r->v = xrealloc(r->v, (size_t)(r->n + 1) * sizeof *r->v, "runs");
    RunSlot *s = &r->v[r->n++];
    memset(s, 0, sizeof *s);
    s->run.title = s->title = xstrdup(title);
    s->run.dir = s->dir = xstrdup(dir);
    return &s->run;
}

/* The fold file: data's, else the one generated into the experiment before,
 * else a new stratified split (*made = 1, to be written into exp). */
static void load_folds(const Flags *f, const Dataset *ds, const char *exp, Folds *folds, char *path, size_t len,
                       int *made) {
    char err[1024];
    *made = 0;
    path_printf(path, len, "%s/%d-Fold_idx.npy", f->data_path, f->fold);
    if (access(path, F_OK) != 0) path_printf(path, len, "%s/%d-Fold_idx.npy", exp, f->fold);
    if (access(path, F_OK) != 0) {
        if ((size_t)f->fold > ds->n_train)
            fatal("anomaly train: --fold %d needs at least %d train images, the data set has %zu", f->fold, f->fold,
                  ds->n_train);
        folds_make_stratified(folds, ds->train_label, ds->n_train, f->fold, (uint64_t)f->seed);
        *made = 1;
        return;
    }
    if (folds_read(path, folds, err, sizeof err)) fatal("%s", err);
    if (folds->k != f->fold) fatal("%s holds %d folds, not %d (--fold)", path, folds->k, f->fold);
    if (folds_validate(folds, ds->n_train, err, sizeof err))
        fatal("%s does not fit the %zu train images of %s: %s", path, ds->n_train, f->data_path, err);
}

static void build_runs(const Flags *f, const Dataset *ds, const Folds *folds, const char *exp, const char *suffix,
                       Runs *r) {
    char title[256], dir[4096];
    memset(r, 0, sizeof *r);
    if (strcmp(f->train_method, "baseline") == 0) {
        unsigned char *sel = xcalloc((size_t)folds->k + 1, 1, "fold selection");
        if (f->folds) parse_list_ints(f->folds, folds->k, sel);
        else memset(sel, 1, (size_t)folds->k + 1);
        for (int k = 1; k <= folds->k; k++) {
            if (!sel[k]) continue;
            const Fold *fd = &folds->folds[k - 1];
            if (!fd->n_val) fatal("anomaly train: fold %d has no validation images", k);
            snprintf(title, sizeof title, "fold %d", k);
            path_printf(dir, sizeof dir, "%s/Fold%d_%s", exp, k, suffix);
            TrainRun *t = add_run(r, title, dir);
            t->seed = trainer_run_seed((uint64_t)f->seed, (uint64_t)k);
            t->train_idx = fd->train;
            t->n_train = fd->n_train;
            t->val_idx = fd->val;
            t->n_val = fd->n_val;
            t->labels = ds->train_label;
            t->n_names = ds->n_labels;
            t->names = (const char *const *)ds->labels;
        }
        free(sel);
        return;
    }
    unsigned char *want = xcalloc((size_t)ds->n_classes, 1, "class selection");
    if (f->classes) {
        char *list = xstrdup(f->classes);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            int c = dataset_class_index(ds, tok);
            if (c < 0) fatal("anomaly train: --classes: the data set has no class '%s'", tok);
            want[c] = 1;
        }
        free(list);
    } else {
        memset(want, 1, (size_t)ds->n_classes);
    }
    for (int c = 0; c < ds->n_classes; c++) {
        const char *cls = ds->classes[c];
        if (!want[c]) continue;
        snprintf(title, sizeof title, "class %s", cls);
        path_printf(dir, sizeof dir, "%s/%s_%s", exp, cls, suffix);
        TrainRun *t = add_run(r, title, dir);
        RunSlot *slot = &r->v[r->n - 1];
        slot->labels = xmalloc(ds->n_train * sizeof *slot->labels, "one-class labels");
        t->n_names = trainer_one_class_labels((const char *const *)ds->labels, ds->n_labels, ds->train_label,
                                              ds->n_train, cls, &slot->names, slot->labels);
        t->names = (const char *const *)slot->names;
        t->labels = slot->labels;
        t->seed = trainer_run_seed((uint64_t)f->seed, 1000 + (uint64_t)c);
        t->n_train = ds->n_train;
    }
    free(want);
    if (r->n == 0) fatal("anomaly train: --classes '%s' names none of the data set's classes", f->classes);
}

static void free_runs(Runs *r) {
    for (int i = 0; i < r->n; i++) {
        free(r->v[i].title);
        free(r->v[i].dir);
        free(r->v[i].labels);
        trainer_free_names(r->v[i].names, r->v[i].run.n_names);
    }
    free(r->v);
}

int cmd_train(int argc, char **argv) {
    Flags f;
    memset(&f, 0, sizeof f);
    f.exp_num = "0", f.data_path = "data", f.model = "efficientnet", f.optimizer = "Adam";
    f.criterion = "smoothing", f.scheduler = "Reduce", f.train_method = "baseline", f.arcloss = "none";
    f.device = "cpu", f.progress = "auto", f.results = "results", f.val_transform = "test";
    f.same_padding = "static";
    f.arch = 6, f.img_size = 576, f.batch_size = 48, f.epochs = 100, f.aug_ver = 2, f.patience = 5, f.fold = 10;
    f.lr = 5e-5, f.weight_decay = -1, f.lr_factor = 0.1, f.clipping = 2.0, f.margin = 0.1, f.scale = 8;
    f.seed = 42;
    const ArgSpec specs[] = {
        {"exp_num", ARG_STRING, &f.exp_num, "experiment: results go to {results}/{exp_num} (default 0)", NULL, 0},
        {"data_path", ARG_STRING, &f.data_path, "the data set (default data)", NULL, 0},
        {"model", ARG_STRING, &f.model, "model family (default efficientnet)", "efficientnet|resnext|resnest", 0},
        {"arch", ARG_INT, &f.arch, "EfficientNet b0..b7 (default 6)", NULL, 0},
        {"model_name", ARG_STRING, &f.model_name, "timm name for resnext/resnest (default resnext50_32x4d, resnest50d_4s2x40d)", NULL, 0},
        {"img_size", ARG_INT, &f.img_size, "image side (default 576)", NULL, 0},
        {"batch_size", ARG_INT, &f.batch_size, "batch size (default 48)", NULL, 0},
        {"epochs", ARG_INT, &f.epochs, "maximum epochs (default 100)", NULL, 0},
        {"lr", ARG_DOUBLE, &f.lr, "learning rate (default 5e-5)", NULL, 0},
        {"optimizer", ARG_STRING, &f.optimizer, "optimizer (default Adam)", "Adam|SGD", 0},
        {"weight_decay", ARG_DOUBLE, &f.weight_decay, "L2 weight decay (default Adam 1e-4, SGD 5e-4)", NULL, 0},
        {"criterion", ARG_STRING, &f.criterion, "loss (default smoothing, eps 0.1)", "ce|smoothing", 0},
        {"scheduler", ARG_STRING, &f.scheduler, "ReduceLROnPlateau or StepLR(2, 0.9) (default Reduce)", "Reduce|Step", 0},
        {"aug_ver", ARG_INT, &f.aug_ver, "train augmentation 1 (resize only) or 2 (SPEC section 2; default)", NULL, 0},
        {"lr_factor", ARG_DOUBLE, &f.lr_factor, "ReduceLROnPlateau factor (default 0.1)", NULL, 0},
        {"clipping", ARG_DOUBLE, &f.clipping, "gradient-norm limit, 0 = none (default 2)", NULL, 0},
        {"patience", ARG_INT, &f.patience, "epochs without improvement before a reduction and before stopping (default 5)", NULL, 0},
        {"seed", ARG_LONG, &f.seed, "random seed (default 42)", NULL, 0},
        {"fold", ARG_INT, &f.fold, "K of {data_path}/{K}-Fold_idx.npy (default 10)", NULL, 0},
        {"folds", ARG_STRING, &f.folds, "train only these folds, e.g. 1,3 (default all)", NULL, 0},
        {"train_method", ARG_STRING, &f.train_method, "default baseline", "baseline|one_class", 0},
        {"classes", ARG_STRING, &f.classes, "one_class: train only these classes, e.g. cable,pill (default all)", NULL, 0},
        {"arcloss", ARG_STRING, &f.arcloss, "ArcFace margin on a cosine head (default none)", "none|arcface", 0},
        {"margin", ARG_DOUBLE, &f.margin, "ArcFace margin (default 0.1)", NULL, 0},
        {"scale", ARG_DOUBLE, &f.scale, "ArcFace scale (default 8)", NULL, 0},
        {"arc_targets", ARG_STRING, &f.arc_targets, "labels that get the margin: baseline, all, batch or i,j,... (default baseline; one_class batch)", NULL, 0},
        {"smoothing_classes", ARG_INT, &f.smoothing_classes, "C of label smoothing; 88 restores the seed's quirk (default: the model's)", NULL, 0},
        {"val_transform", ARG_STRING, &f.val_transform, "validation images: test transform, or train (the seed's quirk)", "test|train", 0},
        {"same_padding", ARG_STRING, &f.same_padding, "EfficientNet TF-SAME pads at the native size (default) or per input", "static|dynamic", 0},
        {"pretrained", ARG_STRING, &f.pretrained, "start from these weights (.safetensors); a head of another shape is re-initialised", NULL, 0},
        {"results", ARG_STRING, &f.results, "results folder (default results)", NULL, 0},
        {"resume", ARG_FLAG, &f.resume, "continue interrupted runs from their last epoch; finished runs are skipped", NULL, 0},
        {"skip_bad_images", ARG_FLAG, &f.skip_bad, "warn about and leave out unreadable images instead of stopping", NULL, 0},
        {"threads", ARG_INT, &f.threads, "OpenMP threads (default: all cores)", NULL, 0},
        {"device", ARG_STRING, &f.device, "only cpu in this build", "cpu|cuda", 0},
        {"progress", ARG_STRING, &f.progress, "progress on stderr: auto = a bar on a terminal, else a line every 10 s", "auto|on|off", 0},
        {"profile", ARG_FLAG, &f.profile, "print the time per op type and per layer at the end of each run", NULL, 0},
        {"stop_after_epoch", ARG_INT, &f.stop_after_epoch, "leave after N epochs, as if interrupted (for testing --resume)", NULL, 0},
        {"fold_parallel", ARG_FLAG, &f.fold_parallel, "under mpirun: each rank trains whole runs (run i on rank i mod P) instead of all ranks sharing each run's batches", NULL, 0},
        {"multi_gpu", ARG_FLAG, &f.multi_gpu, "accepted for compatibility; ignored on the CPU", NULL, 0},
        {"num_workers", ARG_INT, &f.num_workers, "accepted for compatibility; ignored (the loader decodes ahead on its own thread)", NULL, 0},
        {"ensemble", ARG_FLAG, &f.ensemble, "accepted for compatibility; ignored (see anomaly ensemble)", NULL, 0},
        {"model_path", ARG_STRING, &f.model_path, "accepted for compatibility; ignored by train", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("train", "[--exp_num N] [--data_path D] [--model efficientnet --arch 6 | --model resnest ...] [flags]",
               specs, argc, argv, NULL, 0);
    check_flags(&f);
    dist_init();
    /* Data-parallel: every rank works on each run; fold-parallel: each rank
     * on its own runs. Rank 0 writes the experiment's files. */
    const DistGroup world = dist_world();
    const int lead = world.rank == 0;
    if (f.threads > 0) omp_set_num_threads(f.threads);
    int one = strcmp(f.train_method, "one_class") == 0, sgd = strcmp(f.optimizer, "SGD") == 0;
    int arcface = strcmp(f.arcloss, "arcface") == 0;
    if (!f.arc_targets) f.arc_targets = one ? "batch" : "baseline";
    char name[64], suffix[80], exp[4096], path[4096];
    resolve_model(&f, name, sizeof name, suffix, sizeof suffix);
    path_printf(exp, sizeof exp, "%s/%s", f.results, f.exp_num);

    TrainConfig c;
    memset(&c, 0, sizeof c);
    c.model = model_config_default(name, 1);
    c.model.arcface = arcface;
    c.model.same_padding = strcmp(f.same_padding, "dynamic") == 0 ? SAME_DYNAMIC : SAME_STATIC;
    c.step = step_config_default();
    c.step.criterion = strcmp(f.criterion, "ce") == 0 ? CRITERION_CE : CRITERION_SMOOTHING;
    c.step.smoothing_classes = f.smoothing_classes;
    c.step.arcloss = arcface;
    c.step.margin = f.margin;
    c.step.scale = f.scale;
    c.step.optimizer = sgd ? OPTIMIZER_SGD : OPTIMIZER_ADAM;
    double wd = f.weight_decay >= 0 ? f.weight_decay : sgd ? 5e-4 : 1e-4;
    c.step.adam.weight_decay = c.step.sgd.weight_decay = wd;
    c.step.clipping = f.clipping;
    c.scheduler = strcmp(f.scheduler, "Step") == 0 ? SCHED_STEP : SCHED_REDUCE;
    c.lr = f.lr, c.lr_factor = f.lr_factor, c.patience = f.patience, c.epochs = f.epochs;
    c.batch_size = f.batch_size, c.img_size = f.img_size, c.aug_ver = f.aug_ver;
    c.val_aug_ver = strcmp(f.val_transform, "train") == 0 ? f.aug_ver : 0;
    c.method = one ? TRAIN_ONE_CLASS : TRAIN_BASELINE;
    c.arc_targets = f.arc_targets;
    c.skip_bad = f.skip_bad;
    c.pretrained = f.pretrained;
    c.resume = f.resume;
    c.progress = (ProgressStyle)progress_style_parse(f.progress);
    c.stop_after_epoch = f.stop_after_epoch;
    c.profile = f.profile;
    c.group = f.fold_parallel ? dist_self() : world;
    if (!lead) c.progress = PROGRESS_STYLE_OFF;
    if (c.group.size > 1 && f.batch_size % c.group.size != 0)
        fatal("anomaly train: --batch_size %d does not split evenly over %d ranks; give a multiple of %d",
              f.batch_size, c.group.size, c.group.size);
    if (c.group.size > 1 && f.skip_bad)
        fatal("anomaly train: --skip_bad_images is not supported data-parallel (the ranks' shards would differ in "
              "size); use --fold_parallel or one process");

    Dataset ds;
    char err[1024];
    if (dataset_open(f.data_path, &ds, err, sizeof err)) fatal("anomaly train: --data_path: %s", err);
    if (ds.n_train == 0) fatal("anomaly train: %s has no train images", f.data_path);
    Folds folds;
    memset(&folds, 0, sizeof folds);
    int made = 0;
    char folds_path[4096] = "";
    if (!one) load_folds(&f, &ds, exp, &folds, folds_path, sizeof folds_path, &made);
    Runs runs;
    build_runs(&f, &ds, &folds, exp, suffix, &runs);
    for (int i = 0; i < runs.n; i++) {
        const TrainRun *r = &runs.v[i].run;
        if (f.smoothing_classes && f.smoothing_classes < r->n_names)
            fatal("anomaly train: --smoothing_classes %d is below the %d classes of %s", f.smoothing_classes,
                  r->n_names, r->title);
        if (arcface) {
            uint8_t *t = xmalloc((size_t)r->n_names, "ArcFace targets");
            if (arc_targets_parse(f.arc_targets, r->names, r->n_names, t, err, sizeof err) < 0)
                fatal("anomaly train: %s", err);
            free(t);
        }
        if (!f.resume && run_started(r->dir))
            fatal("anomaly train: %s already holds a run; add --resume to continue it, or use another --exp_num",
                  r->dir);
        atomic_file_remove_stale(r->dir); /* what a killed run was writing */
    }
    atomic_file_remove_stale(exp);
    if (f.pretrained) {
        ModelConfig mc = c.model;
        mc.num_classes = runs.v[0].run.n_names;
        Model *m = model_create(&mc);
        int head;
        if (load_pretrained(f.pretrained, m, &head, err, sizeof err)) fatal("anomaly train: %s", err);
        model_free(m);
    }

    KeyValues kv;
    kv.n = 0;
    kv_str(&kv, "model", f.model);
    kv_str(&kv, "model_name", name);
    kv_int(&kv, "arch", f.arch);
    kv_int(&kv, "num_classes", ds.n_labels);
    kv_int(&kv, "arcface", arcface);
    kv_int(&kv, "img_size", f.img_size);
    kv_str(&kv, "same_padding", f.same_padding);
    kv_int(&kv, "image_size", c.model.image_size); /* static pads at this size; 0 = native */
    kv_str(&kv, "criterion", f.criterion);
    kv_str(&kv, "arcloss", f.arcloss);
    kv_num(&kv, "margin", f.margin);
    kv_num(&kv, "scale", f.scale);
    kv_int(&kv, "aug_ver", f.aug_ver);
    kv_int(&kv, "fold", f.fold);
    kv_str(&kv, "train_method", f.train_method);
    kv_int(&kv, "seed", f.seed);
    kv_int(&kv, "batch_size", f.batch_size);
    kv_int(&kv, "epochs", f.epochs);
    kv_num(&kv, "lr", f.lr);
    kv_str(&kv, "optimizer", f.optimizer);
    kv_num(&kv, "weight_decay", wd);
    kv_str(&kv, "scheduler", f.scheduler);
    kv_num(&kv, "lr_factor", f.lr_factor);
    kv_num(&kv, "clipping", f.clipping);
    kv_int(&kv, "patience", f.patience);
    kv_str(&kv, "val_transform", f.val_transform);
    kv_int(&kv, "smoothing_classes", f.smoothing_classes);
    kv_str(&kv, "arc_targets", f.arc_targets);
    kv_str(&kv, "pretrained", f.pretrained ? f.pretrained : "");
    kv_int(&kv, "skip_bad_images", f.skip_bad);
    kv_str(&kv, "data_path", f.data_path);
    kv_int(&kv, "exact", exact_mode()); /* a run continues in the mode it began in */

    /* Nothing is written before this point (by any rank). */
    dist_barrier(&world);
    if (lead) {
        make_dirs(exp);
        path_printf(path, sizeof path, "%s/train_args.csv", exp);
        train_args_sync(path, &kv);
        path_printf(path, sizeof path, "%s/labels.csv", exp);
        labels_sync(path, (const char *const *)ds.labels, ds.n_labels);
        if (made) {
            folds_write(folds_path, &folds);
            printf("no %s/%d-Fold_idx.npy: wrote %d stratified folds (seed %lld) to %s\n", f.data_path, f.fold,
                   f.fold, f.seed, folds_path);
        }
    }
    dist_barrier(&world);
    int interrupted = 0;
    const int writer = c.group.rank == 0;
    for (int i = 0; i < runs.n && !interrupted; i++) {
        const TrainRun *r = &runs.v[i].run;
        if (f.fold_parallel && i % world.size != world.rank) continue;
        if (writer) make_dirs(r->dir);
        if (one && writer) {
            path_printf(path, sizeof path, "%s/labels.csv", r->dir);
            labels_sync(path, r->names, r->n_names);
        }
        interrupted = trainer_train_run(&c, &ds, r) == RUN_INTERRUPTED;
        /* the curves of every run so far (anomaly plot); a picture that
         * cannot be drawn does not stop training */
        char curves[4096], err[1024];
        path_printf(curves, sizeof curves, "%s/curves.png", exp);
        if (curves_write(exp, curves, err, sizeof err)) fprintf(stderr, "anomaly train: no curves.png: %s\n", err);
    }
    if (interrupted && writer)
        printf("stopped after %d epoch(s) as asked; continue with --resume\n", f.stop_after_epoch);
    free_runs(&runs);
    if (!one) folds_free(&folds);
    dataset_free(&ds);
    fflush(stdout);
    dist_finalize();
    return 0;
}
