/* results/report.c: attainment tables, per-run detail and long-format CSV (see report.h). */
#include "results/report.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const dim_names[REPORT_DIM_COUNT] = {"experiment", "model", "hardware", "backend", "mix",
                                                        "rate",       "load",  "scale",    "policy"};

const char *report_dim_name(report_dim d)
{
    assert((unsigned)d < REPORT_DIM_COUNT);
    return dim_names[d];
}

int report_parse_by(const char *text, report_dim *dims, int *n_dims, tetri_error *err)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text ? text : "");
    int n = 0;
    char *save = NULL;
    for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
        int found = -1;
        for (int d = 0; d < REPORT_DIM_COUNT; d++)
            if (strcmp(w, dim_names[d]) == 0 || (d == REPORT_DIM_SCALE && strcmp(w, "slo_scale") == 0)) found = d;
        if (found < 0)
            return tetri_errorf(err, "--by: unknown dimension '%s' (choose from experiment, model, hardware, backend, mix, "
                                     "rate, load, scale, policy)", w);
        for (int i = 0; i < n; i++)
            if ((int)dims[i] == found) return tetri_errorf(err, "--by: dimension '%s' given twice", w);
        dims[n++] = (report_dim)found;
    }
    if (n < 2) return tetri_errorf(err, "--by '%s': name at least two dimensions (..., columns, rows), e.g. mix,scale,policy", text ? text : "");
    *n_dims = n;
    return 0;
}

static const char *const metric_names[REPORT_METRIC_COUNT] = {"attainment", "p50",     "p99",      "degree",
                                                              "gpu_s",      "dropped", "block_err"};
/* What a table of each metric shows, for its title line. */
static const char *const metric_titles[REPORT_METRIC_COUNT] = {
    "SLO attainment (met/n)",
    "p50 latency, arrival to finish (s; inf: half the requests dropped)",
    "p99 latency, arrival to finish (s; inf: over 1% of the requests dropped)",
    "mean SP degree of running requests (GPUs; -: no timeline)",
    "GPU-seconds used",
    "dropped requests",
    "mean relative block-duration error, (actual - predicted) / predicted (-: no blocks)",
};

const char *report_metric_name(report_metric m)
{
    assert((unsigned)m < REPORT_METRIC_COUNT);
    return metric_names[m];
}

int report_parse_metric(const char *text, report_metric *out, tetri_error *err)
{
    for (int m = 0; m < REPORT_METRIC_COUNT; m++)
        if (text && strcmp(text, metric_names[m]) == 0) {
            *out = (report_metric)m;
            return 0;
        }
    return tetri_errorf(err,
                        "--metric: unknown metric '%s' (choose from attainment, p50, p99, degree, gpu_s, dropped, "
                        "block_err)",
                        text ? text : "");
}

double report_metric_value(const results_run *r, report_metric m)
{
    switch (m) {
    case REPORT_METRIC_ATTAINMENT: return r->attainment;
    case REPORT_METRIC_P50: return r->p50_latency_s;
    case REPORT_METRIC_P99: return r->p99_latency_s;
    case REPORT_METRIC_DEGREE: return r->mean_degree;
    case REPORT_METRIC_GPU_SECONDS: return r->gpu_seconds;
    case REPORT_METRIC_DROPPED: return (double)r->sum.dropped;
    case REPORT_METRIC_BLOCK_ERR: return r->block_err_mean;
    default: assert(0 && "unknown metric"); return NAN;
    }
}

/* A metric's value as table text: a precision that suits it; "inf"; "-" for none. */
static void format_metric(char *buf, size_t len, report_metric m, double v)
{
    /* block_err: a percent error needs two decimals of a percent. */
    static const int decimals[REPORT_METRIC_COUNT] = {3, 2, 2, 2, 1, 1, 4};
    if (isnan(v)) snprintf(buf, len, "-");
    else if (isinf(v)) snprintf(buf, len, "inf");
    else snprintf(buf, len, "%.*f", decimals[m], v);
}

/* Whether option item `item` (w bytes, "key=value") is in the option list of canonical policy text p. */
static int policy_has_item(const char *p, const char *item, size_t w)
{
    const char *opts = strchr(p, ':');
    if (!opts) return 0;
    for (opts++; *opts;) {
        size_t n = strcspn(opts, ",");
        if (n == w && strncmp(opts, item, w) == 0) return 1;
        opts += n;
        if (*opts == ',') opts++;
    }
    return 0;
}

