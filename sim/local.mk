# sim/: the discrete-event simulator and sweeps (policies x mixes x SLO scales x seeds x rates).
libtetri_a_SOURCES += sim/sim.h sim/sim.c sim/sweep.h sim/sweep.c sim/sweep_jobs.h sim/sweep_jobs.c sim/normalize.h sim/normalize.c

# The engine's tests: M/D/1 against Pollaczek-Khinchine; conservation, determinism, xdit/rssp on
# hand-made traces, broken policies, resumable sweeps; and the command line.
if HAVE_CMOCKA
check_PROGRAMS += tests/test_sim tests/test_md1
TESTS += tests/test_sim tests/test_md1
tests_test_sim_SOURCES = tests/test_sim.c tests/sim_fixture.h
tests_test_sim_CFLAGS = $(TEST_CFLAGS)
tests_test_sim_LDADD = $(TEST_LDADD)
tests_test_md1_SOURCES = tests/test_md1.c tests/sim_fixture.h
tests_test_md1_CFLAGS = $(TEST_CFLAGS)
tests_test_md1_LDADD = $(TEST_LDADD)
endif

TESTS += tests/cli_paper_grid.sh tests/cli_sim.sh tests/cli_demo.sh tests/cli_load.sh tests/cli_parallel_sweeps.sh tests/cli_sweep.sh tests/cli_sweep_jobs.sh
EXTRA_DIST += tests/cli_paper_grid.sh tests/cli_sim.sh tests/cli_demo.sh tests/cli_load.sh tests/cli_parallel_sweeps.sh tests/cli_sweep.sh tests/cli_sweep_jobs.sh \
  docs/simulator.md
