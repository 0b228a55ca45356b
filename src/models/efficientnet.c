/* EfficientNet-B0...B7 as lukemelas' EfficientNet-PyTorch (SPEC section 3).
 *
 * Reads top to bottom like EfficientNet.forward / MBConvBlock.forward:
 *   stem conv (k3 s2, TF SAME) -> _bn0 -> swish
 *   _blocks.i: [expand 1x1 -> _bn0 -> swish] -> depthwise -> _bn1 -> swish
 *              -> SE (avg pool -> _se_reduce -> swish -> _se_expand -> sigmoid -> scale)
 *              -> _project_conv -> _bn2 -> [drop-connect + skip]
 *   _conv_head 1x1 -> _bn1 -> swish -> avg pool -> dropout -> _fc
 * Static SAME padding (the default) computes every pad once at the model's
 * native image size and keeps it for any input, as Conv2dStaticSamePadding;
 * the image size used for each block's depthwise conv is the one current when
 * that block was built: ceil(size / stride) after each strided layer. */
#include "anomaly/efficientnet.h"
#include "anomaly/error.h"
#include "anomaly/layers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct Coeffs {
    double width, depth;
    int resolution;
    double dropout;
} Coeffs;

static const Coeffs COEFFS[8] = {
    {1.0, 1.0, 224, 0.2}, {1.0, 1.1, 240, 0.2}, {1.1, 1.2, 260, 0.3}, {1.2, 1.4, 300, 0.3},
    {1.4, 1.8, 380, 0.4}, {1.6, 2.2, 456, 0.4}, {1.8, 2.6, 528, 0.5}, {2.0, 3.1, 600, 0.5},
};

typedef struct Stage {
    int repeats, kernel, stride, expand, in, out;
} Stage;

static const Stage STAGES[7] = {
    {1, 3, 1, 1, 32, 16},  {2, 3, 2, 6, 16, 24},  {2, 5, 2, 6, 24, 40},   {3, 3, 2, 6, 40, 80},
    {3, 5, 1, 6, 80, 112}, {4, 5, 2, 6, 112, 192}, {1, 3, 1, 6, 192, 320},
};

#define BN_EPS 1e-3
#define BN_MOMENTUM (1.0 - 0.99) /* lukemelas: 1 - batch_norm_momentum, not exactly 0.01 */
#define SE_RATIO 0.25

typedef struct MBConv {
    int has_expand, has_se, skip;
    Conv expand_conv;
    BatchNorm bn0;
    Conv depthwise_conv;
    BatchNorm bn1;
    Conv se_reduce, se_expand;
    Conv project_conv;
    BatchNorm bn2;
    double drop_connect;
} MBConv;

typedef struct EfficientNet {
    Conv conv_stem;
    BatchNorm bn0;
    MBConv *blocks;
    int n_blocks;
    Conv conv_head;
    BatchNorm bn1;
    Linear fc;  /* Linear head */
    int arc_fc; /* ArcFace head: entry index of the bare _fc, else -1 */
    double dropout;
} EfficientNet;

int efficientnet_variant(const char *name) {
    if (strncmp(name, "efficientnet-b", 14) != 0) return -1;
    const char *d = name + 14;
    if (d[0] < '0' || d[0] > '7' || d[1] != '\0') return -1;
    return d[0] - '0';
}

int efficientnet_round_filters(int filters, double width) {
    double g = filters * width;
    int divisor = 8;
    int rounded = (int)(g + divisor / 2) / divisor * divisor;
    if (rounded < divisor) rounded = divisor;
    if (rounded < 0.9 * g) rounded += divisor;
    return rounded;
}

int efficientnet_round_repeats(int repeats, double depth) { return (int)ceil(depth * repeats); }

int efficientnet_native_size(int variant) { return COEFFS[variant].resolution; }

static int ceil_div(int a, int b) { return (a + b - 1) / b; }

static void same(Conv *c, const ModelConfig *cfg, int image_size) {
    if (cfg->same_padding == SAME_DYNAMIC) {
        c->pad_t = c->pad_b = c->pad_l = c->pad_r = 0;
        c->same_dynamic = 1;
    } else {
        conv_set_static_same(c, image_size);
    }
}

