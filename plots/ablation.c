/* plots/ablation.c: the figure `ablation`: variants of one policy (options switched on one by
 * one, e.g. tetriserve's schedule only, + placement, + elastic scale-up, + batching) as grouped bars
 * of SLO attainment, a cluster per SLO scale, error bars 95% intervals over seeds (plots/ci.h).
 *
 * A group (experiment, model, hardware, backend, mix, rate) makes one when its runs all belong to
 * one policy, in two variants or more, that do not differ in g (attainment_vs_round's figure). A
 * bar's label is the options in which the variants differ; bars go from the fewest options on to
 * the most, so the figure reads as features added one at a time. */
#include "plots/ablation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plots/ci.h"

#define ABLATION_MAX_VARIANTS 8 /* more bars than colours would not read */
#define ABLATION_MAX_SCALES 16

static const results_run *sort_runs; /* qsort has no context (plot_prepare is not reentrant) */

static int cmp_str(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : ""); }

/* The group's fields, then policy, scale and seed. */
static int cmp_group(const results_run *a, const results_run *b)
{
    int c;
    if ((c = cmp_str(a->experiment, b->experiment)) || (c = cmp_str(a->model, b->model)) ||
        (c = cmp_str(a->hardware, b->hardware)) || (c = cmp_str(a->backend, b->backend)) || (c = cmp_str(a->mix, b->mix)))
        return c;
    return (a->rate_per_min > b->rate_per_min) - (a->rate_per_min < b->rate_per_min);
}

static int cmp_index(const void *pa, const void *pb)
{
    const results_run *a = &sort_runs[*(const size_t *)pa], *b = &sort_runs[*(const size_t *)pb];
    int c = cmp_group(a, b);
    if (c || (c = cmp_str(a->policy, b->policy))) return c;
    if (a->slo_scale != b->slo_scale) return (a->slo_scale > b->slo_scale) - (a->slo_scale < b->slo_scale);
    return (a->seed > b->seed) - (a->seed < b->seed);
}

/* The value of option `key` in a canonical spec "name:k=v,...", into buf ("" when absent). */
static void option_value(const char *spec, const char *key, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *opts = strchr(spec, ':');
    for (const char *at = opts ? opts + 1 : NULL; at && *at;) {
        const size_t item = strcspn(at, ","), klen = strlen(key);
        if (item > klen && strncmp(at, key, klen) == 0 && at[klen] == '=') snprintf(buf, len, "%.*s", (int)(item - klen - 1), at + klen + 1);
        at += item + (at[item] == ',');
    }
}

typedef struct variant {
    const char *policy;  /* canonical spec */
    char label[256];     /* the options that differ from the other variants */
    int n_on;            /* how many of them are "on": the order of the bars */
} variant;

/* The labels: every option of variants[0] whose value is not the same in all of them. */
static void label_variants(variant *v, int n)
{
    const char *opts = strchr(v[0].policy, ':');
    for (int i = 0; i < n; i++) v[i].label[0] = '\0', v[i].n_on = 0;
    for (const char *at = opts ? opts + 1 : NULL; at && *at;) {
        const size_t item = strcspn(at, ","), klen = strcspn(at, "=");
        char key[64], first[64], value[64];
        snprintf(key, sizeof key, "%.*s", (int)(klen < item ? klen : item), at);
        option_value(v[0].policy, key, first, sizeof first);
        int differs = 0;
        for (int i = 1; i < n; i++) {
            option_value(v[i].policy, key, value, sizeof value);
            differs |= strcmp(value, first) != 0;
        }
        for (int i = 0; differs && i < n; i++) {
            option_value(v[i].policy, key, value, sizeof value);
            size_t used = strlen(v[i].label);
            snprintf(v[i].label + used, sizeof v[i].label - used, "%s%s=%s", used ? " " : "", key, value);
            v[i].n_on += strcmp(value, "on") == 0;
        }
        at += item + (at[item] == ',');
    }
}

static int cmp_variant(const void *pa, const void *pb)
{
    const variant *a = pa, *b = pb;
    return a->n_on != b->n_on ? a->n_on - b->n_on : strcmp(a->label, b->label);
}

/* The variants of runs idx[from..to) (sorted by policy). Returns how many, or 0 when the group is
 * no ablation: several policies, one variant, too many, or variants that differ in g. */
static int group_variants(const results_run *runs, const size_t *idx, size_t from, size_t to, variant *v)
{
    int n = 0;
    for (size_t k = from; k < to; k++) {
        const results_run *r = &runs[idx[k]];
        if (cmp_str(r->policy_name, runs[idx[from]].policy_name) != 0) return 0;
        if (n && strcmp(v[n - 1].policy, r->policy) == 0) continue;
        if (n == ABLATION_MAX_VARIANTS) return 0;
        v[n++].policy = r->policy;
    }
    if (n < 2) return 0;
    char g0[32], g[32];
    option_value(v[0].policy, "g", g0, sizeof g0);
    for (int i = 1; i < n; i++) {
        option_value(v[i].policy, "g", g, sizeof g);
        if (strcmp(g, g0) != 0) return 0;
    }
    label_variants(v, n);
    qsort(v, (size_t)n, sizeof *v, cmp_variant);
    return n;
}

