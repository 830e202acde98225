/* results/db.c: the results database: schema, open/check, the upgrade of version-1 files,
 * experiments, writing a run (its rows, timeline and blocks) in one transaction and resume checks
 * (see results.h, docs/results.md). */
#include "results/db_internal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Schema version 3 (version 1 lacked the block table and the backend 'emulated'; version 2 the
 * status 'partial' and the note). Times are integer nanoseconds. A run row exists only with all its
 * request, timeline and block rows (one transaction). Its status is 'done', or 'partial' for a run
 * ended early (a stop asked for, a GPU that failed), every request still accounted for; the note
 * says why. A partial run does not count as done for resuming: running the sweep again replaces it.
 * The run table's body is a macro because the upgrades rebuild the table from it (SQLite cannot
 * alter a CHECK constraint). */
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define RUN_TABLE_BODY                                                                                                 \
    "(\n"                                                                                                              \
    "  id            INTEGER PRIMARY KEY,\n"                                                                           \
    "  experiment_id INTEGER NOT NULL REFERENCES experiment(id),\n"                                                    \
    "  run_key       TEXT NOT NULL,\n"                                                                                 \
    "  policy        TEXT NOT NULL,  -- canonical 'name:key=value,...'\n"                                              \
    "  policy_name   TEXT NOT NULL,  -- the part before ':'\n"                                                         \
    "  workload      TEXT NOT NULL,\n"                                                                                 \
    "  mix           TEXT NOT NULL,\n"                                                                                 \
    "  slo_scale     REAL NOT NULL,\n"                                                                                 \
    "  rate_per_min  REAL NOT NULL,\n"                                                                                 \
    "  seed          INTEGER NOT NULL, -- uint64 stored as its int64 bit pattern\n"                                    \
    "  backend       TEXT NOT NULL CHECK (backend = 'sim' OR backend = 'emulated' OR backend = 'exec'),\n"             \
    "  hardware      TEXT NOT NULL,\n"                                                                                 \
    "  model         TEXT NOT NULL,\n"                                                                                 \
    "  n_requests    INTEGER NOT NULL CHECK (n_requests >= 0),\n"                                                      \
    "  met           INTEGER NOT NULL,\n"                                                                              \
    "  late          INTEGER NOT NULL,\n"                                                                              \
    "  dropped       INTEGER NOT NULL,\n"                                                                              \
    "  makespan_ns   INTEGER NOT NULL,\n"                                                                              \
    "  decide_calls  INTEGER NOT NULL,\n"                                                                              \
    "  -- measurements of the host, not reproducible:\n"                                                               \
    "  wall_s           REAL NOT NULL,\n"                                                                              \
    "  decide_median_ns INTEGER NOT NULL,\n"                                                                           \
    "  decide_p99_ns    INTEGER NOT NULL,\n"                                                                           \
    "  decide_max_ns    INTEGER NOT NULL,\n"                                                                           \
    "  status        TEXT NOT NULL DEFAULT 'done' CHECK (status = 'done' OR status = 'partial'),\n"                    \
    "  note          TEXT,            -- partial: what ended it\n"                                                     \
    "  CHECK (met + late + dropped = n_requests),\n"                                                                   \
    "  UNIQUE (experiment_id, run_key)\n"                                                                              \
    ")"
#define RUN_INDEX_SQL                                                                                                  \
    "CREATE INDEX run_by_group ON run (experiment_id, model, hardware, mix, policy_name, slo_scale, rate_per_min);\n"
/* One row per block, keyed by its start order. A batch keeps its first request id as an integer
 * (the common case, one request, needs nothing else) and the whole id list as text only when it has
 * several: 8 ids would need 8 nullable columns, and a side table one more row per request and block.
 * gpus is the bitmask (uint64 as its int64 bit pattern); degree (its popcount) is stored too because
 * SQL has no popcount and reports group by it. CHECKs are cheap integer tests (measured: see
 * docs/results.md); the writer checks the same and more before it writes. */
