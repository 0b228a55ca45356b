/* Objects, part one: bottle, cable, capsule, hazelnut and metal nut, with
 * their defects. Each object is drawn in its own frame (origin at its
 * centre, posed by the scene stream); defects are placed in that frame. */
#include <math.h>

#include "synth_internal.h"

#define PI 3.141592653589793
#define TAU 6.283185307179586

/* A jagged piece broken off a ring: the polygon between radius r_out along
 * an arc of `span` radians around angle a and a ragged inner edge near r_in. */
static int broken_piece(Rng *def, double *xy, double a, double span, double r_in, double r_out) {
    int n = 0;
    for (int i = 0; i <= 8; i++) {
        double t = a - 0.5 * span + span * i / 8;
        xy[2 * n] = r_out * pm_cos(t), xy[2 * n + 1] = r_out * pm_sin(t), n++;
    }
    for (int i = 8; i >= 0; i--) {
        double t = a - 0.5 * span + span * (i + rng_range(def, -0.3, 0.3)) / 8;
        double r = r_in * rng_range(def, 0.93, 1.07);
        if (i == 0 || i == 8) r = 0.5 * (r + r_out); /* taper at the ends */
        xy[2 * n] = r * pm_cos(t), xy[2 * n + 1] = r * pm_sin(t), n++;
    }
    return n;
}

/* ---- bottle: an amber bottle mouth seen from above ---- */

void paint_bottle(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.02, 0.02), cy = 0.5 + rng_range(scene, -0.02, 0.02);
    double size = 0.42 * rng_range(scene, 0.96, 1.04), hl = rng_range(scene, 0, TAU);
    double tone = rng_range(scene, 0.85, 1.15);
    float glass[3] = {(float)(0.42 * tone), (float)(0.27 * tone), (float)(0.1 * tone)};
    float bg[3] = {0.04f, 0.04f, 0.035f};
    paint_background(cv, bg, 0.4, rng_u32(scene));

    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, 0, size, 0);
    draw_circle(cv, &f, 0, 0, 1.0, ink_scaled(glass, 0.7f, 1));
    draw_ring(cv, &f, 0, 0, 0.78, 0.97, ink_soft(ink_scaled(glass, 1.3f, 1), 2));
    draw_ring(cv, &f, 0, 0, 0.89, 0.92, ink_soft(ink(0.85f, 0.7f, 0.45f, 0.6f), 1.5f));
    draw_circle(cv, &f, 0, 0, 0.58, ink_soft(ink(0.05f, 0.035f, 0.02f, 1), 2));
    draw_ring(cv, &f, 0, 0, 0.26, 0.33, ink_soft(ink_scaled(glass, 0.5f, 0.6f), 2));
    draw_ellipse(cv, &f, 0.87 * pm_cos(hl), 0.87 * pm_sin(hl), 0.12, 0.035, hl + 0.5 * PI,
                 ink_soft(ink_gray(1.0f, 0.55f), 2));

    if (state_is(state, "broken_large") || state_is(state, "broken_small")) {
        int large = state_is(state, "broken_large");
        double a = rng_range(def, 0, TAU), xy[2 * 18];
        double span = large ? rng_range(def, 0.6, 0.9) : rng_range(def, 0.2, 0.3);
        double r_in = large ? rng_range(def, 0.62, 0.72) : rng_range(def, 0.8, 0.86);
        int n = broken_piece(def, xy, a, span, r_in, 1.03);
        draw_polygon(cv, &f, xy, n, ink(0.85f, 0.75f, 0.56f, 1));
        draw_polyline(cv, &f, xy + 18, n - 9, 0.02, ink(0.16f, 0.1f, 0.05f, 0.9f));
    } else if (state_is(state, "contamination")) {
        static const float dirt[3] = {0.66f, 0.6f, 0.5f};
        double a = rng_range(def, 0, TAU), r = rng_range(def, 0, 0.25);
        double size = rng_range(def, 0.05, 0.075);
        int count = 2 + (int)rng_below(def, 3);
        mark_debris(cv, &f, def, r * pm_cos(a), r * pm_sin(a), 0.15, size, count, dirt);
    }
}

