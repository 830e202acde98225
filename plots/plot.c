/* plots/plot.c: CSV data for every figure of `tetri plot`, and running gnuplot over the plots/ scripts
 * (see plot.h and docs/results.md). */
#include "config.h"

#include "plots/plot.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plots/ablation.h"
#include "plots/ci.h"
#include "plots/plot_dirs.h"
#include "plots/plot_internal.h"
#include "results/report.h"

/* ---- grouping ---------------------------------------------------------------------------------- */

/* Sort order for qsort, which has no context argument (plot_prepare is not reentrant). */
static struct {
    const results_run *runs;
    report_dim order[REPORT_DIM_COUNT];
    int n_order;
} sort_ctx;

static int compare_index(const void *pa, const void *pb)
{
    const results_run *a = &sort_ctx.runs[*(const size_t *)pa], *b = &sort_ctx.runs[*(const size_t *)pb];
    for (int i = 0; i < sort_ctx.n_order; i++) {
        int c = report_dim_compare(a, b, sort_ctx.order[i]);
        if (c) return c;
    }
    return (a->seed > b->seed) - (a->seed < b->seed);
}

void plot_sort_runs(const results_run *runs, size_t *idx, size_t n, unsigned group, int x)
{
    sort_ctx.runs = runs;
    sort_ctx.n_order = 0;
    for (int d = 0; d < REPORT_DIM_COUNT; d++)
        if (group & DIM_BIT(d)) sort_ctx.order[sort_ctx.n_order++] = (report_dim)d;
    sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_POLICY;
    if (x >= 0) sort_ctx.order[sort_ctx.n_order++] = (report_dim)x;
    qsort(idx, n, sizeof *idx, compare_index);
}

int plot_same_group(const results_run *a, const results_run *b, unsigned group)
{
    for (int d = 0; d < REPORT_DIM_COUNT; d++)
        if ((group & DIM_BIT(d)) && report_dim_compare(a, b, (report_dim)d) != 0) return 0;
    return 1;
}

/* Whether the runs differ along d (such a dimension goes into file names). */
static int dim_varies(const results_run *runs, size_t n, report_dim d)
{
    for (size_t i = 1; i < n; i++)
        if (report_dim_compare(&runs[0], &runs[i], d) != 0) return 1;
    return 0;
}

/* Keeps [A-Za-z0-9.+-]; anything else becomes '_' (file names from policy or mix names). */
static void append_slug(char *buf, size_t len, const char *word)
{
    size_t used = strlen(buf);
    if (used + 1 < len) buf[used++] = '-';
    for (const char *p = word; *p && used + 1 < len; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '+' || c == '-';
        buf[used++] = ok ? c : '_';
    }
    buf[used] = 0;
}

/* Appends formatted text to the string in buf (truncating at len). */
static void append_text(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void append_text(char *buf, size_t len, const char *fmt, ...)
{
    size_t used = strnlen(buf, len);
    if (used + 1 >= len) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, len - used, fmt, ap);
    va_end(ap);
}

int plot_kind_wanted(const plot_ctx *c, const char *kind)
{
    if (!c->opt->kinds) return 1;
    size_t len = strlen(kind);
    for (const char *p = c->opt->kinds; *p;) {
        size_t w = strcspn(p, ",");
        if (w == len && strncmp(p, kind, len) == 0) return 1;
        p += w;
        if (*p == ',') p++;
    }
    return 0;
}

