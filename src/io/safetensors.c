#include "anomaly/safetensors.h"
#include "anomaly/atomic_file.h"
#include "anomaly/error.h"
#include "anomaly/inflate.h"
#include "anomaly/json.h"
#include "io_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The reference implementation refuses larger headers; so do we. */
#define ST_MAX_HEADER 100000000ull

/* Our files carry a CRC-32 of the whole file in two __metadata__ entries,
 * as 8 lowercase hex digits each, computed with both sets of digits read as
 * "00000000": any changed byte (header, metadata or data) fails the check.
 * Two, because a flipped byte in the one key's name would otherwise make a
 * corrupt file look like a file without a checksum: with either name
 * damaged, the other entry's check counts the damaged entry's digits and
 * fails. Files with neither entry (PyTorch's, NumPy's) load unchecked. */
static const char *const ST_CRC_KEYS[2] = {"anomaly.crc32", "anomaly.crc32.copy"};
#define ST_CRC_ZERO "00000000"

static const struct { const char *name; size_t size; } DTYPES[] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},   [ST_I8] = {"I8", 1},
    [ST_F8_E4M3] = {"F8_E4M3", 1}, [ST_F8_E5M2] = {"F8_E5M2", 1},
    [ST_I16] = {"I16", 2},   [ST_U16] = {"U16", 2}, [ST_F16] = {"F16", 2},
    [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4}, [ST_U32] = {"U32", 4},
    [ST_F32] = {"F32", 4},   [ST_I64] = {"I64", 8}, [ST_U64] = {"U64", 8},
    [ST_F64] = {"F64", 8},
};
#define N_DTYPES ((int)(sizeof DTYPES / sizeof DTYPES[0]))

const char *st_dtype_name(StDtype d) { return (int)d < N_DTYPES ? DTYPES[d].name : "?"; }
size_t st_dtype_size(StDtype d) { return (int)d < N_DTYPES ? DTYPES[d].size : 0; }

int st_dtype_parse(const char *name, StDtype *d) {
    for (int i = 0; i < N_DTYPES; i++)
        if (strcmp(DTYPES[i].name, name) == 0) { *d = (StDtype)i; return 0; }
    return -1;
}

