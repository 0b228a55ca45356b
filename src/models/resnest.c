/* ResNeSt-50d 4s2x40d as timm's resnest50d_4s2x40d (SPEC section 3).
 *
 * Reads top to bottom like timm's ResNet / ResNestBottleneck / SplitAttn:
 *   conv1.0 3x3 s2 -> conv1.1 BN -> ReLU -> conv1.3 3x3 -> conv1.4 BN -> ReLU
 *   -> conv1.6 3x3 -> bn1 -> ReLU -> maxpool 3x3 s2 p1
 *   layer{1-4}.j: conv1 1x1 -> bn1 -> ReLU -> [avd_first AvgPool 3x3 s p1]
 *     -> conv2 (split attention: conv grouped 3x3 to radix*C -> bn0 -> ReLU
 *        -> sum of the radix splits -> avg pool -> fc1 -> bn1 -> ReLU -> fc2
 *        -> softmax over radix -> attention-weighted sum of the splits)
 *     -> conv3 1x1 -> bn3
 *     (+ downsample.0 AvgPool 2x2 s ceil, no pad count (Identity at stride 1)
 *        -> downsample.1 1x1 -> downsample.2 BN on the first block)
 *     -> add -> ReLU
 *   global average pool -> fc
 * With avd, a strided block moves its stride from the split-attention conv to
 * the avd_first pool. timm passes no is_first, so the stride-1 first block of
 * layer1 has no pool. */
#include "anomaly/error.h"
#include "anomaly/layers.h"
#include "anomaly/resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1
#define EXPANSION 4
#define ATTN_RATIO 0.25 /* SplitAttn rd_ratio */
#define ATTN_DIVISOR 8
#define ATTN_MIN 32

typedef struct Config {
    const char *name;
    int layers[4];
    int stem_width, cardinality, base_width, radix;
} Config;

static const Config CONFIGS[] = {
    {"resnest50d_4s2x40d", {3, 4, 6, 3}, 32, 2, 40, 4},
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
    char name[32]; /* "layer1.0" */
    Conv conv1;
    BatchNorm bn1;
    int avd_stride; /* > 0: the avd_first pool's stride; 0: no pool */
    SplitAttn conv2;
    Conv conv3;
    BatchNorm bn3;
    int has_downsample;
    int down_stride;  /* > 1: downsample.0 is an AvgPool2d(2, down_stride); else Identity */
    Conv down_conv;   /* downsample.1 */
    BatchNorm down_bn; /* downsample.2 */
    int layer;        /* 1..4 */
    int last_in_layer;
} Block;

typedef struct ResNeSt {
    Conv stem0, stem3, stem6; /* conv1.0, conv1.3, conv1.6 */
    BatchNorm stem1, stem4;   /* conv1.1, conv1.4 */
    BatchNorm bn1;
    Block *blocks;
    int n_blocks;
    ResNetHead head;
} ResNeSt;

static const Config *find_config(const char *name) {
    for (int i = 0; i < N_CONFIGS; i++)
        if (strcmp(CONFIGS[i].name, name) == 0) return &CONFIGS[i];
    return NULL;
}

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
    bn_register(&s->bn0, t, SUB("bn0"), mid, BN_EPS, BN_MOMENTUM);
    conv_register(&s->fc1, t, SUB("fc1"), channels, attn, 1, 1, 0, cardinality, 1);
    bn_register(&s->bn1, t, SUB("bn1"), attn, BN_EPS, BN_MOMENTUM);
    conv_register(&s->fc2, t, SUB("fc2"), attn, mid, 1, 1, 0, cardinality, 1);
#undef SUB
}

