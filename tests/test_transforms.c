/* Image transforms (SPEC §2): exact properties and direct reference loops;
 * tests/test_transforms_opencv.sh compares with OpenCV itself. */
#include "check.h"

#include <omp.h>
#include <stdint.h>

#include "anomaly/rng.h"
#include "anomaly/transforms.h"

static Image random_image(int w, int h, uint64_t seed) {
    Image img;
    image_alloc(&img, w, h);
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)w * h * 3; i++) img.px[i] = (uint8_t)(rng_u64(&r) >> 56);
    return img;
}

/* Smooth enough that bilinear rounding stays within one level. */
static Image smooth_image(int w, int h) {
    Image img;
    image_alloc(&img, w, h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++)
                img.px[((size_t)y * w + x) * 3 + c] =
                    (uint8_t)(127.5 + 100 * sin(0.11 * x + 0.07 * y * (c + 1) + c));
    return img;
}

static int same_image(const Image *a, const Image *b) {
    return a->w == b->w && a->h == b->h && memcmp(a->px, b->px, (size_t)a->w * a->h * 3) == 0;
}

static int max_abs_diff(const Image *a, const Image *b) {
    int m = 0;
    for (size_t i = 0; i < (size_t)a->w * a->h * 3; i++) {
        int d = abs((int)a->px[i] - (int)b->px[i]);
        if (d > m) m = d;
    }
    return m;
}

static uint8_t px(const Image *img, int x, int y, int c) { return img->px[((size_t)y * img->w + x) * 3 + c]; }

static int reflect101(int p, int n) {
    if (n == 1) return 0;
    while (p < 0 || p >= n) p = p < 0 ? -p : 2 * (n - 1) - p;
    return p;
}

static void test_normalize_values(void) {
    Image img;
    image_alloc(&img, 2, 1);
    const uint8_t v[6] = {0, 128, 255, 17, 200, 93};
    memcpy(img.px, v, 6);
    real out[6], want[6];
    image_normalize(out, &img);
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 2; x++)
            want[c * 2 + x] = (real)((v[x * 3 + c] / 255.0 - imagenet_mean[c]) / imagenet_std[c]);
    CHECK_CLOSE("normalize", out, want, 6, TOL(1e-6, 1e-13));
#ifndef ANOMALY_F64
    /* albumentations' own float32 recipe, bit for bit. */
    for (int c = 0; c < 3; c++) {
        float m = (float)imagenet_mean[c] * 255.0f, s = 1.0f / ((float)imagenet_std[c] * 255.0f);
        for (int x = 0; x < 2; x++)
            CHECK(out[c * 2 + x] == ((float)v[x * 3 + c] - m) * s, "float32 recipe at c=%d x=%d", c, x);
    }
#endif
    real rn[3 * 4 * 4];
    Image sq = random_image(4, 4, 3);
    resize_normalize(rn, &sq, 4);
    real direct[3 * 4 * 4];
    image_normalize(direct, &sq);
    CHECK_SAME_BITS("resize_normalize at the same size", rn, direct, sizeof rn);
    image_free(&sq);
    image_free(&img);
}

static void test_flips_exact(void) {
    Image a = random_image(5, 3, 1), f, r, t;
    image_vflip(&f, &a);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 5; x++)
            for (int c = 0; c < 3; c++) CHECK(px(&f, x, y, c) == px(&a, x, 2 - y, c), "vflip at %d,%d", x, y);
    image_rot90(&r, &a, 1);
    CHECK(r.w == 3 && r.h == 5, "rot90 size %dx%d", r.w, r.h);
    /* np.rot90: out[i][j] = in[j][W-1-i] (counter-clockwise). */
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++)
            for (int c = 0; c < 3; c++) CHECK(px(&r, j, i, c) == px(&a, 4 - i, j, c), "rot90 at %d,%d", i, j);
    image_free(&r);
    for (int k = -1; k <= 4; k++) {
        image_rot90(&r, &a, k);
        image_rot90(&t, &r, 4 - k);
        CHECK(same_image(&t, &a), "rot90 %d then %d is the identity", k, 4 - k);
        image_free(&r);
        image_free(&t);
    }
    image_rot90(&r, &a, 2);
    image_vflip(&t, &r);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 5; x++)
            for (int c = 0; c < 3; c++) CHECK(px(&t, x, y, c) == px(&a, 4 - x, y, c), "rot180+vflip = hflip");
    image_free(&a);
    image_free(&f);
    image_free(&r);
    image_free(&t);
}

