/* anomaly compare A B: two runs diffed tensor by tensor (a --dump, a
 * checkpoint, a gradient file, .npy arrays, or folders of them), in A's
 * order, naming the first tensor that diverges. Exit status: 0 all agree,
 * 1 something differs, 2 bad input. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "anomaly/args.h"
#include "anomaly/csv.h"
#include "anomaly/error.h"
#include "anomaly/npy.h"
#include "anomaly/safetensors.h"
#include "anomaly/tensor_diff.h"

int cmd_compare(int argc, char **argv);

static const char usage[] =
    "A B [--rtol X --atol Y | --dtype float32|float64] [--csv OUT] [--first] [--global_scale]\n"
    "\n"
    "A and B are safetensors files (a `forward --dump`, a checkpoint, a `step\n"
    "--grads` file), PyTorch .pth files, .npy files, or folders of them (their\n"
    ".safetensors, .st, .pth and .npy files; a tensor of FILE is named\n"
    "FILE/NAME, a .npy file by its name without .npy; a .npy file given\n"
    "directly holds one tensor, `array`). Files are recognised by content.\n"
    "Tensors are matched by name and listed in A's order, which for a dump is\n"
    "the model's forward order. For each: shape, dtype, max abs error,\n"
    "max relative error (max |a-b| / max |b|, B being the reference), NMSE\n"
    "(sum (a-b)^2 / sum b^2), elements beyond tolerance and NaN/Inf positions\n"
    "that differ; OK or NOT OK.\n"
    "\n"
    "Tolerance: element i is beyond it when |a_i - b_i| > atol + rtol * max|b|.\n"
    "Defaults from the coarser floating dtype of the two tensors (or --dtype):\n"
    "rtol = sqrt(eps) (half its digits), atol = its smallest normal number (so\n"
    "only subnormal noise, which GPUs may flush to zero, passes at a zero\n"
    "reference): float32 rtol 3.45e-4, atol 1.2e-38; float64 rtol 1.49e-8,\n"
    "atol 2.2e-308; float16 rtol 0.031; bfloat16 rtol 0.088. Integer and bool\n"
    "tensors must be equal. A float tensor against an integer one, a shape\n"
    "difference, or any NaN/Inf mismatch is NOT OK. NaN against NaN and equal\n"
    "infinities agree.\n"
    "\n"
    "--global_scale measures every tensor against the largest |b| of all of\n"
    "B's float tensors instead of its own (for gradients: a tensor whose true\n"
    "gradient is zero holds rounding noise only).\n"
    "\n"
    "Prints one line per tensor, the tensors present in only one side, and the\n"
    "first diverging tensor (module) in A's order. --first stops there.\n"
    "Exit status: 0 when every tensor agrees and both sides hold the same\n"
    "names, 1 otherwise, 2 on bad input (unreadable, truncated or unknown\n"
    "files, bad flags).";

typedef enum Kind { K_FLOAT, K_INT, K_BOOL } Kind;

typedef struct Item {
    char *name;
    const StTensor *st; /* or npy */
    const NpyArray *npy;
} Item;

typedef struct Side {
    const char *path;
    SafeTensors *files;
    NpyArray *arrays;
    int n_files, n_arrays, cap_files, cap_arrays;
    Item *items;
    int count, cap;
} Side;

static void add_item(Side *s, const char *prefix, const char *name, const StTensor *st, const NpyArray *npy) {
    if (s->count == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->items = xrealloc(s->items, (size_t)s->cap * sizeof *s->items, "a tensor list");
    }
    size_t n = strlen(name) + (prefix ? strlen(prefix) + 1 : 0) + 1;
    char *full = xmalloc(n, "a tensor name");
    snprintf(full, n, "%s%s%s", prefix ? prefix : "", prefix ? "/" : "", name);
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->items[i].name, full) == 0) fatal("anomaly compare: %s: tensor %s appears twice", s->path, full);
    s->items[s->count++] = (Item){full, st, npy};
}

static int is_npy(const char *path) {
    FILE *fp = fopen(path, "rb");
    char magic[6] = {0};
    size_t got = fp ? fread(magic, 1, 6, fp) : 0;
    if (fp) fclose(fp);
    return got == 6 && memcmp(magic, "\x93NUMPY", 6) == 0;
}

