/* tests/test_host.c: the serving host under its three kinds of backend: the simulator, the
 * emulated real-time backend, and scripted fakes that misbehave.
 *
 * What holds: every block is recorded with its prediction (exact in the simulator); the emulated
 * backend serves the same trace to the same outcomes as the simulator when nothing is close to a
 * deadline, with block times within a bound of their prediction; failed blocks are retried and
 * then dropped by the documented rule, and every request still ends exactly once; a backend that
 * reports a block it never got is an error, as is a broken plan under every backend; a fatal
 * failure or a stop request ends a run partially, every request accounted for. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "exec/emulated.h"
#include "host/host.h"
#include "sim/sim.h"
#include "sim_fixture.h"

#define MS TETRI_NS_PER_MS
#define SEC TETRI_NS_PER_S

static tetri_profile *prof; /* 2 GPUs: 512 px at 50 ms (degree 1) and 30 ms (degree 2), 2 ms migration */
static char prof_path[256];

static int setup(void **state)
{
    (void)state;
    fixture_tmp_path(prof_path, sizeof prof_path, "test-host", "db");
    const fixture_row rows[] = {{512, 1, 50 * MS, 0.05, 0, NULL}, {512, 2, 30 * MS, 0.05, 0, NULL}};
    if (fixture_profile_db(prof_path, "t2", 2, 2, rows, 2, 2 * MS)) return -1;
    prof = fixture_open_profile(prof_path, "t2");
    return prof ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    profile_close(prof);
    unlink(prof_path);
    return 0;
}

/* n requests of 512 px, `steps` steps, one every `gap`, deadline `slack` after arrival. */
static tetri_trace spaced_trace(int n, int steps, tetri_ns gap, tetri_ns slack)
{
    int side[64], st[64];
    tetri_ns arr[64], dl[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        side[i] = 512;
        st[i] = steps;
        arr[i] = i * gap;
        dl[i] = arr[i] + slack;
    }
    return fixture_trace(n, side, st, arr, dl);
}

