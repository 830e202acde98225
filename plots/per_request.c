/* plots/per_request.c: the figures drawn from every request of a group of runs, one per group
 * including the SLO scale, seeds pooled: latency_cdf, attainment_per_resolution,
 * attainment_over_time and degree_over_time.
 * defines: plot_figures_per_request (plot_internal.h). */
#include "config.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plots/ci.h"
#include "plots/plot_internal.h"
#include "results/report.h"

/* ---- per-request figures: one per group including SLO scale, seeds pooled ---------------------- */

typedef struct pooled {
    tetri_request_result *req;
    size_t n, cap;
    size_t *run_end;          /* req[run_end[k - 1] .. run_end[k]) are the k-th run's (seed's) rows */
    size_t n_runs, run_cap;
} pooled;

/* Appends the request rows of runs idx[from..to) to p. */
static int pool_requests(plot_ctx *c, const size_t *idx, size_t from, size_t to, pooled *p)
{
    p->n = p->n_runs = 0;
    for (size_t k = from; k < to; k++) {
        tetri_request_result *rows;
        size_t n;
        if (results_load_requests(c->db, c->runs[idx[k]].id, &rows, &n, c->err)) return -1;
        if (p->n + n > p->cap) {
            size_t cap = (p->n + n) * 2;
            tetri_request_result *grown = realloc(p->req, cap * sizeof *grown);
            if (!grown) {
                free(rows);
                return tetri_errorf(c->err, "out of memory");
            }
            p->req = grown;
            p->cap = cap;
        }
        if (n) memcpy(p->req + p->n, rows, n * sizeof *rows);
        p->n += n;
        free(rows);
        if (p->n_runs == p->run_cap) {
            size_t cap = p->run_cap ? 2 * p->run_cap : 16;
            size_t *grown = realloc(p->run_end, cap * sizeof *grown);
            if (!grown) return tetri_errorf(c->err, "out of memory");
            p->run_end = grown;
            p->run_cap = cap;
        }
        p->run_end[p->n_runs++] = p->n;
    }
    return 0;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int compare_tokens(const void *a, const void *b)
{
    const int32_t *x = a, *y = b;
    int64_t tx = (int64_t)x[0] * x[1], ty = (int64_t)y[0] * y[1];
    if (tx != ty) return (tx > ty) - (tx < ty);
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* Latency CDF of one policy: every request of every seed; dropped ones count in n but never
 * finish, so the curve ends below 1 by the dropped fraction. Rows marked 1 carry the point markers:
 * 8 per curve at evenly spaced quantiles, staggered by policy so markers of close curves do not
 * sit on one another. Returns 0, or -1 when out of memory. */
static int write_latency_cdf(FILE *out, const pooled *p, int policy_id, const char *label)
{
    double *lat = malloc((p->n ? p->n : 1) * sizeof *lat);
    if (!lat) return -1;
    size_t n_fin = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->req[i].outcome != TETRI_DROPPED && p->req[i].finish >= 0)
            lat[n_fin++] = (double)(p->req[i].finish - p->req[i].arrival) / 1e9;
    qsort(lat, n_fin, sizeof *lat, compare_double);
    enum { MARKERS = 8 };
    int next_marker = 0;
    double stagger = 0.25 + 0.5 * (double)((policy_id - 1) % 4) / 4.0;
    for (size_t i = 0; i < n_fin; i++) {
        int marker = 0;
        while (next_marker < MARKERS && (double)(i + 1) / (double)n_fin >= (next_marker + stagger) / MARKERS) {
            marker = 1;
            next_marker++;
        }
        fprintf(out, "%d,%.6f,%.6f,%d,", policy_id, lat[i], (double)(i + 1) / (double)p->n, marker);
        plot_csv_last_field(out, label);
    }
    free(lat);
    return 0;
}

/* Mean SP degree over time of runs idx[from..to) (one policy, its seeds), in bins of bin_ns: the
 * average of the timeline's mean degree over the samples with a busy GPU (idle samples have no
 * degree), and the mean number of busy GPUs over all samples. Raw samples (one per second) jump
 * between 0 and k at every block boundary; bins show the trend. Returns 0 or -1 with err. */
static int write_degree_over_time(plot_ctx *c, FILE *out, const size_t *idx, size_t from, size_t to, tetri_ns last_sample,
                                  tetri_ns bin_ns, int policy_id,
                                  const char *label)
{
    size_t n_bins = (size_t)(last_sample / bin_ns) + 1;
    double *degree = calloc(n_bins, sizeof *degree), *busy = calloc(n_bins, sizeof *busy);
    int *n_busy = calloc(n_bins, sizeof *n_busy), *n_all = calloc(n_bins, sizeof *n_all);
    int rc = degree && busy && n_busy && n_all ? 0 : tetri_errorf(c->err, "out of memory");
    for (size_t k = from; k < to && rc == 0; k++) {
        tetri_timeline_sample *tl;
        size_t n_tl;
        if (results_load_timeline(c->db, c->runs[idx[k]].id, &tl, &n_tl, c->err)) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n_tl; i++) {
            if (tl[i].t < 0) continue;
            size_t b = (size_t)(tl[i].t / bin_ns);
            assert(b < n_bins);
            n_all[b]++;
            busy[b] += tl[i].busy_gpus;
            if (tl[i].busy_gpus > 0) {
                n_busy[b]++;
                degree[b] += tl[i].mean_degree;
            }
        }
        free(tl);
    }
    for (size_t b = 0; b < n_bins && rc == 0; b++) {
        if (!n_all[b]) continue;
        fprintf(out, "%d,%.3f,", policy_id, ((double)b + 0.5) * (double)bin_ns / 1e9);
        if (n_busy[b]) fprintf(out, "%.4f", degree[b] / n_busy[b]);
        fprintf(out, ",%.4f,", busy[b] / n_all[b]);
        plot_csv_last_field(out, label);
    }
    free(degree);
    free(busy);
    free(n_busy);
    free(n_all);
    return rc;
}

