/* Data-parallel and fold-parallel work over MPI (`make MPI=1`).
 *
 * A DistGroup is a set of processes (ranks) working on one thing: the
 * world (every process of `mpirun -np P`) for data-parallel training and
 * sharded inference, or the process alone for fold-parallel training. The
 * plain build (no MPI) has only the process alone: dist_world() is the one
 * rank 0 of size 1, and every collective is a copy or nothing.
 *
 * Determinism. The only arithmetic across ranks is dist_average(): each
 * rank owns a contiguous chunk of the vector; MPI_Alltoallv brings it every
 * rank's copy of its chunk (placed by rank, pure data movement), the rank
 * sums the copies in rank order 0, 1, ..., P-1 and divides by P, and
 * MPI_Allgatherv hands the chunks back to everyone. Those two collectives
 * move bytes without computing on them (the MPI standard defines them so),
 * so the result is the same bits for a given P whatever the timing, the
 * network or the MPI implementation. MPI_Allreduce is not used: its
 * reduction order is left to the implementation. Each rank sends and
 * receives 2 (P-1)/P of the vector per call, as a ring all-reduce does.
 *
 * Failures. A rank that calls fatal() or dies ends with a non-zero status
 * without MPI_Finalize; mpirun then stops every other rank and names the
 * one that failed (OpenMPI's "Process name: [[job,RANK]...] Exit code" or
 * "exited on signal" report), so no rank waits forever in a collective. */
#ifndef ANOMALY_DIST_H
#define ANOMALY_DIST_H

#include <stddef.h>

#include "anomaly/real.h"

typedef struct DistGroup {
    int rank, size;
    int world; /* 1: all ranks of the job; 0: this process alone */
} DistGroup;

/* Starts MPI once (MPI_THREAD_FUNNELED: only the main thread calls MPI).
 * The plain build refuses to run under mpirun with more than one process
 * (it would run P copies of the same job), saying to build with MPI=1. */
void dist_init(void);
/* Ends MPI after a successful command (a no-op without MPI or before init). */
void dist_finalize(void);
/* 1 in the MPI build. */
int dist_available(void);

DistGroup dist_world(void);
DistGroup dist_self(void);

/* x[n] := the mean over the group's ranks of their x[n], summed in rank
 * order (see above). Identity for a group of one. */
void dist_average(const DistGroup *g, real *x, size_t n);
/* Everyone gets every rank's bytes, in rank order: *out (allocated, free it)
 * of *out_bytes = the sum of the ranks' `bytes`. */
void dist_allgather(const DistGroup *g, const void *data, size_t bytes, void **out, size_t *out_bytes);
/* root's bytes[n] to everyone. */
void dist_broadcast(const DistGroup *g, void *data, size_t bytes, int root);
void dist_barrier(const DistGroup *g);

/* The share [*lo, *hi) of n items that rank `rank` of `size` takes:
 * contiguous, in order, sizes differing by at most one (floor splits). */
void dist_share(size_t n, int rank, int size, size_t *lo, size_t *hi);

#endif
