/* Running an ensemble recipe: fold stacks and scores (arithmetic in
 * recipe_kernels.c), label columns, rules, the submission. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/dataset.h"
#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "recipe_ast.h"

typedef struct Value {
    ValueKind vk;
    int k, n, c;        /* folds [k, n, c]; scores [n, c] with k = 1 */
    real *data;         /* [k, n, c] */
    const char **col;   /* column [n] */
} Value;

typedef struct Binding {
    const char *name;
    Value v;
} Binding;

typedef struct Run {
    const Recipe *r;
    const EnsembleOptions *opt;
    int line; /* of the statement running, for messages */
    char *err;
    size_t errlen;
    jmp_buf fail;
    void **mem; /* everything malloc'd for this run, freed at the end */
    size_t n_mem, cap_mem;
    CsvTable **tables;
    int n_tables;
    const char *labels_path, *rows_path;
    char **labels; /* [n_labels] sorted */
    int n_labels;
    const char **classes, **states; /* distinct, sorted */
    int n_classes, n_states;
    size_t n_rows;
    char **index; /* [n_rows] */
    Binding *binds;
    int n_binds;
    int n_rules;
    int *rule_line;
    size_t *rule_rows;
    const char **written; /* [n_rows] the column at the `write` statement */
    const char *write_path;
} Run;

