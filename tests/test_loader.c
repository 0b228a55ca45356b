/* The data loader on a tiny data set written to a temporary directory:
 * batch shapes, drop_last, every index once per epoch, seeded shuffling,
 * identical bytes for any thread count and with or without prefetch, the
 * transforms it applies, and unreadable images (skipped with a log line, or
 * fatal naming the file). */
#include "check.h"
#include "tmpdir.h"

#include <fcntl.h>
#include <omp.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "anomaly/image.h"
#include "anomaly/loader.h"
#include "anomaly/rng.h"
#include "anomaly/transforms.h"

#define N_IMG 11
#define S 16

static char path_buf[N_IMG + 1][512];
static const char *paths[N_IMG + 1]; /* the last one is a truncated PNG */
static int labels[N_IMG + 1];

static void make_data(void) {
    for (int i = 0; i < N_IMG; i++) {
        Image img;
        image_alloc(&img, 20 + i, 17 + 2 * i); /* sizes differ, so resizing varies */
        for (int y = 0; y < img.h; y++)
            for (int x = 0; x < img.w; x++)
                for (int c = 0; c < 3; c++)
                    img.px[((size_t)y * img.w + x) * 3 + c] = (uint8_t)(i * 37 + x * 9 + y * 5 + c * 80 + (x * y) % 7);
        snprintf(path_buf[i], sizeof path_buf[i], "%s/%05d.png", tmpdir, 10000 + i);
        image_write_png(path_buf[i], &img);
        image_free(&img);
        paths[i] = path_buf[i];
        labels[i] = i % 3;
    }
    /* Half of image 0's file: a truncated PNG. */
    FILE *in = fopen(paths[0], "rb");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    snprintf(path_buf[N_IMG], sizeof path_buf[N_IMG], "%s/broken.png", tmpdir);
    FILE *out = fopen(path_buf[N_IMG], "wb");
    fwrite(buf, 1, n / 2, out);
    fclose(out);
    paths[N_IMG] = path_buf[N_IMG];
    labels[N_IMG] = 1;
}

static const size_t PLANE = (size_t)3 * S * S;

/* Everything one epoch hands out, concatenated in order. */
typedef struct Epoch {
    int n_batches, n;
    int size[16];
    int64_t index[64];
    int label[64];
    real x[64 * 3 * S * S];
} Epoch;

static void run_epoch(Loader *L, int epoch, Epoch *e) {
    memset(e, 0, sizeof *e);
    loader_start_epoch(L, epoch);
    const Batch *b;
    while ((b = loader_next(L)) != NULL) {
        CHECK(b->size == S && (size_t)e->n_batches == b->number, "batch %d: size %d number %zu", e->n_batches,
              b->size, b->number);
        e->size[e->n_batches++] = b->n;
        for (int i = 0; i < b->n; i++) {
            e->index[e->n] = b->index[i];
            e->label[e->n] = b->label[i];
            memcpy(e->x + (size_t)e->n * PLANE, b->x + (size_t)i * PLANE, PLANE * sizeof(real));
            e->n++;
        }
    }
    CHECK(loader_next(L) == NULL, "an ended epoch stays ended");
}

static Epoch ea, eb; /* large; kept off the stack */

static LoaderConfig config(int aug_ver, int batch, int shuffle, int drop_last) {
    LoaderConfig c = loader_config_train(S, batch);
    c.aug_ver = aug_ver;
    c.shuffle = shuffle;
    c.drop_last = drop_last;
    c.seed = 7;
    return c;
}

static void test_batches_and_drop_last(void) {
    LoaderConfig c = config(1, 4, 1, 1);
    Loader *L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
    run_epoch(L, 0, &ea);
    CHECK(ea.n_batches == 2 && ea.size[0] == 4 && ea.size[1] == 4, "drop_last: %d batches", ea.n_batches);
    CHECK(loader_num_batches(L) == 2 && loader_num_images(L) == N_IMG, "counts");
    for (int i = 0; i < ea.n; i++) CHECK(ea.label[i] == labels[ea.index[i]], "label of image %lld", (long long)ea.index[i]);
    loader_free(L);
    c.drop_last = 0;
    L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
    for (int epoch = 0; epoch < 3; epoch++) {
        run_epoch(L, epoch, &ea);
        CHECK(ea.n_batches == 3 && ea.size[2] == 3, "last partial batch kept: %d batches, last %d", ea.n_batches,
              ea.size[2]);
        int seen[N_IMG] = {0};
        for (int i = 0; i < ea.n; i++) seen[ea.index[i]]++;
        for (int i = 0; i < N_IMG; i++) CHECK(seen[i] == 1, "epoch %d: image %d seen %d times", epoch, i, seen[i]);
    }
    loader_free(L);
}

