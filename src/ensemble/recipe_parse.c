/* Ensemble recipes: tokens, statements and the static checks that run
 * before any data file is opened (the language is described in ensemble.h). */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "recipe_ast.h"

typedef struct Symbol {
    const char *name;
    ValueKind vk;
    int line;
} Symbol;

typedef struct Parser {
    Recipe *r;
    const char *text;
    Token *toks;
    int n_toks, pos;
    Symbol *syms;
    int n_syms;
    int labels_line, rows_line, write_line;
    char *err;
    size_t errlen;
    jmp_buf fail;
} Parser;

static void perr(Parser *P, int line, const char *fmt, ...) ANOMALY_PRINTF(3, 4) ANOMALY_NORETURN;
static void perr(Parser *P, int line, const char *fmt, ...) {
    int n = snprintf(P->err, P->errlen, "%s:%d: ", P->r->path, line);
    if (n < 0 || (size_t)n >= P->errlen) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(P->err + n, P->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(P->fail, 1);
}

/* ---- helpers ---- */

static const Token *peek(Parser *P) { return &P->toks[P->pos]; }
static const Token *next(Parser *P) { return &P->toks[P->pos++]; }

static const Token *expect(Parser *P, TokKind k, const char *what) {
    const Token *t = next(P);
    if (t->kind != k) perr(P, t->line, "expected %s, found '%s'", what, recipe_token_desc(t));
    return t;
}

static int is_word(const Token *t, const char *w) { return t->kind == TK_WORD && strcmp(t->text, w) == 0; }

static int is_ident(const char *s) {
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_')) return 0;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_')) return 0;
    return 1;
}

static const char *const keywords[] = {"labels", "rows", "let", "set", "write", "where", "to",
                                       "and", "or", "not", "in", NULL};

static int is_keyword(const char *s) {
    for (int i = 0; keywords[i]; i++)
        if (strcmp(s, keywords[i]) == 0) return 1;
    return 0;
}

static const Symbol *lookup(const Parser *P, const char *name) {
    for (int i = 0; i < P->n_syms; i++)
        if (strcmp(P->syms[i].name, name) == 0) return &P->syms[i];
    return NULL;
}

static const char *kind_name(ValueKind k) {
    switch (k) {
    case VK_NUMBER: return "a number";
    case VK_FOLDS: return "folds [K, N, C]";
    case VK_SCORES: return "scores [N, C]";
    case VK_COLUMN: return "a label column";
    }
    return "?";
}

static const Symbol *need_name(Parser *P, const char *name, int line) {
    const Symbol *s = lookup(P, name);
    if (!s) perr(P, line, "unknown name '%s' (define it with `let %s = ...` above this line)", name, name);
    return s;
}

static const char *path_token(Parser *P, const char *what) {
    const Token *t = next(P);
    if (t->kind != TK_WORD && t->kind != TK_STRING) perr(P, t->line, "expected %s, found '%s'", what, recipe_token_desc(t));
    return t->text;
}

static Expr *new_expr(Parser *P, ExprKind k, int line) {
    Expr *e = recipe_pool_alloc(P->r, sizeof *e);
    e->kind = k;
    e->line = line;
    return e;
}

static void add_arg(Parser *P, Expr *e, Expr *a) {
    Expr **args = recipe_pool_alloc(P->r, (size_t)(e->n_args + 1) * sizeof *args);
    if (e->n_args) memcpy(args, e->args, (size_t)e->n_args * sizeof *args);
    args[e->n_args++] = a;
    e->args = args;
}

/* ---- expressions ---- */

static Expr *parse_sum(Parser *P);

static void parse_folds(Parser *P, Expr *e) {
    int bracket = peek(P)->kind == TK_LBRACK;
    if (bracket) next(P);
    int cap = 0;
    for (;;) {
        const Token *t = next(P);
        char *end;
        errno = 0;
        long v = t->kind == TK_WORD ? strtol(t->text, &end, 10) : 0;
        if (t->kind != TK_WORD || *end || errno || v < -1000000 || v > 1000000)
            perr(P, t->line, "expected a fold number (0-based), found '%s'", recipe_token_desc(t));
        if (e->n_folds == cap) {
            cap = cap ? 2 * cap : 8;
            int *f = recipe_pool_alloc(P->r, (size_t)cap * sizeof *f);
            if (e->n_folds) memcpy(f, e->folds, (size_t)e->n_folds * sizeof *f);
            e->folds = f;
        }
        e->folds[e->n_folds++] = (int)v;
        if (!bracket || peek(P)->kind != TK_COMMA) break;
        next(P);
    }
    if (bracket) expect(P, TK_RBRACK, "']' after the fold numbers");
}

