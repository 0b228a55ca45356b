/* The ResNet skeleton (resnet_skeleton.h), as torchvision's and timm's
 * ResNet.forward read:
 *   stem -> maxpool 3x3 s2 p1
 *   layer{1-4}.j: the family's bottleneck block (planes 64, 128, 256, 512;
 *                 stride 2 on the first block of layers 2-4)
 *   global average pool -> [dropout] -> fc
 * The stem is conv -> BN -> ReLU, once or three times:
 *   torchvision: conv1 7x7 s2 p3 to 64 -> bn1
 *   timm's deep stem (stem_width w): conv1.0 3x3 s2 to w -> conv1.1 BN
 *     -> conv1.3 3x3 to w -> conv1.4 BN -> conv1.6 3x3 to 2w -> bn1
 * Of ModelConfig the skeleton reads num_classes, arcface and dropout. */
#include "resnet_skeleton.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

#define EXPANSION 4
#define STEM_MAX 3

/* global average pool -> [dropout] -> `fc`: a Linear, or with cfg.arcface
 * the cosine head (a bare fc.weight [classes, features], Xavier-uniform).
 * The dropout rate is cfg.dropout when positive (timm's drop_rate, 0 by
 * default). */
typedef struct Head {
    Linear fc;
    int arc_fc; /* entry index of the bare fc.weight, else -1 */
    double dropout;
} Head;

typedef struct ResNet {
    const ResNetBlockKind *kind;
    Conv stem_conv[STEM_MAX];
    BatchNorm stem_bn[STEM_MAX];
    int n_stem;
    ResNetBlock *blocks;       /* [n_blocks] */
    unsigned char *block_impl; /* [n_blocks] of kind->block_size bytes */
    int n_blocks;
    Head head;
} ResNet;

const ResNetConfig *resnet_config_find(const ResNetConfig *configs, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(configs[i].name, name) == 0) return &configs[i];
    return NULL;
}

static void *block_impl(const ResNet *r, int i) { return r->block_impl + (size_t)i * r->kind->block_size; }

/* ---- stem ---- */

/* Registers the stem; returns its output channels. */
static int stem_register(ResNet *r, ParamTable *t, const ResNetConfig *cfg) {
    if (cfg->stem_width == 0) {
        r->n_stem = 1;
        conv_register(&r->stem_conv[0], t, "conv1", 3, 64, 7, 2, 3, 1, 0);
        bn_register(&r->stem_bn[0], t, "bn1", 64, RESNET_BN_EPS, RESNET_BN_MOMENTUM);
        return 64;
    }
    static const char *const conv_name[STEM_MAX] = {"conv1.0", "conv1.3", "conv1.6"};
    static const char *const bn_name[STEM_MAX] = {"conv1.1", "conv1.4", "bn1"};
    int w = cfg->stem_width, out[STEM_MAX] = {w, w, 2 * w}, in = 3;
    r->n_stem = STEM_MAX;
    for (int i = 0; i < STEM_MAX; i++) {
        conv_register(&r->stem_conv[i], t, conv_name[i], in, out[i], 3, i == 0 ? 2 : 1, 1, 1, 0);
        bn_register(&r->stem_bn[i], t, bn_name[i], out[i], RESNET_BN_EPS, RESNET_BN_MOMENTUM);
        in = out[i];
    }
    return in;
}

static Tensor *stem_forward(const ResNet *r, Tape *t, const ParamTable *p, Tensor *x) {
    for (int i = 0; i < r->n_stem; i++) {
        /* each ReLU output of the stem feeds only the next convolution or
         * the max pool: recomputed in backward */
        x = conv_bn_act_apply(t, p, &r->stem_conv[i], &r->stem_bn[i], x, BN_ACT_RELU,
                              BN_TRANSIENT);
    }
    return x;
}

/* ---- head ---- */

