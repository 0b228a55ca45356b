/* ResNeXt and ResNeSt (SPEC section 3): their model families, built on one
 * ResNet skeleton (src/models/resnet_skeleton.c). Of ModelConfig they read
 * num_classes, arcface and dropout (timm's drop_rate before the head, 0 by
 * default); drop_connect and the SAME-padding fields are EfficientNet's (timm
 * builds these models without drop-path). */
#ifndef ANOMALY_RESNET_H
#define ANOMALY_RESNET_H

#include "model.h"

extern const ModelFamily resnext_family; /* resnext50_32x4d, resnext101_32x8d */
extern const ModelFamily resnest_family; /* resnest50d_4s2x40d */

/* timm's make_divisible: v rounded to the nearest multiple of divisor, at
 * least min_value, plus one divisor when rounding lost more than 10 %. */
int resnest_make_divisible(double v, int divisor, int min_value);

#endif
