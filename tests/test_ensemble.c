/* Ensemble recipes (fold selection, float arithmetic, conditions, votes,
 * --explain, errors naming the line) and checkpoint averaging. The winners'
 * recipe against the original's logic on NumPy is tests/test_ensemble.sh. */
#include "check.h"
#include "tmpdir.h"

#include <dirent.h>
#include <omp.h>
#include <stdint.h>
#include <unistd.h>

#include "anomaly/ensemble.h"
#include "anomaly/npy.h"
#include "anomaly/safetensors.h"
#include "../src/ensemble/recipe_ast.h"

#define N 8
static const char *L[6] = {"bottle-broken", "bottle-good", "cable-combined", "cable-cut", "cable-good", "tile-oil"};
/* the columns a and b decode to */
static const int LA[N] = {1, 3, 2, 5, 0, 4, 3, 5};
static const int LB[N] = {3, 3, 1, 2, 0, 5, 4, 1};
static void write_text(const char *name, const char *text) {
    FILE *fp = fopen(tmp_path(name), "wb");
    if (!fp) exit(1);
    fputs(text, fp);
    fclose(fp);
}

/* [k, n, c] of `base` with `peak` added at label idx[i] (NULL: none) on every fold */
static void write_scores(const char *name, int k, int n, int c, const int *idx, float base, float peak) {
    float *x = malloc((size_t)k * n * c * sizeof *x);
    for (int f = 0; f < k; f++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c; j++) x[((size_t)f * n + i) * c + j] = base + (idx && idx[i] == j ? peak : 0);
    int64_t shape[3] = {k, n, c};
    npy_write(tmp_path(name), NPY_F4, x, 3, shape);
    free(x);
}

/* Parses and runs "labels/rows header + body" with root = tmpdir. */
static int run(const char *body, EnsembleResult *res, char *err, size_t errlen, FILE *explain) {
    char text[4096];
    snprintf(text, sizeof text, "labels train_df.csv\nrows sub.csv\n%s", body);
    Recipe *r = recipe_parse("t.recipe", text, err, errlen);
    if (!r) return -1;
    EnsembleOptions opt = {tmpdir, NULL, explain};
    int rc = recipe_run(r, &opt, res, err, errlen);
    recipe_free(r);
    return rc;
}

/* The label a column expression gives on row 0. */
static const char *label_of(const char *expr, char *out) {
    char body[1024], err[1024];
    snprintf(body, sizeof body, "let f = load(f.npy)\nlet g = load(g.npy)\nlet x = %s\nwrite x to o.csv\n", expr);
    EnsembleResult res;
    if (run(body, &res, err, sizeof err, NULL) != 0) {
        snprintf(out, 256, "error: %.240s", err);
        return out;
    }
    snprintf(out, 256, "%s", res.label[0]);
    ensemble_result_free(&res);
    return out;
}

static void setup(void) {
    /* labels out of order and repeated: the list is the sorted distinct ones */
    write_text("train_df.csv", "index,file_name,class,state,label\n0,a.png,tile,oil,tile-oil\n"
               "1,b.png,cable,cut,cable-cut\n2,c.png,bottle,good,bottle-good\n3,d.png,cable,good,cable-good\n"
               "4,e.png,bottle,broken,bottle-broken\n5,f.png,cable,combined,cable-combined\n"
               "6,g.png,bottle,good,bottle-good\n");
    char sub[512] = "index,label\n";
    for (int i = 0; i < N; i++) snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "%d,tile-oil\n", 100 + i);
    write_text("sub.csv", sub);
    /* f: fold 0 peaks at label 0 (10), folds 1-3 at label 1 (1 each) */
    float f[4 * N * 6] = {0};
    for (int i = 0; i < N; i++) {
        f[i * 6 + 0] = 10;
        for (int k = 1; k < 4; k++) f[(k * N + i) * 6 + 1] = 1;
    }
    int64_t shape[3] = {4, N, 6};
    npy_write(tmp_path("f.npy"), NPY_F4, f, 3, shape);
    /* g: label 0 holds 1, 1e8, -1e8 on folds 0-2 (float32 loses the 1), label 1 holds 0.2 */
    float g[3 * N * 6];
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < N; i++)
            for (int j = 0; j < 6; j++) g[(k * N + i) * 6 + j] = j == 0 ? (k == 0 ? 1.f : k == 1 ? 1e8f : -1e8f) : j == 1 ? 0.2f : -1.f;
    shape[0] = 3;
    npy_write(tmp_path("g.npy"), NPY_F4, g, 3, shape);
    write_scores("a.npy", 1, N, 6, LA, 0, 5);
    write_scores("b.npy", 2, N, 6, LB, 0, 5);
    write_scores("c5.npy", 1, N, 5, NULL, 0, 0);
    write_scores("n7.npy", 1, N - 1, 6, NULL, 0, 0);
}

