#!/bin/sh
# tests/cli_plot_ablation.sh: tetri plot's ablation figure: variants of one policy give one CSV per
# group with bars ordered from the fewest options on to the most, labelled by the options that
# differ, intervals by Student's t; a group of different policies, or of g values, gives none.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_plot_ablation.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"
export TETRI_PLOTS_DIR="$TETRI_SRCDIR/plots"

"$TETRI" sim --profile "$profile" -n 40 --seeds 1-3 --slo-scale 1.0,1.5 --experiment abl --db "$tmp/r.db" -q \
    --policy 'tetriserve:placement=on,elastic=on' --policy 'tetriserve:placement=off,elastic=off' \
    --policy 'tetriserve:placement=on,elastic=off' >"$tmp/out" 2>&1 || fail "sim: $(cat "$tmp/out")"
"$TETRI" sim --profile "$profile" -n 40 --seeds 1-3 --slo-scale 1.0,1.5 --experiment others --db "$tmp/r.db" -q \
    --policy rssp --policy edf-dyn >"$tmp/out" 2>&1 || fail "sim others: $(cat "$tmp/out")"
"$TETRI" sim --profile "$profile" -n 40 --seeds 1-3 --slo-scale 1.0,1.5 --experiment rounds --db "$tmp/r.db" -q \
    --policy tetriserve:g=1 --policy tetriserve:g=5 >"$tmp/out" 2>&1 || fail "sim rounds: $(cat "$tmp/out")"
"$TETRI" plot --db "$tmp/r.db" --out "$tmp/fig" --figures ablation >"$tmp/plot.out" 2>&1 || fail "plot: $(cat "$tmp/plot.out")"
ls "$tmp/fig"/ablation-*.csv >"$tmp/list" 2>/dev/null
[ "$(wc -l <"$tmp/list")" -eq 1 ] || fail "want one ablation figure (experiment abl), got: $(cat "$tmp/list")"
csv="$tmp/fig/ablation-abl-tetriserve-uniform-r12.csv"
[ -s "$csv" ] || fail "no $csv: $(cat "$tmp/plot.out")"
# Bars: both off, then one on, then both; 2 scales each; every row 3 seeds with lo <= mean <= hi
# (the interval's formula: tests/test_ci).
cut -d, -f1,2,3,7,8 "$csv" | tail -n +2 >"$tmp/rows"
cat >"$tmp/want" <<ROWS
1,0,1,3,"placement=off elastic=off"
1,1,1.5,3,"placement=off elastic=off"
2,0,1,3,"placement=on elastic=off"
2,1,1.5,3,"placement=on elastic=off"
3,0,1,3,"placement=on elastic=on"
3,1,1.5,3,"placement=on elastic=on"
ROWS
cmp -s "$tmp/rows" "$tmp/want" || fail "rows: $(cat "$tmp/rows")"
awk -F, 'NR > 1 && !($5 <= $4 && $4 <= $6) { bad = 1 } END { exit bad }' "$csv" || fail "an interval misses its mean: $(cat "$csv")"
if command -v gnuplot >/dev/null 2>&1; then
    [ -s "$tmp/fig/ablation-abl-tetriserve-uniform-r12.png" ] && [ -s "$tmp/fig/ablation-abl-tetriserve-uniform-r12.svg" ] ||
        fail "no PNG and SVG: $(cat "$tmp/plot.out")"
fi
[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_plot_ablation: all passed"
