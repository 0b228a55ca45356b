/* The 88 class-state labels of MVTec-AD as the Dacon set has them, with the
 * shape of the real data set (SPEC sections 9 and 11): one table, sorted by
 * label string, for the look-alike data-set generator and for checks. */
#ifndef ANOMALY_LABELS_H
#define ANOMALY_LABELS_H

#define MVTEC_N_LABELS 88
#define MVTEC_N_CLASSES 15

typedef struct MvtecLabel {
    const char *cls;   /* "metal_nut" */
    const char *state; /* "color"; the label is cls + "-" + state */
    int train;         /* images in the Dacon train set (sum 4277) */
    int mvtec_test;    /* MVTec-AD test images of this label */
} MvtecLabel;

/* Position = label index when all 88 labels are present. */
extern const MvtecLabel mvtec_labels[MVTEC_N_LABELS];

typedef struct MvtecClass {
    const char *name;
    int side;    /* images are side x side pixels */
    int gray;    /* grayscale images (read as 3 equal channels) */
    int texture; /* a texture rather than an object */
    int rotated; /* objects lie at random rotations */
} MvtecClass;

/* Sorted by name. */
extern const MvtecClass mvtec_classes[MVTEC_N_CLASSES];

int mvtec_label_is_good(const MvtecLabel *l);
/* Images of this label in the Dacon test set (sum 2154): twice MVTec's test
 * count for `good`, twice half of it (rounded down) for a defect. */
int mvtec_test_count(const MvtecLabel *l);
/* Index of "class-state" in mvtec_labels, or -1. */
int mvtec_label_index(const char *label);
/* Index of a class name in mvtec_classes, or -1. */
int mvtec_class_index(const char *cls);

#endif
