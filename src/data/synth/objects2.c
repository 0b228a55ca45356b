/* Objects, part two: pill, screw, toothbrush, transistor and zipper, with
 * their defects. */
#include <math.h>

#include "synth_internal.h"

#define PI 3.141592653589793
#define TAU 6.283185307179586

/* ---- pill: a white oval with red speckles and an "FF" imprint ---- */

typedef struct Pill {
    double rx, ry;
    float body[3];
} Pill;

static void pill_shade(const void *ctx, double x, double y, float rgb[3]) {
    const Pill *p = ctx;
    double r2 = (x / p->rx) * (x / p->rx) + (y / p->ry) * (y / p->ry);
    double f = 0.75 + 0.28 * sqrt(r2 < 1 ? 1 - r2 : 0);
    double glint = 0.12 * pm_exp(-((x + 0.1) * (x + 0.1) + (y + 0.08) * (y + 0.08)) / 0.003);
    for (int i = 0; i < 3; i++) rgb[i] = (float)(p->body[i] * f + glint);
}

enum { PILL_COLOR, PILL_CONTAMINATION, PILL_CRACK, PILL_FAULTY_IMPRINT, PILL_SCRATCH, PILL_DEFECTS };
static const char *const pill_defects[PILL_DEFECTS] = {"color", "contamination", "crack",
                                                       "faulty_imprint", "scratch"};

static void pill_defect(Canvas *cv, const Frame *f, Rng *def, int which) {
    double x = rng_range(def, -0.2, 0.2), y = rng_range(def, -0.08, 0.08);
    if (which == PILL_COLOR) {
        static const float tints[3][3] = {{1.0f, 0.62f, 0.28f}, {0.62f, 0.42f, 0.3f}, {1.0f, 0.5f, 0.68f}};
        Blob b = blob_make(def, x, y, rng_range(def, 0.03, 0.05), 0.3);
        tint_blob(cv, f, &b, tints[rng_below(def, 3)], 0.95f, 2.5f);
    } else if (which == PILL_CONTAMINATION) {
        static const float dirt[3] = {0.2f, 0.15f, 0.12f};
        double size = rng_range(def, 0.022, 0.03);
        int count = 1 + (int)rng_below(def, 2);
        mark_debris(cv, f, def, x, y, 0.02, size, count, dirt);
    } else if (which == PILL_CRACK) {
        static const float dark[3] = {0.33f, 0.31f, 0.28f};
        mark_crack(cv, f, def, x, y, rng_range(def, 0.15, 0.22), 0.008, dark);
    } else if (which == PILL_SCRATCH) {
        static const float gray[3] = {0.45f, 0.45f, 0.43f};
        mark_scratch(cv, f, def, x, y, rng_range(def, 0.1, 0.16), 0.009, gray);
    }
}