/* ---- cable: a cross-section, three coloured wires in a grey sheath ---- */

enum { CABLE_BENT_WIRE, CABLE_SWAP, CABLE_CUT_INNER, CABLE_CUT_OUTER, CABLE_MISSING_CABLE,
       CABLE_MISSING_WIRE, CABLE_POKE, CABLE_DEFECTS };

static const char *const cable_defects[CABLE_DEFECTS] = {
    "bent_wire", "cable_swap", "cut_inner_insulation", "cut_outer_insulation",
    "missing_cable", "missing_wire", "poke_insulation"};

#define WIRE_DIST 0.46
#define WIRE_R 0.36
#define CORE_R 0.19

static void wire_centre(int k, double *x, double *y) {
    static const double angle[3] = {-5 * PI / 6, -PI / 6, PI / 2};
    *x = WIRE_DIST * cos(angle[k]);
    *y = WIRE_DIST * sin(angle[k]);
}

static void cable_post(Canvas *cv, const Frame *f, Rng *def, int which, int k) {
    double wx, wy;
    wire_centre(k, &wx, &wy);
    double a = rng_range(def, 0, TAU);
    static const float copper[3] = {0.88f, 0.56f, 0.3f};
    if (which == CABLE_BENT_WIRE) {
        for (int s = 0; s < 6; s++) {
            double a0 = a + rng_range(def, -0.6, 0.6), a1 = a + rng_range(def, -0.7, 0.7);
            double r1 = rng_range(def, 0.38, 0.52);
            double x0 = wx + 0.08 * pm_cos(a0), y0 = wy + 0.08 * pm_sin(a0);
            double x1 = wx + r1 * pm_cos(a1), y1 = wy + r1 * pm_sin(a1);
            draw_segment(cv, f, x0, y0, x1, y1, 0.06, ink(0.35f, 0.2f, 0.1f, 1));
            draw_segment(cv, f, x0, y0, x1, y1, 0.035, ink(copper[0], copper[1], copper[2], 1));
        }
    } else if (which == CABLE_CUT_INNER) {
        double xy[8];
        const double rr[4] = {CORE_R + 0.01, WIRE_R + 0.01, WIRE_R + 0.01, CORE_R + 0.01};
        const double da[4] = {-0.15, -0.45, 0.45, 0.15};
        for (int i = 0; i < 4; i++)
            xy[2 * i] = wx + rr[i] * pm_cos(a + da[i]), xy[2 * i + 1] = wy + rr[i] * pm_sin(a + da[i]);
        draw_polygon(cv, f, xy, 4, ink(0.35f, 0.2f, 0.1f, 1));
        for (int i = 0; i < 4; i++) xy[2 * i] = 0.85 * (xy[2 * i] - wx) + wx, xy[2 * i + 1] = 0.85 * (xy[2 * i + 1] - wy) + wy;
        draw_polygon(cv, f, xy, 4, ink(copper[0], copper[1], copper[2], 1));
    } else if (which == CABLE_CUT_OUTER) {
        double xy[2 * 18];
        int n = broken_piece(def, xy, a, rng_range(def, 0.22, 0.32), 0.84, 1.01);
        draw_polygon(cv, f, xy, n, ink(0.9f, 0.88f, 0.84f, 1));
        draw_polyline(cv, f, xy + 18, n - 9, 0.025, ink(0.2f, 0.2f, 0.2f, 0.9f));
    } else if (which == CABLE_POKE) {
        static const float dark[3] = {0.05f, 0.05f, 0.05f}, rim[3] = {0.9f, 0.9f, 0.85f};
        double r = 0.5 * (CORE_R + WIRE_R);
        mark_hole(cv, f, def, wx + r * pm_cos(a), wy + r * pm_sin(a), 0.05, dark, rim);
    }
}

