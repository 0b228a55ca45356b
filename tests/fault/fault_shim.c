/* A failing disk for the fault tests, loaded with LD_PRELOAD.
 *
 *   ANOMALY_FAULT=write:N    the N-th file opened for writing behaves like a
 *                            full disk: the file is created, but every write
 *                            to it fails with ENOSPC (its descriptor is
 *                            /dev/full underneath)
 *   ANOMALY_FAULT=fsync:N    the N-th fsync() fails with EIO
 *   ANOMALY_FAULT=rename:N   the N-th rename() fails with ENOSPC
 *   ANOMALY_FAULT=kill:N     SIGKILL at the N-th of all these calls
 *                            (opening for writing, fsync, rename), before it
 *                            is carried out: a crash in the middle of saving
 *   ANOMALY_FAULT_LOG=FILE   at exit, appends "opens O fsyncs F renames R fired X"
 *
 * Without ANOMALY_FAULT it only counts, so a clean run tells the test every
 * N there is to try. stdio's own writes do not go through the interposable
 * write(), hence the /dev/full descriptor rather than a write() wrapper. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_open, n_fsync, n_rename, n_any, fired;
static char kind[16];
static int target = -1;

__attribute__((constructor)) static void setup(void) {
    const char *s = getenv("ANOMALY_FAULT");
    if (!s) return;
    const char *colon = strchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof kind) return;
    memcpy(kind, s, (size_t)(colon - s));
    kind[colon - s] = '\0';
    target = atoi(colon + 1);
}

__attribute__((destructor)) static void report(void) {
    const char *log = getenv("ANOMALY_FAULT_LOG");
    if (!log) return;
    FILE *(*real_fopen)(const char *, const char *) =
        (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, "fopen");
    FILE *f = real_fopen(log, "a");
    if (!f) return;
    fprintf(f, "opens %d fsyncs %d renames %d fired %d\n", __atomic_load_n(&n_open, __ATOMIC_SEQ_CST),
            __atomic_load_n(&n_fsync, __ATOMIC_SEQ_CST), __atomic_load_n(&n_rename, __ATOMIC_SEQ_CST),
            fired);
    fclose(f);
}

/* Counts one call of kind k; returns 1 when this call is the one to fail. */
static int hit(const char *k, int *counter) {
    const int n = __atomic_add_fetch(counter, 1, __ATOMIC_SEQ_CST);
    const int any = __atomic_add_fetch(&n_any, 1, __ATOMIC_SEQ_CST);
    if (strcmp(kind, "kill") == 0 && any == target) raise(SIGKILL);
    if (strcmp(kind, k) == 0 && n == target) {
        fired = 1;
        return 1;
    }
    return 0;
}

static FILE *open_counted(const char *name, const char *path, const char *mode) {
    FILE *(*real)(const char *, const char *) =
        (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, name);
    const int writing = mode[0] == 'w' || mode[0] == 'a';
    const int fail = writing && hit("write", &n_open);
    FILE *f = real(path, mode);
    if (f && fail) {
        const int full = open("/dev/full", O_WRONLY);
        if (full >= 0) {
            dup2(full, fileno(f));
            close(full);
        }
    }
    return f;
}

FILE *fopen(const char *path, const char *mode) { return open_counted("fopen", path, mode); }
FILE *fopen64(const char *path, const char *mode) { return open_counted("fopen64", path, mode); }

int fsync(int fd) {
    int (*real)(int) = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    if (hit("fsync", &n_fsync)) {
        errno = EIO;
        return -1;
    }
    return real(fd);
}

int rename(const char *from, const char *to) {
    int (*real)(const char *, const char *) = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    if (hit("rename", &n_rename)) {
        errno = ENOSPC;
        return -1;
    }
    return real(from, to);
}
