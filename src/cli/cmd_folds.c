/* anomaly folds FILE: print a fold file as CSV rows fold,split,index.
 * anomaly folds make ...: write stratified folds of a data set's train images. */
#include <stdio.h>
#include <string.h>

#include "anomaly/args.h"
#include "anomaly/dataset.h"
#include "anomaly/error.h"
#include "anomaly/folds.h"

int cmd_folds(int argc, char **argv);

static int folds_make(int argc, char **argv) {
    const char *data_path = "data", *out = NULL;
    int k = 5;
    long long seed = 42;
    const ArgSpec specs[] = {
        {"data_path", ARG_STRING, &data_path, "the data set (train_df.csv and train/)", NULL, 0},
        {"k", ARG_INT, &k, "number of folds (default 5)", NULL, 0},
        {"seed", ARG_LONG, &seed, "random seed of the split (default 42)", NULL, 0},
        {"out", ARG_STRING, &out, "the .npy fold file to write", NULL, 1},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("folds make", "--out FILE [--data_path D] [--k K] [--seed S]", specs, argc, argv, NULL, 0);
    Dataset ds;
    dataset_open_or_die(data_path, &ds);
    if (k < 2 || (size_t)k > ds.n_train)
        fatal("anomaly folds make: --k must be between 2 and the %zu train images, not %d", ds.n_train, k);
    Folds f;
    folds_make_stratified(&f, ds.train_label, ds.n_train, k, (uint64_t)seed);
    folds_write(out, &f);
    size_t lo = f.folds[0].n_val, hi = lo;
    for (int j = 1; j < f.k; j++) {
        if (f.folds[j].n_val < lo) lo = f.folds[j].n_val;
        if (f.folds[j].n_val > hi) hi = f.folds[j].n_val;
    }
    printf("wrote %s: %d folds of %zu images stratified by %d labels, %zu-%zu validation images each\n", out,
           f.k, ds.n_train, ds.n_labels, lo, hi);
    folds_free(&f);
    dataset_free(&ds);
    return 0;
}

int cmd_folds(int argc, char **argv) {
    if (argc >= 1 && strcmp(argv[0], "make") == 0) return folds_make(argc - 1, argv + 1);
    const ArgSpec specs[] = {{NULL, 0, NULL, NULL, NULL, 0}};
    const char *usage = "FILE   (or: anomaly folds make --out FILE ...)";
    const char *path = NULL;
    if (args_parse("folds", usage, specs, argc, argv, &path, 1) != 1)
        fatal("anomaly folds: which fold file? (usage: anomaly folds %s)", usage);
    Folds f;
    char err[1024];
    if (folds_read(path, &f, err, sizeof err) != 0) fatal("%s", err);
    printf("fold,split,index\n");
    for (int j = 0; j < f.k; j++) {
        for (size_t i = 0; i < f.folds[j].n_train; i++)
            printf("%d,train,%lld\n", j + 1, (long long)f.folds[j].train[i]);
        for (size_t i = 0; i < f.folds[j].n_val; i++)
            printf("%d,val,%lld\n", j + 1, (long long)f.folds[j].val[i]);
    }
    folds_free(&f);
    if (fflush(stdout) != 0 || ferror(stdout)) fatal("anomaly folds: cannot write to standard output");
    return 0;
}