static void need_kind(Parser *P, const Expr *a, ValueKind k, const char *fn, const char *hint) {
    if (a->vk != k)
        perr(P, a->line, "%s() takes %s, not %s%s", fn, kind_name(k), kind_name(a->vk), hint);
}

static Expr *parse_call(Parser *P, const Token *name) {
    const char *fn = name->text;
    int line = name->line;
    expect(P, TK_LPAREN, "'('");
    Expr *e;
    if (strcmp(fn, "load") == 0 || strcmp(fn, "vote") == 0) {
        int load = fn[0] == 'l';
        e = new_expr(P, load ? EX_LOAD : EX_VOTE, line);
        e->text = path_token(P, load ? "the path of a .npy or .pth file" : "the path of a one-class table");
        e->vk = load ? VK_FOLDS : VK_COLUMN;
        if (!load && peek(P)->kind == TK_COMMA) {
            next(P);
            const Token *q = next(P);
            if (!is_word(q, "quirk")) perr(P, q->line, "vote() takes a path and optionally `quirk`, not '%s'", recipe_token_desc(q));
            e->quirk = 1;
        }
    } else if (strcmp(fn, "keep") == 0 || strcmp(fn, "drop") == 0) {
        e = new_expr(P, fn[0] == 'k' ? EX_KEEP : EX_DROP, line);
        add_arg(P, e, parse_sum(P));
        need_kind(P, e->args[0], VK_FOLDS, fn, "");
        expect(P, TK_COMMA, "',' and the fold numbers, e.g. [0, 1]");
        parse_folds(P, e);
        e->vk = VK_FOLDS;
    } else if (strcmp(fn, "cat") == 0) {
        e = new_expr(P, EX_CAT, line);
        for (;;) {
            add_arg(P, e, parse_sum(P));
            need_kind(P, e->args[e->n_args - 1], VK_FOLDS, fn, "");
            if (peek(P)->kind != TK_COMMA) break;
            next(P);
        }
        e->vk = VK_FOLDS;
    } else if (strcmp(fn, "mean") == 0 || strcmp(fn, "decode") == 0) {
        int mean = fn[0] == 'm';
        e = new_expr(P, mean ? EX_MEAN : EX_DECODE, line);
        add_arg(P, e, parse_sum(P));
        need_kind(P, e->args[0], mean ? VK_FOLDS : VK_SCORES, fn,
                  mean ? "" : " (average the folds with mean() first)");
        e->vk = mean ? VK_SCORES : VK_COLUMN;
    } else {
        perr(P, line, "unknown function '%s' (there are load, keep, drop, cat, mean, decode and vote)", fn);
    }
    expect(P, TK_RPAREN, "')'");
    return e;
}

static Expr *parse_factor(Parser *P) {
    const Token *t = next(P);
    if (t->kind == TK_LPAREN) {
        Expr *e = parse_sum(P);
        expect(P, TK_RPAREN, "')'");
        return e;
    }
    if (t->kind != TK_WORD) perr(P, t->line, "expected a value, found '%s'", recipe_token_desc(t));
    if (peek(P)->kind == TK_LPAREN) return parse_call(P, t);
    char *end;
    errno = 0;
    double v = strtod(t->text, &end);
    if (end != t->text && *end == 0) {
        if (errno) perr(P, t->line, "number '%s' is out of range", t->text);
        Expr *e = new_expr(P, EX_NUMBER, t->line);
        e->number = v;
        e->vk = VK_NUMBER;
        return e;
    }
    if (!is_ident(t->text) || is_keyword(t->text)) perr(P, t->line, "expected a value, found '%s'", t->text);
    Expr *e = new_expr(P, EX_NAME, t->line);
    e->text = t->text;
    e->vk = need_name(P, t->text, t->line)->vk;
    return e;
}

