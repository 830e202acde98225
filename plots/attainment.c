/* plots/attainment.c: the figures of SLO attainment against a run parameter: the SLO scale
 * (attainment_vs_scale, and its panels per rate), the rate (attainment_vs_rate), the round
 * granularity g of a policy option (attainment_vs_round), and simulator against live backend
 * (attainment_sim_vs_real); seeds pooled into a mean and a confidence interval (plots/ci.h).
 * defines: plot_figures_vs, plot_figures_vs_scale_panels, plot_figures_attainment_sim_vs_real,
 *          plot_figures_vs_round (plot_internal.h). */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plots/ci.h"
#include "plots/plot_internal.h"
#include "results/report.h"

/* ---- attainment against a run parameter (scale, rate) and sim vs real -------------------------- */

/* Attainment of the runs idx[from..to) (seeds of one policy at one x): mean, min, max. */
static void attainment_stats(const results_run *runs, const size_t *idx, size_t from, size_t to, double *mean,
                             double *min, double *max)
{
    double sum = 0;
    *min = INFINITY;
    *max = -INFINITY;
    for (size_t k = from; k < to; k++) {
        double a = runs[idx[k]].attainment;
        sum += a;
        *min = fmin(*min, a);
        *max = fmax(*max, a);
    }
    *mean = sum / (double)(to - from);
}

/* Attainment of the runs idx[from..to) (seeds of one policy at one x): mean and its 95% confidence
 * interval (plots/ci.h). */
static void attainment_ci(const results_run *runs, const size_t *idx, size_t from, size_t to, double *mean, double *lo,
                          double *hi)
{
    double *a = malloc((to - from) * sizeof *a);
    if (!a) { /* no memory for the interval: the mean alone, as one seed would give */
        *mean = *lo = *hi = runs[idx[from]].attainment;
        return;
    }
    for (size_t k = from; k < to; k++) a[k - from] = runs[idx[k]].attainment;
    plot_ci95(a, to - from, mean, lo, hi);
    free(a);
}

/* One figure per group (every dimension but policy, x and seed) with two x values or more:
 * attainment vs x, a line per policy. */
int plot_figures_vs(plot_ctx *c, size_t *idx, const char *kind, report_dim x)
{
    if (!plot_kind_wanted(c, kind)) return 0;
    unsigned group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY) & ~DIM_BIT(x);
    plot_sort_runs(c->runs, idx, c->n_runs, group, x);
    const results_run *runs = c->runs;
    for (size_t start = 0, end; start < c->n_runs; start = end) {
        for (end = start + 1; end < c->n_runs && plot_same_group(&runs[idx[start]], &runs[idx[end]], group);) end++;
        /* The x range of the group; one x value is a point, not a curve: no figure. */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t k = start; k < end; k++) {
            double v = x == REPORT_DIM_SCALE ? runs[idx[k]].slo_scale : runs[idx[k]].rate_per_min;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
        if (!(hi > lo)) continue;
        double pad = hi > lo ? 0.05 * (hi - lo) : 0.05 * fabs(lo) + 0.05;
        plot_figure f;
        const char *xname = x == REPORT_DIM_SCALE ? "slo_scale" : "rate_per_min";
        char header[160];
        snprintf(header, sizeof header, "policy_id,%s,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,policy", xname);
        FILE *out = plot_figure_begin(c, &f, kind, &runs[idx[start]], group, NULL, header);
        if (!out) return -1;
        for (size_t p = start, p_end; p < end; p = p_end) {
            p_end = plot_same_dim_end(runs, idx, p, end, REPORT_DIM_POLICY);
            char label[256];
            plot_figure_add_policy(&f, &runs[idx[p]], runs, idx + start, end - start, label, sizeof label);
            for (size_t q = p, q_end; q < p_end; q = q_end) {
                q_end = plot_same_dim_end(runs, idx, q, p_end, x);
                double mean, ci_lo, ci_hi;
                attainment_ci(runs, idx, q, q_end, &mean, &ci_lo, &ci_hi);
                fprintf(out, "%d,%g,%.6f,%.6f,%.6f,%zu,", f.n_policies,
                        x == REPORT_DIM_SCALE ? runs[idx[q]].slo_scale : runs[idx[q]].rate_per_min, mean, ci_lo, ci_hi, q_end - q);
                plot_csv_last_field(out, label);
            }
        }
        snprintf(f.extra, sizeof f.extra, "xname='%s'; xlo=%.6g; xhi=%.6g", xname, lo - pad, hi + pad);
        if (plot_figure_end(c, &f, out)) return -1;
    }
    return 0;
}