static void block_register(Block *b, ParamTable *t, int inplanes, int planes, int stride,
                           const Config *cfg) {
    int width = planes * cfg->base_width / 64 * cfg->cardinality;
    char name[LAYER_NAME_MAX];
#define SUB(x) (snprintf(name, sizeof name, "%s." x, b->name), name)
    conv_register(&b->conv1, t, SUB("conv1"), inplanes, width, 1, 1, 0, 1, 0);
    bn_register(&b->bn1, t, SUB("bn1"), width, BN_EPS, BN_MOMENTUM);
    b->avd_stride = stride > 1 ? stride : 0;
    snprintf(b->conv2.name, sizeof b->conv2.name, "%s.conv2", b->name);
    split_attn_register(&b->conv2, t, width, cfg->cardinality, cfg->radix);
    conv_register(&b->conv3, t, SUB("conv3"), width, planes * EXPANSION, 1, 1, 0, 1, 0);
    bn_register(&b->bn3, t, SUB("bn3"), planes * EXPANSION, BN_EPS, BN_MOMENTUM);
    b->has_downsample = stride != 1 || inplanes != planes * EXPANSION;
    if (b->has_downsample) {
        b->down_stride = stride;
        conv_register(&b->down_conv, t, SUB("downsample.1"), inplanes, planes * EXPANSION, 1, 1, 0,
                      1, 0);
        bn_register(&b->down_bn, t, SUB("downsample.2"), planes * EXPANSION, BN_EPS, BN_MOMENTUM);
    }
#undef SUB
}

static void build(Model *m) {
    const Config *cfg = find_config(m->cfg.name);
    ResNeSt *r = xcalloc(1, sizeof *r, "the ResNeSt layer table");
    ParamTable *t = &m->params;
    m->impl = r;

    int sw = cfg->stem_width, inplanes = 2 * cfg->stem_width;
    conv_register(&r->stem0, t, "conv1.0", 3, sw, 3, 2, 1, 1, 0);
    bn_register(&r->stem1, t, "conv1.1", sw, BN_EPS, BN_MOMENTUM);
    conv_register(&r->stem3, t, "conv1.3", sw, sw, 3, 1, 1, 1, 0);
    bn_register(&r->stem4, t, "conv1.4", sw, BN_EPS, BN_MOMENTUM);
    conv_register(&r->stem6, t, "conv1.6", sw, inplanes, 3, 1, 1, 1, 0);
    bn_register(&r->bn1, t, "bn1", inplanes, BN_EPS, BN_MOMENTUM);

    for (int l = 0; l < 4; l++) r->n_blocks += cfg->layers[l];
    r->blocks = xcalloc((size_t)r->n_blocks, sizeof *r->blocks, "ResNeSt blocks");
    int idx = 0;
    for (int l = 0; l < 4; l++) {
        int planes = 64 << l;
        for (int j = 0; j < cfg->layers[l]; j++, idx++) {
            Block *b = &r->blocks[idx];
            snprintf(b->name, sizeof b->name, "layer%d.%d", l + 1, j);
            b->layer = l + 1;
            b->last_in_layer = j == cfg->layers[l] - 1;
            block_register(b, t, inplanes, planes, j == 0 && l > 0 ? 2 : 1, cfg);
            inplanes = planes * EXPANSION;
        }
    }
    resnet_head_register(&r->head, m, inplanes);
}

static Tensor *split_attn_forward(Tape *t, const ParamTable *p, const SplitAttn *s, Tensor *x) {
    x = bn_act_apply(t, p, &s->bn0, conv_apply(t, p, &s->conv, x), BN_ACT_RELU);
    /* x [n, radix * C, h, w]: split r is channels [r*C, (r+1)*C) */
    Tensor *gap = ag_global_avgpool(t, ag_radix_sum(t, x, s->radix));
    gap = bn_act_apply(t, p, &s->bn1, conv_apply(t, p, &s->fc1, gap), BN_ACT_RELU);
    Tensor *attn = ag_radix_softmax(t, conv_apply(t, p, &s->fc2, gap), s->cardinality, s->radix);
    Tensor *out = ag_radix_weighted_sum(t, x, attn, s->radix);
    layer_named(t, out, "%s", s->name);
    return out;
}

