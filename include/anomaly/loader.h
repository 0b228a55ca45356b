/* The data loader: batches of decoded, augmented, normalised images.
 *
 * A loader serves a subset of a list of images (e.g. the train indices of a
 * fold), epoch after epoch, as batches [n][3][S][S] of `real` with their
 * labels and data-set indices.
 *
 *   order     shuffle: a permutation of the subset drawn from
 *             rng_stream(seed, epoch, LOADER_SHUFFLE_STREAM) (Fisher-Yates with
 *             rng_below), so an epoch's order is reproducible and differs from
 *             the next epoch's; otherwise the subset's own order.
 *   batches   consecutive runs of batch_size images of that order; drop_last
 *             drops a final partial batch. Each image belongs to one batch, so
 *             it is decoded once per epoch.
 *   images    image i of the data set is decoded and transformed with its own
 *             stream rng_stream(seed, epoch, i): aug_ver 0 is the test
 *             transform (resize_normalize), 1 and 2 are train_transform. The
 *             bytes of a batch therefore depend on neither the thread count
 *             nor the order in which images are processed.
 *   bad files a file image_read() refuses is fatal by default, with its reason
 *             (which names the file), raised in the caller's thread when the
 *             batch holding it is handed out. With skip_bad, a warning line
 *             names it instead, the batch comes out one image shorter, and
 *             the image is left out of later epochs (a batch whose every image
 *             failed is not handed out at all). Callers training with
 *             BatchNorm must then expect a batch of 1 (PyTorch refuses one).
 *
 * Threads. Images of a batch are decoded in parallel with OpenMP, one image
 * per iteration. With prefetch (the default), a background POSIX thread
 * prepares batch k+1 while the caller works on batch k. That thread runs its
 * own OpenMP team of decode_threads threads (default 1), beside the caller's
 * compute team: a forward/backward pass of any model here costs far more
 * per image than decoding and augmenting it, so one extra thread keeps the
 * pipeline fed without taking cores from the compute (numbers in loader.c).
 * Raise decode_threads when decoding is the bottleneck (inference with a
 * small model, large images). The ops' own OpenMP loops run inside this
 * team (nested, so serially per image). Without
 * prefetch, batches are made in the caller's thread when asked for, with the
 * caller's full OpenMP team. Results are the same bytes in every case.
 * ANOMALY_PREFETCH=0 in the environment makes prefetch 0 in the default
 * configs below (every command's loader; any value but 0 or 1 is an error). 
 *
 * A Batch returned by loader_next() stays valid until the next call to
 * loader_next(), loader_start_epoch() or loader_free(). */
#ifndef ANOMALY_LOADER_H
#define ANOMALY_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "anomaly/real.h"

/* The b key of the shuffle stream ("SHUF"); image streams use the image index. */
#define LOADER_SHUFFLE_STREAM 0x53485546ULL

typedef struct LoaderConfig {
    int img_size;        /* S */
    int aug_ver;         /* 0: resize + normalize only; 1, 2: train_transform */
    int batch_size;
    int shuffle;         /* permute every epoch */
    int drop_last;       /* drop a final partial batch */
    int skip_bad;        /* 0: an unreadable image is fatal; 1: warn and skip it */
    int prefetch;        /* 1: prepare the next batch on a background thread */
    int decode_threads;  /* OpenMP team of the background thread (0: 1) */
    uint64_t seed;
    /* Data-parallel shards (shards > 1): every rank walks the same batches
     * (same order, same streams) but decodes and hands out only its share
     * dist_share(n, shard, shards) of each batch's n images, so the shards
     * of a batch put together are the batch of one process. A share of no
     * images is not handed out. */
    int shard, shards;
} LoaderConfig;

/* Train-style defaults: aug_ver 2, shuffle, drop_last, prefetch, fatal on bad
 * images, seed 42. */
LoaderConfig loader_config_train(int img_size, int batch_size);
/* Test-style defaults: aug_ver 0, in order, every image kept, prefetch. */
LoaderConfig loader_config_test(int img_size, int batch_size);

typedef struct Batch {
    int n;              /* images in this batch (<= batch_size) */
    int size;           /* S */
    real *x;            /* [n][3][S][S] */
    int *label;         /* [n]; -1 when the loader was given no labels */
    int64_t *index;     /* [n] data-set indices (positions in `paths`) */
    size_t number;      /* the batch's position in the epoch, from 0 */
} Batch;

typedef struct Loader Loader;

/* paths: [n_paths] image files; labels: [n_paths] or NULL; subset: [n_subset]
 * indices into paths (NULL: all of 0..n_paths-1 in order). The arrays must
 * outlive the loader. An index out of range or repeated is fatal. Starts the
 * background thread when prefetching; no epoch is started yet. */
Loader *loader_create(const LoaderConfig *cfg, const char *const *paths, const int *labels, size_t n_paths,
                      const int64_t *subset, size_t n_subset);
/* Stops and joins the background thread and frees everything. */
void loader_free(Loader *L);

/* Begins an epoch (any epoch number, in any order; an unfinished epoch is
 * abandoned) and, when prefetching, starts preparing its first batch. */
void loader_start_epoch(Loader *L, int epoch);
/* Batches the current epoch will hand out, skips not yet discovered. */
size_t loader_num_batches(const Loader *L);
/* Images the current epoch covers (subset less images known to be bad). */
size_t loader_num_images(const Loader *L);
/* The next batch of the epoch, or NULL when it is over. */
const Batch *loader_next(Loader *L);

/* Seconds the caller has spent waiting in loader_next() (time the pipeline
 * did not keep up), summed since creation. */
double loader_wait_seconds(const Loader *L);
/* Where the loader's time went, summed since creation. busy_s: wall seconds
 * spent filling batches (on the background thread when prefetching, else in
 * loader_next); decode_s and transform_s: seconds of image_read and of the
 * transform (resize, normalize, augmentation) summed over images, so over
 * the decode team's threads; images: images decoded; wait_s: as
 * loader_wait_seconds. Safe to call while a batch is being prefetched. */
typedef struct LoaderTimes {
    double wait_s, busy_s, decode_s, transform_s;
    size_t images;
} LoaderTimes;
LoaderTimes loader_times(Loader *L);
/* Images skipped as unreadable since creation (skip_bad only). */
size_t loader_num_skipped(const Loader *L);
/* Image `index` of the paths is known to be unreadable: marked by an epoch
 * that skipped it, or by loader_mark_bad. Later epochs leave it out. */
int loader_is_bad(const Loader *L, size_t index);
/* Marks it so, as an earlier epoch would have (a resumed run does this for
 * the images its first part skipped, so its batches are those of an
 * uninterrupted run). Takes effect from the next loader_start_epoch. */
void loader_mark_bad(Loader *L, size_t index);

#endif
