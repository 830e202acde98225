#!/bin/bash
# bench/gpu_session.sh: what the device calls of executor part 2 run, on the GPU machine, from the
# repository root (logs and results to $OUT). Phases, in the order given:
#   build     configure (cuDNN and NCCL from PyTorch's nvidia-cudnn and nvidia-nccl packages) and build
#             tetri, test_gpu and (NCCL found) test_nccl in build-gpu/
#   check     make check-gpu's parts: test_gpu (kernels, steps, slots), test_nccl (communicators, the
#             NCCL all-to-all) and tests/gpu/serve_gpu.sh (test_gpu's second pass, on the Ampere
#             paths, is phase ampere-check's)
#   prebuilt  use the build-gpu/ carried from the development machine (built there against the same
#             CUDA 13, cuDNN 9 and NCCL 2 sonames) when its programs load here; else build
#   nccl      test_nccl alone
#   serve-sp  tests/gpu/serve_gpu.sh's two-GPU part alone (SERVE_GPU_ONLY=sp: sequence-parallel serving,
#             xdit-sp2 and tetriserve against xdit-sp1's latents, failures in a degree-2 block)
#   measure   tetri profile measure: FLUX.1-dev 256-1024 x batch 1-4 and 2048 x 1, SD3-medium likewise,
#             into build-gpu/$GPUDB (copied to $OUT)
#   measure-quick  FLUX 256-1024 at batch 1 only
#   measure-both  FLUX 256-1024 at batch 1, a row at a time (h200seq.db) and --interleave 5 (h200x1.db)
#   measure-il  FLUX 256-1024 at batch 1, --interleave 5, into $GPUDB
#   measure-lab  FLUX 256-1024 at batch 1 two ways: the default ($GPUDB) and turns of 5 (p_served5.db)
#   serve-check  tests/gpu/serve_gpu.sh alone
#   bench-host  bench/bench_host (the host's overhead on the emulated backend) on this machine's cores
#   sp        test_gpu --sp alone (the sequence-parallel checks: kernels, degree k against 1, migration)
#   measure-degrees  tetri profile measure --degrees 1,2,4,8 --link-model h200x8 (batch 1, FLUX and SD3,
#             256-2048) into build-gpu/tetri-h200x8.db (copied to $OUT)
#   ampere    issue 14, the Ampere paths checked on this Hopper GPU: ampere-check, ampere-bench and
#             ampere-sm80 below, in that order (after build: its default multi-arch build-gpu/)
#   ampere-check  test_gpu on the paths the GPU takes by itself, then with TETRI_GPU_PATHS=ampere;
#             serve_gpu.sh with TETRI_GPU_PATHS=ampere; bench-step --plan-memory for an A40
#   ampere-bench  bench-step FLUX.1-dev and SD3-medium at 1024 px: default (auto), flash (wgmma),
#             --paths ampere (auto), --paths ampere --attention flash-mma
#   ampere-sm80   a second build, configure --with-cuda-arch=80 (sm_80 code and compute_80 PTX, no
#             sm_90a at all) in build-sm80/, its test_gpu and a FLUX 1024 bench-step on this GPU (PTX
#             JIT: the driver compiles compute_80 for sm_90 at first launch)
#   validate-live  tetri validate --live gpu on one FLUX trace (as validate's, or TRACE=FILE), for
#             $POLICIES, into $OUT/${VDB:-validate}.db and .log
#   validate  one FLUX trace (256/512/1024 px, 20 steps, load $LOAD of the measured profile, N requests,
#             SLO profile:2) served live by xdit-sp1, edf-dyn and tetriserve, and simulated on the
#             measured profile, into $OUT/validate.db
#
#   measure-ship  the profile shipped as profiles/$GPUDB (h200x1.db on an H200, h100x1.db on an
#             H100) and used by validate-live: FLUX.1-dev
#             256-1024 at batch 1 alone first (turns of 20, as a one-GPU server runs them), then FLUX
#             256-1024 x batch 2-4, FLUX 2048, SD3-medium 256-1024 x batch 1-4 and 2048, 40 samples each
#   resume    take the profile, the trace and the validate database a previous call kept (below)
#   measure-val  FLUX 256-1024 at batch 1, 40 samples, the defaults, and --idle-speedup, into $GPUDB
#             (what validate-live uses): the profile of the GPU at hand, measured in the call that
#             validates on it
#
# One policy a call, each call self-contained (the GPU machine may change between calls, and two
# H200s differ by 1-1.5% a step, which a queue at 0.7 load turns into 6-9% of mean latency:
# docs/validation.md 7.5), one trace for all (200 requests, load 0.7 of an H200):
#   TRACE=bench/results/h200/session9/B/validate_trace.csv POLICIES=xdit-sp1 \
#     bash bench/gpu_session.sh prebuilt measure-val validate-live
# (about 75 s of measurement and 370 s of serving), then edf-dyn, then tetriserve.
#
# Several calls on one machine (one profile, one trace, every policy at 200 requests: more than a
# call's 10 minutes). measure-ship and validate-live keep what they made in $KEEP
# ($HOME/tetri-keep, outside the repository, so it stays on a warm machine whatever a call
# carries): the profile, the trace and $VDB.db. Each next call carries build-gpu and .gpu-deps
# and runs `POLICIES=... bash bench/gpu_session.sh prebuilt resume validate-live`: resume copies
# them back (profile to $B/$GPUDB, trace to $B/last_trace.csv, database to $OUT/$VDB.db, to
# which the next policy's runs are added). When the machine was given back in between, $KEEP is
# gone: resume then takes them from RESUME_FROM (a folder in the working tree where the
# previous call's returned files were put), or stops.
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
# NCCL likewise (nvidia/nccl/{include,lib/libnccl.so.2}): a root with include/ and lib/libnccl.so.
NCCL=$(python3 -c 'import nvidia.nccl as m; print(list(m.__path__)[0])' 2>/dev/null)
# the prebuilt programs need only the library
[ -n "$NCCL" ] && [ -f "$NCCL/lib/libnccl.so.2" ] && export LD_LIBRARY_PATH=$NCCL/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
if [ -n "$NCCL" ] && [ -f "$NCCL/include/nccl.h" ] && [ -f "$NCCL/lib/libnccl.so.2" ]; then
    mkdir -p /tmp/nccl-root/lib && ln -sfn "$NCCL/include" /tmp/nccl-root/include
    ln -sf "$NCCL/lib/libnccl.so.2" /tmp/nccl-root/lib/libnccl.so.2 && ln -sf "$NCCL/lib/libnccl.so.2" /tmp/nccl-root/lib/libnccl.so
    export LD_LIBRARY_PATH=$NCCL/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