static void test_lut_formulas(void) {
    uint8_t lut[256];
    lut_contrast(lut, 1.0);
    for (int i = 0; i < 256; i++) CHECK(lut[i] == i, "contrast 1 at %d", i);
    lut_contrast(lut, 1.2);
    CHECK(lut[100] == 120 && lut[255] == 255 && lut[213] == 255 && lut[212] == 254, "contrast 1.2 clips");
    lut_contrast(lut, 0.81);
    for (int i = 0; i < 256; i++) CHECK(lut[i] == (int)floorf((float)i * 0.81f), "contrast truncates at %d", i);
    /* albumentations builds the table from i * (1/255), so even gamma 1
     * truncates these 24 levels one down (numpy gives the same list). */
    static const int dropped[24] = {33, 37, 41, 45, 49, 53, 57, 61, 66, 74, 82, 90,
                                    98, 106, 114, 122, 132, 148, 164, 180, 196, 212, 228, 244};
    lut_gamma(lut, 1.0);
    for (int i = 0, d = 0; i < 256; i++) {
        int drop = d < 24 && dropped[d] == i;
        d += drop;
        CHECK(lut[i] == i - drop, "gamma 1 at %d: %d", i, lut[i]);
    }
    lut_gamma(lut, 0.85);
    for (int i = 0; i < 256; i++) {
        double exact = 255 * pow(i / 255.0, 0.85);
        CHECK(lut[i] <= exact + 1e-9 && lut[i] > exact - 1 - 1e-9, "gamma 0.85 at %d: %d vs %.6f", i, lut[i], exact);
    }
    CHECK(lut[0] == 0 && lut[255] == 255, "gamma keeps the ends");
    lut_brightness(lut, 0.1);
    for (int i = 0; i < 256; i++) CHECK(lut[i] == (i + 25 > 255 ? 255 : i + 25), "brightness +0.1 at %d", i);
    lut_brightness(lut, -0.2);
    for (int i = 0; i < 256; i++) CHECK(lut[i] == (i < 51 ? 0 : i - 51), "brightness -0.2 at %d", i);
    Image a = random_image(7, 5, 2), b;
    lut_contrast(lut, 1.1);
    image_apply_lut(&b, &a, lut);
    for (size_t i = 0; i < 7 * 5 * 3; i++) CHECK(b.px[i] == lut[a.px[i]], "lut applied at %zu", i);
    image_free(&a);
    image_free(&b);
}

static void test_identity_warps(void) {
    Image a = random_image(37, 53, 4), b, c;
    image_rotate(&b, &a, 0);
    CHECK(same_image(&b, &a), "rotate 0 is the identity");
    image_free(&b);
    image_shift_scale_rotate(&b, &a, 0, 1, 0, 0);
    CHECK(same_image(&b, &a), "shift_scale_rotate(0, 1, 0, 0) is the identity");
    image_free(&b);
    /* About (w/2-0.5, h/2-0.5), 180 degrees lands exactly on the grid. */
    image_rotate(&b, &a, 180);
    image_rot90(&c, &a, 2);
    CHECK(same_image(&b, &c), "rotate 180 = rot90 twice (max diff %d)", max_abs_diff(&b, &c));
    image_free(&b);
    image_free(&c);
    image_free(&a);
    a = random_image(20, 20, 5);
    image_rotate(&b, &a, 90);
    image_rot90(&c, &a, 1);
    CHECK(same_image(&b, &c), "rotate 90 = rot90 once on a square (max diff %d)", max_abs_diff(&b, &c));
    image_free(&b);
    image_free(&c);
    /* A whole-pixel shift moves pixels and reflects at the border. */
    image_shift_scale_rotate(&b, &a, 0, 1, 3.0 / 20, -2.0 / 20);
    int bad = 0;
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 20; x++)
            for (int ch = 0; ch < 3; ch++)
                bad += px(&b, x, y, ch) != px(&a, reflect101(x - 3, 20), reflect101(y + 2, 20), ch);
    CHECK(bad == 0, "integer shift with reflect-101: %d wrong", bad);
    image_free(&b);
    image_free(&a);
}

