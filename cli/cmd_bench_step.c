/* cli/cmd_bench_step.c: `tetri bench-step`. PLACEHOLDER until the executor lands. */
#include <stdio.h>
#include "cli/commands.h"
int cmd_bench_step(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "tetri bench-step: not built yet\n");
    return 1;
}
