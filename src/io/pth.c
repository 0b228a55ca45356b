/* PyTorch `torch.save` files (the zip format) turned into safetensors bytes
 * in memory, so every reader of tensors takes them as they are.
 *
 * The archive holds `<prefix>/data.pkl` (read by the restricted pickle
 * reader of pickle.c), one `<prefix>/data/<key>` entry per storage, and
 * optionally `<prefix>/byteorder`. Each tensor is a view of a storage (an
 * offset and strides, possibly shared with other tensors or non-contiguous);
 * it is gathered into C order. Every index is checked against its storage,
 * and the total output is bounded before anything is allocated. */
#include "anomaly/error.h"
#include "anomaly/json.h"
#include "anomaly/limits.h"
#include "anomaly/safetensors.h"
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

/* A state dict rarely grows when its views are gathered; expanded (stride 0)
 * tensors could, so the output is bounded by LIMIT_TENSOR_BYTES or 4x the
 * file, whichever is more. */

int pth_is_zip(const uint8_t *p, size_t n) { return n >= 4 && memcmp(p, "PK\x03\x04", 4) == 0; }

/* The entry `<prefix>/data.pkl` whose prefix has no '/'; its prefix length. */
static const ZipEntry *find_pickle(const ZipArchive *z, size_t *prefix) {
    for (size_t i = 0; i < z->count; i++) {
        const char *name = z->entries[i].name, *slash = strchr(name, '/');
        if (slash && strcmp(slash, "/data.pkl") == 0) {
            *prefix = (size_t)(slash - name);
            return &z->entries[i];
        }
    }
    return NULL;
}

/* numel and the highest element index a view reaches; -1 on overflow. */
static int view_extent(const TorchTensorRef *r, uint64_t *numel, uint64_t *last) {
    uint64_t n = 1, hi = (uint64_t)r->offset;
    for (int d = 0; d < r->ndim; d++) {
        uint64_t s = (uint64_t)r->shape[d], st = (uint64_t)r->stride[d];
        if (s && n > (UINT64_MAX >> 8) / s) return -1;
        n *= s;
        if (s && st > (UINT64_MAX >> 8) / s) return -1;
        hi += (s ? s - 1 : 0) * st;
        if (hi > (UINT64_MAX >> 8)) return -1;
    }
    *numel = n;
    *last = hi;
    return 0;
}

/* Copies the view into out in C order. */
static void gather(const TorchTensorRef *r, const uint8_t *storage, size_t es, uint8_t *out, uint64_t numel) {
    int64_t idx[TORCH_MAX_DIMS] = {0};
    for (uint64_t k = 0; k < numel; k++) {
        uint64_t at = (uint64_t)r->offset;
        for (int d = 0; d < r->ndim; d++) at += (uint64_t)idx[d] * (uint64_t)r->stride[d];
        memcpy(out + k * es, storage + at * es, es);
        for (int d = r->ndim - 1; d >= 0; d--) {
            if (++idx[d] < r->shape[d]) break;
            idx[d] = 0;
        }
    }
}

typedef struct Storage {
    const char *key;
    int dtype;
    int64_t numel;
    const uint8_t *data;
    uint8_t *owned;
} Storage;