static int host_is_little(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

static int set_err(char *err, size_t errlen, const char *path, const char *fmt, ...)
    ANOMALY_PRINTF(4, 5);
static int set_err(char *err, size_t errlen, const char *path, const char *fmt, ...) {
    if (err && errlen) {
        int n = snprintf(err, errlen, "%s: ", path);
        if (n >= 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

void st_format_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = 0;
    if (!n) return;
    buf[0] = '\0';
    for (int i = -1; i <= ndim; i++) {
        int w = i < 0 ? snprintf(buf + k, n - k, "[")
                : i == ndim ? snprintf(buf + k, n - k, "]")
                : snprintf(buf + k, n - k, i ? ", %lld" : "%lld", (long long)shape[i]);
        if (w < 0 || (size_t)w >= n - k) return;
        k += (size_t)w;
    }
}

/* ---- reading ---- */

static int parse_entry(const char *path, const JsonMember *m, StTensor *t, size_t begin_end[2],
                       char *err, size_t errlen) {
    const JsonValue *v = &m->value;
    const char *name = m->key;
    if (v->type != JSON_OBJECT)
        return set_err(err, errlen, path, "tensor '%s': entry is a %s, not an object", name,
                       json_type_name(v->type));
    const JsonValue *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"),
                    *off = json_object_get(v, "data_offsets");
    if (!dt || !sh || !off)
        return set_err(err, errlen, path, "tensor '%s': missing \"%s\"", name,
                       !dt ? "dtype" : !sh ? "shape" : "data_offsets");
    if (json_object_find_duplicate(v) >= 0)
        return set_err(err, errlen, path, "tensor '%s': a field appears twice", name);
    if (dt->type != JSON_STRING || st_dtype_parse(dt->str, &t->dtype))
        return set_err(err, errlen, path, "tensor '%s': unknown dtype %s%s%s", name,
                       dt->type == JSON_STRING ? "\"" : "",
                       dt->type == JSON_STRING ? dt->str : json_type_name(dt->type),
                       dt->type == JSON_STRING ? "\"" : "");
    if (sh->type != JSON_ARRAY)
        return set_err(err, errlen, path, "tensor '%s': shape is not an array", name);
    if (sh->count > ST_MAX_DIMS)
        return set_err(err, errlen, path, "tensor '%s': rank %zu is above %d", name, sh->count,
                       ST_MAX_DIMS);
    t->ndim = (int)sh->count;
    t->numel = 1;
    size_t esz = st_dtype_size(t->dtype);
    for (size_t i = 0; i < sh->count; i++) {
        const JsonValue *d = &sh->items[i];
        if (d->type != JSON_NUMBER || !d->is_int || d->integer < 0)
            return set_err(err, errlen, path, "tensor '%s': shape[%zu] is not a non-negative integer",
                           name, i);
        t->shape[i] = d->integer;
        if (d->integer && t->numel > (SIZE_MAX / esz) / (uint64_t)d->integer)
            return set_err(err, errlen, path, "tensor '%s': shape too large", name);
        t->numel *= (size_t)d->integer;
    }
    t->nbytes = t->numel * esz;
    if (off->type != JSON_ARRAY || off->count != 2)
        return set_err(err, errlen, path, "tensor '%s': data_offsets must be [begin, end]", name);
    for (int i = 0; i < 2; i++) {
        const JsonValue *o = &off->items[i];
        if (o->type != JSON_NUMBER || !o->is_int || o->integer < 0)
            return set_err(err, errlen, path, "tensor '%s': data_offsets[%d] is not a non-negative integer",
                           name, i);
        begin_end[i] = (size_t)o->integer;
    }
    if (begin_end[1] < begin_end[0])
        return set_err(err, errlen, path, "tensor '%s': data_offsets [%zu, %zu] end before they begin",
                       name, begin_end[0], begin_end[1]);
    if (begin_end[1] - begin_end[0] != t->nbytes) {
        char shp[128];
        st_format_shape(shp, sizeof shp, t->ndim, t->shape);
        return set_err(err, errlen, path, "tensor '%s': %s %s needs %zu bytes, data_offsets [%zu, %zu] give %zu",
                       name, st_dtype_name(t->dtype), shp, t->nbytes, begin_end[0], begin_end[1],
                       begin_end[1] - begin_end[0]);
    }
    return 0;
}

typedef struct Span {
    size_t begin, end;
    int idx;
} Span;

static int cmp_span(const void *a, const void *b) {
    const Span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return x->idx - y->idx;
}

static int parse_metadata(const char *path, const JsonValue *v, SafeTensors *st, char *err,
                          size_t errlen) {
    if (v->type == JSON_NULL) return 0;
    if (v->type != JSON_OBJECT)
        return set_err(err, errlen, path, "__metadata__ is a %s, not an object", json_type_name(v->type));
    if (json_object_find_duplicate(v) >= 0)
        return set_err(err, errlen, path, "__metadata__ has a repeated key");
    st->meta_keys = xcalloc(v->count + 1, sizeof(char *), "metadata");
    st->meta_values = xcalloc(v->count + 1, sizeof(char *), "metadata");
    for (size_t i = 0; i < v->count; i++) {
        const JsonMember *m = &v->members[i];
        if (m->value.type != JSON_STRING)
            return set_err(err, errlen, path, "__metadata__ value of '%s' is a %s, not a string", m->key,
                           json_type_name(m->value.type));
        st->meta_keys[i] = xstrdup(m->key);
        st->meta_values[i] = xstrdup(m->value.str);
        st->n_meta++;
    }
    return 0;
}

/* Verifies the file's checksum entries, when it has any. */
static int check_crc(const char *path, const SafeTensors *st, const JsonValue *root, char *err,
                     size_t errlen) {
    const JsonValue *meta = json_object_get(root, "__metadata__");
    if (!meta || meta->type != JSON_OBJECT) return 0;
    size_t at[2]; /* file offsets of each entry's first digit; 0 when absent */
    uint32_t stored[2] = {0, 0};
    int found = 0;
    for (int k = 0; k < 2; k++) {
        const JsonValue *v = json_object_get(meta, ST_CRC_KEYS[k]);
        at[k] = 0;
        if (!v) continue;
        at[k] = 8 + v->pos + 1;
        int ok = v->type == JSON_STRING && v->len == 8 && at[k] + 9 <= st->size && st->bytes[at[k] + 8] == '"' &&
                 memcmp(st->bytes + at[k], v->str, 8) == 0;
        for (int i = 0; ok && i < 8; i++) {
            const char c = v->str[i];
            ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
            stored[k] = stored[k] << 4 | (uint32_t)(c <= '9' ? c - '0' : c - 'a' + 10);
        }
        if (!ok) return set_err(err, errlen, path, "corrupt file: its %s entry is malformed", ST_CRC_KEYS[k]);
        found |= 1 << k;
    }
    if (!found) return 0;
    if (found == 3 && stored[0] != stored[1])
        return set_err(err, errlen, path, "corrupt file: its two checksums differ");
    /* the CRC of the file with each present entry's digits as zeros */
    const int first = found == 3 && at[1] < at[0] ? 1 : 0;
    size_t from = 0;
    uint32_t crc = 0;
    for (int j = 0; j < 2; j++) {
        const int k = j == 0 ? first : 1 - first;
        if (!(found >> k & 1)) continue;
        crc = crc32_update(crc, st->bytes + from, at[k] - from);
        crc = crc32_update(crc, (const uint8_t *)ST_CRC_ZERO, 8);
        from = at[k] + 8;
    }
    crc = crc32_update(crc, st->bytes + from, st->size - from);
    const uint32_t want = stored[found & 1 ? 0 : 1];
    if (crc != want)
        return set_err(err, errlen, path, "corrupt file: checksum mismatch (%08x in the header, %08x computed)",
                       (unsigned)want, (unsigned)crc);
    return 0;
}

static int parse_header(const char *path, SafeTensors *st, char *err, size_t errlen) {
    if (st->size < 8)
        return set_err(err, errlen, path, "too short for a safetensors file (%zu bytes)", st->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | st->bytes[i];
    if (n > st->size - 8)
        return set_err(err, errlen, path, "header length %llu runs past the end of the file (%zu bytes)",
                       (unsigned long long)n, st->size);
    if (n > ST_MAX_HEADER)
        return set_err(err, errlen, path, "header length %llu is too large", (unsigned long long)n);
    if (n == 0 || st->bytes[8] != '{')
        return set_err(err, errlen, path, "header does not start with '{' (not a safetensors file?)");
    char why[256];
    JsonValue *root = json_parse((const char *)st->bytes + 8, (size_t)n, why, sizeof why);
    if (!root) return set_err(err, errlen, path, "invalid header JSON, %s (byte 0 = file byte 8)", why);
    int rc = 0;
    size_t data_size = st->size - 8 - (size_t)n;
    const unsigned char *data = st->bytes + 8 + n;
    Span *spans = NULL;
    if (root->type != JSON_OBJECT) {
        rc = set_err(err, errlen, path, "header is a JSON %s, not an object", json_type_name(root->type));
        goto done;
    }
    rc = check_crc(path, st, root, err, errlen);
    if (rc) goto done;
    long dup = json_object_find_duplicate(root);
    if (dup >= 0) {
        rc = set_err(err, errlen, path, "tensor name '%s' appears twice", root->members[dup].key);
        goto done;
    }
    st->tensors = xcalloc(root->count + 1, sizeof *st->tensors, "a tensor index");
    spans = xmalloc((root->count + 1) * sizeof *spans, "a tensor index");
    for (size_t i = 0; i < root->count && !rc; i++) {
        const JsonMember *m = &root->members[i];
        if (strcmp(m->key, "__metadata__") == 0) {
            rc = parse_metadata(path, &m->value, st, err, errlen);
            continue;
        }
        if (strlen(m->key) != m->key_len) {
            rc = set_err(err, errlen, path, "a tensor name contains a NUL character");
            break;
        }
        StTensor *t = &st->tensors[st->count];
        size_t be[2] = {0, 0};
        rc = parse_entry(path, m, t, be, err, errlen);
        if (rc) break;
        if (be[1] > data_size) {
            rc = set_err(err, errlen, path, "tensor '%s': data_offsets [%zu, %zu] run past the data (%zu bytes)",
                         m->key, be[0], be[1], data_size);
            break;
        }
        t->name = xstrdup(m->key);
        t->data = data + be[0];
        spans[st->count] = (Span){be[0], be[1], st->count};
        st->count++;
    }
    if (rc) goto done;
    qsort(spans, (size_t)st->count, sizeof *spans, cmp_span);
    size_t at = 0;
    for (int i = 0; i < st->count; i++) {
        const char *name = st->tensors[spans[i].idx].name;
        if (spans[i].begin < at) {
            rc = set_err(err, errlen, path, "tensors '%s' and '%s' overlap", st->tensors[spans[i - 1].idx].name,
                         name);
            goto done;
        }
        if (spans[i].begin > at) {
            rc = set_err(err, errlen, path, "%zu bytes of data before tensor '%s' belong to no tensor",
                         spans[i].begin - at, name);
            goto done;
        }
        at = spans[i].end;
    }
    if (at != data_size)
        rc = set_err(err, errlen, path, "%zu bytes at the end of the data belong to no tensor", data_size - at);
done:
    free(spans);
    json_free(root);
    return rc;
}

int safetensors_parse(const char *path, unsigned char *bytes, size_t size, SafeTensors *st,
                      char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    st->path = xstrdup(path);
    st->bytes = bytes;
    st->size = size;
    if (!host_is_little()) {
        safetensors_close(st);
        return set_err(err, errlen, path, "safetensors needs a little-endian host");
    }
    if (parse_header(path, st, err, errlen)) {
        safetensors_close(st);
        return -1;
    }
    return 0;
}

int safetensors_open(const char *path, SafeTensors *st, char *err, size_t errlen) {
    memset(st, 0, sizeof *st);
    FILE *fp = fopen(path, "rb");
    if (!fp) return set_err(err, errlen, path, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return set_err(err, errlen, path, "not a regular file");
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *bytes = xmalloc(size, "a safetensors file");
    if (fread(bytes, 1, size, fp) != size) {
        fclose(fp);
        free(bytes);
        return set_err(err, errlen, path, "read error");
    }
    fclose(fp);
    /* torch.save before PyTorch 1.6: a bare pickle that opens with its magic
     * number 0x1950a86a20f9469cfc6c as a LONG1 */
    static const unsigned char legacy[14] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                             0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};
    if (size >= sizeof legacy && memcmp(bytes, legacy, sizeof legacy) == 0) {
        free(bytes);
        return set_err(err, errlen, path, "a PyTorch file in the legacy (pre-1.6) format: re-save it with a newer "
                                          "torch.save, or convert it with tools/convert_checkpoint.py");
    }
    /* a torch.save file, whatever its name (a zip's byte 8 is its first
     * entry's method, never the '{' a safetensors header starts with) */
    if (pth_is_zip(bytes, size) && !(size > 8 && bytes[8] == '{')) {
        unsigned char *converted;
        size_t n;
        int rc = pth_to_safetensors(path, bytes, size, &converted, &n, err, errlen);
        free(bytes);
        if (rc) return -1;
        bytes = converted;
        size = n;
    }
    return safetensors_parse(path, bytes, size, st, err, errlen);
}

void safetensors_close(SafeTensors *st) {
    for (int i = 0; i < st->count; i++) free(st->tensors[i].name);
    for (int i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_values[i]);
    }
    free(st->tensors);
    free(st->meta_keys);
    free(st->meta_values);
    free(st->bytes);
    free(st->path);
    memset(st, 0, sizeof *st);
}

const StTensor *safetensors_find(const SafeTensors *st, const char *name) {
    for (int i = 0; i < st->count; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

const StTensor *safetensors_find_param(const SafeTensors *st, const char *name) {
    const StTensor *t = safetensors_find(st, name);
    if (t || strchr(name, '.')) return t;
    char alias[PARAM_NAME_MAX + 8];
    if ((size_t)snprintf(alias, sizeof alias, "%s.weight", name) >= sizeof alias) return NULL;
    return safetensors_find(st, alias);
}

/* The table entry a file's tensor is read into (see safetensors_find_param),
 * or -1. */
static int param_of_file_name(const ParamTable *t, const char *name) {
    int i = params_find(t, name);
    size_t n = strlen(name);
    if (i >= 0 || n <= 7 || strcmp(name + n - 7, ".weight") != 0) return i;
    char bare[PARAM_NAME_MAX + 1];
    if (n - 7 >= sizeof bare) return -1;
    memcpy(bare, name, n - 7);
    bare[n - 7] = 0;
    return strchr(bare, '.') ? -1 : params_find(t, bare);
}

const char *safetensors_meta(const SafeTensors *st, const char *key) {
    for (int i = 0; i < st->n_meta; i++)
        if (strcmp(st->meta_keys[i], key) == 0) return st->meta_values[i];
    return NULL;
}

int st_tensor_to_real(const StTensor *t, real *out) {
    if (t->dtype == ST_F32) {
        for (size_t i = 0; i < t->numel; i++) {
            float v;
            memcpy(&v, t->data + 4 * i, 4);
            out[i] = (real)v;
        }
        return 0;
    }
    if (t->dtype == ST_F64) {
        for (size_t i = 0; i < t->numel; i++) {
            double v;
            memcpy(&v, t->data + 8 * i, 8);
            out[i] = (real)v;
        }
        return 0;
    }
    return -1;
}

int st_tensor_to_i64(const StTensor *t, int64_t *out) {
    if (t->dtype == ST_I64) {
        memcpy(out, t->data, t->nbytes);
        return 0;
    }
    if (t->dtype == ST_I32) {
        for (size_t i = 0; i < t->numel; i++) {
            int32_t v;
            memcpy(&v, t->data + 4 * i, 4);
            out[i] = v;
        }
        return 0;
    }
    return -1;
}

/* ---- writing ---- */

enum { SRC_OWNED, SRC_REAL, SRC_I64 }; /* SRC_REAL / SRC_I64 borrow caller memory */

struct StWriterEntry {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    int src;
    const void *borrowed;
    unsigned char *owned; /* numel * dtype size bytes, ready to write */
};

void st_writer_init(StWriter *w) { memset(w, 0, sizeof *w); }

void st_writer_free(StWriter *w) {
    for (int i = 0; i < w->count; i++) {
        free(w->entries[i].name);
        free(w->entries[i].owned);
    }
    for (int i = 0; i < w->n_meta; i++) {
        free(w->meta_keys[i]);
        free(w->meta_values[i]);
    }
    free(w->entries);
    free(w->meta_keys);
    free(w->meta_values);
    memset(w, 0, sizeof *w);
}

void st_writer_meta(StWriter *w, const char *key, const char *value) {
    for (int i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta_keys[i], key) == 0) {
            free(w->meta_values[i]);
            w->meta_values[i] = xstrdup(value);
            return;
        }
    if (w->n_meta == w->cap_meta) {
        w->cap_meta = w->cap_meta ? 2 * w->cap_meta : 8;
        w->meta_keys = xrealloc(w->meta_keys, (size_t)w->cap_meta * sizeof(char *), "metadata");
        w->meta_values = xrealloc(w->meta_values, (size_t)w->cap_meta * sizeof(char *), "metadata");
    }
    w->meta_keys[w->n_meta] = xstrdup(key);
    w->meta_values[w->n_meta++] = xstrdup(value);
}

static StWriterEntry *new_entry(StWriter *w, const char *name, StDtype dtype, int ndim,
                                const int64_t *shape) {
    if (strcmp(name, "__metadata__") == 0 || !*name) fatal("invalid tensor name '%s'", name);
    if (ndim < 0 || ndim > ST_MAX_DIMS) fatal("tensor %s: rank %d is not supported", name, ndim);
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->entries[i].name, name) == 0) fatal("tensor %s added twice to one file", name);
    if (w->count == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->entries = xrealloc(w->entries, (size_t)w->cap * sizeof *w->entries, "a tensor list");
    }
    StWriterEntry *e = &w->entries[w->count++];
    memset(e, 0, sizeof *e);
    e->name = xstrdup(name);
    e->dtype = dtype;
    e->ndim = ndim;
    e->numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) fatal("tensor %s: negative dimension", name);
        e->shape[i] = shape[i];
        e->numel *= (size_t)shape[i];
    }
    return e;
}

