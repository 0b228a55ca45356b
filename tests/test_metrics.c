/* Metrics against scikit-learn (fixtures written by
 * tools/make_metrics_fixtures.py into tests/fixtures/metrics/), hand cases,
 * the confusion-matrix picture, and the `anomaly score` command. */
#include "check.h"
#include "tmpdir.h"

#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anomaly/image.h"
#include "anomaly/metrics.h"

#define FIXTURE "tests/fixtures/metrics/sklearn.txt"

static const char *anomaly_bin; /* the CLI next to this build's tests/, or NULL */

/* ---- the fixture file: blocks of `key values...` lines ---- */

typedef struct Case {
    char name[64];
    int n, c, n_labels;
    int *truth, *pred, *labels;
    double *precision, *recall, *f1, macro[3], accuracy;
    long *support;
} Case;

static char *next_line(FILE *fp, char *buf, size_t len) {
    while (fgets(buf, (int)len, fp))
        if (buf[0] != '#') return buf;
    return NULL;
}

/* Reads up to `max` numbers after `key`; returns the count, -1 if the key differs. */
static int read_doubles(char *line, const char *key, double *out, int max) {
    size_t k = strlen(key);
    if (strncmp(line, key, k) != 0 || (line[k] != ' ' && line[k] != '\n')) return -1;
    char *p = line + k, *end;
    int n = 0;
    for (;;) {
        double v = strtod(p, &end);
        if (end == p) break;
        if (n < max) out[n] = v;
        n++;
        p = end;
    }
    return n;
}

static int read_case(FILE *fp, Case *c) {
    static char line[1 << 17];
    if (!next_line(fp, line, sizeof line)) return 0;
    if (sscanf(line, "case %63s %d %d", c->name, &c->n, &c->c) != 3) return -1;
    int n = c->n;
    double *tmp = malloc((size_t)(n > 400 ? n : 400) * sizeof *tmp);
    c->truth = malloc((size_t)n * sizeof(int));
    c->pred = malloc((size_t)n * sizeof(int));
    c->labels = malloc(400 * sizeof(int));
    c->precision = malloc(400 * sizeof(double));
    c->recall = malloc(400 * sizeof(double));
    c->f1 = malloc(400 * sizeof(double));
    c->support = malloc(400 * sizeof(long));
    int ok = 1;
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "truth", tmp, n) == n;
    for (int i = 0; ok && i < n; i++) c->truth[i] = (int)tmp[i];
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "pred", tmp, n) == n;
    for (int i = 0; ok && i < n; i++) c->pred[i] = (int)tmp[i];
    ok &= next_line(fp, line, sizeof line) && (c->n_labels = read_doubles(line, "labels", tmp, 400)) > 0;
    for (int i = 0; ok && i < c->n_labels; i++) c->labels[i] = (int)tmp[i];
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "precision", c->precision, 400) == c->n_labels;
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "recall", c->recall, 400) == c->n_labels;
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "f1", c->f1, 400) == c->n_labels;
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "support", tmp, 400) == c->n_labels;
    for (int i = 0; ok && i < c->n_labels; i++) c->support[i] = (long)tmp[i];
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "macro", c->macro, 3) == 3;
    ok &= next_line(fp, line, sizeof line) && read_doubles(line, "accuracy", &c->accuracy, 1) == 1;
    free(tmp);
    return ok ? 1 : -1;
}

static void free_case(Case *c) {
    free(c->truth);
    free(c->pred);
    free(c->labels);
    free(c->precision);
    free(c->recall);
    free(c->f1);
    free(c->support);
}

