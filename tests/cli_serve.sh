#!/bin/sh
# tests/cli_serve.sh: `tetri serve --backend emulated` end to end, the short version of the
# simulator-vs-emulated check: the same trace through the simulator and the real-time host, per
# policy, SLO attainment and mean end-to-end latency compared; bad options; failure injection.
# The full-size check (300 requests, speed 20, tolerances 0.02 and 2%) is in docs/simulator.md;
# here 24 requests at speed 10 with room in the deadlines (SLO scale 1.5), and wider tolerances:
# a CI machine runs tests side by side, and a policy near its deadlines turns a late round into a
# request served on one GPU instead of eight (docs/simulator.md, "Real time").
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_serve.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"

# expect CODE FRAGMENT CMD -- ARGS
expect() {
    want=$1 frag=$2 cmd=$3
    shift 4
    (cd "$tmp" && "$TETRI" "$cmd" "$@") >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "tetri $cmd $*: exit $got, want $want ($(cat "$tmp/err"))"
    grep -qF -- "$frag" "$tmp/err" || fail "tetri $cmd $*: stderr lacks '$frag': $(cat "$tmp/err")"
}

# ---- options ----
"$TETRI" serve --help >"$tmp/help" || fail "serve --help exits non-zero"
for w in --backend --speed --settle-us --host-time --max-failures --inject-failures emulated "tetri sim --help"; do
    grep -qF -- "$w" "$tmp/help" || fail "serve --help does not mention $w"
done
expect 2 "--backend is required" serve -- --policy rssp
# several GPUs: the GPU backend has communicators for aligned blocks only (refused before any GPU starts)
expect 2 "--sets any: the GPU backend on 8 GPUs" serve -- --backend gpu --sets any --profile "$TETRI_SRCDIR/profiles/default.db"
expect 2 "'gpu2' is not a backend" serve -- --backend gpu2
expect 2 "are options of --backend gpu" serve -- --backend emulated --devices 0
expect 2 "--speed: the GPU backend runs in real time" serve -- --backend gpu --speed 2
expect 2 "--devices is an option of tetri serve --backend gpu" sim -- --devices 0
expect 2 "--speed: '0' is not a number" serve -- --backend emulated --speed 0
expect 2 "--speed is an option of tetri serve" sim -- --speed 20
expect 2 "--host-time: 'fast' is neither real nor scaled" serve -- --backend emulated --host-time fast
expect 2 "--host-time is an option of tetri serve" sim -- --host-time scaled
expect 2 "--host-time is the emulated backend's" serve -- --backend gpu --host-time real
expect 2 "--max-failures: '1.5' is not a whole number" serve -- --backend emulated --max-failures 1.5
expect 2 "--policy nonesuch" serve -- --backend emulated --policy nonesuch --profile "$profile"

# ---- the same traces both ways: bench/sim_vs_emulated.sh with this test's size and tolerances ----
MIXES=uniform SCALES=1.5 SEED=3 TOL_SAR=0.1 TOL_MEAN_PCT=5 \
    sh "$TETRI_SRCDIR/bench/sim_vs_emulated.sh" "$TETRI" "$tmp/sve" 24 10 1 --profile "$profile" >"$tmp/sve.out" 2>&1 ||
    fail "emulated differs from the simulator beyond 0.1 attainment or 5% mean latency: $(cat "$tmp/sve.out")"
cat "$tmp/sve.out"
for p in xdit-sp4 rssp edf-dyn tetriserve; do
    grep -q "end->next start p50" "$tmp/sve/emu-uniform-1.5-$p.log" ||
        fail "serve $p does not print the host overhead: $(cat "$tmp/sve/emu-uniform-1.5-$p.log")"
done
"$TETRI" workload -n 24 --rate 12 --slo-scale 1.5 --seed 3 -o "$tmp/trace.csv" >/dev/null || fail "workload"

# ---- failures: injected, retried, then dropped; every request still ends once ----
"$TETRI" serve --backend emulated --speed 100 --policy xdit-sp2 --trace "$tmp/trace.csv" --profile "$profile" \
    --inject-failures 3 --max-failures 0 --db "$tmp/f.db" >"$tmp/f.out" 2>"$tmp/err" || fail "serve with failures: $(cat "$tmp/err")"
grep -q "failed block" "$tmp/f.out" || fail "serve does not report failed blocks: $(cat "$tmp/f.out")"
"$TETRI" report --db "$tmp/f.db" --csv - | awk -F, 'NR == 2 { if ($11 != 24 || $12 + $13 + $14 != 24 || $14 < 1) exit 1 }' ||
    fail "failed blocks: not every request ended once, or nothing was dropped"
