/* Objects, part three: toothbrush, transistor and zipper, with their
 * defects. */
#include <math.h>

#include "synth_internal.h"

#define PI 3.141592653589793
#define TAU 6.283185307179586

/* ---- toothbrush: bristle tufts seen from above ---- */

typedef struct Tuft {
    float rgb[3];
    uint32_t seed;
    double x, y, r;
} Tuft;

static void tuft_shade(const void *ctx, double x, double y, float rgb[3]) {
    const Tuft *t = ctx;
    double d = dist2d(x - t->x, y - t->y) / t->r;
    double ends = hash_unit((int32_t)floor(x / 0.007), (int32_t)floor(y / 0.007), t->seed);
    double f = (0.72 + 0.35 * ends) * (1 - 0.3 * d * d);
    for (int i = 0; i < 3; i++) rgb[i] = (float)(t->rgb[i] * f);
}

#define TUFT_ROWS 8
#define TUFT_COLS 3

static void tuft_pos(int i, double *x, double *y) {
    *x = (i % TUFT_COLS - 1) * 0.11;
    *y = -0.35 + (i / TUFT_COLS) * 0.1;
}

/* The middle column and every fourth row in the accent colour, the rest white. */
static void tuft_colour(int i, const float accent[3], float rgb[3]) {
    int coloured = (i % TUFT_COLS == 1) || (i / TUFT_COLS) % 4 == 0;
    for (int c = 0; c < 3; c++) rgb[c] = coloured ? accent[c] : 0.95f;
}

void paint_toothbrush(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.02, 0.02), cy = 0.5 + rng_range(scene, -0.02, 0.02);
    double rot = rng_range(scene, -0.03, 0.03);
    static const float accents[3][3] = {{0.25f, 0.45f, 0.85f}, {0.85f, 0.3f, 0.3f}, {0.3f, 0.7f, 0.4f}};
    const float *accent = accents[rng_below(scene, 3)];
    float head = (float)rng_range(scene, 0.75, 0.88), bgv = (float)rng_range(scene, 0.12, 0.2);
    uint32_t seed = rng_u32(scene);
    float bg[3] = {bgv, bgv, bgv * 1.05f};
    paint_background(cv, bg, 0.3, rng_u32(scene));

    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, 1.0, 0);
    draw_box(cv, &f, 0, 0, 0.2, 0.44, 0, 0.15, ink(head, head, head * 1.04f, 1));
    for (int i = 0; i < TUFT_ROWS * TUFT_COLS; i++) {
        Tuft t;
        tuft_pos(i, &t.x, &t.y);
        t.r = 0.047;
        t.seed = seed + (uint32_t)i;
        tuft_colour(i, accent, t.rgb);
        draw_circle(cv, &f, t.x + 0.006, t.y + 0.008, t.r, ink_soft(ink_gray(0, 0.4f), 2));
        shade_ellipse(cv, &f, t.x, t.y, t.r, t.r, 0, ink(0, 0, 0, 1), tuft_shade, &t);
    }
    if (!state_is(state, "defective")) return;

    /* messy (splayed) bristles, a missing tuft or debris; sometimes two */
    unsigned mask = pick_defects(def, 3, 1 + (int)rng_below(def, 2));
    if (mask & 1) { /* a splayed tuft: bristles bent over its neighbours */
        double x, y;
        int k = (int)rng_below(def, TUFT_ROWS * TUFT_COLS);
        tuft_pos(k, &x, &y);
        double a = rng_range(def, 0, TAU);
        float rgb[3];
        tuft_colour(k, accent, rgb);
        for (int s = 0; s < 14; s++) {
            double b = a + rng_range(def, -0.7, 0.7), l = rng_range(def, 0.08, 0.15);
            float v = (float)rng_range(def, 0.8, 1.05);
            double x1 = x + l * pm_cos(b), y1 = y + l * pm_sin(b);
            draw_segment(cv, &f, x, y, x1, y1, 0.014, ink_gray(0.1f, 0.5f));
            draw_segment(cv, &f, x, y, x1, y1, 0.007, ink(rgb[0] * v, rgb[1] * v, rgb[2] * v, 1));
        }
    }
    if (mask & 2) { /* a missing tuft: the bare hole in the head */
        double x, y;
        tuft_pos((int)rng_below(def, TUFT_ROWS * TUFT_COLS), &x, &y);
        draw_circle(cv, &f, x, y, 0.052, ink(head, head, head * 1.04f, 1));
        draw_circle(cv, &f, x, y, 0.03, ink_soft(ink_gray(0.08f, 1), 1.5f));
    }
    if (mask & 4) {
        static const float dirt[3] = {0.3f, 0.22f, 0.12f};
        double x, y;
        tuft_pos((int)rng_below(def, TUFT_ROWS * TUFT_COLS), &x, &y);
        mark_debris(cv, &f, def, x, y, 0.03, 0.028, 2 + (int)rng_below(def, 2), dirt);
    }
}

