/* Defect marks shared by several classes: stains, slits, holes, metal
 * flakes, loose threads, cracks, scratches, glossy drops, debris. Sizes are
 * in the frame's units; every random choice comes from the defect stream. */
#include <math.h>

#include "synth_internal.h"

#define TAU 6.283185307179586

void mark_stain(Canvas *cv, const Frame *f, Rng *r, double x, double y, double radius,
                const float factor[3]) {
    Blob b = blob_make(r, x, y, radius, 0.3);
    float soft = (float)(0.35 * radius * f->scale);
    tint_blob(cv, f, &b, factor, 0.95f, soft > 1 ? soft : 1);
}

void mark_slit(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
               double width, const float dark[3]) {
    double a = rng_range(r, 0, TAU), bend = rng_range(r, -0.15, 0.15) * length;
    double dx = 0.5 * length * pm_cos(a), dy = 0.5 * length * pm_sin(a);
    double xy[2 * 9];
    bezier_points(xy, 9, x - dx, y - dy, x - dy / length * 2 * bend, y + dx / length * 2 * bend,
                  x + dx, y + dy);
    static const float lip[3] = {1.3f, 1.27f, 1.22f};
    tint_polyline(cv, f, xy, 9, 3.0 * width, lip, 0.8f, 1.5f);
    Ink k = ink(dark[0], dark[1], dark[2], 0.95f);
    draw_polyline(cv, f, xy, 9, width, k);
}

void mark_hole(Canvas *cv, const Frame *f, Rng *r, double x, double y, double radius,
               const float dark[3], const float rim[3]) {
    Blob outer = blob_make(r, x, y, 1.45 * radius, 0.25);
    draw_blob(cv, f, &outer, ink_soft(ink(rim[0], rim[1], rim[2], 0.7f), 1.5f));
    Blob core = blob_make(r, x, y, radius, 0.2);
    draw_blob(cv, f, &core, ink(dark[0], dark[1], dark[2], 0.97f));
}

/* An irregular convex-ish polygon of m corners around (x, y). */
static void flake(Rng *r, double *xy, int m, double x, double y, double size) {
    double a0 = rng_range(r, 0, TAU);
    for (int i = 0; i < m; i++) {
        double a = a0 + TAU * (i + rng_range(r, -0.3, 0.3)) / m, rr = size * rng_range(r, 0.55, 1.0);
        xy[2 * i] = x + rr * pm_cos(a);
        xy[2 * i + 1] = y + rr * pm_sin(a);
    }
}

void mark_metal_bits(Canvas *cv, const Frame *f, Rng *r, double x, double y, double size) {
    int n = 2 + (int)rng_below(r, 3);
    for (int i = 0; i < n; i++) {
        double px = x + rng_range(r, -1.6, 1.6) * size, py = y + rng_range(r, -1.6, 1.6) * size;
        double s = size * rng_range(r, 0.6, 1.1), xy[2 * 6];
        flake(r, xy, 6, px, py, s);
        draw_polygon(cv, f, xy, 6, ink_soft(ink_gray(0.08f, 0.8f), 2.0f));
        flake(r, xy, 6, px, py, 0.8 * s);
        float g = (float)rng_range(r, 0.68, 0.8);
        draw_polygon(cv, f, xy, 6, ink(g, g, g + 0.03f, 1.0f));
        draw_circle(cv, f, px - 0.25 * s, py - 0.25 * s, 0.22 * s, ink_gray(1.0f, 0.9f));
    }
}

void mark_thread(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
                 double width, const float rgb[3]) {
    double a = rng_range(r, 0, TAU), bend = rng_range(r, -0.45, 0.45) * length;
    double x1 = x + length * pm_cos(a), y1 = y + length * pm_sin(a);
    double cx = 0.5 * (x + x1) - bend * pm_sin(a), cy = 0.5 * (y + y1) + bend * pm_cos(a);
    double xy[2 * 24], sh[2 * 24];
    bezier_points(xy, 24, x, y, cx, cy, x1, y1);
    double off = 1.5 * width;
    for (int i = 0; i < 48; i++) sh[i] = xy[i] + off;
    static const float shadow[3] = {0.55f, 0.55f, 0.55f};
    tint_polyline(cv, f, sh, 24, 1.5 * width, shadow, 0.7f, 2.0f);
    draw_polyline(cv, f, xy, 24, width, ink(rgb[0], rgb[1], rgb[2], 1.0f));
}

void mark_crack(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
                double width, const float rgb[3]) {
    double xy[2 * 12], br[2 * 6];
    double heading = rng_range(r, 0, TAU);
    random_walk(r, xy, 12, x - 0.5 * length * pm_cos(heading), y - 0.5 * length * pm_sin(heading),
                heading, length / 11, 0.55);
    Ink k = ink(rgb[0], rgb[1], rgb[2], 0.95f);
    draw_polyline(cv, f, xy, 12, width, k);
    int at = 3 + (int)rng_below(r, 5);
    double side = rng_uniform(r) < 0.5 ? -1 : 1;
    random_walk(r, br, 6, xy[2 * at], xy[2 * at + 1], heading + side * rng_range(r, 0.6, 1.1),
                length / 14, 0.5);
    draw_polyline(cv, f, br, 6, 0.7 * width, k);
}

void mark_scratch(Canvas *cv, const Frame *f, Rng *r, double x, double y, double length,
                  double width, const float rgb[3]) {
    double a = rng_range(r, 0, TAU), bend = rng_range(r, -0.06, 0.06) * length;
    double dx = 0.5 * length * pm_cos(a), dy = 0.5 * length * pm_sin(a), xy[2 * 8];
    bezier_points(xy, 8, x - dx, y - dy, x - bend * pm_sin(a), y + bend * pm_cos(a), x + dx, y + dy);
    draw_polyline(cv, f, xy, 8, width, ink(rgb[0], rgb[1], rgb[2], 0.9f));
}

void mark_drop(Canvas *cv, const Frame *f, Rng *r, double x, double y, double radius,
               const float rgb[3], float alpha) {
    double ry = radius * rng_range(r, 0.65, 1.0), a = rng_range(r, 0, TAU);
    draw_ellipse(cv, f, x, y, radius * 1.12, ry * 1.12, a, ink_soft(ink_gray(0.0f, 0.3f), 2.0f));
    draw_ellipse(cv, f, x, y, radius, ry, a, ink(rgb[0], rgb[1], rgb[2], alpha));
    draw_ellipse(cv, f, x - 0.35 * radius, y - 0.35 * ry, 0.32 * radius, 0.18 * radius, -0.6,
                 ink_soft(ink_gray(1.0f, 0.75f), 1.5f));
}

void mark_debris(Canvas *cv, const Frame *f, Rng *r, double x, double y, double spread,
                 double size, int count, const float rgb[3]) {
    for (int i = 0; i < count; i++) {
        double px = x + rng_range(r, -spread, spread), py = y + rng_range(r, -spread, spread);
        double xy[2 * 5];
        flake(r, xy, 5, px, py, size * rng_range(r, 0.6, 1.2));
        float v = (float)rng_range(r, 0.8, 1.15);
        draw_polygon(cv, f, xy, 5, ink(rgb[0] * v, rgb[1] * v, rgb[2] * v, 0.95f));
    }
}
