/* Fusion of an activation into the BatchNorm recorded just before it.
 * Private to src/nn. */
#ifndef ANOMALY_SRC_NN_AG_FUSE_H
#define ANOMALY_SRC_NN_AG_FUSE_H

#include "anomaly/ops/fused.h"

/* The checks of every BatchNorm wrapper, fatal() naming the layer: gamma
 * and beta hold x->c values, the running statistics exist, and in training
 * there is more than one value per channel. Returns the kernel's shape. */
BatchNormShape ag_bn_shape(const char *name, const Tensor *x, const Tensor *gamma,
                           const Tensor *beta, const real *running_mean, const real *running_var,
                           real eps, real momentum, int train);

/* When x is the output of the node recorded last and that node is a
 * train-mode BatchNorm, records act(x) as a node whose backward fuses the
 * two (falling back to the activation's own backward when x has another
 * consumer) and returns act(x); otherwise returns NULL and records nothing. */
Tensor *ag_batchnorm2d_then_act(Tape *t, Tensor *x, BnAct act);

#endif