/* Every number must be the very double scikit-learn computed. */
static void test_against_sklearn(void) {
    FILE *fp = fopen(FIXTURE, "r");
    CHECK(fp != NULL, "cannot open %s (run from the repository root)", FIXTURE);
    if (!fp) return;
    Case c;
    int rc, n_cases = 0, naive_differs = 0;
    while ((rc = read_case(fp, &c)) == 1) {
        n_cases++;
        Scores s;
        scores_compute(&s, c.truth, c.pred, (size_t)c.n, c.c);
        CHECK(s.n_scored == c.n_labels, "%s: %d labels scored, sklearn %d", c.name, s.n_scored, c.n_labels);
        for (int k = 0; k < c.n_labels && k < s.n_scored; k++) {
            const LabelScore *L = &s.label[k];
            CHECK(L->label == c.labels[k], "%s: label %d is %d, sklearn %d", c.name, k, L->label, c.labels[k]);
            CHECK(L->precision == c.precision[k] && L->recall == c.recall[k] && L->f1 == c.f1[k] &&
                      (long)L->support == c.support[k],
                  "%s label %d: p %.17g r %.17g f1 %.17g n %zu; sklearn %.17g %.17g %.17g %ld", c.name, L->label,
                  L->precision, L->recall, L->f1, L->support, c.precision[k], c.recall[k], c.f1[k], c.support[k]);
        }
        CHECK(s.macro_precision == c.macro[0] && s.macro_recall == c.macro[1] && s.macro_f1 == c.macro[2],
              "%s: macro p %.17g r %.17g f1 %.17g; sklearn %.17g %.17g %.17g", c.name, s.macro_precision,
              s.macro_recall, s.macro_f1, c.macro[0], c.macro[1], c.macro[2]);
        CHECK(s.accuracy == c.accuracy, "%s: accuracy %.17g, sklearn %.17g", c.name, s.accuracy, c.accuracy);
        CHECK(macro_f1(c.truth, c.pred, (size_t)c.n, c.c) == c.macro[2], "%s: macro_f1()", c.name);
        /* The fixtures must be able to tell a plain left-to-right mean apart. */
        double naive = 0;
        for (int k = 0; k < s.n_scored; k++) naive += s.label[k].f1;
        if (s.n_scored && naive / s.n_scored != c.macro[2]) naive_differs++;
        scores_free(&s);
        free_case(&c);
    }
    fclose(fp);
    CHECK(rc == 0, "%s: malformed block after %d cases", FIXTURE, n_cases);
    CHECK(n_cases >= 40, "only %d cases read", n_cases);
    CHECK(naive_differs > 0, "no case distinguishes pairwise from naive summation");
}

static void test_hand_cases(void) {
    /* truth 0 0 1 1 2, pred 0 1 1 1 0; label 3 appears nowhere */
    int t[5] = {0, 0, 1, 1, 2}, p[5] = {0, 1, 1, 1, 0};
    Scores s;
    scores_compute(&s, t, p, 5, 4);
    size_t want_cm[16] = {1, 1, 0, 0, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(memcmp(s.confusion, want_cm, sizeof want_cm) == 0, "confusion matrix");
    CHECK(s.n_scored == 3, "label 3 is in neither truth nor prediction: %d scored", s.n_scored);
    /* label 0: p 1/2 r 1/2 f 1/2; label 1: p 2/3 r 1 f 0.8; label 2: 0 */
    CHECK(s.label[0].precision == 0.5 && s.label[0].recall == 0.5 && s.label[0].f1 == 0.5, "label 0");
    CHECK(fabs(s.label[1].f1 - 0.8) < 1e-15 && s.label[1].recall == 1.0, "label 1 f1 %.17g", s.label[1].f1);
    CHECK(s.label[2].f1 == 0 && s.label[2].support == 1 && s.label[2].predicted == 0, "label 2");
    CHECK(fabs(s.macro_f1 - 1.3 / 3) < 1e-15, "macro %.17g", s.macro_f1);
    CHECK(s.accuracy == 0.6, "accuracy %g", s.accuracy);
    scores_free(&s);
    /* No samples: nothing scored, zeros. */
    scores_compute(&s, t, p, 0, 4);
    CHECK(s.n_scored == 0 && s.macro_f1 == 0 && s.accuracy == 0, "empty input");
    scores_free(&s);
}

static void test_pairwise_sum(void) {
    /* 1 + 1e-16 * 16: naive keeps 1, pairwise groups the small terms first. */
    double a[17];
    a[0] = 1;
    for (int i = 1; i < 17; i++) a[i] = 1e-16;
    double naive = 0;
    for (int i = 0; i < 17; i++) naive += a[i];
    double pw = numpy_pairwise_sum(a, 17);
    /* NumPy: r[0] = 1 + 1e-16 (=1), r[1..7] = 2e-16, ... then the tail. */
    CHECK(naive == 1.0 && pw > 1.0, "pairwise %.17g naive %.17g", pw, naive);
    CHECK(numpy_pairwise_sum(a, 0) == 0 && numpy_pairwise_sum(a, 1) == 1, "small n");
}

/* Runs fn in a child; returns its exit status and what it wrote to stderr. */
static int run_child(void (*fn)(void *), void *arg, char *err, size_t errlen) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        if (!freopen("/dev/null", "w", stdout)) _exit(2);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < errlen && (r = read(fds[0], err + got, errlen - 1 - got)) > 0) got += (size_t)r;
    err[got] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void bad_label(void *arg) {
    (void)arg;
    int t[2] = {0, 7}, p[2] = {0, 1};
    Scores s;
    scores_compute(&s, t, p, 2, 3);
}

