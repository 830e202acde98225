# exec/: the live backends of the host. The emulated real-time backend (worker threads that sleep
# the profile's time) is plain C with POSIX threads and builds everywhere; the GPU backend, next,
# will build where CUDA is found.
libtetri_a_SOURCES += exec/workers.h exec/workers.c exec/emulated.h exec/emulated.c
# The sequence-parallel bookkeeping of the GPU backend is plain C: tested in CI (tests/test_exec_sp).
libtetri_a_SOURCES += exec/sp_plan.h exec/sp_plan.c
# The GPU options handed to other processes (tetri-mpi), flat: plain C as well.
libtetri_a_SOURCES += exec/gpu_wire.h exec/gpu_wire.c
EXTRA_DIST += exec/gpu.h exec/gpu_internal.h exec/gpu_sp.c tests/test_exec_sp.c
if HAVE_CUDA
libtetri_gpu_a_SOURCES += exec/gpu.c exec/gpu_internal.h exec/gpu_sp.c
endif
if HAVE_CMOCKA
check_PROGRAMS += tests/test_exec_sp
TESTS += tests/test_exec_sp
tests_test_exec_sp_SOURCES = tests/test_exec_sp.c
tests_test_exec_sp_CFLAGS = $(TEST_CFLAGS)
tests_test_exec_sp_LDADD = $(TEST_LDADD)
endif
# NCCL's communicators and the all-to-all over them: built where configure found NCCL (HAVE_NCCL),
# in the tarball always. tests/gpu/test_nccl is make check-gpu's NCCL part (the rule: dit/local.mk).
EXTRA_DIST += exec/comms.h exec/comms.c exec/nccl_transport.h exec/nccl_transport.c tests/gpu/test_nccl.c \
  tests/configure_nccl.sh
# configure finds NCCL as PyTorch's Python package lays it out, and builds the GPU part without it
TESTS += tests/configure_nccl.sh
if HAVE_CUDA
if HAVE_NCCL
libtetri_gpu_a_SOURCES += exec/comms.c exec/nccl_transport.c
EXTRA_PROGRAMS += tests/gpu/test_nccl
tests_gpu_test_nccl_SOURCES = tests/gpu/test_nccl.c
tests_gpu_test_nccl_LDADD = libtetri.a $(TETRI_GPU_LIBS) libtetri.a $(TETRI_LIBS)
CLEANFILES += tests/gpu/test_nccl
endif
endif

# `tetri serve --backend emulated` end to end (the short simulator-vs-emulated check) and the
# full-size comparison script (docs/simulator.md, "Real time").
TESTS += tests/cli_serve.sh
EXTRA_DIST += tests/cli_serve.sh bench/sim_vs_emulated.sh
