/* dist.h without MPI: one process, collectives are copies. */
#include "anomaly/dist.h"

#ifndef ANOMALY_MPI
#include <stdlib.h>
#include <string.h>

#include "anomaly/error.h"

void dist_init(void) {
    /* mpirun (OpenMPI, MPICH) tells each process the job's size. */
    const char *v = getenv("OMPI_COMM_WORLD_SIZE");
    if (!v) v = getenv("PMI_SIZE");
    if (v && atoi(v) > 1)
        fatal("this anomaly binary was built without MPI, so %s ranks would each run the whole job; "
              "build it with make MPI=1", v);
}
void dist_finalize(void) {}
int dist_available(void) { return 0; }
DistGroup dist_world(void) { return dist_self(); }
void dist_average(const DistGroup *g, real *x, size_t n) { (void)g, (void)x, (void)n; }
void dist_allgather(const DistGroup *g, const void *data, size_t bytes, void **out, size_t *out_bytes) {
    (void)g;
    *out = xmalloc(bytes ? bytes : 1, "gathered data");
    if (bytes) memcpy(*out, data, bytes);
    *out_bytes = bytes;
}
void dist_broadcast(const DistGroup *g, void *data, size_t bytes, int root) { (void)g, (void)data, (void)bytes, (void)root; }
void dist_barrier(const DistGroup *g) { (void)g; }
#else
typedef int dist_none_is_empty_in_the_mpi_build;
#endif