#define BLOCK_TABLE_SQL                                                                                                \
    "CREATE TABLE block (\n"                                                                                           \
    "  run_id        INTEGER NOT NULL REFERENCES run(id) ON DELETE CASCADE,\n"                                         \
    "  seq           INTEGER NOT NULL,  -- start order in the run, 0, 1, ...\n"                                        \
    "  gpus          INTEGER NOT NULL,  -- bitmask, bit i = GPU i\n"                                                   \
    "  degree        INTEGER NOT NULL,  -- popcount of gpus\n"                                                         \
    "  steps         INTEGER NOT NULL,\n"                                                                              \
    "  n_req         INTEGER NOT NULL,  -- requests in the batch, 1.." STRINGIFY(TETRI_MAX_BATCH) "\n"                  \
    "  request_id    INTEGER NOT NULL,  -- the first (or only) request of the batch\n"                                 \
    "  batch         TEXT,              -- n_req > 1: every request id, comma-separated; else NULL\n"                  \
    "  pred_start_ns INTEGER NOT NULL,  -- predicted by the host when it started the block\n"                          \
    "  pred_end_ns   INTEGER NOT NULL,\n"                                                                              \
    "  start_ns      INTEGER NOT NULL,  -- as the backend ran it\n"                                                    \
    "  end_ns        INTEGER NOT NULL,  -- failed: when the failure was seen\n"                                        \
    "  migration_ns  INTEGER NOT NULL,  -- predicted part spent moving state (in pred_end - pred_start)\n"             \
    "  failed        INTEGER NOT NULL,  -- 1: its steps did not count\n"                                               \
    "  CHECK (steps >= 1 AND n_req >= 1 AND end_ns >= start_ns AND pred_end_ns >= pred_start_ns),\n"                   \
    "  PRIMARY KEY (run_id, seq)\n"                                                                                    \
    ") WITHOUT ROWID;\n"

static const char schema_sql[] =
    "CREATE TABLE meta (\n"
    "  key   TEXT PRIMARY KEY,  -- 'kind' = 'tetri-results', 'schema_version' = '" STRINGIFY(TETRI_RESULTS_SCHEMA_VERSION) "'\n"
    "  value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE experiment (\n"
    "  id     INTEGER PRIMARY KEY,\n"
    "  name   TEXT NOT NULL UNIQUE,\n"
    "  config TEXT NOT NULL     -- the full config text of the sweep\n"
    ");\n"
    "CREATE TABLE run " RUN_TABLE_BODY ";\n"
    RUN_INDEX_SQL
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
    BLOCK_TABLE_SQL
    "INSERT INTO meta (key, value) VALUES ('kind', 'tetri-results'), "
    "('schema_version', '" STRINGIFY(TETRI_RESULTS_SCHEMA_VERSION) "');\n";

/* Versions 1 and 2 to 3: the run table rebuilt from the current body (the backend 'emulated' in
 * version 2, the status 'partial' and the note in 3), in the order SQLite documents for a table
 * rebuild (create new, copy, drop old, rename new), which keeps the request, timeline and block
 * tables' references to run(id) pointing at the new table. Row ids are copied, so those references
 * stay valid. Needs foreign keys off (else DROP TABLE deletes the requests through ON DELETE
 * CASCADE). Version 1 also gains the block table. */
#define RUN_V2_COLUMNS                                                                                                 \
    "id, experiment_id, run_key, policy, policy_name, workload, mix, slo_scale, rate_per_min, seed, backend, "       \
    "hardware, model, n_requests, met, late, dropped, makespan_ns, decide_calls, wall_s, decide_median_ns, "          \
    "decide_p99_ns, decide_max_ns, status"
static const char upgrade_run_sql[] =
    "CREATE TABLE run_v3 " RUN_TABLE_BODY ";\n"
    "INSERT INTO run_v3 (" RUN_V2_COLUMNS ") SELECT " RUN_V2_COLUMNS " FROM run;\n"
    "DROP TABLE run;\n"
    "ALTER TABLE run_v3 RENAME TO run;\n"
    RUN_INDEX_SQL
    "UPDATE meta SET value = '3' WHERE key = 'schema_version';\n";

/* WAL mode, set by whichever process opens a new file first. Switching needs the file's exclusive
 * lock, and SQLite answers SQLITE_BUSY at once, without the busy handler, when another process
 * holds a lock then (sweeps started together on a new file): look again for a while, the way the
 * busy timeout would. Once one process has switched, the file stays in WAL mode. */
static int set_wal(results_db *db, tetri_error *err)
{
    for (int attempt = 0;; attempt++) {
        char *msg = NULL;
        const int rc = sqlite3_exec(db->sql, "PRAGMA journal_mode = WAL", NULL, NULL, &msg);
        sqlite3_free(msg);
        if (rc == SQLITE_OK) return 0;
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || attempt == 500) return results_sql_error(db, err, "cannot set WAL mode");
        const struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
}

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

/* The meta schema_version as a number; an error unless it is a positive integer. */
static int schema_version(results_db *db, long *v, tetri_error *err)
{
    char version[32], *end;
    if (meta_value(db, "schema_version", version, sizeof version, err)) return -1;
    *v = strtol(version, &end, 10);
    if (!version[0] || *end || *v < 1)
        return tetri_errorf(err, "%s: results schema_version '%s' is not a positive integer", db->path, version);
    return 0;
}

