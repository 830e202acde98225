/* results/merge.c: copying every run of one results database into another (see merge.h): the
 * experiments matched by name (config texts appended), each run copied in its own transaction or,
 * when its key is there already, compared by its dump. Uses results.h only, not the db handle. */
#include "results/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One merge: the two databases, how the source is named, where conflicts go, the counts. */
typedef struct merge_job {
    results_db *into, *from;
    const char *from_name;
    results_merge_conflict_fn *on_conflict;
    void *ctx;
    results_merge_counts *counts;
} merge_job;

/* into's config `config` followed by "\n# merged from NAME:\n" and `added`, malloc'ed (NULL: out of memory). */
static char *appended_config(const char *config, const char *from_name, const char *added)
{
    static const char before[] = "\n# merged from ", after[] = ":\n";
    size_t len = strlen(config) + strlen(before) + strlen(from_name) + strlen(after) + strlen(added) + 1;
    char *text = malloc(len);
    if (text) snprintf(text, len, "%s%s%s%s%s", config, before, from_name, after, added);
    return text;
}

/* The id in job->into of experiment e of the source: created with e's config when new; one whose
 * config does not contain e's gets e's appended. */
static int merge_experiment(const merge_job *job, const results_experiment_info *e, int64_t *id, tetri_error *err)
{
    results_experiment_info *known;
    size_t n;
    if (results_list_experiments(job->into, &known, &n, err)) return -1;
    const results_experiment_info *same = NULL;
    for (size_t i = 0; i < n && !same; i++)
        if (strcmp(known[i].name, e->name) == 0) same = &known[i];
    int rc = 0;
    if (!same) {
        rc = results_experiment(job->into, e->name, e->config, id, err);
    } else {
        *id = same->id;
        if (!strstr(same->config, e->config)) {
            char *text = appended_config(same->config, job->from_name, e->config);
            rc = text ? results_experiment_set_config(job->into, same->id, text, err)
                      : tetri_errorf(err, "out of memory merging the config of experiment '%s'", e->name);
            free(text);
        }
    }
    results_experiments_free(known, n);
    return rc;
}

/* Writes run r of the source into experiment `experiment` of the target. Returns
 * results_write_run's 0 (written), 1 (its key complete there already) or -1. */
static int copy_run(const merge_job *job, int64_t experiment, const results_run *r, tetri_error *err)
{
    tetri_request_result *req = NULL;
    tetri_timeline_sample *tl = NULL;
    tetri_block_result *blocks = NULL;
    size_t n_req = 0, n_tl = 0, n_blocks = 0;
    int rc = -1;
    if (results_load_requests(job->from, r->id, &req, &n_req, err) || results_load_timeline(job->from, r->id, &tl, &n_tl, err) ||
        results_load_blocks(job->from, r->id, &blocks, &n_blocks, err)) {
        tetri_error_prefix(err, "run '%s'", r->run_key);
    } else {
        const tetri_run_info info = {.run_key = r->run_key, .policy = r->policy, .workload = r->workload, .mix = r->mix,
                                     .slo_scale = r->slo_scale, .rate_per_min = r->rate_per_min, .seed = r->seed,
                                     .backend = r->backend, .hardware = r->hardware, .model = r->model};
        rc = results_write_run(job->into, experiment, &info, &r->sum, req, n_req, tl, n_tl, blocks, n_blocks, err);
    }
    free(req);
    free(tl);
    free(blocks);
    return rc;
}

/* The results_dump_run text of a run, malloc'ed into *text. */
static int dump_text(results_db *db, int64_t experiment, const char *run_key, char **text, tetri_error *err)
{
    size_t len = 0;
    *text = NULL;
    FILE *f = open_memstream(text, &len);
    if (!f) return tetri_errorf(err, "out of memory comparing run '%s'", run_key);
    int rc = results_dump_run(db, experiment, run_key, f, err);
    if (fclose(f) != 0 && rc == 0) rc = tetri_errorf(err, "out of memory comparing run '%s'", run_key);
    if (rc) {
        free(*text);
        *text = NULL;
    }
    return rc;
}

/* The line of text at line_start into buf, from a little before column col ("..." where cut). */
static void line_around(const char *line_start, size_t col, char *buf, size_t len)
{
    const size_t from = col > len / 2 ? col - len / 2 : 0;
    const size_t room = len - 4 - (from ? 3 : 0); /* "..." before and after, the NUL */
    const size_t n = strcspn(line_start + from, "\n");
    snprintf(buf, len, "%s%.*s%s", from ? "..." : "", (int)(n < room ? n : room), line_start + from, n > room ? "..." : "");
}

/* Fills c's line number and lines with the first difference of the two dumps. */
static void first_difference(const char *into, const char *from, results_merge_conflict *c)
{
    size_t i = 0, line_start = 0;
    c->line = 1;
    for (; into[i] && into[i] == from[i]; i++)
        if (into[i] == '\n') {
            c->line++;
            line_start = i + 1;
        }
    line_around(into + line_start, i - line_start, c->into_line, sizeof c->into_line);
    line_around(from + line_start, i - line_start, c->from_line, sizeof c->from_line);
}

/* Compares run r of the source with the run of its key in the target. Returns 0 (the same), 1
 * (different: handed to on_conflict) or -1. */
static int compare_run(const merge_job *job, int64_t experiment, const results_run *r, tetri_error *err)
{
    char *into_text = NULL, *from_text = NULL;
    if (dump_text(job->into, experiment, r->run_key, &into_text, err) ||
        dump_text(job->from, r->experiment_id, r->run_key, &from_text, err)) {
        free(into_text);
        return -1;
    }
    const int differs = strcmp(into_text, from_text) != 0;
    if (differs && job->on_conflict) {
        results_merge_conflict c = {.experiment = r->experiment, .run_key = r->run_key};
        first_difference(into_text, from_text, &c);
        job->on_conflict(&c, job->ctx);
    }
    free(into_text);
    free(from_text);
    return differs;
}

/* Copies run r into the target's experiment `experiment`, or compares it with the run there. */
static int merge_run(const merge_job *job, int64_t experiment, const results_run *r, tetri_error *err)
{
    const int there = results_run_exists(job->into, experiment, r->run_key, err);
    if (there < 0) return -1;
    if (!there) {
        const int written = copy_run(job, experiment, r, err);
        if (written < 0) return -1;
        if (written == 0) {
            job->counts->copied++;
            return 0;
        }
        /* 1: a writer beside this merge wrote the key since we looked; compare with its run */
    }
    const int differs = compare_run(job, experiment, r, err);
    if (differs < 0) return -1;
    if (differs) job->counts->conflicting++;
    else job->counts->already++;
    return 0;
}

/* Every run of the source's experiment e. */
static int merge_runs_of(const merge_job *job, const results_experiment_info *e, tetri_error *err)
{
    int64_t experiment;
    if (merge_experiment(job, e, &experiment, err)) return -1;
    results_run *runs = NULL;
    size_t n = 0;
    if (results_load_runs(job->from, e->id, &runs, &n, err)) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = merge_run(job, experiment, &runs[i], err);
    results_runs_free(runs, n);
    return rc;
}

int results_merge(results_db *into, results_db *from, const char *from_name, results_merge_counts *counts,
                  results_merge_conflict_fn *on_conflict, void *ctx, tetri_error *err)
{
    const merge_job job = {into, from, from_name, on_conflict, ctx, counts};
    results_experiment_info *experiments;
    size_t n;
    if (results_list_experiments(from, &experiments, &n, err)) return -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) rc = merge_runs_of(&job, &experiments[i], err);
    results_experiments_free(experiments, n);
    return rc;
}
