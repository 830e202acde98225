# kernels/: CUDA kernels with extern "C" launchers, one file per op family (see kernels/kernels.h).
EXTRA_DIST += kernels/kernels.h kernels/init_values.h kernels/common.cuh
if HAVE_CUDA
libtetri_gpu_a_SOURCES += kernels/init.cu kernels/norm.cu kernels/elementwise.cu kernels/slot.cu kernels/attention.cu \
  kernels/attention_wgmma.cu kernels/attention_oracle.cu kernels/sp.cu
endif