FILE *plot_figure_begin(plot_ctx *c, plot_figure *f, const char *kind, const results_run *r, unsigned group,
                        const char *suffix, const char *header)
{
    memset(f, 0, sizeof *f);
    snprintf(f->kind, sizeof f->kind, "%s", kind);
    snprintf(f->base, sizeof f->base, "%s", kind);
    char value[256];
    /* File name: the group's dimensions that vary across the database, so names stay short. */
    for (int d = 0; d < REPORT_DIM_COUNT; d++) {
        if (!(group & DIM_BIT(d)) || !dim_varies(c->runs, c->n_runs, (report_dim)d)) continue;
        report_dim_value(r, (report_dim)d, c->runs, NULL, c->n_runs, value, sizeof value);
        char word[300];
        snprintf(word, sizeof word, "%s%s", d == REPORT_DIM_SCALE ? "s" : d == REPORT_DIM_RATE ? "r" : "", value);
        append_slug(f->base, sizeof f->base, word);
    }
    if (suffix) append_slug(f->base, sizeof f->base, suffix);
    /* Title: every dimension of the group, in words. */
    char *t = f->title;
    size_t tl = sizeof f->title;
    if (group & DIM_BIT(REPORT_DIM_MIX)) append_text(t, tl, "%s mix", r->mix);
    if (group & DIM_BIT(REPORT_DIM_RATE)) append_text(t, tl, "%s%g req/min", t[0] ? ", " : "", r->rate_per_min);
    if (group & DIM_BIT(REPORT_DIM_SCALE)) {
        report_dim_value(r, REPORT_DIM_SCALE, c->runs, NULL, c->n_runs, value, sizeof value);
        append_text(t, tl, "%sSLO scale %s", t[0] ? ", " : "", value);
    }
    append_text(t, tl, "%s%s on %s", t[0] ? ", " : "", r->model, r->hardware);
    if (group & DIM_BIT(REPORT_DIM_BACKEND))
        append_text(t, tl, ", %s", strcmp(r->backend, "exec") == 0 ? "real (exec)" : "simulated");
    if ((group & DIM_BIT(REPORT_DIM_EXPERIMENT)) && dim_varies(c->runs, c->n_runs, REPORT_DIM_EXPERIMENT))
        append_text(t, tl, " [%s]", r->experiment);
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.csv", c->opt->out_dir, f->base);
    FILE *out = fopen(path, "w");
    if (!out) {
        tetri_errorf(c->err, "%s: cannot write: %s", path, strerror(errno));
        return NULL;
    }
    fprintf(out, "%s\n", header);
    return out;
}

/* The figure's line titles are '|'-separated; a '|' inside a label becomes '/'. */
void plot_figure_add_line(plot_figure *f, const char *label)
{
    size_t used = strlen(f->policies);
    snprintf(f->policies + used, sizeof f->policies - used, "%s%s", used ? "|" : "", label);
    for (char *p = f->policies + used + (used ? 1 : 0); *p; p++)
        if (*p == '|' || *p == '\n') *p = '/';
    f->n_policies++;
}

int plot_figure_end(plot_ctx *c, plot_figure *f, FILE *out)
{
    if (fclose(out) != 0) return tetri_errorf(c->err, "%s/%s.csv: cannot write: %s", c->opt->out_dir, f->base, strerror(errno));
    plot_set *s = c->set;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        plot_figure *grown = realloc(s->figures, cap * sizeof *grown);
        if (!grown) return tetri_errorf(c->err, "out of memory");
        s->figures = grown;
        s->cap = cap;
    }
    s->figures[s->n++] = *f;
    return 0;
}