/* Reads one file; prefix names its tensors inside a folder (NULL: a file given directly). */
static void load_file(Side *s, const char *path, const char *prefix, const char *npy_name) {
    char err[1024];
    if (is_npy(path)) {
        if (s->n_arrays == s->cap_arrays) {
            /* items point into arrays: grow by a fresh block, never move */
            fatal("anomaly compare: more than %d .npy files in %s", s->cap_arrays, s->path);
        }
        NpyArray *a = &s->arrays[s->n_arrays];
        if (npy_read(path, a, err, sizeof err)) fatal("anomaly compare: %s", err);
        s->n_arrays++;
        add_item(s, NULL, npy_name, NULL, a);
        return;
    }
    if (s->n_files == s->cap_files) fatal("anomaly compare: more than %d tensor files in %s", s->cap_files, s->path);
    SafeTensors *st = &s->files[s->n_files];
    if (safetensors_open(path, st, err, sizeof err))
        fatal("anomaly compare: %s (not a safetensors, .pth or .npy file?)", err);
    s->n_files++;
    for (int i = 0; i < st->count; i++) add_item(s, prefix, st->tensors[i].name, &st->tensors[i], NULL);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcmp(s + n - k, suffix) == 0;
}

static void load_side(Side *s, const char *path) {
    memset(s, 0, sizeof *s);
    s->path = path;
    struct stat sb;
    if (stat(path, &sb) != 0) fatal("anomaly compare: %s: cannot open", path);
    if (!S_ISDIR(sb.st_mode)) {
        s->cap_files = s->cap_arrays = 1;
        s->files = xcalloc(1, sizeof *s->files, "a file");
        s->arrays = xcalloc(1, sizeof *s->arrays, "an array");
        load_file(s, path, NULL, "array");
        return;
    }
    DIR *d = opendir(path);
    if (!d) fatal("anomaly compare: %s: cannot open the folder", path);
    char **names = NULL;
    int n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *f = e->d_name;
        if (f[0] == '.' || !(has_suffix(f, ".safetensors") || has_suffix(f, ".st") || has_suffix(f, ".pth") ||
                             has_suffix(f, ".npy")))
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 32;
            names = xrealloc(names, (size_t)cap * sizeof *names, "file names");
        }
        names[n++] = xstrdup(f);
    }
    closedir(d);
    if (n == 0) fatal("anomaly compare: %s: a folder without .safetensors, .st, .pth or .npy files", path);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    s->cap_files = s->cap_arrays = n;
    s->files = xcalloc((size_t)n, sizeof *s->files, "files");
    s->arrays = xcalloc((size_t)n, sizeof *s->arrays, "arrays");
    for (int i = 0; i < n; i++) {
        char full[4096], stem[512];
        path_printf(full, sizeof full, "%s/%s", path, names[i]);
        snprintf(stem, sizeof stem, "%s", names[i]);
        if (has_suffix(stem, ".npy")) stem[strlen(stem) - 4] = 0;
        load_file(s, full, names[i], stem);
        free(names[i]);
    }
    free(names);
}

static void free_side(Side *s) {
    for (int i = 0; i < s->count; i++) free(s->items[i].name);
    for (int i = 0; i < s->n_files; i++) safetensors_close(&s->files[i]);
    for (int i = 0; i < s->n_arrays; i++) npy_free(&s->arrays[i]);
    free(s->items);
    free(s->files);
    free(s->arrays);
}

/* ---- element access ---- */

typedef struct Info {
    const char *dtype;
    Kind kind;
    double eps, tiny; /* floating kinds: machine epsilon, smallest normal */
    int ndim;
    const int64_t *shape;
    size_t numel;
} Info;

