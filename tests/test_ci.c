/* tests/test_ci.c: plots/ci.c's 95% intervals against values computed by hand from Student's t
 * quantiles (t(0.975, 1) = 12.7062047, t(0.975, 4) = 2.7764451, as in any table). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>

#include "plots/ci.h"

static void two_seeds(void **state)
{
    (void)state;
    const double x[] = {0.3, 0.4}; /* s = 0.0707107: half = 12.7062047 * s / sqrt(2) = 0.635310 */
    double mean, lo, hi;
    plot_ci95(x, 2, &mean, &lo, &hi);
    assert_true(fabs((mean) - (0.35)) < 1e-12);
    assert_true(fabs((lo) - (0.35 - 0.6353102)) < 1e-6);
    assert_true(fabs((hi) - (0.35 + 0.6353102)) < 1e-6);
}

static void five_seeds(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5}; /* s = 1.5811388: half = 2.7764451 * s / sqrt(5) = 1.9632432 */
    double mean, lo, hi;
    plot_ci95(x, 5, &mean, &lo, &hi);
    assert_true(fabs((mean) - (3.0)) < 1e-12);
    assert_true(fabs((lo) - (3.0 - 1.9632432)) < 1e-6);
    assert_true(fabs((hi) - (3.0 + 1.9632432)) < 1e-6);
}

static void one_seed_or_no_spread(void **state)
{
    (void)state;
    const double one[] = {0.8}, same[] = {0.5, 0.5, 0.5};
    double mean, lo, hi;
    plot_ci95(one, 1, &mean, &lo, &hi);
    assert_true(mean == 0.8 && lo == 0.8 && hi == 0.8);
    plot_ci95(same, 3, &mean, &lo, &hi);
    assert_true(mean == 0.5 && lo == 0.5 && hi == 0.5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(two_seeds), cmocka_unit_test(five_seeds),
                                       cmocka_unit_test(one_seed_or_no_spread)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
