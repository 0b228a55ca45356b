/* The look-alike data set: how many images of each label, the class
 * painters' common parts (lighting, defect picks), rendering one image, the
 * warped test copies and the contact sheet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/raster.h"
#include "anomaly/synth.h"
#include "anomaly/transforms.h"
#include "synth_internal.h"

/* ---- counts ---- */

/* Largest-remainder apportionment of `total` over weights w[n] with a floor
 * of min_each per item (see synth_train_counts). Integer arithmetic only, so
 * the full-size counts come out exact. Needs total >= n * min_each. */
static void apportion(int total, const int *w, int n, int min_each, int *out) {
    int *fixed = xcalloc((size_t)n, sizeof *fixed, "count table");
    for (int changed = 1; changed;) {
        changed = 0;
        long long rest = total, weight = 0;
        for (int i = 0; i < n; i++) {
            if (fixed[i]) rest -= min_each;
            else weight += w[i];
        }
        for (int i = 0; i < n; i++)
            if (!fixed[i] && rest * w[i] < (long long)min_each * weight) fixed[i] = changed = 1;
    }
    long long rest = total, weight = 0;
    for (int i = 0; i < n; i++) {
        if (fixed[i]) rest -= min_each;
        else weight += w[i];
    }
    long long *rem = xcalloc((size_t)n, sizeof *rem, "count table");
    long long given = 0;
    for (int i = 0; i < n; i++) {
        if (fixed[i]) {
            out[i] = min_each;
            rem[i] = -1;
            continue;
        }
        out[i] = (int)(rest * w[i] / weight);
        rem[i] = rest * w[i] % weight;
        given += out[i];
    }
    for (long long left = rest - given; left > 0; left--) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (rem[i] >= 0 && (best < 0 || rem[i] > rem[best])) best = i;
        out[best]++;
        rem[best] = -1;
    }
    free(rem);
    free(fixed);
}

int synth_train_counts(int n_train, int counts[MVTEC_N_LABELS]) {
    if (n_train < SYNTH_MIN_TRAIN) return -1;
    int w[MVTEC_N_LABELS];
    for (int i = 0; i < MVTEC_N_LABELS; i++) w[i] = mvtec_labels[i].train;
    apportion(n_train, w, MVTEC_N_LABELS, 2, counts);
    return 0;
}

int synth_train_counts_mix(int n_train, int n_defective, int counts[MVTEC_N_LABELS]) {
    int n_def_labels = 0;
    for (int i = 0; i < MVTEC_N_LABELS; i++) n_def_labels += !mvtec_label_is_good(&mvtec_labels[i]);
    const int n_good_labels = MVTEC_N_LABELS - n_def_labels;
    if (n_defective < 2 * n_def_labels || n_train - n_defective < 2 * n_good_labels) return -1;
    /* each group apportioned by the real counts within it */
    int w[MVTEC_N_LABELS], part[MVTEC_N_LABELS], idx[MVTEC_N_LABELS];
    for (int good = 0; good <= 1; good++) {
        int n = 0;
        for (int i = 0; i < MVTEC_N_LABELS; i++)
            if (mvtec_label_is_good(&mvtec_labels[i]) == good) {
                idx[n] = i;
                w[n++] = mvtec_labels[i].train;
            }
        apportion(good ? n_train - n_defective : n_defective, w, n, 2, part);
        for (int j = 0; j < n; j++) counts[idx[j]] = part[j];
    }
    return 0;
}

int synth_default_test(int n_train) {
    long long pairs = (2LL * (SYNTH_FULL_TEST / 2) * n_train + SYNTH_FULL_TRAIN) / (2LL * SYNTH_FULL_TRAIN);
    return (int)(2 * pairs);
}

int synth_test_counts(int n_test, int counts[MVTEC_N_LABELS]) {
    if (n_test < 0 || n_test % 2) return -1;
    int w[MVTEC_N_LABELS], pairs = n_test / 2;
    for (int i = 0; i < MVTEC_N_LABELS; i++) w[i] = mvtec_test_count(&mvtec_labels[i]) / 2;
    apportion(pairs, w, MVTEC_N_LABELS, pairs >= MVTEC_N_LABELS ? 1 : 0, counts);
    for (int i = 0; i < MVTEC_N_LABELS; i++) counts[i] *= 2;
    return 0;
}

/* ---- what the painters share ---- */

void light_draw(Light *l, Rng *scene) {
    l->gain = rng_range(scene, 0.9, 1.1);
    for (int c = 0; c < 3; c++) l->tint[c] = rng_range(scene, 0.96, 1.04);
    l->vignette = rng_range(scene, 0.0, 0.25);
    l->vx = rng_range(scene, 0.3, 0.7);
    l->vy = rng_range(scene, 0.3, 0.7);
    l->noise = rng_range(scene, 0.004, 0.012);
    l->noise_seed = rng_u32(scene);
}

