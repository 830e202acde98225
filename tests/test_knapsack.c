/* tests/test_knapsack.c: the group-knapsack DP and the cheapest two-degree plan against brute
 * force on many random small instances (exactly equal objective values), and placement rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sched/knapsack.h"
#include "sched/placement.h"
#include "sched/tetriserve.h"
#include "tests/sched_fixture.h"

/* Value of the picks, checked for feasibility. */
static int64_t value_of_picks(int32_t n, const int32_t *first, const int32_t *n_opt, const knap_option *o,
                              int32_t cap, const int32_t *pick)
{
    int64_t v = 0;
    int32_t w = 0;
    for (int32_t i = 0; i < n; i++) {
        assert_true(pick[i] >= 0 && pick[i] < n_opt[i]);
        v += o[first[i] + pick[i]].value;
        w += o[first[i] + pick[i]].weight;
    }
    assert_true(w <= cap);
    return v;
}

static void dp_equals_brute_force(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed1234abcdULL;
    knapsack k;
    knapsack_init(&k);
    for (int trial = 0; trial < 3000; trial++) {
        int32_t n = 1 + (int32_t)(fixture_rng(&seed) % 7), cap = (int32_t)(fixture_rng(&seed) % 9);
        int32_t first[8], n_opt[8], pick[8];
        knap_option o[8 * 6];
        int32_t total = 0;
        for (int32_t i = 0; i < n; i++) {
            first[i] = total;
            n_opt[i] = 1 + (int32_t)(fixture_rng(&seed) % 5);
            o[total++] = (knap_option){0, (int64_t)(fixture_rng(&seed) % 4)};
            for (int32_t j = 1; j < n_opt[i]; j++)
                o[total++] = (knap_option){1 + (int32_t)(fixture_rng(&seed) % 8), (int64_t)(fixture_rng(&seed) % 1000) - 100};
        }
        assert_int_equal(knapsack_reserve(&k, n, cap), 0);
        int64_t dp = knapsack_solve(&k, n, first, n_opt, o, cap, pick);
        int64_t bf = knapsack_brute_force(n, first, n_opt, o, cap);
        assert_int_equal(dp, bf);
        assert_int_equal(value_of_picks(n, first, n_opt, o, cap, pick), dp);
    }
    knapsack_free(&k);
}

/* Composite values as tetriserve builds them (survivors, GPUs busy, urgency) stay exact. */
static void dp_composite_values(void **state)
{
    (void)state;
    knapsack k;
    knapsack_init(&k);
    assert_int_equal(knapsack_reserve(&k, 3, 8), 0);
    /* Two requests each need 8 GPUs to survive; only one can: the DP must pick exactly one at 8
     * and give the other nothing, and prefer the more urgent one (urgency 2 beats 1). */
    const int64_t W = 1000000, G = 1000;
    knap_option o[] = {{0, 0}, {8, W + 8 * G + 1}, {4, 4 * G + 1},
                       {0, 0}, {8, W + 8 * G + 2}, {4, 4 * G + 2}};
    int32_t first[] = {0, 3}, n_opt[] = {3, 3}, pick[2];
    int64_t v = knapsack_solve(&k, 2, first, n_opt, o, 8, pick);
    assert_int_equal(v, W + 8 * G + 2);
    assert_int_equal(pick[0], 0);
    assert_int_equal(pick[1], 1);
    knapsack_free(&k);
}

