/* tests/test_validate.c: the statistics of `tetri validate`: nearest-rank quantiles, the two-sample
 * Kolmogorov-Smirnov test against values computed with SciPy, and the comparison of a live run with
 * its simulated twin (results/validate.h) over a database written here with known latencies and
 * blocks, so every expected figure is derived by hand below; and the envelope of jittered simulated
 * runs around a live run (key identity, percentile ranks, the verdict's edges). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "results/results.h"
#include "results/stats.h"
#include "results/validate.h"

/* ---- quantiles and the KS test ----------------------------------------------------------------- */

static void nearest_rank_quantiles(void **state)
{
    (void)state;
    const double v[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    assert_true(stats_quantile_sorted(v, 10, 0.50) == 5);  /* rank ceil(5) */
    assert_true(stats_quantile_sorted(v, 10, 0.90) == 9);  /* rank ceil(9) */
    assert_true(stats_quantile_sorted(v, 10, 0.99) == 10); /* rank ceil(9.9) */
    assert_true(stats_quantile_sorted(v, 10, 0.0) == 1);
    assert_true(isnan(stats_quantile_sorted(v, 0, 0.5)));
}

/* scipy.special.kolmogorov(x) (SciPy 1.17.1, NumPy 2.4.6), printed with %.17g. */
static void kolmogorov_distribution_matches_scipy(void **state)
{
    (void)state;
    static const struct { double lambda, sf; } scipy[] = {
        {0.2, 0.99999999999949496},    {0.5, 0.96394524366487511},     {0.8, 0.54414241157419807},
        {1.0, 0.26999967167735456},    {1.2, 0.11224966667072497},     {1.3581, 0.0499996304316674},
        {1.5, 0.022217962616525127},   {2.0, 0.00067092525577969533},  {3.0, 3.0459959489425258e-08},
    };
    for (size_t i = 0; i < sizeof scipy / sizeof scipy[0]; i++) {
        double got = stats_kolmogorov_sf(scipy[i].lambda);
        if (fabs(got - scipy[i].sf) > 1e-14) fail_msg("Q(%g) = %.17g, scipy %.17g", scipy[i].lambda, got, scipy[i].sf);
    }
    assert_true(stats_kolmogorov_sf(0) == 1.0);
    assert_true(stats_kolmogorov_sf(-1) == 1.0);
    /* The two series meet at the switch point (the slope there is about -0.5), and the function
     * falls all the way. */
    assert_true(fabs(stats_kolmogorov_sf(1.18 - 1e-12) - stats_kolmogorov_sf(1.18 + 1e-12)) < 1e-11);
    double last = 1.0;
    for (double x = 0.05; x < 6; x += 0.05) {
        double q = stats_kolmogorov_sf(x);
        assert_true(q <= last && q >= 0);
        last = q;
    }
}

/* Two samples and the D and p SciPy gives: D = scipy.stats.ks_2samp(a, b).statistic, p =
 * scipy.special.kolmogorov(sqrt(n m / (n + m)) D) (SciPy 1.17.1). */
typedef struct ks_case {
    const char *name;
    double a[100], b[100];
    size_t na, nb;
    double d, p;
} ks_case;

static void check_ks(const ks_case *c)
{
    double a[100], b[100];
    memcpy(a, c->a, sizeof a);
    memcpy(b, c->b, sizeof b);
    stats_ks_result r;
    stats_ks_two_sample(a, c->na, b, c->nb, &r);
    if (fabs(r.d - c->d) > 1e-12 || fabs(r.p - c->p) > 1e-12)
        fail_msg("case %s: D %.17g p %.17g, scipy D %.17g p %.17g", c->name, r.d, r.p, c->d, c->p);
    /* symmetric in its samples */
    memcpy(a, c->a, sizeof a);
    memcpy(b, c->b, sizeof b);
    stats_ks_result swapped;
    stats_ks_two_sample(b, c->nb, a, c->na, &swapped);
    assert_true(swapped.d == r.d && swapped.p == r.p);
}

static void ks_two_sample_matches_scipy(void **state)
{
    (void)state;
    static ks_case cases[] = {
        /* two normal-looking samples of 25 and 20, no ties */
        {"A",
         {0.61, 0.29, 0.06, 0.59, -1.73, -0.74, 0.51, -0.56, 0.39, 1.64, 0.05, -0.06, 0.64, -0.82, 0.37, 1.77, 1.09, -1.28,
          2.36, 1.31, 1.05, -0.32, -0.4, 1.06, -2.47},
         {2.2, 1.66, 1.38, 0.2, 0.36, 0, 0.96, 1.56, 0.44, 1.5, -0.3, 0.66, 2.31, 3.29, -0.27, -0.37, 0.38, 0.7, 0.52, -0.71},
         25, 20, 0.23000000000000001, 0.59919557196988893},
        /* ties within and across the samples */
        {"B", {1, 2, 2, 3, 3, 3, 4, 5}, {2, 3, 3, 4, 4, 6, 7}, 8, 7, 0.32142857142857145, 0.83523172506906085},
        /* infinities: dropped requests */
        {"C", {1.0, 2.0, 3.0, INFINITY, INFINITY}, {1.5, 2.5, 3.5, 4.5, INFINITY}, 5, 5, 0.20000000000000001,
         0.99996523065400766},
        /* a shift by half a step: the CDFs never part by more than one value */
        {"D", {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5, 10.5}, 10, 10,
         0.10000000000000001, 0.99999999978431586},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_ks(&cases[i]);
    /* E: 0..99 against 40..139, D = 0.4, p = 2.2507034943851744e-07: rejected at any usual level */
    ks_case e = {.name = "E", .na = 100, .nb = 100, .d = 0.40000000000000002, .p = 2.2507034943851744e-07};
    for (int i = 0; i < 100; i++) e.a[i] = i, e.b[i] = 40 + i;
    check_ks(&e);
}

static void ks_of_an_empty_sample_rejects_nothing(void **state)
{
    (void)state;
    double a[] = {1, 2, 3};
    stats_ks_result r;
    stats_ks_two_sample(a, 3, NULL, 0, &r);
    assert_true(r.d == 0 && r.p == 1 && r.n1 == 3 && r.n2 == 0);
}

/* ---- a live run and its simulated twin, written with known numbers ------------------------------- */

#define N_REQ 10
#define N_BLOCKS 8
#define S(x) ((tetri_ns)((x) * 1e9 + 0.5))
static const char *const SIM_KEY = "policy=edf-dyn|workload=trace=t.csv,digest=00|jitter=off,seed=1|timeline_ns=0|hardware=h100x8";
static const char *const LIVE_KEY =
    "policy=edf-dyn|workload=trace=t.csv,digest=00|jitter=off,seed=1|timeline_ns=0|hardware=h100x8|backend=emulated,speed=1";

/* Request i: 256 px for i < 5, else 1024, arriving at i s, deadline 9.5 s after. Simulated:
 * latency i + 1 s (9 met, request 9 late). Live: latency 1.1 (i + 1) s (8 met, request 8 late at
 * 9.9 s) and request 9 dropped. */
static void build_requests(tetri_request_result *req, int live, tetri_run_summary *sum)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < N_REQ; i++) {
        tetri_request_result *r = &req[i];
        memset(r, 0, sizeof *r);
        r->id = i;
        r->model = TETRI_MODEL_FLUX_DEV;
        r->width = r->height = i < 5 ? 256 : 1024;
        r->steps = 20;
        r->arrival = S(i);
        r->deadline = r->arrival + S(9.5);
        r->first_start = r->arrival;
        r->finish = r->arrival + (live ? S(1.1 * (i + 1)) : S(i + 1));
        r->outcome = r->finish <= r->deadline ? TETRI_MET : TETRI_LATE;
        r->max_degree = 1;
        if (live && i == 9) r->finish = -1, r->outcome = TETRI_DROPPED;
        sum->met += r->outcome == TETRI_MET;
        sum->late += r->outcome == TETRI_LATE;
        sum->dropped += r->outcome == TETRI_DROPPED;
    }
    sum->n = N_REQ;
    sum->makespan = S(20);
}

