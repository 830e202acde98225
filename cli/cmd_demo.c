/* cli/cmd_demo.c: `tetri demo`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_demo(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri demo: not built yet\n");
    return 1;
}
