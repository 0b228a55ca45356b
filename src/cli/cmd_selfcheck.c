#include <stdio.h>
int cmd_selfcheck(int argc, char **argv);
int cmd_selfcheck(int argc, char **argv) {
    (void)argc; (void)argv;
    printf("selfcheck: not yet implemented\n");
    return 1;
}
