/* cli/main.c: the `tetri` command: finds the subcommand and hands over argv. Nothing else. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand subcommands[] = {
    {"demo", cmd_demo, "the paper's FLUX.1-dev 8 x H100 scenario, simulated: table, results db, plots"},
    {"workload", cmd_workload, "generate a request trace (CSV) or check one"},
    {"sim", cmd_sim, "simulate policies over workloads into a results database"},
    {"serve", cmd_serve, "serve workloads in real time (--backend emulated) into the same results database"},
    {"validate", cmd_validate, "one trace through the simulator and a live backend, per policy: latency, attainment, KS"},
    {"report", cmd_report, "SLO attainment tables (terminal or CSV) from a results database"},
    {"plot", cmd_plot, "SLO-attainment and latency plots (PNG, SVG) from a results database"},
    {"profile", cmd_profile, "show, check or generate (--analytic) latency profiles"},
    {"policies", cmd_policies, "list every scheduling policy with its options and defaults"},
#ifdef TETRI_HAVE_CUDA
    {"bench-step", cmd_bench_step, "time real DiT denoising steps on this GPU"},
#endif
};
#define N_SUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: tetri <command> [options]   (tetri <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < N_SUBCOMMANDS; i++) fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
#ifndef TETRI_HAVE_CUDA
    fprintf(f, "\n(built without CUDA: the GPU commands are absent; see ./configure --with-cuda)\n");
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
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0) return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "tetri: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