static Expr *parse_product(Parser *P) {
    Expr *e = parse_factor(P);
    while (peek(P)->kind == TK_STAR) {
        int line = next(P)->line;
        Expr *b = parse_factor(P);
        int na = e->vk == VK_NUMBER, nb = b->vk == VK_NUMBER;
        if (na == nb || (na ? b : e)->vk == VK_COLUMN)
            perr(P, line, "'*' multiplies scores or folds by a number, not %s by %s", kind_name(e->vk),
                 kind_name(b->vk));
        Expr *m = new_expr(P, EX_MUL, line);
        add_arg(P, m, na ? e : b); /* the weight first */
        add_arg(P, m, na ? b : e);
        m->vk = (na ? b : e)->vk;
        e = m;
    }
    return e;
}

static Expr *parse_sum(Parser *P) {
    Expr *e = parse_product(P);
    while (peek(P)->kind == TK_PLUS) {
        int line = next(P)->line;
        Expr *b = parse_product(P);
        if (e->vk != b->vk || (e->vk != VK_SCORES && e->vk != VK_FOLDS))
            perr(P, line, "'+' adds scores to scores or folds to folds, not %s and %s", kind_name(e->vk),
                 kind_name(b->vk));
        Expr *s = new_expr(P, EX_ADD, line);
        add_arg(P, s, e);
        add_arg(P, s, b);
        s->vk = e->vk;
        e = s;
    }
    return e;
}

/* ---- conditions ---- */

static Term parse_term(Parser *P) {
    const Token *t = next(P);
    Term m = {TM_TEXT, t->text, t->line, 0};
    if (t->kind == TK_STRING) return m;
    if (t->kind != TK_WORD || is_keyword(t->text))
        perr(P, t->line, "expected a column, class(...), state(...) or a name, found '%s'", recipe_token_desc(t));
    if (peek(P)->kind == TK_LPAREN) {
        int cls = strcmp(t->text, "class") == 0;
        if (!cls && strcmp(t->text, "state") != 0)
            perr(P, t->line, "unknown function '%s' in a condition (there are class and state)", t->text);
        next(P);
        const Token *a = expect(P, TK_WORD, "a column name");
        const Symbol *s = need_name(P, a->text, a->line);
        if (s->vk != VK_COLUMN) perr(P, a->line, "%s() takes a label column; '%s' holds %s", t->text, a->text, kind_name(s->vk));
        expect(P, TK_RPAREN, "')'");
        m.kind = cls ? TM_CLASS : TM_STATE;
        m.text = a->text;
        return m;
    }
    m.kind = TM_LABEL;
    m.bare = 1;
    return m;
}

/* A bare word means a column or a label beside a column, a class name
 * beside class() and a state name beside state(). */
static void resolve(Parser *P, Term *x, const Term *other) {
    if (!x->bare) return;
    if (other->kind == TM_CLASS) { x->kind = TM_CLASSNAME; return; }
    if (other->kind == TM_STATE) { x->kind = TM_STATENAME; return; }
    if (!is_ident(x->text)) return; /* a label such as bottle-good */
    const Symbol *s = need_name(P, x->text, x->line);
    if (s->vk != VK_COLUMN)
        perr(P, x->line, "'%s' holds %s; a condition compares label columns", x->text, kind_name(s->vk));
    x->kind = TM_COLUMN;
}

static int is_fixed(const Term *t) { return t->kind != TM_COLUMN && t->kind != TM_CLASS && t->kind != TM_STATE; }

static Pred *parse_or(Parser *P);

