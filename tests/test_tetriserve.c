/* tests/test_tetriserve.c: tetriserve's steps on hand-built views (the round boundary's guard
 * band among them), and every policy in the simulator on random workloads with every plan
 * validated (no GPU in two assignments, no more GPUs than exist, no request in two places, steps
 * never above what remains), on a fully connected cluster and on a40x4's NVLink pairs;
 * determinism (same inputs, same results). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "profiles/profile.h"
#include "host/plan_check.h"
#include "sched/placement.h"
#include "sched/policies.h"
#include "sim/sim.h"
#include "tests/sched_fixture.h"
#include "workloads/workload.h"

static tetri_profile *h100, *a40;

static int setup(void **state)
{
    (void)state;
    fixture_profile_spec hs = {"h100x8", 8, 8, 2.0, 4}, as = {"a40x4", 4, 2, 2.0, 4};
    tetri_error err = {{0}};
    if (fixture_make_profile("test_tetriserve_h100.db", &hs) || fixture_make_profile("test_tetriserve_a40.db", &as)) return -1;
    if (profile_open("test_tetriserve_h100.db", NULL, 0, &h100, &err) ||
        profile_open("test_tetriserve_a40.db", NULL, 0, &a40, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    profile_close(h100);
    profile_close(a40);
    remove("test_tetriserve_h100.db");
    remove("test_tetriserve_a40.db");
    return 0;
}

/* A hand-built view: requests[] with given sides and deadlines, all waiting at t = 0. */
typedef struct scene {
    tetri_request req[32];
    const tetri_request *ptr[32];
    int32_t drop[32];
    tetri_view view;
    tetri_plan plan;
} scene;

static void scene_init(scene *s, const tetri_cluster *c)
{
    memset(s, 0, sizeof *s);
    s->view.cluster = c;
    s->view.requests = s->ptr;
    s->plan.drop = s->drop;
}

static void scene_add(scene *s, int side, int steps, double deadline_s)
{
    int i = s->view.n_requests++;
    s->req[i] = (tetri_request){.id = i, .model = TETRI_MODEL_FLUX_DEV, .width = side, .height = side,
                                .steps_total = steps, .deadline = (tetri_ns)(deadline_s * TETRI_NS_PER_S),
                                .state = TETRI_REQ_WAITING};
    s->ptr[i] = &s->req[i];
}

static void scene_decide(scene *s, const char *spec, const tetri_profile *p)
{
    tetri_policy pol;
    tetri_error err = {{0}};
    if (tetri_policy_create(&pol, spec, p, s->view.cluster, &err)) fail_msg("%s", err.msg);
    if (tetri_policy_decide(&pol, &s->view, &s->plan, &err)) fail_msg("%s: %s", spec, err.msg);
    if (tetri_plan_validate(&s->plan, &s->view, &err)) fail_msg("%s: %s", spec, err.msg);
    tetri_policy_destroy(&pol);
}

static int gpus_of(const scene *s, int id)
{
    for (int a = 0; a < s->plan.n_assign; a++)
        for (int k = 0; k < s->plan.assign[a].n_req; k++)
            if (s->plan.assign[a].req[k] == id) return tetri_gpuset_count(s->plan.assign[a].gpus);
    return 0;
}

/* A request's first block pays its preparation (the profile's stage 'prepare') inside the round,
 * as the host predicts it: a block that would fill the round exactly without it runs one step
 * fewer at its first block, and the full round once it has run (profile.h's prepare rule). A
 * policy that sized it without the preparation had its GPUs idle a whole round under
 * midround=wait when the block ran as predicted (docs/validation.md 7.2). */
