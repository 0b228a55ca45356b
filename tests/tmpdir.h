/* A temporary directory for one test executable.
 *   tmpdir_create("csv")  makes /tmp/anomaly_csv_XXXXXX, or prints a FAIL
 *                         line and exits 1
 *   tmp_path("t.csv")     a file in it, in one of four rotating buffers (so
 *                         a call can hold a few paths at once)
 *   tmpdir_remove()       deletes the files in it (not subdirectories), then
 *                         the directory */
#ifndef ANOMALY_TESTS_TMPDIR_H
#define ANOMALY_TESTS_TMPDIR_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char tmpdir[256];

static inline void tmpdir_create(const char *tag) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/anomaly_%s_XXXXXX", tag);
    if (!mkdtemp(tmpdir)) {
        printf("FAIL main: cannot make a temporary directory %s\n", tmpdir);
        exit(1);
    }
}

static inline const char *tmp_path(const char *name) {
    static char buf[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmpdir, name);
    return buf[k];
}

static inline void tmpdir_remove(void) {
    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (e->d_name[0] != '.') remove(tmp_path(e->d_name));
    if (d) closedir(d);
    rmdir(tmpdir);
}

#endif
