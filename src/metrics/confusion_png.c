/* The confusion matrix as a picture a person can read (metrics.h): a grid of
 * shaded cells with counts, label names on the axes, drawn with the raster
 * module's bitmap font (raster.h) so the library needs no font files. */
#include "anomaly/metrics.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/image.h"
#include "anomaly/raster.h"

#define ADV_X RASTER_ADV_X
#define ADV_Y RASTER_ADV_Y
#define GLYPH_H RASTER_GLYPH_H

static Rgb blend(Rgb to, double t) { return raster_mix(rgb(255, 255, 255), to, t); }

/* Length of the class part of a label (before the first '-'). */
static size_t class_len(const char *s) { return strcspn(s, "-"); }

static int same_class(const char *a, const char *b) {
    size_t la = class_len(a), lb = class_len(b);
    return la == lb && strncmp(a, b, la) == 0;
}

void confusion_png_write(const char *path, const size_t *cm, int n_classes, const char *const *names,
                         const int *show, int n_show, const char *title) {
    size_t C = (size_t)n_classes;
    int *idx = xmalloc((size_t)(n_classes > 0 ? n_classes : 1) * sizeof *idx, "confusion plot");
    if (!show) {
        n_show = n_classes;
        for (int i = 0; i < n_classes; i++) idx[i] = i;
    } else {
        if (n_show > n_classes) fatal("confusion plot: %d labels to show but only %d classes", n_show, n_classes);
        for (int i = 0; i < n_show; i++) {
            if (show[i] < 0 || show[i] >= n_classes) fatal("confusion plot: label %d out of range", show[i]);
            idx[i] = show[i];
        }
    }
    if (n_show < 1) fatal("confusion plot: no labels to draw");
    size_t max_count = 0, *row_total = xcalloc(C, sizeof *row_total, "confusion plot");
    for (size_t t = 0; t < C; t++)
        for (size_t p = 0; p < C; p++) {
            row_total[t] += cm[t * C + p];
            if (cm[t * C + p] > max_count) max_count = cm[t * C + p];
        }
    /* Large matrices use the font at 1:1, small ones doubled. */
    int f = n_show <= 30 ? 2 : 1;
    char buf[32];
    int digits = snprintf(buf, sizeof buf, "%zu", max_count);
    int cell = digits * ADV_X * f + 3;
    if (cell < ADV_Y * f + 4) cell = ADV_Y * f + 4;
    int name_w = 0;
    for (int i = 0; i < n_show; i++) {
        char nb[24];
        const char *nm = names ? names[idx[i]] : (snprintf(nb, sizeof nb, "%d", idx[i]), nb);
        int w = raster_text_width(nm, f);
        if (w > name_w) name_w = w;
    }
    int pad = 6 * f, grid = n_show * cell + 1;
    int title_h = ADV_Y * f * 2 + pad;
    /* The axis captions take a line each beside the names. */
    int left = pad + ADV_Y * f + pad + name_w + pad, top = title_h + ADV_Y * f + pad + name_w + pad;
    char head[2][512];
    snprintf(head[0], sizeof head[0], "%s", title ? title : "confusion matrix");
    snprintf(head[1], sizeof head[1], "rows: true label; columns: predicted label; shade: count / row total");
    int width = left + grid + pad + name_w + pad, height = top + grid + pad + name_w + pad;
    for (int k = 0; k < 2; k++)
        if (pad + raster_text_width(head[k], f) + pad > width)
            width = pad + raster_text_width(head[k], f) + pad;
    Image img;
    image_alloc(&img, width, height);
    memset(img.px, 255, (size_t)width * (size_t)height * 3);
    const Rgb black = {0, 0, 0}, white = {255, 255, 255}, rule = {215, 215, 215}, group = {70, 70, 70};
    const Rgb diag = {33, 102, 172}, off = {190, 30, 45};
    raster_text(&img, pad, pad, head[0], f, black);
    raster_text(&img, pad, pad + ADV_Y * f, head[1], f, black);
    raster_text(&img, left + (grid - raster_text_width("predicted", f)) / 2, title_h, "predicted", f, black);
    raster_text_up(&img, pad, top + (grid + raster_text_width("true", f)) / 2, "true", f, black);
    /* Cells: shade, then the count centred; text turns white on dark shades. */
    for (int i = 0; i < n_show; i++)
        for (int j = 0; j < n_show; j++) {
            size_t count = cm[(size_t)idx[i] * C + (size_t)idx[j]];
            int x = left + j * cell, y = top + i * cell;
            if (!count) continue;
            double t = row_total[idx[i]] ? (double)count / (double)row_total[idx[i]] : 0;
            double shade = 0.12 + 0.88 * t; /* a single error still shows */
            raster_rect(&img, x + 1, y + 1, cell - 1, cell - 1, blend(i == j ? diag : off, shade));
            snprintf(buf, sizeof buf, "%zu", count);
            int tw = raster_text_width(buf, f);
            raster_text(&img, x + (cell - tw + 1) / 2, y + (cell - GLYPH_H * f + 1) / 2, buf, f,
                      shade > 0.55 ? white : black);
        }
    /* Rules between cells, darker between classes. */
    for (int i = 0; i <= n_show; i++) {
        int boundary = i == 0 || i == n_show ||
                       (names && !same_class(names[idx[i - 1]], names[idx[i]]));
        Rgb c = boundary ? group : rule;
        raster_rect(&img, left + i * cell, top, 1, grid, c);
        raster_rect(&img, left, top + i * cell, grid, 1, c);
    }
    /* Names: rows left (right-aligned) and right, columns above and below. */
    for (int i = 0; i < n_show; i++) {
        char nb[24];
        const char *nm = names ? names[idx[i]] : (snprintf(nb, sizeof nb, "%d", idx[i]), nb);
        int tw = raster_text_width(nm, f), mid = (cell - GLYPH_H * f + 1) / 2;
        raster_text(&img, left - pad - tw, top + i * cell + mid, nm, f, black);
        raster_text(&img, left + grid + pad, top + i * cell + mid, nm, f, black);
        raster_text_up(&img, left + i * cell + mid, top - pad, nm, f, black);
        raster_text_up(&img, left + i * cell + mid, top + grid + pad + tw, nm, f, black);
    }
    image_write_png(path, &img);
    image_free(&img);
    free(row_total);
    free(idx);
}
