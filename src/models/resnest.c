/* ResNeSt-50d 4s2x40d as timm's resnest50d_4s2x40d (SPEC section 3).
 *
 * The deep stem, stages and head are the ResNet skeleton's
 * (resnet_skeleton.c); this is the block, read like timm's
 * ResNestBottleneck / SplitAttn:
 *   layer{1-4}.j: conv1 1x1 -> bn1 -> ReLU -> [avd_first AvgPool 3x3 s p1]
 *     -> conv2 (split attention: conv grouped 3x3 to radix*C -> bn0 -> ReLU
 *        -> sum of the radix splits -> avg pool -> fc1 -> bn1 -> ReLU -> fc2
 *        -> softmax over radix -> attention-weighted sum of the splits)
 *     -> conv3 1x1 -> bn3
 *     (+ downsample.0 AvgPool 2x2 s ceil, no pad count (Identity at stride 1)
 *        -> downsample.1 1x1 -> downsample.2 BN on the first block)
 *     -> add -> ReLU
 * With avd, a strided block moves its stride from the split-attention conv to
 * the avd_first pool. timm passes no is_first, so the stride-1 first block of
 * layer1 has no pool. */
#include "anomaly/resnet.h"

#include <stdio.h>

#include "resnet_skeleton.h"

#define ATTN_RATIO 0.25 /* SplitAttn rd_ratio */
#define ATTN_DIVISOR 8
#define ATTN_MIN 32

static const ResNetConfig CONFIGS[] = {
    {"resnest50d_4s2x40d", {3, 4, 6, 3}, 2, 40, 32, 4},
};
#define N_CONFIGS (int)(sizeof CONFIGS / sizeof CONFIGS[0])

typedef struct SplitAttn {
    char name[48]; /* "layer1.0.conv2" */
    Conv conv;
    BatchNorm bn0;
    Conv fc1;
    BatchNorm bn1;
    Conv fc2;
    int radix, cardinality;
} SplitAttn;

typedef struct Block {
    Conv conv1;
    BatchNorm bn1;
    int avd_stride; /* > 0: the avd_first pool's stride; 0: no pool */
    SplitAttn conv2;
    Conv conv3;
    BatchNorm bn3;
    int has_downsample;
    int down_stride;   /* > 1: downsample.0 is an AvgPool2d(2, down_stride); else Identity */
    Conv down_conv;    /* downsample.1 */
    BatchNorm down_bn; /* downsample.2 */
} Block;

int resnest_make_divisible(double v, int divisor, int min_value) {
    int rounded = (int)(v + divisor / 2.0) / divisor * divisor;
    if (rounded < min_value) rounded = min_value;
    if (rounded < 0.9 * v) rounded += divisor;
    return rounded;
}

