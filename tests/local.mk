# tests/: unit tests of the shared core. Each module's own tests are listed in its local.mk;
# end-to-end tests of the command line are shell scripts (tests/cli_*.sh).
if HAVE_CMOCKA
check_PROGRAMS += tests/test_sched_core
TESTS += tests/test_sched_core
tests_test_sched_core_SOURCES = tests/test_sched_core.c
tests_test_sched_core_CFLAGS = $(TEST_CFLAGS)
tests_test_sched_core_LDADD = $(TEST_LDADD)
endif