static void build(Model *m) {
    int v = efficientnet_variant(m->cfg.name);
    const Coeffs *co = &COEFFS[v];
    EfficientNet *e = xcalloc(1, sizeof *e, "the EfficientNet layer table");
    ParamTable *t = &m->params;
    m->impl = e;
    int size = m->cfg.image_size > 0 ? m->cfg.image_size : co->resolution;
    e->dropout = m->cfg.dropout >= 0 ? m->cfg.dropout : co->dropout;
    double dc = m->cfg.drop_connect >= 0 ? m->cfg.drop_connect : 0.2;

    int stem_out = efficientnet_round_filters(32, co->width);
    conv_register(&e->conv_stem, t, "_conv_stem", 3, stem_out, 3, 2, 0, 1, 0);
    same(&e->conv_stem, &m->cfg, size);
    bn_register(&e->bn0, t, "_bn0", stem_out, BN_EPS, BN_MOMENTUM);
    size = ceil_div(size, 2);

    for (int s = 0; s < 7; s++) e->n_blocks += efficientnet_round_repeats(STAGES[s].repeats, co->depth);
    e->blocks = xcalloc((size_t)e->n_blocks, sizeof *e->blocks, "EfficientNet blocks");
    int idx = 0;
    for (int s = 0; s < 7; s++) {
        const Stage *st = &STAGES[s];
        int in = efficientnet_round_filters(st->in, co->width);
        int out = efficientnet_round_filters(st->out, co->width);
        int reps = efficientnet_round_repeats(st->repeats, co->depth);
        for (int r = 0; r < reps; r++, idx++) {
            MBConv *b = &e->blocks[idx];
            int bin = r == 0 ? in : out, stride = r == 0 ? st->stride : 1;
            int mid = bin * st->expand;
            char name[LAYER_NAME_MAX];
            b->has_expand = st->expand != 1;
            if (b->has_expand) {
                snprintf(name, sizeof name, "_blocks.%d._expand_conv", idx);
                conv_register(&b->expand_conv, t, name, bin, mid, 1, 1, 0, 1, 0);
                same(&b->expand_conv, &m->cfg, size);
                snprintf(name, sizeof name, "_blocks.%d._bn0", idx);
                bn_register(&b->bn0, t, name, mid, BN_EPS, BN_MOMENTUM);
            }
            snprintf(name, sizeof name, "_blocks.%d._depthwise_conv", idx);
            conv_register(&b->depthwise_conv, t, name, mid, mid, st->kernel, stride, 0, mid, 0);
            same(&b->depthwise_conv, &m->cfg, size);
            snprintf(name, sizeof name, "_blocks.%d._bn1", idx);
            bn_register(&b->bn1, t, name, mid, BN_EPS, BN_MOMENTUM);
            size = ceil_div(size, stride);
            b->has_se = 1;
            int squeezed = (int)(bin * SE_RATIO);
            if (squeezed < 1) squeezed = 1;
            snprintf(name, sizeof name, "_blocks.%d._se_reduce", idx);
            conv_register(&b->se_reduce, t, name, mid, squeezed, 1, 1, 0, 1, 1);
            snprintf(name, sizeof name, "_blocks.%d._se_expand", idx);
            conv_register(&b->se_expand, t, name, squeezed, mid, 1, 1, 0, 1, 1);
            snprintf(name, sizeof name, "_blocks.%d._project_conv", idx);
            conv_register(&b->project_conv, t, name, mid, out, 1, 1, 0, 1, 0);
            same(&b->project_conv, &m->cfg, size);
            snprintf(name, sizeof name, "_blocks.%d._bn2", idx);
            bn_register(&b->bn2, t, name, out, BN_EPS, BN_MOMENTUM);
            b->skip = stride == 1 && bin == out;
            b->drop_connect = dc * idx / 1.0; /* divided by n_blocks below */
        }
    }
    for (int i = 0; i < e->n_blocks; i++) e->blocks[i].drop_connect /= e->n_blocks;

    int head_in = efficientnet_round_filters(320, co->width);
    int head_out = efficientnet_round_filters(1280, co->width);
    conv_register(&e->conv_head, t, "_conv_head", head_in, head_out, 1, 1, 0, 1, 0);
    same(&e->conv_head, &m->cfg, size);
    bn_register(&e->bn1, t, "_bn1", head_out, BN_EPS, BN_MOMENTUM);
    m->head_features = head_out;
    e->arc_fc = -1;
    if (m->cfg.arcface) {
        int shape[2] = {m->cfg.num_classes, head_out};
        /* The original keeps this head as a bare nn.Parameter: its key is
         * `_fc`, not `_fc.weight` (files with either are read). */
        e->arc_fc = params_add(t, "_fc", PARAM_TRAINABLE, 2, shape);
    } else {
        linear_register(&e->fc, t, "_fc", head_out, m->cfg.num_classes, 1);
    }
}

