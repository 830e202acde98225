# host/: the serving loop the simulator and the live backends share, and the one plan validator.
libtetri_a_SOURCES += host/plan_check.h host/plan_check.c host/backend.h host/host.h host/host.c

# The host under the simulator, the emulated backend and scripted fakes (tests/test_host.c).
if HAVE_CMOCKA
check_PROGRAMS += tests/test_host
TESTS += tests/test_host
tests_test_host_SOURCES = tests/test_host.c tests/sim_fixture.h
tests_test_host_CFLAGS = $(TEST_CFLAGS)
tests_test_host_LDADD = $(TEST_LDADD)
endif