static void first_block_pays_its_preparation(void **state)
{
    (void)state;
    const char *path = "test_tetriserve_prep.db";
    fixture_profile_spec hs = {"h100x8", 8, 8, 2.0, 4};
    assert_int_equal(fixture_make_profile(path, &hs), 0);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO stage_latency VALUES ('h100x8', 'flux-dev', 2048, 2048, 'prepare', 1700000, 'measured')",
                                  NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    if (profile_open(path, NULL, 0, &p, &err)) fail_msg("%s", err.msg);
    assert_int_equal(profile_prepare_ns(p, TETRI_MODEL_FLUX_DEV, 2048, 2048), 1700000);

    scene s;
    const tetri_cluster *c = profile_cluster(p);
    const tetri_ns t8 = (tetri_ns)(fixture_step_ms(2048, 8, 1, 0) * 1e6);
    for (const char *spec = "tetriserve"; spec; spec = strcmp(spec, "tetriserve") == 0 ? "optimal" : NULL) {
        /* 20 steps by 6 s: degree 8 (20 x T4 = 6.05 s) */
        scene_init(&s, c);
        scene_add(&s, 2048, 20, 6.0);
        scene_decide(&s, spec, p);
        assert_int_equal(gpus_of(&s, 0), 8);
        assert_int_equal(s.plan.assign[0].steps, 4); /* 5 x T8 = tau, + 1.7 ms would overrun it */
        /* The same request once it has run on these 8 GPUs (16 steps by 4 s: degree 8 still): no
         * preparation, no move: 5 steps. */
        scene_init(&s, c);
        scene_add(&s, 2048, 20, 4.0);
        s.req[0].steps_done = 4;
        s.req[0].last_gpus = 0xff;
        scene_decide(&s, spec, p);
        assert_int_equal(gpus_of(&s, 0), 8);
        assert_int_equal(s.plan.assign[0].steps, 5);
    }
    /* The host's block cost adds the same preparation: the first block ends by the round. */
    tetri_block_cost cost;
    const tetri_gpuset never = 0;
    assert_int_equal(profile_block_cost(p, TETRI_MODEL_FLUX_DEV, 2048, 2048, 4, 1, 0xff, &never, 1, &cost, &err), 0);
    assert_int_equal(cost.prepare_ns, 1700000);
    assert_true(cost.total_ns <= 5 * t8);
    profile_close(p);
    remove(path);
}

/* A 2048 request whose deadline only degree 8 meets gets all 8 GPUs; with a loose deadline the
 * cheapest plan is one GPU, and elastic scale-up (on by default) still fills the idle ones. */
static void degree_follows_deadline(void **state)
{
    (void)state;
    scene s;
    const tetri_cluster *c = profile_cluster(h100);
    scene_init(&s, c);
    /* 2048: T1 = 829.2 ms, T8 = 829.2 x 0.25625 + 2 = 214.5 ms; 20 steps at 8: 4.29 s; at 4: 5.9 s. */
    scene_add(&s, 2048, 20, 4.5);
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(gpus_of(&s, 0), 8);
    assert_int_equal(s.plan.assign[0].steps, 5); /* tau = 5 x T8: five steps fit the round */
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(2048, 8, 1, 0) * 1e6));

    /* tau: over the resolutions the run serves by default; with none declared (this view) over
     * the profile's, so the 2048 step sets it even for a lone 256 request, as with
     * tau_from=profile; over the resolutions seen so far with tau_from=seen; fixed with tau_ms. */
    scene_init(&s, c);
    scene_add(&s, 256, 20, 100.0);
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(2048, 8, 1, 0) * 1e6));
    scene_decide(&s, "tetriserve:tau_from=profile", h100);
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(2048, 8, 1, 0) * 1e6));
    scene_decide(&s, "tetriserve:tau_from=seen,g=3", h100);
    assert_int_equal(s.plan.wake_at, 3 * (tetri_ns)(fixture_step_ms(256, 8, 1, 0) * 1e6));
    scene_decide(&s, "tetriserve:tau_ms=250", h100);
    assert_int_equal(s.plan.wake_at, 250 * TETRI_NS_PER_MS);
    /* A workload of 256 and 1024 px (view.served) on the same profile: tau is five 1024 steps at
     * its fastest degree from the first round, though only a 256 request has come; the profile's
     * 2048 rows, which the workload never asks for, no longer set it. tau_from=profile still
     * takes them. A 512 request outside the declared classes counts too (served and seen). */
    const tetri_request_class served[] = {{TETRI_MODEL_FLUX_DEV, 256, 256}, {TETRI_MODEL_FLUX_DEV, 1024, 1024}};
    s.view.served = served;
    s.view.n_served = 2;
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(1024, 8, 1, 0) * 1e6));
    scene_decide(&s, "tetriserve:tau_from=served,g=2", h100);
    assert_int_equal(s.plan.wake_at, 2 * (tetri_ns)(fixture_step_ms(1024, 8, 1, 0) * 1e6));
    scene_decide(&s, "tetriserve:tau_from=profile", h100);
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(2048, 8, 1, 0) * 1e6));
    const tetri_request_class small[] = {{TETRI_MODEL_FLUX_DEV, 256, 256}};
    s.view.served = small;
    s.view.n_served = 1;
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(256, 8, 1, 0) * 1e6));
    scene_add(&s, 512, 20, 100.0);
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(s.plan.wake_at, 5 * (tetri_ns)(fixture_step_ms(512, 8, 1, 0) * 1e6));

    scene_init(&s, c);
    scene_add(&s, 1024, 20, 100.0);
    scene_decide(&s, "tetriserve:elastic=off", h100);
    assert_int_equal(gpus_of(&s, 0), 1);
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(gpus_of(&s, 0), 8);
}

