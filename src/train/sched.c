/* Learning-rate schedulers, transcribing the arithmetic of PyTorch 1.13's
 * ReduceLROnPlateau and StepLR step by step (see sched.h). */
#include "anomaly/sched.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

void sched_init_reduce(Sched *s, double lr, double factor, int patience) {
    if (!(factor < 1.0)) fatal("ReduceLROnPlateau: factor must be < 1, not %g", factor);
    if (patience < 0) fatal("ReduceLROnPlateau: patience must be >= 0, not %d", patience);
    memset(s, 0, sizeof *s);
    s->kind = SCHED_REDUCE;
    s->lr = lr;
    s->factor = factor;
    s->patience = patience;
    s->threshold = 1e-4;
    s->cooldown = 0;
    s->min_lr = 0;
    s->eps = 1e-8;
    s->best = INFINITY;
}

void sched_init_step(Sched *s, double lr, int step_size, double gamma) {
    if (step_size < 1) fatal("StepLR: step_size must be >= 1, not %d", step_size);
    memset(s, 0, sizeof *s);
    s->kind = SCHED_STEP;
    s->lr = lr;
    s->step_size = step_size;
    s->gamma = gamma;
    s->best = INFINITY;
}

static void reduce_step(Sched *s, double metric) {
    s->last_epoch++;
    /* rel mode, min: PyTorch forms 1 - threshold first, then multiplies. */
    double rel_epsilon = 1.0 - s->threshold;
    if (metric < s->best * rel_epsilon) {
        s->best = metric;
        s->num_bad_epochs = 0;
    } else {
        s->num_bad_epochs++;
    }
    if (s->cooldown_counter > 0) {
        s->cooldown_counter--;
        s->num_bad_epochs = 0;
    }
    if (s->num_bad_epochs > s->patience) {
        double old_lr = s->lr;
        double new_lr = old_lr * s->factor;
        if (new_lr < s->min_lr) new_lr = s->min_lr;
        if (old_lr - new_lr > s->eps) s->lr = new_lr;
        s->cooldown_counter = s->cooldown;
        s->num_bad_epochs = 0;
    }
}

static void steplr_step(Sched *s) {
    /* The constructor's implicit first step made last_epoch 0; every later
     * step decays when it lands on a multiple of step_size. */
    s->last_epoch++;
    if (s->last_epoch % s->step_size == 0) s->lr = s->lr * s->gamma;
}

void sched_step(Sched *s, double metric) {
    if (s->kind == SCHED_REDUCE) reduce_step(s, metric);
    else steplr_step(s);
}

int sched_kind_from_name(const char *name) {
    if (strcmp(name, "Reduce") == 0) return SCHED_REDUCE;
    if (strcmp(name, "Step") == 0) return SCHED_STEP;
    return -1;
}

const char *sched_kind_name(SchedKind kind) {
    switch (kind) {
    case SCHED_REDUCE: return "Reduce";
    case SCHED_STEP: return "Step";
    }
    return NULL;
}

int sched_format(char *buf, size_t len, const Sched *s) {
    return snprintf(buf, len,
                    "kind=%s lr=%.17g last_epoch=%d factor=%.17g patience=%d threshold=%.17g "
                    "cooldown=%d min_lr=%.17g eps=%.17g best=%.17g num_bad_epochs=%d "
                    "cooldown_counter=%d step_size=%d gamma=%.17g",
                    sched_kind_name(s->kind), s->lr, s->last_epoch, s->factor, s->patience,
                    s->threshold, s->cooldown, s->min_lr, s->eps, s->best, s->num_bad_epochs,
                    s->cooldown_counter, s->step_size, s->gamma);
}

/* One table drives the parser, so a field cannot be forgotten. */
typedef struct SchedField {
    const char *key;
    int is_int;
    size_t offset;
} SchedField;

#define D(name) {#name, 0, offsetof(Sched, name)}
#define I(name) {#name, 1, offsetof(Sched, name)}
static const SchedField sched_fields[] = {
    D(lr), I(last_epoch), D(factor), I(patience), D(threshold), I(cooldown), D(min_lr),
    D(eps), D(best), I(num_bad_epochs), I(cooldown_counter), I(step_size), D(gamma),
};
#undef D
#undef I
#define N_FIELDS (sizeof sched_fields / sizeof sched_fields[0])

int sched_parse(Sched *s, const char *text, char *err, size_t errlen) {
    Sched t;
    memset(&t, 0, sizeof t);
    int seen[N_FIELDS] = {0}, have_kind = 0;
    const char *p = text;
    for (;;) {
        while (*p == ' ') p++;
        if (!*p || *p == '\n') break;
        const char *eq = strchr(p, '='), *end = p + strcspn(p, " \n");
        if (!eq || eq > end) {
            snprintf(err, errlen, "scheduler state: expected key=value at '%.*s'", (int)(end - p), p);
            return -1;
        }
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        int vlen = (int)(end - v);
        if (klen == 4 && strncmp(p, "kind", 4) == 0) {
            if (vlen == 6 && strncmp(v, "Reduce", 6) == 0) t.kind = SCHED_REDUCE;
            else if (vlen == 4 && strncmp(v, "Step", 4) == 0) t.kind = SCHED_STEP;
            else {
                snprintf(err, errlen, "scheduler state: unknown kind '%.*s'", vlen, v);
                return -1;
            }
            have_kind = 1;
        } else {
            size_t f = 0;
            while (f < N_FIELDS && !(strlen(sched_fields[f].key) == klen &&
                                     strncmp(sched_fields[f].key, p, klen) == 0))
                f++;
            if (f == N_FIELDS) {
                snprintf(err, errlen, "scheduler state: unknown key '%.*s'", (int)klen, p);
                return -1;
            }
            char *stop;
            errno = 0;
            char *field = (char *)&t + sched_fields[f].offset;
            if (sched_fields[f].is_int) {
                long x = strtol(v, &stop, 10);
                if (stop != end || vlen == 0 || errno || x < -2147483647L || x > 2147483647L) {
                    snprintf(err, errlen, "scheduler state: bad integer %s=%.*s", sched_fields[f].key, vlen, v);
                    return -1;
                }
                *(int *)field = (int)x;
            } else {
                double x = strtod(v, &stop);
                if (stop != end || vlen == 0) {
                    snprintf(err, errlen, "scheduler state: bad number %s=%.*s", sched_fields[f].key, vlen, v);
                    return -1;
                }
                *(double *)field = x;
            }
            seen[f] = 1;
        }
        p = end;
    }
    if (!have_kind) {
        snprintf(err, errlen, "scheduler state: missing kind");
        return -1;
    }
    for (size_t f = 0; f < N_FIELDS; f++)
        if (!seen[f]) {
            snprintf(err, errlen, "scheduler state: missing %s", sched_fields[f].key);
            return -1;
        }
    *s = t;
    return 0;
}

void early_stop_init(EarlyStop *e, int patience) {
    e->best = INFINITY;
    e->bad_epochs = 0;
    e->patience = patience;
}

int early_stop_update(EarlyStop *e, double value) {
    if (value < e->best) {
        e->best = value;
        e->bad_epochs = 0;
        return 1;
    }
    e->bad_epochs++;
    return 0;
}

int early_stop_done(const EarlyStop *e) { return e->bad_epochs >= e->patience; }
