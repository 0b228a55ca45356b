/* nn.Linear forward and backward.
 *
 * Everything goes through single gemm() calls: OpenBLAS is single-threaded
 * here, so each result is the same for any OpenMP thread count, and the
 * matrices of a classifier head are too small to gain from splitting. */
#include "anomaly/ops/linear.h"
#include "anomaly/exact.h"
#include "anomaly/blas.h"

/* out [n, out_f]; inp [n, in_f]; weight [out_f, in_f]; bias [out_f] or NULL */
void linear_forward(real *out, const real *inp, const real *weight, const real *bias,
                    int n, int in_f, int out_f) {
    if (exact_mode()) {
        linear_forward_ref(out, inp, weight, bias, n, in_f, out_f);
        return;
    }
    real beta = 0;
    if (bias) {
        /* PyTorch's addmm starts from the bias and lets GEMM add the product
         * onto it; doing the same keeps the rounding order alike. */
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out_f; o++) out[(size_t)i * out_f + o] = bias[o];
        beta = 1;
    }
    gemm(0, 1, n, out_f, in_f, 1, inp, in_f, weight, in_f, beta, out, out_f);
}

/* dinp [n, in_f] or NULL; dweight [out_f, in_f] or NULL; dbias [out_f] or NULL;
 * dout [n, out_f]; inp [n, in_f]; weight [out_f, in_f] */
void linear_backward(real *dinp, real *dweight, real *dbias, const real *dout,
                     const real *inp, const real *weight, int n, int in_f, int out_f) {
    if (exact_mode()) {
        linear_backward_ref(dinp, dweight, dbias, dout, inp, weight, n, in_f, out_f);
        return;
    }
    /* beta = 1 makes both products accumulate into the caller's buffers. */
    if (dinp) gemm(0, 0, n, in_f, out_f, 1, dout, out_f, weight, in_f, 1, dinp, in_f);
    if (dweight) gemm(1, 0, out_f, in_f, n, 1, dout, out_f, inp, in_f, 1, dweight, in_f);
    if (dbias) {
        for (int o = 0; o < out_f; o++) {
            double s = 0; /* rows in order, in double: one result for any thread count */
            for (int i = 0; i < n; i++) s += dout[(size_t)i * out_f + o];
            dbias[o] += (real)s;
        }
    }
}