void paint_pill(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.015, 0.015), cy = 0.5 + rng_range(scene, -0.015, 0.015);
    double rot = rng_range(scene, -0.03, 0.03);
    Pill p;
    p.rx = 0.36 * rng_range(scene, 0.97, 1.03), p.ry = 0.2 * rng_range(scene, 0.96, 1.04);
    float tone = (float)rng_range(scene, 0.86, 0.94);
    p.body[0] = tone, p.body[1] = tone * 0.98f, p.body[2] = tone * 0.94f;
    double speck[40][3];
    for (int i = 0; i < 40; i++) {
        double a = rng_range(scene, 0, TAU), r = sqrt(rng_uniform(scene)) * 0.92;
        speck[i][0] = r * p.rx * pm_cos(a), speck[i][1] = r * p.ry * pm_sin(a);
        speck[i][2] = rng_range(scene, 0.005, 0.011);
    }
    float bg[3] = {0.03f, 0.03f, 0.03f};
    paint_background(cv, bg, 0.4, rng_u32(scene));

    unsigned mask = 0;
    if (state_is(state, "combined")) mask = pick_defects(def, PILL_DEFECTS, 2);
    for (int i = 0; i < PILL_DEFECTS; i++)
        if (state_is(state, pill_defects[i])) mask = 1u << i;
    int other_type = state_is(state, "pill_type");
    if (other_type) p.body[0] *= 1.0f, p.body[1] *= 0.9f, p.body[2] *= 0.7f;

    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, 1.0, 0);
    draw_ellipse(cv, &f, 0.01, 0.02, p.rx, p.ry, 0, ink_soft(ink_gray(0, 0.5f), 6));
    shade_ellipse(cv, &f, 0, 0, p.rx, p.ry, 0, ink(0, 0, 0, 1), pill_shade, &p);
    if (!other_type)
        for (int i = 0; i < 40; i++)
            draw_circle(cv, &f, speck[i][0], speck[i][1], speck[i][2], ink(0.72f, 0.24f, 0.2f, 0.85f));
    double clip = 1.0;
    if (mask & (1u << PILL_FAULTY_IMPRINT)) clip = rng_range(def, 0.25, 0.6);
    /* embossed: a lit lower edge under a darker print */
    draw_text(cv, &f, 0.004, 0.004, 0.11, "FF", clip, ink_gray(tone * 1.08f, 0.8f));
    draw_text(cv, &f, 0, 0, 0.11, "FF", clip, ink_gray(tone * 0.55f, 0.95f));
    for (int i = 0; i < PILL_DEFECTS; i++)
        if (mask & (1u << i)) pill_defect(cv, &f, def, i);
}

/* ---- screw: a machine screw lying on a light surface, any rotation ---- */

typedef struct Screw {
    double tone, pitch, phase, tip_end;
    double side_x, side_dir; /* thread_side: flattened flank from side_x, on side side_dir */
    double top_x;            /* thread_top: worn crests from top_x */
    int worn;
    uint32_t seed;
} Screw;

#define SCREW_HEAD0 (-0.3)
#define SCREW_NECK0 (-0.22)
#define SCREW_THREAD0 (-0.08)
#define SCREW_TIP0 0.22
#define SCREW_TIP1 0.3

static double screw_half(const Screw *s, double x, double y) {
    if (x < SCREW_NECK0) return 0.075;
    if (x < SCREW_THREAD0) return 0.032;
    double t = (x - SCREW_THREAD0) / s->pitch + s->phase;
    double crest = 0.036 + 0.012 * (1 - 2 * fabs(t - floor(t) - 0.5));
    if (s->side_dir != 0 && y * s->side_dir > 0 && x > s->side_x && x < s->side_x + 0.06) crest = 0.031;
    if (x < SCREW_TIP0) return crest;
    double k = (x - SCREW_TIP0) / (SCREW_TIP1 - SCREW_TIP0);
    return crest * (1 - k) + 0.004 * k;
}

static double screw_sdf(const void *ctx, double x, double y) {
    const Screw *s = ctx;
    double d = fabs(y) - screw_half(s, x, y);
    double ends = x < SCREW_HEAD0 + 0.5 * (s->tip_end - SCREW_HEAD0) ? SCREW_HEAD0 - x : x - s->tip_end;
    return 0.7 * (d > ends ? d : ends);
}

static void screw_shade(const void *ctx, double x, double y, float rgb[3]) {
    const Screw *s = ctx;
    double h = screw_half(s, x, y), yy = y / h;
    double f = 0.55 + 0.6 * sqrt(yy * yy < 1 ? 1 - yy * yy : 0);
    if (x < SCREW_NECK0) f *= 1.15;
    if (x >= SCREW_THREAD0) {
        double t = (x + 0.35 * y - SCREW_THREAD0) / s->pitch + s->phase;
        double groove = 0.7 + 0.3 * fabs(2 * (t - floor(t)) - 1);
        int worn = s->worn && x > s->top_x && x < s->top_x + 0.05 && fabs(yy) < 0.75;
        if (worn) groove = 1.4 + 0.25 * value_noise(x * 400, y * 400, s->seed);
        if (s->side_dir != 0 && y * s->side_dir > 0 && x > s->side_x && x < s->side_x + 0.06) groove *= 0.6;
        f *= groove;
    }
    rgb[0] = rgb[1] = rgb[2] = (float)(s->tone * f);
}

