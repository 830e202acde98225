/* results/read.c: reading a results database back: experiments, runs with their derived statistics
 * (attainment, latency quantiles, mean degree, GPU-seconds, block prediction errors), request rows,
 * timelines, blocks, and the canonical dump of a run. The reader uses the writer's handle (db.c),
 * never the reverse. */
#include "results/db_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results/stats.h"

static char *dup_column(sqlite3_stmt *st, int col)
{
    const char *s = (const char *)sqlite3_column_text(st, col);
    return strdup(s ? s : "");
}

void results_experiments_free(results_experiment_info *e, size_t n)
{
    if (!e) return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].config);
    }
    free(e);
}

int results_list_experiments(results_db *db, results_experiment_info **out, size_t *n, tetri_error *err)
{
    assert(db && out && n);
    *out = NULL;
    *n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql,
                           "SELECT e.id, e.name, e.config, (SELECT count(*) FROM run r WHERE r.experiment_id = e.id) "
                           "FROM experiment e ORDER BY e.name",
                           -1, &st, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot list experiments");
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            results_experiment_info *grown = realloc(*out, cap * sizeof **out);
            if (!grown) break;
            *out = grown;
        }
        results_experiment_info *e = &(*out)[(*n)++];
        e->id = sqlite3_column_int64(st, 0);
        e->name = dup_column(st, 1);
        e->config = dup_column(st, 2);
        e->n_runs = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        results_experiments_free(*out, *n);
        *out = NULL;
        *n = 0;
        return rc == SQLITE_ROW ? tetri_errorf(err, "%s: out of memory listing experiments", db->path)
                                : results_sql_error(db, err, "cannot list experiments");
    }
    return 0;
}

int results_find_experiment(results_db *db, const char *name, int64_t *id, tetri_error *err)
{
    results_experiment_info *e;
    size_t n;
    if (results_list_experiments(db, &e, &n, err)) return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) {
            *id = e[i].id;
            results_experiments_free(e, n);
            return 0;
        }
    char known[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof known; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "", e[i].name);
    results_experiments_free(e, n);
    if (n == 0) return tetri_errorf(err, "%s: no experiment '%s' (the database has no experiments)", db->path, name);
    return tetri_errorf(err, "%s: no experiment '%s'; known: %s", db->path, name, known);
}

void results_runs_free(results_run *runs, size_t n)
{
    if (!runs) return;
    for (size_t i = 0; i < n; i++) {
        results_run *r = &runs[i];
        char *strs[] = {r->experiment, r->run_key, r->policy, r->policy_name, r->workload,
                        r->mix,        r->backend, r->hardware, r->model,     r->status};
        for (size_t k = 0; k < sizeof strs / sizeof strs[0]; k++) free(strs[k]);
    }
    free(runs);
}

/* The timeline's mean degree of run r: the average over samples with a busy GPU; 0 when none is
 * busy, NAN without a timeline. Aggregated in SQL rather than copied out (1500 samples a run at a
 * 1 s period): 20% fewer instructions for that part under callgrind, and no allocation. SQLite sums
 * in key (time) order. */
