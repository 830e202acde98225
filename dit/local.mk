# dit/: the DiT model (shapes, weight layout, safetensors, CPU reference) and the GPU step runner.
# The model table, the safetensors code and the CPU reference are plain C and build everywhere
# (CI runs their tests); the runner and the cuBLASLt wrapper need CUDA.
if HAVE_JANSSON
AM_CPPFLAGS += -DTETRI_HAVE_JANSSON
endif
libtetri_a_SOURCES += dit/model.h dit/model.c dit/step_inputs.h dit/safetensors.h dit/safetensors.c \
  dit/cpu_ref.h dit/cpu_ref.c dit/cpu_internal.h dit/cpu_sp.c dit/sp.h dit/sp.c dit/gpu_plan.h dit/gpu_plan.c
if HAVE_CUDA
libtetri_gpu_a_SOURCES += dit/gemm.h dit/gemm.c dit/dit_gpu.h dit/dit_gpu.c dit/gpu_internal.h dit/cuda_check.h dit/slot.c dit/gpu_info.h dit/gpu_info.c \
  dit/transport_device.h dit/transport_device.c dit/sp_group.h dit/sp_group.c
if HAVE_CUDNN
# cuDNN's fused attention, `--attention cudnn` (only where configure found cuDNN 9)
libtetri_gpu_a_SOURCES += dit/attention_cudnn.h dit/attention_cudnn.c
endif
endif

if HAVE_CMOCKA
check_PROGRAMS += tests/test_exec_cpu
TESTS += tests/test_exec_cpu
tests_test_exec_cpu_SOURCES = tests/test_exec_cpu.c
tests_test_exec_cpu_CFLAGS = $(TEST_CFLAGS)
tests_test_exec_cpu_LDADD = $(TEST_LDADD)
endif

TESTS += tests/cli_bench_step.sh tests/configure_cudnn.sh tests/cli_plan_memory.sh
EXTRA_DIST += dit/attention_cudnn.h dit/attention_cudnn.c tests/configure_cudnn.sh
EXTRA_DIST += tests/cli_bench_step.sh tests/cli_plan_memory.sh tests/gpu/test_gpu.c tests/gpu/serve_gpu.sh bench/run_gpu.sh bench/reference/dit_bench.py \
  bench/reference/tiny_diffusers_check.py bench/reference/diffusers_check.py \
  docs/executor.md docs/benchmarks.md

# make check-gpu: kernel-by-kernel and whole-step checks against the CPU reference, on the GPU: once
# on the paths the GPU takes by itself, then once more on the Ampere paths (TETRI_GPU_PATHS=ampere:
# mma.sync attention, no wgmma; on an Ampere GPU the two passes are the same paths); then the NCCL
# communicators and transport (tests/gpu/test_nccl, where NCCL was found; its 77 is a skip); then
# serving. Every exit code is printed; any failure fails the target.
if HAVE_CUDA
EXTRA_PROGRAMS = tests/gpu/test_gpu
tests_gpu_test_gpu_SOURCES = tests/gpu/test_gpu.c
tests_gpu_test_gpu_LDADD = libtetri.a $(TETRI_GPU_LIBS) libtetri.a $(TETRI_LIBS)
CLEANFILES += tests/gpu/test_gpu
if HAVE_NCCL
CHECK_GPU_NCCL = tests/gpu/test_nccl$(EXEEXT)
else
CHECK_GPU_NCCL =
endif
# serve_gpu.sh's two-process part (2 GPUs, mpirun) runs tetri-mpi
if HAVE_MPI
CHECK_GPU_MPI = tetri-mpi$(EXEEXT)
CHECK_GPU_MPIRUN = $(MPIRUN)
else
CHECK_GPU_MPI =
CHECK_GPU_MPIRUN =
endif
check-gpu: tests/gpu/test_gpu$(EXEEXT) $(CHECK_GPU_NCCL) tetri$(EXEEXT) tetri-gpu$(EXEEXT) $(CHECK_GPU_MPI)
	@TETRI=$(abs_top_builddir)/tetri$(EXEEXT) ./tests/gpu/test_gpu$(EXEEXT); rc=$$?; \
	  if test $$rc -eq 77; then echo "check-gpu: skipped (no CUDA device here)"; exit 0; fi; \
	  echo "check-gpu: the same checks on the Ampere paths (TETRI_GPU_PATHS=ampere)"; \
	  TETRI_GPU_PATHS=ampere TETRI=$(abs_top_builddir)/tetri$(EXEEXT) ./tests/gpu/test_gpu$(EXEEXT); rc1=$$?; \
	  rc3=0; nccl="not built (no NCCL)"; \
	  if test -n "$(CHECK_GPU_NCCL)"; then ./$(CHECK_GPU_NCCL); rc3=$$?; nccl="exit $$rc3"; \
	    if test $$rc3 -eq 77; then nccl="exit 77 (skipped)"; rc3=0; fi; \
	  else echo "check-gpu: built without NCCL: test_nccl not run"; fi; \
	  TETRI=$(abs_top_builddir)/tetri$(EXEEXT) MPIRUN='$(CHECK_GPU_MPIRUN)' sh $(top_srcdir)/tests/gpu/serve_gpu.sh; rc2=$$?; \
	  echo "check-gpu: test_gpu exit $$rc (default paths), $$rc1 (ampere paths); test_nccl $$nccl; serve_gpu.sh exit $$rc2"; \
	  test $$rc -eq 0 && test $$rc1 -eq 0 && test $$rc3 -eq 0 && test $$rc2 -eq 0
else
check-gpu:
	@echo "check-gpu: built without CUDA, nothing to run"
endif
.PHONY: check-gpu