void st_writer_add_raw(StWriter *w, const char *name, StDtype dtype, const void *data, int ndim,
                       const int64_t *shape) {
    StWriterEntry *e = new_entry(w, name, dtype, ndim, shape);
    size_t n = e->numel * st_dtype_size(dtype);
    e->owned = xmalloc(n, "tensor data");
    if (n) memcpy(e->owned, data, n);
}

void st_writer_add_i64(StWriter *w, const char *name, const int64_t *data, int ndim,
                       const int64_t *shape) {
    st_writer_add_raw(w, name, ST_I64, data, ndim, shape);
}

void st_writer_add_real(StWriter *w, const char *name, const real *data, int ndim,
                        const int64_t *shape) {
    StWriterEntry *e = new_entry(w, name, ST_F32, ndim, shape);
    e->owned = xmalloc(e->numel * 4, "tensor data");
    for (size_t i = 0; i < e->numel; i++) {
        float v = (float)data[i];
        memcpy(e->owned + 4 * i, &v, 4);
    }
}

void st_writer_add_params(StWriter *w, const ParamTable *t) {
    if (!t->finalized) fatal("cannot save a parameter table that is not finalized");
    for (int i = 0; i < t->count; i++) {
        const ParamEntry *p = &t->entries[i];
        int64_t shape[PARAM_MAX_DIMS];
        for (int d = 0; d < p->ndim; d++) shape[d] = p->shape[d];
        int counter = p->kind == PARAM_COUNTER;
        StWriterEntry *e = new_entry(w, p->name, counter ? ST_I64 : ST_F32, p->ndim, shape);
        e->src = counter ? SRC_I64 : SRC_REAL;
        e->borrowed = counter ? (const void *)params_counter(t, i) : (const void *)params_data(t, i);
    }
}

