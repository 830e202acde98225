#!/bin/sh
# tests/cli_plot.sh: `tetri plot` over the fixture database (tests/make_results_db): the CSV of each
# figure (values from the fixture's formula, reproducible), the no-gnuplot path (CSV and scripts,
# a warning, exit 0), bad input; then, when gnuplot is installed, non-empty PNG and SVG files.
set -u
: "${TETRI:?}" "${TETRI_BUILDDIR:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tetri-cli-plot.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() { grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "expected '$2' in $1"; }; }
nonempty() { [ -s "$1" ] || fail "missing or empty: $1"; }

db=$tmp/results.db
"$TETRI_BUILDDIR/tests/make_results_db" "$db" || fail "make_results_db"

# Without gnuplot: data and scripts, a clear warning, no image, exit 0.
TETRI_GNUPLOT=$tmp/no-such-gnuplot "$TETRI" plot --db "$db" --out "$tmp/nogp" --scale 1.2 >"$tmp/out" 2>"$tmp/err" \
  || fail "plot without gnuplot exited $?"
expect_in "$tmp/err" "gnuplot not found"
expect_in "$tmp/err" "NO IMAGES were made"
nonempty "$tmp/nogp/attainment_vs_scale-paper-sim-uniform-r12.csv"
nonempty "$tmp/nogp/plot.sh"
nonempty "$tmp/nogp/scripts/common.gp"
nonempty "$tmp/nogp/scripts/latency_cdf.gp"
ls "$tmp/nogp" | grep -q '\.png$' && fail "images without gnuplot?"
expect_in "$tmp/out" "$tmp/nogp/latency_cdf-paper-sim-uniform-r12-s1.2.csv"

# The data: tetriserve (policy 1), uniform, sim, scale 1.0: seeds 14 and 13 of 20 met. Error bars:
# mean +- t(0.975, 1) s / sqrt(2), t = 12.7062047 (plots/ci.h): wide with two seeds, not clipped.
d=$tmp/nogp
expect_in "$d/attainment_vs_scale-paper-sim-uniform-r12.csv" "policy_id,slo_scale,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,policy"
expect_in "$d/attainment_vs_scale-paper-sim-uniform-r12.csv" "1,1,0.675000,0.357345,0.992655,2,tetriserve"
expect_in "$d/attainment_vs_scale-paper-sim-uniform-r12.csv" "2,1.5,0.550000,-0.085310,1.185310,2,xdit-sp1"
# The paper's layout: one panel per mix (skewed = 1, uniform = 2), policy ids shared by the panels.
expect_in "$d/attainment_vs_scale_panels-paper-sim-r12.csv" "1,1,1,0.575000,0.257345,0.892655,2,skewed,tetriserve"
expect_in "$d/attainment_vs_scale_panels-paper-sim-r12.csv" "2,2,1.5,0.550000,-0.085310,1.185310,2,uniform,xdit-sp1"
[ -e "$d/attainment_vs_scale_panels-paper-exec-r12.csv" ] && fail "panels for one mix"
# Rates differ only in experiment 'rates': one attainment_vs_rate figure, xdit-sp1 at 18/min: 6 of 20.
expect_in "$d/attainment_vs_rate-rates-sim-uniform-s1.0.csv" "2,18,0.300000,0.300000,0.300000,1,xdit-sp1"
[ -e "$d/attainment_vs_rate-paper-sim-uniform-s1.0.csv" ] && fail "vs-rate figure for one rate"
# Per resolution, seeds pooled: tetriserve uniform 1.2 meets 17 + 16 of 40, 10 requests per side.
expect_in "$d/attainment_per_resolution-paper-sim-uniform-r12-s1.2.csv" "policy_id,resolution_index,resolution,met,n,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,policy"
expect_in "$d/attainment_per_resolution-paper-sim-uniform-r12-s1.2.csv" "1,0,256x256,"
met=$(awk -F, '$1 == 1 { m += $4; n += $5 } END { print m "/" n }' "$d/attainment_per_resolution-paper-sim-uniform-r12-s1.2.csv")
[ "$met" = "33/40" ] || fail "per-resolution met/n of tetriserve: $met, expected 33/40"
awk -F, 'NR > 1 && !($7 <= $6 && $6 <= $8 && $9 >= 1) { bad = 1 } END { exit bad }' "$d/attainment_per_resolution-paper-sim-uniform-r12-s1.2.csv" ||
    fail "per-resolution: a mean outside its interval: $(cat "$d/attainment_per_resolution-paper-sim-uniform-r12-s1.2.csv")"
