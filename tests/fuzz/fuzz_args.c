/* The command-line flag parser (args_parse) on argument vectors made of the
 * input's NUL-separated pieces. Linked with -Wl,--wrap=fatal: an error
 * returns here through longjmp instead of exiting. */
#include "anomaly/args.h"
#include "anomaly/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static jmp_buf on_fatal;

void __wrap_fatal(const char *fmt, ...);
void __wrap_fatal(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    longjmp(on_fatal, 1);
}

#define MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char *text;
    static char *argv[MAX_ARGS];
    static const char *pos[4];
    static ArgList list;
    const char *str = NULL, *choice = NULL;
    int i32 = 0, flag = 0;
    long long i64 = 0;
    double x = 0;
    const ArgSpec specs[] = {
        {"data_path", ARG_STRING, &str, "a string", NULL, 0},
        {"optimizer", ARG_STRING, &choice, "a choice", "Adam|SGD", 0},
        {"epochs", ARG_INT, &i32, "an int", NULL, 0},
        {"seed", ARG_LONG, &i64, "a long", NULL, 0},
        {"lr", ARG_DOUBLE, &x, "a double", NULL, 0},
        {"resume", ARG_FLAG, &flag, "a flag", NULL, 0},
        {"weights", ARG_LIST, &list, "a list", NULL, 0},
        {"out", ARG_STRING, &str, "required", NULL, 1},
        {NULL, 0, NULL, NULL, NULL, 0},
    };
    free(text);
    text = malloc(size + 1);
    if (!text) return 0;
    if (size) memcpy(text, data, size);
    text[size] = '\0';
    int argc = 0;
    for (size_t at = 0; at <= size && argc < MAX_ARGS;) {
        char *a = text + at;
        /* --help prints the table and exits: not a parse to fuzz */
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) a[1] = 'x';
        argv[argc++] = a;
        at += strlen(a) + 1;
    }
    if (setjmp(on_fatal) == 0) (void)args_parse("fuzz", "[flags]", specs, argc, argv, pos, 4);
    free(list.items); /* kept across calls by args_parse's realloc */
    list.items = NULL;
    list.count = 0;
    return 0;
}
