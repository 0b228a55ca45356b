/* NumPy .npy files (format versions 1.0, 2.0 and 3.0).
 *
 * Reads C-ordered arrays of dtype <f4 <f8 <i8 <i4 |u1 |b1 of any rank up to
 * NPY_MAX_DIMS; the file size must match the header's shape exactly.
 * Fortran order, big-endian and object arrays are refused with a clear
 * message (object arrays are pickles: see folds.h). Writes float32 and int64
 * arrays as version 1.0, atomically. Little-endian hosts only. */
#ifndef ANOMALY_NPY_H
#define ANOMALY_NPY_H

#include <stddef.h>
#include <stdint.h>
#include "real.h"

#define NPY_MAX_DIMS 8

typedef enum NpyDtype {
    NPY_F4, /* <f4 float32 */
    NPY_F8, /* <f8 float64 */
    NPY_I8, /* <i8 int64 */
    NPY_I4, /* <i4 int32 */
    NPY_U1, /* |u1 uint8 */
    NPY_B1  /* |b1 bool (bytes 0 or 1) */
} NpyDtype;

/* What the header says, before any dtype check (the fold-file reader uses
 * this for object arrays). */
typedef struct NpyHeader {
    int major, minor;     /* format version */
    char descr[32];       /* dtype string as written, e.g. "<f4", "|O" */
    int fortran_order;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    size_t data_offset;   /* bytes before the array data */
} NpyHeader;

typedef struct NpyArray {
    NpyDtype dtype;
    int ndim;
    int64_t shape[NPY_MAX_DIMS];
    size_t numel;
    void *data; /* numel elements of dtype; owned (npy_free) */
} NpyArray;

/* Parses the magic, version and header dict of buf[0..len). Returns 0, or -1
 * with a reason in err (bad magic, unknown version, truncated or malformed
 * header, rank above NPY_MAX_DIMS). */
int npy_parse_header(const unsigned char *buf, size_t len, NpyHeader *h, char *err,
                     size_t errlen);

/* Reads a whole file. Returns 0, or -1 with a one-line reason naming the file. */
int npy_read(const char *path, NpyArray *a, char *err, size_t errlen);
void npy_free(NpyArray *a);
/* A .npy file, or (by content) a safetensors or PyTorch torch.save file
 * holding exactly one tensor: float16 and bfloat16 become float32, the other
 * dtypes keep theirs. Same contract as npy_read. (tensor_file.c) */
int npy_or_tensor_read(const char *path, NpyArray *a, char *err, size_t errlen);

/* "float32", "int64", ... (NumPy's names). */
const char *npy_dtype_name(NpyDtype d);
/* Size in bytes of one element. */
size_t npy_dtype_size(NpyDtype d);
/* Writes "(3, 2)" / "(5,)" / "()" into buf. */
void npy_format_shape(char *buf, size_t n, int ndim, const int64_t *shape);

/* Checks the dtype and (ndim >= 0) the rank: returns 0, or -1 with e.g.
 * "X.npy: expected a float32 array of rank 4, got int64 of shape (3, 2)". */
int npy_expect(const NpyArray *a, const char *path, NpyDtype dtype, int ndim, char *err,
               size_t errlen);

/* The elements of a float or integer array converted to `real` (newly
 * allocated; bool and uint8 become 0/1/.. as numbers). */
real *npy_to_real(const NpyArray *a);

/* Writes a v1.0 file atomically; dtype NPY_F4 (data is float[]) or NPY_I8
 * (data is int64_t[]). fatal() on error. */
void npy_write(const char *path, NpyDtype dtype, const void *data, int ndim, const int64_t *shape);
/* Writes `real` data as float32. */
void npy_write_real(const char *path, const real *data, int ndim, const int64_t *shape);

#endif