static void sim_blocks_are_recorded_exactly(void **state)
{
    (void)state;
    tetri_trace t = spaced_trace(6, 10, 200 * MS, 10 * SEC);
    sim_config cfg = {.profile = prof, .policy_spec = "xdit-sp1", .check_plans = 1};
    sim_result r;
    tetri_error err = {{0}};
    if (sim_run(&cfg, &t, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.n_blocks, 6);
    for (size_t i = 0; i < r.n_blocks; i++) {
        const tetri_block_result *b = &r.blocks[i];
        assert_int_equal(b->seq, (int32_t)i);
        assert_int_equal(b->n_req, 1);
        assert_int_equal(b->steps, 10);
        assert_int_equal(b->pred_end - b->pred_start, 10 * 50 * MS);
        assert_int_equal(b->start, b->pred_start); /* no jitter: the simulator runs the prediction */
        assert_int_equal(b->end, b->pred_end);
        assert_int_equal(b->failed, 0);
        assert_int_equal(r.requests[b->req[0]].finish, b->end);
    }
    assert_int_equal(r.n_gap, 0); /* the simulator has no host overhead */
    sim_result_free(&r);
    tetri_trace_free(&t);
}

/* Runs the trace on the emulated backend. */
static int run_emulated(const host_config *cfg, const tetri_trace *t, const emulated_options *eo, host_result *r,
                        tetri_error *err)
{
    emulated_backend *e;
    if (emulated_open(eo, &e, err)) return -1;
    host_backend be;
    emulated_bind(&be, e);
    host_arrival *arr = sim_arrivals_of(t);
    int rc = host_run(cfg, &be, arr, t->n, r, err);
    free(arr);
    emulated_close(e);
    return rc;
}

static void emulated_matches_the_simulator(void **state)
{
    (void)state;
    /* Room to spare: at speed 10 a 500 ms block sleeps 50 ms; any scheduling noise is far from
     * the deadlines, so outcomes and the order of events are those of the simulator. */
    tetri_trace t = spaced_trace(8, 10, 300 * MS, 3 * SEC);
    const char *policies[] = {"xdit-sp1", "xdit-sp2", "edf-dyn", "tetriserve", "xdit-sp1"};
    size_t all_gaps = 0;
    for (size_t p = 0; p < sizeof policies / sizeof policies[0]; p++) {
        host_config cfg = {.profile = prof, .policy_spec = policies[p], .check_plans = 1};
        host_result s, e;
        tetri_error err = {{0}};
        if (sim_run(&cfg, &t, &s, &err)) fail_msg("%s: %s", policies[p], err.msg);
        /* The last run spins (as on a machine with a core per thread), whatever this one has. */
        emulated_options eo = {.n_gpus = 2, .speed = 10, .settle_ns = EMULATED_DEFAULT_SETTLE_NS,
                               .spin_ns = p == 4 ? 50 * 1000 : 0};
        if (run_emulated(&cfg, &t, &eo, &e, &err)) fail_msg("%s: %s", policies[p], err.msg);
        assert_int_equal(e.summary.met, s.summary.met);
        assert_int_equal(e.summary.late + e.summary.dropped, s.summary.late + s.summary.dropped);
        for (size_t i = 0; i < e.n_blocks; i++) {
            const tetri_block_result *b = &e.blocks[i];
            /* A block starts after its decision and ends no sooner than predicted: the backend
             * ends it the host's reaction (real ns) after its prediction (--host-time real). How
             * late depends on the machine's load (make check -j runs tests side by side): a bound
             * of 1 s of workload time (100 ms real) only catches a broken clock; the figures are
             * `make bench`'s. */
            assert_true(b->start >= b->pred_start);
            assert_true(b->end >= b->pred_end - 1000 /* rounding of the speed */);
            /* ... and runs its predicted time exactly: begins and ends the reaction after it (but
             * for a reaction so long that the block would have ended before its hand-over: (S - 1)
             * x reaction > its time, on a loaded machine) */
            const tetri_ns d = (b->end - b->start) - (b->pred_end - b->pred_start);
            const bool clamped = (b->start - b->pred_start) * (tetri_ns)(eo.speed - 1) > b->pred_end - b->pred_start;
            if (!clamped && (d > 1000 || d < -1000)) fail_msg("%s block %zu ran %lld ns, predicted %lld", policies[p], i, (long long)(b->end - b->start),
                                                (long long)(b->pred_end - b->pred_start));
            if (b->end - b->pred_end >= SEC)
                fail_msg("%s block %zu: predicted [%lld, %lld], ran [%lld, %lld]", policies[p], i, (long long)b->pred_start,
                         (long long)b->pred_end, (long long)b->start, (long long)b->end);
        }
        /* The overhead's parts (worker, report, host) are stamped for every gap, none negative,
         * and add up to the gaps: sums do not depend on each array being sorted on its own. */
        assert_int_equal(e.n_gap_parts, e.n_gap);
        tetri_ns gaps = 0, parts = 0;
        for (size_t i = 0; i < e.n_gap; i++) {
            gaps += e.gap_ns[i];
            for (int k = 0; k < HOST_GAP_PARTS; k++) {
                assert_true(e.gap_part_ns[k][i] >= 0);
                parts += e.gap_part_ns[k][i];
            }
            if (i) for (int k = 0; k < HOST_GAP_PARTS; k++) assert_true(e.gap_part_ns[k][i] >= e.gap_part_ns[k][i - 1]);
        }
        assert_int_equal(parts, gaps);
        assert_int_equal(s.n_gap_parts, 0);
        all_gaps += e.n_gap;
        for (size_t i = 0; i < t.n; i++) {
            assert_int_equal(e.requests[i].outcome, s.requests[i].outcome);
            tetri_ns d = e.requests[i].finish - s.requests[i].finish;
            if (!(d > -MS && d < SEC)) fail_msg("%s request %zu: sim finish %lld, emulated %lld", policies[p], i, (long long)s.requests[i].finish, (long long)e.requests[i].finish);
        }
        host_result_free(&s);
        host_result_free(&e);
    }
    assert_true(all_gaps > 0); /* the parts were checked on some */
    tetri_trace_free(&t);
}

static void failed_blocks_are_retried_then_dropped(void **state)
{
    (void)state;
    tetri_trace t = spaced_trace(6, 4, 50 * MS, 5 * SEC);
    for (int max_failures = 0; max_failures <= 2; max_failures++) {
        host_config cfg = {.profile = prof, .policy_spec = "xdit-sp1", .check_plans = 1, .max_failures = max_failures};
        host_result r;
        tetri_error err = {{0}};
        emulated_options eo = {.n_gpus = 2, .speed = 20, .fail_every = 2}; /* blocks 2, 4, 6, ... fail */
        if (run_emulated(&cfg, &t, &eo, &r, &err)) fail_msg("%s", err.msg);
        assert_int_equal(r.summary.met + r.summary.late + r.summary.dropped, 6); /* every request ends once */
        assert_true(r.n_failed_blocks > 0);
        int64_t failed = 0;
        for (size_t i = 0; i < r.n_blocks; i++) failed += r.blocks[i].failed;
        assert_int_equal(failed, r.n_failed_blocks);
        if (max_failures == 0) {
            assert_int_equal(r.summary.dropped, r.n_failed_blocks); /* the first failure drops */
        } else {
            /* With retries, each failure is followed by a retry of that request; alternate blocks
             * fail, so a request fails at most twice in a row: max_failures=2 drops nobody. */
            if (max_failures == 2) assert_int_equal(r.summary.dropped, 0);
            for (size_t i = 0; i < t.n; i++)
                if (r.requests[i].outcome != TETRI_DROPPED) assert_true(r.requests[i].finish > 0);
        }
        host_result_free(&r);
    }
    tetri_trace_free(&t);
}

/* ---- a scripted backend whose host reacts late ------------------------------------------------- */

/* The virtual clock of a backend that sees every event `react` late: a timeout for `until`
 * returns at until + react, a block's end is taken react after it, and a block handed over runs
 * from that clock for its predicted time. What a real-time host is, in slow motion. */
typedef struct reactor { tetri_ns clock, react; int n; int32_t slot[8]; tetri_ns end[8]; } reactor;
static tetri_ns reactor_now(void *self) { return ((reactor *)self)->clock; }
static int reactor_start(void *self, const host_block *b, tetri_error *err)
{
    (void)err;
    reactor *x = self;
    assert_true(x->n < 8);
    x->slot[x->n] = b->slot;
    x->end[x->n++] = x->clock + b->pred_ns;
    return 0;
}
static int reactor_wait(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    (void)err;
    reactor *x = self;
    int first = -1;
    for (int i = 0; i < x->n; i++)
        if (first < 0 || x->end[i] < x->end[first]) first = i;
    if (first >= 0 && x->end[first] <= until) {
        const tetri_ns end = x->end[first];
        *ev = (host_event){.kind = HOST_EVENT_DONE, .slot = x->slot[first], .start = 0, .end = end};
        x->slot[first] = x->slot[x->n - 1];
        x->end[first] = x->end[--x->n];
        if (end + x->react > x->clock) x->clock = end + x->react;
        return 0;
    }
    if (until + x->react > x->clock) x->clock = until + x->react;
    *ev = (host_event){.kind = HOST_EVENT_TIMEOUT, .slot = -1, .end = x->clock};
    return 0;
}
static const host_backend_ops reactor_ops = {.name = "reactor", .now = reactor_now, .start_block = reactor_start,
                                             .wait_next = reactor_wait};

/* The host decides as of the event it answers (an arrival, a block's end), not the clock when it
 * got to it: a block's predicted start is that event's time, and its reaction is not added to
 * every later decision. */
static void decisions_are_made_at_the_events_instant(void **state)
{
    (void)state;
    /* Two GPUs, requests 100 ms apart, 10 steps of 50 ms at degree 1 (xdit-sp1). Requests 0 and 1
     * are decided on at their arrivals, 0 and 100 ms, and handed over 3 ms later, so they end at
     * 503 and 603 ms; requests 2 and 3 wait for those ends and are decided on at them (had the
     * host decided at its clock: 3, 103, 506 and 606 ms). */
    const tetri_ns decided[] = {0, 100 * MS, 503 * MS, 603 * MS};
    tetri_trace t = spaced_trace(4, 10, 100 * MS, 10 * SEC);
    host_arrival *arr = sim_arrivals_of(&t);
    reactor x = {.react = 3 * MS};
    host_backend be = {.ops = &reactor_ops, .self = &x};
    host_config cfg = {.profile = prof, .policy_spec = "xdit-sp1", .check_plans = 1};
    host_result r;
    tetri_error err = {{0}};
    if (host_run(&cfg, &be, arr, t.n, &r, &err)) fail_msg("%s", err.msg);
    assert_int_equal(r.n_blocks, 4);
    assert_int_equal(r.summary.met, 4);
    for (size_t i = 0; i < r.n_blocks; i++) {
        const tetri_block_result *b = &r.blocks[i];
        assert_int_equal(b->pred_start, decided[i]);
        assert_int_equal(b->pred_end - b->pred_start, 500 * MS);
    }
    host_result_free(&r);
    free(arr);
    tetri_trace_free(&t);
}

/* ---- a scripted backend that reports a block it never started ---------------------------------- */

typedef struct liar { tetri_ns clock; int started; } liar;
static tetri_ns liar_now(void *self) { return ((liar *)self)->clock; }
static int liar_start(void *self, const host_block *b, tetri_error *err)
{
    (void)b; (void)err;
    ((liar *)self)->started++;
    return 0;
}
static int liar_wait(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    (void)err;
    liar *l = self;
    if (l->started) { /* a slot the host never used */
        *ev = (host_event){.kind = HOST_EVENT_DONE, .slot = 40, .start = l->clock, .end = l->clock + 1};
        l->clock++;
        return 0;
    }
    l->clock = until;
    *ev = (host_event){.kind = HOST_EVENT_TIMEOUT, .slot = -1, .end = until};
    return 0;
}
static const host_backend_ops liar_ops = {.name = "liar", .now = liar_now, .start_block = liar_start, .wait_next = liar_wait};

static void a_backend_reporting_an_unknown_block_is_an_error(void **state)
{
    (void)state;
    tetri_trace t = spaced_trace(1, 4, 0, 5 * SEC);
    host_arrival *arr = sim_arrivals_of(&t);
    liar l = {0};
    host_backend be = {.ops = &liar_ops, .self = &l};
    host_config cfg = {.profile = prof, .policy_spec = "xdit-sp1"};
    host_result r;
    tetri_error err = {{0}};
    assert_int_equal(host_run(&cfg, &be, arr, t.n, &r, &err), -1);
    assert_non_null(strstr(err.msg, "backend liar reported block slot 40, which is not running"));
    host_result_free(&r);
    free(arr);
    tetri_trace_free(&t);
}

/* ---- a scripted backend whose first block fails fatally (a GPU error) --------------------------- */

typedef struct breaker { tetri_ns clock; int32_t slot[8]; int n_running, n_started; } breaker;
static tetri_ns breaker_now(void *self) { return ((breaker *)self)->clock; }
static int breaker_start(void *self, const host_block *b, tetri_error *err)
{
    (void)err;
    breaker *k = self;
    k->slot[k->n_running++] = b->slot;
    k->n_started++;
    return 0;
}
static int breaker_wait(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    (void)err;
    breaker *k = self;
    if (k->n_running) { /* the first running block fails, fatally, 10 ms on */
        k->clock += 10 * MS;
        *ev = (host_event){.kind = HOST_EVENT_FAILED, .fatal = true, .slot = k->slot[0], .start = k->clock - 10 * MS, .end = k->clock};
        snprintf(ev->why, sizeof ev->why, "GPU 0: the block failed: an illegal memory access was encountered");
        k->slot[0] = k->slot[--k->n_running];
        return 0;
    }
    k->clock = until;
    *ev = (host_event){.kind = HOST_EVENT_TIMEOUT, .slot = -1, .end = until};
    return 0;
}
static const host_backend_ops breaker_ops = {.name = "breaker", .now = breaker_now, .start_block = breaker_start, .wait_next = breaker_wait};

static void a_fatal_failure_ends_the_run_partially(void **state)
{
    (void)state;
    tetri_trace t = spaced_trace(6, 4, 0, 5 * SEC); /* all at t = 0: two start on the two GPUs */
    host_arrival *arr = sim_arrivals_of(&t);
    breaker k = {0};
    host_backend be = {.ops = &breaker_ops, .self = &k};
    host_config cfg = {.profile = prof, .policy_spec = "xdit-sp1", .max_failures = 5};
    host_result r;
    tetri_error err = {{0}};
    assert_int_equal(host_run(&cfg, &be, arr, t.n, &r, &err), 0);
    assert_true(r.partial);
    assert_non_null(strstr(r.partial_why, "backend breaker: GPU 0: the block failed: an illegal memory access"));
    assert_int_equal(k.n_started, 2);
    assert_int_equal(r.summary.dropped, 6); /* max_failures does not apply: the backend cannot go on */
    assert_int_equal(r.summary.met + r.summary.late, 0);
    assert_int_equal(r.n_blocks, 2);
    assert_int_equal(r.n_failed_blocks, 2); /* the failed one, and the one still running then */
    for (size_t i = 0; i < r.n_blocks; i++) assert_int_equal(r.blocks[i].failed, 1);
    host_result_free(&r);
    free(arr);
    tetri_trace_free(&t);
}

/* A stop request (what SIGINT sets) during an emulated run: the run ends at the next event, every
 * request accounted for, the blocks then running recorded as failed. */
static volatile sig_atomic_t test_stop;
static void *stop_after_100ms(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    test_stop = SIGINT;
    return NULL;
}

static void a_stop_request_ends_the_run_partially(void **state)
{
    (void)state;
    tetri_trace t = spaced_trace(20, 10, 200 * MS, 60 * SEC); /* 4 s of work at speed 10: 400 ms real */
    host_config cfg = {.profile = prof, .policy_spec = "xdit-sp1", .stop = &test_stop};
    emulated_options eo = {.n_gpus = 2, .speed = 10, .poll_real_ns = 5 * MS};
    host_result r;
    tetri_error err = {{0}};
    test_stop = 0;
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, stop_after_100ms, NULL), 0);
    const int rc = run_emulated(&cfg, &t, &eo, &r, &err);
    pthread_join(th, NULL);
    if (rc) fail_msg("%s", err.msg);
    assert_true(r.partial);
    assert_string_equal(r.partial_why, "stopped by signal 2");
    assert_int_equal(r.summary.met + r.summary.late + r.summary.dropped, 20);
    assert_true(r.summary.met > 0 && r.summary.dropped > 0); /* it ran a while, and not to the end */
    assert_true(r.summary.makespan < 2 * SEC);
    host_result_free(&r);
    tetri_trace_free(&t);
}

