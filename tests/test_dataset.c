/* Opening a data set: the CSV joined to the image folders, label order,
 * test and submission order, every join error; and the 88-label table. */
#include "check.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly/dataset.h"
#include "anomaly/image.h"
#include "anomaly/labels.h"

static char root[64];

static void rm_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        remove(path);
    }
}

static void put(const char *rel, const char *text) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *fp = fopen(p, "wb");
    if (!fp) {
        printf("  cannot write %s\n", p);
        exit(1);
    }
    fputs(text, fp);
    fclose(fp);
}

static void put_png(const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    Image img;
    image_alloc(&img, 2, 2);
    image_write_png(p, &img);
    image_free(&img);
}

static void drop(const char *rel) {
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    remove(p);
}

static const char *train_csv = "index,file_name,class,state,label\n"
                               "0,10002.png,cable,good,cable-good\n"
                               "1,10000.png,metal_nut,color,metal_nut-color\n"
                               "2,10003.png,cable,cut_inner_insulation,cable-cut_inner_insulation\n"
                               "3,10001.png,bottle,good,bottle-good\n";

/* A fresh small data set: 4 train images, 3 test images, a test_df.csv and
 * a sample submission in reverse order. */
static void make_dataset(void) {
    rm_tree(root);
    mkdir(root, 0755);
    char p[128];
    snprintf(p, sizeof p, "%s/train", root);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/test", root);
    mkdir(p, 0755);
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "train/1000%d.png", i);
        put_png(p);
    }
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "test/2000%d.png", i);
        put_png(p);
    }
    put("train_df.csv", train_csv);
    put("test_df.csv", "index,file_name\n0,20000.png\n1,20001.png\n2,20002.png\n");
    put("sample_submission.csv", "index,label\n2,x\n1,x\n0,x\n");
}

