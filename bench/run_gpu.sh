#!/bin/bash
# bench/run_gpu.sh: what one device call runs, on the GPU machine, from the repository root:
# make check-gpu's program, then `tetri bench-step` for FLUX.1-dev and SD3-medium, then the PyTorch
# eager reference (bench/reference/dit_bench.py, a copy of ../shared/reference/dit_bench.py) on the
# same GPU, so the ratio table compares like with like. Logs go to $OUT (default /tmp/tetri-out).
# `bench` times each model at the default attention (auto: cuDNN's where built) and with ours
# (flash); `cudnn` compares the two attention kernels alone (test_gpu --bench-attention). After
# `ref`, bench/compare_ref.py writes the side-by-side table (compare.md).
# cuDNN: a build configured with it loads libcudnn.so.9 at start; CUDNN_LIB_DIR picks one, else
# PyTorch's own (the reference runs on it), else whatever the loader finds.
# Usage: bench/run_gpu.sh [BUILD_DIR] [checks|crosscheck|bench|cudnn|ref|all]...
set -u
B=${1:-build-gpu}; shift || true
WHAT=${*:-all}
OUT=${OUT:-/tmp/tetri-out}; mkdir -p "$OUT"
[ -f .gpu-deps/env.sh ] && . .gpu-deps/env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
if [ -z "${CUDNN_LIB_DIR:-}" ]; then
  CUDNN_LIB_DIR=$(python3 -c 'import os, nvidia.cudnn as c; print(os.path.join(list(c.__path__)[0], "lib"))' 2>/dev/null || true)
fi
if [ -n "${CUDNN_LIB_DIR:-}" ] && [ -d "$CUDNN_LIB_DIR" ]; then
  export LD_LIBRARY_PATH=$CUDNN_LIB_DIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  echo "# cuDNN from $CUDNN_LIB_DIR" | tee -a "$OUT/gpu.txt"
fi
has() { case " $WHAT " in *" $1 "*|*" all "*) return 0;; esac; return 1; }
if has checks; then "$B/tests/gpu/test_gpu" 2>&1 | tee "$OUT/check_gpu.log"; fi
if has crosscheck; then  # tiny FLUX/SD3 against float64 PyTorch written from diffusers' modules, then diffusers itself
  rm -rf /tmp/tetri-tiny && "$B/tests/gpu/test_gpu" --export /tmp/tetri-tiny &&
    python3 bench/reference/tiny_diffusers_check.py /tmp/tetri-tiny 2>&1 | tee "$OUT/crosscheck.log"
  # diffusers is not installed on the GPU machine: pure-Python wheels carried in .gpu-wheels/
  # (`pip download diffusers importlib_metadata zipp --no-deps -d .gpu-wheels` where there is an index)
  if ! python3 -c 'import diffusers' 2>/dev/null && ls .gpu-wheels/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-deps --no-index --target /tmp/tetri-pydeps .gpu-wheels/*.whl &&
      export PYTHONPATH=/tmp/tetri-pydeps${PYTHONPATH:+:$PYTHONPATH}
  fi
  python3 bench/reference/diffusers_check.py /tmp/tetri-tiny 2>&1 | tee "$OUT/diffusers_check.log"
fi
if has bench; then
  for m in flux-dev sd3-medium; do
    "$B/tetri" bench-step --model $m --res 256,512,1024,2048 --eager 2>&1 | tee "$OUT/bench_${m%%-*}.txt"
    "$B/tetri" bench-step --model $m --res 256,512,1024,2048 --attention flash 2>&1 | tee "$OUT/bench_${m%%-*}_flash.txt"
  done
fi
if has cudnn; then "$B/tests/gpu/test_gpu" --bench-attention 2>&1 | tee "$OUT/cudnn_bench_attention.txt"; fi
if has ref; then
  PYTHONUNBUFFERED=1 python3 bench/reference/dit_bench.py flux,sd3 2>&1 | tee "$OUT/torch_ref.txt"
  python3 bench/compare_ref.py "$OUT" | tee "$OUT/compare.md"
fi
