/* Drawing primitives of the look-alike generator: a float canvas, frames,
 * and shapes painted from their signed distance (anti-aliased edges). */
#include <math.h>
#include <stdlib.h>

#include "anomaly/error.h"
#include "synth_internal.h"

void canvas_init(Canvas *cv, int w, int h) {
    cv->w = w;
    cv->h = h;
    cv->px = xcalloc((size_t)w * (size_t)h * 3, sizeof *cv->px, "a synthetic image");
}

void canvas_free(Canvas *cv) {
    free(cv->px);
    cv->px = NULL;
}

void canvas_fill(Canvas *cv, const float rgb[3]) {
    size_t n = (size_t)cv->w * (size_t)cv->h;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 3; c++) cv->px[i * 3 + c] = rgb[c];
}

void canvas_field(Canvas *cv, FieldFn fn, const void *ctx) {
    for (int y = 0; y < cv->h; y++)
        for (int x = 0; x < cv->w; x++)
            fn(ctx, (x + 0.5) / cv->w, (y + 0.5) / cv->h, cv->px + ((size_t)y * cv->w + x) * 3);
}

static uint8_t to_byte(double v) {
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= 1) return 255;
    return (uint8_t)(v * 255.0 + 0.5); /* positive: truncation rounds */
}

void canvas_to_image(const Canvas *cv, Image *img, int gray) {
    image_alloc(img, cv->w, cv->h);
    size_t n = (size_t)cv->w * (size_t)cv->h;
    for (size_t i = 0; i < n; i++) {
        const float *p = cv->px + i * 3;
        if (gray) {
            uint8_t v = to_byte(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
            img->px[i * 3] = img->px[i * 3 + 1] = img->px[i * 3 + 2] = v;
        } else {
            for (int c = 0; c < 3; c++) img->px[i * 3 + c] = to_byte(p[c]);
        }
    }
}

static void frame_finish(Frame *f) {
    double det = f->m[0] * f->m[3] - f->m[1] * f->m[2];
    f->inv[0] = f->m[3] / det;
    f->inv[1] = -f->m[1] / det;
    f->inv[2] = -f->m[2] / det;
    f->inv[3] = f->m[0] / det;
    f->scale = sqrt(fabs(det));
}

Frame frame_unit(int side) {
    Frame f = {{side, 0, 0, side}, {0, 0}, {0, 0, 0, 0}, 0};
    frame_finish(&f);
    return f;
}

Frame frame_child(const Frame *p, double x, double y, double angle, double scale, int mirror) {
    double c = pm_cos(angle) * scale, s = pm_sin(angle) * scale;
    /* local = rotation * scale * (mirror ? diag(-1, 1) : I) */
    double l[4] = {mirror ? -c : c, -s, mirror ? -s : s, c};
    Frame f;
    f.m[0] = p->m[0] * l[0] + p->m[1] * l[2];
    f.m[1] = p->m[0] * l[1] + p->m[1] * l[3];
    f.m[2] = p->m[2] * l[0] + p->m[3] * l[2];
    f.m[3] = p->m[2] * l[1] + p->m[3] * l[3];
    f.t[0] = p->t[0] + p->m[0] * x + p->m[1] * y;
    f.t[1] = p->t[1] + p->m[2] * x + p->m[3] * y;
    frame_finish(&f);
    return f;
}

void frame_apply(const Frame *f, double x, double y, double *px, double *py) {
    *px = f->t[0] + f->m[0] * x + f->m[1] * y;
    *py = f->t[1] + f->m[2] * x + f->m[3] * y;
}

Ink ink(float r, float g, float b, float alpha) {
    Ink k = {{r, g, b}, alpha, 1.0f};
    return k;
}

Ink ink_gray(float v, float alpha) { return ink(v, v, v, alpha); }

Ink ink_soft(Ink k, float soft) {
    k.soft = soft;
    return k;
}

Ink ink_scaled(const float rgb[3], float factor, float alpha) {
    return ink(rgb[0] * factor, rgb[1] * factor, rgb[2] * factor, alpha);
}

void paint(Canvas *cv, const Frame *f, SdfFn sdf, const void *ctx, const double box[4], Ink k,
           ShadeFn shade, const void *sctx) {
    /* Pixel bounds of the frame box, widened by the soft edge. */
    double lo[2] = {1e30, 1e30}, hi[2] = {-1e30, -1e30};
    for (int i = 0; i < 4; i++) {
        double px, py;
        frame_apply(f, box[(i & 1) ? 2 : 0], box[(i & 2) ? 3 : 1], &px, &py);
        if (px < lo[0]) lo[0] = px;
        if (px > hi[0]) hi[0] = px;
        if (py < lo[1]) lo[1] = py;
        if (py > hi[1]) hi[1] = py;
    }
    double pad = k.soft + 1.0;
    int x0 = (int)floor(lo[0] - pad), x1 = (int)ceil(hi[0] + pad);
    int y0 = (int)floor(lo[1] - pad), y1 = (int)ceil(hi[1] + pad);
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > cv->w - 1) x1 = cv->w - 1;
    if (y1 > cv->h - 1) y1 = cv->h - 1;
    double soft = k.soft > 0.05f ? k.soft : 0.05;
    for (int y = y0; y <= y1; y++) {
        for (int x = x0; x <= x1; x++) {
            double dx = x + 0.5 - f->t[0], dy = y + 0.5 - f->t[1];
            double fx = f->inv[0] * dx + f->inv[1] * dy, fy = f->inv[2] * dx + f->inv[3] * dy;
            double d = sdf(ctx, fx, fy) * f->scale;
            double cov = 0.5 - d / soft;
            if (cov <= 0) continue;
            if (cov > 1) cov = 1;
            float a = (float)cov * k.alpha;
            float *p = cv->px + ((size_t)y * cv->w + x) * 3;
            float c[3] = {k.rgb[0], k.rgb[1], k.rgb[2]};
            if (shade) {
                c[0] = p[0], c[1] = p[1], c[2] = p[2];
                shade(sctx, fx, fy, c);
            }
            for (int i = 0; i < 3; i++) p[i] += (c[i] - p[i]) * a;
        }
    }
}