void report_policy_label(const results_run *r, const results_run *all, const size_t *among, size_t n_among, char *buf,
                         size_t len)
{
#define AMONG(i) (&all[among ? among[i] : (i)])
    int variants = 0;
    for (size_t i = 0; i < n_among && !variants; i++)
        variants = strcmp(AMONG(i)->policy_name, r->policy_name) == 0 && strcmp(AMONG(i)->policy, r->policy) != 0;
    snprintf(buf, len, "%s", r->policy_name);
    const char *opts = strchr(r->policy, ':');
    if (!variants || !opts) return;
    size_t used = strlen(buf);
    int first = 1;
    for (opts++; *opts;) {
        size_t w = strcspn(opts, ",");
        int common = 1;
        for (size_t i = 0; i < n_among && common; i++)
            if (strcmp(AMONG(i)->policy_name, r->policy_name) == 0) common = policy_has_item(AMONG(i)->policy, opts, w);
        if (!common && used < len)
            used += (size_t)snprintf(buf + used, len - used, "%s%.*s", first ? ":" : ",", (int)w, opts);
        if (!common) first = 0;
        opts += w;
        if (*opts == ',') opts++;
    }
#undef AMONG
}

void report_dim_value(const results_run *r, report_dim d, const results_run *all, const size_t *among, size_t n_among,
                      char *buf, size_t len)
{
    switch (d) {
    case REPORT_DIM_EXPERIMENT: snprintf(buf, len, "%s", r->experiment); break;
    case REPORT_DIM_MODEL: snprintf(buf, len, "%s", r->model); break;
    case REPORT_DIM_HARDWARE: snprintf(buf, len, "%s", r->hardware); break;
    case REPORT_DIM_BACKEND: snprintf(buf, len, "%s", r->backend); break;
    case REPORT_DIM_MIX: snprintf(buf, len, "%s", r->mix); break;
    case REPORT_DIM_RATE: snprintf(buf, len, "%g", r->rate_per_min); break;
    case REPORT_DIM_LOAD:
        if (r->load > 0) snprintf(buf, len, "%g", r->load);
        else snprintf(buf, len, "-");
        break;
    case REPORT_DIM_SCALE:
        /* "1.0", "1.25": SLO scales read as multipliers, never as a bare "1". */
        if (r->slo_scale * 10 == floor(r->slo_scale * 10)) snprintf(buf, len, "%.1f", r->slo_scale);
        else snprintf(buf, len, "%g", r->slo_scale);
        break;
    case REPORT_DIM_POLICY: report_policy_label(r, all, among, n_among, buf, len); break;
    default: assert(0 && "unknown dimension");
    }
}

/* strcmp, except that runs of digits compare as numbers: "g=2" < "g=10", "xdit-sp2" < "xdit-sp8". */
static int natural_compare(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0') a++;
            while (*b == '0') b++;
            size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
            if (la != lb) return la < lb ? -1 : 1;
            int c = strncmp(a, b, la);
            if (c) return c;
            a += la;
            b += lb;
        } else {
            if (*a != *b) return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
            a++;
            b++;
        }
    }
    return (*a != 0) - (*b != 0);
}

int report_dim_compare(const results_run *a, const results_run *b, report_dim d)
{
    switch (d) {
    case REPORT_DIM_EXPERIMENT: return strcmp(a->experiment, b->experiment);
    case REPORT_DIM_MODEL: return strcmp(a->model, b->model);
    case REPORT_DIM_HARDWARE: return strcmp(a->hardware, b->hardware);
    case REPORT_DIM_BACKEND: return strcmp(a->backend, b->backend);
    case REPORT_DIM_MIX: return strcmp(a->mix, b->mix);
    case REPORT_DIM_RATE: return (a->rate_per_min > b->rate_per_min) - (a->rate_per_min < b->rate_per_min);
    case REPORT_DIM_LOAD: return (a->load > b->load) - (a->load < b->load);
    case REPORT_DIM_SCALE: return (a->slo_scale > b->slo_scale) - (a->slo_scale < b->slo_scale);
    case REPORT_DIM_POLICY: {
        int c = natural_compare(a->policy, b->policy);
        return c ? c : strcmp(a->policy, b->policy); /* "g=01" and "g=1" still differ */
    }
    default: assert(0 && "unknown dimension"); return 0;
    }
}