void paint_cable(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.02, 0.02), cy = 0.5 + rng_range(scene, -0.02, 0.02);
    double rot = rng_range(scene, -0.15, 0.15), size = 0.45 * rng_range(scene, 0.97, 1.03);
    float sheath = (float)rng_range(scene, 0.55, 0.68), tone = (float)rng_range(scene, 0.9, 1.1);
    float wire[3][3] = {{0.25f * tone, 0.56f * tone, 0.25f * tone},
                        {0.2f * tone, 0.35f * tone, 0.74f * tone},
                        {0.52f * tone, 0.33f * tone, 0.18f * tone}};
    float bg[3] = {0.07f, 0.07f, 0.07f};
    paint_background(cv, bg, 0.4, rng_u32(scene));

    /* which defects, each on its own wire */
    unsigned mask = 0;
    if (state_is(state, "combined")) mask = pick_defects(def, CABLE_DEFECTS, 2);
    for (int i = 0; i < CABLE_DEFECTS; i++)
        if (state_is(state, cable_defects[i])) mask = 1u << i;
    int perm[3] = {0, 1, 2}, on_wire[CABLE_DEFECTS], used = 0;
    for (int i = 2; i > 0; i--) {
        int j = (int)rng_below(def, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
    for (int i = 0; i < CABLE_DEFECTS; i++) on_wire[i] = (mask & (1u << i)) ? perm[used++] : -1;
    if (on_wire[CABLE_SWAP] >= 0) { /* the wire takes another wire's colour */
        int k = on_wire[CABLE_SWAP], src = (k + 1 + (int)rng_below(def, 2)) % 3;
        for (int c = 0; c < 3; c++) wire[k][c] = wire[src][c];
    }

    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, size, 0);
    draw_circle(cv, &f, 0, 0, 1.0, ink_soft(ink_gray(sheath * 0.7f, 1), 1.5f));
    draw_circle(cv, &f, 0, 0, 0.93, ink_soft(ink_gray(sheath, 1), 2));
    draw_circle(cv, &f, 0, 0, 0.2, ink_soft(ink_gray(sheath * 0.8f, 0.8f), 3));
    static const float copper[3] = {0.86f, 0.53f, 0.28f}, strand[3] = {0.52f, 0.3f, 0.14f};
    for (int k = 0; k < 3; k++) {
        double wx, wy;
        wire_centre(k, &wx, &wy);
        if (on_wire[CABLE_MISSING_CABLE] == k) { /* an empty socket */
            draw_circle(cv, &f, wx, wy, WIRE_R, ink_soft(ink_gray(0.1f, 1), 1.5f));
            draw_ring(cv, &f, wx, wy, WIRE_R - 0.06, WIRE_R, ink_soft(ink_gray(sheath * 0.5f, 0.8f), 2));
            continue;
        }
        draw_circle(cv, &f, wx, wy, WIRE_R, ink(wire[k][0], wire[k][1], wire[k][2], 1));
        draw_ring(cv, &f, wx, wy, 0.25, 0.33, ink_soft(ink_scaled(wire[k], 1.25f, 0.6f), 2));
        if (on_wire[CABLE_MISSING_WIRE] == k) { /* the insulation ring, empty */
            draw_circle(cv, &f, wx, wy, CORE_R, ink_soft(ink_gray(0.05f, 1), 1.5f));
            continue;
        }
        draw_circle(cv, &f, wx, wy, CORE_R, ink(copper[0], copper[1], copper[2], 1));
        for (int s = 0; s < 7; s++) {
            double sx = s ? wx + 0.12 * pm_cos(s * PI / 3) : wx, sy = s ? wy + 0.12 * pm_sin(s * PI / 3) : wy;
            draw_ring(cv, &f, sx, sy, 0.045, 0.062, ink(strand[0], strand[1], strand[2], 0.7f));
        }
    }
    for (int i = 0; i < CABLE_DEFECTS; i++)
        if (on_wire[i] >= 0) cable_post(cv, &f, def, i, on_wire[i]);
}