/* Upgrades a version-1 file to the current schema in one transaction: all of it or none. The
 * version is read again under the write lock, because a parallel sweep may have upgraded the file
 * since we looked. */
static int upgrade_schema(results_db *db, tetri_error *err)
{
    /* A version 4 adds its step after this one (and this assertion moves with it). */
    _Static_assert(TETRI_RESULTS_SCHEMA_VERSION == 3, "upgrade_schema knows the steps to version 3 only");
    static const char what[] = "cannot upgrade the results schema to version 3";
    long v;
    if (exec_sql(db, "PRAGMA foreign_keys = OFF", what, err) || exec_sql(db, "BEGIN IMMEDIATE", what, err)) return -1;
    if (schema_version(db, &v, err)) goto fail;
    /* No PRAGMA foreign_key_check afterwards: the copy keeps every run id, and a file edited with
     * the sqlite3 shell (foreign keys off by default) may hold orphan rows that would then block
     * the upgrade forever. */
    if (v == 1 && exec_sql(db, BLOCK_TABLE_SQL, what, err)) goto fail;
    if (v < 3 && exec_sql(db, upgrade_run_sql, what, err)) goto fail;
    if (exec_sql(db, "COMMIT", what, err)) goto fail;
    db->schema_version = TETRI_RESULTS_SCHEMA_VERSION;
    return 0;
fail:
    sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* How many tables the database has and whether one is `meta`. Returns 0, or -1 with err (a file
 * that is not SQLite is named so). */
static int count_tables(results_db *db, int *n_tables, int *has_meta, tetri_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db->sql, "SELECT count(*), coalesce(sum(name = 'meta'), 0) FROM sqlite_master WHERE type = 'table'",
                                -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        *n_tables = sqlite3_column_int(st, 0);
        *has_meta = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_ROW) return 0;
    if (sqlite3_errcode(db->sql) == SQLITE_NOTADB)
        return tetri_errorf(err, "%s: not a tetri results database (not an SQLite file)", db->path);
    return results_sql_error(db, err, "cannot read the database");
}

/* Creates the schema in an empty database. Sweeps started together on a new file all find it
 * empty; the first to take the write lock creates it, and the others, looking again under the
 * lock, find it made and leave it. */
static int create_schema(results_db *db, tetri_error *err)
{
    int n_tables = 0, has_meta = 0;
    if (exec_sql(db, "BEGIN IMMEDIATE", "cannot start the schema transaction", err)) return -1;
    if (count_tables(db, &n_tables, &has_meta, err) ||
        (n_tables == 0 && exec_sql(db, schema_sql, "cannot create the results schema", err))) {
        sqlite3_exec(db->sql, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return exec_sql(db, "COMMIT", "cannot commit the results schema", err);
}

/* Creates the schema in an empty database, or checks that an existing one is ours and not newer. */
static int create_or_check_schema(results_db *db, tetri_error *err)
{
    int n_tables = -1, has_meta = 0;
    if (count_tables(db, &n_tables, &has_meta, err)) return -1;
    if (n_tables == 0) {
        if (db->readonly) return tetri_errorf(err, "%s: not a tetri results database (it is empty)", db->path);
        if (create_schema(db, err) || count_tables(db, &n_tables, &has_meta, err)) return -1;
    }
    char kind[64];
    if (!has_meta || meta_value(db, "kind", kind, sizeof kind, err))
        return tetri_errorf(err, "%s: not a tetri results database (it has tables but no meta table)", db->path);
    if (strcmp(kind, "tetri-results") != 0)
        return tetri_errorf(err, "%s: not a tetri results database (its meta kind is '%s', expected 'tetri-results')",
                            db->path, kind);
    long v;
    if (schema_version(db, &v, err)) return -1;
    if (v > TETRI_RESULTS_SCHEMA_VERSION)
        return tetri_errorf(err, "%s: results schema version %ld is newer than this tetri reads (%d); use a newer tetri",
                            db->path, v, TETRI_RESULTS_SCHEMA_VERSION);
    db->schema_version = (int)v;
    /* A reader takes an old file as it is (no block table: no blocks); a writer upgrades it. */
    if (v < TETRI_RESULTS_SCHEMA_VERSION && !db->readonly) return upgrade_schema(db, err);
    return 0;
}

/* Names SQLite takes for something other than the file of that name: results written there
 * would be gone when tetri exits, with a success message. Refused, naming the way to mean the file. */
static int refuse_special_name(const char *path, tetri_error *err)
{
    if (!path[0])
        return tetri_errorf(err, "results database '': an empty name is SQLite's temporary database, deleted on "
                                 "close; give a file name");
    if (strcmp(path, ":memory:") == 0)
        return tetri_errorf(err, "results database ':memory:' is SQLite's in-memory database, lost when tetri exits; "
                                 "give a file name (./:memory: for a file called that)");
    if (strncmp(path, "file:", 5) == 0)
        return tetri_errorf(err, "results database '%.200s' is an SQLite URI (it may name a memory database), which "
                                 "tetri does not open; give a plain file name (./%.200s for a file called that)",
                            path, path);
    return 0;
}

/* Whether a reader may open `path` as a writer would: the file and its folder writable, so
 * SQLite can create the WAL side files and remove them again when it closes. */
static int writable_in_place(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    return access(path, W_OK) == 0 && access(dir, W_OK) == 0;
}

/* Whether a writer has (or had, and did not end cleanly) the database open: its journal or WAL
 * file is beside it, holding changes a reader must see. */
static int has_live_journal(const char *path)
{
    char side[4200];
    struct stat sb;
    snprintf(side, sizeof side, "%s-wal", path);
    if (stat(side, &sb) == 0 && sb.st_size > 0) return 1;
    snprintf(side, sizeof side, "%s-journal", path);
    return stat(side, &sb) == 0 && sb.st_size > 0;
}

/* "file:PATH?immutable=1" with PATH percent-encoded (every byte but unreserved ones and '/'). */
static void immutable_uri(const char *path, char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && o + 4 < len; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, len - o, "%%%02X", *p);
    }
    snprintf(buf + o, len - o, "?immutable=1");
}