void light_apply(Canvas *cv, const Light *l) {
    for (int y = 0; y < cv->h; y++)
        for (int x = 0; x < cv->w; x++) {
            double u = (x + 0.5) / cv->w - l->vx, v = (y + 0.5) / cv->h - l->vy;
            double g = l->gain * (1.0 - l->vignette * (u * u + v * v));
            /* sensor noise, one value for all channels so gray stays gray */
            double n = l->noise * (2.0 * hash_unit(x, y, l->noise_seed) - 1.0);
            float *p = cv->px + ((size_t)y * cv->w + x) * 3;
            for (int c = 0; c < 3; c++) p[c] = (float)(p[c] * g * l->tint[c] + n);
        }
}

typedef struct Backdrop {
    float rgb[3];
    double variation;
    uint32_t seed;
} Backdrop;

static void backdrop_field(const void *ctx, double u, double v, float rgb[3]) {
    const Backdrop *b = ctx;
    double f = 1.0 + b->variation * fbm(u * 2.5, v * 2.5, 2, b->seed);
    for (int c = 0; c < 3; c++) rgb[c] = (float)(b->rgb[c] * f);
}

void paint_background(Canvas *cv, const float rgb[3], double variation, uint32_t seed) {
    Backdrop b = {{rgb[0], rgb[1], rgb[2]}, variation, seed};
    canvas_field(cv, backdrop_field, &b);
}

unsigned pick_defects(Rng *def, int count, int n) {
    unsigned mask = 0;
    for (int got = 0; got < n && got < count;) {
        unsigned bit = 1u << rng_below(def, (uint64_t)count);
        if (!(mask & bit)) {
            mask |= bit;
            got++;
        }
    }
    return mask;
}

/* One painter per class, in mvtec_classes order. */
static const ClassPainter painters[MVTEC_N_CLASSES] = {
    paint_bottle,   paint_cable, paint_capsule, paint_carpet,     paint_grid,
    paint_hazelnut, paint_leather, paint_metal_nut, paint_pill, paint_screw,
    paint_tile,     paint_toothbrush, paint_transistor, paint_wood, paint_zipper,
};

void synth_render(Image *img, int label, int side, uint64_t seed, uint64_t key) {
    if (label < 0 || label >= MVTEC_N_LABELS) fatal("synth: no label %d", label);
    const MvtecLabel *l = &mvtec_labels[label];
    int cls = mvtec_class_index(l->cls);
    Rng scene, def;
    rng_stream(&scene, seed, key, 0);
    rng_stream(&def, seed, key, 1);
    Canvas cv;
    canvas_init(&cv, side, side);
    Light light;
    light_draw(&light, &scene);
    painters[cls](&cv, l->state, &scene, &def);
    light_apply(&cv, &light);
    canvas_to_image(&cv, img, mvtec_classes[cls].gray);
    canvas_free(&cv);
}

void synth_warp(Image *out, const Image *in, uint64_t seed, uint64_t key) {
    Rng r;
    rng_stream(&r, seed, key, 2);
    double angle = rng_range(&r, -6, 6), scale = rng_range(&r, 0.95, 1.05);
    double dx = rng_range(&r, -0.03, 0.03), dy = rng_range(&r, -0.03, 0.03);
    image_shift_scale_rotate(out, in, angle, scale, dx, dy);
}

/* ---- contact sheet ---- */

#define SHEET_COLS 11
#define SHEET_ROWS 8
#define SHEET_KEY (1ULL << 40) /* keys of sheet images: apart from the data set's */

void synth_sheet(Image *sheet, int side, uint64_t seed) {
    /* The longest state ("cut_inner_insulation", 20 characters) must fit. */
    int text_w = 20 * (FONT_W + 1), pad = 4;
    int tile_w = (side > text_w ? side : text_w) + 2 * pad;
    int tile_h = side + 2 * (FONT_H + 3) + 2 * pad;
    image_alloc(sheet, SHEET_COLS * tile_w, SHEET_ROWS * tile_h);
    memset(sheet->px, 40, (size_t)sheet->w * sheet->h * 3);
    const Rgb white = {235, 235, 235}, gold = {255, 200, 90};
#pragma omp parallel for schedule(dynamic, 1)
    for (int i = 0; i < MVTEC_N_LABELS; i++) {
        const MvtecLabel *l = &mvtec_labels[i];
        Image img;
        synth_render(&img, i, side, seed, SHEET_KEY + (uint64_t)mvtec_class_index(l->cls));
        int x0 = (i % SHEET_COLS) * tile_w + (tile_w - side) / 2, y0 = (i / SHEET_COLS) * tile_h + pad;
        for (int y = 0; y < side; y++)
            memcpy(sheet->px + ((size_t)(y0 + y) * sheet->w + x0) * 3, img.px + (size_t)y * side * 3,
                   (size_t)side * 3);
        int tx = (i % SHEET_COLS) * tile_w + pad, ty = y0 + side + 3;
        raster_text(sheet, tx, ty, l->cls, 1, white);
        raster_text(sheet, tx, ty + FONT_H + 3, l->state, 1, mvtec_label_is_good(l) ? white : gold);
        image_free(&img);
    }
}