# The latency CDF ends at the finished fraction: xdit-sp1 skewed 1.2 drops some requests.
last=$(awk -F, '$1 == 2 { f = $3 } END { print f }' "$d/latency_cdf-paper-sim-skewed-r12-s1.2.csv")
awk -v f="$last" 'BEGIN { exit !(f > 0 && f < 1) }' || fail "CDF of a policy that drops ends at $last"
nonempty "$d/degree_over_time-paper-sim-uniform-r12-s1.2.csv"
nonempty "$d/attainment_over_time-paper-sim-uniform-r12-s1.2.csv"
# Sim vs real attainment: only tetriserve ran on exec.
expect_in "$d/attainment_sim_vs_real-paper-uniform-r12.csv" "1,1,1,0.700000,0.700000,0.700000,1,exec,tetriserve"
grep -q 'xdit' "$d/attainment_sim_vs_real-paper-uniform-r12.csv" && fail "attainment_sim_vs_real has a policy without exec runs"
# Sim vs real latency and blocks (--scale 1.2): tetriserve, exec seed 1 against the simulator's seed 1
# only (seed 2 has no live twin); the fixture's requests are the same on both backends, so the two
# CDFs are equal: 17 met at half their deadline, 2 dropped, and request 17 (512 px, deadline 1.2 x 2 s)
# late by 1 s, the last to finish: at 3.4 s, 18 of 20.
s=$d/sim_vs_real-paper-uniform-r12-s1.2.csv
expect_in "$s" "panel,line_id,side,x,y,line"
[ "$(grep -c '^1,1,0,' "$s")" -eq 18 ] || fail "sim_vs_real: $(grep -c '^1,1,0,' "$s") simulated CDF rows, want 18"
[ "$(grep '^1,1,0,' "$s" | cut -d, -f4-)" = "$(grep '^1,1,1,' "$s" | cut -d, -f4-)" ] || fail "sim_vs_real: the two CDFs differ"
expect_in "$s" "1,1,1,3.400000,0.900000,tetriserve"
# the 5 exec blocks that did not fail, predicted 1 s, run 1 s + 2 (k - 1) x 10 ms
[ "$(grep -c '^2,1,1,1.000000,' "$s")" -eq 5 ] || fail "sim_vs_real: expected 5 block rows"
expect_in "$s" "2,1,1,1.000000,0.980000,tetriserve"
expect_in "$s" "2,1,1,1.000000,1.060000,tetriserve"
grep -q 'xdit' "$s" && fail "sim_vs_real has a policy without a live run"
[ -e "$d/sim_vs_real-paper-skewed-r12-s1.2.csv" ] && fail "sim_vs_real for a mix without live runs"

# Round granularity: one line per SLO scale over g; g=1 at scale 1.0 meets 14 - 2 of 20.
r=$d/attainment_vs_round-rounds-sim-uniform-r12-tetriserve.csv
expect_in "$r" "line_id,g,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,slo_scale,policy"
expect_in "$r" "1,1,0.600000,0.600000,0.600000,1,1.0,"
expect_in "$r" "2,10,0.900000,0.900000,0.900000,1,1.5,"
[ "$(grep -c '^1,' "$r")" -eq 4 ] || fail "round figure: expected 4 g values on line 1"
# Labels are per figure: in experiment paper tetriserve has one variant, so no options.
expect_in "$d/attainment_vs_scale-paper-sim-uniform-r12.csv" ",tetriserve"