/* ---- transistor: a black three-lead part on a circuit board ---- */

static const double lead_x[3] = {-0.12, 0.0, 0.12};
#define LEAD_TOP 0.06
#define PAD_Y 0.33

void paint_transistor(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.01, 0.01), cy = 0.5 + rng_range(scene, -0.01, 0.01);
    double rot = rng_range(scene, -0.02, 0.02);
    float tone = (float)rng_range(scene, 0.9, 1.08);
    float board[3] = {0.6f * tone, 0.66f * tone, 0.58f * tone};
    paint_background(cv, board, 0.1, rng_u32(scene));

    Frame u = frame_unit(cv->w), o = frame_child(&u, cx, cy, rot, 1.0, 0);
    for (int k = 0; k < 3; k++) { /* solder pads with their holes */
        draw_circle(cv, &o, lead_x[k], PAD_Y, 0.05, ink_gray(0.74f, 1));
        draw_circle(cv, &o, lead_x[k], PAD_Y, 0.017, ink_gray(0.12f, 1));
    }
    int absent = 0;
    Frame p = o;
    if (state_is(state, "misplaced")) {
        int mode = (int)rng_below(def, 3);
        double sign = rng_uniform(def) < 0.5 ? -1 : 1;
        if (mode == 0) p = frame_child(&o, 0, -0.08, sign * rng_range(def, 0.3, 0.5), 1.0, 0);
        if (mode == 0) p = frame_child(&p, 0, 0.08, 0, 1.0, 0); /* turned about the body's centre */
        if (mode == 1) {
            double dx = sign * rng_range(def, 0.1, 0.15), dy = rng_range(def, -0.05, 0.02);
            p = frame_child(&o, dx, dy, 0, 1.0, 0);
        }
        absent = mode == 2;
    }
    if (absent) return;

    int bent = -1, cut = -1;
    if (state_is(state, "bent_lead")) bent = (int)rng_below(def, 3);
    if (state_is(state, "cut_lead")) cut = (int)rng_below(def, 3);
    for (int k = 0; k < 3; k++) {
        double xy[6] = {lead_x[k], LEAD_TOP, lead_x[k], 0.2, lead_x[k], PAD_Y};
        int n = 3;
        if (k == bent) {
            double side = rng_uniform(def) < 0.5 ? -1 : 1;
            xy[4] = lead_x[k] + side * rng_range(def, 0.07, 0.1), xy[3] = 0.17;
        }
        if (k == cut) xy[3] = rng_range(def, 0.13, 0.19), n = 2;
        draw_polyline(cv, &p, xy, n, 0.034, ink_gray(0.35f, 1));
        draw_polyline(cv, &p, xy, n, 0.022, ink(0.82f, 0.82f, 0.8f, 1));
        if (k == cut) draw_circle(cv, &p, xy[2], xy[3], 0.013, ink_gray(0.95f, 0.9f));
        else draw_circle(cv, &p, xy[2 * n - 2], xy[2 * n - 1], 0.03, ink_soft(ink_gray(0.8f, 0.8f), 2));
    }
    draw_box(cv, &p, 0, -0.29, 0.16, 0.07, 0, 0.01, ink_gray(0.66f, 1)); /* the metal tab */
    draw_circle(cv, &p, 0, -0.29, 0.035, ink(board[0] * 0.7f, board[1] * 0.7f, board[2] * 0.7f, 1));
    draw_box(cv, &p, 0.012, -0.068, 0.2, 0.15, 0, 0.012, ink_soft(ink_gray(0, 0.35f), 4));
    draw_box(cv, &p, 0, -0.08, 0.2, 0.15, 0, 0.012, ink(0.1f, 0.1f, 0.11f, 1));
    draw_box(cv, &p, 0, -0.215, 0.19, 0.012, 0, 0.006, ink_gray(0.3f, 0.8f));
    draw_text(cv, &p, 0, -0.08, 0.045, "K3A", 1.0, ink_gray(0.42f, 0.9f));

    if (state_is(state, "damaged_case")) { /* a chipped corner */
        double sx = rng_uniform(def) < 0.5 ? -1 : 1, sy = rng_uniform(def) < 0.5 ? -1 : 1;
        double ex = sx * 0.2, ey = -0.08 + sy * 0.15, s = rng_range(def, 0.07, 0.1), xy[2 * 5];
        xy[0] = ex + sx * 0.01, xy[1] = ey + sy * 0.01;
        xy[2] = ex - sx * s, xy[3] = ey + sy * 0.01;
        xy[4] = ex - sx * s * rng_range(def, 0.4, 0.6), xy[5] = ey - sy * s * rng_range(def, 0.3, 0.5);
        xy[6] = ex - sx * s * rng_range(def, 0.1, 0.3), xy[7] = ey - sy * s * rng_range(def, 0.5, 0.8);
        xy[8] = ex + sx * 0.01, xy[9] = ey - sy * s;
        draw_polygon(cv, &p, xy, 5, ink(0.42f, 0.4f, 0.38f, 1));
        draw_polyline(cv, &p, xy + 2, 3, 0.008, ink_gray(0.62f, 0.9f));
    }
}

