# sim/: the discrete-event simulator and sweeps (policies x mixes x SLO scales x seeds x rates).
libtetri_a_SOURCES += sim/sim.h sim/sim.c sim/sweep.h sim/sweep.c
