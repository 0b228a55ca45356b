/* The PNG (libpng) wrapper of image_read: errors, limits, conversion to RGB.
 * The input gets the signature in front when it lacks it, so that every
 * input reaches the decoder. The pixel limit is lowered to 65536 (the
 * seeds are far smaller) so that a header claiming a huge image is refused
 * rather than decoded row by row for seconds; the check is the same. */
#include "anomaly/image.h"
#include "anomaly/limits.h"
#include "fuzz_file.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    limit_set(LIMIT_IMAGE_PIXELS, 1 << 16);
    static const uint8_t sig[8] = {0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a};
    uint8_t *buf = malloc(size + 8);
    if (!buf) return 0;
    size_t n = 0;
    if (size < 8 || memcmp(data, sig, 8) != 0) {
        memcpy(buf, sig, 8);
        n = 8;
    }
    if (size) memcpy(buf + n, data, size);
    Image img;
    char err[512];
    if (image_read(fuzz_file(buf, n + size, ".img"), &img, err, sizeof err) == 0) image_free(&img);
    free(buf);
    return 0;
}