/* ---- shapes ---- */

typedef struct Circle {
    double x, y, r, r_in; /* r_in < 0: a disc; else a ring */
} Circle;

static double circle_sdf(const void *ctx, double x, double y) {
    const Circle *c = ctx;
    double d = dist2d(x - c->x, y - c->y);
    if (c->r_in < 0) return d - c->r;
    double mid = 0.5 * (c->r + c->r_in), half = 0.5 * (c->r - c->r_in);
    return fabs(d - mid) - half;
}

void draw_circle(Canvas *cv, const Frame *f, double x, double y, double r, Ink k) {
    Circle c = {x, y, r, -1};
    double box[4] = {x - r, y - r, x + r, y + r};
    paint(cv, f, circle_sdf, &c, box, k, NULL, NULL);
}

void draw_ring(Canvas *cv, const Frame *f, double x, double y, double r_in, double r_out, Ink k) {
    double min_half = 0.5 / f->scale; /* never thinner than a pixel */
    if (r_out - r_in < 2 * min_half) {
        double mid = 0.5 * (r_in + r_out);
        r_in = mid - min_half;
        r_out = mid + min_half;
    }
    Circle c = {x, y, r_out, r_in};
    double box[4] = {x - r_out, y - r_out, x + r_out, y + r_out};
    paint(cv, f, circle_sdf, &c, box, k, NULL, NULL);
}

typedef struct Ellipse {
    double x, y, rx, ry, c, s;
} Ellipse;

static double ellipse_sdf(const void *ctx, double x, double y) {
    const Ellipse *e = ctx;
    double dx = x - e->x, dy = y - e->y;
    double u = e->c * dx + e->s * dy, v = -e->s * dx + e->c * dy;
    /* A close approximation of the true distance (exact on the axes). */
    double k0 = dist2d(u / e->rx, v / e->ry), k1 = dist2d(u / (e->rx * e->rx), v / (e->ry * e->ry));
    if (k1 < 1e-12) return -(e->rx < e->ry ? e->rx : e->ry);
    return k0 * (k0 - 1.0) / k1;
}

