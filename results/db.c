/* results/db.c: the results database: schema, open/check, experiments, writing a run in one
 * transaction and resume checks (see results.h, docs/results.md). */
#include "results/db_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Schema version 1. Times are integer nanoseconds. A run row exists only with all its request and
 * timeline rows (one transaction), so status is 'done' for every row; the column stays so a later
 * version can record failed or partial runs without a schema change to readers. */
static const char schema_sql[] =
    "CREATE TABLE meta (\n"
    "  key   TEXT PRIMARY KEY,  -- 'kind' = 'tetri-results', 'schema_version' = '1'\n"
    "  value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE experiment (\n"
    "  id     INTEGER PRIMARY KEY,\n"
    "  name   TEXT NOT NULL UNIQUE,\n"
    "  config TEXT NOT NULL     -- the full config text of the sweep\n"
    ");\n"
    "CREATE TABLE run (\n"
    "  id            INTEGER PRIMARY KEY,\n"
    "  experiment_id INTEGER NOT NULL REFERENCES experiment(id),\n"
    "  run_key       TEXT NOT NULL,\n"
    "  policy        TEXT NOT NULL,  -- canonical 'name:key=value,...'\n"
    "  policy_name   TEXT NOT NULL,  -- the part before ':'\n"
    "  workload      TEXT NOT NULL,\n"
    "  mix           TEXT NOT NULL,\n"
    "  slo_scale     REAL NOT NULL,\n"
    "  rate_per_min  REAL NOT NULL,\n"
    "  seed          INTEGER NOT NULL, -- uint64 stored as its int64 bit pattern\n"
    "  backend       TEXT NOT NULL CHECK (backend = 'sim' OR backend = 'exec'),\n"
    "  hardware      TEXT NOT NULL,\n"
    "  model         TEXT NOT NULL,\n"
    "  n_requests    INTEGER NOT NULL CHECK (n_requests >= 0),\n"
    "  met           INTEGER NOT NULL,\n"
    "  late          INTEGER NOT NULL,\n"
    "  dropped       INTEGER NOT NULL,\n"
    "  makespan_ns   INTEGER NOT NULL,\n"
    "  decide_calls  INTEGER NOT NULL,\n"
    "  -- measurements of the host, not reproducible:\n"
    "  wall_s           REAL NOT NULL,\n"
    "  decide_median_ns INTEGER NOT NULL,\n"
    "  decide_p99_ns    INTEGER NOT NULL,\n"
    "  decide_max_ns    INTEGER NOT NULL,\n"
    "  status        TEXT NOT NULL DEFAULT 'done' CHECK (status = 'done'),\n"
    "  CHECK (met + late + dropped = n_requests),\n"
    "  UNIQUE (experiment_id, run_key)\n"
    ");\n"
    "CREATE INDEX run_by_group ON run (experiment_id, model, hardware, mix, policy_name, slo_scale, rate_per_min);\n"
    "CREATE TABLE request (\n"
    "  run_id         INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
    "  id             INTEGER NOT NULL,\n"
    "  model          TEXT NOT NULL,\n"
    "  width          INTEGER NOT NULL,\n"
    "  height         INTEGER NOT NULL,\n"
    "  steps          INTEGER NOT NULL,\n"
    "  arrival_ns     INTEGER NOT NULL,\n"
    "  deadline_ns    INTEGER NOT NULL,\n"
    "  first_start_ns INTEGER NOT NULL,  -- -1: never started\n"
    "  finish_ns      INTEGER NOT NULL,  -- -1: dropped before finishing\n"
    "  -- spelled with OR, not IN: SQLite builds a temporary index for an IN list on every insert\n"
    "  outcome        TEXT NOT NULL CHECK (outcome = 'met' OR outcome = 'late' OR outcome = 'dropped'),\n"
    "  gpu_ns         INTEGER NOT NULL,\n"
    "  degree_changes INTEGER NOT NULL,\n"
    "  migrations     INTEGER NOT NULL,\n"
    "  max_degree     INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, id)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE timeline (\n"
    "  run_id      INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"
    "  t_ns        INTEGER NOT NULL,\n"
    "  busy_gpus   INTEGER NOT NULL,\n"
    "  mean_degree REAL NOT NULL,\n"
    "  pending     INTEGER NOT NULL,\n"
    "  PRIMARY KEY (run_id, t_ns)\n"
    ") WITHOUT ROWID;\n"
    "INSERT INTO meta (key, value) VALUES ('kind', 'tetri-results'), ('schema_version', '1');\n";

