/* Split-attention pieces of timm's SplitAttn (ResNeSt).
 *
 * Each output element is produced by one thread and every reduction (over
 * the radix splits, over h*w) runs serially in a fixed order, so results do
 * not depend on the OpenMP thread count. */
#include "anomaly/ops/attn.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"

#include <math.h>

/* Below this many elements a loop runs on one thread. */
#define ATTN_PARALLEL_MIN 16384

/* Longest radix handled with stack buffers; ResNeSt uses 1, 2 or 4. */
#define ATTN_MAX_RADIX 64

/* ------------------------------------------------------------------------ */

/* out [n, radix, card, inner]; inp [n, card, radix, inner]. radix 1: sigmoid. */
void radix_softmax_forward(real *out, const real *inp, int n, int card, int radix, int inner) {
    if (exact_mode()) {
        radix_softmax_forward_ref(out, inp, n, card, radix, inner);
        return;
    }
    size_t total = (size_t)n * card * radix * inner;
    if (radix == 1) {
#pragma omp parallel for schedule(static) if (total >= ATTN_PARALLEL_MIN)
        for (size_t i = 0; i < total; i++) out[i] = 1 / (1 + (real)exp(-(double)inp[i]));
        return;
    }
    if (radix > ATTN_MAX_RADIX) fatal("radix softmax: radix %d exceeds %d", radix, ATTN_MAX_RADIX);
    int groups = n * card; /* one softmax per (sample, cardinal group, inner) */
#pragma omp parallel for schedule(static) if (total >= ATTN_PARALLEL_MIN)
    for (int g = 0; g < groups; g++) {
        int b = g / card, k = g % card;
        const real *x = inp + (size_t)g * radix * inner; /* [radix, inner] */
        for (int i = 0; i < inner; i++) {
            real e[ATTN_MAX_RADIX];
            /* As PyTorch's softmax: subtract the max, exponentiate, divide by
             * the sum taken in radix order. */
            real mx = x[i];
            for (int r = 1; r < radix; r++)
                if (x[(size_t)r * inner + i] > mx) mx = x[(size_t)r * inner + i];
            real sum = 0;
            for (int r = 0; r < radix; r++) {
                e[r] = (real)exp((double)(x[(size_t)r * inner + i] - mx));
                sum += e[r];
            }
            for (int r = 0; r < radix; r++)
                out[(((size_t)b * radix + r) * card + k) * inner + i] = e[r] / sum;
        }
    }
}