/* The paper's layout: per group (every dimension but mix, policy, scale and seed) with two mixes or
 * more and two scales or more, one panel per mix, attainment vs SLO scale, a line per policy with
 * the same id (colour, point) in every panel. */
int plot_figures_vs_scale_panels(plot_ctx *c, size_t *idx)
{
    if (!plot_kind_wanted(c, "attainment_vs_scale_panels")) return 0;
    unsigned group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY) & ~DIM_BIT(REPORT_DIM_SCALE) & ~DIM_BIT(REPORT_DIM_MIX);
    const results_run *runs = c->runs;
    report_dim order[REPORT_DIM_COUNT];
    int n_order = 0;
    for (int d = 0; d < REPORT_DIM_COUNT; d++)
        if (group & DIM_BIT(d)) order[n_order++] = (report_dim)d;
    order[n_order++] = REPORT_DIM_MIX;
    order[n_order++] = REPORT_DIM_POLICY;
    order[n_order++] = REPORT_DIM_SCALE;
    plot_sort_runs_by(runs, idx, c->n_runs, order, n_order);
    size_t *policies = malloc((c->n_runs ? c->n_runs : 1) * sizeof *policies); /* a run of each policy */
    if (!policies) return tetri_errorf(c->err, "out of memory");
    int rc = 0;
    for (size_t start = 0, end; start < c->n_runs && rc == 0; start = end) {
        for (end = start + 1; end < c->n_runs && plot_same_group(&runs[idx[start]], &runs[idx[end]], group);) end++;
        int n_mix = 1;
        double lo = runs[idx[start]].slo_scale, hi = lo;
        for (size_t k = start + 1; k < end; k++) {
            n_mix += report_dim_compare(&runs[idx[k - 1]], &runs[idx[k]], REPORT_DIM_MIX) != 0;
            lo = fmin(lo, runs[idx[k]].slo_scale);
            hi = fmax(hi, runs[idx[k]].slo_scale);
        }
        if (n_mix < 2 || !(hi > lo)) continue;
        /* Policy ids over the whole group, in policy order, so a policy looks the same in every panel. */
        size_t n_pol = 0;
        for (size_t k = start; k < end; k++) {
            size_t j = 0;
            while (j < n_pol && report_dim_compare(&runs[policies[j]], &runs[idx[k]], REPORT_DIM_POLICY) != 0) j++;
            if (j < n_pol) continue;
            size_t at = n_pol++;
            while (at > 0 && report_dim_compare(&runs[policies[at - 1]], &runs[idx[k]], REPORT_DIM_POLICY) > 0) {
                policies[at] = policies[at - 1];
                at--;
            }
            policies[at] = idx[k];
        }
        plot_figure f;
        FILE *out = plot_figure_begin(c, &f, "attainment_vs_scale_panels", &runs[idx[start]], group, NULL,
                                 "mix_id,policy_id,slo_scale,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,mix,policy");
        if (!out) {
            rc = -1;
            break;
        }
        char label[256], mixes[256] = "";
        for (size_t j = 0; j < n_pol; j++) {
            plot_figure_add_policy(&f, &runs[policies[j]], runs, idx + start, end - start, label, sizeof label);
        }
        int mix_id = 0;
        for (size_t q = start, q_end; q < end; q = q_end) {
            /* One (mix, policy, scale) point: its seeds. */
            for (q_end = q + 1; q_end < end && report_dim_compare(&runs[idx[q]], &runs[idx[q_end]], REPORT_DIM_MIX) == 0 &&
                                report_dim_compare(&runs[idx[q]], &runs[idx[q_end]], REPORT_DIM_POLICY) == 0 &&
                                report_dim_compare(&runs[idx[q]], &runs[idx[q_end]], REPORT_DIM_SCALE) == 0;)
                q_end++;
            const results_run *r = &runs[idx[q]];
            if (q == start || report_dim_compare(&runs[idx[q - 1]], r, REPORT_DIM_MIX) != 0) {
                mix_id++;
                plot_append_text(mixes, sizeof mixes, "%s%s", mix_id > 1 ? "|" : "", r->mix);
            }
            size_t j = 0;
            while (report_dim_compare(&runs[policies[j]], r, REPORT_DIM_POLICY) != 0) j++;
            double mean, ci_lo, ci_hi;
            attainment_ci(runs, idx, q, q_end, &mean, &ci_lo, &ci_hi);
            fprintf(out, "%d,%zu,%g,%.6f,%.6f,%.6f,%zu,", mix_id, j + 1, r->slo_scale, mean, ci_lo, ci_hi, q_end - q);
            report_csv_field(out, r->mix);
            fputc(',', out);
            report_policy_label(r, runs, idx + start, end - start, label, sizeof label);
            plot_csv_last_field(out, label);
        }
        double pad = 0.05 * (hi - lo);
        const int need = snprintf(f.extra, sizeof f.extra, "mixes='%s'; nmix=%d; xlo=%.6g; xhi=%.6g", mixes, n_mix, lo - pad,
                                  hi + pad);
        rc = plot_figure_end(c, &f, out); /* closes out */
        if (!rc && need >= (int)sizeof f.extra)
            rc = tetri_errorf(c->err, "figure %s: the mixes' names (%s) do not fit its script's settings", f.base, mixes);
    }
    free(policies);
    return rc;
}