static int timeline_mean_degree(results_db *db, int64_t run_id, double *out, tetri_error *err)
{
    if (results_prepare(db, &db->select_degree,
                        "SELECT count(*), coalesce(sum(busy_gpus > 0), 0), "
                        "coalesce(sum(CASE WHEN busy_gpus > 0 THEN mean_degree END), 0.0) FROM timeline WHERE run_id = ?",
                        err))
        return -1;
    sqlite3_stmt *st = db->select_degree;
    sqlite3_bind_int64(st, 1, run_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t n = sqlite3_column_int64(st, 0), busy = sqlite3_column_int64(st, 1);
        double sum = sqlite3_column_double(st, 2);
        *out = n == 0 ? NAN : busy ? sum / (double)busy : 0.0;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : results_sql_error(db, err, "cannot read the timeline");
}

/* Appends v to the growing array *a (n used, *cap allocated). Returns 0, or -1 out of memory. */
static int push_double(double **a, size_t n, size_t *cap, double v)
{
    if (n == *cap) {
        size_t grown_cap = *cap ? 2 * *cap : 256;
        double *grown = realloc(*a, grown_cap * sizeof *grown);
        if (!grown) return -1;
        *a = grown;
        *cap = grown_cap;
    }
    (*a)[n] = v;
    return 0;
}

/* The block statistics of r: counts, and the relative duration error and start delay of the blocks
 * that did not fail (a failed block's end is when the failure was seen) and were predicted to take
 * time. Only the differences are read, not whole rows: this runs for every run a report loads. */
static int block_stats(results_db *db, results_run *r, tetri_error *err)
{
    r->n_blocks = r->failed_blocks = 0;
    r->block_err_mean = r->block_err_p50 = r->block_err_p99 = NAN;
    r->start_delay_p50_ms = r->start_delay_p99_ms = NAN;
    if (db->schema_version < 2) return 0; /* no block table */
    if (results_prepare(db, &db->select_block_errors,
                        "SELECT failed, pred_end_ns - pred_start_ns, end_ns - start_ns, start_ns - pred_start_ns "
                        "FROM block WHERE run_id = ?",
                        err))
        return -1;
    sqlite3_stmt *st = db->select_block_errors;
    sqlite3_bind_int64(st, 1, r->id);
    double *rel = NULL, *delay = NULL, sum = 0;
    size_t n = 0, cap_rel = 0, cap_delay = 0;
    int rc = SQLITE_DONE, oom = 0;
    while (!oom && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        r->n_blocks++;
        int64_t pred = sqlite3_column_int64(st, 1), actual = sqlite3_column_int64(st, 2);
        if (sqlite3_column_int(st, 0)) r->failed_blocks++;
        if (sqlite3_column_int(st, 0) || pred <= 0) continue;
        double e = (double)(actual - pred) / (double)pred;
        double delay_ms = (double)sqlite3_column_int64(st, 3) / 1e6;
        oom = push_double(&rel, n, &cap_rel, e) || push_double(&delay, n, &cap_delay, delay_ms);
        if (!oom) sum += e, n++;
    }
    sqlite3_reset(st);
    if (!oom && rc == SQLITE_DONE && n > 0) {
        qsort(rel, n, sizeof *rel, stats_compare_double);
        qsort(delay, n, sizeof *delay, stats_compare_double);
        r->block_err_mean = sum / (double)n;
        r->block_err_p50 = stats_quantile_sorted(rel, n, 0.50);
        r->block_err_p99 = stats_quantile_sorted(rel, n, 0.99);
        r->start_delay_p50_ms = stats_quantile_sorted(delay, n, 0.50);
        r->start_delay_p99_ms = stats_quantile_sorted(delay, n, 0.99);
    }
    free(rel);
    free(delay);
    if (oom) return tetri_errorf(err, "%s: out of memory reading blocks", db->path);
    return rc == SQLITE_DONE ? 0 : results_sql_error(db, err, "cannot read the blocks");
}

/* Fills the statistics of r derived from its request, timeline and block rows. */
static int derive_stats(results_db *db, results_run *r, tetri_error *err)
{
    tetri_request_result *req = NULL;
    size_t n_req = 0;
    if (results_load_requests(db, r->id, &req, &n_req, err) || timeline_mean_degree(db, r->id, &r->mean_degree, err) ||
        block_stats(db, r, err)) {
        free(req);
        return -1;
    }
    double *lat = malloc((n_req ? n_req : 1) * sizeof *lat);
    if (!lat) {
        free(req);
        return tetri_errorf(err, "%s: out of memory", db->path);
    }
    int64_t gpu_ns = 0;
    for (size_t i = 0; i < n_req; i++) {
        lat[i] = req[i].outcome == TETRI_DROPPED || req[i].finish < 0 ? INFINITY
                                                                      : (double)(req[i].finish - req[i].arrival) / 1e9;
        gpu_ns += req[i].gpu_ns;
    }
    qsort(lat, n_req, sizeof *lat, stats_compare_double);
    r->p50_latency_s = stats_quantile_sorted(lat, n_req, 0.50);
    r->p99_latency_s = stats_quantile_sorted(lat, n_req, 0.99);
    r->gpu_seconds = (double)gpu_ns / 1e9;
    r->attainment = r->sum.n > 0 ? (double)r->sum.met / r->sum.n : 0.0;
    free(lat);
    free(req);
    return 0;
}

/* The "load=RHO" item of a workload text ("...,rate=41.7,load=0.5,..."), or 0 when it has none. */
static double workload_load(const char *workload)
{
    const char *p = workload ? strstr(workload, ",load=") : NULL;
    return p ? strtod(p + 6, NULL) : 0.0;
}

int results_load_runs(results_db *db, int64_t experiment, results_run **out, size_t *n, tetri_error *err)
{
    assert(db && out && n);
    *out = NULL;
    *n = 0;
    /* The note column came with version 3; an older file read as it is has none. */
#define SELECT_RUNS(note)                                                                                              \
    "SELECT r.id, r.experiment_id, e.name, r.run_key, r.policy, r.policy_name, r.workload, r.mix, "                  \
    "r.backend, r.hardware, r.model, r.status, r.slo_scale, r.rate_per_min, r.seed, r.n_requests, "                  \
    "r.met, r.late, r.dropped, r.wall_s, r.decide_calls, r.decide_median_ns, r.decide_p99_ns, "                      \
    "r.decide_max_ns, r.makespan_ns, " note " FROM run r JOIN experiment e ON e.id = r.experiment_id "               \
    "WHERE ?1 < 0 OR r.experiment_id = ?1 "                                                                          \
    "ORDER BY e.name, r.model, r.hardware, r.mix, r.policy, r.slo_scale, r.rate_per_min, r.seed, "                   \
    "r.backend, r.run_key"
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, db->schema_version >= 3 ? SELECT_RUNS("r.note") : SELECT_RUNS("NULL"), -1, &st,
                           NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot read the runs");
#undef SELECT_RUNS
    sqlite3_bind_int64(st, 1, experiment);
    size_t cap = 0;
    int rc;
    results_run *runs = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            results_run *grown = realloc(runs, cap * sizeof *runs);
            if (!grown) break;
            runs = grown;
        }
        results_run *r = &runs[(*n)++];
        memset(r, 0, sizeof *r);
        int k = 0;
        r->id = sqlite3_column_int64(st, k++);
        r->experiment_id = sqlite3_column_int64(st, k++);
        r->experiment = dup_column(st, k++);
        r->run_key = dup_column(st, k++);
        r->policy = dup_column(st, k++);
        r->policy_name = dup_column(st, k++);
        r->workload = dup_column(st, k++);
        r->mix = dup_column(st, k++);
        r->backend = dup_column(st, k++);
        r->hardware = dup_column(st, k++);
        r->model = dup_column(st, k++);
        r->status = dup_column(st, k++);
        r->slo_scale = sqlite3_column_double(st, k++);
        r->rate_per_min = sqlite3_column_double(st, k++);
        r->load = workload_load(r->workload);
        r->seed = (uint64_t)sqlite3_column_int64(st, k++);
        r->sum.n = sqlite3_column_int(st, k++);
        r->sum.met = sqlite3_column_int(st, k++);
        r->sum.late = sqlite3_column_int(st, k++);
        r->sum.dropped = sqlite3_column_int(st, k++);
        r->sum.wall_s = sqlite3_column_double(st, k++);
        r->sum.decide_calls = sqlite3_column_int64(st, k++);
        r->sum.decide_median_ns = sqlite3_column_int64(st, k++);
        r->sum.decide_p99_ns = sqlite3_column_int64(st, k++);
        r->sum.decide_max_ns = sqlite3_column_int64(st, k++);
        r->sum.makespan = sqlite3_column_int64(st, k++);
        const char *note = (const char *)sqlite3_column_text(st, k++);
        snprintf(r->sum.note, sizeof r->sum.note, "%s", note ? note : "");
        r->sum.partial = r->status && strcmp(r->status, "partial") == 0;
        if (!r->experiment || !r->run_key || !r->policy || !r->policy_name || !r->workload || !r->mix || !r->backend ||
            !r->hardware || !r->model || !r->status)
            break;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        results_runs_free(runs, *n);
        *n = 0;
        return rc == SQLITE_ROW ? tetri_errorf(err, "%s: out of memory reading runs", db->path)
                                : results_sql_error(db, err, "cannot read the runs");
    }
    for (size_t i = 0; i < *n; i++)
        if (derive_stats(db, &runs[i], err)) {
            tetri_error_prefix(err, "run '%s'", runs[i].run_key);
            results_runs_free(runs, *n);
            *n = 0;
            return -1;
        }
    *out = runs;
    return 0;
}

