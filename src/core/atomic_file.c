#include "anomaly/atomic_file.h"
#include "anomaly/error.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static char *tracked_dir;

void atomic_dir_track(const char *tmp_dir) {
    free(tracked_dir);
    tracked_dir = xstrdup(tmp_dir);
}

void atomic_dir_untrack(void) {
    free(tracked_dir);
    tracked_dir = NULL;
}

/* rm -r without following symbolic links, quietly (it runs inside fatal()). */
static void remove_tree_quietly(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            for (struct dirent *e; (e = readdir(d));) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
                char child[4096];
                if ((size_t)snprintf(child, sizeof child, "%s/%s", path, e->d_name) < sizeof child)
                    remove_tree_quietly(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

void atomic_file_abort_all(void) {
    for (int i = 0; i < MAX_OPEN; i++)
        if (open_files[i]) atomic_file_abort(open_files[i]);
    if (tracked_dir) {
        remove_tree_quietly(tracked_dir);
        atomic_dir_untrack();
    }
}

/* The pid of a name "<anything>.tmp.<digits>", or 0. */
static long temp_owner(const char *name) {
    const char *t = NULL;
    for (const char *p = strstr(name, ".tmp."); p; p = strstr(p + 1, ".tmp.")) t = p;
    if (!t || !t[5]) return 0;
    long pid = 0;
    for (const char *d = t + 5; *d; d++) {
        if (*d < '0' || *d > '9' || pid > 100000000L) return 0;
        pid = pid * 10 + (*d - '0');
    }
    return pid;
}

int atomic_file_remove_stale(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const long pid = temp_owner(e->d_name);
        if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char path[4096];
        path_printf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (remove(path) == 0) removed++;
    }
    closedir(d);
    return removed;
}
