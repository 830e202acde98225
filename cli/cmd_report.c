/* cli/cmd_report.c: `tetri report`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_report(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri report: not built yet\n");
    return 1;
}