/* Bilinear in double at the same source coordinates, reflect-101. */
static double bilinear(const Image *img, double sx, double sy, int c) {
    int x0 = (int)floor(sx), y0 = (int)floor(sy);
    double fx = sx - x0, fy = sy - y0;
    double v00 = px(img, reflect101(x0, img->w), reflect101(y0, img->h), c);
    double v01 = px(img, reflect101(x0 + 1, img->w), reflect101(y0, img->h), c);
    double v10 = px(img, reflect101(x0, img->w), reflect101(y0 + 1, img->h), c);
    double v11 = px(img, reflect101(x0 + 1, img->w), reflect101(y0 + 1, img->h), c);
    return (1 - fy) * ((1 - fx) * v00 + fx * v01) + fy * ((1 - fx) * v10 + fx * v11);
}

static void test_warp_matches_bilinear(void) {
    Image a = smooth_image(41, 29), b;
    const double angle = 23.7, scale = 0.93, dx = 0.04, dy = -0.05;
    image_shift_scale_rotate(&b, &a, angle, scale, dx, dy);
    double m[6];
    rotation_matrix(m, 41 / 2.0 - 0.5, 29 / 2.0 - 0.5, angle, scale);
    m[2] += dx * 41;
    m[5] += dy * 29;
    /* Invert the forward map to find each output pixel's source. */
    double det = m[0] * m[4] - m[1] * m[3];
    int worst = 0;
    for (int y = 0; y < 29; y++)
        for (int x = 0; x < 41; x++) {
            double u = x - m[2], v = y - m[5];
            double sx = (m[4] * u - m[1] * v) / det, sy = (-m[3] * u + m[0] * v) / det;
            for (int c = 0; c < 3; c++) {
                int d = abs((int)px(&b, x, y, c) - (int)lround(bilinear(&a, sx, sy, c)));
                if (d > worst) worst = d;
            }
        }
    CHECK(worst <= 1, "warp vs double bilinear: max diff %d", worst);
    image_free(&a);
    image_free(&b);
}

static void test_resize(void) {
    Image a = random_image(37, 53, 6), b, c;
    image_resize(&b, &a, 37, 53);
    CHECK(same_image(&a, &b), "resize to the same size is the identity");
    image_free(&b);
    /* Exact halving: the mean of each 2x2 block, rounded half up. */
    Image e = random_image(16, 12, 7);
    image_resize(&b, &e, 8, 6);
    int bad = 0;
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 8; x++)
            for (int ch = 0; ch < 3; ch++) {
                int s = px(&e, 2 * x, 2 * y, ch) + px(&e, 2 * x + 1, 2 * y, ch) + px(&e, 2 * x, 2 * y + 1, ch) +
                        px(&e, 2 * x + 1, 2 * y + 1, ch);
                bad += px(&b, x, y, ch) != (s + 2) >> 2;
            }
    CHECK(bad == 0, "2x downscale: %d pixels differ from the 2x2 mean", bad);
    image_free(&b);
    image_free(&e);
    /* Against double bilinear with half-pixel centres, both ways. */
    const int sizes[3][2] = {{24, 24}, {77, 77}, {200, 160}};
    for (int t = 0; t < 3; t++) {
        int W = sizes[t][0], H = sizes[t][1], worst = 0;
        image_resize(&c, &a, W, H);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                double sx = (x + 0.5) * 37.0 / W - 0.5, sy = (y + 0.5) * 53.0 / H - 0.5;
                sx = sx < 0 ? 0 : sx > 36 ? 36 : sx;
                sy = sy < 0 ? 0 : sy > 52 ? 52 : sy;
                for (int ch = 0; ch < 3; ch++) {
                    int d = abs((int)px(&c, x, y, ch) - (int)lround(bilinear(&a, sx, sy, ch)));
                    if (d > worst) worst = d;
                }
            }
        CHECK(worst <= 1, "resize to %dx%d vs double bilinear: max diff %d", W, H, worst);
        image_free(&c);
    }
    image_free(&a);
}