/* ---- capsule: black and orange, "500" printed in white ---- */

typedef struct CapsuleShape {
    double half, r;                    /* half length of the straight part, radius */
    double pinch_x, pinch, pinch_w, side; /* squeeze: a dent on one side */
    float dark[3], body[3];
} CapsuleShape;

static double capsule_radius(const CapsuleShape *c, double x, double y) {
    if (c->pinch <= 0 || y * c->side < 0) return c->r;
    double t = (x - c->pinch_x) / c->pinch_w;
    return c->r * (1 - c->pinch * pm_exp(-t * t));
}

static double capsule_sdf(const void *ctx, double x, double y) {
    const CapsuleShape *c = ctx;
    double t = x < -c->half ? -c->half : x > c->half ? c->half : x;
    return dist2d(x - t, y) - capsule_radius(c, x, y);
}

static void capsule_shade(const void *ctx, double x, double y, float rgb[3]) {
    const CapsuleShape *c = ctx;
    const float *base = x < 0 ? c->dark : c->body;
    double yy = y / capsule_radius(c, x, y);
    double f = 0.7 + 0.4 * sqrt(yy * yy < 1 ? 1 - yy * yy : 0);
    double glint = 0.32 * pm_exp(-((yy + 0.45) / 0.16) * ((yy + 0.45) / 0.16));
    double seam = fabs(x) < 0.006 ? 0.6 : 1.0;
    for (int i = 0; i < 3; i++) rgb[i] = (float)((base[i] * f + glint) * seam);
}

void paint_capsule(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.02, 0.02), cy = 0.5 + rng_range(scene, -0.02, 0.02);
    double rot = rng_range(scene, -0.04, 0.04);
    CapsuleShape c = {0};
    c.half = 0.25 * rng_range(scene, 0.97, 1.03), c.r = 0.13 * rng_range(scene, 0.96, 1.04);
    float tone = (float)rng_range(scene, 0.9, 1.1), bgv = (float)rng_range(scene, 0.72, 0.82);
    c.dark[0] = c.dark[1] = 0.12f, c.dark[2] = 0.13f;
    c.body[0] = 0.86f * tone, c.body[1] = 0.42f * tone, c.body[2] = 0.12f * tone;
    float bg[3] = {bgv, bgv, bgv * 0.98f};
    paint_background(cv, bg, 0.08, rng_u32(scene));

    if (state_is(state, "squeeze")) {
        c.pinch_x = rng_range(def, -0.2, 0.2), c.pinch = rng_range(def, 0.22, 0.32);
        c.pinch_w = 0.05, c.side = rng_uniform(def) < 0.5 ? -1 : 1;
    }
    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, 1.0, 0);
    draw_box(cv, &f, 0.01, 0.03, c.half + c.r, c.r, 0, c.r, ink_soft(ink_gray(0, 0.25f), 6));
    double box[4] = {-c.half - c.r, -c.r, c.half + c.r, c.r};
    paint(cv, &f, capsule_sdf, &c, box, ink(0, 0, 0, 1), capsule_shade, &c);
    double px = 0.5 * (c.half + c.r);
    Ink print = ink_gray(0.95f, 0.95f);
    if (state_is(state, "faulty_imprint")) {
        if (rng_uniform(def) < 0.5) {
            draw_text(cv, &f, px, 0, 0.09, "500", rng_range(def, 0.3, 0.62), print);
        } else { /* smeared */
            draw_text(cv, &f, px + 0.02, 0.01, 0.09, "500", 1.0, ink_soft(ink_gray(0.95f, 0.8f), 4));
        }
    } else {
        draw_text(cv, &f, px, 0, 0.09, "500", 1.0, print);
    }
    int on_body = rng_uniform(def) < 0.6;
    double x = on_body ? rng_range(def, 0.04, 0.28) : rng_range(def, -0.28, -0.04);
    double y = rng_range(def, -0.06, 0.06);
    if (state_is(state, "crack")) {
        static const float on_orange[3] = {0.3f, 0.12f, 0.03f}, on_black[3] = {0.55f, 0.55f, 0.55f};
        mark_crack(cv, &f, def, x, y, rng_range(def, 0.08, 0.12), 0.007, on_body ? on_orange : on_black);
    } else if (state_is(state, "poke")) {
        static const float dark[3] = {0.05f, 0.03f, 0.02f};
        float rim[3] = {0.5f, 0.5f, 0.5f};
        if (on_body) rim[0] = c.body[0] * 1.25f, rim[1] = c.body[1] * 1.4f, rim[2] = c.body[2] * 1.5f;
        mark_hole(cv, &f, def, x, y, rng_range(def, 0.016, 0.02), dark, rim);
    } else if (state_is(state, "scratch")) {
        static const float on_orange[3] = {1.0f, 0.97f, 0.92f}, on_black[3] = {0.75f, 0.75f, 0.75f};
        mark_scratch(cv, &f, def, x, y, rng_range(def, 0.1, 0.16), 0.011, on_body ? on_orange : on_black);
    }
}