/* Attainment of resolution w x h in each run (seed) of p that has such requests, into a[]; how many. */
static size_t seed_attainments(const pooled *p, int32_t w, int32_t h, double *a, int *met, int *n)
{
    size_t m = 0;
    *met = *n = 0;
    for (size_t k = 0, from = 0; k < p->n_runs; from = p->run_end[k++]) {
        int run_met = 0, run_n = 0;
        for (size_t i = from; i < p->run_end[k]; i++)
            if (p->req[i].width == w && p->req[i].height == h) {
                run_n++;
                run_met += p->req[i].outcome == TETRI_MET;
            }
        if (run_n) a[m++] = (double)run_met / run_n;
        *met += run_met;
        *n += run_n;
    }
    return m;
}

/* Per resolution: its requests met and counted over every seed, and the mean over seeds of each
 * seed's attainment with its 95% interval (plots/ci.h). Returns 0, or -1 when out of memory. */
static int write_per_resolution(FILE *out, const pooled *p, const int32_t (*res)[2], int n_res, int policy_id,
                                const char *label)
{
    double *a = malloc((p->n_runs ? p->n_runs : 1) * sizeof *a);
    if (!a) return -1;
    for (int k = 0; k < n_res; k++) {
        int met, n;
        const size_t m = seed_attainments(p, res[k][0], res[k][1], a, &met, &n);
        if (!m) continue;
        double mean, ci_lo, ci_hi;
        plot_ci95(a, m, &mean, &ci_lo, &ci_hi);
        fprintf(out, "%d,%d,%dx%d,%d,%d,%.6f,%.6f,%.6f,%zu,", policy_id, k, res[k][0], res[k][1], met, n, mean, ci_lo, ci_hi, m);
        plot_csv_last_field(out, label);
    }
    free(a);
    return 0;
}

/* Attainment of the requests that arrived in each bin of `bin_ns`. */
static int write_over_time(FILE *out, const pooled *p, tetri_ns bin_ns, int policy_id, const char *label)
{
    tetri_ns last = 0;
    for (size_t i = 0; i < p->n; i++) last = p->req[i].arrival > last ? p->req[i].arrival : last;
    size_t n_bins = (size_t)(last / bin_ns) + 1;
    int *met = calloc(n_bins, sizeof *met), *n = calloc(n_bins, sizeof *n);
    if (!met || !n) {
        free(met);
        free(n);
        return -1;
    }
    for (size_t i = 0; i < p->n; i++) {
        size_t b = (size_t)(p->req[i].arrival / bin_ns);
        n[b]++;
        met[b] += p->req[i].outcome == TETRI_MET;
    }
    for (size_t b = 0; b < n_bins; b++) {
        if (!n[b]) continue;
        fprintf(out, "%d,%.3f,%.3f,%d,%d,%.6f,", policy_id, (double)((tetri_ns)b * bin_ns) / 1e9,
                ((double)b + 0.5) * (double)bin_ns / 1e9, met[b], n[b], (double)met[b] / n[b]);
        plot_csv_last_field(out, label);
    }
    free(met);
    free(n);
    return 0;
}

/* A round bin width: the smallest of 5 s .. 30 min that gives at most `max_bins` bins over span. */
static tetri_ns choose_bin(tetri_ns span, int max_bins)
{
    static const int widths_s[] = {5, 10, 15, 30, 60, 120, 300, 600, 900, 1800};
    for (size_t i = 0; i < sizeof widths_s / sizeof widths_s[0]; i++)
        if (span / ((tetri_ns)widths_s[i] * TETRI_NS_PER_S) < max_bins) return (tetri_ns)widths_s[i] * TETRI_NS_PER_S;
    return 1800 * TETRI_NS_PER_S;
}

enum { PER_CDF, PER_RES, PER_TIME, PER_DEGREE, PER_COUNT };
static const char *const per_kind[PER_COUNT] = {"latency_cdf", "attainment_per_resolution", "attainment_over_time",
                                                "degree_over_time"};