/* The DP: survivors first. Two 2048 requests that each need all 8 GPUs now: one gets them, the
 * other nothing (4 + 4 would keep both busy but neither on track). Then ties: four 1024
 * requests whose plans use degrees 1 and 2 fill the 8 GPUs at degree 2 (more GPUs busy). */
static void knapsack_survivors_then_gpus(void **state)
{
    (void)state;
    scene s;
    scene_init(&s, profile_cluster(h100));
    scene_add(&s, 2048, 20, 4.5);
    scene_add(&s, 2048, 20, 4.5);
    scene_decide(&s, "tetriserve:elastic=off", h100);
    assert_int_equal(gpus_of(&s, 0), 8); /* equal slack: the lower index ranks more urgent */
    assert_int_equal(gpus_of(&s, 1), 0);

    /* 1024: T1 = 214.8 ms, T2 = 125.5 ms; 20 steps by 2.7 s: 18 at degree 2, 2 at degree 1. */
    scene_init(&s, profile_cluster(h100));
    for (int i = 0; i < 4; i++) scene_add(&s, 1024, 20, 2.7);
    scene_decide(&s, "tetriserve:elastic=off", h100);
    for (int i = 0; i < 4; i++) assert_int_equal(gpus_of(&s, i), 2);
}

/* Late requests: one GPU, best effort; drop=on drops them. */
static void late_requests(void **state)
{
    (void)state;
    scene s;
    scene_init(&s, profile_cluster(h100));
    scene_add(&s, 2048, 20, 1.0); /* needs 4.3 s at best */
    scene_decide(&s, "tetriserve", h100);
    assert_int_equal(gpus_of(&s, 0), 1);
    assert_int_equal(s.plan.assign[0].steps, 1);
    assert_int_equal(s.plan.n_drop, 0);
    scene_decide(&s, "tetriserve:drop=on", h100);
    assert_int_equal(s.plan.n_assign, 0);
    assert_int_equal(s.plan.n_drop, 1);
    assert_int_equal(s.plan.drop[0], 0);
}

/* Selective batching: with more small identical requests than free GPUs, they share blocks. */
static void selective_batching(void **state)
{
    (void)state;
    scene s;
    scene_init(&s, profile_cluster(h100));
    for (int i = 0; i < 16; i++) scene_add(&s, 256, 20, 20.0);
    scene_decide(&s, "tetriserve", h100);
    int batched = 0, served = 0;
    for (int a = 0; a < s.plan.n_assign; a++) {
        batched |= s.plan.assign[a].n_req > 1;
        assert_true(s.plan.assign[a].n_req <= 4); /* the profile's largest batch */
        served += s.plan.assign[a].n_req;
    }
    assert_true(batched);
    assert_true(served > 8);
    scene_decide(&s, "tetriserve:batching=off", h100);
    for (int a = 0; a < s.plan.n_assign; a++) assert_int_equal(s.plan.assign[a].n_req, 1);
}

/* a40x4: two requests that want two GPUs each land on the two NVLink pairs, for every policy
 * that gives them two GPUs. */
static void topology_prefers_nvlink_pairs(void **state)
{
    (void)state;
    const char *const specs[] = {"tetriserve:elastic=off", "edf-dyn", "tetriserve:placement=off,elastic=off",
                                 "edf-dyn:placement=off", "least-slack", "xdit-sp2", "rssp:eff=0.7"};
    for (size_t p = 0; p < sizeof specs / sizeof specs[0]; p++) {
        scene s;
        scene_init(&s, profile_cluster(a40));
        scene_add(&s, 1024, 20, 3.0);
        scene_add(&s, 1024, 20, 3.0);
        scene_decide(&s, specs[p], a40);
        if (s.plan.n_assign != 2) fail_msg("%s: %d blocks, expected 2", specs[p], s.plan.n_assign);
        for (int a = 0; a < 2; a++) {
            tetri_gpuset g = s.plan.assign[a].gpus;
            if (g != 0x3 && g != 0xc) fail_msg("%s: a pair on GPUs %#llx, not an NVLink pair", specs[p], (unsigned long long)g);
        }
    }
}