int results_sql_error(results_db *db, tetri_error *err, const char *what)
{
    if (!db->sql) return tetri_errorf(err, "%s: %s: out of memory", db->path, what);
    /* For file-system failures the OS's reason says more than SQLite's ("unable to open database file"). */
    int code = sqlite3_errcode(db->sql), sys = sqlite3_system_errno(db->sql);
    if (sys && (code == SQLITE_CANTOPEN || code == SQLITE_IOERR || code == SQLITE_READONLY || code == SQLITE_PERM))
        return tetri_errorf(err, "%s: %s: %s (%s)", db->path, what, sqlite3_errmsg(db->sql), strerror(sys));
    return tetri_errorf(err, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->sql));
}

int results_prepare(results_db *db, sqlite3_stmt **stmt, const char *sql, tetri_error *err)
{
    if (*stmt) return 0;
    if (sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, NULL) != SQLITE_OK) {
        *stmt = NULL;
        return results_sql_error(db, err, "cannot prepare a statement");
    }
    return 0;
}

/* Runs SQL text with no result rows. */
static int exec_sql(results_db *db, const char *sql, const char *what, tetri_error *err)
{
    if (sqlite3_exec(db->sql, sql, NULL, NULL, NULL) != SQLITE_OK) return results_sql_error(db, err, what);
    return 0;
}

