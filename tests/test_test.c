/* The pieces of `anomaly test` (tester.h): reading an experiment, picking
 * checkpoints, refusing ones that do not fit, batched prediction against a
 * direct forward pass, the fold ensemble and the one-class merge. The
 * command end to end is tests/test_test.sh. */
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "anomaly/arena.h"
#include "anomaly/error.h"
#include "anomaly/image.h"
#include "anomaly/rng.h"
#include "anomaly/safetensors.h"
#include "anomaly/tape.h"
#include "anomaly/tester.h"
#include "anomaly/train_step.h"
#include "anomaly/transforms.h"
#include "check.h"

static char tmp_root[256];

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) fatal("cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

static void path_in(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tmp_root, name); }

static void test_latest_checkpoint(void) {
    char dir[512], p[600], got[700];
    path_in(dir, sizeof dir, "ckpts");
    mkdir(dir, 0777);
    CHECK(latest_checkpoint(dir, got, sizeof got) == 0, "an empty run has no checkpoint");
    /* epochs compare as numbers; an interrupted save and look-alikes never count */
    const char *names[] = {"model_1.safetensors", "model_9.safetensors", "model_10.safetensors",
                           "model_11.safetensors.tmp.123", "model_x.safetensors", "model_.safetensors",
                           "model_12.safetensors.bak", "model_13", "train_state.safetensors", "amodel_14.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        write_text(p, "");
    }
    int e = latest_checkpoint(dir, got, sizeof got);
    snprintf(p, sizeof p, "%s/model_10.safetensors", dir);
    CHECK(e == 10, "latest epoch %d, expected 10", e);
    CHECK(strcmp(got, p) == 0, "latest path '%s', expected '%s'", got, p);
    path_in(dir, sizeof dir, "no_such_run");
    CHECK(latest_checkpoint(dir, got, sizeof got) == -1, "a missing run directory is an error");
}

static int model_ok(const char *csv, TestModel *tm, char *err, size_t errlen) {
    char path[512];
    path_in(path, sizeof path, "train_args.csv");
    write_text(path, csv);
    TrainArgs a;
    if (train_args_read(path, &a, err, errlen) != 0) return -2;
    int rc = test_model_from_args(&a, path, tm, err, errlen);
    train_args_free(&a);
    return rc;
}

static void test_train_args(void) {
    TestModel tm;
    char err[1024];
    int rc = model_ok("key,value\nmodel,efficientnet\narch,3\nimg_size,64\nbatch_size,8\nfold,5\n"
                      "train_method,baseline\narcloss,none\nsame_padding,dynamic\n", &tm, err, sizeof err);
    CHECK(rc == 0, "efficientnet args refused: %s", err);
    CHECK(strcmp(tm.name, "efficientnet-b3") == 0 && strcmp(tm.suffix, "E3") == 0, "name %s suffix %s", tm.name,
          tm.suffix);
    CHECK(tm.img_size == 64 && tm.batch_size == 8 && tm.folds == 5 && !tm.one_class && !tm.arcface, "values");
    CHECK(tm.same_padding == SAME_DYNAMIC && tm.scale == 8, "padding / default scale");
    rc = model_ok("key,value\nmodel,resnext\nmodel_name,resnext50_32x4d\narcloss,arcface\nscale,16\n"
                  "train_method,one_class\n", &tm, err, sizeof err);
    CHECK(rc == 0, "resnext args refused: %s", err);
    CHECK(strcmp(tm.name, "resnext50_32x4d") == 0 && strcmp(tm.suffix, "resnext50_32x4d") == 0, "name %s", tm.name);
    CHECK(tm.arcface && tm.scale == 16 && tm.one_class, "ArcFace implied by arcloss; one_class");
    CHECK(tm.img_size == 576 && tm.batch_size == 48 && tm.folds == 10, "training defaults for missing rows");
    rc = model_ok("key,value\narch,0\narcface,True\n", &tm, err, sizeof err);
    CHECK(rc == 0 && tm.arcface && strcmp(tm.name, "efficientnet-b0") == 0, "Python booleans: %s", err);
    /* refusals name the file and the row */
    const char *bad[] = {"key,value\nmodel,efficientnet\narch,9\n", "key,value\nmodel,vgg\n",
                         "key,value\nimg_size,big\n", "key,value\narcface,maybe\n", "key,value\ntrain_method,both\n",
                         "key,value\nscale,-1\n", "key,value\nsame_padding,valid\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = model_ok(bad[i], &tm, err, sizeof err);
        CHECK(rc == -1 && strstr(err, "train_args.csv"), "case %zu accepted or unnamed (rc %d): %s", i, rc, err);
    }
    rc = model_ok("name,value\nmodel,efficientnet\n", &tm, err, sizeof err);
    CHECK(rc == -2 && strstr(err, "key"), "a file without a key column: %s", err);
}

