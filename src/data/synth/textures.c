/* Textures, part one: carpet (a twill weave), grid (a woven wire mesh) and
 * leather (cellular grain), with their defects. Each texture fills the whole
 * image; its phase, scale and colour come from the scene stream. */
#include <math.h>

#include "synth_internal.h"

#define PI 3.141592653589793

static double clamp01(double v) { return v < 0 ? 0 : v > 1 ? 1 : v; }

/* ---- carpet ---- */

typedef struct Carpet {
    double cells, c, s, ph[2];
    float base[3];
    uint32_t seed;
} Carpet;

static void carpet_field(const void *ctx, double u, double v, float rgb[3]) {
    const Carpet *k = ctx;
    double x = (k->c * u + k->s * v) * k->cells + k->ph[0];
    double y = (-k->s * u + k->c * v) * k->cells + k->ph[1];
    double fx = floor(x), fy = floor(y);
    /* 2/2 twill: which thread lies on top steps by one cell every row,
     * making the diagonal ribs of a carpet weave */
    int over = (((int)fx + (int)fy) & 3) < 2;
    double prof = over ? pm_sin(PI * (y - fy)) : pm_sin(PI * (x - fx));
    double fibre = 0.08 * fbm(over ? x * 6 : x * 1.5, over ? y * 1.5 : y * 6, 2, k->seed);
    double low = 0.07 * fbm(u * 4, v * 4, 3, k->seed + 7);
    double shade = 0.7 + 0.3 * prof + fibre + low;
    for (int c = 0; c < 3; c++) rgb[c] = (float)(k->base[c] * shade);
}

void paint_carpet(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    Carpet k;
    k.cells = rng_range(scene, 21, 26);
    double a = rng_range(scene, -0.05, 0.05);
    k.c = pm_cos(a), k.s = pm_sin(a);
    k.ph[0] = rng_range(scene, 0, 64), k.ph[1] = rng_range(scene, 0, 64);
    double tone = rng_range(scene, 0.9, 1.08), warm = rng_range(scene, -0.04, 0.04);
    k.base[0] = (float)(0.66 * tone + warm), k.base[1] = (float)(0.55 * tone);
    k.base[2] = (float)(0.42 * tone - warm);
    k.seed = rng_u32(scene);
    canvas_field(cv, carpet_field, &k);

    Frame f = frame_unit(cv->w);
    double x = rng_range(def, 0.22, 0.78), y = rng_range(def, 0.22, 0.78);
    if (state_is(state, "color")) {
        static const float tints[3][3] = {{0.75f, 0.42f, 0.35f}, {0.5f, 0.5f, 0.56f}, {1.3f, 1.15f, 0.65f}};
        double r = rng_range(def, 0.05, 0.08);
        mark_stain(cv, &f, def, x, y, r, tints[rng_below(def, 3)]);
    } else if (state_is(state, "cut")) {
        static const float dark[3] = {0.12f, 0.08f, 0.06f};
        mark_slit(cv, &f, def, x, y, rng_range(def, 0.14, 0.24), 0.013, dark);
    } else if (state_is(state, "hole")) {
        static const float dark[3] = {0.07f, 0.05f, 0.04f};
        float rim[3] = {k.base[0] * 1.2f, k.base[1] * 1.2f, k.base[2] * 1.2f};
        mark_hole(cv, &f, def, x, y, rng_range(def, 0.028, 0.045), dark, rim);
    } else if (state_is(state, "metal_contamination")) {
        mark_metal_bits(cv, &f, def, x, y, rng_range(def, 0.02, 0.028));
    } else if (state_is(state, "thread")) {
        static const float colours[3][3] = {{0.22f, 0.15f, 0.1f}, {0.95f, 0.93f, 0.85f}, {0.3f, 0.35f, 0.62f}};
        double len = rng_range(def, 0.25, 0.45);
        mark_thread(cv, &f, def, x - 0.15, y, len, 0.011, colours[rng_below(def, 3)]);
    }
}

/* ---- grid ---- */

typedef struct Grid {
    double period, c, s, ph[2], hw, cell_px;
    float bar, bg;
    uint32_t seed;
    int bent, broken;
    double bx, by, bamp, bsig; /* bent: bump in grid cells, pushing along x */
    double gx, gy, glen;       /* broken: gap in the vertical bar at (gx, gy) */
} Grid;

static void grid_coords(const Grid *g, double u, double v, double *gx, double *gy) {
    *gx = (g->c * u + g->s * v) / g->period + g->ph[0];
    *gy = (-g->s * u + g->c * v) / g->period + g->ph[1];
}

