/* The restricted pickle reader alone (npy_pickle_read), without the .npy
 * header in front. */
#include "../../src/io/io_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    NpyObjectArray a;
    char err[512];
    if (npy_pickle_read(data, size, "fuzz.pkl", &a, err, sizeof err) == 0) npy_pickle_free(&a);
    return 0;
}