static void test_fold_selection(void) {
    char buf[256];
    const struct { const char *expr, *want; } cases[] = {
        {"decode(mean(f))", "bottle-broken"},                         /* 2.5 vs 0.75 */
        {"decode(mean(drop(f, [0])))", "bottle-good"},
        {"decode(mean(keep(f, [3, 0])))", "bottle-broken"},           /* 5 vs 0.5 */
        {"decode(mean(keep(f, 1)))", "bottle-good"},
        {"decode(mean(cat(drop(f, [0]), drop(f, [0]), drop(f, [0]), drop(f, [0]), keep(f, [0]))))", "bottle-good"},
        {"decode(0.05 * mean(f) + mean(keep(f, [1])) * 1)", "bottle-good"},
        {"decode(mean(f) * 0.1 + 0.1 * mean(drop(f, [1, 2, 3])))", "bottle-broken"},
        {"decode(mean(0.5 * f + f))", "bottle-broken"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        label_of(cases[i].expr, buf);
        CHECK(strcmp(buf, cases[i].want) == 0, "%s gave %s, expected %s", cases[i].expr, buf, cases[i].want);
    }
}

/* Folds are summed in fold order in `real`: whatever order keep() lists them
 * in, float32 loses the 1 in 1 + 1e8 - 1e8 (label 1 wins), double keeps it. */
static void test_float_order(void) {
    char buf[256];
    const char *want = REAL_BITS == 32 ? "bottle-good" : "bottle-broken";
    label_of("decode(mean(keep(g, [1, 2, 0])))", buf);
    CHECK(strcmp(buf, want) == 0, "got %s, expected %s", buf, want);
    label_of("decode(mean(drop(g, [x])))", buf);
    CHECK(strstr(buf, "t.recipe:5: expected a fold number") != NULL, "%s", buf);
}

typedef int (*RowRule)(const char *a, const char *b);
static int cls_is(const char *s, const char *c) { return strncmp(s, c, strlen(c)) == 0 && s[strlen(c)] == '-'; }
static const char *st(const char *s) { return strchr(s, '-') + 1; }
static int p1(const char *a, const char *b) { return strcmp(a, b) && strcmp(st(b), "good") && strcmp(st(a), "combined"); }
static int p2(const char *a, const char *b) { (void)a; return cls_is(b, "tile") || cls_is(b, "bottle") || !strcmp(st(b), "combined"); }
static int p3(const char *a, const char *b) { (void)b; return !cls_is(a, "cable"); }
static int p4(const char *a, const char *b) { return !strcmp(a, b) || !cls_is(a, "cable"); }
static int p5(const char *a, const char *b) { return !strcmp(st(a), st(b)); }
static int p6(const char *a, const char *b) { (void)a; return !strcmp(b, "cable-cut"); }
static int p7(const char *a, const char *b) {
    size_t n = (size_t)(strchr(a, '-') - a);
    return strncmp(a, b, n) == 0 && b[n] == '-' && strcmp(a, b);
}
static int p8(const char *a, const char *b) { return strcmp(a, "cable-cut") && (!strcmp(st(b), "good") || !strcmp(st(b), "oil") || !strcmp(b, "bottle-broken")); }

static void test_conditions(void) {
    const struct { const char *where; RowRule f; } cases[] = {
        {"a != b and state(b) != good and state(a) != combined", p1},
        {"class(b) in [tile, bottle] or state(b) == combined", p2},
        {"not (class(a) == cable)", p3},
        {"a == b or class(a) not in [cable]", p4},
        {"state(a) == state(b)", p5},
        {"b == cable-cut", p6},
        {"class(a) == class(b)\n   and not a == b", p7},
        {"a != \"cable-cut\" and (state(b) in [good,\n oil] or b == bottle-broken)", p8},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char body[1024], err[1024];
        snprintf(body, sizeof body, "let a = decode(mean(load(a.npy)))\nlet b = decode(mean(load(b.npy)))\n"
                 "let x = a\nset x = b where %s\nwrite x to o.csv\n", cases[c].where);
        EnsembleResult res;
        if (run(body, &res, err, sizeof err, NULL) != 0) {
            CHECK(0, "%s: %s", cases[c].where, err);
            continue;
        }
        size_t fired = 0;
        for (int i = 0; i < N; i++) {
            const char *a = L[LA[i]], *b = L[LB[i]], *want = cases[c].f(a, b) ? b : a;
            fired += strcmp(want, a) != 0;
            CHECK(strcmp(res.label[i], want) == 0, "'%s' row %d (a %s, b %s): got %s", cases[c].where, i, a, b,
                  res.label[i]);
        }
        CHECK(res.n_rules == 1 && res.rule_rows[0] == fired && res.rule_line[0] == 6, "rule count %zu, expected %zu",
              res.n_rules ? res.rule_rows[0] : 0, fired);
        ensemble_result_free(&res);
    }
}

static void test_votes(void) {
    const char *v[] = {"b", "a", "b", "a"};
    CHECK(strcmp(recipe_majority(v, 4), "a") == 0, "a tie goes to the smallest string");
    const char *w[] = {"null", "cable-cut", "zz", "null"};
    CHECK(strcmp(recipe_majority(w, 4), "null") == 0, "the most frequent wins");
    write_text("t.csv", "index,label,p1,p2,p3,p4,p5\n"
               "100,tile-oil,cable-cut,cable-good,cable-good,cable-cut,null\n"
               "101,cable-good,cable-cut,cable-good,cable-cut,cable-good,null\n"
               "102,tile-oil,null,null,cable-cut,null,null\n"
               "103,tile-oil,null,cable-cut,cable-cut,,null\n"
               "104,cable-combined,cable-cut,cable-good,tile-oil,bottle-good,null\n"
               "105,tile-oil,cable-combined,cable-combined,cable-combined,cable-combined,null\n"
               "106,tile-oil,cable-combined,cable-combined,cable-combined,cable-combined,null\n"
               "107,tile-oil,cable-combined,cable-combined,cable-combined,cable-combined,null\n");
    const char *want_clean[N] = {"cable-cut", "cable-cut", "null", "cable-cut", "bottle-good", "cable-combined",
                                 "cable-combined", "cable-combined"};
    /* the original: index and label cells count, null -> "0" (p5 has nothing else: "0.0"), one "none" */
    const char *want_quirk[N] = {"cable-cut", "cable-good", "0", "0", "0.0", "cable-combined", "cable-combined",
                                 "cable-combined"};
    char *index[N];
    for (int i = 0; i < N; i++) {
        index[i] = malloc(8);
        snprintf(index[i], 8, "%d", 100 + i);
    }
    for (int quirk = 0; quirk < 2; quirk++) {
        CsvTable t;
        const char *votes[N];
        char err[1024];
        int rc = recipe_vote_table(tmp_path("t.csv"), quirk, index, N, &t, votes, err, sizeof err);
        CHECK(rc == 0, "%s", err);
        if (rc) continue;
        for (int i = 0; i < N; i++) {
            const char *want = quirk ? want_quirk[i] : want_clean[i];
            CHECK(strcmp(votes[i], want) == 0, "quirk %d row %d: vote %s, expected %s", quirk, i, votes[i], want);
        }
        csv_free(&t);
    }
    for (int i = 0; i < N; i++) free(index[i]);
    /* the same through a recipe: rows whose vote is not a label are left alone */
    char err[1024];
    EnsembleResult res;
    int rc = run("let v = vote(t.csv)\nlet q = vote(t.csv, quirk)\nlet x = decode(mean(load(a.npy)))\n"
                 "set x = q where q not in [\"0\", \"0.0\", \"none\"]\nwrite x to o.csv\n", &res, err, sizeof err, NULL);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    for (int i = 0; i < N; i++) {
        const char *want = i == 2 || i == 3 || i == 4 ? L[LA[i]] : want_quirk[i];
        CHECK(strcmp(res.label[i], want) == 0, "row %d: %s, expected %s", i, res.label[i], want);
    }
    ensemble_result_free(&res);
}

static void test_explain(void) {
    FILE *ex = tmpfile();
    char err[1024], text[2048] = "";
    EnsembleResult res;
    int rc = run("let a = decode(mean(load(a.npy)))\nlet b = decode(mean(load(b.npy)))  # two folds\nlet x = a\n"
                 "set x = b where state(b) == combined   # only row 3\n"
                 "set x = b where state(b) ==\n    good\nwrite x to o.csv\n", &res, err, sizeof err, ex);
    CHECK(rc == 0, "%s", err);
    if (rc) { fclose(ex); return; }
    rewind(ex);
    size_t n = fread(text, 1, sizeof text - 1, ex);
    text[n] = 0;
    fclose(ex);
    const char *want = "t.recipe:6: index 103: tile-oil -> cable-combined\n"
                       "t.recipe:7: index 102: cable-combined -> bottle-good\n"
                       "t.recipe:7: index 106: cable-cut -> cable-good\n"
                       "t.recipe:7: index 107: tile-oil -> bottle-good\n"
                       "t.recipe:6: 1 row changed by: set x = b where state(b) == combined\n"
                       "t.recipe:7: 3 rows changed by: set x = b where state(b) == good\n";
    CHECK(strcmp(text, want) == 0, "explain printed:\n%s", text);
    /* the written file is the result */
    CsvTable t;
    CHECK(csv_read(tmp_path("o.csv"), &t, err, sizeof err) == 0, "%s", err);
    CHECK(t.n_cols == 2 && t.n_rows == N && !strcmp(t.header[0], "index") && !strcmp(t.header[1], "label"), "layout");
    for (size_t i = 0; i < t.n_rows && i < N; i++)
        CHECK(!strcmp(csv_cell(&t, i, 0), res.index[i]) && !strcmp(csv_cell(&t, i, 1), res.label[i]), "row %zu", i);
    csv_free(&t);
    ensemble_result_free(&res);
}

static void test_errors(void) {
    write_text("short.csv", "index,label,p\n100,x,cable-cut\n");
    write_text("badindex.csv", "index,label,p\n100,x,a\n101,x,a\n102,x,a\n103,x,a\n104,x,a\n105,x,a\n107,x,a\n106,x,a\n");
    const struct { const char *body, *want; } cases[] = {
        /* found while parsing: nothing is read */
        {"let x = decode(mean(f66))\n", "t.recipe:3: unknown name 'f66'"},
        {"let f = load(f.npy)\nlet x = decode(f)\n", "t.recipe:4: decode() takes scores [N, C], not folds"},
        {"let f = load(f.npy)\nlet f = load(g.npy)\n", "t.recipe:4: 'f' is already defined on line 3"},
        {"let x = decode(mean(load(f.npy)\nwrite x\n", "t.recipe:3: a parenthesis or bracket opened on this line"},
        {"let f = load(f.npy)\nset f = f where f == f\n", "t.recipe:4: `set` changes rows of a label column"},
        {"let x = decode(mean(load(f.npy)))\nset x = x where \"good\" == \"combined\"\n", "t.recipe:4: this compares two"},
        {"let x = decode(mean(load(f.npy)))\nset x = x where good == x\n", "t.recipe:4: unknown name 'good'"},
        {"let x = decode(mean(load(f.npy)))\nset x = x wher x == x\n", "t.recipe:4: expected `where`"},
        {"let x = decode(mean(load(f.npy)))\nlet y = avg(x)\n", "t.recipe:4: unknown function 'avg'"},
        {"let x = decode(mean(load(f.npy)))\n", "the recipe never says what to write"},
        {"let x = decode(mean(load(f.npy))) + 1\n", "t.recipe:3: '+' adds scores"},
        /* found while running */
        {"let f = load(f.npy)\nlet x = decode(mean(keep(f, [1, 4])))\nwrite x to o.csv\n",
         "t.recipe:4: fold 4 is out of range: 'f' has 4 folds (0 to 3)"},
        {"let f = load(f.npy)\nlet x = decode(mean(drop(f, [0, 1, 2, 3])))\nwrite x to o.csv\n",
         "t.recipe:4: drop() leaves none of the 4 folds of 'f'"},
        {"let f = load(f.npy)\nlet g = load(g.npy)\nlet x = decode(mean(f + g))\nwrite x to o.csv\n",
         "t.recipe:5: '+': shape mismatch: 'f' is [4, 8, 6] but 'g' is [3, 8, 6]"},
        {"let c = load(c5.npy)\nlet x = decode(mean(c))\nwrite x to o.csv\n", "has 5 scores per row but"},
        {"let c = load(n7.npy)\nlet x = decode(mean(c))\nwrite x to o.csv\n", "t.recipe:3: "},
        {"let c = load(n7.npy)\nlet x = decode(mean(c))\nwrite x to o.csv\n", "has 7 rows but"},
        {"let c = load(missing.npy)\nlet x = decode(mean(c))\nwrite x to o.csv\n", "missing.npy: cannot open"},
        {"let v = vote(short.csv)\nwrite v to o.csv\n", "t.recipe:3: "},
        {"let v = vote(short.csv)\nwrite v to o.csv\n", "has 1 rows but there are 8 output rows"},
        {"let v = vote(badindex.csv)\nwrite v to o.csv\n", "line 8 has index '107' where output row 7 has index '106'"},
        {"let x = decode(mean(load(f.npy)))\nset x = x where x == bottle-goood\nwrite x to o.csv\n",
         "t.recipe:4: 'bottle-goood' is not a label of"},
        {"let x = decode(mean(load(f.npy)))\nset x = x where class(x) in [cable, botle]\nwrite x to o.csv\n",
         "t.recipe:4: 'botle' is not a class"},
        {"let x = decode(mean(load(f.npy)))\nset x = \"null\" where state(x) != goood\nwrite x to o.csv\n",
         "t.recipe:4: 'goood' is not a state"},
        {"let x = decode(mean(load(f.npy)))\nset x = \"null\" where x != \"none\"\nwrite x to o.csv\n",
         "t.recipe:4: index 100 (output row 1): the rule would write 'null', which is not a label"},
        {"let v = vote(t.csv)\nwrite v to o.csv\n", "t.recipe:4: index 102 (output row 3) of 'v' holds 'null'"},
        {"let x = decode(mean(load(f.npy)))\nwrite x\n", "t.recipe:4: no output file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char err[1024] = "";
        EnsembleResult res;
        unlink(tmp_path("o.csv"));
        int rc = run(cases[i].body, &res, err, sizeof err, NULL);
        CHECK(rc != 0, "accepted: %s", cases[i].body);
        if (rc == 0) { ensemble_result_free(&res); continue; }
        CHECK(strstr(err, cases[i].want) != NULL, "case %zu: expected '%s' in: %s", i, cases[i].want, err);
        CHECK(access(tmp_path("o.csv"), F_OK) != 0, "case %zu wrote a file after an error", i);
    }
    char err[1024];
    CHECK(recipe_parse("x.recipe", "labels a\nrows b\nlet 2x = load(a)\n", err, sizeof err) == NULL &&
          strstr(err, "x.recipe:3:") != NULL, "a bad name: %s", err);
}

static void test_threads_and_winners_parse(void) {
    int n = 500, k = 5;
    float *x = malloc((size_t)k * n * 6 * sizeof *x);
    uint32_t s = 12345;
    for (int i = 0; i < k * n * 6; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 16777216.0f;
    }
    int64_t shape[3] = {k, n, 6};
    npy_write(tmp_path("r.npy"), NPY_F4, x, 3, shape);
    free(x);
    char sub[16384] = "index,label\n";
    for (int i = 0; i < n; i++) snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "%d,x\n", i);
    write_text("sub500.csv", sub);
    const char *text = "labels train_df.csv\nrows sub500.csv\nlet r = load(r.npy)\n"
                       "let x = decode(0.3 * mean(drop(r, [1])) + 0.7 * mean(cat(r, keep(r, [0, 4]))))\nwrite x to o.csv\n";
    char err[1024];
    Recipe *rec = recipe_parse("t.recipe", text, err, sizeof err);
    CHECK(rec != NULL, "%s", err);
    if (!rec) return;
    EnsembleResult res[2];
    EnsembleOptions opt = {tmpdir, NULL, NULL};
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        CHECK(recipe_run(rec, &opt, &res[t], err, sizeof err) == 0, "%s", err);
    }
    for (int i = 0; i < n; i++) CHECK(!strcmp(res[0].label[i], res[1].label[i]), "row %d differs", i);
    ensemble_result_free(&res[0]);
    ensemble_result_free(&res[1]);
    recipe_free(rec);
    rec = recipe_load("data/recipes/winners.recipe", err, sizeof err);
    CHECK(rec != NULL, "winners.recipe: %s", err);
    int sets = 0;
    for (int i = 0; rec && i < rec->n_stmts; i++) sets += rec->stmts[i].kind == RS_SET;
    CHECK(sets == 7, "winners.recipe has %d rules, expected 7", sets);
    recipe_free(rec);
}