/* The order tables are split in, then columns, then rows; qsort has no context argument, so the
 * comparator reads it from here (report_print_tables is not reentrant). */
static struct {
    const results_run *runs;
    report_dim order[REPORT_DIM_COUNT];
    int n_order;
} sort_ctx;

static int compare_run_index(const void *pa, const void *pb)
{
    const results_run *a = &sort_ctx.runs[*(const size_t *)pa], *b = &sort_ctx.runs[*(const size_t *)pb];
    for (int i = 0; i < sort_ctx.n_order; i++) {
        int c = report_dim_compare(a, b, sort_ctx.order[i]);
        if (c) return c;
    }
    return (a->seed > b->seed) - (a->seed < b->seed);
}

/* Whether runs differ along d. */
static int dim_varies(const results_run *runs, size_t n, report_dim d)
{
    for (size_t i = 1; i < n; i++)
        if (report_dim_compare(&runs[0], &runs[i], d) != 0) return 1;
    return 0;
}

typedef struct cell {
    int count;                  /* runs (seeds) */
    int n_values;               /* of them, with a value (a metric may be NAN) */
    double sum, min, max;
    int repeated_seed;          /* two runs of one seed in this cell */
} cell;

/* "mean (seeds; min..max)", "value (1)", or "-" for an empty cell. */
static void format_cell(char *buf, size_t len, const cell *x, report_metric m)
{
    char mean[32], min[32], max[32];
    if (!x->count) {
        snprintf(buf, len, "-");
        return;
    }
    format_metric(mean, sizeof mean, m, x->n_values ? x->sum / x->n_values : NAN);
    if (x->count == 1) {
        snprintf(buf, len, "%s (1)", mean);
        return;
    }
    format_metric(min, sizeof min, m, x->n_values ? x->min : NAN);
    format_metric(max, sizeof max, m, x->n_values ? x->max : NAN);
    snprintf(buf, len, "%s (%d; %s..%s)", mean, x->count, min, max);
}

/* Prints one table over idx[0..n-1] (runs sharing every table dimension). */
/* Adds run `i` to `set` (run indices, one per distinct value of `dim`, kept sorted by it) unless a
 * run with its value is already there. O(n) per call; tables have tens of rows and columns. */
static void add_representative(size_t *set, size_t *n_set, const results_run *runs, size_t i, report_dim dim)
{
    for (size_t k = 0; k < *n_set; k++)
        if (report_dim_compare(&runs[set[k]], &runs[i], dim) == 0) return;
    size_t at = (*n_set)++;
    while (at > 0 && report_dim_compare(&runs[set[at - 1]], &runs[i], dim) > 0) {
        set[at] = set[at - 1];
        at--;
    }
    set[at] = i;
}