# --host-time joins the run key: scaled is a run of its own beside the default (real)
"$TETRI" serve --backend emulated --speed 100 --host-time scaled --policy xdit-sp2 --trace "$tmp/trace.csv" --profile "$profile" \
    --inject-failures 3 --max-failures 0 --db "$tmp/f.db" >/dev/null 2>"$tmp/err" || fail "serve --host-time scaled: $(cat "$tmp/err")"
[ "$(sqlite3 "$tmp/f.db" "SELECT sum(run_key LIKE '%,host_time=real,%') || ' ' || sum(run_key LIKE '%,host_time=scaled,%') FROM run")" = "1 1" ] ||
    fail "--host-time: want one run keyed host_time=real and one host_time=scaled"

# ---- --actual-profile: the emulated blocks take the actual profile's time (1.5 x), the host
# predicts with --profile's; the run key names it; the GPU backend refuses it ----
cp "$profile" "$tmp/slow.db"
sqlite3 "$tmp/slow.db" "UPDATE step_latency SET median_ns = median_ns * 3 / 2, p10_ns = p10_ns * 3 / 2, p90_ns = p90_ns * 3 / 2" ||
    fail "making the slower profile"
"$TETRI" serve --backend emulated --speed 100 --policy xdit-sp2 --trace "$tmp/trace.csv" --profile "$profile" \
    --actual-profile "$tmp/slow.db" --db "$tmp/act.db" >/dev/null 2>"$tmp/err" || fail "serve --actual-profile: $(cat "$tmp/err")"
[ "$(sqlite3 "$tmp/act.db" "SELECT count(*) = 24 AND min(r) > 1.49 AND max(r) < 1.51 FROM (SELECT 1.0 * (end_ns - start_ns) /
     (pred_end_ns - pred_start_ns) AS r FROM block)")" = 1 ] || fail "serve --actual-profile: blocks are not 1.5 x their prediction"
[ "$(sqlite3 "$tmp/act.db" "SELECT run_key LIKE '%,actual=%|backend=emulated%' FROM run")" = 1 ] ||
    fail "serve --actual-profile: the run key does not name the actual profile before the backend part"
expect 1 "--actual-profile: profile $tmp/none.db: No such file or directory" serve -- --backend emulated \
    --actual-profile "$tmp/none.db" --policy rssp --profile "$profile" --trace "$tmp/trace.csv" --db "$tmp/none-run.db"
grep -qF "give one with" "$tmp/err" && fail "serve --actual-profile of a missing file is told to give one: $(cat "$tmp/err")"
expect 2 "--actual-profile: the gpu backend's blocks take what they take" serve -- --backend gpu --actual-profile "$tmp/slow.db" \
    --policy rssp --profile "$profile"

# ---- SIGINT: the run in progress ends partial, written with every request, exit 128 + 2 ----
"$TETRI" serve --backend emulated --speed 20 --policy xdit-sp1 --trace "$tmp/trace.csv" --profile "$profile" \
    --db "$tmp/int.db" >"$tmp/int.out" 2>"$tmp/int.err" &
pid=$!
sleep 1.5
kill -INT "$pid"
wait "$pid"
got=$?
[ "$got" -eq 130 ] || fail "serve interrupted by SIGINT: exit $got, want 130 ($(cat "$tmp/int.err"))"
grep -q "status 'partial'" "$tmp/int.err" || fail "serve interrupted: no word of the partial run: $(cat "$tmp/int.err")"
[ "$(sqlite3 "$tmp/int.db" "SELECT status || ' ' || note || ' ' || n_requests || ' ' || (met + late + dropped) FROM run")" = \
  "partial stopped by signal 2 24 24" ] || fail "the interrupted run is not written as partial with its 24 requests"
# run again (the same command: the same run key): the partial run is redone and replaced
"$TETRI" serve --backend emulated --speed 20 --policy xdit-sp1 --trace "$tmp/trace.csv" --profile "$profile" \
    --db "$tmp/int.db" >/dev/null 2>"$tmp/err" || fail "serve after an interrupted run: $(cat "$tmp/err")"
[ "$(sqlite3 "$tmp/int.db" "SELECT count(*) || ' ' || status FROM run")" = "1 done" ] || fail "the partial run was not replaced"

[ "$failures" -eq 0 ] && echo "cli_serve: all passed"
exit "$failures"