static Info info_of(const Item *it) {
    Info f = {NULL, K_FLOAT, 0, 0, 0, NULL, 0};
    if (it->npy) {
        static const char *names[] = {"F32", "F64", "I64", "I32", "U8", "BOOL"};
        NpyDtype d = it->npy->dtype;
        f.dtype = names[d];
        f.kind = d == NPY_F4 || d == NPY_F8 ? K_FLOAT : d == NPY_B1 ? K_BOOL : K_INT;
        f.eps = d == NPY_F4 ? ldexp(1, -23) : ldexp(1, -52);
        f.tiny = d == NPY_F4 ? ldexp(1, -126) : ldexp(1, -1022);
        f.ndim = it->npy->ndim;
        f.shape = it->npy->shape;
        f.numel = it->npy->numel;
        return f;
    }
    const StTensor *t = it->st;
    f.dtype = st_dtype_name(t->dtype);
    f.ndim = t->ndim;
    f.shape = t->shape;
    f.numel = t->numel;
    switch (t->dtype) {
    case ST_F64: f.eps = ldexp(1, -52), f.tiny = ldexp(1, -1022); break;
    case ST_F32: f.eps = ldexp(1, -23), f.tiny = ldexp(1, -126); break;
    case ST_F16: f.eps = ldexp(1, -10), f.tiny = ldexp(1, -14); break;
    case ST_BF16: f.eps = ldexp(1, -7), f.tiny = ldexp(1, -126); break;
    case ST_F8_E4M3: f.eps = ldexp(1, -3), f.tiny = ldexp(1, -6); break;
    case ST_F8_E5M2: f.eps = ldexp(1, -2), f.tiny = ldexp(1, -14); break;
    case ST_BOOL: f.kind = K_BOOL; break;
    default: f.kind = K_INT;
    }
    return f;
}

static double half_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h >> 15 ? -v : v;
}

static double fp8_value(uint8_t b, int e4m3) {
    int ebits = e4m3 ? 4 : 5, mbits = 7 - ebits, bias = e4m3 ? 7 : 15;
    int e = (b >> mbits) & ((1 << ebits) - 1), m = b & ((1 << mbits) - 1);
    double v;
    if (e4m3 && e == 15 && m == 7) v = NAN;
    else if (!e4m3 && e == 31) v = m ? NAN : INFINITY;
    else if (e == 0) v = ldexp(m, 1 - bias - mbits);
    else v = ldexp((1 << mbits) + m, e - bias - mbits);
    return b >> 7 ? -v : v;
}

/* The elements of an item as doubles (newly allocated). */
static double *values_of(const Item *it) {
    size_t n = it->npy ? it->npy->numel : it->st->numel;
    double *v = xmalloc((n ? n : 1) * sizeof *v, "tensor values");
    if (it->npy) {
        const void *p = it->npy->data;
        for (size_t i = 0; i < n; i++) switch (it->npy->dtype) {
            case NPY_F4: v[i] = ((const float *)p)[i]; break;
            case NPY_F8: v[i] = ((const double *)p)[i]; break;
            case NPY_I8: v[i] = (double)((const int64_t *)p)[i]; break;
            case NPY_I4: v[i] = ((const int32_t *)p)[i]; break;
            case NPY_U1:
            case NPY_B1: v[i] = ((const uint8_t *)p)[i]; break;
            }
        return v;
    }
    const StTensor *t = it->st;
    size_t es = st_dtype_size(t->dtype);
    for (size_t i = 0; i < n; i++) {
        const unsigned char *q = t->data + i * es;
        union {
            float f;
            double d;
            int64_t i64;
            uint64_t u64;
            int32_t i32;
            uint32_t u32;
            int16_t i16;
            uint16_t u16;
            int8_t i8;
            uint8_t u8;
        } x;
        memcpy(&x, q, es);
        switch (t->dtype) {
        case ST_F32: v[i] = x.f; break;
        case ST_F64: v[i] = x.d; break;
        case ST_F16: v[i] = half_value(x.u16); break;
        case ST_BF16: {
            uint32_t u = (uint32_t)x.u16 << 16;
            float f;
            memcpy(&f, &u, 4);
            v[i] = f;
            break;
        }
        case ST_F8_E4M3:
        case ST_F8_E5M2: v[i] = fp8_value(x.u8, t->dtype == ST_F8_E4M3); break;
        case ST_I64: v[i] = (double)x.i64; break;
        case ST_U64: v[i] = (double)x.u64; break;
        case ST_I32: v[i] = x.i32; break;
        case ST_U32: v[i] = x.u32; break;
        case ST_I16: v[i] = x.i16; break;
        case ST_U16: v[i] = x.u16; break;
        case ST_I8: v[i] = x.i8; break;
        case ST_U8:
        case ST_BOOL: v[i] = x.u8; break;
        }
    }
    return v;
}

static const Item *find(const Side *s, const char *name) {
    for (int i = 0; i < s->count; i++)
        if (strcmp(s->items[i].name, name) == 0) return &s->items[i];
    return NULL;
}

static void shape_text(char *buf, size_t n, const Info *f) { st_format_shape(buf, n, f->ndim, f->shape); }

