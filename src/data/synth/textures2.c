/* Textures, part two: tile (speckled ceramic) and wood (warped grain
 * lines), with their defects. */
#include <math.h>

#include "synth_internal.h"

#define PI 3.141592653589793

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* ---- tile ---- */

typedef struct Tile {
    double cells, ph[2], cell_px;
    float base[3];
    uint32_t seed;
} Tile;

static void tile_field(const void *ctx, double u, double v, float rgb[3]) {
    const Tile *t = ctx;
    double x = u * t->cells + t->ph[0], y = v * t->cells + t->ph[1];
    int32_t ix = (int32_t)floor(x), iy = (int32_t)floor(y);
    double val = 1.0 + 0.05 * fbm(u * 4, v * 4, 3, t->seed + 1);
    /* one speckle per lattice cell: dark, white or mid gray, of varied size */
    for (int32_t j = iy - 1; j <= iy + 1; j++)
        for (int32_t i = ix - 1; i <= ix + 1; i++) {
            /* the speckle's position, size and tone from the bytes of one hash */
            uint32_t h = hash3(i, j, t->seed);
            double px = i + (h & 0xff) / 256.0, py = j + (h >> 8 & 0xff) / 256.0;
            double r = 0.12 + 0.3 * (h >> 16 & 0xff) / 256.0, kind = (h >> 24) / 256.0;
            double cov = clamp01(0.5 - (dist2d(x - px, y - py) - r) * t->cell_px);
            double tone = kind < 0.45 ? 0.45 : kind < 0.7 ? 1.2 : 0.8;
            val += (tone - val) * cov;
        }
    val += 0.04 * (hash_unit((int32_t)(u * 8192), (int32_t)(v * 8192), t->seed + 5) - 0.5);
    for (int c = 0; c < 3; c++) rgb[c] = (float)(t->base[c] * val);
}

typedef struct Rough {
    uint32_t seed;
    double px; /* frame units per pixel */
} Rough;

/* A matte, rough patch: darker, with coarse grain instead of the glaze. */
static void rough_shade(const void *ctx, double x, double y, float rgb[3]) {
    const Rough *r = ctx;
    double n = hash_unit((int32_t)floor(x / (2.0 * r->px)), (int32_t)floor(y / (2.0 * r->px)), r->seed);
    float f = (float)(0.45 + 0.5 * n);
    for (int c = 0; c < 3; c++) rgb[c] *= f;
}

static void tile_glue_strip(Canvas *cv, const Frame *f, Rng *def, double x, double y) {
    double a = rng_range(def, 0, 2 * PI), len = rng_range(def, 0.35, 0.55);
    double dx = 0.5 * len * pm_cos(a), dy = 0.5 * len * pm_sin(a), w = rng_range(def, 0.05, 0.08);
    double xy[2 * 12], edge[2 * 12];
    double bend = rng_range(def, -0.05, 0.05);
    bezier_points(xy, 12, x - dx, y - dy, x - bend * pm_sin(a), y + bend * pm_cos(a), x + dx, y + dy);
    for (int i = 0; i < 12; i++) {
        edge[2 * i] = xy[2 * i] - 0.42 * w * pm_sin(a);
        edge[2 * i + 1] = xy[2 * i + 1] + 0.42 * w * pm_cos(a);
    }
    draw_polyline(cv, f, xy, 12, w, ink_soft(ink(0.95f, 0.9f, 0.62f, 0.4f), 2.0f));
    draw_polyline(cv, f, edge, 12, 0.008, ink_soft(ink_gray(1.0f, 0.6f), 1.5f));
}

void paint_tile(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    Tile t;
    t.cells = rng_range(scene, 30, 40);
    t.ph[0] = rng_range(scene, 0, 64), t.ph[1] = rng_range(scene, 0, 64);
    t.cell_px = (double)cv->w / t.cells;
    double tone = rng_range(scene, 0.68, 0.8), cool = rng_range(scene, -0.03, 0.03);
    t.base[0] = (float)(tone - cool), t.base[1] = (float)tone, t.base[2] = (float)(tone + cool);
    t.seed = rng_u32(scene);
    canvas_field(cv, tile_field, &t);

    Frame f = frame_unit(cv->w);
    double x = rng_range(def, 0.22, 0.78), y = rng_range(def, 0.22, 0.78);
    if (state_is(state, "crack")) {
        static const float dark[3] = {0.12f, 0.12f, 0.13f};
        mark_crack(cv, &f, def, x, y, rng_range(def, 0.2, 0.3), 0.009, dark);
    } else if (state_is(state, "glue_strip")) {
        tile_glue_strip(cv, &f, def, x, y);
    } else if (state_is(state, "gray_stroke")) {
        double a = rng_range(def, 0, 2 * PI), len = rng_range(def, 0.25, 0.4), xy[2 * 16];
        double bend = rng_range(def, -0.3, 0.3) * len;
        bezier_points(xy, 16, x - 0.5 * len * pm_cos(a), y - 0.5 * len * pm_sin(a), x - bend * pm_sin(a),
                      y + bend * pm_cos(a), x + 0.5 * len * pm_cos(a), y + 0.5 * len * pm_sin(a));
        draw_polyline(cv, &f, xy, 16, 0.02, ink_soft(ink_gray(0.32f, 0.85f), 1.5f));
    } else if (state_is(state, "oil")) {
        static const float oil[3] = {0.6f, 0.57f, 0.48f};
        mark_stain(cv, &f, def, x, y, rng_range(def, 0.07, 0.1), oil);
    } else if (state_is(state, "rough")) {
        Blob b = blob_make(def, x, y, rng_range(def, 0.07, 0.1), 0.3);
        Rough r = {rng_u32(def), 1.0 / f.scale};
        double box[4];
        blob_box(&b, box);
        paint(cv, &f, blob_sdf, &b, box, ink_soft(ink(0, 0, 0, 1), 2.0f), rough_shade, &r);
    }
}

