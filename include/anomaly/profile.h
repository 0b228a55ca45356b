/* Where a step's time goes: wall time per op type and per layer.
 *
 * Off by default; profile_enable(1) turns it on (`--profile`). The autograd
 * wrappers time their forward kernel with profile_start / profile_stop, the
 * tape times every backward node, and the optimizer times its update, each
 * under an op name and the layer (module name) the op belongs to. Ops
 * without a name of their own (swish, add, ...) count toward the last named
 * layer before them, so "_blocks.3._bn1" holds that BatchNorm and the swish
 * after it.
 *
 * Timings are taken on the thread that runs the tape, around whole kernels
 * (which parallelise inside), so the table adds up to the step's wall time.
 * Not thread-safe: only that thread may call these functions. */
#ifndef ANOMALY_PROFILE_H
#define ANOMALY_PROFILE_H

#include <stdio.h>

typedef enum ProfilePhase { PROFILE_FORWARD = 0, PROFILE_BACKWARD = 1, PROFILE_UPDATE = 2 } ProfilePhase;

void profile_enable(int on);
int profile_enabled(void);
/* Forgets every timing (and the current layer). */
void profile_reset(void);

/* Seconds on a monotonic clock. */
double profile_now(void);
/* CPU seconds used by the whole process so far (all threads). On a busy
 * machine wall time counts the waits for a core, CPU time does not. */
double profile_cpu_now(void);

/* A start time for profile_stop, or 0 when profiling is off (then
 * profile_stop does nothing). */
double profile_start(void);
/* Adds now - start to (op, layer, phase). layer NULL: the current layer.
 * A non-NULL layer becomes the current layer. op and layer must stay valid
 * until the report (string literals and layer-table names do). */
void profile_stop(double start, const char *op, const char *layer, ProfilePhase phase);
/* The current layer (for nodes that are timed later, in backward). */
const char *profile_layer(void);

/* Counts floating-point operations (multiply and add: 2 per MAC) of the
 * convolutions and linear layers, for the achieved GFLOP/s in the report.
 * Does nothing when profiling is off. */
void profile_add_flops(double flops);

/* Prints the per-op and per-layer tables, each sorted by total time, as
 * seconds per step over `steps` profiled steps. `wall` is the total wall
 * time of those steps (the rest shows as "other"); 0 to leave it out. */
void profile_report(FILE *f, int steps, double wall);

/* Peak and current resident set size of this process in bytes (0 if
 * unknown). */
size_t profile_peak_rss(void);
size_t profile_rss(void);

#endif
