/* IDX files (import-idx): the gzip layer, then the header of an image file
 * and of a label file; every declared item is read. The decompressed size
 * is capped at 1 MiB and the side at 256 (the seeds are far smaller), so
 * that a gzip bomb costs milliseconds; the checks are the same. */
#include "anomaly/idx.h"
#include "anomaly/inflate.h"
#include "anomaly/limits.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    uint8_t *bytes;
    size_t n;
    char err[512];
    limit_set(LIMIT_IDX_SIDE, 256);
    if (read_file_maybe_gzip(fuzz_file(data, size, ".idx"), 1 << 20, &bytes, &n, err, sizeof err)) return 0;
    for (int dims = 1; dims <= 3; dims += 2) {
        IdxView v;
        if (idx_parse(bytes, n, "fuzz.idx", dims, &v, err, sizeof err) == 0) {
            unsigned sum = 0;
            for (size_t i = 0; i < v.count * v.item_size; i++) sum += v.items[i];
            (void)sum;
        }
    }
    free(bytes);
    return 0;
}
