# cli/: the tetri command, one file per subcommand.
# Two programs from these sources: tetri, which links no CUDA library (every simulator command
# starts without loading one) and hands the GPU command lines (cli/gpu_dispatch.c) to tetri-gpu;
# and, where configure found CUDA, tetri-gpu: the same commands compiled with TETRI_HAVE_CUDA (so
# their GPU parts are in), the GPU ones, and CUDA. Installed to $(pkglibexecdir): users run tetri.
# In cli/ sources, code that needs the GPU part goes under #ifdef TETRI_HAVE_CUDA (defined for
# tetri-gpu's objects only; config.h's TETRI_HAVE_GPU_PROGRAM says whether the build has one).
TETRI_CLI_SOURCES = cli/main.c cli/commands.h cli/bench_model.h cli/bench_model.c cli/gpu_dispatch.h cli/gpu_dispatch.c cli/cmd_workload.c \
  cli/cmd_sim.c cli/cmd_report.c cli/cmd_plot.c cli/cmd_merge.c cli/cmd_profile.c cli/cmd_demo.c cli/cmd_policies.c \
  cli/serve_gpu.h cli/serve_gpu.c cli/cmd_profile_measure.c cli/cmd_validate.c cli/sim_command.h cli/cmd_sweep.c \
  cli/sim_grid.h cli/policy_grid.h cli/policy_grid.c cli/sweep_progress.h cli/sweep_progress.c cli/cmd_plan_memory.c
tetri_SOURCES += $(TETRI_CLI_SOURCES)
AM_CPPFLAGS += -DTETRI_PKGLIBEXECDIR='"$(pkglibexecdir)"'
pkglibexec_PROGRAMS =
if HAVE_CUDA
pkglibexec_PROGRAMS += tetri-gpu
TETRI_GPU_PROGRAM = tetri-gpu$(EXEEXT)
tetri_gpu_SOURCES = $(TETRI_CLI_SOURCES) cli/cmd_bench_step.c
tetri_gpu_CPPFLAGS = $(AM_CPPFLAGS) -DTETRI_HAVE_CUDA
# libtetri_gpu.a calls back into libtetri.a (safetensors, model table): libtetri.a once more after it.
tetri_gpu_LDADD = libtetri.a $(TETRI_GPU_LIBS) libtetri.a $(TETRI_LIBS)
else
TETRI_GPU_PROGRAM =
endif
EXTRA_DIST += cli/cmd_bench_step.c

# tetri-mpi: the same commands with MPI, for tetri sweep and tetri serve under mpirun (tetri execs
# it there); exec/remote.c (GPUs of other processes) needs MPI, so it is built here, not in libtetri.a.
# Where CUDA is found too, tetri-mpi is also what tetri-gpu is (TETRI_HAVE_CUDA, the GPU part
# linked): `mpirun tetri serve --backend gpu` goes tetri -> tetri-gpu -> tetri-mpi, one program for
# both rather than a third (tetri-gpu-mpi); tetri sweep under mpirun then loads CUDA's libraries
# too, which costs a sweep nothing but their load. A build without CUDA links tetri-mpi as before.
if HAVE_MPI
pkglibexec_PROGRAMS += tetri-mpi
tetri_mpi_SOURCES = $(TETRI_CLI_SOURCES) cli/sweep_mpi.h cli/sweep_mpi.c cli/serve_mpi.h cli/serve_mpi.c \
  exec/remote.h exec/remote.c
if HAVE_CUDA
tetri_mpi_SOURCES += cli/cmd_bench_step.c
tetri_mpi_CPPFLAGS = $(AM_CPPFLAGS) -DTETRI_HAVE_MPI -DTETRI_HAVE_CUDA $(MPI_CFLAGS)
tetri_mpi_LDADD = libtetri.a $(TETRI_GPU_LIBS) libtetri.a $(TETRI_LIBS) $(MPI_LIBS)
else
tetri_mpi_CPPFLAGS = $(AM_CPPFLAGS) -DTETRI_HAVE_MPI $(MPI_CFLAGS)
tetri_mpi_LDADD = libtetri.a $(TETRI_LIBS) $(MPI_LIBS)
endif
endif
EXTRA_DIST += cli/sweep_mpi.h cli/sweep_mpi.c cli/serve_mpi.h cli/serve_mpi.c exec/remote.h exec/remote.c
TESTS += tests/cli_sweep_mpi.sh tests/cli_serve_mpi.sh
EXTRA_DIST += tests/cli_sweep_mpi.sh tests/cli_serve_mpi.sh tests/mpi_env.sh

# The dispatch: which command lines go to tetri-gpu; and that tetri loads no CUDA library.
if HAVE_CMOCKA
check_PROGRAMS += tests/test_gpu_dispatch
TESTS += tests/test_gpu_dispatch
tests_test_gpu_dispatch_SOURCES = tests/test_gpu_dispatch.c cli/gpu_dispatch.c cli/gpu_dispatch.h
tests_test_gpu_dispatch_CFLAGS = $(TEST_CFLAGS)
tests_test_gpu_dispatch_LDADD = libtetri.a $(CMOCKA_LIBS) $(TETRI_LIBS)
endif
TESTS += tests/cli_gpu_split.sh
EXTRA_DIST += tests/cli_gpu_split.sh

# `tetri validate` on the emulated backend: its numbers against the database it wrote, --from-db,
# --strict, the option errors (--live gpu in a build without the GPU program).
TESTS += tests/cli_validate.sh
EXTRA_DIST += tests/cli_validate.sh

# `tetri merge`: two simulations' and two validations' databases into one, every run's rows as in
# its source, merging again, a conflicting run, the errors; report, plot and validate --from-db on it.
TESTS += tests/cli_merge.sh
EXTRA_DIST += tests/cli_merge.sh
