/* Size limits on untrusted input (see anomaly/limits.h). */
#include "anomaly/limits.h"
#include "anomaly/error.h"

#include <errno.h>
#include <stdlib.h>

static const struct {
    const char *env;
    int64_t def, most; /* the range is 1..most */
} table[LIMIT_COUNT] = {
    [LIMIT_IMAGE_SIDE] = {"ANOMALY_MAX_IMAGE_SIDE", 65535, 0x7fffffff},
    [LIMIT_IMAGE_PIXELS] = {"ANOMALY_MAX_IMAGE_PIXELS", (int64_t)1 << 28, (int64_t)1 << 40},
    [LIMIT_IDX_SIDE] = {"ANOMALY_MAX_IDX_SIDE", 4096, 65535},
    [LIMIT_TENSOR_BYTES] = {"ANOMALY_MAX_TENSOR_BYTES", (int64_t)256 << 20, (int64_t)1 << 50},
};

static int64_t value[LIMIT_COUNT];
static char env_error[256]; /* a bad variable: limits_env_error, fatal in limit_get */

const char *limit_env_name(LimitId id) { return table[id].env; }

/* Reads every variable into value; on a bad one leaves value as it was and
 * returns -1 with one line in err. */
static int limits_from_env(char *err, size_t errlen) {
    int64_t v[LIMIT_COUNT];
    for (int i = 0; i < LIMIT_COUNT; i++) {
        const char *s = getenv(table[i].env);
        v[i] = table[i].def;
        if (!s) continue;
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s < '0' || *s > '9' || *end || errno || x < 1 || x > table[i].most)
            return error_format(err, errlen, "%s=%s: expected a whole number from 1 to %lld (default %lld)",
                                table[i].env, s, (long long)table[i].most, (long long)table[i].def);
        v[i] = (int64_t)x;
    }
    for (int i = 0; i < LIMIT_COUNT; i++) value[i] = v[i];
    return 0;
}

/* Read once before main(), so that threads only ever read the table. */
#if defined(__GNUC__)
__attribute__((constructor))
#endif
static void limits_at_start(void) {
    for (int i = 0; i < LIMIT_COUNT; i++) value[i] = table[i].def;
    if (limits_from_env(env_error, sizeof env_error) == 0) env_error[0] = '\0';
}

const char *limits_env_error(void) { return env_error[0] ? env_error : NULL; }

int64_t limit_get(LimitId id) {
    if (env_error[0]) fatal("%s", env_error);
    return value[id] ? value[id] : table[id].def;
}

void limit_set(LimitId id, int64_t v) { value[id] = v; }
