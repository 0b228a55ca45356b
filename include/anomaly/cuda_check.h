/* `anomaly check-cuda`: the case table that runs each CPU kernel and its
 * CUDA twin on the same seeded inputs and compares every output.
 *
 * Host-side pieces (the statistics, the tolerance rule, the table and its
 * lookup) are built in every build and tested without a GPU; running the
 * cases needs a build with CUDA=1 and a device. */
#ifndef ANOMALY_CUDA_CHECK_H
#define ANOMALY_CUDA_CHECK_H

#include <stddef.h>
#include <stdio.h>

#include "real.h"

/* ---- comparing one output (src/check/diff_stats.c) ---- */

typedef struct DiffStats {
    size_t n;            /* values compared */
    size_t nonfinite;    /* NaN or +-Inf values in the reference */
    size_t mismatch;     /* positions whose NaN/+Inf/-Inf class differs */
    double max_abs;      /* max |got - ref| over positions finite in both */
    double max_rel;      /* max |got - ref| / max(|ref|, 1e-6 * max|ref|) */
    double nmse;         /* sum (got - ref)^2 / sum ref^2 (0 when both are 0) */
} DiffStats;

void diff_stats(DiffStats *d, const real *ref, const real *got, size_t n);

/* The NMSE bound of an output: (k * eps)^2 * max(len, 1), eps the build's
 * machine epsilon (float32 or float64), len the output's reduction length
 * (the number of terms summed into one value; 1 for elementwise ops), k the
 * op's factor from the table. Rounding errors of a sum of len terms in a
 * different order grow like sqrt(len) * eps in relative terms, so this
 * scales with both the precision and the reduction. */
double diff_tolerance(double k, double len);

/* 1 when every NaN/Inf agrees and nmse <= tol (a NaN nmse fails). */
int diff_ok(const DiffStats *d, double tol);

/* ---- the table (src/check/cuda_table.c) ---- */

#define CASE_PARAMS 16

typedef struct CudaCase {
    const char *op;        /* an op name of cuda_ops */
    int p[CASE_PARAMS];    /* the op's integer parameters, in its format's order */
    double tol;            /* k of diff_tolerance */
    const char *note;      /* the shape class: "b0 stem", "resnext grouped" */
} CudaCase;

typedef struct CudaOp {
    const char *name;
    const char *format; /* printf format of the shape, from p[0..] */
    const char *kernels; /* the kernels the op's cases run */
} CudaOp;

extern const CudaCase cuda_cases[];
extern const size_t cuda_case_count;
extern const CudaOp cuda_ops[];
extern const size_t cuda_op_count;

/* The op named `name`, or NULL. */
const CudaOp *cuda_op_find(const char *name);
/* The case's shape as text: its op's format applied to p, then the note. */
void cuda_case_shape(const CudaCase *c, char *buf, size_t len);

/* ---- running (src/check/cuda_run.c) ---- */

typedef struct CheckReport {
    FILE *out;
    int csv;
    int outputs, failed, cases;
} CheckReport;

/* Prints the header of the table or CSV. */
void check_report_header(CheckReport *r);
/* Records and prints one output's line. */
void check_report_line(CheckReport *r, const CudaCase *c, const char *output, double len,
                       const DiffStats *d);

/* 1 when this binary contains the CUDA twin (built with CUDA=1). */
int cuda_check_built(void);
/* Runs one case (CUDA builds only; needs a ready device), reporting every
 * output through check_report_line. */
void cuda_check_run_case(const CudaCase *c, CheckReport *r);

#endif
