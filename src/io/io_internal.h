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

#endif
