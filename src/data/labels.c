/* The 88 MVTec-AD labels of the Dacon set (SPEC sections 9 and 11). */
#include "anomaly/labels.h"

#include <stdlib.h>
#include <string.h>

/* Sorted by label string in byte order, so a row's position is the label
 * index of a data set holding all 88 labels. Train counts are the Dacon
 * train set's; test counts are MVTec's test images of the label (for `good`,
 * MVTec's test-good images). */
const MvtecLabel mvtec_labels[MVTEC_N_LABELS] = {
    {"bottle", "broken_large", 10, 20},     /* 0 */
    {"bottle", "broken_small", 11, 22},     /* 1 */
    {"bottle", "contamination", 11, 21},    /* 2 */
    {"bottle", "good", 209, 20},            /* 3 */
    {"cable", "bent_wire", 7, 13},          /* 4 */
    {"cable", "cable_swap", 6, 12},         /* 5 */
    {"cable", "combined", 6, 11},           /* 6 */
    {"cable", "cut_inner_insulation", 7, 14}, /* 7 */
    {"cable", "cut_outer_insulation", 5, 10}, /* 8 */
    {"cable", "good", 224, 58},             /* 9 */
    {"cable", "missing_cable", 6, 12},      /* 10 */
    {"cable", "missing_wire", 5, 10},       /* 11 */
    {"cable", "poke_insulation", 5, 10},    /* 12 */
    {"capsule", "crack", 12, 23},           /* 13 */
    {"capsule", "faulty_imprint", 11, 22},  /* 14 */
    {"capsule", "good", 219, 23},           /* 15 */
    {"capsule", "poke", 11, 21},            /* 16 */
    {"capsule", "scratch", 12, 23},         /* 17 */
    {"capsule", "squeeze", 10, 20},         /* 18 */
    {"carpet", "color", 10, 19},            /* 19 */
    {"carpet", "cut", 9, 17},               /* 20 */
    {"carpet", "good", 280, 28},            /* 21 */
    {"carpet", "hole", 9, 17},              /* 22 */
    {"carpet", "metal_contamination", 9, 17}, /* 23 */
    {"carpet", "thread", 10, 19},           /* 24 */
    {"grid", "bent", 6, 12},                /* 25 */
    {"grid", "broken", 6, 12},              /* 26 */
    {"grid", "glue", 6, 11},                /* 27 */
    {"grid", "good", 264, 21},              /* 28 */
    {"grid", "metal_contamination", 6, 11}, /* 29 */
    {"grid", "thread", 6, 11},              /* 30 */
    {"hazelnut", "crack", 9, 18},           /* 31 */
    {"hazelnut", "cut", 9, 17},             /* 32 */
    {"hazelnut", "good", 391, 40},          /* 33 */
    {"hazelnut", "hole", 9, 18},            /* 34 */
    {"hazelnut", "print", 9, 17},           /* 35 */
    {"leather", "color", 10, 19},           /* 36 */
    {"leather", "cut", 10, 19},             /* 37 */
    {"leather", "fold", 9, 17},             /* 38 */
    {"leather", "glue", 10, 19},            /* 39 */
    {"leather", "good", 245, 32},           /* 40 */
    {"leather", "poke", 9, 18},             /* 41 */
    {"metal_nut", "bent", 13, 25},          /* 42 */
    {"metal_nut", "color", 11, 22},         /* 43 */
    {"metal_nut", "flip", 12, 23},          /* 44 */
    {"metal_nut", "good", 220, 22},         /* 45 */
    {"metal_nut", "scratch", 12, 23},       /* 46 */
    {"pill", "color", 13, 25},              /* 47 */
    {"pill", "combined", 9, 17},            /* 48 */
    {"pill", "contamination", 11, 21},      /* 49 */
    {"pill", "crack", 13, 26},              /* 50 */
    {"pill", "faulty_imprint", 10, 19},     /* 51 */
    {"pill", "good", 267, 26},              /* 52 */
    {"pill", "pill_type", 5, 9},            /* 53 */
    {"pill", "scratch", 12, 24},            /* 54 */
    {"screw", "good", 320, 41},             /* 55 */
    {"screw", "manipulated_front", 12, 24}, /* 56 */
    {"screw", "scratch_head", 12, 24},      /* 57 */
    {"screw", "scratch_neck", 13, 25},      /* 58 */
    {"screw", "thread_side", 12, 23},       /* 59 */
    {"screw", "thread_top", 12, 23},        /* 60 */
    {"tile", "crack", 9, 17},               /* 61 */
    {"tile", "glue_strip", 9, 18},          /* 62 */
    {"tile", "good", 230, 33},              /* 63 */
    {"tile", "gray_stroke", 8, 16},         /* 64 */
    {"tile", "oil", 9, 18},                 /* 65 */
    {"tile", "rough", 8, 15},               /* 66 */
    {"toothbrush", "defective", 15, 30},    /* 67 */
    {"toothbrush", "good", 60, 12},         /* 68 */
    {"transistor", "bent_lead", 5, 10},     /* 69 */
    {"transistor", "cut_lead", 5, 10},      /* 70 */
    {"transistor", "damaged_case", 5, 10},  /* 71 */
    {"transistor", "good", 213, 60},        /* 72 */
    {"transistor", "misplaced", 5, 10},     /* 73 */
    {"wood", "color", 4, 8},                /* 74 */
    {"wood", "combined", 6, 11},            /* 75 */
    {"wood", "good", 247, 19},              /* 76 */
    {"wood", "hole", 5, 10},                /* 77 */
    {"wood", "liquid", 5, 10},              /* 78 */
    {"wood", "scratch", 11, 21},            /* 79 */
    {"zipper", "broken_teeth", 10, 19},     /* 80 */
    {"zipper", "combined", 8, 16},          /* 81 */
    {"zipper", "fabric_border", 9, 17},     /* 82 */
    {"zipper", "fabric_interior", 8, 16},   /* 83 */
    {"zipper", "good", 240, 32},            /* 84 */
    {"zipper", "rough", 9, 17},             /* 85 */
    {"zipper", "split_teeth", 9, 18},       /* 86 */
    {"zipper", "squeezed_teeth", 8, 16},    /* 87 */
};

