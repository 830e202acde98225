/* tests/test_sim.c: the discrete-event engine, xdit-spK and rssp on hand-made profiles and traces,
 * determinism, conservation, error reports for broken policies and profiles, and resumable sweeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results.h"
#include "host/plan_check.h"
#include "profiles/measured.h"
#include "sched/policies.h"
#include "sim/sim.h"
#include "sim/sweep.h"
#include "tests/sim_fixture.h"
#include "workloads/workload.h"

#define MS TETRI_NS_PER_MS
#define SEC TETRI_NS_PER_S

/* 8 GPUs, one NVLink domain. Parallel efficiency T(1)/(k T(k)) is designed so the rssp rule with
 * eff=0.5 picks 2 / 4 / 8 / 8 for 256 / 512 / 1024 / 2048. */
static const fixture_row rows8[] = {
    {256, 1, 40 * MS, 0.1, 0, 0},    {256, 2, 30 * MS, 0.1, 0, 0},    {256, 4, 25 * MS, 0.1, 0, 0},   {256, 8, 24 * MS, 0.1, 0, 0},
    {512, 1, 100 * MS, 0.1, 0, 0},   {512, 2, 60 * MS, 0.1, 0, 0},    {512, 4, 40 * MS, 0.1, 0, 0},   {512, 8, 35 * MS, 0.1, 0, 0},
    {1024, 1, 400 * MS, 0.1, 0, 0},  {1024, 2, 210 * MS, 0.1, 0, 0},  {1024, 4, 120 * MS, 0.1, 0, 0}, {1024, 8, 80 * MS, 0.1, 0, 0},
    {2048, 1, 1600 * MS, 0.1, 0, 0}, {2048, 2, 820 * MS, 0.1, 0, 0},  {2048, 4, 420 * MS, 0.1, 0, 0}, {2048, 8, 220 * MS, 0.1, 0, 0},
    {256, 1, 60 * MS, 0.1, 2, 0},    /* a batch of two 256s on one GPU */
};
#define MIGRATION_NS (7 * MS)

static char path8[256], path2[256];
static tetri_profile *prof8, *prof2; /* prof2: 2 GPUs, 512 only at degree 1 (no degree 2 row) */

static int setup(void **state)
{
    (void)state;
    fixture_tmp_path(path8, sizeof path8, "test_sim-h8", "db");
    fixture_tmp_path(path2, sizeof path2, "test_sim-g2", "db");
    const fixture_row rows2[] = {{512, 1, 50 * MS, 0.2, 0, 0}};
    if (fixture_profile_db(path8, "test8", 8, 8, rows8, (int)(sizeof rows8 / sizeof rows8[0]), MIGRATION_NS)) return -1;
    if (fixture_profile_db(path2, "test2", 2, 2, rows2, 1, MIGRATION_NS)) return -1;
    prof8 = fixture_open_profile(path8, "test8");
    prof2 = fixture_open_profile(path2, "test2");
    return prof8 && prof2 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    profile_close(prof8);
    profile_close(prof2);
    unlink(path8);
    unlink(path2);
    return 0;
}

static tetri_trace paper_trace(double rate, uint64_t seed, int n, tetri_mix_kind mix)
{
    workload_spec w;
    workload_spec_default(&w);
    w.rate_per_min = rate;
    w.seed = seed;
    w.n_requests = n;
    w.mix = mix;
    tetri_trace t = {0};
    tetri_error err = {{0}};
    if (workload_generate(&w, &t, &err)) fail_msg("workload_generate: %s", err.msg);
    return t;
}

static void run_ok(const sim_config *cfg, const tetri_trace *t, sim_result *res)
{
    tetri_error err = {{0}};
    if (sim_run(cfg, t, res, &err)) fail_msg("sim_run(%s): %s", cfg->policy_spec, err.msg);
}

static tetri_ns step_ns(int side, int degree)
{
    for (size_t i = 0; i < sizeof rows8 / sizeof rows8[0]; i++)
        if (rows8[i].side == side && rows8[i].degree == degree && rows8[i].batch == 0) return rows8[i].median_ns;
    fail_msg("no row %d/%d", side, degree);
    return -1;
}

/* ---- conservation ------------------------------------------------------------------------------- */

/* Non-preemptive policies hold `max_degree` GPUs over [first_start, finish): sweep those
 * intervals and check the cluster is never over-committed. */
static void check_no_overbooking(const sim_result *res, int n_gpus)
{
    size_t n = res->n_requests, m = 0;
    struct ev { tetri_ns t; int d; } *ev = calloc(2 * n, sizeof *ev);
    for (size_t i = 0; i < n; i++) {
        const tetri_request_result *r = &res->requests[i];
        if (r->first_start < 0) continue;
        ev[m++] = (struct ev){r->first_start, r->max_degree};
        ev[m++] = (struct ev){r->finish, -r->max_degree};
    }
    /* Ends before starts at equal times: a GPU freed at t can be reused at t. */
    for (size_t i = 1; i < m; i++)
        for (size_t j = i; j > 0 && (ev[j].t < ev[j - 1].t || (ev[j].t == ev[j - 1].t && ev[j].d < ev[j - 1].d)); j--) {
            struct ev x = ev[j]; ev[j] = ev[j - 1]; ev[j - 1] = x;
        }
    int used = 0;
    for (size_t i = 0; i < m; i++) {
        used += ev[i].d;
        assert_true(used >= 0 && used <= n_gpus);
    }
    free(ev);
}

