/* Text in an object's frame: the prints on capsules, pills and hazelnuts,
 * drawn as dots with the raster module's 5x8 font. */
#include <math.h>
#include <string.h>

#include "anomaly/raster.h"
#include "synth_internal.h"

/* The raster module's glyphs (raster.h); a box for characters outside the
 * set the prints and labels use, so a stray character shows. */
static const uint8_t glyph_none[FONT_H] = {0x1F, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1F, 0x00};

const uint8_t *font_glyph(char c) {
    int known = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                (c && strchr(" -_./", c));
    return known ? raster_glyph(c) : glyph_none;
}

typedef struct Text {
    const char *s;
    int n, cols;      /* characters; dot columns of the text */
    double x0, y0;    /* top-left corner */
    double dot;       /* dot size in frame units */
    double clip_cols; /* columns at and beyond this are left out */
} Text;

static int text_dot(const Text *t, int gx, int gy) {
    if (gx < 0 || gy < 0 || gy >= FONT_H || gx >= t->cols || gx + 1 > t->clip_cols) return 0;
    int ch = gx / (FONT_W + 1), col = gx % (FONT_W + 1);
    if (col == FONT_W) return 0;
    return (font_glyph(t->s[ch])[gy] & (0x10 >> col)) != 0;
}

static double text_sdf(const void *ctx, double x, double y) {
    const Text *t = ctx;
    double lx = (x - t->x0) / t->dot, ly = (y - t->y0) / t->dot;
    int cx = (int)floor(lx), cy = (int)floor(ly);
    double best = 2.0;
    for (int gy = cy - 1; gy <= cy + 1; gy++)
        for (int gx = cx - 1; gx <= cx + 1; gx++) {
            if (!text_dot(t, gx, gy)) continue;
            double qx = fabs(lx - (gx + 0.5)) - 0.5, qy = fabs(ly - (gy + 0.5)) - 0.5;
            double out = dist2d(qx > 0 ? qx : 0, qy > 0 ? qy : 0);
            double in = qx > qy ? qx : qy;
            double d = out + (in < 0 ? in : 0);
            if (d < best) best = d;
        }
    return best * t->dot;
}

void draw_text(Canvas *cv, const Frame *f, double x, double y, double height, const char *s,
               double clip, Ink k) {
    Text t;
    t.s = s;
    t.n = (int)strlen(s);
    if (t.n == 0) return;
    t.cols = t.n * (FONT_W + 1) - 1;
    t.dot = height / 7; /* the height of capitals and digits */
    t.x0 = x - 0.5 * t.cols * t.dot;
    t.y0 = y - 0.5 * height;
    t.clip_cols = clip * t.cols;
    double box[4] = {t.x0, t.y0, t.x0 + t.cols * t.dot, t.y0 + FONT_H * t.dot};
    paint(cv, f, text_sdf, &t, box, k, NULL, NULL);
}
