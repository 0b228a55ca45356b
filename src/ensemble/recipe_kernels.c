/* The arithmetic of a recipe, as PyTorch does it on the original's float
 * tensors. Every output element is computed by one thread from its own
 * inputs, so results do not depend on the number of threads. */
#include <math.h>
#include <stddef.h>

#include "recipe_ast.h"

/* torch.Tensor.mean(0) on CPU: the sum over folds in fold order, then one
 * division by K. (PyTorch's vectorised kernel adds a few trailing columns in
 * another order, (x0 + x4) + x1 + ..., depending on the SIMD width and the
 * thread split, and the original ran on CUDA: those differ in the last bit
 * at most. NumPy's mean(axis=0) is exactly this.) */
void folds_mean(real *y, const real *x, int k, size_t m) {
    /* y: [m]   x: [k, m] */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m; i++) {
        real s = x[i];
        for (int j = 1; j < k; j++) s += x[(size_t)j * m + i];
        y[i] = s / (real)k;
    }
}

/* A Python float times a float tensor: the weight is rounded to the
 * tensor's type, then one product per element. */
void scores_scale(real *y, const real *x, double w, size_t m) {
    /* y: [m]   x: [m] */
    real wr = (real)w;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m; i++) y[i] = x[i] * wr;
}

void scores_add(real *y, const real *a, const real *b, size_t m) {
    /* y: [m]   a: [m]   b: [m] */
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < m; i++) y[i] = a[i] + b[i];
}

/* torch.argmax(dim=1): the first largest score; a NaN counts as the largest. */
void scores_argmax(int *best, const real *x, int n, int c) {
    /* best: [n]   x: [n, c] */
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++) {
        const real *row = x + (size_t)i * (size_t)c;
        int b = 0;
        for (int j = 1; j < c; j++)
            if (row[j] > row[b] || (isnan(row[j]) && !isnan(row[b]))) b = j;
        best[i] = b;
    }
}