int pth_to_safetensors(const char *path, const uint8_t *p, size_t n, unsigned char **out, size_t *out_n, char *err,
                       size_t errlen) {
    *out = NULL;
    *out_n = 0;
    ZipArchive z;
    if (zip_open_mem(p, n, path, &z, err, errlen)) return -1;
    size_t prefix;
    const ZipEntry *pk = find_pickle(&z, &prefix);
    if (!pk) {
        zip_close(&z);
        return error_format(err, errlen, "%s: a zip archive without data.pkl (not a torch.save file)", path);
    }
    char entry[512];
    snprintf(entry, sizeof entry, "%.*s/byteorder", (int)prefix, pk->name);
    const ZipEntry *bo = zip_find(&z, entry);
    const uint8_t *data;
    uint8_t *owned = NULL;
    int rc = 0;
    if (bo) {
        rc = zip_extract(&z, bo, path, 16, &data, &owned, err, errlen);
        if (!rc && !(bo->usize == 6 && memcmp(data, "little", 6) == 0))
            rc = error_format(err, errlen, "%s: big-endian tensors are not supported", path);
        free(owned);
        owned = NULL;
    }
    TorchPickle tp = {NULL, 0};
    if (!rc) rc = zip_extract(&z, pk, path, (uint64_t)1 << 30, &data, &owned, err, errlen);
    if (!rc) {
        char where[600];
        snprintf(where, sizeof where, "%s: %s", path, pk->name);
        rc = torch_pickle_read(data, (size_t)pk->usize, where, &tp, err, errlen);
        free(owned);
    }
    /* Check every view against its storage and bound the output. */
    uint64_t total = 0, limit = (uint64_t)limit_get(LIMIT_TENSOR_BYTES);
    if (limit < 4 * (uint64_t)n) limit = 4 * (uint64_t)n;
    Storage *st = xcalloc(tp.count + 1, sizeof *st, "a storage list");
    size_t n_st = 0;
    for (size_t i = 0; i < tp.count && !rc; i++) {
        const TorchTensorRef *r = &tp.tensors[i];
        const char *name = r->name ? r->name : "tensor";
        size_t es = st_dtype_size((StDtype)r->dtype);
        uint64_t numel, last;
        if (view_extent(r, &numel, &last))
            rc = error_format(err, errlen, "%s: tensor '%s': shape and strides overflow", path, name);
        else if (numel && last >= (uint64_t)r->storage_numel)
            rc = error_format(err, errlen, "%s: tensor '%s' reaches element %llu of a storage of %lld", path, name,
                              (unsigned long long)last, (long long)r->storage_numel);
        else if ((total += numel * es) > limit)
            rc = error_format(err, errlen, "%s: the tensors would take more than %llu bytes (%s, or 4x the file)",
                              path, (unsigned long long)limit, limit_env_name(LIMIT_TENSOR_BYTES));
        size_t s = 0;
        while (s < n_st && strcmp(st[s].key, r->storage_key) != 0) s++;
        if (!rc && s < n_st && (st[s].dtype != r->dtype || st[s].numel != r->storage_numel))
            rc = error_format(err, errlen, "%s: tensor '%s' names storage %s with another type or size", path, name,
                              r->storage_key);
        if (rc || s < n_st) continue;
        snprintf(entry, sizeof entry, "%.*s/data/%s", (int)prefix, pk->name, r->storage_key);
        const ZipEntry *e = zip_find(&z, entry);
        if (!e) {
            rc = error_format(err, errlen, "%s: tensor '%s': storage entry %s is missing", path, name, entry);
        } else if (e->usize != (uint64_t)r->storage_numel * es) {
            rc = error_format(err, errlen, "%s: storage %s holds %llu bytes, not %lld elements of %zu", path, entry,
                              (unsigned long long)e->usize, (long long)r->storage_numel, es);
        } else {
            st[n_st].key = r->storage_key;
            st[n_st].dtype = r->dtype;
            st[n_st].numel = r->storage_numel;
            rc = zip_extract(&z, e, path, e->usize, &st[n_st].data, &st[n_st].owned, err, errlen);
            n_st++;
        }
    }
    if (!rc) {
        JsonBuf h;
        json_buf_init(&h);
        json_buf_puts(&h, "{");
        uint64_t at = 0;
        for (size_t i = 0; i < tp.count; i++) {
            const TorchTensorRef *r = &tp.tensors[i];
            uint64_t numel, last;
            view_extent(r, &numel, &last);
            uint64_t nb = numel * st_dtype_size((StDtype)r->dtype);
            if (i) json_buf_puts(&h, ",");
            json_buf_string(&h, r->name ? r->name : "tensor");
            json_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name((StDtype)r->dtype));
            for (int d = 0; d < r->ndim; d++) json_buf_printf(&h, d ? ",%lld" : "%lld", (long long)r->shape[d]);
            json_buf_printf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                            (unsigned long long)(at + nb));
            at += nb;
        }
        json_buf_puts(&h, "}");
        size_t size = 8 + h.len + (size_t)at;
        uint8_t *buf = xmalloc(size, "tensors read from a .pth file");
        for (int k = 0; k < 8; k++) buf[k] = (uint8_t)((uint64_t)h.len >> (8 * k));
        memcpy(buf + 8, h.data, h.len);
        uint8_t *dst = buf + 8 + h.len;
        for (size_t i = 0; i < tp.count; i++) {
            const TorchTensorRef *r = &tp.tensors[i];
            size_t s = 0, es = st_dtype_size((StDtype)r->dtype);
            while (strcmp(st[s].key, r->storage_key) != 0) s++;
            uint64_t numel, last;
            view_extent(r, &numel, &last);
            gather(r, st[s].data, es, dst, numel);
            dst += numel * es;
        }
        json_buf_free(&h);
        *out = buf;
        *out_n = size;
    }
    for (size_t s = 0; s < n_st; s++) free(st[s].owned);
    free(st);
    torch_pickle_free(&tp);
    zip_close(&z);
    return rc;
}
