/* anomaly ensemble RECIPE [--out SUB.csv] [--explain] [--root DIR]: blends
 * saved test predictions as a recipe says (SPEC section 7; the language is
 * described in include/anomaly/ensemble.h, the winners' blend is
 * data/recipes/winners.recipe). */
#include <stdio.h>
#include <time.h>

#include "anomaly/args.h"
#include "anomaly/ensemble.h"
#include "anomaly/error.h"

int cmd_ensemble(int argc, char **argv);

static const char usage[] =
    "RECIPE [--out SUB.csv] [--explain] [--root DIR]\n"
    "\n"
    "Runs a recipe: loads fold-stacked test scores (.npy [K, N, C]), averages\n"
    "and weights them, decodes labels, applies the recipe's rules in order and\n"
    "writes index,label in the order of the recipe's `rows` file. Paths in the\n"
    "recipe are relative to --root. --explain prints every row a rule changes\n"
    "(recipe line, index, old -> new label) and the rows changed per rule.";

static double seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cmd_ensemble(int argc, char **argv) {
    const char *out = NULL, *root = ".", *path = NULL;
    int explain = 0;
    const ArgSpec specs[] = {
        {"out", ARG_STRING, &out, "the submission to write (default: the recipe's `write ... to` path)", NULL, 0},
        {"root", ARG_STRING, &root, "directory the recipe's relative paths start from (default .)", NULL, 0},
        {"explain", ARG_FLAG, &explain, "print each row a rule changes, then a count per rule", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    if (args_parse("ensemble", usage, specs, argc, argv, &path, 1) != 1)
        fatal("anomaly ensemble: which recipe? (see anomaly ensemble --help)");
    double t0 = seconds();
    char err[2048];
    Recipe *r = recipe_load(path, err, sizeof err);
    if (!r) fatal("%s", err);
    EnsembleOptions opt = {root, out, explain ? stdout : NULL};
    EnsembleResult res;
    if (recipe_run(r, &opt, &res, err, sizeof err) != 0) {
        recipe_free(r);
        fatal("%s", err);
    }
    printf("wrote %s: %zu rows in %.2f s; rows changed per rule:", res.out_path, res.n_rows, seconds() - t0);
    for (int i = 0; i < res.n_rules; i++) printf(" line %d: %zu%s", res.rule_line[i], res.rule_rows[i],
                                                 i + 1 < res.n_rules ? "," : "");
    printf("%s\n", res.n_rules ? "" : " (no rules)");
    ensemble_result_free(&res);
    recipe_free(r);
    if (fflush(stdout) != 0 || ferror(stdout)) fatal("anomaly ensemble: cannot write to standard output");
    return 0;
}
