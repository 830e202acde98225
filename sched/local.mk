# sched/: core types, the policy interface and registry, every policy.
libtetri_a_SOURCES += \
  sched/policy.h sched/policies.h sched/registry.c sched/xdit.c
libtetri_a_SOURCES += sched/rssp.c
# The scheduler part (issue 3): tetriserve, edf-dyn, optimal, least-slack and what they share.
libtetri_a_SOURCES += sched/step_table.h sched/step_table.c sched/knapsack.h sched/knapsack.c \
  sched/placement.h sched/placement.c sched/round_guard.h sched/tetriserve.h sched/tetriserve.c sched/edf_dyn.c \
  sched/optimal.c sched/least_slack.c
# Its tests: knapsack/plan/placement against brute force, every policy in the simulator with plan
# checks, optimal versus tetriserve, `tetri policies`.
EXTRA_DIST += tests/sched_fixture.h tests/cli_policies.sh docs/adding-a-policy.md docs/scheduler-results.md
if HAVE_CMOCKA
check_PROGRAMS += tests/test_knapsack tests/test_tetriserve tests/test_optimal
TESTS += tests/test_knapsack tests/test_tetriserve tests/test_optimal
tests_test_knapsack_SOURCES = tests/test_knapsack.c
tests_test_knapsack_CFLAGS = $(TEST_CFLAGS)
tests_test_knapsack_LDADD = $(TEST_LDADD)
tests_test_tetriserve_SOURCES = tests/test_tetriserve.c
tests_test_tetriserve_CFLAGS = $(TEST_CFLAGS)
tests_test_tetriserve_LDADD = $(TEST_LDADD)
tests_test_optimal_SOURCES = tests/test_optimal.c
tests_test_optimal_CFLAGS = $(TEST_CFLAGS)
tests_test_optimal_LDADD = $(TEST_LDADD)
endif
TESTS += tests/cli_policies.sh
