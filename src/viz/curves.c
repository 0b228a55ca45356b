/* Training curves: each run's log.csv drawn as loss and macro F1 per epoch
 * (viz.h). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anomaly/csv.h"
#include "anomaly/error.h"
#include "anomaly/viz.h"
#include "plot.h"

static double cell_number(const char *s) {
    if (!*s) return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

int run_log_read(const char *path, RunLog *log, char *err, size_t errlen) {
    memset(log, 0, sizeof *log);
    CsvTable t;
    if (csv_read(path, &t, err, errlen)) return -1;
    static const char *const need[] = {"epoch", "train_loss", "train_f1", "val_loss", "val_f1", "lr", "saved"};
    int col[7];
    for (int i = 0; i < 7; i++)
        if ((col[i] = csv_column_checked(&t, need[i], err, errlen)) < 0) {
            csv_free(&t);
            return -1;
        }
    int n = (int)t.n_rows;
    double **dst[6] = {&log->epoch, &log->train_loss, &log->train_f1, &log->val_loss, &log->val_f1, &log->lr};
    for (int k = 0; k < 6; k++) *dst[k] = xcalloc((size_t)n + 1, sizeof(double), "a training log");
    log->saved = xcalloc((size_t)n + 1, sizeof(int), "a training log");
    log->n = n;
    for (int r = 0; r < n; r++) {
        for (int k = 0; k < 6; k++) (*dst[k])[r] = cell_number(csv_cell(&t, (size_t)r, col[k]));
        log->saved[r] = strcmp(csv_cell(&t, (size_t)r, col[6]), "1") == 0;
        if (!isfinite(log->epoch[r])) {
            snprintf(err, errlen, "%s: line %d: epoch '%s' is not a number", path, t.line[r],
                     csv_cell(&t, (size_t)r, col[0]));
            csv_free(&t);
            run_log_free(log);
            return -1;
        }
    }
    csv_free(&t);
    return 0;
}

void run_log_free(RunLog *log) {
    free(log->epoch);
    free(log->train_loss);
    free(log->train_f1);
    free(log->val_loss);
    free(log->val_f1);
    free(log->lr);
    free(log->saved);
    memset(log, 0, sizeof *log);
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const RunLog *)a)->name, ((const RunLog *)b)->name);
}

int exp_logs_read(const char *exp_dir, RunLog **logs, int *n, char *err, size_t errlen) {
    *logs = NULL;
    *n = 0;
    DIR *d = opendir(exp_dir);
    if (!d) {
        snprintf(err, errlen, "%s: cannot read the experiment directory: %s", exp_dir, strerror(errno));
        return -1;
    }
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat st;
        if (snprintf(path, sizeof path, "%s/%s/log.csv", exp_dir, e->d_name) >= (int)sizeof path) continue;
        if (stat(path, &st) || !S_ISREG(st.st_mode)) continue;
        if (*n == cap) *logs = xrealloc(*logs, (size_t)(cap = cap ? 2 * cap : 8) * sizeof **logs, "run logs");
        if (run_log_read(path, &(*logs)[*n], err, errlen)) {
            closedir(d);
            exp_logs_free(*logs, *n);
            *logs = NULL;
            *n = 0;
            return -1;
        }
        snprintf((*logs)[*n].name, sizeof (*logs)[*n].name, "%s", e->d_name);
        (*n)++;
    }
    closedir(d);
    if (*n == 0) {
        snprintf(err, errlen, "%s: no run directory with a log.csv (is it an experiment of anomaly train?)", exp_dir);
        return -1;
    }
    qsort(*logs, (size_t)*n, sizeof **logs, by_name);
    return 0;
}

void exp_logs_free(RunLog *logs, int n) {
    for (int i = 0; i < n; i++) run_log_free(&logs[i]);
    free(logs);
}

/* Colours told apart also by most colour-blind readers (Okabe-Ito). */
static Rgb run_colour(int i) {
    static const Rgb c[8] = {{0, 114, 178}, {213, 94, 0},  {0, 158, 115}, {204, 121, 167},
                             {230, 159, 0}, {86, 180, 233}, {0, 0, 0},    {240, 228, 66}};
    return c[i % 8];
}

static void widen(double *lo, double *hi, const double *v, int n) {
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) {
            if (v[i] < *lo) *lo = v[i];
            if (v[i] > *hi) *hi = v[i];
        }
}

enum { W = 1000, H = 440, PANEL_W = 360, PANEL_H = 280, TOP = 56 };

