/* CSV reading (quotes, line ends, BOM, errors with line numbers) and writing. */
#include "check.h"
#include "tmpdir.h"

#include <unistd.h>

#include "anomaly/csv.h"

static void write_text(const char *path, const char *text) {
    FILE *fp = fopen(path, "wb");
    if (!fp) exit(1);
    fputs(text, fp);
    fclose(fp);
}

static int read_text(const char *text, CsvTable *t, char *err, size_t errlen) {
    const char *p = tmp_path("t.csv");
    write_text(p, text);
    return csv_read(p, t, err, errlen);
}

static void test_quotes(void) {
    CsvTable t;
    char err[512];
    int rc = read_text("index,file_name,note\n"
                       "0,\"a,b.png\",\"say \"\"hi\"\"\"\n"
                       "1,c.png,\"two\nlines\"\n"
                       "2,d.png,\"\"\n"
                       "3,e\"f.png,x\n",
                       &t, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(t.n_cols == 3 && t.n_rows == 4, "%d columns, %zu rows", t.n_cols, t.n_rows);
    CHECK(strcmp(csv_cell(&t, 0, 1), "a,b.png") == 0, "embedded comma: '%s'", csv_cell(&t, 0, 1));
    CHECK(strcmp(csv_cell(&t, 0, 2), "say \"hi\"") == 0, "doubled quotes: '%s'", csv_cell(&t, 0, 2));
    CHECK(strcmp(csv_cell(&t, 1, 2), "two\nlines") == 0, "newline in quotes: '%s'", csv_cell(&t, 1, 2));
    CHECK(strcmp(csv_cell(&t, 2, 2), "") == 0, "empty quoted field");
    CHECK(strcmp(csv_cell(&t, 3, 1), "e\"f.png") == 0, "a quote inside an unquoted field is data");
    CHECK(t.line[0] == 2 && t.line[1] == 3 && t.line[2] == 5 && t.line[3] == 6, "line numbers %d %d %d %d",
          t.line[0], t.line[1], t.line[2], t.line[3]);
    csv_free(&t);
}

static void test_crlf_bom_blank_lines(void) {
    CsvTable t;
    char err[512];
    int rc = read_text(
        "\xEF\xBB\xBFindex,label\r\n0,bottle-good\r\n\r\n1,\"cable-cut\r\ninner\"\r\n2,zipper-rough", &t, err,
        sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(strcmp(t.header[0], "index") == 0, "BOM not dropped: '%s'", t.header[0]);
    CHECK(t.n_rows == 3, "%zu rows", t.n_rows);
    CHECK(strcmp(csv_cell(&t, 0, 1), "bottle-good") == 0, "CR kept: '%s'", csv_cell(&t, 0, 1));
    CHECK(strcmp(csv_cell(&t, 1, 1), "cable-cut\r\ninner") == 0, "quoted CRLF");
    CHECK(strcmp(csv_cell(&t, 2, 1), "zipper-rough") == 0, "last line without an end");
    CHECK(t.line[1] == 4 && t.line[2] == 6, "line numbers %d %d", t.line[1], t.line[2]);
    CHECK(csv_find_column(&t, "label") == 1 && csv_find_column(&t, "nope") == -1, "column lookup");
    csv_free(&t);
    rc = read_text("a\rb\r", &t, err, sizeof err); /* old Mac line ends */
    CHECK(rc == 0 && t.n_rows == 1 && strcmp(csv_cell(&t, 0, 0), "b") == 0, "CR line ends");
    if (rc == 0) csv_free(&t);
}

static void test_missing_column(void) {
    CsvTable t;
    char err[512];
    int rc = read_text("index,file_name,class\n0,a.png,bottle\n", &t, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(csv_column_checked(&t, "label", err, sizeof err) == -1, "found a missing column");
    CHECK(strstr(err, "t.csv") && strstr(err, "'label'") && strstr(err, "index, file_name, class"),
          "message: %s", err);
    CHECK(csv_column_checked(&t, "class", err, sizeof err) == 2, "class column");
    csv_free(&t);
}

static void expect_error(const char *text, const char *needle) {
    CsvTable t;
    char err[512] = "";
    int rc = read_text(text, &t, err, sizeof err);
    CHECK(rc == -1, "accepted: %s", text);
    if (rc == 0) csv_free(&t);
    CHECK(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
    CHECK(strstr(err, "t.csv") != NULL, "error '%s' does not name the file", err);
}

static void test_bad_rows(void) {
    expect_error("a,b,c\n1,2,3\n4,5,6\n7,8\n", "t.csv:4: expected 3 fields (as in the header), found 2");
    expect_error("a,b\n1,2\n3,4,5\n", "t.csv:3: expected 2 fields");
    expect_error("a,b\n1,\"open\n2,3\n", "t.csv:2: unterminated quoted field");
    expect_error("a,b\n1,\"x\"y\n", "t.csv:2: unexpected character 'y' after a closing quote");
    expect_error("", "empty file");
    expect_error("\n\r\n", "empty file");
    expect_error("a,b,a\n1,2,3\n", "column 'a' appears twice");
    const char nul[] = "a,b\n1,\0\n";
    FILE *fp = fopen(tmp_path("t.csv"), "wb");
    fwrite(nul, 1, sizeof nul - 1, fp);
    fclose(fp);
    CsvTable t;
    char err[256];
    CHECK(csv_read(tmp_path("t.csv"), &t, err, sizeof err) == -1 && strstr(err, "NUL"), "NUL byte: %s", err);
    CHECK(csv_read(tmp_path("none.csv"), &t, err, sizeof err) == -1 && strstr(err, "none.csv: No such file"),
          "missing file: %s", err);
}

static void test_writer_roundtrip(void) {
    const char *p = tmp_path("w.csv");
    const char *header[2] = {"index", "label"};
    const char *rows[][2] = {{"0", "bottle-good"}, {"1", "a,b"}, {"2", "say \"x\""},
                             {"3", "two\nlines"},  {"4", ""},    {"5", " padded "},
                             {"6", "cr\rhere"}};
    size_t n = sizeof rows / sizeof rows[0];
    CsvWriter w;
    csv_writer_open(&w, p, 2, header);
    for (size_t i = 0; i < n; i++) csv_writer_row(&w, rows[i]);
    csv_writer_commit(&w);
    CsvTable t;
    char err[512];
    int rc = csv_read(p, &t, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(t.n_rows == n, "%zu rows", t.n_rows);
    for (size_t i = 0; i < n && i < t.n_rows; i++)
        CHECK(strcmp(csv_cell(&t, i, 0), rows[i][0]) == 0 && strcmp(csv_cell(&t, i, 1), rows[i][1]) == 0,
              "row %zu: '%s'", i, csv_cell(&t, i, 1));
    csv_free(&t);
    FILE *fp = fopen(p, "rb");
    char first[64] = "";
    CHECK(fp && fgets(first, sizeof first, fp) && strcmp(first, "index,label\n") == 0, "header line '%s'",
          first);
    CHECK(fp && fgets(first, sizeof first, fp) && strcmp(first, "0,bottle-good\n") == 0,
          "plain fields unquoted");
    if (fp) fclose(fp);

    /* an aborted rewrite leaves the old file alone, and no temporary */
    csv_writer_open(&w, p, 2, header);
    csv_writer_row(&w, rows[1]);
    csv_writer_abort(&w);
    rc = csv_read(p, &t, err, sizeof err);
    CHECK(rc == 0 && t.n_rows == n, "old file damaged by an aborted write");
    if (rc == 0) csv_free(&t);

    /* a single empty field must survive (an empty line would be skipped) */
    const char *one[1] = {"x"}, *empty[1] = {""};
    csv_writer_open(&w, p, 1, one);
    csv_writer_row(&w, empty);
    csv_writer_commit(&w);
    rc = csv_read(p, &t, err, sizeof err);
    CHECK(rc == 0 && t.n_rows == 1 && csv_cell(&t, 0, 0)[0] == 0, "single empty field lost");
    if (rc == 0) csv_free(&t);
}

int main(void) {
    tmpdir_create("csv");
    RUN(test_quotes);
    RUN(test_crlf_bom_blank_lines);
    RUN(test_missing_column);
    RUN(test_bad_rows);
    RUN(test_writer_roundtrip);
    tmpdir_remove();
    CHECK_MAIN_END();
}
