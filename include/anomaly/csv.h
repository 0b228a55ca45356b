/* CSV files: the data set's tables (train_df.csv, test_df.csv,
 * sample_submission.csv) and the submissions we write.
 *
 * Reading follows RFC 4180 with the usual leniencies of pandas and Python's
 * csv module: quoted fields may hold commas, doubled quotes and line breaks;
 * lines end in LF, CRLF or CR; a leading UTF-8 byte-order mark is dropped;
 * empty lines are skipped. The first row names the columns. Every row must
 * have as many fields as the header; a row that does not, an unterminated
 * quote or a stray character after a closing quote is an error naming the
 * file and the line. Cells are kept as strings. */
#ifndef ANOMALY_CSV_H
#define ANOMALY_CSV_H

#include <stddef.h>

#include "anomaly/atomic_file.h"

typedef struct CsvTable {
    char *path; /* the file read, for messages */
    int n_cols;
    char **header; /* [n_cols] column names */
    size_t n_rows; /* data rows, header excluded */
    char **cells;  /* [n_rows * n_cols], row-major */
    int *line;     /* [n_rows] 1-based line on which each row starts */
    char *storage; /* every string above lives here */
} CsvTable;

/* Returns 0, or -1 with a one-line reason naming the file (and the line) in err. */
int csv_read(const char *path, CsvTable *t, char *err, size_t errlen);
/* Same, fatal() on error. */
void csv_read_or_die(const char *path, CsvTable *t);
void csv_free(CsvTable *t);

/* Index of the column called `name`, or -1. */
int csv_find_column(const CsvTable *t, const char *name);
/* Same, but a missing column is an error naming the file, the column and
 * the columns the file does have: -1 with the reason in err. */
int csv_column_checked(const CsvTable *t, const char *name, char *err, size_t errlen);
/* Same, fatal() when the column is missing. */
int csv_column(const CsvTable *t, const char *name);

static inline const char *csv_cell(const CsvTable *t, size_t row, int col) {
    return t->cells[row * (size_t)t->n_cols + (size_t)col];
}

/* Writing: an atomic file of rows with a fixed number of fields. A field is
 * quoted only when it must be (it holds a comma, a quote, CR or LF, or
 * starts or ends with a space); lines end in LF. Errors are fatal(). */
typedef struct CsvWriter {
    AtomicFile file;
    int n_cols;
} CsvWriter;

void csv_writer_open(CsvWriter *w, const char *path, int n_cols, const char *const *header);
void csv_writer_row(CsvWriter *w, const char *const *fields);
/* Renames the finished file into place. */
void csv_writer_commit(CsvWriter *w);
/* Drops the partial file; the previous file at the path, if any, stays. */
void csv_writer_abort(CsvWriter *w);

#endif