/* Groups holding both backends: attainment vs SLO scale, sim dashed and exec solid, per policy
 * (the figure attainment_sim_vs_real; sim_vs_real, latency and blocks, is in sim_vs_real.c). */
int plot_figures_attainment_sim_vs_real(plot_ctx *c, size_t *idx)
{
    if (!plot_kind_wanted(c, "attainment_sim_vs_real")) return 0;
    unsigned group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY) & ~DIM_BIT(REPORT_DIM_SCALE) & ~DIM_BIT(REPORT_DIM_BACKEND);
    const results_run *runs = c->runs;
    plot_sort_runs(runs, idx, c->n_runs, group, REPORT_DIM_BACKEND);
    for (size_t start = 0, end; start < c->n_runs; start = end) {
        for (end = start + 1; end < c->n_runs && plot_same_group(&runs[idx[start]], &runs[idx[end]], group);) end++;
        int has_sim = 0, has_exec = 0;
        for (size_t k = start; k < end; k++) {
            has_exec |= strcmp(runs[idx[k]].backend, "exec") == 0;
            has_sim |= strcmp(runs[idx[k]].backend, "sim") == 0;
        }
        if (!has_sim || !has_exec) continue; /* (and at least one policy with both: checked below) */
        /* Within the group: policy, backend, then scale. */
        static const report_dim within[] = {REPORT_DIM_POLICY, REPORT_DIM_BACKEND, REPORT_DIM_SCALE};
        plot_sort_runs_by(runs, idx + start, end - start, within, 3);
        plot_figure f;
        FILE *out = plot_figure_begin(c, &f, "attainment_sim_vs_real", &runs[idx[start]], group, NULL,
                                 "policy_id,backend_id,slo_scale,attainment_mean,attainment_min,attainment_max,seeds,backend,policy");
        if (!out) return -1;
        for (size_t p = start, p_end; p < end; p = p_end) {
            p_end = plot_same_dim_end(runs, idx, p, end, REPORT_DIM_POLICY);
            /* Only policies that ran on both: a sim line with no real one to compare is noise here. */
            /* Backends sort "exec" < "sim": a policy with both starts with exec and ends with sim. */
            if (strcmp(runs[idx[p]].backend, "exec") != 0 || strcmp(runs[idx[p_end - 1]].backend, "sim") != 0) continue;
            char label[256];
            plot_figure_add_policy(&f, &runs[idx[p]], runs, idx + start, end - start, label, sizeof label);
            for (size_t q = p, q_end; q < p_end; q = q_end) {
                for (q_end = q + 1; q_end < p_end && report_dim_compare(&runs[idx[q]], &runs[idx[q_end]], REPORT_DIM_BACKEND) == 0 &&
                                    report_dim_compare(&runs[idx[q]], &runs[idx[q_end]], REPORT_DIM_SCALE) == 0;)
                    q_end++;
                double mean, min, max;
                attainment_stats(runs, idx, q, q_end, &mean, &min, &max);
                const results_run *r = &runs[idx[q]];
                fprintf(out, "%d,%d,%g,%.6f,%.6f,%.6f,%zu,%s,", f.n_policies, strcmp(r->backend, "exec") == 0, r->slo_scale,
                        mean, min, max, q_end - q, r->backend);
                plot_csv_last_field(out, label);
            }
        }
        if (f.n_policies == 0) { /* no policy ran on both backends */
            fclose(out);
            char path[1024];
            snprintf(path, sizeof path, "%s/%s.csv", c->opt->out_dir, f.base);
            unlink(path);
            continue;
        }
        if (plot_figure_end(c, &f, out)) return -1;
    }
    return 0;
}

