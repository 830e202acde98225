# results/: the results database (schema, writer, reader), the tables and CSV of `tetri report`, and
# the merge of one database into another (`tetri merge`).
libtetri_a_SOURCES += results/results.h results/db_internal.h results/db.c results/read.c \
  results/report.h results/report.c results/merge.h results/merge.c results/stats.h results/stats.c results/validate.h results/validate.c
dist_doc_DATA += docs/results.md

# The database's speed (write, resume check, read, dump): ./results/bench_results after make check.
check_PROGRAMS += results/bench_results
results_bench_results_SOURCES = results/bench_results.c
results_bench_results_LDADD = libtetri.a $(TETRI_LIBS)

# Synthetic runs with known outcomes, shared by the unit test and the CLI tests' db builder.
check_PROGRAMS += tests/make_results_db
tests_make_results_db_SOURCES = tests/make_results_db.c tests/results_fixture.c tests/results_fixture.h
tests_make_results_db_LDADD = libtetri.a $(TETRI_LIBS)
if HAVE_CMOCKA
check_PROGRAMS += tests/test_results
TESTS += tests/test_results
tests_test_results_SOURCES = tests/test_results.c tests/results_fixture.c tests/results_fixture.h
tests_test_results_CFLAGS = $(TEST_CFLAGS)
tests_test_results_LDADD = $(TEST_LDADD)
endif
# tetri validate's statistics: quantiles, the KS test (against SciPy's values), live vs simulated runs.
if HAVE_CMOCKA
check_PROGRAMS += tests/test_validate
TESTS += tests/test_validate
tests_test_validate_SOURCES = tests/test_validate.c
tests_test_validate_CFLAGS = $(TEST_CFLAGS)
tests_test_validate_LDADD = $(TEST_LDADD)
endif
TESTS += tests/cli_report.sh tests/cli_readonly.sh
EXTRA_DIST += tests/cli_report.sh tests/cli_readonly.sh
