/* The exact mode: every computation on the portable reference path.
 *
 * Off by default (the fast kernels, OpenBLAS, the CPU's best instruction
 * set). `anomaly --exact COMMAND ...`, `anomaly COMMAND ... --exact` or
 * ANOMALY_EXACT=1 in the environment turn it on: every kernel of src/ops
 * runs its `_ref` twin (scalar C, a fixed and documented summation order),
 * GEMMs run gemm_ref() instead of OpenBLAS, and the few transcendental
 * functions come from pmath.h instead of the C library. Compiled without
 * contraction (-ffp-contract=off), the results are then the same bytes on
 * every x86-64 and ARM64 CPU, for any thread count and ANOMALY_ISA.
 *
 * The mode is chosen once, before any computation starts, and never
 * changes during a run (tests switch it between cases). */
#ifndef ANOMALY_EXACT_H
#define ANOMALY_EXACT_H

/* 1 in exact mode, else 0. Reads ANOMALY_EXACT at load time. */
int exact_mode(void);

/* Turns the exact mode on or off (the CLI's --exact; tests). Call only
 * outside parallel regions. */
void exact_mode_set(int on);

#endif