static Tensor *mbconv_forward(Model *m, Tape *t, const MBConv *b, Tensor *inputs, int idx) {
    const ParamTable *p = &m->params;
    Tensor *x = inputs;
    if (b->has_expand) /* only the depthwise convolution reads the expansion */
        x = conv_bn_act_apply(t, p, &b->expand_conv, &b->bn0, x, BN_ACT_SWISH, BN_TRANSIENT);
    x = conv_bn_act_apply(t, p, &b->depthwise_conv, &b->bn1, x, BN_ACT_SWISH, 0);
    if (b->has_se) {
        Tensor *s = ag_global_avgpool(t, x);
        s = ag_swish(t, conv_apply(t, p, &b->se_reduce, s));
        s = ag_sigmoid(t, conv_apply(t, p, &b->se_expand, s));
        x = ag_channel_scale_inplace(t, x, s); /* nothing else reads x */
    }
    x = bn_apply(t, p, &b->bn2, conv_apply(t, p, &b->project_conv, x));
    if (b->skip) {
        x = drop_connect_apply(t, m, x, b->drop_connect);
        x = ag_add_inplace(t, x, inputs); /* x += inputs in inference */
    }
    layer_named(t, x, "_blocks.%d", idx);
    return x;
}

static Tensor *forward(Model *m, Tape *t, Tensor *x) {
    EfficientNet *e = m->impl;
    const ParamTable *p = &m->params;
    /* Inference keeps one activation between blocks: everything made since
     * this mark (the block's input and temporaries) goes once a block's
     * output is kept; the caller's input is older than the mark. */
    const ArenaMark mark = arena_mark(t->arena);
    x = conv_bn_act_apply(t, p, &e->conv_stem, &e->bn0, x, BN_ACT_SWISH, 0);
    for (int i = 0; i < e->n_blocks; i++) {
        x = mbconv_forward(m, t, &e->blocks[i], x, i);
        x = keep_only(t, mark, x);
    }
    x = conv_bn_act_apply(t, p, &e->conv_head, &e->bn1, x, BN_ACT_SWISH, 0);
    x = ag_global_avgpool(t, x);
    layer_named(t, x, "_avg_pooling");
    x = dropout_apply(t, m, x, e->dropout);
    if (e->arc_fc >= 0) {
        Tensor *w = arena_alloc(t->arena, sizeof *w);
        *w = params_tensor(p, e->arc_fc);
        x = ag_cosine(t, "_fc", x, w);
        layer_named(t, x, "_fc");
    } else {
        x = linear_apply(t, p, &e->fc, x);
    }
    return x;
}

static void init(Model *m, Rng *r) {
    EfficientNet *e = m->impl;
    const ParamTable *p = &m->params;
    conv_init(p, &e->conv_stem, r);
    bn_init(p, &e->bn0);
    for (int i = 0; i < e->n_blocks; i++) {
        const MBConv *b = &e->blocks[i];
        if (b->has_expand) {
            conv_init(p, &b->expand_conv, r);
            bn_init(p, &b->bn0);
        }
        conv_init(p, &b->depthwise_conv, r);
        bn_init(p, &b->bn1);
        conv_init(p, &b->se_reduce, r);
        conv_init(p, &b->se_expand, r);
        conv_init(p, &b->project_conv, r);
        bn_init(p, &b->bn2);
    }
    conv_init(p, &e->conv_head, r);
    bn_init(p, &e->bn1);
    if (e->arc_fc >= 0)
        xavier_uniform(params_data(p, e->arc_fc), m->cfg.num_classes, m->head_features, r);
    else
        linear_init(p, &e->fc, r);
}

static void free_impl(Model *m) {
    EfficientNet *e = m->impl;
    if (e) free(e->blocks);
    free(e);
    m->impl = NULL;
}

static int known(const char *name) { return efficientnet_variant(name) >= 0; }

const ModelFamily efficientnet_family = {"efficientnet-b0..b7", known, build, forward, init, free_impl};