/* Placement preservation: a request that ran on GPUs 4,5 keeps them when its degree stays. */
static void placement_is_preserved(void **state)
{
    (void)state;
    scene s;
    scene_init(&s, profile_cluster(h100));
    scene_add(&s, 1024, 20, 2.7);
    scene_add(&s, 1024, 20, 2.7);
    s.req[1].last_gpus = 0x30;
    s.req[1].steps_done = 2;
    s.req[1].steps_total = 22;
    scene_decide(&s, "tetriserve:elastic=off", h100);
    for (int a = 0; a < s.plan.n_assign; a++)
        if (s.plan.assign[a].req[0] == 1) assert_int_equal(s.plan.assign[a].gpus, 0x30);
}

/* A block sized to the round pays its migration inside it: the fixture's round is exactly five
 * 2048 steps at degree 8 (tau_from=profile, g=5), so a 2048 request moving from 4 GPUs to 8 can
 * run only four of them plus the 2 ms move. A block of five overran the boundary by the move and,
 * with fixed rounds, its request then waited a whole round for the next one. */
static void blocks_fit_the_round_with_their_migration(void **state)
{
    (void)state;
    const tetri_ns t8 = profile_lookup_step_ns(h100, TETRI_MODEL_FLUX_DEV, 2048, 2048, 8, 1, TETRI_LINK_FAST);
    const tetri_ns mig = profile_migration_ns(h100, TETRI_MODEL_FLUX_DEV, 2048, 2048, TETRI_LINK_FAST);
    const tetri_ns tau = 5 * t8;
    assert_true(t8 > 0 && mig > 0);
    const char *const specs[] = {"tetriserve", "tetriserve:elastic=off", "tetriserve:extend=off"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        scene s;
        scene_init(&s, profile_cluster(h100));
        scene_add(&s, 2048, 20, 4.4); /* 20 steps at 8 take 4.29 s: only degree 8 meets it */
        s.req[0].last_gpus = 0x0f;
        scene_decide(&s, specs[i], h100);
        assert_int_equal(s.plan.n_assign, 1);
        assert_int_equal(s.plan.assign[0].gpus, 0xff);
        assert_int_equal(s.plan.assign[0].steps, 4);
        assert_true(mig + s.plan.assign[0].steps * t8 <= tau);
        /* on its own set (no move) the whole round is its: five steps */
        s.req[0].last_gpus = 0xff;
        scene_decide(&s, specs[i], h100);
        assert_int_equal(s.plan.assign[0].steps, 5);
    }
}

/* placement=off is first fit: with no aligned block of 4 free on GPUs {1,2,3,5,6}, it takes the
 * lowest free GPUs {1,2,3,5}; placement's best fit packs into the fuller block instead and keeps
 * GPU 3 (the emptier block's) together with its block. Rule 1 (fast link) holds either way. */
static void first_fit_takes_lowest_free(void **state)
{
    (void)state;
    const tetri_cluster *c = profile_cluster(h100);
    const tetri_gpuset free = 0x6e; /* GPUs 1,2,3,5,6 */
    assert_int_equal(placement_pick(c, free, 4, 0, 0, PLACEMENT_FIRST_FIT), 0x2e);
    tetri_gpuset best_fit = placement_pick(c, free, 4, 0, 0, 0);
    assert_int_equal(tetri_gpuset_count(best_fit), 4);
    assert_true(best_fit != 0x2e);
    /* an aligned block, when one is free, is first fit's choice too: the first one */
    assert_int_equal(placement_pick(c, 0xff, 2, 0xc0, 0, PLACEMENT_FIRST_FIT), 0x03);
    assert_int_equal(placement_pick(c, 0xff, 2, 0xc0, 0, 0), 0xc0);
    /* a40x4: first fit still puts a pair on an NVLink pair */
    assert_int_equal(placement_pick(profile_cluster(a40), 0xe, 2, 0, 0, PLACEMENT_FIRST_FIT), 0xc);
}

/* survival=rounds: with fixed rounds a request runs at most floor(tau / T_min) steps a round.
 * 1024 on the fixture: T8 = 57.04 ms, T4 = 79.9, T2 = 125.5; tau = 100 ms, so one step a round.
 * Twenty steps by 2.0 s: DESIGN's survival (back to back at T_min: 100 + 20 x 57 = 1.24 s) lets
 * it wait a round; counted in rounds (100 + 19 x 100 + 57 = 2.06 s) waiting misses and only
 * running now (1 step, then 18 rounds and a step: 1.96 s) survives. tie=none, so the DP picks
 * the lowest option among equal survivors: waiting, when waiting survives. */
