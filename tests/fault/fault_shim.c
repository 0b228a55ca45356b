/* A failing disk for the fault tests, loaded with LD_PRELOAD.
 *
 *   ANOMALY_FAULT=open:N     the N-th file opened for writing behaves like a
 *                            full disk: the file is created, but every write
 *                            to it fails with ENOSPC (its descriptor is
 *                            /dev/full underneath)
 *   ANOMALY_FAULT=write:N    the disk fills up at the N-th stdio write call
 *                            (fwrite, fputs, fputc, fprintf, vfprintf) to a
 *                            file opened for writing: what was written
 *                            before reaches the file, half of an fwrite's
 *                            bytes too (a short write), the rest fails with
 *                            ENOSPC, now or when the buffer is flushed
 *   ANOMALY_FAULT=fsync:N    the N-th fsync() fails with EIO
 *   ANOMALY_FAULT=rename:N   the N-th rename() fails with ENOSPC
 *   ANOMALY_FAULT=kill:N     SIGKILL at the N-th of all these calls
 *                            (opening for writing, writing, fsync, rename),
 *                            before it is carried out: a crash in the middle
 *                            of saving
 *   ANOMALY_FAULT_LOG=FILE   at exit, appends
 *                            "opens O writes W fsyncs F renames R fired X"
 *
 * Without ANOMALY_FAULT it only counts, so a clean run tells the test every
 * N there is to try. stdio's own writes do not go through an interposable
 * write(), hence the stdio calls are interposed (the ones the program and
 * libpng/libjpeg import: `nm -D --undefined-only anomaly`) and a failing
 * disk is a /dev/full descriptor put under the stream. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int n_open, n_write, n_fsync, n_rename, n_any, fired;
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
    int (*real_fprintf)(FILE *, const char *, ...) = (int (*)(FILE *, const char *, ...))dlsym(RTLD_NEXT, "fprintf");
    real_fprintf(f, "opens %d writes %d fsyncs %d renames %d fired %d\n", __atomic_load_n(&n_open, __ATOMIC_SEQ_CST),
                 __atomic_load_n(&n_write, __ATOMIC_SEQ_CST), __atomic_load_n(&n_fsync, __ATOMIC_SEQ_CST),
                 __atomic_load_n(&n_rename, __ATOMIC_SEQ_CST), fired);
    int (*real_fclose)(FILE *) = (int (*)(FILE *))dlsym(RTLD_NEXT, "fclose");
    real_fclose(f);
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

/* The streams opened for writing (threads write files at once). */
#define MAX_STREAMS 256
static FILE *streams[MAX_STREAMS];
static char streams_lock;

static void lock(void) {
    while (__atomic_test_and_set(&streams_lock, __ATOMIC_ACQUIRE)) {
    }
}
static void unlock(void) { __atomic_clear(&streams_lock, __ATOMIC_RELEASE); }

static void track(FILE *f) {
    lock();
    for (int i = 0; i < MAX_STREAMS; i++)
        if (!streams[i]) {
            streams[i] = f;
            break;
        }
    unlock();
}

static int tracked(FILE *f, int forget) {
    int found = 0;
    lock();
    for (int i = 0; i < MAX_STREAMS && !found; i++)
        if (streams[i] == f) {
            found = 1;
            if (forget) streams[i] = NULL;
        }
    unlock();
    return found;
}

/* The disk is full from now on under stream f. */
static void fill_disk(FILE *f) {
    const int full = open("/dev/full", O_WRONLY);
    if (full >= 0) {
        dup2(full, fileno(f));
        close(full);
    }
}

static FILE *open_counted(const char *name, const char *path, const char *mode) {
    FILE *(*real)(const char *, const char *) =
        (FILE * (*)(const char *, const char *)) dlsym(RTLD_NEXT, name);
    const int writing = mode[0] == 'w' || mode[0] == 'a';
    const int fail = writing && hit("open", &n_open);
    FILE *f = real(path, mode);
    if (f && fail) fill_disk(f);
    if (f && writing) track(f);
    return f;
}

#define REAL(type, name, args) type(*real_##name) args = (type(*) args)dlsym(RTLD_NEXT, #name)

/* Counts a write call on f; when it is the one to fail, flushes what came
 * before to the file and fills the disk. Returns 1 then. */
static int write_hit(FILE *f) {
    if (!tracked(f, 0) || !hit("write", &n_write)) return 0;
    REAL(int, fflush, (FILE *));
    real_fflush(f);
    return 1;
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    REAL(size_t, fwrite, (const void *, size_t, size_t, FILE *));
    if (!write_hit(f)) return real_fwrite(p, size, n, f);
    /* a short write: the first half of the items reach the file */
    size_t half = n / 2, done = half ? real_fwrite(p, size, half, f) : 0;
    REAL(int, fflush, (FILE *));
    real_fflush(f);
    fill_disk(f);
    return done + real_fwrite((const char *)p + half * size, size, n - half, f);
}

int fputs(const char *s, FILE *f) {
    REAL(int, fputs, (const char *, FILE *));
    if (write_hit(f)) fill_disk(f);
    return real_fputs(s, f);
}

int fputc(int c, FILE *f) {
    REAL(int, fputc, (int, FILE *));
    if (write_hit(f)) fill_disk(f);
    return real_fputc(c, f);
}

int vfprintf(FILE *f, const char *fmt, va_list ap) {
    REAL(int, vfprintf, (FILE *, const char *, va_list));
    if (write_hit(f)) fill_disk(f);
    return real_vfprintf(f, fmt, ap);
}

int fprintf(FILE *f, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int r = vfprintf(f, fmt, ap);
    va_end(ap);
    return r;
}

int fclose(FILE *f) {
    REAL(int, fclose, (FILE *));
    tracked(f, 1);
    return real_fclose(f);
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