static Pred *parse_cmp(Parser *P) {
    Pred *p = recipe_pool_alloc(P->r, sizeof *p);
    p->lhs = parse_term(P);
    const Token *op = next(P);
    if (op->kind == TK_EQ || op->kind == TK_NE) {
        p->kind = op->kind == TK_EQ ? PR_EQ : PR_NE;
        p->rhs = recipe_pool_alloc(P->r, sizeof *p->rhs);
        p->rhs[0] = parse_term(P);
        p->n_rhs = 1;
        Term l = p->lhs;
        resolve(P, &p->lhs, &p->rhs[0]);
        resolve(P, &p->rhs[0], &l);
        if (is_fixed(&p->lhs) && is_fixed(&p->rhs[0]))
            perr(P, op->line, "this compares two fixed values; one side must be a column, class() or state()");
        return p;
    }
    int neg = is_word(op, "not");
    if (neg) op = next(P);
    if (!is_word(op, "in")) perr(P, op->line, "expected ==, !=, in or not in, found '%s'", recipe_token_desc(op));
    p->kind = neg ? PR_NOT_IN : PR_IN;
    expect(P, TK_LBRACK, "'[' and a list");
    Term l = p->lhs;
    Term none = {TM_TEXT, NULL, 0, 0};
    resolve(P, &p->lhs, &none);
    if (is_fixed(&p->lhs)) perr(P, op->line, "the left of 'in' must be a column, class() or state()");
    int cap = 0;
    for (;;) {
        if (p->n_rhs == cap) {
            cap = cap ? 2 * cap : 8;
            Term *r = recipe_pool_alloc(P->r, (size_t)cap * sizeof *r);
            if (p->n_rhs) memcpy(r, p->rhs, (size_t)p->n_rhs * sizeof *r);
            p->rhs = r;
        }
        Term *x = &p->rhs[p->n_rhs++];
        *x = parse_term(P);
        resolve(P, x, &l);
        if (peek(P)->kind != TK_COMMA) break;
        next(P);
    }
    expect(P, TK_RBRACK, "']' closing the list");
    return p;
}

static Pred *parse_not(Parser *P) {
    if (is_word(peek(P), "not")) {
        next(P);
        Pred *p = recipe_pool_alloc(P->r, sizeof *p);
        p->kind = PR_NOT;
        p->a = parse_not(P);
        return p;
    }
    if (peek(P)->kind == TK_LPAREN) {
        next(P);
        Pred *p = parse_or(P);
        expect(P, TK_RPAREN, "')'");
        return p;
    }
    return parse_cmp(P);
}

static Pred *parse_binary(Parser *P, const char *word, PredKind k, Pred *(*sub)(Parser *)) {
    Pred *p = sub(P);
    while (is_word(peek(P), word)) {
        next(P);
        Pred *q = recipe_pool_alloc(P->r, sizeof *q);
        q->kind = k;
        q->a = p;
        q->b = sub(P);
        p = q;
    }
    return p;
}

static Pred *parse_and(Parser *P) { return parse_binary(P, "and", PR_AND, parse_not); }
static Pred *parse_or(Parser *P) { return parse_binary(P, "or", PR_OR, parse_and); }

/* ---- statements ---- */

static void define(Parser *P, const Token *name, ValueKind vk) {
    if (!is_ident(name->text) || is_keyword(name->text))
        perr(P, name->line, "'%s' cannot be a name (letters, digits and _, not a keyword)", name->text);
    const Symbol *old = lookup(P, name->text);
    if (old)
        perr(P, name->line, "'%s' is already defined on line %d (use `set` to change rows of a column)",
             name->text, old->line);
    if (vk == VK_NUMBER) perr(P, name->line, "a name holds folds, scores or a column, not a number");
    P->syms = xrealloc(P->syms, (size_t)(P->n_syms + 1) * sizeof *P->syms, "recipe names");
    P->syms[P->n_syms++] = (Symbol){name->text, vk, name->line};
}

static void need_header(Parser *P, int line) {
    if (!P->labels_line || !P->rows_line)
        perr(P, line, "put `labels FILE` and `rows FILE` above this line (the label list and the output rows)");
}

