/* Reference losses (loss.h): the formulas of src/ops/loss.c, serially, in
 * double, each sum in increasing index order, with pm_exp, pm_log, pm_acos,
 * pm_cos and pm_sin in place of the C library's. */
#include "anomaly/ops/loss.h"
#include "../loss_check.h"
#include "anomaly/error.h"
#include "anomaly/pmath.h"

#include <math.h>

/* max + log(sum_j exp(z_j - max)), j = 0..c-1 in order. z [c] */
static double row_logsumexp(const real *z, int c) {
    double mx = z[0];
    for (int j = 1; j < c; j++)
        if (z[j] > mx) mx = z[j];
    double s = 0;
    for (int j = 0; j < c; j++) s += pm_exp((double)z[j] - mx);
    return mx + pm_log(s);
}

double cross_entropy_forward_ref(const real *logits, const int *labels, int n, int c) {
    loss_check_batch("cross-entropy", labels, n, c);
    double total = 0;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c;
        total += row_logsumexp(z, c) - (double)z[labels[i]];
    }
    return total / n;
}

/* dz_ij += dloss / n * (softmax_ij - [j == label_i]) */
void cross_entropy_backward_ref(real *dlogits, const real *logits, const int *labels, int n,
                                int c, real dloss) {
    loss_check_batch("cross-entropy", labels, n, c);
    const double g = (double)dloss / n;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c;
        const double lse = row_logsumexp(z, c);
        for (int j = 0; j < c; j++) {
            const double p = pm_exp((double)z[j] - lse);
            dlogits[(size_t)i * c + j] += (real)(g * (p - (j == labels[i] ? 1.0 : 0.0)));
        }
    }
}

/* The original's target weights: 1 - eps on the label, eps / (classes - 1)
 * on each of the other c - 1 outputs (see loss.h). */
static void smoothing_weights(double *on, double *off, real eps, int classes) {
    if (classes < 2) fatal("label smoothing needs at least 2 classes (got %d)", classes);
    *on = 1.0 - (double)eps;
    *off = (double)eps / (classes - 1);
}

double label_smoothing_forward_ref(const real *logits, const int *labels, int n, int c, real eps,
                                   int classes) {
    loss_check_batch("label smoothing", labels, n, c);
    double on, off;
    smoothing_weights(&on, &off, eps, classes);
    double total = 0;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c;
        const double lse = row_logsumexp(z, c);
        double row = 0;
        for (int j = 0; j < c; j++) row -= (j == labels[i] ? on : off) * ((double)z[j] - lse);
        total += row;
    }
    return total / n;
}

/* dz_ij += dloss / n * (Q softmax_ij - q_ij), Q = sum_j q_ij */
void label_smoothing_backward_ref(real *dlogits, const real *logits, const int *labels, int n,
                                  int c, real eps, int classes, real dloss) {
    loss_check_batch("label smoothing", labels, n, c);
    double on, off;
    smoothing_weights(&on, &off, eps, classes);
    const double q_sum = on + (c - 1) * off, g = (double)dloss / n;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c;
        const double lse = row_logsumexp(z, c);
        for (int j = 0; j < c; j++) {
            const double p = pm_exp((double)z[j] - lse);
            dlogits[(size_t)i * c + j] += (real)(g * (q_sum * p - (j == labels[i] ? on : off)));
        }
    }
}

/* acos has an infinite slope at +-1; its derivative is taken this far inside. */
#define ARC_GUARD (1.0 - 1e-7)

static int has_margin(const int *labels, const uint8_t *target, int i, int j) {
    return j == labels[i] && (!target || target[labels[i]]);
}

/* margin entries: scale * cos(acos(clamp(x, -1, 1)) + margin) in double;
 * the others scale * x in `real`. */
void arcface_forward_ref(real *out, const real *cos_in, const int *labels, const uint8_t *target,
                         int n, int c, real margin, real scale) {
    loss_check_batch("ArcFace", labels, n, c);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            const size_t k = (size_t)i * c + j;
            if (has_margin(labels, target, i, j)) {
                double x = cos_in[k];
                x = x < -1 ? -1 : x > 1 ? 1 : x;
                out[k] = (real)((double)scale * pm_cos(pm_acos(x) + (double)margin));
            } else {
                out[k] = scale * cos_in[k];
            }
        }
}

/* margin entries: slope scale * sin(acos(x) + margin) / sqrt((1 - x)(1 + x))
 * at x clamped to +-ARC_GUARD; the others: scale. */
void arcface_backward_ref(real *dcos, const real *dout, const real *cos_in, const int *labels,
                          const uint8_t *target, int n, int c, real margin, real scale) {
    loss_check_batch("ArcFace", labels, n, c);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            const size_t k = (size_t)i * c + j;
            if (has_margin(labels, target, i, j)) {
                double x = cos_in[k];
                x = x < -ARC_GUARD ? -ARC_GUARD : x > ARC_GUARD ? ARC_GUARD : x;
                const double slope = (double)scale * pm_sin(pm_acos(x) + (double)margin) /
                                     sqrt((1.0 - x) * (1.0 + x));
                dcos[k] += (real)((double)dout[k] * slope);
            } else {
                dcos[k] += dout[k] * scale;
            }
        }
}
