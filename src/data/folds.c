/* Fold files: the .npy container (header parsing and writing here, the
 * pickled payload in src/io/pickle.c), checks and the stratified split. */
#include "anomaly/folds.h"
#include "anomaly/atomic_file.h"
#include "anomaly/error.h"
#include "anomaly/rng.h"
#include "../io/io_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FOLDS_MAX_FILE_BYTES ((size_t)256 << 20)

/* ---- the .npy header: a Python dict literal ---- */

typedef struct NpyHeader {
    char descr[16];
    int fortran;
    int ndim;
    int64_t shape[NPY_PICKLE_MAX_DIMS];
    size_t data_offset;
} NpyHeader;

typedef struct Lexer {
    const char *s, *end;
} Lexer;

static void skip_space(Lexer *x) {
    while (x->s < x->end && (*x->s == ' ' || *x->s == '\t' || *x->s == '\n' || *x->s == '\r')) x->s++;
}

static int eat(Lexer *x, char c) {
    skip_space(x);
    if (x->s < x->end && *x->s == c) {
        x->s++;
        return 1;
    }
    return 0;
}

static int lex_string(Lexer *x, char *out, size_t cap) {
    skip_space(x);
    if (x->s >= x->end || (*x->s != '\'' && *x->s != '"')) return 0;
    char q = *x->s++;
    size_t n = 0;
    while (x->s < x->end && *x->s != q) {
        if (*x->s == '\\' || n + 1 >= cap) return 0; /* no escapes in any header we accept */
        out[n++] = *x->s++;
    }
    if (x->s >= x->end) return 0;
    x->s++;
    out[n] = 0;
    return 1;
}

static int lex_word(Lexer *x, const char *w) {
    skip_space(x);
    size_t n = strlen(w);
    if ((size_t)(x->end - x->s) >= n && memcmp(x->s, w, n) == 0) {
        x->s += n;
        return 1;
    }
    return 0;
}

static int lex_shape(Lexer *x, NpyHeader *h) {
    if (!eat(x, '(')) return 0;
    h->ndim = 0;
    for (;;) {
        if (eat(x, ')')) return 1;
        if (h->ndim == NPY_PICKLE_MAX_DIMS) return 0;
        skip_space(x);
        int64_t v = 0;
        int digits = 0;
        while (x->s < x->end && *x->s >= '0' && *x->s <= '9' && digits < 15) {
            v = v * 10 + (*x->s++ - '0');
            digits++;
        }
        if (!digits) return 0;
        h->shape[h->ndim++] = v;
        if (!eat(x, ',')) return eat(x, ')');
    }
}

static int parse_header(const uint8_t *d, size_t n, const char *path, NpyHeader *h, char *err,
                        size_t errlen) {
    memset(h, 0, sizeof *h);
    if (n < 10 || memcmp(d, "\x93NUMPY", 6) != 0)
        return error_format(err, errlen, "%s: not a .npy file (no NUMPY magic)", path);
    size_t hlen, start;
    if (d[6] == 1) {
        hlen = (size_t)d[8] | (size_t)d[9] << 8;
        start = 10;
    } else if ((d[6] == 2 || d[6] == 3) && n >= 12) {
        hlen = (size_t)d[8] | (size_t)d[9] << 8 | (size_t)d[10] << 16 | (size_t)d[11] << 24;
        start = 12;
    } else {
        return error_format(err, errlen, "%s: unsupported .npy version %d.%d", path, d[6], d[7]);
    }
    if (hlen > n - start) return error_format(err, errlen, "%s: truncated .npy header", path);
    h->data_offset = start + hlen;
    Lexer x = {(const char *)d + start, (const char *)d + start + hlen};
    int seen[3] = {0, 0, 0};
    if (!eat(&x, '{')) goto bad;
    while (!eat(&x, '}')) {
        char key[32];
        if (!lex_string(&x, key, sizeof key) || !eat(&x, ':')) goto bad;
        if (strcmp(key, "descr") == 0) {
            if (!lex_string(&x, h->descr, sizeof h->descr)) goto bad;
            seen[0] = 1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (lex_word(&x, "True"))
                h->fortran = 1;
            else if (!lex_word(&x, "False"))
                goto bad;
            seen[1] = 1;
        } else if (strcmp(key, "shape") == 0) {
            if (!lex_shape(&x, h)) goto bad;
            seen[2] = 1;
        } else {
            goto bad;
        }
        if (!eat(&x, ',')) {
            if (!eat(&x, '}')) goto bad;
            break;
        }
    }
    if (!seen[0] || !seen[1] || !seen[2]) goto bad;
    return 0;
bad:
    return error_format(err, errlen, "%s: malformed .npy header", path);
}

