/* The data loader (see loader.h): epoch order, batches, parallel decoding,
 * and a one-batch-ahead prefetch on a background thread.
 *
 * Prefetch protocol: two batch slots and one job at a time. The caller holds
 * the slot of the batch it was last given; the worker fills the other. When
 * the caller asks for batch k, it waits for the job "fill batch k into slot
 * s", takes slot s, and queues "fill batch k+1 into the other slot" (the one
 * it has just given back). Errors found while filling are only recorded;
 * they are reported (warning or fatal) in the caller's thread when the batch
 * is handed out, so messages come in batch order and fatal() never runs
 * behind the caller's back.
 *
 * Why one decode thread by default (2 shared cores, gcc -O2, float): reading
 * a 1024 x 1024 PNG and applying aug_ver 2 and the resize takes about 80 ms
 * on one core (30 ms with aug_ver 0), while one EfficientNet-B0 training step
 * at 224 px costs about 600 ms per image on both cores; the background
 * thread stays well ahead with a team of one. With decode_threads = 1 the
 * background thread adds exactly one thread to the process (checked through
 * /proc/self/task with OMP_NUM_THREADS=6): the ops' own parallel loops
 * inherit the team size set below instead of the global default. */
#include "anomaly/loader.h"

#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "anomaly/dist.h"
#include "anomaly/error.h"
#include "anomaly/image.h"
#include "anomaly/rng.h"
#include "anomaly/transforms.h"

#define LOADER_ERR_LEN 512

typedef struct Slot {
    Batch b;
    int n_want;                   /* images this batch tried */
    int64_t *want;                /* [batch_size] their data-set indices */
    int *ok;                      /* [batch_size] decoded? */
    char (*err)[LOADER_ERR_LEN];  /* [batch_size] why not */
} Slot;

enum { JOB_IDLE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct Loader {
    LoaderConfig cfg;
    const char *const *paths;     /* [n_paths] */
    const int *labels;            /* [n_paths] or NULL */
    size_t n_paths;
    int64_t *subset;              /* [n_subset] */
    size_t n_subset;
    unsigned char *bad;           /* [n_paths] found unreadable (skip_bad) */
    int64_t *order;               /* [n_subset], first n_order used */
    size_t n_order, n_batches, next;
    int epoch, started;
    Slot slot[2];
    size_t skipped;
    double wait_s;
    LoaderTimes work;             /* busy, decode and transform seconds (under mu when threaded) */
    /* prefetch; everything below `mu` is guarded by it */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int job, job_slot, quit;
    size_t job_batch;
};

/* ANOMALY_PREFETCH=0 turns the background thread off for every loader: the
 * batches are then made in the caller's thread (same bytes). For emulators
 * that cannot create threads (tools/arm_check.sh under qemu-user) and for
 * profiling the loader inline. */
static int prefetch_default(void) {
    const char *v = getenv("ANOMALY_PREFETCH");
    if (!v || !*v) return 1;
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
        fprintf(stderr, "anomaly: error: ANOMALY_PREFETCH=%s: expected 0 or 1\n", v);
        exit(2);
    }
    return v[0] == '1';
}

LoaderConfig loader_config_train(int img_size, int batch_size) {
    LoaderConfig c;
    memset(&c, 0, sizeof c);
    c.img_size = img_size;
    c.batch_size = batch_size;
    c.aug_ver = 2;
    c.shuffle = 1;
    c.drop_last = 1;
    c.prefetch = prefetch_default();
    c.seed = 42;
    return c;
}

