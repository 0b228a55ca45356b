/* Photometric ops: albumentations lookup tables, OpenCV blurs, Gaussian noise. */
#include "anomaly/transforms.h"
#include "anomaly/pmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

/* numpy's np.clip(v, 0, 255).astype(uint8): clip, then truncate toward zero. */
static uint8_t clip_trunc(double v) {
    if (!(v > 0)) return 0;
    if (v >= 255) return 255;
    return (uint8_t)v;
}

void lut_contrast(uint8_t lut[256], double alpha) {
    /* float32 table times a float32 alpha: a single rounding, as numpy. */
    float a = (float)alpha;
    for (int i = 0; i < 256; i++) lut[i] = clip_trunc((float)i * a);
}

void lut_gamma(uint8_t lut[256], double gamma) {
    /* np.arange(0, 256/255, 1/255) holds i * (1/255), not i / 255. */
    const double step = 1.0 / 255;
    for (int i = 0; i < 256; i++) lut[i] = clip_trunc(am_pow(i * step, gamma) * 255);
}

void lut_brightness(uint8_t lut[256], double beta) {
    float b = (float)(beta * 255);
    for (int i = 0; i < 256; i++) lut[i] = clip_trunc((float)i + b);
}

void image_apply_lut(Image *out, const Image *in, const uint8_t lut[256]) {
    image_alloc(out, in->w, in->h);
    const size_t n = (size_t)in->w * in->h * 3;
    for (size_t i = 0; i < n; i++) out->px[i] = lut[in->px[i]];
}

void motion_blur_kernel(float *kernel, int k, int x0, int y0, int x1, int y1) {
    if (k < 1 || x0 < 0 || y0 < 0 || x1 < 0 || y1 < 0 || x0 >= k || y0 >= k || x1 >= k || y1 >= k)
        fatal("motion blur: line %d,%d,%d,%d outside the %dx%d kernel", x0, y0, x1, y1, k, k);
    memset(kernel, 0, (size_t)k * k * sizeof *kernel);
    /* OpenCV's 8-connected LineIterator, walked from the leftmost end: step
     * along the major axis, and along the minor one while the error is < 0. */
    if (x1 < x0) {
        int t = x0; x0 = x1; x1 = t;
        t = y0; y0 = y1; y1 = t;
    }
    int dx = x1 - x0, dy = y1 - y0, sy = 1;
    if (dy < 0) { dy = -dy; sy = -1; }
    int vert = dy > dx;
    int major = vert ? dy : dx, minor = vert ? dx : dy;
    int err = major - 2 * minor, x = x0, y = y0, count = 0;
    for (int i = 0; i <= major; i++) {
        if (!kernel[y * k + x]) count++;
        kernel[y * k + x] = 1;
        int step_minor = err < 0;
        err += -2 * minor + (step_minor ? 2 * major : 0);
        if (vert) { y += sy; x += step_minor; }
        else { x += 1; y += step_minor ? sy : 0; }
    }
    /* kernel.astype(float32) / kernel.sum(): a float32 division per tap. */
    for (int i = 0; i < k * k; i++) kernel[i] = kernel[i] / (float)count;
}

