/* anomaly check-cuda: every CUDA twin against its CPU kernel, case by case
 * (src/check/cuda_table.c). Without CUDA in the build, or without a device,
 * one error line and a non-zero exit: never a silent pass. */
#include <stdio.h>
#include <string.h>

#include "anomaly/args.h"
#include "anomaly/cuda_check.h"
#include "anomaly/error.h"
#include "anomaly/real.h"
#ifdef ANOMALY_CUDA
#include "anomaly/cuda.h"
#endif

int cmd_check_cuda(int argc, char **argv);

static void list_cases(const char *op) {
    for (size_t i = 0; i < cuda_op_count; i++) {
        if (op && strcmp(op, cuda_ops[i].name) != 0) continue;
        printf("%-18s %s\n", cuda_ops[i].name, cuda_ops[i].kernels);
        for (size_t k = 0; k < cuda_case_count; k++) {
            if (strcmp(cuda_cases[k].op, cuda_ops[i].name) != 0) continue;
            char shape[160];
            cuda_case_shape(&cuda_cases[k], shape, sizeof shape);
            printf("  %-58s k = %g\n", shape, cuda_cases[k].tol);
        }
    }
}

int cmd_check_cuda(int argc, char **argv) {
    const char *op = NULL;
    int csv = 0, list = 0;
    ArgSpec specs[] = {
        {"op", ARG_STRING, &op, "only this op's cases (names: --list)", NULL, 0},
        {"csv", ARG_FLAG, &csv, "CSV instead of the aligned table", NULL, 0},
        {"list", ARG_FLAG, &list, "list the ops and their cases without running them", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    args_parse("check-cuda", "[--op NAME] [--csv] [--list]", specs, argc, argv, NULL, 0);
    if (op && !cuda_op_find(op))
        fatal("check-cuda: unknown op '%s' (anomaly check-cuda --list shows the ops)", op);
    if (list) {
        list_cases(op);
        return 0;
    }
    if (!cuda_check_built())
        fatal("check-cuda: this binary was built without CUDA (build it with make CUDA=1)");
#ifdef ANOMALY_CUDA
    char err[256];
    if (cuda_device_ready(err, sizeof err) != 0) fatal("check-cuda: %s", err);
    char dev[256];
    cuda_device_describe(dev, sizeof dev);
    /* the CSV stays pure CSV: the context goes to stderr */
    fprintf(csv ? stderr : stdout, "# check-cuda: float%d build on %s\n", REAL_BITS, dev);
    CheckReport r = {stdout, csv, 0, 0, 0};
    check_report_header(&r);
    for (size_t k = 0; k < cuda_case_count; k++)
        if (!op || strcmp(op, cuda_cases[k].op) == 0) cuda_check_run_case(&cuda_cases[k], &r);
    fprintf(csv ? stderr : stdout, "check-cuda: %d outputs of %d cases compared, %d NOT OK\n",
            r.outputs, r.cases, r.failed);
    return r.failed ? 1 : 0;
#else
    return 1;
#endif
}
