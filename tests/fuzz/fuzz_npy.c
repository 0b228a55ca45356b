/* .npy reader: the header parser alone, then a whole file (npy_read). */
#include "anomaly/npy.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    NpyHeader h;
    char err[512];
    (void)npy_parse_header(data, size, &h, err, sizeof err);
    NpyArray a;
    if (npy_read(fuzz_file(data, size, ".npy"), &a, err, sizeof err) == 0) {
        real *r = npy_to_real(&a);
        free(r);
        npy_free(&a);
    }
    return 0;
}
