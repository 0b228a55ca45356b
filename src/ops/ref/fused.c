/* Reference BatchNorm2d + activation (fused.h): literally the reference
 * BatchNorm followed by the reference activation, through a whole-tensor
 * temporary, so its values are the unfused references' by construction.
 * Sums: those of ref/batchnorm.c (per channel, in double, images then
 * positions in order). */
#include "anomaly/ops/act.h"
#include "anomaly/ops/fused.h"
#include "anomaly/error.h"
#include "bn_ref.h"

#include <stdlib.h>

static size_t numel(const BatchNormShape *s) { return (size_t)s->n * s->c * s->hw; }

static void act_forward_ref(real *out, const real *z, size_t n, BnAct act) {
    if (act == BN_ACT_SWISH)
        swish_forward_ref(out, z, n);
    else
        relu_forward_ref(out, z, n);
}

void batchnorm2d_act_forward_train_ref(real *out, real *z, real *mean, real *rstd, real *affine,
                                       real *running_mean, real *running_var, const real *inp,
                                       const real *gamma, const real *beta,
                                       const BatchNormShape *s, BnAct act) {
    bn_ref_check(s, "batchnorm2d_act_forward_train", 1);
    real *own_affine = affine ? NULL : xmalloc(2 * (size_t)s->c * sizeof(real), "BatchNorm affine map");
    real *own_z = z ? NULL : xmalloc(numel(s) * sizeof(real), "BatchNorm output");
    real *aff = affine ? affine : own_affine, *zz = z ? z : own_z;
    bn_ref_stats(mean, rstd, running_mean, running_var, aff, inp, gamma, beta, s);
    bn_ref_apply(zz, inp, aff, s);
    act_forward_ref(out, zz, numel(s), act);
    free(own_affine);
    free(own_z);
}

void batchnorm2d_act_recompute_ref(real *out, const real *inp, const real *affine,
                                   const BatchNormShape *s, BnAct act) {
    bn_ref_check(s, "batchnorm2d_act_recompute", 0);
    real *z = xmalloc(numel(s) * sizeof(real), "BatchNorm output");
    bn_ref_apply(z, inp, affine, s);
    act_forward_ref(out, z, numel(s), act);
    free(z);
}

/* dz = the activation's backward into zeros; then BatchNorm's backward
 * from dz (batchnorm2d_backward_ref). */
void batchnorm2d_act_backward_ref(real *dinp, real *dgamma, real *dbeta, const real *dout,
                                  const real *inp, const real *z, const real *mean,
                                  const real *rstd, const real *affine, const real *gamma,
                                  const BatchNormShape *s, BnAct act) {
    bn_ref_check(s, "batchnorm2d_act_backward", 0);
    if (!z && !affine) fatal("batchnorm2d_act_backward: neither the BatchNorm output nor its affine");
    if (!dinp && !dgamma && !dbeta) return;
    const size_t total = numel(s);
    real *own_z = NULL;
    if (!z) { /* the BatchNorm output as the forward computed it */
        own_z = xmalloc(total * sizeof(real), "BatchNorm output");
        bn_ref_apply(own_z, inp, affine, s);
        z = own_z;
    }
    real *dz = xcalloc(total, sizeof(real), "BatchNorm output gradient");
    if (act == BN_ACT_SWISH)
        swish_backward_ref(dz, dout, z, total);
    else
        relu_backward_ref(dz, dout, z, total);
    batchnorm2d_backward_ref(dinp, dgamma, dbeta, dz, inp, mean, rstd, gamma, s);
    free(dz);
    free(own_z);
}
