# sched/: core types, the policy interface and registry, every policy.
libtetri_a_SOURCES += sched/types.h sched/types.c sched/error.h sched/error.c \
  sched/options.h sched/options.c sched/policy.h sched/plan.c sched/policies.h sched/registry.c sched/xdit.c
libtetri_a_SOURCES += sched/rssp.c