static int cmp_u8(const void *a, const void *b) { return *(const uint8_t *)a - *(const uint8_t *)b; }

static void test_median_blur(void) {
    Image a = random_image(23, 17, 8), b;
    for (int k = 3; k <= 7; k += 2) {
        image_median_blur(&b, &a, k);
        int bad = 0, r = k / 2;
        uint8_t win[49];
        for (int y = 0; y < 17; y++)
            for (int x = 0; x < 23; x++)
                for (int c = 0; c < 3; c++) {
                    int n = 0;
                    for (int i = -r; i <= r; i++)
                        for (int j = -r; j <= r; j++) {
                            int yy = y + i < 0 ? 0 : y + i > 16 ? 16 : y + i;
                            int xx = x + j < 0 ? 0 : x + j > 22 ? 22 : x + j;
                            win[n++] = px(&a, xx, yy, c);
                        }
                    qsort(win, (size_t)n, 1, cmp_u8);
                    bad += px(&b, x, y, c) != win[n / 2];
                }
        CHECK(bad == 0, "median k=%d: %d values differ from a sorted window", k, bad);
        image_free(&b);
    }
    image_free(&a);
}

static void test_gaussian_blur(void) {
    Image a = random_image(19, 11, 9), b;
    const int w3[3] = {1, 2, 1}, w5[5] = {1, 4, 6, 4, 1};
    for (int k = 3; k <= 5; k += 2) {
        const int *wt = k == 3 ? w3 : w5, shift = k == 3 ? 4 : 8, r = k / 2;
        image_gaussian_blur(&b, &a, k);
        int bad = 0;
        for (int y = 0; y < 11; y++)
            for (int x = 0; x < 19; x++)
                for (int c = 0; c < 3; c++) {
                    int s = 0;
                    for (int i = -r; i <= r; i++)
                        for (int j = -r; j <= r; j++)
                            s += wt[i + r] * wt[j + r] * px(&a, reflect101(x + j, 19), reflect101(y + i, 11), c);
                    bad += px(&b, x, y, c) != (s + (1 << (shift - 1))) >> shift;
                }
        CHECK(bad == 0, "gaussian k=%d: %d values differ from the direct sum", k, bad);
        image_free(&b);
    }
    image_free(&a);
}

static void test_motion_blur(void) {
    float kern[25];
    motion_blur_kernel(kern, 5, 0, 1, 4, 3); /* what cv2.line draws for this pair */
    const int on[5][2] = {{0, 1}, {1, 1}, {2, 2}, {3, 2}, {4, 3}};
    float sum = 0;
    for (int i = 0; i < 25; i++) sum += kern[i];
    for (int t = 0; t < 5; t++) CHECK(kern[on[t][1] * 5 + on[t][0]] == 1.0f / 5, "line pixel %d,%d", on[t][0], on[t][1]);
    CHECK(fabsf(sum - 1) < 1e-6f, "kernel sums to %g", sum);
    float back[25];
    motion_blur_kernel(back, 5, 4, 3, 0, 1);
    CHECK(memcmp(kern, back, sizeof kern) == 0, "a line is the same drawn from either end");
    motion_blur_kernel(kern, 5, 1, 4, 2, 0); /* steep: (1,4) (1,3) (1,2) (2,1) (2,0) */
    CHECK(kern[3 * 5 + 1] > 0 && kern[2 * 5 + 1] > 0 && kern[1 * 5 + 2] > 0 && kern[0 * 5 + 2] > 0 && kern[4 * 5 + 1] > 0,
          "steep line pixels");
    /* A one-tap kernel off the centre is an exact reflect-101 shift. */
    Image a = random_image(13, 9, 10), b;
    float tap[9] = {0};
    tap[0 * 3 + 2] = 1; /* correlation: out(x,y) = in(x+1, y-1) */
    image_filter2d(&b, &a, tap, 3);
    int bad = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 13; x++)
            for (int c = 0; c < 3; c++) bad += px(&b, x, y, c) != px(&a, reflect101(x + 1, 13), reflect101(y - 1, 9), c);
    CHECK(bad == 0, "one-tap filter: %d values differ", bad);
    image_free(&b);
    image_motion_blur(&b, &a, 3, 0, 0, 2, 2);
    int worst = 0;
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 13; x++)
            for (int c = 0; c < 3; c++) {
                double s = 0;
                for (int d = -1; d <= 1; d++) s += px(&a, reflect101(x + d, 13), reflect101(y + d, 9), c) / 3.0;
                int e = abs((int)px(&b, x, y, c) - (int)lround(s));
                if (e > worst) worst = e;
            }
    CHECK(worst <= 1, "diagonal motion blur vs direct mean: max diff %d", worst);
    image_free(&a);
    image_free(&b);
}

