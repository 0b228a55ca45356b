/* Checkpoint averaging ("blending the model weights" of the seed): the
 * element-wise weighted mean of safetensors files of one architecture. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/ensemble.h"
#include "anomaly/error.h"
#include "anomaly/safetensors.h"

/* a rounded to p significant bits, exponents below emin sharing emin's
 * spacing (subnormals); round half to even, as the hardware does. */
static double round_to_bits(double a, int p, int emin) {
    if (a == 0 || !isfinite(a)) return a;
    int e;
    frexp(a, &e);
    e -= 1; /* a in [2^e, 2^(e+1)) */
    if (e < emin) e = emin;
    double q = ldexp(1.0, e - (p - 1));
    return nearbyint(a / q) * q;
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(m + 1024, e - 25);
    return (h & 0x8000) ? -v : v;
}

static uint16_t half_from_double(double x) {
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    if (isnan(x)) return 0x7e00;
    double r = round_to_bits(fabs(x), 11, -14);
    if (r >= 65536.0) return sign | 0x7c00;
    if (r == 0) return sign;
    int e;
    frexp(r, &e);
    e -= 1;
    if (e < -14) return sign | (uint16_t)ldexp(r, 24);
    return sign | (uint16_t)((e + 15) << 10) | (uint16_t)(ldexp(r, 10 - e) - 1024);
}

static double bf16_to_double(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t bf16_from_double(double x) {
    if (isnan(x)) return 0x7fc0;
    double r = round_to_bits(fabs(x), 8, -126);
    float f = r >= 0x1p128 ? INFINITY : (float)r; /* exact: r has 8 bits */
    if (signbit(x)) f = -f;
    uint32_t bits;
    memcpy(&bits, &f, 4);
    return (uint16_t)(bits >> 16);
}

static int is_float(StDtype d) { return d == ST_F64 || d == ST_F32 || d == ST_F16 || d == ST_BF16; }
static int is_signed_int(StDtype d) { return d == ST_I8 || d == ST_I16 || d == ST_I32 || d == ST_I64; }
static int is_unsigned_int(StDtype d) {
    return d == ST_BOOL || d == ST_U8 || d == ST_U16 || d == ST_U32 || d == ST_U64;
}

static double load_float(const StTensor *t, size_t i) {
    const unsigned char *p = t->data + i * st_dtype_size(t->dtype);
    if (t->dtype == ST_F64) { double v; memcpy(&v, p, 8); return v; }
    if (t->dtype == ST_F32) { float v; memcpy(&v, p, 4); return v; }
    uint16_t h;
    memcpy(&h, p, 2);
    return t->dtype == ST_F16 ? half_to_double(h) : bf16_to_double(h);
}

static void store_float(StDtype d, unsigned char *p, double v) {
    if (d == ST_F64) { memcpy(p, &v, 8); return; }
    if (d == ST_F32) { float f = (float)v; memcpy(p, &f, 4); return; }
    uint16_t h = d == ST_F16 ? half_from_double(v) : bf16_from_double(v);
    memcpy(p, &h, 2);
}

/* Little-endian integers of 1 to 8 bytes, widened. */
static uint64_t load_bits(const unsigned char *p, size_t size) {
    uint64_t v = 0;
    for (size_t b = 0; b < size; b++) v |= (uint64_t)p[b] << (8 * b);
    return v;
}

static int64_t load_signed(const unsigned char *p, size_t size) {
    uint64_t v = load_bits(p, size);
    if (size < 8 && (v >> (8 * size - 1)) & 1) v |= ~(uint64_t)0 << (8 * size);
    return (int64_t)v;
}

/* One output tensor into out[nbytes]: weighted mean of floats, maximum of
 * integers. */
static void combine(const StTensor *const *t, const double *w, int n, unsigned char *out) {
    StDtype d = t[0]->dtype;
    size_t size = st_dtype_size(d), numel = t[0]->numel;
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < numel; i++) {
        if (is_float(d)) {
            double acc = 0;
            for (int f = 0; f < n; f++) acc += w[f] * load_float(t[f], i);
            store_float(d, out + i * size, acc);
        } else {
            const unsigned char *best = t[0]->data + i * size;
            for (int f = 1; f < n; f++) {
                const unsigned char *p = t[f]->data + i * size;
                int more = is_signed_int(d) ? load_signed(p, size) > load_signed(best, size)
                                            : load_bits(p, size) > load_bits(best, size);
                if (more) best = p;
            }
            memcpy(out + i * size, best, size);
        }
    }
}

