/* Geometric ops: flips, quarter turns, and affine warps with OpenCV's
 * fixed-point bilinear interpolation and BORDER_REFLECT_101. */
#include "anomaly/transforms.h"
#include "anomaly/pmath.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

void image_vflip(Image *out, const Image *in) {
    image_alloc(out, in->w, in->h);
    const size_t row = (size_t)in->w * 3;
    for (int y = 0; y < in->h; y++) memcpy(out->px + (size_t)y * row, in->px + (size_t)(in->h - 1 - y) * row, row);
}

void image_rot90(Image *out, const Image *in, int k) {
    k = ((k % 4) + 4) % 4;
    const int w = in->w, h = in->h;
    if (k == 0 || k == 2) image_alloc(out, w, h);
    else image_alloc(out, h, w);
    const int ow = out->w, oh = out->h;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < oh; y++) {
        uint8_t *o = out->px + (size_t)y * ow * 3; /* [ow][3] */
        for (int x = 0; x < ow; x++) {
            /* np.rot90 turns the first axis toward the second: one turn maps
             * out[y][x] = in[x][w-1-y]. */
            int sy, sx;
            switch (k) {
            case 0: sy = y; sx = x; break;
            case 1: sy = x; sx = w - 1 - y; break;
            case 2: sy = h - 1 - y; sx = w - 1 - x; break;
            default: sy = h - 1 - x; sx = y; break;
            }
            memcpy(o + x * 3, in->px + ((size_t)sy * w + sx) * 3, 3);
        }
    }
}

void rotation_matrix(double m[6], double cx, double cy, double angle_deg, double scale) {
    /* The same operation order as OpenCV, so the doubles agree bit for bit. */
    double a = angle_deg * (3.14159265358979323846 / 180);
    double alpha = am_cos(a) * scale, beta = am_sin(a) * scale;
    m[0] = alpha;
    m[1] = beta;
    m[2] = (1 - alpha) * cx - beta * cy;
    m[3] = -beta;
    m[4] = alpha;
    m[5] = beta * cx + (1 - alpha) * cy;
}

/* OpenCV borderInterpolate for BORDER_REFLECT_101 (gfedcb|abcdefgh|gfedcba). */
static int reflect101(int p, int len) {
    if (len == 1) return 0;
    while ((unsigned)p >= (unsigned)len) {
        if (p < 0) p = -p;
        else p = 2 * (len - 1) - p;
    }
    return p;
}

/* cvRound with saturate_cast<int>: nearest, ties to even, clamped. */
static int round_sat_int(double v) {
    if (!(v > (double)INT_MIN)) return INT_MIN;
    if (v >= (double)INT_MAX) return INT_MAX;
    return (int)lrint(v);
}

/* Arithmetic right shift rounding toward minus infinity, for any sign
 * (64-bit so that absurd matrices cannot overflow). */
static long long floor_shift(long long v, int s) { return v >= 0 ? v >> s : ~((~v) >> s); }

static int clamp_short(long long v) { return v < SHRT_MIN ? SHRT_MIN : v > SHRT_MAX ? SHRT_MAX : (int)v; }

/* OpenCV's warp constants: map coordinates carry AB_BITS fractional bits,
 * then INTER_BITS (1/32 pixel) are kept for the weights. */
#define AB_BITS 10
#define INTER_BITS 5
#define INTER_TAB (1 << INTER_BITS)

void image_warp_affine(Image *out, const Image *in, const double m_fwd[6]) {
    const int w = in->w, h = in->h;
    image_alloc(out, w, h);
    /* Invert the forward matrix exactly as warpAffine does. */
    double M[6];
    memcpy(M, m_fwd, sizeof M);
    double D = M[0] * M[4] - M[1] * M[3];
    D = D != 0 ? 1. / D : 0;
    double A11 = M[4] * D, A22 = M[0] * D;
    M[0] = A11;
    M[1] *= -D;
    M[3] *= -D;
    M[4] = A22;
    double b1 = -M[0] * M[2] - M[1] * M[5];
    double b2 = -M[3] * M[2] - M[4] * M[5];
    M[2] = b1;
    M[5] = b2;

    int *adelta = xmalloc((size_t)w * 2 * sizeof *adelta, "warp deltas"); /* [2][w] */
    int *bdelta = adelta + w;
    for (int x = 0; x < w; x++) {
        adelta[x] = round_sat_int(M[0] * x * (1 << AB_BITS));
        bdelta[x] = round_sat_int(M[3] * x * (1 << AB_BITS));
    }
    const int round_delta = (1 << AB_BITS) / INTER_TAB / 2;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < h; y++) {
        long long X0 = (long long)round_sat_int((M[1] * y + M[2]) * (1 << AB_BITS)) + round_delta;
        long long Y0 = (long long)round_sat_int((M[4] * y + M[5]) * (1 << AB_BITS)) + round_delta;
        uint8_t *o = out->px + (size_t)y * w * 3; /* [w][3] */
        for (int x = 0; x < w; x++) {
            long long X = floor_shift(X0 + adelta[x], AB_BITS - INTER_BITS);
            long long Y = floor_shift(Y0 + bdelta[x], AB_BITS - INTER_BITS);
            int sx = clamp_short(floor_shift(X, INTER_BITS)), sy = clamp_short(floor_shift(Y, INTER_BITS));
            int fx = (int)(X & (INTER_TAB - 1)), fy = (int)(Y & (INTER_TAB - 1));
            /* OpenCV's weights are these products times 32 out of 32768; the
             * common factor cancels, leaving 1024 and a shift of 10. (Its
             * table clips the (0,0) weight to 32767 and moves 1 to the
             * opposite corner, which never changes an 8-bit result.) */
            int w00 = (INTER_TAB - fx) * (INTER_TAB - fy), w01 = fx * (INTER_TAB - fy);
            int w10 = (INTER_TAB - fx) * fy, w11 = fx * fy;
            int x0 = reflect101(sx, w), x1 = reflect101(sx + 1, w);
            int y0 = reflect101(sy, h), y1 = reflect101(sy + 1, h);
            const uint8_t *p00 = in->px + ((size_t)y0 * w + x0) * 3, *p01 = in->px + ((size_t)y0 * w + x1) * 3;
            const uint8_t *p10 = in->px + ((size_t)y1 * w + x0) * 3, *p11 = in->px + ((size_t)y1 * w + x1) * 3;
            for (int c = 0; c < 3; c++) {
                int v = (p00[c] * w00 + p01[c] * w01 + p10[c] * w10 + p11[c] * w11 + (1 << 9)) >> 10;
                o[x * 3 + c] = (uint8_t)(v > 255 ? 255 : v);
            }
        }
    }
    free(adelta);
}

void image_rotate(Image *out, const Image *in, double angle_deg) {
    double m[6];
    rotation_matrix(m, in->w / 2.0 - 0.5, in->h / 2.0 - 0.5, angle_deg, 1.0);
    image_warp_affine(out, in, m);
}

void image_shift_scale_rotate(Image *out, const Image *in, double angle_deg, double scale,
                              double dx, double dy) {
    double m[6];
    rotation_matrix(m, in->w / 2.0 - 0.5, in->h / 2.0 - 0.5, angle_deg, scale);
    m[2] += dx * in->w;
    m[5] += dy * in->h;
    image_warp_affine(out, in, m);
}
