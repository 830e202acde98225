/* plots/sim_vs_real.c: the figure sim_vs_real, the simulator against live runs (tetri validate's):
 * for each group of runs (every dimension but policy and backend) in which a policy ran on the
 * simulator and on a live backend (emulated or exec), the latency CDF of each side, and every live
 * block's actual duration against the profile's prediction.
 *
 * CSV rows: panel,line_id,side,x,y,line
 *   panel 1: x = latency (s) of a finished request, y = fraction of the line's requests finished by
 *            then (dropped ones count in the total, so a curve ends below 1 by the dropped fraction);
 *            side 0 = the simulator, 1 = live;
 *   panel 2: x = predicted, y = actual duration (s) of a live block that did not fail; side 1.
 * A line is a policy with one live backend; its simulated side pools the simulator runs of the seeds
 * the live side has, so both sides hold the same traces. */
#include "plots/plot_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/stats.h"
#include "results/validate.h"

static int is_sim(const results_run *r) { return strcmp(r->backend, "sim") == 0; }

/* Whether some run of idx[from..to) has r's seed. */
static int seed_among(const results_run *runs, const size_t *idx, size_t from, size_t to, const results_run *r)
{
    for (size_t k = from; k < to; k++)
        if (runs[idx[k]].seed == r->seed) return 1;
    return 0;
}

typedef struct latencies {
    double *finished;       /* seconds, sorted */
    size_t n_finished, n_total, cap;
} latencies;