static void conservation_every_policy(void **state)
{
    (void)state;
    tetri_trace t = paper_trace(30, 7, 300, TETRI_MIX_UNIFORM);
    for (size_t p = 0; p < tetri_policy_registry_len; p++) {
        const char *name = tetri_policy_registry[p]->name;
        sim_config cfg = {.profile = prof8, .policy_spec = name, .check_plans = 1, .timeline_period = SEC};
        sim_result res;
        run_ok(&cfg, &t, &res);
        const tetri_run_summary *s = &res.summary;
        assert_int_equal(res.n_requests, t.n);
        assert_int_equal(s->n, (int)t.n);
        assert_int_equal(s->met + s->late + s->dropped, s->n);
        tetri_ns gpu_sum = 0, last_finish = 0;
        int met = 0;
        for (size_t i = 0; i < res.n_requests; i++) {
            const tetri_request_result *r = &res.requests[i];
            assert_int_equal(r->id, (int)i);
            assert_int_equal(r->arrival, t.entries[i].arrival);
            gpu_sum += r->gpu_ns;
            if (r->outcome == TETRI_DROPPED) {
                assert_int_equal(r->finish, -1);
                continue;
            }
            assert_true(r->first_start >= r->arrival && r->finish > r->first_start);
            assert_int_equal(r->outcome == TETRI_MET, r->finish <= r->deadline);
            met += r->outcome == TETRI_MET;
            if (r->finish > last_finish) last_finish = r->finish;
            /* GPU time is at least degree 1 x the fastest possible run */
            assert_true(r->gpu_ns >= r->steps * step_ns(r->width, 8));
        }
        assert_int_equal(met, s->met);
        assert_int_equal(gpu_sum, res.gpu_busy_ns);
        assert_true(res.gpu_busy_ns <= 8 * s->makespan);
        assert_int_equal(last_finish, s->makespan);
        assert_true(s->decide_calls > 0 && s->decide_calls <= 2 * s->n + 100000);
        assert_true(s->decide_median_ns <= s->decide_p99_ns && s->decide_p99_ns <= s->decide_max_ns);
        /* timeline: one sample per second from 0 through the makespan */
        assert_int_equal(res.n_timeline, (size_t)(s->makespan / SEC) + 1);
        for (size_t k = 0; k < res.n_timeline; k++) {
            assert_int_equal(res.timeline[k].t, (tetri_ns)k * SEC);
            assert_true(res.timeline[k].busy_gpus >= 0 && res.timeline[k].busy_gpus <= 8);
            assert_true(res.timeline[k].pending >= 0 && res.timeline[k].pending <= s->n);
        }
        if (strncmp(name, "xdit-sp", 7) == 0 || strcmp(name, "rssp") == 0) {
            check_no_overbooking(&res, 8);
            for (size_t i = 0; i < res.n_requests; i++) { /* one block each, all steps, never moved */
                const tetri_request_result *r = &res.requests[i];
                assert_int_equal(r->migrations, 0);
                assert_int_equal(r->degree_changes, 0);
                assert_int_equal(r->finish - r->first_start, r->steps * step_ns(r->width, r->max_degree));
                assert_int_equal(r->gpu_ns, r->max_degree * (r->finish - r->first_start));
            }
            assert_int_equal(res.n_blocks, s->n);
        }
        if (strncmp(name, "xdit-sp", 7) == 0)
            for (size_t i = 0; i < res.n_requests; i++) assert_int_equal(res.requests[i].max_degree, name[7] - '0');
        if (strncmp(name, "xdit-sp", 7) == 0 || strcmp(name, "rssp") == 0) /* FCFS: starts in arrival order */
            for (size_t i = 1; i < res.n_requests; i++)
                assert_true(res.requests[i].first_start >= res.requests[i - 1].first_start);
        sim_result_free(&res);
    }
    tetri_trace_free(&t);
}

/* ---- determinism -------------------------------------------------------------------------------- */

/* Field by field: structs have padding, whose bytes are not part of a result. */
static int same_request(const tetri_request_result *a, const tetri_request_result *b)
{
    return a->id == b->id && a->model == b->model && a->width == b->width && a->height == b->height &&
           a->steps == b->steps && a->arrival == b->arrival && a->deadline == b->deadline &&
           a->first_start == b->first_start && a->finish == b->finish && a->outcome == b->outcome &&
           a->gpu_ns == b->gpu_ns && a->degree_changes == b->degree_changes && a->migrations == b->migrations &&
           a->max_degree == b->max_degree;
}

static int same_run(const sim_result *a, const sim_result *b)
{
    if (a->n_requests != b->n_requests || a->n_timeline != b->n_timeline) return 0;
    for (size_t i = 0; i < a->n_requests; i++)
        if (!same_request(&a->requests[i], &b->requests[i])) return 0;
    for (size_t i = 0; i < a->n_timeline; i++) {
        const tetri_timeline_sample *x = &a->timeline[i], *y = &b->timeline[i];
        if (x->t != y->t || x->busy_gpus != y->busy_gpus || x->pending != y->pending ||
            memcmp(&x->mean_degree, &y->mean_degree, sizeof x->mean_degree) != 0)
            return 0;
    }
    return a->summary.met == b->summary.met && a->summary.late == b->summary.late &&
           a->summary.makespan == b->summary.makespan && a->summary.decide_calls == b->summary.decide_calls &&
           a->gpu_busy_ns == b->gpu_busy_ns && a->n_blocks == b->n_blocks;
}

static void determinism_and_jitter(void **state)
{
    (void)state;
    tetri_trace t = paper_trace(12, 3, 300, TETRI_MIX_SKEWED);
    const char *policies[] = {"xdit-sp4", "rssp", "rssp:backfill=on"};
    for (size_t p = 0; p < 3; p++) {
        sim_config cfg = {.profile = prof8, .policy_spec = policies[p], .timeline_period = 500 * MS};
        sim_result a, b, c, d, e;
        run_ok(&cfg, &t, &a);
        run_ok(&cfg, &t, &b);
        assert_true(same_run(&a, &b));
        cfg.jitter = 1;
        cfg.seed = 11;
        run_ok(&cfg, &t, &c);
        run_ok(&cfg, &t, &d);
        assert_true(same_run(&c, &d));  /* jitter: same seed, same run */
        assert_false(same_run(&a, &c)); /* jitter changes the times */
        cfg.seed = 12;
        run_ok(&cfg, &t, &e);
        assert_false(same_run(&c, &e)); /* another seed, another run */
        sim_result_free(&a); sim_result_free(&b); sim_result_free(&c); sim_result_free(&d); sim_result_free(&e);
    }
    tetri_trace_free(&t);
}