/* ---- zipper: two rows of interlocking teeth between fabric tapes ---- */

typedef struct Zipper {
    double xc, pitch, phase;
    float fabric, tooth;
    uint32_t seed;
} Zipper;

static void zipper_field(const void *ctx, double u, double v, float rgb[3]) {
    const Zipper *z = ctx;
    double weave = pm_sin(2 * PI * u * 42) * pm_sin(2 * PI * v * 42);
    double f = z->fabric * (0.88 + 0.1 * weave + 0.1 * fbm(u * 30, v * 30, 2, z->seed));
    if (fabs(u - z->xc) < 0.13) f *= 1.15; /* the tape */
    rgb[0] = rgb[1] = rgb[2] = (float)f;
}

enum { ZIP_BROKEN, ZIP_BORDER, ZIP_INTERIOR, ZIP_ROUGH, ZIP_SPLIT, ZIP_SQUEEZED, ZIP_DEFECTS };
static const char *const zip_defects[ZIP_DEFECTS] = {"broken_teeth", "fabric_border", "fabric_interior",
                                                     "rough", "split_teeth", "squeezed_teeth"};

static void fabric_damage(Canvas *cv, const Frame *f, Rng *def, double x, double y, int torn) {
    static const float dark[3] = {0.08f, 0.08f, 0.08f}, rim[3] = {0.7f, 0.7f, 0.7f};
    if (torn) {
        mark_hole(cv, f, def, x, y, rng_range(def, 0.028, 0.04), dark, rim);
        return;
    }
    Blob b = blob_make(def, x, y, rng_range(def, 0.03, 0.045), 0.45);
    draw_blob(cv, f, &b, ink_soft(ink_gray(0.12f, 0.9f), 1.5f));
    for (int i = 0; i < 4; i++) {
        double a = rng_range(def, 0, TAU), l = rng_range(def, 0.04, 0.07);
        draw_segment(cv, f, x, y, x + l * pm_cos(a), y + l * pm_sin(a), 0.006, ink_gray(0.8f, 0.9f));
    }
}