/* At speed S the emulated backend keeps the host's reaction (late_real: from the decision's
 * instant to the hand-over) at its real length in the run's time: the block begins and ends
 * (1 - 1/S) x late_real sooner than its hand-over and sleep say; with scale_host, not at all. The
 * block's start and end (gpu_start_real_ns, gpu_end_real_ns) are exact; when its end was seen
 * depends on the thread. */
static void emulated_blocks_keep_the_hosts_reaction_real(void **state)
{
    (void)state;
    for (int scaled = 0; scaled <= 1; scaled++) {
        emulated_options o = {.n_gpus = 1, .speed = 20, .scale_host = scaled};
        workers_runner run = emulated_runner(&o);
        const tetri_ns t0 = workers_real_now();
        workers_job job = {.seq = 1, .start_real = t0, .emulate_real = 20 * MS, .late_real = 10 * MS};
        host_event ev = {.kind = HOST_EVENT_DONE};
        run.run(run.ctx, 0, &job, &ev);
        assert_int_equal(ev.kind, HOST_EVENT_DONE);
        const tetri_ns shift = scaled ? 0 : 10 * MS - 10 * MS / 20;
        assert_int_equal(ev.gpu_end_real_ns - t0, 20 * MS - shift);
        assert_int_equal(ev.gpu_start_real_ns, scaled ? 0 : t0 - shift); /* the whole sleep, moved */
        assert_true(ev.end_real_ns >= ev.gpu_end_real_ns); /* seen when its thread woke */
        /* A reaction longer than the block: it ends at its hand-over, never before. */
        job = (workers_job){.seq = 1, .start_real = workers_real_now(), .emulate_real = 1 * MS, .late_real = 40 * MS};
        ev = (host_event){.kind = HOST_EVENT_DONE};
        run.run(run.ctx, 0, &job, &ev);
        assert_int_equal(ev.gpu_end_real_ns - job.start_real, scaled ? 1 * MS : 0);
    }
}