/* The policy label may hold commas. */
void plot_csv_last_field(FILE *out, const char *s)
{
    report_csv_field(out, s);
    fputc('\n', out);
}

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
static int figures_vs(plot_ctx *c, size_t *idx, const char *kind, report_dim x)
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
            for (p_end = p + 1; p_end < end && report_dim_compare(&runs[idx[p]], &runs[idx[p_end]], REPORT_DIM_POLICY) == 0;) p_end++;
            char label[256];
            report_policy_label(&runs[idx[p]], runs, idx + start, end - start, label, sizeof label);
            plot_figure_add_line(&f, label);
            for (size_t q = p, q_end; q < p_end; q = q_end) {
                for (q_end = q + 1; q_end < p_end && report_dim_compare(&runs[idx[q]], &runs[idx[q_end]], x) == 0;) q_end++;
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
static int figures_vs_scale_panels(plot_ctx *c, size_t *idx)
{
    if (!plot_kind_wanted(c, "attainment_vs_scale_panels")) return 0;
    unsigned group = ALL_DIMS & ~DIM_BIT(REPORT_DIM_POLICY) & ~DIM_BIT(REPORT_DIM_SCALE) & ~DIM_BIT(REPORT_DIM_MIX);
    const results_run *runs = c->runs;
    sort_ctx.runs = runs;
    sort_ctx.n_order = 0;
    for (int d = 0; d < REPORT_DIM_COUNT; d++)
        if (group & DIM_BIT(d)) sort_ctx.order[sort_ctx.n_order++] = (report_dim)d;
    sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_MIX;
    sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_POLICY;
    sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_SCALE;
    qsort(idx, c->n_runs, sizeof *idx, compare_index);
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
            report_policy_label(&runs[policies[j]], runs, idx + start, end - start, label, sizeof label);
            plot_figure_add_line(&f, label);
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
                append_text(mixes, sizeof mixes, "%s%s", mix_id > 1 ? "|" : "", r->mix);
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
static int figures_sim_vs_real(plot_ctx *c, size_t *idx)
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
        sort_ctx.n_order = 0;
        sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_POLICY;
        sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_BACKEND;
        sort_ctx.order[sort_ctx.n_order++] = REPORT_DIM_SCALE;
        qsort(idx + start, end - start, sizeof *idx, compare_index);
        plot_figure f;
        FILE *out = plot_figure_begin(c, &f, "attainment_sim_vs_real", &runs[idx[start]], group, NULL,
                                 "policy_id,backend_id,slo_scale,attainment_mean,attainment_min,attainment_max,seeds,backend,policy");
        if (!out) return -1;
        for (size_t p = start, p_end; p < end; p = p_end) {
            for (p_end = p + 1; p_end < end && report_dim_compare(&runs[idx[p]], &runs[idx[p_end]], REPORT_DIM_POLICY) == 0;) p_end++;
            /* Only policies that ran on both: a sim line with no real one to compare is noise here. */
            /* Backends sort "exec" < "sim": a policy with both starts with exec and ends with sim. */
            if (strcmp(runs[idx[p]].backend, "exec") != 0 || strcmp(runs[idx[p_end - 1]].backend, "sim") != 0) continue;
            char label[256];
            report_policy_label(&runs[idx[p]], runs, idx + start, end - start, label, sizeof label);
            plot_figure_add_line(&f, label);
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
static int figures_vs_round(plot_ctx *c)
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
        if (n_variants > 1) append_text(slug, sizeof slug, "-v%d", variant_ordinal);
        FILE *out = plot_figure_begin(c, &f, "attainment_vs_round", &runs[rows[start].run], round_group, slug,
                                 "line_id,g,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,slo_scale,policy");
        if (!out) {
            rc = -1;
            break;
        }
        append_text(f.title, sizeof f.title, "; %s", n_variants > 1 ? rows[start].variant : runs[rows[start].run].policy_name);
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
            for (p_end = p + 1; p_end < end && report_dim_compare(&runs[idx[p]], &runs[idx[p_end]], REPORT_DIM_POLICY) == 0;) p_end++;
            char label[256];
            report_policy_label(&runs[idx[p]], runs, idx + start, end - start, label, sizeof label);
            plot_figure_add_line(&f, label);
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
            append_text(reslabels, sizeof reslabels, "%s%dx%d", k ? " " : "", res[k][0], res[k][1]);
        snprintf(f.extra, sizeof f.extra, "nres=%d; reslabels='%s'; binmin=%g", n_res, reslabels,
                 (double)(kind == PER_DEGREE ? degree_bin : bin) / 60e9);
        if (plot_figure_end(c, &f, out)) return -1;
    }
    return 0;
}

static int figures_per_request(plot_ctx *c, size_t *idx)
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

/* ---- entry points ------------------------------------------------------------------------------ */

static int make_dir(const char *path, tetri_error *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
        return tetri_errorf(err, "%s: exists and is not a directory", path);
    }
    return tetri_errorf(err, "%s: cannot create directory: %s", path, strerror(errno));
}

