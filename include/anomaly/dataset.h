/* The Dacon data set on disk (SPEC section 1).
 *
 *   DATA/train/NNNNN.png        train images
 *   DATA/train_df.csv           index,file_name,class,state,label
 *                               (or DATA/train/train_df.csv; the first found)
 *   DATA/test/NNNNN.png         test images
 *   DATA/test_df.csv            index,file_name (or DATA/test/test_df.csv;
 *                               optional)
 *   DATA/sample_submission.csv  index,label (optional): submission row order
 *
 * Train rows are joined to the images of DATA/train by file_name: a row
 * naming no image, an image (.png, .jpg, .jpeg) no row names, a repeated
 * file name and a label other than class + "-" + state are errors naming the
 * file and line. Rows are kept sorted by file name (byte order), the order
 * fold indices refer to. Labels are the sorted distinct label strings.
 * Images are only listed here, not decoded. */
#ifndef ANOMALY_DATASET_H
#define ANOMALY_DATASET_H

#include <stddef.h>

typedef struct Dataset {
    char *root;
    /* train, sorted by file name */
    size_t n_train;
    char **train_file; /* [n_train] file_name */
    char **train_path; /* [n_train] root/train/file_name */
    int *train_label;  /* [n_train] index into labels */
    int *train_class;  /* [n_train] index into classes */
    int n_labels;
    char **labels; /* [n_labels] sorted distinct "class-state" */
    int n_classes;
    char **classes; /* [n_classes] sorted distinct class names */
    /* test, in test_df.csv row order, or the sorted images of root/test
     * when there is no test_df.csv; n_test is 0 when neither exists */
    size_t n_test;
    char **test_file;  /* [n_test] */
    char **test_path;  /* [n_test] */
    char **test_index; /* [n_test] test_df's index column, or "0", "1", ... */
    /* submission row r is test row sub_test[r]: the order of
     * sample_submission.csv joined on index, else test order */
    size_t *sub_test; /* [n_test] */
} Dataset;

/* Returns 0, or -1 with a one-line reason (naming the file) in err. */
int dataset_open(const char *root, Dataset *ds, char *err, size_t errlen);
/* Same, fatal() on error. */
void dataset_open_or_die(const char *root, Dataset *ds);
void dataset_free(Dataset *ds);

/* Index of a label string in ds->labels, or -1. */
int dataset_label_index(const Dataset *ds, const char *label);
/* Index of a class name in ds->classes, or -1. */
int dataset_class_index(const Dataset *ds, const char *cls);

/* Label strings are class + "-" + state; class names never hold '-', so the
 * state is everything after the first '-'. */
/* Length of the class part (the whole string when there is no '-'). */
size_t label_class_len(const char *label);
/* Copies the class part into out (truncated to outlen - 1 bytes). */
void label_class(const char *label, char *out, size_t outlen);
/* The state part ("" when there is no '-'). */
const char *label_state(const char *label);

#endif