/* The meta value of `key` into buf ("" when absent). Returns 0, or -1 when the query fails. */
static int meta_value(results_db *db, const char *key, char *buf, size_t len, tetri_error *err)
{
    sqlite3_stmt *st = NULL;
    buf[0] = 0;
    if (sqlite3_prepare_v2(db->sql, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot read the meta table");
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return results_sql_error(db, err, "cannot read the meta table");
    return 0;
}

/* Creates the schema in an empty database, or checks that an existing one is ours and not newer. */
static int create_or_check_schema(results_db *db, tetri_error *err)
{
    sqlite3_stmt *st = NULL;
    int n_tables = -1, has_meta = 0;
    if (sqlite3_prepare_v2(db->sql, "SELECT count(*), coalesce(sum(name = 'meta'), 0) FROM sqlite_master WHERE type = 'table'",
                           -1, &st, NULL) != SQLITE_OK) {
        int code = sqlite3_errcode(db->sql);
        if (code == SQLITE_NOTADB)
            return tetri_errorf(err, "%s: not a tetri results database (not an SQLite file)", db->path);
        return results_sql_error(db, err, "cannot read the database");
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        n_tables = sqlite3_column_int(st, 0);
        has_meta = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) {
        if (sqlite3_errcode(db->sql) == SQLITE_NOTADB)
            return tetri_errorf(err, "%s: not a tetri results database (not an SQLite file)", db->path);
        return results_sql_error(db, err, "cannot read the database");
    }
    if (n_tables == 0) {
        if (db->readonly) return tetri_errorf(err, "%s: not a tetri results database (it is empty)", db->path);
        if (exec_sql(db, "BEGIN IMMEDIATE", "cannot start the schema transaction", err)) return -1;
        if (exec_sql(db, schema_sql, "cannot create the results schema", err)) {
            sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
            return -1;
        }
        return exec_sql(db, "COMMIT", "cannot commit the results schema", err);
    }
    char kind[64], version[32];
    if (!has_meta || meta_value(db, "kind", kind, sizeof kind, err))
        return tetri_errorf(err, "%s: not a tetri results database (it has tables but no meta table)", db->path);
    if (strcmp(kind, "tetri-results") != 0)
        return tetri_errorf(err, "%s: not a tetri results database (its meta kind is '%s', expected 'tetri-results')",
                            db->path, kind);
    if (meta_value(db, "schema_version", version, sizeof version, err)) return -1;
    char *end;
    long v = strtol(version, &end, 10);
    if (!version[0] || *end || v < 1)
        return tetri_errorf(err, "%s: results schema_version '%s' is not a positive integer", db->path, version);
    if (v > TETRI_RESULTS_SCHEMA_VERSION)
        return tetri_errorf(err, "%s: results schema version %ld is newer than this tetri reads (%d); use a newer tetri",
                            db->path, v, TETRI_RESULTS_SCHEMA_VERSION);
    if (v < TETRI_RESULTS_SCHEMA_VERSION)
        return tetri_errorf(err, "%s: results schema version %ld is older than %d and cannot be upgraded", db->path, v,
                            TETRI_RESULTS_SCHEMA_VERSION);
    return 0;
}

static int open_db(const char *path, int readonly, results_db **out, tetri_error *err)
{
    assert(path && out);
    *out = NULL;
    if (readonly) {
        struct stat sb;
        if (stat(path, &sb) != 0) return tetri_errorf(err, "%s: cannot open results database: %s", path, strerror(errno));
        if (!S_ISREG(sb.st_mode)) return tetri_errorf(err, "%s: not a tetri results database (not a regular file)", path);
    }
    results_db *db = calloc(1, sizeof *db);
    if (!db) return tetri_errorf(err, "%s: out of memory", path);
    snprintf(db->path, sizeof db->path, "%s", path);
    db->readonly = readonly;
    /* NOMUTEX: a results_db handle belongs to one thread (the sweep driver), so SQLite need not lock
     * each call; parallel sweeps open their own handles. A reader opens read-write without CREATE
     * and sets query_only: a SQLITE_OPEN_READONLY connection cannot checkpoint and remove the
     * -wal/-shm files when it closes, so every report would leave them next to the database. (A
     * write-protected file still opens, read-only.) */
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | (readonly ? 0 : SQLITE_OPEN_CREATE);
    if (sqlite3_open_v2(path, &db->sql, flags, NULL) != SQLITE_OK) {
        results_sql_error(db, err, "cannot open results database");
        results_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->sql, 0);
    sqlite3_busy_timeout(db->sql, 10000); /* parallel sweeps may write the same file */
    if (readonly && exec_sql(db, "PRAGMA query_only = ON", "cannot open read-only", err)) {
        results_close(db);
        return -1;
    }
    if (create_or_check_schema(db, err)) {
        results_close(db);
        return -1;
    }
    /* WAL: readers (report, plot) never block a running sweep; NORMAL sync is durable at each
     * checkpoint and never corrupts, which is all a results db needs. */
    if (!readonly && (exec_sql(db, "PRAGMA journal_mode = WAL", "cannot set WAL mode", err) ||
                      exec_sql(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "cannot set pragmas", err))) {
        results_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

int results_open(const char *path, results_db **out, tetri_error *err) { return open_db(path, 0, out, err); }
int results_open_readonly(const char *path, results_db **out, tetri_error *err) { return open_db(path, 1, out, err); }

void results_close(results_db *db)
{
    if (!db) return;
    sqlite3_stmt **stmts[] = {&db->insert_run,        &db->insert_request,    &db->insert_timeline, &db->select_run_done,
                              &db->select_experiment, &db->insert_experiment, &db->select_requests, &db->select_timeline, &db->select_degree,
                              &db->begin_tx,          &db->commit_tx,         &db->rollback_tx};
    for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) sqlite3_finalize(*stmts[i]);
    sqlite3_close(db->sql);
    free(db);
}

int results_experiment(results_db *db, const char *name, const char *config_text, int64_t *id, tetri_error *err)
{
    assert(db && id);
    if (!name || !name[0]) return tetri_errorf(err, "%s: an experiment needs a non-empty name", db->path);
    if (results_prepare(db, &db->select_experiment, "SELECT id FROM experiment WHERE name = ?", err) ||
        results_prepare(db, &db->insert_experiment, "INSERT INTO experiment (name, config) VALUES (?, ?)", err))
        return -1;
    sqlite3_stmt *st = db->select_experiment;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return results_sql_error(db, err, "cannot look up the experiment");
    st = db->insert_experiment;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, config_text ? config_text : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return results_sql_error(db, err, "cannot create the experiment");
    *id = sqlite3_last_insert_rowid(db->sql);
    return 0;
}

int results_run_done(results_db *db, int64_t experiment, const char *run_key, tetri_error *err)
{
    assert(db && run_key);
    if (results_prepare(db, &db->select_run_done,
                        "SELECT 1 FROM run WHERE experiment_id = ? AND run_key = ? AND status = 'done'", err))
        return -1;
    sqlite3_stmt *st = db->select_run_done;
    sqlite3_bind_int64(st, 1, experiment);
    sqlite3_bind_text(st, 2, run_key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return results_sql_error(db, err, "cannot check whether a run is done");
}

/* Checks a run before anything is written: every field present, counts consistent with the rows. */
static int validate_run(const results_db *db, const tetri_run_info *info, const tetri_run_summary *sum,
                        const tetri_request_result *req, size_t n_req, const tetri_timeline_sample *tl, size_t n_tl,
                        tetri_error *err)
{
    const char *fields[] = {info->run_key, info->policy, info->workload, info->mix, info->backend, info->hardware, info->model};
    const char *names[] = {"run_key", "policy", "workload", "mix", "backend", "hardware", "model"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!fields[i] || !fields[i][0])
            return tetri_errorf(err, "%s: run '%s': field %s is empty", db->path, info->run_key ? info->run_key : "?", names[i]);
    if (strcmp(info->backend, "sim") != 0 && strcmp(info->backend, "exec") != 0)
        return tetri_errorf(err, "%s: run '%s': backend '%s' is neither 'sim' nor 'exec'", db->path, info->run_key, info->backend);
    if (n_req && !req) return tetri_errorf(err, "%s: run '%s': %zu requests but no rows", db->path, info->run_key, n_req);
    if (n_tl && !tl) return tetri_errorf(err, "%s: run '%s': %zu timeline samples but no rows", db->path, info->run_key, n_tl);
    int32_t count[3] = {0, 0, 0};
    for (size_t i = 0; i < n_req; i++) {
        if ((unsigned)req[i].outcome > TETRI_DROPPED || (unsigned)req[i].model >= TETRI_MODEL_COUNT)
            return tetri_errorf(err, "%s: run '%s': request %d has an invalid outcome or model", db->path, info->run_key, req[i].id);
        count[req[i].outcome]++;
    }
    if ((size_t)sum->n != n_req || sum->met != count[TETRI_MET] || sum->late != count[TETRI_LATE] ||
        sum->dropped != count[TETRI_DROPPED])
        return tetri_errorf(err,
                            "%s: run '%s': summary says n=%d met=%d late=%d dropped=%d but the %zu request rows have "
                            "met=%d late=%d dropped=%d",
                            db->path, info->run_key, sum->n, sum->met, sum->late, sum->dropped, n_req, count[0], count[1],
                            count[2]);
    return 0;
}

/* The policy name: the text before ':' (at most len-1 bytes). */
static void policy_name_of(const char *policy, char *buf, size_t len)
{
    size_t n = strcspn(policy, ":");
    if (n >= len) n = len - 1;
    memcpy(buf, policy, n);
    buf[n] = 0;
}

/* Steps a statement without result rows and resets it; returns the step's code. */
static int step_once(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc;
}

static int insert_rows(results_db *db, int64_t experiment, const tetri_run_info *info, const tetri_run_summary *sum,
                       const tetri_request_result *req, size_t n_req, const tetri_timeline_sample *tl, size_t n_tl,
                       tetri_error *err)
{
    char policy_name[128];
    policy_name_of(info->policy, policy_name, sizeof policy_name);
    sqlite3_stmt *st = db->insert_run;
    int k = 1;
    sqlite3_bind_int64(st, k++, experiment);
    sqlite3_bind_text(st, k++, info->run_key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, info->policy, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, policy_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, info->workload, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, info->mix, -1, SQLITE_STATIC);
    sqlite3_bind_double(st, k++, info->slo_scale);
    sqlite3_bind_double(st, k++, info->rate_per_min);
    sqlite3_bind_int64(st, k++, (int64_t)info->seed);
    sqlite3_bind_text(st, k++, info->backend, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, info->hardware, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, k++, info->model, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, k++, sum->n);
    sqlite3_bind_int(st, k++, sum->met);
    sqlite3_bind_int(st, k++, sum->late);
    sqlite3_bind_int(st, k++, sum->dropped);
    sqlite3_bind_int64(st, k++, sum->makespan);
    sqlite3_bind_int64(st, k++, sum->decide_calls);
    sqlite3_bind_double(st, k++, sum->wall_s);
    sqlite3_bind_int64(st, k++, sum->decide_median_ns);
    sqlite3_bind_int64(st, k++, sum->decide_p99_ns);
    sqlite3_bind_int64(st, k++, sum->decide_max_ns);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) {
        if (sqlite3_errcode(db->sql) == SQLITE_CONSTRAINT && results_run_done(db, experiment, info->run_key, NULL) == 1)
            return tetri_errorf(err, "%s: run '%s' of experiment %" PRId64 " is already written", db->path, info->run_key,
                                experiment);
        return results_sql_error(db, err, "cannot write the run row");
    }
    int64_t run_id = sqlite3_last_insert_rowid(db->sql);

    st = db->insert_request;
    for (size_t i = 0; i < n_req; i++) {
        const tetri_request_result *r = &req[i];
        k = 1;
        sqlite3_bind_int64(st, k++, run_id);
        sqlite3_bind_int(st, k++, r->id);
        sqlite3_bind_text(st, k++, tetri_model_name(r->model), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, k++, r->width);
        sqlite3_bind_int(st, k++, r->height);
        sqlite3_bind_int(st, k++, r->steps);
        sqlite3_bind_int64(st, k++, r->arrival);
        sqlite3_bind_int64(st, k++, r->deadline);
        sqlite3_bind_int64(st, k++, r->first_start);
        sqlite3_bind_int64(st, k++, r->finish);
        sqlite3_bind_text(st, k++, tetri_outcome_name(r->outcome), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, k++, r->gpu_ns);
        sqlite3_bind_int(st, k++, r->degree_changes);
        sqlite3_bind_int(st, k++, r->migrations);
        sqlite3_bind_int(st, k++, r->max_degree);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            tetri_errorf(err, "%s: run '%s': cannot write request %d: %s", db->path, info->run_key, r->id,
                         sqlite3_errmsg(db->sql));
            return -1;
        }
    }
    st = db->insert_timeline;
    for (size_t i = 0; i < n_tl; i++) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, tl[i].t);
        sqlite3_bind_int(st, 3, tl[i].busy_gpus);
        sqlite3_bind_double(st, 4, tl[i].mean_degree);
        sqlite3_bind_int(st, 5, tl[i].pending);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
            tetri_errorf(err, "%s: run '%s': cannot write timeline sample %zu (t=%" PRId64 " ns): %s", db->path,
                         info->run_key, i, tl[i].t, sqlite3_errmsg(db->sql));
            return -1;
        }
    }
    return 0;
}

