/* tests/test_results.c: the results database: schema creation and checks, write/read round trip
 * (blocks included), resume (run_done), refused rows (runs and blocks), the upgrade of a version-1
 * file, one-transaction atomicity under injected faults (failing allocator, full disk), canonical
 * dump determinism, the merge of one database into another, report tables, block statistics and CSV
 * over the fixture sweep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "results/db_internal.h"
#include "results/merge.h"
#include "results/report.h"
#include "results/results.h"
#include "tests/results_fixture.h"

static char tmpdir[256];

static const char *tmp_path(const char *name)
{
    static char buf[4][512];
    static int next;
    char *p = buf[next++ % 4];
    snprintf(p, 512, "%s/%s", tmpdir, name);
    return p;
}

/* Removes a database and its WAL side files. */
static void remove_db(const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static int setup_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "%s/tetri-results-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Runs one SQL statement on a raw SQLite handle (to build foreign or broken databases). */
static void raw_sql(const char *path, const char *sql)
{
    sqlite3 *s;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_exec(s, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(s);
}

static char *dump_to_string(results_db *db, int64_t exp, const char *key);

static int64_t count_rows(results_db *db, const char *sql)
{
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db->sql, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void schema_created_and_checked(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db = NULL;
    const char *path = tmp_path("schema.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM meta WHERE key = 'kind' AND value = 'tetri-results'"), 1);
    assert_int_equal(count_rows(db, "SELECT value FROM meta WHERE key = 'schema_version'"), TETRI_RESULTS_SCHEMA_VERSION);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'run_by_group'"), 1);
    results_close(db);
    /* Reopening checks instead of creating; read-only works too. */
    assert_int_equal(results_open(path, &db, &err), 0);
    results_close(db);
    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    results_close(db);
    /* Readers leave no WAL side files behind (report and plot run often, next to sweeps). */
    char side[600];
    snprintf(side, sizeof side, "%s-wal", path);
    assert_int_equal(access(side, F_OK), -1);
    snprintf(side, sizeof side, "%s-shm", path);
    assert_int_equal(access(side, F_OK), -1);

    /* A profile database is not a results database. */
    const char *other = tmp_path("profile.db");
    remove_db(other);
    raw_sql(other, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); INSERT INTO meta VALUES ('kind', 'tetri-profile')");
    assert_int_equal(results_open(other, &db, &err), -1);
    assert_null(db);
    assert_non_null(strstr(err.msg, "not a tetri results database"));
    assert_non_null(strstr(err.msg, "tetri-profile"));
    assert_non_null(strstr(err.msg, other));

    /* Tables but no meta. */
    remove_db(other);
    raw_sql(other, "CREATE TABLE t (x)");
    assert_int_equal(results_open_readonly(other, &db, &err), -1);
    assert_non_null(strstr(err.msg, "no meta table"));

    /* A newer schema is refused with both versions named. */
    remove_db(other);
    assert_int_equal(results_open(other, &db, &err), 0);
    results_close(db);
    raw_sql(other, "UPDATE meta SET value = '7' WHERE key = 'schema_version'");
    assert_int_equal(results_open(other, &db, &err), -1);
    assert_non_null(strstr(err.msg, "version 7 is newer"));

    /* Not SQLite at all. */
    const char *text = tmp_path("text.db");
    FILE *f = fopen(text, "w");
    assert_non_null(f);
    fputs("policy,scale\nthis is a CSV file, not a database, and it is long enough to have a header\n", f);
    fclose(f);
    assert_int_equal(results_open_readonly(text, &db, &err), -1);
    assert_non_null(strstr(err.msg, "not an SQLite file"));
    assert_int_equal(results_open(text, &db, &err), -1);
    assert_non_null(strstr(err.msg, "not an SQLite file"));

    /* Names SQLite would not take as a file (its temporary and in-memory databases, URIs): the
     * results would vanish with a success message. Refused, and nothing is created. */
    const char *special[] = {"", ":memory:", "file:uri-test.db?mode=memory", "file:uri-test.db"};
    const char *why[] = {"temporary database", "in-memory database", "SQLite URI", "SQLite URI"};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++) {
        assert_int_equal(results_open(special[i], &db, &err), -1);
        assert_non_null(strstr(err.msg, why[i]));
        assert_int_equal(results_open_readonly(special[i], &db, &err), -1);
    }
    assert_int_equal(access("uri-test.db", F_OK), -1);
    /* Read-only never creates: a missing file is an error that names it. */
    const char *missing = tmp_path("missing.db");
    remove_db(missing);
    assert_int_equal(results_open_readonly(missing, &db, &err), -1);
    assert_non_null(strstr(err.msg, "missing.db"));
    assert_non_null(strstr(err.msg, "No such file"));
    assert_int_equal(access(missing, F_OK), -1);
    /* An empty file opened read-only: not a results db. */
    f = fopen(missing, "w");
    fclose(f);
    assert_int_equal(results_open_readonly(missing, &db, &err), -1);
    assert_non_null(strstr(err.msg, "empty"));
    /* A folder that does not exist: the OS's reason is in the message. */
    char nodir[600];
    snprintf(nodir, sizeof nodir, "%s/no-such-dir/r.db", tmpdir);
    assert_int_equal(results_open(nodir, &db, &err), -1);
    assert_non_null(strstr(err.msg, nodir));
    assert_non_null(strstr(err.msg, "No such file or directory"));
    /* A directory where the file should be. */
    assert_int_equal(results_open(tmpdir, &db, &err), -1);
    assert_non_null(strstr(err.msg, tmpdir));
}

/* The rows of run r read back exactly as fixture f wrote them, and its block statistics. */
static void check_rows_read_back(results_db *db, const results_run *r, const fixture_run *f)
{
    tetri_error err = {{0}};
    tetri_request_result *req;
    size_t n_req;
    assert_int_equal(results_load_requests(db, r->id, &req, &n_req, &err), 0);
    assert_int_equal(n_req, FIXTURE_N_REQUESTS);
    assert_memory_equal(req, f->req, sizeof f->req); /* every field, padding zeroed on both sides */
    free(req);
    tetri_timeline_sample *tl;
    size_t n_tl;
    assert_int_equal(results_load_timeline(db, r->id, &tl, &n_tl, &err), 0);
    assert_int_equal(n_tl, FIXTURE_N_TIMELINE);
    for (size_t k = 0; k < n_tl; k++) {
        assert_int_equal(tl[k].t, f->tl[k].t);
        assert_int_equal(tl[k].busy_gpus, f->tl[k].busy_gpus);
        assert_true(tl[k].mean_degree == f->tl[k].mean_degree);
        assert_int_equal(tl[k].pending, f->tl[k].pending);
    }
    free(tl);
    tetri_block_result *blocks;
    size_t n_blocks;
    assert_int_equal(results_load_blocks(db, r->id, &blocks, &n_blocks, &err), 0);
    assert_int_equal(n_blocks, FIXTURE_N_BLOCKS);
    assert_memory_equal(blocks, f->blk, sizeof f->blk); /* every field and batch; padding zeroed on both sides */
    free(blocks);
    /* Block statistics (the fixture's formula, results_fixture.h; sim: s = 1): the failed block 5 is
     * counted but left out of the errors. */
    assert_int_equal(r->n_blocks, FIXTURE_N_BLOCKS);
    assert_int_equal(r->failed_blocks, 1);
    assert_true(fabs(r->block_err_mean - 0.01) < 1e-15);
    assert_true(r->block_err_p50 == 0.01);
    assert_true(r->block_err_p99 == 0.03);
    assert_true(r->start_delay_p50_ms == 2.0);
    assert_true(r->start_delay_p99_ms == 4.0);
}

static void round_trip(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("roundtrip.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t exp, again;
    assert_int_equal(results_experiment(db, "e1", "config text\nline 2", &exp, &err), 0);
    assert_int_equal(results_experiment(db, "e1", "ignored", &again, &err), 0);
    assert_int_equal(exp, again);
    static fixture_run f;
    fixture_build(&f, "tetriserve:g=5,elastic=on", "uniform", 1.2, 12, 1, "sim");
    f.info.seed = UINT64_MAX - 5; /* a seed beyond int64 survives the round trip */
    f.blk[2].gpus |= (tetri_gpuset)1 << 63; /* so does GPU 63 (the bitmask's sign bit as an int64) */
    /* Blocks may come in any order (a host records them as they end); they read back in seq order. */
    tetri_block_result reversed[FIXTURE_N_BLOCKS];
    for (int k = 0; k < FIXTURE_N_BLOCKS; k++) reversed[k] = f.blk[FIXTURE_N_BLOCKS - 1 - k];
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE,
                                       reversed, FIXTURE_N_BLOCKS, &err),
                     0);
    results_close(db);

    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    results_experiment_info *e;
    size_t n_e;
    assert_int_equal(results_list_experiments(db, &e, &n_e, &err), 0);
    assert_int_equal(n_e, 1);
    assert_string_equal(e[0].name, "e1");
    assert_string_equal(e[0].config, "config text\nline 2");
    assert_int_equal(e[0].n_runs, 1);
    results_experiments_free(e, n_e);

    results_run *runs;
    size_t n;
    assert_int_equal(results_load_runs(db, exp, &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    const results_run *r = &runs[0];
    assert_string_equal(r->run_key, f.run_key);
    assert_string_equal(r->policy, "tetriserve:g=5,elastic=on");
    assert_string_equal(r->policy_name, "tetriserve");
    assert_string_equal(r->mix, "uniform");
    assert_string_equal(r->backend, "sim");
    assert_string_equal(r->status, "done");
    assert_true(r->seed == UINT64_MAX - 5);
    assert_true(r->slo_scale == 1.2);
    assert_int_equal(r->sum.n, 20);
    assert_int_equal(r->sum.met, 17);
    assert_int_equal(r->sum.met + r->sum.late + r->sum.dropped, 20);
    assert_true(r->attainment == 17.0 / 20.0);
    /* Latency statistics recomputed here from the fixture's rows, independently of read.c. */
    double lat[FIXTURE_N_REQUESTS];
    double gpu = 0;
    for (int i = 0; i < FIXTURE_N_REQUESTS; i++) {
        lat[i] = f.req[i].outcome == TETRI_DROPPED ? INFINITY : (double)(f.req[i].finish - f.req[i].arrival) / 1e9;
        gpu += (double)f.req[i].gpu_ns / 1e9;
    }
    for (int i = 1; i < FIXTURE_N_REQUESTS; i++) /* insertion sort */
        for (int j = i; j > 0 && lat[j - 1] > lat[j]; j--) {
            double t = lat[j];
            lat[j] = lat[j - 1];
            lat[j - 1] = t;
        }
    assert_true(r->p50_latency_s == lat[9]);   /* nearest rank: ceil(0.5 * 20) = 10th */
    assert_true(isinf(r->p99_latency_s));     /* ceil(0.99 * 20) = 20th: a dropped request */
    assert_true(fabs(r->gpu_seconds - gpu) < 1e-9);
    double degree = 0;
    int busy = 0;
    for (int k = 0; k < FIXTURE_N_TIMELINE; k++)
        if (f.tl[k].busy_gpus) degree += f.tl[k].mean_degree, busy++;
    assert_true(fabs(r->mean_degree - degree / busy) < 1e-12);

    check_rows_read_back(db, r, &f);
    results_runs_free(runs, n);

    /* The read-only handle refuses writes. */
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "read-only"));
    int64_t id;
    assert_int_equal(results_find_experiment(db, "nope", &id, &err), -1);
    assert_non_null(strstr(err.msg, "no experiment 'nope'; known: e1"));
    results_close(db);
}