static int print_one_table(FILE *out, const results_run *runs, const size_t *idx, size_t n, report_dim col_dim,
                           report_dim row_dim, report_metric metric, int *any_repeated, tetri_error *err)
{
    /* Distinct column and row representatives, in sorted order. */
    size_t *cols = malloc(n * sizeof *cols), *rows = malloc(n * sizeof *rows);
    cell *cells = NULL;
    if (!cols || !rows) goto oom;
    size_t n_cols = 0, n_rows = 0;
    for (size_t i = 0; i < n; i++) {
        add_representative(cols, &n_cols, runs, idx[i], col_dim);
        add_representative(rows, &n_rows, runs, idx[i], row_dim);
    }
    cells = calloc(n_cols * n_rows, sizeof *cells);
    if (!cells) goto oom;
    for (size_t i = 0; i < n; i++) {
        const results_run *r = &runs[idx[i]];
        size_t c = 0, k = 0;
        while (report_dim_compare(&runs[cols[c]], r, col_dim) != 0) c++;
        while (report_dim_compare(&runs[rows[k]], r, row_dim) != 0) k++;
        cell *x = &cells[k * n_cols + c];
        /* idx is sorted with seed last, so a repeated seed sits right after its twin. */
        if (i > 0) {
            const results_run *p = &runs[idx[i - 1]];
            if (p->seed == r->seed && report_dim_compare(p, r, col_dim) == 0 && report_dim_compare(p, r, row_dim) == 0)
                x->repeated_seed = 1, *any_repeated = 1;
        }
        double v = report_metric_value(r, metric);
        x->count++;
        if (isnan(v)) continue;
        x->min = x->n_values ? fmin(x->min, v) : v;
        x->max = x->n_values ? fmax(x->max, v) : v;
        x->sum += v; /* inf stays inf: a mean over a seed that dropped is inf too */
        x->n_values++;
    }
    /* Cell texts and column widths. */
    enum { CELL_TEXT = 112 }; /* three formatted numbers of up to 31 characters and the rest */
    char text[CELL_TEXT], label[256];
    int row_w = (int)strlen(report_dim_name(row_dim));
    for (size_t k = 0; k < n_rows; k++) {
        report_dim_value(&runs[rows[k]], row_dim, runs, idx, n, label, sizeof label);
        if ((int)strlen(label) > row_w) row_w = (int)strlen(label);
    }
    int *col_w = calloc(n_cols, sizeof *col_w);
    if (!col_w) goto oom;
    for (size_t c = 0; c < n_cols; c++) {
        report_dim_value(&runs[cols[c]], col_dim, runs, idx, n, label, sizeof label);
        col_w[c] = (int)strlen(label);
        for (size_t k = 0; k < n_rows; k++) {
            format_cell(text, sizeof text, &cells[k * n_cols + c], metric);
            if ((int)strlen(text) > col_w[c]) col_w[c] = (int)strlen(text);
        }
    }
    fprintf(out, "%-*s", row_w, report_dim_name(row_dim));
    for (size_t c = 0; c < n_cols; c++) {
        report_dim_value(&runs[cols[c]], col_dim, runs, idx, n, label, sizeof label);
        if (c + 1 == n_cols) fprintf(out, "  %s", label);
        else fprintf(out, "  %-*s", col_w[c], label);
    }
    fputc('\n', out);
    for (size_t k = 0; k < n_rows; k++) {
        report_dim_value(&runs[rows[k]], row_dim, runs, idx, n, label, sizeof label);
        fprintf(out, "%-*s", row_w, label);
        for (size_t c = 0; c < n_cols; c++) {
            format_cell(text, sizeof text, &cells[k * n_cols + c], metric);
            /* No trailing blanks after the last column. */
            if (c + 1 == n_cols) fprintf(out, "  %s", text);
            else fprintf(out, "  %-*s", col_w[c], text);
        }
        fputc('\n', out);
    }
    free(col_w);
    free(cells);
    free(cols);
    free(rows);
    return 0;
oom:
    free(cells);
    free(cols);
    free(rows);
    return tetri_errorf(err, "out of memory printing a report table");
}