/* ---- the command ---- */

typedef struct Row {
    const char *name, *status;
    char shape_a[128], shape_b[128], note[320];
    const char *dtype_a, *dtype_b;
    TensorDiff d;
    int compared;
} Row;

static void csv_row(CsvWriter *w, const Row *r) {
    char num[5][32];
    snprintf(num[0], 32, "%.6g", r->d.max_abs);
    snprintf(num[1], 32, "%.6g", r->d.max_rel);
    snprintf(num[2], 32, "%.6g", r->d.nmse);
    snprintf(num[3], 32, "%zu", r->d.out_of_tol);
    snprintf(num[4], 32, "%zu", r->d.nonfinite_mismatch);
    const char *f[12] = {r->name, r->status, r->shape_a, r->shape_b, r->dtype_a ? r->dtype_a : "",
                         r->dtype_b ? r->dtype_b : "", r->compared ? num[0] : "", r->compared ? num[1] : "",
                         r->compared ? num[2] : "", r->compared ? num[3] : "", r->compared ? num[4] : "", r->note};
    csv_writer_row(w, f);
}

/* dtype: the --dtype's Info (eps and tiny), or NULL. */
static void compare_one(const Item *a, const Item *b, double rtol, double atol, const Info *dtype, double scale_min,
                        Row *r) {
    Info fa = info_of(a), fb = info_of(b);
    shape_text(r->shape_a, sizeof r->shape_a, &fa);
    shape_text(r->shape_b, sizeof r->shape_b, &fb);
    r->dtype_a = fa.dtype;
    r->dtype_b = fb.dtype;
    int same_shape = fa.ndim == fb.ndim;
    for (int k = 0; same_shape && k < fa.ndim; k++) same_shape = fa.shape[k] == fb.shape[k];
    if (!same_shape) {
        snprintf(r->note, sizeof r->note, "shape %s vs %s", r->shape_a, r->shape_b);
        return;
    }
    if ((fa.kind == K_FLOAT) != (fb.kind == K_FLOAT)) {
        snprintf(r->note, sizeof r->note, "dtype %s vs %s", fa.dtype, fb.dtype);
        return;
    }
    double *va = values_of(a), *vb = values_of(b);
    if (fa.kind == K_FLOAT) {
        const Info *coarse = dtype ? dtype : fa.eps >= fb.eps ? &fa : &fb;
        double rt, at;
        tensor_diff_default_tol(coarse->eps, coarse->tiny, &rt, &at);
        tensor_diff(va, vb, fa.numel, isnan(rtol) ? rt : rtol, isnan(atol) ? at : atol, scale_min, &r->d);
    } else {
        tensor_diff(va, vb, fa.numel, 0, 0, 0, &r->d);
    }
    free(va);
    free(vb);
    r->compared = 1;
    if (r->d.nonfinite_mismatch)
        snprintf(r->note, sizeof r->note, "%zu NaN/Inf position(s) differ", r->d.nonfinite_mismatch);
    else if (r->d.out_of_tol)
        snprintf(r->note, sizeof r->note, "%zu of %zu element(s) beyond tolerance", r->d.out_of_tol, fa.numel);
    else if (strcmp(fa.dtype, fb.dtype) != 0)
        snprintf(r->note, sizeof r->note, "dtype %s vs %s, compared as the coarser", fa.dtype, fb.dtype);
    r->status = r->d.nonfinite_mismatch || r->d.out_of_tol ? "NOT OK" : "OK";
}

