/* cli/cmd_workload.c: `tetri workload`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_workload(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri workload: not built yet\n");
    return 1;
}
