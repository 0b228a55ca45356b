/* The run report (viz.h): one HTML page with every picture inlined, so it
 * can be mailed or opened offline. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anomaly/atomic_file.h"
#include "anomaly/csv.h"
#include "anomaly/dataset.h"
#include "anomaly/error.h"
#include "anomaly/metrics.h"
#include "anomaly/npy.h"
#include "anomaly/raster.h"
#include "anomaly/tester.h"
#include "anomaly/transforms.h"
#include "anomaly/viz.h"

static int is_file(const char *p) {
    struct stat st;
    return p && stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static void html_text(FILE *f, const char *s) {
    for (; *s; s++) switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
}

static void base64(FILE *f, const unsigned char *b, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)b[i] << 16 | (i + 1 < n ? (unsigned)b[i + 1] << 8 : 0) | (i + 2 < n ? b[i + 2] : 0);
        fputc(tab[v >> 18 & 63], f);
        fputc(tab[v >> 12 & 63], f);
        fputc(i + 1 < n ? tab[v >> 6 & 63] : '=', f);
        fputc(i + 2 < n ? tab[v & 63] : '=', f);
    }
}

/* A PNG file as an inline <img>. */
static void img_file(FILE *f, const char *png, const char *alt) {
    FILE *in = fopen(png, "rb");
    if (!in) fatal("report: cannot read back %s: %s", png, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    unsigned char *b = xmalloc(cap, "a report picture");
    for (size_t got; (got = fread(b + n, 1, cap - n, in)) > 0;)
        if ((n += got) == cap) b = xrealloc(b, cap *= 2, "a report picture");
    fclose(in);
    fputs("<img alt=\"", f);
    html_text(f, alt);
    fputs("\" src=\"data:image/png;base64,", f);
    base64(f, b, n);
    fputs("\">\n", f);
    free(b);
}

/* An image as an inline <img>, through a temporary PNG beside the page. */
static void img_inline(FILE *f, const Image *img, const char *tmp_png, const char *alt) {
    image_write_png(tmp_png, img);
    img_file(f, tmp_png, alt);
    remove(tmp_png);
}

static const char style[] =
    "body{font-family:sans-serif;margin:2em auto;max-width:1100px;color:#222}"
    "h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}"
    "table{border-collapse:collapse;font-size:.85em}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "img{max-width:100%;image-rendering:pixelated}figure{display:inline-block;margin:.5em;vertical-align:top}"
    "figcaption{font-size:.8em}pre{background:#f6f6f6;padding:.5em;overflow:auto;font-size:.8em}"
    ".note{color:#666;font-style:italic}.kv{columns:4;font-size:.85em}.kv b{font-weight:600;color:#555}";

/* index -> label of an index,label file. */
typedef struct Table {
    CsvTable t;
    int idx, lab;
} Table;

static int table_read(const char *path, Table *tb, char *err, size_t errlen) {
    if (csv_read(path, &tb->t, err, errlen)) return -1;
    if ((tb->idx = csv_column_checked(&tb->t, "index", err, errlen)) < 0 ||
        (tb->lab = csv_column_checked(&tb->t, "label", err, errlen)) < 0) {
        csv_free(&tb->t);
        return -1;
    }
    return 0;
}

static const char *table_find(const Table *tb, const char *index) {
    for (size_t r = 0; r < tb->t.n_rows; r++)
        if (strcmp(csv_cell(&tb->t, r, tb->idx), index) == 0) return csv_cell(&tb->t, r, tb->lab);
    return NULL;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Per-label table and confusion matrix of the submission against the
 * answers. Returns -1 with err on a file that does not fit. */
static int section_scores(FILE *f, const Table *sub, const Table *ans, const char *tmp_png, char *err, size_t errlen) {
    size_t n = ans->t.n_rows;
    const char **truth_s = xmalloc((n + 1) * sizeof *truth_s, "report"), **pred_s = xmalloc((n + 1) * sizeof *pred_s, "report");
    for (size_t r = 0; r < n; r++) {
        const char *idx = csv_cell(&ans->t, r, ans->idx);
        truth_s[r] = csv_cell(&ans->t, r, ans->lab);
        pred_s[r] = table_find(sub, idx);
        if (!pred_s[r]) {
            snprintf(err, errlen, "%s: no row for index '%s' of %s", sub->t.path, idx, ans->t.path);
            free(truth_s);
            free(pred_s);
            return -1;
        }
    }
    /* the labels: the sorted union of both columns */
    char **names = xmalloc((2 * n + 1) * sizeof *names, "report");
    int C = 0;
    for (size_t r = 0; r < n; r++) {
        names[C++] = (char *)truth_s[r];
        names[C++] = (char *)pred_s[r];
    }
    qsort(names, (size_t)C, sizeof *names, str_cmp);
    int u = 0;
    for (int i = 0; i < C; i++)
        if (!u || strcmp(names[u - 1], names[i])) names[u++] = names[i];
    C = u;
    int *truth = xmalloc((n + 1) * sizeof *truth, "report"), *pred = xmalloc((n + 1) * sizeof *pred, "report");
    for (size_t r = 0; r < n; r++) {
        truth[r] = (int)((char **)bsearch(&truth_s[r], names, (size_t)C, sizeof *names, str_cmp) - names);
        pred[r] = (int)((char **)bsearch(&pred_s[r], names, (size_t)C, sizeof *names, str_cmp) - names);
    }
    Scores s;
    scores_compute(&s, truth, pred, n, C);
    fprintf(f, "<p>%zu test images: macro F1 <b>%.4f</b>, accuracy %.4f, macro precision %.4f, macro recall %.4f "
               "(scikit-learn semantics, as <code>anomaly score</code>).</p>\n",
            n, s.macro_f1, s.accuracy, s.macro_precision, s.macro_recall);
    fputs("<h2>Per label</h2>\n<table><tr><th>label</th><th>precision</th><th>recall</th><th>F1</th><th>support</th>"
          "<th>predicted</th></tr>\n", f);
    for (int i = 0; i < s.n_scored; i++) {
        const LabelScore *l = &s.label[i];
        fputs("<tr><td>", f);
        html_text(f, names[l->label]);
        fprintf(f, "</td><td class=n>%.3f</td><td class=n>%.3f</td><td class=n>%.3f</td><td class=n>%zu</td>"
                   "<td class=n>%zu</td></tr>\n", l->precision, l->recall, l->f1, l->support, l->predicted);
    }
    fputs("</table>\n<h2>Confusion matrix</h2>\n", f);
    int *show = xmalloc((size_t)s.n_scored * sizeof *show + 1, "report");
    for (int i = 0; i < s.n_scored; i++) show[i] = s.label[i].label;
    confusion_png_write(tmp_png, s.confusion, C, (const char *const *)names, show, s.n_scored, "test set");
    img_file(f, tmp_png, "confusion matrix");
    remove(tmp_png);
    free(show);
    scores_free(&s);
    free(truth);
    free(pred);
    free(names);
    free(truth_s);
    free(pred_s);
    return 0;
}

typedef struct Wrong {
    size_t row;
    int pred, truth;
    double prob;
} Wrong;

static int by_prob(const void *a, const void *b) {
    const Wrong *x = a, *y = b;
    if (x->prob != y->prob) return x->prob < y->prob ? 1 : -1;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* The most confidently wrong test images with CAMs. Returns 0, or 1 when
 * the section could not be made (a note says why), or -1 on a bad file. */
static int section_worst(FILE *f, const ReportConfig *c, const Table *ans, const char *exp_name, const char *tmp_png,
                         char *err, size_t errlen) {
    char path[4096], labels_path[4096], ckpt[4096];
    path_printf(path, sizeof path, "%s/features_%s.npy", c->exp_dir, exp_name);
    path_printf(labels_path, sizeof labels_path, "%s/labels.csv", c->exp_dir);
    if (!c->data_path || !is_file(path) || !is_file(labels_path)) {
        fprintf(f, "<p class=note>Needs %s and --data (run <code>anomaly test</code>).</p>\n", path);
        return 1;
    }
    TrainArgs ta;
    TestModel tm;
    char **labels;
    int n_labels;
    path_printf(path, sizeof path, "%s/train_args.csv", c->exp_dir);
    if (train_args_read(path, &ta, err, errlen)) return -1;
    int bad = test_model_from_args(&ta, path, &tm, err, errlen);
    train_args_free(&ta);
    if (bad) return -1;
    if (labels_read(labels_path, &labels, &n_labels, err, errlen)) return -1;
    Dataset ds;
    if (dataset_open(c->data_path, &ds, err, errlen)) {
        labels_free(labels, n_labels);
        return -1;
    }
    path_printf(path, sizeof path, "%s/features_%s.npy", c->exp_dir, exp_name);
    NpyArray a;
    bad = npy_read(path, &a, err, errlen);
    if (!bad && (a.ndim != 3 || a.shape[1] != (int64_t)ds.n_test || a.shape[2] != n_labels)) {
        snprintf(err, errlen, "%s: shape does not fit %zu test images of %d labels", path, ds.n_test, n_labels);
        npy_free(&a);
        bad = 1;
    }
    if (bad) {
        labels_free(labels, n_labels);
        dataset_free(&ds);
        return -1;
    }
    real *feat = npy_to_real(&a);
    const int K = (int)a.shape[0], C = n_labels;
    const size_t N = ds.n_test;
    npy_free(&a);
    /* the fold mean's softmax, as the submission's argmax */
    Wrong *w = xmalloc((N + 1) * sizeof *w, "report");
    size_t n_wrong = 0;
    double *mean = xmalloc((size_t)C * sizeof *mean, "report");
    for (size_t i = 0; i < N; i++) {
        const char *truth = table_find(ans, ds.test_index[i]);
        if (!truth) continue;
        int best = 0;
        for (int k = 0; k < C; k++) {
            mean[k] = 0;
            for (int j = 0; j < K; j++) mean[k] += feat[((size_t)j * N + i) * C + k];
            mean[k] /= K;
            if (mean[k] > mean[best]) best = k;
        }
        if (strcmp(labels[best], truth) == 0) continue;
        double z = 0;
        for (int k = 0; k < C; k++) z += exp(mean[k] - mean[best]);
        int t = -1;
        for (int k = 0; k < C; k++)
            if (strcmp(labels[k], truth) == 0) t = k;
        w[n_wrong++] = (Wrong){i, best, t, 1 / z};
    }
    free(mean);
    free(feat);
    qsort(w, n_wrong, sizeof *w, by_prob);
    /* the first run's model draws the maps (labels matched by name: a
     * one-class run has its own list) */
    int rc = 0, n_ml;
    char **ml;
    Model *m = exp_first_model(c->exp_dir, &tm, &ml, &n_ml, ckpt, sizeof ckpt, err, errlen);
    if (!m) {
        rc = -1;
    } else {
        size_t show = n_wrong < (size_t)c->worst ? n_wrong : (size_t)c->worst;
        fprintf(f, "<p>%zu of %zu test images are wrong; the %zu the folds were surest of, with the Grad-CAM "
                   "(<code>%s</code>) of the predicted and of the true label from <code>",
                n_wrong, N, show, cam_layer(m));
        html_text(f, ckpt);
        fputs("</code>.</p>\n", f);
        for (size_t i = 0; i < show && !rc; i++) {
            Image raw, im;
            if (image_read(ds.test_path[w[i].row], &raw, err, errlen)) {
                rc = -1;
                break;
            }
            image_resize(&im, &raw, tm.img_size, tm.img_size);
            image_free(&raw);
            real *x = xmalloc((size_t)3 * tm.img_size * tm.img_size * sizeof(real), "report");
            image_normalize(x, &im);
            int scale = tm.img_size >= 128 ? 1 : (128 + tm.img_size - 1) / tm.img_size;
            for (int side = 0; side < 2; side++) {
                int want = side ? w[i].truth : w[i].pred, lab = -1;
                for (int k = 0; want >= 0 && k < n_ml; k++)
                    if (strcmp(ml[k], labels[want]) == 0) lab = k;
                if (lab < 0) continue;
                Cam cam;
                cam_compute(&cam, m, x, tm.img_size, tm.img_size, lab, tm.scale);
                char l1[300], l2[300];
                snprintf(l1, sizeof l1, "%s: %s", side ? "true" : "predicted", ml[lab]);
                if (side)
                    snprintf(l2, sizeof l2, "logit %.2f", (double)cam.logits[lab]);
                else
                    snprintf(l2, sizeof l2, "logit %.2f, fold mean p %.2f", (double)cam.logits[lab], w[i].prob);
                Image pic;
                cam_overlay(&pic, &im, &cam, scale, l1, l2);
                fputs("<figure>", f);
                img_inline(f, &pic, tmp_png, l1);
                fputs("<figcaption>", f);
                html_text(f, ds.test_file[w[i].row]);
                fputs("</figcaption></figure>\n", f);
                image_free(&pic);
                cam_free(&cam);
            }
            free(x);
            image_free(&im);
        }
        model_free(m);
        labels_free(ml, n_ml);
    }
    free(w);
    labels_free(labels, n_labels);
    dataset_free(&ds);
    return rc;
}

int report_write(const ReportConfig *c, const char *out_html, char *err, size_t errlen) {
    char path[4096], tmp_png[4096], sub_path[4096], ans_path[4096];
    const char *slash = strrchr(c->exp_dir, '/');
    char exp_name[256];
    snprintf(exp_name, sizeof exp_name, "%s", slash && slash[1] ? slash + 1 : c->exp_dir);
    size_t len = strlen(exp_name);
    if (len > 1 && exp_name[len - 1] == '/') exp_name[len - 1] = '\0';
    path_printf(tmp_png, sizeof tmp_png, "%s.picture.png", out_html);

    /* everything the page needs is read or checked before it is opened */
    TrainArgs ta;
    path_printf(path, sizeof path, "%s/train_args.csv", c->exp_dir);
    if (train_args_read(path, &ta, err, errlen)) return -1;
    RunLog *logs;
    int n_runs;
    if (exp_logs_read(c->exp_dir, &logs, &n_runs, err, errlen)) {
        train_args_free(&ta);
        return -1;
    }
    if (c->submission) snprintf(sub_path, sizeof sub_path, "%s", c->submission);
    else path_printf(sub_path, sizeof sub_path, "%s/sub_baseline_%s.csv", c->exp_dir, exp_name);
    if (c->answers) snprintf(ans_path, sizeof ans_path, "%s", c->answers);
    else if (c->data_path) path_printf(ans_path, sizeof ans_path, "%s/test_answer.csv", c->data_path);
    else ans_path[0] = '\0';
    Table sub, ans;
    int have_sub = 0, have_ans = 0, rc = 0;
    if ((c->submission || is_file(sub_path)) && table_read(sub_path, &sub, err, errlen) == 0) have_sub = 1;
    else if (c->submission) rc = -1;
    if (!rc && (c->answers || is_file(ans_path)) && table_read(ans_path, &ans, err, errlen) == 0) have_ans = 1;
    else if (!rc && c->answers) rc = -1;
    char *explain = NULL;
    if (!rc && c->explain) {
        FILE *e = fopen(c->explain, "rb");
        if (!e) {
            snprintf(err, errlen, "%s: cannot read the --explain text: %s", c->explain, strerror(errno));
            rc = -1;
        } else {
            size_t cap = 4096, n = 0;
            explain = xmalloc(cap, "the explain text");
            for (size_t got; (got = fread(explain + n, 1, cap - n - 1, e)) > 0;)
                if ((n += got) == cap - 1) explain = xrealloc(explain, cap *= 2, "the explain text");
            explain[n] = '\0';
            fclose(e);
        }
    }
    if (rc) {
        if (have_sub) csv_free(&sub.t);
        if (have_ans) csv_free(&ans.t);
        exp_logs_free(logs, n_runs);
        train_args_free(&ta);
        return -1;
    }

    AtomicFile af;
    atomic_file_open(&af, out_html);
    FILE *f = af.fp;
    fprintf(f, "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>anomaly run %s</title>\n<style>%s</style>"
               "</head><body>\n<h1>anomaly run report: ", exp_name, style);
    html_text(f, c->exp_dir);
    fputs("</h1>\n<h2>Settings</h2>\n<div class=kv>\n", f);
    for (int i = 0; i < ta.count; i++) {
        fputs("<div><b>", f);
        html_text(f, ta.key[i]);
        fputs("</b> ", f);
        html_text(f, ta.value[i]);
        fputs("</div>\n", f);
    }
    fputs("</div>\n<h2>Training curves</h2>\n", f);
    Image img;
    char title[512];
    snprintf(title, sizeof title, "training curves: %s", exp_name);
    curves_render(&img, logs, n_runs, title);
    img_inline(f, &img, tmp_png, "training curves");
    image_free(&img);
    fputs("<table><tr><th>run</th><th>epochs</th><th>last train loss</th><th>last val loss</th><th>best val F1</th>"
          "<th>saved epochs</th></tr>\n", f);
    for (int r = 0; r < n_runs; r++) {
        const RunLog *g = &logs[r];
        double best = NAN;
        char saved[512] = "";
        size_t sl = 0;
        for (int i = 0; i < g->n; i++) {
            if (isfinite(g->val_f1[i]) && !(g->val_f1[i] <= best)) best = g->val_f1[i];
            if (g->saved[i] && sl + 16 < sizeof saved)
                sl += (size_t)snprintf(saved + sl, sizeof saved - sl, "%s%.0f", sl ? " " : "", g->epoch[i]);
        }
        fputs("<tr><td>", f);
        html_text(f, g->name);
        fprintf(f, "</td><td class=n>%d</td><td class=n>%.4f</td><td class=n>%.4f</td><td class=n>%.4f</td><td>%s</td></tr>\n",
                g->n, g->n ? g->train_loss[g->n - 1] : NAN, g->n ? g->val_loss[g->n - 1] : NAN, best, saved);
    }
    fputs("</table>\n<h2>Test scores</h2>\n", f);
    if (have_sub && have_ans) {
        if (section_scores(f, &sub, &ans, tmp_png, err, errlen)) rc = -1;
    } else {
        fprintf(f, "<p class=note>Needs a submission (%s: run <code>anomaly test</code>) and answers (--answers, or "
                   "test_answer.csv in --data).</p>\n", have_sub ? "found" : "none");
    }
    if (!rc) {
        fputs("<h2>Worst-classified test images</h2>\n", f);
        if (!have_ans) fputs("<p class=note>Needs the answers.</p>\n", f);
        else if (c->worst > 0 && section_worst(f, c, &ans, exp_name, tmp_png, err, errlen) < 0) rc = -1;
    }
    if (!rc && explain) {
        fputs("<h2>Ensemble: what the blend changed (<code>--explain</code>)</h2>\n<pre>", f);
        html_text(f, explain);
        fputs("</pre>\n", f);
    }
    fputs("</body></html>\n", f);
    if (rc) atomic_file_abort(&af);
    else atomic_file_commit(&af);
    free(explain);
    if (have_sub) csv_free(&sub.t);
    if (have_ans) csv_free(&ans.t);
    exp_logs_free(logs, n_runs);
    train_args_free(&ta);
    return rc;
}
