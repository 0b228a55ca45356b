/* Reference elementwise kernels. Every output element is computed on its
 * own; the two reductions (ds of the channel scale, a row's norm) are one
 * sum in double, index 0 first, inside one thread. Threads split the
 * independent outputs only. */
#include "anomaly/ops/elementwise.h"

#include <math.h>

void add_forward_ref(real *out, const real *a, const real *b, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

/* da == db (one tensor added to itself) receives dout twice, da's first. */
void add_backward_ref(real *da, real *db, const real *dout, size_t n) {
    if (da) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) da[i] += dout[i];
    }
    if (db) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) db[i] += dout[i];
    }
}

/* out[p, j] = inp[p, j] * s[p], p = (image, channel). */
void channel_scale_forward_ref(real *out, const real *inp, const real *s, int n, int c, int hw) {
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++)
        for (int j = 0; j < hw; j++) out[p * hw + j] = inp[p * hw + j] * s[p];
}

/* dinp[p, j] += dout[p, j] * s[p]; ds[p] += sum_j dout[p, j] * inp[p, j]. */
void channel_scale_backward_ref(real *dinp, real *ds, const real *dout, const real *inp,
                                const real *s, int n, int c, int hw) {
    const long planes = (long)n * c;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        const real *g = dout + p * hw, *x = inp + p * hw;
        if (dinp)
            for (int j = 0; j < hw; j++) dinp[p * hw + j] += g[j] * s[p];
        if (ds) {
            double acc = 0;
            for (int j = 0; j < hw; j++) acc += (double)g[j] * x[j];
            ds[p] += (real)acc;
        }
    }
}

/* PyTorch multiplies by mask * scale (a dropped negative becomes -0). */
void dropout_forward_ref(real *out, const real *inp, const uint8_t *mask, real scale, size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * (mask[i] ? scale : (real)0);
}

void dropout_backward_ref(real *dinp, const real *dout, const uint8_t *mask, real scale,
                          size_t n) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * (mask[i] ? scale : (real)0);
}

/* The keep probability is a Python double rounded to `real`. */
static real keep_prob(real rate) { return (real)(1.0 - (double)rate); }

/* (x / keep_prob) * keep, EfficientNet-PyTorch's order. */
void drop_connect_forward_ref(real *out, const real *inp, const uint8_t *keep, real rate, int n,
                              size_t inner) {
    const real kp = keep_prob(rate);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < inner; j++)
            out[i * inner + j] = inp[i * inner + j] / kp * (real)keep[i];
}

void drop_connect_backward_ref(real *dinp, const real *dout, const uint8_t *keep, real rate,
                               int n, size_t inner) {
    const real kp = keep_prob(rate);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (size_t j = 0; j < inner; j++)
            dinp[i * inner + j] += dout[i * inner + j] * (real)keep[i] / kp;
}

/* ||x|| of a row [cols]: squares summed in double in order, rounded to
 * `real` as PyTorch's norm returns it. */
static real row_norm(const real *x, int cols) {
    double s = 0;
    for (int j = 0; j < cols; j++) s += (double)x[j] * x[j];
    return (real)sqrt(s);
}

/* y = x / max(||x||, eps) */
void l2norm_rows_forward_ref(real *out, const real *inp, int rows, int cols, real eps) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const real *x = inp + (size_t)r * cols;
        const real nrm = row_norm(x, cols), d = nrm >= eps ? nrm : eps;
        for (int j = 0; j < cols; j++) out[(size_t)r * cols + j] = x[j] / d;
    }
}

/* dx = dy / d + x * g_d / ||x|| with g_d = -sum(dy * x) / d^2, passed on
 * only where ||x|| >= eps and ||x|| > 0 (PyTorch's clamp_min and norm). */
void l2norm_rows_backward_ref(real *dinp, const real *dout, const real *inp, int rows, int cols,
                              real eps) {
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        const real *x = inp + (size_t)r * cols, *g = dout + (size_t)r * cols;
        const real nrm = row_norm(x, cols);
        const double d = nrm >= eps ? nrm : eps;
        double through_norm = 0;
        if (nrm >= eps && nrm > 0) {
            double dot = 0;
            for (int j = 0; j < cols; j++) dot += (double)g[j] * x[j];
            through_norm = -dot / (d * d) / (double)nrm;
        }
        for (int j = 0; j < cols; j++)
            dinp[(size_t)r * cols + j] += (real)(g[j] / d + x[j] * through_norm);
    }
}