const MvtecClass mvtec_classes[MVTEC_N_CLASSES] = {
    /* name          side  gray texture rotated */
    {"bottle",       900,  0,   0,      0},
    {"cable",        1024, 0,   0,      0},
    {"capsule",      1000, 0,   0,      0},
    {"carpet",       1024, 0,   1,      0},
    {"grid",         1024, 1,   1,      0},
    {"hazelnut",     1024, 0,   0,      1},
    {"leather",      1024, 0,   1,      0},
    {"metal_nut",    700,  0,   0,      1},
    {"pill",         800,  0,   0,      0},
    {"screw",        1024, 1,   0,      1},
    {"tile",         840,  0,   1,      0},
    {"toothbrush",   1024, 0,   0,      0},
    {"transistor",   1024, 0,   0,      0},
    {"wood",         1024, 0,   1,      0},
    {"zipper",       1024, 1,   0,      0},
};

int mvtec_label_is_good(const MvtecLabel *l) { return strcmp(l->state, "good") == 0; }

int mvtec_test_count(const MvtecLabel *l) {
    /* Each leftover MVTec test image appears twice (as is and transformed);
     * defects gave half their test images to the train set. */
    return mvtec_label_is_good(l) ? 2 * l->mvtec_test : 2 * (l->mvtec_test / 2);
}

int mvtec_label_index(const char *label) {
    const char *dash = strchr(label, '-');
    if (!dash) return -1;
    size_t n = (size_t)(dash - label);
    for (int i = 0; i < MVTEC_N_LABELS; i++)
        if (strlen(mvtec_labels[i].cls) == n && strncmp(mvtec_labels[i].cls, label, n) == 0 &&
            strcmp(mvtec_labels[i].state, dash + 1) == 0)
            return i;
    return -1;
}

int mvtec_class_index(const char *cls) {
    for (int i = 0; i < MVTEC_N_CLASSES; i++)
        if (strcmp(mvtec_classes[i].name, cls) == 0) return i;
    return -1;
}