int report_print_tables(FILE *out, const results_run *runs, size_t n, const report_options *opt, tetri_error *err)
{
    assert(opt->n_by >= 2 && (unsigned)opt->metric < REPORT_METRIC_COUNT);
    if (n == 0) {
        fprintf(out, "(no runs)\n");
        return 0;
    }
    report_dim row_dim = opt->by[opt->n_by - 1], col_dim = opt->by[opt->n_by - 2];
    /* Table dimensions, in split order: the context (experiment, model, hardware) when it varies,
     * then what --by names before its columns, then every other dimension that varies. */
    report_dim table_dims[REPORT_DIM_COUNT];
    int n_table = 0, named[REPORT_DIM_COUNT] = {0};
    for (int i = 0; i < opt->n_by; i++) named[opt->by[i]] = 1;
    for (int d = REPORT_DIM_EXPERIMENT; d <= REPORT_DIM_HARDWARE; d++)
        if (!named[d] && dim_varies(runs, n, (report_dim)d)) table_dims[n_table++] = (report_dim)d;
    for (int i = 0; i < opt->n_by - 2; i++) table_dims[n_table++] = opt->by[i];
    /* The rate and the load move together (one gives the other, per mix and hardware): naming one
     * keeps the other from splitting tables (the rate only when every run has a load). */
    int all_loaded = 1;
    for (size_t i = 0; i < n; i++) all_loaded &= runs[i].load > 0;
    if (named[REPORT_DIM_RATE]) named[REPORT_DIM_LOAD] = 1;
    if (named[REPORT_DIM_LOAD] && all_loaded) named[REPORT_DIM_RATE] = 1;
    for (int d = REPORT_DIM_HARDWARE + 1; d < REPORT_DIM_COUNT; d++)
        if (!named[d] && dim_varies(runs, n, (report_dim)d)) table_dims[n_table++] = (report_dim)d;
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) return tetri_errorf(err, "out of memory printing a report");
    for (size_t i = 0; i < n; i++) idx[i] = i;
    sort_ctx.runs = runs;
    sort_ctx.n_order = 0;
    for (int i = 0; i < n_table; i++) sort_ctx.order[sort_ctx.n_order++] = table_dims[i];
    sort_ctx.order[sort_ctx.n_order++] = row_dim;
    sort_ctx.order[sort_ctx.n_order++] = col_dim;
    qsort(idx, n, sizeof *idx, compare_run_index);

    int any_repeated = 0, rc = 0;
    char value[256];
    for (size_t start = 0; start < n && rc == 0;) {
        size_t end = start + 1;
        while (end < n) {
            int same = 1;
            for (int i = 0; i < n_table && same; i++) same = report_dim_compare(&runs[idx[start]], &runs[idx[end]], table_dims[i]) == 0;
            if (!same) break;
            end++;
        }
        /* Title: the table dimensions, then the ones every run shares (what the numbers are of). */
        const results_run *first = &runs[idx[start]];
        fprintf(out, "%s==", start ? "\n" : "");
        for (int i = 0; i < n_table; i++) {
            report_dim_value(first, table_dims[i], runs, idx + start, end - start, value, sizeof value);
            fprintf(out, " %s %s", report_dim_name(table_dims[i]), value);
        }
        /* "|" parts what splits the tables from what all their runs share. */
        if (n_table) fputs(" |", out);
        for (int d = 0; d < REPORT_DIM_COUNT; d++) {
            int shown = (int)row_dim == d || (int)col_dim == d;
            for (int i = 0; i < n_table; i++) shown |= (int)table_dims[i] == d;
            /* runs with a given rate have no load: say nothing of it */
            /* named but not shown: the rate or load that moves with a shown load or rate */
            if (shown || named[d] || (d == REPORT_DIM_LOAD && !(first->load > 0))) continue;
            report_dim_value(first, (report_dim)d, runs, idx + start, end - start, value, sizeof value);
            fprintf(out, " %s %s", report_dim_name((report_dim)d), value);
        }
        fprintf(out, " ==\n%s: rows %s, columns %s; mean over seeds (seeds; min..max)\n", metric_titles[opt->metric],
                report_dim_name(row_dim), report_dim_name(col_dim));
        rc = print_one_table(out, runs, idx + start, end - start, col_dim, row_dim, opt->metric, &any_repeated, err);
        start = end;
    }
    if (any_repeated)
        fprintf(out, "\nnote: some cells average several runs of the same seed: they differ in something no table "
                     "dimension shows (workload options?); see --runs\n");
    free(idx);
    return rc;
}

/* "inf" for a dropped-dominated quantile, "-" for an absent value. */
static void format_seconds(char *buf, size_t len, double s)
{
    if (isinf(s)) snprintf(buf, len, "inf");
    else if (isnan(s)) snprintf(buf, len, "-");
    else snprintf(buf, len, "%.3f", s);
}

void report_print_runs(FILE *out, const results_run *runs, size_t n)
{
    int policy_w = 6;
    /* Policies by their short label (full options are in the run key and the CSV). */
    char label[256];
    for (size_t i = 0; i < n; i++) {
        report_policy_label(&runs[i], runs, NULL, n, label, sizeof label);
        if ((int)strlen(label) > policy_w) policy_w = (int)strlen(label);
    }
    /* The run key last and unpadded: it is long, and only needed to find a run again. */
    fprintf(out, "%-*s  %-11s %-5s %6s %4s %-4s %4s %4s %4s %4s %6s %8s %8s %6s %9s %9s %10s  %s\n", policy_w, "policy",
            "mix", "scale", "rate", "seed", "bknd", "n", "met", "late", "drop", "SAR", "p50_s", "p99_s", "degree", "gpu_s",
            "wall_ms", "decide_p99", "run_key");
    for (size_t i = 0; i < n; i++) {
        const results_run *r = &runs[i];
        char p50[32], p99[32], degree[32];
        report_policy_label(r, runs, NULL, n, label, sizeof label);
        format_seconds(p50, sizeof p50, r->p50_latency_s);
        format_seconds(p99, sizeof p99, r->p99_latency_s);
        if (isnan(r->mean_degree)) snprintf(degree, sizeof degree, "-");
        else snprintf(degree, sizeof degree, "%.2f", r->mean_degree);
        fprintf(out, "%-*s  %-11s %-5g %6g %4" PRIu64 " %-4s %4d %4d %4d %4d %6.3f %8s %8s %6s %9.1f %9.2f %8.1fus  %s\n",
                policy_w, label, r->mix, r->slo_scale, r->rate_per_min, r->seed, r->backend, r->sum.n, r->sum.met,
                r->sum.late, r->sum.dropped, r->attainment, p50, p99, degree, r->gpu_seconds, r->sum.wall_s * 1e3,
                (double)r->sum.decide_p99_ns / 1e3, r->run_key);
    }
}

