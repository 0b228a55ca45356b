/* Losses of SPEC section 4: softmax cross-entropy, label smoothing and the
 * ArcFace margin, each with its backward right below.
 *
 * Batches are small (tens of rows of at most 88 classes), so these run
 * serially: a row's log-sum-exp and the batch mean are accumulated in double
 * in a fixed order, which also makes the value independent of the thread
 * count. */
#include "anomaly/ops/loss.h"
#include "loss_check.h"
#include "anomaly/exact.h"
#include "anomaly/error.h"

#include <math.h>

/* Same roundings under every compiler (GCC's ISO mode never contracts). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

/* One fatal line for an empty batch or a label outside [0, c); the
 * reference losses (ref/loss.c) check with it too. */
void loss_check_batch(const char *what, const int *labels, int n, int c) {
    if (n <= 0 || c <= 0) fatal("%s: empty input (batch %d, classes %d)", what, n, c);
    for (int i = 0; i < n; i++)
        if (labels[i] < 0 || labels[i] >= c)
            fatal("%s: label %d of sample %d is outside [0, %d) (the model has %d outputs)", what,
                  labels[i], i, c, c);
}

/* log(sum_j exp(z_j)) with the row maximum subtracted first, so no exp can
 * overflow whatever the logits. z [c] */
static double row_logsumexp(const real *z, int c) {
    double mx = z[0];
    for (int j = 1; j < c; j++)
        if (z[j] > mx) mx = z[j];
    double s = 0;
    for (int j = 0; j < c; j++) s += exp((double)z[j] - mx);
    return mx + log(s);
}

/* ---- cross-entropy ---- */

/* logits [n, c]; labels [n] */
double cross_entropy_forward(const real *logits, const int *labels, int n, int c) {
    if (exact_mode()) return cross_entropy_forward_ref(logits, labels, n, c);
    loss_check_batch("cross-entropy", labels, n, c);
    double total = 0;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c; /* [c] */
        total += row_logsumexp(z, c) - (double)z[labels[i]];
    }
    return total / n;
}

/* d loss / d z_ij = (softmax_ij - [j == label_i]) / n.
 * dlogits, logits [n, c]; labels [n] */
void cross_entropy_backward(real *dlogits, const real *logits, const int *labels, int n, int c,
                            real dloss) {
    if (exact_mode()) {
        cross_entropy_backward_ref(dlogits, logits, labels, n, c, dloss);
        return;
    }
    loss_check_batch("cross-entropy", labels, n, c);
    const double g = (double)dloss / n;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c; /* [c] */
        real *dz = dlogits + (size_t)i * c;     /* [c] */
        double lse = row_logsumexp(z, c);
        for (int j = 0; j < c; j++) {
            double p = exp((double)z[j] - lse);
            dz[j] += (real)(g * (p - (j == labels[i] ? 1.0 : 0.0)));
        }
    }
}

/* ---- label smoothing ---- */

/* The target weights exactly as the original computed them: `classes` only
 * sets the off-target weight eps/(classes-1); the true class gets 1-eps and
 * each of the c-1 other outputs gets that weight. With classes != c (the
 * original always passed 88) the weights therefore do not sum to 1:
 * their sum is (1-eps) + (c-1)*eps/(classes-1). */
static void smoothing_weights(double *on, double *off, real eps, int classes) {
    if (classes < 2) fatal("label smoothing needs at least 2 classes (got %d)", classes);
    *on = 1.0 - (double)eps;
    *off = (double)eps / (classes - 1);
}

/* logits [n, c]; labels [n] */
double label_smoothing_forward(const real *logits, const int *labels, int n, int c, real eps,
                               int classes) {
    if (exact_mode()) return label_smoothing_forward_ref(logits, labels, n, c, eps, classes);
    loss_check_batch("label smoothing", labels, n, c);
    double on, off;
    smoothing_weights(&on, &off, eps, classes);
    double total = 0;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c; /* [c] */
        double lse = row_logsumexp(z, c), row = 0;
        for (int j = 0; j < c; j++) row -= (j == labels[i] ? on : off) * ((double)z[j] - lse);
        total += row;
    }
    return total / n;
}

