/* Reference BatchNorm2d + residual add + ReLU (fused.h): the reference
 * BatchNorm, add and ReLU one after the other through a whole-tensor
 * temporary. Sums: those of ref/batchnorm.c. */
#include "anomaly/ops/act.h"
#include "anomaly/ops/elementwise.h"
#include "anomaly/ops/fused.h"
#include "anomaly/error.h"
#include "bn_ref.h"

#include <stdlib.h>

void batchnorm2d_add_relu_forward_train_ref(real *out, real *mean, real *rstd, real *running_mean,
                                            real *running_var, const real *inp, const real *res,
                                            const real *gamma, const real *beta,
                                            const BatchNormShape *s) {
    bn_ref_check(s, "batchnorm2d_add_relu_forward_train", 1);
    const size_t total = (size_t)s->n * s->c * s->hw;
    real *affine = xmalloc(2 * (size_t)s->c * sizeof *affine, "BatchNorm affine map");
    real *sum = xmalloc(total * sizeof *sum, "BatchNorm + residual");
    bn_ref_stats(mean, rstd, running_mean, running_var, affine, inp, gamma, beta, s);
    bn_ref_apply(sum, inp, affine, s);
    add_forward_ref(sum, sum, res, total);
    relu_forward_ref(out, sum, total);
    free(sum);
    free(affine);
}

/* dsum = ReLU's backward into zeros (it passes where !(out <= 0), which is
 * where !(sum <= 0)); dres += dsum; BatchNorm's backward from dsum. */
void batchnorm2d_add_relu_backward_ref(real *dinp, real *dres, real *dgamma, real *dbeta,
                                       const real *dout, const real *out, const real *inp,
                                       const real *mean, const real *rstd, const real *gamma,
                                       const BatchNormShape *s) {
    bn_ref_check(s, "batchnorm2d_add_relu_backward", 0);
    const size_t total = (size_t)s->n * s->c * s->hw;
    real *dsum = xcalloc(total, sizeof *dsum, "BatchNorm + residual gradient");
    relu_backward_ref(dsum, dout, out, total);
    if (dres) add_backward_ref(dres, NULL, dsum, total);
    if (dinp || dgamma || dbeta)
        batchnorm2d_backward_ref(dinp, dgamma, dbeta, dsum, inp, mean, rstd, gamma, s);
    free(dsum);
}