static Tensor *block_forward(Tape *t, const ParamTable *p, const Block *b, Tensor *x) {
    /* without avd first, only the split-attention convolution reads bn1's
     * output: recomputed in backward */
    Tensor *out = b->avd_stride > 0
                      ? bn_act_apply(t, p, &b->bn1, conv_apply(t, p, &b->conv1, x), BN_ACT_RELU)
                      : bn_act_apply_transient(t, p, &b->bn1, conv_apply(t, p, &b->conv1, x),
                                               BN_ACT_RELU);
    if (b->avd_stride > 0) {
        Pool2dShape avd = {.kh = 3, .kw = 3, .sh = b->avd_stride, .sw = b->avd_stride,
                           .pad_t = 1, .pad_l = 1, .count_include_pad = 1};
        out = ag_avgpool2d(t, out, &avd);
        layer_named(t, out, "%s.avd_first", b->name);
    }
    out = split_attn_forward(t, p, &b->conv2, out);
    out = conv_apply(t, p, &b->conv3, out);
    Tensor *shortcut = x;
    if (b->has_downsample) {
        if (b->down_stride > 1) {
            Pool2dShape down = {.kh = 2, .kw = 2, .sh = b->down_stride, .sw = b->down_stride,
                                .ceil_mode = 1, .count_include_pad = 0};
            shortcut = ag_avgpool2d(t, shortcut, &down);
            layer_named(t, shortcut, "%s.downsample.0", b->name);
        }
        shortcut = bn_apply(t, p, &b->down_bn, conv_apply(t, p, &b->down_conv, shortcut));
    }
    out = bn_add_relu_apply(t, p, &b->bn3, out, shortcut);
    layer_named(t, out, "%s", b->name);
    return out;
}

static Tensor *forward(Model *m, Tape *t, Tensor *x) {
    ResNeSt *r = m->impl;
    const ParamTable *p = &m->params;
    x = bn_act_apply_transient(t, p, &r->stem1, conv_apply(t, p, &r->stem0, x), BN_ACT_RELU);
    x = bn_act_apply_transient(t, p, &r->stem4, conv_apply(t, p, &r->stem3, x), BN_ACT_RELU);
    x = bn_act_apply(t, p, &r->bn1, conv_apply(t, p, &r->stem6, x), BN_ACT_RELU);
    Pool2dShape pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_l = 1};
    x = ag_maxpool2d(t, x, &pool);
    layer_named(t, x, "maxpool");
    for (int i = 0; i < r->n_blocks; i++) {
        const Block *b = &r->blocks[i];
        ArenaMark mark = arena_mark(t->arena);
        x = block_forward(t, p, b, x);
        x = keep_only(t, mark, x); /* inference: drop the block's temporaries */
        if (b->last_in_layer) layer_named(t, x, "layer%d", b->layer);
    }
    return resnet_head_forward(&r->head, m, t, x);
}

static void init(Model *m, Rng *rng) {
    ResNeSt *r = m->impl;
    const ParamTable *p = &m->params;
    conv_init(p, &r->stem0, rng);
    bn_init(p, &r->stem1);
    conv_init(p, &r->stem3, rng);
    bn_init(p, &r->stem4);
    conv_init(p, &r->stem6, rng);
    bn_init(p, &r->bn1);
    for (int i = 0; i < r->n_blocks; i++) {
        const Block *b = &r->blocks[i];
        conv_init(p, &b->conv1, rng);
        bn_init(p, &b->bn1);
        conv_init(p, &b->conv2.conv, rng);
        bn_init(p, &b->conv2.bn0);
        conv_init(p, &b->conv2.fc1, rng);
        bn_init(p, &b->conv2.bn1);
        conv_init(p, &b->conv2.fc2, rng);
        conv_init(p, &b->conv3, rng);
        bn_init(p, &b->bn3);
        if (b->has_downsample) {
            conv_init(p, &b->down_conv, rng);
            bn_init(p, &b->down_bn);
        }
    }
    resnet_head_init(&r->head, m, rng);
}

static void free_impl(Model *m) {
    ResNeSt *r = m->impl;
    if (r) free(r->blocks);
    free(r);
    m->impl = NULL;
}

static int known(const char *name) { return find_config(name) != NULL; }

const ModelFamily resnest_family = {"resnest50d_4s2x40d", known, build, forward, init, free_impl};
