/* Atomic output files: write to "<path>.tmp.<pid>", then rename over <path>.
 *
 * A file that is open when fatal() runs (or when the process is killed and
 * the next run starts) is never mistaken for a complete one: readers only
 * ever see the old file or the whole new one. */
#ifndef ANOMALY_ATOMIC_FILE_H
#define ANOMALY_ATOMIC_FILE_H

#include <stdio.h>

typedef struct AtomicFile {
    FILE *fp;          /* write here */
    char *path;        /* final name */
    char *tmp_path;    /* temporary name while open */
} AtomicFile;

/* Opens the temporary file; on failure calls fatal() naming `path`. */
void atomic_file_open(AtomicFile *f, const char *path);
/* Flushes, fsyncs and renames over the final name; fatal() on any error. */
void atomic_file_commit(AtomicFile *f);
/* Closes and removes the temporary file (the final file is untouched). */
void atomic_file_abort(AtomicFile *f);
/* Removes every still-open temporary file; called by fatal(). */
void atomic_file_abort_all(void);
/* A temporary folder that becomes a result by one rename (the data-set
 * layout of synth and import-idx): while tracked, fatal() removes it with
 * everything in it. One at a time; untrack after the rename. */
void atomic_dir_track(const char *tmp_dir);
void atomic_dir_untrack(void);

/* Removes the temporaries that processes killed while writing (SIGKILL, a
 * power cut) left in `dir`: files named "*.tmp.<pid>" whose process no
 * longer runs. Returns how many were removed; a missing folder is 0. */
int atomic_file_remove_stale(const char *dir);

#endif
