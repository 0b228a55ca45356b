#include "anomaly/csv.h"
#include "anomaly/error.h"
#include "io_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int io_read_file(const char *path, size_t max_bytes, uint8_t **data, size_t *size, char *err, size_t errlen) {
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        error_format(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    /* Grown as we go rather than sized by fseek, so pipes and files that
     * change while being read cannot overrun the buffer. */
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = xmalloc(cap + 1, "a file's contents");
    for (;;) {
        if (n == cap) {
            if (cap > max_bytes) break;
            cap *= 2;
            buf = xrealloc(buf, cap + 1, "a file's contents");
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    int e = errno;
    fclose(fp);
    if (bad) {
        free(buf);
        error_format(err, errlen, "%s: read error: %s", path, strerror(e));
        return -1;
    }
    if (n > max_bytes) {
        free(buf);
        error_format(err, errlen, "%s: file too large (over %zu bytes)", path, max_bytes);
        return -1;
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return 0;
}

/* Tables are small; this only stops a wrong path (a disk image, say) from
 * being read whole. */
#define CSV_MAX_BYTES ((size_t)1 << 30)

typedef struct Parser {
    const uint8_t *in;
    size_t n, pos;
    int line;
    char *out; /* next free byte of the string storage */
    const char *path;
    char *err;
    size_t errlen;
} Parser;

static int at_line_end(const Parser *p) {
    return p->pos >= p->n || p->in[p->pos] == '\n' || p->in[p->pos] == '\r';
}

/* Consumes one line end (LF, CRLF or CR) and counts the line. */
static void end_line(Parser *p) {
    if (p->pos < p->n && p->in[p->pos] == '\r') {
        p->pos++;
        if (p->pos < p->n && p->in[p->pos] == '\n') p->pos++;
    } else if (p->pos < p->n && p->in[p->pos] == '\n') {
        p->pos++;
    }
    p->line++;
}

/* Parses one field starting at p->pos into p->out; returns 0 or -1. */
static int parse_field(Parser *p) {
    if (p->pos < p->n && p->in[p->pos] == '"') {
        int start_line = p->line;
        p->pos++;
        for (;;) {
            if (p->pos >= p->n) {
                error_format(p->err, p->errlen, "%s:%d: unterminated quoted field", p->path, start_line);
                return -1;
            }
            uint8_t c = p->in[p->pos];
            if (c == '"') {
                if (p->pos + 1 < p->n && p->in[p->pos + 1] == '"') {
                    *p->out++ = '"';
                    p->pos += 2;
                    continue;
                }
                p->pos++;
                break;
            }
            if (c == 0) {
                error_format(p->err, p->errlen, "%s:%d: NUL byte in a field", p->path, p->line);
                return -1;
            }
            /* A line break inside quotes is data, but still a line of the file. */
            if (c == '\n' || (c == '\r' && !(p->pos + 1 < p->n && p->in[p->pos + 1] == '\n'))) p->line++;
            *p->out++ = (char)c;
            p->pos++;
        }
        if (!at_line_end(p) && p->in[p->pos] != ',') {
            error_format(p->err, p->errlen, "%s:%d: unexpected character '%c' after a closing quote", p->path,
                    p->line, p->in[p->pos]);
            return -1;
        }
    } else {
        while (!at_line_end(p) && p->in[p->pos] != ',') {
            if (p->in[p->pos] == 0) {
                error_format(p->err, p->errlen, "%s:%d: NUL byte in a field", p->path, p->line);
                return -1;
            }
            *p->out++ = (char)p->in[p->pos++];
        }
    }
    *p->out++ = 0;
    return 0;
}

typedef struct CellList {
    size_t count, cap;
    size_t *off; /* offsets into storage: pointers are fixed up at the end */
} CellList;

static void cells_push(CellList *c, size_t off) {
    if (c->count == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        c->off = xrealloc(c->off, c->cap * sizeof *c->off, "CSV cells");
    }
    c->off[c->count++] = off;
}

int csv_read(const char *path, CsvTable *t, char *err, size_t errlen) {
    memset(t, 0, sizeof *t);
    uint8_t *buf;
    size_t n;
    if (io_read_file(path, CSV_MAX_BYTES, &buf, &n, err, errlen) != 0) return -1;
    Parser p = {buf, n, 0, 1, NULL, path, err, errlen};
    if (n >= 3 && buf[0] == 0xEF && buf[1] == 0xBB && buf[2] == 0xBF) p.pos = 3;
    /* Unquoting only shrinks a field and each field gains one NUL in place
     * of its delimiter, so the input size plus one bounds the output. */
    char *storage = xmalloc(n + 2, "CSV text");
    p.out = storage;
    CellList cells = {0, 0, NULL};
    int *lines = NULL;
    size_t n_rows = 0, cap_rows = 0;
    int n_cols = -1;
    while (p.pos < n) {
        if (at_line_end(&p)) { /* empty line */
            end_line(&p);
            continue;
        }
        int row_line = p.line, fields = 0;
        for (;;) {
            cells_push(&cells, (size_t)(p.out - storage));
            if (parse_field(&p) != 0) goto fail;
            fields++;
            if (p.pos < n && p.in[p.pos] == ',') {
                p.pos++;
                continue;
            }
            end_line(&p);
            break;
        }
        if (n_cols < 0) {
            n_cols = fields;
            continue;
        }
        if (fields != n_cols) {
            error_format(err, errlen, "%s:%d: expected %d fields (as in the header), found %d", path, row_line,
                    n_cols, fields);
            goto fail;
        }
        if (n_rows == cap_rows) {
            cap_rows = cap_rows ? 2 * cap_rows : 64;
            lines = xrealloc(lines, cap_rows * sizeof *lines, "CSV line numbers");
        }
        lines[n_rows++] = row_line;
    }
    if (n_cols < 0) {
        error_format(err, errlen, "%s: empty file (no header row)", path);
        goto fail;
    }
    t->path = xstrdup(path);
    t->n_cols = n_cols;
    t->n_rows = n_rows;
    t->storage = storage;
    t->line = lines ? lines : xmalloc(sizeof *lines, "CSV line numbers");
    t->header = xmalloc((size_t)n_cols * sizeof *t->header, "CSV header");
    t->cells = xmalloc((n_rows * (size_t)n_cols + 1) * sizeof *t->cells, "CSV cells");
    for (int j = 0; j < n_cols; j++) t->header[j] = storage + cells.off[j];
    for (size_t i = 0; i < n_rows * (size_t)n_cols; i++)
        t->cells[i] = storage + cells.off[(size_t)n_cols + i];
    free(cells.off);
    free(buf);
    for (int a = 0; a < n_cols; a++)
        for (int b = a + 1; b < n_cols; b++)
            if (strcmp(t->header[a], t->header[b]) == 0) {
                error_format(err, errlen, "%s:1: column '%s' appears twice in the header", path, t->header[a]);
                csv_free(t);
                return -1;
            }
    return 0;
fail:
    free(cells.off);
    free(lines);
    free(storage);
    free(buf);
    memset(t, 0, sizeof *t);
    return -1;
}

void csv_read_or_die(const char *path, CsvTable *t) {
    char err[1024];
    if (csv_read(path, t, err, sizeof err) != 0) fatal("%s", err);
}

void csv_free(CsvTable *t) {
    free(t->path);
    free(t->header);
    free(t->cells);
    free(t->line);
    free(t->storage);
    memset(t, 0, sizeof *t);
}

int csv_find_column(const CsvTable *t, const char *name) {
    for (int j = 0; j < t->n_cols; j++)
        if (strcmp(t->header[j], name) == 0) return j;
    return -1;
}

int csv_column_checked(const CsvTable *t, const char *name, char *err, size_t errlen) {
    int j = csv_find_column(t, name);
    if (j >= 0) return j;
    char have[512];
    size_t used = 0;
    have[0] = 0;
    for (int k = 0; k < t->n_cols && used < sizeof have; k++) {
        int w = snprintf(have + used, sizeof have - used, "%s%s", k ? ", " : "", t->header[k]);
        if (w < 0) break;
        used += (size_t)w;
    }
    error_format(err, errlen, "%s: no column '%s' (the columns are: %s)", t->path, name, have);
    return -1;
}

int csv_column(const CsvTable *t, const char *name) {
    char err[1024];
    int j = csv_column_checked(t, name, err, sizeof err);
    if (j < 0) fatal("%s", err);
    return j;
}

/* ---- writing ---- */

static void write_field(FILE *fp, const char *s) {
    size_t len = strlen(s);
    int quote = len > 0 && (s[0] == ' ' || s[len - 1] == ' ');
    for (const char *c = s; *c && !quote; c++)
        if (*c == ',' || *c == '"' || *c == '\n' || *c == '\r') quote = 1;
    if (!quote) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (const char *c = s; *c; c++) {
        if (*c == '"') fputc('"', fp);
        fputc(*c, fp);
    }
    fputc('"', fp);
}

static void write_row(CsvWriter *w, const char *const *fields) {
    /* A lone empty field would read back as an empty line, which readers skip. */
    if (w->n_cols == 1 && fields[0][0] == 0) {
        fputs("\"\"\n", w->file.fp);
        return;
    }
    for (int j = 0; j < w->n_cols; j++) {
        if (j) fputc(',', w->file.fp);
        write_field(w->file.fp, fields[j]);
    }
    fputc('\n', w->file.fp);
}

void csv_writer_open(CsvWriter *w, const char *path, int n_cols, const char *const *header) {
    if (n_cols < 1) fatal("writing %s: a CSV file needs at least one column", path);
    w->n_cols = n_cols;
    atomic_file_open(&w->file, path);
    write_row(w, header);
}

void csv_writer_row(CsvWriter *w, const char *const *fields) { write_row(w, fields); }

void csv_writer_commit(CsvWriter *w) { atomic_file_commit(&w->file); }

void csv_writer_abort(CsvWriter *w) { atomic_file_abort(&w->file); }