/* ---- round granularity: attainment vs the policy option g ------------------------------------- */

/* The value of option g in a canonical policy text ("tetriserve:g=5,elastic=on"): 1 and *g when it
 * has one; `variant` gets the text without it ("tetriserve:elastic=on"). */
static int policy_round_g(const char *policy, long *g, char *variant, size_t len)
{
    const char *colon = strchr(policy, ':');
    if (!colon) return 0;
    for (const char *item = colon + 1; *item;) {
        size_t w = strcspn(item, ",");
        if (strncmp(item, "g=", 2) == 0) {
            char *end;
            long v = strtol(item + 2, &end, 10);
            if (end != item + w) return 0;
            *g = v;
            /* The text before the item, then after it, without a doubled or dangling comma. */
            size_t head = (size_t)(item - policy), tail_at = (size_t)(item - policy) + w;
            if (policy[tail_at] == ',') tail_at++;
            else if (head > 0 && policy[head - 1] == ',') head--;
            snprintf(variant, len, "%.*s%s", (int)head, policy, policy + tail_at);
            size_t vl = strlen(variant);
            if (vl && variant[vl - 1] == ':') variant[vl - 1] = 0;
            return 1;
        }
        item += w;
        if (*item == ',') item++;
    }
    return 0;
}

typedef struct round_row {
    size_t run;                 /* index in runs */
    long g;
    char variant[256];
} round_row;

/* Attainment of the runs of rows[from..to) (the seeds at one g): mean and 95% interval (plots/ci.h). */
static void round_ci(const results_run *runs, const round_row *rows, size_t from, size_t to, double *mean, double *lo,
                     double *hi)
{
    double *a = malloc((to - from) * sizeof *a);
    if (!a) { /* no memory for the interval: the mean alone, as one seed would give */
        *mean = *lo = *hi = runs[rows[from].run].attainment;
        return;
    }
    for (size_t k = from; k < to; k++) a[k - from] = runs[rows[k].run].attainment;
    plot_ci95(a, to - from, mean, lo, hi);
    free(a);
}

static const results_run *round_runs;
static unsigned round_group;

/* Group dims, then variant, then scale (the line), then g (the x), then seed. */
static int compare_round_row(const void *pa, const void *pb)
{
    const round_row *a = pa, *b = pb;
    const results_run *ra = &round_runs[a->run], *rb = &round_runs[b->run];
    for (int d = 0; d < REPORT_DIM_COUNT; d++) {
        if (!(round_group & DIM_BIT(d))) continue;
        int c = report_dim_compare(ra, rb, (report_dim)d);
        if (c) return c;
    }
    int c = strcmp(a->variant, b->variant);
    if (c) return c;
    if ((c = report_dim_compare(ra, rb, REPORT_DIM_SCALE))) return c;
    if (a->g != b->g) return (a->g > b->g) - (a->g < b->g);
    return (ra->seed > rb->seed) - (ra->seed < rb->seed);
}

