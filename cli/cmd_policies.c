/* cli/cmd_policies.c: `tetri policies`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_policies(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri policies: not built yet\n");
    return 1;
}