static void survival_counts_rounds(void **state)
{
    (void)state;
    scene s;
    scene_init(&s, profile_cluster(h100));
    scene_add(&s, 1024, 20, 2.0);
    scene_decide(&s, "tetriserve:tau_ms=100,tie=none,elastic=off", h100);
    assert_int_equal(s.plan.n_assign, 0);
    scene_decide(&s, "tetriserve:tau_ms=100,tie=none,elastic=off,survival=rounds", h100);
    assert_int_equal(s.plan.n_assign, 1);
    assert_int_equal(gpus_of(&s, 0), 4); /* the plan: 8 steps at 2, then 12 at 4 (order=last) */
    /* midround=fill has no fixed rounds to wait for: rounds counts like steps */
    scene_decide(&s, "tetriserve:tau_ms=100,tie=none,elastic=off,survival=rounds,midround=fill", h100);
    assert_int_equal(s.plan.n_assign, 0);
    /* a deadline rounds can meet by waiting: waiting again */
    s.req[0].deadline = (tetri_ns)(2.1 * TETRI_NS_PER_S);
    scene_decide(&s, "tetriserve:tau_ms=100,tie=none,elastic=off,survival=rounds", h100);
    assert_int_equal(s.plan.n_assign, 0);
}

/* Every policy, random workloads, plans validated on every call, every request accounted for. */
static void run_policy(const char *spec, const tetri_profile *p, uint64_t seed, double scale, tetri_mix_kind mix,
                       double rate, sim_result *out)
{
    workload_spec w;
    workload_spec_default(&w);
    w.seed = seed;
    w.n_requests = 80;
    w.slo_scale = scale;
    w.mix = mix;
    w.rate_per_min = rate;
    tetri_trace tr;
    tetri_error err = {{0}};
    if (workload_generate(&w, &tr, &err)) fail_msg("%s", err.msg);
    sim_config cfg = {.profile = p, .policy_spec = spec, .jitter = (int)(seed & 1), .seed = seed, .check_plans = 1};
    if (sim_run(&cfg, &tr, out, &err)) fail_msg("%s (seed %llu): %s", spec, (unsigned long long)seed, err.msg);
    assert_int_equal(out->n_requests, tr.n);
    assert_int_equal(out->summary.met + out->summary.late + out->summary.dropped, (int)tr.n);
    tetri_trace_free(&tr);
}

static void every_policy_keeps_plan_invariants(void **state)
{
    (void)state;
    const char *const specs[] = {
        "tetriserve", "tetriserve:midround=fill", "tetriserve:placement=off,elastic=off,batching=off",
        "tetriserve:drop=on,order=first,round_options=all,tie=slack-gpus", "tetriserve:g=1,tau_from=pending", "tetriserve:g=1,survival=rounds",
        "edf-dyn", "edf-dyn:backfill=off,drop=on", "least-slack", "xdit-sp1", "xdit-sp4", "rssp",
    };
    const tetri_profile *profiles[] = {h100, a40};
    for (size_t p = 0; p < 2; p++)
        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
            for (uint64_t seed = 1; seed <= 3; seed++) {
                sim_result r;
                run_policy(specs[i], profiles[p], seed, 1.0 + 0.25 * (double)seed, seed == 2 ? TETRI_MIX_SKEWED : TETRI_MIX_UNIFORM,
                           p == 0 ? 12.0 + 6.0 * (double)seed : 6.0 * (double)seed, &r);
                sim_result_free(&r);
            }
}

/* Blocks of more than one GPU that are not aligned power-of-two blocks. */
static size_t ragged_blocks(const sim_result *r)
{
    size_t n = 0;
    for (size_t b = 0; b < r->n_blocks; b++) n += tetri_gpuset_count(r->blocks[b].gpus) > 1 && !tetri_gpuset_is_block(r->blocks[b].gpus);
    return n;
}

/* Under sets=aligned every policy completes its runs (the plan check refuses a ragged set, so a
 * policy that placed one would fail the run), every request met, late or dropped, no block
 * ragged; under any, the same runs do place ragged sets, so the rule is what keeps them out.
 * The rule is read from the profile's cluster, as the policies' views carry it. */
static void every_policy_runs_under_aligned_sets(void **state)
{
    (void)state;
    const char *const specs[] = {
        "tetriserve", "tetriserve:placement=off,elastic=off,batching=off", "tetriserve:midround=fill",
        "edf-dyn", "edf-dyn:backfill=off,drop=on", "least-slack", "xdit-sp1", "xdit-sp2", "xdit-sp4", "xdit-sp8", "rssp",
    };
    size_t ragged_any = 0;
    for (int aligned = 0; aligned < 2; aligned++) {
        profile_set_sets(h100, aligned ? TETRI_SETS_ALIGNED : TETRI_SETS_ANY);
        for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
            for (uint64_t seed = 1; seed <= 3; seed++) {
                sim_result r;
                run_policy(specs[i], h100, seed, 1.0 + 0.25 * (double)seed, seed == 2 ? TETRI_MIX_SKEWED : TETRI_MIX_UNIFORM,
                           12.0 + 6.0 * (double)seed, &r);
                if (aligned && ragged_blocks(&r)) fail_msg("%s seed %llu: a ragged set under sets=aligned", specs[i], (unsigned long long)seed);
                if (!aligned) ragged_any += ragged_blocks(&r);
                sim_result_free(&r);
            }
    }
    profile_set_sets(h100, TETRI_SETS_ANY);
    assert_true(ragged_any > 0);
}