static void run_fail(Run *R, const char *fmt, ...) ANOMALY_PRINTF(2, 3) ANOMALY_NORETURN;
static void run_fail(Run *R, const char *fmt, ...) {
    int n = snprintf(R->err, R->errlen, "%s:%d: ", R->r->path, R->line);
    if (n < 0 || (size_t)n >= R->errlen) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(R->err + n, R->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(R->fail, 1);
}

static void *run_keep(Run *R, void *p) {
    if (R->n_mem == R->cap_mem) {
        R->cap_mem = R->cap_mem ? 2 * R->cap_mem : 64;
        R->mem = xrealloc(R->mem, R->cap_mem * sizeof *R->mem, "recipe memory");
    }
    R->mem[R->n_mem++] = p;
    return p;
}

static void *run_alloc(Run *R, size_t bytes) { return run_keep(R, xmalloc(bytes, "recipe values")); }

static const char *run_path(Run *R, const char *path) {
    return run_keep(R, recipe_resolve(R->opt->root, path));
}

static void keep_table(Run *R, CsvTable *t) {
    R->tables = xrealloc(R->tables, (size_t)(R->n_tables + 1) * sizeof *R->tables, "recipe tables");
    R->tables[R->n_tables++] = t;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int in_sorted(const char *const *list, int n, const char *s) {
    return n > 0 && bsearch(&s, list, (size_t)n, sizeof *list, cmp_str) != NULL;
}

static int is_label(const Run *R, const char *s) {
    return in_sorted((const char *const *)R->labels, R->n_labels, s);
}

/* Sorted distinct strings of list[0..n) (reorders list). */
static int sort_unique(const char **list, int n) {
    qsort(list, (size_t)n, sizeof *list, cmp_str);
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || strcmp(list[i], list[m - 1]) != 0) list[m++] = list[i];
    return m;
}

static Binding *find(Run *R, const char *name) {
    for (int i = 0; i < R->n_binds; i++)
        if (strcmp(R->binds[i].name, name) == 0) return &R->binds[i];
    return NULL; /* the parser checked every name */
}

static void fmt_shape(char *buf, size_t n, const Value *v) {
    if (v->vk == VK_FOLDS) snprintf(buf, n, "[%d, %d, %d]", v->k, v->n, v->c);
    else snprintf(buf, n, "[%d, %d]", v->n, v->c);
}

static void describe(const Expr *e, char *buf, size_t n) {
    static const char *const fn[] = {"a number", "", "load()", "keep()", "drop()", "cat()", "mean()",
                                     "a sum", "a product", "decode()", "vote()"};
    if (e->kind == EX_NAME) snprintf(buf, n, "'%s'", e->text);
    else if (e->kind == EX_LOAD) snprintf(buf, n, "load(%s)", e->text);
    else snprintf(buf, n, "%s", fn[e->kind]);
}

static Value new_value(Run *R, ValueKind vk, int k, int n, int c) {
    Value v = {vk, k, n, c, NULL, NULL};
    if (vk == VK_COLUMN) v.col = run_alloc(R, (size_t)n * sizeof *v.col);
    else v.data = run_alloc(R, (size_t)k * (size_t)n * (size_t)c * sizeof *v.data);
    return v;
}

/* ---- values ---- */

static Value eval(Run *R, const Expr *e);

static Value eval_load(Run *R, const Expr *e) {
    const char *path = run_path(R, e->text);
    NpyArray a;
    char msg[1024];
    if (npy_or_tensor_read(path, &a, msg, sizeof msg) != 0) run_fail(R, "%s", msg); /* .npy or one-tensor .pth */
    char sh[160] = "[";
    for (int i = 0; i < a.ndim; i++)
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%lld%s", (long long)a.shape[i], i + 1 < a.ndim ? ", " : "");
    strcat(sh, "]");
    msg[0] = 0;
    if (a.ndim != 3 || (a.dtype != NPY_F4 && a.dtype != NPY_F8))
        snprintf(msg, sizeof msg, "%s: expected a float array [K, N, C] (folds, rows, scores), got %s of shape %s",
                 path, npy_dtype_name(a.dtype), sh);
    else if (a.shape[0] < 1 || a.shape[0] > INT_MAX || a.shape[2] > INT_MAX)
        snprintf(msg, sizeof msg, "%s: shape %s has no folds or is too large", path, sh);
    else if (a.shape[1] != (int64_t)R->n_rows)
        snprintf(msg, sizeof msg, "%s: shape %s has %lld rows but %s has %zu; the rows must be the submission's",
                 path, sh, (long long)a.shape[1], R->rows_path, R->n_rows);
    else if (a.shape[2] != R->n_labels)
        snprintf(msg, sizeof msg, "%s: shape %s has %lld scores per row but %s has %d labels", path, sh,
                 (long long)a.shape[2], R->labels_path, R->n_labels);
    if (msg[0]) {
        npy_free(&a);
        run_fail(R, "%s", msg);
    }
    Value v = {VK_FOLDS, (int)a.shape[0], (int)a.shape[1], (int)a.shape[2], NULL, NULL};
    v.data = run_keep(R, npy_to_real(&a));
    npy_free(&a);
    return v;
}

/* As the original's merge_fold / drop_fold: the chosen folds in fold order. */
static Value eval_select(Run *R, const Expr *e) {
    Value f = eval(R, e->args[0]);
    char what[300];
    describe(e->args[0], what, sizeof what);
    int keep = e->kind == EX_KEEP;
    char *listed = run_alloc(R, (size_t)f.k);
    memset(listed, 0, (size_t)f.k);
    for (int i = 0; i < e->n_folds; i++) {
        if (e->folds[i] < 0 || e->folds[i] >= f.k)
            run_fail(R, "fold %d is out of range: %s has %d folds (0 to %d)", e->folds[i], what, f.k, f.k - 1);
        listed[e->folds[i]] = 1;
    }
    int k = 0;
    for (int j = 0; j < f.k; j++) k += listed[j] == keep;
    if (k == 0) run_fail(R, "%s leaves none of the %d folds of %s", keep ? "keep()" : "drop()", f.k, what);
    Value v = new_value(R, VK_FOLDS, k, f.n, f.c);
    size_t m = (size_t)f.n * (size_t)f.c;
    k = 0;
    for (int j = 0; j < f.k; j++)
        if (listed[j] == keep) memcpy(v.data + (size_t)k++ * m, f.data + (size_t)j * m, m * sizeof *v.data);
    return v;
}

static Value eval_cat(Run *R, const Expr *e) {
    Value *parts = run_alloc(R, (size_t)e->n_args * sizeof *parts);
    int k = 0;
    for (int i = 0; i < e->n_args; i++) {
        parts[i] = eval(R, e->args[i]);
        if (parts[i].n != parts[0].n || parts[i].c != parts[0].c) {
            char a[64], b[64], da[300], db[300];
            fmt_shape(a, sizeof a, &parts[0]);
            fmt_shape(b, sizeof b, &parts[i]);
            describe(e->args[0], da, sizeof da);
            describe(e->args[i], db, sizeof db);
            run_fail(R, "cat(): shape mismatch: %s is %s but %s is %s (rows and scores must agree)", da, a, db, b);
        }
        k += parts[i].k;
    }
    Value v = new_value(R, VK_FOLDS, k, parts[0].n, parts[0].c);
    size_t m = (size_t)v.n * (size_t)v.c, off = 0;
    for (int i = 0; i < e->n_args; i++) {
        memcpy(v.data + off, parts[i].data, (size_t)parts[i].k * m * sizeof *v.data);
        off += (size_t)parts[i].k * m;
    }
    return v;
}

static Value eval_mean(Run *R, const Expr *e) {
    Value f = eval(R, e->args[0]);
    Value v = new_value(R, VK_SCORES, 1, f.n, f.c);
    folds_mean(v.data, f.data, f.k, (size_t)f.n * (size_t)f.c);
    return v;
}

static Value eval_add(Run *R, const Expr *e) {
    Value a = eval(R, e->args[0]), b = eval(R, e->args[1]);
    if (a.k != b.k || a.n != b.n || a.c != b.c) {
        char sa[64], sb[64], da[300], db[300];
        fmt_shape(sa, sizeof sa, &a);
        fmt_shape(sb, sizeof sb, &b);
        describe(e->args[0], da, sizeof da);
        describe(e->args[1], db, sizeof db);
        run_fail(R, "'+': shape mismatch: %s is %s but %s is %s", da, sa, db, sb);
    }
    Value v = new_value(R, a.vk, a.k, a.n, a.c);
    scores_add(v.data, a.data, b.data, (size_t)a.k * (size_t)a.n * (size_t)a.c);
    return v;
}

static Value eval_mul(Run *R, const Expr *e) {
    Value a = eval(R, e->args[1]);
    Value v = new_value(R, a.vk, a.k, a.n, a.c);
    scores_scale(v.data, a.data, e->args[0]->number, (size_t)a.k * (size_t)a.n * (size_t)a.c);
    return v;
}

static Value eval_decode(Run *R, const Expr *e) {
    Value s = eval(R, e->args[0]);
    if (s.c != R->n_labels)
        run_fail(R, "decode(): the scores have %d columns but %s has %d labels", s.c, R->labels_path, R->n_labels);
    Value v = new_value(R, VK_COLUMN, 1, s.n, 0);
    int *best = run_alloc(R, (size_t)s.n * sizeof *best);
    scores_argmax(best, s.data, s.n, s.c);
    for (int i = 0; i < s.n; i++) v.col[i] = R->labels[best[i]];
    return v;
}

static Value eval_vote(Run *R, const Expr *e) {
    const char *path = run_path(R, e->text);
    Value v = new_value(R, VK_COLUMN, 1, (int)R->n_rows, 0);
    CsvTable *t = run_alloc(R, sizeof *t);
    char msg[1024];
    if (recipe_vote_table(path, e->quirk, R->index, R->n_rows, t, v.col, msg, sizeof msg) != 0)
        run_fail(R, "%s", msg);
    keep_table(R, t);
    return v;
}

static Value eval(Run *R, const Expr *e) {
    switch (e->kind) {
    case EX_NAME: return find(R, e->text)->v;
    case EX_LOAD: return eval_load(R, e);
    case EX_KEEP:
    case EX_DROP: return eval_select(R, e);
    case EX_CAT: return eval_cat(R, e);
    case EX_MEAN: return eval_mean(R, e);
    case EX_ADD: return eval_add(R, e);
    case EX_MUL: return eval_mul(R, e);
    case EX_DECODE: return eval_decode(R, e);
    case EX_VOTE: return eval_vote(R, e);
    case EX_NUMBER: break;
    }
    run_fail(R, "a number on its own is not a value"); /* the parser refuses these */
}

/* ---- rules ---- */

static void check_term(Run *R, const Term *t) {
    if (t->kind == TM_LABEL && !is_label(R, t->text))
        run_fail(R, "'%s' is not a label of %s", t->text, R->labels_path);
    if (t->kind == TM_CLASSNAME && !in_sorted(R->classes, R->n_classes, t->text))
        run_fail(R, "'%s' is not a class of the labels of %s", t->text, R->labels_path);
    if (t->kind == TM_STATENAME && !in_sorted(R->states, R->n_states, t->text))
        run_fail(R, "'%s' is not a state of any label of %s", t->text, R->labels_path);
}

static void check_pred(Run *R, const Pred *p) {
    if (p->kind == PR_AND || p->kind == PR_OR || p->kind == PR_NOT) {
        check_pred(R, p->a);
        if (p->b) check_pred(R, p->b);
        return;
    }
    check_term(R, &p->lhs);
    for (int i = 0; i < p->n_rhs; i++) check_term(R, &p->rhs[i]);
}

static const char *term_at(Run *R, const Term *t, size_t row, size_t *len) {
    const char *s = t->text;
    if (t->kind == TM_COLUMN || t->kind == TM_CLASS || t->kind == TM_STATE) s = find(R, t->text)->v.col[row];
    if (t->kind == TM_CLASS) {
        *len = label_class_len(s);
        return s;
    }
    if (t->kind == TM_STATE) s = label_state(s);
    *len = strlen(s);
    return s;
}

static int pred_at(Run *R, const Pred *p, size_t row) {
    switch (p->kind) {
    case PR_AND: return pred_at(R, p->a, row) && pred_at(R, p->b, row);
    case PR_OR: return pred_at(R, p->a, row) || pred_at(R, p->b, row);
    case PR_NOT: return !pred_at(R, p->a, row);
    default: break;
    }
    size_t la, lb;
    const char *a = term_at(R, &p->lhs, row, &la);
    int hit = 0;
    for (int i = 0; i < p->n_rhs && !hit; i++) {
        const char *b = term_at(R, &p->rhs[i], row, &lb);
        hit = la == lb && memcmp(a, b, la) == 0;
    }
    return (p->kind == PR_EQ || p->kind == PR_IN) ? hit : !hit;
}

static void run_set(Run *R, const Stmt *s) {
    Value *target = &find(R, s->name)->v;
    check_term(R, &s->value);
    check_pred(R, s->where);
    size_t changed = 0;
    for (size_t i = 0; i < R->n_rows; i++) {
        if (!pred_at(R, s->where, i)) continue;
        size_t len;
        const char *to = term_at(R, &s->value, i, &len);
        const char *from = target->col[i];
        if (strcmp(to, from) == 0) continue;
        if (!is_label(R, to))
            run_fail(R, "index %s (output row %zu): the rule would write '%s', which is not a label of %s",
                     R->index[i], i + 1, to, R->labels_path);
        if (R->opt->explain)
            fprintf(R->opt->explain, "%s:%d: index %s: %s -> %s\n", R->r->path, s->line, R->index[i], from, to);
        target->col[i] = to;
        changed++;
    }
    R->rule_line = xrealloc(R->rule_line, (size_t)(R->n_rules + 1) * sizeof *R->rule_line, "rules");
    R->rule_rows = xrealloc(R->rule_rows, (size_t)(R->n_rules + 1) * sizeof *R->rule_rows, "rules");
    R->rule_line[R->n_rules] = s->line;
    R->rule_rows[R->n_rules++] = changed;
}

/* ---- statements ---- */

static void run_labels(Run *R, const Stmt *s) {
    R->labels_path = run_path(R, s->path);
    char msg[1024];
    if (recipe_read_labels(R->labels_path, &R->labels, &R->n_labels, msg, sizeof msg) != 0)
        run_fail(R, "%s", msg);
    run_keep(R, R->labels);
    for (int i = 0; i < R->n_labels; i++) run_keep(R, R->labels[i]);
    R->classes = run_alloc(R, (size_t)R->n_labels * sizeof *R->classes);
    R->states = run_alloc(R, (size_t)R->n_labels * sizeof *R->states);
    for (int i = 0; i < R->n_labels; i++) {
        size_t n = label_class_len(R->labels[i]);
        char *c = run_alloc(R, n + 1);
        memcpy(c, R->labels[i], n);
        c[n] = 0;
        R->classes[i] = c;
        R->states[i] = label_state(R->labels[i]);
    }
    R->n_classes = sort_unique(R->classes, R->n_labels);
    R->n_states = sort_unique(R->states, R->n_labels);
}

static void run_rows(Run *R, const Stmt *s) {
    R->rows_path = run_path(R, s->path);
    CsvTable *t = run_alloc(R, sizeof *t);
    char msg[1024];
    if (csv_read(R->rows_path, t, msg, sizeof msg) != 0) run_fail(R, "%s", msg);
    keep_table(R, t);
    int ci = csv_column_checked(t, "index", msg, sizeof msg);
    if (ci < 0) run_fail(R, "%s", msg);
    if (t->n_rows == 0 || t->n_rows > INT_MAX) run_fail(R, "%s: %zu rows", R->rows_path, t->n_rows);
    R->n_rows = t->n_rows;
    R->index = run_alloc(R, t->n_rows * sizeof *R->index);
    for (size_t i = 0; i < t->n_rows; i++) R->index[i] = t->cells[i * (size_t)t->n_cols + (size_t)ci];
}

static void run_let(Run *R, const Stmt *s) {
    Value v = eval(R, s->expr);
    if (s->expr->kind == EX_NAME && v.vk == VK_COLUMN) { /* a copy: rules change columns in place */
        const char **col = run_alloc(R, (size_t)v.n * sizeof *col);
        memcpy(col, v.col, (size_t)v.n * sizeof *col);
        v.col = col;
    }
    R->binds = xrealloc(R->binds, (size_t)(R->n_binds + 1) * sizeof *R->binds, "recipe names");
    R->binds[R->n_binds++] = (Binding){s->name, v};
}

static void run_write(Run *R, const Stmt *s) {
    const Value *v = &find(R, s->name)->v;
    for (size_t i = 0; i < R->n_rows; i++)
        if (!is_label(R, v->col[i]))
            run_fail(R, "index %s (output row %zu) of '%s' holds '%s', which is not a label of %s", R->index[i],
                     i + 1, s->name, v->col[i], R->labels_path);
    R->written = run_alloc(R, R->n_rows * sizeof *R->written);
    memcpy(R->written, v->col, R->n_rows * sizeof *R->written);
    if (R->opt->out) R->write_path = R->opt->out;
    else if (s->path) R->write_path = run_path(R, s->path);
    else run_fail(R, "no output file: give --out or write `write %s to PATH`", s->name);
}

static void run_cleanup(Run *R) {
    for (int i = 0; i < R->n_tables; i++) csv_free(R->tables[i]);
    for (size_t i = 0; i < R->n_mem; i++) free(R->mem[i]);
    free(R->tables);
    free(R->mem);
    free(R->binds);
    free(R->rule_line);
    free(R->rule_rows);
}

static void write_result(Run *R, EnsembleResult *res) {
    CsvWriter w;
    const char *header[2] = {"index", "label"};
    csv_writer_open(&w, R->write_path, 2, header);
    for (size_t i = 0; i < R->n_rows; i++) {
        const char *row[2] = {R->index[i], R->written[i]};
        csv_writer_row(&w, row);
    }
    csv_writer_commit(&w);
    res->n_rows = R->n_rows;
    res->index = xmalloc(R->n_rows * sizeof *res->index, "the result");
    res->label = xmalloc(R->n_rows * sizeof *res->label, "the result");
    for (size_t i = 0; i < R->n_rows; i++) {
        res->index[i] = xstrdup(R->index[i]);
        res->label[i] = xstrdup(R->written[i]);
    }
    res->out_path = xstrdup(R->write_path);
    res->n_rules = R->n_rules;
    res->rule_line = R->rule_line;
    res->rule_rows = R->rule_rows;
    R->rule_line = NULL;
    R->rule_rows = NULL;
    FILE *ex = R->opt->explain;
    if (!ex) return;
    for (int i = 0, j = 0; i < R->r->n_stmts; i++) {
        const Stmt *s = &R->r->stmts[i];
        if (s->kind != RS_SET) continue;
        fprintf(ex, "%s:%d: %zu row%s changed by: %s\n", R->r->path, s->line, res->rule_rows[j],
                res->rule_rows[j] == 1 ? "" : "s", s->source);
        j++;
    }
}

int recipe_run(const Recipe *r, const EnsembleOptions *opt, EnsembleResult *res, char *err, size_t errlen) {
    static const EnsembleOptions defaults = {NULL, NULL, NULL};
    if (!opt) opt = &defaults;
    memset(res, 0, sizeof *res);
    /* on the heap: its fields change between setjmp and a longjmp */
    Run *R = xcalloc(1, sizeof *R, "a recipe run");
    R->r = r;
    R->opt = opt;
    R->err = err;
    R->errlen = errlen;
    int rc = 0;
    if (setjmp(R->fail)) {
        rc = -1;
    } else {
        for (int i = 0; i < r->n_stmts; i++) {
            const Stmt *s = &r->stmts[i];
            R->line = s->line;
            switch (s->kind) {
            case RS_LABELS: run_labels(R, s); break;
            case RS_ROWS: run_rows(R, s); break;
            case RS_LET: run_let(R, s); break;
            case RS_SET: run_set(R, s); break;
            case RS_WRITE: run_write(R, s); break;
            }
        }
        write_result(R, res);
    }
    run_cleanup(R);
    free(R);
    return rc;
}

void ensemble_result_free(EnsembleResult *res) {
    for (size_t i = 0; i < res->n_rows; i++) {
        free(res->index[i]);
        free(res->label[i]);
    }
    free(res->index);
    free(res->label);
    free(res->out_path);
    free(res->rule_line);
    free(res->rule_rows);
    memset(res, 0, sizeof *res);
}