/* ---- checkpoint averaging ---- */

enum { CK_PLAIN, CK_NO_D, CK_FLAT_W, CK_F64_RM, CK_EXTRA };

static void write_ckpt(const char *name, float scale, const uint16_t *h, const uint16_t *b, double d, const char *epoch,
                       int variant) {
    StWriter w;
    st_writer_init(&w);
    st_writer_meta(&w, "format", "pt");
    st_writer_meta(&w, "epoch", epoch);
    float wt[4] = {1 * scale, 2 * scale, 3 * scale, 4 * scale}, rm[2] = {scale - 1, scale};
    double rm64[2] = {scale - 1, scale};
    int64_t nbt = (int64_t)(2 + scale), s22[2] = {2, 2}, s4[1] = {4}, s2[1] = {2}, s3[1] = {3}, s1[1] = {1};
    st_writer_add_raw(&w, "w", ST_F32, wt, variant == CK_FLAT_W ? 1 : 2, variant == CK_FLAT_W ? s4 : s22);
    if (variant == CK_F64_RM) st_writer_add_raw(&w, "bn.running_mean", ST_F64, rm64, 1, s2);
    else st_writer_add_raw(&w, "bn.running_mean", ST_F32, rm, 1, s2);
    st_writer_add_raw(&w, "bn.num_batches_tracked", ST_I64, &nbt, 0, NULL);
    st_writer_add_raw(&w, "h", ST_F16, h, 1, s3);
    st_writer_add_raw(&w, "b", ST_BF16, b, 1, s1);
    if (variant != CK_NO_D) st_writer_add_raw(&w, "d", ST_F64, &d, 1, s1);
    if (variant == CK_EXTRA) st_writer_add_raw(&w, "extra", ST_F64, &d, 1, s1);
    st_writer_commit(&w, tmp_path(name));
}