static void test_gauss_noise(void) {
    Image a;
    image_alloc(&a, 200, 150);
    memset(a.px, 128, 200 * 150 * 3);
    Image b, c;
    image_gauss_noise(&b, &a, 16, 77);
    double s = 0, s2 = 0;
    const int n = 200 * 150 * 3;
    for (int i = 0; i < n; i++) {
        double d = (double)b.px[i] - 128;
        s += d;
        s2 += d * d;
    }
    double mean = s / n, var = s2 / n - mean * mean;
    /* Truncation lowers the mean by ~0.5 and adds ~1/12 of variance. */
    CHECK(fabs(mean + 0.5) < 0.06, "noise mean %.4f, want about -0.5", mean);
    CHECK(fabs(var - 16.08) < 0.5, "noise variance %.3f, want about 16.1", var);
    omp_set_num_threads(1);
    image_gauss_noise(&c, &a, 16, 77);
    omp_set_num_threads(2);
    CHECK(same_image(&b, &c), "noise identical with 1 and 2 threads");
    image_free(&c);
    image_gauss_noise(&c, &a, 16, 78);
    CHECK(!same_image(&b, &c), "another noise seed gives other noise");
    image_free(&a);
    image_free(&b);
    image_free(&c);
}

static void test_determinism(void) {
    Image a = random_image(61, 47, 11), b, c;
    for (int index = 0; index < 6; index++) {
        Rng r1, r2;
        AugLog l1, l2;
        rng_stream(&r1, 42, 3, (uint64_t)index);
        rng_stream(&r2, 42, 3, (uint64_t)index);
        omp_set_num_threads(1);
        augment_image(&b, &a, 2, &r1, &l1);
        omp_set_num_threads(2);
        augment_image(&c, &a, 2, &r2, &l2);
        CHECK(same_image(&b, &c), "index %d: same stream, same bytes (1 vs 2 threads)", index);
        CHECK(l1.count == l2.count && memcmp(l1.op, l2.op, (size_t)l1.count * sizeof *l1.op) == 0, "same log");
        image_free(&b);
        image_free(&c);
    }
    /* Every op on its own, 1 against 2 threads. */
    const AugOp ops[] = {
        {.kind = AUG_ROTATE90, .k = 1}, {.kind = AUG_ROTATE, .angle = 31.5}, {.kind = AUG_VFLIP},
        {.kind = AUG_SHIFT_SCALE_ROTATE, .angle = -20, .scale = 1.07, .dx = 0.03, .dy = -0.05},
        {.kind = AUG_CONTRAST, .value = 1.1}, {.kind = AUG_GAMMA, .value = 0.9}, {.kind = AUG_BRIGHTNESS, .value = 0.1},
        {.kind = AUG_MOTION_BLUR, .k = 5, .line = {0, 1, 4, 3}}, {.kind = AUG_MEDIAN_BLUR, .k = 5},
        {.kind = AUG_GAUSSIAN_BLUR, .k = 5}, {.kind = AUG_GAUSS_NOISE, .value = 9, .noise_seed = 3},
        {.kind = AUG_RESIZE, .k = 50}};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        omp_set_num_threads(1);
        aug_op_apply(&b, &a, &ops[i]);
        omp_set_num_threads(2);
        aug_op_apply(&c, &a, &ops[i]);
        CHECK(same_image(&b, &c), "%s: 1 and 2 threads differ", aug_op_name(ops[i].kind));
        image_free(&b);
        image_free(&c);
    }
    Rng r1, r2;
    rng_stream(&r1, 42, 0, 1);
    rng_stream(&r2, 42, 0, 2);
    augment_image(&b, &a, 2, &r1, NULL);
    augment_image(&c, &a, 2, &r2, NULL);
    CHECK(!same_image(&b, &c), "different index, different result");
    image_free(&b);
    image_free(&c);
    AugLog log;
    augment_image(&b, &a, 1, &r1, &log);
    CHECK(log.count == 0 && same_image(&a, &b), "aug_ver 1 leaves the image alone");
    image_free(&b);
    real t1[3 * 32 * 32], t2[3 * 32 * 32];
    train_transform(t1, &a, 1, 32, &r1, NULL);
    resize_normalize(t2, &a, 32);
    CHECK_SAME_BITS("aug_ver 1 train transform = test transform", t1, t2, sizeof t1);
    image_free(&a);
}