/* Jittered service times keep the profile's mean, with CV c / sqrt(steps) per block. */
static void jitter_statistics(void **state)
{
    (void)state;
    enum { N = 4000, STEPS = 16 };
    int side[N], steps[N];
    tetri_ns arr[N], dl[N];
    for (int i = 0; i < N; i++) side[i] = 512, steps[i] = STEPS, arr[i] = (tetri_ns)i * 10 * SEC, dl[i] = arr[i] + SEC;
    tetri_trace t = fixture_trace(N, side, steps, arr, dl);
    sim_config cfg = {.profile = prof2, .policy_spec = "xdit-sp1", .jitter = 1, .seed = 5};
    sim_result res;
    run_ok(&cfg, &t, &res);
    double sum = 0, sum2 = 0, lo = 1e30;
    for (int i = 0; i < N; i++) {
        double f = (double)(res.requests[i].finish - res.requests[i].first_start) / (double)(STEPS * 50 * MS);
        sum += f;
        sum2 += f * f;
        lo = f < lo ? f : lo;
    }
    double mean = sum / N, cv = sqrt(sum2 / N - mean * mean) / mean;
    printf("# jitter: mean factor %.4f, CV %.4f (expected 1 and %.4f), min %.3f\n", mean, cv, 0.2 / sqrt(STEPS), lo);
    assert_true(fabs(mean - 1.0) < 0.005);
    assert_true(fabs(cv - 0.2 / sqrt(STEPS)) < 0.1 * 0.2 / sqrt(STEPS));
    assert_true(lo >= HOST_JITTER_FLOOR);
    sim_result_free(&res);
    tetri_trace_free(&t);
}

/* ---- xdit and rssp on hand-made traces ---------------------------------------------------------- */

static void xdit_fcfs_by_hand(void **state)
{
    (void)state;
    /* xdit-sp4 on 8 GPUs: two groups. Requests 0, 1, 2 arrive at 0 (1024, 20 steps at degree 4 =
     * 2.4 s); 2 waits for the first group to free at 2.4 s. Request 3 (256) arrives at 1 s and waits
     * behind 2 (FCFS), then takes the second group at 2.4 s. */
    int side[] = {1024, 1024, 1024, 256}, steps[] = {20, 20, 20, 20};
    tetri_ns arr[] = {0, 0, 0, 1 * SEC}, dl[] = {3 * SEC, 3 * SEC, 4 * SEC, 2 * SEC};
    tetri_trace t = fixture_trace(4, side, steps, arr, dl);
    sim_config cfg = {.profile = prof8, .policy_spec = "xdit-sp4", .check_plans = 1, .timeline_period = SEC};
    sim_result res;
    run_ok(&cfg, &t, &res);
    const tetri_ns blk = 20 * 120 * MS;
    /* Timeline, sampled at 0..4 s: both groups busy until 2.4 s (3, then 4 requests pending), then
     * only request 2's group once request 3 ends at 2.9 s; the run ends at 4.8 s. */
    const tetri_timeline_sample want_tl[] = {{0, 8, 4.0, 3}, {SEC, 8, 4.0, 4}, {2 * SEC, 8, 4.0, 4},
                                             {3 * SEC, 4, 4.0, 1}, {4 * SEC, 4, 4.0, 1}};
    assert_int_equal(res.n_timeline, 5);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(res.timeline[k].t, want_tl[k].t);
        assert_int_equal(res.timeline[k].busy_gpus, want_tl[k].busy_gpus);
        assert_true(res.timeline[k].mean_degree == want_tl[k].mean_degree);
        assert_int_equal(res.timeline[k].pending, want_tl[k].pending);
    }
    assert_int_equal(res.requests[0].first_start, 0);
    assert_int_equal(res.requests[1].first_start, 0);
    assert_int_equal(res.requests[2].first_start, blk);
    assert_int_equal(res.requests[3].first_start, blk);
    assert_int_equal(res.requests[2].finish, 2 * blk);
    assert_int_equal(res.requests[3].finish, blk + 20 * 25 * MS);
    assert_int_equal(res.requests[0].outcome, TETRI_MET);
    assert_int_equal(res.requests[2].outcome, TETRI_LATE);
    assert_int_equal(res.requests[3].outcome, TETRI_LATE);
    assert_int_equal(res.summary.met, 2);
    assert_int_equal(res.summary.late, 2);
    assert_int_equal(res.gpu_busy_ns, 4 * (3 * blk + 20 * 25 * MS));
    /* Decisions: t=0 (three arrivals, one call), t=1 s, t=2.4 s (two completions, one call),
     * then 2.9 s and 4.8 s (completions; the last leaves nothing pending, so no call). */
    assert_int_equal(res.summary.decide_calls, 4);
    sim_result_free(&res);
    tetri_trace_free(&t);
}

static void rssp_degrees_from_profile(void **state)
{
    (void)state;
    const tetri_cluster *c = profile_cluster(prof8);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 256, 256, 0.5), 2);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 512, 512, 0.5), 4);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 1024, 1024, 0.5), 8);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 2048, 2048, 0.5), 8);
    /* A stricter threshold keeps smaller degrees: 256 eff(2) = 0.67, 512 eff(4) = 0.625. */
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 256, 256, 0.7), 1);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 512, 512, 0.7), 2);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 1024, 1024, 0.9), 2);
    assert_int_equal(rssp_degree(prof8, c, TETRI_MODEL_FLUX_DEV, 2048, 2048, 0.0), 8);
}

static void rssp_strict_and_backfill(void **state)
{
    (void)state;
    /* t=0: a 512 (degree 4) starts on 4 GPUs; a 2048 (degree 8) cannot start; a 256 (degree 2)
     * behind it waits under strict FCFS, starts at once with backfill. */
    int side[] = {512, 2048, 256}, steps[] = {20, 20, 20};
    tetri_ns arr[] = {0, 0, 0}, dl[] = {10 * SEC, 10 * SEC, 10 * SEC};
    tetri_trace t = fixture_trace(3, side, steps, arr, dl);
    sim_config cfg = {.profile = prof8, .policy_spec = "rssp", .check_plans = 1};
    sim_result strict, bf;
    run_ok(&cfg, &t, &strict);
    cfg.policy_spec = "rssp:backfill=on";
    run_ok(&cfg, &t, &bf);
    const tetri_ns b512 = 20 * 40 * MS, b2048 = 20 * 220 * MS;
    assert_int_equal(strict.requests[0].first_start, 0);
    assert_int_equal(strict.requests[1].first_start, b512);
    assert_int_equal(strict.requests[1].max_degree, 8);
    assert_int_equal(strict.requests[2].first_start, b512 + b2048);
    assert_int_equal(strict.requests[2].max_degree, 2);
    assert_int_equal(bf.requests[2].first_start, 0);
    assert_int_equal(bf.requests[1].first_start, b512); /* 256 at degree 2 (0.6 s) ends before the 512 */
    assert_true(strcmp(strict.policy_spec, "rssp:eff=0.5,backfill=off,place=buddy") == 0);
    sim_result_free(&strict);
    sim_result_free(&bf);
    tetri_trace_free(&t);
}

