/* The model registry: names to families, creation, initialisation. */
#include "anomaly/efficientnet.h"
#include "anomaly/error.h"
#include "anomaly/model.h"
#include "anomaly/model_families.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const ModelFamily *const FAMILIES[] = {
#define MODEL_FAMILY(sym) &sym,
#include "anomaly/model_families.def"
#undef MODEL_FAMILY
};
#define N_FAMILIES (sizeof FAMILIES / sizeof FAMILIES[0])

/* Names printed by model_list and accepted by model_create. */
static const char *const NAMES[] = {
    "efficientnet-b0", "efficientnet-b1", "efficientnet-b2", "efficientnet-b3",
    "efficientnet-b4", "efficientnet-b5", "efficientnet-b6", "efficientnet-b7",
    "resnext50_32x4d", "resnext101_32x8d", "resnest50d_4s2x40d",
};

ModelConfig model_config_default(const char *name, int num_classes) {
    ModelConfig c;
    memset(&c, 0, sizeof c);
    c.name = name;
    c.num_classes = num_classes;
    c.same_padding = SAME_STATIC;
    c.dropout = -1;
    c.drop_connect = -1;
    return c;
}

static const ModelFamily *find_family(const char *name) {
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (FAMILIES[i]->known(name)) return FAMILIES[i];
    return NULL;
}

int model_known(const char *name) { return find_family(name) != NULL; }

void model_list(void) {
    for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
        if (model_known(NAMES[i])) printf("%s\n", NAMES[i]);
}

Model *model_create(const ModelConfig *cfg) {
    const ModelFamily *f = find_family(cfg->name);
    if (!f) {
        char known[1024] = "";
        for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
            if (!model_known(NAMES[i])) continue;
            if (known[0]) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, NAMES[i], sizeof known - strlen(known) - 1);
        }
        fatal("unknown model '%s' (known: %s)", cfg->name, known);
    }
    if (cfg->num_classes < 1) fatal("model %s: num_classes must be at least 1, not %d", cfg->name, cfg->num_classes);
    Model *m = xcalloc(1, sizeof *m, "a model");
    m->cfg = *cfg;
    m->family = f;
    params_init(&m->params);
    f->build(m);
    params_finalize(&m->params);
    rng_seed(&m->rng, 0);
    return m;
}

void model_free(Model *m) {
    if (!m) return;
    m->family->free_impl(m);
    params_free(&m->params);
    free(m);
}

void model_init(Model *m, uint64_t seed) {
    Rng r;
    rng_stream(&r, seed, 0x696e6974 /* "init" */, 0);
    m->family->init(m, &r);
    rng_stream(&m->rng, seed, 0x64726f70 /* "drop" */, 0);
}

Tensor *model_forward(Model *m, Tape *t, Tensor *x) {
    if (x->c != 3) fatal("model %s expects 3 input channels, got %d", m->cfg.name, x->c);
    return m->family->forward(m, t, x);
}