/* ---- hazelnut: a brown nut on black, at any rotation ---- */

typedef struct Nut {
    double len; /* tip direction is +x */
    float brown[3];
    uint32_t seed;
} Nut;

static double nut_radius(const Nut *n, double th) {
    double c = pm_cos(th), tip = c > 0 ? c * c * c : 0;
    return n->len * (1 + 0.2 * tip - 0.05 * c * c);
}

static double nut_sdf(const void *ctx, double x, double y) {
    const Nut *n = ctx;
    return 0.85 * (dist2d(x, y) - nut_radius(n, pm_atan2(y, x)));
}

static void nut_shade(const void *ctx, double x, double y, float rgb[3]) {
    const Nut *n = ctx;
    double r = dist2d(x, y) / nut_radius(n, pm_atan2(y, x));
    double sphere = 0.5 + 0.6 * sqrt(r < 1 ? 1 - r * r : 0);
    double streak = 0.22 * fbm(x * 5, y * 16, 3, n->seed);
    double glint = 0.25 * pm_exp(-((x + 0.08) * (x + 0.08) + (y + 0.1) * (y + 0.1)) / 0.004);
    for (int i = 0; i < 3; i++) rgb[i] = (float)(n->brown[i] * (sphere + streak) + glint);
}

static void hilum_shade(const void *ctx, double x, double y, float rgb[3]) {
    const Nut *n = ctx;
    double g = 0.12 * fbm(x * 40, y * 40, 2, n->seed + 9);
    rgb[0] = (float)(0.62 + g), rgb[1] = (float)(0.55 + g), rgb[2] = (float)(0.45 + g);
}

