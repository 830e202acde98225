# bench/: `make bench` builds every benchmark program (with -O2, against libtetri.a) and runs it;
# each prints its figures next to its targets (docs: bench/bench_sim.c's header).
# A new benchmark bench/NAME.c is one line here: TETRI_BENCHES += bench/NAME
TETRI_BENCHES = bench/bench_sim
TETRI_BENCHES += bench/bench_sched
TETRI_BENCHES += bench/bench_profile
TETRI_BENCHES += bench/bench_host
TETRI_BENCHES += bench/bench_startup

EXTRA_DIST += $(TETRI_BENCHES:=.c) bench/compare_ref.py bench/bench_sweep.sh bench/profile_from_measure_log.py bench/resim_live_blocks.sh
CLEANFILES += $(TETRI_BENCHES)
bench: $(noinst_LIBRARIES) tetri$(EXEEXT) $(TETRI_GPU_PROGRAM)
	@$(MKDIR_P) bench
	@for b in $(TETRI_BENCHES); do \
	  echo "  CC       $$b"; \
	  $(CC) $(DEFS) $(DEFAULT_INCLUDES) $(AM_CPPFLAGS) $(CPPFLAGS) $(AM_CFLAGS) $(CFLAGS) -O2 -o $$b$(EXEEXT) \
	    $(srcdir)/$$b.c libtetri.a $(TETRI_GPU_LIBS) $(TETRI_LIBS) $(LIBS) || exit 1; \
	done
	@for b in $(TETRI_BENCHES); do echo "== $$b"; ./$$b$(EXEEXT) $(BENCH_ARGS) || exit 1; done
	@echo "== bench/bench_sweep.sh (examples/paper.ini)"; $(SHELL) $(srcdir)/bench/bench_sweep.sh ./tetri$(EXEEXT) $(srcdir)
.PHONY: bench