static const char *const per_header[PER_COUNT] = {
    "policy_id,latency_s,cumulative_fraction,marker,policy",
    "policy_id,resolution_index,resolution,met,n,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,policy",
    "policy_id,bin_start_s,bin_mid_s,met,n,attainment,policy",
    "policy_id,bin_mid_s,mean_degree,mean_busy_gpus,policy",
};

/* One group (every dimension but policy; seeds pooled): the four per-request figures. */
static int figures_per_group(plot_ctx *c, const size_t *idx, size_t start, size_t end, unsigned group, pooled *pool)
{
    const results_run *runs = c->runs;
    if (c->opt->only_scale > 0 && fabs(runs[idx[start]].slo_scale - c->opt->only_scale) > 1e-9) return 0;
    /* Resolutions (by token count) and the arrival span, over the whole group. */
    int32_t res[64][2];
    int n_res = 0;
    tetri_ns span = 0;
    int any_timeline = 0;
    for (size_t k = start; k < end; k++) {
        if (pool_requests(c, idx, k, k + 1, pool)) return -1;
        for (size_t i = 0; i < pool->n; i++) {
            int seen = 0;
            for (int j = 0; j < n_res; j++) seen |= res[j][0] == pool->req[i].width && res[j][1] == pool->req[i].height;
            if (!seen && n_res < 64) res[n_res][0] = pool->req[i].width, res[n_res++][1] = pool->req[i].height;
            span = pool->req[i].arrival > span ? pool->req[i].arrival : span;
        }
        any_timeline |= !isnan(runs[idx[k]].mean_degree);
    }
    qsort(res, (size_t)n_res, sizeof res[0], compare_tokens);
    tetri_ns bin = choose_bin(span, 24), last_sample = 0;
    /* The degree bins span the group's last timeline sample (the same bins for every policy). */
    for (size_t k = start; k < end && any_timeline && plot_kind_wanted(c, "degree_over_time"); k++) {
        tetri_timeline_sample *tl;
        size_t n_tl;
        if (results_load_timeline(c->db, runs[idx[k]].id, &tl, &n_tl, c->err)) return -1;
        if (n_tl && tl[n_tl - 1].t > last_sample) last_sample = tl[n_tl - 1].t;
        free(tl);
    }
    tetri_ns degree_bin = choose_bin(last_sample, 40);

    for (int kind = 0; kind < PER_COUNT; kind++) {
        if (!plot_kind_wanted(c, per_kind[kind])) continue;
        if (kind == PER_DEGREE && !any_timeline) continue;
        plot_figure f;
        FILE *out = plot_figure_begin(c, &f, per_kind[kind], &runs[idx[start]], group, NULL, per_header[kind]);
        if (!out) return -1;
        for (size_t p = start, p_end; p < end; p = p_end) {
            p_end = plot_same_dim_end(runs, idx, p, end, REPORT_DIM_POLICY);
            char label[256];
            plot_figure_add_policy(&f, &runs[idx[p]], runs, idx + start, end - start, label, sizeof label);
            int rc = 0;
            if (kind == PER_DEGREE) rc = write_degree_over_time(c, out, idx, p, p_end, last_sample, degree_bin, f.n_policies, label);
            else if (pool_requests(c, idx, p, p_end, pool)) rc = -1;
            else if ((kind == PER_CDF && write_latency_cdf(out, pool, f.n_policies, label)) ||
                     (kind == PER_RES && write_per_resolution(out, pool, (const int32_t(*)[2])res, n_res, f.n_policies, label)) ||
                     (kind == PER_TIME && write_over_time(out, pool, bin, f.n_policies, label)))
                rc = tetri_errorf(c->err, "out of memory writing %s", f.base);
            if (rc) {
                fclose(out);
                return -1;
            }
        }
        char reslabels[160] = "";
        for (int k = 0; k < n_res && kind == PER_RES; k++)
            plot_append_text(reslabels, sizeof reslabels, "%s%dx%d", k ? " " : "", res[k][0], res[k][1]);
        snprintf(f.extra, sizeof f.extra, "nres=%d; reslabels='%s'; binmin=%g", n_res, reslabels,
                 (double)(kind == PER_DEGREE ? degree_bin : bin) / 60e9);
        if (plot_figure_end(c, &f, out)) return -1;
    }
    return 0;
}

int plot_figures_per_request(plot_ctx *c, size_t *idx)
{
    int any = 0;
    for (int k = 0; k < PER_COUNT; k++) any |= plot_kind_wanted(c, per_kind[k]);
    if (!any) return 0;
    unsigned group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY);
    plot_sort_runs(c->runs, idx, c->n_runs, group, -1);
    pooled pool = {0};
    int rc = 0;
    for (size_t start = 0, end; start < c->n_runs && rc == 0; start = end) {
        for (end = start + 1; end < c->n_runs && plot_same_group(&c->runs[idx[start]], &c->runs[idx[end]], group);) end++;
        rc = figures_per_group(c, idx, start, end, group, &pool);
    }
    free(pool.req);
    free(pool.run_end);
    return rc;
}