void paint_hazelnut(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.04, 0.04), cy = 0.5 + rng_range(scene, -0.04, 0.04);
    double rot = rng_range(scene, 0, TAU), size = rng_range(scene, 0.95, 1.05);
    Nut n;
    n.len = 0.28;
    float tone = (float)rng_range(scene, 0.85, 1.1);
    n.brown[0] = 0.5f * tone, n.brown[1] = 0.31f * tone, n.brown[2] = 0.14f * tone;
    n.seed = rng_u32(scene);
    float bg[3] = {0.03f, 0.03f, 0.03f};
    paint_background(cv, bg, 0.4, rng_u32(scene));

    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, size, 0);
    draw_circle(cv, &f, 0.02, 0.02, 0.33, ink_soft(ink_gray(0, 0.4f), 8));
    double box[4] = {-0.36, -0.36, 0.36, 0.36};
    paint(cv, &f, nut_sdf, &n, box, ink(0, 0, 0, 1), nut_shade, &n);
    /* the pale, rough scar at the base */
    Blob h = {-0.24, 0, 0.09, {0.25, 0.05, 0.03, 0.02}, {0, 1, 2, 3}};
    double hb[4];
    blob_box(&h, hb);
    paint(cv, &f, blob_sdf, &h, hb, ink_soft(ink(0, 0, 0, 0.9f), 2), hilum_shade, &n);
    draw_circle(cv, &f, 0.33, 0, 0.015, ink_soft(ink(0.2f, 0.12f, 0.05f, 0.9f), 1.5f));

    double x = rng_range(def, -0.12, 0.15), y = rng_range(def, -0.1, 0.1);
    if (state_is(state, "crack")) {
        static const float dark[3] = {0.06f, 0.035f, 0.02f};
        mark_crack(cv, &f, def, x, y, rng_range(def, 0.18, 0.26), 0.012, dark);
    } else if (state_is(state, "cut")) {
        double a = rng_range(def, 0, TAU), l = rng_range(def, 0.06, 0.09), w = rng_range(def, 0.018, 0.026);
        draw_ellipse(cv, &f, x, y, l + 0.012, w + 0.012, a, ink(0.12f, 0.07f, 0.03f, 1));
        draw_ellipse(cv, &f, x, y, l, w, a, ink(0.84f, 0.7f, 0.52f, 1));
    } else if (state_is(state, "hole")) {
        static const float dark[3] = {0.03f, 0.02f, 0.01f}, rim[3] = {0.66f, 0.5f, 0.32f};
        mark_hole(cv, &f, def, x, y, rng_range(def, 0.028, 0.04), dark, rim);
    } else if (state_is(state, "print")) {
        static const float inks[3][3] = {{0.93f, 0.93f, 0.9f}, {0.2f, 0.3f, 0.85f}, {0.85f, 0.15f, 0.15f}};
        const float *c = inks[rng_below(def, 3)];
        char text[4] = {0};
        int len = 2 + (int)rng_below(def, 2);
        for (int i = 0; i < len; i++) text[i] = (char)('A' + rng_below(def, 26));
        Frame t = frame_child(&f, x, y, rng_range(def, -0.6, 0.6), 1.0, 0);
        draw_text(cv, &t, 0, 0, rng_range(def, 0.08, 0.1), text, 1.0, ink(c[0], c[1], c[2], 0.95f));
    }
}

/* ---- metal nut: a silver nut with four slanted tabs, on black ---- */

typedef struct MetalNut {
    double tone, light_c, light_s;
    int flipped;
    uint32_t seed;
} MetalNut;

static void metal_shade(const void *ctx, double x, double y, float rgb[3]) {
    const MetalNut *m = ctx;
    double r = dist2d(x, y) + 1e-9;
    double lit = 0.25 * (x * m->light_c + y * m->light_s) / r;
    double rings = (m->flipped ? 0.1 : 0.05) * pm_sin(r * (m->flipped ? 160 : 90));
    double v = m->tone * (0.85 + lit + rings + 0.06 * fbm(x * 20, y * 20, 2, m->seed));
    if (m->flipped) v *= 0.8;
    rgb[0] = rgb[1] = (float)v, rgb[2] = (float)(v * 1.04);
}

/* The outline: per tab a valley, a steep flank, the tab's slanted outer edge
 * and a gentle flank; the slant makes the nut chiral, so a flipped (mirrored)
 * nut differs from any rotation of a good one. A bent tab's outer corners
 * swing about its root. */
static int metal_outline(double *xy, int bent_tab, double bend) {
    static const double da[5] = {-0.785, -0.38, -0.16, 0.24, 0.42};
    static const double rr[5] = {0.25, 0.27, 0.42, 0.38, 0.27};
    int n = 0;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < 5; i++) {
            double a = k * PI / 2 + da[i], r = rr[i];
            if (k == bent_tab && (i == 2 || i == 3)) a += bend, r *= 0.9;
            xy[2 * n] = r * pm_cos(a), xy[2 * n + 1] = r * pm_sin(a), n++;
        }
    return n;
}