/* One figure per (group, policy variant) whose runs differ in g: attainment vs g, a line per SLO
 * scale (the paper's round-granularity sweep). */
int plot_figures_vs_round(plot_ctx *c)
{
    if (!plot_kind_wanted(c, "attainment_vs_round")) return 0;
    const results_run *runs = c->runs;
    round_row *rows = malloc((c->n_runs ? c->n_runs : 1) * sizeof *rows);
    if (!rows) return tetri_errorf(c->err, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < c->n_runs; i++)
        if (policy_round_g(runs[i].policy, &rows[n].g, rows[n].variant, sizeof rows[n].variant)) rows[n++].run = i;
    round_runs = runs;
    round_group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY) & ~DIM_BIT(REPORT_DIM_SCALE);
    qsort(rows, n, sizeof *rows, compare_round_row);
    int rc = 0;
    for (size_t start = 0, end; start < n && rc == 0; start = end) {
        for (end = start + 1; end < n && plot_same_group(&runs[rows[start].run], &runs[rows[end].run], round_group) &&
                              strcmp(rows[start].variant, rows[end].variant) == 0;)
            end++;
        int varies = 0;
        for (size_t k = start + 1; k < end; k++) varies |= rows[k].g != rows[start].g;
        if (!varies) continue;
        plot_figure f;
        /* The policy name names the figure; when several variants (other options) of it sweep g in
         * this group, each gets its ordinal in the file name and its whole text in the title. */
        int n_variants = 0, variant_ordinal = 0;
        const results_run *first = &runs[rows[start].run];
        for (size_t k = 0; k < n; k++) {
            const results_run *r = &runs[rows[k].run];
            if (!plot_same_group(first, r, round_group) || strcmp(r->policy_name, first->policy_name) != 0) continue;
            if (k > 0 && plot_same_group(&runs[rows[k - 1].run], r, round_group) && strcmp(rows[k - 1].variant, rows[k].variant) == 0)
                continue; /* rows are sorted: a variant's rows are consecutive, count its first */
            n_variants++;
            if (k <= start) variant_ordinal++;
        }
        char slug[256];
        snprintf(slug, sizeof slug, "%s", runs[rows[start].run].policy_name);
        if (n_variants > 1) plot_append_text(slug, sizeof slug, "-v%d", variant_ordinal);
        FILE *out = plot_figure_begin(c, &f, "attainment_vs_round", &runs[rows[start].run], round_group, slug,
                                 "line_id,g,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,slo_scale,policy");
        if (!out) {
            rc = -1;
            break;
        }
        plot_append_text(f.title, sizeof f.title, "; %s", n_variants > 1 ? rows[start].variant : runs[rows[start].run].policy_name);
        for (size_t p = start, p_end; p < end; p = p_end) {
            for (p_end = p + 1; p_end < end && report_dim_compare(&runs[rows[p].run], &runs[rows[p_end].run], REPORT_DIM_SCALE) == 0;)
                p_end++;
            char label[64], scale[32];
            report_dim_value(&runs[rows[p].run], REPORT_DIM_SCALE, runs, NULL, c->n_runs, scale, sizeof scale);
            snprintf(label, sizeof label, "SLO scale %s", scale);
            plot_figure_add_line(&f, label);
            for (size_t q = p, q_end; q < p_end; q = q_end) {
                for (q_end = q; q_end < p_end && rows[q_end].g == rows[q].g;) q_end++;
                double mean, lo, hi;
                round_ci(runs, rows, q, q_end, &mean, &lo, &hi);
                fprintf(out, "%d,%ld,%.6f,%.6f,%.6f,%zu,%s,", f.n_policies, rows[q].g, mean, lo, hi, q_end - q, scale);
                plot_csv_last_field(out, rows[q].variant);
            }
        }
        rc = plot_figure_end(c, &f, out);
    }
    free(rows);
    return rc;
}