void paint_zipper(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    Zipper z;
    z.xc = 0.5 + rng_range(scene, -0.015, 0.015);
    z.pitch = 0.045 * rng_range(scene, 0.95, 1.05), z.phase = rng_range(scene, 0, 1);
    z.fabric = (float)rng_range(scene, 0.3, 0.42), z.tooth = (float)rng_range(scene, 0.72, 0.82);
    z.seed = rng_u32(scene);
    canvas_field(cv, zipper_field, &z);

    unsigned mask = 0;
    if (state_is(state, "combined")) mask = pick_defects(def, ZIP_DEFECTS, 2);
    for (int i = 0; i < ZIP_DEFECTS; i++)
        if (state_is(state, zip_defects[i])) mask = 1u << i;
    /* damaged stretches of the chain, in rows of teeth */
    int broken_side = rng_uniform(def) < 0.5, broken0 = 6 + (int)rng_below(def, 10), broken_n = 1 + (int)rng_below(def, 3);
    double split_y = rng_range(def, 0.2, 0.6), split_len = z.pitch * rng_range(def, 4, 6);
    double squeeze_y = rng_range(def, 0.2, 0.65), squeeze_len = z.pitch * rng_range(def, 3, 4);

    Frame f = frame_unit(cv->w);
    if (mask & (1u << ZIP_SPLIT))
        draw_ellipse(cv, &f, z.xc, split_y + 0.5 * split_len, 0.03, 0.5 * split_len + 0.01, 0,
                     ink_soft(ink_gray(0.06f, 1), 3));
    for (int k = -2; k < (int)(1.0 / z.pitch) + 3; k++) {
        for (int side = 0; side < 2; side++) {
            double y = (k + z.phase + 0.5 * side) * z.pitch, x = z.xc + (side ? 0.032 : -0.032);
            double hw = 0.05, hh = 0.013, angle = 0;
            if ((mask & (1u << ZIP_BROKEN)) && side == broken_side && k >= broken0 && k < broken0 + broken_n) {
                if ((k - broken0) % 2) continue; /* gone */
                hw = 0.02, x = z.xc + (side ? 0.062 : -0.062); /* a stub */
            }
            if (mask & (1u << ZIP_SPLIT)) {
                double t = (y - split_y) / split_len;
                if (t > 0 && t < 1) x += (side ? 1 : -1) * 0.035 * pm_sin(PI * t);
            }
            if (mask & (1u << ZIP_SQUEEZED)) {
                double t = (y - squeeze_y) / squeeze_len;
                if (t > 0 && t < 1) {
                    y = squeeze_y + squeeze_len * (0.2 + 0.6 * t);
                    angle = (side ? 1 : -1) * 0.45 * pm_sin(PI * t);
                    hh *= 0.8;
                }
            }
            draw_box(cv, &f, x + 0.004, y + 0.005, hw, hh, angle, 0.008, ink_soft(ink_gray(0, 0.35f), 2));
            draw_box(cv, &f, x, y, hw, hh, angle, 0.008, ink_gray(z.tooth, 1));
            draw_box(cv, &f, x, y - 0.5 * hh, 0.8 * hw, 0.25 * hh, angle, 0.003, ink_gray(z.tooth * 1.2f, 0.6f));
        }
    }
    double y = rng_range(def, 0.2, 0.8), s = rng_uniform(def) < 0.5 ? -1 : 1;
    if (mask & (1u << ZIP_BORDER)) fabric_damage(cv, &f, def, z.xc + s * rng_range(def, 0.1, 0.13), y, 0);
    if (mask & (1u << ZIP_INTERIOR)) fabric_damage(cv, &f, def, z.xc + s * rng_range(def, 0.26, 0.36), y, 1);
    if (mask & (1u << ZIP_ROUGH)) { /* frayed tape edge: loose fibres along it */
        double y0 = rng_range(def, 0.15, 0.55), len = rng_range(def, 0.2, 0.3), x0 = z.xc + s * 0.11;
        for (int i = 0; i < 24; i++) {
            double yy = y0 + len * rng_uniform(def), a = rng_range(def, 0, TAU), l = rng_range(def, 0.02, 0.04);
            draw_segment(cv, &f, x0, yy, x0 + l * pm_cos(a), yy + l * pm_sin(a), 0.005,
                         ink_gray(i % 2 ? 0.85f : 0.1f, 0.9f));
        }
    }
}