/* optimal (a handful of requests) under sets=aligned: its search counts GPUs, placement then takes
 * aligned blocks only, and a block with none free waits for the next round. */
static void optimal_runs_under_aligned_sets(void **state)
{
    (void)state;
    static const int sides[] = {256, 512, 1024, 2048, 512, 1024};
    tetri_trace_entry e[6];
    for (int i = 0; i < 6; i++)
        e[i] = (tetri_trace_entry){.id = i, .model = TETRI_MODEL_FLUX_DEV, .width = sides[i], .height = sides[i],
                                   .steps = 8, .arrival = i * 20 * TETRI_NS_PER_MS, .deadline = (4 + i) * 200 * TETRI_NS_PER_MS};
    tetri_trace tr = {.entries = e, .n = 6};
    profile_set_sets(h100, TETRI_SETS_ALIGNED);
    sim_config cfg = {.profile = h100, .policy_spec = "optimal", .check_plans = 1};
    sim_result r;
    tetri_error err = {{0}};
    const int rc = sim_run(&cfg, &tr, &r, &err);
    profile_set_sets(h100, TETRI_SETS_ANY);
    if (rc) fail_msg("optimal: %s", err.msg);
    assert_int_equal(r.summary.met + r.summary.late + r.summary.dropped, 6);
    assert_int_equal(ragged_blocks(&r), 0);
    sim_result_free(&r);
}

/* An arrival to an idle cluster starts a fresh round at once (fixed rounds, midround=wait): the
 * host does not call a policy with nothing pending, so the round of the previous work is stale.
 * Request 0 (256, fast) finishes well inside its round; request 1 arrives after that, before the
 * stale round's end, and must start on arrival, not at that boundary. */
static void arrival_to_idle_cluster_starts_a_round(void **state)
{
    (void)state;
    const tetri_ns ms = TETRI_NS_PER_MS;
    tetri_trace_entry e[2] = {
        {.id = 0, .model = TETRI_MODEL_FLUX_DEV, .width = 256, .height = 256, .steps = 20, .arrival = 0, .deadline = 1500 * ms},
        {.id = 1, .model = TETRI_MODEL_FLUX_DEV, .width = 256, .height = 256, .steps = 20, .arrival = 600 * ms, .deadline = 2100 * ms},
    };
    tetri_trace tr = {.entries = e, .n = 2};
    const char *const specs[] = {"tetriserve", "tetriserve:midround=fill"};
    for (size_t i = 0; i < 2; i++) {
        sim_config cfg = {.profile = h100, .policy_spec = specs[i], .check_plans = 1};
        sim_result r;
        tetri_error err = {{0}};
        if (sim_run(&cfg, &tr, &r, &err)) fail_msg("%s: %s", specs[i], err.msg);
        /* the fixture's round: 5 x the 2048 step at degree 8 (214.5 ms), about 1.07 s */
        assert_true(r.requests[0].finish < e[1].arrival);
        assert_int_equal(r.requests[1].first_start, e[1].arrival);
        assert_int_equal(r.requests[1].finish - r.requests[1].first_start, r.requests[0].finish);
        sim_result_free(&r);
    }
}

/* The guard band (guard_ms): in real time a block sized to end by the round's boundary may end a
 * little after it. Request 0 runs on GPUs 0-3 in the round [0, 100 ms), predicted to end at 99 ms;
 * request 1 arrived meanwhile. The wake-up at 100 ms finds the block still running: with
 * guard_ms=5 the round waits (no blocks, woken at 105 ms), and starts at the block's completion
 * (101 ms) with every GPU; with guard_ms=0 it starts at 100 ms without GPUs 0-3, as before the
 * band. A block predicted to run past the boundary, or a wait past the band, does not hold it. */
