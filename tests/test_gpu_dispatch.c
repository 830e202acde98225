/* tests/test_gpu_dispatch.c: which command lines `tetri` hands to tetri-gpu (cli/gpu_dispatch.c):
 * whole GPU commands, and the GPU variants of other commands the routes are made for (an option
 * with a value, as "--opt value" or "--opt=value"; a first argument), never a near miss. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "cli/gpu_dispatch.h"

/* The routes the coming GPU commands will add, one line each. */
static const tetri_gpu_route coming[] = {
    {"bench-step", NULL, "time steps", "--plan-memory"},
    {"serve", "--backend=gpu", NULL, NULL},
    {"profile", "measure", NULL, NULL},
    {"validate", "--live=gpu", NULL, NULL},
};
#define N_COMING (sizeof coming / sizeof coming[0])

/* The route index for a command line given as words after "tetri" (NULL-terminated). */
static long route_of(const tetri_gpu_route *routes, size_t n, ...)
{
    char *argv[16] = {"tetri"};
    int argc = 1;
    va_list ap;
    va_start(ap, n);
    for (char *w; argc < 15 && (w = va_arg(ap, char *));) argv[argc++] = w;
    va_end(ap);
    return tetri_gpu_route_match(routes, n, argc, argv);
}

static void whole_commands_and_variants(void **state)
{
    (void)state;
    assert_int_equal(route_of(coming, N_COMING, "bench-step", NULL), 0);
    assert_int_equal(route_of(coming, N_COMING, "bench-step", "--help", NULL), 0);
    assert_int_equal(route_of(coming, N_COMING, "serve", "--backend", "gpu", "--speed", "2", NULL), 1);
    assert_int_equal(route_of(coming, N_COMING, "serve", "--speed", "2", "--backend=gpu", NULL), 1);
    assert_int_equal(route_of(coming, N_COMING, "profile", "measure", "--res", "256", NULL), 2);
    assert_int_equal(route_of(coming, N_COMING, "validate", "--trace", "t.csv", "--live", "gpu", NULL), 3);
}

static void near_misses_stay_in_tetri(void **state)
{
    (void)state;
    assert_int_equal(route_of(coming, N_COMING, NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "sim", "--policy", "all", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "serve", "--backend", "emulated", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "serve", "--backend=gpux", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "serve", "--backend", NULL), -1);     /* value missing */
    assert_int_equal(route_of(coming, N_COMING, "serve", "--backends", "gpu", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "sim", "--backend", "gpu", NULL), -1); /* another command */
    assert_int_equal(route_of(coming, N_COMING, "profile", "--db", "measure", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "profile", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "validate", "--live", "emulated", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "bench-stepper", NULL), -1);
    /* a route's `unless` option keeps the line in tetri, wherever it stands */
    assert_int_equal(route_of(coming, N_COMING, "bench-step", "--plan-memory", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "bench-step", "--res", "256", "--plan-memory", "--gpu-memory", "a40", NULL), -1);
    assert_int_equal(route_of(coming, N_COMING, "bench-step", "--plan-memoryx", NULL), 0);
}

/* The table tetri uses: bench-step, serve --backend gpu and profile measure go to the GPU program,
 * the simulator commands never. */
/* Hand-overs between tetri's programs are counted; a fourth (only a loop makes one) is refused. */
static void hand_over_loops_are_refused(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    unsetenv("TETRI_EXEC_HOPS");
    for (int i = 1; i <= 3; i++) {
        assert_int_equal(tetri_exec_hop("tetri-mpi", &err), 0);
        assert_int_equal(atoi(getenv("TETRI_EXEC_HOPS")), i);
    }
    assert_int_equal(tetri_exec_hop("tetri-mpi", &err), -1);
    assert_non_null(strstr(err.msg, "hand-over 4"));
    unsetenv("TETRI_EXEC_HOPS");
}

static void the_real_table(void **state)
{
    (void)state;
    assert_true(route_of(tetri_gpu_routes, tetri_gpu_routes_len, "bench-step", "--res", "256", NULL) >= 0);
    assert_true(route_of(tetri_gpu_routes, tetri_gpu_routes_len, "serve", "--backend", "gpu", "--trace", "t.csv", NULL) >= 0);
    assert_true(route_of(tetri_gpu_routes, tetri_gpu_routes_len, "profile", "measure", "--out", "m.db", NULL) >= 0);
    assert_int_equal(route_of(tetri_gpu_routes, tetri_gpu_routes_len, "serve", "--backend", "emulated", NULL), -1);
    /* the memory plan is arithmetic: tetri computes it (CI, a build without CUDA) */
    assert_int_equal(route_of(tetri_gpu_routes, tetri_gpu_routes_len, "bench-step", "--plan-memory", "--gpu-memory", "a40", NULL), -1);
    const char *cpu[] = {"sim", "serve", "report", "plot", "workload", "profile", "policies", "demo"};
    for (size_t i = 0; i < sizeof cpu / sizeof cpu[0]; i++)
        assert_int_equal(route_of(tetri_gpu_routes, tetri_gpu_routes_len, cpu[i], "--help", NULL), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(whole_commands_and_variants),
        cmocka_unit_test(near_misses_stay_in_tetri),
        cmocka_unit_test(the_real_table),
        cmocka_unit_test(hand_over_loops_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
