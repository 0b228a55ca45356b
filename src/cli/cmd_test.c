/* anomaly test: inference on the test set with a trained experiment
 * (SPEC section 6). Baseline: every fold's latest checkpoint predicts every
 * test image; the logits are stacked into features_{exp}.npy [K, N, C] and
 * their fold mean decides sub_baseline_{exp}.csv. One-class: each class
 * model predicts `null` or a label of its class; its claims overwrite a base
 * submission, giving sub_one_class_{exp}.csv.
 *
 * Every check (experiment, flags, labels, checkpoints, base submission) runs
 * before the first image is decoded, and the outputs are written only once
 * everything is predicted, each atomically. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anomaly/args.h"
#include "anomaly/csv.h"
#include "anomaly/dataset.h"
#include "anomaly/dist.h"
#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "anomaly/profile.h"
#include "anomaly/tester.h"

int cmd_test(int argc, char **argv);

static const char usage[] =
    "--exp_num N [--data_path D] [--results DIR] [--output DIR] [--img_size S]\n"
    "       [--batch_size B] [--threads T] [--folds 1,3] [--base SUB.csv] [--progress auto|on|off]\n"
    "       [--profile]\n"
    "\n"
    "Reads {results}/{exp}/train_args.csv and labels.csv, takes the highest\n"
    "saved epoch of each run and predicts every test image of --data_path\n"
    "(resize to img_size, normalize). Baseline experiments write\n"
    "features_{exp}.npy (float32 [folds, test images, labels], fold order;\n"
    "ArcFace heads give scale*cos) and sub_baseline_{exp}.csv (index,label,\n"
    "argmax of the fold mean, sample-submission order). One-class experiments\n"
    "write one_class_{class}.csv (index,label,pred), one_class_conflicts_{exp}.csv\n"
    "(rows claimed by more than one class model; the last class in sorted\n"
    "order wins) and sub_one_class_{exp}.csv, the base submission (--base, or\n"
    "sub_baseline_{exp}.csv in the output folder) overwritten by every claim.\n"
    "--img_size and --batch_size default to the training values.\n"
    "--profile adds one line per run: images/s end to end, the time in the\n"
    "network, the time it waited for data, and the loader thread's decode and\n"
    "resize time (make bench's inference row reads it).";

typedef struct Run {
    char dir[4096];
    char ckpt[4096];
    char labels_path[4096];
    const char *name; /* the run directory's own name */
    char **labels;
    int n_labels;
    int epoch;
} Run;

typedef struct Ctx {
    const char *exp_num, *exp_dir, *out_dir;
    TestModel tm;
    Dataset ds;
    Run *runs;
    int n_runs;
    ProgressStyle progress;
    DistGroup group;  /* ranks sharing the test set (mpirun -np P) */
    int profile;      /* print where each run's time went */
} Ctx;