static void round_waits_for_a_block_that_overran(void **state)
{
    (void)state;
    const tetri_ns ms = TETRI_NS_PER_MS;
    const char *const modes[] = {"wait", "fill"};
    for (int mode = 0; mode < 2; mode++)
        for (int guard = 0; guard <= 5; guard += 5) {
            char spec[128];
            snprintf(spec, sizeof spec, "tetriserve:tau_ms=100,guard_ms=%d,midround=%s", guard, modes[mode]);
            tetri_policy pol;
            tetri_error err = {{0}};
            if (tetri_policy_create(&pol, spec, h100, profile_cluster(h100), &err)) fail_msg("%s", err.msg);
            scene s;
            scene_init(&s, profile_cluster(h100));
            scene_add(&s, 1024, 20, 10.0);
            scene_add(&s, 1024, 20, 10.0);
            s.view.n_requests = 1; /* request 1 has not arrived: the round [0, 100 ms) starts */
            s.view.idle_arrival = true;
            if (tetri_policy_decide(&pol, &s.view, &s.plan, &err)) fail_msg("%s", err.msg);
            assert_int_equal(s.plan.wake_at, 100 * ms);
            /* at the boundary: request 0 still runs on GPUs 0-3, predicted to have ended at 99 ms */
            s.view.n_requests = 2;
            s.view.idle_arrival = false;
            s.req[0].state = TETRI_REQ_RUNNING;
            s.req[0].last_gpus = 0x0f;
            s.view.busy = 0x0f;
            for (int g = 0; g < 4; g++) s.view.gpu_busy_until[g] = 99 * ms;
            s.view.now = 100 * ms;
            if (tetri_policy_decide(&pol, &s.view, &s.plan, &err)) fail_msg("%s", err.msg);
            if (tetri_plan_validate(&s.plan, &s.view, &err)) fail_msg("%s: %s", spec, err.msg);
            if (guard) {
                assert_int_equal(s.plan.n_assign, 0);
                assert_int_equal(s.plan.wake_at, 105 * ms);
                /* another call inside the band (an arrival, a block of another round) waits too */
                s.view.now = 100 * ms + 500;
                if (tetri_policy_decide(&pol, &s.view, &s.plan, &err)) fail_msg("%s", err.msg);
                assert_int_equal(s.plan.n_assign, 0);
                assert_int_equal(s.plan.wake_at, 105 * ms);
                /* the block completes at 101 ms: the round starts there, with every GPU */
                s.view.now = 101 * ms;
                s.view.busy = 0;
                s.req[0].state = TETRI_REQ_WAITING;
                s.req[0].steps_done = 1;
                if (tetri_policy_decide(&pol, &s.view, &s.plan, &err)) fail_msg("%s", err.msg);
                if (tetri_plan_validate(&s.plan, &s.view, &err)) fail_msg("%s: %s", spec, err.msg);
                assert_int_equal(s.plan.wake_at, 201 * ms);
                assert_int_equal(s.plan.n_assign, 2);
                assert_true(gpus_of(&s, 0) > 0 && gpus_of(&s, 1) > 0);
            } else {
                /* guard_ms=0: the round starts at the boundary on the GPUs free then */
                assert_int_equal(s.plan.wake_at, 200 * ms);
                assert_int_equal(s.plan.n_assign, 1);
                assert_int_equal(s.plan.assign[0].req[0], 1);
                assert_int_equal(s.plan.assign[0].gpus & 0x0f, 0);
            }
            tetri_policy_destroy(&pol);
        }

    /* The band does not hold a round for a block predicted to run past the boundary, nor past
     * its own end. */
    const tetri_ns until[2] = {130 * ms, 99 * ms}, now[2] = {100 * ms, 105 * ms};
    for (int c = 0; c < 2; c++) {
        tetri_policy pol;
        tetri_error err = {{0}};
        if (tetri_policy_create(&pol, "tetriserve:tau_ms=100,guard_ms=5", h100, profile_cluster(h100), &err)) fail_msg("%s", err.msg);
        scene s;
        scene_init(&s, profile_cluster(h100));
        scene_add(&s, 1024, 20, 10.0);
        scene_add(&s, 1024, 20, 10.0);
        s.view.n_requests = 1;
        s.view.idle_arrival = true;
        if (tetri_policy_decide(&pol, &s.view, &s.plan, &err)) fail_msg("%s", err.msg);
        s.view.n_requests = 2;
        s.view.idle_arrival = false;
        s.req[0].state = TETRI_REQ_RUNNING;
        s.view.busy = 0x0f;
        for (int g = 0; g < 4; g++) s.view.gpu_busy_until[g] = until[c];
        s.view.now = now[c];
        if (tetri_policy_decide(&pol, &s.view, &s.plan, &err)) fail_msg("%s", err.msg);
        assert_int_equal(s.plan.wake_at, now[c] + 100 * ms);
        assert_int_equal(s.plan.n_assign, 1);
        tetri_policy_destroy(&pol);
    }
}

