/* Fold files (folds_read): the .npy header, the restricted pickle of the
 * original's object arrays, and plain integer arrays; then validation. */
#include "anomaly/folds.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    Folds f;
    char err[512];
    if (folds_read(fuzz_file(data, size, ".npy"), &f, err, sizeof err) == 0) {
        (void)folds_validate(&f, 100, err, sizeof err);
        folds_free(&f);
    }
    return 0;
}
