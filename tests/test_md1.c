/* tests/test_md1.c: the engine against queueing theory. The M/D/1 special case of the simulator
 * (1 GPU, one resolution, a constant service time S taken from the profile, Poisson arrivals,
 * FCFS via xdit-sp1) must give the Pollaczek-Khinchine mean wait W = rho S / (2 (1 - rho)) within
 * 5%, over 100,000 requests at each of several loads. Also checks the utilisation (busy fraction
 * = rho) and, as a control, that the wait is far from the M/M/1 value 2W, which the engine would
 * give if it mistook the service for exponential.
 *
 * The 5% bound is statistical: at rho = 0.85 a run of 100,000 requests has a standard error of
 * about 2-3% (waits are strongly correlated near saturation), so the test also checks every
 * request's wait exactly, to the nanosecond, against Lindley's recursion
 * W(n+1) = max(0, W(n) + S - A(n+1)) computed here independently of the engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "sim/sim.h"
#include "tests/sim_fixture.h"

#define MD1_REQUESTS 100000
#define MD1_STEPS 20
#define MD1_STEP_NS (50 * TETRI_NS_PER_MS) /* S = 20 x 50 ms = 1 s */

static char md1_profile_path[256];
static tetri_profile *profile;

static int setup(void **state)
{
    (void)state;
    fixture_tmp_path(md1_profile_path, sizeof md1_profile_path, "test_md1-profile", "db");
    const fixture_row rows[] = {{.side = 512, .degree = 1, .median_ns = MD1_STEP_NS, .cv = 0.05}};
    if (fixture_profile_db(md1_profile_path, "one-gpu", 1, 1, rows, 1, 0)) return -1;
    profile = fixture_open_profile(md1_profile_path, "one-gpu");
    return profile ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    profile_close(profile);
    unlink(md1_profile_path);
    return 0;
}

/* Poisson arrivals at rate rho / S; deadlines far away (they do not matter here). */
static tetri_trace md1_trace(double rho, unsigned long seed)
{
    tetri_trace t = {.entries = calloc(MD1_REQUESTS, sizeof(tetri_trace_entry)), .n = MD1_REQUESTS};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    const double service_s = (double)(MD1_STEPS * MD1_STEP_NS) / TETRI_NS_PER_S;
    double t_s = 0;
    for (int i = 0; i < MD1_REQUESTS; i++) {
        t_s += gsl_ran_exponential(rng, service_s / rho);
        tetri_ns arrival = (tetri_ns)llround(t_s * TETRI_NS_PER_S);
        t.entries[i] = (tetri_trace_entry){.id = i, .model = TETRI_MODEL_FLUX_DEV, .width = 512, .height = 512,
                                           .steps = MD1_STEPS, .arrival = arrival, .deadline = arrival + 3600 * TETRI_NS_PER_S};
    }
    gsl_rng_free(rng);
    return t;
}

static void check_load(double rho)
{
    tetri_trace trace = md1_trace(rho, 12345);
    sim_config cfg = {.profile = profile, .policy_spec = "xdit-sp1"};
    sim_result res;
    tetri_error err = {{0}};
    int rc = sim_run(&cfg, &trace, &res, &err);
    if (rc) fail_msg("sim_run: %s", err.msg);
    assert_int_equal(res.n_requests, MD1_REQUESTS);
    assert_int_equal(res.summary.met, MD1_REQUESTS);

    const double S = (double)(MD1_STEPS * MD1_STEP_NS) / TETRI_NS_PER_S;
    double wait_sum = 0;
    tetri_ns lindley = 0;
    for (size_t i = 0; i < res.n_requests; i++) {
        const tetri_request_result *r = &res.requests[i];
        if (i) {
            lindley += MD1_STEPS * MD1_STEP_NS - (r->arrival - res.requests[i - 1].arrival);
            if (lindley < 0) lindley = 0;
        }
        assert_int_equal(r->first_start - r->arrival, lindley);
        /* Deterministic service: every request runs exactly S once started. */
        assert_int_equal(r->finish - r->first_start, MD1_STEPS * MD1_STEP_NS);
        wait_sum += (double)(r->first_start - r->arrival) / TETRI_NS_PER_S;
    }
    const double wait = wait_sum / (double)res.n_requests;
    const double pk = rho * S / (2.0 * (1.0 - rho));
    const double busy = (double)res.gpu_busy_ns / (double)res.summary.makespan;
    printf("# rho %.2f: mean wait %.4f s, Pollaczek-Khinchine %.4f s (%+.2f%%), utilisation %.4f\n", rho, wait, pk,
           100.0 * (wait - pk) / pk, busy);
    assert_true(fabs(wait - pk) <= 0.05 * pk);
    assert_true(fabs(busy - rho) <= 0.02);
    assert_true(wait < 0.8 * (2.0 * pk)); /* M/M/1 would wait twice as long */
    sim_result_free(&res);
    tetri_trace_free(&trace);
}

static void md1_rho_030(void **state) { (void)state; check_load(0.30); }
static void md1_rho_050(void **state) { (void)state; check_load(0.50); }
static void md1_rho_070(void **state) { (void)state; check_load(0.70); }
static void md1_rho_085(void **state) { (void)state; check_load(0.85); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(md1_rho_030),
        cmocka_unit_test(md1_rho_050),
        cmocka_unit_test(md1_rho_070),
        cmocka_unit_test(md1_rho_085),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