void draw_ellipse(Canvas *cv, const Frame *f, double x, double y, double rx, double ry,
                  double angle, Ink k) {
    Ellipse e = {x, y, rx, ry, pm_cos(angle), pm_sin(angle)};
    double r = rx > ry ? rx : ry;
    double box[4] = {x - r, y - r, x + r, y + r};
    paint(cv, f, ellipse_sdf, &e, box, k, NULL, NULL);
}

void shade_ellipse(Canvas *cv, const Frame *f, double x, double y, double rx, double ry,
                   double angle, Ink k, ShadeFn shade, const void *sctx) {
    Ellipse e = {x, y, rx, ry, pm_cos(angle), pm_sin(angle)};
    double r = rx > ry ? rx : ry;
    double box[4] = {x - r, y - r, x + r, y + r};
    paint(cv, f, ellipse_sdf, &e, box, k, shade, sctx);
}

static double segment_dist(double px, double py, double x0, double y0, double x1, double y1) {
    double vx = x1 - x0, vy = y1 - y0, wx = px - x0, wy = py - y0;
    double len2 = vx * vx + vy * vy;
    double t = len2 > 0 ? (wx * vx + wy * vy) / len2 : 0;
    if (t < 0) t = 0;
    if (t > 1) t = 1;
    return dist2d(wx - t * vx, wy - t * vy);
}

typedef struct Polyline {
    const double *xy;
    int n;
    double half;
} Polyline;

static double polyline_sdf(const void *ctx, double x, double y) {
    const Polyline *p = ctx;
    double best = 1e30;
    for (int i = 0; i + 1 < p->n; i++) {
        double d = segment_dist(x, y, p->xy[2 * i], p->xy[2 * i + 1], p->xy[2 * i + 2], p->xy[2 * i + 3]);
        if (d < best) best = d;
    }
    return best - p->half;
}

static void points_box(const double *xy, int n, double pad, double box[4]) {
    box[0] = box[1] = 1e30;
    box[2] = box[3] = -1e30;
    for (int i = 0; i < n; i++) {
        if (xy[2 * i] < box[0]) box[0] = xy[2 * i];
        if (xy[2 * i] > box[2]) box[2] = xy[2 * i];
        if (xy[2 * i + 1] < box[1]) box[1] = xy[2 * i + 1];
        if (xy[2 * i + 1] > box[3]) box[3] = xy[2 * i + 1];
    }
    box[0] -= pad, box[1] -= pad, box[2] += pad, box[3] += pad;
}

void draw_polyline(Canvas *cv, const Frame *f, const double *xy, int n, double width, Ink k) {
    if (n < 1) return;
    double half = 0.5 * width, min_half = 0.5 / f->scale;
    Polyline p = {xy, n, half > min_half ? half : min_half};
    double box[4];
    points_box(xy, n, p.half, box);
    if (n == 1) { /* a dot */
        double one[4] = {xy[0], xy[1], xy[0], xy[1]};
        p.xy = one;
        p.n = 2;
        paint(cv, f, polyline_sdf, &p, box, k, NULL, NULL);
        return;
    }
    paint(cv, f, polyline_sdf, &p, box, k, NULL, NULL);
}

void draw_segment(Canvas *cv, const Frame *f, double x0, double y0, double x1, double y1,
                  double width, Ink k) {
    double xy[4] = {x0, y0, x1, y1};
    draw_polyline(cv, f, xy, 2, width, k);
}

typedef struct Polygon {
    const double *xy;
    int n;
} Polygon;