static void grid_field(const void *ctx, double u, double v, float rgb[3]) {
    const Grid *g = ctx;
    double gx, gy;
    grid_coords(g, u, v, &gx, &gy);
    if (g->bent) {
        double d2 = (gx - g->bx) * (gx - g->bx) + (gy - g->by) * (gy - g->by);
        gx -= g->bamp * pm_exp(-d2 / (2 * g->bsig * g->bsig));
    }
    double dv = fabs(gx - floor(gx) - 0.5), dh = fabs(gy - floor(gy) - 0.5);
    double cov_v = clamp01(0.5 - (dv - g->hw) * g->cell_px);
    double cov_h = clamp01(0.5 - (dh - g->hw) * g->cell_px);
    if (g->broken && fabs(gx - g->gx) < 0.5) {
        /* the gap's ends are ragged: its length wobbles across the bar */
        double len = g->glen * (1 + 0.35 * value_noise(gx * 9, 0.5, g->seed + 3));
        if (fabs(gy - g->gy) < 0.5 * len) cov_v = 0;
    }
    double sv = g->bar * (1 - 0.5 * (dv / g->hw) * (dv / g->hw));
    double sh = g->bar * (1 - 0.5 * (dh / g->hw) * (dh / g->hw));
    double bg = g->bg * (1 + 0.35 * fbm(u * 7, v * 7, 3, g->seed));
    /* woven: at alternate crossings the other bar lies on top, the lower
     * one in its shadow */
    int v_top = (((int)floor(gx) + (int)floor(gy)) & 1) == 0;
    double val = bg;
    if (v_top) {
        val += (0.8 * sh - val) * cov_h;
        val += (sv - val) * cov_v;
    } else {
        val += (0.8 * sv - val) * cov_v;
        val += (sh - val) * cov_h;
    }
    rgb[0] = rgb[1] = rgb[2] = (float)val;
}

void paint_grid(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    Grid g = {0};
    g.period = rng_range(scene, 0.085, 0.105);
    double a = rng_range(scene, -0.06, 0.06);
    g.c = pm_cos(a), g.s = pm_sin(a);
    g.ph[0] = rng_range(scene, 0, 1), g.ph[1] = rng_range(scene, 0, 1);
    g.hw = 0.16;
    g.cell_px = g.period * cv->w;
    g.bar = (float)rng_range(scene, 0.62, 0.74);
    g.bg = (float)rng_range(scene, 0.1, 0.18);
    g.seed = rng_u32(scene);

    double x = rng_range(def, 0.25, 0.75), y = rng_range(def, 0.25, 0.75), gx, gy;
    grid_coords(&g, x, y, &gx, &gy);
    if (state_is(state, "bent")) {
        g.bent = 1;
        g.bx = floor(gx) + 0.5, g.by = floor(gy);
        double sign = rng_uniform(def) < 0.5 ? -1 : 1;
        g.bamp = sign * rng_range(def, 0.45, 0.55);
        g.bsig = rng_range(def, 0.5, 0.6);
    } else if (state_is(state, "broken")) {
        g.broken = 1;
        g.gx = floor(gx) + 0.5, g.gy = floor(gy);
        g.glen = rng_range(def, 1.2, 1.6);
    }
    canvas_field(cv, grid_field, &g);

    Frame f = frame_unit(cv->w);
    if (state_is(state, "glue")) {
        Blob b = blob_make(def, x, y, rng_range(def, 0.04, 0.065), 0.3);
        draw_blob(cv, &f, &b, ink_soft(ink_gray(0.82f, 0.6f), 2.0f));
        draw_ellipse(cv, &f, x - 0.3 * b.r, y - 0.3 * b.r, 0.35 * b.r, 0.2 * b.r, -0.5,
                     ink_soft(ink_gray(1.0f, 0.7f), 1.5f));
    } else if (state_is(state, "metal_contamination")) {
        mark_metal_bits(cv, &f, def, x, y, rng_range(def, 0.022, 0.03));
    } else if (state_is(state, "thread")) {
        static const float light[3] = {0.93f, 0.93f, 0.93f};
        mark_thread(cv, &f, def, x - 0.2, y, rng_range(def, 0.35, 0.6), 0.009, light);
    }
}

/* ---- leather ---- */

typedef struct Leather {
    double cells, ph[2];
    float base[3];
    uint32_t seed;
} Leather;

