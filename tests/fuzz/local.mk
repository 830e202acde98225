# tests/fuzz/: libFuzzer targets (trace reader, workload spec and generator, profile reader; make fuzz), and their corpora replayed by make check.
#
# Adding a target NAME (one line here):
#   1. write tests/fuzz/fuzz_NAME.c with `TETRI_FUZZ_TARGET(NAME) { ... }` (tests/fuzz/fuzz.h);
#   2. put seed inputs in tests/fuzz/corpus/NAME/ (and optionally a dictionary tests/fuzz/dict/NAME.dict);
#   3. add:  FUZZ_TARGET_SOURCES += tests/fuzz/fuzz_NAME.c
# make check then replays its corpus (tests/fuzz/replay), and make fuzz builds fuzz/bin/fuzz_NAME.
FUZZ_TARGET_SOURCES = tests/fuzz/fuzz_trace.c
FUZZ_TARGET_SOURCES += tests/fuzz/fuzz_workload.c
FUZZ_TARGET_SOURCES += tests/fuzz/fuzz_profile.c

# Corpus replay: every target, plain main(), linked against libtetri.a; part of make check.
check_PROGRAMS += tests/fuzz/replay
TESTS += tests/fuzz/replay
tests_fuzz_replay_SOURCES = tests/fuzz/fuzz.h tests/fuzz/replay.c $(FUZZ_TARGET_SOURCES)
tests_fuzz_replay_LDADD = libtetri.a $(TETRI_GPU_LIBS) $(TETRI_LIBS)
EXTRA_DIST += tests/fuzz/corpus tests/fuzz/crashes tests/fuzz/dict docs/fuzzing.md

# make fuzz: libFuzzer binaries in fuzz/bin/, built with clang ($(FUZZ_CC), found by configure).
# Every C source of libtetri.a is compiled again with clang and the sanitizers into fuzz/obj/ (the
# gcc-built libtetri.a has neither coverage instrumentation nor sanitizers). An object is rebuilt
# when its source or any header of the tree is newer.
FUZZ_COMMON_FLAGS = -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined -std=c17
FUZZ_CPPFLAGS = $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS)

fuzz: config.h
	@if test -z "$(FUZZ_CC)"; then \
	  echo "make fuzz needs clang with libFuzzer: configure found none (install clang, re-run configure)" >&2; exit 1; fi
	@$(MKDIR_P) fuzz/obj fuzz/bin
	@set -e; objs=; \
	for src in $(libtetri_a_SOURCES); do \
	  case $$src in *.c) ;; *) continue ;; esac; \
	  obj=fuzz/obj/`echo $$src | sed 's|/|__|g; s|\.c$$|.o|'`; \
	  objs="$$objs $$obj"; \
	  if test -f $$obj && test -z "`find $(srcdir)/$$src $(srcdir)/*/*.h config.h -newer $$obj 2>/dev/null | head -1`"; then continue; fi; \
	  echo "  FUZZCC   $$src"; \
	  $(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_COMMON_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $(srcdir)/$$src -o $$obj; \
	done; \
	for src in $(FUZZ_TARGET_SOURCES); do \
	  bin=fuzz/bin/`basename $$src .c`; \
	  echo "  FUZZLD   $$bin"; \
	  $(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_COMMON_FLAGS) -DTETRI_LIBFUZZER -fsanitize=fuzzer,address,undefined \
	    $(srcdir)/$$src $$objs $(TETRI_LIBS) -o $$bin; \
	done

# make fuzz-run [FUZZ_SECONDS=60] [FUZZ_TARGETS="trace ..."]: runs each target for FUZZ_SECONDS on one
# core, starting from a copy of its seed corpus in fuzz/work/NAME/ (new inputs go there, not into
# the source tree); crashes land in fuzz/artifacts/NAME/. Copy a crash you fixed into
# tests/fuzz/crashes/NAME/ so make check replays it from then on.
FUZZ_SECONDS = 60
FUZZ_TARGETS =
fuzz-run: fuzz
	@set -e; targets="$(FUZZ_TARGETS)"; \
	if test -z "$$targets"; then for src in $(FUZZ_TARGET_SOURCES); do \
	  targets="$$targets `basename $$src .c | sed 's/^fuzz_//'`"; done; fi; \
	for t in $$targets; do \
	  $(MKDIR_P) fuzz/work/$$t fuzz/artifacts/$$t; \
	  cp -f $(srcdir)/tests/fuzz/corpus/$$t/* fuzz/work/$$t/ 2>/dev/null || true; \
	  dict=; test -f $(srcdir)/tests/fuzz/dict/$$t.dict && dict=-dict=$(srcdir)/tests/fuzz/dict/$$t.dict; \
	  echo "== fuzz_$$t for $(FUZZ_SECONDS) s (log: fuzz/fuzz_$$t.log)"; \
	  fuzz/bin/fuzz_$$t $$dict -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=fuzz/artifacts/$$t/ fuzz/work/$$t >fuzz/fuzz_$$t.log 2>&1 || { tail -40 fuzz/fuzz_$$t.log; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|Done)' fuzz/fuzz_$$t.log || tail -3 fuzz/fuzz_$$t.log; \
	done

.PHONY: fuzz fuzz-run
CLEANFILES += fuzz/obj/*.o fuzz/bin/fuzz_* fuzz/*.log