/* A block statistic: "-" when absent, else with `decimals` (signed when `sign`). */
static void format_block_stat(char *buf, size_t len, double v, int decimals, int sign)
{
    if (isnan(v)) snprintf(buf, len, "-");
    else snprintf(buf, len, sign ? "%+.*f" : "%.*f", decimals, v);
}

void report_print_blocks(FILE *out, const results_run *runs, size_t n)
{
    int policy_w = 6;
    char label[256];
    for (size_t i = 0; i < n; i++) {
        report_policy_label(&runs[i], runs, NULL, n, label, sizeof label);
        if ((int)strlen(label) > policy_w) policy_w = (int)strlen(label);
    }
    fprintf(out, "blocks: relative duration error (actual - predicted) / predicted, and start delay actual - predicted,\n"
                 "over the blocks that did not fail\n");
    fprintf(out, "%-*s  %-11s %-5s %6s %4s %-8s %7s %6s %8s %8s %8s %12s %12s  %s\n", policy_w, "policy", "mix", "scale",
            "rate", "seed", "backend", "blocks", "failed", "err_mean", "err_p50", "err_p99", "delay_p50_ms",
            "delay_p99_ms", "run_key");
    for (size_t i = 0; i < n; i++) {
        const results_run *r = &runs[i];
        char mean[32], p50[32], p99[32], d50[32], d99[32];
        report_policy_label(r, runs, NULL, n, label, sizeof label);
        format_block_stat(mean, sizeof mean, r->block_err_mean, 4, 1);
        format_block_stat(p50, sizeof p50, r->block_err_p50, 4, 1);
        format_block_stat(p99, sizeof p99, r->block_err_p99, 4, 1);
        format_block_stat(d50, sizeof d50, r->start_delay_p50_ms, 3, 0);
        format_block_stat(d99, sizeof d99, r->start_delay_p99_ms, 3, 0);
        fprintf(out, "%-*s  %-11s %-5g %6g %4" PRIu64 " %-8s %7" PRId64 " %6" PRId64 " %8s %8s %8s %12s %12s  %s\n",
                policy_w, label, r->mix, r->slo_scale, r->rate_per_min, r->seed, r->backend, r->n_blocks,
                r->failed_blocks, mean, p50, p99, d50, d99, r->run_key);
    }
}

void report_csv_field(FILE *out, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"') fputc('"', out);
        fputc(*s, out);
    }
    fputc('"', out);
}

/* A CSV number: "inf" for infinity, empty for an absent value (NaN), else %.6g... rounded to a fixed
 * number of decimals so the text does not depend on the last bits of a sum. */
static void csv_number(FILE *out, double v, int decimals)
{
    if (isnan(v)) return;
    if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", out);
    else fprintf(out, "%.*f", decimals, v);
}

/* The columns that say which run a CSV row belongs to, in both CSV forms:
 * experiment,model,hardware,backend,mix,rate_per_min,slo_scale, (with the trailing comma). */
static void csv_run_columns(FILE *out, const results_run *r)
{
    report_csv_field(out, r->experiment);
    fputc(',', out);
    report_csv_field(out, r->model);
    fputc(',', out);
    report_csv_field(out, r->hardware);
    fputc(',', out);
    report_csv_field(out, r->backend);
    fputc(',', out);
    report_csv_field(out, r->mix);
    fprintf(out, ",%g,%g,", r->rate_per_min, r->slo_scale);
}

