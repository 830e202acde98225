/* tests/test_sched_core.c: option parsing, plan invariants, cluster topology, the GPU-set rule
 * (sets=aligned) in the plan check and in placement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/options.h"
#include "host/plan_check.h"
#include "sched/placement.h"
#include "sched/policy.h"

/* splitmix64: the random free masks of the placement test, the same on every machine. */
static uint64_t next_random(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const tetri_option_spec spec[] = {
    {"g", TETRI_OPT_INT, "5", "1..100", "round length in steps"},
    {"elastic", TETRI_OPT_BOOL, "on", NULL, "elastic scale-up"},
    {"order", TETRI_OPT_ENUM, "last", "first|last", "high-degree steps first or last"},
    {"x", TETRI_OPT_DOUBLE, "0.5", NULL, "a number"},
    {"eff", TETRI_OPT_DOUBLE, "0.5", "0..1", "a fraction"},
    {NULL, 0, NULL, NULL, NULL},
};

static void options_defaults_and_values(void **state)
{
    (void)state;
    tetri_options o;
    tetri_error err = {{0}};
    assert_int_equal(tetri_options_parse(spec, "", &o, &err), 0);
    assert_int_equal(tetri_options_int(&o, "g"), 5);
    assert_true(tetri_options_bool(&o, "elastic"));
    assert_int_equal(tetri_options_parse(spec, "g=10,elastic=off,order=first,x=1e-3", &o, &err), 0);
    assert_int_equal(tetri_options_int(&o, "g"), 10);
    assert_false(tetri_options_bool(&o, "elastic"));
    assert_string_equal(tetri_options_str(&o, "order"), "first");
    assert_true(tetri_options_double(&o, "x") == 1e-3);
    char buf[128];
    tetri_options_format(&o, buf, sizeof buf);
    assert_string_equal(buf, "g=10,elastic=off,order=first,x=0.001,eff=0.5");
}

static void options_errors_name_the_key(void **state)
{
    (void)state;
    tetri_options o;
    tetri_error err = {{0}};
    assert_int_equal(tetri_options_parse(spec, "h=1", &o, &err), -1);
    assert_non_null(strstr(err.msg, "unknown option 'h'"));
    assert_non_null(strstr(err.msg, "g, elastic, order, x, eff"));
    assert_int_equal(tetri_options_parse(spec, "g=abc", &o, &err), -1);
    assert_non_null(strstr(err.msg, "option g"));
    assert_int_equal(tetri_options_parse(spec, "g=0", &o, &err), -1);
    assert_non_null(strstr(err.msg, "outside"));
    assert_int_equal(tetri_options_parse(spec, "order=middle", &o, &err), -1);
    assert_non_null(strstr(err.msg, "first|last"));
    assert_int_equal(tetri_options_parse(spec, "elastic=maybe", &o, &err), -1);
    assert_int_equal(tetri_options_parse(spec, "g", &o, &err), -1);
    assert_non_null(strstr(err.msg, "no value"));
    assert_int_equal(tetri_options_parse(spec, "g=1,g=2", &o, &err), -1);
    assert_non_null(strstr(err.msg, "twice"));
    assert_int_equal(tetri_options_parse(spec, "eff=1.5", &o, &err), -1);
    assert_non_null(strstr(err.msg, "outside 0..1"));
    assert_int_equal(tetri_options_parse(spec, "eff=-0.1", &o, &err), -1);
    assert_int_equal(tetri_options_parse(spec, "eff=1", &o, &err), 0);
    assert_int_equal(tetri_options_parse(spec, "g=1,", &o, &err), -1);
    assert_int_equal(tetri_options_parse(spec, ",", &o, &err), -1);
}

static void sides_lists_parse(void **state)
{
    (void)state;
    int r[4];
    assert_int_equal(tetri_sides_parse("256,512,1024", 8192, r, 4), 3);
    assert_int_equal(r[0], 256);
    assert_int_equal(r[2], 1024);
    assert_int_equal(tetri_sides_parse("16", 8192, r, 4), 1);
    const char *bad[] = {"", "256,", ",256", "250", "256,x", "0", "8208", "256;512", "256,,512", "16,16,16,16,16"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) assert_int_equal(tetri_sides_parse(bad[i], 8192, r, 4), -1);
    assert_int_equal(tetri_sides_parse("4096", 2048, r, 4), -1); /* above max_side */
}

static void cluster_links(void **state)
{
    (void)state;
    tetri_cluster a40;
    tetri_cluster_init(&a40, "a40x4", 4, 2);
    assert_int_equal(tetri_cluster_link(&a40, 0x3), TETRI_LINK_FAST);
    assert_int_equal(tetri_cluster_link(&a40, 0xc), TETRI_LINK_FAST);
    assert_int_equal(tetri_cluster_link(&a40, 0x6), TETRI_LINK_SLOW);
    assert_int_equal(tetri_cluster_link(&a40, 0xf), TETRI_LINK_SLOW);
    assert_int_equal(tetri_cluster_link(&a40, 0x4), TETRI_LINK_FAST);
    tetri_cluster h;
    tetri_cluster_init(&h, "h100x8", 8, 8);
    assert_int_equal(tetri_cluster_link(&h, 0xff), TETRI_LINK_FAST);
    assert_int_equal(tetri_gpuset_block(4, 4), 0xf0ULL);
    assert_int_equal(tetri_gpuset_count(0xf0), 4);
    /* aligned blocks: the sets exec/comms.c has communicators for */
    assert_true(tetri_gpuset_is_block(0x1) && tetri_gpuset_is_block(0x80) && tetri_gpuset_is_block(0xc));
    assert_true(tetri_gpuset_is_block(0xf0) && tetri_gpuset_is_block(~0ULL));
    assert_false(tetri_gpuset_is_block(0) || tetri_gpuset_is_block(0x6) || tetri_gpuset_is_block(0x5));
    assert_false(tetri_gpuset_is_block(0x7) || tetri_gpuset_is_block(0x3c) || tetri_gpuset_is_block(0xf00000000000000f));
}

static void plan_invariants(void **state)
{
    (void)state;
    tetri_cluster c;
    tetri_cluster_init(&c, "h100x8", 8, 8);
    tetri_request r[3] = {
        {.id = 0, .model = TETRI_MODEL_FLUX_DEV, .width = 256, .height = 256, .steps_total = 20, .state = TETRI_REQ_WAITING},
        {.id = 1, .model = TETRI_MODEL_FLUX_DEV, .width = 256, .height = 256, .steps_total = 20, .steps_done = 18, .state = TETRI_REQ_WAITING},
        {.id = 2, .model = TETRI_MODEL_FLUX_DEV, .width = 512, .height = 512, .steps_total = 20, .state = TETRI_REQ_RUNNING},
    };
    const tetri_request *ptrs[3] = {&r[0], &r[1], &r[2]};
    tetri_view v = {.now = 0, .cluster = &c, .busy = 0x80, .requests = ptrs, .n_requests = 3};
    int32_t drops[3];
    tetri_plan p = {.drop = drops};
    tetri_error err = {{0}};
    tetri_plan_clear(&p);
    p.assign[p.n_assign++] = (tetri_assignment){.req = {0}, .n_req = 1, .gpus = 0x3, .steps = 5};
    p.assign[p.n_assign++] = (tetri_assignment){.req = {1}, .n_req = 1, .gpus = 0x4, .steps = 2};
    assert_int_equal(tetri_plan_validate(&p, &v, &err), 0);
    p.assign[1].steps = 3; /* more than request 1 has left */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    assert_non_null(strstr(err.msg, "has 2 left"));
    p.assign[1].steps = 2;
    p.assign[1].gpus = 0x2; /* GPU 1 twice */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    p.assign[1].gpus = 0x80; /* busy GPU */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    assert_non_null(strstr(err.msg, "busy"));
    p.assign[1].gpus = 0x100; /* GPU 8 does not exist */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    p.assign[1] = (tetri_assignment){.req = {0}, .n_req = 1, .gpus = 0x4, .steps = 1}; /* request twice */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    assert_non_null(strstr(err.msg, "twice"));
    p.assign[1] = (tetri_assignment){.req = {2}, .n_req = 1, .gpus = 0x4, .steps = 1}; /* running */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    p.n_assign = 1;
    p.assign[0] = (tetri_assignment){.req = {0, 1}, .n_req = 2, .gpus = 0x1, .steps = 2}; /* steps 0 and 18 of 20: ok */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), 0);
    r[1].steps_done = 0;
    r[1].steps_total = 28; /* another schedule: ok (each request's step index lives in its own slot) */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), 0);
    r[1].width = r[1].height = 512; /* another size: never */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    assert_non_null(strstr(err.msg, "differ in model or size"));
    r[1].width = r[1].height = 256;
    r[1].steps_total = 20;
    p.assign[0].steps = 3; /* more steps than request 1 has left */
    r[1].steps_done = 18;
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    r[1].steps_done = 0;
    p.assign[0].steps = 2;
    assert_int_equal(tetri_plan_validate(&p, &v, &err), 0);
    p.drop[p.n_drop++] = 1; /* dropped and assigned */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
}