static void rssp_buddy_placement(void **state)
{
    (void)state;
    const tetri_cluster *c = profile_cluster(prof8);
    tetri_request r = {.id = 0, .model = TETRI_MODEL_FLUX_DEV, .width = 256, .height = 256, .steps_total = 20,
                       .state = TETRI_REQ_WAITING}; /* degree 2 at eff=0.5 */
    const tetri_request *ptrs[] = {&r};
    tetri_view v = {.now = 0, .cluster = c, .busy = 1u << 5, .requests = ptrs, .n_requests = 1};
    int32_t drops[1];
    tetri_plan plan = {.drop = drops};
    tetri_error err = {{0}};
    const char *specs[] = {"rssp", "rssp:place=first"};
    for (int i = 0; i < 2; i++) {
        tetri_policy p;
        if (tetri_policy_create(&p, specs[i], prof8, c, &err)) fail_msg("%s", err.msg);
        assert_int_equal(tetri_policy_decide(&p, &v, &plan, &err), 0);
        assert_int_equal(plan.n_assign, 1);
        assert_int_equal(tetri_plan_validate(&plan, &v, &err), 0);
        /* buddy: GPUs 6-7, filling the 4-block that busy GPU 5 already breaks; first: GPUs 0-1 */
        assert_int_equal(plan.assign[0].gpus, i == 0 ? 0xc0 : 0x03);
        assert_int_equal(plan.assign[0].steps, 20);
        tetri_policy_destroy(&p);
    }
    assert_int_equal(tetri_policy_create(&(tetri_policy){0}, "rssp:eff=2", prof8, c, &err), -1);
    assert_non_null(strstr(err.msg, "eff"));
}

/* ---- the engine's contract with policies -------------------------------------------------------- */

/* A policy that records when it was called and, on request, misbehaves. */
typedef struct probe {
    int mode;                  /* 0: FCFS on GPU 0 + wake at 5 s; 1: never assigns; 2: double-books GPU 0;
                                * 3: drops every request; 4: assigns 2 steps at a time (preemptive) */
    int n_calls;
    tetri_ns calls[64];
    int n_seen[64];
    tetri_request_class served[8]; /* view.served at the first call */
    int32_t n_served;
} probe;
static probe the_probe;

static void *probe_create(const tetri_options *o, const struct tetri_profile *p, const tetri_cluster *c, tetri_error *e)
{
    (void)o; (void)p; (void)c; (void)e;
    return &the_probe;
}
static int probe_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    probe *pr = self;
    if (pr->n_calls == 0) {
        pr->n_served = v->n_served;
        for (int32_t i = 0; i < v->n_served && i < 8; i++) pr->served[i] = v->served[i];
    }
    if (pr->n_calls < 64) {
        pr->calls[pr->n_calls] = v->now;
        pr->n_seen[pr->n_calls] = v->n_requests;
    }
    pr->n_calls++;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        switch (pr->mode) {
        case 0:
            if (!(v->busy & 1)) plan->assign[plan->n_assign++] = (tetri_assignment){.req = {r->id}, .n_req = 1, .gpus = 1, .steps = tetri_request_steps_left(r)};
            plan->wake_at = v->now < 5 * SEC ? 5 * SEC : TETRI_NS_NEVER;
            return 0;
        case 1: return 0;
        case 2: plan->assign[plan->n_assign++] = (tetri_assignment){.req = {r->id}, .n_req = 1, .gpus = 1, .steps = 1}; break;
        case 3: plan->drop[plan->n_drop++] = r->id; break;
        case 4: {
            /* alternate GPUs 0 and 1, 2 steps a block: migrations every block */
            tetri_gpuset g = r->last_gpus == 1 ? 2 : 1;
            if (!(v->busy & g) && !(plan->n_assign && (plan->assign[0].gpus & g)))
                plan->assign[plan->n_assign++] = (tetri_assignment){.req = {r->id}, .n_req = 1, .gpus = g, .steps = 2};
            break;
        }
        }
    }
    return 0;
}
static void probe_destroy(void *self) { (void)self; }
static const tetri_policy_ops probe_ops = {.name = "probe", .summary = "test probe", .create = probe_create,
                                           .decide = probe_decide, .destroy = probe_destroy};

static int run_probe(int mode, const tetri_trace *t, sim_result *res, tetri_error *err, int check)
{
    memset(&the_probe, 0, sizeof the_probe);
    the_probe.mode = mode;
    sim_config cfg = {.profile = prof2, .policy_ops = &probe_ops, .check_plans = check, .timeline_period = SEC};
    return sim_run(&cfg, t, res, err);
}