static int is_dir(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static int is_file(const char *path) {
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

/* "1,3" -> sorted distinct fold numbers in [1, K]; fatal on anything else. */
static int parse_folds(const char *s, int K, int *out) {
    int n = 0;
    char *copy = xstrdup(s), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *end;
        long k = strtol(tok, &end, 10);
        if (end == tok || *end || k < 1 || k > K)
            fatal("anomaly test: --folds: '%s' is not a fold number in 1..%d (the experiment's fold file)", tok, K);
        int dup = 0;
        for (int i = 0; i < n; i++) dup |= out[i] == (int)k;
        if (dup) fatal("anomaly test: --folds: fold %ld is listed twice", k);
        out[n++] = (int)k;
    }
    free(copy);
    if (n == 0) fatal("anomaly test: --folds needs fold numbers, e.g. --folds 1,3");
    for (int i = 1; i < n; i++) /* fold order, whatever order they were given in */
        for (int j = i; j > 0 && out[j - 1] > out[j]; j--) {
            int t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* Finds the run's latest checkpoint and its label list; fatal with the
 * reason when the run cannot be used. */
static void run_prepare(Run *r, const char *labels_path) {
    const char *slash = strrchr(r->dir, '/');
    r->name = slash ? slash + 1 : r->dir;
    r->epoch = latest_checkpoint(r->dir, r->ckpt, sizeof r->ckpt);
    if (r->epoch < 0) fatal("%s: cannot read the run directory: %s", r->dir, strerror(errno));
    if (r->epoch == 0)
        fatal("%s: no checkpoints (model_<epoch>.safetensors) yet%s", r->dir,
              strncmp(r->name, "Fold", 4) == 0 ? "; --folds chooses the folds to use" : "");
    snprintf(r->labels_path, sizeof r->labels_path, "%s", labels_path);
    char err[1024];
    if (labels_read(labels_path, &r->labels, &r->n_labels, err, sizeof err) != 0) fatal("%s", err);
}

/* The --profile line of one run (this rank's share of the test set). Shares
 * are of the end-to-end wall time; the loader's decode and resize run on its
 * own thread beside the network, so they add up to more than 100 %. */
static void print_profile(const Run *r, const PredictTimes *pt, double load_s, double cpu_s) {
    const double wall = pt->wall_s > 0 ? pt->wall_s : 1e-9;
    const LoaderTimes *L = &pt->loader;
    printf("profile %s: %zu images in %zu batches, %.3f s end to end (%.3f images/s; checkpoint load %.3f s "
           "before it); network %.3f s (%.1f %%), waiting for data %.3f s (%.1f %%); loader busy %.3f s "
           "(%.1f %%: decode %.3f s, resize and normalize %.3f s, %.1f ms per image); cpu %.3f s; "
           "peak RSS %.1f MiB\n",
           r->name, pt->images, pt->batches, pt->wall_s, (double)pt->images / wall, load_s, pt->network_s,
           100 * pt->network_s / wall, L->wait_s, 100 * L->wait_s / wall, L->busy_s, 100 * L->busy_s / wall,
           L->decode_s, L->transform_s, L->images ? 1e3 * (L->decode_s + L->transform_s) / (double)L->images : 0.0,
           cpu_s, (double)profile_peak_rss() / (1 << 20));
}

static Model *run_model(const Ctx *c, const Run *r) {
    ModelConfig mc = model_config_default(c->tm.name, r->n_labels);
    mc.arcface = c->tm.arcface;
    mc.same_padding = c->tm.same_padding;
    mc.image_size = c->tm.pad_size;
    return model_create(&mc);
}

/* Loads the run's checkpoint into a fresh model (fatal with the reason). */
static Model *run_load(const Ctx *c, const Run *r) {
    Model *m = run_model(c, r);
    char err[2048];
    if (tester_load(m, r->ckpt, r->labels_path, err, sizeof err) != 0) fatal("%s", err);
    return m;
}

/* Logits [n_test][n_labels] of one run, in test order; prints a line. */
static real *run_predict(const Ctx *c, const Run *r) {
    double t0 = omp_get_wtime();
    Model *m = run_load(c, r);
    size_t n = c->ds.n_test, batch = (size_t)c->tm.batch_size;
    real *y = xmalloc(n * (size_t)r->n_labels * sizeof *y, "test logits");
    char what[96];
    snprintf(what, sizeof what, "test %.80s", r->name);
    /* Each rank predicts a contiguous run of whole batches, so every batch is
     * the one a single process computes; the logits are gathered in rank
     * (= image) order. */
    size_t lo, hi, C = (size_t)r->n_labels;
    dist_share((n + batch - 1) / batch, c->group.rank, c->group.size, &lo, &hi);
    lo *= batch;
    hi = hi * batch < n ? hi * batch : n;
    Progress p;
    progress_begin(&p, c->progress, what, (hi - lo + batch - 1) / batch);
    const double t_predict = omp_get_wtime(), cpu0 = profile_cpu_now();
    PredictTimes pt;
    tester_predict_timed(m, c->tm.scale, (const char *const *)c->ds.test_path + lo, hi - lo, c->tm.img_size,
                         c->tm.batch_size, y + lo * C, &p, &pt);
    progress_end(&p);
    if (c->profile) print_profile(r, &pt, t_predict - t0, profile_cpu_now() - cpu0);
    if (c->group.size > 1) {
        void *all;
        size_t bytes;
        dist_allgather(&c->group, y + lo * C, (hi - lo) * C * sizeof *y, &all, &bytes);
        if (bytes != n * C * sizeof *y) fatal("anomaly test: the ranks' logits do not add up to the test set");
        memcpy(y, all, bytes);
        free(all);
    }
    model_free(m);
    printf("%s: model_%d.safetensors, %zu test images, %.1f s\n", r->name, r->epoch, n, omp_get_wtime() - t0);
    fflush(stdout);
    return y;
}

/* The output folder is made only once everything is predicted, so a refused
 * run leaves nothing behind. */
static void make_out_dir(const Ctx *c) {
    if (!is_dir(c->out_dir) && mkdir(c->out_dir, 0777) != 0)
        fatal("--output %s: cannot create the folder: %s", c->out_dir, strerror(errno));
}

static void out_path(const Ctx *c, char *buf, size_t len, const char *stem, const char *ext) {
    if ((size_t)snprintf(buf, len, "%s/%s_%s%s", c->out_dir, stem, c->exp_num, ext) >= len)
        fatal("anomaly test: output path too long in %s", c->out_dir);
}

static void baseline(Ctx *c, const char *folds_flag) {
    int K = c->tm.folds;
    int *folds = xmalloc((size_t)K * sizeof *folds, "folds"), n = 0;
    if (folds_flag) n = parse_folds(folds_flag, K, folds);
    else
        for (int k = 1; k <= K; k++) folds[n++] = k;
    char labels_path[4096];
    snprintf(labels_path, sizeof labels_path, "%s/labels.csv", c->exp_dir);
    c->runs = xcalloc((size_t)n, sizeof *c->runs, "runs");
    for (int i = 0; i < n; i++) {
        Run *r = &c->runs[c->n_runs];
        snprintf(r->dir, sizeof r->dir, "%s/Fold%d_%s", c->exp_dir, folds[i], c->tm.suffix);
        if (!is_dir(r->dir)) {
            if (folds_flag) fatal("%s: no such run directory (fold %d of --folds)", r->dir, folds[i]);
            continue;
        }
        run_prepare(r, labels_path);
        c->n_runs++;
    }
    if (c->n_runs == 0)
        fatal("%s: no fold runs (looked for Fold1_%s ... Fold%d_%s)", c->exp_dir, c->tm.suffix, K, c->tm.suffix);
    for (int i = 0; i < c->n_runs; i++) model_free(run_load(c, &c->runs[i])); /* refuse before predicting */

    size_t N = c->ds.n_test;
    int C = c->runs[0].n_labels;
    real *features = xmalloc((size_t)c->n_runs * N * (size_t)C * sizeof *features, "features"); /* [K][N][C] */
    for (int i = 0; i < c->n_runs; i++) {
        real *y = run_predict(c, &c->runs[i]);
        memcpy(features + (size_t)i * N * (size_t)C, y, N * (size_t)C * sizeof *y);
        free(y);
    }
    int *pred = xmalloc(N * sizeof *pred, "predictions");
    features_mean_argmax(features, c->n_runs, N, C, pred);
    if (c->group.rank != 0) { /* rank 0 writes */
        free(pred);
        free(features);
        free(folds);
        return;
    }

    char path[4096];
    make_out_dir(c);
    out_path(c, path, sizeof path, "features", ".npy");
    int64_t shape[3] = {c->n_runs, (int64_t)N, C};
    npy_write_real(path, features, 3, shape);
    printf("wrote %s [%d, %zu, %d]\n", path, c->n_runs, N, C);
    out_path(c, path, sizeof path, "sub_baseline", ".csv");
    CsvWriter w;
    const char *header[2] = {"index", "label"};
    csv_writer_open(&w, path, 2, header);
    for (size_t r = 0; r < N; r++) {
        size_t t = c->ds.sub_test[r];
        const char *row[2] = {c->ds.test_index[t], c->runs[0].labels[pred[t]]};
        csv_writer_row(&w, row);
    }
    csv_writer_commit(&w);
    printf("wrote %s (%zu rows, mean of %d fold%s)\n", path, N, c->n_runs, c->n_runs == 1 ? "" : "s");
    free(pred);
    free(features);
    free(folds);
}

static int str_cmp(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The base submission's label of each test row (test order); every test
 * index exactly once, nothing else. Labels point into *t. */
static const char **read_base(const Ctx *c, const char *path, CsvTable *t) {
    csv_read_or_die(path, t);
    int ci = csv_column(t, "index"), cl = csv_column(t, "label");
    size_t N = c->ds.n_test;
    const char **sorted = xmalloc((N ? N : 1) * sizeof *sorted, "base"); /* test indices, sorted */
    for (size_t i = 0; i < N; i++) sorted[i] = c->ds.test_index[i];
    qsort(sorted, N, sizeof *sorted, str_cmp);
    size_t *pos = xmalloc((N ? N : 1) * sizeof *pos, "base"); /* sorted slot -> test row */
    for (size_t i = 0; i < N; i++) {
        const char *key = c->ds.test_index[i];
        const char **hit = bsearch(&key, sorted, N, sizeof *sorted, str_cmp);
        pos[hit - sorted] = i;
    }
    const char **label = xcalloc(N ? N : 1, sizeof *label, "base");
    for (size_t r = 0; r < t->n_rows; r++) {
        const char *key = csv_cell(t, r, ci);
        const char **hit = bsearch(&key, sorted, N, sizeof *sorted, str_cmp);
        if (!hit) fatal("%s:%d: index '%s' is not a test image of %s", path, t->line[r], key, c->ds.root);
        size_t row = pos[hit - sorted];
        if (label[row]) fatal("%s:%d: index '%s' appears again", path, t->line[r], key);
        label[row] = csv_cell(t, r, cl);
    }
    for (size_t i = 0; i < N; i++)
        if (!label[i]) fatal("%s: no row for test index '%s'", path, c->ds.test_index[i]);
    free(sorted);
    free(pos);
    return label;
}

static void write_sub(const Ctx *c, const char *path, const char *const *label_by_test) {
    CsvWriter w;
    const char *header[2] = {"index", "label"};
    csv_writer_open(&w, path, 2, header);
    for (size_t r = 0; r < c->ds.n_test; r++) {
        size_t t = c->ds.sub_test[r];
        const char *row[2] = {c->ds.test_index[t], label_by_test[t]};
        csv_writer_row(&w, row);
    }
    csv_writer_commit(&w);
}

static void one_class(Ctx *c, const char *base_flag) {
    c->runs = xcalloc((size_t)c->ds.n_classes, sizeof *c->runs, "runs");
    for (int k = 0; k < c->ds.n_classes; k++) {
        Run *r = &c->runs[c->n_runs];
        snprintf(r->dir, sizeof r->dir, "%s/%s_%s", c->exp_dir, c->ds.classes[k], c->tm.suffix);
        if (!is_dir(r->dir)) continue;
        char labels_path[4096 + 16];
        snprintf(labels_path, sizeof labels_path, "%s/labels.csv", r->dir);
        run_prepare(r, labels_path);
        c->n_runs++;
    }
    if (c->n_runs == 0)
        fatal("%s: no one-class runs (looked for <class>_%s for the %d classes of %s)", c->exp_dir, c->tm.suffix,
              c->ds.n_classes, c->ds.root);
    char base_path[4096];
    if (base_flag) snprintf(base_path, sizeof base_path, "%s", base_flag);
    else out_path(c, base_path, sizeof base_path, "sub_baseline", ".csv");
    if (!is_file(base_path))
        fatal("%s: no base submission; pass --base SUB.csv (e.g. a baseline experiment's sub_baseline_N.csv)",
              base_path);
    CsvTable base_table;
    const char **base = read_base(c, base_path, &base_table);
    for (int i = 0; i < c->n_runs; i++) model_free(run_load(c, &c->runs[i]));

    size_t N = c->ds.n_test;
    const char ***pred = xmalloc((size_t)c->n_runs * sizeof *pred, "one-class"); /* [runs][N] */
    for (int i = 0; i < c->n_runs; i++) {
        Run *r = &c->runs[i];
        real *y = run_predict(c, r);
        int *arg = xmalloc(N * sizeof *arg, "one-class");
        features_mean_argmax(y, 1, N, r->n_labels, arg);
        pred[i] = xmalloc(N * sizeof **pred, "one-class");
        size_t claimed = 0;
        for (size_t t = 0; t < N; t++) {
            pred[i][t] = r->labels[arg[t]];
            claimed += strcmp(pred[i][t], "null") != 0;
        }
        printf("%s: %zu of %zu test images claimed\n", r->name, claimed, N);
        free(arg);
        free(y);
    }
    const char **merged = xmalloc(N * sizeof *merged, "one-class");
    int *claims = xmalloc(N * sizeof *claims, "one-class");
    size_t conflicts = one_class_merge(base, N, (const char *const *const *)pred, c->n_runs, merged, claims);
    if (c->group.rank != 0) { /* rank 0 writes */
        for (int i = 0; i < c->n_runs; i++) free(pred[i]);
        free(pred);
        free(merged);
        free(claims);
        free(base);
        csv_free(&base_table);
        return;
    }

    char path[4096 + 300];
    make_out_dir(c);
    for (int i = 0; i < c->n_runs; i++) {
        size_t len = strlen(c->runs[i].name) - strlen(c->tm.suffix) - 1; /* the class part */
        snprintf(path, sizeof path, "%s/one_class_%.*s.csv", c->out_dir, (int)len, c->runs[i].name);
        CsvWriter w;
        const char *header[3] = {"index", "label", "pred"};
        csv_writer_open(&w, path, 3, header);
        for (size_t r = 0; r < N; r++) {
            size_t t = c->ds.sub_test[r];
            const char *row[3] = {c->ds.test_index[t], base[t], pred[i][t]};
            csv_writer_row(&w, row);
        }
        csv_writer_commit(&w);
    }
    /* the integrity check: one row per claim on a row claimed more than once */
    out_path(c, path, sizeof path, "one_class_conflicts", ".csv");
    CsvWriter w;
    const char *header[4] = {"index", "base", "run", "pred"};
    csv_writer_open(&w, path, 4, header);
    size_t shown = 0;
    if (conflicts) printf("integrity: %zu test image%s claimed by more than one class model:\n", conflicts,
                          conflicts == 1 ? "" : "s");
    for (size_t r = 0; r < N; r++) {
        size_t t = c->ds.sub_test[r];
        if (claims[t] < 2) continue;
        if (shown < 5) printf("  index %s (base %s):", c->ds.test_index[t], base[t]);
        for (int i = 0; i < c->n_runs; i++) {
            if (strcmp(pred[i][t], "null") == 0) continue;
            const char *row[4] = {c->ds.test_index[t], base[t], c->runs[i].name, pred[i][t]};
            csv_writer_row(&w, row);
            if (shown < 5) printf(" %s", pred[i][t]);
        }
        if (shown < 5) printf(" -> %s\n", merged[t]);
        shown++;
    }
    if (shown > 5) printf("  ... and %zu more\n", shown - 5);
    if (!conflicts) printf("integrity: no test image is claimed by more than one class model\n");
    csv_writer_commit(&w);
    printf("wrote %s\n", path);
    size_t changed = 0;
    for (size_t t = 0; t < N; t++) changed += strcmp(merged[t], base[t]) != 0;
    out_path(c, path, sizeof path, "sub_one_class", ".csv");
    write_sub(c, path, merged);
    printf("wrote %s (%zu rows, %zu changed from %s)\n", path, N, changed, base_path);
    for (int i = 0; i < c->n_runs; i++) free(pred[i]);
    free(pred);
    free(merged);
    free(claims);
    free(base);
    csv_free(&base_table);
}

int cmd_test(int argc, char **argv) {
    const char *exp_num = "0", *data_path = "data", *results = "results", *output = NULL, *folds = NULL;
    const char *base = NULL, *progress = "auto", *device = "cpu";
    int img_size = 0, batch_size = 0, threads = 0, profile = 0;
    const ArgSpec specs[] = {
        {"exp_num", ARG_STRING, &exp_num, "experiment number: results/{exp_num} (default 0)", NULL, 0},
        {"data_path", ARG_STRING, &data_path, "the data set, for test images and their order (default data)", NULL, 0},
        {"results", ARG_STRING, &results, "folder of the experiments (default results)", NULL, 0},
        {"output", ARG_STRING, &output, "folder for the outputs (default: the experiment's)", NULL, 0},
        {"img_size", ARG_INT, &img_size, "inference image size (default: the training size)", NULL, 0},
        {"batch_size", ARG_INT, &batch_size, "inference batch size (default: the training one)", NULL, 0},
        {"threads", ARG_INT, &threads, "OpenMP threads (default: all cores)", NULL, 0},
        {"folds", ARG_STRING, &folds, "baseline: only these folds, e.g. 1,3 (default: every fold run found)", NULL, 0},
        {"base", ARG_STRING, &base, "one-class: the submission to overwrite (default sub_baseline_{exp}.csv)", NULL, 0},
        {"progress", ARG_STRING, &progress, "progress on stderr: a bar on a terminal (auto), always, never",
         "auto|on|off", 0},
        {"device", ARG_STRING, &device, "where to compute (only cpu is built)", "cpu|cuda", 0},
        {"profile", ARG_FLAG, &profile, "one line per run: images/s, network vs waiting for data, decode/resize",
         NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("test", usage, specs, argc, argv, NULL, 0);
    dist_init();
    const DistGroup world = dist_world();
    /* Under mpirun every rank predicts its share; rank 0 alone prints and writes. */
    if (world.rank != 0 && !freopen("/dev/null", "w", stdout)) fatal("anomaly test: cannot silence rank %d", world.rank);
    if (strcmp(device, "cpu") != 0)
        fatal("anomaly test: --device %s: the CUDA path is not built; use --device cpu", device);
    if (img_size < 0 || batch_size < 0 || threads < 0)
        fatal("anomaly test: --img_size, --batch_size and --threads must be positive");
    if (threads > 0) omp_set_num_threads(threads);

    Ctx c;
    memset(&c, 0, sizeof c);
    c.exp_num = exp_num;
    c.progress = world.rank == 0 ? (ProgressStyle)progress_style_parse(progress) : PROGRESS_STYLE_OFF;
    c.group = world;
    c.profile = profile;
    char exp_dir[4096], args_path[4096 + 16], err[1024];
    if (!*exp_num || strchr(exp_num, '/') || !strcmp(exp_num, ".") || !strcmp(exp_num, ".."))
        fatal("anomaly test: --exp_num must name one folder, not '%s'", exp_num);
    if ((size_t)snprintf(exp_dir, sizeof exp_dir, "%s/%s", results, exp_num) >= sizeof exp_dir)
        fatal("anomaly test: experiment path too long");
    if (!is_dir(exp_dir)) fatal("%s: no such experiment directory (check --results and --exp_num)", exp_dir);
    c.exp_dir = exp_dir;
    c.out_dir = output ? output : exp_dir;
    snprintf(args_path, sizeof args_path, "%s/train_args.csv", exp_dir);
    TrainArgs ta;
    if (train_args_read(args_path, &ta, err, sizeof err) != 0) fatal("%s", err);
    if (test_model_from_args(&ta, args_path, &c.tm, err, sizeof err) != 0) fatal("%s", err);
    train_args_free(&ta);
    if (img_size) c.tm.img_size = img_size;
    if (batch_size) c.tm.batch_size = batch_size;
    if (c.tm.one_class && folds)
        fatal("anomaly test: --folds applies to baseline experiments, %s is one_class", exp_dir);
    if (!c.tm.one_class && base)
        fatal("anomaly test: --base applies to one_class experiments, %s is baseline", exp_dir);

    dataset_open_or_die(data_path, &c.ds);
    if (c.ds.n_test == 0) fatal("%s: no test images (test/ and test_df.csv)", data_path);
    printf("experiment %s: %s%s, %s, img_size %d, batch %d, %zu test images, %d threads\n", exp_dir, c.tm.name,
           c.tm.arcface ? " (ArcFace head)" : "", c.tm.one_class ? "one_class" : "baseline", c.tm.img_size,
           c.tm.batch_size, c.ds.n_test, omp_get_max_threads());
    if (c.tm.one_class) one_class(&c, base);
    else baseline(&c, folds);

    for (int i = 0; i < c.n_runs; i++) labels_free(c.runs[i].labels, c.runs[i].n_labels);
    free(c.runs);
    dataset_free(&c.ds);
    if (fflush(stdout) != 0 || ferror(stdout)) fatal("anomaly test: cannot write to standard output");
    dist_finalize();
    return 0;
}