static void resume_skips_done_runs(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("resume.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t a, b;
    assert_int_equal(results_experiment(db, "a", "", &a, &err), 0);
    assert_int_equal(results_experiment(db, "b", "", &b, &err), 0);
    static fixture_run f;
    fixture_build(&f, "xdit-sp1", "skewed", 1.0, 12, 2, "sim");
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 0);
    assert_int_equal(results_write_run(db, a, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 1);
    assert_int_equal(results_run_done(db, b, f.run_key, &err), 0); /* keys are per experiment */
    /* Writing it twice writes nothing and says it was there (1): a sweep beside this one, started
     * together on the same grid, wrote it between our look and our write. From another handle
     * too, as from another process. */
    assert_int_equal(results_write_run(db, a, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 1);
    results_db *beside;
    assert_int_equal(results_open(path, &beside, &err), 0);
    assert_int_equal(results_write_run(beside, a, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 1);
    results_close(beside);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), FIXTURE_N_REQUESTS);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM timeline"), FIXTURE_N_TIMELINE);
    /* The same key in another experiment is a different run. */
    assert_int_equal(results_write_run(db, b, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run"), 2);
    results_close(db);
    /* Done survives closing (a killed sweep restarted in a new process). */
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 1);
    results_close(db);
}

/* A partial run (ended early: a stop, a failed GPU) is written with its status and note, is not
 * done for resuming, and the full run written later replaces it, rows and all. */
static void partial_runs_are_replaced(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("partial.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t a;
    assert_int_equal(results_experiment(db, "a", "", &a, &err), 0);
    static fixture_run f;
    fixture_build(&f, "rssp", "uniform", 1.0, 12, 3, "exec");
    tetri_run_summary partial = f.sum;
    partial.partial = true;
    snprintf(partial.note, sizeof partial.note, "stopped by signal 2");
    assert_int_equal(results_write_run(db, a, &f.info, &partial, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run WHERE status = 'partial' AND note = 'stopped by signal 2'"), 1);
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 0);
    assert_int_equal(results_write_run(db, a, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run WHERE status = 'done' AND note IS NULL"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), FIXTURE_N_REQUESTS);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM block"), FIXTURE_N_BLOCKS);
    results_close(db);
}

static void inconsistent_runs_are_refused(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("invalid.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t exp;
    assert_int_equal(results_experiment(db, "x", "", &exp, &err), 0);
    assert_int_equal(results_experiment(db, "", "", &exp, &err), -1);
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "sim");
    f.sum.met++;
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "summary says"));
    f.sum.met--;
    f.info.backend = "gpu";
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "backend 'gpu' is not 'sim', 'emulated' or 'exec'"));
    f.info.backend = "sim";
    f.info.policy = "";
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "field policy is empty"));
    f.info.policy = f.policy;
    /* Two timeline samples at one time break the timeline's key halfway through: nothing stays. */
    f.tl[5].t = f.tl[4].t;
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), -1);
    assert_non_null(strstr(err.msg, "timeline sample 5"));
    assert_int_equal(results_run_done(db, exp, f.run_key, &err), 0);
    assert_int_equal(count_rows(db, "SELECT (SELECT count(*) FROM run) + (SELECT count(*) FROM request) + "
                                    "(SELECT count(*) FROM timeline) + (SELECT count(*) FROM block)"),
                     0);
    results_close(db);
}

/* Each bad block is refused before anything is written, with a message naming the file, the run,
 * the block (index and seq) and what is wrong. */