void curves_render(Image *img, const RunLog *logs, int n, const char *title) {
    image_alloc(img, W, H);
    raster_clear(img, rgb(255, 255, 255));
    const Rgb ink = {40, 40, 40};
    double e0 = INFINITY, e1 = -INFINITY, l0 = INFINITY, l1 = -INFINITY, lr0 = INFINITY, lr1 = -INFINITY;
    for (int r = 0; r < n; r++) {
        widen(&e0, &e1, logs[r].epoch, logs[r].n);
        widen(&l0, &l1, logs[r].train_loss, logs[r].n);
        widen(&l0, &l1, logs[r].val_loss, logs[r].n);
        for (int i = 0; i < logs[r].n; i++)
            if (logs[r].lr[i] > 0) widen(&lr0, &lr1, &logs[r].lr[i], 1);
    }
    plot_pad_range(&e0, &e1);
    if (isfinite(l0)) l0 = l0 > 0 ? 0 : l0;
    plot_pad_range(&l0, &l1);
    Panel loss = {70, TOP, PANEL_W, PANEL_H, e0, e1, l0, l1 * 1.05, 0, 1, 0};
    Panel f1 = {560, TOP, PANEL_W, PANEL_H, e0, e1, 0, 1, 0, 1, 0};
    int have_lr = isfinite(lr0);
    if (have_lr) {
        loss.r_log = lr1 / lr0 > 10;
        loss.r0 = loss.r_log ? floor(log10(lr0) + 1e-9) : 0;
        loss.r1 = loss.r_log ? ceil(log10(lr1) - 1e-9) : lr1 * 1.1;
        if (loss.r1 <= loss.r0) loss.r1 = loss.r0 + 1;
    }
    raster_text(img, 70, 8, title ? title : "training curves", 2, ink);
    plot_axes(img, &loss, "loss per epoch", have_lr ? "learning rate" : NULL);
    plot_axes(img, &f1, "macro F1 per epoch", NULL);
    for (int r = 0; r < n; r++) {
        const RunLog *g = &logs[r];
        Rgb c = run_colour(r), pale = raster_mix(c, rgb(255, 255, 255), 0.55);
        if (have_lr) plot_polyline(img, &loss, g->epoch, g->lr, g->n, 1, 1, 0, pale);
        plot_polyline(img, &loss, g->epoch, g->train_loss, g->n, 0, 1, 1, c);
        plot_polyline(img, &loss, g->epoch, g->val_loss, g->n, 0, 2, 0, c);
        plot_polyline(img, &f1, g->epoch, g->train_f1, g->n, 0, 1, 1, c);
        plot_polyline(img, &f1, g->epoch, g->val_f1, g->n, 0, 2, 0, c);
        /* a single epoch draws no line: mark every point then */
        for (int i = 0; i < g->n; i++) {
            int has_val = isfinite(g->val_loss[i]);
            double yl = has_val ? g->val_loss[i] : g->train_loss[i], yf = has_val ? g->val_f1[i] : g->train_f1[i];
            if (g->saved[i]) {
                plot_marker(img, &loss, g->epoch[i], yl, 7, ink);
                plot_marker(img, &loss, g->epoch[i], yl, 5, c);
                plot_marker(img, &f1, g->epoch[i], yf, 7, ink);
                plot_marker(img, &f1, g->epoch[i], yf, 5, c);
            } else if (g->n == 1) {
                plot_marker(img, &loss, g->epoch[i], yl, 3, c);
                plot_marker(img, &f1, g->epoch[i], yf, 3, c);
            }
        }
    }
    /* legend: runs, then what each line style means */
    raster_text(img, loss.x + (PANEL_W - raster_text_width("epoch", 1)) / 2, TOP + PANEL_H + 20, "epoch", 1, ink);
    raster_text(img, f1.x + (PANEL_W - raster_text_width("epoch", 1)) / 2, TOP + PANEL_H + 20, "epoch", 1, ink);
    int y = TOP + PANEL_H + 44, x = 70;
    for (int r = 0; r < n; r++) {
        int tw = raster_text_width(logs[r].name, 1);
        if (x + 30 + tw > W - 20) {
            x = 70;
            y += 14;
        }
        raster_rect(img, x, y + 2, 20, 3, run_colour(r));
        raster_text(img, x + 26, y, logs[r].name, 1, ink);
        x += 26 + tw + 24;
    }
    y += 18;
    raster_line(img, 70, y + 3, 90, y + 3, 2, ink);
    raster_text(img, 96, y, "validation", 1, ink);
    for (int s = 0; s < 20; s += 8) raster_line(img, 180 + s, y + 3, 180 + s + 4, y + 3, 1, ink);
    raster_text(img, 206, y, "train", 1, ink);
    raster_rect(img, 250, y, 7, 7, ink);
    raster_text(img, 262, y, "saved epoch", 1, ink);
    if (have_lr) {
        raster_line(img, 340, y + 3, 360, y + 3, 1, rgb(160, 160, 160));
        raster_text(img, 366, y, loss.r_log ? "learning rate (right axis, log scale)" : "learning rate (right axis)",
                    1, ink);
    }
}

int curves_write(const char *exp_dir, const char *out_png, char *err, size_t errlen) {
    RunLog *logs;
    int n;
    if (exp_logs_read(exp_dir, &logs, &n, err, errlen)) return -1;
    char title[512];
    snprintf(title, sizeof title, "training curves: %s", exp_dir);
    Image img;
    curves_render(&img, logs, n, title);
    image_write_png(out_png, &img);
    image_free(&img);
    exp_logs_free(logs, n);
    return 0;
}
