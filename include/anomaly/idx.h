/* IDX files (the MNIST / Fashion-MNIST format) of unsigned bytes.
 *
 * Layout: two zero bytes, the type byte 0x08 (unsigned byte), the number of
 * dimensions, one big-endian uint32 per dimension, then the items. Images
 * are limited to LIMIT_IDX_SIDE pixels a side (anomaly/limits.h); the item count must fit the
 * data actually present, so a header that claims more is refused before
 * anything is allocated. */
#ifndef ANOMALY_IDX_H
#define ANOMALY_IDX_H

#include <stddef.h>
#include <stdint.h>

typedef struct IdxView {
    const uint8_t *items; /* into the parsed buffer */
    size_t count, item_size;
    int rows, cols;       /* images only; 1 for labels */
} IdxView;

/* Checks the header of p[0..n) for an IDX file of `dims` dimensions (1:
 * labels, 3: images). Returns 0, or -1 with a reason naming `path` in err. */
int idx_parse(const uint8_t *p, size_t n, const char *path, int dims, IdxView *x, char *err, size_t errlen);

#endif
