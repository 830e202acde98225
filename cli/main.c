/* cli/main.c: the `tetri` command: finds the subcommand and hands over argv. Nothing else.
 *
 * Built twice from the same sources (cli/local.mk): `tetri`, which links no CUDA library and
 * hands the GPU command lines (cli/gpu_dispatch.c) to tetri-gpu, and tetri-gpu, compiled with
 * TETRI_HAVE_CUDA, which runs every command itself, the GPU ones included. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/gpu_dispatch.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"demo", cmd_demo, "the paper's FLUX.1-dev 8 x H100 scenario, simulated: table, results db, plots"},
    {"workload", cmd_workload, "generate a request trace (CSV) or check one"},
    {"sim", cmd_sim, "simulate policies over workloads into a results database"},
    {"sweep", cmd_sweep, "run an experiment file's grids (FILE.ini) on every core"},
    {"serve", cmd_serve, "serve workloads in real time (--backend emulated) into the same results database"},
    {"validate", cmd_validate, "one trace through the simulator and a live backend, per policy: latency, attainment, KS"},
    {"report", cmd_report, "SLO attainment tables (terminal or CSV) from a results database"},
    {"plot", cmd_plot, "SLO-attainment and latency plots (PNG, SVG) from a results database"},
    {"merge", cmd_merge, "copy every run of several results databases into one (--out OUT.db IN.db ...)"},
    {"profile", cmd_profile, "show, check or generate (--analytic) latency profiles"},
    {"policies", cmd_policies, "list every scheduling policy with its options and defaults"},
#ifdef TETRI_HAVE_CUDA
    {"bench-step", cmd_bench_step, NULL}, /* its summary: tetri_gpu_routes */
#else
    /* bench-step --plan-memory runs here (its route's `unless`); every other line goes to tetri-gpu */
    {"bench-step", cmd_bench_step_plan, NULL},
#endif
};
#define N_SUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: tetri <command> [options]   (tetri <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        if (subcommands[i].summary) fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\nGPU commands (run by tetri-gpu, so that the others start without loading CUDA):\n");
    for (size_t i = 0; i < tetri_gpu_routes_len; i++)
        if (tetri_gpu_routes[i].summary) fprintf(f, "  %-10s %s\n", tetri_gpu_routes[i].command, tetri_gpu_routes[i].summary);
#ifndef TETRI_HAVE_GPU_PROGRAM
    fprintf(f, "  (not in this build: configure: %s; README, \"Building for the GPU\")\n", TETRI_GPU_ABSENT_WHY);
#endif
    fprintf(f, "\ntetri %s\n", PACKAGE_VERSION);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("tetri %s\n", PACKAGE_VERSION);
        return 0;
    }
    const subcommand *cmd = NULL;
    for (size_t i = 0; i < N_SUBCOMMANDS && !cmd; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0) cmd = &subcommands[i];
#ifndef TETRI_HAVE_CUDA
    /* A GPU command line goes to tetri-gpu. In a build without one, a command tetri has checks
     * its options itself and then says it has no GPU (serve --backend gpu, bench-step); one it
     * lacks says so here. */
    const int has_gpu_program = tetri_gpu_program_built();
    if (tetri_gpu_route_match(tetri_gpu_routes, tetri_gpu_routes_len, argc, argv) >= 0 && (has_gpu_program || !cmd)) {
        tetri_error err = {{0}};
        tetri_gpu_exec(argv, &err); /* returns only when it could not */
        fprintf(stderr, "tetri %s: it runs on the GPU, but %s\n", argv[1], err.msg);
        return 1;
    }
#endif
    if (cmd) return cmd->run(argc - 1, argv + 1);
    fprintf(stderr, "tetri: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