/* ---- reading ---- */

static void fold_alloc(Fold *f, size_t n_train, size_t n_val) {
    f->n_train = n_train;
    f->n_val = n_val;
    f->train = xmalloc((n_train ? n_train : 1) * sizeof *f->train, "fold indices");
    f->val = xmalloc((n_val ? n_val : 1) * sizeof *f->val, "fold indices");
}

static int from_object_array(const uint8_t *d, size_t n, const char *path, const NpyHeader *h, Folds *f,
                             char *err, size_t errlen) {
    NpyObjectArray a;
    if (npy_pickle_read(d + h->data_offset, n - h->data_offset, path, &a, err, errlen) != 0) return -1;
    int same = a.ndim == h->ndim;
    for (int k = 0; same && k < a.ndim; k++) same = a.shape[k] == h->shape[k];
    if (!same || a.ndim != 2 || a.shape[1] != 2 || a.shape[0] < 1 || a.shape[0] > 1000000) {
        npy_pickle_free(&a);
        return error_format(err, errlen, "%s: expected a (K, 2) object array of index arrays", path);
    }
    f->k = (int)a.shape[0];
    f->folds = xcalloc((size_t)f->k, sizeof *f->folds, "folds");
    for (int k = 0; k < f->k; k++) {
        const NpyPickleCell *tr = &a.cells[2 * k], *va = &a.cells[2 * k + 1];
        fold_alloc(&f->folds[k], tr->n, va->n);
        if (tr->n) memcpy(f->folds[k].train, tr->v, tr->n * sizeof *tr->v);
        if (va->n) memcpy(f->folds[k].val, va->v, va->n * sizeof *va->v);
    }
    npy_pickle_free(&a);
    return 0;
}

static int from_int_array(const uint8_t *d, size_t n, const char *path, const NpyHeader *h, Folds *f,
                          char *err, size_t errlen) {
    const char *t = h->descr;
    if (strlen(t) != 3 || (t[0] != '<' && t[0] != '|') || (t[1] != 'i' && t[1] != 'u') ||
        (t[2] != '1' && t[2] != '2' && t[2] != '4' && t[2] != '8'))
        return error_format(err, errlen, "%s: dtype '%s' is not little-endian integers or pickled objects", path,
                       t);
    int isz = t[2] - '0', is_signed = t[1] == 'i';
    uint64_t count = 1;
    for (int k = 0; k < h->ndim; k++) {
        uint64_t s = (uint64_t)h->shape[k];
        if (s > FOLDS_MAX_FILE_BYTES || (s && count > FOLDS_MAX_FILE_BYTES / s))
            return error_format(err, errlen, "%s: array too large", path);
        count *= s;
    }
    if (count * (uint64_t)isz != n - h->data_offset)
        return error_format(err, errlen, "%s: holds %zu data bytes, its shape needs %llu", path,
                       n - h->data_offset, (unsigned long long)(count * (uint64_t)isz));
    int64_t *v = xmalloc((count ? count : 1) * sizeof *v, "fold indices");
    for (uint64_t i = 0; i < count; i++) {
        uint64_t u = 0;
        for (int b = isz - 1; b >= 0; b--) u = u << 8 | d[h->data_offset + i * (uint64_t)isz + (uint64_t)b];
        if (is_signed && isz < 8 && (u >> (8 * isz - 1)) & 1) u |= ~(uint64_t)0 << (8 * isz);
        v[i] = (int64_t)u;
    }
    int rc = 0;
    if (h->ndim == 3 && h->shape[1] == 2 && h->shape[0] >= 1 && h->shape[0] <= 1000000) {
        int64_t K = h->shape[0], M = h->shape[2];
        f->k = (int)K;
        f->folds = xcalloc((size_t)K, sizeof *f->folds, "folds");
        for (int64_t k = 0; k < K; k++) {
            fold_alloc(&f->folds[k], (size_t)M, (size_t)M);
            for (int64_t m = 0; m < M; m++)
                for (int j = 0; j < 2; j++) {
                    /* C order is [k][j][m]; Fortran order runs k fastest. */
                    size_t at = h->fortran ? (size_t)(k + K * (j + 2 * m)) : (size_t)((k * 2 + j) * M + m);
                    (j ? f->folds[k].val : f->folds[k].train)[m] = v[at];
                }
        }
    } else if (h->ndim == 1 && count >= 2) {
        int64_t K = 0;
        for (uint64_t i = 0; i < count; i++) {
            if (v[i] < 0 || v[i] >= (int64_t)count) {
                rc = error_format(err, errlen, "%s: fold number %lld of sample %llu is out of range", path,
                             (long long)v[i], (unsigned long long)i);
                break;
            }
            if (v[i] + 1 > K) K = v[i] + 1;
        }
        size_t *sizes = xcalloc((size_t)K + 1, sizeof *sizes, "fold sizes");
        for (uint64_t i = 0; rc == 0 && i < count; i++) sizes[v[i]]++;
        for (int64_t k = 0; rc == 0 && k < K; k++)
            if (!sizes[k]) rc = error_format(err, errlen, "%s: fold %lld has no samples", path, (long long)k);
        if (rc == 0 && K < 2)
            rc = error_format(err, errlen, "%s: a fold-number array needs at least 2 folds", path);
        if (rc == 0) {
            f->k = (int)K;
            f->folds = xcalloc((size_t)K, sizeof *f->folds, "folds");
            for (int64_t k = 0; k < K; k++) {
                Fold *fd = &f->folds[k];
                fold_alloc(fd, count - sizes[k], sizes[k]);
                fd->n_train = fd->n_val = 0;
                for (uint64_t i = 0; i < count; i++) {
                    if (v[i] == k)
                        fd->val[fd->n_val++] = (int64_t)i;
                    else
                        fd->train[fd->n_train++] = (int64_t)i;
                }
            }
        }
        free(sizes);
    } else {
        rc = error_format(err, errlen,
                     "%s: an integer array of this shape is not a fold file "
                     "(expected (K, 2, M) or per-sample fold numbers (N,))",
                     path);
    }
    free(v);
    return rc;
}

