/* GEMM through OpenBLAS, kept single-threaded, and the runtime settings
 * that can only be chosen before the libraries load.
 *
 * OpenBLAS built with DYNAMIC_ARCH (Debian's) picks its kernels from the CPU
 * model when the library loads. A release older than the CPU does not know
 * the model and falls back to "Prescott" (SSE3) kernels: Debian's 0.3.21 on
 * a Sapphire/Emerald Rapids Xeon runs sgemm at about a fifth of the speed its
 * SkylakeX (AVX-512) kernels reach on the same core. The kernels can only be
 * chosen through OPENBLAS_CORETYPE, read when the library loads.
 *
 * GNU OpenMP lets a thread that waits at a barrier spin for about 300000
 * iterations before it sleeps. On a machine with more runnable processes
 * than cores that spinning takes the core from the very thread it waits
 * for: a training step measured 4-5x slower than with a short spin, on a
 * busy 2-core machine. GOMP_SPINCOUNT is also read only at load.
 *
 * So blas_init(), which the `anomaly` binary calls first thing, sets
 *   OPENBLAS_CORETYPE=SkylakeX or Haswell when OpenBLAS fell back to Prescott,
 *     the user did not set it, and the CPU (with the operating system's
 *     support, as cpuid reports it) has AVX-512 or AVX2 + FMA;
 *   GOMP_SPINCOUNT=10000 when neither it nor OMP_WAIT_POLICY is set;
 *   OPENBLAS_CORETYPE=SkylakeX, Haswell or Prescott when ANOMALY_ISA is
 *     avx512, avx2 or generic (and OPENBLAS_CORETYPE is not set), so that
 *     one machine can run every path;
 * and, if it set anything, executes the program again with the same
 * arguments. ANOMALY_KEEP_ENV=1 turns all of this off. Other kernels round
 * sums differently, so results can differ in the last bits between
 * machines, never between thread counts: the library splits work itself and
 * OpenBLAS always runs on one thread. */
#include "anomaly/blas.h"
#include "anomaly/exact.h"
#include "anomaly/isa.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Set in the environment of the re-executed process: what was chosen. */
#define CHOSEN_CORE "ANOMALY_CHOSE_CORETYPE"
#define CHOSEN_SPIN "ANOMALY_CHOSE_SPINCOUNT"
#define SPIN_COUNT "10000"

static void one_thread(void) { openblas_set_num_threads(1); }

/* Runs before main in every program that links gemm, so no kernel can reach
 * a multi-threaded OpenBLAS from inside an OpenMP region. */
#if defined(__GNUC__)
__attribute__((constructor)) static void blas_init_at_load(void) { one_thread(); }
#endif

/* The OpenBLAS core this CPU should use, or NULL when there is nothing
 * better than what OpenBLAS found. */