/* The live blocks: predicted / actual seconds, request, batch, GPUs:
 *   0: 1 / 1.1 (+0.10)   request 0 (256)            degree 1
 *   1: 2 / 1.9 (-0.05)   request 5 (1024)           degree 4
 *   2: 1 / 1.02 (+0.02)  requests 1, 2 (256, batch) degree 2
 *   3: failed            request 6                  degree 4   (left out)
 *   4: 2 / 1.6 (-0.20)   request 7 (1024)           degree 4
 *   5, 6, 7: 1 / 1.01 (+0.01) request 3 (256)       degree 1
 * Over the 7 that count: mean -0.1 / 7, p50 (rank 4 of -0.20, -0.05, 0.01, 0.01, 0.01, 0.02, 0.10)
 * +0.01, p90 (rank 7) +0.10; classes: 256/b1/d1 +0.0325 (4 blocks), 1024/b1/d4 -0.125 (2),
 * 256/b2/d2 +0.02 (1). The worst is 256/b1/d1: the only class of VALIDATE_CLASS_MIN_BLOCKS (3)
 * blocks or more, though 1024/b1/d4's two blocks are further off. Blocks start 10 s apart, but 6
 * and 7 start 10 ms after the one before ends (back to back, under TETRI_AFTER_IDLE_NS): after
 * idling 0, 1, 2, 4, 5 (mean -0.12 / 5), back to back 6, 7 (+0.01); 256/b1/d1's: 0, 5 (+0.055)
 * against 6, 7 (+0.01). */
static void build_blocks(tetri_block_result *b)
{
    static const struct { double pred, actual; int req, n_req, failed; tetri_gpuset gpus; } spec[N_BLOCKS] = {
        {1, 1.1, 0, 1, 0, 0x1}, {2, 1.9, 5, 1, 0, 0xf}, {1, 1.02, 1, 2, 0, 0x3}, {2, 0.5, 6, 1, 1, 0xf0},
        {2, 1.6, 7, 1, 0, 0xf}, {1, 1.01, 3, 1, 0, 0x1}, {1, 1.01, 3, 1, 0, 0x1}, {1, 1.01, 3, 1, 0, 0x1},
    };
    for (int k = 0; k < N_BLOCKS; k++) {
        memset(&b[k], 0, sizeof b[k]);
        b[k].seq = k;
        b[k].req[0] = spec[k].req;
        if (spec[k].n_req == 2) b[k].req[1] = 2;
        b[k].n_req = spec[k].n_req;
        b[k].gpus = spec[k].gpus;
        b[k].steps = 5;
        b[k].pred_start = S(10 * k);
        b[k].pred_end = b[k].pred_start + S(spec[k].pred);
        b[k].start = k >= 6 ? b[k - 1].end + S(0.01) : b[k].pred_start;
        b[k].end = b[k].start + S(spec[k].actual);
        b[k].failed = spec[k].failed;
    }
}