int results_load_requests(results_db *db, int64_t run_id, tetri_request_result **out, size_t *n, tetri_error *err)
{
    assert(db && out && n);
    *out = NULL;
    *n = 0;
    if (results_prepare(db, &db->select_requests,
                        "SELECT id, model, width, height, steps, arrival_ns, deadline_ns, first_start_ns, finish_ns, "
                        "outcome, gpu_ns, degree_changes, migrations, max_degree FROM request WHERE run_id = ? ORDER BY id",
                        err))
        return -1;
    sqlite3_stmt *st = db->select_requests;
    sqlite3_bind_int64(st, 1, run_id);
    size_t cap = 0;
    int rc, bad = 0;
    tetri_request_result *rows = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            tetri_request_result *grown = realloc(rows, cap * sizeof *rows);
            if (!grown) break;
            rows = grown;
        }
        tetri_request_result *r = &rows[(*n)++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int(st, 0);
        const char *model = (const char *)sqlite3_column_text(st, 1);
        const char *outcome = (const char *)sqlite3_column_text(st, 9);
        if (!model || tetri_model_parse(model, &r->model) != 0) bad = 1;
        r->width = sqlite3_column_int(st, 2);
        r->height = sqlite3_column_int(st, 3);
        r->steps = sqlite3_column_int(st, 4);
        r->arrival = sqlite3_column_int64(st, 5);
        r->deadline = sqlite3_column_int64(st, 6);
        r->first_start = sqlite3_column_int64(st, 7);
        r->finish = sqlite3_column_int64(st, 8);
        if (outcome && strcmp(outcome, "met") == 0) r->outcome = TETRI_MET;
        else if (outcome && strcmp(outcome, "late") == 0) r->outcome = TETRI_LATE;
        else if (outcome && strcmp(outcome, "dropped") == 0) r->outcome = TETRI_DROPPED;
        else bad = 1;
        r->gpu_ns = sqlite3_column_int64(st, 10);
        r->degree_changes = sqlite3_column_int(st, 11);
        r->migrations = sqlite3_column_int(st, 12);
        r->max_degree = sqlite3_column_int(st, 13);
        if (bad) {
            int id = r->id;
            sqlite3_reset(st);
            free(rows);
            *n = 0;
            return tetri_errorf(err, "%s: request %d of run %" PRId64 " has an unknown model '%s' or outcome '%s'", db->path,
                                id, run_id, model ? model : "", outcome ? outcome : "");
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(rows);
        *n = 0;
        return rc == SQLITE_ROW ? tetri_errorf(err, "%s: out of memory reading requests", db->path)
                                : results_sql_error(db, err, "cannot read request rows");
    }
    *out = rows;
    return 0;
}