static void leather_field(const void *ctx, double u, double v, float rgb[3]) {
    const Leather *l = ctx;
    double f1, f2;
    worley(u * l->cells + l->ph[0], v * l->cells + l->ph[1], l->seed, &f1, &f2);
    double crease = f2 - f1;
    double shade = 1.0 - 0.18 * pm_exp(-crease * crease / 0.008) + 0.05 * (f1 - 0.4);
    shade += 0.07 * fbm(u * 5, v * 5, 3, l->seed + 11);
    shade += 0.03 * (hash_unit((int32_t)(u * 4096), (int32_t)(v * 4096), l->seed + 5) - 0.5);
    for (int c = 0; c < 3; c++) rgb[c] = (float)(l->base[c] * shade);
}

/* A fold: a long crease lit on one side and shaded on the other. */
static void leather_fold(Canvas *cv, const Frame *f, Rng *def, double x, double y) {
    double a = rng_range(def, 0, 2 * PI), len = rng_range(def, 0.4, 0.7);
    double dx = 0.5 * len * pm_cos(a), dy = 0.5 * len * pm_sin(a), nx = -pm_sin(a), ny = pm_cos(a);
    double bend = rng_range(def, -0.08, 0.08), w = 0.022;
    double mid[2 * 16], lit[2 * 16], dark[2 * 16];
    bezier_points(mid, 16, x - dx, y - dy, x + bend * nx, y + bend * ny, x + dx, y + dy);
    for (int i = 0; i < 16; i++) {
        lit[2 * i] = mid[2 * i] + w * nx, lit[2 * i + 1] = mid[2 * i + 1] + w * ny;
        dark[2 * i] = mid[2 * i] - w * nx, dark[2 * i + 1] = mid[2 * i + 1] - w * ny;
    }
    static const float up[3] = {1.2f, 1.2f, 1.2f}, down[3] = {0.6f, 0.6f, 0.6f},
                       line[3] = {0.45f, 0.42f, 0.4f};
    float soft = (float)(0.012 * f->scale);
    tint_polyline(cv, f, lit, 16, 1.6 * w, up, 0.9f, soft > 1 ? soft : 1);
    tint_polyline(cv, f, dark, 16, 1.4 * w, down, 0.9f, soft > 1 ? soft : 1);
    tint_polyline(cv, f, mid, 16, 0.006, line, 0.9f, 1.0f);
}

void paint_leather(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    Leather l;
    l.cells = rng_range(scene, 24, 32);
    l.ph[0] = rng_range(scene, 0, 64), l.ph[1] = rng_range(scene, 0, 64);
    double tone = rng_range(scene, 0.88, 1.1), red = rng_range(scene, -0.04, 0.04);
    l.base[0] = (float)(0.58 * tone + red), l.base[1] = (float)(0.44 * tone);
    l.base[2] = (float)(0.33 * tone - 0.5 * red);
    l.seed = rng_u32(scene);
    canvas_field(cv, leather_field, &l);

    Frame f = frame_unit(cv->w);
    double x = rng_range(def, 0.22, 0.78), y = rng_range(def, 0.22, 0.78);
    if (state_is(state, "color")) {
        static const float tints[3][3] = {{1.5f, 1.4f, 1.3f}, {0.5f, 0.38f, 0.34f}, {0.72f, 0.95f, 0.5f}};
        double r = rng_range(def, 0.05, 0.08);
        mark_stain(cv, &f, def, x, y, r, tints[rng_below(def, 3)]);
    } else if (state_is(state, "cut")) {
        static const float dark[3] = {0.12f, 0.06f, 0.04f};
        mark_slit(cv, &f, def, x, y, rng_range(def, 0.12, 0.22), 0.011, dark);
    } else if (state_is(state, "fold")) {
        leather_fold(cv, &f, def, x, y);
    } else if (state_is(state, "glue")) {
        static const float glue[3] = {0.1f, 0.07f, 0.05f};
        mark_drop(cv, &f, def, x, y, rng_range(def, 0.03, 0.05), glue, 0.85f);
    } else if (state_is(state, "poke")) {
        static const float dark[3] = {0.08f, 0.05f, 0.03f};
        float rim[3] = {l.base[0] * 1.35f, l.base[1] * 1.35f, l.base[2] * 1.35f};
        int n = 1 + (int)rng_below(def, 2);
        for (int i = 0; i < n; i++) {
            double dy = rng_range(def, -0.03, 0.03), r = rng_range(def, 0.014, 0.018);
            mark_hole(cv, &f, def, x + 0.04 * i, y + dy, r, dark, rim);
        }
    }
}