int results_write_run(results_db *db, int64_t experiment, const tetri_run_info *info, const tetri_run_summary *sum,
                      const tetri_request_result *req, size_t n_req, const tetri_timeline_sample *tl, size_t n_tl,
                      tetri_error *err)
{
    assert(db && info && sum);
    if (db->readonly) return tetri_errorf(err, "%s: opened read-only; cannot write a run", db->path);
    if (validate_run(db, info, sum, req, n_req, tl, n_tl, err)) return -1;
    if (results_prepare(db, &db->insert_run,
                        "INSERT INTO run (experiment_id, run_key, policy, policy_name, workload, mix, slo_scale, "
                        "rate_per_min, seed, backend, hardware, model, n_requests, met, late, dropped, makespan_ns, "
                        "decide_calls, wall_s, decide_median_ns, decide_p99_ns, decide_max_ns, status) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,'done')",
                        err) ||
        results_prepare(db, &db->insert_request,
                        "INSERT INTO request (run_id, id, model, width, height, steps, arrival_ns, deadline_ns, "
                        "first_start_ns, finish_ns, outcome, gpu_ns, degree_changes, migrations, max_degree) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        err) ||
        results_prepare(db, &db->insert_timeline,
                        "INSERT INTO timeline (run_id, t_ns, busy_gpus, mean_degree, pending) VALUES (?,?,?,?,?)", err) ||
        results_prepare(db, &db->begin_tx, "BEGIN IMMEDIATE", err) || results_prepare(db, &db->commit_tx, "COMMIT", err) ||
        results_prepare(db, &db->rollback_tx, "ROLLBACK", err))
        return tetri_error_prefix(err, "run '%s' not written", info->run_key);
    /* A transaction left open by an earlier failure whose rollback failed too: end it first. */
    if (!sqlite3_get_autocommit(db->sql) && step_once(db->rollback_tx) != SQLITE_DONE)
        return results_sql_error(db, err, "cannot end an earlier failed transaction");
    /* IMMEDIATE takes the write lock now, so a concurrent writer waits (busy timeout) instead of
     * failing halfway through the run. */
    if (step_once(db->begin_tx) != SQLITE_DONE) {
        results_sql_error(db, err, "cannot start the run's transaction");
        return tetri_error_prefix(err, "run '%s' not written", info->run_key);
    }
    if (insert_rows(db, experiment, info, sum, req, n_req, tl, n_tl, err)) {
        /* Nothing of this run stays: the rollback undoes its run row and every row after it. */
        if (!sqlite3_get_autocommit(db->sql)) step_once(db->rollback_tx);
        return -1;
    }
    if (step_once(db->commit_tx) != SQLITE_DONE) {
        results_sql_error(db, err, "cannot commit the run");
        if (!sqlite3_get_autocommit(db->sql)) step_once(db->rollback_tx);
        return tetri_error_prefix(err, "run '%s' not written", info->run_key);
    }
    return 0;
}