static void test_labels_read(void) {
    char path[512], err[1024], **l;
    int n;
    path_in(path, sizeof path, "labels.csv");
    write_text(path, "label\nbottle-good\nnull\n");
    CHECK(labels_read(path, &l, &n, err, sizeof err) == 0 && n == 2 && strcmp(l[1], "null") == 0, "read: %s", err);
    if (n == 2) labels_free(l, n);
    write_text(path, "label\na-b\nc-d\na-b\n");
    CHECK(labels_read(path, &l, &n, err, sizeof err) == -1 && strstr(err, ":4:"), "a repeat names its line: %s",
          err);
    write_text(path, "label\n");
    CHECK(labels_read(path, &l, &n, err, sizeof err) == -1 && strstr(err, "no labels"), "empty list: %s", err);
}

static void test_mean_argmax(void) {
    /* K = 3 folds, 4 rows, 3 labels: the mean decides, not any one fold */
    const real f[3][4][3] = {
        {{1, 0, 0}, {0, 5, 0}, {0, 0, 0}, {2, 2, 1}},
        {{0, 1, 0}, {0, 0, 1}, {1, 1, 0}, {0, 0, 1}},
        {{0, 1, 0}, {3, 0, 1}, {0, 0, 1}, {1, 1, 1}},
    };
    int pred[4];
    features_mean_argmax(&f[0][0][0], 3, 4, 3, pred);
    CHECK(pred[0] == 1, "row 0: %d (fold 1 alone says 0)", pred[0]);
    CHECK(pred[1] == 1, "row 1: %d", pred[1]);
    CHECK(pred[2] == 0, "row 2: ties go to the first label, got %d", pred[2]);
    CHECK(pred[3] == 0, "row 3: ties go to the first label, got %d", pred[3]);
    real g[2][3] = {{0, 0, 0}, {1, (real)NAN, 2}};
    features_mean_argmax(&g[0][0], 1, 2, 3, pred);
    CHECK(pred[1] == 1, "NaN counts as the largest, as torch.argmax: %d", pred[1]);
}

static void test_one_class_merge(void) {
    const char *base[5] = {"bottle-good", "cable-good", "grid-good", "pill-good", "wood-good"};
    const char *cable[5] = {"null", "cable-cut_inner_insulation", "null", "cable-combined", "null"};
    const char *grid[5] = {"null", "null", "grid-bent", "grid-glue", "null"};
    const char *wood[5] = {"null", "null", "null", "wood-color", "wood-good"};
    const char *const *pred[3] = {cable, grid, wood};
    const char *out[5];
    int claims[5];
    size_t conflicts = one_class_merge(base, 5, pred, 3, out, claims);
    const char *want[5] = {"bottle-good", "cable-cut_inner_insulation", "grid-bent", "wood-color", "wood-good"};
    const int want_claims[5] = {0, 1, 1, 3, 1};
    for (int r = 0; r < 5; r++) {
        CHECK(strcmp(out[r], want[r]) == 0, "row %d: %s, expected %s", r, out[r], want[r]);
        CHECK(claims[r] == want_claims[r], "row %d: %d claims, expected %d", r, claims[r], want_claims[r]);
    }
    CHECK(conflicts == 1, "%zu rows claimed twice, expected 1", conflicts);
    conflicts = one_class_merge(base, 5, pred, 0, out, claims);
    CHECK(conflicts == 0 && out[3] == base[3], "no class models: the base unchanged");
}

/* n images of random sizes and pixels in dir; paths[n]. */
static void write_images(const char *dir, int n, char paths[][512]) {
    mkdir(dir, 0777);
    Rng r;
    rng_seed(&r, 7);
    for (int i = 0; i < n; i++) {
        Image im;
        image_alloc(&im, 20 + (int)rng_below(&r, 30), 16 + (int)rng_below(&r, 30));
        for (size_t k = 0; k < (size_t)im.w * (size_t)im.h * 3; k++) im.px[k] = (uint8_t)rng_below(&r, 256);
        snprintf(paths[i], 512, "%.400s/%d.png", dir, 20000 + i);
        image_write_png(paths[i], &im);
        image_free(&im);
    }
}

/* tester_predict against model_logits on each image alone, and the same
 * bits for 1 and 2 threads. */