static const char *better_core(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

/* The OpenBLAS core matching ANOMALY_ISA, or NULL when it is not set. */
static const char *isa_core(void) {
    const char *v = getenv("ANOMALY_ISA");
    IsaLevel level;
    if (!v || !*v || isa_parse(v, &level) != 0) return NULL;
#if defined(__x86_64__)
    switch (level) {
    case ISA_AVX512: return "SkylakeX";
    case ISA_AVX2: return "Haswell";
    default: return "Prescott";
    }
#else
    return NULL;
#endif
}

static int is_fallback_core(const char *name) {
    return name && (strcmp(name, "Prescott") == 0 || strcmp(name, "prescott") == 0 ||
                    strcmp(name, "PRESCOTT") == 0);
}

/* argv of this process, from /proc/self/cmdline (NULL-terminated, leaked:
 * it is only used by execv). NULL when it cannot be read. */
static char **own_argv(void) {
    FILE *f = fopen("/proc/self/cmdline", "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        char *bigger = realloc(buf, 2 * cap);
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (!buf || len == 0) {
        free(buf);
        return NULL;
    }
    size_t argc = 0;
    for (size_t i = 0; i < len; i++) argc += buf[i] == '\0';
    char **argv = malloc((argc + 1) * sizeof *argv);
    if (!argv) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < len && k < argc; k++) {
        argv[k] = buf + i;
        i += strlen(buf + i) + 1;
    }
    argv[k] = NULL;
    return argv;
}

static void tune_environment(void) {
    const char *keep = getenv("ANOMALY_KEEP_ENV");
    if (keep && strcmp(keep, "0") != 0) return;
    if (getenv(CHOSEN_CORE) || getenv(CHOSEN_SPIN)) return; /* this is the re-executed run */
    const char *core = NULL;
    if (!getenv("OPENBLAS_CORETYPE")) {
        const char *wanted = isa_core();
        if (wanted && strcasecmp(wanted, openblas_get_corename()) != 0) core = wanted;
        else if (!wanted && is_fallback_core(openblas_get_corename())) core = better_core();
    }
    const int spin = !getenv("GOMP_SPINCOUNT") && !getenv("OMP_WAIT_POLICY");
    if (!core && !spin) return;
    char **argv = own_argv();
    if (!argv) return;
    fflush(NULL);
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        setenv(CHOSEN_CORE, core, 1);
    }
    if (spin) {
        setenv("GOMP_SPINCOUNT", SPIN_COUNT, 1);
        setenv(CHOSEN_SPIN, SPIN_COUNT, 1);
    }
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the libraries as loaded */
    if (core) {
        unsetenv("OPENBLAS_CORETYPE");
        unsetenv(CHOSEN_CORE);
    }
    if (spin) {
        unsetenv("GOMP_SPINCOUNT");
        unsetenv(CHOSEN_SPIN);
    }
    free(argv);
}

void blas_init(void) {
    one_thread();
    tune_environment();
}

const char *blas_core_note(void) {
    static char note[320];
    const char *core = openblas_get_corename();
    const char *chosen = getenv(CHOSEN_CORE), *forced = getenv("OPENBLAS_CORETYPE");
    const char *spin = getenv("GOMP_SPINCOUNT"), *spin_chosen = getenv(CHOSEN_SPIN);
    char what[160];
    if (!core) core = "unknown";
    const char *isa = getenv("ANOMALY_ISA");
    if (chosen && forced && strcmp(chosen, forced) == 0 && isa && *isa)
        snprintf(what, sizeof what, "OpenBLAS core %s (chosen by anomaly for ANOMALY_ISA=%.16s)",
                 core, isa);
    else if (chosen && forced && strcmp(chosen, forced) == 0)
        snprintf(what, sizeof what, "OpenBLAS core %s (chosen by anomaly: OpenBLAS did not "
                 "recognise this CPU)", core);
    else if (forced)
        snprintf(what, sizeof what, "OpenBLAS core %s (OPENBLAS_CORETYPE=%s)", core, forced);
    else
        snprintf(what, sizeof what, "OpenBLAS core %s", core);
    const int spin_ours = spin && spin_chosen && strcmp(spin, spin_chosen) == 0;
    const int core_ours = chosen && forced && strcmp(chosen, forced) == 0;
    if (spin_ours)
        snprintf(note, sizeof note, "%s; OpenMP GOMP_SPINCOUNT=%s (chosen by anomaly)", what, spin);
    else
        snprintf(note, sizeof note, "%s", what);
    if (spin_ours || core_ours) {
        const size_t len = strlen(note);
        snprintf(note + len, sizeof note - len, "; ANOMALY_KEEP_ENV=1 keeps the environment as given");
    }
    return note;
}

void gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
          const real *A, int lda, const real *B, int ldb, real beta, real *C, int ldc) {
    if (exact_mode()) {
        gemm_ref(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    enum CBLAS_TRANSPOSE ta = trans_a ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE tb = trans_b ? CblasTrans : CblasNoTrans;
#ifdef ANOMALY_F64
    cblas_dgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#endif
}
