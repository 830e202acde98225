#!/bin/sh
# tests/cli_bench_step.sh: `tetri bench-step`'s command line, without a GPU: help, every bad option
# and bad weights folder or config exits non-zero with a message naming the culprit, before any GPU
# is touched. Skips (77) when tetri was built without CUDA (tetri says it has no GPU part then).
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_bench_step.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

if ! "$TETRI" bench-step --help >"$tmp/help" 2>&1; then
    grep -q "has no GPU part" "$tmp/help" && { echo "SKIP: built without CUDA"; exit 77; }
    fail "--help exits non-zero"
fi
for w in --model --res --weights --inputs --output --steps --attention --gemm --paths --plan-memory --gpu-memory; do grep -qF -- "$w" "$tmp/help" || fail "--help lacks $w"; done

expect() { # expect CODE PATTERN ARGS...: exit code and a stderr line matching PATTERN
    code=$1; pat=$2; shift 2
    "$TETRI" bench-step "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq "$code" ] || fail "bench-step $* exited $rc, not $code"
    grep -q -- "$pat" "$tmp/err" || fail "bench-step $*: stderr lacks '$pat': $(cat "$tmp/err")"
}
expect 2 "unknown model 'sdxl'" --model sdxl
expect 2 "--res '100,256'" --res 100,256
expect 2 "--res 'abc'" --res abc
expect 2 "--text-tokens 'many'" --text-tokens many
expect 2 "auto, flash, flash-mma, cudnn or oracle, not 'fast'" --attention fast
expect 2 "heuristic, identical or fastest, not 'best'" --gemm best
expect 2 "--paths must be auto, ampere or hopper, not 'volta'" --paths volta
# a build without cuDNN refuses `--attention cudnn` by name before touching the GPU
if ! grep -q '^#define HAVE_CUDNN 1' "${TETRI_BUILDDIR:-.}/config.h" 2>/dev/null; then
    expect 2 "this build has no cuDNN" --attention cudnn
fi
expect 2 "--batch must be 1..64" --batch 0
expect 2 "unexpected argument 'extra'" extra
expect 1 "$tmp/none/config.json" --weights "$tmp/none"
printf '{"_class_name": "FluxTransformer2DModel", "num_layers": 2}' >"$tmp/config.json"
expect 1 "field \"num_attention_heads\" is missing" --config "$tmp/config.json"
printf '{"_class_name": "FluxTransformer2DModel", "num_layers": 2, "num_single_layers": 1, "num_attention_heads": 2, "attention_head_dim": 128, "in_channels": 64, "patch_size": 1, "joint_attention_dim": 64, "pooled_projection_dim": 32, "axes_dims_rope": [16, 56, 50]}' >"$tmp/config.json"
expect 1 "axes_dims_rope (16, 56, 50) must be even and sum to attention_head_dim 128" --config "$tmp/config.json"
mkdir -p "$tmp/w"
cp "$tmp/config.json" "$tmp/w/config.json"
sed -i 's/50\]/56]/' "$tmp/w/config.json"
expect 1 "neither diffusion_pytorch_model.safetensors nor its .index.json" --weights "$tmp/w"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_bench_step: all passed"
