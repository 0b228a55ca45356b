/* One BatchNorm's parameter table for the BatchNorm tests: entries
 * bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked
 * of c channels, in PyTorch's order. */
#ifndef ANOMALY_TESTS_BN_PARAMS_H
#define ANOMALY_TESTS_BN_PARAMS_H

#include <string.h>

#include "anomaly/params.h"

typedef struct BnParams {
    ParamTable p;
    int weight, bias, rmean, rvar, count;
} BnParams;

/* gamma, beta [c]; rmean, rvar [c] or NULL for PyTorch's 0 and 1. */
static void bn_params_init(BnParams *b, int c, const real *gamma, const real *beta,
                           const real *rmean, const real *rvar) {
    params_init(&b->p);
    b->weight = params_add(&b->p, "bn.weight", PARAM_TRAINABLE, 1, &c);
    b->bias = params_add(&b->p, "bn.bias", PARAM_TRAINABLE, 1, &c);
    b->rmean = params_add(&b->p, "bn.running_mean", PARAM_BUFFER, 1, &c);
    b->rvar = params_add(&b->p, "bn.running_var", PARAM_BUFFER, 1, &c);
    b->count = params_add(&b->p, "bn.num_batches_tracked", PARAM_COUNTER, 0, NULL);
    params_finalize(&b->p);
    memcpy(params_data(&b->p, b->weight), gamma, (size_t)c * sizeof(real));
    memcpy(params_data(&b->p, b->bias), beta, (size_t)c * sizeof(real));
    for (int i = 0; i < c; i++) {
        params_data(&b->p, b->rmean)[i] = rmean ? rmean[i] : 0;
        params_data(&b->p, b->rvar)[i] = rvar ? rvar[i] : 1;
    }
}

#endif
