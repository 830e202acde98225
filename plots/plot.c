/* plots/plot.c: `tetri plot`'s figures (see plot.h and docs/results.md): grouping the runs, a
 * figure's file name, title and CSV, and plot_prepare, which asks each family of figures for its
 * own: plots/attainment.c (against a run parameter), plots/per_request.c (from every request),
 * plots/sim_vs_real.c, plots/ablation.c; plots/gnuplot.c renders them. */
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

void plot_sort_runs_by(const results_run *runs, size_t *idx, size_t n, const report_dim *order, int n_order)
{
    assert(n_order <= REPORT_DIM_COUNT);
    sort_ctx.runs = runs;
    sort_ctx.n_order = n_order;
    memcpy(sort_ctx.order, order, (size_t)n_order * sizeof *order);
    qsort(idx, n, sizeof *idx, compare_index);
}

void plot_sort_runs(const results_run *runs, size_t *idx, size_t n, unsigned group, int x)
{
    report_dim order[REPORT_DIM_COUNT];
    int n_order = 0;
    for (int d = 0; d < REPORT_DIM_COUNT; d++)
        if (group & DIM_BIT(d)) order[n_order++] = (report_dim)d;
    order[n_order++] = REPORT_DIM_POLICY;
    if (x >= 0 && n_order < REPORT_DIM_COUNT) order[n_order++] = (report_dim)x;
    plot_sort_runs_by(runs, idx, n, order, n_order);
}

size_t plot_same_dim_end(const results_run *runs, const size_t *idx, size_t from, size_t end, report_dim d)
{
    size_t k = from + 1;
    while (k < end && report_dim_compare(&runs[idx[from]], &runs[idx[k]], d) == 0) k++;
    return k;
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

void plot_append_text(char *buf, size_t len, const char *fmt, ...)
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
    if (group & DIM_BIT(REPORT_DIM_MIX)) plot_append_text(t, tl, "%s mix", r->mix);
    if (group & DIM_BIT(REPORT_DIM_RATE)) plot_append_text(t, tl, "%s%g req/min", t[0] ? ", " : "", r->rate_per_min);
    if (group & DIM_BIT(REPORT_DIM_SCALE)) {
        report_dim_value(r, REPORT_DIM_SCALE, c->runs, NULL, c->n_runs, value, sizeof value);
        plot_append_text(t, tl, "%sSLO scale %s", t[0] ? ", " : "", value);
    }
    plot_append_text(t, tl, "%s%s on %s", t[0] ? ", " : "", r->model, r->hardware);
    if (group & DIM_BIT(REPORT_DIM_BACKEND))
        plot_append_text(t, tl, ", %s", strcmp(r->backend, "exec") == 0 ? "real (exec)" : "simulated");
    if ((group & DIM_BIT(REPORT_DIM_EXPERIMENT)) && dim_varies(c->runs, c->n_runs, REPORT_DIM_EXPERIMENT))
        plot_append_text(t, tl, " [%s]", r->experiment);
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

void plot_figure_add_policy(plot_figure *f, const results_run *r, const results_run *runs, const size_t *group_idx, size_t n,
                            char *label, size_t len)
{
    report_policy_label(r, runs, group_idx, n, label, len);
    plot_figure_add_line(f, label);
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


/* ---- entry points ------------------------------------------------------------------------------ */

/* One level: created, or already a directory. */
static int make_one_dir(const char *path, const char *asked, tetri_error *err)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return 0;
        return tetri_errorf(err, "%s: %s exists and is not a directory", asked, path);
    }
    return tetri_errorf(err, "%s: cannot create directory %s: %s", asked, path, strerror(errno));
}

int plot_make_dir(const char *path, tetri_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return tetri_errorf(err, "%.64s...: path too long", path);
    for (char *p = buf + 1; *p; p++) { /* the parents first, as mkdir -p */
        if (*p != '/' || p[-1] == '/') continue;
        *p = 0;
        int rc = make_one_dir(buf, path, err);
        *p = '/';
        if (rc) return -1;
    }
    return make_one_dir(buf, path, err);
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
    if (plot_make_dir(opt->out_dir, err)) return -1;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    if (!idx) return tetri_errorf(err, "out of memory");
    for (size_t i = 0; i < n; i++) idx[i] = i;
    plot_ctx c = {db, runs, n, opt, set, err};
    int rc = n == 0 ? 0
                    : plot_figures_vs(&c, idx, "attainment_vs_scale", REPORT_DIM_SCALE) || plot_figures_vs_scale_panels(&c, idx) ||
                              plot_figures_vs(&c, idx, "attainment_vs_rate", REPORT_DIM_RATE) ||
                              plot_figures_per_request(&c, idx) || plot_figures_attainment_sim_vs_real(&c, idx) ||
                              plot_figures_vs_round(&c) ||
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

