/* Reading zip archives held in memory: the container of PyTorch's
 * `torch.save` files. Only what such files need: one disk, stored or
 * deflated entries, ZIP64 sizes and offsets. Every field is checked against
 * the buffer before use, and entries are CRC-checked when extracted. */
#include "anomaly/error.h"
#include "anomaly/inflate.h"
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u
/* More entries than any state dict has; bounds the index before it is allocated. */
#define ZIP_MAX_ENTRIES (1u << 20)

static uint64_t rd(const uint8_t *p, int k) {
    uint64_t x = 0;
    for (int i = k - 1; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

/* The ZIP64 extended-information extra field supplies, in this order, each
 * of usize, csize and offset whose 32-bit field is 0xffffffff. */
static int zip64_extra(const uint8_t *extra, size_t n, ZipEntry *e, int need_u, int need_c, int need_o) {
    for (size_t at = 0; at + 4 <= n;) {
        size_t id = (size_t)rd(extra + at, 2), len = (size_t)rd(extra + at + 2, 2);
        if (len > n - at - 4) return -1;
        if (id == 1) {
            const uint8_t *q = extra + at + 4;
            size_t want = 8 * (size_t)(need_u + need_c + need_o);
            if (len < want) return -1;
            if (need_u) e->usize = rd(q, 8), q += 8;
            if (need_c) e->csize = rd(q, 8), q += 8;
            if (need_o) e->local_offset = rd(q, 8);
            return 0;
        }
        at += 4 + len;
    }
    return need_u || need_c || need_o ? -1 : 0;
}

static int find_eocd(const uint8_t *p, size_t n, size_t *at) {
    if (n < 22) return -1;
    size_t lowest = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (size_t i = n - 22 + 1; i-- > lowest;)
        if (rd(p + i, 4) == SIG_EOCD && i + 22 + rd(p + i + 20, 2) == n) {
            *at = i;
            return 0;
        }
    return -1;
}

int zip_open_mem(const uint8_t *p, size_t n, const char *path, ZipArchive *z, char *err, size_t errlen) {
    memset(z, 0, sizeof *z);
    z->p = p;
    z->n = n;
    size_t eocd;
    if (find_eocd(p, n, &eocd))
        return error_format(err, errlen, "%s: truncated or not a zip archive (no end-of-directory record)", path);
    uint64_t count = rd(p + eocd + 10, 2), cd_size = rd(p + eocd + 12, 4), cd_off = rd(p + eocd + 16, 4);
    if (rd(p + eocd + 4, 2) != 0 || rd(p + eocd + 6, 2) != 0)
        return error_format(err, errlen, "%s: multi-disk zip archives are not supported", path);
    if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        if (eocd < 20 || rd(p + eocd - 20, 4) != SIG_LOCATOR64)
            return error_format(err, errlen, "%s: ZIP64 archive without its locator", path);
        uint64_t rec = rd(p + eocd - 20 + 8, 8);
        if (rec > eocd - 20 || eocd - 20 - rec < 56 || rd(p + rec, 4) != SIG_EOCD64)
            return error_format(err, errlen, "%s: bad ZIP64 end-of-directory record", path);
        count = rd(p + rec + 32, 8);
        cd_size = rd(p + rec + 40, 8);
        cd_off = rd(p + rec + 48, 8);
    }
    if (cd_off > n || cd_size > n - cd_off)
        return error_format(err, errlen, "%s: truncated: the central directory runs past the end of the file", path);
    if (count > ZIP_MAX_ENTRIES || count > cd_size / 46)
        return error_format(err, errlen, "%s: %llu entries do not fit a central directory of %llu bytes", path,
                            (unsigned long long)count, (unsigned long long)cd_size);
    z->entries = xcalloc((size_t)count + 1, sizeof *z->entries, "a zip index");
    const uint8_t *q = p + cd_off, *end = q + cd_size;
    for (uint64_t i = 0; i < count; i++) {
        if (end - q < 46 || rd(q, 4) != SIG_CENTRAL) {
            zip_close(z);
            return error_format(err, errlen, "%s: central directory entry %llu is damaged", path, (unsigned long long)i);
        }
        ZipEntry *e = &z->entries[z->count];
        size_t name_n = (size_t)rd(q + 28, 2), extra_n = (size_t)rd(q + 30, 2), comment_n = (size_t)rd(q + 32, 2);
        if ((size_t)(end - q) - 46 < name_n + extra_n + comment_n) {
            zip_close(z);
            return error_format(err, errlen, "%s: central directory entry %llu runs past the directory", path,
                                (unsigned long long)i);
        }
        e->flags = (unsigned)rd(q + 8, 2);
        e->method = (unsigned)rd(q + 10, 2);
        e->crc = (uint32_t)rd(q + 16, 4);
        e->csize = rd(q + 20, 4);
        e->usize = rd(q + 24, 4);
        e->local_offset = rd(q + 42, 4);
        e->name = xmalloc(name_n + 1, "a zip entry name");
        memcpy(e->name, q + 46, name_n);
        e->name[name_n] = 0;
        z->count++;
        if (strlen(e->name) != name_n ||
            zip64_extra(q + 46 + name_n, extra_n, e, e->usize == 0xffffffffu, e->csize == 0xffffffffu,
                        e->local_offset == 0xffffffffu)) {
            zip_close(z);
            return error_format(err, errlen, "%s: entry %llu has a bad name or ZIP64 field", path, (unsigned long long)i);
        }
        q += 46 + name_n + extra_n + comment_n;
    }
    return 0;
}

void zip_close(ZipArchive *z) {
    for (size_t i = 0; i < z->count; i++) free(z->entries[i].name);
    free(z->entries);
    memset(z, 0, sizeof *z);
}

const ZipEntry *zip_find(const ZipArchive *z, const char *name) {
    for (size_t i = 0; i < z->count; i++)
        if (strcmp(z->entries[i].name, name) == 0) return &z->entries[i];
    return NULL;
}

int zip_extract(const ZipArchive *z, const ZipEntry *e, const char *path, uint64_t max_size, const uint8_t **data,
                uint8_t **owned, char *err, size_t errlen) {
    *data = NULL;
    *owned = NULL;
    const uint8_t *p = z->p;
    uint64_t at = e->local_offset;
    if (e->flags & 1) return error_format(err, errlen, "%s: entry %s is encrypted", path, e->name);
    if (e->method != 0 && e->method != 8)
        return error_format(err, errlen, "%s: entry %s uses compression method %u (only stored and deflate are read)",
                            path, e->name, e->method);
    if (e->usize > max_size)
        return error_format(err, errlen, "%s: entry %s holds %llu bytes, more than the %llu allowed", path, e->name,
                            (unsigned long long)e->usize, (unsigned long long)max_size);
    if (at > z->n || z->n - at < 30 || rd(p + at, 4) != SIG_LOCAL)
        return error_format(err, errlen, "%s: truncated or damaged: entry %s has no local header", path, e->name);
    size_t name_n = (size_t)rd(p + at + 26, 2), extra_n = (size_t)rd(p + at + 28, 2);
    uint64_t start = at + 30 + name_n + extra_n;
    if (start > z->n || z->n - start < e->csize)
        return error_format(err, errlen, "%s: truncated: entry %s runs past the end of the file", path, e->name);
    if (name_n != strlen(e->name) || memcmp(p + at + 30, e->name, name_n) != 0)
        return error_format(err, errlen, "%s: entry %s: local and central names differ", path, e->name);
    const uint8_t *src = p + start;
    if (e->method == 0) {
        if (e->csize != e->usize)
            return error_format(err, errlen, "%s: stored entry %s has sizes %llu and %llu", path, e->name,
                                (unsigned long long)e->csize, (unsigned long long)e->usize);
        *data = src;
    } else {
        size_t got, used;
        char why[256];
        if (inflate_raw(src, (size_t)e->csize, (size_t)e->usize, owned, &got, &used, why, sizeof why))
            return error_format(err, errlen, "%s: entry %s: %s", path, e->name, why);
        if (got != e->usize) {
            free(*owned);
            *owned = NULL;
            return error_format(err, errlen, "%s: entry %s inflates to %zu bytes, not %llu", path, e->name, got,
                                (unsigned long long)e->usize);
        }
        *data = *owned;
    }
    if (crc32_update(0, *data, (size_t)e->usize) != e->crc) {
        free(*owned);
        *owned = NULL;
        *data = NULL;
        return error_format(err, errlen, "%s: entry %s fails its CRC-32 check", path, e->name);
    }
    return 0;
}