static void bad_blocks_are_refused(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("badblocks.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t exp;
    assert_int_equal(results_experiment(db, "x", "", &exp, &err), 0);
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "emulated");
    static const struct {
        int field;           /* which change, see the switch */
        const char *message; /* part of the error */
    } cases[] = {
        {0, "block 3 (seq 6): seq is outside 0..5"},
        {1, "block 3 (seq 3): n_req 0 is outside 1..8"},
        {2, "block 3 (seq 3): n_req 9 is outside 1..8"},
        {3, "block 3 (seq 3): request id 20 is not one of the run's 20 requests"},
        {4, "block 3 (seq 3): request id -1 is not one of the run's 20 requests"},
        {5, "block 3 (seq 3): its GPU set is empty"},
        {6, "block 3 (seq 3): steps 0 is below 1"},
        {7, "block 3 (seq 3): end 6005999999 ns is before start 6006000000 ns"},
        {8, "block 3 (seq 3): pred_end 5999999999 ns is before pred_start 6000000000 ns"},
        {9, "block 3 (seq 3): migration_ns 1000000001 is outside 0..1000000000"},
        {10, "block 3 (seq 3): failed is 2, not 0 or 1"},
        {11, "block 4 (seq 4): request 4 is in its batch twice"},
        {12, "block 3 (seq 3): a negative start"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "emulated");
        tetri_block_result *b = &f.blk[3];
        switch (cases[c].field) {
        case 0: b->seq = FIXTURE_N_BLOCKS; break;
        case 1: b->n_req = 0; break;
        case 2: b->n_req = TETRI_MAX_BATCH + 1; break;
        case 3: b->req[0] = FIXTURE_N_REQUESTS; break;
        case 4: b->req[0] = -1; break;
        case 5: b->gpus = 0; break;
        case 6: b->steps = 0; break;
        case 7: b->end = b->start - 1; break;
        case 8: b->pred_end = b->pred_start - 1; break;
        case 9: b->migration_ns = b->pred_end - b->pred_start + 1; break;
        case 10: b->failed = 2; break;
        case 11: f.blk[4].req[1] = f.blk[4].req[0]; break;
        case 12: b->start = -1; break;
        }
        assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE,
                                           f.blk, FIXTURE_N_BLOCKS, &err),
                         -1);
        if (!strstr(err.msg, cases[c].message)) fail_msg("case %zu: '%s' lacks '%s'", c, err.msg, cases[c].message);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, f.run_key));
    }
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, NULL, 3, &err), -1);
    assert_non_null(strstr(err.msg, "3 blocks but no rows"));
    assert_int_equal(count_rows(db, "SELECT (SELECT count(*) FROM run) + (SELECT count(*) FROM block)"), 0);
    results_close(db);
}

/* A repeated seq (in range, so it passes the checks) fails at its insert, halfway through the
 * run: nothing of it stays. Fixed, the run writes, blocks stored compactly; and so does a run
 * without blocks. */
static void repeated_block_seq_rolls_back(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("repeatedseq.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t exp;
    assert_int_equal(results_experiment(db, "x", "", &exp, &err), 0);
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "emulated");
    f.blk[4].seq = 2;
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk,
                                       FIXTURE_N_BLOCKS, &err),
                     -1);
    assert_non_null(strstr(err.msg, "cannot write block 4 (seq 2)"));
    assert_int_equal(count_rows(db, "SELECT (SELECT count(*) FROM run) + (SELECT count(*) FROM request) + "
                                    "(SELECT count(*) FROM timeline) + (SELECT count(*) FROM block)"),
                     0);
    /* Fixed, the emulated run writes. */
    f.blk[4].seq = 4;
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk,
                                       FIXTURE_N_BLOCKS, &err),
                     0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run WHERE backend = 'emulated'"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM block"), FIXTURE_N_BLOCKS);
    /* Compact storage: a batch's id list is text only when it has several ids. */
    assert_int_equal(count_rows(db, "SELECT count(*) FROM block WHERE (n_req = 1) = (batch IS NULL)"), FIXTURE_N_BLOCKS);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM block WHERE batch = '2,9,16' AND request_id = 2 AND degree = 4"), 1);
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 2, "sim");
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, NULL, 0, &err),
                     0);
    results_close(db);
}

/* ---- upgrading a version-1 file ----------------------------------------------------------------- */

/* The version-1 schema exactly as tetri wrote it (results/db.c before blocks), kept here because
 * the code no longer has it: existing files were made by it. */
static const char v1_schema_sql[] =
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

/* A run as a version-1 tetri wrote it: two requests (met, dropped) and two timeline samples, run
 * id 7 (row ids survive the upgrade, and the request rows keep pointing at it). */
static const char v1_run_sql[] =
    "INSERT INTO experiment (id, name, config) VALUES (3, 'old', 'v1 sweep');"
    "INSERT INTO run (id, experiment_id, run_key, policy, policy_name, workload, mix, slo_scale, rate_per_min, seed,"
    " backend, hardware, model, n_requests, met, late, dropped, makespan_ns, decide_calls, wall_s, decide_median_ns,"
    " decide_p99_ns, decide_max_ns) VALUES (7, 3, 'old-key', 'xdit-sp2', 'xdit-sp2', 'mix=uniform', 'uniform', 1.5, 12,"
    " 9, 'sim', 'h100x8', 'flux-dev', 2, 1, 0, 1, 30000000000, 12, 0.5, 1000, 2000, 3000);"
    "INSERT INTO request VALUES (7, 0, 'flux-dev', 1024, 1024, 20, 0, 10000000000, 100000000, 4000000000, 'met',"
    " 7800000000, 0, 0, 2);"
    "INSERT INTO request VALUES (7, 1, 'flux-dev', 512, 512, 20, 5000000000, 8000000000, -1, -1, 'dropped', 0, 0, 0, 0);"
    "INSERT INTO timeline VALUES (7, 0, 2, 2.0, 1), (7, 1000000000, 0, 0.0, 1);";

/* Writes a version-1 file holding the run above, in WAL mode as tetri left its files. */
static void make_v1_file(const char *path)
{
    remove_db(path);
    raw_sql(path, "PRAGMA journal_mode = WAL");
    raw_sql(path, v1_schema_sql);
    raw_sql(path, v1_run_sql);
}

/* How raw SQLite, without tetri, sees a statement: its result code. */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *s;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    int rc = sqlite3_exec(s, sql, NULL, NULL, NULL);
    sqlite3_close(s);
    return rc;
}

