/* The CSV inputs of a recipe: the label list, and the one-class tables whose
 * rows vote for a label (SPEC section 7, rule 3). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "recipe_ast.h"

char *recipe_resolve(const char *root, const char *path) {
    if (path[0] == '/' || !root || !root[0] || strcmp(root, ".") == 0) return xstrdup(path);
    size_t a = strlen(root), b = strlen(path);
    while (a > 1 && root[a - 1] == '/') a--;
    char *p = xmalloc(a + b + 2, "a path");
    memcpy(p, root, a);
    p[a] = '/';
    memcpy(p + a + 1, path, b + 1);
    return p;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int recipe_read_labels(const char *path, char ***labels, int *n_labels, char *err, size_t errlen) {
    CsvTable t;
    if (csv_read(path, &t, err, errlen) != 0) return -1;
    int col = csv_column_checked(&t, "label", err, errlen);
    if (col < 0 || t.n_rows == 0) {
        if (col >= 0) error_format(err, errlen, "%s: has no rows, so no labels", path);
        csv_free(&t);
        return -1;
    }
    const char **all = xmalloc(t.n_rows * sizeof *all, "labels");
    for (size_t i = 0; i < t.n_rows; i++) all[i] = csv_cell(&t, i, col);
    /* Python's sorted() on str: code-point order, which strcmp gives on UTF-8 */
    qsort(all, t.n_rows, sizeof *all, cmp_str);
    int n = 0;
    char **out = xmalloc(t.n_rows * sizeof *out, "labels");
    for (size_t i = 0; i < t.n_rows; i++)
        if (i == 0 || strcmp(all[i], all[i - 1]) != 0) out[n++] = xstrdup(all[i]);
    free(all);
    csv_free(&t);
    *labels = out;
    *n_labels = n;
    return 0;
}

const char *recipe_majority(const char **cells, size_t n) {
    qsort(cells, n, sizeof *cells, cmp_str);
    const char *best = cells[0];
    size_t best_n = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(cells[j], cells[i]) == 0) j++;
        /* strictly more: on a tie the earlier, smaller string stays */
        if (j - i > best_n) {
            best = cells[i];
            best_n = j - i;
        }
        i = j;
    }
    return best;
}

/* What pandas.read_csv takes for a missing value by default (pandas 1.x);
 * the original then filled them with 0. */
static int pandas_na(const char *s) {
    static const char *const na[] = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN",
                                     "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A", "NA", "NULL",
                                     "NaN", "n/a", "nan", "null", NULL};
    for (int i = 0; na[i]; i++)
        if (strcmp(s, na[i]) == 0) return 1;
    return 0;
}

/* The original (`pd.read_csv(...).fillna(0)`, a column of 'none', then
 * `np.array(df, dtype=str)` row by row) counted every cell: the index, the
 * table's label column, each prediction with missing values as "0" -- or
 * "0.0" when pandas made the whole column float because nothing in it was
 * text -- and the added "none". */
static void quirk_cells(const CsvTable *t, const int *all_na, size_t row, const char **cells) {
    for (int c = 0; c < t->n_cols; c++) {
        const char *v = csv_cell(t, row, c);
        cells[c] = pandas_na(v) ? (all_na[c] ? "0.0" : "0") : v;
    }
    cells[t->n_cols] = "none";
}

static int vote_check_rows(const CsvTable *t, const char *path, char *const *index, size_t n, char *err,
                           size_t errlen) {
    int ci = csv_column_checked(t, "index", err, errlen);
    if (ci < 0) return -1;
    if (t->n_rows != n)
        return error_format(err, errlen, "%s has %zu rows but there are %zu output rows; a table needs one row per "
                    "output row, in the same order", path, t->n_rows, n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(csv_cell(t, i, ci), index[i]) != 0)
            return error_format(err, errlen, "%s line %d has index '%s' where output row %zu has index '%s'; the "
                        "rows must match the submission row for row", path, t->line[i],
                        csv_cell(t, i, ci), i + 1, index[i]);
    return 0;
}

int recipe_vote_table(const char *path, int quirk, char *const *index, size_t n, CsvTable *table,
                      const char **votes, char *err, size_t errlen) {
    if (csv_read(path, table, err, errlen) != 0) return -1;
    const CsvTable *t = table;
    if (vote_check_rows(t, path, index, n, err, errlen) != 0) {
        csv_free(table);
        return -1;
    }
    int *use = xcalloc((size_t)t->n_cols, sizeof *use, "table columns");
    int n_use = 0;
    for (int c = 0; c < t->n_cols; c++) {
        if (quirk) {
            use[c] = 1; /* here: whether the column has nothing but missing values */
            for (size_t i = 0; i < n && use[c]; i++) use[c] = pandas_na(csv_cell(t, i, c));
        } else if (strcmp(t->header[c], "index") != 0 && strcmp(t->header[c], "label") != 0) {
            use[c] = 1;
            n_use++;
        }
    }
    if (!quirk && n_use == 0) {
        free(use);
        csv_free(table);
        return error_format(err, errlen, "%s has no prediction columns (only index and label)", path);
    }
    const char **cells = xmalloc(((size_t)t->n_cols + 1) * sizeof *cells, "a table row");
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        if (quirk) {
            quirk_cells(t, use, i, cells);
            k = (size_t)t->n_cols + 1;
        } else {
            for (int c = 0; c < t->n_cols; c++)
                if (use[c]) cells[k++] = csv_cell(t, i, c);
        }
        votes[i] = recipe_majority(cells, k);
    }
    free(cells);
    free(use);
    return 0;
}
