/* anomaly score SUBMISSION.csv ANSWERS.csv [--confusion OUT.png]: the
 * competition's metric for a submission. Both files are index,label tables;
 * they are joined on index (every index exactly once in each file), and the
 * answers are the truth. Macro F1 is scikit-learn's f1_score(average='macro')
 * over the union of the label strings present in either file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/args.h"
#include "anomaly/csv.h"
#include "anomaly/error.h"
#include "anomaly/metrics.h"

int cmd_score(int argc, char **argv);

static const char usage[] =
    "SUBMISSION.csv ANSWERS.csv [--confusion OUT.png]\n"
    "\n"
    "Joins the two index,label files on index (a missing, extra or repeated\n"
    "index is an error naming the file and line), prints the macro F1\n"
    "(scikit-learn's average='macro' over the labels present in either file)\n"
    "and each label's precision, recall, F1 and support. --confusion draws\n"
    "the confusion matrix (rows true, columns predicted) as a PNG.";

typedef struct Row {
    const char *key;
    size_t row;
} Row;

static int row_cmp(const void *a, const void *b) {
    const Row *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return x->row < y->row ? -1 : x->row > y->row;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The table's rows sorted by index; a repeated index is fatal. */
static Row *sorted_rows(const CsvTable *t, int col) {
    Row *r = xmalloc((t->n_rows ? t->n_rows : 1) * sizeof *r, "score");
    for (size_t i = 0; i < t->n_rows; i++) {
        r[i].key = csv_cell(t, i, col);
        r[i].row = i;
    }
    qsort(r, t->n_rows, sizeof *r, row_cmp);
    for (size_t i = 1; i < t->n_rows; i++)
        if (strcmp(r[i - 1].key, r[i].key) == 0)
            fatal("%s:%d: index '%s' appears again (first on line %d)", t->path, t->line[r[i].row], r[i].key,
                  t->line[r[i - 1].row]);
    return r;
}

static const Row *find_row(const Row *rows, size_t n, const char *key) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(rows[mid].key, key);
        if (c == 0) return &rows[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

static int label_id(char *const *labels, int n, const char *s) {
    char *const *p = bsearch(&s, labels, (size_t)n, sizeof *labels, str_cmp);
    return (int)(p - labels);
}

int cmd_score(int argc, char **argv) {
    const char *confusion = NULL;
    const ArgSpec specs[] = {
        {"confusion", ARG_STRING, &confusion, "also draw the confusion matrix into this PNG", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    const char *pos[2];
    if (args_parse("score", usage, specs, argc, argv, pos, 2) != 2)
        fatal("anomaly score: need SUBMISSION.csv and ANSWERS.csv (usage: anomaly score %s)",
              "SUBMISSION.csv ANSWERS.csv [--confusion OUT.png]");
    CsvTable sub, ans;
    csv_read_or_die(pos[0], &sub);
    csv_read_or_die(pos[1], &ans);
    int s_idx = csv_column(&sub, "index"), s_lab = csv_column(&sub, "label");
    int a_idx = csv_column(&ans, "index"), a_lab = csv_column(&ans, "label");
    if (ans.n_rows == 0) fatal("%s: no rows", ans.path);
    Row *srows = sorted_rows(&sub, s_idx), *arows = sorted_rows(&ans, a_idx);
    /* Every answer needs a prediction, and nothing may be predicted that has
     * no answer; report the first problem in file order. */
    for (size_t i = 0; i < ans.n_rows; i++) {
        const char *key = csv_cell(&ans, i, a_idx);
        if (!find_row(srows, sub.n_rows, key))
            fatal("%s: no row for index '%s' (line %d of %s)", sub.path, key, ans.line[i], ans.path);
    }
    for (size_t i = 0; i < sub.n_rows; i++) {
        const char *key = csv_cell(&sub, i, s_idx);
        if (!find_row(arows, ans.n_rows, key))
            fatal("%s:%d: index '%s' is not in %s", sub.path, sub.line[i], key, ans.path);
    }
    /* Labels: the sorted distinct strings of both files (sklearn's np.unique). */
    size_t n = ans.n_rows;
    char **labels = xmalloc(2 * n * sizeof *labels, "score labels");
    for (size_t i = 0; i < n; i++) {
        labels[i] = (char *)csv_cell(&ans, i, a_lab);
        labels[n + i] = (char *)csv_cell(&sub, i, s_lab);
    }
    qsort(labels, 2 * n, sizeof *labels, str_cmp);
    int n_labels = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (n_labels == 0 || strcmp(labels[n_labels - 1], labels[i]) != 0) labels[n_labels++] = labels[i];
    int *truth = xmalloc(n * sizeof *truth, "score"), *pred = xmalloc(n * sizeof *pred, "score");
    for (size_t i = 0; i < n; i++) {
        const Row *r = find_row(srows, sub.n_rows, csv_cell(&ans, i, a_idx));
        truth[i] = label_id(labels, n_labels, csv_cell(&ans, i, a_lab));
        pred[i] = label_id(labels, n_labels, csv_cell(&sub, r->row, s_lab));
    }
    Scores s;
    scores_compute(&s, truth, pred, n, n_labels);
    printf("%s against %s: %zu rows, %d labels\n", sub.path, ans.path, n, n_labels);
    scores_print(stdout, &s, (const char *const *)labels);
    printf("macro F1 %.10f\n", s.macro_f1);
    if (confusion) {
        char title[512];
        snprintf(title, sizeof title, "%s vs %s: macro F1 %.4f, accuracy %.4f, %zu rows", sub.path, ans.path,
                 s.macro_f1, s.accuracy, n);
        confusion_png_write(confusion, s.confusion, n_labels, (const char *const *)labels, NULL, 0, title);
        printf("wrote %s\n", confusion);
    }
    if (fflush(stdout) != 0 || ferror(stdout)) fatal("anomaly score: cannot write to standard output");
    scores_free(&s);
    free(truth);
    free(pred);
    free(labels);
    free(srows);
    free(arows);
    csv_free(&sub);
    csv_free(&ans);
    return 0;
}
