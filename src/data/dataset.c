/* Opening the Dacon data set: the CSV tables joined to the image folders. */
#include "anomaly/dataset.h"
#include "anomaly/csv.h"
#include "anomaly/error.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *join(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = xmalloc(n, "a path");
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_image_ext(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    char ext[8];
    size_t n = strlen(dot + 1);
    if (n >= sizeof ext) return 0;
    for (size_t i = 0; i <= n; i++) {
        char c = dot[1 + i];
        ext[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    return strcmp(ext, "png") == 0 || strcmp(ext, "jpg") == 0 || strcmp(ext, "jpeg") == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct Names {
    char **v;
    size_t n;
} Names;

static void names_free(Names *s) {
    for (size_t i = 0; i < s->n; i++) free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

/* The image files of dir (hidden files skipped), sorted. */
static int list_images(const char *dir, Names *out, char *err, size_t errlen) {
    out->v = NULL;
    out->n = 0;
    DIR *d = opendir(dir);
    if (!d) return error_format(err, errlen, "cannot list %s: %s", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !has_image_ext(e->d_name)) continue;
        char *full = join(dir, e->d_name);
        int regular = is_file(full);
        free(full);
        if (!regular) continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 256;
            out->v = xrealloc(out->v, cap * sizeof *out->v, "image names");
        }
        out->v[out->n++] = xstrdup(e->d_name);
    }
    closedir(d);
    if (out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return 0;
}

/* A CSV row's file name, with the line it came from. */
typedef struct Row {
    const char *name;
    size_t row;
} Row;

static int cmp_row(const void *a, const void *b) {
    return strcmp(((const Row *)a)->name, ((const Row *)b)->name);
}

/* Sorts the rows by file name and checks that they name exactly the images
 * of dir: no repeats, nothing missing, nothing extra. */
static int join_images(const CsvTable *t, int col, const char *dir, Row *rows, char *err, size_t errlen) {
    for (size_t i = 0; i < t->n_rows; i++) {
        rows[i].name = csv_cell(t, i, col);
        rows[i].row = i;
        if (!rows[i].name[0] || strchr(rows[i].name, '/'))
            return error_format(err, errlen, "%s:%d: file_name '%s' is not a plain file name", t->path, t->line[i],
                           rows[i].name);
    }
    if (t->n_rows) qsort(rows, t->n_rows, sizeof *rows, cmp_row);
    for (size_t i = 1; i < t->n_rows; i++)
        if (strcmp(rows[i - 1].name, rows[i].name) == 0) {
            int a = t->line[rows[i - 1].row], b = t->line[rows[i].row];
            return error_format(err, errlen, "%s: file name %s appears on lines %d and %d", t->path, rows[i].name,
                           a < b ? a : b, a < b ? b : a);
        }
    Names imgs;
    if (list_images(dir, &imgs, err, errlen) != 0) return -1;
    size_t i = 0, j = 0;
    int rc = 0;
    while (rc == 0 && (i < t->n_rows || j < imgs.n)) {
        int c = i == t->n_rows ? 1 : j == imgs.n ? -1 : strcmp(rows[i].name, imgs.v[j]);
        if (c == 0) {
            i++;
            j++;
        } else if (c < 0) {
            char *full = join(dir, rows[i].name);
            rc = error_format(err, errlen, "%s: %s (named on line %d of %s)", full,
                         is_file(full) ? "not a .png, .jpg or .jpeg image" : "no such image",
                         t->line[rows[i].row], t->path);
            free(full);
        } else {
            rc = error_format(err, errlen, "%s/%s: image not named by any row of %s", dir, imgs.v[j], t->path);
        }
    }
    names_free(&imgs);
    return rc;
}

/* The first of root/name and root/sub/name that exists, or NULL. */
static char *find_table(const char *root, const char *sub, const char *name) {
    char *p = join(root, name);
    if (is_file(p)) return p;
    free(p);
    char *d = join(root, sub);
    p = join(d, name);
    free(d);
    if (is_file(p)) return p;
    free(p);
    return NULL;
}

static int require_column(const CsvTable *t, const char *name, int *col, char *err, size_t errlen) {
    *col = csv_column_checked(t, name, err, errlen);
    return *col < 0 ? -1 : 0;
}

/* Sorted distinct strings of v[0..n). */
static char **distinct(char *const *v, size_t n, int *count) {
    char **s = xmalloc((n ? n : 1) * sizeof *s, "distinct names");
    memcpy(s, v, n * sizeof *s);
    if (n) qsort(s, n, sizeof *s, cmp_str);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(s[k - 1], s[i]) != 0) s[k++] = s[i];
    for (size_t i = 0; i < k; i++) s[i] = xstrdup(s[i]);
    *count = (int)k;
    return s;
}

static int find_sorted(char *const *v, int n, const char *key) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(v[mid], key);
        if (c == 0) return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int load_train(Dataset *ds, char *err, size_t errlen) {
    char *csv = find_table(ds->root, "train", "train_df.csv");
    if (!csv)
        return error_format(err, errlen, "%s: no train_df.csv (looked in %s/ and %s/train/)", ds->root, ds->root,
                       ds->root);
    CsvTable t;
    int rc = csv_read(csv, &t, err, errlen);
    free(csv);
    if (rc) return -1;
    int c_file, c_class, c_state, c_label;
    Row *rows = NULL;
    char **label_of = NULL, **class_of = NULL;
    if (require_column(&t, "file_name", &c_file, err, errlen) ||
        require_column(&t, "class", &c_class, err, errlen) ||
        require_column(&t, "state", &c_state, err, errlen) ||
        require_column(&t, "label", &c_label, err, errlen))
        goto fail;
    if (t.n_rows == 0) {
        error_format(err, errlen, "%s: no rows", t.path);
        goto fail;
    }
    for (size_t i = 0; i < t.n_rows; i++) {
        const char *cls = csv_cell(&t, i, c_class), *st = csv_cell(&t, i, c_state),
                   *lab = csv_cell(&t, i, c_label);
        size_t nc = strlen(cls);
        if (!cls[0] || !st[0] || strchr(cls, '-')) {
            error_format(err, errlen, "%s:%d: class '%s' and state '%s' must be non-empty, the class without '-'",
                    t.path, t.line[i], cls, st);
            goto fail;
        }
        if (strncmp(lab, cls, nc) != 0 || lab[nc] != '-' || strcmp(lab + nc + 1, st) != 0) {
            error_format(err, errlen, "%s:%d: label '%s' is not class + \"-\" + state ('%s-%s')", t.path,
                    t.line[i], lab, cls, st);
            goto fail;
        }
    }
    char *dir = join(ds->root, "train");
    rows = xmalloc(t.n_rows * sizeof *rows, "train rows");
    rc = join_images(&t, c_file, dir, rows, err, errlen);
    if (rc == 0) {
        size_t n = t.n_rows;
        ds->train_file = xcalloc(n, sizeof *ds->train_file, "train file names");
        ds->train_path = xcalloc(n, sizeof *ds->train_path, "train paths");
        ds->train_label = xcalloc(n, sizeof *ds->train_label, "train labels");
        ds->train_class = xcalloc(n, sizeof *ds->train_class, "train classes");
        ds->n_train = n;
        label_of = xmalloc(n * sizeof *label_of, "labels");
        class_of = xmalloc(n * sizeof *class_of, "classes");
        for (size_t i = 0; i < n; i++) {
            ds->train_file[i] = xstrdup(rows[i].name);
            ds->train_path[i] = join(dir, rows[i].name);
            label_of[i] = t.cells[rows[i].row * (size_t)t.n_cols + (size_t)c_label];
            class_of[i] = t.cells[rows[i].row * (size_t)t.n_cols + (size_t)c_class];
        }
        ds->labels = distinct(label_of, n, &ds->n_labels);
        ds->classes = distinct(class_of, n, &ds->n_classes);
        for (size_t i = 0; i < n; i++) {
            ds->train_label[i] = find_sorted(ds->labels, ds->n_labels, label_of[i]);
            ds->train_class[i] = find_sorted(ds->classes, ds->n_classes, class_of[i]);
        }
    }
    free(dir);
    free(rows);
    free(label_of);
    free(class_of);
    csv_free(&t);
    return rc;
fail:
    free(rows);
    csv_free(&t);
    return -1;
}

static void set_test(Dataset *ds, size_t n) {
    ds->n_test = n;
    ds->test_file = xcalloc(n, sizeof *ds->test_file, "test file names");
    ds->test_path = xcalloc(n, sizeof *ds->test_path, "test paths");
    ds->test_index = xcalloc(n, sizeof *ds->test_index, "test indices");
    ds->sub_test = xcalloc(n, sizeof *ds->sub_test, "submission order");
    for (size_t i = 0; i < n; i++) ds->sub_test[i] = i;
}

static int load_test(Dataset *ds, char *err, size_t errlen) {
    char *dir = join(ds->root, "test");
    char *csv = find_table(ds->root, "test", "test_df.csv");
    int rc = 0;
    if (csv) {
        CsvTable t;
        rc = csv_read(csv, &t, err, errlen);
        if (rc == 0) {
            int c_index, c_file;
            rc = require_column(&t, "index", &c_index, err, errlen) ||
                         require_column(&t, "file_name", &c_file, err, errlen)
                     ? -1
                     : 0;
            Row *rows = rc == 0 ? xmalloc((t.n_rows ? t.n_rows : 1) * sizeof *rows, "test rows") : NULL;
            if (rc == 0) rc = join_images(&t, c_file, dir, rows, err, errlen);
            if (rc == 0) {
                set_test(ds, t.n_rows);
                for (size_t i = 0; i < t.n_rows; i++) {
                    ds->test_file[i] = xstrdup(csv_cell(&t, i, c_file));
                    ds->test_path[i] = join(dir, ds->test_file[i]);
                    ds->test_index[i] = xstrdup(csv_cell(&t, i, c_index));
                }
            }
            free(rows);
            csv_free(&t);
        }
    } else if (is_dir(dir)) {
        Names imgs;
        rc = list_images(dir, &imgs, err, errlen);
        if (rc == 0) {
            set_test(ds, imgs.n);
            for (size_t i = 0; i < imgs.n; i++) {
                char num[32];
                snprintf(num, sizeof num, "%zu", i);
                ds->test_file[i] = xstrdup(imgs.v[i]);
                ds->test_path[i] = join(dir, imgs.v[i]);
                ds->test_index[i] = xstrdup(num);
            }
            names_free(&imgs);
        }
    }
    free(csv);
    free(dir);
    return rc;
}

typedef struct Keyed {
    const char *key;
    size_t pos;
} Keyed;

static int cmp_keyed(const void *a, const void *b) {
    return strcmp(((const Keyed *)a)->key, ((const Keyed *)b)->key);
}

/* Orders the submission rows as sample_submission.csv does, joined on index. */
static int load_submission(Dataset *ds, char *err, size_t errlen) {
    char *path = join(ds->root, "sample_submission.csv");
    if (ds->n_test == 0 || !is_file(path)) {
        free(path);
        return 0;
    }
    CsvTable t;
    int rc = csv_read(path, &t, err, errlen);
    free(path);
    if (rc) return -1;
    int c_index;
    Keyed *test = NULL;
    if ((rc = require_column(&t, "index", &c_index, err, errlen)) != 0) goto done;
    if (t.n_rows != ds->n_test) {
        rc = error_format(err, errlen, "%s: %zu rows for %zu test images", t.path, t.n_rows, ds->n_test);
        goto done;
    }
    test = xmalloc(ds->n_test * sizeof *test, "test indices");
    for (size_t i = 0; i < ds->n_test; i++) test[i] = (Keyed){ds->test_index[i], i};
    qsort(test, ds->n_test, sizeof *test, cmp_keyed);
    for (size_t i = 1; i < ds->n_test; i++)
        if (strcmp(test[i - 1].key, test[i].key) == 0) {
            rc = error_format(err, errlen, "%s: test index '%s' appears twice", ds->root, test[i].key);
            goto done;
        }
    unsigned char *used = xcalloc(ds->n_test, 1, "submission check");
    for (size_t r = 0; r < t.n_rows && rc == 0; r++) {
        Keyed key = {csv_cell(&t, r, c_index), 0};
        const Keyed *hit = bsearch(&key, test, ds->n_test, sizeof *test, cmp_keyed);
        if (!hit)
            rc = error_format(err, errlen, "%s:%d: index '%s' is not a test image's index", t.path, t.line[r],
                         key.key);
        else if (used[hit->pos]++)
            rc = error_format(err, errlen, "%s:%d: index '%s' appears twice", t.path, t.line[r], key.key);
        else
            ds->sub_test[r] = hit->pos;
    }
    free(used);
done:
    free(test);
    csv_free(&t);
    return rc;
}

int dataset_open(const char *root, Dataset *ds, char *err, size_t errlen) {
    memset(ds, 0, sizeof *ds);
    if (!is_dir(root)) return error_format(err, errlen, "%s: no such data directory", root);
    ds->root = xstrdup(root);
    if (load_train(ds, err, errlen) || load_test(ds, err, errlen) || load_submission(ds, err, errlen)) {
        dataset_free(ds);
        return -1;
    }
    return 0;
}

void dataset_open_or_die(const char *root, Dataset *ds) {
    char err[1024];
    if (dataset_open(root, ds, err, sizeof err) != 0) fatal("%s", err);
}

static void free_strings(char **v, size_t n) {
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void dataset_free(Dataset *ds) {
    free(ds->root);
    free_strings(ds->train_file, ds->n_train);
    free_strings(ds->train_path, ds->n_train);
    free(ds->train_label);
    free(ds->train_class);
    free_strings(ds->labels, (size_t)ds->n_labels);
    free_strings(ds->classes, (size_t)ds->n_classes);
    free_strings(ds->test_file, ds->n_test);
    free_strings(ds->test_path, ds->n_test);
    free_strings(ds->test_index, ds->n_test);
    free(ds->sub_test);
    memset(ds, 0, sizeof *ds);
}

int dataset_label_index(const Dataset *ds, const char *label) {
    return find_sorted(ds->labels, ds->n_labels, label);
}

int dataset_class_index(const Dataset *ds, const char *cls) {
    return find_sorted(ds->classes, ds->n_classes, cls);
}

size_t label_class_len(const char *label) {
    const char *dash = strchr(label, '-');
    return dash ? (size_t)(dash - label) : strlen(label);
}

void label_class(const char *label, char *out, size_t outlen) {
    if (!outlen) return;
    size_t n = label_class_len(label);
    if (n > outlen - 1) n = outlen - 1;
    memcpy(out, label, n);
    out[n] = 0;
}

const char *label_state(const char *label) {
    const char *dash = strchr(label, '-');
    return dash ? dash + 1 : "";
}
