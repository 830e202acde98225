/* cli/cmd_plot.c: `tetri plot`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_plot(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri plot: not built yet\n");
    return 1;
}