static void parse_stmt(Parser *P, Stmt *s) {
    const Token *first = next(P);
    s->line = first->line;
    if (first->kind != TK_WORD) perr(P, first->line, "expected a statement, found '%s'", recipe_token_desc(first));
    const char *kw = first->text;
    if (strcmp(kw, "labels") == 0 || strcmp(kw, "rows") == 0) {
        int *seen = kw[0] == 'l' ? &P->labels_line : &P->rows_line;
        if (*seen) perr(P, s->line, "`%s` is already given on line %d", kw, *seen);
        *seen = s->line;
        s->kind = kw[0] == 'l' ? RS_LABELS : RS_ROWS;
        s->path = path_token(P, "a CSV path");
    } else if (strcmp(kw, "let") == 0) {
        need_header(P, s->line);
        s->kind = RS_LET;
        const Token *name = expect(P, TK_WORD, "a name");
        expect(P, TK_ASSIGN, "'='");
        s->name = name->text;
        s->expr = parse_sum(P);
        define(P, name, s->expr->vk);
    } else if (strcmp(kw, "set") == 0) {
        need_header(P, s->line);
        s->kind = RS_SET;
        const Token *name = expect(P, TK_WORD, "the name of a column");
        const Symbol *sym = need_name(P, name->text, name->line);
        if (sym->vk != VK_COLUMN)
            perr(P, name->line, "`set` changes rows of a label column; '%s' holds %s", name->text, kind_name(sym->vk));
        s->name = name->text;
        expect(P, TK_ASSIGN, "'='");
        s->value = parse_term(P);
        if (s->value.kind == TM_CLASS || s->value.kind == TM_STATE)
            perr(P, s->value.line, "a rule writes a column or a label, not a class or state part");
        Term col = {TM_COLUMN, NULL, 0, 0};
        resolve(P, &s->value, &col);
        const Token *w = next(P);
        if (!is_word(w, "where")) perr(P, w->line, "expected `where` and a condition, found '%s'", recipe_token_desc(w));
        s->where = parse_or(P);
    } else if (strcmp(kw, "write") == 0) {
        need_header(P, s->line);
        if (P->write_line) perr(P, s->line, "`write` is already given on line %d", P->write_line);
        P->write_line = s->line;
        s->kind = RS_WRITE;
        const Token *name = expect(P, TK_WORD, "the name of a column");
        const Symbol *sym = need_name(P, name->text, name->line);
        if (sym->vk != VK_COLUMN)
            perr(P, name->line, "`write` takes a label column; '%s' holds %s", name->text, kind_name(sym->vk));
        s->name = name->text;
        if (is_word(peek(P), "to")) {
            next(P);
            s->path = path_token(P, "an output path");
        }
    } else {
        perr(P, s->line, "unknown statement '%s' (there are labels, rows, let, set and write)", kw);
    }
    const Token *end = next(P);
    if (end->kind != TK_NEWLINE) perr(P, end->line, "unexpected '%s' after the statement", recipe_token_desc(end));
    s->source = recipe_source_line(P->r, P->text, first->start, P->toks[P->pos - 2].end);
}

Recipe *recipe_parse(const char *path, const char *text, char *err, size_t errlen) {
    Recipe *r = xcalloc(1, sizeof *r, "a recipe");
    r->path = recipe_pool_strndup(r, path, strlen(path));
    /* on the heap: its fields change between setjmp and a longjmp */
    Parser *P = xcalloc(1, sizeof *P, "a recipe parser");
    P->r = r;
    P->text = text;
    P->err = err;
    P->errlen = errlen;
    if (setjmp(P->fail)) {
        recipe_free(r);
        r = NULL;
    } else {
        if (recipe_lex(r, text, &P->toks, &P->n_toks, err, errlen) != 0) longjmp(P->fail, 1);
        int cap = 0;
        while (peek(P)->kind != TK_EOF) {
            if (peek(P)->kind == TK_NEWLINE) {
                next(P);
                continue;
            }
            if (r->n_stmts == cap) {
                cap = cap ? 2 * cap : 32;
                Stmt *st = recipe_pool_alloc(r, (size_t)cap * sizeof *st);
                if (r->n_stmts) memcpy(st, r->stmts, (size_t)r->n_stmts * sizeof *st);
                r->stmts = st;
            }
            Stmt *s = &r->stmts[r->n_stmts++];
            memset(s, 0, sizeof *s);
            parse_stmt(P, s);
        }
        if (!P->write_line) perr(P, P->toks[P->n_toks - 1].line, "the recipe never says what to write (`write NAME`)");
    }
    free(P->toks);
    free(P->syms);
    free(P);
    return r;
}