static void decisions_coalesce_and_wake(void **state)
{
    (void)state;
    /* Two arrivals at 0, one at 0.5 s; each runs 1 s (20 x 50 ms) on GPU 0. */
    int side[] = {512, 512, 512}, steps[] = {20, 20, 20};
    tetri_ns arr[] = {0, 0, 500 * MS}, dl[] = {10 * SEC, 10 * SEC, 10 * SEC};
    tetri_trace t = fixture_trace(3, side, steps, arr, dl);
    sim_result res;
    tetri_error err = {{0}};
    assert_int_equal(run_probe(0, &t, &res, &err, 1), 0);
    /* calls: 0 (two arrivals, once), 0.5 s, 1 s, 2 s, then the wake-up at 5 s is not needed: the last
     * completion at 3 s leaves nothing pending, and no call happens then. The wake asked at 0 was
     * replaced by later plans' own wakes (all 5 s); it fires at 5 s only if something is pending. */
    const tetri_ns want[] = {0, 500 * MS, 1 * SEC, 2 * SEC};
    assert_int_equal(the_probe.n_calls, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(the_probe.calls[i], want[i]);
    assert_int_equal(the_probe.n_seen[0], 2);
    assert_int_equal(res.requests[2].finish, 3 * SEC);
    assert_int_equal(res.summary.makespan, 3 * SEC);
    sim_result_free(&res);

    /* A long job keeps GPU 0 busy past 5 s: the wake-up at 5 s must call the policy. */
    int side2[] = {512, 512}, steps2[] = {200, 20};
    tetri_ns arr2[] = {0, 1 * SEC}, dl2[] = {20 * SEC, 20 * SEC};
    tetri_trace t2 = fixture_trace(2, side2, steps2, arr2, dl2);
    assert_int_equal(run_probe(0, &t2, &res, &err, 1), 0);
    assert_int_equal(the_probe.n_calls, 4); /* 0, 1 s, the wake at 5 s, the completion at 10 s */
    assert_int_equal(the_probe.calls[2], 5 * SEC);
    assert_int_equal(the_probe.calls[3], 10 * SEC);
    sim_result_free(&res);

    /* view.served: the workload's distinct classes, sorted, from the first call on (the 256 px
     * requests have not arrived when it is made). */
    int side3[] = {1024, 512, 1024, 256, 512}, steps3[] = {1, 1, 1, 1, 1};
    tetri_ns arr3[] = {0, 1 * SEC, 2 * SEC, 3 * SEC, 4 * SEC}, dl3[] = {10 * SEC, 10 * SEC, 10 * SEC, 10 * SEC, 10 * SEC};
    tetri_trace t3 = fixture_trace(5, side3, steps3, arr3, dl3);
    assert_int_equal(run_probe(0, &t3, &res, &err, 1), 0);
    assert_int_equal(the_probe.n_served, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(the_probe.served[i].model, TETRI_MODEL_FLUX_DEV);
        assert_int_equal(the_probe.served[i].width, 256 << i);
        assert_int_equal(the_probe.served[i].height, 256 << i);
    }
    sim_result_free(&res);
    tetri_trace_free(&t);
    tetri_trace_free(&t2);
    tetri_trace_free(&t3);
}

/* The profile's idle speed-up shortens a block's actual time, never its prediction: FCFS on GPU 0,
 * 1 s blocks (20 x 50 ms); the first starts on a GPU that never ran, the second back to back, the
 * third after 4 s of idling. With min idle 50 ms, boost 200 ms, factor 0.9, the first and third take
 * 980 ms, the second 1 s; every prediction stays 1 s. */
static void idle_speedup_shortens_blocks_after_idling(void **state)
{
    (void)state;
    char path[256];
    fixture_tmp_path(path, sizeof path, "test_sim-idle", "db");
    const fixture_row rows[] = {{512, 1, 50 * MS, 0.2, 0, 0}};
    tetri_error err = {{0}};
    assert_int_equal(fixture_profile_db(path, "idle2", 2, 2, rows, 1, MIGRATION_NS), 0);
    const measured_idle_speedup s = {.min_idle_ns = 50 * MS, .boost_ns = 200 * MS, .factor = 0.9, .method = "test"};
    if (measured_write_idle_speedup(path, "idle2", &s, &err)) fail_msg("%s", err.msg);
    tetri_profile *p = fixture_open_profile(path, "idle2");
    assert_non_null(p);
    int side[] = {512, 512, 512}, steps[] = {20, 20, 20};
    tetri_ns arr[] = {0, 0, 6 * SEC}, dl[] = {10 * SEC, 10 * SEC, 10 * SEC};
    tetri_trace t = fixture_trace(3, side, steps, arr, dl);
    memset(&the_probe, 0, sizeof the_probe);
    sim_config cfg = {.profile = p, .policy_ops = &probe_ops, .check_plans = 1};
    sim_result res;
    assert_int_equal(sim_run(&cfg, &t, &res, &err), 0);
    assert_int_equal(res.n_blocks, 3);
    const tetri_ns want_start[] = {0, 980 * MS, 6 * SEC}, want_len[] = {980 * MS, 1 * SEC, 980 * MS};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(res.blocks[i].start, want_start[i]);
        assert_int_equal(res.blocks[i].end - res.blocks[i].start, want_len[i]);
        assert_int_equal(res.blocks[i].pred_end - res.blocks[i].pred_start, 1 * SEC);
    }
    assert_int_equal(res.requests[1].finish, 1980 * MS);
    sim_result_free(&res);
    tetri_trace_free(&t);
    profile_close(p);
    unlink(path);
}

/* host_config.actual: blocks run by the actual profile (60 ms steps), predictions stay the
 * profile's (50 ms), and so does the policy's view (its blocks' predicted ends); an actual profile
 * of other GPUs is refused, both named; the run key names the actual profile apart. */
static void actual_profile_runs_the_blocks(void **state)
{
    (void)state;
    char path[256];
    fixture_tmp_path(path, sizeof path, "test_sim-actual", "db");
    const fixture_row rows[] = {{512, 1, 60 * MS, 0.2, 0, 0}};
    assert_int_equal(fixture_profile_db(path, "test2", 2, 2, rows, 1, MIGRATION_NS), 0);
    tetri_profile *actual = fixture_open_profile(path, "test2");
    assert_non_null(actual);
    int side[] = {512, 512}, steps[] = {20, 20};
    tetri_ns arr[] = {0, 0}, dl[] = {10 * SEC, 10 * SEC};
    tetri_trace t = fixture_trace(2, side, steps, arr, dl);
    memset(&the_probe, 0, sizeof the_probe);
    sim_config cfg = {.profile = prof2, .actual = actual, .policy_ops = &probe_ops, .check_plans = 1};
    sim_result res;
    tetri_error err = {{0}};
    assert_int_equal(sim_run(&cfg, &t, &res, &err), 0);
    assert_int_equal(res.n_blocks, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(res.blocks[i].end - res.blocks[i].start, 1200 * MS);
        assert_int_equal(res.blocks[i].pred_end - res.blocks[i].pred_start, 1 * SEC);
    }
    assert_int_equal(res.requests[1].finish, 2400 * MS);
    sim_result_free(&res);
    cfg.actual = prof8;
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "has other GPUs than profile"));
    assert_non_null(strstr(err.msg, path2));
    sim_result_free(&res);
    sweep_spec s = {.profile = prof2};
    char plain[1024], with[1024];
    sweep_run_key(plain, sizeof plain, "xdit-sp1", "w", &s, 1);
    s.actual = actual;
    sweep_run_key(with, sizeof with, "xdit-sp1", "w", &s, 1);
    char want[1100];
    snprintf(want, sizeof want, "%s,actual=%016llx", plain, (unsigned long long)profile_digest(actual));
    assert_string_equal(with, want);
    tetri_trace_free(&t);
    profile_close(actual);
    unlink(path);
}

