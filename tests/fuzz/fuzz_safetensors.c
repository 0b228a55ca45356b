/* safetensors reader (safetensors_parse): header, metadata, checksum, data
 * layout; then every tensor converted as a loader would. */
#include "anomaly/error.h"
#include "anomaly/safetensors.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *copy = xmalloc(size, "fuzz input");
    if (size) memcpy(copy, data, size);
    SafeTensors st;
    char err[512];
    if (safetensors_parse("fuzz.safetensors", copy, size, &st, err, sizeof err) == 0) {
        for (int i = 0; i < st.count; i++) {
            const StTensor *t = &st.tensors[i];
            char shape[128];
            st_format_shape(shape, sizeof shape, t->ndim, t->shape);
            real *r = xmalloc(t->numel * sizeof(real), "fuzz tensor");
            int64_t *k = xmalloc(t->numel * sizeof(int64_t), "fuzz tensor");
            (void)st_tensor_to_real(t, r);
            (void)st_tensor_to_i64(t, k);
            free(r);
            free(k);
        }
        (void)safetensors_meta(&st, "format");
        safetensors_close(&st);
    }
    return 0;
}