/* loss_i = -sum_j q_j (z_j - lse) = Q lse - sum_j q_j z_j with Q = sum_j q_j,
 * so d loss_i / d z_j = Q softmax_j - q_j (Q = 1 unless classes != c).
 * dlogits, logits [n, c]; labels [n] */
void label_smoothing_backward(real *dlogits, const real *logits, const int *labels, int n, int c,
                              real eps, int classes, real dloss) {
    if (exact_mode()) {
        label_smoothing_backward_ref(dlogits, logits, labels, n, c, eps, classes, dloss);
        return;
    }
    loss_check_batch("label smoothing", labels, n, c);
    double on, off;
    smoothing_weights(&on, &off, eps, classes);
    const double q_sum = on + (c - 1) * off;
    const double g = (double)dloss / n;
    for (int i = 0; i < n; i++) {
        const real *z = logits + (size_t)i * c; /* [c] */
        real *dz = dlogits + (size_t)i * c;     /* [c] */
        double lse = row_logsumexp(z, c);
        for (int j = 0; j < c; j++) {
            double p = exp((double)z[j] - lse);
            dz[j] += (real)(g * (q_sum * p - (j == labels[i] ? on : off)));
        }
    }
}

/* ---- ArcFace margin ---- */

/* acos has an infinite slope at +-1; its derivative is taken this far inside. */
#define ARC_GUARD (1.0 - 1e-7)

static int has_margin(const int *labels, const uint8_t *target, int i, int j) {
    return j == labels[i] && (!target || target[labels[i]]);
}

/* Entries without a margin are scale * cos as given (not clamped): they are
 * the plain cosine logits. Margin entries are computed in double and rounded
 * once. out, cos [n, c]; labels [n]; target [c] or NULL */
void arcface_forward(real *out, const real *cos_in, const int *labels, const uint8_t *target,
                     int n, int c, real margin, real scale) {
    if (exact_mode()) {
        arcface_forward_ref(out, cos_in, labels, target, n, c, margin, scale);
        return;
    }
    loss_check_batch("ArcFace", labels, n, c);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            if (has_margin(labels, target, i, j)) {
                double x = cos_in[k];
                x = x < -1 ? -1 : x > 1 ? 1 : x;
                out[k] = (real)((double)scale * cos(acos(x) + (double)margin));
            } else {
                out[k] = scale * cos_in[k];
            }
        }
}

/* d/dx s cos(acos(x) + m) = s sin(acos(x) + m) / sqrt(1 - x^2), evaluated at
 * x clamped to +-ARC_GUARD; every margin entry gets this finite slope, also
 * those beyond +-1 (where the forward clamp would give PyTorch a zero slope),
 * so a cosine that rounds past 1 still learns. Plain entries have slope s.
 * dcos, dout, cos [n, c]; labels [n]; target [c] or NULL */
void arcface_backward(real *dcos, const real *dout, const real *cos_in, const int *labels,
                      const uint8_t *target, int n, int c, real margin, real scale) {
    if (exact_mode()) {
        arcface_backward_ref(dcos, dout, cos_in, labels, target, n, c, margin, scale);
        return;
    }
    loss_check_batch("ArcFace", labels, n, c);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < c; j++) {
            size_t k = (size_t)i * c + j;
            if (has_margin(labels, target, i, j)) {
                double x = cos_in[k];
                x = x < -ARC_GUARD ? -ARC_GUARD : x > ARC_GUARD ? ARC_GUARD : x;
                /* (1-x)(1+x) rather than 1-x*x: no cancellation near +-1 */
                double slope =
                    (double)scale * sin(acos(x) + (double)margin) / sqrt((1.0 - x) * (1.0 + x));
                dcos[k] += (real)((double)dout[k] * slope);
            } else {
                dcos[k] += dout[k] * scale;
            }
        }
}
