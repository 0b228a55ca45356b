/* ResNeXt and ResNeSt (SPEC section 3): their model families, and the
 * classifier head both end with. Of ModelConfig they read num_classes,
 * arcface and dropout; drop_connect and the SAME-padding fields are
 * EfficientNet's (timm builds these models without drop-path). */
#ifndef ANOMALY_RESNET_H
#define ANOMALY_RESNET_H

#include "layers.h"
#include "model.h"

extern const ModelFamily resnext_family; /* resnext50_32x4d, resnext101_32x8d */
extern const ModelFamily resnest_family; /* resnest50d_4s2x40d */

/* global average pool -> [dropout] -> `fc`: a Linear, or with cfg.arcface
 * the cosine head (a bare fc.weight [classes, features], Xavier-uniform).
 * The dropout rate is cfg.dropout when positive (timm's drop_rate, 0 by
 * default). Defined in resnext.c. */
typedef struct ResNetHead {
    Linear fc;
    int arc_fc; /* entry index of the bare fc.weight, else -1 */
    double dropout;
} ResNetHead;

void resnet_head_register(ResNetHead *h, Model *m, int features);
/* x [n, features, h, w] -> [n, classes, 1, 1]; reports "fc". */
Tensor *resnet_head_forward(const ResNetHead *h, Model *m, Tape *t, Tensor *x);
void resnet_head_init(const ResNetHead *h, Model *m, Rng *r);

/* timm's make_divisible: v rounded to the nearest multiple of divisor, at
 * least min_value, plus one divisor when rounding lost more than 10 %. */
int resnest_make_divisible(double v, int divisor, int min_value);

#endif
