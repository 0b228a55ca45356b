/* The instruction-set level the fast kernels dispatch on.
 *
 * x86-64: ISA_AVX512 (x86-64-v4: AVX-512 F/BW/CD/DQ/VL), ISA_AVX2
 * (x86-64-v3: AVX2 + FMA), ISA_GENERIC (the baseline, SSE2). Elsewhere
 * (ARM64) only ISA_GENERIC. The level is the best the CPU has, or the one
 * named by ANOMALY_ISA=avx512|avx2|generic; naming a level the CPU lacks is
 * an error at start-up, so one machine can test every path below its own.
 * The same variable picks OpenBLAS's kernels in the `anomaly` binary
 * (blas_init). */
#ifndef ANOMALY_ISA_H
#define ANOMALY_ISA_H

typedef enum IsaLevel { ISA_GENERIC = 1, ISA_AVX2 = 3, ISA_AVX512 = 4 } IsaLevel;

/* The level in use (decided once, at load time). */
IsaLevel isa_level(void);

/* The best level this CPU supports, whatever ANOMALY_ISA says. */
IsaLevel isa_cpu_level(void);

/* "avx512", "avx2", "generic". */
const char *isa_name(IsaLevel level);

/* Parses an ANOMALY_ISA value; returns 0 and sets *level, or -1. */
int isa_parse(const char *name, IsaLevel *level);

/* Test hook: use `level` from now on (must be supported by the CPU; returns
 * -1 otherwise). Call only outside parallel regions. */
int isa_force(IsaLevel level);

#endif