static const unsigned char *tensor_bytes(const SafeTensors *st, const char *name, StDtype d) {
    const StTensor *t = safetensors_find(st, name);
    CHECK(t && t->dtype == d, "tensor %s missing or of another dtype", name);
    return t ? t->data : (const unsigned char *)"\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";
}

static void test_average_exact(void) {
    const uint16_t ha[3] = {0x3C00, 0x3C00, 0x3C00}, hb[3] = {0x3C01, 0x4000, 0x3C01}; /* 1, 1+2^-10, 2 */
    const uint16_t ba = 0x3F80, bb = 0x3F81;                                           /* 1, 1+2^-7 */
    write_ckpt("A.safetensors", 1, ha, &ba, 0.1, "3", CK_PLAIN);
    write_ckpt("B.safetensors", 3, hb, &bb, 0.3, "4", CK_PLAIN);
    const char *paths[2] = {tmp_path("A.safetensors"), tmp_path("B.safetensors")};
    char ap[256], bp[256], err[1024];
    snprintf(ap, sizeof ap, "%s", paths[0]);
    snprintf(bp, sizeof bp, "%s", paths[1]);
    paths[0] = ap;
    paths[1] = bp;
    const double w1[2] = {0.25, 0.75}, w2[2] = {1, 3};
    for (int run_no = 0; run_no < 3; run_no++) {
        int norm = -1;
        const double *w = run_no == 0 ? w1 : run_no == 1 ? w2 : NULL;
        int rc = checkpoint_average(paths, w, 2, tmp_path("C.safetensors"), &norm, err, sizeof err);
        CHECK(rc == 0, "%s", err);
        if (rc) continue;
        CHECK(norm == (run_no == 1), "run %d: normalised = %d", run_no, norm);
        SafeTensors st;
        CHECK(safetensors_open(tmp_path("C.safetensors"), &st, err, sizeof err) == 0, "%s", err);
        int half = run_no == 2; /* equal weights */
        float wt[4], rm[2];
        int64_t nbt;
        uint16_t h[3], b;
        double d;
        memcpy(wt, tensor_bytes(&st, "w", ST_F32), sizeof wt);
        memcpy(rm, tensor_bytes(&st, "bn.running_mean", ST_F32), sizeof rm);
        memcpy(&nbt, tensor_bytes(&st, "bn.num_batches_tracked", ST_I64), sizeof nbt);
        memcpy(h, tensor_bytes(&st, "h", ST_F16), sizeof h);
        memcpy(&b, tensor_bytes(&st, "b", ST_BF16), sizeof b);
        memcpy(&d, tensor_bytes(&st, "d", ST_F64), sizeof d);
        for (int i = 0; i < 4; i++)
            CHECK(wt[i] == (half ? 2.0f : 2.5f) * (float)(i + 1), "run %d: w[%d] = %.9g", run_no, i, wt[i]);
        CHECK(rm[0] == (half ? 1.0f : 1.5f) && rm[1] == (half ? 2.0f : 2.5f), "running mean %g %g", rm[0], rm[1]);
        CHECK(nbt == 5, "num_batches_tracked %lld, expected the maximum 5", (long long)nbt);
        /* half: 1 and 1+2^-10 average to a tie that rounds to even (1); at
         * 0.25/0.75 the result is nearer 1+2^-10. 0.25*1 + 0.75*2 = 1.75. */
        uint16_t h0 = half ? 0x3C00 : 0x3C01, h1 = half ? 0x3E00 : 0x3F00;
        CHECK(h[0] == h0 && h[1] == h1 && h[2] == h0, "F16 %04x %04x %04x", h[0], h[1], h[2]);
        CHECK(b == (half ? 0x3F80 : 0x3F81), "BF16 %04x", b);
        double want_d = half ? 0.5 * 0.1 + 0.5 * 0.3 : 0.25 * 0.1 + 0.75 * 0.3;
        CHECK(d == want_d, "F64 %.17g, expected %.17g", d, want_d);
        CHECK(st.count == 6 && !strcmp(st.tensors[0].name, "w") && !strcmp(st.tensors[5].name, "d"), "tensor order");
        const char *fmt = safetensors_meta(&st, "format"), *from = safetensors_meta(&st, "averaged_from");
        CHECK(fmt && !strcmp(fmt, "pt") && !safetensors_meta(&st, "epoch"), "metadata: only the shared entries");
        CHECK(from && strstr(from, half ? "A.safetensors*0.5," : "A.safetensors*0.25,"), "averaged_from: %s",
              from ? from : "(none)");
        safetensors_close(&st);
    }
}