LoaderConfig loader_config_test(int img_size, int batch_size) {
    LoaderConfig c = loader_config_train(img_size, batch_size);
    c.aug_ver = 0;
    c.shuffle = 0;
    c.drop_last = 0;
    return c;
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Decodes and transforms the images of batch `number` into s. Each image is
 * independent of the others and of the team, so any team gives the same bytes.
 * Adds the fill's wall time and its images' decode and transform seconds to
 * *work. */
static void fill(Loader *L, Slot *s, size_t number, int team, LoaderTimes *work) {
    const double t_fill = now_seconds();
    double decode_s = 0, transform_s = 0;
    const LoaderConfig *c = &L->cfg;
    size_t B = (size_t)c->batch_size, start = number * B;
    size_t cnt = L->n_order - start < B ? L->n_order - start : B;
    size_t plane = (size_t)3 * (size_t)c->img_size * (size_t)c->img_size;
    if (c->shards > 1) {
        size_t lo, hi;
        dist_share(cnt, c->shard, c->shards, &lo, &hi);
        start += lo;
        cnt = hi - lo;
    }
    s->n_want = (int)cnt;
    for (size_t i = 0; i < cnt; i++) s->want[i] = L->order[start + i];
#pragma omp parallel for schedule(dynamic, 1) num_threads(team) if (cnt > 1 && team > 1) \
    reduction(+ : decode_s, transform_s)
    for (int i = 0; i < (int)cnt; i++) {
        int64_t idx = s->want[i];
        Image img;
        const double t0 = now_seconds();
        if (image_read(L->paths[idx], &img, s->err[i], LOADER_ERR_LEN) != 0) {
            s->ok[i] = 0;
            continue;
        }
        const double t1 = now_seconds();
        decode_s += t1 - t0;
        s->ok[i] = 1;
        real *out = s->b.x + (size_t)i * plane;
        if (c->aug_ver == 0) {
            resize_normalize(out, &img, c->img_size);
        } else {
            Rng r;
            rng_stream(&r, c->seed, (uint64_t)(int64_t)L->epoch, (uint64_t)idx);
            train_transform(out, &img, c->aug_ver, c->img_size, &r, NULL);
        }
        image_free(&img);
        transform_s += now_seconds() - t1;
    }
    /* Close the gaps left by unreadable images, keeping batch order. */
    int n = 0;
    for (int i = 0; i < (int)cnt; i++) {
        if (!s->ok[i]) continue;
        if (n != i) memmove(s->b.x + (size_t)n * plane, s->b.x + (size_t)i * plane, plane * sizeof(real));
        s->b.index[n] = s->want[i];
        s->b.label[n] = L->labels ? L->labels[s->want[i]] : -1;
        n++;
    }
    s->b.n = n;
    s->b.number = number;
    s->b.size = c->img_size;
    work->busy_s += now_seconds() - t_fill;
    work->decode_s += decode_s;
    work->transform_s += transform_s;
    work->images += (size_t)n;
}

static void *worker_main(void *arg) {
    Loader *L = arg;
    int team = L->cfg.decode_threads > 0 ? L->cfg.decode_threads : 1;
    /* This thread's own ICV: the transforms' inner parallel loops, and the
     * batch loop when team is 1, then stay within the team. */
    omp_set_num_threads(team);
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->quit && L->job != JOB_QUEUED) pthread_cond_wait(&L->cv, &L->mu);
        if (L->quit) break;
        L->job = JOB_RUNNING;
        Slot *s = &L->slot[L->job_slot];
        size_t number = L->job_batch;
        pthread_mutex_unlock(&L->mu);
        LoaderTimes work = {0, 0, 0, 0, 0};
        fill(L, s, number, team, &work);
        pthread_mutex_lock(&L->mu);
        L->work.busy_s += work.busy_s;
        L->work.decode_s += work.decode_s;
        L->work.transform_s += work.transform_s;
        L->work.images += work.images;
        L->job = JOB_DONE;
        pthread_cond_broadcast(&L->cv);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

static void slot_init(Slot *s, const LoaderConfig *c) {
    size_t B = (size_t)c->batch_size, plane = (size_t)3 * (size_t)c->img_size * (size_t)c->img_size;
    memset(s, 0, sizeof *s);
    s->b.x = xmalloc(B * plane * sizeof(real), "loader batch");
    s->b.label = xmalloc(B * sizeof *s->b.label, "loader batch");
    s->b.index = xmalloc(B * sizeof *s->b.index, "loader batch");
    s->want = xmalloc(B * sizeof *s->want, "loader batch");
    s->ok = xmalloc(B * sizeof *s->ok, "loader batch");
    s->err = xmalloc(B * sizeof *s->err, "loader batch");
}

static void slot_free(Slot *s) {
    free(s->b.x);
    free(s->b.label);
    free(s->b.index);
    free(s->want);
    free(s->ok);
    free(s->err);
}

Loader *loader_create(const LoaderConfig *cfg, const char *const *paths, const int *labels, size_t n_paths,
                      const int64_t *subset, size_t n_subset) {
    if (cfg->img_size < 1) fatal("loader: img_size must be positive, not %d", cfg->img_size);
    if (cfg->batch_size < 1) fatal("loader: batch_size must be positive, not %d", cfg->batch_size);
    if (cfg->aug_ver < 0 || cfg->aug_ver > 2) fatal("loader: aug_ver must be 0, 1 or 2, not %d", cfg->aug_ver);
    if (cfg->decode_threads < 0) fatal("loader: decode_threads must be >= 0, not %d", cfg->decode_threads);
    if (cfg->shards > 1 && (cfg->shard < 0 || cfg->shard >= cfg->shards))
        fatal("loader: shard %d of %d does not exist", cfg->shard, cfg->shards);
    Loader *L = xcalloc(1, sizeof *L, "loader");
    L->cfg = *cfg;
    L->paths = paths;
    L->labels = labels;
    L->n_paths = n_paths;
    if (!subset) n_subset = n_paths;
    L->n_subset = n_subset;
    L->subset = xmalloc((n_subset ? n_subset : 1) * sizeof *L->subset, "loader subset");
    L->order = xmalloc((n_subset ? n_subset : 1) * sizeof *L->order, "loader order");
    L->bad = xcalloc(n_paths ? n_paths : 1, 1, "loader");
    unsigned char *seen = xcalloc(n_paths ? n_paths : 1, 1, "loader");
    for (size_t i = 0; i < n_subset; i++) {
        int64_t idx = subset ? subset[i] : (int64_t)i;
        if (idx < 0 || (uint64_t)idx >= n_paths)
            fatal("loader: subset entry %zu is image %lld, outside the %zu images", i, (long long)idx, n_paths);
        if (seen[idx]) fatal("loader: image %lld appears twice in the subset", (long long)idx);
        seen[idx] = 1;
        L->subset[i] = idx;
    }
    free(seen);
    slot_init(&L->slot[0], cfg);
    L->threaded = cfg->prefetch != 0;
    if (L->threaded) {
        slot_init(&L->slot[1], cfg);
        pthread_mutex_init(&L->mu, NULL);
        pthread_cond_init(&L->cv, NULL);
        L->job = JOB_IDLE;
        int rc = pthread_create(&L->thread, NULL, worker_main, L);
        if (rc != 0) fatal("loader: cannot start the prefetch thread (error %d)", rc);
    }
    return L;
}

void loader_free(Loader *L) {
    if (!L) return;
    if (L->threaded) {
        pthread_mutex_lock(&L->mu);
        L->quit = 1;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
        pthread_join(L->thread, NULL);
        pthread_cond_destroy(&L->cv);
        pthread_mutex_destroy(&L->mu);
        slot_free(&L->slot[1]);
    }
    slot_free(&L->slot[0]);
    free(L->subset);
    free(L->order);
    free(L->bad);
    free(L);
}

void loader_start_epoch(Loader *L, int epoch) {
    if (L->threaded) {
        /* A running job still writes its slot; a queued one is dropped. */
        pthread_mutex_lock(&L->mu);
        while (L->job == JOB_RUNNING) pthread_cond_wait(&L->cv, &L->mu);
        L->job = JOB_IDLE;
        pthread_mutex_unlock(&L->mu);
    }
    L->epoch = epoch;
    /* Shuffle the whole subset, then drop known-bad images: the permutation
     * of the others is the one they would have had anyway. */
    int64_t *perm = xmalloc((L->n_subset ? L->n_subset : 1) * sizeof *perm, "loader order");
    memcpy(perm, L->subset, L->n_subset * sizeof *perm);
    if (L->cfg.shuffle && L->n_subset > 1) {
        Rng r;
        rng_stream(&r, L->cfg.seed, (uint64_t)(int64_t)epoch, LOADER_SHUFFLE_STREAM);
        for (size_t i = L->n_subset - 1; i > 0; i--) {
            size_t j = (size_t)rng_below(&r, (uint64_t)i + 1);
            int64_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
    }
    L->n_order = 0;
    for (size_t i = 0; i < L->n_subset; i++)
        if (!L->bad[perm[i]]) L->order[L->n_order++] = perm[i];
    free(perm);
    size_t B = (size_t)L->cfg.batch_size;
    L->n_batches = L->cfg.drop_last ? L->n_order / B : (L->n_order + B - 1) / B;
    L->next = 0;
    L->started = 1;
    if (L->threaded && L->n_batches > 0) {
        pthread_mutex_lock(&L->mu);
        L->job_batch = 0;
        L->job_slot = 0;
        L->job = JOB_QUEUED;
        pthread_cond_broadcast(&L->cv);
        pthread_mutex_unlock(&L->mu);
    }
}

size_t loader_num_batches(const Loader *L) { return L->n_batches; }
size_t loader_num_images(const Loader *L) { return L->n_order; }
double loader_wait_seconds(const Loader *L) { return L->wait_s; }

LoaderTimes loader_times(Loader *L) {
    if (L->threaded) pthread_mutex_lock(&L->mu);
    LoaderTimes t = L->work;
    if (L->threaded) pthread_mutex_unlock(&L->mu);
    t.wait_s = L->wait_s;
    return t;
}
size_t loader_num_skipped(const Loader *L) { return L->skipped; }
int loader_is_bad(const Loader *L, size_t index) { return index < L->n_paths && L->bad[index]; }

void loader_mark_bad(Loader *L, size_t index) {
    if (index >= L->n_paths)
        fatal("loader: image %zu marked unreadable, but there are %zu images", index, L->n_paths);
    L->bad[index] = 1;
}

/* Reports the batch's unreadable images in batch order: fatal, or a warning
 * and a mark so later epochs leave the image out. */
static void report_bad(Loader *L, const Slot *s) {
    for (int i = 0; i < s->n_want; i++) {
        if (s->ok[i]) continue;
        if (!L->cfg.skip_bad) fatal("%s", s->err[i]);
        warn("skipping unreadable image %lld: %s", (long long)s->want[i], s->err[i]);
        L->bad[s->want[i]] = 1;
        L->skipped++;
    }
}

const Batch *loader_next(Loader *L) {
    if (!L->started) fatal("loader: loader_next() before loader_start_epoch()");
    while (L->next < L->n_batches) {
        double t0 = now_seconds();
        Slot *s;
        if (L->threaded) {
            pthread_mutex_lock(&L->mu);
            while (L->job != JOB_DONE) pthread_cond_wait(&L->cv, &L->mu);
            s = &L->slot[L->job_slot];
            L->job = JOB_IDLE;
            if (L->next + 1 < L->n_batches) {
                L->job_batch = L->next + 1;
                L->job_slot = 1 - L->job_slot;
                L->job = JOB_QUEUED;
                pthread_cond_broadcast(&L->cv);
            }
            pthread_mutex_unlock(&L->mu);
        } else {
            s = &L->slot[0];
            fill(L, s, L->next, omp_get_max_threads(), &L->work);
        }
        L->wait_s += now_seconds() - t0;
        L->next++;
        report_bad(L, s);
        if (s->b.n > 0) return &s->b;
    }
    return NULL;
}
