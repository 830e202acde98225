/* plots/ablation.h: the figure `ablation` of tetri plot: variants of one policy as grouped bars.
 * defines: plot_figures_ablation. */
#ifndef TETRI_PLOTS_ABLATION_H
#define TETRI_PLOTS_ABLATION_H

#include <stddef.h>

#include "plots/plot.h"

/* Writes OUT_DIR/ablation-*.csv for every group of runs (experiment, model, hardware, backend,
 * mix, rate) whose runs are two to eight variants of one policy not differing in g, and adds the
 * figures to set. Not reentrant. Returns 0 or -1 with err. */
int plot_figures_ablation(const results_run *runs, size_t n, const char *out_dir, plot_set *set, tetri_error *err);

#endif
