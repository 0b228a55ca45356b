/* Procedural noise and random paths for the look-alike generator.
 *
 * Lattice noise hashes integer coordinates with a per-image seed instead of
 * consuming a generator, so a texture can be evaluated at any pixel in any
 * order and still be the same picture. */
#include <math.h>

#include "synth_internal.h"

uint32_t hash3(int32_t x, int32_t y, uint32_t seed) {
    uint32_t h = seed * 0x9E3779B1u;
    h ^= (uint32_t)x * 0x85EBCA77u;
    h = (h << 13) | (h >> 19);
    h ^= (uint32_t)y * 0xC2B2AE3Du;
    h *= 0x27D4EB2Fu;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    h ^= h >> 12;
    h *= 0x297A2D39u;
    h ^= h >> 15;
    return h;
}

double hash_unit(int32_t x, int32_t y, uint32_t seed) {
    return (hash3(x, y, seed) >> 8) * (1.0 / 16777216.0);
}

static double smooth(double t) { return t * t * (3.0 - 2.0 * t); }

/* floor() for |x| < 2^31 without the libm call (the hot spot of textures). */
static inline int32_t ifloor(double x) {
    int32_t i = (int32_t)x;
    return i - (x < i);
}

double value_noise(double x, double y, uint32_t seed) {
    int32_t ix = ifloor(x), iy = ifloor(y);
    double tx = smooth(x - ix), ty = smooth(y - iy);
    double a = hash_unit(ix, iy, seed), b = hash_unit(ix + 1, iy, seed);
    double c = hash_unit(ix, iy + 1, seed), d = hash_unit(ix + 1, iy + 1, seed);
    double top = a + (b - a) * tx, bottom = c + (d - c) * tx;
    return 2.0 * (top + (bottom - top) * ty) - 1.0;
}

double fbm(double x, double y, int octaves, uint32_t seed) {
    double sum = 0, amp = 0.5, norm = 0;
    for (int i = 0; i < octaves; i++) {
        sum += amp * value_noise(x, y, seed + 101u * (uint32_t)i);
        norm += amp;
        x = 2.0 * x + 17.3;
        y = 2.0 * y - 9.1;
        amp *= 0.5;
    }
    return sum / norm;
}

void worley(double x, double y, uint32_t seed, double *f1, double *f2) {
    int32_t ix = ifloor(x), iy = ifloor(y);
    double d1 = 1e9, d2 = 1e9;
    for (int32_t j = iy - 1; j <= iy + 1; j++) {
        for (int32_t i = ix - 1; i <= ix + 1; i++) {
            uint32_t h = hash3(i, j, seed);
            double px = i + (h & 0xffff) / 65536.0, py = j + (h >> 16) / 65536.0;
            double d = dist2d(x - px, y - py);
            if (d < d1) {
                d2 = d1;
                d1 = d;
            } else if (d < d2) {
                d2 = d;
            }
        }
    }
    *f1 = d1;
    *f2 = d2;
}

uint32_t rng_u32(Rng *r) { return (uint32_t)(rng_u64(r) >> 32); }

void random_walk(Rng *r, double *xy, int n, double x, double y, double heading, double step,
                 double wander) {
    for (int i = 0; i < n; i++) {
        xy[2 * i] = x;
        xy[2 * i + 1] = y;
        heading += rng_range(r, -wander, wander);
        x += step * pm_cos(heading);
        y += step * pm_sin(heading);
    }
}

void bezier_points(double *xy, int n, double x0, double y0, double cx, double cy, double x1,
                   double y1) {
    for (int i = 0; i < n; i++) {
        double t = n > 1 ? (double)i / (n - 1) : 0, s = 1 - t;
        xy[2 * i] = s * s * x0 + 2 * s * t * cx + t * t * x1;
        xy[2 * i + 1] = s * s * y0 + 2 * s * t * cy + t * t * y1;
    }
}