static void predict_case(int arcface) {
    enum { N = 7, C = 5, S = 32 };
    char dir[512], paths[N][512];
    const char *pp[N];
    path_in(dir, sizeof dir, "images");
    write_images(dir, N, paths);
    for (int i = 0; i < N; i++) pp[i] = paths[i];
    ModelConfig mc = model_config_default("efficientnet-b0", C);
    mc.arcface = arcface;
    Model *m = model_create(&mc);
    params_init_hash(&m->params, 3);
    real *y = malloc(N * C * sizeof *y), *y2 = malloc(N * C * sizeof *y2), *ref = malloc(N * C * sizeof *ref);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    tester_predict(m, 8.0, pp, N, S, 3, y, NULL);
    omp_set_num_threads(2);
    tester_predict(m, 8.0, pp, N, S, 3, y2, NULL);
    omp_set_num_threads(saved);
    CHECK_SAME_BITS("logits with 1 and 2 threads", y, y2, N * C * sizeof *y);

    Arena arena;
    arena_init(&arena, 0);
    Tape t;
    tape_init(&t, &arena);
    real x[3 * S * S];
    for (int i = 0; i < N; i++) {
        Image im;
        image_read_or_die(paths[i], &im);
        resize_normalize(x, &im, S);
        image_free(&im);
        Tensor *out = model_logits(m, &t, x, 1, S, S, 8.0);
        memcpy(ref + i * C, out->data, C * sizeof *ref);
    }
    tape_free(&t);
    arena_free(&arena);
    CHECK_CLOSE(arcface ? "ArcFace logits in test order" : "logits in test order", y, ref, N * C, TOL(1e-5, 1e-12));
    if (arcface) {
        real mx = 0;
        for (int i = 0; i < N * C; i++) mx = y[i] > mx ? y[i] : -y[i] > mx ? -y[i] : mx;
        CHECK(mx <= 8.0 + 1e-5 && mx > 0.01, "ArcFace logits are 8 cos: max |logit| %g", (double)mx);
    }
    free(y);
    free(y2);
    free(ref);
    model_free(m);
}

static void test_predict_linear(void) { predict_case(0); }
static void test_predict_arcface(void) { predict_case(1); }

static void test_load_refusals(void) {
    char ok[512], other[512], wide[512], labels[512], err[2048];
    path_in(ok, sizeof ok, "b0_5.safetensors");
    path_in(other, sizeof other, "b1_5.safetensors");
    path_in(wide, sizeof wide, "b0_6.safetensors");
    path_in(labels, sizeof labels, "labels5.csv");
    ModelConfig mc = model_config_default("efficientnet-b0", 5);
    Model *m = model_create(&mc);
    params_init_hash(&m->params, 1);
    safetensors_save_params(ok, &m->params);
    mc.num_classes = 6;
    Model *m6 = model_create(&mc);
    params_init_hash(&m6->params, 1);
    safetensors_save_params(wide, &m6->params);
    model_free(m6);
    ModelConfig mb1 = model_config_default("efficientnet-b1", 5);
    Model *b1 = model_create(&mb1);
    params_init_hash(&b1->params, 1);
    safetensors_save_params(other, &b1->params);
    model_free(b1);

    Model *fresh = model_create(&m->cfg);
    CHECK(tester_load(fresh, ok, labels, err, sizeof err) == 0, "a fitting checkpoint refused: %s", err);
    CHECK_SAME_BITS("loaded weights", fresh->params.param, m->params.param, m->params.n_param * sizeof(real));
    CHECK(tester_load(fresh, wide, labels, err, sizeof err) == -1 && strstr(err, "6 outputs") &&
              strstr(err, "lists 5 labels") && strstr(err, labels),
          "a head of another size: %s", err);
    CHECK(tester_load(fresh, other, labels, err, sizeof err) == -1 && strstr(err, "does not fit efficientnet-b0") &&
              strstr(err, other),
          "another architecture: %s", err);
    model_free(fresh);
    model_free(m);
}

static void remove_tree(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "/tmp/anomaly_test_test.XXXXXX");
    if (!mkdtemp(tmp_root)) fatal("cannot create a temporary directory");
    RUN(test_latest_checkpoint);
    RUN(test_train_args);
    RUN(test_labels_read);
    RUN(test_mean_argmax);
    RUN(test_one_class_merge);
    RUN(test_predict_linear);
    RUN(test_predict_arcface);
    RUN(test_load_refusals);
    remove_tree(tmp_root);
    CHECK_MAIN_END();
}