static int same_shape(const StTensor *a, const StTensor *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

/* Every file holds the first file's names, shapes and dtypes and no other. */
static int check_alike(const SafeTensors *st, int n, char *err, size_t errlen) {
    const SafeTensors *a = &st[0];
    for (int f = 1; f < n; f++) {
        const SafeTensors *b = &st[f];
        for (int i = 0; i < a->count; i++) {
            const StTensor *x = &a->tensors[i], *y = safetensors_find(b, x->name);
            if (!y)
                return error_format(err, errlen, "%s has no tensor '%s' (%s has it): the checkpoints are not of one model",
                            b->path, x->name, a->path);
            if (x->dtype != y->dtype)
                return error_format(err, errlen, "tensor '%s' is %s in %s but %s in %s", x->name, st_dtype_name(x->dtype),
                            a->path, st_dtype_name(y->dtype), b->path);
            if (!same_shape(x, y)) {
                char sa[160], sb[160];
                st_format_shape(sa, sizeof sa, x->ndim, x->shape);
                st_format_shape(sb, sizeof sb, y->ndim, y->shape);
                return error_format(err, errlen, "tensor '%s' has shape %s in %s but %s in %s", x->name, sa, a->path, sb,
                            b->path);
            }
        }
        for (int i = 0; i < b->count; i++)
            if (!safetensors_find(a, b->tensors[i].name))
                return error_format(err, errlen, "%s has a tensor '%s' that %s lacks: the checkpoints are not of one model",
                            b->path, b->tensors[i].name, a->path);
    }
    for (int i = 0; i < a->count; i++) {
        StDtype d = a->tensors[i].dtype;
        if (!is_float(d) && !is_signed_int(d) && !is_unsigned_int(d))
            return error_format(err, errlen, "tensor '%s' of %s is %s, which averaging does not support", a->tensors[i].name,
                        a->path, st_dtype_name(d));
    }
    return 0;
}

static int check_weights(const double *weights, int n, double *w, int *normalised, char *err, size_t errlen) {
    double sum = 0;
    for (int i = 0; i < n; i++) {
        w[i] = weights ? weights[i] : 1.0 / n;
        if (!isfinite(w[i]) || w[i] < 0)
            return error_format(err, errlen, "weight %d is %g; weights must be finite and not negative", i + 1, w[i]);
        sum += w[i];
    }
    if (!(sum > 0)) return error_format(err, errlen, "the weights sum to 0");
    *normalised = fabs(sum - 1) > 1e-6;
    if (*normalised)
        for (int i = 0; i < n; i++) w[i] /= sum;
    return 0;
}

static void add_metadata(StWriter *wr, const SafeTensors *st, int n, const double *w) {
    for (int k = 0; k < st[0].n_meta; k++) {
        const char *key = st[0].meta_keys[k], *v = st[0].meta_values[k];
        int same = strcmp(key, "averaged_from") != 0;
        for (int f = 1; f < n && same; f++) {
            const char *o = safetensors_meta(&st[f], key);
            same = o && strcmp(o, v) == 0;
        }
        if (same) st_writer_meta(wr, key, v);
    }
    size_t cap = 64, len = 0;
    char *from = xmalloc(cap, "metadata");
    from[0] = 0;
    for (int f = 0; f < n; f++) {
        char part[64];
        int m = snprintf(part, sizeof part, "*%.17g", w[f]);
        size_t need = len + strlen(st[f].path) + (size_t)m + 2;
        if (need > cap) from = xrealloc(from, cap = 2 * need, "metadata");
        len += (size_t)sprintf(from + len, "%s%s%s", f ? "," : "", st[f].path, part);
    }
    st_writer_meta(wr, "averaged_from", from);
    free(from);
}

int checkpoint_average(const char *const *paths, const double *weights, int n, const char *out_path,
                       int *normalised, char *err, size_t errlen) {
    if (n < 1) return error_format(err, errlen, "no checkpoints to average");
    double *w = xmalloc((size_t)n * sizeof *w, "weights");
    int norm = 0;
    if (check_weights(weights, n, w, &norm, err, errlen) != 0) {
        free(w);
        return -1;
    }
    if (normalised) *normalised = norm;
    SafeTensors *st = xcalloc((size_t)n, sizeof *st, "checkpoints");
    int opened = 0, rc = 0;
    for (; opened < n && rc == 0; opened++)
        rc = safetensors_open(paths[opened], &st[opened], err, errlen);
    if (rc != 0) opened--; /* the failed one holds nothing */
    if (rc == 0) rc = check_alike(st, n, err, errlen);
    if (rc == 0) {
        StWriter wr;
        st_writer_init(&wr);
        add_metadata(&wr, st, n, w);
        const StTensor **t = xmalloc((size_t)n * sizeof *t, "tensors");
        for (int i = 0; i < st[0].count; i++) {
            for (int f = 0; f < n; f++) t[f] = safetensors_find(&st[f], st[0].tensors[i].name);
            unsigned char *out = xmalloc(t[0]->nbytes, "an averaged tensor");
            combine(t, w, n, out);
            st_writer_add_raw(&wr, t[0]->name, t[0]->dtype, out, t[0]->ndim, t[0]->shape);
            free(out);
        }
        free(t);
        st_writer_commit(&wr, out_path);
    }
    for (int f = 0; f < opened; f++) safetensors_close(&st[f]);
    free(st);
    free(w);
    return rc;
}