static void broken_policies_are_reported(void **state)
{
    (void)state;
    int side[] = {512, 512}, steps[] = {20, 20};
    tetri_ns arr[] = {0, 0}, dl[] = {10 * SEC, 10 * SEC};
    tetri_trace t = fixture_trace(2, side, steps, arr, dl);
    sim_result res;
    tetri_error err = {{0}};
    assert_int_equal(run_probe(1, &t, &res, &err, 0), -1); /* stuck */
    assert_non_null(strstr(err.msg, "policy probe left 2 request(s) waiting"));
    sim_result_free(&res);
    assert_int_equal(run_probe(2, &t, &res, &err, 0), -1); /* GPU 0 twice: the host checks every plan */
    assert_non_null(strstr(err.msg, "reuses a GPU"));
    sim_result_free(&res);
    assert_int_equal(run_probe(2, &t, &res, &err, 1), -1); /* the same rule with check_plans */
    assert_non_null(strstr(err.msg, "reuses a GPU"));
    sim_result_free(&res);
    assert_int_equal(run_probe(3, &t, &res, &err, 1), 0); /* drops end as dropped */
    assert_int_equal(res.summary.dropped, 2);
    assert_int_equal(res.requests[0].outcome, TETRI_DROPPED);
    assert_int_equal(res.requests[0].first_start, -1);
    sim_result_free(&res);
    tetri_trace_free(&t);
}

static void migrations_are_charged(void **state)
{
    (void)state;
    int side[] = {512}, steps[] = {20};
    tetri_ns arr[] = {0}, dl[] = {10 * SEC};
    tetri_trace t = fixture_trace(1, side, steps, arr, dl);
    sim_result res;
    tetri_error err = {{0}};
    assert_int_equal(run_probe(4, &t, &res, &err, 1), 0);
    /* 10 blocks of 2 steps, alternating GPUs: 9 migrations, no degree change */
    assert_int_equal(res.requests[0].migrations, 9);
    assert_int_equal(res.requests[0].degree_changes, 0);
    assert_int_equal(res.requests[0].finish, 20 * 50 * MS + 9 * MIGRATION_NS);
    assert_int_equal(res.requests[0].gpu_ns, res.requests[0].finish);
    assert_int_equal(res.n_blocks, 10);
    sim_result_free(&res);
    tetri_trace_free(&t);
}

static void missing_rows_and_bad_input(void **state)
{
    (void)state;
    int side[] = {512, 1024}, steps[] = {20, 20};
    tetri_ns arr[] = {0, 1}, dl[] = {10 * SEC, 10 * SEC};
    tetri_trace t = fixture_trace(2, side, steps, arr, dl);
    sim_result res;
    tetri_error err = {{0}};
    sim_config cfg = {.profile = prof2, .policy_spec = "xdit-sp2"}; /* no degree-2 row */
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "flux-dev 512x512 at degree 2"));
    sim_result_free(&res);
    cfg.policy_spec = "xdit-sp8"; /* more GPUs than the hardware has */
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "2 GPUs"));
    cfg.policy_spec = "nonesuch";
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "unknown policy 'nonesuch'"));
    assert_non_null(strstr(err.msg, "rssp"));
    t.entries[1].arrival = -5; /* out of arrival order */
    cfg.policy_spec = "xdit-sp1";
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "arrival order"));
    tetri_trace_free(&t);
    tetri_trace empty = {0};
    assert_int_equal(sim_run(&cfg, &empty, &res, &err), 0);
    assert_int_equal(res.summary.n, 0);
    sim_result_free(&res);
}

/* The timeline is never sized from the whole time span: one arrival at 1e7 s with a 1 s period
 * (1e7 samples) is refused before the run, naming --timeline; a run that only grows past the bound
 * while it runs (one long request sampled every 0.1 s) stops there with the same message; a run
 * that fits keeps every sample. */
static void timeline_is_bounded(void **state)
{
    (void)state;
    sim_result res;
    tetri_error err = {{0}};
    int side[] = {256}, steps[] = {20};
    tetri_ns arr[] = {10000000 * SEC}, dl[] = {10000010 * SEC};
    tetri_trace t = fixture_trace(1, side, steps, arr, dl);
    sim_config cfg = {.profile = prof8, .policy_spec = "xdit-sp1", .timeline_period = SEC};
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "timeline: sampling every 1 s to the last arrival at 10000000 s takes more than 1000000 samples"));
    assert_non_null(strstr(err.msg, "--timeline"));
    sim_result_free(&res);
    cfg.timeline_period = 0; /* no timeline: the run itself is fine */
    run_ok(&cfg, &t, &res);
    assert_int_equal(res.summary.met, 1);
    sim_result_free(&res);
    /* 2048 px on one GPU takes 1.6 s a step: 80000 steps take 128000 s, 1.28e6 samples at 0.1 s. */
    t.entries[0] = (tetri_trace_entry){.model = TETRI_MODEL_FLUX_DEV, .width = 2048, .height = 2048, .steps = 80000,
                                       .arrival = 0, .deadline = 200000 * SEC};
    cfg.timeline_period = 100 * MS;
    assert_int_equal(sim_run(&cfg, &t, &res, &err), -1);
    assert_non_null(strstr(err.msg, "timeline: sampling every 0.1 s up to t = 128000 s takes more than 1000000 samples"));
    sim_result_free(&res);
    cfg.timeline_period = SEC; /* 128001 samples: kept, one a second */
    run_ok(&cfg, &t, &res);
    assert_int_equal(res.n_timeline, 128001);
    assert_int_equal(res.timeline[128000].t, 128000 * SEC);
    sim_result_free(&res);
    tetri_trace_free(&t);
}

/* ---- sweeps ------------------------------------------------------------------------------------- */

static void dump_all(results_db *db, const char *experiment, const char *path)
{
    tetri_error err = {{0}};
    int64_t id;
    if (results_find_experiment(db, experiment, &id, &err)) fail_msg("%s", err.msg);
    results_run *runs;
    size_t n;
    if (results_load_runs(db, id, &runs, &n, &err)) fail_msg("%s", err.msg);
    FILE *f = fopen(path, "w");
    for (size_t i = 0; i < n; i++)
        if (results_dump_run(db, id, runs[i].run_key, f, &err)) fail_msg("%s", err.msg);
    fclose(f);
    results_runs_free(runs, n);
}

/* A replayed trace is keyed by its content too: the same file name with other contents (a
 * deadline edited) is a new run, not one "already there" with the old file's results. */
