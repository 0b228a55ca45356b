/* Command-line flags: each subcommand declares a table of ArgSpec and calls
 * args_parse(). `--name value` and `--name=value` are accepted; an unknown
 * flag, a missing or malformed value, a value outside `choices` or a missing
 * required flag is one clear error naming the flag and the command.
 * `--help` prints the table and exits 0. */
#ifndef ANOMALY_ARGS_H
#define ANOMALY_ARGS_H

typedef enum ArgType {
    ARG_STRING, /* const char ** */
    ARG_INT,    /* int * */
    ARG_LONG,   /* long long * */
    ARG_DOUBLE, /* double * */
    ARG_FLAG,   /* int *, set to 1; takes no value */
    ARG_LIST    /* ArgList *: every value up to the next --flag */
} ArgType;

typedef struct ArgList {
    const char **items;
    int count;
} ArgList;

typedef struct ArgSpec {
    const char *name;    /* without the leading dashes */
    ArgType type;
    void *dest;
    const char *help;
    const char *choices; /* "ce|smoothing" for ARG_STRING, or NULL */
    int required;
} ArgSpec;

/* Parses argv[0..argc) (argv[0] is the first flag, not the command name).
 * Positional arguments are stored in positional[] (at most max_positional,
 * more is an error). Returns the number of positionals. `usage` is the
 * one-line synopsis printed by --help. */
int args_parse(const char *command, const char *usage, const ArgSpec *specs, int argc,
               char **argv, const char **positional, int max_positional);

void args_print_help(const char *command, const char *usage, const ArgSpec *specs);

#endif