/* host_quantile_ns is nearest-rank: the smallest value with at least p of them at or below it. */
static void quantiles_are_nearest_rank(void **state)
{
    (void)state;
    const tetri_ns v[] = {10, 20, 30, 40};
    assert_int_equal(host_quantile_ns(v, 4, 0.25), 10);
    assert_int_equal(host_quantile_ns(v, 4, 0.26), 20);
    assert_int_equal(host_quantile_ns(v, 4, 0.5), 20);
    assert_int_equal(host_quantile_ns(v, 4, 0.99), 40);
    assert_int_equal(host_quantile_ns(v, 4, 1.0), 40);
    assert_int_equal(host_quantile_ns(v, 1, 0.99), 10);
}

static void emulated_options_are_checked(void **state)
{
    (void)state;
    emulated_backend *e = NULL;
    tetri_error err = {{0}};
    emulated_options bad_speed = {.n_gpus = 2, .speed = 0};
    assert_int_equal(emulated_open(&bad_speed, &e, &err), -1);
    assert_non_null(strstr(err.msg, "--speed"));
    emulated_options bad_gpus = {.n_gpus = 0, .speed = 1};
    assert_int_equal(emulated_open(&bad_gpus, &e, &err), -1);
    assert_non_null(strstr(err.msg, "GPUs"));
    assert_null(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_blocks_are_recorded_exactly),
        cmocka_unit_test(emulated_matches_the_simulator),
        cmocka_unit_test(failed_blocks_are_retried_then_dropped),
        cmocka_unit_test(decisions_are_made_at_the_events_instant),
        cmocka_unit_test(emulated_blocks_keep_the_hosts_reaction_real),
        cmocka_unit_test(a_backend_reporting_an_unknown_block_is_an_error),
        cmocka_unit_test(a_fatal_failure_ends_the_run_partially),
        cmocka_unit_test(a_stop_request_ends_the_run_partially),
        cmocka_unit_test(quantiles_are_nearest_rank),
        cmocka_unit_test(emulated_options_are_checked),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
