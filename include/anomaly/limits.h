/* Size limits on untrusted input, checked before anything is allocated, so
 * that a header claiming a 1e9 x 1e9 image or a tensor of 2^62 bytes costs
 * nothing. Each has a default and an environment variable that sets it:
 *
 *   ANOMALY_MAX_IMAGE_SIDE    65535      PNG/JPEG width and height
 *   ANOMALY_MAX_IMAGE_PIXELS  268435456  PNG/JPEG width x height (2^28)
 *   ANOMALY_MAX_IDX_SIDE      4096       IDX image rows and columns (import-idx)
 *   ANOMALY_MAX_TENSOR_BYTES  268435456  bytes a .pth file's tensors may take once
 *                                        their views are gathered, when that is
 *                                        more than 4x the file's size (256 MiB)
 *
 * A value is a positive decimal integer within the limit's range; main()
 * checks them all before running a command (a bad one: one error line,
 * exit status 2). */
#ifndef ANOMALY_LIMITS_H
#define ANOMALY_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef enum LimitId {
    LIMIT_IMAGE_SIDE,
    LIMIT_IMAGE_PIXELS,
    LIMIT_IDX_SIDE,
    LIMIT_TENSOR_BYTES,
    LIMIT_COUNT
} LimitId;

/* The limit in force: set by limit_set, else its variable, else the default.
 * A bad variable is fatal() here when main() has not refused it before. */
int64_t limit_get(LimitId id);
/* Overrides the environment (fuzz harnesses lower the limits, tests). */
void limit_set(LimitId id, int64_t value);
/* The variable's name, e.g. "ANOMALY_MAX_IMAGE_PIXELS". */
const char *limit_env_name(LimitId id);
/* NULL, or one line naming the bad variable, its value and the allowed
 * range (the variables are read once, at start-up). */
const char *limits_env_error(void);

#endif
