/* cli/cmd_profile.c: `tetri profile`. PLACEHOLDER until its module lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_profile(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri profile: not built yet\n");
    return 1;
}