int plot_prepare(results_db *db, const results_run *runs, size_t n, const plot_options *opt, plot_set *set,
                 tetri_error *err)
{
    assert(db && opt && opt->out_dir && set);
    memset(set, 0, sizeof *set);
    if (opt->kinds) {
        for (const char *p = opt->kinds; *p;) {
            size_t w = strcspn(p, ",");
            char word[64];
            snprintf(word, sizeof word, "%.*s", (int)(w < 63 ? w : 63), p);
            char padded[sizeof PLOT_KINDS + 2];
            snprintf(padded, sizeof padded, ",%s,", PLOT_KINDS);
            char needle[80];
            snprintf(needle, sizeof needle, ",%s,", word);
            if (!w || !strstr(padded, needle))
                return tetri_errorf(err, "--figures: unknown figure '%s' (choose from %s)", word, PLOT_KINDS);
            p += w;
            if (*p == ',') p++;
        }
    }
    if (make_dir(opt->out_dir, err)) return -1;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return tetri_errorf(err, "out of memory");
    for (size_t i = 0; i < n; i++) idx[i] = i;
    plot_ctx c = {db, runs, n, opt, set, err};
    int rc = n == 0 ? 0
                    : figures_vs(&c, idx, "attainment_vs_scale", REPORT_DIM_SCALE) || figures_vs_scale_panels(&c, idx) ||
                              figures_vs(&c, idx, "attainment_vs_rate", REPORT_DIM_RATE) ||
                              figures_per_request(&c, idx) || figures_sim_vs_real(&c, idx) || figures_vs_round(&c) ||
                              plot_figures_sim_vs_real(&c, idx) ||
                              (plot_kind_wanted(&c, "ablation") && plot_figures_ablation(runs, n, opt->out_dir, set, err))
                          ? -1
                          : 0;
    free(idx);
    if (rc) plot_set_free(set);
    return rc;
}

void plot_set_free(plot_set *set)
{
    free(set->figures);
    memset(set, 0, sizeof *set);
}

/* A gnuplot single-quoted string: ' doubles. */
static void gp_quote(char *buf, size_t len, const char *s)
{
    size_t used = 0;
    if (used + 1 < len) buf[used++] = '\'';
    for (; *s && used + 3 < len; s++) {
        if (*s == '\'') buf[used++] = '\'';
        buf[used++] = *s;
    }
    buf[used++] = '\'';
    buf[used] = 0;
}

/* The -e argument of gnuplot for figure f (paths relative to OUT). */
static void gnuplot_assignments(const plot_figure *f, char *buf, size_t len)
{
    char title[600], policies[2100], base[420];
    gp_quote(title, sizeof title, f->title);
    gp_quote(policies, sizeof policies, f->policies);
    gp_quote(base, sizeof base, f->base);
    snprintf(buf, len, "outbase=%s; datafile=%s.'.csv'; plottitle=%s; policies=%s; npol=%d; scriptdir='scripts'%s%s", base,
             base, title, policies, f->n_policies, f->extra[0] ? "; " : "", f->extra);
}

static int copy_file(const char *from, const char *to, tetri_error *err)
{
    FILE *in = fopen(from, "rb");
    if (!in) return tetri_errorf(err, "%s: cannot read plot script: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return tetri_errorf(err, "%s: cannot write: %s", to, strerror(errno));
    }
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, out) != got) break;
    int bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0 || bad) return tetri_errorf(err, "%s: cannot copy from %s", to, from);
    return 0;
}

