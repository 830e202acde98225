/* tests/test_results.c: the results database: schema creation and checks, write/read round trip,
 * resume (run_done), one-transaction atomicity under injected faults (failing allocator, full disk),
 * canonical dump determinism, report tables and CSV over the fixture sweep. */
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
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
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

    tetri_request_result *req;
    size_t n_req;
    assert_int_equal(results_load_requests(db, r->id, &req, &n_req, &err), 0);
    assert_int_equal(n_req, FIXTURE_N_REQUESTS);
    assert_memory_equal(req, f.req, sizeof f.req); /* every field, padding zeroed on both sides */
    free(req);
    tetri_timeline_sample *tl;
    size_t n_tl;
    assert_int_equal(results_load_timeline(db, r->id, &tl, &n_tl, &err), 0);
    assert_int_equal(n_tl, FIXTURE_N_TIMELINE);
    for (size_t k = 0; k < n_tl; k++) {
        assert_int_equal(tl[k].t, f.tl[k].t);
        assert_int_equal(tl[k].busy_gpus, f.tl[k].busy_gpus);
        assert_true(tl[k].mean_degree == f.tl[k].mean_degree);
        assert_int_equal(tl[k].pending, f.tl[k].pending);
    }
    free(tl);
    results_runs_free(runs, n);

    /* The read-only handle refuses writes. */
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, &err), -1);
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
    assert_int_equal(results_write_run(db, a, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 1);
    assert_int_equal(results_run_done(db, b, f.run_key, &err), 0); /* keys are per experiment */
    /* Writing it twice is refused and changes nothing. */
    assert_int_equal(results_write_run(db, a, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), -1);
    assert_non_null(strstr(err.msg, "already written"));
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run"), 1);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), FIXTURE_N_REQUESTS);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM timeline"), FIXTURE_N_TIMELINE);
    /* The same key in another experiment is a different run. */
    assert_int_equal(results_write_run(db, b, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM run"), 2);
    results_close(db);
    /* Done survives closing (a killed sweep restarted in a new process). */
    assert_int_equal(results_open(path, &db, &err), 0);
    assert_int_equal(results_run_done(db, a, f.run_key, &err), 1);
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
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "summary says"));
    f.sum.met--;
    f.info.backend = "gpu";
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "backend 'gpu'"));
    f.info.backend = "sim";
    f.info.policy = "";
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, NULL, 0, &err), -1);
    assert_non_null(strstr(err.msg, "field policy is empty"));
    f.info.policy = f.policy;
    /* Two timeline samples at one time break the timeline's key halfway through: nothing stays. */
    f.tl[5].t = f.tl[4].t;
    assert_int_equal(results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), -1);
    assert_non_null(strstr(err.msg, "timeline sample 5"));
    assert_int_equal(results_run_done(db, exp, f.run_key, &err), 0);
    assert_int_equal(count_rows(db, "SELECT (SELECT count(*) FROM run) + (SELECT count(*) FROM request) + "
                                    "(SELECT count(*) FROM timeline)"),
                     0);
    results_close(db);
}

/* ---- fault injection: an allocator that fails from the Nth call on ----------------------------- */

static sqlite3_mem_methods real_mem;
static long alloc_countdown = -1; /* -1: never fail */
static int alloc_persistent;      /* 1: every call after the first failure fails too; 0: only that one */
static long alloc_failures;

static int should_fail(void)
{
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

static void fixture_sweep_counts(results_db *db, int64_t *runs, int64_t *requests, int64_t *samples)
{
    *runs = count_rows(db, "SELECT count(*) FROM run");
    *requests = count_rows(db, "SELECT count(*) FROM request");
    *samples = count_rows(db, "SELECT count(*) FROM timeline");
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
        int rc = results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err);
        long failures = alloc_failures;
        alloc_countdown = -1;
        int64_t runs, requests, samples;
        fixture_sweep_counts(db, &runs, &requests, &samples);
        if (rc == 0) {
            /* Succeeded (no failure reached it, or SQLite worked around one): the whole run is there. */
            assert_int_equal(runs, 1);
            assert_int_equal(requests, FIXTURE_N_REQUESTS);
            assert_int_equal(samples, FIXTURE_N_TIMELINE);
        } else {
            /* Failed: because of the injection, with a message, and no row of the run at all. */
            assert_true(failures > 0);
            assert_true(err.msg[0] != 0);
            assert_int_equal(runs + requests + samples, 0);
            assert_int_equal(results_run_done(db, exp, f.run_key, &err), 0);
            /* The handle stays usable: the same run writes completely once memory is back. */
            assert_int_equal(
                results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
            assert_int_equal(results_run_done(db, exp, f.run_key, &err), 1);
            (*failed_writes)++;
        }
        results_close(db);
        if (failures == 0) break; /* the write made fewer than fail_at allocations: every point is covered */
        (*points)++;
    }
    remove_db(path);
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
    assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, &err), -1);
    assert_non_null(strstr(err.msg, "full"));
    assert_non_null(strstr(err.msg, path));
    assert_int_equal(results_run_done(db, exp, f.run_key, &err), 0);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), 0);
    /* Space again: the run writes. */
    assert_int_equal(sqlite3_exec(db->sql, "PRAGMA max_page_count = 1000000", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, &err), 0);
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
                if (results_write_run(mine, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &e)) {
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
    assert_int_equal(results_write_run(db1, e1, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
    /* Host measurements differ between two executions of the same run: they are not in the dump. */
    f.sum.wall_s = 123.0;
    f.sum.decide_median_ns = 1;
    f.sum.decide_p99_ns = 2;
    f.sum.decide_max_ns = 3;
    assert_int_equal(results_write_run(db2, e2, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
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
    assert_int_equal(results_write_run(db2, e3, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, &err), 0);
    char *d3 = dump_to_string(db2, e3, f.run_key);
    assert_string_not_equal(d1, d3);
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
        assert_int_equal(results_write_run(db, exp, &f.info, &sum, req, N, f.tl, FIXTURE_N_TIMELINE, &err), 0);
        double dt = now_s() - t0;
        if (dt < best) best = dt;
    }
    print_message("results_write_run, 300 requests + 10 samples: best of %d %.3f ms\n", RUNS, best * 1e3);
    /* Generous bound (sanitizers, a loaded shared machine); typical is well under 1 ms. */
    assert_true(best < 0.05);
    assert_int_equal(count_rows(db, "SELECT count(*) FROM request"), (int64_t)N * RUNS);
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
    if (csv) report_write_csv(f, runs, n, 0);
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
        cmocka_unit_test(inconsistent_runs_are_refused),
        cmocka_unit_test(write_is_atomic_under_malloc_failure),
        cmocka_unit_test(write_is_atomic_when_disk_is_full),
        cmocka_unit_test(parallel_writers_share_a_file),
        cmocka_unit_test(dump_is_canonical),
        cmocka_unit_test(writing_300_requests_is_fast),
        cmocka_unit_test(report_tables_and_csv),
        cmocka_unit_test(csv_fields_are_quoted),
        cmocka_unit_test(policy_labels_are_short_and_ordered),
    };
    return cmocka_run_group_tests(tests, setup_tmpdir, remove_tmpdir);
}