/* ---- wood ---- */

typedef struct Wood {
    double freq, c, s, ph, warp;
    float base[3];
    uint32_t seed;
} Wood;

static void wood_field(const void *ctx, double u, double v, float rgb[3]) {
    const Wood *w = ctx;
    double x = w->c * u + w->s * v, y = -w->s * u + w->c * v;
    double t = x * w->freq + w->warp * fbm(x * 3, y * 0.8, 3, w->seed) + w->ph;
    double g = 0.5 + 0.5 * pm_sin(2 * PI * t);
    g = g * g * g * g; /* thin dark late-wood lines between wide light bands */
    double streak = 0.06 * fbm(x * 60, y * 2, 2, w->seed + 1);
    double shade = 1.0 - 0.3 * g + streak + 0.05 * fbm(u * 3, v * 3, 2, w->seed + 2);
    for (int c = 0; c < 3; c++) rgb[c] = (float)(w->base[c] * shade);
}

enum { WOOD_COLOR, WOOD_HOLE, WOOD_LIQUID, WOOD_SCRATCH, WOOD_DEFECTS };

static void wood_defect(Canvas *cv, const Frame *f, Rng *def, int which, const float base[3]) {
    double x = rng_range(def, 0.22, 0.78), y = rng_range(def, 0.22, 0.78);
    switch (which) {
    case WOOD_COLOR: {
        /* a faded, soft-edged patch: greenish, bleached or grayed */
        static const float tints[3][3] = {{0.72f, 0.84f, 0.62f}, {1.22f, 1.18f, 1.12f}, {0.78f, 0.8f, 0.86f}};
        Blob b = blob_make(def, x, y, rng_range(def, 0.08, 0.12), 0.3);
        tint_blob(cv, f, &b, tints[rng_below(def, 3)], 0.95f, (float)(0.5 * b.r * f->scale));
        break;
    }
    case WOOD_HOLE: {
        static const float dark[3] = {0.1f, 0.06f, 0.04f};
        float rim[3] = {base[0] * 0.75f, base[1] * 0.7f, base[2] * 0.65f};
        int n = 1 + (int)rng_below(def, 3);
        for (int i = 0; i < n; i++) {
            double hx = x + rng_range(def, -0.06, 0.06), hy = y + rng_range(def, -0.06, 0.06);
            double r = rng_range(def, 0.013, 0.02);
            mark_hole(cv, f, def, hx, hy, r, dark, rim);
        }
        break;
    }
    case WOOD_LIQUID: {
        Blob b = blob_make(def, x, y, rng_range(def, 0.06, 0.1), 0.35);
        static const float edge[3] = {0.78f, 0.74f, 0.72f}, wet[3] = {0.56f, 0.47f, 0.42f};
        Blob rim = b;
        rim.r *= 1.08;
        tint_blob(cv, f, &rim, edge, 0.9f, 1.5f);
        tint_blob(cv, f, &b, wet, 0.9f, 1.5f);
        draw_ellipse(cv, f, x - 0.3 * b.r, y - 0.3 * b.r, 0.3 * b.r, 0.15 * b.r, -0.6,
                     ink_soft(ink_gray(1.0f, 0.35f), 1.5f));
        break;
    }
    case WOOD_SCRATCH: {
        static const float light[3] = {0.97f, 0.92f, 0.82f};
        int n = 1 + (int)rng_below(def, 3);
        for (int i = 0; i < n; i++) {
            double sx = x + rng_range(def, -0.05, 0.05), sy = y + rng_range(def, -0.05, 0.05);
            double len = rng_range(def, 0.2, 0.4), width = rng_range(def, 0.007, 0.011);
            mark_scratch(cv, f, def, sx, sy, len, width, light);
        }
        break;
    }
    }
}

void paint_wood(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    Wood w;
    w.freq = rng_range(scene, 11, 17);
    double a = rng_range(scene, -0.08, 0.08);
    w.c = pm_cos(a), w.s = pm_sin(a);
    w.ph = rng_range(scene, 0, 1);
    w.warp = rng_range(scene, 0.8, 1.6);
    double tone = rng_range(scene, 0.88, 1.08);
    w.base[0] = (float)(0.8 * tone), w.base[1] = (float)(0.62 * tone), w.base[2] = (float)(0.43 * tone);
    w.seed = rng_u32(scene);
    canvas_field(cv, wood_field, &w);

    Frame f = frame_unit(cv->w);
    static const char *const names[WOOD_DEFECTS] = {"color", "hole", "liquid", "scratch"};
    if (state_is(state, "combined")) {
        unsigned mask = pick_defects(def, WOOD_DEFECTS, 2);
        for (int i = 0; i < WOOD_DEFECTS; i++)
            if (mask & (1u << i)) wood_defect(cv, &f, def, i, w.base);
        return;
    }
    for (int i = 0; i < WOOD_DEFECTS; i++)
        if (state_is(state, names[i])) wood_defect(cv, &f, def, i, w.base);
}
