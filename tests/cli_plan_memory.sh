#!/bin/sh
# tests/cli_plan_memory.sh: `tetri bench-step --plan-memory`, which needs no GPU and runs in tetri
# itself in every build (with or without CUDA): the device memory of each configuration and
# whether it fits; the statements docs/ampere.md makes (SD3-medium and FLUX.1-dev at batch 1 fit
# an A40 at every resolution up to 2048 px; FLUX at 2048 px x batch 24 does not) and its errors.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_plan_memory.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$TETRI" bench-step --plan-memory --help >"$tmp/help" 2>&1 || fail "--plan-memory --help exits non-zero"
grep -q -- "--gpu-memory" "$tmp/help" || fail "--help lacks --gpu-memory"

for model in flux-dev sd3-medium; do
    "$TETRI" bench-step --plan-memory --gpu-memory a40 --model $model >"$tmp/$model" 2>&1 || fail "$model does not fit an A40: $(cat "$tmp/$model")"
    cat "$tmp/$model"
    [ "$(grep -c "fits, .* GiB to spare" "$tmp/$model")" -eq 4 ] || fail "$model: not 4 fitting resolutions"
    grep -q "NVIDIA A40 (46068 MiB)" "$tmp/$model" || fail "$model: the A40's memory is not named"
done
grep -q "^  2048      16384+512 .* fits" "$tmp/flux-dev" || fail "FLUX 2048 px row"
grep -q "weights 22.17 GiB" "$tmp/flux-dev" || fail "FLUX weights are not 22.17 GiB (11.90 B bf16 parameters)"
grep -q "weights 3.88 GiB" "$tmp/sd3-medium" || fail "SD3 weights are not 3.88 GiB"

# One that does not fit: exit 1, said on its row.
"$TETRI" bench-step --plan-memory --gpu-memory 48G --model flux-dev --res 1024,2048 --batch 24 >"$tmp/big" 2>&1
[ $? -eq 1 ] || fail "FLUX 2048 x 24 on 48 GiB should exit 1"
grep -q "^  2048 .*DOES NOT FIT: .* GiB short" "$tmp/big" || fail "no DOES NOT FIT row: $(cat "$tmp/big")"
grep -q "^  1024 .*fits" "$tmp/big" || fail "1024 x 24 should fit 48 GiB"
grep -q "1 of 2 configurations would be refused" "$tmp/big" || fail "no refusal summary"
# Without --gpu-memory: the plan alone, exit 0. The oracle attention adds its L^2 workspace.
"$TETRI" bench-step --plan-memory --res 2048 >"$tmp/plain" 2>&1 || fail "plan without --gpu-memory exits non-zero"
"$TETRI" bench-step --plan-memory --res 2048 --attention oracle >"$tmp/oracle" 2>&1 || fail "oracle plan exits non-zero"
w0=$(awk '$1 == 2048 {print $5}' "$tmp/plain"); w1=$(awk '$1 == 2048 {print $5}' "$tmp/oracle")
[ -n "$w0" ] && [ "$w0" != "$w1" ] || fail "the oracle's workspace is not counted ($w0 vs $w1)"

expect() { # expect CODE PATTERN ARGS...
    code=$1; pat=$2; shift 2
    "$TETRI" bench-step --plan-memory "$@" >"$tmp/out" 2>"$tmp/err"
    rc=$?
    [ "$rc" -eq "$code" ] || fail "--plan-memory $* exited $rc, not $code"
    grep -q -- "$pat" "$tmp/err" || fail "--plan-memory $*: stderr lacks '$pat': $(cat "$tmp/err")"
}
expect 2 "--gpu-memory '48Q'" --gpu-memory 48Q
expect 2 "unknown model 'sdxl'" --model sdxl
expect 2 "--res 'abc'" --res abc
expect 2 "--batch must be 1..64" --batch 0
expect 2 "not 'fast'" --attention fast
expect 1 "$tmp/none.json" --config "$tmp/none.json"
expect 2 "--text-tokens '0': a whole number of tokens, 1..8192" --text-tokens 0
expect 2 "--text-tokens '77x'" --text-tokens 77x
expect 2 "--text-tokens '-5'" --text-tokens -5
# A given count is the plan's: 77 text tokens beside 4096 image tokens at 1024 px.
"$TETRI" bench-step --plan-memory --res 1024 --text-tokens 77 >"$tmp/t77" 2>&1 || fail "--text-tokens 77 exits non-zero"
grep -q "^  1024 *4096+77 " "$tmp/t77" || fail "--text-tokens 77 is not the plan's: $(cat "$tmp/t77")"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_plan_memory: all passed"
