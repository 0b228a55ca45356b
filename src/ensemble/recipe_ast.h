/* The parsed form of an ensemble recipe, shared by the parser
 * (recipe_parse.c), the evaluator (recipe_eval.c) and the table readers
 * (recipe_tables.c). Everything a Recipe points to lives in its pool
 * (recipe_lex.c). */
#ifndef ANOMALY_RECIPE_AST_H
#define ANOMALY_RECIPE_AST_H

#include <stddef.h>

#include "anomaly/csv.h"
#include "anomaly/ensemble.h"
#include "anomaly/real.h"

typedef enum ValueKind { VK_NUMBER, VK_FOLDS, VK_SCORES, VK_COLUMN } ValueKind;

typedef enum ExprKind {
    EX_NUMBER, EX_NAME, EX_LOAD, EX_KEEP, EX_DROP, EX_CAT, EX_MEAN, EX_ADD, EX_MUL, EX_DECODE,
    EX_VOTE
} ExprKind;

typedef struct Expr {
    ExprKind kind;
    ValueKind vk;         /* set by the checker */
    int line;
    double number;        /* EX_NUMBER */
    const char *text;     /* EX_NAME: the name; EX_LOAD, EX_VOTE: the path */
    int quirk;            /* EX_VOTE: count as the original did */
    int *folds;           /* EX_KEEP, EX_DROP: [n_folds] as written */
    int n_folds;
    struct Expr **args;   /* [n_args] operands */
    int n_args;
} Expr;

typedef enum TermKind { TM_COLUMN, TM_CLASS, TM_STATE, TM_LABEL, TM_CLASSNAME, TM_STATENAME, TM_TEXT } TermKind;

/* One side of a comparison. Bare words start as TM_LABEL and the checker
 * turns them into class or state names when compared with class()/state(). */
typedef struct Term {
    TermKind kind;
    const char *text; /* column name or literal */
    int line;
    int bare;         /* written without quotes */
} Term;

typedef enum PredKind { PR_AND, PR_OR, PR_NOT, PR_EQ, PR_NE, PR_IN, PR_NOT_IN } PredKind;

typedef struct Pred {
    PredKind kind;
    struct Pred *a, *b; /* PR_AND, PR_OR: both; PR_NOT: a */
    Term lhs;           /* comparisons */
    Term *rhs;          /* [n_rhs]: one for == and !=, the list for in */
    int n_rhs;
} Pred;

typedef enum StmtKind { RS_LABELS, RS_ROWS, RS_LET, RS_SET, RS_WRITE } StmtKind;

typedef struct Stmt {
    StmtKind kind;
    int line;
    const char *source; /* the statement's text, one line, for --explain */
    const char *name;   /* RS_LET, RS_SET, RS_WRITE */
    const char *path;   /* RS_LABELS, RS_ROWS, RS_WRITE (NULL: none given) */
    Expr *expr;         /* RS_LET */
    Term value;         /* RS_SET: what the rule writes */
    Pred *where;        /* RS_SET */
} Stmt;

typedef struct PoolBlock PoolBlock;

struct Recipe {
    const char *path;
    Stmt *stmts;
    int n_stmts;
    PoolBlock *pool;
};

/* Allocation from a recipe's pool (fatal on out-of-memory). */
void *recipe_pool_alloc(Recipe *r, size_t bytes);
char *recipe_pool_strndup(Recipe *r, const char *s, size_t n);

/* ---- tokens (recipe_lex.c) ---- */

typedef enum TokKind {
    TK_WORD, TK_STRING, TK_LPAREN, TK_RPAREN, TK_LBRACK, TK_RBRACK, TK_COMMA, TK_ASSIGN, TK_EQ,
    TK_NE, TK_PLUS, TK_STAR, TK_NEWLINE, TK_EOF
} TokKind;

typedef struct Token {
    TokKind kind;
    const char *text;  /* TK_WORD, TK_STRING: the word or the unquoted string */
    int line;
    size_t start, end; /* byte span in the recipe text */
} Token;

/* Splits text into tokens ending in TK_NEWLINE, TK_EOF; *toks is malloc'd,
 * word texts live in r's pool. Returns 0, or -1 with "path:line: ..." in err. */
int recipe_lex(Recipe *r, const char *text, Token **toks, int *n_toks, char *err, size_t errlen);
/* How a token reads in a message. */
const char *recipe_token_desc(const Token *t);
/* text[s..e) on one line, comments dropped and blanks squeezed (pool). */
const char *recipe_source_line(Recipe *r, const char *text, size_t s, size_t e);

/* ---- arithmetic on scores (recipe_kernels.c) ---- */

/* y = the mean over k folds of x, summed in fold order. */
void folds_mean(real *y, const real *x, int k, size_t m);
/* y = x * w, w first rounded to `real`. */
void scores_scale(real *y, const real *x, double w, size_t m);
/* y = a + b. */
void scores_add(real *y, const real *a, const real *b, size_t m);
/* best[i] = index of the largest x[i][:], the first on ties, NaN largest. */
void scores_argmax(int *best, const real *x, int n, int c);

/* ---- tables (recipe_tables.c) ---- */

/* Joins root and a recipe path (absolute paths are kept); malloc'd. */
char *recipe_resolve(const char *root, const char *path);

/* Sorted distinct values of the `label` column. Returns 0, or -1 with the
 * reason in err. *labels are malloc'd copies. */
int recipe_read_labels(const char *path, char ***labels, int *n_labels, char *err, size_t errlen);

/* One vote per output row from a one-class table whose `index` column must
 * equal index[0..n). votes[i] points into *table (or to a static string)
 * and stays valid until csv_free(table). On error nothing stays allocated. */
int recipe_vote_table(const char *path, int quirk, char *const *index, size_t n, CsvTable *table,
                      const char **votes, char *err, size_t errlen);

/* The most frequent of cells[0..n) (n >= 1); ties go to the smallest string.
 * Reorders cells. */
const char *recipe_majority(const char **cells, size_t n);

#endif