static void cheapest_plan_equals_brute_force(void **state)
{
    (void)state;
    uint64_t seed = 42;
    const int32_t degree[] = {1, 2, 4, 8};
    for (int trial = 0; trial < 5000; trial++) {
        tetri_ns t[4];
        tetri_ns base = 20 + (tetri_ns)(fixture_rng(&seed) % 900);
        for (int d = 0; d < 4; d++) {
            double eff = 0.4 + (double)(fixture_rng(&seed) % 600) / 1000.0; /* 0.4 .. 1.0 */
            t[d] = d == 0 ? base : (tetri_ns)((double)base / (degree[d] * eff)) + 1;
            if (fixture_rng(&seed) % 10 == 0) t[d] = -1; /* a missing row */
        }
        int32_t n = 1 + (int32_t)(fixture_rng(&seed) % 30);
        tetri_ns budget = (tetri_ns)(fixture_rng(&seed) % (uint64_t)(n * base + 1));
        two_degree_plan p = tetriserve_cheapest_plan(t, degree, 4, n, budget);
        /* Brute force: every pair of degrees and every split. */
        bool feasible = false;
        tetri_ns best = 0;
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) {
                if (t[i] <= 0 || t[j] <= 0) continue;
                for (int32_t x = 0; x <= n; x++) {
                    tetri_ns time = (n - x) * t[i] + x * t[j];
                    tetri_ns gpu = (n - x) * degree[i] * t[i] + x * degree[j] * t[j];
                    if (time <= budget && (!feasible || gpu < best)) { best = gpu; feasible = true; }
                }
            }
        assert_int_equal(p.feasible, feasible);
        if (!feasible) continue;
        assert_int_equal(p.gpu_ns, best);
        assert_true(p.time_ns <= budget);
        assert_true(degree[p.lo] <= degree[p.hi]);
        assert_int_equal(p.time_ns, (n - p.steps_hi) * t[p.lo] + p.steps_hi * t[p.hi]);
    }
}

static void placement_rules(void **state)
{
    (void)state;
    tetri_cluster a40, h100;
    tetri_cluster_init(&a40, "a40x4", 4, 2);
    tetri_cluster_init(&h100, "h100x8", 8, 8);
    /* A pair on a40x4 is an NVLink pair whenever one is free. */
    assert_int_equal(placement_pick(&a40, 0xe, 2, 0, 0, 0), 0xc);
    assert_int_equal(placement_pick(&a40, 0x6 | 0x8, 2, 0, 0, 0), 0xc);
    /* Only a cross-pair set left: taken, unless the caller needs a fast one. */
    assert_int_equal(placement_pick(&a40, 0x6, 2, 0, 0, 0), 0x6);
    assert_int_equal(placement_pick(&a40, 0x6, 2, 0, 0, PLACEMENT_FAST_ONLY), 0);
    /* Preservation: the previous set when free, a superset when scaling up, a subset down. */
    assert_int_equal(placement_pick(&h100, 0xff, 2, 0x30, 0, 0), 0x30);
    assert_int_equal(placement_pick(&h100, 0xff, 4, 0x30, 0, 0), 0xf0);
    assert_int_equal(placement_pick(&h100, 0xff, 1, 0x30, 0, 0) & 0x30, placement_pick(&h100, 0xff, 1, 0x30, 0, 0));
    /* Without a previous set: leave the largest aligned blocks (take GPU 7's block, not 0..3). */
    assert_int_equal(placement_pick(&h100, 0xfe, 1, 0, 0, 0), 0x02);
    assert_int_equal(placement_pick(&h100, 0xf3, 2, 0, 0, 0), 0x03);
    /* Fragmented: no aligned block of 4 free, a ragged set of 4 still comes back. */
    tetri_gpuset s = placement_pick(&h100, 0x5a, 4, 0, 0, 0);
    assert_int_equal(tetri_gpuset_count(s), 4);
    assert_int_equal(s & ~0x5aULL, 0);
    /* avoid: another block's previous GPUs are left alone when possible. */
    assert_int_equal(placement_pick(&h100, 0x0f, 2, 0, 0x03, 0), 0x0c);
    /* First fit (placement=off) ignores the previous set. */
    assert_int_equal(placement_pick(&h100, 0xff, 2, 0x30, 0, PLACEMENT_FIRST_FIT), 0x03);
    assert_int_equal(placement_pick(&h100, 0x0f, 8, 0, 0, 0), 0);
    assert_int_equal(placement_free_block_score(&h100, 0xff), 8 * 1024 + 1);
    assert_int_equal(placement_free_block_score(&h100, 0x3c), 2 * 1024 + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(dp_equals_brute_force),
        cmocka_unit_test(dp_composite_values),
        cmocka_unit_test(cheapest_plan_equals_brute_force),
        cmocka_unit_test(placement_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
