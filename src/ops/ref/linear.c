/* Reference nn.Linear: plain loops. Each output is one sum in `real`,
 * started from zero, over its index in increasing order, then added to the
 * bias (forward) or to the gradient already there (backward): exactly what
 * gemm_ref computes, so the fast kernel in the exact mode (gemm ->
 * gemm_ref) gives these bits too. Threads split independent outputs. */
#include "anomaly/ops/linear.h"

/* out[i][o] = (sum_k inp[i][k] * weight[o][k]) + bias[o] */
void linear_forward_ref(real *out, const real *inp, const real *weight, const real *bias, int n,
                        int in_f, int out_f) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out_f; o++) {
            real acc = 0;
            for (int k = 0; k < in_f; k++)
                acc += inp[(size_t)i * in_f + k] * weight[(size_t)o * in_f + k];
            out[(size_t)i * out_f + o] = bias ? acc + bias[o] : acc;
        }
}

/* dinp[i][k] += sum_o dout[i][o] * weight[o][k];
 * dweight[o][k] += sum_i dout[i][o] * inp[i][k];
 * dbias[o] += sum_i dout[i][o] (in double). */
void linear_backward_ref(real *dinp, real *dweight, real *dbias, const real *dout,
                         const real *inp, const real *weight, int n, int in_f, int out_f) {
    if (dinp) {
#pragma omp parallel for schedule(static)
        for (int i = 0; i < n; i++)
            for (int k = 0; k < in_f; k++) {
                real acc = 0;
                for (int o = 0; o < out_f; o++)
                    acc += dout[(size_t)i * out_f + o] * weight[(size_t)o * in_f + k];
                dinp[(size_t)i * in_f + k] += acc;
            }
    }
    if (dweight) {
#pragma omp parallel for schedule(static)
        for (int o = 0; o < out_f; o++)
            for (int k = 0; k < in_f; k++) {
                real acc = 0;
                for (int i = 0; i < n; i++)
                    acc += dout[(size_t)i * out_f + o] * inp[(size_t)i * in_f + k];
                dweight[(size_t)o * in_f + k] += acc;
            }
    }
    if (dbias)
        for (int o = 0; o < out_f; o++) {
            double acc = 0;
            for (int i = 0; i < n; i++) acc += dout[(size_t)i * out_f + o];
            dbias[o] += (real)acc;
        }
}
