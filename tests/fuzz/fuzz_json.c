/* The JSON reader (json_parse) of safetensors headers. */
#include "anomaly/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    JsonValue *v = json_parse((const char *)data, size, err, sizeof err);
    if (v) {
        if (v->type == JSON_OBJECT) {
            (void)json_object_find_duplicate(v);
            (void)json_object_get(v, "dtype");
        }
        json_free(v);
    }
    return 0;
}