/* The simulated run, or the live one (ended early and written partial when `partial`). */
static void write_run(results_db *db, int64_t experiment, int live, int partial)
{
    tetri_request_result req[N_REQ];
    tetri_block_result blocks[N_BLOCKS];
    tetri_run_summary sum;
    build_requests(req, live, &sum);
    build_blocks(blocks);
    sum.partial = partial;
    tetri_run_info info = {.run_key = live ? LIVE_KEY : SIM_KEY, .policy = "edf-dyn", .workload = "trace=t.csv,digest=00",
                           .mix = "trace", .seed = 1, .backend = live ? "emulated" : "sim", .hardware = "h100x8",
                           .model = "flux-dev"};
    tetri_error err = {{0}};
    if (results_write_run(db, experiment, &info, &sum, req, N_REQ, NULL, 0, live ? blocks : NULL, live ? N_BLOCKS : 0, &err))
        fail_msg("%s", err.msg);
}

typedef struct fixture {
    char dir[256], path[300];
    results_db *db;
    results_run *runs;
    size_t n_runs;
} fixture;

/* A test's initial state: its live run is written partial. */
static char live_run_partial[] = "live run partial";

/* The database of the pair, the live run written partial when *state is live_run_partial on entry. */
static int open_fixture(void **state)
{
    const int partial = *state == live_run_partial;
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "%s/tetri-validate-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->path, sizeof f->path, "%s/v.db", f->dir);
    tetri_error err = {{0}};
    int64_t experiment;
    if (results_open(f->path, &f->db, &err) || results_experiment(f->db, "validate", "", &experiment, &err)) return -1;
    write_run(f->db, experiment, 0, 0);
    write_run(f->db, experiment, 1, partial);
    if (results_load_runs(f->db, experiment, &f->runs, &f->n_runs, &err)) return -1;
    *state = f;
    return 0;
}