void report_write_csv(FILE *out, const results_run *runs, size_t n, int with_timing, int with_blocks)
{
    fputs("experiment,model,hardware,backend,mix,rate_per_min,slo_scale,policy_name,policy,seed,n,met,late,dropped,"
          "attainment,p50_latency_s,p99_latency_s,mean_degree,gpu_seconds,run_key",
          out);
    if (with_blocks)
        fputs(",n_blocks,failed_blocks,block_err_mean,block_err_p50,block_err_p99,start_delay_p50_ms,start_delay_p99_ms", out);
    if (with_timing) fputs(",wall_s,decide_calls,decide_median_us,decide_p99_us,decide_max_us", out);
    fputc('\n', out);
    for (size_t i = 0; i < n; i++) {
        const results_run *r = &runs[i];
        csv_run_columns(out, r);
        report_csv_field(out, r->policy_name);
        fputc(',', out);
        report_csv_field(out, r->policy);
        fprintf(out, ",%" PRIu64 ",%d,%d,%d,%d,", r->seed, r->sum.n, r->sum.met, r->sum.late, r->sum.dropped);
        csv_number(out, r->attainment, 6);
        fputc(',', out);
        csv_number(out, r->p50_latency_s, 6);
        fputc(',', out);
        csv_number(out, r->p99_latency_s, 6);
        fputc(',', out);
        csv_number(out, r->mean_degree, 4);
        fputc(',', out);
        csv_number(out, r->gpu_seconds, 6);
        fputc(',', out);
        report_csv_field(out, r->run_key);
        if (with_blocks) {
            fprintf(out, ",%" PRId64 ",%" PRId64, r->n_blocks, r->failed_blocks);
            const double block[] = {r->block_err_mean, r->block_err_p50, r->block_err_p99, r->start_delay_p50_ms,
                                    r->start_delay_p99_ms};
            for (size_t k = 0; k < sizeof block / sizeof block[0]; k++) {
                fputc(',', out);
                csv_number(out, block[k], 6);
            }
        }
        if (with_timing)
            fprintf(out, ",%.6f,%" PRId64 ",%.3f,%.3f,%.3f", r->sum.wall_s, r->sum.decide_calls,
                    (double)r->sum.decide_median_ns / 1e3, (double)r->sum.decide_p99_ns / 1e3,
                    (double)r->sum.decide_max_ns / 1e3);
        fputc('\n', out);
    }
}

/* Integer nanoseconds as exact decimal seconds ("12.345678901"); nothing for a negative time
 * (the -1 of "never started" or "never finished"). */
static void csv_seconds(FILE *out, tetri_ns t)
{
    if (t < 0) return;
    fprintf(out, "%" PRId64 ".%09" PRId64, (int64_t)(t / TETRI_NS_PER_S), (int64_t)(t % TETRI_NS_PER_S));
}

int report_write_requests_csv(FILE *out, results_db *db, const results_run *runs, size_t n, tetri_error *err)
{
    fputs("experiment,model,hardware,backend,mix,rate_per_min,slo_scale,policy,seed,request_id,width,height,steps,"
          "arrival_s,deadline_s,first_start_s,finish_s,latency_s,outcome,gpu_seconds,degree_changes,migrations,max_degree\n",
          out);
    for (size_t k = 0; k < n; k++) {
        const results_run *r = &runs[k];
        tetri_request_result *req;
        size_t n_req;
        if (results_load_requests(db, r->id, &req, &n_req, err)) return -1;
        for (size_t i = 0; i < n_req; i++) {
            const tetri_request_result *q = &req[i];
            csv_run_columns(out, r);
            report_csv_field(out, r->policy);
            fprintf(out, ",%" PRIu64 ",%d,%d,%d,%d,", r->seed, q->id, q->width, q->height, q->steps);
            csv_seconds(out, q->arrival);
            fputc(',', out);
            csv_seconds(out, q->deadline);
            fputc(',', out);
            csv_seconds(out, q->first_start);
            fputc(',', out);
            csv_seconds(out, q->finish);
            fputc(',', out);
            if (q->outcome != TETRI_DROPPED && q->finish >= 0) csv_seconds(out, q->finish - q->arrival);
            fprintf(out, ",%s,", tetri_outcome_name(q->outcome));
            csv_seconds(out, q->gpu_ns);
            fprintf(out, ",%d,%d,%d\n", q->degree_changes, q->migrations, q->max_degree);
        }
        free(req);
    }
    return 0;
}
