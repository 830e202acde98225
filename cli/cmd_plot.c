/* cli/cmd_plot.c: `tetri plot`: CSV and gnuplot figures (PNG, SVG) from a results database. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "plots/plot.h"
#include "results/results.h"

static void plot_usage(FILE *f)
{
    fprintf(f,
            "usage: tetri plot --db FILE --out DIR [--experiment NAME] [--figures LIST] [--scale S]\n"
            "\n"
            "Writes one CSV per figure into DIR, a copy of the gnuplot scripts (DIR/scripts) and DIR/plot.sh,\n"
            "then runs gnuplot to draw each figure as DIR/<figure>.png and .svg, and prints the paths.\n"
            "Figures (made when the data allows):\n"
            "  attainment_vs_scale        SLO attainment vs SLO scale, per mix (and model, hardware, rate, backend)\n"
            "  attainment_vs_scale_panels the same, one panel per mix side by side (the paper's layout)\n"
            "  attainment_vs_rate         SLO attainment vs arrival rate (when runs differ in rate)\n"
            "  attainment_per_resolution  SLO attainment per resolution, per SLO scale\n"
            "  latency_cdf                CDF of latency, per SLO scale\n"
            "  attainment_over_time       SLO attainment of the requests arriving in each time bin\n"
            "  degree_over_time           mean SP degree of running requests (runs with a timeline)\n"
            "  attainment_sim_vs_real     simulated vs real attainment (when runs with backend exec exist)\n"
            "  sim_vs_real                simulated vs live latency CDFs, and live block durations against the\n"
            "                             prediction (when a policy ran on the simulator and a live backend:\n"
            "                             tetri validate)\n"
            "  attainment_vs_round        SLO attainment vs a policy's round granularity g, a line per SLO\n"
            "                             scale (when runs of one policy differ in option g)\n"
            "  ablation                   variants of one policy (options switched on one by one) as grouped\n"
            "                             bars per SLO scale (when a group's runs are 2-8 variants of one policy)\n"
            "Error bars are 95%% confidence intervals of the mean over seeds (Student's t), but\n"
            "attainment_sim_vs_real's (min..max).\n"
            "\n"
            "  --db FILE          results database\n"
            "  --out DIR          output folder (created if missing)\n"
            "  --experiment NAME  only this experiment (default: every experiment)\n"
            "  --figures LIST     comma list of the figures above (default: all)\n"
            "  --scale S          per-scale figures only at SLO scale S\n"
            "\n"
            "gnuplot: $TETRI_GNUPLOT, else %s (found by configure). Scripts: $TETRI_PLOTS_DIR, else the\n"
            "source tree's plots/, else the installed copy. Without gnuplot, the CSV files and scripts are\n"
            "still written, a warning says that no image was made, and the exit status is 0 (run\n"
            "DIR/plot.sh where gnuplot is installed).\n",
            TETRI_GNUPLOT);
}

static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] == '-')) {
        fprintf(stderr, "tetri plot: option %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cmd_plot(int argc, char **argv)
{
    const char *db_path = NULL, *experiment = NULL;
    plot_options opt = {NULL, NULL, 0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            plot_usage(stdout);
            return 0;
        } else if (strcmp(a, "--db") == 0) {
            if (!(db_path = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--experiment") == 0) {
            if (!(experiment = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--out") == 0) {
            if (!(opt.out_dir = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--figures") == 0) {
            if (!(opt.kinds = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--scale") == 0) {
            const char *v = option_value(argc, argv, &i);
            if (!v) return 2;
            char *end;
            opt.only_scale = strtod(v, &end);
            if (*end || !(opt.only_scale > 0)) {
                fprintf(stderr, "tetri plot: --scale '%s' is not a positive number\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "tetri plot: unknown argument '%s'\n\n", a);
            plot_usage(stderr);
            return 2;
        }
    }
    if (!db_path || !opt.out_dir) {
        fprintf(stderr, "tetri plot: %s is required\n\n", !db_path ? "--db FILE" : "--out DIR");
        plot_usage(stderr);
        return 2;
    }
    tetri_error err = {{0}};
    char scripts[1024], gnuplot[1024];
    results_db *db = NULL;
    results_run *runs = NULL;
    size_t n_runs = 0;
    plot_set set = {NULL, 0, 0};
    int64_t experiment_id = -1;
    int rc = 1;
    if (plot_scripts_dir(scripts, sizeof scripts, &err) || results_open_readonly(db_path, &db, &err)) goto done;
    if (experiment && results_find_experiment(db, experiment, &experiment_id, &err)) goto done;
    if (results_load_runs(db, experiment_id, &runs, &n_runs, &err)) goto done;
    if (n_runs == 0) {
        tetri_errorf(&err, "%s: no runs%s%s", db_path, experiment ? " in experiment " : "", experiment ? experiment : "");
        goto done;
    }
    if (plot_prepare(db, runs, n_runs, &opt, &set, &err) || plot_write_scripts(&set, scripts, opt.out_dir, &err)) goto done;
    if (set.n == 0) {
        tetri_errorf(&err, "no figure to make: the runs have no data for %s%s", opt.kinds ? opt.kinds : "any figure",
                     opt.only_scale > 0 ? " at that --scale" : "");
        goto done;
    }
    if (!plot_gnuplot_program(gnuplot, sizeof gnuplot)) {
        fprintf(stderr,
                "tetri plot: warning: gnuplot not found ('%s'; set TETRI_GNUPLOT): NO IMAGES were made.\n"
                "tetri plot: wrote %zu CSV files, the scripts and %s/plot.sh; run that script where gnuplot 5.2+ is installed.\n",
                gnuplot, set.n, opt.out_dir);
        for (size_t i = 0; i < set.n; i++) printf("%s/%s.csv\n", opt.out_dir, set.figures[i].base);
        rc = 0;
        goto done;
    }
    int failed = 0;
    for (size_t i = 0; i < set.n; i++) {
        const plot_figure *f = &set.figures[i];
        if (plot_render(f, gnuplot, opt.out_dir, &err)) {
            fprintf(stderr, "tetri plot: %s\n", err.msg);
            failed++;
            continue;
        }
        printf("%s/%s.png %s/%s.svg %s/%s.csv\n", opt.out_dir, f->base, opt.out_dir, f->base, opt.out_dir, f->base);
    }
    if (failed) {
        tetri_errorf(&err, "%d of %zu figures failed (see above); their CSV files are in %s", failed, set.n, opt.out_dir);
        goto done;
    }
    fprintf(stderr, "tetri plot: %zu figures (PNG + SVG) in %s; redraw with %s/plot.sh\n", set.n, opt.out_dir, opt.out_dir);
    rc = 0;
done:
    if (rc) fprintf(stderr, "tetri plot: %s\n", err.msg);
    plot_set_free(&set);
    results_runs_free(runs, n_runs);
    results_close(db);
    return rc;
}
