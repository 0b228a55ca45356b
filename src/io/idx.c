#include "anomaly/idx.h"
#include "anomaly/error.h"
#include "anomaly/limits.h"

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int idx_parse(const uint8_t *p, size_t n, const char *path, int dims, IdxView *x, char *err, size_t errlen) {
    if (n < 4 || p[0] || p[1]) return error_format(err, errlen, "%s is not an IDX file (bad magic number)", path);
    if (p[2] != 0x08)
        return error_format(err, errlen, "%s holds IDX type 0x%02x; only unsigned bytes (0x08) are supported",
                            path, p[2]);
    if (p[3] != dims)
        return error_format(err, errlen, "%s has %d dimensions, expected %d (%s)", path, p[3], dims,
                            dims == 1 ? "labels" : "images");
    if (n < 4 + 4 * (size_t)dims) return error_format(err, errlen, "%s is truncated (in its header)", path);
    x->count = be32(p + 4);
    x->item_size = 1;
    x->rows = x->cols = 1;
    if (dims == 3) {
        uint32_t r = be32(p + 8), c = be32(p + 12);
        const int64_t side = limit_get(LIMIT_IDX_SIDE);
        if (r < 1 || c < 1 || r > side || c > side)
            return error_format(err, errlen, "%s: images of %ux%u pixels are not supported (at most %lld a side: %s)",
                                path, r, c, (long long)side, limit_env_name(LIMIT_IDX_SIDE));
        x->rows = (int)r, x->cols = (int)c;
        x->item_size = (size_t)r * c;
    }
    size_t head = 4 + 4 * (size_t)dims;
    if ((n - head) / x->item_size < x->count)
        return error_format(err, errlen, "%s is truncated: %zu items declared, data for %zu", path, x->count,
                            (n - head) / x->item_size);
    x->items = p + head;
    return 0;
}