static void test_open(void) {
    make_dataset();
    Dataset ds;
    char err[512];
    int rc = dataset_open(root, &ds, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(ds.n_train == 4, "%zu train images", ds.n_train);
    for (size_t i = 0; i < ds.n_train; i++) {
        char want[32];
        snprintf(want, sizeof want, "1000%zu.png", i);
        CHECK(strcmp(ds.train_file[i], want) == 0, "train %zu is %s: rows must be sorted by file name", i,
              ds.train_file[i]);
        CHECK(strstr(ds.train_path[i], "/train/") && strstr(ds.train_path[i], want), "path %s",
              ds.train_path[i]);
    }
    /* bottle-good < cable-cut_inner_insulation < cable-good < metal_nut-color */
    CHECK(ds.n_labels == 4 && strcmp(ds.labels[0], "bottle-good") == 0 &&
              strcmp(ds.labels[1], "cable-cut_inner_insulation") == 0 &&
              strcmp(ds.labels[2], "cable-good") == 0 && strcmp(ds.labels[3], "metal_nut-color") == 0,
          "label order");
    int want_label[4] = {3, 0, 2, 1}; /* 10000 metal_nut-color, 10001 bottle-good, ... */
    for (int i = 0; i < 4; i++)
        CHECK(ds.train_label[i] == want_label[i], "label of %d: %d", i, ds.train_label[i]);
    CHECK(ds.n_classes == 3 && strcmp(ds.classes[2], "metal_nut") == 0 && ds.train_class[0] == 2, "classes");
    CHECK(ds.n_test == 3 && strcmp(ds.test_file[1], "20001.png") == 0 && strcmp(ds.test_index[2], "2") == 0,
          "test rows");
    CHECK(ds.sub_test[0] == 2 && ds.sub_test[1] == 1 && ds.sub_test[2] == 0, "submission order");
    CHECK(dataset_label_index(&ds, "cable-good") == 2 && dataset_label_index(&ds, "cable-bent_wire") == -1,
          "label lookup");
    CHECK(dataset_class_index(&ds, "cable") == 1 && dataset_class_index(&ds, "wood") == -1, "class lookup");
    dataset_free(&ds);
}

static void test_other_layouts(void) {
    make_dataset();
    /* train_df.csv inside train/, no test_df.csv, no sample submission */
    drop("train_df.csv");
    put("train/train_df.csv", train_csv);
    drop("test_df.csv");
    drop("sample_submission.csv");
    Dataset ds;
    char err[512];
    int rc = dataset_open(root, &ds, err, sizeof err);
    CHECK(rc == 0, "%s", err);
    if (rc) return;
    CHECK(ds.n_train == 4, "train_df.csv in train/ not found");
    CHECK(ds.n_test == 3 && strcmp(ds.test_file[0], "20000.png") == 0 && strcmp(ds.test_index[2], "2") == 0,
          "test images listed in sorted order");
    CHECK(ds.sub_test[1] == 1, "submission in test order");
    dataset_free(&ds);
    /* no test folder at all */
    make_dataset();
    char p[512];
    snprintf(p, sizeof p, "%s/test", root);
    rm_tree(p);
    drop("test_df.csv");
    drop("sample_submission.csv");
    rc = dataset_open(root, &ds, err, sizeof err);
    CHECK(rc == 0 && ds.n_test == 0, "no test set: %s", rc ? err : "");
    if (rc == 0) dataset_free(&ds);
}

static void expect_error(const char *needle1, const char *needle2) {
    Dataset ds;
    char err[512] = "";
    int rc = dataset_open(root, &ds, err, sizeof err);
    CHECK(rc == -1, "accepted a broken data set (expected: %s)", needle1);
    if (rc == 0) dataset_free(&ds);
    CHECK(strstr(err, needle1) != NULL, "error '%s' lacks '%s'", err, needle1);
    CHECK(!needle2 || strstr(err, needle2) != NULL, "error '%s' lacks '%s'", err, needle2);
}

static void test_join_errors(void) {
    make_dataset();
    drop("train/10003.png");
    expect_error("10003.png: no such image", "line 4 of");

    make_dataset();
    put("train/10003.bmp", "BM");
    put("train_df.csv", "index,file_name,class,state,label\n0,10000.png,cable,good,cable-good\n"
                        "1,10001.png,cable,good,cable-good\n2,10002.png,cable,good,cable-good\n"
                        "3,10003.bmp,cable,good,cable-good\n");
    drop("train/10003.png");
    expect_error("10003.bmp: not a .png, .jpg or .jpeg image", "line 5 of");

    make_dataset();
    put_png("train/10004.png");
    expect_error("10004.png: image not named by any row", "train_df.csv");

    make_dataset();
    put("train/notes.txt", "not an image, ignored\n");
    put("train_df.csv", "index,file_name,class,state,label\n0,10000.png,cable,good,cable-good\n1,10001.png,"
                        "cable,good,cable-good\n"
                        "2,10002.png,cable,good,cable-good\n3,10003.png,cable,good,cable-good\n4,10001.png,"
                        "cable,good,cable-good\n");
    expect_error("file name 10001.png appears on lines 3 and 6", NULL);

    make_dataset();
    put("train_df.csv", "index,file_name,class,state,label\n0,10000.png,cable,good,cable-good\n"
                        "1,10001.png,cable,good,cable-bent\n");
    expect_error("train_df.csv:3: label 'cable-bent' is not class + \"-\" + state", NULL);

    make_dataset();
    put("train_df.csv", "index,file_name,class,state,label\n0,10000.png,my-cable,good,my-cable-good\n");
    expect_error("train_df.csv:2: class 'my-cable'", NULL);

    make_dataset();
    put("train_df.csv", "index,file_name,class,label\n0,10000.png,cable,cable-good\n");
    expect_error("no column 'state'", "index, file_name, class, label");

    make_dataset();
    put("train_df.csv", "index,file_name,class,state,label\n0,../10000.png,cable,good,cable-good\n");
    expect_error("not a plain file name", NULL);

    make_dataset();
    drop("train_df.csv");
    expect_error("no train_df.csv", NULL);

    make_dataset();
    put("sample_submission.csv", "index,label\n2,x\n7,x\n0,x\n");
    expect_error("sample_submission.csv:3: index '7' is not a test image's index", NULL);

    make_dataset();
    put("sample_submission.csv", "index,label\n2,x\n1,x\n");
    expect_error("2 rows for 3 test images", NULL);

    make_dataset();
    drop("test/20001.png");
    expect_error("20001.png: no such image", "test_df.csv");

    char missing[128];
    snprintf(missing, sizeof missing, "%s/nowhere", root);
    Dataset ds;
    char err[256];
    CHECK(dataset_open(missing, &ds, err, sizeof err) == -1 && strstr(err, "no such data directory"), "%s",
          err);
}

static void test_label_helpers(void) {
    char cls[32];
    label_class("metal_nut-scratch", cls, sizeof cls);
    CHECK(strcmp(cls, "metal_nut") == 0, "class '%s'", cls);
    CHECK(strcmp(label_state("metal_nut-scratch"), "scratch") == 0, "state");
    CHECK(strcmp(label_state("a-b-c"), "b-c") == 0, "state is after the first '-'");
    CHECK(strcmp(label_state("null"), "") == 0 && label_class_len("null") == 4, "no '-'");
    label_class("transistor-good", cls, 5);
    CHECK(strcmp(cls, "tran") == 0, "truncation '%s'", cls);
}

static void test_mvtec_table(void) {
    int train = 0, good = 0, test = 0, smallest = 1 << 30, largest = 0;
    for (int i = 0; i < MVTEC_N_LABELS; i++) {
        const MvtecLabel *l = &mvtec_labels[i];
        char a[64], b[64];
        snprintf(a, sizeof a, "%s-%s", l->cls, l->state);
        if (i) {
            snprintf(b, sizeof b, "%s-%s", mvtec_labels[i - 1].cls, mvtec_labels[i - 1].state);
            CHECK(strcmp(b, a) < 0, "labels %d and %d out of order", i - 1, i);
        }
        CHECK(mvtec_label_index(a) == i, "lookup of %s", a);
        CHECK(mvtec_class_index(l->cls) >= 0, "class of %s", a);
        train += l->train;
        test += mvtec_test_count(l);
        if (mvtec_label_is_good(l))
            good += l->train;
        else
            CHECK(l->train == (l->mvtec_test + 1) / 2, "%s: train is half the MVTec test count, rounded up",
                  a);
        if (l->train < smallest) smallest = l->train;
        if (l->train > largest) largest = l->train;
    }
    CHECK(train == 4277 && good == 3629 && test == 2154, "sums %d %d %d", train, good, test);
    CHECK(smallest == 4 && largest == 391, "smallest %d largest %d", smallest, largest);
    static const struct {
        const char *label;
        int index;
    } known[] = {
        {"bottle-broken_large", 0},
        {"bottle-good", 3},
        {"cable-bent_wire", 4},
        {"cable-good", 9},
        {"cable-poke_insulation", 12},
        {"capsule-good", 15},
        {"pill-color", 47},
        {"pill-good", 52},
        {"screw-good", 55},
        {"transistor-bent_lead", 69},
        {"transistor-good", 72},
        {"zipper-broken_teeth", 80},
        {"zipper-good", 84},
        {"zipper-squeezed_teeth", 87},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        CHECK(mvtec_label_index(known[i].label) == known[i].index, "%s is %d", known[i].label,
              mvtec_label_index(known[i].label));
    CHECK(mvtec_label_index("cable-nothing") == -1 && mvtec_label_index("good") == -1, "unknown labels");
    for (int i = 1; i < MVTEC_N_CLASSES; i++)
        CHECK(strcmp(mvtec_classes[i - 1].name, mvtec_classes[i].name) < 0, "classes out of order at %d", i);
    int tile = mvtec_class_index("tile");
    CHECK(tile >= 0 && mvtec_classes[tile].side == 840 && mvtec_classes[tile].texture, "tile");
}

int main(void) {
    snprintf(root, sizeof root, "/tmp/anomaly_data_XXXXXX");
    if (!mkdtemp(root)) {
        printf("FAIL main: cannot make a temporary directory\n");
        return 1;
    }
    RUN(test_open);
    RUN(test_other_layouts);
    RUN(test_join_errors);
    RUN(test_label_helpers);
    RUN(test_mvtec_table);
    rm_tree(root);
    CHECK_MAIN_END();
}