static void sweep_keys_a_trace_by_its_content(void **state)
{
    (void)state;
    const char *policies[] = {"xdit-sp1"};
    int side[] = {256, 512};
    int steps[] = {20, 20};
    tetri_ns arrival[] = {0, SEC};
    tetri_ns deadline[] = {2 * SEC, 3 * SEC};
    tetri_trace tr = fixture_trace(2, side, steps, arrival, deadline);
    sweep_spec s = {.profile = prof8, .policies = policies, .n_policies = 1, .trace = &tr, .trace_name = "same-name.csv",
                    .experiment = "replay", .config_text = "test"};
    workload_spec_default(&s.base);
    char path[256];
    fixture_tmp_path(path, sizeof path, "test_sim-replay", "db");
    unlink(path);
    tetri_error err = {{0}};
    results_db *db;
    sweep_stats st;
    if (results_open(path, &db, &err)) fail_msg("%s", err.msg);
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_written, 1);
    tr.entries[1].deadline += 1; /* the file edited, replayed under the same name */
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_written, 1);
    assert_int_equal(st.runs_skipped, 0);
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg); /* unchanged: resumes as before */
    assert_int_equal(st.runs_written, 0);
    assert_int_equal(st.runs_skipped, 1);
    results_close(db);
    unlink(path);
    tetri_trace_free(&tr);
}

static void sweep_resumes_without_loss_or_duplicates(void **state)
{
    (void)state;
    const char *policies[] = {"xdit-sp2", "rssp"};
    const tetri_mix_kind mixes[] = {TETRI_MIX_UNIFORM, TETRI_MIX_SKEWED};
    const double scales[] = {1.0, 1.5};
    const uint64_t seeds[] = {1, 2};
    sweep_spec s = {.profile = prof8, .policies = policies, .n_policies = 2, .mixes = mixes, .n_mixes = 2,
                    .slo_scales = scales, .n_slo_scales = 2, .seeds = seeds, .n_seeds = 2,
                    .timeline_period = SEC, .experiment = "resume", .config_text = "test"};
    workload_spec_default(&s.base);
    s.base.n_requests = 60;
    char full_db[256], part_db[256], full_txt[256], part_txt[256];
    fixture_tmp_path(full_db, sizeof full_db, "test_sim-full", "db");
    fixture_tmp_path(part_db, sizeof part_db, "test_sim-part", "db");
    fixture_tmp_path(full_txt, sizeof full_txt, "test_sim-full", "txt");
    fixture_tmp_path(part_txt, sizeof part_txt, "test_sim-part", "txt");
    unlink(full_db);
    unlink(part_db);
    tetri_error err = {{0}};
    results_db *db;
    sweep_stats st;

    if (results_open(full_db, &db, &err)) fail_msg("%s", err.msg);
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_total, 16);
    assert_int_equal(st.runs_written, 16);
    assert_false(st.stopped_early);
    dump_all(db, "resume", full_txt);
    results_close(db);

    /* "killed" after 5 runs, then after 4 more, then to the end */
    if (results_open(part_db, &db, &err)) fail_msg("%s", err.msg);
    s.stop_after = 5;
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_written, 5);
    assert_true(st.stopped_early);
    results_close(db);
    if (results_open(part_db, &db, &err)) fail_msg("%s", err.msg);
    s.stop_after = 4;
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_skipped, 5);
    assert_int_equal(st.runs_written, 4);
    s.stop_after = 0;
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_skipped, 9);
    assert_int_equal(st.runs_written, 7);
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg); /* complete: nothing to do */
    assert_int_equal(st.runs_skipped, 16);
    assert_int_equal(st.runs_written, 0);
    results_run *runs;
    size_t n;
    int64_t id;
    if (results_find_experiment(db, "resume", &id, &err)) fail_msg("%s", err.msg);
    if (results_load_runs(db, id, &runs, &n, &err)) fail_msg("%s", err.msg);
    assert_int_equal(n, 16);
    for (size_t i = 0; i < n; i++) assert_int_equal(runs[i].sum.n, 60);
    results_runs_free(runs, n);
    dump_all(db, "resume", part_txt);
    results_close(db);

    char *a = fixture_read_file(full_txt), *b = fixture_read_file(part_txt);
    assert_non_null(a);
    assert_non_null(b);
    assert_true(strlen(a) > 1000);
    assert_string_equal(a, b);
    free(a);
    free(b);
    unlink(full_db);
    unlink(part_db);
    unlink(full_txt);
    unlink(part_txt);

    /* A bad policy is refused before any run. */
    const char *bad[] = {"rssp", "rssp:nope=1"};
    s.policies = bad;
    if (results_open(part_db, &db, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sweep_run(&s, db, &st, &err), -1);
    assert_non_null(strstr(err.msg, "unknown option 'nope'"));
    assert_int_equal(st.runs_written, 0);
    results_close(db);
    unlink(part_db);
}

/* Sweeps `profile` (opened with `flags`) into experiment "key" of db; returns how many runs it wrote. */
static long sweep_with_profile(results_db *db, const char *profile_path, int flags)
{
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    if (profile_open(profile_path, "test8", flags, &p, &err)) fail_msg("%s", err.msg);
    const char *policies[] = {"xdit-sp2", "rssp"};
    sweep_spec s = {.profile = p, .policies = policies, .n_policies = 2, .timeline_period = SEC, .experiment = "key"};
    workload_spec_default(&s.base);
    s.base.n_requests = 20;
    s.base.resolutions[3] = 1024; /* 256/512/1024 only: 2048 is where the profiles below differ */
    s.base.n_resolutions = 3;
    sweep_stats st;
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    profile_close(p);
    assert_int_equal(st.runs_written + st.runs_skipped, 2);
    return st.runs_written;
}

/* A run is keyed by the profile's content and the analytic fallback: another profile (one row
 * changed, even one the workload never reads) or --analytic is a new run, not one "already there"
 * with the other profile's results; the same rows under another file name are the same runs. */
static void sweep_keys_runs_by_profile_content(void **state)
{
    (void)state;
    char other[256], copy[256], db_path[256];
    fixture_tmp_path(other, sizeof other, "test_sim-key-other", "db");
    fixture_tmp_path(copy, sizeof copy, "test_sim-key-copy", "db");
    fixture_tmp_path(db_path, sizeof db_path, "test_sim-key", "db");
    fixture_row changed[sizeof rows8 / sizeof rows8[0]];
    memcpy(changed, rows8, sizeof changed);
    changed[15].median_ns += MS; /* 2048 at degree 8 */
    const int n_rows = (int)(sizeof rows8 / sizeof rows8[0]);
    if (fixture_profile_db(other, "test8", 8, 8, changed, n_rows, MIGRATION_NS) ||
        fixture_profile_db(copy, "test8", 8, 8, rows8, n_rows, MIGRATION_NS))
        fail_msg("cannot write the fixture profiles");
    unlink(db_path);
    results_db *db;
    tetri_error err = {{0}};
    if (results_open(db_path, &db, &err)) fail_msg("%s", err.msg);
    assert_int_equal(sweep_with_profile(db, path8, 0), 2);
    assert_int_equal(sweep_with_profile(db, copy, 0), 0);    /* same content, other name: already there */
    assert_int_equal(sweep_with_profile(db, other, 0), 2);   /* other content: new runs */
    assert_int_equal(sweep_with_profile(db, path8, TETRI_PROFILE_ANALYTIC_FALLBACK), 2);
    assert_int_equal(sweep_with_profile(db, path8, 0), 0);
    results_close(db);
    unlink(db_path);
    unlink(other);
    unlink(copy);
}

