/* ResNeXt-50 32x4d and ResNeXt-101 32x8d as torchvision / timm (SPEC section 3).
 *
 * Reads top to bottom like ResNet.forward / Bottleneck.forward:
 *   conv1 7x7 s2 p3 -> bn1 -> ReLU -> maxpool 3x3 s2 p1
 *   layer{1-4}.j: conv1 1x1 -> bn1 -> ReLU -> conv2 3x3 grouped (stride here)
 *                 -> bn2 -> ReLU -> conv3 1x1 -> bn3
 *                 (+ downsample.0 1x1 stride s -> downsample.1 BN on the first block)
 *                 -> add -> ReLU
 *   global average pool -> fc
 * The shortcut is computed after the main branch, as torchvision does, so
 * named outputs arrive in the order forward hooks fire.
 *
 * Also home of the classifier head shared with ResNeSt (resnet.h). */
#include "anomaly/error.h"
#include "anomaly/layers.h"
#include "anomaly/resnet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BN_EPS 1e-5
#define BN_MOMENTUM 0.1
#define EXPANSION 4

typedef struct Config {
    const char *name;
    int layers[4];
    int cardinality, base_width;
} Config;

static const Config CONFIGS[] = {
    {"resnext50_32x4d", {3, 4, 6, 3}, 32, 4},
    {"resnext101_32x8d", {3, 4, 23, 3}, 32, 8},
};
#define N_CONFIGS (int)(sizeof CONFIGS / sizeof CONFIGS[0])

typedef struct Bottleneck {
    char name[32]; /* "layer2.0" */
    Conv conv1, conv2, conv3;
    BatchNorm bn1, bn2, bn3;
    int has_downsample;
    Conv down_conv;  /* downsample.0 */
    BatchNorm down_bn; /* downsample.1 */
    int layer;       /* 1..4 */
    int last_in_layer;
} Bottleneck;

typedef struct ResNeXt {
    Conv conv1;
    BatchNorm bn1;
    Bottleneck *blocks;
    int n_blocks;
    ResNetHead head;
} ResNeXt;

