/* plots/plot_internal.h: what plots/plot.c lends to the families of figures in files of their own
 * (grouping runs; starting, labelling and ending a figure's CSV), and what each
 * family gives plot_prepare.
 * defines: DIM_BIT, ALL_DIMS, plot_ctx, plot_sort_runs, plot_sort_runs_by, plot_append_text, plot_same_dim_end, plot_same_group, plot_kind_wanted,
 *          plot_figure_begin, plot_figure_add_line, plot_figure_add_policy, plot_figure_end, plot_csv_last_field,
 *          plot_figures_vs, plot_figures_vs_scale_panels, plot_figures_attainment_sim_vs_real,
 *          plot_figures_vs_round, plot_figures_per_request, plot_figures_sim_vs_real.
 * Not part of plot.h's contract: only plots/ includes it. */
#ifndef TETRI_PLOTS_PLOT_INTERNAL_H
#define TETRI_PLOTS_PLOT_INTERNAL_H

#include <stdio.h>

#include "plots/plot.h"
#include "results/report.h"

#define DIM_BIT(d) (1u << (d))
/* Every dimension but the load, which moves with the rate (figures group and name by the rate). */
#define ALL_DIMS (((1u << REPORT_DIM_COUNT) - 1) & ~DIM_BIT(REPORT_DIM_LOAD))

/* What every figure function gets: the runs and where its figures go. */
typedef struct plot_ctx {
    results_db *db;
    const results_run *runs;
    size_t n_runs;
    const plot_options *opt;
    plot_set *set;
    tetri_error *err;
} plot_ctx;

/* Sorts idx by the dims of `group` (enum order), then policy, then `x` (if >= 0), then seed. */
void plot_sort_runs(const results_run *runs, size_t *idx, size_t n, unsigned group, int x);
/* Sorts idx by order[0..n_order) (at most REPORT_DIM_COUNT), then seed. Not reentrant (qsort has
 * no context argument). */
void plot_sort_runs_by(const results_run *runs, size_t *idx, size_t n, const report_dim *order, int n_order);
/* Appends formatted text to the string in buf (truncating at len). */
void plot_append_text(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The end of the runs idx[from..end) that agree with idx[from] on dimension d (sorted by it):
 * the first k > from where one differs, or end. */
size_t plot_same_dim_end(const results_run *runs, const size_t *idx, size_t from, size_t end, report_dim d);
/* Whether a and b agree on every dimension of `group`. */
int plot_same_group(const results_run *a, const results_run *b, unsigned group);
/* Whether --figures asks for `kind` (every kind without --figures). */
int plot_kind_wanted(const plot_ctx *c, const char *kind);
/* Starts a figure for the group of run r: its file base (`suffix` appended when not NULL), title and
 * the CSV file (open, `header` written). Returns the file, or NULL with c->err set. */
FILE *plot_figure_begin(plot_ctx *c, plot_figure *f, const char *kind, const results_run *r, unsigned group,
                        const char *suffix, const char *header);
/* Adds line title `label` to the figure (its line id is then f->n_policies). */
void plot_figure_add_line(plot_figure *f, const char *label);
/* Adds run r's policy as a line: its label among the group's runs (report_policy_label over
 * group_idx[0..n)) into label[0..len), then plot_figure_add_line. */
void plot_figure_add_policy(plot_figure *f, const results_run *r, const results_run *runs, const size_t *group_idx, size_t n,
                            char *label, size_t len);
/* Closes the CSV and adds the figure to the set. Returns 0 or -1 with c->err. */
int plot_figure_end(plot_ctx *c, plot_figure *f, FILE *out);
/* Writes the last CSV field of a row (quoted when needed) and the newline. */
void plot_csv_last_field(FILE *out, const char *s);


/* plots/attainment.c: each returns 0 or -1 with c->err. Attainment (mean over seeds, its CI)
 * against dimension x (the SLO scale or the rate), one figure per group of the other dimensions. */
int plot_figures_vs(plot_ctx *c, size_t *idx, const char *kind, report_dim x);
/* attainment_vs_scale_panels: the scale figures of every rate, side by side. */
int plot_figures_vs_scale_panels(plot_ctx *c, size_t *idx);
/* attainment_sim_vs_real: attainment on the simulator and on the live backends, per policy. */
int plot_figures_attainment_sim_vs_real(plot_ctx *c, size_t *idx);
/* attainment_vs_round: attainment against a policy's round granularity option g. */
int plot_figures_vs_round(plot_ctx *c);

/* plots/per_request.c: latency_cdf, attainment_per_resolution, attainment_over_time and
 * degree_over_time, one set per group including the SLO scale. Returns 0 or -1 with c->err. */
int plot_figures_per_request(plot_ctx *c, size_t *idx);

/* plots/sim_vs_real.c: the figure sim_vs_real, for every group of runs holding a policy on the
 * simulator and on a live backend. Returns 0 or -1 with c->err. */
int plot_figures_sim_vs_real(plot_ctx *c, size_t *idx);

#endif
