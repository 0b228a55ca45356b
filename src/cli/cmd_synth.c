/* anomaly synth: write the look-alike data set (SPEC sections 10 and 11). */
#include <math.h>
#include <stdio.h>

#include "anomaly/args.h"
#include "anomaly/error.h"
#include "anomaly/synth.h"

int cmd_synth(int argc, char **argv);

int cmd_synth(int argc, char **argv) {
    SynthOptions o = {NULL, SYNTH_FULL_TRAIN, -1, SYNTH_DEFAULT_SIZE, 42, 0, 0, 0, NAN};
    long long seed = 42;
    const ArgSpec specs[] = {
        {"out", ARG_STRING, &o.out, "the data-set directory to create", NULL, 1},
        {"train", ARG_INT, &o.n_train,
         "train images, >= 176 (default 4277: the real per-label counts; other sizes scale them)", NULL, 0},
        {"test", ARG_INT, &o.n_test, "test images, even (default: 2154 scaled like --train)", NULL, 0},
        {"defect_share", ARG_DOUBLE, &o.defect_share,
         "share of defective train images, e.g. 0.5 (default: the real 648 of 4277; the test set keeps the real mix)",
         NULL, 0},
        {"size", ARG_INT, &o.size, "image side in pixels (default 128)", NULL, 0},
        {"seed", ARG_LONG, &seed, "random seed (default 42): same flags, same bytes", NULL, 0},
        {"sheet", ARG_FLAG, &o.sheet, "also write sheet.png, one labelled example of every label", NULL, 0},
        {"force", ARG_FLAG, &o.force, "replace --out when it exists and is not empty", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("synth", "--out DIR [--train N] [--test M] [--defect_share P] [--size PX] [--seed S] [--sheet] [--force]", specs,
               argc, argv, NULL, 0);
    if (seed < 0) fatal("anomaly synth: --seed must not be negative");
    o.seed = (uint64_t)seed;
    synth_write_dataset(&o);
    return 0;
}