static void test_distributions(void) {
    Image a = random_image(6, 6, 12), b;
    enum { N = 4000 };
    int group1 = 0, rot90 = 0, rot90_k[4] = {0}, vflip = 0, group4 = 0, group5 = 0, per_op[AUG_OP_COUNT] = {0};
    int kern3 = 0, kern_n = 0, bad = 0;
    double angle_sum = 0, angle_max = 0;
    for (int i = 0; i < N; i++) {
        Rng r;
        AugLog log;
        rng_stream(&r, 1234, 0, (uint64_t)i);
        augment_image(&b, &a, 2, &r, &log);
        image_free(&b);
        for (int j = 0; j < log.count; j++) {
            const AugOp *op = &log.op[j];
            per_op[op->kind]++;
            char line[256], back[256];
            aug_op_format(line, sizeof line, op);
            switch (op->kind) {
            case AUG_ROTATE90: group1++; rot90++; bad += op->k < 0 || op->k > 3; if (op->k >= 0 && op->k < 4) rot90_k[op->k]++; break;
            case AUG_ROTATE:
                group1++;
                bad += fabs(op->angle) > 45;
                angle_sum += op->angle;
                if (fabs(op->angle) > angle_max) angle_max = fabs(op->angle);
                /* 6 decimals: the printed value reads back exactly. */
                snprintf(back, sizeof back, "rotate angle=%.6f border=reflect101", strtod(strchr(line, '=') + 1, NULL));
                bad += strcmp(line, back) != 0 || strtod(strchr(line, '=') + 1, NULL) != op->angle;
                break;
            case AUG_VFLIP: vflip++; break;
            case AUG_SHIFT_SCALE_ROTATE:
                bad += fabs(op->angle) > 45 || op->scale < 0.9 || op->scale > 1.1 || fabs(op->dx) > 0.0625 || fabs(op->dy) > 0.0625;
                break;
            case AUG_CONTRAST: case AUG_GAMMA: group4++; bad += op->value < 0.8 || op->value > 1.2; break;
            case AUG_BRIGHTNESS: group4++; bad += fabs(op->value) > 0.2; break;
            case AUG_MOTION_BLUR:
            case AUG_MEDIAN_BLUR:
            case AUG_GAUSSIAN_BLUR:
                group5++;
                kern_n++;
                kern3 += op->k == 3;
                bad += op->k != 3 && op->k != 5;
                if (op->kind == AUG_MOTION_BLUR) {
                    bad += op->line[0] == op->line[2] && op->line[1] == op->line[3]; /* never a dot */
                    for (int q = 0; q < 4; q++) bad += op->line[q] < 0 || op->line[q] >= op->k;
                }
                break;
            case AUG_GAUSS_NOISE: group5++; bad += op->value < 5 || op->value > 20; break;
            default: bad++; break;
            }
        }
        /* SPEC order: rotation group, vflip, shift_scale_rotate, colour, blur/noise. */
        static const int group_of[AUG_OP_COUNT] = {0, 0, 1, 2, 3, 3, 3, 4, 4, 4, 4, 5};
        for (int j = 1; j < log.count; j++) bad += group_of[log.op[j].kind] <= group_of[log.op[j - 1].kind];
    }
    CHECK(bad == 0, "%d parameters out of range or malformed", bad);
    CHECK(per_op[AUG_SHIFT_SCALE_ROTATE] == N, "shift_scale_rotate always applied (%d)", per_op[AUG_SHIFT_SCALE_ROTATE]);
    /* Binomial bounds at about 4.5 standard deviations. */
#define NEAR(count, total, p) (fabs((double)(count) / (total) - (p)) < 4.5 * sqrt((p) * (1 - (p)) / (total)))
    CHECK(NEAR(group1, N, 0.7), "rotation group in %d of %d, want p = 0.7", group1, N);
    CHECK(NEAR(rot90, group1, 0.5), "rot90 chosen %d of %d", rot90, group1);
    for (int k = 0; k < 4; k++) CHECK(NEAR(rot90_k[k], rot90, 0.25), "rot90 k=%d %d of %d", k, rot90_k[k], rot90);
    CHECK(angle_max > 44 && fabs(angle_sum / (group1 - rot90)) < 2, "angles: max %.3f, mean %.3f", angle_max,
          angle_sum / (group1 - rot90));
    CHECK(NEAR(vflip, N, 0.5), "vflip %d of %d", vflip, N);
    CHECK(NEAR(group4, N, 0.5), "colour group %d of %d", group4, N);
    for (int k = AUG_CONTRAST; k <= AUG_BRIGHTNESS; k++) CHECK(NEAR(per_op[k], group4, 1.0 / 3), "op %d: %d of %d", k, per_op[k], group4);
    CHECK(NEAR(group5, N, 0.5), "blur/noise group %d of %d", group5, N);
    for (int k = AUG_MOTION_BLUR; k <= AUG_GAUSS_NOISE; k++) CHECK(NEAR(per_op[k], group5, 0.25), "op %d: %d of %d", k, per_op[k], group5);
    CHECK(NEAR(kern3, kern_n, 0.5), "kernel 3 chosen %d of %d", kern3, kern_n);
#undef NEAR
    image_free(&a);
}

