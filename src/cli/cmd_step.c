/* anomaly step: K training steps on one batch, for auditing a training step
 * against PyTorch (weights, running statistics and gradients are written). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/dist.h"
#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "anomaly/profile.h"
#include "anomaly/safetensors.h"
#include "anomaly/train_step.h"
#include "cli_model.h"

int cmd_step(int argc, char **argv);

static double allreduce_seconds; /* spent in the gradient average, summed */

static void step_average_grad(void *ctx, real *grad, size_t n) {
    const double t0 = profile_now();
    dist_average((const DistGroup *)ctx, grad, n);
    allreduce_seconds += profile_now() - t0;
}

static int *read_labels(const char *path, int n, int classes) {
    NpyArray a;
    char err[512];
    if (npy_read(path, &a, err, sizeof err) != 0) fatal("%s", err);
    if (npy_expect(&a, path, NPY_I8, 1, err, sizeof err) != 0) fatal("%s", err);
    if ((int)a.shape[0] != n) fatal("%s: %lld labels for %d images", path, (long long)a.shape[0], n);
    int *labels = xmalloc((size_t)n * sizeof *labels, "labels");
    const int64_t *v = a.data;
    for (int i = 0; i < n; i++) {
        if (v[i] < 0 || v[i] >= classes)
            fatal("%s: label %lld at position %d is outside 0..%d", path, (long long)v[i], i, classes - 1);
        labels[i] = (int)v[i];
    }
    npy_free(&a);
    return labels;
}

/* "all", "baseline" (SPEC section 4, 88 classes) or a comma list of indices. */
static uint8_t *arc_targets(const char *spec, int classes) {
    uint8_t *t = xcalloc((size_t)classes, 1, "ArcFace targets");
    if (strcmp(spec, "all") == 0) {
        memset(t, 1, (size_t)classes);
    } else if (strcmp(spec, "baseline") == 0) {
        if (classes != 88) fatal("--arc_targets baseline needs 88 classes, the model has %d", classes);
        arcface_baseline_targets(t);
    } else {
        const char *p = spec;
        while (*p) {
            char *end;
            long k = strtol(p, &end, 10);
            if (end == p || k < 0 || k >= classes || (*end && *end != ','))
                fatal("--arc_targets: '%s' is not all, baseline or a list of class indices below %d", spec, classes);
            t[k] = 1;
            p = *end ? end + 1 : end;
        }
    }
    return t;
}