static void test_label_out_of_range(void) {
    char err[1024];
    int code = run_child(bad_label, NULL, err, sizeof err);
    CHECK(code == 1 && strstr(err, "true label 7 of sample 1"), "exit %d, stderr: %s", code, err);
}

static void test_print(void) {
    int t[4] = {0, 1, 1, 2}, p[4] = {0, 1, 2, 2};
    const char *names[3] = {"bottle-good", "cable-bent_wire", "cable-good"};
    Scores s;
    scores_compute(&s, t, p, 4, 3);
    FILE *fp = tmpfile();
    scores_print(fp, &s, names);
    rewind(fp);
    char buf[2048];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    CHECK(strstr(buf, "cable-bent_wire     1.0000  0.5000  0.6667        2          1"), "table:\n%s", buf);
    CHECK(strstr(buf, "macro F1 0.777778 over 3 labels"), "macro line:\n%s", buf);
    scores_free(&s);
}

static const uint8_t *pixel(const Image *img, int x, int y) { return img->px + ((size_t)y * img->w + x) * 3; }

static void test_confusion_png(void) {
    /* 3 labels: a perfect row, a half-wrong row, a row never true. */
    size_t cm[9] = {5, 0, 0, 2, 2, 0, 0, 0, 0};
    const char *names[3] = {"a-x", "a-y", "b-z"};
    const char *path = tmp_path("cm.png");
    confusion_png_write(path, cm, 3, names, NULL, 0, "test");
    Image img;
    char err[512];
    CHECK(image_read(path, &img, err, sizeof err) == 0, "%s", err);
    if (!img.px) return;
    /* The row [5, 0, 0] is a diagonal cell at full shade, blue (33, 102, 172). */
    int found = 0;
    for (int y = 0; y < img.h && !found; y++)
        for (int x = 0; x < img.w && !found; x++) {
            const uint8_t *q = pixel(&img, x, y);
            found = q[0] == 33 && q[1] == 102 && q[2] == 172;
        }
    CHECK(found, "no full-shade diagonal cell in the picture");
    CHECK(img.w > 100 && img.h > 100 && img.w < 2000, "size %dx%d", img.w, img.h);
    /* The row [2, 2, 0]: both cells at half shade, blue and red. */
    int saw_half_red = 0, saw_half_blue = 0;
    for (size_t i = 0; i < (size_t)img.w * img.h; i++) {
        const uint8_t *q = img.px + 3 * i;
        double t = 0.12 + 0.88 * 0.5;
        if (q[0] == (uint8_t)(255 + (190 - 255) * t + 0.5) && q[1] == (uint8_t)(255 + (30 - 255) * t + 0.5))
            saw_half_red = 1;
        if (q[0] == (uint8_t)(255 + (33 - 255) * t + 0.5) && q[2] == (uint8_t)(255 + (172 - 255) * t + 0.5))
            saw_half_blue = 1;
    }
    CHECK(saw_half_red && saw_half_blue, "half-shaded cells missing (red %d blue %d)", saw_half_red, saw_half_blue);
    image_free(&img);
    /* 88 labels: the picture stays within a screenful or two. */
    size_t *big = calloc(88 * 88, sizeof *big);
    char nb[88][32];
    const char *nm[88];
    for (int i = 0; i < 88; i++) {
        big[i * 88 + i] = 300;
        big[i * 88 + (i + 1) % 88] = 7;
        snprintf(nb[i], sizeof nb[i], "class%02d-state_name_%d", i / 6, i);
        nm[i] = nb[i];
    }
    confusion_png_write(path, big, 88, nm, NULL, 0, NULL);
    CHECK(image_read(path, &img, err, sizeof err) == 0, "%s", err);
    CHECK(img.w < 2400 && img.h < 2400, "88 labels: %dx%d", img.w, img.h);
    image_free(&img);
    free(big);
    remove(path);
}

