#!/bin/sh
# tests/cli_gpu_split.sh: `tetri` loads no CUDA library, neither linked nor loaded later, for
# --help and the simulator commands; a GPU command (bench-step) reaches tetri-gpu beside it in a
# CUDA build, and says why not in a build without one or where tetri-gpu is missing.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_BUILDDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_gpu_split.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cuda_libs='lib(cuda|cudart|cublas|cublasLt|cudnn[a-z_]*|nccl)\.so'

# Linked: the dynamic loader's list of what tetri needs, transitively.
LD_TRACE_LOADED_OBJECTS=1 "$TETRI" >"$tmp/ldd" 2>&1
grep -Eq "$cuda_libs" "$tmp/ldd" && fail "tetri is linked with CUDA libraries: $(grep -E "$cuda_libs" "$tmp/ldd" | tr '\n' ' ')"
# Loaded while running (dlopen included): --help and a short simulation.
LD_DEBUG=libs "$TETRI" --help >"$tmp/help" 2>"$tmp/ld.help" || fail "tetri --help exited $?"
LD_DEBUG=libs "$TETRI" sim -n 10 --db "$tmp/r.db" -q >/dev/null 2>"$tmp/ld.sim" || fail "tetri sim exited $?: $(grep -v '^ *[0-9]*:' "$tmp/ld.sim")"
for f in help sim; do
    grep -Eq "calling init: .*$cuda_libs" "$tmp/ld.$f" && fail "tetri ${f} loaded a CUDA library: $(grep -E "init: .*$cuda_libs" "$tmp/ld.$f" | head -3)"
done
grep -q "bench-step" "$tmp/help" || fail "tetri --help does not list the GPU command bench-step"

if grep -q '^#define TETRI_HAVE_GPU_PROGRAM 1' "$TETRI_BUILDDIR/config.h"; then
    # A CUDA build: bench-step runs in tetri-gpu, which does load CUDA.
    LD_DEBUG=libs "$TETRI" bench-step --help >"$tmp/bs" 2>"$tmp/ld.bs" || fail "tetri bench-step --help exited $?"
    grep -q -- "--attention" "$tmp/bs" || fail "tetri bench-step --help: $(cat "$tmp/bs")"
    grep -Eq "calling init: .*libcudart" "$tmp/ld.bs" || fail "tetri bench-step did not run tetri-gpu (no libcudart loaded)"
    # A tetri with no tetri-gpu beside it and none installed says where it looked.
    if [ ! -x "${TETRI_PKGLIBEXECDIR:-/nonexistent}/tetri-gpu" ]; then
        cp "$TETRI" "$tmp/tetri"
        "$tmp/tetri" bench-step --help >/dev/null 2>"$tmp/err" && fail "a tetri without tetri-gpu ran bench-step"
        grep -q "tetri bench-step: it runs on the GPU, but its program tetri-gpu is neither beside this tetri ($tmp/tetri-gpu)" "$tmp/err" ||
            fail "missing tetri-gpu: $(cat "$tmp/err")"
    fi
else
    "$TETRI" bench-step --help >/dev/null 2>"$tmp/err" && fail "a build without CUDA ran bench-step"
    grep -q "tetri bench-step: it runs on the GPU, but this build has no GPU part (configure: " "$tmp/err" ||
        fail "bench-step without a GPU part: $(cat "$tmp/err")"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_gpu_split: all passed"