/* The steps of the model's schedule are part of the workload, so of the key. */
static void sweep_keys_runs_by_steps(void **state)
{
    (void)state;
    char db_path[256];
    fixture_tmp_path(db_path, sizeof db_path, "test_sim-steps", "db");
    unlink(db_path);
    const char *policies[] = {"rssp"};
    sweep_spec s = {.profile = prof8, .policies = policies, .n_policies = 1, .experiment = "steps"};
    workload_spec_default(&s.base);
    s.base.n_requests = 10;
    results_db *db;
    sweep_stats st;
    tetri_error err = {{0}};
    if (results_open(db_path, &db, &err) || sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_written, 1);
    s.base.steps = 28;
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_written, 1);
    results_close(db);
    unlink(db_path);
}

/* A database whose runs were keyed without the profile (an older tetri) cannot be resumed
 * safely: the sweep says so instead of writing every run a second time. */
static void sweep_refuses_runs_keyed_without_the_profile(void **state)
{
    (void)state;
    char db_path[256];
    fixture_tmp_path(db_path, sizeof db_path, "test_sim-oldkeys", "db");
    unlink(db_path);
    results_db *db;
    tetri_error err = {{0}};
    if (results_open(db_path, &db, &err)) fail_msg("%s", err.msg);
    int64_t exp_id;
    if (results_experiment(db, "old", "", &exp_id, &err)) fail_msg("%s", err.msg);
    tetri_request_result req = {.id = 0, .width = 256, .height = 256, .steps = 20, .deadline = SEC, .first_start = -1,
                                .finish = -1, .outcome = TETRI_DROPPED};
    tetri_run_summary sum = {.n = 1, .dropped = 1};
    tetri_run_info info = {.run_key = "policy=rssp|workload=x|jitter=off,seed=1|timeline_ns=0|hardware=test8",
                           .policy = "rssp", .workload = "x", .mix = "uniform", .backend = "sim", .hardware = "test8",
                           .model = "flux-dev"};
    if (results_write_run(db, exp_id, &info, &sum, &req, 1, NULL, 0, NULL, 0, &err) != 0) fail_msg("%s", err.msg);
    const char *policies[] = {"rssp"};
    sweep_spec s = {.profile = prof8, .policies = policies, .n_policies = 1, .experiment = "old"};
    workload_spec_default(&s.base);
    s.base.n_requests = 10;
    sweep_stats st;
    assert_int_equal(sweep_run(&s, db, &st, &err), -1);
    assert_non_null(strstr(err.msg, "experiment 'old' holds 1 run(s) written by an older tetri"));
    assert_int_equal(st.runs_written, 0);
    s.experiment = "new"; /* a new experiment in the same file is fine */
    if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
    assert_int_equal(st.runs_written, 1);
    results_close(db);
    unlink(db_path);
}

/* The acceptance check: the same inputs and seed write byte-identical result rows (jitter on, so
 * the seed matters); another seed writes different ones. */
static void same_seed_byte_identical_rows(void **state)
{
    (void)state;
    const char *policies[] = {"rssp", "xdit-sp2"};
    const uint64_t seeds[2][1] = {{9}, {10}};
    char *dump[3];
    for (int k = 0; k < 3; k++) {
        sweep_spec s = {.profile = prof8, .policies = policies, .n_policies = 2, .seeds = seeds[k == 2], .n_seeds = 1,
                        .jitter = 1, .timeline_period = SEC, .experiment = "det"};
        workload_spec_default(&s.base);
        char db_path[256], txt[256];
        fixture_tmp_path(db_path, sizeof db_path, k ? "test_sim-det-b" : "test_sim-det-a", "db");
        fixture_tmp_path(txt, sizeof txt, "test_sim-det", "txt");
        unlink(db_path);
        results_db *db;
        sweep_stats st;
        tetri_error err = {{0}};
        if (results_open(db_path, &db, &err)) fail_msg("%s", err.msg);
        if (sweep_run(&s, db, &st, &err)) fail_msg("%s", err.msg);
        assert_int_equal(st.runs_written, 2);
        dump_all(db, "det", txt);
        results_close(db);
        dump[k] = fixture_read_file(txt);
        assert_non_null(dump[k]);
        unlink(txt);
        unlink(db_path);
    }
    assert_true(strlen(dump[0]) > 10000); /* 600 request rows and two timelines */
    assert_string_equal(dump[0], dump[1]);
    assert_true(strcmp(dump[0], dump[2]) != 0);
    for (int k = 0; k < 3; k++) free(dump[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conservation_every_policy),
        cmocka_unit_test(determinism_and_jitter),
        cmocka_unit_test(jitter_statistics),
        cmocka_unit_test(xdit_fcfs_by_hand),
        cmocka_unit_test(rssp_degrees_from_profile),
        cmocka_unit_test(rssp_strict_and_backfill),
        cmocka_unit_test(rssp_buddy_placement),
        cmocka_unit_test(decisions_coalesce_and_wake),
        cmocka_unit_test(idle_speedup_shortens_blocks_after_idling),
        cmocka_unit_test(actual_profile_runs_the_blocks),
        cmocka_unit_test(broken_policies_are_reported),
        cmocka_unit_test(migrations_are_charged),
        cmocka_unit_test(missing_rows_and_bad_input),
        cmocka_unit_test(timeline_is_bounded),
        cmocka_unit_test(sweep_resumes_without_loss_or_duplicates),
        cmocka_unit_test(sweep_keys_a_trace_by_its_content),
        cmocka_unit_test(sweep_keys_runs_by_profile_content),
        cmocka_unit_test(sweep_keys_runs_by_steps),
        cmocka_unit_test(sweep_refuses_runs_keyed_without_the_profile),
        cmocka_unit_test(same_seed_byte_identical_rows),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