static int close_fixture(void **state)
{
    fixture *f = *state;
    results_runs_free(f->runs, f->n_runs);
    results_close(f->db);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

static void sim_key_is_the_live_key_without_its_backend(void **state)
{
    (void)state;
    char buf[512];
    assert_int_equal(validate_sim_key(LIVE_KEY, buf, sizeof buf), 0);
    assert_string_equal(buf, SIM_KEY);
    assert_int_equal(validate_sim_key(SIM_KEY, buf, sizeof buf), -1);
}

/* A key moved to another profile: only the digest's 16 digits change; a key without a digest, a
 * digest that is not 16 hex digits or too short a buffer is refused. */
static void key_on_profile_replaces_the_digest(void **state)
{
    (void)state;
    const char *key = "policy=x|workload=w|jitter=off,seed=1|hardware=h|profile=0123456789abcdef,analytic=off|backend=gpu";
    char buf[256];
    assert_int_equal(validate_key_on_profile(key, "fedcba9876543210", buf, sizeof buf), 0);
    assert_string_equal(buf, "policy=x|workload=w|jitter=off,seed=1|hardware=h|profile=fedcba9876543210,analytic=off|backend=gpu");
    assert_int_equal(validate_key_on_profile(SIM_KEY, "fedcba9876543210", buf, sizeof buf), -1);
    assert_int_equal(validate_key_on_profile(key, "fedcba98", buf, sizeof buf), -1);
    assert_int_equal(validate_key_on_profile("a|profile=0123,analytic=off", "fedcba9876543210", buf, sizeof buf), -1);
    assert_int_equal(validate_key_on_profile(key, "fedcba9876543210", buf, 40), -1);
}

/* The actual profile's part goes before the backend part (or at the end of a simulator's key), as
 * sweep_run_key writes it; a key that has one already, a bad digest or a short buffer is refused. */
static void key_with_actual_adds_its_part(void **state)
{
    (void)state;
    const char *live = "policy=x|workload=w|hardware=h|profile=0123456789abcdef,analytic=off|backend=gpu";
    char buf[256];
    assert_int_equal(validate_key_with_actual(live, "fedcba9876543210", buf, sizeof buf), 0);
    assert_string_equal(buf, "policy=x|workload=w|hardware=h|profile=0123456789abcdef,analytic=off,actual=fedcba9876543210|backend=gpu");
    char twice[256];
    assert_int_equal(validate_key_with_actual(buf, "fedcba9876543210", twice, sizeof twice), -1);
    assert_int_equal(validate_key_with_actual("p|profile=0123456789abcdef,analytic=off", "fedcba9876543210", buf, sizeof buf), 0);
    assert_string_equal(buf, "p|profile=0123456789abcdef,analytic=off,actual=fedcba9876543210");
    assert_int_equal(validate_key_with_actual(live, "fedcba98", buf, sizeof buf), -1);
    assert_int_equal(validate_key_with_actual(live, "fedcba9876543210", buf, 40), -1);
}

static void pairs_are_found_by_key(void **state)
{
    fixture *f = *state;
    validate_pair *pairs;
    size_t n, unpaired;
    tetri_error err = {{0}};
    const char *keys[] = {LIVE_KEY};
    assert_int_equal(validate_find_pairs(f->runs, f->n_runs, keys, NULL, 1, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(pairs[0].sim->backend, "sim");
    assert_string_equal(pairs[0].live->backend, "emulated");
    free(pairs);
    /* every live run (one), none unpaired */
    assert_int_equal(validate_find_pairs(f->runs, f->n_runs, NULL, NULL, 0, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(unpaired, 0);
    free(pairs);
    /* without its twin: an error naming the key when asked for, a count when scanning */
    const results_run *live = strcmp(f->runs[0].backend, "sim") != 0 ? &f->runs[0] : &f->runs[1];
    assert_int_equal(validate_find_pairs(live, 1, keys, NULL, 1, &pairs, &n, &unpaired, &err), -1);
    assert_non_null(strstr(err.msg, "has no simulated twin"));
    assert_int_equal(validate_find_pairs(live, 1, NULL, NULL, 0, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(unpaired, 1);
    free(pairs);
    const char *absent[] = {"policy=none"};
    assert_int_equal(validate_find_pairs(f->runs, f->n_runs, absent, NULL, 1, &pairs, &n, &unpaired, &err), -1);
    assert_non_null(strstr(err.msg, "'policy=none' is not in the database"));
}

/* The twin rule over runs in memory (pairing reads only keys, backends and experiments). */
static void twins_with_and_without_jitter(void **state)
{
    (void)state;
    char *keys[] = {"p|trace|jitter=off,seed=1|hw", "p|trace|jitter=on,seed=1|hw", "p|trace|jitter=off,seed=1|hw|backend=gpu,x=1",
                    "q|trace|jitter=on,seed=1|hw", "q|trace|jitter=off,seed=1|hw|backend=emulated,speed=1"};
    char *backends[] = {"sim", "sim", "exec", "sim", "emulated"};
    results_run runs[5];
    memset(runs, 0, sizeof runs);
    for (int i = 0; i < 5; i++) runs[i].run_key = keys[i], runs[i].backend = backends[i], runs[i].experiment_id = 1;
    validate_pair *pairs;
    size_t n, unpaired;
    tetri_error err = {{0}};
    /* p: the exact twin (jitter off) rather than the jittered one; q: only a jittered one */
    assert_int_equal(validate_find_pairs(runs, 5, NULL, NULL, 0, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 2);
    assert_ptr_equal(pairs[0].live, &runs[2]);
    assert_ptr_equal(pairs[0].sim, &runs[0]);
    assert_ptr_equal(pairs[1].sim, &runs[3]);
    free(pairs);
    /* named twins win over the rule */
    const char *live[] = {keys[2]}, *sim[] = {keys[1]};
    assert_int_equal(validate_find_pairs(runs, 5, live, sim, 1, &pairs, &n, &unpaired, &err), 0);
    assert_ptr_equal(pairs[0].sim, &runs[1]);
    free(pairs);
    /* another experiment's run is no twin */
    runs[3].experiment_id = 2;
    assert_int_equal(validate_find_pairs(runs, 5, NULL, NULL, 0, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(unpaired, 1);
    free(pairs);
}

/* A live run from the GPU machine (its trace at /root/out) pairs with the run simulated here from
 * the same trace elsewhere (the same digest), jitter off; not with a jittered one, nor another
 * trace's. */
static void twin_found_by_trace_content(void **state)
{
    (void)state;
    char *keys[] = {"policy=p|workload=trace=/root/out/t.csv,digest=ab|jitter=off,seed=1|hw=h|backend=gpu,seed=1",
                    "policy=p|workload=trace=bench/t.csv,digest=ac|jitter=off,seed=1|hw=h",
                    "policy=p|workload=trace=bench/t.csv,digest=ab|jitter=on,seed=3|hw=h",
                    "policy=p|workload=trace=bench/t.csv,digest=ab|jitter=off,seed=1|hw=h"};
    char *backends[] = {"exec", "sim", "sim", "sim"};
    results_run runs[4];
    memset(runs, 0, sizeof runs);
    for (int i = 0; i < 4; i++) runs[i].run_key = keys[i], runs[i].backend = backends[i], runs[i].experiment_id = 1;
    validate_pair *pairs;
    size_t n, unpaired;
    tetri_error err = {{0}};
    assert_int_equal(validate_find_pairs(runs, 4, NULL, NULL, 0, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 1);
    assert_ptr_equal(pairs[0].sim, &runs[3]);
    free(pairs);
    /* without the unjittered run of that content: no twin */
    assert_int_equal(validate_find_pairs(runs, 3, NULL, NULL, 0, &pairs, &n, &unpaired, &err), 0);
    assert_int_equal(n, 0);
    assert_int_equal(unpaired, 1);
    free(pairs);
}

#define assert_close(got, want) \
    do { \
        if (!(fabs((got) - (want)) <= 1e-9)) fail_msg("%s = %.17g, want %.17g", #got, (double)(got), (double)(want)); \
    } while (0)

static void comparison_of_known_runs(void **state)
{
    fixture *f = *state;
    validate_pair *pairs;
    size_t n;
    tetri_error err = {{0}};
    assert_int_equal(validate_find_pairs(f->runs, f->n_runs, NULL, NULL, 0, &pairs, &n, NULL, &err), 0);
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    assert_int_equal(validate_compare(f->db, &pairs[0], &t, &err), 0);
    const validate_pair *p = &pairs[0];
    /* sim: latencies 1..10 s; live: 1.1..9.9 s and one dropped */
    assert_int_equal(p->s.n, 10);
    assert_int_equal(p->s.finished, 10);
    assert_int_equal(p->l.finished, 9);
    assert_close(p->s.mean_s, 5.5);
    assert_close(p->l.mean_s, 1.1 * 45 / 9); /* 5.5: the dropped request is not in the mean */
    assert_close(p->err_mean, 0);
    assert_close(p->s.p50_s, 5);
    assert_close(p->l.p50_s, 5.5);
    assert_close(p->err_p50, 0.1);
    assert_close(p->s.p90_s, 9);
    assert_close(p->err_p90, 0.1);
    assert_close(p->s.p99_s, 10);
    assert_true(isinf(p->l.p99_s) && isinf(p->err_p99)); /* rank 10 of live is the dropped request */
    assert_close(p->s.attainment, 0.9);
    assert_close(p->l.attainment, 0.8);
    assert_close(p->sar_diff, -0.1);
    /* KS: SciPy gives D = 0.1, p = 0.99999999978431586 for 1..10 against 1.1 i (i = 1..9) and inf */
    assert_close(p->ks.d, 0.1);
    assert_close(p->ks.p, 0.99999999978431586);
    /* blocks (build_blocks) */
    assert_int_equal(p->blocks.n, 7);
    assert_int_equal(p->blocks.failed, 1);
    assert_close(p->blocks.err_mean, -0.1 / 7);
    assert_close(p->blocks.err_p50, 0.01);
    assert_close(p->blocks.err_p90, 0.10);
    assert_int_equal(p->blocks.worst.width, 256);
    assert_int_equal(p->blocks.worst.batch, 1);
    assert_int_equal(p->blocks.worst.degree, 1);
    assert_int_equal(p->blocks.worst.n, 4);
    assert_close(p->blocks.worst.err_mean, 0.0325);
    /* every class, in class order (tokens, then batch) */
    assert_int_equal(p->blocks.n_classes, 3);
    const int widths[] = {256, 256, 1024}, batches[] = {1, 2, 1}, degrees[] = {1, 2, 4}, counts[] = {4, 1, 2};
    const double errs[] = {0.0325, 0.02, -0.125};
    for (int k = 0; k < 3; k++) {
        const validate_block_class *c = &p->blocks.classes[k];
        assert_int_equal(c->width, widths[k]);
        assert_int_equal(c->batch, batches[k]);
        assert_int_equal(c->degree, degrees[k]);
        assert_int_equal(c->n, counts[k]);
        assert_close(c->err_mean, errs[k]);
    }
    assert_int_equal(p->blocks.classes[0].n_idle, 2);
    assert_close(p->blocks.classes[0].err_idle_mean, 0.055);
    assert_close(p->blocks.classes[0].err_busy_mean, 0.01);
    assert_int_equal(p->blocks.classes[2].n_idle, 2); /* 1024/b1/d4: both after idling */
    assert_true(isnan(p->blocks.classes[2].err_busy_mean));
    assert_int_equal(p->blocks.all.n, 7);
    assert_int_equal(p->blocks.all.n_idle, 5);
    assert_close(p->blocks.all.err_idle_mean, -0.024);
    assert_close(p->blocks.all.err_busy_mean, 0.01);
    /* mean within 2%; p99 infinite and attainment 0.1 apart: missed; KS does not reject */
    assert_int_equal(p->misses, VALIDATE_MISS_P99 | VALIDATE_MISS_SAR);
    /* wider targets let the attainment pass; the p99 of a dropped request never does */
    validate_targets wide = {.mean_err = 0.02, .p99_err = 1e6, .sar_diff = 0.1, .ks_alpha = 0.05};
    assert_int_equal(validate_compare(f->db, &pairs[0], &wide, &err), 0);
    assert_int_equal(pairs[0].misses, VALIDATE_MISS_P99);
    free(pairs);
}

/* The fixture's one pair, compared against issue 9's targets (free()). */
static validate_pair *compared_pair(const fixture *f)
{
    validate_pair *pairs;
    size_t n;
    tetri_error err = {{0}};
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    assert_int_equal(validate_find_pairs(f->runs, f->n_runs, NULL, NULL, 0, &pairs, &n, NULL, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(validate_compare(f->db, &pairs[0], &t, &err), 0);
    return pairs;
}

/* What validate_print (csv 0) or validate_write_csv (csv 1) writes for the pair (free()). */
static char *written(const fixture *f, const validate_pair *pair, int csv)
{
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    FILE *out = tmpfile();
    assert_non_null(out);
    if (csv) validate_write_csv(out, pair, 1);
    else validate_print(out, pair, 1, f->runs, f->n_runs, &t);
    long len = ftell(out);
    rewind(out);
    char *text = calloc((size_t)len + 1, 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)len, out), (size_t)len);
    fclose(out);
    return text;
}

/* The CSV row says what the comparison found, and the text table its verdict, byte-reproducibly. */
static void csv_and_table(void **state)
{
    fixture *f = *state;
    validate_pair *pairs = compared_pair(f);
    char *text = written(f, pairs, 0), *again = written(f, pairs, 0), *csv = written(f, pairs, 1);
    assert_string_equal(text, again);
    assert_non_null(strstr(text, "verdict            MISS: mean +0.00% (within 2%), p99 inf (beyond 5%), attainment -0.100 (beyond 0.02)"));
    assert_non_null(strstr(text, "worst class      flux-dev 256x256 batch 1 degree 1: mean +3.25% over 4 blocks"));
    assert_non_null(strstr(text, "  idle before      5 started after 50 ms or more of idling: mean -2.40%; 2 back to back: mean +1.00%\n"));
    assert_non_null(strstr(text, "  by class         flux-dev 256x256 batch 1 degree 1: mean +3.25% over 4 blocks (after idling +5.50% over 2, back to back +1.00% over 2)\n"
                                 "                   flux-dev 256x256 batch 2 degree 2: mean +2.00% over 1 block\n"
                                 "                   flux-dev 1024x1024 batch 1 degree 4: mean -12.50% over 2 blocks\n"));
    assert_non_null(strstr(text, "0 of 1 pair meet every target"));
    assert_null(strstr(text, "status  ")); /* both runs done: no status line */
    const char *row = strchr(csv, '\n') + 1;
    assert_non_null(strstr(row, ",10.000000,inf,inf,0.900000,0.800000,-0.100000,0.100000,1,0,7,1,-0.014286,0.010000,0.100000,"));
    assert_non_null(strstr(row, ",flux-dev 256x256 batch 1 degree 1,4,0.032500,MISS,p99;attainment,done,done,"));
    free(text);
    free(again);
    free(csv);
    free(pairs);
}

/* A live run that ended early is compared all the same, and the table and CSV say it is partial. */
static void a_partial_run_is_said(void **state)
{
    fixture *f = *state;
    validate_pair *pairs = compared_pair(f);
    char *text = written(f, pairs, 0), *csv = written(f, pairs, 1);
    assert_non_null(strstr(text, "status             sim done, live partial (a partial run ended early"));
    assert_non_null(strstr(csv, ",MISS,p99;attainment,done,partial,"));
    free(text);
    free(csv);
    free(pairs);
}

/* ---- the envelope ------------------------------------------------------------------------------- */

/* A live key recorded on another machine and a jittered simulated run of the same trace here: the
 * same envelope key (the trace known by its digest), jitter and seed aside. */
static void envelope_keys(void **state)
{
    (void)state;
    char a[512], b[512];
    int on_a, on_b;
    const char *live = "policy=p:x=1|workload=trace=/root/out/t.csv,digest=ab|jitter=off,seed=1|timeline_ns=5|hardware=h|profile=9,analytic=off|backend=gpu,seed=1";
    const char *sim = "policy=p:x=1|workload=trace=bench/t.csv,digest=ab|jitter=on,seed=7|timeline_ns=5|hardware=h|profile=9,analytic=off";
    assert_int_equal(validate_envelope_key(live, a, sizeof a, &on_a), 0);
    assert_int_equal(validate_envelope_key(sim, b, sizeof b, &on_b), 0);
    assert_string_equal(a, "policy=p:x=1|workload=digest=ab|timeline_ns=5|hardware=h|profile=9,analytic=off");
    assert_string_equal(a, b);
    assert_false(on_a);
    assert_true(on_b);
    /* a trace with its generator's spec is that generated workload */
    const char *traced = "policy=p|workload=trace=t.csv,digest=ab,generator:mix=uniform,seed=1|jitter=on,seed=2|hardware=h";
    const char *generated = "policy=p|workload=mix=uniform,seed=1|jitter=on,seed=1|hardware=h";
    assert_int_equal(validate_envelope_key(traced, a, sizeof a, &on_a), 0);
    assert_int_equal(validate_envelope_key(generated, b, sizeof b, &on_b), 0);
    assert_string_equal(a, "policy=p|workload=mix=uniform,seed=1|hardware=h");
    assert_string_equal(a, b);
    /* another digest, profile or policy is another envelope */
    assert_int_equal(validate_envelope_key("policy=p:x=1|workload=trace=t.csv,digest=ac|jitter=on,seed=7|timeline_ns=5|hardware=h|profile=9,analytic=off", b, sizeof b, &on_b), 0);
    assert_int_equal(validate_envelope_key(live, a, sizeof a, &on_a), 0);
    assert_string_not_equal(a, b);
    /* not of that form, or too long for buf */
    assert_int_equal(validate_envelope_key("p|trace|jitter=on,seed=1|hw", a, sizeof a, &on_a), -1);
    assert_int_equal(validate_envelope_key("policy=p|workload=w|hardware=h", a, sizeof a, &on_a), -1);
    assert_int_equal(validate_envelope_key(sim, a, 20, &on_a), -1);
}

static void percentile_ranks(void **state)
{
    (void)state;
    const double v[] = {1, 2, 3, 4};
    assert_close(validate_percentile_rank(v, 4, 0), 0);
    assert_close(validate_percentile_rank(v, 4, 5), 100);
    assert_close(validate_percentile_rank(v, 4, 2), 37.5);  /* 1 below, 1 equal: (1 + 0.5) / 4 */
    assert_close(validate_percentile_rank(v, 4, 2.5), 50);
    const double with_nan[] = {1, NAN, 3};
    assert_close(validate_percentile_rank(with_nan, 3, 2), 50); /* the NaN does not count */
    const double infinite[] = {1, INFINITY, INFINITY};
    assert_close(validate_percentile_rank(infinite, 3, INFINITY), 200.0 / 3); /* 1 below, 2 equal */
    assert_true(isnan(validate_percentile_rank(v, 4, NAN)));
    assert_true(isnan(validate_percentile_rank(v, 0, 1)));
}

/* n runs of means 10, 11, ..., p99s 20, 21, ... and attainments 0.5, 0.55, ... */
static void envelope_runs(validate_latency *runs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        runs[i] = (validate_latency){.n = 10, .finished = 10, .mean_s = 10.0 + (double)i, .p99_s = 20.0 + (double)i,
                                     .attainment = 0.5 + 0.05 * (double)i};
}

static unsigned envelope_misses(const validate_latency *runs, size_t n, validate_latency live)
{
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    validate_envelope e;
    tetri_error err = {{0}};
    assert_int_equal(validate_envelope_fill(&e, runs, n, &live, &t, &err), 0);
    return e.misses;
}

/* The widened bounds' edges: mean 9.8..14.28, p99 19..25.2, attainment 0.48..0.72 over 5 runs. */
static void envelope_verdict_edges(void **state)
{
    (void)state;
    validate_latency runs[5], live = {.n = 10, .finished = 10, .mean_s = 12, .p99_s = 22, .attainment = 0.6};
    envelope_runs(runs, 5);
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    validate_envelope e;
    tetri_error err = {{0}};
    assert_int_equal(validate_envelope_fill(&e, runs, 5, &live, &t, &err), 0);
    assert_int_equal(e.n, 5);
    assert_int_equal(e.misses, 0);
    assert_close(e.mean.min, 10);
    assert_close(e.mean.max, 14);
    assert_close(e.mean.lo, 9.8);
    assert_close(e.mean.hi, 14.28);
    assert_close(e.mean.rank, 50);
    assert_close(e.p99.lo, 19);
    assert_close(e.p99.hi, 25.2);
    assert_close(e.sar.lo, 0.48);
    assert_close(e.sar.hi, 0.72);
    /* on an edge is within; past it, outside */
    assert_int_equal(envelope_misses(runs, 5, (validate_latency){.mean_s = 9.8, .p99_s = 25.2, .attainment = 0.48}), 0);
    assert_int_equal(envelope_misses(runs, 5, (validate_latency){.mean_s = 14.28, .p99_s = 19, .attainment = 0.72}), 0);
    assert_int_equal(envelope_misses(runs, 5, (validate_latency){.mean_s = 9.79, .p99_s = 25.3, .attainment = 0.479}),
                     VALIDATE_MISS_MEAN | VALIDATE_MISS_P99 | VALIDATE_MISS_SAR);
    assert_int_equal(envelope_misses(runs, 5, (validate_latency){.mean_s = 14.3, .p99_s = 22, .attainment = 0.721}),
                     VALIDATE_MISS_MEAN | VALIDATE_MISS_SAR);
}

/* Dropped requests: a live run that finished nothing has no mean (outside); an infinite live p99
 * lies within an envelope whose largest p99 is infinite, and beyond one whose p99s are all finite;
 * a run without a finished request does not count in the mean's range. */
static void envelope_with_dropped_requests(void **state)
{
    (void)state;
    validate_latency runs[5];
    envelope_runs(runs, 5);
    validate_latency live = {.mean_s = 12, .p99_s = INFINITY, .attainment = 0.6};
    assert_int_equal(envelope_misses(runs, 5, live), VALIDATE_MISS_P99);
    runs[4].p99_s = INFINITY;
    assert_int_equal(envelope_misses(runs, 5, live), 0);
    for (int i = 0; i < 5; i++) runs[i].p99_s = INFINITY; /* every p99 infinite: lo infinite whatever the target */
    assert_int_equal(envelope_misses(runs, 5, live), 0);
    live.p99_s = 22;
    assert_int_equal(envelope_misses(runs, 5, live), VALIDATE_MISS_P99);
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    t.p99_err = 1; /* min x (1 - 1) would be inf x 0 */
    validate_envelope e;
    tetri_error err = {{0}};
    assert_int_equal(validate_envelope_fill(&e, runs, 5, &live, &t, &err), 0);
    assert_true(isinf(e.p99.lo));
    envelope_runs(runs, 5);
    runs[0].mean_s = NAN; /* nothing finished: left out, the range is 11..14 */
    assert_int_equal(validate_envelope_fill(&e, runs, 5, &(validate_latency){.mean_s = 10, .p99_s = 22, .attainment = 0.6}, &t, &err), 0);
    assert_int_equal(e.mean.n, 4);
    assert_close(e.mean.min, 11);
    assert_int_equal(e.misses, VALIDATE_MISS_MEAN);
    live = (validate_latency){.mean_s = NAN, .p99_s = 22, .attainment = 0.6};
    assert_int_equal(envelope_misses(runs, 5, live), VALIDATE_MISS_MEAN);
    assert_int_equal(validate_envelope_fill(&e, runs, 5, &live, &t, &err), 0);
    assert_true(isnan(e.mean.rank));
    /* no run: every figure undefined, every one outside */
    assert_int_equal(envelope_misses(runs, 0, live), VALIDATE_MISS_MEAN | VALIDATE_MISS_P99 | VALIDATE_MISS_SAR);
}

/* The fixture's pair, with jittered simulated runs of its trace under another file name (seeds
 * 1..n_jittered, latencies (i + 1) x (0.96, 0.98, 1, 1.02, 1.04, ...)), one of another policy and
 * one in another experiment (neither in the envelope). */
static void write_jittered(const fixture *f, int n_jittered)
{
    tetri_error err = {{0}};
    int64_t experiment, other;
    if (results_experiment(f->db, "validate", "", &experiment, &err) || results_experiment(f->db, "other", "", &other, &err))
        fail_msg("%s", err.msg);
    for (int k = 1; k <= n_jittered + 2; k++) {
        tetri_request_result req[N_REQ];
        tetri_run_summary sum;
        build_requests(req, 0, &sum);
        sum.met = sum.late = 0;
        for (int i = 0; i < N_REQ; i++) {
            req[i].finish = req[i].arrival + S((i + 1) * (0.96 + 0.02 * (k - 1)));
            req[i].outcome = req[i].finish <= req[i].deadline ? TETRI_MET : TETRI_LATE;
            sum.met += req[i].outcome == TETRI_MET;
            sum.late += req[i].outcome == TETRI_LATE;
        }
        char key[256];
        snprintf(key, sizeof key, "policy=%s|workload=trace=elsewhere/t.csv,digest=00|jitter=on,seed=%d|timeline_ns=0|hardware=h100x8",
                 k == n_jittered + 1 ? "rssp" : "edf-dyn", k);
        tetri_run_info info = {.run_key = key, .policy = "edf-dyn", .workload = "trace=elsewhere/t.csv,digest=00",
                               .mix = "trace", .seed = (uint64_t)k, .backend = "sim", .hardware = "h100x8", .model = "flux-dev"};
        if (results_write_run(f->db, k == n_jittered + 2 ? other : experiment, &info, &sum, req, N_REQ, NULL, 0, NULL, 0, &err))
            fail_msg("%s", err.msg);
    }
}

/* The fixture's pair compared with its envelope of n_jittered runs (free()). */
static validate_pair *pair_with_envelope(fixture *f, int n_jittered)
{
    write_jittered(f, n_jittered);
    tetri_error err = {{0}};
    results_runs_free(f->runs, f->n_runs);
    if (results_load_runs(f->db, -1, &f->runs, &f->n_runs, &err)) fail_msg("%s", err.msg);
    validate_pair *pairs;
    size_t n;
    validate_targets t = VALIDATE_DEFAULT_TARGETS;
    assert_int_equal(validate_find_pairs(f->runs, f->n_runs, NULL, NULL, 0, &pairs, &n, NULL, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(validate_compare(f->db, &pairs[0], &t, &err), 0);
    assert_int_equal(validate_compare_envelope(f->db, &pairs[0], f->runs, f->n_runs, &t, &err), 0);
    return pairs;
}

/* Live: mean 5.5 (9 finished), p99 inf, attainment 0.8; the envelope: means 5.28 .. 5.72, p99s 9.6 ..
 * 10.4, attainment 0.9 each. */
static void envelope_of_known_runs(void **state)
{
    fixture *f = *state;
    validate_pair *pairs = pair_with_envelope(f, 5);
    const validate_envelope *e = &pairs[0].env;
    assert_int_equal(e->n, 5);
    assert_true(validate_envelope_shown(&pairs[0]));
    assert_close(e->mean.min, 5.28);
    assert_close(e->mean.max, 5.72);
    assert_close(e->mean.rank, 50); /* 2 below, 1 equal of 5 */
    assert_close(e->p99.min, 9.6);
    assert_close(e->p99.max, 10.4);
    assert_close(e->p99.rank, 100);
    assert_close(e->sar.min, 0.9);
    assert_close(e->sar.rank, 0);
    assert_int_equal(e->misses, VALIDATE_MISS_P99 | VALIDATE_MISS_SAR);
    assert_int_equal(validate_strict_misses(&pairs[0]), VALIDATE_MISS_P99 | VALIDATE_MISS_SAR);
    char *text = written(f, pairs, 0), *csv = written(f, pairs, 1);
    assert_non_null(strstr(text, "envelope (5 jittered sims)\n"
                                 "  mean (finished)  live 5.5000 s at the 50th percentile of 5.2800..5.7200 s\n"
                                 "  p99              live inf s at the 100th percentile of 9.6000..10.4000 s\n"
                                 "  SLO attainment   live 0.800 at the 0th percentile of 0.900..0.900\n"
                                 "envelope verdict   OUTSIDE ENVELOPE (p99;attainment): mean within 5.1744..5.8344 s, "
                                 "p99 outside 9.1200..10.9200 s, attainment outside 0.880..0.920"));
    assert_non_null(strstr(text, "OUTSIDE (p99;attainment), 5 sims\n"));
    assert_non_null(strstr(text, "0 of 1 pair with an envelope (5 or more jittered sims) lie within it\n"));
    assert_non_null(strstr(csv, ",envelope_runs,envelope_mean_min_s,"));
    assert_non_null(strstr(csv, ",5,5.280000,5.720000,50.0,9.600000,10.400000,100.0,0.900000,0.900000,0.0,OUTSIDE,p99;attainment\n"));
    free(text);
    free(csv);
    free(pairs);
}

/* Four jittered runs are counted, not shown: the table is as without them, and --strict judges the
 * targets. */
static void a_small_envelope_is_not_shown(void **state)
{
    fixture *f = *state;
    validate_pair *plain = compared_pair(f);
    char *before = written(f, plain, 0);
    validate_pair *pairs = pair_with_envelope(f, 4);
    assert_int_equal(pairs[0].env.n, 4);
    assert_false(validate_envelope_shown(&pairs[0]));
    assert_int_equal(validate_strict_misses(&pairs[0]), pairs[0].misses);
    char *text = written(f, pairs, 0), *csv = written(f, pairs, 1);
    assert_string_equal(text, before);
    assert_null(strstr(text, "envelope"));
    assert_non_null(strstr(csv, ",4,,,,,,,,,,,\n"));
    free(before);
    free(text);
    free(csv);
    free(plain);
    free(pairs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nearest_rank_quantiles),
        cmocka_unit_test(kolmogorov_distribution_matches_scipy),
        cmocka_unit_test(ks_two_sample_matches_scipy),
        cmocka_unit_test(ks_of_an_empty_sample_rejects_nothing),
        cmocka_unit_test(sim_key_is_the_live_key_without_its_backend),
        cmocka_unit_test(key_on_profile_replaces_the_digest),
        cmocka_unit_test(key_with_actual_adds_its_part),
        cmocka_unit_test(twins_with_and_without_jitter),
        cmocka_unit_test(twin_found_by_trace_content),
        cmocka_unit_test_setup_teardown(pairs_are_found_by_key, open_fixture, close_fixture),
        cmocka_unit_test_setup_teardown(comparison_of_known_runs, open_fixture, close_fixture),
        cmocka_unit_test_setup_teardown(csv_and_table, open_fixture, close_fixture),
        {"a_partial_run_is_said", a_partial_run_is_said, open_fixture, close_fixture, live_run_partial},
        cmocka_unit_test(envelope_keys),
        cmocka_unit_test(percentile_ranks),
        cmocka_unit_test(envelope_verdict_edges),
        cmocka_unit_test(envelope_with_dropped_requests),
        cmocka_unit_test_setup_teardown(envelope_of_known_runs, open_fixture, close_fixture),
        cmocka_unit_test_setup_teardown(a_small_envelope_is_not_shown, open_fixture, close_fixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
