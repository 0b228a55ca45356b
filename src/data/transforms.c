/* Resize (OpenCV INTER_LINEAR on 8-bit) and Normalize (albumentations). */
#include "anomaly/transforms.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

const double imagenet_mean[3] = {0.485, 0.456, 0.406};
const double imagenet_std[3] = {0.229, 0.224, 0.225};

/* OpenCV's INTER_RESIZE_COEF_BITS: weights are integers summing to 2048. */
#define RESIZE_BITS 11
#define RESIZE_ONE (1 << RESIZE_BITS)

/* Source indices and fixed-point weights of one output coordinate, computed
 * in the same float/double mix as OpenCV so the rounding of the weights
 * agrees: f = float((d + 0.5) * scale - 0.5), scale = 1 / (out / in) in double.
 * OpenCV clamps the fraction at the borders horizontally only; vertically it
 * keeps the weights and clamps the row indices, which matters below because
 * its vertical rounding is not linear in the weights. */
typedef struct Tap {
    int i0, i1; /* source indices, already clamped */
    int w0, w1; /* weights, w0 + w1 = RESIZE_ONE */
} Tap;

static void resize_taps(Tap *taps /* [n_out] */, int n_out, int n_in, int clamp_fraction) {
    double scale = 1.0 / ((double)n_out / n_in);
    for (int d = 0; d < n_out; d++) {
        float f = (float)((d + 0.5) * scale - 0.5);
        int s = (int)floorf(f);
        f -= (float)s;
        if (clamp_fraction && s < 0) { s = 0; f = 0.f; }
        if (clamp_fraction && s >= n_in - 1) { s = n_in - 1; f = 0.f; }
        taps[d].i0 = s < 0 ? 0 : s > n_in - 1 ? n_in - 1 : s;
        taps[d].i1 = s + 1 < 0 ? 0 : s + 1 > n_in - 1 ? n_in - 1 : s + 1;
        taps[d].w0 = (int)lrintf((1.f - f) * RESIZE_ONE);
        taps[d].w1 = (int)lrintf(f * RESIZE_ONE);
    }
}

void image_resize(Image *out, const Image *in, int out_w, int out_h) {
    if (out_w <= 0 || out_h <= 0) fatal("resize: bad output size %dx%d", out_w, out_h);
    image_alloc(out, out_w, out_h);
    if (out_w == in->w && out_h == in->h) { /* scale 1: every weight is (2048, 0) */
        memcpy(out->px, in->px, (size_t)in->w * in->h * 3);
        return;
    }
    Tap *tx = xmalloc((size_t)out_w * sizeof *tx, "resize taps");
    Tap *ty = xmalloc((size_t)out_h * sizeof *ty, "resize taps");
    resize_taps(tx, out_w, in->w, 1);
    resize_taps(ty, out_h, in->h, 0);
    const int row_len = out_w * 3;
#pragma omp parallel
    {
        /* Horizontal pass of the two source rows, scaled by 2048. */
        int *h0 = xmalloc((size_t)row_len * 2 * sizeof *h0, "resize rows");
        int *h1 = h0 + row_len;
#pragma omp for schedule(static)
        for (int y = 0; y < out_h; y++) {
            const uint8_t *r0 = in->px + (size_t)ty[y].i0 * in->w * 3; /* [w][3] */
            const uint8_t *r1 = in->px + (size_t)ty[y].i1 * in->w * 3; /* [w][3] */
            for (int x = 0; x < out_w; x++) {
                const Tap t = tx[x];
                for (int c = 0; c < 3; c++) {
                    h0[x * 3 + c] = r0[t.i0 * 3 + c] * t.w0 + r0[t.i1 * 3 + c] * t.w1;
                    h1[x * 3 + c] = r1[t.i0 * 3 + c] * t.w0 + r1[t.i1 * 3 + c] * t.w1;
                }
            }
            /* Vertical pass as OpenCV's x86 SIMD rows compute it (every
             * element, tails included): each row drops 4 bits to fit 16-bit
             * lanes, is multiplied keeping the high 16 bits, then the sum is
             * rounded by 2 more bits. The plain formula
             * (b0*h0 + b1*h1 + 2^21) >> 22 can differ from it by 1. */
            uint8_t *o = out->px + (size_t)y * row_len; /* [out_w][3] */
            const int b0 = ty[y].w0, b1 = ty[y].w1;
            for (int i = 0; i < row_len; i++) {
                int v = ((((h0[i] >> 4) * b0) >> 16) + (((h1[i] >> 4) * b1) >> 16) + 2) >> 2;
                o[i] = (uint8_t)(v > 255 ? 255 : v);
            }
        }
        free(h0);
    }
    free(tx);
    free(ty);
}

void image_normalize(real *out, const Image *in) {
    /* albumentations: mean and std are float32 arrays scaled by 255 in
     * float32, then the reciprocal of std; one subtract and one multiply. */
    real mean255[3], inv_std255[3];
    for (int c = 0; c < 3; c++) {
        mean255[c] = (real)imagenet_mean[c] * (real)255;
        inv_std255[c] = (real)1 / ((real)imagenet_std[c] * (real)255);
    }
    const size_t plane = (size_t)in->w * in->h;
#pragma omp parallel for schedule(static)
    for (int y = 0; y < in->h; y++) {
        const uint8_t *p = in->px + (size_t)y * in->w * 3; /* [w][3] */
        for (int c = 0; c < 3; c++) {
            real *o = out + c * plane + (size_t)y * in->w; /* [w] */
            for (int x = 0; x < in->w; x++) o[x] = ((real)p[x * 3 + c] - mean255[c]) * inv_std255[c];
        }
    }
}

void resize_normalize(real *out, const Image *in, int size) {
    if (in->w == size && in->h == size) {
        image_normalize(out, in);
        return;
    }
    Image r;
    image_resize(&r, in, size, size);
    image_normalize(out, &r);
    image_free(&r);
}