/* Opens db->sql on `path`. A writer opens read-write and creates. A reader (report, plot) must
 * read and leave nothing behind:
 *  - where it may write beside the file, it opens read-write without CREATE and query_only: a
 *    SQLITE_OPEN_READONLY connection cannot checkpoint and remove the -wal/-shm files when it
 *    closes, so every report would leave them next to the database;
 *  - in a read-only folder or mount, or on a write-protected file, SQLite can neither create those
 *    files nor remove them. With no writer's journal beside the file its content is all in the
 *    file: opened immutable (no locks, no side files). With one (a sweep running or killed), opened
 *    read-only, so the journal's changes are read too. */
static int sqlite_open(results_db *db, const char *path, int readonly, tetri_error *err)
{
    /* NOMUTEX: a results_db handle belongs to one thread (the sweep driver), so SQLite need not lock
     * each call; parallel sweeps open their own handles. */
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READWRITE | (readonly ? 0 : SQLITE_OPEN_CREATE);
    const char *name = path;
    char uri[3 * 4096 + 32];
    if (readonly && !writable_in_place(path)) {
        flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_READONLY;
        if (!has_live_journal(path)) {
            immutable_uri(path, uri, sizeof uri);
            name = uri;
            flags |= SQLITE_OPEN_URI;
        }
    }
    if (sqlite3_open_v2(name, &db->sql, flags, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot open results database");
    return 0;
}

static int open_db(const char *path, int readonly, results_db **out, tetri_error *err)
{
    assert(path && out);
    *out = NULL;
    if (refuse_special_name(path, err)) return -1;
    if (readonly) {
        struct stat sb;
        if (stat(path, &sb) != 0) return tetri_errorf(err, "%s: cannot open results database: %s", path, strerror(errno));
        if (!S_ISREG(sb.st_mode)) return tetri_errorf(err, "%s: not a tetri results database (not a regular file)", path);
    }
    results_db *db = calloc(1, sizeof *db);
    if (!db) return tetri_errorf(err, "%s: out of memory", path);
    snprintf(db->path, sizeof db->path, "%s", path);
    db->readonly = readonly;
    if (sqlite_open(db, path, readonly, err)) {
        results_close(db);
        return -1;
    }
    sqlite3_extended_result_codes(db->sql, 0);
    sqlite3_busy_timeout(db->sql, 10000); /* parallel sweeps may write the same file */
    /* WAL: readers (report, plot) never block a running sweep; NORMAL sync is durable at each
     * checkpoint and never corrupts, which is all a results db needs. After the schema: the
     * version-1 upgrade turns foreign keys off for its table rebuild. */
    if ((readonly && exec_sql(db, "PRAGMA query_only = ON", "cannot open read-only", err)) || create_or_check_schema(db, err) ||
        (!readonly && (set_wal(db, err) ||
                       exec_sql(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON", "cannot set pragmas", err)))) {
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
    sqlite3_stmt **stmts[] = {&db->insert_run,        &db->insert_request,    &db->insert_timeline,     &db->insert_block, &db->delete_partial,
                              &db->select_run_done,   &db->select_experiment, &db->insert_experiment,   &db->select_requests,
                              &db->select_timeline,   &db->select_degree,     &db->select_blocks,       &db->select_block_errors,
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
        results_prepare(db, &db->insert_experiment, "INSERT OR IGNORE INTO experiment (name, config) VALUES (?, ?)", err))
        return -1;
    sqlite3_stmt *st = db->select_experiment;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW) return 0;
    if (rc != SQLITE_DONE) return results_sql_error(db, err, "cannot look up the experiment");
    /* OR IGNORE: a sweep started together with this one may have created it since we looked; then
     * its row stands (with its config) and the look-up below finds it. */
    st = db->insert_experiment;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, config_text ? config_text : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return results_sql_error(db, err, "cannot create the experiment");
    st = db->select_experiment;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_ROW ? 0 : results_sql_error(db, err, "cannot look up the experiment just created");
}

int results_experiment_set_config(results_db *db, int64_t id, const char *config_text, tetri_error *err)
{
    assert(db && config_text);
    if (db->readonly) return tetri_errorf(err, "%s: opened read-only; cannot change an experiment's config", db->path);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "UPDATE experiment SET config = ? WHERE id = ?", -1, &st, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot update the experiment's config");
    sqlite3_bind_text(st, 1, config_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, id);
    const int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return results_sql_error(db, err, "cannot update the experiment's config");
    if (sqlite3_changes(db->sql) != 1)
        return tetri_errorf(err, "%s: no experiment with id %" PRId64 " to update the config of", db->path, id);
    return 0;
}

#define RUN_DONE_SQL "SELECT 1 FROM run WHERE experiment_id = ? AND run_key = ? AND status = 'done'"
#define RUN_DONE_ALL_SQL "SELECT run_key FROM run WHERE experiment_id = ? AND status = 'done'"

/* Runs lookup st (prepared: ?1 experiment, ?2 run key) and leaves it reset for its next use.
 * Returns 1 (a row), 0 (none) or -1 with err saying it could not `what`. */
static int run_key_lookup(results_db *db, sqlite3_stmt *st, int64_t experiment, const char *run_key, const char *what,
                          tetri_error *err)
{
    sqlite3_bind_int64(st, 1, experiment);
    sqlite3_bind_text(st, 2, run_key, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return results_sql_error(db, err, what);
}

int results_run_done(results_db *db, int64_t experiment, const char *run_key, tetri_error *err)
{
    assert(db && run_key);
    if (results_prepare(db, &db->select_run_done, RUN_DONE_SQL, err)) return -1;
    return run_key_lookup(db, db->select_run_done, experiment, run_key, "cannot check whether a run is done", err);
}

int results_run_exists(results_db *db, int64_t experiment, const char *run_key, tetri_error *err)
{
    assert(db && run_key);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT 1 FROM run WHERE experiment_id = ? AND run_key = ?", -1, &st, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot look up a run");
    const int rc = run_key_lookup(db, st, experiment, run_key, "cannot look up a run", err);
    sqlite3_finalize(st);
    return rc;
}

int results_done_keys(results_db *db, int64_t experiment, char **blob, size_t *len, tetri_error *err)
{
    assert(db && blob && len);
    *blob = NULL;
    *len = 0;
    sqlite3_stmt *st = NULL;
    /* The keys results_run_done finds, in key order (every rank gets the same blob). */
    if (sqlite3_prepare_v2(db->sql, "SELECT run_key FROM (" RUN_DONE_ALL_SQL ") ORDER BY run_key", -1, &st, NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot read the run keys");
    sqlite3_bind_int64(st, 1, experiment);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *key = (const char *)sqlite3_column_text(st, 0);
        const size_t n = strlen(key ? key : "");
        if (*len + n + 1 > cap) {
            cap = (*len + n + 1) * 2;
            char *grown = realloc(*blob, cap);
            if (!grown) {
                sqlite3_finalize(st);
                return tetri_errorf(err, "out of memory");
            }
            *blob = grown;
        }
        memcpy(*blob + *len, key ? key : "", n + 1); /* each key ends with its NUL */
        *len += n + 1;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : results_sql_error(db, err, "cannot read the run keys");
}

int results_runs_lacking_key_part(results_db *db, int64_t experiment, const char *part, int64_t *n, tetri_error *err)
{
    assert(db && part && n);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->sql, "SELECT count(*) FROM run WHERE experiment_id = ? AND instr(run_key, ?) = 0", -1, &st,
                           NULL) != SQLITE_OK)
        return results_sql_error(db, err, "cannot read the run keys");
    sqlite3_bind_int64(st, 1, experiment);
    sqlite3_bind_text(st, 2, part, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    *n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : results_sql_error(db, err, "cannot read the run keys");
}

/* Why block b cannot be written, formatted into why; NULL when it can. n_req: the run's requests,
 * whose ids are 0..n_req-1 (the host numbers them so); n_blocks: the run's blocks, whose seq numbers
 * are 0..n_blocks-1 (distinct: the primary key refuses a repeat). */
static const char *block_problem(const tetri_block_result *b, size_t n_req, size_t n_blocks, char *why, size_t len)
{
    if (b->seq < 0 || (size_t)b->seq >= n_blocks)
        snprintf(why, len, "seq is outside 0..%zu (the run has %zu blocks, numbered in start order)", n_blocks - 1, n_blocks);
    else if (b->n_req < 1 || b->n_req > TETRI_MAX_BATCH)
        snprintf(why, len, "n_req %d is outside 1..%d", b->n_req, TETRI_MAX_BATCH);
    else if (b->gpus == 0) snprintf(why, len, "its GPU set is empty");
    else if (b->steps < 1) snprintf(why, len, "steps %d is below 1", b->steps);
    else if (b->pred_start < 0 || b->start < 0)
        snprintf(why, len, "a negative start (pred_start %" PRId64 " ns, start %" PRId64 " ns)", b->pred_start, b->start);
    else if (b->end < b->start)
        snprintf(why, len, "end %" PRId64 " ns is before start %" PRId64 " ns", b->end, b->start);
    else if (b->pred_end < b->pred_start)
        snprintf(why, len, "pred_end %" PRId64 " ns is before pred_start %" PRId64 " ns", b->pred_end, b->pred_start);
    else if (b->migration_ns < 0 || b->migration_ns > b->pred_end - b->pred_start)
        snprintf(why, len, "migration_ns %" PRId64 " is outside 0..%" PRId64 " (the predicted duration)", b->migration_ns,
                 b->pred_end - b->pred_start);
    else if (b->failed != 0 && b->failed != 1) snprintf(why, len, "failed is %d, not 0 or 1", b->failed);
    else {
        for (int k = 0; k < b->n_req; k++) {
            if (b->req[k] < 0 || (size_t)b->req[k] >= n_req) {
                snprintf(why, len, "request id %d is not one of the run's %zu requests (ids 0..n-1)", b->req[k], n_req);
                return why;
            }
            for (int j = 0; j < k; j++)
                if (b->req[j] == b->req[k]) {
                    snprintf(why, len, "request %d is in its batch twice", b->req[k]);
                    return why;
                }
        }
        return NULL;
    }
    return why;
}

/* Checks a run before anything is written: every field present, counts consistent with the rows,
 * every block within the run's requests and sane in time. */
static int validate_run(const results_db *db, const tetri_run_info *info, const tetri_run_summary *sum,
                        const tetri_request_result *req, size_t n_req, const tetri_timeline_sample *tl, size_t n_tl,
                        const tetri_block_result *blocks, size_t n_blocks, tetri_error *err)
{
    const char *fields[] = {info->run_key, info->policy, info->workload, info->mix, info->backend, info->hardware, info->model};
    const char *names[] = {"run_key", "policy", "workload", "mix", "backend", "hardware", "model"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (!fields[i] || !fields[i][0])
            return tetri_errorf(err, "%s: run '%s': field %s is empty", db->path, info->run_key ? info->run_key : "?", names[i]);
    if (strcmp(info->backend, "sim") != 0 && strcmp(info->backend, "emulated") != 0 && strcmp(info->backend, "exec") != 0)
        return tetri_errorf(err, "%s: run '%s': backend '%s' is not 'sim', 'emulated' or 'exec'", db->path, info->run_key,
                            info->backend);
    if (n_req && !req) return tetri_errorf(err, "%s: run '%s': %zu requests but no rows", db->path, info->run_key, n_req);
    if (n_tl && !tl) return tetri_errorf(err, "%s: run '%s': %zu timeline samples but no rows", db->path, info->run_key, n_tl);
    if (n_blocks && !blocks) return tetri_errorf(err, "%s: run '%s': %zu blocks but no rows", db->path, info->run_key, n_blocks);
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
    char why[160];
    for (size_t i = 0; i < n_blocks; i++)
        if (block_problem(&blocks[i], n_req, n_blocks, why, sizeof why))
            return tetri_errorf(err, "%s: run '%s': block %zu (seq %d): %s", db->path, info->run_key, i, blocks[i].seq, why);
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

/* The run row; its id into *run_id. */
static int insert_run_row(results_db *db, int64_t experiment, const tetri_run_info *info, const tetri_run_summary *sum,
                          int64_t *run_id, tetri_error *err)
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
    sqlite3_bind_text(st, k++, sum->partial ? "partial" : "done", -1, SQLITE_STATIC);
    if (sum->partial) sqlite3_bind_text(st, k++, sum->note, -1, SQLITE_STATIC);
    else sqlite3_bind_null(st, k++);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE) return results_sql_error(db, err, "cannot write the run row");
    *run_id = sqlite3_last_insert_rowid(db->sql);
    return 0;
}

static int insert_requests(results_db *db, const tetri_run_info *info, int64_t run_id, const tetri_request_result *req,
                           size_t n_req, tetri_error *err)
{
    sqlite3_stmt *st = db->insert_request;
    for (size_t i = 0; i < n_req; i++) {
        const tetri_request_result *r = &req[i];
        int k = 1;
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
        if (step_once(st) != SQLITE_DONE)
            return tetri_errorf(err, "%s: run '%s': cannot write request %d: %s", db->path, info->run_key, r->id,
                                sqlite3_errmsg(db->sql));
    }
    return 0;
}

static int insert_timeline(results_db *db, const tetri_run_info *info, int64_t run_id, const tetri_timeline_sample *tl,
                           size_t n_tl, tetri_error *err)
{
    sqlite3_stmt *st = db->insert_timeline;
    for (size_t i = 0; i < n_tl; i++) {
        sqlite3_bind_int64(st, 1, run_id);
        sqlite3_bind_int64(st, 2, tl[i].t);
        sqlite3_bind_int(st, 3, tl[i].busy_gpus);
        sqlite3_bind_double(st, 4, tl[i].mean_degree);
        sqlite3_bind_int(st, 5, tl[i].pending);
        if (step_once(st) != SQLITE_DONE)
            return tetri_errorf(err, "%s: run '%s': cannot write timeline sample %zu (t=%" PRId64 " ns): %s", db->path,
                                info->run_key, i, tl[i].t, sqlite3_errmsg(db->sql));
    }
    return 0;
}

static int insert_blocks(results_db *db, const tetri_run_info *info, int64_t run_id, const tetri_block_result *blocks,
                         size_t n_blocks, tetri_error *err)
{
    sqlite3_stmt *st = db->insert_block;
    char batch[TETRI_MAX_BATCH * 12]; /* "-2147483648," at most per id */
    int rc = SQLITE_DONE;
    size_t i;
    for (i = 0; i < n_blocks && rc == SQLITE_DONE; i++) {
        const tetri_block_result *b = &blocks[i];
        int k = 1;
        sqlite3_bind_int64(st, k++, run_id);
        sqlite3_bind_int(st, k++, b->seq);
        sqlite3_bind_int64(st, k++, (int64_t)b->gpus);
        sqlite3_bind_int(st, k++, tetri_gpuset_count(b->gpus));
        sqlite3_bind_int(st, k++, b->steps);
        sqlite3_bind_int(st, k++, b->n_req);
        sqlite3_bind_int(st, k++, b->req[0]);
        if (b->n_req > 1) {
            size_t used = 0;
            for (int j = 0; j < b->n_req; j++)
                used += (size_t)snprintf(batch + used, sizeof batch - used, "%s%d", j ? "," : "", b->req[j]);
            sqlite3_bind_text(st, k++, batch, (int)used, SQLITE_STATIC);
        } else {
            sqlite3_bind_null(st, k++);
        }
        sqlite3_bind_int64(st, k++, b->pred_start);
        sqlite3_bind_int64(st, k++, b->pred_end);
        sqlite3_bind_int64(st, k++, b->start);
        sqlite3_bind_int64(st, k++, b->end);
        sqlite3_bind_int64(st, k++, b->migration_ns);
        sqlite3_bind_int(st, k++, b->failed);
        rc = step_once(st);
    }
    sqlite3_clear_bindings(st); /* batch is a stack buffer: leave no pointer to it bound */
    if (rc != SQLITE_DONE)
        return tetri_errorf(err, "%s: run '%s': cannot write block %zu (seq %d): %s", db->path, info->run_key, i - 1,
                            blocks[i - 1].seq, sqlite3_errmsg(db->sql));
    return 0;
}

/* A partial run of the same key, written before, is replaced by this one. */
static int delete_partial_run(results_db *db, int64_t experiment, const tetri_run_info *info, tetri_error *err)
{
    sqlite3_stmt *st = db->delete_partial;
    sqlite3_bind_int64(st, 1, experiment);
    sqlite3_bind_text(st, 2, info->run_key, -1, SQLITE_STATIC);
    const int rc = step_once(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return tetri_errorf(err, "%s: run '%s': cannot replace its partial run: %s", db->path, info->run_key, sqlite3_errmsg(db->sql));
    return 0;
}

/* Prepares the statements of a run's transaction (once per handle). */
static int prepare_writer(results_db *db, tetri_error *err)
{
    if (results_prepare(db, &db->insert_run,
                        "INSERT INTO run (experiment_id, run_key, policy, policy_name, workload, mix, slo_scale, "
                        "rate_per_min, seed, backend, hardware, model, n_requests, met, late, dropped, makespan_ns, "
                        "decide_calls, wall_s, decide_median_ns, decide_p99_ns, decide_max_ns, status, note) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        err) ||
        results_prepare(db, &db->insert_request,
                        "INSERT INTO request (run_id, id, model, width, height, steps, arrival_ns, deadline_ns, "
                        "first_start_ns, finish_ns, outcome, gpu_ns, degree_changes, migrations, max_degree) "
                        "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        err) ||
        results_prepare(db, &db->insert_timeline,
                        "INSERT INTO timeline (run_id, t_ns, busy_gpus, mean_degree, pending) VALUES (?,?,?,?,?)", err) ||
        results_prepare(db, &db->insert_block,
                        "INSERT INTO block (run_id, seq, gpus, degree, steps, n_req, request_id, batch, pred_start_ns, "
                        "pred_end_ns, start_ns, end_ns, migration_ns, failed) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        err) ||
        results_prepare(db, &db->select_run_done, RUN_DONE_SQL, err) ||
        /* the rows of a partial run of this key go with it (ON DELETE CASCADE): the new run replaces it */
        results_prepare(db, &db->delete_partial, "DELETE FROM run WHERE experiment_id = ? AND run_key = ? AND status = 'partial'",
                        err) ||
        results_prepare(db, &db->begin_tx, "BEGIN IMMEDIATE", err) || results_prepare(db, &db->commit_tx, "COMMIT", err) ||
        results_prepare(db, &db->rollback_tx, "ROLLBACK", err))
        return -1;
    return 0;
}

int results_write_run(results_db *db, int64_t experiment, const tetri_run_info *info, const tetri_run_summary *sum,
                      const tetri_request_result *req, size_t n_req, const tetri_timeline_sample *tl, size_t n_tl,
                      const tetri_block_result *blocks, size_t n_blocks, tetri_error *err)
{
    assert(db && info && sum);
    if (db->readonly) return tetri_errorf(err, "%s: opened read-only; cannot write a run", db->path);
    if (validate_run(db, info, sum, req, n_req, tl, n_tl, blocks, n_blocks, err)) return -1;
    if (prepare_writer(db, err)) return tetri_error_prefix(err, "run '%s' not written", info->run_key);
    /* A transaction left open by an earlier failure whose rollback failed too: end it first. */
    if (!sqlite3_get_autocommit(db->sql) && step_once(db->rollback_tx) != SQLITE_DONE)
        return results_sql_error(db, err, "cannot end an earlier failed transaction");
    /* IMMEDIATE takes the write lock now, so a concurrent writer waits (busy timeout) instead of
     * failing halfway through the run. */
    if (step_once(db->begin_tx) != SQLITE_DONE) {
        results_sql_error(db, err, "cannot start the run's transaction");
        return tetri_error_prefix(err, "run '%s' not written", info->run_key);
    }
    /* Under the write lock, look once more: a sweep beside this one may have written the same run
     * since the caller checked (its rows are the same: same key, same inputs). */
    int done = results_run_done(db, experiment, info->run_key, err);
    if (done != 0) {
        step_once(db->rollback_tx);
        return done < 0 ? tetri_error_prefix(err, "run '%s' not written", info->run_key) : 1;
    }
    int64_t run_id = 0;
    if (delete_partial_run(db, experiment, info, err) || insert_run_row(db, experiment, info, sum, &run_id, err) || insert_requests(db, info, run_id, req, n_req, err) ||
        insert_timeline(db, info, run_id, tl, n_tl, err) || insert_blocks(db, info, run_id, blocks, n_blocks, err)) {
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
