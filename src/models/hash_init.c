/* Hash initialisation: a value per (seed, name, index) that a few lines of
 * NumPy reproduce bit for bit (tools/hash_init.py). */
#include "anomaly/model.h"

#include <math.h>
#include <string.h>

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void params_init_hash(ParamTable *t, uint64_t seed) {
    for (int i = 0; i < t->count; i++) {
        const ParamEntry *e = &t->entries[i];
        if (e->kind == PARAM_COUNTER) {
            *params_counter(t, i) = 0;
            continue;
        }
        double lo, hi;
        if (e->ndim >= 2) {
            size_t fan_in = e->numel / (size_t)e->shape[0];
            hi = 1.0 / sqrt((double)fan_in);
            lo = -hi;
        } else if (ends_with(e->name, "running_var")) {
            lo = 0.5, hi = 1.5;
        } else if (ends_with(e->name, ".weight") && e->kind == PARAM_TRAINABLE) {
            lo = 0.8, hi = 1.2; /* rank-1 weights are BatchNorm scales */
        } else {
            lo = -0.1, hi = 0.1;
        }
        uint64_t base = seed ^ fnv1a64(e->name);
        real *d = params_data(t, i);
        for (size_t k = 0; k < e->numel; k++) {
            uint64_t bits = mix64(base + (k + 1) * 0x9E3779B97F4A7C15ULL);
            double u = (double)(bits >> 11) * (1.0 / 9007199254740992.0);
            d[k] = (real)(float)(lo + (hi - lo) * u);
        }
    }
}
