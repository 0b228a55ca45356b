/* anomaly init: a seeded, PyTorch-default initialised checkpoint. */
#include <stdio.h>
#include <string.h>

#include "anomaly/error.h"
#include "anomaly/safetensors.h"
#include "cli_model.h"

int cmd_init(int argc, char **argv);
int cmd_models(int argc, char **argv);

int cmd_init(int argc, char **argv) {
    ModelFlags f;
    model_flags_default(&f);
    long long seed = 42;
    const char *out = NULL, *how = "default";
    ArgSpec specs[] = {
        MODEL_FLAG_SPECS(f),
        {"seed", ARG_LONG, &seed, "initialisation seed (default 42)", NULL, 0},
        {"init", ARG_STRING, &how,
         "PyTorch's default initialisation, or the portable hash of tools/hash_init.py", "default|hash", 0},
        {"out", ARG_STRING, &out, "output checkpoint (.safetensors)", NULL, 1},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("init", "--model NAME --num_classes N [--arcface] --seed S --out W.safetensors", specs,
               argc, argv, NULL, 0);
    Model *m = model_from_flags(&f);
    if (strcmp(how, "hash") == 0)
        params_init_hash(&m->params, (uint64_t)seed);
    else
        model_init(m, (uint64_t)seed);
    safetensors_save_params(out, &m->params);
    printf("%s: %s, %zu parameters, %d classes%s, seed %lld\n", out, m->cfg.name, m->params.n_param,
           m->cfg.num_classes, m->cfg.arcface ? " (ArcFace head)" : "", seed);
    model_free(m);
    return 0;
}

int cmd_models(int argc, char **argv) {
    ArgSpec specs[] = {{NULL, 0, NULL, NULL, NULL, 0}};
    args_parse("models", "", specs, argc, argv, NULL, 0);
    model_list();
    return 0;
}