/* Every name and title piece of the group of run r, and the figure's file base. */
static void describe_group(const results_run *r, plot_figure *f)
{
    memset(f, 0, sizeof *f);
    snprintf(f->kind, sizeof f->kind, "ablation");
    snprintf(f->base, sizeof f->base, "ablation-%s-%s-%s-r%g", r->experiment, r->policy_name, r->mix, r->rate_per_min);
    for (char *c = f->base; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-')) *c = '-';
    snprintf(f->title, sizeof f->title, "%s ablation: %s mix, %g req/min, %s on %s%s [%s]", r->policy_name, r->mix, r->rate_per_min,
             r->model, r->hardware, strcmp(r->backend, "sim") == 0 ? ", simulated" : "", r->experiment);
}

/* Writes one row per (variant, scale) of runs idx[from..to) and the figure's scale labels. */
static int write_rows(FILE *out, const results_run *runs, const size_t *idx, size_t from, size_t to, const variant *v, int n_v,
                      plot_figure *f)
{
    double scales[ABLATION_MAX_SCALES];
    int n_s = 0;
    for (size_t k = from; k < to; k++) {
        int s = 0;
        while (s < n_s && scales[s] != runs[idx[k]].slo_scale) s++;
        if (s == n_s && n_s == ABLATION_MAX_SCALES) return -1;
        if (s == n_s) scales[n_s++] = runs[idx[k]].slo_scale;
    }
    for (int a = 1; a < n_s; a++) /* scales ascending (insertion sort: a handful) */
        for (int b = a; b > 0 && scales[b - 1] > scales[b]; b--) {
            double t = scales[b];
            scales[b] = scales[b - 1];
            scales[b - 1] = t;
        }
    double att[4096];
    for (int i = 0; i < n_v; i++)
        for (int s = 0; s < n_s; s++) {
            size_t m = 0;
            for (size_t k = from; k < to && m < sizeof att / sizeof att[0]; k++)
                if (strcmp(runs[idx[k]].policy, v[i].policy) == 0 && runs[idx[k]].slo_scale == scales[s]) att[m++] = runs[idx[k]].attainment;
            if (m == 0) continue;
            double mean, lo, hi;
            plot_ci95(att, m, &mean, &lo, &hi);
            fprintf(out, "%d,%d,%g,%.6f,%.6f,%.6f,%zu,\"%s\"\n", i + 1, s, scales[s], mean, lo, hi, m, v[i].label);
        }
    size_t used = (size_t)snprintf(f->extra, sizeof f->extra, "nx=%d; xlabels='", n_s);
    for (int s = 0; s < n_s && used < sizeof f->extra; s++)
        used += (size_t)snprintf(f->extra + used, sizeof f->extra - used, "%s%g", s ? " " : "", scales[s]);
    if (used < sizeof f->extra) snprintf(f->extra + used, sizeof f->extra - used, "'");
    return 0;
}

static int add_figure(plot_set *set, const plot_figure *f, tetri_error *err)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? 2 * set->cap : 16;
        plot_figure *grown = realloc(set->figures, cap * sizeof *grown);
        if (!grown) return tetri_errorf(err, "out of memory");
        set->figures = grown;
        set->cap = cap;
    }
    set->figures[set->n++] = *f;
    return 0;
}

/* The figure of one group, when it is an ablation. Returns 0 or -1 with err. */
static int group_figure(const results_run *runs, const size_t *idx, size_t from, size_t to, const char *out_dir, plot_set *set,
                        tetri_error *err)
{
    variant v[ABLATION_MAX_VARIANTS];
    const int n_v = group_variants(runs, idx, from, to, v);
    if (n_v == 0) return 0;
    plot_figure f;
    describe_group(&runs[idx[from]], &f);
    for (int i = 0; i < n_v; i++) {
        size_t used = strlen(f.policies);
        snprintf(f.policies + used, sizeof f.policies - used, "%s%s", i ? "|" : "", v[i].label);
    }
    f.n_policies = n_v;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.csv", out_dir, f.base);
    FILE *out = fopen(path, "w");
    if (!out) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    fprintf(out, "variant_id,scale_index,slo_scale,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,variant\n");
    const int too_many = write_rows(out, runs, idx, from, to, v, n_v, &f);
    if (fclose(out) != 0) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    if (too_many) return tetri_errorf(err, "%s: more than %d SLO scales for one figure", path, ABLATION_MAX_SCALES);
    return add_figure(set, &f, err);
}

int plot_figures_ablation(const results_run *runs, size_t n, const char *out_dir, plot_set *set, tetri_error *err)
{
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return tetri_errorf(err, "out of memory");
    for (size_t i = 0; i < n; i++) idx[i] = i;
    sort_runs = runs;
    qsort(idx, n, sizeof *idx, cmp_index);
    int rc = 0;
    for (size_t from = 0, to; rc == 0 && from < n; from = to) {
        for (to = from + 1; to < n && cmp_group(&runs[idx[from]], &runs[idx[to]]) == 0;) to++;
        rc = group_figure(runs, idx, from, to, out_dir, set, err);
    }
    free(idx);
    return rc;
}
