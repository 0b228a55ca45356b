/* Ensemble recipes as text: the recipe's memory pool, its tokens, and
 * reading a recipe file (the language is described in ensemble.h). */
#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "recipe_ast.h"

struct PoolBlock {
    PoolBlock *next;
    /* the allocation follows, aligned like max_align_t would be */
    union { long double ld; void *p; long long ll; } align[1];
};

void *recipe_pool_alloc(Recipe *r, size_t bytes) {
    PoolBlock *b = xmalloc(sizeof *b + bytes, "a recipe");
    b->next = r->pool;
    r->pool = b;
    memset(b->align, 0, sizeof b->align + bytes);
    return b->align;
}

char *recipe_pool_strndup(Recipe *r, const char *s, size_t n) {
    char *p = recipe_pool_alloc(r, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void recipe_free(Recipe *r) {
    if (!r) return;
    PoolBlock *b = r->pool;
    while (b) {
        PoolBlock *next = b->next;
        free(b);
        b = next;
    }
    free(r);
}

/* ---- tokens ---- */

typedef struct Lexer {
    Recipe *r;
    Token *toks;
    int n, cap;
    char *err;
    size_t errlen;
    jmp_buf fail;
} Lexer;

static void lerr(Lexer *L, int line, const char *fmt, ...) ANOMALY_PRINTF(3, 4) ANOMALY_NORETURN;
static void lerr(Lexer *L, int line, const char *fmt, ...) {
    int n = snprintf(L->err, L->errlen, "%s:%d: ", L->r->path, line);
    if (n < 0 || (size_t)n >= L->errlen) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(L->err + n, L->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(L->fail, 1);
}

static int is_word_char(char c) {
    return c && !isspace((unsigned char)c) && !strchr("()[],=!*+#\"'", c);
}

static void push_tok(Lexer *L, TokKind k, const char *text, int line, size_t s, size_t e) {
    if (L->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        L->toks = xrealloc(L->toks, (size_t)L->cap * sizeof *L->toks, "recipe tokens");
    }
    L->toks[L->n++] = (Token){k, text, line, s, e};
}

/* Newlines end statements, except inside ( ) or [ ] and before an indented
 * line, so long conditions can be spread over lines. */
static void lex(Lexer *L, const char *t) {
    int line = 1, depth = 0, open_line = 0;
    size_t i = 0;
    while (t[i]) {
        char c = t[i];
        if (c == '\n') {
            size_t j = i + 1;
            while (t[j] == ' ' || t[j] == '\t' || t[j] == '\r') j++;
            int indented = j > i + 1 && t[j] && t[j] != '\n';
            if (depth == 0 && !indented) push_tok(L, TK_NEWLINE, NULL, line, i, i + 1);
            line++;
            i++;
        } else if (isspace((unsigned char)c)) {
            i++;
        } else if (c == '#') {
            while (t[i] && t[i] != '\n') i++;
        } else if (c == '"' || c == '\'') {
            size_t s = i++;
            while (t[i] && t[i] != c && t[i] != '\n') i++;
            if (t[i] != c) lerr(L, line, "unterminated %s string", c == '"' ? "double-quoted" : "quoted");
            push_tok(L, TK_STRING, recipe_pool_strndup(L->r, t + s + 1, i - s - 1), line, s, i + 1);
            i++;
        } else if (is_word_char(c)) {
            size_t s = i;
            while (is_word_char(t[i])) i++;
            push_tok(L, TK_WORD, recipe_pool_strndup(L->r, t + s, i - s), line, s, i);
        } else {
            TokKind k;
            size_t len = 1;
            switch (c) {
            case '(': k = TK_LPAREN; open_line = depth++ ? open_line : line; break;
            case '[': k = TK_LBRACK; open_line = depth++ ? open_line : line; break;
            case ')': k = TK_RPAREN; depth -= depth > 0; break;
            case ']': k = TK_RBRACK; depth -= depth > 0; break;
            case ',': k = TK_COMMA; break;
            case '+': k = TK_PLUS; break;
            case '*': k = TK_STAR; break;
            case '=':
                k = t[i + 1] == '=' ? TK_EQ : TK_ASSIGN;
                len = k == TK_EQ ? 2 : 1;
                break;
            default: /* '!' */
                if (t[i + 1] != '=') lerr(L, line, "'!' must be part of '!='");
                k = TK_NE;
                len = 2;
            }
            push_tok(L, k, NULL, line, i, i + len);
            i += len;
        }
    }
    if (depth) lerr(L, open_line, "a parenthesis or bracket opened on this line is never closed");
    push_tok(L, TK_NEWLINE, NULL, line, i, i);
    push_tok(L, TK_EOF, NULL, line, i, i);
}

int recipe_lex(Recipe *r, const char *text, Token **toks, int *n_toks, char *err, size_t errlen) {
    /* on the heap: its fields change between setjmp and a longjmp */
    Lexer *L = xcalloc(1, sizeof *L, "a recipe lexer");
    L->r = r;
    L->err = err;
    L->errlen = errlen;
    int rc = 0;
    if (setjmp(L->fail)) {
        free(L->toks);
        L->toks = NULL;
        L->n = 0;
        rc = -1;
    } else {
        lex(L, text);
    }
    *toks = L->toks;
    *n_toks = L->n;
    free(L);
    return rc;
}

const char *recipe_token_desc(const Token *t) {
    switch (t->kind) {
    case TK_WORD: return t->text;
    case TK_STRING: return "a quoted string";
    case TK_LPAREN: return "(";
    case TK_RPAREN: return ")";
    case TK_LBRACK: return "[";
    case TK_RBRACK: return "]";
    case TK_COMMA: return ",";
    case TK_ASSIGN: return "=";
    case TK_EQ: return "==";
    case TK_NE: return "!=";
    case TK_PLUS: return "+";
    case TK_STAR: return "*";
    case TK_NEWLINE: return "the end of the line";
    case TK_EOF: return "the end of the file";
    }
    return "?";
}

/* The statement's text on one line, comments dropped, for --explain. */
const char *recipe_source_line(Recipe *r, const char *text, size_t s, size_t e) {
    char *out = recipe_pool_alloc(r, e - s + 1);
    size_t n = 0;
    char quote = 0;
    for (size_t i = s; i < e; i++) {
        char c = text[i];
        if (!quote && c == '#') {
            while (i < e && text[i] != '\n') i++;
            c = ' ';
        } else if (quote ? c == quote : (c == '"' || c == '\'')) {
            quote = quote ? 0 : c;
        }
        if (isspace((unsigned char)c)) {
            if (n && out[n - 1] != ' ') out[n++] = ' ';
        } else {
            out[n++] = c;
        }
    }
    while (n && out[n - 1] == ' ') n--;
    out[n] = 0;
    return out;
}

Recipe *recipe_load(const char *path, char *err, size_t errlen) {
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *text = xmalloc(cap, "a recipe");
    size_t got;
    while ((got = fread(text + n, 1, cap - n - 1, fp)) > 0) {
        n += got;
        if (cap - n < 2) text = xrealloc(text, cap *= 2, "a recipe");
    }
    int bad = ferror(fp);
    fclose(fp);
    text[n] = 0;
    Recipe *r = NULL;
    if (bad) snprintf(err, errlen, "%s: read error", path);
    else if (strlen(text) != n) snprintf(err, errlen, "%s: holds a NUL byte; a recipe is text", path);
    else r = recipe_parse(path, text, err, errlen);
    free(text);
    return r;
}
