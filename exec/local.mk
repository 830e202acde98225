# exec/: the live executor (GPU workers, NCCL groups, DiT model). Built only with CUDA.
if HAVE_CUDA
tetri_SOURCES += cli/cmd_bench_step.c
endif