else
    [ -n "$NCCL" ] && echo "# nvidia-nccl in $NCCL has no include/nccl.h or lib/libnccl.so.2: configure looks elsewhere"
    NCCL=
fi
T=$PWD/$B/tetri
KEEP=${KEEP:-$HOME/tetri-keep}
# The profile file of the GPU at hand, named as tetri profile measure names its hardware ("NVIDIA
# H200" -> h200x1.db, "NVIDIA H100 80GB HBM3" -> h100x1.db): what measure-ship makes to ship as
# profiles/$GPUDB, and what validate-live serves on. GPUDB=FILE names another.
GPUDB=${GPUDB:-$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 |
    awk '{ w = ($1 == "NVIDIA" && NF > 1) ? $2 : $1; print tolower(w) }')x1.db}
[ "$GPUDB" = x1.db ] && GPUDB=gpux1.db # no nvidia-smi: a name all the same
keep() { # FILE...: kept on this machine for the next call (resume)
    mkdir -p "$KEEP" && cp "$@" "$KEEP/" && echo "kept in $KEEP: $(cd "$KEEP" && ls | tr '\n' ' ')"
}
flux_rows() { # DB LOG [options]: tetri profile measure of FLUX 256-1024 at batch 1 into DB, its table in $OUT/LOG (printed)
    db=$1 log=$2
    shift 2
    $T profile measure --out "$db" --model flux-dev --res 256,512,1024 --batch 1 "$@" >"$OUT/$log" 2>&1
    echo "measure ${*:-(defaults)} exit $?"; cat "$OUT/$log"
}
test_nccl() { # runs test_nccl when the build has it
    if grep -q "define HAVE_NCCL 1" $B/config.h; then
        $B/tests/gpu/test_nccl >"$OUT/test_nccl.log" 2>&1; echo "test_nccl exit $?"; cat "$OUT/test_nccl.log"
    else echo "test_nccl: not built (configure found no NCCL)"; fi
}
phases=
for phase in "$@"; do
    if [ "$phase" = ampere ]; then phases="$phases ampere-check ampere-bench ampere-sm80"; else phases="$phases $phase"; fi
done
# every phase checked before the first runs (a typo found after a long phase costs device time)
known=" $(sed -nE 's/^    ([a-z0-9-]+)\).*/\1/p' "$0" | tr '\n' ' ')"
for phase in $phases; do
    case "$known" in *" $phase "*) ;; *) echo "unknown phase '$phase'; the phases:$known"; exit 2 ;; esac
