/* Line charts on the raster (plot.h). */
#include "plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int plot_ticks(double lo, double hi, int want, double *first, double *step) {
    double span = hi - lo;
    if (!(span > 0) || want < 1) {
        *first = lo;
        *step = 1;
        return 1;
    }
    double raw = span / want, mag = pow(10, floor(log10(raw))), s = mag;
    if (raw / mag > 5)
        s = 10 * mag;
    else if (raw / mag > 2)
        s = 5 * mag;
    else if (raw / mag > 1)
        s = 2 * mag;
    *step = s;
    *first = ceil(lo / s - 1e-9) * s;
    return (int)floor((hi - *first) / s + 1e-9) + 1;
}

void plot_pad_range(double *lo, double *hi) {
    if (!isfinite(*lo) || !isfinite(*hi)) {
        *lo = 0;
        *hi = 1;
    }
    if (*hi <= *lo) {
        *lo -= 0.5;
        *hi += 0.5;
    }
}

int plot_px(const Panel *p, double x) {
    return p->x + (int)lround((x - p->x0) / (p->x1 - p->x0) * (p->w - 1));
}

int plot_py(const Panel *p, double y) {
    return p->y + p->h - 1 - (int)lround((y - p->y0) / (p->y1 - p->y0) * (p->h - 1));
}

int plot_pr(const Panel *p, double v) {
    double u = p->r_log ? log10(v) : v;
    return p->y + p->h - 1 - (int)lround((u - p->r0) / (p->r1 - p->r0) * (p->h - 1));
}

/* Shortest %g that tells neighbouring ticks apart. */
static void tick_label(char *buf, size_t len, double v, double step) {
    if (fabs(v) < step * 1e-6) v = 0;
    for (int prec = 1; prec < 8; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        double back;
        if (sscanf(buf, "%lf", &back) == 1 && fabs(back - v) < step * 1e-3) return;
    }
}

void plot_axes(Image *img, const Panel *p, const char *title, const char *right) {
    const Rgb ink = {40, 40, 40}, grid = {228, 228, 228};
    char buf[32];
    double first, step;
    int n = plot_ticks(p->y0, p->y1, 5, &first, &step);
    for (int i = 0; i < n; i++) {
        double v = first + i * step;
        int y = plot_py(p, v);
        raster_rect(img, p->x, y, p->w, 1, grid);
        raster_rect(img, p->x - 4, y, 4, 1, ink);
        tick_label(buf, sizeof buf, v, step);
        raster_text(img, p->x - 6 - raster_text_width(buf, 1), y - 3, buf, 1, ink);
    }
    n = plot_ticks(p->x0, p->x1, 8, &first, &step);
    if (step < 1) {
        step = 1;
        first = ceil(p->x0);
        n = (int)floor(p->x1 - first) + 1;
    }
    for (int i = 0; i < n; i++) {
        double v = first + i * step;
        int x = plot_px(p, v);
        raster_rect(img, x, p->y + p->h, 1, 4, ink);
        snprintf(buf, sizeof buf, "%.0f", v);
        raster_text(img, x - raster_text_width(buf, 1) / 2, p->y + p->h + 6, buf, 1, ink);
    }
    if (right) {
        const Rgb lr = {120, 120, 120};
        if (p->r_log) {
            for (int e = (int)ceil(p->r0 - 1e-9); e <= (int)floor(p->r1 + 1e-9); e++) {
                int y = plot_pr(p, pow(10, e));
                raster_rect(img, p->x + p->w, y, 4, 1, lr);
                snprintf(buf, sizeof buf, "1e%d", e);
                raster_text(img, p->x + p->w + 8, y - 3, buf, 1, lr);
            }
        } else {
            n = plot_ticks(p->r0, p->r1, 5, &first, &step);
            for (int i = 0; i < n; i++) {
                double v = first + i * step;
                int y = plot_pr(p, v);
                raster_rect(img, p->x + p->w, y, 4, 1, lr);
                tick_label(buf, sizeof buf, v, step);
                raster_text(img, p->x + p->w + 8, y - 3, buf, 1, lr);
            }
        }
        raster_text_up(img, p->x + p->w + 52, p->y + (p->h + raster_text_width(right, 1)) / 2, right, 1, lr);
    }
    raster_frame(img, p->x - 1, p->y - 1, p->w + 2, p->h + 2, ink);
    if (title) raster_text(img, p->x, p->y - 14, title, 1, ink);
}

void plot_polyline(Image *img, const Panel *p, const double *x, const double *y, int n, int right,
                   int width, int dashed, Rgb c) {
    for (int i = 0; i + 1 < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || !isfinite(x[i + 1]) || !isfinite(y[i + 1])) continue;
        if (right && p->r_log && (y[i] <= 0 || y[i + 1] <= 0)) continue;
        int ax = plot_px(p, x[i]), bx = plot_px(p, x[i + 1]);
        int ay = right ? plot_pr(p, y[i]) : plot_py(p, y[i]);
        int by = right ? plot_pr(p, y[i + 1]) : plot_py(p, y[i + 1]);
        if (!dashed) {
            raster_line(img, ax, ay, bx, by, width, c);
            continue;
        }
        /* dashes: the segment in 8-pixel steps along its longer side */
        int len = abs(bx - ax) > abs(by - ay) ? abs(bx - ax) : abs(by - ay);
        for (int s = 0; s < len; s += 8) {
            int e = s + 4 < len ? s + 4 : len;
            raster_line(img, ax + (bx - ax) * s / len, ay + (by - ay) * s / len, ax + (bx - ax) * e / len,
                        ay + (by - ay) * e / len, width, c);
        }
        if (len == 0) raster_line(img, ax, ay, bx, by, width, c);
    }
}

void plot_marker(Image *img, const Panel *p, double x, double y, int size, Rgb c) {
    if (!isfinite(x) || !isfinite(y)) return;
    raster_rect(img, plot_px(p, x) - size / 2, plot_py(p, y) - size / 2, size, size, c);
}