/* OpenCV borderInterpolate for BORDER_REFLECT_101. */
static int reflect101(int p, int len) {
    if (len == 1) return 0;
    while ((unsigned)p >= (unsigned)len) p = p < 0 ? -p : 2 * (len - 1) - p;
    return p;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Copies row `src` ([w][3]) into `dst` ([w + 2r][3]) with r pixels of border on
 * each side, reflect-101 or replicate, so the inner loops need no tests. */
static void pad_row(uint8_t *dst, const uint8_t *src, int w, int r, int replicate) {
    for (int x = -r; x < w + r; x++) {
        int sx = replicate ? clampi(x, 0, w - 1) : reflect101(x, w);
        memcpy(dst + (size_t)(x + r) * 3, src + (size_t)sx * 3, 3);
    }
}

void image_filter2d(Image *out, const Image *in, const float *kernel, int k) {
    if (k < 1 || k % 2 == 0) fatal("filter2d: kernel size %d must be odd", k);
    const int w = in->w, h = in->h, r = k / 2, n = w * 3;
    image_alloc(out, w, h);
#pragma omp parallel
    {
        uint8_t *pad = xmalloc((size_t)(w + 2 * r) * 3, "filter row");
        float *acc = xmalloc((size_t)n * sizeof *acc, "filter row");
#pragma omp for schedule(static)
        for (int y = 0; y < h; y++) {
            for (int p = 0; p < n; p++) acc[p] = 0;
            /* Tap by tap over the nonzero taps in row-major order: each
             * pixel sums in the same order as OpenCV. */
            for (int i = 0; i < k; i++) {
                int any = 0;
                for (int j = 0; j < k; j++) any |= kernel[i * k + j] != 0;
                if (!any) continue;
                pad_row(pad, in->px + (size_t)reflect101(y + i - r, h) * n, w, r, 0);
                for (int j = 0; j < k; j++) {
                    const float kw = kernel[i * k + j];
                    if (kw == 0) continue;
                    const uint8_t *src = pad + j * 3;
                    for (int p = 0; p < n; p++) {
                        float prod = kw * (float)src[p]; /* two statements: never fused */
                        acc[p] += prod;
                    }
                }
            }
            uint8_t *o = out->px + (size_t)y * n;
            for (int p = 0; p < n; p++) {
                long v = lrintf(acc[p]);
                o[p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
        free(pad);
        free(acc);
    }
}

void image_motion_blur(Image *out, const Image *in, int k, int x0, int y0, int x1, int y1) {
    float *kernel = xmalloc((size_t)k * k * sizeof *kernel, "motion kernel");
    motion_blur_kernel(kernel, k, x0, y0, x1, y1);
    image_filter2d(out, in, kernel, k);
    free(kernel);
}

/* A median network: Batcher's odd-even merge sort on m = 2^p >= n inputs
 * (the m - n extra inputs hold 255, above every value), pruned to the
 * comparators that can reach the middle output. Returns the count; cmp holds
 * (low, high) position pairs. */
static int median_network(int n, int m, int (*cmp)[2]) {
    int count = 0;
    for (int p = 1; p < m; p *= 2)
        for (int k = p; k >= 1; k /= 2)
            for (int j = k % p; j + k < m; j += 2 * k)
                for (int i = 0; i < k && i + j + k < m; i++)
                    if ((i + j) / (2 * p) == (i + j + k) / (2 * p)) {
                        cmp[count][0] = i + j;
                        cmp[count][1] = i + j + k;
                        count++;
                    }
    /* Forward: drop comparators whose high input is a 255 filler (no-ops). */
    char *filler = xcalloc((size_t)m, 1, "median network");
    for (int i = n; i < m; i++) filler[i] = 1;
    int kept = 0;
    for (int c = 0; c < count; c++) {
        int a = cmp[c][0], b = cmp[c][1];
        if (filler[b]) continue;
        if (filler[a]) { filler[a] = 0; filler[b] = 1; } /* the real value moves down */
        cmp[kept][0] = a;
        cmp[kept][1] = b;
        kept++;
    }
    /* Backward: keep what the median position depends on. */
    char *need = filler;
    memset(need, 0, (size_t)m);
    need[n / 2] = 1;
    int first = kept;
    for (int c = kept - 1; c >= 0; c--) {
        int a = cmp[c][0], b = cmp[c][1];
        if (!need[a] && !need[b]) continue;
        need[a] = need[b] = 1;
        first--;
        cmp[first][0] = a;
        cmp[first][1] = b;
    }
    memmove(cmp, cmp + first, (size_t)(kept - first) * sizeof *cmp);
    free(filler);
    return kept - first;
}

#define MEDIAN_LANES 64

/* One comparator on every lane: a gets the minima, b the maxima. */
static void sort_lanes(uint8_t *restrict a, uint8_t *restrict b) {
    for (int l = 0; l < MEDIAN_LANES; l++) {
        uint8_t x = a[l], z = b[l];
        a[l] = x < z ? x : z;
        b[l] = x < z ? z : x;
    }
}

void image_median_blur(Image *out, const Image *in, int k) {
    if (k < 3 || k % 2 == 0 || k > 15) fatal("median blur: kernel size %d must be odd, 3..15", k);
    const int w = in->w, h = in->h, r = k / 2, n = w * 3, taps = k * k;
    int m = 1;
    while (m < taps) m *= 2;
    int (*cmp)[2] = xmalloc((size_t)m * m * sizeof *cmp, "median network");
    const int ncmp = median_network(taps, m, cmp);
    image_alloc(out, w, h);
    /* The network runs on MEDIAN_LANES neighbouring bytes at once (pixels
     * and channels interleaved: each byte's neighbours are 3 bytes apart),
     * so every comparator is a vectorisable min/max loop. */
#pragma omp parallel
    {
        uint8_t *pad = xmalloc((size_t)k * (w + 2 * r) * 3, "median rows"); /* [k][w+2r][3] */
        uint8_t (*v)[MEDIAN_LANES] = xmalloc((size_t)m * sizeof *v, "median lanes");
        memset(v, 255, (size_t)m * sizeof *v);
#pragma omp for schedule(static)
        for (int y = 0; y < h; y++) {
            for (int i = 0; i < k; i++)
                pad_row(pad + (size_t)i * (w + 2 * r) * 3, in->px + (size_t)clampi(y + i - r, 0, h - 1) * n, w, r, 1);
            uint8_t *o = out->px + (size_t)y * n;
            for (int p0 = 0; p0 < n; p0 += MEDIAN_LANES) {
                int len = n - p0 < MEDIAN_LANES ? n - p0 : MEDIAN_LANES;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++)
                        memcpy(v[i * k + j], pad + (size_t)i * (w + 2 * r) * 3 + p0 + j * 3, (size_t)len);
                for (int c = 0; c < ncmp; c++) {
                    sort_lanes(v[cmp[c][0]], v[cmp[c][1]]);
                }
                memcpy(o + p0, v[taps / 2], (size_t)len);
            }
        }
        free(pad);
        free(v);
    }
    free(cmp);
}

void image_gaussian_blur(Image *out, const Image *in, int k) {
    static const int k3[3] = {1, 2, 1}, k5[5] = {1, 4, 6, 4, 1};
    const int *wt;
    int shift; /* log2 of the 2-D weight sum */
    if (k == 3) { wt = k3; shift = 4; }
    else if (k == 5) { wt = k5; shift = 8; }
    else fatal("gaussian blur: kernel size %d not supported (3 or 5)", k);
    const int w = in->w, h = in->h, r = k / 2, n = w * 3;
    image_alloc(out, w, h);
    /* Exact integer sums: OpenCV's 8-bit path is bit-exact with these
     * weights and rounds half up. Row sums fit 16 bits (255 * 16). */
    uint16_t *hbuf = xmalloc((size_t)h * n * sizeof *hbuf, "gaussian blur rows"); /* [h][w][3] */
#pragma omp parallel
    {
        uint8_t *pad = xmalloc((size_t)(w + 2 * r) * 3, "gaussian blur row");
#pragma omp for schedule(static)
        for (int y = 0; y < h; y++) {
            pad_row(pad, in->px + (size_t)y * n, w, r, 0);
            uint16_t *o = hbuf + (size_t)y * n;
            for (int p = 0; p < n; p++) {
                int s = 0;
                for (int i = 0; i < k; i++) s += wt[i] * pad[p + i * 3];
                o[p] = (uint16_t)s;
            }
        }
        free(pad);
#pragma omp for schedule(static)
        for (int y = 0; y < h; y++) {
            const uint16_t *rows[5];
            for (int j = 0; j < k; j++) rows[j] = hbuf + (size_t)reflect101(y + j - r, h) * n;
            uint8_t *o = out->px + (size_t)y * n;
            for (int p = 0; p < n; p++) {
                int s = 0;
                for (int j = 0; j < k; j++) s += wt[j] * rows[j][p];
                o[p] = (uint8_t)((s + (1 << (shift - 1))) >> shift);
            }
        }
    }
    free(hbuf);
}

void image_gauss_noise(Image *out, const Image *in, double var, uint64_t noise_seed) {
    if (!(var >= 0)) fatal("gauss noise: variance %g must be >= 0", var);
    image_alloc(out, in->w, in->h);
    const double sigma = sqrt(var);
    const int n = in->w * 3;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < in->h; y++) {
        Rng rr;
        rng_stream(&rr, noise_seed, (uint64_t)y, 0);
        const uint8_t *p = in->px + (size_t)y * n;
        uint8_t *o = out->px + (size_t)y * n;
        for (int i = 0; i < n; i += 2) {
            /* Marsaglia's polar method: two normals per accepted point, no
             * trigonometry. */
            double u, v, s2;
            do {
                u = 2 * rng_uniform(&rr) - 1;
                v = 2 * rng_uniform(&rr) - 1;
                s2 = u * u + v * v;
            } while (s2 >= 1 || s2 == 0);
            double f = sigma * sqrt(-2 * am_log(s2) / s2);
            o[i] = clip_trunc((double)p[i] + u * f);
            if (i + 1 < n) o[i + 1] = clip_trunc((double)p[i + 1] + v * f);
        }
    }
}
