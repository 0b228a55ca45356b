/* dist.h over MPI (built with `make MPI=1`): the deterministic average and
 * the plain data movements. Only the main thread calls MPI. */
#include "anomaly/dist.h"

#ifdef ANOMALY_MPI
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

#define REAL_MPI (REAL_BITS == 64 ? MPI_DOUBLE : MPI_FLOAT)

static int started;

void dist_init(void) {
    int done = 0;
    MPI_Initialized(&done);
    if (done) return;
    int provided = 0;
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        fatal("MPI_Init_thread failed");
    started = 1;
}

void dist_finalize(void) {
    int fin = 0;
    if (!started) return;
    MPI_Finalized(&fin);
    if (!fin) MPI_Finalize();
}

int dist_available(void) { return 1; }

DistGroup dist_world(void) {
    DistGroup g = {0, 1, 1};
    if (!started) dist_init();
    MPI_Comm_rank(MPI_COMM_WORLD, &g.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g.size);
    return g;
}

static int as_count(size_t n, const char *what) {
    if (n > (size_t)INT_MAX) fatal("%s: %zu elements are more than one MPI message holds", what, n);
    return (int)n;
}

void dist_average(const DistGroup *g, real *x, size_t n) {
    if (g->size == 1 || !g->world) return;
    const int P = g->size, me = g->rank;
    int *cnt = xmalloc(4 * (size_t)P * sizeof *cnt, "all-reduce counts");
    int *displ = cnt + P, *rcnt = cnt + 2 * P, *rdispl = cnt + 3 * P;
    for (int r = 0; r < P; r++) {
        size_t lo, hi;
        dist_share(n, r, P, &lo, &hi);
        cnt[r] = as_count(hi - lo, "all-reduce");
        displ[r] = as_count(lo, "all-reduce");
    }
    const size_t mine = (size_t)cnt[me];
    for (int r = 0; r < P; r++) {
        rcnt[r] = cnt[me];
        rdispl[r] = as_count((size_t)r * mine, "all-reduce");
    }
    real *copies = xmalloc((mine ? mine : 1) * (size_t)P * sizeof *copies, "all-reduce buffer");
    /* copies[r][i]: rank r's value of element displ[me] + i. */
    MPI_Alltoallv(x, cnt, displ, REAL_MPI, copies, rcnt, rdispl, REAL_MPI, MPI_COMM_WORLD);
    real *out = x + displ[me];
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)mine; i++) {
        real s = copies[i];
        for (int r = 1; r < P; r++) s += copies[(size_t)r * mine + (size_t)i];
        out[i] = s / (real)P;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, REAL_MPI, x, cnt, displ, REAL_MPI, MPI_COMM_WORLD);
    free(copies);
    free(cnt);
}

void dist_allgather(const DistGroup *g, const void *data, size_t bytes, void **out, size_t *out_bytes) {
    if (g->size == 1 || !g->world) {
        *out = xmalloc(bytes ? bytes : 1, "gathered data");
        if (bytes) memcpy(*out, data, bytes);
        *out_bytes = bytes;
        return;
    }
    const int P = g->size;
    int *cnt = xmalloc(2 * (size_t)P * sizeof *cnt, "gather counts"), *displ = cnt + P;
    int mine = as_count(bytes, "gather");
    MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, MPI_COMM_WORLD);
    size_t total = 0;
    for (int r = 0; r < P; r++) {
        displ[r] = as_count(total, "gather");
        total += (size_t)cnt[r];
    }
    char *buf = xmalloc(total ? total : 1, "gathered data");
    MPI_Allgatherv(data, mine, MPI_BYTE, buf, cnt, displ, MPI_BYTE, MPI_COMM_WORLD);
    free(cnt);
    *out = buf;
    *out_bytes = total;
}

void dist_broadcast(const DistGroup *g, void *data, size_t bytes, int root) {
    if (g->size == 1 || !g->world) return;
    MPI_Bcast(data, as_count(bytes, "broadcast"), MPI_BYTE, root, MPI_COMM_WORLD);
}

void dist_barrier(const DistGroup *g) {
    if (g->size > 1 && g->world) MPI_Barrier(MPI_COMM_WORLD);
}
#else
typedef int dist_mpi_is_empty_in_the_plain_build;
#endif