void paint_metal_nut(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.03, 0.03), cy = 0.5 + rng_range(scene, -0.03, 0.03);
    double rot = rng_range(scene, 0, TAU), size = rng_range(scene, 0.95, 1.05);
    MetalNut m;
    m.tone = rng_range(scene, 0.55, 0.66);
    double la = rng_range(scene, 0, TAU);
    m.light_c = pm_cos(la), m.light_s = pm_sin(la);
    m.seed = rng_u32(scene);
    m.flipped = state_is(state, "flip");
    float bg[3] = {0.03f, 0.03f, 0.03f};
    paint_background(cv, bg, 0.4, rng_u32(scene));

    int bent_tab = -1;
    double bend = 0;
    if (state_is(state, "bent")) {
        bent_tab = (int)rng_below(def, 4);
        double sign = rng_uniform(def) < 0.5 ? -1 : 1;
        bend = sign * rng_range(def, 0.3, 0.42);
    }
    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, size, m.flipped);
    double xy[2 * 20];
    int n = metal_outline(xy, bent_tab, bend);
    draw_circle(cv, &f, 0.01, 0.01, 0.38, ink_soft(ink_gray(0, 0.45f), 5)); /* contact shadow */
    shade_polygon(cv, &f, xy, n, ink(0, 0, 0, 1), metal_shade, &m);
    if (m.flipped) { /* the plain back face: a chamfer, no raised collar */
        draw_ring(cv, &f, 0, 0, 0.2, 0.215, ink_gray((float)(m.tone * 0.45), 0.8f));
    } else {
        draw_ring(cv, &f, 0, 0, 0.14, 0.2, ink_soft(ink_gray((float)(m.tone * 1.35), 0.7f), 1.5f));
        draw_ring(cv, &f, 0, 0, 0.2, 0.215, ink_gray((float)(m.tone * 0.6), 0.8f));
    }
    draw_ring(cv, &f, 0, 0, 0.11, 0.135, ink_soft(ink_gray((float)(m.tone * 0.55), 1), 1.5f));
    draw_circle(cv, &f, 0, 0, 0.11, ink_soft(ink_gray(0.03f, 1), 1.5f));

    if (bent_tab >= 0) { /* the bent tab catches the light differently */
        double tab[2 * 5];
        for (int i = 0; i < 5; i++) tab[2 * i] = xy[2 * (bent_tab * 5 + i)], tab[2 * i + 1] = xy[2 * (bent_tab * 5 + i) + 1];
        draw_polygon(cv, &f, tab, 5, ink_gray(0, 0.35f));
        draw_polyline(cv, &f, tab + 4, 2, 0.012, ink_gray((float)(m.tone * 1.5), 0.9f));
    }
    double a = rng_range(def, 0, TAU), r = rng_range(def, 0.16, 0.3);
    double x = r * pm_cos(a), y = r * pm_sin(a);
    if (state_is(state, "color")) {
        static const float paints[3][3] = {{0.88f, 0.25f, 0.5f}, {0.25f, 0.35f, 0.88f}, {0.92f, 0.52f, 0.15f}};
        const float *c = paints[rng_below(def, 3)];
        int k = 1 + (int)rng_below(def, 2);
        for (int i = 0; i < k; i++) {
            double bx = x + rng_range(def, -0.05, 0.05), by = y + rng_range(def, -0.05, 0.05);
            double br = rng_range(def, 0.035, 0.055);
            Blob b = blob_make(def, bx, by, br, 0.3);
            draw_blob(cv, &f, &b, ink_soft(ink(c[0], c[1], c[2], 0.85f), 2));
        }
    } else if (state_is(state, "scratch")) {
        static const float bright[3] = {0.97f, 0.97f, 0.97f};
        int k = 1 + (int)rng_below(def, 2);
        for (int i = 0; i < k; i++)
            mark_scratch(cv, &f, def, x, y + 0.03 * i, rng_range(def, 0.1, 0.18), 0.008, bright);
    }
}