static void test_subset_and_test_loader(void) {
    int64_t subset[5] = {9, 3, 5, 1, 7};
    LoaderConfig c = loader_config_test(S, 2);
    Loader *L = loader_create(&c, paths, NULL, N_IMG, subset, 5);
    run_epoch(L, 0, &ea);
    CHECK(ea.n_batches == 3 && ea.size[2] == 1, "test loader keeps everything: %d batches", ea.n_batches);
    for (int i = 0; i < 5; i++)
        CHECK(ea.index[i] == subset[i] && ea.label[i] == -1, "position %d: image %lld label %d", i,
              (long long)ea.index[i], ea.label[i]);
    loader_free(L);
}

static void test_shuffle(void) {
    LoaderConfig c = config(1, 3, 1, 0);
    Loader *L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
    run_epoch(L, 0, &ea);
    run_epoch(L, 1, &eb);
    CHECK(memcmp(ea.index, eb.index, sizeof ea.index) != 0, "epochs 0 and 1 have the same order");
    int in_order = 1;
    for (int i = 0; i < N_IMG; i++) in_order &= ea.index[i] == i;
    CHECK(!in_order, "epoch 0 is not shuffled");
    /* The same seed and epoch give the same order, in a new loader too. */
    Loader *L2 = loader_create(&c, paths, labels, N_IMG, NULL, 0);
    run_epoch(L2, 1, &ea);
    CHECK(memcmp(ea.index, eb.index, sizeof ea.index) == 0, "epoch 1 order not reproducible");
    CHECK_SAME_BITS("epoch 1 images", ea.x, eb.x, sizeof ea.x);
    loader_free(L2);
    /* The documented permutation: Fisher-Yates on rng_stream(seed, epoch, SHUF). */
    Rng r;
    rng_stream(&r, 7, 1, LOADER_SHUFFLE_STREAM);
    int64_t perm[N_IMG];
    for (int i = 0; i < N_IMG; i++) perm[i] = i;
    for (int i = N_IMG - 1; i > 0; i--) {
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    CHECK(memcmp(perm, eb.index, sizeof perm) == 0, "order differs from the documented permutation");
    loader_free(L);
}

/* The same bytes from every way of running: 1 or 2 OpenMP threads, with or
 * without prefetch, and a larger decode team in the background thread. */
static void test_threads_same_bytes(void) {
    LoaderConfig c = config(2, 4, 1, 0);
    int first = 1;
    for (int prefetch = 0; prefetch <= 1; prefetch++)
        for (int threads = 1; threads <= 2; threads++) {
            omp_set_num_threads(threads);
            c.prefetch = prefetch;
            c.decode_threads = threads;
            Loader *L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
            run_epoch(L, 3, first ? &ea : &eb);
            loader_free(L);
            if (!first) {
                CHECK(memcmp(ea.index, eb.index, sizeof ea.index) == 0, "order, prefetch %d threads %d", prefetch,
                      threads);
                CHECK(memcmp(ea.x, eb.x, sizeof ea.x) == 0, "bytes differ: prefetch %d threads %d", prefetch, threads);
            }
            first = 0;
        }
    omp_set_num_threads(2);
}

/* loader_times counts every decoded image, and with a team of one thread
 * the per-image decode and transform intervals lie inside the batch fills
 * (no speed is checked). */
static void test_times(void) {
    LoaderConfig c = config(2, 4, 1, 0);
    omp_set_num_threads(1);
    for (int prefetch = 0; prefetch <= 1; prefetch++) {
        c.prefetch = prefetch;
        c.decode_threads = 1;
        Loader *L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
        LoaderTimes t0 = loader_times(L);
        CHECK(t0.images == 0 && t0.busy_s == 0 && t0.wait_s == 0, "prefetch %d: a new loader has worked", prefetch);
        run_epoch(L, 0, &ea);
        run_epoch(L, 1, &ea);
        LoaderTimes t = loader_times(L);
        CHECK(t.images == 2 * N_IMG, "prefetch %d: %zu images counted, %d decoded", prefetch, t.images, 2 * N_IMG);
        CHECK(t.decode_s > 0 && t.transform_s > 0 && t.busy_s > 0, "prefetch %d: decode %g transform %g busy %g",
              prefetch, t.decode_s, t.transform_s, t.busy_s);
        CHECK(t.decode_s + t.transform_s <= t.busy_s, "prefetch %d: decode %g + transform %g > busy %g", prefetch,
              t.decode_s, t.transform_s, t.busy_s);
        CHECK(t.wait_s == loader_wait_seconds(L) && t.wait_s >= 0, "prefetch %d: wait %g", prefetch, t.wait_s);
        loader_free(L);
    }
    omp_set_num_threads(2);
}

/* aug_ver 0 is resize_normalize; aug_ver 1 and 2 are train_transform with the
 * image's stream (seed, epoch, index), wherever the image lands. */
static void test_transforms_applied(void) {
    real *want = malloc(PLANE * sizeof(real));
    for (int aug = 0; aug <= 2; aug++) {
        LoaderConfig c = config(aug, 5, aug != 0, 0);
        Loader *L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
        run_epoch(L, 4, &ea);
        for (int i = 0; i < ea.n; i++) {
            Image img;
            image_read_or_die(paths[ea.index[i]], &img);
            if (aug == 0) {
                resize_normalize(want, &img, S);
            } else {
                Rng r;
                rng_stream(&r, 7, 4, (uint64_t)ea.index[i]);
                train_transform(want, &img, aug, S, &r, NULL);
            }
            image_free(&img);
            CHECK(memcmp(want, ea.x + (size_t)i * PLANE, PLANE * sizeof(real)) == 0, "aug_ver %d, image %lld", aug,
                  (long long)ea.index[i]);
        }
        loader_free(L);
    }
    free(want);
}

/* Redirects stderr into a file while fn runs; returns what was written. */
static void capture_stderr(char *out, size_t len, void (*fn)(void)) {
    fflush(stderr);
    int saved = dup(2);
    int fd = open(tmp_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *fp = fopen(tmp_path("stderr.txt"), "r");
    size_t n = fread(out, 1, len - 1, fp);
    out[n] = 0;
    fclose(fp);
}

static int skip_epochs[2], skip_seen_bad, skip_count;
static size_t skip_images_after;

static void skip_run(void) {
    LoaderConfig c = config(1, 4, 1, 0);
    c.skip_bad = 1;
    Loader *L = loader_create(&c, paths, labels, N_IMG + 1, NULL, 0);
    for (int epoch = 0; epoch < 2; epoch++) {
        run_epoch(L, epoch, &ea);
        skip_epochs[epoch] = ea.n;
        for (int i = 0; i < ea.n; i++) skip_seen_bad |= ea.index[i] == N_IMG;
    }
    skip_images_after = loader_num_images(L);
    skip_count = (int)loader_num_skipped(L);
    loader_free(L);
}

static void test_skip_bad(void) {
    char log[4096];
    capture_stderr(log, sizeof log, skip_run);
    CHECK(skip_epochs[0] == N_IMG && skip_epochs[1] == N_IMG && !skip_seen_bad, "epochs gave %d and %d images",
          skip_epochs[0], skip_epochs[1]);
    CHECK(skip_count == 1 && skip_images_after == N_IMG, "skipped %d, %zu images left", skip_count, skip_images_after);
    CHECK(strstr(log, "skipping unreadable image 11") && strstr(log, "broken.png"), "log: %s", log);
    /* once: later epochs leave it out instead of failing again */
    const char *second = strstr(log, "skipping");
    CHECK(second && !strstr(second + 1, "skipping"), "logged more than once: %s", log);
}

/* loader_mark_bad: the image is left out from the next epoch on, without
 * being read (so without a warning), and the others keep the order they
 * would have had. */
static int64_t mark_want[N_IMG + 1], mark_got[N_IMG + 1];
static int mark_n_want, mark_n_got, mark_flags_ok;
static size_t mark_skipped;

static void mark_run(void) {
    LoaderConfig c = config(1, 4, 1, 0);
    c.skip_bad = 1;
    Loader *L = loader_create(&c, paths, labels, N_IMG + 1, NULL, 0);
    Loader *M = loader_create(&c, paths, labels, N_IMG + 1, NULL, 0);
    loader_mark_bad(M, N_IMG);
    loader_mark_bad(M, 3);
    mark_flags_ok = loader_is_bad(M, N_IMG) && loader_is_bad(M, 3) && !loader_is_bad(M, 2) &&
                    !loader_is_bad(M, N_IMG + 5);
    run_epoch(L, 1, &ea); /* skips image N_IMG itself, with a warning */
    mark_n_want = mark_n_got = 0;
    for (int i = 0; i < ea.n; i++)
        if (ea.index[i] != 3) mark_want[mark_n_want++] = ea.index[i];
    run_epoch(M, 1, &ea);
    for (int i = 0; i < ea.n; i++) mark_got[mark_n_got++] = ea.index[i];
    mark_skipped = loader_num_skipped(M);
    loader_free(L);
    loader_free(M);
}

static void test_mark_bad(void) {
    char log[4096];
    capture_stderr(log, sizeof log, mark_run);
    CHECK(mark_flags_ok, "loader_is_bad after marking 3 and %d", N_IMG);
    CHECK(mark_n_got == mark_n_want &&
              memcmp(mark_got, mark_want, (size_t)mark_n_got * sizeof *mark_got) == 0,
          "marked images: %d images in the epoch, want %d in the unmarked order less image 3",
          mark_n_got, mark_n_want);
    CHECK(mark_skipped == 0, "marked images counted as skipped");
    const char *first = strstr(log, "skipping");
    CHECK(first && !strstr(first + 1, "skipping"), "one warning (the unmarked loader's): %s", log);
}

static int run_child(void (*fn)(void), char *err, size_t len) {
    int fds[2];
    if (pipe(fds) != 0) return -1;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        if (!freopen("/dev/null", "w", stdout)) _exit(2);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < len && (r = read(fds[0], err + got, len - 1 - got)) > 0) got += (size_t)r;
    err[got] = 0;
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void fatal_run(void) {
    LoaderConfig c = config(0, 3, 0, 0);
    int64_t subset[4] = {2, 11, 4, 5};
    Loader *L = loader_create(&c, paths, labels, N_IMG + 1, subset, 4);
    run_epoch(L, 0, &ea);
    loader_free(L);
}

static void bad_subset_run(void) {
    LoaderConfig c = config(0, 3, 0, 0);
    int64_t subset[3] = {2, 4, 2};
    loader_create(&c, paths, labels, N_IMG, subset, 3);
}

static void test_fatal_names_file(void) {
    char err[2048];
    int code = run_child(fatal_run, err, sizeof err);
    CHECK(code == 1 && strstr(err, "broken.png") && strstr(err, "error"), "exit %d, stderr: %s", code, err);
    code = run_child(bad_subset_run, err, sizeof err);
    CHECK(code == 1 && strstr(err, "image 2 appears twice"), "exit %d, stderr: %s", code, err);
}

static void bad_prefetch_run(void) {
    setenv("ANOMALY_PREFETCH", "2", 1);
    loader_config_train(S, 2);
}

/* ANOMALY_PREFETCH sets the default configs' prefetch (0 or 1; unset: 1). */
static void test_prefetch_env(void) {
    unsetenv("ANOMALY_PREFETCH");
    CHECK(loader_config_train(S, 2).prefetch == 1, "prefetch not on by default");
    setenv("ANOMALY_PREFETCH", "0", 1);
    CHECK(loader_config_train(S, 2).prefetch == 0, "ANOMALY_PREFETCH=0: train config prefetches");
    CHECK(loader_config_test(S, 2).prefetch == 0, "ANOMALY_PREFETCH=0: test config prefetches");
    setenv("ANOMALY_PREFETCH", "1", 1);
    CHECK(loader_config_test(S, 2).prefetch == 1, "ANOMALY_PREFETCH=1: no prefetch");
    unsetenv("ANOMALY_PREFETCH");
    char err[512];
    int code = run_child(bad_prefetch_run, err, sizeof err);
    /* the first line (a sanitizer may add its own lines after it) */
    CHECK(code == 2 && strncmp(err, "anomaly: error: ANOMALY_PREFETCH=2: expected 0 or 1\n", 52) == 0,
          "ANOMALY_PREFETCH=2: exit %d, stderr: %s", code, err);
}

/* Abandoning an epoch half-way, restarting, and freeing with a batch in
 * flight must neither hang nor change what a fresh epoch gives. */
static void test_abandon_and_free(void) {
    LoaderConfig c = config(2, 2, 1, 0);
    Loader *L = loader_create(&c, paths, labels, N_IMG, NULL, 0);
    run_epoch(L, 5, &ea);
    loader_start_epoch(L, 5);
    CHECK(loader_next(L) != NULL, "first batch");
    loader_start_epoch(L, 6);
    loader_start_epoch(L, 5);
    run_epoch(L, 5, &eb);
    CHECK(memcmp(ea.x, eb.x, sizeof ea.x) == 0 && memcmp(ea.index, eb.index, sizeof ea.index) == 0,
          "restarted epoch differs");
    loader_start_epoch(L, 7);
    loader_next(L);
    loader_free(L); /* the next batch is being prepared */
    CHECK(loader_wait_seconds(L = loader_create(&c, paths, labels, N_IMG, NULL, 0)) == 0, "fresh loader waited");
    loader_free(L);
}

int main(void) {
    tmpdir_create("loader");
    make_data();
    RUN(test_batches_and_drop_last);
    RUN(test_subset_and_test_loader);
    RUN(test_shuffle);
    RUN(test_threads_same_bytes);
    RUN(test_prefetch_env);
    RUN(test_times);
    RUN(test_transforms_applied);
    RUN(test_skip_bad);
    RUN(test_mark_bad);
    RUN(test_fatal_names_file);
    RUN(test_abandon_and_free);
    tmpdir_remove();
    CHECK_MAIN_END();
}