int cmd_step(int argc, char **argv) {
    ModelFlags f;
    model_flags_default(&f);
    StepConfig c = step_config_default();
    const char *weights = NULL, *input = NULL, *labels_path = NULL, *out = NULL, *grads = NULL;
    const char *criterion = "smoothing", *arcloss = "none", *optimizer = "Adam", *targets = "all";
    double lr = -1, wd = -1;
    int steps = 1, profile = 0;
    ArgSpec specs[] = {
        MODEL_FLAG_SPECS(f),
        {"weights", ARG_STRING, &weights, "checkpoint to start from (.safetensors)", NULL, 1},
        {"input", ARG_STRING, &input, "float32 NCHW .npy, already normalised", NULL, 1},
        {"labels", ARG_STRING, &labels_path, "int64 [N] .npy of class indices", NULL, 1},
        {"criterion", ARG_STRING, &criterion, "loss (default smoothing, eps 0.1)", "ce|smoothing", 0},
        {"arcloss", ARG_STRING, &arcloss, "ArcFace margin on the cosine head (needs --arcface)", "none|arcface", 0},
        {"arc_targets", ARG_STRING, &targets, "labels that get the margin: all, baseline, or i,j,k", NULL, 0},
        {"margin", ARG_DOUBLE, &c.margin, "ArcFace margin (default 0.1)", NULL, 0},
        {"scale", ARG_DOUBLE, &c.scale, "ArcFace scale (default 8)", NULL, 0},
        {"optimizer", ARG_STRING, &optimizer, "optimizer (default Adam)", "Adam|SGD", 0},
        {"lr", ARG_DOUBLE, &lr, "learning rate (default 5e-5)", NULL, 0},
        {"weight_decay", ARG_DOUBLE, &wd, "L2 weight decay (default Adam 1e-4, SGD 5e-4)", NULL, 0},
        {"clipping", ARG_DOUBLE, &c.clipping, "global gradient-norm limit, 0 = none (default 2)", NULL, 0},
        {"steps", ARG_INT, &steps, "number of steps on the batch (default 1)", NULL, 0},
        {"out", ARG_STRING, &out, "updated checkpoint (.safetensors)", NULL, 1},
        {"grads", ARG_STRING, &grads, "the last step's gradients (.safetensors)", NULL, 0},
        {"profile", ARG_FLAG, &profile, "print each step's time, then the time per op type and per layer "
         "(without the first step when there are several)", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("step", "--model NAME --num_classes N --weights W --input X.npy --labels L.npy --out W2.safetensors [flags]",
               specs, argc, argv, NULL, 0);
    if (steps < 1) fatal("--steps must be at least 1, not %d", steps);
    dist_init();
    DistGroup g = dist_world();
    c.criterion = strcmp(criterion, "ce") == 0 ? CRITERION_CE : CRITERION_SMOOTHING;
    c.arcloss = strcmp(arcloss, "arcface") == 0;
    if (c.arcloss && !f.arcface) fatal("--arcloss arcface needs the cosine head (--arcface)");
    c.optimizer = strcmp(optimizer, "SGD") == 0 ? OPTIMIZER_SGD : OPTIMIZER_ADAM;
    if (lr >= 0) c.adam.lr = c.sgd.lr = lr;
    if (wd >= 0) c.adam.weight_decay = c.sgd.weight_decay = wd;

    Model *m = model_from_flags(&f);
    safetensors_load_params(weights, &m->params);
    int n, h, w;
    real *x = read_input_npy(input, &n, &h, &w);
    int *labels = read_labels(labels_path, n, m->cfg.num_classes);
    uint8_t *target = f.arcface ? arc_targets(targets, m->cfg.num_classes) : NULL;
    c.arc_target = target;
    /* Under mpirun -np P: rank r steps on its share dist_share(n, r, P) of
     * the batch with its own BatchNorm statistics and the gradients averaged
     * over the ranks (the trainer's data-parallel step); rank 0 prints and
     * writes. */
    int n_all = n;
    if (g.size > 1) {
        size_t lo, hi;
        dist_share((size_t)n, g.rank, g.size, &lo, &hi);
        if (lo == hi) fatal("--input holds %d images, fewer than the %d ranks", n, g.size);
        memmove(x, x + lo * 3 * (size_t)h * (size_t)w, (hi - lo) * 3 * (size_t)h * (size_t)w * sizeof *x);
        memmove(labels, labels + lo, (hi - lo) * sizeof *labels);
        n = (int)(hi - lo);
        c.reduce_grad = step_average_grad;
        c.reduce_ctx = &g;
        if (g.rank > 0) rng_stream(&m->rng, 0, 0x64726f70 /* "drop" */, (uint64_t)g.rank);
        if (g.rank != 0 && !freopen("/dev/null", "w", stdout)) fatal("step: cannot silence rank %d", g.rank);
        printf("data-parallel over %d ranks: %d images of %d on rank 0, %zu bytes all-reduced per step\n", g.size, n,
               n_all, m->params.n_param * sizeof(real));
    }

    Arena arena;
    arena_init(&arena, 0);
    Tape t;
    tape_init(&t, &arena);
    long step = 0;
    profile_enable(profile);
    const size_t rss_before = profile_rss();
    double wall = 0;
    for (int k = 0; k < steps; k++) {
        /* The first step sizes the arena and faults its pages in; a profile
         * over several steps shows the steady state. */
        if (profile && k == 1) {
            profile_reset();
            wall = 0;
            allreduce_seconds = 0;
        }
        const double start = profile_now(), cpu = profile_cpu_now();
        if (g.size > 1) { /* DDP's broadcast_buffers: rank 0's running statistics before each forward */
            dist_broadcast(&g, m->params.buffer, m->params.n_buffer * sizeof(real), 0);
            dist_broadcast(&g, m->params.counter, m->params.n_counter * sizeof(int64_t), 0);
        }
        StepResult r = train_step(m, &t, x, n, h, w, labels, &c, &step);
        const double sec = profile_now() - start;
        wall += sec;
        printf("step %d loss %.9g grad_norm %.9g\n", k + 1, r.loss, r.grad_norm);
        if (profile)
            printf("time step %d %.6f s (cpu %.6f s)\n", k + 1, sec, profile_cpu_now() - cpu);
    }
    if (profile) {
        printf("peak RSS %.1f MiB (%.1f MiB before the first step), activation arena %.1f MiB\n",
               (double)profile_peak_rss() / (1 << 20), (double)rss_before / (1 << 20),
               (double)arena.peak / (1 << 20));
        profile_report(stdout, steps > 1 ? steps - 1 : 1, wall);
        if (g.size > 1)
            printf("all-reduce %.6f s per step (rank 0, waiting for the slowest rank included)\n",
                   allreduce_seconds / (steps > 1 ? steps - 1 : 1));
        profile_enable(0);
    }
    if (grads && g.rank == 0) {
        /* The gradients as the optimizer saw them (after clipping), by parameter name. */
        StWriter gw;
        st_writer_init(&gw);
        const ParamTable *p = &m->params;
        for (int i = 0; i < p->count; i++) {
            const ParamEntry *e = &p->entries[i];
            if (e->kind != PARAM_TRAINABLE) continue;
            int64_t shape[PARAM_MAX_DIMS];
            for (int d = 0; d < e->ndim; d++) shape[d] = e->shape[d];
            st_writer_add_real(&gw, e->name, p->grad + e->offset, e->ndim, shape);
        }
        st_writer_commit(&gw, grads);
    }
    if (g.rank == 0) safetensors_save_params(out, &m->params);
    tape_free(&t);
    arena_free(&arena);
    free(target);
    free(labels);
    free(x);
    model_free(m);
    fflush(stdout);
    dist_finalize();
    return 0;
}