# Reproducible: the same db gives the same CSV files.
TETRI_GNUPLOT=$tmp/no-such-gnuplot "$TETRI" plot --db "$db" --out "$tmp/again" --scale 1.2 >/dev/null 2>&1 || fail "second plot"
for f in "$d"/*.csv; do cmp -s "$f" "$tmp/again/$(basename "$f")" || fail "$(basename "$f") differs between two runs"; done

# Bad input.
"$TETRI" plot --db "$db" >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "no --out: exit status"
expect_in "$tmp/err" "--out DIR is required"
"$TETRI" plot --db "$db" --out "$tmp/x" --figures latency,cdf >/dev/null 2>"$tmp/err" && fail "bad --figures accepted"
expect_in "$tmp/err" "unknown figure 'latency'"
"$TETRI" plot --db "$tmp/none.db" --out "$tmp/x" >/dev/null 2>"$tmp/err" && fail "missing db accepted"
expect_in "$tmp/err" "$tmp/none.db: cannot open results database"
"$TETRI" plot --db "$db" --experiment nope --out "$tmp/x" >/dev/null 2>"$tmp/err" && fail "unknown experiment accepted"
expect_in "$tmp/err" "no experiment 'nope'; known: paper, rates, rounds"
TETRI_PLOTS_DIR=$tmp/empty "$TETRI" plot --db "$db" --out "$tmp/x" >/dev/null 2>"$tmp/err" && fail "missing scripts accepted"
expect_in "$tmp/err" "no gnuplot scripts"
: >"$tmp/file"
"$TETRI" plot --db "$db" --out "$tmp/file" >/dev/null 2>"$tmp/err" && fail "--out on a file accepted"
expect_in "$tmp/err" "exists and is not a directory"
"$TETRI" plot --db "$db" --out "$tmp/file/below" >/dev/null 2>"$tmp/err" && fail "--out below a file accepted"
expect_in "$tmp/err" "$tmp/file/below: $tmp/file exists and is not a directory"
# --out's missing parents are made, as mkdir -p
"$TETRI" plot --db "$db" --out "$tmp/deep/er/figs" --figures latency_cdf >/dev/null 2>"$tmp/err" ||
    fail "--out with missing parents: $(cat "$tmp/err")"
[ -f "$tmp/deep/er/figs/latency_cdf-paper-sim-uniform-r12-s1.2.csv" ] || fail "--out with missing parents: no figure in it"

# With gnuplot: every figure as PNG and SVG (skip when none is installed).
gp=${TETRI_GNUPLOT:-gnuplot}
command -v "$gp" >/dev/null 2>&1 || { echo "SKIP: no gnuplot ($gp) for the image half"; exit 77; }
"$TETRI" plot --db "$db" --out "$tmp/img" --scale 1.2 >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err" >&2; fail "plot exited $?"; }
n=$(wc -l <"$tmp/out")
[ "$n" -eq "$(ls "$tmp/img"/*.csv | wc -l)" ] || fail "$n figures printed, $(ls "$tmp/img"/*.csv | wc -l) CSV files"
for base in attainment_vs_scale-paper-sim-uniform-r12 attainment_vs_scale-paper-sim-skewed-r12 \
            latency_cdf-paper-sim-uniform-r12-s1.2 attainment_per_resolution-paper-sim-uniform-r12-s1.2 \
            degree_over_time-paper-sim-uniform-r12-s1.2 attainment_over_time-paper-sim-uniform-r12-s1.2 \
            attainment_vs_rate-rates-sim-uniform-s1.0 attainment_sim_vs_real-paper-uniform-r12 \
            sim_vs_real-paper-uniform-r12-s1.2 \
            attainment_vs_round-rounds-sim-uniform-r12-tetriserve attainment_vs_scale_panels-paper-sim-r12; do
  nonempty "$tmp/img/$base.png"
  nonempty "$tmp/img/$base.svg"
  expect_in "$tmp/out" "$tmp/img/$base.png $tmp/img/$base.svg"
  head -c 8 "$tmp/img/$base.png" | od -An -c | grep -q 'P   N   G' || fail "$base.png is not a PNG"
  expect_in "$tmp/img/$base.svg" "<svg"
  grep -qE "tetriserve|SLO scale" "$tmp/img/$base.svg" || fail "$base.svg has no line titles"
done
# plot.sh redraws the same figures without tetri.
rm "$tmp/img/latency_cdf-paper-sim-uniform-r12-s1.2.png"
(GNUPLOT=$gp "$tmp/img/plot.sh") || fail "plot.sh failed"
nonempty "$tmp/img/latency_cdf-paper-sim-uniform-r12-s1.2.png"
exit 0
