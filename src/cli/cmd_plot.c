/* anomaly plot results/EXP [--out curves.png]: the training curves of an
 * experiment (viz.h), from the log.csv of each of its runs. */
#include <stdio.h>

#include "anomaly/args.h"
#include "anomaly/error.h"
#include "anomaly/viz.h"

int cmd_plot(int argc, char **argv);

static const char usage[] =
    "results/EXP [--out PNG]\n"
    "\n"
    "Draws train and validation loss (left) and macro F1 (right) per epoch\n"
    "for every run of the experiment (each subdirectory with a log.csv), the\n"
    "learning rate on the loss panel's right axis, saved epochs as squares.\n"
    "Writes results/EXP/curves.png unless --out says otherwise.";

int cmd_plot(int argc, char **argv) {
    const char *out = NULL;
    const ArgSpec specs[] = {
        {"out", ARG_STRING, &out, "where to write the PNG (default EXP/curves.png)", NULL, 0},
        {NULL, ARG_FLAG, NULL, NULL, NULL, 0},
    };
    const char *pos[1];
    if (args_parse("plot", usage, specs, argc, argv, pos, 1) != 1)
        fatal("anomaly plot: needs one experiment directory (see anomaly plot --help)");
    char path[4096], err[1024];
    if (!out) {
        path_printf(path, sizeof path, "%s/curves.png", pos[0]);
        out = path;
    }
    if (curves_write(pos[0], out, err, sizeof err)) fatal("anomaly plot: %s", err);
    printf("%s\n", out);
    return 0;
}