/* sets=aligned: a block of k > 1 GPUs on a ragged set is a plan the check refuses (naming the
 * set); under any it is fine; one GPU and aligned blocks are fine under both. */
static void plan_sets_rule(void **state)
{
    (void)state;
    tetri_cluster c;
    tetri_cluster_init(&c, "h100x8", 8, 8);
    assert_int_equal(c.sets, TETRI_SETS_ANY);
    tetri_request r = {.id = 0, .model = TETRI_MODEL_FLUX_DEV, .width = 256, .height = 256, .steps_total = 20, .state = TETRI_REQ_WAITING};
    const tetri_request *ptr = &r;
    tetri_view v = {.now = 0, .cluster = &c, .requests = &ptr, .n_requests = 1};
    int32_t drops[1];
    tetri_plan p = {.drop = drops};
    tetri_error err = {{0}};
    tetri_plan_clear(&p);
    p.assign[p.n_assign++] = (tetri_assignment){.req = {0}, .n_req = 1, .gpus = 0x6, .steps = 1}; /* GPUs 1,2 */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), 0);
    c.sets = TETRI_SETS_ALIGNED;
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    assert_non_null(strstr(err.msg, "GPUs 1-2"));
    assert_non_null(strstr(err.msg, "sets=aligned"));
    p.assign[0].gpus = 0x27; /* GPUs 0,1,2,5 */
    assert_int_equal(tetri_plan_validate(&p, &v, &err), -1);
    assert_non_null(strstr(err.msg, "GPUs 0,1,2,5"));
    const tetri_gpuset fine[] = {0x20, 0xc, 0xf0, 0xff};
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        p.assign[0].gpus = fine[i];
        assert_int_equal(tetri_plan_validate(&p, &v, &err), 0);
    }
    tetri_sets s;
    assert_int_equal(tetri_sets_parse("aligned", &s), 0);
    assert_int_equal(s, TETRI_SETS_ALIGNED);
    assert_string_equal(tetri_sets_name(TETRI_SETS_ANY), "any");
    assert_int_equal(tetri_sets_parse("ragged", &s), -1);
}

