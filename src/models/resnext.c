/* ResNeXt-50 32x4d and ResNeXt-101 32x8d as torchvision / timm (SPEC section 3).
 *
 * The stem, stages and head are the ResNet skeleton's (resnet_skeleton.c);
 * this is the bottleneck block, read like Bottleneck.forward:
 *   layer{1-4}.j: conv1 1x1 -> bn1 -> ReLU -> conv2 3x3 grouped (stride here)
 *                 -> bn2 -> ReLU -> conv3 1x1 -> bn3
 *                 (+ downsample.0 1x1 stride s -> downsample.1 BN on the first block)
 *                 -> add -> ReLU
 * The shortcut is computed after the main branch, as torchvision does, so
 * named outputs arrive in the order forward hooks fire. */
#include "anomaly/resnet.h"

#include <stdio.h>

#include "resnet_skeleton.h"

static const ResNetConfig CONFIGS[] = {
    {"resnext50_32x4d", {3, 4, 6, 3}, 32, 4, 0, 0},
    {"resnext101_32x8d", {3, 4, 23, 3}, 32, 8, 0, 0},
};
#define N_CONFIGS (int)(sizeof CONFIGS / sizeof CONFIGS[0])

typedef struct Bottleneck {
    Conv conv1, conv2, conv3;
    BatchNorm bn1, bn2, bn3;
    Conv down_conv;    /* downsample.0 */
    BatchNorm down_bn; /* downsample.1 */
    int has_downsample;
} Bottleneck;

static void bottleneck_register(void *impl, ParamTable *t, const ResNetBlock *b, const ResNetConfig *cfg) {
    Bottleneck *k = impl;
    int width = b->width;
    char name[LAYER_NAME_MAX];
#define SUB(s) (snprintf(name, sizeof name, "%s." s, b->name), name)
    conv_register(&k->conv1, t, SUB("conv1"), b->inplanes, width, 1, 1, 0, 1, 0);
    bn_register(&k->bn1, t, SUB("bn1"), width, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    conv_register(&k->conv2, t, SUB("conv2"), width, width, 3, b->stride, 1, cfg->cardinality, 0);
    bn_register(&k->bn2, t, SUB("bn2"), width, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    conv_register(&k->conv3, t, SUB("conv3"), width, b->outplanes, 1, 1, 0, 1, 0);
    bn_register(&k->bn3, t, SUB("bn3"), b->outplanes, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    k->has_downsample = b->downsample;
    if (b->downsample) {
        conv_register(&k->down_conv, t, SUB("downsample.0"), b->inplanes, b->outplanes, 1, b->stride, 0,
                      1, 0);
        bn_register(&k->down_bn, t, SUB("downsample.1"), b->outplanes, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    }
#undef SUB
}

static Tensor *bottleneck_forward(Tape *t, const ParamTable *p, const ResNetBlock *b, const void *impl,
                                  Tensor *x) {
    const Bottleneck *k = impl;
    (void)b;
    /* each ReLU output feeds only the next convolution, and conv1's output
     * only bn1: recomputed in backward (conv1's from the block input) */
    Tensor *out = conv_bn_act_apply(t, p, &k->conv1, &k->bn1, x, BN_ACT_RELU,
                                    CONV_TRANSIENT | BN_TRANSIENT);
    out = conv_bn_act_apply(t, p, &k->conv2, &k->bn2, out, BN_ACT_RELU, BN_TRANSIENT);
    out = conv_apply(t, p, &k->conv3, out);
    Tensor *shortcut = x;
    if (k->has_downsample) shortcut = bn_apply(t, p, &k->down_bn, conv_apply(t, p, &k->down_conv, x));
    return bn_add_relu_apply(t, p, &k->bn3, out, shortcut);
}

static void bottleneck_init(const ParamTable *p, const void *impl, Rng *rng) {
    const Bottleneck *k = impl;
    conv_init(p, &k->conv1, rng);
    bn_init(p, &k->bn1);
    conv_init(p, &k->conv2, rng);
    bn_init(p, &k->bn2);
    conv_init(p, &k->conv3, rng);
    bn_init(p, &k->bn3);
    if (k->has_downsample) {
        conv_init(p, &k->down_conv, rng);
        bn_init(p, &k->down_bn);
    }
}

static const ResNetBlockKind BOTTLENECK = {"ResNeXt", sizeof(Bottleneck), bottleneck_register,
                                           bottleneck_forward, bottleneck_init};

static const ResNetConfig *find_config(const char *name) {
    return resnet_config_find(CONFIGS, N_CONFIGS, name);
}
static int known(const char *name) { return find_config(name) != NULL; }
static void build(Model *m) { resnet_build(m, &BOTTLENECK, find_config(m->cfg.name)); }

const ModelFamily resnext_family = {"resnext50_32x4d, resnext101_32x8d", known, build, resnet_forward,
                                    resnet_init, resnet_free};
