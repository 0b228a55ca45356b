/* The ResNet skeleton ResNeXt and ResNeSt share (resnet_skeleton.c): the
 * stem, four stages of bottleneck blocks, the classifier head, and the
 * ModelFamily functions over them. A family supplies its table of configs
 * and one block: how it registers, runs and initialises its parameters. */
#ifndef ANOMALY_RESNET_SKELETON_H
#define ANOMALY_RESNET_SKELETON_H

#include <stddef.h>

#include "anomaly/layers.h"

#define RESNET_BN_EPS 1e-5
#define RESNET_BN_MOMENTUM 0.1

/* One model: its name and the numbers its layers are built from. */
typedef struct ResNetConfig {
    const char *name;
    int layers[4];               /* blocks per stage */
    int cardinality, base_width; /* a block's width: planes * base_width / 64 * cardinality */
    int stem_width;              /* 0: torchvision's stem; else timm's deep stem (resnet_skeleton.c) */
    int radix;                   /* ResNeSt's split-attention radix; 0 for ResNeXt */
} ResNetConfig;

/* Where a block stands and the shapes the skeleton gives it. */
typedef struct ResNetBlock {
    char name[32];  /* "layer2.0" */
    int layer;      /* 1..4 */
    int last_in_layer;
    int inplanes;   /* input channels */
    int width;      /* the grouped convolution's channels */
    int outplanes;  /* output channels: planes * 4 */
    int stride;     /* 2 on the first block of layers 2-4, else 1 */
    int downsample; /* the shortcut is projected: stride != 1 or inplanes != outplanes */
} ResNetBlock;

/* A family's block, on its own struct of block_size bytes (`impl`). */
typedef struct ResNetBlockKind {
    const char *what; /* "ResNeXt", for messages */
    size_t block_size;
    void (*register_params)(void *impl, ParamTable *t, const ResNetBlock *b, const ResNetConfig *cfg);
    /* x -> the block's output (after the final ReLU); the skeleton names it */
    Tensor *(*forward)(Tape *t, const ParamTable *p, const ResNetBlock *b, const void *impl, Tensor *x);
    void (*init)(const ParamTable *p, const void *impl, Rng *r);
} ResNetBlockKind;

/* The entry of configs[n] called name, or NULL. */
const ResNetConfig *resnet_config_find(const ResNetConfig *configs, int n, const char *name);

/* ModelFamily.build for a family: registers everything, fills m->impl. */
void resnet_build(Model *m, const ResNetBlockKind *kind, const ResNetConfig *cfg);
/* ModelFamily.forward, .init and .free_impl of any model resnet_build made. */
Tensor *resnet_forward(Model *m, Tape *t, Tensor *x);
void resnet_init(Model *m, Rng *r);
void resnet_free(Model *m);

#endif
