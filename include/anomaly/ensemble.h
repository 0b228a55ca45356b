/* Ensembles (SPEC section 7): blending test predictions with a recipe, and
 * averaging checkpoints.
 *
 * A recipe is a small line-based text file. `#` starts a comment; one
 * statement per line, starting at the line's beginning: an indented line
 * continues the statement above, and so does every line while a parenthesis
 * or bracket is open. Relative paths resolve against the root
 * directory (`anomaly ensemble --root`, default the current directory);
 * quote a path that holds ( ) [ ] , = + * ! # or spaces: "a/f(576).npy".
 *
 *   labels data/train/train_df.csv   the label list: the sorted distinct
 *                                    values of the file's `label` column;
 *                                    score column c of a tensor is label c
 *   rows data/sample_submission.csv  the output rows: the file's `index`
 *                                    column, in its order; every tensor and
 *                                    table has one row per output row
 *   let NAME = EXPRESSION            defines a new name (once)
 *   set NAME = VALUE where CONDITION overwrites the rows of column NAME
 *                                    where the condition holds (a "rule")
 *   write NAME [to PATH]             writes `index,label`, once (--out wins)
 *
 * Expressions, by the kind of value they make:
 *   load(PATH)              folds: a .npy array [K, N, C] of scores per fold
 *   keep(F, [0, 1])         folds: only those folds of F (0-based; one fold
 *                           may be written without brackets), in fold
 *   drop(F, [0, 1, 5, 6])   order; drop keeps the others (as the original's
 *                           merge_fold / drop_fold, whatever the list order)
 *   cat(F, G, ...)          folds: stacked along the fold axis
 *   mean(F)                 scores [N, C]: the fold average, summed in fold
 *                           order then divided by K
 *   0.6 * A + 0.1 * B       weighted sums of scores (or of fold stacks of the
 *                           same shape), evaluated left to right
 *   decode(S)               column: the label of each row's largest score
 *                           (the first one on ties, as argmax)
 *   vote(PATH)              column: each row's most frequent value among the
 *                           prediction columns of a one-class table (every
 *                           column but `index` and `label`); ties go to the
 *                           smallest string, as numpy.unique orders them
 *   vote(PATH, quirk)       the same count as the original ensemble.py made:
 *                           every cell of the row (index and label columns
 *                           included) plus one "none", with pandas' missing
 *                           values (null, empty, NaN, ...) read as "0" (or
 *                           "0.0" in a column with nothing else)
 *   NAME                    a copy of a value defined above
 *
 * Conditions compare text per row and combine with `and`, `or`, `not` and
 * parentheses:
 *   a == b, a != b          a column (`final`), the class or state part of a
 *                           column (`class(final)`, `state(soft)`), a label
 *                           (bottle-good), or any quoted text ("null")
 *   x in [a, b], x not in [...]
 * Beside class(...) a bare word is a class name, beside state(...) a state
 * name, beside a column a label: each is checked against the label list, so
 * a misspelt name is an error, not a rule that never fires. A rule may only
 * write labels of the list.
 *
 * Errors name the recipe line ("winners.recipe:23: ..."): syntax, unknown or
 * redefined names, values of the wrong kind, shapes that do not match, fold
 * numbers out of range, a score count other than the number of labels, a
 * table whose index column does not match the output rows. */
#ifndef ANOMALY_ENSEMBLE_H
#define ANOMALY_ENSEMBLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct Recipe Recipe;

/* Parses and checks a recipe (names, kinds of values, syntax) without
 * touching any data file. `path` names the recipe in messages. Returns the
 * recipe, or NULL with "path:line: problem" in err. */
Recipe *recipe_parse(const char *path, const char *text, char *err, size_t errlen);
/* Reads the file, then recipe_parse. */
Recipe *recipe_load(const char *path, char *err, size_t errlen);
void recipe_free(Recipe *r);

typedef struct EnsembleOptions {
    const char *root; /* relative recipe paths resolve here; NULL: "." */
    const char *out;  /* written instead of the recipe's `write ... to` path */
    FILE *explain;    /* NULL, or: one line per row a rule changes, then a
                         count per rule */
} EnsembleOptions;

/* What a run did, for the caller and the tests. */
typedef struct EnsembleResult {
    size_t n_rows;
    char **index;       /* [n_rows] the rows file's index column */
    char **label;       /* [n_rows] the column written */
    char *out_path;     /* the file written */
    int n_rules;
    int *rule_line;     /* [n_rules] recipe line of each `set` */
    size_t *rule_rows;  /* [n_rules] rows each rule changed */
} EnsembleResult;

/* Runs a parsed recipe and writes its submission atomically. Returns 0, or
 * -1 with "recipe:line: problem" in err (nothing is written then). */
int recipe_run(const Recipe *r, const EnsembleOptions *opt, EnsembleResult *res, char *err,
               size_t errlen);
void ensemble_result_free(EnsembleResult *res);

/* Checkpoint averaging: the element-wise weighted mean of n safetensors
 * files with the same tensor names, shapes and dtypes (any model; the
 * output keeps the first file's tensor order).
 *   - weights NULL: 1/n each. Weights that sum to 1 (within 1e-6) are used
 *     as given; other weights are divided by their sum, and *normalised is
 *     set. Negative or non-finite weights, or a zero sum, are refused.
 *   - floating tensors (F64, F32, F16, BF16): sum of w_i * x_i in double,
 *     in file order, rounded once to the tensor's dtype, so the float32 and
 *     float64 builds write the same bytes. BatchNorm's running statistics are
 *     averaged like every other floating tensor.
 *   - integer and bool tensors (num_batches_tracked, index buffers): the
 *     element-wise maximum.
 *   - metadata: the entries every file has with the same value, plus
 *     "averaged_from" = "A.safetensors*0.5,B.safetensors*0.5".
 * Returns 0, or -1 with a message naming the files and the tensor. */
int checkpoint_average(const char *const *paths, const double *weights, int n,
                       const char *out_path, int *normalised, char *err, size_t errlen);

#endif