int folds_read(const char *path, Folds *f, char *err, size_t errlen) {
    memset(f, 0, sizeof *f);
    uint8_t *d;
    size_t n;
    if (io_read_file(path, FOLDS_MAX_FILE_BYTES, &d, &n, err, errlen) != 0) return -1;
    NpyHeader h;
    int rc = parse_header(d, n, path, &h, err, errlen);
    if (rc == 0) {
        if (strcmp(h.descr, "|O") == 0)
            rc = from_object_array(d, n, path, &h, f, err, errlen);
        else
            rc = from_int_array(d, n, path, &h, f, err, errlen);
    }
    free(d);
    if (rc != 0) folds_free(f);
    return rc;
}

void folds_free(Folds *f) {
    for (int k = 0; f->folds && k < f->k; k++) {
        free(f->folds[k].train);
        free(f->folds[k].val);
    }
    free(f->folds);
    f->folds = NULL;
    f->k = 0;
}

/* ---- writing ---- */

void folds_write(const char *path, const Folds *f) {
    if (f->k < 1) fatal("cannot write %s: no folds", path);
    /* NumPy's header: sorted keys, room for the first axis to grow to 21
     * digits, padded with spaces so the data starts on a 64-byte boundary. */
    char dict[160];
    int len =
        snprintf(dict, sizeof dict, "{'descr': '|O', 'fortran_order': False, 'shape': (%d, 2), }", f->k);
    char first[24];
    int digits = snprintf(first, sizeof first, "%d", f->k);
    for (int i = digits; i < 21; i++) dict[len++] = ' ';
    size_t hlen = (size_t)len + 1;
    size_t pad = 64 - (10 + hlen) % 64;
    size_t total = hlen + pad;
    AtomicFile out;
    atomic_file_open(&out, path);
    fwrite("\x93NUMPY\x01\x00", 1, 8, out.fp);
    fputc((int)(total & 0xff), out.fp);
    fputc((int)(total >> 8), out.fp);
    fwrite(dict, 1, (size_t)len, out.fp);
    for (size_t i = 0; i < pad; i++) fputc(' ', out.fp);
    fputc('\n', out.fp);
    NpyPickleCell *cells = xmalloc(2 * (size_t)f->k * sizeof *cells, "fold cells");
    for (int k = 0; k < f->k; k++) {
        cells[2 * k].v = f->folds[k].train;
        cells[2 * k].n = f->folds[k].n_train;
        cells[2 * k + 1].v = f->folds[k].val;
        cells[2 * k + 1].n = f->folds[k].n_val;
    }
    int64_t shape[2] = {f->k, 2};
    npy_pickle_write(out.fp, 2, shape, cells);
    free(cells);
    atomic_file_commit(&out);
}

