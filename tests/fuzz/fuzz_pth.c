/* PyTorch torch.save files (pth.c, zip.c and the restricted unpickler of
 * pickle.c), two ways:
 *   - an input that starts as a zip is a whole .pth file: the archive, its
 *     data.pkl, every view checked against its storage and gathered, then
 *     parsed and converted as a loader would;
 *   - any other input is a data.pkl alone: read by the unpickler, then
 *     wrapped here in a stored zip with a storage entry of the size each
 *     tensor names, so that mutated pickles (whose CRC a zip would refuse)
 *     also reach the view checks and the gathering.
 * The output limit is lowered to 1 MiB to keep executions fast; the checks
 * are the same at any limit. */
#include "../../src/io/io_internal.h"
#include "anomaly/error.h"
#include "anomaly/inflate.h"
#include "anomaly/limits.h"
#include "anomaly/safetensors.h"

#include <stdlib.h>
#include <string.h>

/* Storage entries larger than this are left out of the wrapped archive. */
#define WRAP_MAX_STORAGE 65536

typedef struct Buf {
    uint8_t *p;
    size_t n, cap;
} Buf;

static void put(Buf *b, const void *p, size_t n) {
    if (b->n + n > b->cap) {
        while (b->n + n > b->cap) b->cap = b->cap ? 2 * b->cap : 4096;
        b->p = xrealloc(b->p, b->cap, "fuzz zip");
    }
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_le(Buf *b, uint64_t x, int k) {
    uint8_t q[8];
    for (int i = 0; i < k; i++) q[i] = (uint8_t)(x >> (8 * i));
    put(b, q, (size_t)k);
}

typedef struct Entry {
    char name[300];
    uint32_t crc;
    size_t size, offset;
} Entry;

/* One stored entry: local header and data. */
static void add_entry(Buf *z, Entry *e, const char *name, const uint8_t *data, size_t n) {
    snprintf(e->name, sizeof e->name, "%s", name);
    e->crc = crc32_update(0, data, n);
    e->size = n;
    e->offset = z->n;
    put_le(z, 0x04034b50u, 4);
    put_le(z, 20, 2);
    put_le(z, 0, 2);
    put_le(z, 0, 2);
    put_le(z, 0, 4);
    put_le(z, e->crc, 4);
    put_le(z, n, 4);
    put_le(z, n, 4);
    put_le(z, strlen(e->name), 2);
    put_le(z, 0, 2);
    put(z, e->name, strlen(e->name));
    put(z, data, n);
}

static void finish(Buf *z, const Entry *e, size_t count) {
    size_t cd = z->n;
    for (size_t i = 0; i < count; i++) {
        put_le(z, 0x02014b50u, 4);
        put_le(z, 20, 2);
        put_le(z, 20, 2);
        put_le(z, 0, 2);
        put_le(z, 0, 2);
        put_le(z, 0, 4);
        put_le(z, e[i].crc, 4);
        put_le(z, e[i].size, 4);
        put_le(z, e[i].size, 4);
        put_le(z, strlen(e[i].name), 2);
        put_le(z, 0, 2);
        put_le(z, 0, 2);
        put_le(z, 0, 2);
        put_le(z, 0, 2);
        put_le(z, 0, 4);
        put_le(z, e[i].offset, 4);
        put(z, e[i].name, strlen(e[i].name));
    }
    put_le(z, 0x06054b50u, 4);
    put_le(z, 0, 4);
    put_le(z, count, 2);
    put_le(z, count, 2);
    put_le(z, z->n - cd, 4);
    put_le(z, cd, 4);
    put_le(z, 0, 2);
}

/* Converts every tensor of a .pth file's bytes, as a loader would. */
static void load(const uint8_t *p, size_t n) {
    unsigned char *st_bytes;
    size_t st_n;
    char err[512];
    if (pth_to_safetensors("fuzz.pth", p, n, &st_bytes, &st_n, err, sizeof err)) return;
    SafeTensors st;
    if (safetensors_parse("fuzz.pth", st_bytes, st_n, &st, err, sizeof err)) return; /* it frees st_bytes */
    for (int i = 0; i < st.count; i++) {
        const StTensor *t = &st.tensors[i];
        real *r = xmalloc(t->numel ? t->numel * sizeof(real) : 1, "fuzz tensor");
        (void)st_tensor_to_real(t, r);
        free(r);
    }
    safetensors_close(&st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    limit_set(LIMIT_TENSOR_BYTES, 1 << 20);
    if (pth_is_zip(data, size)) {
        load(data, size);
        return 0;
    }
    TorchPickle tp;
    char err[512];
    if (torch_pickle_read(data, size, "fuzz.pkl", &tp, err, sizeof err)) return 0;
    Buf z = {NULL, 0, 0};
    Entry *e = xcalloc(tp.count + 2, sizeof *e, "fuzz zip entries");
    size_t count = 0;
    add_entry(&z, &e[count++], "archive/data.pkl", data, size);
    add_entry(&z, &e[count++], "archive/byteorder", (const uint8_t *)"little", 6);
    for (size_t i = 0; i < tp.count; i++) {
        const TorchTensorRef *r = &tp.tensors[i];
        char name[300];
        snprintf(name, sizeof name, "archive/data/%s", r->storage_key);
        size_t s = 0;
        while (s < count && strcmp(e[s].name, name) != 0) s++;
        uint64_t bytes = (uint64_t)r->storage_numel * st_dtype_size((StDtype)r->dtype);
        if (s < count || r->storage_numel < 0 || bytes > WRAP_MAX_STORAGE) continue;
        uint8_t *fill = xmalloc(bytes ? bytes : 1, "fuzz storage");
        for (uint64_t k = 0; k < bytes; k++) fill[k] = (uint8_t)(k * 37 + 11);
        add_entry(&z, &e[count++], name, fill, (size_t)bytes);
        free(fill);
    }
    finish(&z, e, count);
    load(z.p, z.n);
    free(z.p);
    free(e);
    torch_pickle_free(&tp);
    return 0;
}