void paint_screw(Canvas *cv, const char *state, Rng *scene, Rng *def) {
    double cx = 0.5 + rng_range(scene, -0.05, 0.05), cy = 0.5 + rng_range(scene, -0.05, 0.05);
    double rot = rng_range(scene, 0, TAU), size = rng_range(scene, 0.92, 1.05);
    Screw s = {0};
    s.tone = rng_range(scene, 0.38, 0.5), s.pitch = 0.022, s.phase = rng_range(scene, 0, 1);
    s.tip_end = SCREW_TIP1;
    s.seed = rng_u32(scene);
    float bgv = (float)rng_range(scene, 0.78, 0.88), bg[3] = {bgv, bgv, bgv};
    paint_background(cv, bg, 0.06, rng_u32(scene));

    int front = state_is(state, "manipulated_front");
    if (front) s.tip_end = rng_range(def, 0.225, 0.245);
    if (state_is(state, "thread_side")) {
        s.side_x = rng_range(def, -0.05, 0.13), s.side_dir = rng_uniform(def) < 0.5 ? -1 : 1;
    }
    if (state_is(state, "thread_top")) s.worn = 1, s.top_x = rng_range(def, -0.05, 0.14);

    Frame u = frame_unit(cv->w), f = frame_child(&u, cx, cy, rot, size, 0);
    draw_box(cv, &f, 0.01, 0.015, 0.3, 0.05, 0, 0.05, ink_soft(ink_gray(0, 0.3f), 5));
    double box[4] = {SCREW_HEAD0, -0.08, SCREW_TIP1, 0.08};
    paint(cv, &f, screw_sdf, &s, box, ink(0, 0, 0, 1), screw_shade, &s);
    draw_segment(cv, &f, -0.285, -0.06, -0.285, 0.06, 0.006, ink_gray((float)(s.tone * 1.6), 0.6f));

    if (front) { /* the crushed tip: a burr bent off to one side */
        double side = rng_uniform(def) < 0.5 ? -1 : 1, xy[2 * 5];
        double e = s.tip_end;
        const double px[5] = {e - 0.015, e + 0.025, e + 0.045, e + 0.015, e - 0.01};
        const double py[5] = {-0.01, 0.012, 0.05, 0.065, 0.035};
        for (int i = 0; i < 5; i++) xy[2 * i] = px[i], xy[2 * i + 1] = side * py[i] * rng_range(def, 0.8, 1.2);
        draw_polygon(cv, &f, xy, 5, ink_gray((float)(s.tone * 0.7), 1));
        draw_segment(cv, &f, e, -0.03, e, 0.03, 0.008, ink_gray((float)(s.tone * 1.8), 0.9f));
    } else if (state_is(state, "scratch_head")) {
        double x0 = -0.26 + rng_range(def, -0.02, 0.02), x1 = -0.26 + rng_range(def, -0.03, 0.03);
        draw_segment(cv, &f, x0, -0.06, x1, 0.06, 0.008, ink_gray(0.95f, 0.95f));
        draw_segment(cv, &f, x0 + 0.008, -0.06, x1 + 0.008, 0.06, 0.005, ink_gray(0.1f, 0.7f));
    } else if (state_is(state, "scratch_neck")) {
        double x0 = rng_range(def, -0.21, -0.17), y0 = rng_range(def, -0.018, 0.018);
        double y1 = y0 + rng_range(def, -0.012, 0.012);
        draw_segment(cv, &f, x0, y0, x0 + 0.08, y1, 0.008, ink_gray(0.95f, 0.95f));
        draw_segment(cv, &f, x0, y0 + 0.008, x0 + 0.08, y1 + 0.008, 0.005, ink_gray(0.1f, 0.7f));
    }
}
