#!/bin/bash
# bench/gpu_session.sh: what the device calls of executor part 2 run, on the GPU machine, from the
# repository root (logs and results to $OUT). Phases, in the order given:
#   build     configure (cuDNN from PyTorch's nvidia-cudnn package) and build tetri and test_gpu in build-gpu/
#   prebuilt  use the build-gpu/ carried from the development machine (built there against the same
#             CUDA 13 and cuDNN 9 sonames) when its programs load here; else build
#   check     make check-gpu's two parts: test_gpu (kernels, steps, slots) and tests/gpu/serve_gpu.sh
#   measure   tetri profile measure: FLUX.1-dev 256-1024 x batch 1-4 and 2048 x 1, SD3-medium likewise,
#             into build-gpu/h200x1.db (copied to $OUT)
#   measure-quick  FLUX 256-1024 at batch 1 only
#   validate  one FLUX trace (256/512/1024 px, 20 steps, load $LOAD of the measured profile, N requests,
#             SLO profile:2) served live by xdit-sp1, edf-dyn and tetriserve, and simulated on the
#             measured profile, into $OUT/validate.db
set -u
OUT=${OUT:-/tmp/tetri-out}; mkdir -p "$OUT"
B=build-gpu
N=${N:-100} LOAD=${LOAD:-0.7}
[ -f .gpu-deps/env.sh ] && . .gpu-deps/env.sh
CUDNN=$(python3 -c 'import os, nvidia.cudnn as c; print(list(c.__path__)[0])' 2>/dev/null)
if [ -n "$CUDNN" ]; then # a root configure can take: include/, lib/libcudnn.so
    mkdir -p /tmp/cudnn-root/lib && ln -sfn "$CUDNN/include" /tmp/cudnn-root/include
    for f in "$CUDNN"/lib/libcudnn*.so.9; do ln -sf "$f" /tmp/cudnn-root/lib/; ln -sf "$f" "/tmp/cudnn-root/lib/$(basename "$f" .9)"; done
    export LD_LIBRARY_PATH=$CUDNN/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
T=$PWD/$B/tetri
for phase in "$@"; do
    echo "=== $phase $(date +%T)"
    case $phase in
    build)
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
        { autoreconf -fi && mkdir -p $B && cd $B && ../configure ${CUDNN:+--with-cudnn=/tmp/cudnn-root} && cd ..; } >"$OUT/configure.log" 2>&1 ||
            { tail -30 "$OUT/configure.log"; exit 1; }
        grep -E "CUDA|cuDNN|attention" "$OUT/configure.log" | tail -5
        make -C $B -j16 tetri tetri-gpu tests/gpu/test_gpu >"$OUT/build.log" 2>&1 || { grep -E "error|Error" "$OUT/build.log" | head -30; exit 1; }
        echo "built"
        ;;
    prebuilt)
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
        if [ -x $B/tetri-gpu ] && [ -x $B/tests/gpu/test_gpu ] && ! ldd $B/tetri-gpu $B/tests/gpu/test_gpu | grep -q "not found" &&
            $B/tetri-gpu bench-step --help >/dev/null 2>&1; then
            echo "prebuilt programs load"
        else
            ldd $B/tetri-gpu 2>&1 | grep "not found"; echo "prebuilt programs do not load here: building"
            rm -rf $B; bash "$0" build || exit 1
        fi
        ;;
    check)
        TETRI=$T $B/tests/gpu/test_gpu >"$OUT/check_gpu.log" 2>&1; echo "test_gpu exit $?"
        grep -E "^FAIL|slots|ALL PASSED|FAILED" "$OUT/check_gpu.log" | head -20
        TETRI=$T sh tests/gpu/serve_gpu.sh >"$OUT/serve_gpu.log" 2>&1; echo "serve_gpu exit $?"
        cat "$OUT/serve_gpu.log" | tail -25
        ;;
    measure)
        $T profile measure --out $B/h200x1.db --model flux-dev --res 256,512,1024 --batch 1-4 >"$OUT/measure.txt" 2>&1 &&
            $T profile measure --out $B/h200x1.db --model flux-dev --res 2048 --batch 1 >>"$OUT/measure.txt" 2>&1 &&
            $T profile measure --out $B/h200x1.db --model sd3-medium --res 256,512,1024 --batch 1-4 >>"$OUT/measure.txt" 2>&1 &&
            $T profile measure --out $B/h200x1.db --model sd3-medium --res 2048 --batch 1 >>"$OUT/measure.txt" 2>&1
        echo "measure exit $?"; cat "$OUT/measure.txt"; cp $B/h200x1.db "$OUT/"
        ;;
    measure-quick) # FLUX 256-1024 at batch 1 only (what validate's degree-1 policies use)
        $T profile measure --out $B/h200x1.db --model flux-dev --res 256,512,1024 --batch 1 >"$OUT/measure.txt" 2>&1
        echo "measure exit $?"; cat "$OUT/measure.txt"; cp $B/h200x1.db "$OUT/"
        ;;
    validate)
        P=$B/h200x1.db
        $T workload --model flux-dev --resolutions 256,512,1024 --steps 20 --profile $P --load "$LOAD" --slo-base profile:2 \
            -n "$N" --seed 1 -o "$OUT/validate_trace.csv" || exit 1
        head -2 "$OUT/validate_trace.csv"
        for p in ${POLICIES:-xdit-sp1 edf-dyn tetriserve}; do
            $T serve --backend gpu --trace "$OUT/validate_trace.csv" --profile $P --policy $p --db "$OUT/validate.db" \
                --experiment validate >"$OUT/serve_$p.log" 2>&1; echo "serve $p exit $?"; tail -3 "$OUT/serve_$p.log"
        done
        $T sim --trace "$OUT/validate_trace.csv" --profile $P $(for p in ${POLICIES:-xdit-sp1 edf-dyn tetriserve}; do echo --policy $p; done) \
            --db "$OUT/validate.db" --experiment validate >"$OUT/sim.log" 2>&1; echo "sim exit $?"
        $T report --db "$OUT/validate.db" --experiment validate 2>&1 | head -20
        ;;
    esac
done
echo "=== done $(date +%T)"