/* dinp [n, card, radix, inner]; dout, out [n, radix, card, inner] */
void radix_softmax_backward(real *dinp, const real *dout, const real *out, int n, int card,
                            int radix, int inner) {
    if (exact_mode()) {
        radix_softmax_backward_ref(dinp, dout, out, n, card, radix, inner);
        return;
    }
    size_t total = (size_t)n * card * radix * inner;
    if (radix == 1) {
        /* PyTorch's sigmoid_backward: dy * (1 - y) * y */
#pragma omp parallel for schedule(static) if (total >= ATTN_PARALLEL_MIN)
        for (size_t i = 0; i < total; i++) dinp[i] += dout[i] * (1 - out[i]) * out[i];
        return;
    }
    int groups = n * card;
#pragma omp parallel for schedule(static) if (total >= ATTN_PARALLEL_MIN)
    for (int g = 0; g < groups; g++) {
        int b = g / card, k = g % card;
        real *dx = dinp + (size_t)g * radix * inner; /* [radix, inner] */
        for (int i = 0; i < inner; i++) {
            /* dx_r = y_r * (dy_r - sum_s dy_s y_s) */
            double dot = 0;
            for (int r = 0; r < radix; r++) {
                size_t o = (((size_t)b * radix + r) * card + k) * inner + i;
                dot += (double)dout[o] * out[o];
            }
            for (int r = 0; r < radix; r++) {
                size_t o = (((size_t)b * radix + r) * card + k) * inner + i;
                dx[(size_t)r * inner + i] += (real)(out[o] * (dout[o] - dot));
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

/* out [n, c, hw]; inp [n, radix, c, hw] */
void radix_sum_forward(real *out, const real *inp, int n, int radix, int c, int hw) {
    if (exact_mode()) {
        radix_sum_forward_ref(out, inp, n, radix, c, hw);
        return;
    }
    size_t plane = (size_t)c * hw, total = (size_t)n * plane;
#pragma omp parallel for schedule(static) if (total >= ATTN_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        const real *x = inp + (size_t)b * radix * plane;
        real *y = out + (size_t)b * plane;
        for (size_t j = 0; j < plane; j++) {
            real s = x[j]; /* splits added in order, as x.sum(dim=1) */
            for (int r = 1; r < radix; r++) s += x[(size_t)r * plane + j];
            y[j] = s;
        }
    }
}

/* dinp [n, radix, c, hw]; dout [n, c, hw] */
void radix_sum_backward(real *dinp, const real *dout, int n, int radix, int c, int hw) {
    if (exact_mode()) {
        radix_sum_backward_ref(dinp, dout, n, radix, c, hw);
        return;
    }
    size_t plane = (size_t)c * hw;
    int splits = n * radix;
#pragma omp parallel for schedule(static) if ((size_t)splits * plane >= ATTN_PARALLEL_MIN)
    for (int s = 0; s < splits; s++) {
        const real *g = dout + (size_t)(s / radix) * plane;
        real *dx = dinp + (size_t)s * plane;
        for (size_t j = 0; j < plane; j++) dx[j] += g[j];
    }
}

/* ------------------------------------------------------------------------ */

/* out [n, c, hw]; inp [n, radix, c, hw]; attn [n, radix, c] */
void radix_weighted_sum_forward(real *out, const real *inp, const real *attn, int n, int radix,
                                int c, int hw) {
    if (exact_mode()) {
        radix_weighted_sum_forward_ref(out, inp, attn, n, radix, c, hw);
        return;
    }
    int planes = n * c;
#pragma omp parallel for schedule(static) if ((size_t)planes * hw >= ATTN_PARALLEL_MIN)
    for (int p = 0; p < planes; p++) {
        int b = p / c, ch = p % c;
        real *y = out + (size_t)p * hw;
        const real *x0 = inp + ((size_t)b * radix * c + ch) * hw;
        const real *a = attn + (size_t)b * radix * c + ch;
        real a0 = a[0];
        for (int j = 0; j < hw; j++) y[j] = x0[j] * a0;
        /* (x * attn).sum(dim=1): each product rounded, then added in order. */
        for (int r = 1; r < radix; r++) {
            const real *xr = x0 + (size_t)r * c * hw;
            real ar = a[(size_t)r * c];
            for (int j = 0; j < hw; j++) y[j] += xr[j] * ar;
        }
    }
}

/* dinp [n, radix, c, hw] or NULL; dattn [n, radix, c] or NULL; dout [n, c, hw];
 * inp [n, radix, c, hw]; attn [n, radix, c] */
void radix_weighted_sum_backward(real *dinp, real *dattn, const real *dout, const real *inp,
                                 const real *attn, int n, int radix, int c, int hw) {
    if (exact_mode()) {
        radix_weighted_sum_backward_ref(dinp, dattn, dout, inp, attn, n, radix, c, hw);
        return;
    }
    int planes = n * radix * c; /* one (sample, split, channel) plane each */
#pragma omp parallel for schedule(static) if ((size_t)planes * hw >= ATTN_PARALLEL_MIN)
    for (int p = 0; p < planes; p++) {
        int b = p / (radix * c), ch = p % c;
        const real *g = dout + ((size_t)b * c + ch) * hw;
        if (dinp) {
            real *dx = dinp + (size_t)p * hw;
            real a = attn[p];
            for (int j = 0; j < hw; j++) dx[j] += g[j] * a;
        }
        if (dattn) {
            const real *x = inp + (size_t)p * hw;
            double acc = 0;
            for (int j = 0; j < hw; j++) acc += (double)g[j] * x[j];
            dattn[p] += (real)acc;
        }
    }
}