/* The first column of the first row of a query on a raw handle (the file as tetri left it). */
static int64_t raw_count(const char *path, const char *sql)
{
    sqlite3 *s;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(path, &s), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(s, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
    return v;
}

/* A raw insert of an emulated run, which a version-1 run table's CHECK refuses. */
static const char emulated_into_v1[] =
    "INSERT INTO run (experiment_id, run_key, policy, policy_name, workload, mix, slo_scale, rate_per_min, seed,"
    " backend, hardware, model, n_requests, met, late, dropped, makespan_ns, decide_calls, wall_s, decide_median_ns,"
    " decide_p99_ns, decide_max_ns) VALUES (3, 'emu', 'p', 'p', 'w', 'uniform', 1, 1, 1, 'emulated', 'h', 'm',"
    " 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)";

/* Read-only: a version-1 file is read as it is (no blocks) and stays version 1. */
static void version_1_files_are_read_as_they_are(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("v1-read.db");
    make_v1_file(path);
    assert_int_equal(raw_exec(path, emulated_into_v1), SQLITE_CONSTRAINT); /* why the upgrade rebuilds run */
    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    results_run *runs;
    size_t n;
    assert_int_equal(results_load_runs(db, -1, &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(runs[0].id, 7);
    assert_int_equal(runs[0].sum.met, 1);
    assert_true(isinf(runs[0].p99_latency_s));
    assert_int_equal(runs[0].n_blocks, 0);
    assert_true(isnan(runs[0].block_err_mean) && isnan(runs[0].start_delay_p99_ms));
    results_runs_free(runs, n);
    tetri_block_result *blocks;
    size_t n_blocks = 99;
    assert_int_equal(results_load_blocks(db, 7, &blocks, &n_blocks, &err), 0);
    assert_null(blocks);
    assert_int_equal(n_blocks, 0);
    char *dump = dump_to_string(db, 3, "old-key");
    assert_non_null(strstr(dump, "request 1 flux-dev 512 512 20 5000000000 8000000000 -1 -1 dropped 0 0 0 0\n"));
    assert_non_null(strstr(dump, "\n# block seq gpus")); /* the header, no block lines */
    assert_null(strstr(dump, "\nblock "));
    free(dump);
    results_close(db);
    assert_int_equal(raw_count(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 1);
    assert_int_equal(raw_count(path, "SELECT count(*) FROM sqlite_master WHERE name = 'block'"), 0);
    assert_int_equal(raw_exec(path, emulated_into_v1), SQLITE_CONSTRAINT);
}

/* For writing: a version-1 file is upgraded in place; its run keeps its id, rows and dump, the
 * foreign keys still cascade, and a new emulated run with blocks writes and reads back. */
static void version_1_files_are_upgraded_for_writing(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("v1-write.db");
    make_v1_file(path);
    /* An orphan request row, as a run deleted in the sqlite3 shell (foreign keys off) leaves: it
     * must not block the upgrade. */
    raw_sql(path, "INSERT INTO request VALUES (99, 0, 'flux-dev', 256, 256, 20, 0, 1, -1, -1, 'dropped', 0, 0, 0, 0)");
    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    char *before = dump_to_string(db, 3, "old-key");
    results_close(db);
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(count_rows(db, "SELECT value FROM meta WHERE key = 'schema_version'"), TETRI_RESULTS_SCHEMA_VERSION);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'run_by_group'"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('block', 'run_v3')"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM pragma_foreign_key_list('request') WHERE \"table\" = 'run'"), 1);
    char *after = dump_to_string(db, 3, "old-key");
    assert_string_equal(before, after);
    free(before);
    free(after);
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "emulated");
    assert_int_equal(results_write_run(db, 3, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk,
                                       FIXTURE_N_BLOCKS, &err),
                     0);
    /* ON DELETE CASCADE still reaches the old run's rows through the rebuilt table. */
    assert_int_equal(sqlite3_exec(db->sql, "DELETE FROM run WHERE id = 7", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), FIXTURE_N_REQUESTS + 1); /* + the orphan */
    results_close(db);
    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    results_run *runs;
    size_t n;
    assert_int_equal(results_load_runs(db, 3, &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].backend, "emulated");
    tetri_block_result *blocks;
    size_t n_blocks;
    assert_int_equal(results_load_blocks(db, runs[0].id, &blocks, &n_blocks, &err), 0);
    assert_int_equal(n_blocks, FIXTURE_N_BLOCKS);
    assert_memory_equal(blocks, f.blk, sizeof f.blk);
    free(blocks);
    results_runs_free(runs, n);
    results_close(db);
    /* Opening again finds version 3: nothing more to do. */
    assert_int_equal(results_open(path, &db, &err), 0);
    results_close(db);
}

/* An upgrade that fails halfway (a foreign table named block) is refused with a message and
 * leaves the file as it was, readable. */
static void a_failed_upgrade_leaves_version_1(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("v1-fail.db");
    make_v1_file(path);
    raw_sql(path, "CREATE TABLE block (x)");
    assert_int_equal(results_open(path, &db, &err), -1);
    assert_null(db);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, "cannot upgrade the results schema to version 3"));
    assert_non_null(strstr(err.msg, "already exists"));
    assert_int_equal(raw_count(path, "SELECT value FROM meta WHERE key = 'schema_version'"), 1);
    assert_int_equal(raw_count(path, "SELECT count(*) FROM block"), 0);
    assert_int_equal(raw_exec(path, emulated_into_v1), SQLITE_CONSTRAINT); /* the old run table, not the rebuilt one */
    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    results_run *runs;
    size_t n;
    assert_int_equal(results_load_runs(db, -1, &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    results_runs_free(runs, n);
    results_close(db);
}

/* ---- fault injection: an allocator that fails from the Nth call on ----------------------------- */

static sqlite3_mem_methods real_mem;
static long alloc_countdown = -1; /* -1: never fail */
static int alloc_persistent;      /* 1: every call after the first failure fails too; 0: only that one */
static long alloc_failures;
static long alloc_calls;          /* every allocation, failed or not */

static int should_fail(void)
{
    alloc_calls++;
    if (alloc_countdown < 0) return 0;
    if (alloc_countdown == 0) {
        alloc_failures++;
        if (!alloc_persistent) alloc_countdown = -1;
        return 1;
    }
    alloc_countdown--;
    return 0;
}
static void *failing_malloc(int n) { return should_fail() ? NULL : real_mem.xMalloc(n); }
static void *failing_realloc(void *p, int n) { return should_fail() ? NULL : real_mem.xRealloc(p, n); }

static void fixture_sweep_counts(results_db *db, int64_t *runs, int64_t *requests, int64_t *samples, int64_t *blocks)
{
    *runs = count_rows(db, "SELECT count(*) FROM run");
    *requests = count_rows(db, "SELECT count(*) FROM request");
    *samples = count_rows(db, "SELECT count(*) FROM timeline");
    *blocks = count_rows(db, "SELECT count(*) FROM block");
}

/* Fails allocation number N of results_write_run (and, when persistent, every later one), for
 * N = 0, 1, ... until the write makes fewer than N allocations. Whatever the call returns must be
 * all or nothing: 0 with the whole run in the file, or -1 with a message and no row of it; after a
 * failure the handle must write the same run completely. Counts the points that failed the write. */
static void inject_allocation_failures(int persistent, int *failed_writes, int *points)
{
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.5, 12, 1, "sim");
    const char *path = tmp_path("oom.db");
    *failed_writes = *points = 0;
    alloc_persistent = persistent;
    for (long fail_at = 0; fail_at < 100000; fail_at++) {
        tetri_error err = {{0}};
        results_db *db;
        remove_db(path);
        alloc_countdown = -1;
        assert_int_equal(results_open(path, &db, &err), 0);
        int64_t exp;
        assert_int_equal(results_experiment(db, "oom", "", &exp, &err), 0);
        alloc_countdown = fail_at;
        alloc_failures = 0;
        int rc = results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err);
        long failures = alloc_failures;
        alloc_countdown = -1;
        int64_t runs, requests, samples, blocks;
        fixture_sweep_counts(db, &runs, &requests, &samples, &blocks);
        if (rc == 0) {
            /* Succeeded (no failure reached it, or SQLite worked around one): the whole run is there. */
            assert_int_equal(runs, 1);
            assert_int_equal(requests, FIXTURE_N_REQUESTS);
            assert_int_equal(samples, FIXTURE_N_TIMELINE);
            assert_int_equal(blocks, FIXTURE_N_BLOCKS);
        } else {
            /* Failed: because of the injection, with a message, and no row of the run at all. */
            assert_true(failures > 0);
            assert_true(err.msg[0] != 0);
            assert_int_equal(runs + requests + samples + blocks, 0);
            assert_int_equal(results_run_done(db, exp, f.run_key, &err), 0);
            /* The handle stays usable: the same run writes completely once memory is back. */
            assert_int_equal(
                results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
            assert_int_equal(results_run_done(db, exp, f.run_key, &err), 1);
            (*failed_writes)++;
        }
        results_close(db);
        if (failures == 0) break; /* the write made fewer than fail_at allocations: every point is covered */
        (*points)++;
    }
    remove_db(path);
}

/* Where the upgrade starts: the allocation count when a connection first runs the upgrade's first
 * statement, so the injection below skips the ~3000 allocations of opening a connection (covered by
 * the write test above) and tries every one of the upgrade's. Every connection gets the trace
 * (sqlite3_auto_extension); it records only while armed. */
static long upgrade_starts_at = -1;
static int upgrade_trace_armed;

static int trace_upgrade_start(unsigned type, void *ctx, void *stmt, void *sql)
{
    (void)type, (void)ctx, (void)stmt;
    if (upgrade_trace_armed && upgrade_starts_at < 0 && strcmp((const char *)sql, "PRAGMA foreign_keys = OFF") == 0)
        upgrade_starts_at = alloc_calls;
    return 0;
}

static int install_upgrade_trace(sqlite3 *db, char **msg, const void *api)
{
    (void)msg, (void)api;
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, trace_upgrade_start, NULL);
    return SQLITE_OK;
}

/* Fails allocation N of upgrading a version-1 file (results_open), for N = the upgrade's start,
 * then every stride-th allocation on, until the open makes fewer: whether the open succeeds or
 * fails (with a message), the file is either the version-1 file as it was or completely upgraded,
 * its run intact, and a later open works. The upgrade makes ~2900 allocations (it reparses the
 * schema at each step) at ~4 ms a point, so a stride keeps the one-off pass to a few seconds.
 * Returns the points that failed the open; *points: the points tried. */
