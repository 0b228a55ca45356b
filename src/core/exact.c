/* The exact-mode switch (see anomaly/exact.h). */
#include "anomaly/exact.h"

#include <stdlib.h>
#include <string.h>

static int exact_on;

#if defined(__GNUC__)
__attribute__((constructor)) static void exact_mode_from_env(void) {
    const char *v = getenv("ANOMALY_EXACT");
    exact_on = v && *v && strcmp(v, "0") != 0;
}
#endif

int exact_mode(void) { return exact_on; }

void exact_mode_set(int on) { exact_on = on != 0; }
