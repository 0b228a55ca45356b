/* Fold files (SPEC section 1): K-Fold_idx.npy.
 *
 * The original files are NumPy .npy v1.0 object arrays of shape (K, 2) whose
 * payload is a pickle (protocol 3) of int64 ndarrays: cell [k][0] the train
 * indices of fold k+1, [k][1] its validation indices. Plain integer .npy
 * files are accepted too where they are unambiguous: shape (K, 2, M) (train
 * and validation arrays of equal length M), or shape (N,) holding each
 * sample's validation fold 0..K-1 (fold k trains on every other sample).
 * The pickle reader accepts only the opcodes and globals this format uses
 * and rejects anything else with a clear error: it never executes pickle. */
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
/* Writes the original's pickled object-array format atomically, byte for
 * byte what numpy.save(path, arr, allow_pickle=True) writes for such an
 * array (NumPy 1.x); fatal() on error. */
void folds_write(const char *path, const Folds *f);
void folds_free(Folds *f);

/* Checks that f splits samples 0..n-1: in every fold each index appears
 * exactly once in train or val, and across folds each index is in exactly
 * one validation set. Returns 0, or -1 with the first problem in err. */
int folds_validate(const Folds *f, size_t n, char *err, size_t errlen);

/* Stratified k-fold split of n samples by integer label, 2 <= k <= n.
 * Labels are taken in increasing order; each label's samples are shuffled
 * (one generator seeded with `seed`, drawn in that order) and dealt
 * round-robin to the folds, the deal continuing where the previous label's
 * stopped, so fold sizes differ by at most one overall and per label.
 * Validation sets are disjoint and cover 0..n-1; index arrays are sorted.
 * fatal() on bad arguments. */
void folds_make_stratified(Folds *f, const int *labels, size_t n, int k, uint64_t seed);

#endif
