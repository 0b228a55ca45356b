/* Helpers shared by the file readers of src/io and src/data; not part of
 * the public headers.
 *
 * The readers take a whole file into memory first: the files are small
 * (tables, fold files, one image), and parsing a bounded buffer is what
 * makes every read checkable against its end. */
#ifndef ANOMALY_IO_INTERNAL_H
#define ANOMALY_IO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Reads all of `path` into a new buffer (one extra zero byte after the end,
 * not counted in *size). Files larger than max_bytes are refused. Returns 0,
 * or -1 with "<path>: <reason>" in err. (csv.c) */
int io_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size, char *err, size_t errlen);

/* The restricted pickle of NumPy object arrays (pickle.c).
 *
 * An object ndarray whose every cell is a 1-D integer ndarray, as
 * `numpy.save(..., allow_pickle=True)` writes it with pickle protocol 3.
 * Cells are converted to int64 and listed in C order of the outer array
 * whatever its memory order was. */
#define NPY_PICKLE_MAX_DIMS 8

typedef struct NpyPickleCell {
    int64_t *v;
    size_t n;
} NpyPickleCell;

typedef struct NpyObjectArray {
    int ndim;
    int64_t shape[NPY_PICKLE_MAX_DIMS];
    size_t count;         /* product of shape */
    NpyPickleCell *cells; /* [count] */
} NpyObjectArray;

/* Decodes the pickle in data[0..size). Only the opcodes and the globals
 * (numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype) that
 * NumPy uses for such arrays are accepted; anything else is an error naming
 * `path`. Nothing is ever executed or imported. Returns 0 or -1. */
int npy_pickle_read(const uint8_t *data, size_t size, const char *path, NpyObjectArray *out, char *err,
                    size_t errlen);
void npy_pickle_free(NpyObjectArray *a);

/* Writes the pickle of an object array of the given shape whose cells are
 * 1-D int64 arrays, byte for byte as NumPy 1.x's pickle.dump(protocol=3). */
void npy_pickle_write(FILE *fp, int ndim, const int64_t *shape, const NpyPickleCell *cells);

/* Zip archives in memory (zip.c): one disk, stored or deflated entries,
 * ZIP64 sizes and offsets. */
typedef struct ZipEntry {
    char *name;
    unsigned flags, method;
    uint32_t crc;
    uint64_t csize, usize, local_offset;
} ZipEntry;

typedef struct ZipArchive {
    const uint8_t *p; /* the archive's bytes, borrowed */
    size_t n;
    ZipEntry *entries;
    size_t count;
} ZipArchive;

/* Reads the central directory of p[0..n). Returns 0, or -1 with
 * "<path>: <reason>" in err. */
int zip_open_mem(const uint8_t *p, size_t n, const char *path, ZipArchive *z, char *err, size_t errlen);
void zip_close(ZipArchive *z);
const ZipEntry *zip_find(const ZipArchive *z, const char *name);
/* An entry's bytes (e->usize of them, CRC-checked): *data points into the
 * archive for a stored entry, or to *owned (malloc'ed; the caller frees it)
 * for a deflated one. Entries over max_size bytes are refused before
 * anything is allocated. Returns 0 or -1. */
int zip_extract(const ZipArchive *z, const ZipEntry *e, const char *path, uint64_t max_size, const uint8_t **data,
                uint8_t **owned, char *err, size_t errlen);

/* The restricted pickle of a PyTorch state dict (`data.pkl` of a torch.save
 * zip, pickle.c): a dict or OrderedDict of string keys to tensors, or one
 * tensor. Only collections.OrderedDict, torch._utils._rebuild_tensor_v2,
 * torch._utils._rebuild_parameter and the torch.*Storage types are allowed
 * as globals, as torch.load(weights_only=True) allows; any other global is
 * refused by name. Nothing is executed or imported. */
#define TORCH_MAX_DIMS 8

typedef struct TorchTensorRef {
    char *name;           /* the dict key; NULL for a lone tensor */
    int dtype;            /* StDtype of the storage */
    char *storage_key;    /* the data/<key> entry of the zip */
    int64_t storage_numel;
    int64_t offset;
    int ndim;
    int64_t shape[TORCH_MAX_DIMS], stride[TORCH_MAX_DIMS];
} TorchTensorRef;

typedef struct TorchPickle {
    TorchTensorRef *tensors;
    size_t count;
} TorchPickle;

/* pth.c: whether a file's bytes start as a zip archive does, and the
 * tensors of a torch.save file as a safetensors file's bytes (malloc'ed), in
 * the pickle's order; a lone tensor is named "tensor". Returns 0, or -1 with
 * "<path>: <reason>" in err. */
int pth_is_zip(const uint8_t *p, size_t n);
int pth_to_safetensors(const char *path, const uint8_t *p, size_t n, unsigned char **out, size_t *out_n, char *err,
                       size_t errlen);

int torch_pickle_read(const uint8_t *data, size_t size, const char *path, TorchPickle *out, char *err,
                      size_t errlen);
void torch_pickle_free(TorchPickle *t);

#endif
