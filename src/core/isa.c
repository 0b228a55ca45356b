/* The dispatch level of the fast kernels (see anomaly/isa.h).
 *
 * Decided in a constructor, before main and before any thread exists, so
 * that the kernels read a plain variable. A bad ANOMALY_ISA stops the
 * program there with one line, as no kernel could honour it. */
#include "anomaly/isa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static IsaLevel level_in_use = ISA_GENERIC;

IsaLevel isa_cpu_level(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma"))
        return ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
    return ISA_GENERIC;
}

const char *isa_name(IsaLevel level) {
    switch (level) {
    case ISA_AVX512: return "avx512";
    case ISA_AVX2: return "avx2";
    default: return "generic";
    }
}

int isa_parse(const char *name, IsaLevel *level) {
    if (strcmp(name, "avx512") == 0) *level = ISA_AVX512;
    else if (strcmp(name, "avx2") == 0) *level = ISA_AVX2;
    else if (strcmp(name, "generic") == 0) *level = ISA_GENERIC;
    else return -1;
    return 0;
}

IsaLevel isa_level(void) { return level_in_use; }

int isa_force(IsaLevel level) {
    if (level > isa_cpu_level()) return -1;
    level_in_use = level;
    return 0;
}

#if defined(__GNUC__)
__attribute__((constructor)) static void isa_from_env(void) {
    const IsaLevel cpu = isa_cpu_level();
    level_in_use = cpu;
    const char *v = getenv("ANOMALY_ISA");
    if (!v || !*v) return;
    IsaLevel want;
    if (isa_parse(v, &want) != 0) {
        fprintf(stderr, "anomaly: error: ANOMALY_ISA=%s: expected avx512, avx2 or generic\n", v);
        exit(2);
    }
    if (want > cpu) {
        fprintf(stderr, "anomaly: error: ANOMALY_ISA=%s: this CPU supports at most %s\n", v,
                isa_name(cpu));
        exit(2);
    }
    level_in_use = want;
}
#endif
