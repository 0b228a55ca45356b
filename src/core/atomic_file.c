#include "anomaly/atomic_file.h"
#include "anomaly/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Open temporaries, so fatal() can remove them. Small: a command writes a
 * handful of files at once. */
#define MAX_OPEN 32
static AtomicFile *open_files[MAX_OPEN];

/* Threads may write files at once (the data-set generator does). */
static void track(AtomicFile *f) {
    int ok = 0;
#pragma omp critical(atomic_file_list)
    for (int i = 0; i < MAX_OPEN && !ok; i++)
        if (!open_files[i]) {
            open_files[i] = f;
            ok = 1;
        }
    if (!ok) fatal("too many output files open at once (writing %s)", f->path);
}

static void untrack(AtomicFile *f) {
#pragma omp critical(atomic_file_list)
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_files[i] == f) open_files[i] = NULL;
}

void atomic_file_open(AtomicFile *f, const char *path) {
    size_t n = strlen(path) + 32;
    f->path = xstrdup(path);
    f->tmp_path = xmalloc(n, "a file name");
    snprintf(f->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp) {
        int e = errno;
        free(f->tmp_path);
        f->tmp_path = NULL;
        fatal("cannot write %s: %s", path, strerror(e));
    }
    track(f);
}

static void release(AtomicFile *f) {
    untrack(f);
    free(f->path);
    free(f->tmp_path);
    f->path = f->tmp_path = NULL;
    f->fp = NULL;
}

void atomic_file_commit(AtomicFile *f) {
    int bad = ferror(f->fp) != 0;
    bad |= fflush(f->fp) != 0;
    if (!bad) bad |= fsync(fileno(f->fp)) != 0;
    int e = errno;
    bad |= fclose(f->fp) != 0;
    f->fp = NULL;
    if (bad) {
        char path[4096];
        snprintf(path, sizeof path, "%s", f->path);
        remove(f->tmp_path);
        release(f);
        fatal("cannot write %s: %s", path, strerror(e ? e : EIO));
    }
    if (rename(f->tmp_path, f->path) != 0) {
        char path[4096];
        e = errno;
        snprintf(path, sizeof path, "%s", f->path);
        remove(f->tmp_path);
        release(f);
        fatal("cannot rename output into place at %s: %s", path, strerror(e));
    }
    release(f);
}

void atomic_file_abort(AtomicFile *f) {
    if (f->fp) fclose(f->fp);
    if (f->tmp_path) remove(f->tmp_path);
    release(f);
}

void atomic_file_abort_all(void) {
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_files[i]) atomic_file_abort(open_files[i]);
}