static void test_average_refusals(void) {
    const uint16_t h[3] = {0x3C00, 0x3C00, 0x3C00}, b = 0x3F80;
    write_ckpt("NoD.safetensors", 2, h, &b, 0.5, "1", CK_NO_D);
    write_ckpt("Flat.safetensors", 2, h, &b, 0.5, "1", CK_FLAT_W);
    write_ckpt("F64.safetensors", 2, h, &b, 0.5, "1", CK_F64_RM);
    write_ckpt("Extra.safetensors", 2, h, &b, 0.5, "1", CK_EXTRA);
    const struct { const char *file, *want; double w2; } cases[] = {
        {"NoD.safetensors", "NoD.safetensors has no tensor 'd' (", 0.5},
        {"Flat.safetensors", "tensor 'w' has shape [2, 2] in", 0.5},
        {"F64.safetensors", "tensor 'bn.running_mean' is F32 in", 0.5},
        {"Extra.safetensors", "Extra.safetensors has a tensor 'extra' that", 0.5},
        {"B.safetensors", "weight 2 is -1", -1},
        {"B.safetensors", "the weights sum to 0", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char a[256], o[256], err[1024] = "";
        snprintf(a, sizeof a, "%s", tmp_path("A.safetensors"));
        snprintf(o, sizeof o, "%s", tmp_path(cases[i].file));
        const char *paths[2] = {a, o};
        double w[2] = {cases[i].w2 == 0 ? 0 : 0.5, cases[i].w2};
        unlink(tmp_path("bad.safetensors"));
        int rc = checkpoint_average(paths, w, 2, tmp_path("bad.safetensors"), NULL, err, sizeof err);
        CHECK(rc != 0, "case %zu accepted", i);
        CHECK(strstr(err, cases[i].want) != NULL, "case %zu: expected '%s' in: %s", i, cases[i].want, err);
        CHECK(access(tmp_path("bad.safetensors"), F_OK) != 0, "case %zu wrote a file", i);
        if (i < 4) CHECK(strstr(err, "A.safetensors") != NULL, "case %zu: the message names one file only: %s", i, err);
    }
}

int main(void) {
    tmpdir_create("ens");
    setup();
    RUN(test_fold_selection);
    RUN(test_float_order);
    RUN(test_conditions);
    RUN(test_votes);
    RUN(test_explain);
    RUN(test_errors);
    RUN(test_threads_and_winners_parse);
    RUN(test_average_exact);
    RUN(test_average_refusals);
    tmpdir_remove();
    CHECK_MAIN_END();
}