/* Same inputs, same results; tracing a request (trace=ID, stderr) changes no decision; nor does
 * the guard band where no block outlives its prediction: the fixture's rows have no CV, so even
 * run_policy's jitter (seed 7) leaves block times exact. */
static void same_inputs_same_results(void **state)
{
    (void)state;
    const char *const specs[][2] = {{"tetriserve", "tetriserve"}, {"tetriserve:midround=fill", "tetriserve:midround=fill"},
                                    {"edf-dyn", "edf-dyn"}, {"tetriserve:g=1", "tetriserve:g=1,trace=5"},
                                    {"tetriserve", "tetriserve:guard_ms=50"}, {"tetriserve:midround=fill", "tetriserve:midround=fill,guard_ms=1000"}};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        sim_result a, b;
        run_policy(specs[i][0], h100, 7, 1.2, TETRI_MIX_UNIFORM, 18.0, &a);
        run_policy(specs[i][1], h100, 7, 1.2, TETRI_MIX_UNIFORM, 18.0, &b);
        assert_int_equal(a.n_requests, b.n_requests);
        assert_memory_equal(a.requests, b.requests, a.n_requests * sizeof *a.requests);
        sim_result_free(&a);
        sim_result_free(&b);
    }
}

/* The canonical spec a run records (and a sweep re-parses to run it) keeps every option whole,
 * however long the values: a spec once cut at 190 characters of options lost "trace=-1" and
 * part of batch_max_side, so "batch_max_side=512" silently became 51 (or the re-parse failed). */
static void canonical_spec_keeps_every_option(void **state)
{
    (void)state;
    tetri_policy a, b;
    tetri_error err = {{0}};
    const char *given = "tetriserve:g=1000,tau_ms=123.456789,survival=rounds,order=first,round_options=phase";
    if (tetri_policy_create(&a, given, h100, profile_cluster(h100), &err)) fail_msg("%s", err.msg);
    assert_non_null(strstr(a.spec, ",batch_max_side=512,trace=-1"));
    assert_int_equal(a.spec[strlen(a.spec) - 1], '1');
    /* Re-parsing the canonical text gives the same options and the same text. */
    if (tetri_policy_create(&b, a.spec, h100, profile_cluster(h100), &err)) fail_msg("re-parsing %s: %s", a.spec, err.msg);
    assert_string_equal(a.spec, b.spec);
    assert_int_equal(tetri_options_int(&b.options, "batch_max_side"), 512);
    tetri_policy_destroy(&a);
    tetri_policy_destroy(&b);
}

/* Bad options name the key; a profile whose degrees do not fit is refused at create. */
static void option_errors(void **state)
{
    (void)state;
    tetri_policy pol;
    tetri_error err = {{0}};
    assert_int_equal(tetri_policy_create(&pol, "tetriserve:g=0", h100, profile_cluster(h100), &err), -1);
    assert_non_null(strstr(err.msg, "g"));
    assert_int_equal(tetri_policy_create(&pol, "tetriserve:midround=sometimes", h100, profile_cluster(h100), &err), -1);
    assert_non_null(strstr(err.msg, "wait|fill"));
    assert_int_equal(tetri_policy_create(&pol, "edf-dyn:bogus=1", h100, profile_cluster(h100), &err), -1);
    assert_non_null(strstr(err.msg, "bogus"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(degree_follows_deadline),
        cmocka_unit_test(knapsack_survivors_then_gpus),
        cmocka_unit_test(late_requests),
        cmocka_unit_test(selective_batching),
        cmocka_unit_test(topology_prefers_nvlink_pairs),
        cmocka_unit_test(placement_is_preserved),
        cmocka_unit_test(blocks_fit_the_round_with_their_migration),
        cmocka_unit_test(first_fit_takes_lowest_free),
        cmocka_unit_test(survival_counts_rounds),
        cmocka_unit_test(every_policy_keeps_plan_invariants),
        cmocka_unit_test(every_policy_runs_under_aligned_sets),
        cmocka_unit_test(optimal_runs_under_aligned_sets),
        cmocka_unit_test(arrival_to_idle_cluster_starts_a_round),
        cmocka_unit_test(round_waits_for_a_block_that_overran),
        cmocka_unit_test(first_block_pays_its_preparation),
        cmocka_unit_test(same_inputs_same_results),
        cmocka_unit_test(option_errors),
        cmocka_unit_test(canonical_spec_keeps_every_option),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