/* Writes bytes and folds them into the running checksum. */
static void put(FILE *fp, const void *p, size_t n, uint32_t *crc) {
    fwrite(p, 1, n, fp);
    *crc = crc32_update(*crc, p, n);
}

static void write_data(FILE *fp, const StWriterEntry *e, uint32_t *crc) {
    if (e->src == SRC_OWNED) {
        put(fp, e->owned, e->numel * st_dtype_size(e->dtype), crc);
    } else if (e->src == SRC_I64) {
        put(fp, e->borrowed, 8 * e->numel, crc);
    } else {
        const real *src = e->borrowed;
        float chunk[1024];
        for (size_t i = 0; i < e->numel;) {
            size_t k = e->numel - i < 1024 ? e->numel - i : 1024;
            for (size_t j = 0; j < k; j++) chunk[j] = (float)src[i + j];
            put(fp, chunk, 4 * k, crc);
            i += k;
        }
    }
}

void st_writer_commit(StWriter *w, const char *path) {
    if (!host_is_little()) fatal("%s: safetensors writing needs a little-endian host", path);
    JsonBuf h;
    json_buf_init(&h);
    json_buf_puts(&h, "{\"__metadata__\":{");
    for (int i = 0; i < w->n_meta; i++) {
        if (strcmp(w->meta_keys[i], ST_CRC_KEYS[0]) == 0 || strcmp(w->meta_keys[i], ST_CRC_KEYS[1]) == 0) continue;
        json_buf_string(&h, w->meta_keys[i]);
        json_buf_puts(&h, ":");
        json_buf_string(&h, w->meta_values[i]);
        json_buf_puts(&h, ",");
    }
    size_t crc_at[2]; /* file offsets of the digits, filled in last */
    for (int k = 0; k < 2; k++) {
        json_buf_printf(&h, "%s\"%s\":\"", k ? "," : "", ST_CRC_KEYS[k]);
        crc_at[k] = 8 + h.len;
        json_buf_puts(&h, ST_CRC_ZERO "\"");
    }
    json_buf_puts(&h, "}");
    size_t offset = 0;
    for (int i = 0; i < w->count; i++) {
        const StWriterEntry *e = &w->entries[i];
        size_t nbytes = e->numel * st_dtype_size(e->dtype);
        json_buf_puts(&h, ",");
        json_buf_string(&h, e->name);
        json_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", st_dtype_name(e->dtype));
        for (int d = 0; d < e->ndim; d++) json_buf_printf(&h, d ? ",%lld" : "%lld", (long long)e->shape[d]);
        json_buf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", offset, offset + nbytes);
        offset += nbytes;
    }
    json_buf_puts(&h, "}");
    while (h.len % 8) json_buf_puts(&h, " "); /* keeps the data 8-byte aligned */
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.len >> (8 * i));
    AtomicFile f;
    atomic_file_open(&f, path);
    uint32_t crc = 0;
    put(f.fp, len8, 8, &crc);
    put(f.fp, h.data, h.len, &crc);
    for (int i = 0; i < w->count; i++) write_data(f.fp, &w->entries[i], &crc);
    char hex[9];
    snprintf(hex, sizeof hex, "%08x", (unsigned)crc);
    for (int k = 0; k < 2; k++) {
        if (fseek(f.fp, (long)crc_at[k], SEEK_SET) != 0) fatal("cannot write %s: %s", path, strerror(errno));
        fwrite(hex, 1, 8, f.fp);
    }
    json_buf_free(&h);
    atomic_file_commit(&f);
    st_writer_free(w);
}

