/* safetensors files: checkpoints, reference dumps, gradient dumps.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON mapping
 * each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
 * (offsets relative to the first byte after the header) plus an optional
 * "__metadata__" object of string values, then the tensor bytes
 * (little-endian, C order).
 *
 * Reading validates everything before returning: header length within the
 * file, valid JSON object, every entry complete and well typed, names
 * unique, each size = numel * dtype size, the data regions contiguous,
 * non-overlapping and covering the data section exactly. Errors name the
 * file and the first problem. Writing is atomic (temp + rename) with the
 * data 8-byte aligned; tensors are written as float32 (from `real`), int64
 * or raw bytes of any listed dtype. Little-endian hosts only.
 *
 * Every file we write carries "anomaly.crc32" in its __metadata__: a CRC-32
 * of the whole file (computed with those 8 hex digits as "00000000"). A
 * reader that finds it verifies it first, so a single changed byte anywhere
 * is reported as "corrupt file: checksum mismatch"; files without it (from
 * PyTorch or NumPy) load as before. */
#ifndef ANOMALY_SAFETENSORS_H
#define ANOMALY_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "params.h"
#include "real.h"

#define ST_MAX_DIMS 8

/* Every dtype of the format; only sizes are needed to validate a file.
 * Conversion to `real` supports ST_F32 and ST_F64. */
typedef enum StDtype {
    ST_BOOL, ST_U8, ST_I8, ST_F8_E4M3, ST_F8_E5M2, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_I64, ST_U64, ST_F64
} StDtype;

typedef struct StTensor {
    char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t nbytes;
    const unsigned char *data; /* into the file's bytes; not necessarily aligned */
} StTensor;

typedef struct SafeTensors {
    char *path;
    unsigned char *bytes;  /* the whole file */
    size_t size;
    int count;
    StTensor *tensors;     /* [count], in header order */
    int n_meta;
    char **meta_keys, **meta_values; /* __metadata__, in header order */
} SafeTensors;

/* "F32", "I64", ... */
const char *st_dtype_name(StDtype d);
size_t st_dtype_size(StDtype d);
/* Parses a dtype name; -1 if unknown. */
int st_dtype_parse(const char *name, StDtype *d);

/* Reads and validates a file. A PyTorch torch.save file (zip format,
 * detected by its content) is read too: its state dict (or lone tensor,
 * named "tensor") becomes the tensors, gathered into C order, with the
 * pickle read by a restricted reader that refuses any global beyond what a
 * tensor state dict needs. Returns 0, or -1 with "<path>: <problem>" in err. */
int safetensors_open(const char *path, SafeTensors *st, char *err, size_t errlen);
/* Same on a buffer already in memory (takes ownership of bytes, freed by close). */
int safetensors_parse(const char *path, unsigned char *bytes, size_t size, SafeTensors *st,
                      char *err, size_t errlen);
void safetensors_close(SafeTensors *st);

/* The tensor of that name, or NULL. */
const StTensor *safetensors_find(const SafeTensors *st, const char *name);
/* The tensor a model entry of that name is read from: the name itself, or
 * for a bare parameter (a name without '.', such as the ArcFace head `_fc`)
 * also `<name>.weight`, the key older files used. NULL if neither. */
const StTensor *safetensors_find_param(const SafeTensors *st, const char *name);
/* The metadata value for key, or NULL. */
const char *safetensors_meta(const SafeTensors *st, const char *key);

/* Converts an F32 or F64 tensor into out[numel]; -1 for other dtypes. */
int st_tensor_to_real(const StTensor *t, real *out);
/* Converts an I64 or I32 tensor into out[numel]; -1 for other dtypes. */
int st_tensor_to_i64(const StTensor *t, int64_t *out);
/* Writes "[3, 2]" into buf. */
void st_format_shape(char *buf, size_t n, int ndim, const int64_t *shape);

/* ---- writing ---- */

typedef struct StWriterEntry StWriterEntry;

/* Collects named tensors and metadata, then writes them in the order added.
 * The add functions copy the data, except st_writer_add_params, which
 * borrows the table's storage until commit. */
typedef struct StWriter {
    StWriterEntry *entries;
    int count, cap;
    int n_meta, cap_meta;
    char **meta_keys, **meta_values;
} StWriter;

void st_writer_init(StWriter *w);
/* Adds or replaces a __metadata__ entry. */
void st_writer_meta(StWriter *w, const char *key, const char *value);
/* `real` data stored as F32. A repeated name is a fatal error. */
void st_writer_add_real(StWriter *w, const char *name, const real *data, int ndim,
                        const int64_t *shape);
void st_writer_add_i64(StWriter *w, const char *name, const int64_t *data, int ndim,
                       const int64_t *shape);
/* Raw little-endian bytes already in `dtype` (numel * size bytes). */
void st_writer_add_raw(StWriter *w, const char *name, StDtype dtype, const void *data, int ndim,
                       const int64_t *shape);
/* Every entry of the table in table order: trainables and buffers as F32,
 * counters as I64. The table must stay alive and unchanged until commit. */
void st_writer_add_params(StWriter *w, const ParamTable *t);
/* Writes the file atomically (fatal() on error) and frees the writer. */
void st_writer_commit(StWriter *w, const char *path);
/* Frees the writer without writing anything. */
void st_writer_free(StWriter *w);

/* ---- model parameters ---- */

/* Loads a state dict into the table: the file's tensor names must equal the
 * table's exactly (the first missing or unexpected name is reported), every
 * shape must match (a scalar may be stored as [1], as PyTorch accepts),
 * trainables and buffers must be F32 or F64, counters I64 (or I32). A bare
 * entry is also read from `<name>.weight` (safetensors_find_param). Nothing
 * in the table changes unless the whole file is valid.
 * Returns 0, or -1 with the reason in err. */
int safetensors_read_params(const char *path, ParamTable *t, char *err, size_t errlen);
/* Same; fatal() on error. */
void safetensors_load_params(const char *path, ParamTable *t);
/* Writes the table: F32 for trainables and buffers, I64 for counters, in
 * table order, atomically. */
void safetensors_save_params(const char *path, const ParamTable *t);

#endif