int results_load_timeline(results_db *db, int64_t run_id, tetri_timeline_sample **out, size_t *n, tetri_error *err)
{
    assert(db && out && n);
    *out = NULL;
    *n = 0;
    if (results_prepare(db, &db->select_timeline,
                        "SELECT t_ns, busy_gpus, mean_degree, pending FROM timeline WHERE run_id = ? ORDER BY t_ns", err))
        return -1;
    sqlite3_stmt *st = db->select_timeline;
    sqlite3_bind_int64(st, 1, run_id);
    size_t cap = 0;
    int rc;
    tetri_timeline_sample *rows = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            tetri_timeline_sample *grown = realloc(rows, cap * sizeof *rows);
            if (!grown) break;
            rows = grown;
        }
        tetri_timeline_sample *s = &rows[(*n)++];
        s->t = sqlite3_column_int64(st, 0);
        s->busy_gpus = sqlite3_column_int(st, 1);
        s->mean_degree = sqlite3_column_double(st, 2);
        s->pending = sqlite3_column_int(st, 3);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(rows);
        *n = 0;
        return rc == SQLITE_ROW ? tetri_errorf(err, "%s: out of memory reading the timeline", db->path)
                                : results_sql_error(db, err, "cannot read the timeline");
    }
    *out = rows;
    return 0;
}

/* The request ids of a batch from the block row's request_id and batch text ("3,7,12"; NULL for
 * one request) into b->req. Returns 0, or -1 when they disagree with each other or with n_req. */