static double polygon_sdf(const void *ctx, double x, double y) {
    const Polygon *p = ctx;
    double best = 1e30;
    int inside = 0;
    for (int i = 0, j = p->n - 1; i < p->n; j = i++) {
        double xi = p->xy[2 * i], yi = p->xy[2 * i + 1], xj = p->xy[2 * j], yj = p->xy[2 * j + 1];
        double d = segment_dist(x, y, xj, yj, xi, yi);
        if (d < best) best = d;
        /* crossing number (even-odd rule) */
        if ((yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside ? -best : best;
}

void draw_polygon(Canvas *cv, const Frame *f, const double *xy, int n, Ink k) {
    if (n < 3) return;
    Polygon p = {xy, n};
    double box[4];
    points_box(xy, n, 0, box);
    paint(cv, f, polygon_sdf, &p, box, k, NULL, NULL);
}

void shade_polygon(Canvas *cv, const Frame *f, const double *xy, int n, Ink k, ShadeFn shade,
                   const void *sctx) {
    if (n < 3) return;
    Polygon p = {xy, n};
    double box[4];
    points_box(xy, n, 0, box);
    paint(cv, f, polygon_sdf, &p, box, k, shade, sctx);
}

typedef struct Box {
    double x, y, hw, hh, c, s, r;
} Box;

static double box_sdf(const void *ctx, double x, double y) {
    const Box *b = ctx;
    double dx = x - b->x, dy = y - b->y;
    double u = fabs(b->c * dx + b->s * dy) - (b->hw - b->r);
    double v = fabs(-b->s * dx + b->c * dy) - (b->hh - b->r);
    double out = dist2d(u > 0 ? u : 0, v > 0 ? v : 0);
    double in = u > v ? u : v;
    return out + (in < 0 ? in : 0) - b->r;
}

void draw_box(Canvas *cv, const Frame *f, double x, double y, double hw, double hh, double angle,
              double radius, Ink k) {
    double lim = hw < hh ? hw : hh;
    Box b = {x, y, hw, hh, pm_cos(angle), pm_sin(angle), radius < lim ? radius : lim};
    double r = dist2d(hw, hh);
    double box[4] = {x - r, y - r, x + r, y + r};
    paint(cv, f, box_sdf, &b, box, k, NULL, NULL);
}

/* ---- blobs ---- */

Blob blob_make(Rng *rng, double x, double y, double r, double irregular) {
    Blob b;
    b.x = x, b.y = y, b.r = r;
    for (int i = 0; i < BLOB_TERMS; i++) {
        /* higher harmonics get less, so the outline stays roundish */
        b.amp[i] = irregular * rng_range(rng, 0.3, 1.0) / (1.0 + i);
        b.phase[i] = rng_range(rng, 0, 6.283185307179586);
    }
    return b;
}

double blob_sdf(const void *ctx, double x, double y) {
    const Blob *b = ctx;
    double dx = x - b->x, dy = y - b->y;
    double th = pm_atan2(dy, dx), wob = 1.0;
    for (int i = 0; i < BLOB_TERMS; i++) wob += b->amp[i] * pm_sin((i + 2) * th + b->phase[i]);
    if (wob < 0.2) wob = 0.2;
    return (dist2d(dx, dy) - b->r * wob) / wob;
}

void blob_box(const Blob *b, double box[4]) {
    double grow = 1.0;
    for (int i = 0; i < BLOB_TERMS; i++) grow += fabs(b->amp[i]);
    double r = b->r * grow;
    box[0] = b->x - r, box[1] = b->y - r, box[2] = b->x + r, box[3] = b->y + r;
}

void draw_blob(Canvas *cv, const Frame *f, const Blob *b, Ink k) {
    double box[4];
    blob_box(b, box);
    paint(cv, f, blob_sdf, b, box, k, NULL, NULL);
}

static void multiply_shade(const void *ctx, double x, double y, float rgb[3]) {
    const float *factor = ctx;
    (void)x, (void)y;
    for (int i = 0; i < 3; i++) rgb[i] *= factor[i];
}

void tint_blob(Canvas *cv, const Frame *f, const Blob *b, const float factor[3], float alpha,
               float soft) {
    double box[4];
    blob_box(b, box);
    Ink k = ink_soft(ink(0, 0, 0, alpha), soft);
    paint(cv, f, blob_sdf, b, box, k, multiply_shade, factor);
}

void tint_polyline(Canvas *cv, const Frame *f, const double *xy, int n, double width,
                   const float factor[3], float alpha, float soft) {
    if (n < 2) return;
    double half = 0.5 * width, min_half = 0.5 / f->scale;
    Polyline p = {xy, n, half > min_half ? half : min_half};
    double box[4];
    points_box(xy, n, p.half, box);
    Ink k = ink_soft(ink(0, 0, 0, alpha), soft);
    paint(cv, f, polyline_sdf, &p, box, k, multiply_shade, factor);
}
