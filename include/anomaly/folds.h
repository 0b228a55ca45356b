/* Fold files (SPEC section 1): K-Fold_idx.npy.
 *
 * The original files are NumPy .npy v1.0 object arrays of shape (K, 2) whose
 * payload is a pickle (protocol 3) of int64 ndarrays: cell [k][0] the train
 * indices of fold k+1, [k][1] its validation indices. A plain int .npy of
 * shape (K, 2, M) or similar is accepted too where it is unambiguous. The
 * pickle reader accepts only the opcodes and globals this format uses and
 * rejects anything else with a clear error: it never executes pickle. */
#ifndef ANOMALY_FOLDS_H
#define ANOMALY_FOLDS_H

#include <stddef.h>
#include <stdint.h>

typedef struct Fold {
    int64_t *train, *val;
    size_t n_train, n_val;
} Fold;

typedef struct Folds {
    int k;
    Fold *folds; /* [k] */
} Folds;

/* Returns 0, or -1 with a one-line reason naming the file in err. */
int folds_read(const char *path, Folds *f, char *err, size_t errlen);
/* Writes the original's pickled object-array format atomically; fatal() on error. */
void folds_write(const char *path, const Folds *f);
void folds_free(Folds *f);

/* Stratified k-fold split of n samples by integer label (each label's
 * samples are shuffled with the seed and dealt round-robin to the folds),
 * validation sets disjoint and covering 0..n-1; index arrays sorted. */
void folds_make_stratified(Folds *f, const int *labels, size_t n, int k, uint64_t seed);

#endif
