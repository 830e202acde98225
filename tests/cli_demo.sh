#!/bin/sh
# tests/cli_demo.sh: `tetri demo` end to end: the paper's scenario runs in seconds, prints the
# SLO-attainment table for every policy, both mixes and SLO scales 1.0-1.5, writes the results
# database (reproducibly) and the SLO-attainment plots, and says where; bad options exit 2.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_demo.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
export TETRI_PROFILE="$TETRI_SRCDIR/profiles/default.db"

"$TETRI" demo --help >"$tmp/help" || fail "--help exits non-zero"
for w in --out --seeds --scenario sd3-a40x4 tetri-demo "tetri report"; do grep -qF -- "$w" "$tmp/help" || fail "--help lacks $w"; done

start=$(date +%s)
"$TETRI" demo --out "$tmp/d" --seeds 1 >"$tmp/out" 2>"$tmp/err" || fail "demo failed: $(cat "$tmp/err")"
elapsed=$(($(date +%s) - start))
[ "$elapsed" -le 60 ] || fail "demo took $elapsed s (it must take seconds)"
cat "$tmp/out"
[ -s "$tmp/d/results.db" ] || fail "no $tmp/d/results.db"
grep -qF "results database: $tmp/d/results.db" "$tmp/out" || fail "does not say where the db is"
grep -q "rssp's degree per resolution.*[0-9]/[0-9]/[0-9]/[0-9] for 256/512/1024/2048" "$tmp/out" || fail "no rssp degree line"
grep -q "seeds 1\.\.1" "$tmp/out" || fail "does not print its seeds"
for mix in uniform skewed; do grep -q "== mix $mix" "$tmp/out" || fail "no table for mix $mix"; done
for p in xdit-sp1 xdit-sp2 xdit-sp4 xdit-sp8 rssp; do
    [ "$(grep -c "^$p  *0\.[0-9][0-9]* .*0\.[0-9]" "$tmp/out")" -eq 2 ] || fail "policy $p lacks a row in each table"
done
grep -q "1\.0 .*1\.1 .*1\.2 .*1\.3 .*1\.4 .*1\.5" "$tmp/out" || fail "table lacks the SLO scale columns"
n_runs=$("$TETRI" report --db "$tmp/d/results.db" --csv - | tail -n +2 | wc -l)
n_pol=$(sed -n 's/^  policies://p' "$tmp/out" | wc -w)
[ "$n_runs" -eq $((n_pol * 2 * 6)) ] || fail "want $n_pol policies x 2 mixes x 6 scales runs, db has $n_runs"

# The plots: PNGs when gnuplot is installed, and every path the demo prints exists.
if command -v gnuplot >/dev/null 2>&1; then
    ls "$tmp/d"/*.png >/dev/null 2>&1 || fail "no PNG in $tmp/d: $(ls "$tmp/d")"
    for f in $(grep -o "$tmp/d/[^ ]*\.png" "$tmp/out"); do [ -s "$f" ] || fail "printed plot $f is missing"; done
    grep -q "\.png" "$tmp/out" || fail "does not print the plot paths"
fi

# Reproducible: the same demo twice gives the same rows.
"$TETRI" demo --out "$tmp/e" --seeds 1 -q >/dev/null 2>&1 || fail "second demo failed"
"$TETRI" report --db "$tmp/d/results.db" --csv - >"$tmp/d.csv"
"$TETRI" report --db "$tmp/e/results.db" --csv - >"$tmp/e.csv"
cmp -s "$tmp/d.csv" "$tmp/e.csv" || fail "two demos differ"

# The SD3-medium on 4 x A40 scenario (docs/ampere.md): its hardware, relative SLO bases and rate,
# the policies that fit 4 GPUs, a table per mix and its plots.
"$TETRI" demo --scenario sd3-a40x4 --out "$tmp/a" --seeds 1 -q >"$tmp/a.out" 2>"$tmp/err" || fail "sd3-a40x4 failed: $(cat "$tmp/err")"
cat "$tmp/a.out"
grep -q "SD3-medium on 4 x A40 .*hardware a40x4" "$tmp/a.out" || fail "sd3-a40x4: no header naming a40x4"
grep -q "SLO bases (2.0 x the fastest standalone latency.*2048 px [0-9.]* s" "$tmp/a.out" || fail "sd3-a40x4: no SLO bases line"
grep -q "offering 0.5 of the 4 GPUs" "$tmp/a.out" || fail "sd3-a40x4: no load line"
grep -q "policies: xdit-sp1 xdit-sp2 xdit-sp4 rssp" "$tmp/a.out" || fail "sd3-a40x4: policies"
grep -q "xdit-sp8" "$tmp/a.out" && fail "sd3-a40x4 lists xdit-sp8 on 4 GPUs"
for mix in uniform skewed; do grep -q "== mix $mix .*model sd3-medium hardware a40x4" "$tmp/a.out" || fail "sd3-a40x4: no $mix table"; done
n_runs=$("$TETRI" report --db "$tmp/a/results.db" --csv - | tail -n +2 | wc -l)
n_pol=$(sed -n 's/^  policies://p' "$tmp/a.out" | wc -w)
[ "$n_runs" -eq $((n_pol * 2 * 6)) ] || fail "sd3-a40x4: want $n_pol policies x 2 mixes x 6 scales runs, db has $n_runs"
if command -v gnuplot >/dev/null 2>&1; then
    [ "$(ls "$tmp/a"/attainment_vs_scale-*.png 2>/dev/null | wc -l)" -eq 2 ] || fail "sd3-a40x4: not 2 attainment plots"
fi
"$TETRI" demo --scenario sd3-h100 >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "unknown --scenario should exit 2"
grep -q "flux-h100x8 or sd3-a40x4, not 'sd3-h100'" "$tmp/err" || fail "--scenario error does not list the scenarios"

"$TETRI" demo --seeds 0 >/dev/null 2>"$tmp/err"; [ $? -eq 2 ] || fail "--seeds 0 should exit 2"
grep -q "seeds" "$tmp/err" || fail "--seeds error does not name it"
"$TETRI" demo --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option should exit 2"
: >"$tmp/afile"
"$TETRI" demo --out "$tmp/afile/sub" >/dev/null 2>"$tmp/err"; [ $? -eq 1 ] || fail "unwritable --out should exit 1"
grep -qF "$tmp/afile" "$tmp/err" || fail "unwritable --out error does not name the directory"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_demo: all passed"
