#include "anomaly/args.h"
#include "anomaly/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARGS_MAX_SPECS 128

static const char *type_hint(ArgType t) {
    switch (t) {
    case ARG_STRING: return "S";
    case ARG_INT: return "N";
    case ARG_LONG: return "N";
    case ARG_DOUBLE: return "X";
    case ARG_FLAG: return "";
    case ARG_LIST: return "A [B ...]";
    }
    return "";
}

void args_print_help(const char *command, const char *usage, const ArgSpec *specs) {
    printf("usage: anomaly %s %s\n\n", command, usage);
    for (const ArgSpec *s = specs; s->name; s++) {
        char left[256];
        snprintf(left, sizeof left, "--%s %s", s->name, s->choices ? s->choices : type_hint(s->type));
        printf("  %-34s %s%s\n", left, s->help, s->required ? " (required)" : "");
    }
    printf("  %-34s %s\n", "--exact", "portable reference path: the same bytes on every CPU "
           "(also ANOMALY_EXACT=1)");
}

static int choice_ok(const char *choices, const char *v) {
    size_t n = strlen(v);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, v, n) == 0) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static void store(const char *command, const ArgSpec *s, const char *v) {
    char *end;
    errno = 0;
    switch (s->type) {
    case ARG_STRING:
        if (s->choices && !choice_ok(s->choices, v))
            fatal("anomaly %s: --%s must be one of %s, not '%s'", command, s->name, s->choices, v);
        *(const char **)s->dest = v;
        break;
    case ARG_INT: {
        long x = strtol(v, &end, 10);
        if (errno || end == v || *end || x < -2147483647L || x > 2147483647L)
            fatal("anomaly %s: --%s needs a whole number, not '%s'", command, s->name, v);
        *(int *)s->dest = (int)x;
        break;
    }
    case ARG_LONG: {
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end)
            fatal("anomaly %s: --%s needs a whole number, not '%s'", command, s->name, v);
        *(long long *)s->dest = x;
        break;
    }
    case ARG_DOUBLE: {
        double x = strtod(v, &end);
        if (errno || end == v || *end)
            fatal("anomaly %s: --%s needs a number, not '%s'", command, s->name, v);
        *(double *)s->dest = x;
        break;
    }
    case ARG_FLAG:
    case ARG_LIST:
        break;
    }
}

int args_parse(const char *command, const char *usage, const ArgSpec *specs, int argc,
               char **argv, const char **positional, int max_positional) {
    /* which flags were given; on the stack, so that no error path below
     * (each one a fatal()) leaves memory behind */
    unsigned char seen[ARGS_MAX_SPECS] = {0};
    int npos = 0, nspecs = 0;
    for (const ArgSpec *s = specs; s->name; s++) nspecs++;
    if (nspecs > ARGS_MAX_SPECS) fatal("anomaly %s: %d flags declared, at most %d", command, nspecs, ARGS_MAX_SPECS);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            args_print_help(command, usage, specs);
            exit(0);
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (npos >= max_positional)
                fatal("anomaly %s: unexpected argument '%s' (see anomaly %s --help)", command, a, command);
            positional[npos++] = a;
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = 0;
        for (; k < nspecs; k++)
            if (strlen(specs[k].name) == len && strncmp(specs[k].name, name, len) == 0) break;
        if (k == nspecs)
            fatal("anomaly %s: unknown flag --%.*s (see anomaly %s --help)", command, (int)len, name, command);
        const ArgSpec *s = &specs[k];
        seen[k] = 1;
        if (s->type == ARG_FLAG) {
            if (eq) fatal("anomaly %s: --%s takes no value", command, s->name);
            *(int *)s->dest = 1;
            continue;
        }
        if (s->type == ARG_LIST) {
            ArgList *l = s->dest;
            l->items = xrealloc(l->items, (size_t)argc * sizeof *l->items, "flag values");
            l->count = 0;
            if (eq) l->items[l->count++] = eq + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) l->items[l->count++] = argv[++i];
            if (l->count == 0) fatal("anomaly %s: --%s needs at least one value", command, s->name);
            continue;
        }
        const char *v;
        if (eq) v = eq + 1;
        else if (i + 1 < argc) v = argv[++i];
        else fatal("anomaly %s: --%s needs a value", command, s->name);
        store(command, s, v);
    }
    for (int k = 0; k < nspecs; k++)
        if (specs[k].required && !seen[k])
            fatal("anomaly %s: --%s is required (see anomaly %s --help)", command, specs[k].name, command);
    return npos;
}
