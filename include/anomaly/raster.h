/* Drawing on 8-bit RGB images (image.h): filled rectangles, lines, a 5 x 8
 * bitmap font, a heat-map colour scale and nearest-neighbour blits. Every
 * picture the project writes (confusion matrix, curves, augmentation and
 * CAM sheets, the synth contact sheet) draws with these; files are written
 * with image_write_png. Everything clips at the image's edges, so callers
 * may draw partly outside. */
#ifndef ANOMALY_RASTER_H
#define ANOMALY_RASTER_H

#include <stdint.h>

#include "anomaly/image.h"

typedef struct Rgb {
    uint8_t r, g, b;
} Rgb;

/* Glyph cell: 5 columns, 8 rows (capitals and digits in rows 0-6, row 7 for
 * descenders and the underscore); text advances by one blank column and
 * lines by one blank row. */
#define RASTER_GLYPH_W 5
#define RASTER_GLYPH_H 8
#define RASTER_ADV_X (RASTER_GLYPH_W + 1)
#define RASTER_ADV_Y (RASTER_GLYPH_H + 1)

/* The glyph of a printable ASCII character: RASTER_GLYPH_H rows, bit 4
 * (0x10) the leftmost column. NULL for anything else. */
const uint8_t *raster_glyph(char c);

static inline Rgb rgb(uint8_t r, uint8_t g, uint8_t b) {
    Rgb c = {r, g, b};
    return c;
}

void raster_clear(Image *img, Rgb c);
void raster_pixel(Image *img, int x, int y, Rgb c);
/* The pixel at (x, y); (x, y) must lie inside. */
Rgb raster_get(const Image *img, int x, int y);
void raster_rect(Image *img, int x, int y, int w, int h, Rgb c);
/* An unfilled rectangle, one pixel wide, around [x, x+w) x [y, y+h). */
void raster_frame(Image *img, int x, int y, int w, int h, Rgb c);
/* A straight line from (x0, y0) to (x1, y1), both ends included
 * (Bresenham), `width` pixels thick (a square pen). */
void raster_line(Image *img, int x0, int y0, int x1, int y1, int width, Rgb c);

/* Text with its top-left corner at (x, y), each font dot scale x scale
 * pixels; characters outside printable ASCII are drawn as '?'. */
void raster_text(Image *img, int x, int y, const char *s, int scale, Rgb c);
/* Text turned a quarter counter-clockwise, read bottom to top: it starts
 * at the bottom edge y, its glyph tops facing left toward x. */
void raster_text_up(Image *img, int x, int y, const char *s, int scale, Rgb c);
/* Width in pixels of raster_text(s) (0 for ""). */
int raster_text_width(const char *s, int scale);
/* s broken into lines of at most max_w pixels, at spaces where it can be
 * (a word longer than a line is cut), drawn from (x, y) one line every
 * RASTER_ADV_Y * scale pixels. img NULL: nothing is drawn. Returns the
 * number of lines. */
int raster_text_wrapped(Image *img, int x, int y, int max_w, const char *s, int scale, Rgb c);

/* a + (b - a) * t per channel, rounded; t in [0, 1]. */
Rgb raster_mix(Rgb a, Rgb b, double t);
/* The heat-map scale at t in [0, 1] (clamped; NaN counts as 0): dark blue,
 * blue, cyan, yellow, red, as in the usual "jet" maps. */
Rgb raster_heat(double t);

/* src copied onto dst with its top-left corner at (x, y), each source
 * pixel scale x scale. */
void raster_blit(Image *dst, const Image *src, int x, int y, int scale);

/* n pictures in a grid of `cols` columns on a white sheet, each in a cell
 * as large as the largest, `gap` pixels apart. out is allocated. */
void raster_sheet(Image *out, const Image *cells, int n, int cols, int gap);

#endif
