# sched/: core types, the policy interface and registry, every policy.
libtetri_a_SOURCES += sched/types.h sched/types.c sched/error.h sched/error.c \
  sched/options.h sched/options.c sched/policy.h sched/plan.c sched/policies.h sched/registry.c sched/xdit.c
libtetri_a_SOURCES += sched/rssp.c
# The scheduler part (issue 3): tetriserve, edf-dyn, optimal, least-slack and what they share.
libtetri_a_SOURCES += sched/step_table.h sched/step_table.c sched/knapsack.h sched/knapsack.c \
  sched/placement.h sched/placement.c sched/tetriserve.h sched/tetriserve.c sched/edf_dyn.c \
  sched/optimal.c sched/least_slack.c
