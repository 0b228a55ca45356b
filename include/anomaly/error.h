/* Errors: one clear line on stderr, a non-zero exit, no half-written files.
 *
 * fatal() prints "anomaly: error: <message>" and exits with status 1 (see
 * fatal_set_status) after removing every temporary file still registered
 * by atomic_file_open(). */
#ifndef ANOMALY_ERROR_H
#define ANOMALY_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define ANOMALY_NORETURN __attribute__((noreturn))
#define ANOMALY_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define ANOMALY_NORETURN
#define ANOMALY_PRINTF(a, b)
#endif

void fatal(const char *fmt, ...) ANOMALY_NORETURN ANOMALY_PRINTF(1, 2);
void warn(const char *fmt, ...) ANOMALY_PRINTF(1, 2);
/* The status fatal() exits with from now on (`anomaly compare` keeps 1 for
 * "differs" and uses 2 for bad input). */
void fatal_set_status(int status);

/* Writes a one-line message into err[errlen] (when err is not NULL) and
 * returns -1: the error convention of every reader that reports instead of
 * exiting (`return error_format(err, errlen, "%s: truncated", path);`). */
int error_format(char *err, size_t errlen, const char *fmt, ...) ANOMALY_PRINTF(3, 4);

/* snprintf into a path buffer; a path that does not fit is fatal(). */
void path_printf(char *buf, size_t len, const char *fmt, ...) ANOMALY_PRINTF(3, 4);

/* malloc/calloc that call fatal() on failure, naming what was allocated. */
void *xmalloc(size_t bytes, const char *what);
void *xcalloc(size_t count, size_t size, const char *what);
void *xrealloc(void *p, size_t bytes, const char *what);
char *xstrdup(const char *s);

#endif
