#include "anomaly/npy.h"
#include "anomaly/atomic_file.h"
#include "anomaly/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const unsigned char MAGIC[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

static int host_is_little(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

const char *npy_dtype_name(NpyDtype d) {
    switch (d) {
    case NPY_F4: return "float32";
    case NPY_F8: return "float64";
    case NPY_I8: return "int64";
    case NPY_I4: return "int32";
    case NPY_U1: return "uint8";
    case NPY_B1: return "bool";
    }
    return "?";
}

size_t npy_dtype_size(NpyDtype d) {
    switch (d) {
    case NPY_F4: case NPY_I4: return 4;
    case NPY_F8: case NPY_I8: return 8;
    case NPY_U1: case NPY_B1: return 1;
    }
    return 0;
}

static const char *descr_of(NpyDtype d) {
    switch (d) {
    case NPY_F4: return "<f4";
    case NPY_F8: return "<f8";
    case NPY_I8: return "<i8";
    case NPY_I4: return "<i4";
    case NPY_U1: return "|u1";
    case NPY_B1: return "|b1";
    }
    return "?";
}

void npy_format_shape(char *buf, size_t n, int ndim, const int64_t *shape) {
    size_t k = 0;
    if (!n) return;
    buf[0] = '\0';
#define PUT(...)                                                              \
    do {                                                                      \
        int w_ = snprintf(buf + k, n - k, __VA_ARGS__);                       \
        if (w_ < 0 || (size_t)w_ >= n - k) return;                            \
        k += (size_t)w_;                                                      \
    } while (0)
    PUT("(");
    for (int i = 0; i < ndim; i++) PUT(i ? ", %lld" : "%lld", (long long)shape[i]);
    PUT(ndim == 1 ? ",)" : ")");
#undef PUT
}

/* ---- header dict: {'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), } ---- */

typedef struct Lex {
    const char *s;
    size_t n, i;
} Lex;

static void lex_ws(Lex *l) {
    while (l->i < l->n && (l->s[l->i] == ' ' || l->s[l->i] == '\t' || l->s[l->i] == '\n' ||
                           l->s[l->i] == '\r'))
        l->i++;
}

static int lex_char(Lex *l, char c) {
    lex_ws(l);
    if (l->i < l->n && l->s[l->i] == c) { l->i++; return 1; }
    return 0;
}

/* A Python string literal without escapes (NumPy never writes any here). */
static int lex_string(Lex *l, char *out, size_t cap) {
    lex_ws(l);
    if (l->i >= l->n || (l->s[l->i] != '\'' && l->s[l->i] != '"')) return 0;
    char q = l->s[l->i++];
    size_t k = 0;
    while (l->i < l->n && l->s[l->i] != q) {
        if (l->s[l->i] == '\\' || k + 1 >= cap) return 0;
        out[k++] = l->s[l->i++];
    }
    if (l->i >= l->n) return 0;
    l->i++;
    out[k] = '\0';
    return 1;
}

static int lex_word(Lex *l, const char *w) {
    lex_ws(l);
    size_t n = strlen(w);
    if (l->n - l->i < n || memcmp(l->s + l->i, w, n) != 0) return 0;
    l->i += n;
    return 1;
}

static int lex_int(Lex *l, int64_t *v) {
    lex_ws(l);
    size_t start = l->i;
    int64_t x = 0;
    while (l->i < l->n && l->s[l->i] >= '0' && l->s[l->i] <= '9') {
        int d = l->s[l->i++] - '0';
        if (x > (INT64_MAX - d) / 10) return 0;
        x = x * 10 + d;
    }
    if (l->i == start) return 0;
    if (l->i < l->n && l->s[l->i] == 'L') l->i++; /* Python 2 long */
    *v = x;
    return 1;
}

int npy_parse_header(const unsigned char *buf, size_t len, NpyHeader *h, char *err,
                     size_t errlen) {
    memset(h, 0, sizeof *h);
    if (len < 8 || memcmp(buf, MAGIC, sizeof MAGIC) != 0)
        return error_format(err, errlen, "not a .npy file (bad magic)");
    h->major = buf[6];
    h->minor = buf[7];
    if (h->major < 1 || h->major > 3 || h->minor != 0)
        return error_format(err, errlen, "unsupported .npy format version %d.%d", h->major, h->minor);
    size_t lenbytes = h->major == 1 ? 2 : 4;
    if (len < 8 + lenbytes) return error_format(err, errlen, "truncated .npy header");
    size_t hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
    if (lenbytes == 4) hlen |= (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
    h->data_offset = 8 + lenbytes + hlen;
    if (len < h->data_offset)
        return error_format(err, errlen, "truncated .npy header (%zu of %zu bytes)", len, h->data_offset);

    Lex l = {(const char *)buf + 8 + lenbytes, hlen, 0};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!lex_char(&l, '{')) return error_format(err, errlen, "malformed .npy header: '{' expected");
    for (;;) {
        char key[32];
        if (lex_char(&l, '}')) break;
        if (!lex_string(&l, key, sizeof key) || !lex_char(&l, ':'))
            return error_format(err, errlen, "malformed .npy header: key expected at header byte %zu", l.i);
        if (strcmp(key, "descr") == 0 && !have_descr) {
            if (!lex_string(&l, h->descr, sizeof h->descr))
                return error_format(err, errlen, "unsupported .npy dtype (structured or malformed descr)");
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (lex_word(&l, "True")) h->fortran_order = 1;
            else if (lex_word(&l, "False")) h->fortran_order = 0;
            else return error_format(err, errlen, "malformed .npy header: fortran_order must be True or False");
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            if (!lex_char(&l, '(')) return error_format(err, errlen, "malformed .npy header: shape tuple expected");
            while (!lex_char(&l, ')')) {
                int64_t d;
                if (h->ndim == NPY_MAX_DIMS)
                    return error_format(err, errlen, "array rank above %d is not supported", NPY_MAX_DIMS);
                if (!lex_int(&l, &d))
                    return error_format(err, errlen, "malformed .npy header: bad shape at header byte %zu", l.i);
                h->shape[h->ndim++] = d;
                if (!lex_char(&l, ',')) {
                    if (!lex_char(&l, ')'))
                        return error_format(err, errlen, "malformed .npy header: bad shape at header byte %zu", l.i);
                    break;
                }
            }
            have_shape = 1;
        } else {
            return error_format(err, errlen, "malformed .npy header: unexpected or repeated key '%s'", key);
        }
        if (!lex_char(&l, ',')) {
            if (!lex_char(&l, '}')) return error_format(err, errlen, "malformed .npy header: ',' or '}' expected");
            break;
        }
    }
    lex_ws(&l);
    if (l.i != l.n) return error_format(err, errlen, "malformed .npy header: text after the dict");
    if (!have_descr || !have_fortran || !have_shape)
        return error_format(err, errlen, "malformed .npy header: missing %s",
                       !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
    return 0;
}

static int dtype_from_descr(const char *d, NpyDtype *out) {
    static const struct { const char *s; NpyDtype d; } known[] = {
        {"<f4", NPY_F4}, {"<f8", NPY_F8}, {"<i8", NPY_I8}, {"<i4", NPY_I4},
        {"|u1", NPY_U1}, {"<u1", NPY_U1}, {"|b1", NPY_B1}, {"<b1", NPY_B1},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(d, known[i].s) == 0) { *out = known[i].d; return 0; }
    return -1;
}

int npy_read(const char *path, NpyArray *a, char *err, size_t errlen) {
    memset(a, 0, sizeof *a);
    if (!host_is_little()) return error_format(err, errlen, "%s: .npy reading needs a little-endian host", path);
    FILE *fp = fopen(path, "rb");
    if (!fp) return error_format(err, errlen, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return error_format(err, errlen, "%s: not a regular file", path);
    }
    size_t fsize = (size_t)st.st_size;
    /* The header: 12 bytes tell its length, which is at most 4 GiB (v2). */
    unsigned char pre[12];
    size_t got = fread(pre, 1, sizeof pre, fp);
    NpyHeader h;
    char why[256];
    size_t hdr_total = got;
    if (got >= 12 && memcmp(pre, MAGIC, 6) == 0 && pre[6] >= 1 && pre[6] <= 3) {
        size_t hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
        if (pre[6] != 1) hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
        hdr_total = (pre[6] == 1 ? 10 : 12) + hlen;
        if (hdr_total > fsize) hdr_total = fsize; /* the parser reports the truncation */
    }
    unsigned char *hb = xmalloc(hdr_total > got ? hdr_total : got, "a .npy header");
    memcpy(hb, pre, got);
    if (hdr_total > got) hdr_total = got + fread(hb + got, 1, hdr_total - got, fp);
    int rc = npy_parse_header(hb, hdr_total, &h, why, sizeof why);
    free(hb);
    if (rc) { fclose(fp); return error_format(err, errlen, "%s: %s", path, why); }

    NpyDtype dt;
    if (strcmp(h.descr, "|O") == 0 || strcmp(h.descr, "O") == 0) {
        fclose(fp);
        return error_format(err, errlen, "%s: object array (a pickle), not a plain numeric array", path);
    }
    if (dtype_from_descr(h.descr, &dt)) {
        fclose(fp);
        if (h.descr[0] == '>')
            return error_format(err, errlen, "%s: big-endian dtype '%s' is not supported", path, h.descr);
        return error_format(err, errlen, "%s: unsupported dtype '%s' (want <f4 <f8 <i8 <i4 |u1 |b1)", path, h.descr);
    }
    if (h.fortran_order) {
        fclose(fp);
        return error_format(err, errlen, "%s: Fortran-ordered arrays are not supported (save with C order)", path);
    }
    size_t isz = npy_dtype_size(dt), numel = 1;
    for (int i = 0; i < h.ndim; i++) {
        if (h.shape[i] != 0 && numel > (SIZE_MAX / isz) / (size_t)h.shape[i]) {
            fclose(fp);
            return error_format(err, errlen, "%s: array too large", path);
        }
        numel *= (size_t)h.shape[i];
    }
    size_t want = numel * isz, have = fsize - h.data_offset;
    if (have != want) {
        char shp[160];
        npy_format_shape(shp, sizeof shp, h.ndim, h.shape);
        fclose(fp);
        return error_format(err, errlen, "%s: %s: header says %s %s (%zu bytes of data), the file has %zu",
                       path, have < want ? "truncated" : "size mismatch", npy_dtype_name(dt), shp,
                       want, have);
    }
    void *data = xmalloc(want, "a .npy array");
    if (fread(data, 1, want, fp) != want) {
        free(data);
        fclose(fp);
        return error_format(err, errlen, "%s: read error (truncated?)", path);
    }
    fclose(fp);
    if (dt == NPY_B1) {
        const unsigned char *b = data;
        for (size_t i = 0; i < numel; i++)
            if (b[i] > 1) {
                unsigned bad = b[i];
                free(data);
                return error_format(err, errlen, "%s: bool element %zu holds byte %u", path, i, bad);
            }
    }
    a->dtype = dt;
    a->ndim = h.ndim;
    memcpy(a->shape, h.shape, sizeof h.shape);
    a->numel = numel;
    a->data = data;
    return 0;
}

void npy_free(NpyArray *a) {
    free(a->data);
    memset(a, 0, sizeof *a);
}

int npy_expect(const NpyArray *a, const char *path, NpyDtype dtype, int ndim, char *err,
               size_t errlen) {
    if (a->dtype == dtype && (ndim < 0 || a->ndim == ndim)) return 0;
    char shp[160], rank[32] = "";
    npy_format_shape(shp, sizeof shp, a->ndim, a->shape);
    if (ndim >= 0) snprintf(rank, sizeof rank, " of rank %d", ndim);
    return error_format(err, errlen, "%s: expected a%s %s array%s, got %s of shape %s", path,
                   dtype == NPY_I8 || dtype == NPY_I4 ? "n" : "", npy_dtype_name(dtype), rank,
                   npy_dtype_name(a->dtype), shp);
}

real *npy_to_real(const NpyArray *a) {
    real *out = xmalloc(a->numel * sizeof *out, "a converted array");
    for (size_t i = 0; i < a->numel; i++) {
        switch (a->dtype) {
        case NPY_F4: { float v; memcpy(&v, (const char *)a->data + 4 * i, 4); out[i] = (real)v; break; }
        case NPY_F8: { double v; memcpy(&v, (const char *)a->data + 8 * i, 8); out[i] = (real)v; break; }
        case NPY_I8: out[i] = (real)((const int64_t *)a->data)[i]; break;
        case NPY_I4: out[i] = (real)((const int32_t *)a->data)[i]; break;
        case NPY_U1: case NPY_B1: out[i] = (real)((const uint8_t *)a->data)[i]; break;
        }
    }
    return out;
}

/* Writes the magic and a v1.0 header padded so the data starts on a
 * 64-byte boundary, as NumPy does. */
static void write_header(FILE *fp, NpyDtype dtype, int ndim, const int64_t *shape) {
    char shp[256], dict[400];
    npy_format_shape(shp, sizeof shp, ndim, shape);
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr_of(dtype), shp);
    size_t total = 10 + (size_t)n + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = (size_t)n + pad + 1;
    unsigned char pre[10];
    memcpy(pre, MAGIC, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    fwrite(pre, 1, sizeof pre, fp);
    fwrite(dict, 1, (size_t)n, fp);
    for (size_t i = 0; i < pad; i++) fputc(' ', fp);
    fputc('\n', fp);
}

static size_t count_elems(const char *path, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > NPY_MAX_DIMS) fatal("%s: cannot write an array of rank %d", path, ndim);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) fatal("%s: negative dimension %lld", path, (long long)shape[i]);
        n *= (size_t)shape[i];
    }
    return n;
}