done
for phase in $phases; do
    echo "=== $phase $(date +%T)"
    case $phase in
    build)
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv | tee "$OUT/gpu.txt"
        { autoreconf -fi && mkdir -p $B && cd $B && ../configure ${CUDNN:+--with-cudnn=/tmp/cudnn-root} ${NCCL:+--with-nccl=/tmp/nccl-root} && cd ..; } \
            >"$OUT/configure.log" 2>&1 || { tail -30 "$OUT/configure.log"; exit 1; }
        grep -E "CUDA|cuDNN|attention|NCCL" "$OUT/configure.log" | tail -6
        targets="tetri tetri-gpu tests/gpu/test_gpu"
        grep -q "define HAVE_NCCL 1" $B/config.h && targets="$targets tests/gpu/test_nccl"
        make -C $B -j16 $targets >"$OUT/build.log" 2>&1 || { grep -E "error|Error" "$OUT/build.log" | head -30; exit 1; }
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
        test_nccl
        TETRI=$T sh tests/gpu/serve_gpu.sh >"$OUT/serve_gpu.log" 2>&1; echo "serve_gpu exit $?"
        cat "$OUT/serve_gpu.log" | tail -25
        ;;
    nccl)
        test_nccl
        ;;
    serve-sp)
        TETRI=$T SERVE_GPU_ONLY=sp sh tests/gpu/serve_gpu.sh >"$OUT/serve_gpu_sp.log" 2>&1; echo "serve_gpu (sp) exit $?"
        tail -30 "$OUT/serve_gpu_sp.log"
        ;;
    measure)
        $T profile measure --out $B/$GPUDB --model flux-dev --res 256,512,1024 --batch 1-4 >"$OUT/measure.txt" 2>&1 &&
            $T profile measure --out $B/$GPUDB --model flux-dev --res 2048 --batch 1 >>"$OUT/measure.txt" 2>&1 &&
            $T profile measure --out $B/$GPUDB --model sd3-medium --res 256,512,1024 --batch 1-4 >>"$OUT/measure.txt" 2>&1 &&
            $T profile measure --out $B/$GPUDB --model sd3-medium --res 2048 --batch 1 >>"$OUT/measure.txt" 2>&1
        echo "measure exit $?"; cat "$OUT/measure.txt"; cp $B/$GPUDB "$OUT/"
        ;;
    sp)
        TETRI=$T $B/tests/gpu/test_gpu --sp >"$OUT/test_gpu_sp.log" 2>&1; echo "test_gpu --sp exit $?"
        grep -vE "^PASS" "$OUT/test_gpu_sp.log" | head -40; grep -c "^PASS" "$OUT/test_gpu_sp.log"
        ;;
    measure-degrees)
        for m in flux-dev sd3-medium; do
            $T profile measure --out $B/tetri-h200x8.db --hardware h200x8 --link-model h200x8 --degrees 1,2,4,8 --model $m \
                --res 256,512,1024,2048 --batch 1 --settle-seconds 5 >>"$OUT/measure_degrees.txt" 2>&1; echo "measure-degrees $m exit $?"
        done
        cat "$OUT/measure_degrees.txt"; cp $B/tetri-h200x8.db "$OUT/"
        ;;
    measure-both) # FLUX 256-1024 at batch 1, each row alone (h200seq.db) and in turns of 5 steps ($GPUDB,
        # which validate-live then uses), 40 samples each
        flux_rows $B/h200seq.db measure_seq.txt --samples 40 --interleave 0
        flux_rows $B/$GPUDB measure.txt --samples 40 --interleave 5
        cp $B/$GPUDB $B/h200seq.db "$OUT/"
        ;;
    measure-lab) # FLUX 256-1024 at batch 1, 40 samples each, on one GPU: the default (turns of 20 steps back to
        # back: $GPUDB, which validate-live then uses) and turns of 5 back to back ($B/p_served5.db)
        flux_rows $B/$GPUDB measure.txt --samples 40
        flux_rows $B/p_served5.db measure_served5.txt --samples 40 --interleave 5
        cp $B/$GPUDB $B/p_served5.db "$OUT/"
        ;;
    measure-ship) # the shipped profile; its FLUX batch-1 rows are measured alone, as validate-live serves them
        flux_rows $B/$GPUDB measure.txt --samples 40 --idle-speedup
        for spec in "flux-dev 256,512,1024 2-4" "flux-dev 2048 1" "sd3-medium 256,512,1024 1-4" "sd3-medium 2048 1"; do
            set -- $spec
            $T profile measure --out $B/$GPUDB --model $1 --res $2 --batch $3 --samples 40 >>"$OUT/measure.txt" 2>&1
            echo "measure $spec exit $?"
        done
        grep -vE "^# (GPU paths|into)" "$OUT/measure.txt" | grep -E "^(flux|sd3|#)"
        cp $B/$GPUDB "$OUT/" && keep $B/$GPUDB
        ;;
    resume) # what the previous call kept (measure-ship, validate-live): $KEEP on a warm machine, else RESUME_FROM
        V=${VDB:-validate} from=$KEEP
        if [ -f "$KEEP/$GPUDB" ]; then echo "resume: this machine is the previous call's (warm): $KEEP"
        elif [ -n "${RESUME_FROM:-}" ] && [ -f "$RESUME_FROM/$GPUDB" ]; then from=$RESUME_FROM; echo "resume: a fresh machine: from $from"
        else echo "resume: nothing kept in $KEEP and no RESUME_FROM with $GPUDB"; exit 1; fi
        cp "$from/$GPUDB" $B/$GPUDB
        [ -f "$from/${V}_trace.csv" ] && cp "$from/${V}_trace.csv" $B/last_trace.csv && export TRACE=$B/last_trace.csv
        [ -f "$from/$V.db" ] && cp "$from/$V.db" "$OUT/$V.db"
        md5sum $B/$GPUDB ${TRACE:-} "$OUT/$V.db" 2>/dev/null
        ;;
    measure-val) # the GPU at hand's batch-1 FLUX rows and its idle speed-up, for validate-live in the same call
        flux_rows $B/$GPUDB measure.txt --samples 40 --idle-speedup
        cp $B/$GPUDB "$OUT/"
        ;;
    measure-il) # FLUX 256-1024 at batch 1, --interleave 5, 40 samples, into $GPUDB (what validate-live uses)
        flux_rows $B/$GPUDB measure.txt --samples 40 --interleave 5
        cp $B/$GPUDB "$OUT/"
        ;;
    bench-host) # bench_host: the host's overhead on the emulated backend, on this machine's cores
        $B/bench/bench_host profiles/default.db >"$OUT/bench_host.txt" 2>&1; echo "bench_host exit $?"; cat "$OUT/bench_host.txt"
        ;;
    serve-check) # tests/gpu/serve_gpu.sh alone (the GPU backend end to end, failures injected)
        TETRI=$T sh tests/gpu/serve_gpu.sh >"$OUT/serve_gpu.log" 2>&1; echo "serve_gpu exit $?"
        grep -E "FAIL|serve_gpu:" "$OUT/serve_gpu.log" | tail -8
        ;;
    measure-quick) # FLUX 256-1024 at batch 1 only (what validate's degree-1 policies use)
        flux_rows $B/$GPUDB measure.txt
        cp $B/$GPUDB "$OUT/"
        ;;
    ampere-check)
        grep -E "GPU architectures|device code for" "$OUT/configure.log" 2>/dev/null | tail -2
        TETRI=$T $B/tests/gpu/test_gpu >"$OUT/ampere_test_gpu_default.log" 2>&1; echo "test_gpu (default paths) exit $?"
        grep -E "^# GPU paths|^FAIL|wgmma|ALL PASSED|FAILED" "$OUT/ampere_test_gpu_default.log" | head -12
        TETRI_GPU_PATHS=ampere TETRI=$T $B/tests/gpu/test_gpu >"$OUT/ampere_test_gpu_ampere.log" 2>&1; echo "test_gpu (TETRI_GPU_PATHS=ampere) exit $?"
        grep -E "^# GPU paths|^FAIL|^SKIP|refused|mma.sync attention vs|resolves to|ALL PASSED|FAILED" "$OUT/ampere_test_gpu_ampere.log" | head -20
        TETRI_GPU_PATHS=ampere TETRI=$T sh tests/gpu/serve_gpu.sh >"$OUT/ampere_serve_gpu.log" 2>&1; echo "serve_gpu.sh (TETRI_GPU_PATHS=ampere) exit $?"
        grep -E "GPU paths|PASS|FAIL" "$OUT/ampere_serve_gpu.log" | head -12
        { $T bench-step --plan-memory --gpu-memory a40 --model flux-dev; $T bench-step --plan-memory --gpu-memory a40 --model sd3-medium
          $T bench-step --plan-memory --gpu-memory h200 --model flux-dev --batch 16; } >"$OUT/ampere_plan.txt" 2>&1
        cat "$OUT/ampere_plan.txt"
        ;;
    ampere-bench) # the cost of the portable kernels on this GPU: each line's "# GPU paths" and attention column say what ran
        for m in flux-dev sd3-medium; do
            for v in "" "--attention flash" "--paths ampere" "--paths ampere --attention flash-mma"; do
                echo "--- bench-step --model $m --res 1024 $v"
                $T bench-step --model $m --res 1024 --iters 20 $v 2>&1 | grep -vE "^# (step|prep|cuDNN|mem GiB|bench-step --plan)"
            done
        done | tee "$OUT/ampere_bench.txt"
        ;;
    ampere-sm80) # no sm_90a code at all: the H200 runs the compute_80 PTX, JIT-compiled by the driver
        B8=build-sm80
        if [ -x $B8/tetri-gpu ] && grep -q "configure --with-cuda-arch=80" $B8/config.log 2>/dev/null &&
            ! ldd $B8/tetri-gpu $B8/tests/gpu/test_gpu | grep -q "not found"; then
            echo "build-sm80: prebuilt (configured here with --with-cuda-arch=80)"
        else
            { mkdir -p $B8 && cd $B8 && ../configure --with-cuda-arch=80 ${CUDNN:+--with-cudnn=/tmp/cudnn-root} && cd ..; } >"$OUT/sm80_configure.log" 2>&1 ||
                { tail -30 "$OUT/sm80_configure.log"; exit 1; }
            make -C $B8 -j16 tetri tetri-gpu tests/gpu/test_gpu >"$OUT/sm80_build.log" 2>&1 || { grep -E "error|Error" "$OUT/sm80_build.log" | head -30; exit 1; }
        fi
        grep -A1 "checking GPU architectures" $B8/config.log | tail -1
        cuobjdump --list-elf $B8/tetri-gpu 2>/dev/null | grep -oE "sm_[0-9]+a?" | sort | uniq -c
        cuobjdump --list-ptx $B8/tetri-gpu 2>/dev/null | grep -oE "sm_[0-9]+a?" | sort | uniq -c | sed 's/^/PTX /'
        export CUDA_CACHE_PATH=$PWD/$B8/jit-cache # a fresh JIT cache: the first run pays the compilation
        s0=$(date +%s); TETRI=$PWD/$B8/tetri $B8/tests/gpu/test_gpu >"$OUT/sm80_test_gpu.log" 2>&1; rc=$?
        echo "test_gpu (sm_80-only build, PTX JIT) exit $rc in $(($(date +%s) - s0)) s"
        grep -E "^# GPU paths|^FAIL|refused|^SKIP|resolves to|ALL PASSED|FAILED" "$OUT/sm80_test_gpu.log" | head -20
        $PWD/$B8/tetri bench-step --model flux-dev --res 1024 --iters 20 --attention flash-mma 2>&1 | tee "$OUT/sm80_bench.txt" |
            grep -vE "^# (step|prep|cuDNN|mem GiB|bench-step --plan)"
        $PWD/$B8/tetri bench-step --model flux-dev --res 1024 --attention flash >"$OUT/sm80_flash_refused.txt" 2>&1
        echo "bench-step --attention flash on the sm_80-only build: exit $? (want 1: wgmma is not in it)"; tail -2 "$OUT/sm80_flash_refused.txt"
        unset CUDA_CACHE_PATH
        ;;
    validate-live) # tetri validate --live gpu: one trace (N requests, load $LOAD of the measured profile,
        # SLO profile:2; TRACE=FILE reuses a trace, copied to $OUT/${VDB}_trace.csv so the run keys match) served live
        # and simulated by each of $POLICIES, into $OUT/$VDB.db (VDB=validate; another name for a repetition)
        P=${PROFILE:-$B/$GPUDB} V=${VDB:-validate}
        if [ -n "${TRACE:-}" ]; then cp "$TRACE" "$OUT/${V}_trace.csv"; else
            $T workload --model flux-dev --resolutions 256,512,1024 --steps 20 --profile $P --load "$LOAD" --slo-base profile:2 \
                -n "$N" --seed 1 -o "$OUT/${V}_trace.csv" || exit 1
        fi
        cp "$OUT/${V}_trace.csv" $B/last_trace.csv # for a next call on the same (warm) machine: see the top
        $T validate --live gpu --trace "$OUT/${V}_trace.csv" --profile $P \
            $(for p in ${POLICIES:-xdit-sp1 edf-dyn tetriserve}; do echo --policy $p; done) --db "$OUT/$V.db" --experiment validate \
            >"$OUT/$V.log" 2>&1; echo "validate exit $?"
        grep -E "end->next|^policy|^[a-z0-9-]+ +exec|pairs|^# GPU 0 [0-9]" "$OUT/$V.log"
        keep $P "$OUT/${V}_trace.csv" "$OUT/$V.db"
        ;;
    validate)
        P=$B/$GPUDB
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