/* ---- checks and the stratified split ---- */

int folds_validate(const Folds *f, size_t n, char *err, size_t errlen) {
    if (f->k < 1) return error_format(err, errlen, "no folds");
    unsigned char *seen = xmalloc(n ? n : 1, "fold check");
    unsigned char *in_val = xcalloc(n ? n : 1, 1, "fold check");
    int rc = 0;
    for (int k = 0; k < f->k && rc == 0; k++) {
        const Fold *fd = &f->folds[k];
        memset(seen, 0, n ? n : 1);
        for (int j = 0; j < 2 && rc == 0; j++) {
            const int64_t *v = j ? fd->val : fd->train;
            size_t m = j ? fd->n_val : fd->n_train;
            for (size_t i = 0; i < m; i++) {
                if (v[i] < 0 || (uint64_t)v[i] >= n) {
                    rc = error_format(err, errlen, "fold %d: index %lld is outside 0..%zu", k + 1, (long long)v[i],
                                 n ? n - 1 : 0);
                    break;
                }
                if (seen[v[i]]) {
                    rc = error_format(err, errlen, "fold %d: index %lld appears twice", k + 1, (long long)v[i]);
                    break;
                }
                seen[v[i]] = 1;
                if (j) {
                    if (in_val[v[i]]) {
                        rc = error_format(err, errlen, "index %lld is in the validation set of two folds",
                                     (long long)v[i]);
                        break;
                    }
                    in_val[v[i]] = 1;
                }
            }
        }
        if (rc == 0 && fd->n_train + fd->n_val != n)
            rc = error_format(err, errlen, "fold %d covers %zu of %zu samples", k + 1, fd->n_train + fd->n_val, n);
    }
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!in_val[i]) rc = error_format(err, errlen, "index %zu is in no validation set", i);
    free(seen);
    free(in_val);
    return rc;
}

typedef struct LabelIndex {
    int label;
    size_t index;
} LabelIndex;

static int by_label_then_index(const void *a, const void *b) {
    const LabelIndex *x = a, *y = b;
    if (x->label != y->label) return x->label < y->label ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

void folds_make_stratified(Folds *f, const int *labels, size_t n, int k, uint64_t seed) {
    if (k < 2 || (size_t)k > n) fatal("cannot make %d folds of %zu samples (need 2 <= K <= samples)", k, n);
    LabelIndex *order = xmalloc(n * sizeof *order, "fold assignment");
    for (size_t i = 0; i < n; i++) order[i] = (LabelIndex){labels[i], i};
    qsort(order, n, sizeof *order, by_label_then_index);
    Rng rng;
    rng_seed(&rng, seed);
    int *fold_of = xmalloc(n * sizeof *fold_of, "fold assignment");
    size_t *val_count = xcalloc((size_t)k, sizeof *val_count, "fold sizes");
    size_t deal = 0;
    for (size_t start = 0; start < n;) {
        size_t end = start;
        while (end < n && order[end].label == order[start].label) end++;
        for (size_t i = end - start; i > 1; i--) { /* Fisher-Yates */
            size_t j = (size_t)rng_below(&rng, i);
            LabelIndex t = order[start + i - 1];
            order[start + i - 1] = order[start + j];
            order[start + j] = t;
        }
        for (size_t i = start; i < end; i++, deal++) {
            fold_of[order[i].index] = (int)(deal % (size_t)k);
            val_count[deal % (size_t)k]++;
        }
        start = end;
    }
    f->k = k;
    f->folds = xcalloc((size_t)k, sizeof *f->folds, "folds");
    for (int j = 0; j < k; j++) {
        Fold *fd = &f->folds[j];
        fold_alloc(fd, n - val_count[j], val_count[j]);
        fd->n_train = fd->n_val = 0;
        for (size_t i = 0; i < n; i++) {
            if (fold_of[i] == j)
                fd->val[fd->n_val++] = (int64_t)i;
            else
                fd->train[fd->n_train++] = (int64_t)i;
        }
    }
    free(order);
    free(fold_of);
    free(val_count);
}
