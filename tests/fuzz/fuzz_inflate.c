/* DEFLATE and gzip decoding (inflate_raw, gzip_decode), output capped at
 * 1 MiB as a caller's limit would. */
#include "anomaly/inflate.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *out;
    size_t n, used;
    char err[256];
    if (inflate_raw(data, size, 1 << 20, &out, &n, &used, err, sizeof err) == 0) free(out);
    if (gzip_decode(data, size, 1 << 20, &out, &n, err, sizeof err) == 0) free(out);
    return 0;
}