/* Placement under sets=aligned, random free masks on 8 GPUs, every degree, previous set, avoid set
 * and flag: never a ragged set, and a set exactly when placement_fits says a free aligned block
 * of that size exists (on one fast domain, so no link refuses it). Under any it still takes ragged
 * sets when fragmentation leaves no block. */
static void placement_aligned_never_ragged(void **state)
{
    (void)state;
    tetri_cluster c;
    tetri_cluster_init(&c, "h100x8", 8, 8);
    uint64_t seed = 17;
    int ragged_any = 0;
    for (int trial = 0; trial < 20000; trial++) {
        const tetri_gpuset free = next_random(&seed) & 0xff, prev = next_random(&seed) & 0xff, avoid = next_random(&seed) & 0xff;
        const int degree = 1 + (int)(next_random(&seed) % 8);
        const unsigned flags = (unsigned)(next_random(&seed) % 4);
        c.sets = TETRI_SETS_ALIGNED;
        const tetri_gpuset s = placement_pick(&c, free, degree, prev & -(tetri_gpuset)(trial & 1), avoid, flags);
        if (s && ((s & ~free) || tetri_gpuset_count(s) != degree || (degree > 1 && !tetri_gpuset_is_block(s))))
            fail_msg("free %#llx degree %d: set %#llx", (unsigned long long)free, degree, (unsigned long long)s);
        assert_int_equal(s != 0, placement_fits(&c, free, degree));
        c.sets = TETRI_SETS_ANY;
        const tetri_gpuset a = placement_pick(&c, free, degree, 0, 0, 0);
        assert_int_equal(a != 0, tetri_gpuset_count(free) >= degree);
        ragged_any += a && degree > 1 && !tetri_gpuset_is_block(a);
    }
    assert_true(ragged_any > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(options_defaults_and_values),
        cmocka_unit_test(options_errors_name_the_key),
        cmocka_unit_test(sides_lists_parse),
        cmocka_unit_test(cluster_links),
        cmocka_unit_test(plan_invariants),
        cmocka_unit_test(plan_sets_rule),
        cmocka_unit_test(placement_aligned_never_ragged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