static void head_register(Head *h, Model *m, int features) {
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

/* x [n, features, h, w] -> [n, classes, 1, 1]; reports "fc". */
static Tensor *head_forward(const Head *h, Model *m, Tape *t, Tensor *x) {
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

static void head_init(const Head *h, Model *m, Rng *r) {
    if (h->arc_fc >= 0)
        xavier_uniform(params_data(&m->params, h->arc_fc), m->cfg.num_classes, m->head_features, r);
    else
        linear_init(&m->params, &h->fc, r);
}

/* ---- the model ---- */

void resnet_build(Model *m, const ResNetBlockKind *kind, const ResNetConfig *cfg) {
    char what[64];
    snprintf(what, sizeof what, "the %s layer table", kind->what);
    ResNet *r = xcalloc(1, sizeof *r, what);
    ParamTable *t = &m->params;
    m->impl = r;
    r->kind = kind;

    int inplanes = stem_register(r, t, cfg);
    for (int l = 0; l < 4; l++) r->n_blocks += cfg->layers[l];
    snprintf(what, sizeof what, "%s blocks", kind->what);
    r->blocks = xcalloc((size_t)r->n_blocks, sizeof *r->blocks, what);
    r->block_impl = xcalloc((size_t)r->n_blocks, kind->block_size, what);
    int idx = 0;
    for (int l = 0; l < 4; l++) {
        int planes = 64 << l;
        for (int j = 0; j < cfg->layers[l]; j++, idx++) {
            ResNetBlock *b = &r->blocks[idx];
            snprintf(b->name, sizeof b->name, "layer%d.%d", l + 1, j);
            b->layer = l + 1;
            b->last_in_layer = j == cfg->layers[l] - 1;
            b->inplanes = inplanes;
            b->width = planes * cfg->base_width / 64 * cfg->cardinality;
            b->outplanes = planes * EXPANSION;
            b->stride = j == 0 && l > 0 ? 2 : 1;
            b->downsample = b->stride != 1 || b->inplanes != b->outplanes;
            kind->register_params(block_impl(r, idx), t, b, cfg);
            inplanes = b->outplanes;
        }
    }
    head_register(&r->head, m, inplanes);
}

Tensor *resnet_forward(Model *m, Tape *t, Tensor *x) {
    ResNet *r = m->impl;
    const ParamTable *p = &m->params;
    /* Inference keeps one activation between blocks: everything made since
     * this mark (the stem's or the block's input and temporaries) goes once
     * the output is kept; the caller's input is older than the mark. */
    const ArenaMark mark = arena_mark(t->arena);
    x = stem_forward(r, t, p, x);
    Pool2dShape pool = {.kh = 3, .kw = 3, .sh = 2, .sw = 2, .pad_t = 1, .pad_l = 1};
    x = ag_maxpool2d(t, x, &pool);
    layer_named(t, x, "maxpool");
    x = keep_only(t, mark, x);
    for (int i = 0; i < r->n_blocks; i++) {
        const ResNetBlock *b = &r->blocks[i];
        x = r->kind->forward(t, p, b, block_impl(r, i), x);
        layer_named(t, x, "%s", b->name);
        x = keep_only(t, mark, x);
        if (b->last_in_layer) layer_named(t, x, "layer%d", b->layer);
    }
    return head_forward(&r->head, m, t, x);
}

void resnet_init(Model *m, Rng *rng) {
    ResNet *r = m->impl;
    const ParamTable *p = &m->params;
    for (int i = 0; i < r->n_stem; i++) {
        conv_init(p, &r->stem_conv[i], rng);
        bn_init(p, &r->stem_bn[i]);
    }
    for (int i = 0; i < r->n_blocks; i++) r->kind->init(p, block_impl(r, i), rng);
    head_init(&r->head, m, rng);
}

void resnet_free(Model *m) {
    ResNet *r = m->impl;
    if (r) {
        free(r->blocks);
        free(r->block_impl);
    }
    free(r);
    m->impl = NULL;
}