static void test_op_lines(void) {
    AugOp op;
    memset(&op, 0, sizeof op);
    char line[256];
    op.kind = AUG_ROTATE;
    op.angle = -12.345;
    aug_op_format(line, sizeof line, &op);
    CHECK(strcmp(line, "rotate angle=-12.345000 border=reflect101") == 0, "got '%s'", line);
    op.kind = AUG_MOTION_BLUR;
    op.k = 5;
    op.line[0] = 0; op.line[1] = 1; op.line[2] = 4; op.line[3] = 3;
    aug_op_format(line, sizeof line, &op);
    CHECK(strcmp(line, "motion_blur kernel=5 line=0,1,4,3") == 0, "got '%s'", line);
    for (int k = 0; k < AUG_OP_COUNT; k++) CHECK(aug_op_kind(aug_op_name((AugOpKind)k)) == k, "name round trip %d", k);
    CHECK(aug_op_kind("hflip") == -1, "unknown op name");
}

int main(void) {
    omp_set_num_threads(2);
    RUN(test_normalize_values);
    RUN(test_flips_exact);
    RUN(test_lut_formulas);
    RUN(test_identity_warps);
    RUN(test_warp_matches_bilinear);
    RUN(test_resize);
    RUN(test_median_blur);
    RUN(test_gaussian_blur);
    RUN(test_motion_blur);
    RUN(test_gauss_noise);
    RUN(test_determinism);
    RUN(test_distributions);
    RUN(test_op_lines);
    CHECK_MAIN_END();
}