int cmd_compare(int argc, char **argv) {
    fatal_set_status(2);
    double rtol = NAN, atol = NAN;
    const char *dtype = NULL, *csv = NULL;
    int first = 0, global_scale = 0;
    const ArgSpec specs[] = {
        {"rtol", ARG_DOUBLE, &rtol, "relative tolerance, times max|B| (default: sqrt(eps))", NULL, 0},
        {"atol", ARG_DOUBLE, &atol, "absolute tolerance (default: the smallest normal number)", NULL, 0},
        {"dtype", ARG_STRING, &dtype, "take eps from this dtype instead of the tensors'", "float32|float64", 0},
        {"csv", ARG_STRING, &csv, "also write one row per tensor to this CSV file", NULL, 0},
        {"first", ARG_FLAG, &first, "stop at the first tensor that differs", NULL, 0},
        {"global_scale", ARG_FLAG, &global_scale, "scale tolerances by the largest |b| of all tensors", NULL, 0},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    const char *paths[2];
    int n = args_parse("compare", usage, specs, argc, argv, paths, 2);
    if (n != 2) fatal("anomaly compare: give two files or folders, A and B (see anomaly compare --help)");
    if (dtype && (!isnan(rtol) || !isnan(atol)))
        fatal("anomaly compare: give --dtype or --rtol/--atol, not both");
    if ((!isnan(rtol) && !(rtol >= 0)) || (!isnan(atol) && !(atol >= 0)))
        fatal("anomaly compare: --rtol and --atol must be non-negative");
    Info chosen = {dtype, K_FLOAT, ldexp(1, -52), ldexp(1, -1022), 0, NULL, 0};
    if (dtype && strcmp(dtype, "float32") == 0) chosen.eps = ldexp(1, -23), chosen.tiny = ldexp(1, -126);
    Side A, B;
    load_side(&A, paths[0]);
    load_side(&B, paths[1]);

    double scale_min = 0;
    for (int i = 0; i < B.count && global_scale; i++) {
        if (info_of(&B.items[i]).kind != K_FLOAT) continue;
        double *v = values_of(&B.items[i]);
        for (size_t k = 0; k < info_of(&B.items[i]).numel; k++)
            if (isfinite(v[k]) && fabs(v[k]) > scale_min) scale_min = fabs(v[k]);
        free(v);
    }
    CsvWriter w;
    static const char *const header[] = {"name", "status", "shape_a", "shape_b", "dtype_a", "dtype_b",
                                         "max_abs", "max_rel", "nmse", "beyond_tol", "nonfinite_mismatch", "note"};
    if (csv) csv_writer_open(&w, csv, 12, header);
    int ok = 0, bad = 0, only_a = 0, only_b = 0;
    const char *first_bad = NULL;
    for (int i = 0; i < A.count && !(first && first_bad); i++) {
        const Item *a = &A.items[i], *b = find(&B, a->name);
        Row r;
        memset(&r, 0, sizeof r);
        r.name = a->name;
        r.status = "NOT OK";
        if (!b) {
            only_a++;
            Info f = info_of(a);
            shape_text(r.shape_a, sizeof r.shape_a, &f);
            r.dtype_a = f.dtype;
            r.status = "ONLY A";
            printf("ONLY IN A  %s %s\n", a->name, r.shape_a);
        } else {
            compare_one(a, b, rtol, atol, dtype ? &chosen : NULL, scale_min, &r);
            int good = strcmp(r.status, "OK") == 0;
            good ? ok++ : bad++;
            if (!good && !first_bad) first_bad = a->name;
            if (r.compared)
                printf("%-6s %s %s %s  max abs %.3e  max rel %.3e  nmse %.3e%s%s\n", r.status, a->name, r.shape_a,
                       r.dtype_a, r.d.max_abs, r.d.max_rel, r.d.nmse, r.note[0] ? "  " : "", r.note);
            else
                printf("%-6s %s  %s\n", r.status, a->name, r.note);
        }
        if (csv) csv_row(&w, &r);
    }
    for (int i = 0; i < B.count && !(first && first_bad); i++)
        if (!find(&A, B.items[i].name)) {
            only_b++;
            Row r;
            memset(&r, 0, sizeof r);
            r.name = B.items[i].name;
            r.status = "ONLY B";
            Info f = info_of(&B.items[i]);
            shape_text(r.shape_b, sizeof r.shape_b, &f);
            r.dtype_b = f.dtype;
            printf("ONLY IN B  %s %s\n", r.name, r.shape_b);
            if (csv) csv_row(&w, &r);
        }
    if (csv) csv_writer_commit(&w);
    printf("compare: %d tensor(s) in both: %d OK, %d NOT OK; %d only in A (%s), %d only in B (%s)%s\n", ok + bad, ok,
           bad, only_a, paths[0], only_b, paths[1], first && first_bad ? "; stopped at the first difference" : "");
    if (first_bad) printf("first diverging: %s\n", first_bad);
    else if (ok + bad == 0) printf("no tensor name is in both\n");
    int status = bad || only_a || only_b || ok + bad == 0 ? 1 : 0;
    free_side(&A);
    free_side(&B);
    if (fflush(stdout) != 0 || ferror(stdout)) fatal("anomaly compare: cannot write to standard output");
    return status;
}
