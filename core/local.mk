# core/: the shared vocabulary: request, cluster, plan types, time, errors, option parsing (libc only).
libtetri_a_SOURCES += core/types.h core/types.c core/error.h core/error.c core/options.h core/options.c core/plan.h \
  core/digest.h