static void split_attn_register(SplitAttn *s, ParamTable *t, int channels, int cardinality,
                                int radix) {
    int mid = channels * radix;
    int attn = resnest_make_divisible(channels * radix * ATTN_RATIO, ATTN_DIVISOR, ATTN_MIN);
    char name[LAYER_NAME_MAX];
#define SUB(x) (snprintf(name, sizeof name, "%s." x, s->name), name)
    s->radix = radix;
    s->cardinality = cardinality;
    /* stride 1: with avd the block's stride lives in the avd_first pool */
    conv_register(&s->conv, t, SUB("conv"), channels, mid, 3, 1, 1, cardinality * radix, 0);
    bn_register(&s->bn0, t, SUB("bn0"), mid, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    conv_register(&s->fc1, t, SUB("fc1"), channels, attn, 1, 1, 0, cardinality, 1);
    bn_register(&s->bn1, t, SUB("bn1"), attn, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    conv_register(&s->fc2, t, SUB("fc2"), attn, mid, 1, 1, 0, cardinality, 1);
#undef SUB
}

static void block_register(void *impl, ParamTable *t, const ResNetBlock *b, const ResNetConfig *cfg) {
    Block *k = impl;
    char name[LAYER_NAME_MAX];
#define SUB(x) (snprintf(name, sizeof name, "%s." x, b->name), name)
    conv_register(&k->conv1, t, SUB("conv1"), b->inplanes, b->width, 1, 1, 0, 1, 0);
    bn_register(&k->bn1, t, SUB("bn1"), b->width, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    k->avd_stride = b->stride > 1 ? b->stride : 0;
    snprintf(k->conv2.name, sizeof k->conv2.name, "%s.conv2", b->name);
    split_attn_register(&k->conv2, t, b->width, cfg->cardinality, cfg->radix);
    conv_register(&k->conv3, t, SUB("conv3"), b->width, b->outplanes, 1, 1, 0, 1, 0);
    bn_register(&k->bn3, t, SUB("bn3"), b->outplanes, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    k->has_downsample = b->downsample;
    if (b->downsample) {
        k->down_stride = b->stride;
        conv_register(&k->down_conv, t, SUB("downsample.1"), b->inplanes, b->outplanes, 1, 1, 0, 1, 0);
        bn_register(&k->down_bn, t, SUB("downsample.2"), b->outplanes, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
    }
#undef SUB
}

static Tensor *split_attn_forward(Tape *t, const ParamTable *p, const SplitAttn *s, Tensor *x) {
    /* x [n, radix * C, h, w]: split r is channels [r*C, (r+1)*C). Its two
     * readers are the radix sum (whose backward needs no input) and the
     * weighted sum below, and no other recomputed tensor is made in
     * between: recomputed in backward, not kept (radix * C channels, the
     * widest tensor of the block) */
    x = conv_bn_act_apply(t, p, &s->conv, &s->bn0, x, BN_ACT_RELU, BN_TRANSIENT);
    Tensor *gap = ag_radix_sum_gap(t, x, s->radix);
    gap = conv_bn_act_apply(t, p, &s->fc1, &s->bn1, gap, BN_ACT_RELU, 0);
    Tensor *attn = ag_radix_softmax(t, conv_apply(t, p, &s->fc2, gap), s->cardinality, s->radix);
    Tensor *out = ag_radix_weighted_sum(t, x, attn, s->radix);
    layer_named(t, out, "%s", s->name);
    return out;
}

static Tensor *block_forward(Tape *t, const ParamTable *p, const ResNetBlock *b, const void *impl,
                             Tensor *x) {
    const Block *k = impl;
    /* bn1's output has one reader, the split-attention convolution or,
     * with avd first, the average pool (whose backward needs no input):
     * recomputed in backward. In layers 1-2, conv1's and conv3's outputs
     * (read by their BatchNorm only) are recomputed too, from the block
     * input and the split-attention output: there they hold twice the
     * memory per recomputed multiply-add that they do in layer 3 (four
     * times layer 4's), so that a step keeps 150 MiB less at 224 px x 8 for
     * about 2 % more time (all four layers: 200 MiB for 6 %). */
    const int recompute = b->layer <= 2;
    Tensor *out = conv_bn_act_apply(t, p, &k->conv1, &k->bn1, x, BN_ACT_RELU,
                                    (recompute ? CONV_TRANSIENT : 0) | BN_TRANSIENT);
    if (k->avd_stride > 0) {
        Pool2dShape avd = {.kh = 3, .kw = 3, .sh = k->avd_stride, .sw = k->avd_stride,
                           .pad_t = 1, .pad_l = 1, .count_include_pad = 1};
        out = ag_avgpool2d(t, out, &avd);
        layer_named(t, out, "%s.avd_first", b->name);
    }
    out = split_attn_forward(t, p, &k->conv2, out);
    out = (recompute ? conv_apply_transient : conv_apply)(t, p, &k->conv3, out);
    Tensor *shortcut = x;
    if (k->has_downsample) {
        if (k->down_stride > 1) {
            Pool2dShape down = {.kh = 2, .kw = 2, .sh = k->down_stride, .sw = k->down_stride,
                                .ceil_mode = 1, .count_include_pad = 0};
            shortcut = ag_avgpool2d(t, shortcut, &down);
            layer_named(t, shortcut, "%s.downsample.0", b->name);
        }
        shortcut = bn_apply(t, p, &k->down_bn, conv_apply(t, p, &k->down_conv, shortcut));
    }
    return bn_add_relu_apply(t, p, &k->bn3, out, shortcut);
}

static void block_init(const ParamTable *p, const void *impl, Rng *rng) {
    const Block *k = impl;
    conv_init(p, &k->conv1, rng);
    bn_init(p, &k->bn1);
    conv_init(p, &k->conv2.conv, rng);
    bn_init(p, &k->conv2.bn0);
    conv_init(p, &k->conv2.fc1, rng);
    bn_init(p, &k->conv2.bn1);
    conv_init(p, &k->conv2.fc2, rng);
    conv_init(p, &k->conv3, rng);
    bn_init(p, &k->bn3);
    if (k->has_downsample) {
        conv_init(p, &k->down_conv, rng);
        bn_init(p, &k->down_bn);
    }
}

static const ResNetBlockKind BLOCK = {"ResNeSt", sizeof(Block), block_register, block_forward, block_init};

static const ResNetConfig *find_config(const char *name) {
    return resnet_config_find(CONFIGS, N_CONFIGS, name);
}
static int known(const char *name) { return find_config(name) != NULL; }
static void build(Model *m) { resnet_build(m, &BLOCK, find_config(m->cfg.name)); }

const ModelFamily resnest_family = {"resnest50d_4s2x40d", known, build, resnet_forward, resnet_init,
                                    resnet_free};