static const Config *find_config(const char *name) {
    for (int i = 0; i < N_CONFIGS; i++)
        if (strcmp(CONFIGS[i].name, name) == 0) return &CONFIGS[i];
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* The shared head.                                                         */

void resnet_head_register(ResNetHead *h, Model *m, int features) {
    memset(h, 0, sizeof *h);
    h->dropout = m->cfg.dropout > 0 ? m->cfg.dropout : 0;
    h->arc_fc = -1;
    m->head_features = features;
    if (m->cfg.arcface) {
        int shape[2] = {m->cfg.num_classes, features};
        h->arc_fc = params_add(&m->params, "fc.weight", PARAM_TRAINABLE, 2, shape);
    } else {
        linear_register(&h->fc, &m->params, "fc", features, m->cfg.num_classes, 1);
    }
}

Tensor *resnet_head_forward(const ResNetHead *h, Model *m, Tape *t, Tensor *x) {
    x = ag_global_avgpool(t, x);
    x = dropout_apply(t, m, x, h->dropout);
    if (h->arc_fc < 0) return linear_apply(t, &m->params, &h->fc, x);
    /* ag_cosine keeps the weight view by pointer until backward. */
    Tensor *w = arena_alloc(t->arena, sizeof *w);
    *w = params_tensor(&m->params, h->arc_fc);
    x = ag_cosine(t, "fc", x, w);
    layer_named(t, x, "fc");
    return x;
}

void resnet_head_init(const ResNetHead *h, Model *m, Rng *r) {
    if (h->arc_fc >= 0)
        xavier_uniform(params_data(&m->params, h->arc_fc), m->cfg.num_classes, m->head_features, r);
    else
        linear_init(&m->params, &h->fc, r);
}

/* ------------------------------------------------------------------------ */

static void bottleneck_register(Bottleneck *b, ParamTable *t, int inplanes, int planes, int stride,
                                const Config *cfg) {
    int width = planes * cfg->base_width / 64 * cfg->cardinality;
    char name[LAYER_NAME_MAX];
#define SUB(s) (snprintf(name, sizeof name, "%s." s, b->name), name)
    conv_register(&b->conv1, t, SUB("conv1"), inplanes, width, 1, 1, 0, 1, 0);
    bn_register(&b->bn1, t, SUB("bn1"), width, BN_EPS, BN_MOMENTUM);
    conv_register(&b->conv2, t, SUB("conv2"), width, width, 3, stride, 1, cfg->cardinality, 0);
    bn_register(&b->bn2, t, SUB("bn2"), width, BN_EPS, BN_MOMENTUM);
    conv_register(&b->conv3, t, SUB("conv3"), width, planes * EXPANSION, 1, 1, 0, 1, 0);
    bn_register(&b->bn3, t, SUB("bn3"), planes * EXPANSION, BN_EPS, BN_MOMENTUM);
    b->has_downsample = stride != 1 || inplanes != planes * EXPANSION;
    if (b->has_downsample) {
        conv_register(&b->down_conv, t, SUB("downsample.0"), inplanes, planes * EXPANSION, 1,
                      stride, 0, 1, 0);
        bn_register(&b->down_bn, t, SUB("downsample.1"), planes * EXPANSION, BN_EPS, BN_MOMENTUM);
    }
#undef SUB
}

static void build(Model *m) {
    const Config *cfg = find_config(m->cfg.name);
    ResNeXt *r = xcalloc(1, sizeof *r, "the ResNeXt layer table");
    ParamTable *t = &m->params;
    m->impl = r;

    conv_register(&r->conv1, t, "conv1", 3, 64, 7, 2, 3, 1, 0);
    bn_register(&r->bn1, t, "bn1", 64, BN_EPS, BN_MOMENTUM);

    for (int l = 0; l < 4; l++) r->n_blocks += cfg->layers[l];
    r->blocks = xcalloc((size_t)r->n_blocks, sizeof *r->blocks, "ResNeXt blocks");
    int inplanes = 64, idx = 0;
    for (int l = 0; l < 4; l++) {
        int planes = 64 << l;
        for (int j = 0; j < cfg->layers[l]; j++, idx++) {
            Bottleneck *b = &r->blocks[idx];
            snprintf(b->name, sizeof b->name, "layer%d.%d", l + 1, j);
            b->layer = l + 1;
            b->last_in_layer = j == cfg->layers[l] - 1;
            bottleneck_register(b, t, inplanes, planes, j == 0 && l > 0 ? 2 : 1, cfg);
            inplanes = planes * EXPANSION;
        }
    }
    resnet_head_register(&r->head, m, inplanes);
}

static Tensor *bottleneck_forward(Tape *t, const ParamTable *p, const Bottleneck *b, Tensor *x) {
    /* each ReLU output feeds only the next convolution: recomputed in backward */
    Tensor *out = bn_act_apply_transient(t, p, &b->bn1, conv_apply(t, p, &b->conv1, x), BN_ACT_RELU);
    out = bn_act_apply_transient(t, p, &b->bn2, conv_apply(t, p, &b->conv2, out), BN_ACT_RELU);
    out = conv_apply(t, p, &b->conv3, out);
    Tensor *shortcut = x;
    if (b->has_downsample) shortcut = bn_apply(t, p, &b->down_bn, conv_apply(t, p, &b->down_conv, x));
    out = bn_add_relu_apply(t, p, &b->bn3, out, shortcut);
    layer_named(t, out, "%s", b->name);
    return out;
}

static Tensor *forward(Model *m, Tape *t, Tensor *x) {
    ResNeXt *r = m->impl;
    const ParamTable *p = &m->params;
    x = bn_act_apply(t, p, &r->bn1, conv_apply(t, p, &r->conv1, x), BN_ACT_RELU);
    Pool2dShape pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_l = 1};
    x = ag_maxpool2d(t, x, &pool);
    layer_named(t, x, "maxpool");
    for (int i = 0; i < r->n_blocks; i++) {
        const Bottleneck *b = &r->blocks[i];
        ArenaMark mark = arena_mark(t->arena);
        x = bottleneck_forward(t, p, b, x);
        x = keep_only(t, mark, x); /* inference: drop the block's temporaries */
        if (b->last_in_layer) layer_named(t, x, "layer%d", b->layer);
    }
    return resnet_head_forward(&r->head, m, t, x);
}

static void init(Model *m, Rng *rng) {
    ResNeXt *r = m->impl;
    const ParamTable *p = &m->params;
    conv_init(p, &r->conv1, rng);
    bn_init(p, &r->bn1);
    for (int i = 0; i < r->n_blocks; i++) {
        const Bottleneck *b = &r->blocks[i];
        conv_init(p, &b->conv1, rng);
        bn_init(p, &b->bn1);
        conv_init(p, &b->conv2, rng);
        bn_init(p, &b->bn2);
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
    ResNeXt *r = m->impl;
    if (r) free(r->blocks);
    free(r);
    m->impl = NULL;
}

static int known(const char *name) { return find_config(name) != NULL; }

const ModelFamily resnext_family = {"resnext50_32x4d, resnext101_32x8d", known, build, forward, init,
                                    free_impl};
