/* Reference split-attention pieces (attn.h): each output computed by one
 * thread, every sum over the radix splits in increasing r, exponentials
 * through pm_exp. */
#include "anomaly/ops/attn.h"
#include "anomaly/error.h"
#include "anomaly/pmath.h"

/* ResNeSt uses radix 1, 2 or 4. */
#define MAX_RADIX 64

/* radix 1: sigmoid. Else a softmax over r of inp[b, k, r, i], written to
 * out[b, r, k, i]: exp(x_r - max) / (sum of them, r in order, in `real`). */
void radix_softmax_forward_ref(real *out, const real *inp, int n, int card, int radix, int inner) {
    const size_t total = (size_t)n * card * radix * inner;
    if (radix == 1) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < total; i++) out[i] = 1 / (1 + (real)pm_exp(-(double)inp[i]));
        return;
    }
    if (radix > MAX_RADIX) fatal("radix softmax: radix %d exceeds %d", radix, MAX_RADIX);
#pragma omp parallel for schedule(static)
    for (int g = 0; g < n * card; g++) {
        const int b = g / card, k = g % card;
        const real *x = inp + (size_t)g * radix * inner; /* [radix, inner] */
        for (int i = 0; i < inner; i++) {
            real e[MAX_RADIX], mx = x[i], sum = 0;
            for (int r = 1; r < radix; r++)
                if (x[(size_t)r * inner + i] > mx) mx = x[(size_t)r * inner + i];
            for (int r = 0; r < radix; r++) {
                e[r] = (real)pm_exp((double)(x[(size_t)r * inner + i] - mx));
                sum += e[r];
            }
            for (int r = 0; r < radix; r++)
                out[(((size_t)b * radix + r) * card + k) * inner + i] = e[r] / sum;
        }
    }
}

/* radix 1: dy * (1 - y) * y. Else dx_r += y_r * (dy_r - sum_s dy_s y_s). */
void radix_softmax_backward_ref(real *dinp, const real *dout, const real *out, int n, int card,
                                int radix, int inner) {
    const size_t total = (size_t)n * card * radix * inner;
    if (radix == 1) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < total; i++) dinp[i] += dout[i] * (1 - out[i]) * out[i];
        return;
    }
#pragma omp parallel for schedule(static)
    for (int g = 0; g < n * card; g++) {
        const int b = g / card, k = g % card;
        real *dx = dinp + (size_t)g * radix * inner;
        for (int i = 0; i < inner; i++) {
            double dot = 0;
            for (int r = 0; r < radix; r++) {
                const size_t o = (((size_t)b * radix + r) * card + k) * inner + i;
                dot += (double)dout[o] * out[o];
            }
            for (int r = 0; r < radix; r++) {
                const size_t o = (((size_t)b * radix + r) * card + k) * inner + i;
                dx[(size_t)r * inner + i] += (real)(out[o] * (dout[o] - dot));
            }
        }
    }
}

/* out[b, j] = inp[b, 0, j] + inp[b, 1, j] + ... (r in order) */
void radix_sum_forward_ref(real *out, const real *inp, int n, int radix, int c, int hw) {
    const size_t plane = (size_t)c * hw;
#pragma omp parallel for schedule(static)
    for (int b = 0; b < n; b++)
        for (size_t j = 0; j < plane; j++) {
            real s = inp[(size_t)b * radix * plane + j];
            for (int r = 1; r < radix; r++) s += inp[((size_t)b * radix + r) * plane + j];
            out[(size_t)b * plane + j] = s;
        }
}

void radix_sum_backward_ref(real *dinp, const real *dout, int n, int radix, int c, int hw) {
    const size_t plane = (size_t)c * hw;
#pragma omp parallel for schedule(static)
    for (int sp = 0; sp < n * radix; sp++)
        for (size_t j = 0; j < plane; j++)
            dinp[(size_t)sp * plane + j] += dout[(size_t)(sp / radix) * plane + j];
}

/* out[b, ch, j] = x_0 * a_0 + x_1 * a_1 + ... (products rounded, r in order) */
void radix_weighted_sum_forward_ref(real *out, const real *inp, const real *attn, int n,
                                    int radix, int c, int hw) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n * c; p++) {
        const int b = p / c, ch = p % c;
        for (int j = 0; j < hw; j++) {
            real y = 0;
            for (int r = 0; r < radix; r++) {
                const size_t sp = ((size_t)b * radix + r) * c + ch; /* (b, r, ch) */
                const real term = inp[sp * hw + j] * attn[sp];
                y = r == 0 ? term : y + term;
            }
            out[(size_t)p * hw + j] = y;
        }
    }
}

void radix_weighted_sum_backward_ref(real *dinp, real *dattn, const real *dout, const real *inp,
                                     const real *attn, int n, int radix, int c, int hw) {
#pragma omp parallel for schedule(static)
    for (int p = 0; p < n * radix * c; p++) { /* p = (b, r, ch) */
        const int b = p / (radix * c), ch = p % c;
        const real *g = dout + ((size_t)b * c + ch) * hw;
        if (dinp)
            for (int j = 0; j < hw; j++) dinp[(size_t)p * hw + j] += g[j] * attn[p];
        if (dattn) {
            double acc = 0;
            for (int j = 0; j < hw; j++) acc += (double)g[j] * inp[(size_t)p * hw + j];
            dattn[p] += (real)acc;
        }
    }
}
