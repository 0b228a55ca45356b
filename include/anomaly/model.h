/* Models: a registry by name, one parameter table each, a forward pass on the
 * tape that mirrors the PyTorch module top to bottom.
 *
 * Forward returns the head output [n, classes, 1, 1]: logits for a Linear
 * head, cos for the ArcFace cosine head (scale it with model_logits for
 * inference, or feed it to ag_arcface for training). Named module outputs go
 * to tape_named() with their PyTorch module names, so --dump can be diffed
 * against forward hooks. */
#ifndef ANOMALY_MODEL_H
#define ANOMALY_MODEL_H

#include <stdint.h>

#include "params.h"
#include "rng.h"
#include "tape.h"

typedef enum SamePadding {
    SAME_STATIC = 0,  /* pads computed once at the native image size (lukemelas, the seed) */
    SAME_DYNAMIC = 1  /* pads computed for each input size */
} SamePadding;

typedef struct ModelConfig {
    const char *name;    /* registry name, e.g. "efficientnet-b0", "resnext50_32x4d" */
    int num_classes;
    int arcface;         /* 1: cosine head (bare _fc, no bias) */
    SamePadding same_padding;
    int image_size;      /* EfficientNet static pads: 0 = the model's native size */
    double dropout;      /* < 0: the model's default rate */
    double drop_connect; /* < 0: the model's default (0.2 for EfficientNet) */
} ModelConfig;

/* Defaults: no arcface, static pads, native size, default rates. */
ModelConfig model_config_default(const char *name, int num_classes);

typedef struct Model Model;
typedef struct ModelFamily {
    const char *prefix; /* names this family builds */
    int (*known)(const char *name);
    void (*build)(Model *m);                       /* registers params, fills impl */
    Tensor *(*forward)(Model *m, Tape *t, Tensor *x);
    void (*init)(Model *m, Rng *r);                /* PyTorch default initialisation */
    void (*free_impl)(Model *m);
} ModelFamily;

struct Model {
    ModelConfig cfg;
    const ModelFamily *family;
    ParamTable params;
    void *impl;      /* the family's layer table */
    Rng rng;         /* dropout / drop-connect masks in training */
    int head_features;
};

/* Fatal error naming the model when unknown; lists the known names. */
Model *model_create(const ModelConfig *cfg);
void model_free(Model *m);
/* Seeded PyTorch-default initialisation of every parameter and buffer. */
void model_init(Model *m, uint64_t seed);
/* x: [n, 3, h, w] normalised input. */
Tensor *model_forward(Model *m, Tape *t, Tensor *x);
/* Prints the registered names, one per line. */
void model_list(void);
int model_known(const char *name);

/* A portable initialisation that Python reproduces exactly
 * (tools/hash_init.py), so parity fixtures need not carry weights: every
 * element is a hash of (seed, parameter name, element index). Weights of
 * rank >= 2: U(+-1/sqrt(fan_in)); BatchNorm weights U(0.8, 1.2); running
 * means and other rank-1 tensors U(+-0.1); running variances U(0.5, 1.5);
 * counters 0. */
void params_init_hash(ParamTable *t, uint64_t seed);
#endif