static int inject_upgrade_failures(int persistent, long stride, int *points)
{
    const char *path = tmp_path("oom-v1.db");
    tetri_error err = {{0}};
    results_db *db;
    /* A dry run finds where the upgrade starts. */
    make_v1_file(path);
    upgrade_starts_at = -1;
    upgrade_trace_armed = 1;
    assert_int_equal(sqlite3_auto_extension((void (*)(void))install_upgrade_trace), SQLITE_OK);
    alloc_calls = 0;
    assert_int_equal(results_open(path, &db, &err), 0);
    upgrade_trace_armed = 0;
    sqlite3_cancel_auto_extension((void (*)(void))install_upgrade_trace);
    results_close(db);
    assert_true(upgrade_starts_at > 0);
    /* Each point starts from a copy of one version-1 file: copying is cheaper than writing it
     * through SQLite (two transactions, each synced), and the loop makes thousands. */
    make_v1_file(path);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char image[64 * 1024];
    size_t image_len = fread(image, 1, sizeof image, f);
    assert_true(image_len > 0 && image_len < sizeof image && feof(f));
    fclose(f);
    int failed_opens = 0;
    *points = 0;
    alloc_persistent = persistent;
    for (long fail_at = upgrade_starts_at; fail_at < upgrade_starts_at + 100000; fail_at += stride) {
        alloc_countdown = -1;
        remove_db(path);
        f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(image, 1, image_len, f), image_len);
        assert_int_equal(fclose(f), 0);
        alloc_countdown = fail_at;
        alloc_failures = 0;
        int rc = results_open(path, &db, &err);
        long failures = alloc_failures;
        alloc_countdown = -1;
        if (rc == 0) {
            results_close(db);
        } else {
            assert_true(failures > 0);
            assert_true(err.msg[0] != 0);
            failed_opens++;
        }
        /* Version 1 untouched, or version 3 complete (the open may fail after the upgrade committed,
         * setting WAL mode, say): never a mix; the old run's rows are there either way. */
        int64_t state = raw_count(path, "SELECT (SELECT value FROM meta WHERE key = 'schema_version') * 1000 + "
                                        "(SELECT count(*) FROM sqlite_master WHERE name IN ('block', 'run_v3')) * 100 + "
                                        "(SELECT count(*) FROM request WHERE run_id = 7)");
        assert_true(state == 1002 || state == 3102);
        if (state == 1002 || rc != 0) {
            /* A later open (memory back) upgrades it, or opens the upgraded file. */
            assert_int_equal(results_open(path, &db, &err), 0);
            assert_int_equal(count_rows(db, "SELECT count(*) FROM timeline WHERE run_id = 7"), 2);
            results_close(db);
        }
        if (failures == 0) break;
        (*points)++;
    }
    remove_db(path);
    return failed_opens;
}

static void write_is_atomic_under_malloc_failure(void **state)
{
    (void)state;
    sqlite3_shutdown();
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem), SQLITE_OK);
    sqlite3_mem_methods failing = real_mem;
    failing.xMalloc = failing_malloc;
    failing.xRealloc = failing_realloc;
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &failing), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);

    int failed, points;
    inject_allocation_failures(1, &failed, &points);
    assert_true(failed > 5); /* the injection did reach inside results_write_run */
    print_message("persistent allocation failure at each of %d allocations: %d writes failed, each rolled back cleanly\n",
                  points, failed);
    inject_allocation_failures(0, &failed, &points);
    assert_true(failed > 5);
    print_message("one-off allocation failure at each of %d allocations: %d writes failed, each rolled back cleanly\n",
                  points, failed);
    failed = inject_upgrade_failures(1, 1, &points);
    assert_true(failed > 5);
    print_message("persistent allocation failure at each of %d allocations of a version-1 upgrade: %d opens failed, "
                  "none left a half-upgraded file\n",
                  points, failed);
    failed = inject_upgrade_failures(0, 7, &points);
    assert_true(failed > 5);
    print_message("one-off allocation failure at every 7th of the upgrade's allocations (%d): %d opens failed, "
                  "none left a half-upgraded file\n",
                  points, failed);

    sqlite3_shutdown();
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, &real_mem), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);
}

