/* Losses on the GPU (src/ops/loss.c): one thread per row, in double, the
 * batch mean added by one thread in row order. Labels must already be
 * valid (the CPU kernels check them; these trust the caller). */
#include "cuda_internal.cuh"

#define ARC_GUARD (1.0 - 1e-7)

__device__ static double row_logsumexp(const real *z, int c) {
    double mx = z[0];
    for (int j = 1; j < c; j++)
        if (z[j] > mx) mx = z[j];
    double s = 0;
    for (int j = 0; j < c; j++) s += exp((double)z[j] - mx);
    return mx + log(s);
}

/* row[i] = -sum_j q_ij (z_ij - lse_i) with q = on at the label, off elsewhere
 * (cross-entropy: on 1, off 0, computed as lse - z_label like the CPU). */
__global__ static void k_rows(double *row, const real *logits, const int *labels, int n, int c,
                              double on, double off, int smoothing) {
    CU_FOR(i, (size_t)n) {
        const real *z = logits + i * c;
        const double lse = row_logsumexp(z, c);
        if (!smoothing) {
            row[i] = lse - (double)z[labels[i]];
        } else {
            double r = 0;
            for (int j = 0; j < c; j++) r -= (j == labels[i] ? on : off) * ((double)z[j] - lse);
            row[i] = r;
        }
    }
}

__global__ static void k_mean(double *out, const double *row, int n) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        double t = 0;
        for (int i = 0; i < n; i++) t += row[i];
        *out = t / n;
    }
}

/* dz_ij += g * (q_sum * softmax_ij - q_ij) */
__global__ static void k_rows_bwd(real *dlogits, const real *logits, const int *labels, int n,
                                  int c, double on, double off, double q_sum, double g) {
    CU_FOR(i, (size_t)n) {
        const real *z = logits + i * c;
        real *dz = dlogits + i * c;
        const double lse = row_logsumexp(z, c);
        for (int j = 0; j < c; j++) {
            const double p = exp((double)z[j] - lse);
            dz[j] += (real)(g * (q_sum * p - (j == labels[i] ? on : off)));
        }
    }
}

static void check_dims(const char *what, int n, int c) {
    if (n <= 0 || c <= 0) fatal("%s: empty input (batch %d, classes %d)", what, n, c);
}

static double mean_loss(const real *logits, const int *labels, int n, int c, double on,
                        double off, int smoothing) {
    double *row = (double *)cuda_alloc((size_t)n * sizeof(double), "loss rows");
    double *out = (double *)cuda_alloc(sizeof(double), "the loss");
    CU_LAUNCH(k_rows, cu_blocks((size_t)n), CU_THREADS)(row, logits, labels, n, c, on, off, smoothing);
    CU_LAUNCH(k_mean, 1, 1)(out, row, n);
    CU_LAUNCHED("loss");
    double v;
    cuda_download(&v, out, sizeof v);
    cuda_free(row);
    cuda_free(out);
    return v;
}

double cross_entropy_forward_cuda(const real *logits, const int *labels, int n, int c) {
    check_dims("cross-entropy", n, c);
    return mean_loss(logits, labels, n, c, 1, 0, 0);
}

void cross_entropy_backward_cuda(real *dlogits, const real *logits, const int *labels, int n,
                                 int c, real dloss) {
    check_dims("cross-entropy", n, c);
    CU_LAUNCH(k_rows_bwd, cu_blocks((size_t)n), CU_THREADS)(dlogits, logits, labels, n, c, 1, 0, 1,
                                                     (double)dloss / n);
    CU_LAUNCHED("cross_entropy_backward");
}

static void smoothing_weights(double *on, double *off, real eps, int classes) {
    if (classes < 2) fatal("label smoothing needs at least 2 classes (got %d)", classes);
    *on = 1.0 - (double)eps;
    *off = (double)eps / (classes - 1);
}

double label_smoothing_forward_cuda(const real *logits, const int *labels, int n, int c, real eps,
                                    int classes) {
    check_dims("label smoothing", n, c);
    double on, off;
    smoothing_weights(&on, &off, eps, classes);
    return mean_loss(logits, labels, n, c, on, off, 1);
}

void label_smoothing_backward_cuda(real *dlogits, const real *logits, const int *labels, int n,
                                   int c, real eps, int classes, real dloss) {
    check_dims("label smoothing", n, c);
    double on, off;
    smoothing_weights(&on, &off, eps, classes);
    CU_LAUNCH(k_rows_bwd, cu_blocks((size_t)n), CU_THREADS)(dlogits, logits, labels, n, c, on, off,
                                                     on + (c - 1) * off, (double)dloss / n);
    CU_LAUNCHED("label_smoothing_backward");
}

__device__ static int has_margin(const int *labels, const uint8_t *target, int i, int j) {
    return j == labels[i] && (!target || target[labels[i]]);
}

__global__ static void k_arc_fwd(real *out, const real *cos_in, const int *labels,
                                 const uint8_t *target, int n, int c, real margin, real scale) {
    CU_FOR(k, (size_t)n * c) {
        const int i = (int)(k / c), j = (int)(k % c);
        if (has_margin(labels, target, i, j)) {
            double x = cos_in[k];
            x = x < -1 ? -1 : x > 1 ? 1 : x;
            out[k] = (real)((double)scale * cos(acos(x) + (double)margin));
        } else {
            out[k] = scale * cos_in[k];
        }
    }
}

__global__ static void k_arc_bwd(real *dcos, const real *dout, const real *cos_in,
                                 const int *labels, const uint8_t *target, int n, int c,
                                 real margin, real scale) {
    CU_FOR(k, (size_t)n * c) {
        const int i = (int)(k / c), j = (int)(k % c);
        if (has_margin(labels, target, i, j)) {
            double x = cos_in[k];
            x = x < -ARC_GUARD ? -ARC_GUARD : x > ARC_GUARD ? ARC_GUARD : x;
            const double slope =
                (double)scale * sin(acos(x) + (double)margin) / sqrt((1.0 - x) * (1.0 + x));
            dcos[k] += (real)((double)dout[k] * slope);
        } else {
            dcos[k] += dout[k] * scale;
        }
    }
}

void arcface_forward_cuda(real *out, const real *cos_in, const int *labels, const uint8_t *target,
                          int n, int c, real margin, real scale) {
    check_dims("ArcFace", n, c);
    CU_LAUNCH(k_arc_fwd, cu_blocks((size_t)n * c), CU_THREADS)(out, cos_in, labels, target, n, c, margin,
                                                        scale);
    CU_LAUNCHED("arcface_forward");
}

void arcface_backward_cuda(real *dcos, const real *dout, const real *cos_in, const int *labels,
                           const uint8_t *target, int n, int c, real margin, real scale) {
    check_dims("ArcFace", n, c);
    CU_LAUNCH(k_arc_bwd, cu_blocks((size_t)n * c), CU_THREADS)(dcos, dout, cos_in, labels, target, n, c,
                                                        margin, scale);
    CU_LAUNCHED("arcface_backward");
}