/* Adds run r's requests: finished ones by latency, every one to the total. */
static int add_run_latencies(plot_ctx *c, const results_run *r, latencies *l)
{
    tetri_request_result *req;
    size_t n;
    if (results_load_requests(c->db, r->id, &req, &n, c->err)) return -1;
    if (l->n_finished + n > l->cap) {
        size_t cap = 2 * (l->n_finished + n);
        double *grown = realloc(l->finished, cap * sizeof *grown);
        if (!grown) {
            free(req);
            return tetri_errorf(c->err, "out of memory");
        }
        l->finished = grown;
        l->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        if (req[i].outcome != TETRI_DROPPED && req[i].finish >= 0)
            l->finished[l->n_finished++] = (double)(req[i].finish - req[i].arrival) / 1e9;
    l->n_total += n;
    free(req);
    return 0;
}

/* The CDF of the runs idx[from..to) (those with a seed among idx[seeds_from..seeds_to)), as panel 1
 * rows of line `line`, side `side`. Returns the rows written, or -1 with c->err. */
static long write_cdf(plot_ctx *c, FILE *out, const size_t *idx, size_t from, size_t to, size_t seeds_from,
                      size_t seeds_to, int line, int side, const char *label)
{
    latencies l = {0};
    for (size_t k = from; k < to; k++) {
        const results_run *r = &c->runs[idx[k]];
        if (!seed_among(c->runs, idx, seeds_from, seeds_to, r)) continue;
        if (add_run_latencies(c, r, &l)) {
            free(l.finished);
            return -1;
        }
    }
    if (l.n_finished > 1) qsort(l.finished, l.n_finished, sizeof *l.finished, stats_compare_double);
    for (size_t i = 0; i < l.n_finished; i++) {
        fprintf(out, "1,%d,%d,%.6f,%.6f,", line, side, l.finished[i], (double)(i + 1) / (double)l.n_total);
        plot_csv_last_field(out, label);
    }
    free(l.finished);
    return (long)l.n_finished;
}

/* Panel 2 rows of line `line`: the blocks of the live runs idx[from..to) that did not fail and had
 * a positive predicted and actual duration (log axes). Returns the rows written, or -1. */
static long write_blocks(plot_ctx *c, FILE *out, const size_t *idx, size_t from, size_t to, int line, const char *label)
{
    long rows = 0;
    for (size_t k = from; k < to; k++) {
        tetri_block_result *b;
        size_t n;
        if (results_load_blocks(c->db, c->runs[idx[k]].id, &b, &n, c->err)) return -1;
        for (size_t i = 0; i < n; i++) {
            tetri_ns pred = b[i].pred_end - b[i].pred_start, actual = b[i].end - b[i].start;
            if (b[i].failed || pred <= 0 || actual <= 0) continue;
            fprintf(out, "2,%d,1,%.6f,%.6f,", line, (double)pred / 1e9, (double)actual / 1e9);
            plot_csv_last_field(out, label);
            rows++;
        }
        free(b);
    }
    return rows;
}

/* How many live backends the group idx[start..end) holds (they name the lines when more than one). */
static int live_backends(const results_run *runs, const size_t *idx, size_t start, size_t end)
{
    const char *seen[8];
    int n = 0;
    for (size_t k = start; k < end; k++) {
        const results_run *r = &runs[idx[k]];
        int known = is_sim(r);
        for (int j = 0; j < n && !known; j++) known = strcmp(seen[j], r->backend) == 0;
        if (!known && n < 8) seen[n++] = r->backend;
    }
    return n;
}

typedef struct figure_rows {
    long cdf, blocks;
} figure_rows;

/* The lines of one policy, idx[p..p_end) sorted by backend: one per live backend that has a
 * simulated side. Opens the figure's CSV on the first. Returns 0 or -1. */
static int write_policy_lines(plot_ctx *c, const size_t *idx, size_t start, size_t end, size_t p, size_t p_end,
                              unsigned group, int name_backends, plot_figure *f, FILE **out, figure_rows *rows)
{
    const results_run *runs = c->runs;
    size_t sim_from = p_end, sim_to = p_end;
    for (size_t k = p; k < p_end; k++)
        if (is_sim(&runs[idx[k]])) {
            if (sim_from == p_end) sim_from = k;
            sim_to = k + 1;
        }
    if (sim_from == p_end) return 0;
    for (size_t q = p, q_end; q < p_end; q = q_end) {
        for (q_end = q + 1; q_end < p_end && strcmp(runs[idx[q]].backend, runs[idx[q_end]].backend) == 0;) q_end++;
        if (is_sim(&runs[idx[q]])) continue;
        if (!*out && !(*out = plot_figure_begin(c, f, "sim_vs_real", &runs[idx[start]], group, NULL,
                                                "panel,line_id,side,x,y,line")))
            return -1;
        char label[300];
        report_policy_label(&runs[idx[q]], runs, idx + start, end - start, label, sizeof label);
        if (name_backends) snprintf(label + strlen(label), sizeof label - strlen(label), " / %s", runs[idx[q]].backend);
        plot_figure_add_line(f, label);
        long sim = write_cdf(c, *out, idx, sim_from, sim_to, q, q_end, f->n_policies, 0, label);
        long live = sim < 0 ? -1 : write_cdf(c, *out, idx, q, q_end, q, q_end, f->n_policies, 1, label);
        long blocks = live < 0 ? -1 : write_blocks(c, *out, idx, q, q_end, f->n_policies, label);
        if (blocks < 0) return -1;
        rows->cdf += sim + live;
        rows->blocks += blocks;
    }
    return 0;
}

/* The figure of one group, idx[start..end) sorted by policy then backend, when a policy in it ran
 * on both. Returns 0 or -1. */
static int figure_of_group(plot_ctx *c, const size_t *idx, size_t start, size_t end, unsigned group)
{
    const results_run *runs = c->runs;
    int name_backends = live_backends(runs, idx, start, end) > 1;
    plot_figure f;
    FILE *out = NULL;
    figure_rows rows = {0, 0};
    for (size_t p = start, p_end; p < end; p = p_end) {
        p_end = plot_same_dim_end(runs, idx, p, end, REPORT_DIM_POLICY);
        if (write_policy_lines(c, idx, start, end, p, p_end, group, name_backends, &f, &out, &rows)) {
            if (out) fclose(out);
            return -1;
        }
    }
    if (!out) return 0;
    if (rows.cdf == 0) { /* every request dropped on both sides: no curve to draw */
        fclose(out);
        char path[1024];
        snprintf(path, sizeof path, "%s/%s.csv", c->opt->out_dir, f.base);
        unlink(path);
        return 0;
    }
    /* A replayed trace has no mix, rate or scale of its own to name it by: its name instead. */
    const results_run *r = &runs[idx[start]];
    if (strcmp(r->mix, "trace") == 0) {
        char workload[200];
        validate_describe_workload(r, workload, sizeof workload);
        snprintf(f.title, sizeof f.title, "%s, %s on %s", workload, r->model, r->hardware);
    }
    snprintf(f.title + strlen(f.title), sizeof f.title - strlen(f.title), ": simulated vs live");
    snprintf(f.extra, sizeof f.extra, "nblk=%ld", rows.blocks);
    return plot_figure_end(c, &f, out);
}

int plot_figures_sim_vs_real(plot_ctx *c, size_t *idx)
{
    if (!plot_kind_wanted(c, "sim_vs_real")) return 0;
    unsigned group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY) & ~DIM_BIT(REPORT_DIM_BACKEND);
    plot_sort_runs(c->runs, idx, c->n_runs, group, REPORT_DIM_BACKEND);
    for (size_t start = 0, end; start < c->n_runs; start = end) {
        for (end = start + 1; end < c->n_runs && plot_same_group(&c->runs[idx[start]], &c->runs[idx[end]], group);) end++;
        if (c->opt->only_scale > 0 && fabs(c->runs[idx[start]].slo_scale - c->opt->only_scale) > 1e-9) continue;
        if (figure_of_group(c, idx, start, end, group)) return -1;
    }
    return 0;
}
