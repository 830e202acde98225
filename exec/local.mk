# exec/: the live backends of the host. The emulated real-time backend (worker threads that sleep
# the profile's time) is plain C with POSIX threads and builds everywhere; the GPU backend, next,
# will build where CUDA is found.
libtetri_a_SOURCES += exec/workers.h exec/workers.c exec/emulated.h exec/emulated.c
EXTRA_DIST += exec/gpu.h
if HAVE_CUDA
libtetri_gpu_a_SOURCES += exec/gpu.c
endif

# `tetri serve --backend emulated` end to end (the short simulator-vs-emulated check) and the
# full-size comparison script (docs/simulator.md, "Real time").
TESTS += tests/cli_serve.sh
EXTRA_DIST += tests/cli_serve.sh bench/sim_vs_emulated.sh
