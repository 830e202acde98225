/* plots/plot.h: the figures of `tetri plot`: CSV data written from a results database, and gnuplot
 * run over the scripts in plots/ to draw each as PNG and SVG.
 * defines: PLOT_KINDS, plot_figure, plot_set, plot_options, plot_prepare, plot_set_free,
 *          plot_write_scripts, plot_render, plot_scripts_dir, plot_gnuplot_program, plot_make_dir.
 *
 * Every figure is one CSV file (plain, with a header) plus one gnuplot call; the calls are also
 * written to OUT/plot.sh next to a copy of the scripts, so the images can be redrawn (or restyled)
 * without tetri. */
#ifndef TETRI_PLOTS_PLOT_H
#define TETRI_PLOTS_PLOT_H

#include <stddef.h>

#include "results/results.h"

/* Figure kinds, each drawn by plots/<name>.gp. */
#define PLOT_KINDS "attainment_vs_scale,attainment_vs_scale_panels,attainment_vs_rate,attainment_per_resolution,latency_cdf,"      \
                   "attainment_over_time,degree_over_time,attainment_sim_vs_real,sim_vs_real,attainment_vs_round,ablation"

typedef struct plot_figure {
    char kind[40];          /* "latency_cdf", ... = the script's name without .gp */
    char base[200];         /* output name without extension: OUT/<base>.csv, .png, .svg */
    char title[256];        /* what the figure shows: group and scale */
    char policies[1024];    /* the line titles, '|'-separated, in policy_id order */
    int n_policies;
    char extra[256];        /* more gnuplot assignments for the script ("pi=12; ...") */
} plot_figure;

typedef struct plot_set {
    plot_figure *figures;
    size_t n, cap;
} plot_set;

typedef struct plot_options {
    const char *out_dir;
    const char *kinds;      /* comma list of figure kinds to make; NULL: all */
    double only_scale;      /* > 0: per-scale figures only at this SLO scale */
} plot_options;

/* Writes the CSV of every figure the runs allow into opt->out_dir (created if missing) and lists them
 * in *set. Figures whose data is absent (no exec runs: no attainment_sim_vs_real; no policy on the
 * simulator and a live backend: no sim_vs_real; one rate: no
 * attainment_vs_rate; one SLO scale: no attainment_vs_scale; no timeline: no degree_over_time; no
 * policy option g that varies: no attainment_vs_round) are skipped. Not reentrant (qsort context).
 * Returns 0 or -1 with err (unknown kind in opt->kinds, I/O). */
int plot_prepare(results_db *db, const results_run *runs, size_t n, const plot_options *opt, plot_set *set,
                 tetri_error *err);
void plot_set_free(plot_set *set);

/* Copies the scripts into OUT/scripts/ and writes OUT/plot.sh (the gnuplot calls, run from OUT).
 * Returns 0 or -1 with err. */
int plot_write_scripts(const plot_set *set, const char *scripts_dir, const char *out_dir, tetri_error *err);

/* Runs gnuplot (from OUT) for one figure; checks that OUT/<base>.png and .svg exist and are not
 * empty. Returns 0 or -1 with err (gnuplot failed or made no image). */
int plot_render(const plot_figure *f, const char *gnuplot, const char *out_dir, tetri_error *err);

/* The folder of the .gp scripts: $TETRI_PLOTS_DIR, else the source tree's plots/ (when it has
 * them), else the installed $(pkgdatadir)/plots. Returns 0 or -1 with err naming where it looked. */
int plot_scripts_dir(char *buf, size_t len, tetri_error *err);

/* The gnuplot program: $TETRI_GNUPLOT, else what configure found. Returns 1 and fills buf when it is
 * an executable (found on PATH when it has no '/'), 0 when there is none. */
int plot_gnuplot_program(char *buf, size_t len);

/* Makes directory `path` and its missing parents, as mkdir -p (an existing directory is fine): the
 * figures' folder, and tetri demo's. Errors name `path` and the level that failed (a file in the
 * way, no permission). Returns 0 or -1 with err. */
int plot_make_dir(const char *path, tetri_error *err);

#endif
