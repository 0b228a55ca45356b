/* Line charts on the raster (raster.h): a panel maps data coordinates to a
 * pixel box, draws its frame with round-number ticks, and draws polylines
 * and markers in data coordinates. Used by the training curves. */
#ifndef ANOMALY_VIZ_PLOT_H
#define ANOMALY_VIZ_PLOT_H

#include "anomaly/raster.h"

typedef struct Panel {
    int x, y, w, h;       /* the plotting box in pixels */
    double x0, x1;        /* data range along x */
    double y0, y1;        /* data range along the left axis */
    double r0, r1;        /* the right axis (log10 of the value when r_log) */
    int r_log;
} Panel;

/* Round-number ticks covering [lo, hi]: *step and the first tick; returns
 * their count (at most about `want` + 2). */
int plot_ticks(double lo, double hi, int want, double *first, double *step);
/* Widens [*lo, *hi] to a range with room: equal ends grow by 1, NaN or
 * infinite ends become 0..1. */
void plot_pad_range(double *lo, double *hi);

/* Frame, grid lines, left ticks labelled, x ticks as whole numbers, the
 * title above; with right != NULL the right axis labelled (powers of ten
 * when r_log). */
void plot_axes(Image *img, const Panel *p, const char *title, const char *right);
int plot_px(const Panel *p, double x);
int plot_py(const Panel *p, double y);
int plot_pr(const Panel *p, double v); /* a value on the right axis */
/* Joins consecutive finite points (x[i], y[i]); NaN breaks the line.
 * right: y on the right axis. dashed: every other 4 pixels left out. */
void plot_polyline(Image *img, const Panel *p, const double *x, const double *y, int n, int right,
                   int width, int dashed, Rgb c);
/* A filled square of side `size` centred on a point (finite points only). */
void plot_marker(Image *img, const Panel *p, double x, double y, int size, Rgb c);

#endif