static void write_is_atomic_when_disk_is_full(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("full.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t exp;
    assert_int_equal(results_experiment(db, "full", "", &exp, &err), 0);
    /* A run of 300 requests needs several pages; allow one more than the schema uses. */
    enum { N = 300 };
    static tetri_request_result req[N];
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "sim");
    for (int i = 0; i < N; i++) {
        req[i] = f.req[i % FIXTURE_N_REQUESTS];
        req[i].id = i;
        req[i].outcome = TETRI_MET;
    }
    tetri_run_summary sum = f.sum;
    sum.n = sum.met = N;
    sum.late = sum.dropped = 0;
    int64_t pages = count_rows(db, "PRAGMA page_count");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld", (long long)pages + 1);
    assert_int_equal(sqlite3_exec(db->sql, pragma, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), -1);
    assert_non_null(strstr(err.msg, "full"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(results_run_done(db, exp, f.run_key, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), 0);
    /* Space again: the run writes. */
    assert_int_equal(sqlite3_exec(db->sql, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), N);
    results_close(db);
}

/* Parallel sweeps writing one file: each process's transactions wait for the others' (busy
 * timeout), none fails, nothing is lost. */
static void parallel_writers_share_a_file(void **state)
{
    (void)state;
    const char *path = tmp_path("parallel.db");
    remove_db(path);
    tetri_error err = {{0}};
    results_db *db;
    int64_t exp;
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(results_experiment(db, "par", "", &exp, &err), 0);
    results_close(db);
    enum { WRITERS = 3, RUNS = 15 };
    pid_t pids[WRITERS];
    for (int w = 0; w < WRITERS; w++) {
        pids[w] = fork();
        assert_true(pids[w] >= 0);
        if (pids[w] == 0) {
            static fixture_run f;
            results_db *mine;
            tetri_error e = {{0}};
            if (results_open(path, &mine, &e)) _exit(10);
            for (int k = 0; k < RUNS; k++) {
                fixture_build(&f, "tetriserve", "uniform", 1.0, 12, (uint64_t)(w * 100 + k), "sim");
                if (results_write_run(mine, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &e)) {
                    fprintf(stderr, "writer %d: %s\n", w, e.msg);
                    _exit(11);
                }
            }
            results_close(mine);
            _exit(0);
        }
    }
    for (int w = 0; w < WRITERS; w++) {
        int status;
        assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(results_open_readonly(path, &db, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run"), WRITERS * RUNS);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), WRITERS * RUNS * FIXTURE_N_REQUESTS);
    results_close(db);
}

static char *dump_to_string(results_db *db, int64_t exp, const char *key)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    tetri_error err = {{0}};
    assert_int_equal(results_dump_run(db, exp, key, f, &err), 0);
    fclose(f);
    return text;
}

static void dump_is_canonical(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db1, *db2;
    const char *p1 = tmp_path("dump1.db"), *p2 = tmp_path("dump2.db");
    remove_db(p1);
    remove_db(p2);
    assert_int_equal(results_open(p1, &db1, &err), 0);
    assert_int_equal(results_open(p2, &db2, &err), 0);
    int64_t e1, e2, other;
    /* Different experiment ids in the two files: the dump does not depend on row ids. */
    assert_int_equal(results_experiment(db2, "filler", "", &other, &err), 0);
    assert_int_equal(results_experiment(db1, "d", "", &e1, &err), 0);
    assert_int_equal(results_experiment(db2, "d", "", &e2, &err), 0);
    assert_true(e1 != e2);
    static fixture_run f;
    fixture_build(&f, "tetriserve", "skewed", 1.2, 12, 2, "sim");
    f.tl[3].mean_degree = 1.0 / 3.0; /* a double that needs all 17 digits */
    assert_int_equal(results_write_run(db1, e1, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    /* Host measurements differ between two executions of the same run: they are not in the dump. */
    f.sum.wall_s = 123.0;
    f.sum.decide_median_ns = 1;
    f.sum.decide_p99_ns = 2;
    f.sum.decide_max_ns = 3;
    assert_int_equal(results_write_run(db2, e2, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    char *d1 = dump_to_string(db1, e1, f.run_key), *d2 = dump_to_string(db2, e2, f.run_key);
    assert_string_equal(d1, d2);
    assert_non_null(strstr(d1, "timeline 30000000000 "));
    assert_non_null(strstr(d1, " 0.33333333333333331 "));
    assert_non_null(strstr(d1, "seed 2\n"));
    assert_null(strstr(d1, "123"));
    /* Any change of a deterministic field changes the dump. */
    int64_t e3;
    assert_int_equal(results_experiment(db2, "d3", "", &e3, &err), 0);
    f.req[7].finish += 1;
    assert_int_equal(results_write_run(db2, e3, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    char *d3 = dump_to_string(db2, e3, f.run_key);
    assert_string_not_equal(d1, d3);
    /* Blocks are in the dump, after the timeline, one fixed-format line each; a 1-ns change of a
     * block's actual end changes it. */
    assert_non_null(strstr(d1, "\n# block seq gpus degree steps requests pred_start_ns pred_end_ns start_ns end_ns "
                               "migration_ns failed\nblock 0 0x1 1 5 0 0 1000000000 0 990000000 0 0\n"));
    assert_non_null(strstr(d1, "\nblock 2 0xf 4 5 2,9,16 4000000000 5000000000 4002000000 5012000000 0 0\n"));
    assert_non_null(strstr(d1, "\nblock 5 0xc0 2 5 5,12,19 10000000000 11000000000 10005000000 10305000000 50000000 1\n"));
    assert_true(strstr(d1, "# timeline") < strstr(d1, "# block"));
    int64_t e4;
    assert_int_equal(results_experiment(db2, "d4", "", &e4, &err), 0);
    f.req[7].finish -= 1;
    f.blk[3].end += 1;
    assert_int_equal(results_write_run(db2, e4, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk,
                                       FIXTURE_N_BLOCKS, &err),
                     0);
    char *d4 = dump_to_string(db2, e4, f.run_key);
    assert_string_not_equal(d1, d4);
    free(d4);
    FILE *null = fopen("/dev/null", "w");
    assert_int_equal(results_dump_run(db1, e1, "no-such-key", null, &err), -1);
    assert_non_null(strstr(err.msg, "no run 'no-such-key'"));
    fclose(null);
    free(d1);
    free(d2);
    free(d3);
    results_close(db1);
    results_close(db2);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 300 request rows in one transaction with prepared statements: milliseconds, not seconds. */
/* The conflicts results_merge reported: how many, and the last one's key and dump line. */
static int merge_conflicts;
static char merge_conflict_key[512];
static size_t merge_conflict_line;

static void note_merge_conflict(const results_merge_conflict *c, void *ctx)
{
    (void)ctx;
    merge_conflicts++;
    snprintf(merge_conflict_key, sizeof merge_conflict_key, "%s", c->run_key);
    merge_conflict_line = c->line;
}

/* Every run of src is in dst with the same dump and the same summary, host measurements, partial
 * status and note included. */
static void check_merged_runs(results_db *src, results_db *dst, size_t want_runs)
{
    tetri_error err = {{0}};
    results_run *a, *b;
    size_t na, nb;
    assert_int_equal(results_load_runs(src, -1, &a, &na, &err), 0);
    assert_int_equal(results_load_runs(dst, -1, &b, &nb, &err), 0);
    assert_int_equal(na, want_runs);
    assert_int_equal(nb, na);
    for (size_t i = 0; i < na; i++) {
        assert_string_equal(a[i].experiment, b[i].experiment);
        assert_string_equal(a[i].run_key, b[i].run_key);
        assert_string_equal(a[i].status, b[i].status);
        assert_memory_equal(&a[i].sum, &b[i].sum, sizeof a[i].sum); /* snprintf'ed note: same bytes after it */
        char *da = dump_to_string(src, a[i].experiment_id, a[i].run_key), *db = dump_to_string(dst, b[i].experiment_id, b[i].run_key);
        assert_string_equal(da, db);
        free(da);
        free(db);
    }
    results_runs_free(a, na);
    results_runs_free(b, nb);
}

/* The config text of experiment `name` (malloc'ed). */
static char *experiment_config(results_db *db, const char *name)
{
    tetri_error err = {{0}};
    results_experiment_info *e;
    size_t n;
    char *config = NULL;
    assert_int_equal(results_list_experiments(db, &e, &n, &err), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(e[i].name, name) == 0) config = strdup(e[i].config);
    results_experiments_free(e, n);
    assert_non_null(config);
    return config;
}

/* results_merge: the fixture sweep and a partial live run (its own host measurements and note) into
 * a database that has the live experiment under another config: every run copied exactly, the config
 * appended once; merging again copies nothing; a run of the same key with a request 1 ns later is a
 * conflict, the target's run kept. */
static void merge_copies_every_run_exactly(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *src, *dst, *other;
    const char *src_path = tmp_path("merge_src.db"), *dst_path = tmp_path("merge_dst.db"), *other_path = tmp_path("merge_other.db");
    remove_db(src_path);
    remove_db(dst_path);
    remove_db(other_path);
    assert_int_equal(results_open(src_path, &src, &err), 0);
    assert_int_equal(fixture_write_sweep(src, &err), 0);
    int64_t live_src, live_dst, live_other;
    assert_int_equal(results_experiment(src, "live", "live A", &live_src, &err), 0);
    static fixture_run f;
    fixture_build(&f, "rssp", "uniform", 1.0, 12, 3, "exec");
    f.sum.partial = true;
    f.sum.wall_s = 12.5;
    f.sum.decide_median_ns = 7;
    snprintf(f.sum.note, sizeof f.sum.note, "stopped by signal 2");
    assert_int_equal(results_write_run(src, live_src, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    const size_t n_runs = (size_t)count_rows(src, "SELECT count(*) FROM run");
    assert_int_equal(results_open(dst_path, &dst, &err), 0);
    assert_int_equal(results_experiment(dst, "live", "live B", &live_dst, &err), 0);

    results_merge_counts n = {0, 0, 0};
    assert_int_equal(results_merge(dst, src, "src.db", &n, note_merge_conflict, NULL, &err), 0);
    assert_int_equal(n.copied, n_runs);
    assert_int_equal(n.already + n.conflicting + merge_conflicts, 0);
    check_merged_runs(src, dst, n_runs);
    assert_int_equal(count_rows(dst, "SELECT count(*) FROM run WHERE status = 'partial' AND note = 'stopped by signal 2' AND wall_s = 12.5"), 1);
    char *config = experiment_config(dst, "live");
    assert_string_equal(config, "live B\n# merged from src.db:\nlive A");
    free(config);
    config = experiment_config(dst, "paper");
    assert_string_equal(config, "fixture: policies x mixes x scales x seeds");
    free(config);

    /* Again: every run already there, the config as it was. */
    n = (results_merge_counts){0, 0, 0};
    assert_int_equal(results_merge(dst, src, "src.db", &n, note_merge_conflict, NULL, &err), 0);
    assert_int_equal(n.copied + n.conflicting + merge_conflicts, 0);
    assert_int_equal(n.already, n_runs);
    config = experiment_config(dst, "live");
    assert_string_equal(config, "live B\n# merged from src.db:\nlive A");
    free(config);

    /* Another file with the live run's key, a request finishing 1 ns later, and a new run. */
    assert_int_equal(results_open(other_path, &other, &err), 0);
    assert_int_equal(results_experiment(other, "live", "live A", &live_other, &err), 0);
    f.req[4].finish += 1;
    assert_int_equal(results_write_run(other, live_other, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
    static fixture_run g;
    fixture_build(&g, "xdit-sp1", "uniform", 1.0, 12, 3, "exec");
    assert_int_equal(results_write_run(other, live_other, &g.info, &g.sum, g.req, FIXTURE_N_REQUESTS, g.tl, FIXTURE_N_TIMELINE, g.blk, FIXTURE_N_BLOCKS, &err), 0);
    n = (results_merge_counts){0, 0, 0};
    assert_int_equal(results_merge(dst, other, "other.db", &n, note_merge_conflict, NULL, &err), 0);
    assert_int_equal(n.copied, 1);
    assert_int_equal(n.already, 0);
    assert_int_equal(n.conflicting, 1);
    assert_int_equal(merge_conflicts, 1);
    assert_string_equal(merge_conflict_key, f.run_key);
    assert_true(merge_conflict_line > 10); /* a request line, after the run's header */
    f.req[4].finish -= 1;
    char *kept = dump_to_string(dst, live_dst, f.run_key), *own = dump_to_string(src, live_src, f.run_key);
    assert_string_equal(kept, own);
    free(kept);
    free(own);
    assert_int_equal(count_rows(dst, "SELECT count(*) FROM run"), n_runs + 1);
    results_close(other);
    results_close(dst);
    results_close(src);
}

static void writing_300_requests_is_fast(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("speed.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    int64_t exp;
    assert_int_equal(results_experiment(db, "speed", "", &exp, &err), 0);
    enum { N = 300, RUNS = 20 };
    static tetri_request_result req[N];
    static fixture_run f;
    fixture_build(&f, "tetriserve", "uniform", 1.0, 12, 1, "sim");
    for (int i = 0; i < N; i++) {
        req[i] = f.req[i % FIXTURE_N_REQUESTS];
        req[i].id = i;
        req[i].outcome = TETRI_MET;
    }
    tetri_run_summary sum = f.sum;
    sum.n = sum.met = N;
    sum.late = sum.dropped = 0;
    double best = 1e9;
    for (int k = 0; k < RUNS; k++) {
        char key[32];
        snprintf(key, sizeof key, "run-%d", k);
        f.info.run_key = key;
        double t0 = now_s();
        assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, f.blk, FIXTURE_N_BLOCKS, &err), 0);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    print_message("results_write_run, 300 requests + 10 samples: best of %d %.3f ms\n", RUNS, best * 1e3);
    /* Generous bound (sanitizers, a loaded shared machine); typical is well under 1 ms. */
    assert_true(best < 0.05);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), (int64_t)N * RUNS);
    /* With 1000 blocks (about 3 a request): typical 1.5 ms (docs/results.md). */
    enum { N_BLOCKS = 1000 };
    static tetri_block_result blocks[N_BLOCKS];
    for (int k = 0; k < N_BLOCKS; k++) {
        blocks[k] = f.blk[k % FIXTURE_N_BLOCKS];
        blocks[k].seq = k;
        blocks[k].req[0] = k % N;
        blocks[k].n_req = 1;
        blocks[k].failed = 0;
    }
    best = 1e9;
    for (int k = 0; k < RUNS; k++) {
        char key[32];
        snprintf(key, sizeof key, "blocks-%d", k);
        f.info.run_key = key;
        double t0 = now_s();
        assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, blocks, N_BLOCKS, &err), 0);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    print_message("results_write_run, 300 requests + 10 samples + 1000 blocks: best of %d %.3f ms\n", RUNS, best * 1e3);
    assert_true(best < 0.2);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM block"), (int64_t)(N_BLOCKS + FIXTURE_N_BLOCKS) * RUNS);
    results_close(db);
}

/* ---- report ------------------------------------------------------------------------------------- */

static char *report_metric_to_string(const results_run *runs, size_t n, const char *by, const char *metric, int csv)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    tetri_error err = {{0}};
    report_options opt;
    assert_int_equal(report_parse_by(by, opt.by, &opt.n_by, &err), 0);
    assert_int_equal(report_parse_metric(metric, &opt.metric, &err), 0);
    if (csv) report_write_csv(f, runs, n, 0, csv == 2); /* 2: with the block columns */
    else assert_int_equal(report_print_tables(f, runs, n, &opt, &err), 0);
    fclose(f);
    return text;
}

static char *report_to_string(const results_run *runs, size_t n, const char *by, int csv)
{
    return report_metric_to_string(runs, n, by, "attainment", csv);
}

static void report_tables_and_csv(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("report.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(fixture_write_sweep(db, &err), 0);
    int64_t paper;
    assert_int_equal(results_find_experiment(db, "paper", &paper, &err), 0);
    results_run *runs;
    size_t n;
    assert_int_equal(results_load_runs(db, paper, &runs, &n, &err), 0);
    assert_int_equal(n, 2 * 2 * 3 * 2 + 3);
    char *table = report_to_string(runs, n, "mix,scale,policy", 0);
    /* tetriserve, uniform, scale 1.0, sim: seeds met 14 and 13 of 20. */
    double mean = (fixture_met("tetriserve", "uniform", 1.0, 12, 1) + fixture_met("tetriserve", "uniform", 1.0, 12, 2)) / 40.0;
    char expect[128];
    snprintf(expect, sizeof expect, "%.3f (2; %.3f..%.3f)", mean, fixture_met("tetriserve", "uniform", 1.0, 12, 2) / 20.0,
             fixture_met("tetriserve", "uniform", 1.0, 12, 1) / 20.0);
    assert_non_null(strstr(table, expect));
    /* Backend differs in this experiment, so it splits tables; exec has one seed. */
    assert_non_null(strstr(table, "== mix uniform backend exec "));
    assert_non_null(strstr(table, "== mix skewed backend sim "));
    assert_null(strstr(table, "mix skewed backend exec"));
    snprintf(expect, sizeof expect, "%.3f (1)", fixture_met("tetriserve", "uniform", 1.5, 12, 1) / 20.0);
    assert_non_null(strstr(table, expect));
    /* Policy labels are short: one variant per name. */
    assert_non_null(strstr(table, "\ntetriserve "));
    assert_null(strstr(table, "tetriserve:g=5 "));
    free(table);

    char *csv = report_to_string(runs, n, "mix,scale,policy", 1);
    assert_true(strncmp(csv, "experiment,model,hardware,backend,mix,rate_per_min,slo_scale,policy_name,policy,seed,", 85) == 0);
    size_t lines = 0;
    for (const char *p = csv; *p; p++) lines += *p == '\n';
    assert_int_equal(lines, n + 1);
    snprintf(expect, sizeof expect, "paper,flux-dev,h100x8,sim,skewed,12,1.2,xdit-sp1,xdit-sp1,2,20,%d,",
             fixture_met("xdit-sp1", "skewed", 1.2, 12, 2));
    assert_non_null(strstr(csv, expect));
    /* Same database, same CSV: twice byte-identical. */
    char *csv2 = report_to_string(runs, n, "mix,scale,policy", 1);
    assert_string_equal(csv, csv2);
    free(csv);
    free(csv2);
    results_runs_free(runs, n);

    /* Attainment vs rate from the other experiment. */
    int64_t rates;
    assert_int_equal(results_find_experiment(db, "rates", &rates, &err), 0);
    assert_int_equal(results_load_runs(db, rates, &runs, &n, &err), 0);
    table = report_to_string(runs, n, "rate,policy", 0);
    assert_non_null(strstr(table, "columns rate"));
    snprintf(expect, sizeof expect, "%.3f (1)", fixture_met("xdit-sp1", "uniform", 1.0, 18, 1) / 20.0);
    assert_non_null(strstr(table, expect));
    free(table);
    /* Other metrics: dropped requests and p99 latency, recounted from the fixture's rows. */
    static fixture_run f6;
    fixture_build(&f6, "tetriserve:g=5", "uniform", 1.0, 6, 1, "sim");
    table = report_metric_to_string(runs, n, "rate,policy", "dropped", 0);
    assert_non_null(strstr(table, "dropped requests: rows policy, columns rate"));
    snprintf(expect, sizeof expect, "\ntetriserve  %.1f (1)", (double)f6.sum.dropped);
    assert_non_null(strstr(table, expect));
    free(table);
    table = report_metric_to_string(runs, n, "rate,policy", "p99", 0);
    assert_non_null(strstr(table, "\ntetriserve  inf (1)")); /* > 1% dropped */
    free(table);
    results_runs_free(runs, n);

    report_options opt;
    report_metric metric;
    assert_int_equal(report_parse_metric("p95", &metric, &err), -1);
    assert_non_null(strstr(err.msg, "unknown metric 'p95'"));
    assert_int_equal(report_parse_by("mix,speed,policy", opt.by, &opt.n_by, &err), -1);
    assert_non_null(strstr(err.msg, "unknown dimension 'speed'"));
    assert_int_equal(report_parse_by("policy", opt.by, &opt.n_by, &err), -1);
    assert_int_equal(report_parse_by("policy,scale,policy", opt.by, &opt.n_by, &err), -1);
    assert_non_null(strstr(err.msg, "twice"));
    results_close(db);
}

/* Block statistics in the three places a report shows them: --metric block_err tables, the
 * --blocks lines and the CSV (the fixture's formula: error scale 1 for sim, 2 for exec). */
static void report_block_statistics(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    results_db *db;
    const char *path = tmp_path("report-blocks.db");
    remove_db(path);
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(fixture_write_sweep(db, &err), 0);
    int64_t paper;
    assert_int_equal(results_find_experiment(db, "paper", &paper, &err), 0);
    results_run *runs;
    size_t n;
    assert_int_equal(results_load_runs(db, paper, &runs, &n, &err), 0);
    char *table = report_metric_to_string(runs, n, "mix,scale,policy", "block_err", 0);
    assert_non_null(strstr(table, "mean relative block-duration error"));
    assert_non_null(strstr(table, "\nxdit-sp1    0.0100 (2; 0.0100..0.0100)  0.0100 (2; 0.0100..0.0100)  "));
    assert_non_null(strstr(table, "\ntetriserve  0.0200 (1)  0.0200 (1)  0.0200 (1)\n")); /* exec */
    free(table);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_print_blocks(f, runs, n);
    fclose(f);
    assert_non_null(strstr(text, "blocks failed err_mean  err_p50  err_p99 delay_p50_ms delay_p99_ms  run_key\n"));
    assert_non_null(strstr(text, " sim            6      1  +0.0100  +0.0100  +0.0300        2.000        4.000  "));
    assert_non_null(strstr(text, " exec           6      1  +0.0200  +0.0200  +0.0600        4.000        8.000  "));
    free(text);
    char *csv = report_to_string(runs, n, "mix,scale,policy", 2);
    assert_non_null(strstr(csv, ",gpu_seconds,run_key,n_blocks,failed_blocks,block_err_mean,block_err_p50,block_err_p99,"
                                "start_delay_p50_ms,start_delay_p99_ms\n"));
    assert_non_null(strstr(csv, "\",6,1,0.020000,0.020000,0.060000,4.000000,8.000000\n"));
    free(csv);
    csv = report_to_string(runs, n, "mix,scale,policy", 1); /* without --blocks: the schema-1 columns */
    assert_non_null(strstr(csv, ",mean_degree,gpu_seconds,run_key\n"));
    assert_null(strstr(csv, "n_blocks"));
    free(csv);
    /* A run without blocks: count 0, no error (table "-", CSV empty fields). */
    runs[0].n_blocks = runs[0].failed_blocks = 0;
    runs[0].block_err_mean = runs[0].block_err_p50 = runs[0].block_err_p99 = NAN;
    runs[0].start_delay_p50_ms = runs[0].start_delay_p99_ms = NAN;
    csv = report_to_string(runs, 1, "mix,scale,policy", 2);
    assert_non_null(strstr(csv, ",0,0,,,,,\n"));
    free(csv);
    table = report_metric_to_string(runs, 1, "mix,scale,policy", "block_err", 0);
    assert_non_null(strstr(table, "\ntetriserve  - (1)\n"));
    free(table);
    results_runs_free(runs, n);
    results_close(db);
}

static void csv_fields_are_quoted(void **state)
{
    (void)state;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    report_csv_field(f, "plain");
    fputc('|', f);
    report_csv_field(f, "tetriserve:g=5,elastic=on");
    fputc('|', f);
    report_csv_field(f, "say \"hi\"");
    fclose(f);
    assert_string_equal(text, "plain|\"tetriserve:g=5,elastic=on\"|\"say \"\"hi\"\"\"");
    free(text);
}

static void policy_labels_are_short_and_ordered(void **state)
{
    (void)state;
    results_run runs[4];
    memset(runs, 0, sizeof runs);
    char *policies[4] = {"tetriserve:g=10,elastic=on,order=last", "tetriserve:g=2,elastic=on,order=last",
                         "tetriserve:g=2,elastic=off,order=last", "xdit-sp8"};
    char *names[4] = {"tetriserve", "tetriserve", "tetriserve", "xdit-sp8"};
    for (int i = 0; i < 4; i++) {
        runs[i].policy = policies[i];
        runs[i].policy_name = names[i];
    }
    char label[128];
    /* Among all four: only the options that differ between the tetriserve variants. */
    report_policy_label(&runs[0], runs, NULL, 4, label, sizeof label);
    assert_string_equal(label, "tetriserve:g=10,elastic=on");
    report_policy_label(&runs[2], runs, NULL, 4, label, sizeof label);
    assert_string_equal(label, "tetriserve:g=2,elastic=off");
    report_policy_label(&runs[3], runs, NULL, 4, label, sizeof label);
    assert_string_equal(label, "xdit-sp8");
    /* Among runs 0 and 1 (one table): elastic is common there. */
    size_t among[2] = {0, 1};
    report_policy_label(&runs[1], runs, among, 2, label, sizeof label);
    assert_string_equal(label, "tetriserve:g=2");
    /* Alone: just the name. */
    report_policy_label(&runs[1], runs, among + 1, 1, label, sizeof label);
    assert_string_equal(label, "tetriserve");
    /* Digit runs order as numbers: g=2 before g=10. */
    assert_true(report_dim_compare(&runs[1], &runs[0], REPORT_DIM_POLICY) < 0);
    assert_true(report_dim_compare(&runs[0], &runs[1], REPORT_DIM_POLICY) > 0);
    assert_true(report_dim_compare(&runs[0], &runs[0], REPORT_DIM_POLICY) == 0);
    runs[0].slo_scale = 1.0;
    runs[1].slo_scale = 1.25;
    report_dim_value(&runs[0], REPORT_DIM_SCALE, runs, NULL, 4, label, sizeof label);
    assert_string_equal(label, "1.0");
    report_dim_value(&runs[1], REPORT_DIM_SCALE, runs, NULL, 4, label, sizeof label);
    assert_string_equal(label, "1.25");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(schema_created_and_checked),
        cmocka_unit_test(round_trip),
        cmocka_unit_test(resume_skips_done_runs),
        cmocka_unit_test(partial_runs_are_replaced),
        cmocka_unit_test(inconsistent_runs_are_refused),
        cmocka_unit_test(bad_blocks_are_refused),
        cmocka_unit_test(repeated_block_seq_rolls_back),
        cmocka_unit_test(version_1_files_are_read_as_they_are),
        cmocka_unit_test(version_1_files_are_upgraded_for_writing),
        cmocka_unit_test(a_failed_upgrade_leaves_version_1),
        cmocka_unit_test(write_is_atomic_under_malloc_failure),
        cmocka_unit_test(write_is_atomic_when_disk_is_full),
        cmocka_unit_test(parallel_writers_share_a_file),
        cmocka_unit_test(dump_is_canonical),
        cmocka_unit_test(merge_copies_every_run_exactly),
        cmocka_unit_test(writing_300_requests_is_fast),
        cmocka_unit_test(report_tables_and_csv),
        cmocka_unit_test(report_block_statistics),
        cmocka_unit_test(csv_fields_are_quoted),
        cmocka_unit_test(policy_labels_are_short_and_ordered),
    };
    /* TETRI_TEST_FILTER=pattern runs only the matching tests (cmocka's * wildcards). */
    if (getenv("TETRI_TEST_FILTER")) cmocka_set_test_filter(getenv("TETRI_TEST_FILTER"));
    return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