static int parse_batch(int64_t first, const char *batch, tetri_block_result *b)
{
    if (b->n_req < 1 || b->n_req > TETRI_MAX_BATCH || first < INT32_MIN || first > INT32_MAX) return -1;
    b->req[0] = (int32_t)first;
    if (b->n_req == 1) return batch ? -1 : 0;
    if (!batch) return -1;
    const char *p = batch;
    for (int k = 0; k < b->n_req; k++) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < INT32_MIN || v > INT32_MAX || *end != (k + 1 < b->n_req ? ',' : '\0')) return -1;
        b->req[k] = (int32_t)v;
        p = end + 1;
    }
    return b->req[0] == first ? 0 : -1;
}

int results_load_blocks(results_db *db, int64_t run_id, tetri_block_result **out, size_t *n, tetri_error *err)
{
    assert(db && out && n);
    *out = NULL;
    *n = 0;
    if (db->schema_version < 2) return 0; /* a version-1 file has no block table: no blocks */
    if (results_prepare(db, &db->select_blocks,
                        "SELECT seq, gpus, steps, n_req, request_id, batch, pred_start_ns, pred_end_ns, start_ns, end_ns, "
                        "migration_ns, failed FROM block WHERE run_id = ? ORDER BY seq",
                        err))
        return -1;
    sqlite3_stmt *st = db->select_blocks;
    sqlite3_bind_int64(st, 1, run_id);
    size_t cap = 0;
    int rc;
    tetri_block_result *rows = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? 2 * cap : 256;
            tetri_block_result *grown = realloc(rows, cap * sizeof *rows);
            if (!grown) break;
            rows = grown;
        }
        tetri_block_result *b = &rows[(*n)++];
        memset(b, 0, sizeof *b);
        b->seq = sqlite3_column_int(st, 0);
        b->gpus = (tetri_gpuset)sqlite3_column_int64(st, 1);
        b->steps = sqlite3_column_int(st, 2);
        b->n_req = sqlite3_column_int(st, 3);
        const char *batch = (const char *)sqlite3_column_text(st, 5);
        if (parse_batch(sqlite3_column_int64(st, 4), batch, b)) {
            int seq = b->seq, n_req = b->n_req;
            char text[64];
            snprintf(text, sizeof text, "%s", batch ? batch : "NULL");
            sqlite3_reset(st);
            free(rows);
            *n = 0;
            return tetri_errorf(err, "%s: block %d of run %" PRId64 " has a bad batch: n_req %d, batch '%s'", db->path, seq,
                                run_id, n_req, text);
        }
        b->pred_start = sqlite3_column_int64(st, 6);
        b->pred_end = sqlite3_column_int64(st, 7);
        b->start = sqlite3_column_int64(st, 8);
        b->end = sqlite3_column_int64(st, 9);
        b->migration_ns = sqlite3_column_int64(st, 10);
        b->failed = sqlite3_column_int(st, 11);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(rows);
        *n = 0;
        return rc == SQLITE_ROW ? tetri_errorf(err, "%s: out of memory reading blocks", db->path)
                                : results_sql_error(db, err, "cannot read the blocks");
    }
    *out = rows;
    return 0;
}

/* %.17g, with one spelling for special values so the dump never depends on the C library. */
static void put_double(FILE *out, double v)
{
    if (v != v) fputs("nan", out);
    else fprintf(out, "%.17g", v);
}

