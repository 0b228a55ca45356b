/* The ensemble recipe language: lexer, parser and checks (recipe_parse). */
#include "anomaly/ensemble.h"
#include "anomaly/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = xmalloc(size + 1, "fuzz input");
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    Recipe *r = recipe_parse("fuzz.recipe", text, err, sizeof err);
    if (r) recipe_free(r);
    free(text);
    return 0;
}
