/* anomaly forward: logits of a batch, and optionally every module's output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "anomaly/profile.h"
#include "anomaly/safetensors.h"
#include "anomaly/train_step.h"
#include "cli_model.h"

int cmd_forward(int argc, char **argv);

typedef struct Dump {
    StWriter w;
    char **names;
    int count, cap;
} Dump;

/* Keeps the first output of each module name (a module reported twice keeps
 * its first call, as a forward hook that records once would). */
static void dump_tensor(void *user, const char *name, const Tensor *x) {
    Dump *d = user;
    for (int i = 0; i < d->count; i++)
        if (strcmp(d->names[i], name) == 0) return;
    if (d->count == d->cap) {
        d->cap = d->cap ? 2 * d->cap : 256;
        d->names = xrealloc(d->names, (size_t)d->cap * sizeof *d->names, "dump names");
    }
    d->names[d->count++] = xstrdup(name);
    int64_t shape[4] = {x->n, x->c, x->h, x->w};
    st_writer_add_real(&d->w, name, x->data, x->h == 1 && x->w == 1 ? 2 : 4, shape);
}

int cmd_forward(int argc, char **argv) {
    ModelFlags f;
    model_flags_default(&f);
    const char *weights = NULL, *input = NULL, *out = NULL, *dump_path = NULL;
    int train = 0, repeat = 1, profile = 0;
    double scale = 8;
    ArgSpec specs[] = {
        MODEL_FLAG_SPECS(f),
        {"scale", ARG_DOUBLE, &scale, "ArcFace head: logits = scale * cos (default 8)", NULL, 0},
        {"weights", ARG_STRING, &weights, "checkpoint (.safetensors)", NULL, 1},
        {"input", ARG_STRING, &input, "float32 NCHW .npy, already normalised", NULL, 1},
        {"out", ARG_STRING, &out, "float32 [N, C] logits .npy", NULL, 1},
        {"train", ARG_FLAG, &train, "train mode: batch statistics (running stats are not saved)", NULL, 0},
        {"dump", ARG_STRING, &dump_path, "write every module's output, by PyTorch module name", NULL, 0},
        {"repeat", ARG_INT, &repeat, "run the forward pass this many times (timing; default 1)", NULL, 0},
        {"profile", ARG_FLAG, &profile, "print each pass's time, then the time per op type and per layer "
         "(without the first pass when there are several)", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("forward", "--model NAME --num_classes N --weights W --input X.npy --out Y.npy [--train] [--dump A.safetensors]",
               specs, argc, argv, NULL, 0);
    Model *m = model_from_flags(&f);
    safetensors_load_params(weights, &m->params);
    int n, h, w;
    real *x = read_input_npy(input, &n, &h, &w);

    Arena arena;
    arena_init(&arena, 0);
    Tape t;
    tape_init(&t, &arena);
    Dump d;
    memset(&d, 0, sizeof d);
    if (dump_path) {
        st_writer_init(&d.w);
        t.dump = dump_tensor;
        t.dump_user = &d;
    }
    if (repeat < 1) fatal("--repeat must be at least 1, not %d", repeat);
    if (dump_path && repeat > 1) fatal("--dump records one pass: use it without --repeat");
    profile_enable(profile);
    const size_t rss_before = profile_rss();
    Tensor *y = NULL;
    double wall = 0;
    for (int k = 0; k < repeat; k++) {
        if (profile && k == 1) {
            profile_reset();
            wall = 0;
        }
        const double start = profile_now(), cpu = profile_cpu_now();
        if (train) {
            tape_reset(&t);
            t.training = 1;
            t.recording = 0;
            y = model_forward(m, &t, tape_wrap(&t, x, n, 3, h, w));
            if (m->cfg.arcface)
                for (size_t i = 0; i < tensor_numel(y); i++) y->data[i] *= (real)scale;
        } else {
            y = model_logits(m, &t, x, n, h, w, scale);
        }
        const double sec = profile_now() - start;
        wall += sec;
        if (profile)
            printf("time pass %d %.6f s (cpu %.6f s)\n", k + 1, sec, profile_cpu_now() - cpu);
    }
    if (profile) {
        printf("peak RSS %.1f MiB (%.1f MiB before the first pass), activation arena %.1f MiB\n",
               (double)profile_peak_rss() / (1 << 20), (double)rss_before / (1 << 20),
               (double)arena.peak / (1 << 20));
        profile_report(stdout, repeat > 1 ? repeat - 1 : 1, wall);
        profile_enable(0);
    }
    int64_t shape[2] = {n, m->cfg.num_classes};
    if (dump_path) st_writer_commit(&d.w, dump_path);
    npy_write_real(out, y->data, 2, shape);
    for (int i = 0; i < d.count; i++) free(d.names[i]);
    free(d.names);
    tape_free(&t);
    arena_free(&arena);
    free(x);
    model_free(m);
    return 0;
}