/* The dump's first lines: the run's identity and counts; its row id into *run_id. */
static int dump_run_header(results_db *db, int64_t experiment, const char *run_key, FILE *out, int64_t *run_id,
                           tetri_error *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql,
                           "SELECT id, run_key, policy, workload, mix, slo_scale, rate_per_min, seed, backend, hardware, "
                           "model, n_requests, met, late, dropped, makespan_ns, decide_calls, status FROM run "
                           "WHERE experiment_id = ? AND run_key = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot read the run");
    sqlite3_bind_int64(st, 1, experiment);
    sqlite3_bind_text(st, 2, run_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return tetri_errorf(err, "%s: no run '%s' in experiment %" PRId64, db->path, run_key, experiment);
        return results_sql_error(db, err, "cannot read the run");
    }
    *run_id = sqlite3_column_int64(st, 0);
    fprintf(out, "run %s\npolicy %s\nworkload %s\nmix %s\nslo_scale ", (const char *)sqlite3_column_text(st, 1),
            (const char *)sqlite3_column_text(st, 2), (const char *)sqlite3_column_text(st, 3),
            (const char *)sqlite3_column_text(st, 4));
    put_double(out, sqlite3_column_double(st, 5));
    fputs("\nrate_per_min ", out);
    put_double(out, sqlite3_column_double(st, 6));
    fprintf(out,
            "\nseed %" PRIu64 "\nbackend %s\nhardware %s\nmodel %s\n"
            "n %d met %d late %d dropped %d makespan_ns %" PRId64 " decide_calls %" PRId64 " status %s\n",
            (uint64_t)sqlite3_column_int64(st, 7), (const char *)sqlite3_column_text(st, 8),
            (const char *)sqlite3_column_text(st, 9), (const char *)sqlite3_column_text(st, 10),
            sqlite3_column_int(st, 11), sqlite3_column_int(st, 12), sqlite3_column_int(st, 13),
            sqlite3_column_int(st, 14), (int64_t)sqlite3_column_int64(st, 15), (int64_t)sqlite3_column_int64(st, 16),
            (const char *)sqlite3_column_text(st, 17));
    sqlite3_finalize(st);
    return 0;
}

/* One line per block: GPU set in hex, the batch's request ids comma-separated. */
static void dump_blocks(FILE *out, const tetri_block_result *b, size_t n)
{
    fputs("# block seq gpus degree steps requests pred_start_ns pred_end_ns start_ns end_ns migration_ns failed\n", out);
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "block %d 0x%" PRIx64 " %d %d ", b[i].seq, (uint64_t)b[i].gpus, tetri_gpuset_count(b[i].gpus),
                b[i].steps);
        for (int k = 0; k < b[i].n_req; k++) fprintf(out, "%s%d", k ? "," : "", b[i].req[k]);
        fprintf(out, " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %d\n", b[i].pred_start, b[i].pred_end,
                b[i].start, b[i].end, b[i].migration_ns, b[i].failed);
    }
}

int results_dump_run(results_db *db, int64_t experiment, const char *run_key, FILE *out, tetri_error *err)
{
    assert(db && run_key && out);
    int64_t run_id = 0;
    if (dump_run_header(db, experiment, run_key, out, &run_id, err)) return -1;
    tetri_request_result *req = NULL;
    tetri_timeline_sample *tl = NULL;
    tetri_block_result *blocks = NULL;
    size_t n_req = 0, n_tl = 0, n_blocks = 0;
    if (results_load_requests(db, run_id, &req, &n_req, err) || results_load_timeline(db, run_id, &tl, &n_tl, err) ||
        results_load_blocks(db, run_id, &blocks, &n_blocks, err)) {
        free(req);
        free(tl);
        return -1;
    }
    fputs("# request id model width height steps arrival_ns deadline_ns first_start_ns finish_ns outcome gpu_ns "
          "degree_changes migrations max_degree\n",
          out);
    for (size_t i = 0; i < n_req; i++) {
        const tetri_request_result *r = &req[i];
        fprintf(out, "request %d %s %d %d %d %" PRId64 " %" PRId64 " %" PRId64 " %" PRId64 " %s %" PRId64 " %d %d %d\n",
                r->id, tetri_model_name(r->model), r->width, r->height, r->steps, r->arrival, r->deadline,
                r->first_start, r->finish, tetri_outcome_name(r->outcome), r->gpu_ns, r->degree_changes, r->migrations,
                r->max_degree);
    }
    fputs("# timeline t_ns busy_gpus mean_degree pending\n", out);
    for (size_t i = 0; i < n_tl; i++) {
        fprintf(out, "timeline %" PRId64 " %d ", tl[i].t, tl[i].busy_gpus);
        put_double(out, tl[i].mean_degree);
        fprintf(out, " %d\n", tl[i].pending);
    }
    dump_blocks(out, blocks, n_blocks);
    free(req);
    free(tl);
    free(blocks);
    if (ferror(out)) return tetri_errorf(err, "cannot write the dump of run '%s': %s", run_key, strerror(errno));
    return 0;
}