/* ---- model parameters ---- */

int safetensors_read_params(const char *path, ParamTable *t, char *err, size_t errlen) {
    SafeTensors st;
    if (!t->finalized) return set_err(err, errlen, path, "the parameter table is not finalized");
    if (safetensors_open(path, &st, err, errlen)) return -1;
    const StTensor **match = xcalloc((size_t)t->count + 1, sizeof *match, "a key map");
    int rc = 0;
    for (int i = 0; i < t->count && !rc; i++) {
        const ParamEntry *p = &t->entries[i];
        const StTensor *s = match[i] = safetensors_find_param(&st, p->name);
        if (!s) {
            rc = set_err(err, errlen, path, "missing key '%s' (the model has %d tensors, the file %d)",
                         p->name, t->count, st.count);
            break;
        }
        int same = s->ndim == p->ndim;
        for (int d = 0; same && d < p->ndim; d++) same = s->shape[d] == p->shape[d];
        /* A scalar may arrive as [1], as PyTorch's load_state_dict allows
         * (and as NumPy-based writers produce). */
        if (p->ndim == 0 && s->ndim == 1 && s->shape[0] == 1) same = 1;
        if (!same) {
            char got[128], want[128];
            int64_t ws[PARAM_MAX_DIMS];
            for (int d = 0; d < p->ndim; d++) ws[d] = p->shape[d];
            st_format_shape(got, sizeof got, s->ndim, s->shape);
            st_format_shape(want, sizeof want, p->ndim, ws);
            rc = set_err(err, errlen, path, "'%s' has shape %s, the model expects %s", p->name, got, want);
        } else if (p->kind == PARAM_COUNTER ? s->dtype != ST_I64 && s->dtype != ST_I32
                                              : s->dtype != ST_F32 && s->dtype != ST_F64) {
            rc = set_err(err, errlen, path, "'%s' is %s, expected %s", p->name, st_dtype_name(s->dtype),
                         p->kind == PARAM_COUNTER ? "I64" : "F32 or F64");
        }
    }
    for (int i = 0; i < st.count && !rc; i++) {
        int j = param_of_file_name(t, st.tensors[i].name);
        if (j < 0)
            rc = set_err(err, errlen, path, "unexpected key '%s' (not in the model)", st.tensors[i].name);
        else if (match[j] != &st.tensors[i])
            rc = set_err(err, errlen, path, "'%s' and '%s.weight' are both present", t->entries[j].name,
                         t->entries[j].name);
    }
    for (int i = 0; i < t->count && !rc; i++) {
        if (t->entries[i].kind == PARAM_COUNTER) st_tensor_to_i64(match[i], params_counter(t, i));
        else st_tensor_to_real(match[i], params_data(t, i));
    }
    free(match);
    safetensors_close(&st);
    return rc;
}

void safetensors_load_params(const char *path, ParamTable *t) {
    char err[512];
    if (safetensors_read_params(path, t, err, sizeof err)) fatal("%s", err);
}

void safetensors_save_params(const char *path, const ParamTable *t) {
    StWriter w;
    st_writer_init(&w);
    st_writer_add_params(&w, t);
    st_writer_commit(&w, path);
}
