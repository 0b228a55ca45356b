/* anomaly: the command-line entry point. Dispatches to the subcommands
 * listed in commands.def. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/blas.h"
#include "anomaly/exact.h"
#include "anomaly/isa.h"
#include "anomaly/limits.h"
#include "anomaly/real.h"
#include "anomaly/version.h"

#define COMMAND(name, fn, help) int fn(int argc, char **argv);
#include "commands.def"
#undef COMMAND

typedef struct Command {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} Command;

static const Command commands[] = {
#define COMMAND(name, fn, help) {name, fn, help},
#include "commands.def"
#undef COMMAND
};

static void print_version(void) {
    printf("anomaly %s (float%d, OpenMP, OpenBLAS, libpng, libjpeg)\n", ANOMALY_VERSION, REAL_BITS);
    printf("%s\n", blas_core_note());
    printf("kernels: %s (this CPU: %s%s); exact mode %s\n", isa_name(isa_level()),
           isa_name(isa_cpu_level()), getenv("ANOMALY_ISA") ? ", ANOMALY_ISA set" : "",
           exact_mode() ? "on: portable reference path, the same bytes on every CPU" : "off");
}

/* Takes every `--exact` out of argv (before or after the command name),
 * turning the exact mode on; returns the new argc. */
static int take_exact_flag(int argc, char **argv) {
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--exact") == 0) {
            exact_mode_set(1);
            continue;
        }
        argv[n++] = argv[i];
    }
    argv[n] = NULL;
    return n;
}

static void print_help(void) {
    print_version();
    printf("A C99 reference implementation of an image-classification pipeline\n"
           "(MVTec-AD, 88 class-state labels): models, data, training, ensembles.\n\n"
           "usage: anomaly COMMAND [flags]     anomaly COMMAND --help for its flags\n\n"
           "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  %-12s %s\n", commands[i].name, commands[i].help);
    printf("\n  --exact      (with any command) the portable reference path: the same bytes\n"
           "               on every CPU; also ANOMALY_EXACT=1. ANOMALY_ISA=avx512|avx2|generic\n"
           "               forces the fast kernels' instruction set\n"
           "  ANOMALY_MAX_IMAGE_SIDE, ANOMALY_MAX_IMAGE_PIXELS, ANOMALY_MAX_IDX_SIDE,\n"
           "  ANOMALY_MAX_TENSOR_BYTES   size limits on input files (README)\n"
           "  --version    print the version, build precision, kernels and mode\n"
           "  --help       print this help\n");
}

int main(int argc, char **argv) {
    blas_init();
    argc = take_exact_flag(argc, argv);
    if (limits_env_error()) {
        fprintf(stderr, "anomaly: error: %s\n", limits_env_error());
        return 2;
    }
    if (argc < 2) {
        print_help();
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        print_version();
        return 0;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_help();
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 2, argv + 2);
    fprintf(stderr, "anomaly: error: unknown command '%s' (see anomaly --help)\n", argv[1]);
    return 2;
}
