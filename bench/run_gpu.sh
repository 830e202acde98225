#!/bin/bash
# bench/run_gpu.sh: what one device call runs, on the GPU machine, from the repository root:
# make check-gpu's program, then `tetri bench-step` for FLUX.1-dev and SD3-medium, then the PyTorch
# eager reference (bench/reference/dit_bench.py, a copy of ../shared/reference/dit_bench.py) on the
# same GPU, so the ratio table compares like with like. Logs go to $OUT (default /tmp/tetri-out).
# `cudnn`: our wgmma attention against cuDNN's fused attention, per kernel (test_gpu --bench-attention)
# and per step (bench-step --attention flash, then cudnn), for a build configured with cuDNN.
# Usage: bench/run_gpu.sh [BUILD_DIR] [checks|crosscheck|bench|cudnn|ref|all]...
set -u
B=${1:-build-gpu}; shift || true
WHAT=${*:-all}
OUT=${OUT:-/tmp/tetri-out}; mkdir -p "$OUT"
[ -f .gpu-deps/env.sh ] && . .gpu-deps/env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
has() { case " $WHAT " in *" $1 "*|*" all "*) return 0;; esac; return 1; }
if has checks; then "$B/tests/gpu/test_gpu" 2>&1 | tee "$OUT/check_gpu.log"; fi
if has crosscheck; then  # tiny FLUX/SD3 against float64 PyTorch written from diffusers' modules
  rm -rf /tmp/tetri-tiny && "$B/tests/gpu/test_gpu" --export /tmp/tetri-tiny &&
    python3 bench/reference/tiny_diffusers_check.py /tmp/tetri-tiny 2>&1 | tee "$OUT/crosscheck.log"
fi
if has bench; then
  "$B/tetri" bench-step --model flux-dev --res 256,512,1024,2048 --eager 2>&1 | tee "$OUT/bench_flux.txt"
  "$B/tetri" bench-step --model flux-dev --res 1024,2048 --attention flash-mma 2>&1 | tee "$OUT/bench_flux_mma.txt"
  "$B/tetri" bench-step --model sd3-medium --res 256,512,1024,2048 --eager 2>&1 | tee "$OUT/bench_sd3.txt"
fi
if has cudnn; then
  # CUDNN_LIB_DIR picks a cuDNN (e.g. PyTorch's wheel's); else the loader's, else the first found
  if [ -n "${CUDNN_LIB_DIR:-}" ]; then export LD_LIBRARY_PATH=$CUDNN_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  elif ! /sbin/ldconfig -p 2>/dev/null | grep -q 'libcudnn.so.9' && [ ! -e /usr/local/cuda/lib64/libcudnn.so.9 ]; then
    c=$(find /opt /usr/lib /usr/local /root -name 'libcudnn.so.9' 2>/dev/null | head -1)
    [ -n "$c" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$(dirname "$c") && echo "# cuDNN from $(dirname "$c")"
  fi
  "$B/tests/gpu/test_gpu" --bench-attention 2>&1 | tee "$OUT/cudnn_bench_attention.txt"
  for m in flux-dev sd3-medium; do
    for a in flash cudnn; do "$B/tetri" bench-step --model $m --res 512,1024,2048 --attention $a; done 2>&1 |
      tee "$OUT/cudnn_bench_${m%%-*}.txt"
  done
fi
if has ref; then PYTHONUNBUFFERED=1 python3 bench/reference/dit_bench.py flux,sd3 2>&1 | tee "$OUT/torch_ref.txt"; fi
