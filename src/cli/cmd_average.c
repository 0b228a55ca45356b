/* anomaly average A.safetensors B.safetensors ... [--weights W1 W2 ...]
 * --out C.safetensors: the element-wise weighted mean of checkpoints of one
 * model (the seed's "blending the model weights"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "anomaly/args.h"
#include "anomaly/ensemble.h"
#include "anomaly/error.h"

int cmd_average(int argc, char **argv);

static const char usage[] =
    "A.safetensors B.safetensors ... [--weights W1 W2 ...] --out C.safetensors\n"
    "\n"
    "Floating tensors (weights and BatchNorm running statistics) become the\n"
    "weighted mean sum(w_i * x_i), computed in double and rounded once to the\n"
    "tensor's dtype; integer tensors (num_batches_tracked) the maximum. Without\n"
    "--weights every file weighs the same. Weights that sum to 1 are used as\n"
    "given; others are divided by their sum (and a note says so). The files\n"
    "must hold the same tensor names, shapes and dtypes. Put --weights after\n"
    "the files: it takes every value up to the next flag.";

int cmd_average(int argc, char **argv) {
    const char *out = NULL;
    ArgList wl = {NULL, 0};
    const ArgSpec specs[] = {
        {"weights", ARG_LIST, &wl, "one weight per file, in file order (default: equal)", NULL, 0},
        {"out", ARG_STRING, &out, "the averaged checkpoint to write", NULL, 1},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    const char **paths = xmalloc((size_t)(argc > 0 ? argc : 1) * sizeof *paths, "file names");
    int n = args_parse("average", usage, specs, argc, argv, paths, argc);
    if (n < 2) fatal("anomaly average: give at least two checkpoints (see anomaly average --help)");
    double *w = NULL;
    if (wl.count) {
        if (wl.count != n)
            fatal("anomaly average: %d weights for %d checkpoints; give one weight per file", wl.count, n);
        w = xmalloc((size_t)n * sizeof *w, "weights");
        for (int i = 0; i < n; i++) {
            char *end;
            errno = 0;
            w[i] = strtod(wl.items[i], &end);
            if (errno || end == wl.items[i] || *end)
                fatal("anomaly average: --weights needs numbers, not '%s'", wl.items[i]);
        }
    }
    char err[2048];
    int normalised = 0;
    if (checkpoint_average(paths, w, n, out, &normalised, err, sizeof err) != 0) fatal("anomaly average: %s", err);
    if (normalised) {
        double sum = 0;
        for (int i = 0; i < n; i++) sum += w[i];
        printf("note: the weights sum to %g, not 1; each was divided by %g\n", sum, sum);
    }
    printf("wrote %s: the %s mean of %d checkpoints\n", out, w ? "weighted" : "equal-weight", n);
    free(w);
    free(wl.items);
    free(paths);
    if (fflush(stdout) != 0 || ferror(stdout)) fatal("anomaly average: cannot write to standard output");
    return 0;
}