int plot_write_scripts(const plot_set *set, const char *scripts_dir, const char *out_dir, tetri_error *err)
{
    char path[1024], from[1024];
    snprintf(path, sizeof path, "%s/scripts", out_dir);
    if (make_dir(path, err)) return -1;
    const char *shared[] = {"common.gp", "svg.gp", "attainment_vs_scale_panels_draw.gp"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        snprintf(from, sizeof from, "%s/%s", scripts_dir, shared[i]);
        snprintf(path, sizeof path, "%s/scripts/%s", out_dir, shared[i]);
        if (copy_file(from, path, err)) return -1;
    }
    char kinds[] = PLOT_KINDS;
    char *save = NULL;
    for (char *k = strtok_r(kinds, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        snprintf(from, sizeof from, "%s/%s.gp", scripts_dir, k);
        snprintf(path, sizeof path, "%s/scripts/%s.gp", out_dir, k);
        if (copy_file(from, path, err)) return -1;
    }
    snprintf(path, sizeof path, "%s/plot.sh", out_dir);
    FILE *sh = fopen(path, "w");
    if (!sh) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    fprintf(sh, "#!/bin/sh\n# Redraws every figure of this folder (written by tetri plot): PNG and SVG from the CSV files.\n"
                "# Edit scripts/*.gp to restyle. Needs gnuplot 5.2 or newer.\nset -e\ncd \"$(dirname \"$0\")\"\n"
                "GNUPLOT=${GNUPLOT:-gnuplot}\n");
    for (size_t i = 0; i < set->n; i++) {
        char assign[4096];
        gnuplot_assignments(&set->figures[i], assign, sizeof assign);
        /* Shell single quotes around the assignments: ' becomes '\''. */
        fputs("\"$GNUPLOT\" -e '", sh);
        for (const char *p = assign; *p; p++) {
            if (*p == '\'') fputs("'\\''", sh);
            else fputc(*p, sh);
        }
        fprintf(sh, "' scripts/%s.gp\n", set->figures[i].kind);
    }
    if (fclose(sh) != 0) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    chmod(path, 0755);
    return 0;
}

static int nonempty_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

int plot_render(const plot_figure *f, const char *gnuplot, const char *out_dir, tetri_error *err)
{
    char assign[4096], script[128], png[1024], svg[1024];
    gnuplot_assignments(f, assign, sizeof assign);
    snprintf(script, sizeof script, "scripts/%s.gp", f->kind);
    snprintf(png, sizeof png, "%s/%s.png", out_dir, f->base);
    snprintf(svg, sizeof svg, "%s/%s.svg", out_dir, f->base);
    unlink(png);
    unlink(svg);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return tetri_errorf(err, "cannot start %s: %s", gnuplot, strerror(errno));
    if (pid == 0) {
        if (chdir(out_dir) != 0) _exit(126);
        char *argv[] = {(char *)gnuplot, "-e", assign, script, NULL};
        execvp(gnuplot, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return tetri_errorf(err, "waiting for %s: %s", gnuplot, strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return tetri_errorf(err, "%s failed on %s (%s %d); its messages are above", gnuplot, f->base,
                            WIFEXITED(status) ? "exit status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    if (!nonempty_file(png) || !nonempty_file(svg))
        return tetri_errorf(err, "%s ran on %s but did not write %s and %s", gnuplot, f->base, png, svg);
    return 0;
}

int plot_scripts_dir(char *buf, size_t len, tetri_error *err)
{
    const char *env = getenv("TETRI_PLOTS_DIR");
    const char *tried[3];
    int n_tried = 0;
    const char *candidates[3] = {env && env[0] ? env : NULL, TETRI_PLOTS_SRCDIR, TETRI_PLOTS_INSTALLDIR};
    for (int i = 0; i < 3; i++) {
        if (!candidates[i]) continue;
        char probe[1024];
        snprintf(probe, sizeof probe, "%s/attainment_vs_scale.gp", candidates[i]);
        if (nonempty_file(probe)) {
            snprintf(buf, len, "%s", candidates[i]);
            return 0;
        }
        tried[n_tried++] = candidates[i];
        if (i == 0) break; /* an explicit TETRI_PLOTS_DIR that lacks the scripts is an error, not a hint */
    }
    return tetri_errorf(err, "no gnuplot scripts (attainment_vs_scale.gp, ...) in %s%s%s%s%s; set TETRI_PLOTS_DIR",
                        tried[0], n_tried > 1 ? " or " : "", n_tried > 1 ? tried[1] : "", n_tried > 2 ? " or " : "",
                        n_tried > 2 ? tried[2] : "");
}

int plot_gnuplot_program(char *buf, size_t len)
{
    const char *env = getenv("TETRI_GNUPLOT");
    const char *prog = env && env[0] ? env : TETRI_GNUPLOT;
    if (strchr(prog, '/')) {
        snprintf(buf, len, "%s", prog);
        return access(prog, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path) return 0;
    for (const char *p = path; *p;) {
        size_t w = strcspn(p, ":");
        snprintf(buf, len, "%.*s/%s", (int)w, p, prog);
        if (w && access(buf, X_OK) == 0) return 1;
        p += w;
        if (*p == ':') p++;
    }
    snprintf(buf, len, "%s", prog);
    return 0;
}