/* ---- the `anomaly score` command ---- */

static void write_file(const char *path, const char *text) {
    FILE *fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
}

/* Runs `anomaly score sub ans [extra]`; output (stdout and stderr) into out. */
static int run_score(const char *sub, const char *ans, const char *extra, char *out, size_t len) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s score %s %s %s 2>&1", anomaly_bin, sub, ans, extra ? extra : "");
    FILE *fp = popen(cmd, "r");
    size_t n = fread(out, 1, len - 1, fp);
    out[n] = 0;
    int st = pclose(fp);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_score_command(void) {
    if (!anomaly_bin) {
        check_skip("the anomaly binary is not next to this test's directory");
        return;
    }
    const char *ans = tmp_path("ans.csv"), *sub = tmp_path("sub.csv");
    char out[8192];
    write_file(ans, "index,label\n1,a-good\n2,a-good\n3,a-bad\n4,b-good\n");
    /* Same rows in another order; one wrong; "c-x" only predicted. */
    write_file(sub, "index,label\n4,c-x\n2,a-good\n1,a-good\n3,a-bad\n");
    int code = run_score(sub, ans, "--confusion", out, sizeof out);
    CHECK(code != 0, "--confusion without a value must fail");
    code = run_score(sub, ans, NULL, out, sizeof out);
    /* sklearn: labels a-bad a-good b-good c-x; f1 1, 1, 0, 0 -> 0.5 */
    CHECK(code == 0 && strstr(out, "macro F1 0.5000000000"), "exit %d:\n%s", code, out);
    char extra[300];
    snprintf(extra, sizeof extra, "--confusion %s", tmp_path("score.png"));
    code = run_score(sub, ans, extra, out, sizeof out);
    Image img;
    char err[512];
    CHECK(code == 0 && image_read(tmp_path("score.png"), &img, err, sizeof err) == 0, "png: %s\n%s", err, out);
    if (code == 0) image_free(&img);
    write_file(sub, "index,label\n1,a-good\n2,a-good\n3,a-bad\n");
    code = run_score(sub, ans, NULL, out, sizeof out);
    CHECK(code == 1 && strstr(out, "no row for index '4' (line 5 of"), "missing index: %d\n%s", code, out);
    write_file(sub, "index,label\n1,a-good\n2,a-good\n3,a-bad\n4,b-good\n9,b-good\n");
    code = run_score(sub, ans, NULL, out, sizeof out);
    CHECK(code == 1 && strstr(out, "sub.csv:6: index '9' is not in"), "extra index: %d\n%s", code, out);
    write_file(sub, "index,label\n1,a-good\n2,a-good\n3,a-bad\n2,b-good\n4,b-good\n");
    code = run_score(sub, ans, NULL, out, sizeof out);
    CHECK(code == 1 && strstr(out, "sub.csv:5: index '2' appears again (first on line 3)"), "duplicate: %d\n%s",
          code, out);
    write_file(sub, "index,prediction\n1,a-good\n");
    code = run_score(sub, ans, NULL, out, sizeof out);
    CHECK(code == 1 && strstr(out, "label"), "missing column: %d\n%s", code, out);
    remove(ans);
    remove(sub);
    remove(tmp_path("score.png"));
}

int main(int argc, char **argv) {
    (void)argc;
    tmpdir_create("metrics");
    /* build/X/tests/test_metrics -> build/X/anomaly */
    static char bin[1024];
    snprintf(bin, sizeof bin, "%s", argv[0]);
    char *slash = strrchr(bin, '/');
    if (slash) {
        *slash = 0;
        slash = strrchr(bin, '/');
    }
    if (slash) {
        snprintf(slash, sizeof bin - (size_t)(slash - bin), "/anomaly");
        if (access(bin, X_OK) == 0) anomaly_bin = bin;
    }
    RUN(test_against_sklearn);
    RUN(test_hand_cases);
    RUN(test_pairwise_sum);
    RUN(test_label_out_of_range);
    RUN(test_print);
    RUN(test_confusion_png);
    RUN(test_score_command);
    tmpdir_remove();
    CHECK_MAIN_END();
}