void npy_write(const char *path, NpyDtype dtype, const void *data, int ndim, const int64_t *shape) {
    if (dtype != NPY_F4 && dtype != NPY_I8) fatal("%s: can only write float32 or int64 .npy files", path);
    if (!host_is_little()) fatal("%s: .npy writing needs a little-endian host", path);
    size_t n = count_elems(path, ndim, shape);
    AtomicFile f;
    atomic_file_open(&f, path);
    write_header(f.fp, dtype, ndim, shape);
    fwrite(data, npy_dtype_size(dtype), n, f.fp);
    atomic_file_commit(&f);
}

void npy_write_real(const char *path, const real *data, int ndim, const int64_t *shape) {
    if (!host_is_little()) fatal("%s: .npy writing needs a little-endian host", path);
    size_t n = count_elems(path, ndim, shape);
    AtomicFile f;
    atomic_file_open(&f, path);
    write_header(f.fp, NPY_F4, ndim, shape);
    float chunk[1024];
    for (size_t i = 0; i < n;) {
        size_t k = n - i < 1024 ? n - i : 1024;
        for (size_t j = 0; j < k; j++) chunk[j] = (float)data[i + j];
        fwrite(chunk, sizeof(float), k, f.fp);
        i += k;
    }
    atomic_file_commit(&f);
}
