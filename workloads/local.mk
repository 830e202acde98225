# workloads/: the trace generator and the CSV trace reader/writer, their tests and format doc.
libtetri_a_SOURCES += workloads/trace.h workloads/trace.c workloads/workload.h workloads/workload.c

if HAVE_CMOCKA
check_PROGRAMS += tests/test_workloads
TESTS += tests/test_workloads
tests_test_workloads_SOURCES = tests/test_workloads.c
tests_test_workloads_CFLAGS = $(TEST_CFLAGS)
tests_test_workloads_LDADD = $(TEST_LDADD)
endif

TESTS += tests/cli_workload.sh
EXTRA_DIST += tests/cli_workload.sh docs/trace-format.md
