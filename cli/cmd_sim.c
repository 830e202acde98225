/* cli/cmd_sim.c: `tetri sim`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_sim(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri sim: not built yet\n");
    return 1;
}
