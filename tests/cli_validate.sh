#!/bin/sh
# tests/cli_validate.sh: `tetri validate` end to end on the emulated backend at speed 100 (a 24-request
# trace, two policies: a few seconds): every number of its CSV recomputed from the database it wrote
# (tetri report --requests for the latencies, SQL for the blocks), the KS statistic recomputed from
# the two latency samples and its p-value from D; --from-db and a rerun give the same bytes; tetri
# report and tetri plot see the runs; --strict; the envelope of jittered simulated runs (4 counted,
# 5 shown, its figures recomputed from the database, --strict judging by it); the option errors,
# `--live gpu` among them; and the shipped H200 runs compared from their database.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_validate.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"

# expect CODE FRAGMENT CMD ARGS...: exit status CODE and FRAGMENT on stderr.
expect() {
    want=$1 frag=$2 cmd=$3
    shift 3
    "$TETRI" "$cmd" "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "tetri $cmd $*: exit $got, want $want ($(cat "$tmp/err"))"
    grep -qF -- "$frag" "$tmp/err" || fail "tetri $cmd $*: stderr lacks '$frag': $(cat "$tmp/err")"
}

# ---- options ----
"$TETRI" validate --help >"$tmp/help" || fail "validate --help exits non-zero"
for w in --live --from-db --strict --csv --target-mean --target-p99 --target-attainment --ks-alpha emulated "status 3"; do
    grep -qF -- "$w" "$tmp/help" || fail "validate --help does not mention $w"
done
expect 2 "--live is required" validate --policy rssp
# --live gpu in a build without CUDA: a clear error before anything runs (the simulator's pass included)
if "$TETRI" --help 2>&1 | grep -q "(not in this build"; then
    expect 1 "this tetri was built without CUDA" validate --live gpu --policy rssp -n 4 --db "$tmp/gpu.db"
    "$TETRI" report --db "$tmp/gpu.db" --csv - 2>/dev/null | grep -q . && fail "validate --live gpu without CUDA ran something"
    expect 1 "this tetri was built without CUDA" serve --backend gpu --policy rssp -n 4 --db "$tmp/gpu.db"
else
    echo "SKIP: a CUDA build: --live gpu is the GPU backend's (make check-gpu)"
fi
expect 2 "--live: 'gpu2' is not a backend (emulated or gpu)" validate --live gpu2
expect 2 "tetri validate takes --live" validate --live emulated --backend emulated
expect 2 "--stop-after does not apply" validate --live emulated --stop-after 1
expect 2 "--target-mean: 'x' is not a number" validate --live emulated --target-mean x
expect 2 "--ks-alpha: '2' is not a number in [0, 1]" validate --live emulated --ks-alpha 2
expect 2 "--csv needs a value" validate --live emulated --csv
expect 2 "--speed: '0' is not a number" validate --live emulated --speed 0
expect 2 "tetri validate: unknown option '--nonesuch'" validate --live emulated --nonesuch
expect 2 "'--policy' does not apply" validate --from-db --db "$tmp/none.db" --policy rssp
expect 2 "--live does not apply" validate --from-db --live emulated
expect 2 "--sim-jitter is for the runs" validate --from-db --sim-jitter
expect 2 "give one" validate --live emulated --jitter --sim-jitter
expect 1 "cannot open results database" validate --from-db --db "$tmp/none.db"

# ---- the same trace both ways ----
"$TETRI" workload -n 24 --rate 12 --slo-scale 1.5 --seed 3 -o "$tmp/trace.csv" >/dev/null || fail "workload"
db=$tmp/v.db
run_validate() { # DB ARGS...
    into=$1
    shift
    "$TETRI" validate --live emulated --speed 100 --policy edf-dyn --policy tetriserve --trace "$tmp/trace.csv" \
        --profile "$profile" --db "$into" "$@"
}
run_validate "$db" --csv "$tmp/v.csv" >"$tmp/table" 2>"$tmp/err" || fail "validate: exit $? ($(cat "$tmp/err"))"
cat "$tmp/table"
for w in "simulator: 2 runs (2 written" "emulated: 2 runs (2 written" "== edf-dyn | trace" "== tetriserve | trace" \
    "KS test            D = " "worst class" "verdict            " "of 2 pairs meet every target"; do
    grep -qF -- "$w" "$tmp/table" || fail "validate's output lacks '$w'"
done
[ "$(wc -l <"$tmp/v.csv")" -eq 3 ] || fail "validate CSV: want a header and 2 rows: $(cat "$tmp/v.csv")"

# Every request's latency from the database: "policy backend latency" (inf when dropped), sorted.
"$TETRI" report --db "$db" --requests - | sed 's/"\([^":]*\):[^"]*"/\1/' |
    awk -F, 'NR > 1 { print $8, $4, ($18 == "" ? "inf" : $18), ($19 == "met") }' | sort -k1,1 -k2,2 -k3,3g >"$tmp/lat"
# Per policy and backend: n finished mean p50 p90 p99 attainment (nearest rank, dropped = inf).
awk '{ k = $1 " " $2; n[k]++; v[k, n[k]] = $3; met[k] += $4; if ($3 != "inf") { fin[k]++; sum[k] += $3 } }
     function q(k, p,   r) { r = int(p * n[k]); if (r < p * n[k]) r++; return v[k, r] }
     END { for (k in n) printf "%s %d %d %.6f %s %s %s %.6f\n", k, n[k], fin[k], sum[k] / fin[k], q(k, 0.5), q(k, 0.9), q(k, 0.99), met[k] / n[k] }' \
    "$tmp/lat" | sort >"$tmp/stats"
# The two-sample KS statistic per policy from the same samples: the largest gap of the two empirical
# CDFs, taken after every copy of a value.
awk '{ c = ($2 == "sim") ? 0 : 1; n[$1, c]++; v[$1, c, n[$1, c]] = $3; pol[$1] = 1 }
     END { for (p in pol) { i = 1; j = 1; d = 0; a = n[p, 0]; b = n[p, 1]
               while (i <= a && j <= b) { x = (v[p, 0, i] + 0 <= v[p, 1, j] + 0) ? v[p, 0, i] : v[p, 1, j]
                   while (i <= a && v[p, 0, i] == x) i++
                   while (j <= b && v[p, 1, j] == x) j++
                   g = (i - 1) / a - (j - 1) / b; if (g < 0) g = -g; if (g > d) d = g }
               printf "%s %.6f\n", p, d } }' "$tmp/lat" | sort >"$tmp/ks"
# compare NAME GOT WANT [TOLERANCE]
compare() {
    awk -v g="$2" -v w="$3" -v t="${4:-0.0000015}" 'BEGIN { if (g == w) exit 0; d = g - w; if (d < 0) d = -d; exit !(d <= t) }' ||
        fail "$1: validate says $2, the database $3"
}
sed 's/"[^"]*"/P/g' "$tmp/v.csv" | awk -F, 'NR > 1' >"$tmp/rows"
while IFS=, read -r _ _ _ mix _ _ _ policy _ backend n_sim n_live fin_sim fin_live mean_sim mean_live mean_err p50_sim p50_live \
    _ p90_sim p90_live _ p99_sim p99_live p99_err att_sim att_live att_diff ks_d ks_p _ blocks failed block_err _; do
    [ "$mix" = uniform ] && [ "$backend" = emulated ] || fail "CSV row of $policy: mix $mix (the trace's generator's) backend $backend"
    set -- $(grep "^$policy sim " "$tmp/stats")
    compare "$policy n_sim" "$n_sim" "$3"; compare "$policy finished_sim" "$fin_sim" "$4"
    compare "$policy mean_sim" "$mean_sim" "$5"; compare "$policy p50_sim" "$p50_sim" "$6"
    compare "$policy p90_sim" "$p90_sim" "$7"; compare "$policy p99_sim" "$p99_sim" "$8"
    compare "$policy attainment_sim" "$att_sim" "$9"
    sim_mean=$5 sim_p99=$8 sim_att=$9
    set -- $(grep "^$policy emulated " "$tmp/stats")
    compare "$policy n_live" "$n_live" "$3"; compare "$policy finished_live" "$fin_live" "$4"
    compare "$policy mean_live" "$mean_live" "$5"; compare "$policy p50_live" "$p50_live" "$6"
    compare "$policy p90_live" "$p90_live" "$7"; compare "$policy p99_live" "$p99_live" "$8"
    compare "$policy attainment_live" "$att_live" "$9"
    compare "$policy mean_err" "$mean_err" "$(awk -v s="$sim_mean" -v l="$5" 'BEGIN { printf "%.6f", (l - s) / s }')" 0.000002
    compare "$policy p99_err" "$p99_err" "$(awk -v s="$sim_p99" -v l="$8" 'BEGIN { printf "%.6f", (l - s) / s }')" 0.000002
    compare "$policy attainment_diff" "$att_diff" "$(awk -v s="$sim_att" -v l="$9" 'BEGIN { printf "%.6f", l - s }')"
    compare "$policy ks_d" "$ks_d" "$(awk -v p="$policy" '$1 == p { print $2 }' "$tmp/ks")"
    # p = Q(sqrt(24 x 24 / 48) D), Kolmogorov's distribution, its alternating series (lambda > 0.5 here or p ~ 1)
    want_p=$(awk -v d="$ks_d" 'BEGIN { l = sqrt(12) * d; s = 0; for (j = 1; j <= 200; j++) s += (j % 2 ? 1 : -1) * exp(-2 * j * j * l * l)
                                       p = 2 * s; if (p > 1 || l < 0.3) p = 1; printf "%.6g", p }')
    compare "$policy ks_p" "$ks_p" "$want_p" 0.0001
    # The live blocks: count, failed, and mean relative duration error, in SQL.
    sql="SELECT count(*), sum(b.failed), printf('%.6f', avg(CASE WHEN NOT b.failed AND b.pred_end_ns > b.pred_start_ns
         THEN (b.end_ns - b.start_ns) * 1.0 / (b.pred_end_ns - b.pred_start_ns) - 1 END))
         FROM block b JOIN run r ON r.id = b.run_id WHERE r.backend = 'emulated' AND r.policy_name = '$policy'"
    if command -v sqlite3 >/dev/null 2>&1; then
        set -- $(sqlite3 -separator ' ' "$db" "$sql")
        compare "$policy blocks" "$((blocks + failed))" "$1"; compare "$policy failed blocks" "$failed" "$2"
        compare "$policy block_err_mean" "$block_err" "$3"
    else
        echo "SKIP: no sqlite3 for the block check"
    fi
done <"$tmp/rows"
[ "$(grep -c . "$tmp/rows")" -eq 2 ] || fail "expected 2 CSV rows"

# A rerun runs nothing (both passes already there) and prints the same comparison; --from-db too,
# and to stdout alone with --csv -.
run_validate "$db" --csv "$tmp/again.csv" >"$tmp/table2" 2>"$tmp/err" || fail "rerun: $(cat "$tmp/err")"
grep -qF "simulator: 2 runs (0 written, 2 already there)" "$tmp/table2" || fail "rerun ran again: $(cat "$tmp/table2")"
cmp -s "$tmp/v.csv" "$tmp/again.csv" || fail "rerun: the CSV differs"
"$TETRI" validate --from-db --db "$db" --csv - >"$tmp/from.csv" 2>"$tmp/err" || fail "--from-db: $(cat "$tmp/err")"
cmp -s "$tmp/v.csv" "$tmp/from.csv" || fail "--from-db --csv -: differs from the run's CSV: $(diff "$tmp/v.csv" "$tmp/from.csv")"
run_validate "$db" --csv - >"$tmp/stdout.csv" 2>/dev/null || fail "--csv -"
cmp -s "$tmp/v.csv" "$tmp/stdout.csv" || fail "--csv - while running: stdout is not the CSV alone"
"$TETRI" validate --from-db --db "$db" --experiment validate >"$tmp/table3" 2>"$tmp/err" || fail "--from-db --experiment"
sed -n '/^== /,$p' "$tmp/table" | cmp -s - "$tmp/table3" || fail "--from-db's table differs from the run's"
expect 1 "no experiment 'nope'" validate --from-db --db "$db" --experiment nope

# --sim-jitter: the simulator's runs draw block times (their keys say jitter=on), the live ones do
# not, and they pair all the same, also from the database.
run_validate "$tmp/j.db" --sim-jitter --experiment jittered --csv "$tmp/j.csv" >"$tmp/out" 2>"$tmp/err" ||
    fail "--sim-jitter: $(cat "$tmp/err")"
# (each twin, jittered, is an envelope of one run: counted, not shown)
sed 's/"[^"]*"/Q/g' "$tmp/j.csv" | grep -c ',Q,Q,1,,,,,,,,,,,$' | grep -qx 2 || fail "--sim-jitter: want 2 pairs: $(cat "$tmp/j.csv")"
grep -q 'jitter=on.*jitter=off' "$tmp/j.csv" || fail "--sim-jitter: the twins are not simulated with jitter and run without: $(cat "$tmp/j.csv")"
"$TETRI" validate --from-db --db "$tmp/j.db" --experiment jittered --csv - >"$tmp/jfrom.csv" 2>/dev/null || fail "--from-db of --sim-jitter"
cmp -s "$tmp/j.csv" "$tmp/jfrom.csv" || fail "--from-db pairs --sim-jitter runs differently: $(diff "$tmp/j.csv" "$tmp/jfrom.csv")"

# --strict: exit 3 when a target is missed, 0 when every one is met.
"$TETRI" validate --from-db --db "$db" --strict --target-mean 0 --target-p99 0 >/dev/null 2>&1
[ $? -eq 3 ] || fail "--strict with targets of 0: exit $?, want 3"
"$TETRI" validate --from-db --db "$db" --strict --target-mean 1e6 --target-p99 1e6 --target-attainment 1 --ks-alpha 0 \
    >"$tmp/out" 2>&1 || fail "--strict with every target met: exit $? ($(cat "$tmp/out"))"
grep -qF "2 of 2 pairs meet every target" "$tmp/out" || fail "targets met, table says otherwise: $(cat "$tmp/out")"

# --twin-profile: the same live runs against the simulator on another profile (a copy of the
# profile with every step 3% longer): no twin until the trace is simulated on it, then each live
# run pairs with that run, whose figures are the simulated side (its mean differs from the own
# twin's); the live side does not move.
expect 2 "give --from-db" validate --twin-profile "$profile" --live emulated --policy rssp
expect 1 "--twin-profile: profile $tmp/none.db: No such file" validate --from-db --db "$db" --twin-profile "$tmp/none.db"
grep -qF -- "--db, or" "$tmp/err" && fail "--twin-profile of a missing file is told to give --db: $(cat "$tmp/err")"
expect 1 "--twin-actual: profile $tmp/none.db: No such file" validate --from-db --db "$db" --twin-actual "$tmp/none.db"
if command -v sqlite3 >/dev/null 2>&1; then
    tw=$tmp/tw.db
    cp "$db" "$tw"
    cp "$profile" "$tmp/slow.db"
    sqlite3 "$tmp/slow.db" "UPDATE step_latency SET median_ns = median_ns * 103 / 100, p10_ns = p10_ns * 103 / 100,
                            p90_ns = p90_ns * 103 / 100" || fail "making the slower profile"
    expect 1 "no live run with a simulated twin on profile $tmp/slow.db" validate --from-db --db "$tw" --twin-profile "$tmp/slow.db"
    mkdir -p "$tmp/moved" && cp "$tmp/trace.csv" "$tmp/moved/t.csv" # a twin is found by its trace's content too
    "$TETRI" sim --trace "$tmp/moved/t.csv" --profile "$tmp/slow.db" --policy edf-dyn --policy tetriserve --db "$tw" \
        --experiment validate >/dev/null 2>"$tmp/err" || fail "sim on the slower profile: $(cat "$tmp/err")"
    "$TETRI" validate --from-db --db "$tw" --twin-profile "$tmp/slow.db" >"$tmp/twin.txt" 2>"$tmp/err" ||
        fail "--twin-profile: $(cat "$tmp/err")"
    grep -q "^twins: the simulator on $tmp/slow.db (profile=[0-9a-f]\{16\})" "$tmp/twin.txt" || fail "--twin-profile: no 'twins:' line: $(cat "$tmp/twin.txt")"
    sed 's/"[^"]*"/Q/g' "$tmp/v.csv" | awk -F, 'NR > 1' | sort >"$tmp/own.rows"
    # check_twin_rows OPTION: validate --from-db OPTION $tmp/slow.db gives 2 pairs whose live columns
    # (n, finished, mean, p50, p90, p99, attainment) are the own twins' and whose simulated mean is not
    check_twin_rows() {
        "$TETRI" validate --from-db --db "$tw" "$1" "$tmp/slow.db" --csv - 2>/dev/null | sed 's/"[^"]*"/Q/g' | awk -F, 'NR > 1' |
            sort >"$tmp/twin.rows"
        [ "$(wc -l <"$tmp/twin.rows")" -eq 2 ] || fail "$1: want 2 pairs: $(cat "$tmp/twin.rows")"
        cut -d, -f12,14,16,19,22,25,28 "$tmp/twin.rows" >"$tmp/tl"
        cut -d, -f12,14,16,19,22,25,28 "$tmp/own.rows" | cmp -s - "$tmp/tl" || fail "$1 moved the live side"
        for policy in edf-dyn tetriserve; do
            got=$(awk -F, -v p="$policy" '$8 == p { print $15 }' "$tmp/twin.rows")
            own=$(awk -F, -v p="$policy" '$8 == p { print $15 }' "$tmp/own.rows")
            [ "$got" != "$own" ] || fail "$1 $policy: the simulated mean did not change ($got)"
        done
    }
    check_twin_rows --twin-profile
    # live runs of two hardware: a digest is one hardware's, so --experiment must choose
    cp "$tw" "$tmp/tw2.db"
    "$TETRI" validate --live emulated --speed 100 --policy edf-dyn --trace "$tmp/trace.csv" --profile "$profile" --hardware a40x4 \
        --db "$tmp/tw2.db" --experiment other >/dev/null 2>"$tmp/err" || fail "validate on a40x4: $(cat "$tmp/err")"
    expect 1 "--twin-profile: the live runs are of hardware" validate --from-db --db "$tmp/tw2.db" --twin-profile "$tmp/slow.db"
    "$TETRI" validate --from-db --db "$tmp/tw2.db" --experiment validate --twin-profile "$tmp/slow.db" >/dev/null 2>"$tmp/err" ||
        fail "--twin-profile --experiment validate beside another hardware's runs: $(cat "$tmp/err")"

    # --twin-actual: twins that predicted with the live runs' own profile while their blocks ran by
    # the slower copy (tetri sim --actual-profile): none until simulated so, then each live run
    # pairs with that run; its simulated mean is not the own twin's; the live side does not move.
    expect 2 "--twin-actual compares runs already in --db: give --from-db" validate --twin-actual "$tmp/slow.db" --live emulated --policy rssp
    expect 1 "whose blocks ran by $tmp/slow.db" validate --from-db --db "$tw" --twin-actual "$tmp/slow.db"
    expect 1 "--actual-profile: actual profile $TETRI_SRCDIR/profiles/h200x1.db (h200x1: 1 GPUs) has other GPUs than profile" \
        sim --trace "$tmp/trace.csv" --profile "$profile" --actual-profile "$TETRI_SRCDIR/profiles/h200x1.db" --policy edf-dyn \
        --db "$tmp/none-written.db"
    [ ! -e "$tmp/none-written.db" ] || fail "sim --actual-profile of other GPUs wrote $tmp/none-written.db"
    "$TETRI" sim --trace "$tmp/moved/t.csv" --profile "$profile" --actual-profile "$tmp/slow.db" --policy edf-dyn --policy tetriserve \
        --db "$tw" --experiment validate >"$tmp/act.txt" 2>"$tmp/err" || fail "sim --actual-profile: $(cat "$tmp/err")"
    grep -q "blocks run by $tmp/slow.db" "$tmp/act.txt" || fail "sim --actual-profile does not say so: $(cat "$tmp/act.txt")"
    "$TETRI" validate --from-db --db "$tw" --twin-actual "$tmp/slow.db" >"$tmp/twa.txt" 2>"$tmp/err" ||
        fail "--twin-actual: $(cat "$tmp/err")"
    grep -q "^twins: blocks run by $tmp/slow.db (actual=[0-9a-f]\{16\}), predicted by the profile each live run ran on" "$tmp/twa.txt" ||
        fail "--twin-actual: no 'twins:' line: $(cat "$tmp/twa.txt")"
    check_twin_rows --twin-actual
else
    echo "SKIP: no sqlite3 for --twin-profile's slower profile"
fi

# The envelope: jittered simulated runs of the same trace (copied under another name: a trace is
# known by its content) in the same database and experiment. Four are counted, not shown; five are.
env=$tmp/env.db
cp "$db" "$env"
mkdir -p "$tmp/elsewhere" && cp "$tmp/trace.csv" "$tmp/elsewhere/renamed.csv"
add_jittered() { # SEEDS
    "$TETRI" sim --trace "$tmp/elsewhere/renamed.csv" --profile "$profile" --policy edf-dyn --policy tetriserve --jitter \
        --seeds "$1" --db "$env" --experiment validate >/dev/null 2>"$tmp/err" || fail "sim --jitter --seeds $1: $(cat "$tmp/err")"
}
add_jittered 1-4
"$TETRI" validate --from-db --db "$env" >"$tmp/env4" 2>"$tmp/err" || fail "--from-db with 4 jittered: $(cat "$tmp/err")"
"$TETRI" validate --from-db --db "$db" >"$tmp/env0" 2>/dev/null
cmp -s "$tmp/env0" "$tmp/env4" || fail "4 jittered runs changed the table: $(diff "$tmp/env0" "$tmp/env4")"
"$TETRI" validate --from-db --db "$env" --csv - 2>/dev/null | sed 's/"[^"]*"/Q/g' | grep -c ',Q,Q,4,,,,,,,,,,,$' | grep -qx 2 ||
    fail "4 jittered runs: the CSV does not count them alone"
add_jittered 5
"$TETRI" validate --from-db --db "$env" >"$tmp/env5" 2>"$tmp/err" || fail "--from-db with 5 jittered: $(cat "$tmp/err")"
cat "$tmp/env5"
for w in "envelope (5 jittered sims)" "  mean (finished)  live " "  p99              live " "  SLO attainment   live " \
    "envelope verdict   " "  envelope" "of 2 pairs with an envelope (5 or more jittered sims) lie within it"; do
    [ "$(grep -cF -- "$w" "$tmp/env5")" -ge 1 ] || fail "the envelope's output lacks '$w'"
done
[ "$(grep -c '^envelope (5 jittered sims)$' "$tmp/env5")" -eq 2 ] || fail "want an envelope per pair"
"$TETRI" validate --from-db --db "$env" --csv "$tmp/env.csv" >/dev/null 2>&1 || fail "--from-db --csv with the envelope"
head -1 "$tmp/env.csv" | grep -q ',live_run_key,envelope_runs,envelope_mean_min_s,envelope_mean_max_s,envelope_mean_rank,envelope_p99_min_s,envelope_p99_max_s,envelope_p99_rank,envelope_attainment_min,envelope_attainment_max,envelope_attainment_rank,envelope_verdict,envelope_misses$' ||
    fail "the CSV header lacks the envelope's columns: $(head -1 "$tmp/env.csv")"
# The envelope's figures from the database: per policy, the min and max over the jittered runs of
# the mean latency and the attainment, and the live values' percentile ranks among them.
if command -v sqlite3 >/dev/null 2>&1; then
    sed 's/"[^"]*"/Q/g' "$tmp/env.csv" | awk -F, 'NR > 1' >"$tmp/env.rows"
    while IFS=, read -r _ _ _ _ _ _ _ policy _ _ _ _ _ _ _ mean_live _ _ _ _ _ _ _ _ _ _ _ att_live _ _ _ _ _ _ _ _ _ _ _ _ \
        verdict _ _ _ _ _ runs mean_min mean_max mean_rank _ _ _ att_min att_max att_rank env_verdict env_misses; do
        compare "$policy envelope_runs" "$runs" 5
        sql="SELECT printf('%.6f %.6f %.6f %.6f', min(m), max(m), min(a), max(a)) FROM (SELECT
             avg(CASE WHEN q.finish_ns >= 0 THEN (q.finish_ns - q.arrival_ns) / 1e9 END) AS m,
             avg(q.outcome = 'met') AS a FROM run r JOIN request q ON q.run_id = r.id
             WHERE r.backend = 'sim' AND r.policy_name = '$policy' AND r.run_key LIKE '%|jitter=on,%' GROUP BY r.id)"
        set -- $(sqlite3 "$env" "$sql")
        compare "$policy envelope_mean_min_s" "$mean_min" "$1"; compare "$policy envelope_mean_max_s" "$mean_max" "$2"
        compare "$policy envelope_attainment_min" "$att_min" "$3"; compare "$policy envelope_attainment_max" "$att_max" "$4"
        sql="SELECT printf('%.1f', 100.0 * (sum(m < $mean_live - 5e-7) + 0.5 * sum(abs(m - $mean_live) <= 5e-7)) / count(*)) FROM
             (SELECT avg(CASE WHEN q.finish_ns >= 0 THEN (q.finish_ns - q.arrival_ns) / 1e9 END) AS m FROM run r JOIN request q
              ON q.run_id = r.id WHERE r.backend = 'sim' AND r.policy_name = '$policy' AND r.run_key LIKE '%|jitter=on,%' GROUP BY r.id)"
        compare "$policy envelope_mean_rank" "$mean_rank" "$(sqlite3 "$env" "$sql")"
        # the verdict: within min..max widened by the targets
        want=$(awk -v l="$mean_live" -v lo="$mean_min" -v hi="$mean_max" -v a="$att_live" -v alo="$att_min" -v ahi="$att_max" \
            'BEGIN { m = (l < lo * 0.98 - 1e-9 || l > hi * 1.02 + 1e-9); s = (a < alo - 0.02 - 1e-9 || a > ahi + 0.02 + 1e-9)
                     print m, s }')
        set -- $want
        case "$env_misses" in *mean*) got_m=1 ;; *) got_m=0 ;; esac
        case "$env_misses" in *attainment*) got_s=1 ;; *) got_s=0 ;; esac
        [ "$got_m $got_s" = "$1 $2" ] || fail "$policy envelope misses '$env_misses', the figures say mean $1 attainment $2"
        case "$env_verdict/$env_misses" in WITHIN/ | OUTSIDE/?*) ;; *) fail "$policy envelope verdict '$env_verdict' misses '$env_misses'" ;; esac
        [ -n "$verdict" ] && [ -n "$att_rank" ] || fail "$policy: empty verdict or rank"
    done <"$tmp/env.rows"
    [ "$(grep -c . "$tmp/env.rows")" -eq 2 ] || fail "the envelope's CSV: want 2 rows"
else
    echo "SKIP: no sqlite3 for the envelope check"
fi
# --strict judges a pair with an envelope by it: targets of 0 miss every pair, a wide envelope holds them.
"$TETRI" validate --from-db --db "$env" --strict --target-mean 1e6 --target-p99 1e6 --target-attainment 1 \
    --ks-alpha 1 >"$tmp/out" 2>&1 || fail "--strict within a wide envelope, KS missed: exit $? ($(cat "$tmp/out"))"
grep -qF "2 of 2 pairs with an envelope (5 or more jittered sims) lie within it" "$tmp/out" || fail "wide envelope: $(cat "$tmp/out")"
# Outside: the live runs made 10% slower (their latencies stretched in a copy) lie above every
# jittered run; the emulated runs themselves may lie inside a narrow envelope or not.
if command -v sqlite3 >/dev/null 2>&1; then
    cp "$env" "$tmp/env-slow.db"
    sqlite3 "$tmp/env-slow.db" "UPDATE request SET finish_ns = finish_ns + (finish_ns - arrival_ns) / 10
                                WHERE finish_ns >= 0 AND run_id IN (SELECT id FROM run WHERE backend = 'emulated')"
    "$TETRI" validate --from-db --db "$tmp/env-slow.db" --strict --target-mean 0 --target-p99 0 --target-attainment 0 \
        >"$tmp/out" 2>&1
    rc=$?
    [ $rc -eq 3 ] || fail "--strict outside the envelope: exit $rc, want 3 ($(cat "$tmp/out"))"
    grep -qF "0 of 2 pairs with an envelope (5 or more jittered sims) lie within it" "$tmp/out" ||
        fail "live runs 10% slower: $(cat "$tmp/out")"
fi

# tetri report and tetri plot see both backends.
"$TETRI" report --db "$db" --experiment validate --runs >"$tmp/report" || fail "report"
for p in edf-dyn tetriserve; do
    for b in sim emulated; do
        grep -E "^$p .* $b +24 " "$tmp/report" >/dev/null || fail "report --runs has no $p $b run: $(cat "$tmp/report")"
    done
done
TETRI_GNUPLOT=$tmp/none "$TETRI" plot --db "$db" --out "$tmp/plots" --figures sim_vs_real >/dev/null 2>&1 || fail "plot"
[ "$(grep -c '^2,' "$tmp/plots/sim_vs_real.csv")" -gt 0 ] || fail "sim_vs_real: no block rows"
if command -v "${TETRI_GNUPLOT:-gnuplot}" >/dev/null 2>&1; then
    "$TETRI" plot --db "$db" --out "$tmp/img" --figures sim_vs_real >/dev/null 2>"$tmp/err" || fail "plot: $(cat "$tmp/err")"
    head -c 8 "$tmp/img/sim_vs_real.png" | od -An -c | grep -q 'P   N   G' || fail "sim_vs_real.png is not a PNG"
    grep -q "<svg" "$tmp/img/sim_vs_real.svg" && grep -q "tetriserve" "$tmp/img/sim_vs_real.svg" ||
        fail "sim_vs_real.svg lacks its lines"
else
    echo "SKIP: no gnuplot for the image"
fi

# The H200 runs in bench/results (docs/validation.md, section 7), read only: the table the docs show.
h200=$TETRI_SRCDIR/bench/results/h200/serve/validate.db
if [ -f "$h200" ]; then
    "$TETRI" validate --from-db --db "$h200" --csv - >"$tmp/h200.csv" 2>"$tmp/err" || fail "--from-db on the H200 runs: $(cat "$tmp/err")"
    sed 's/"[^"]*"/Q/g' "$tmp/h200.csv" | cut -d, -f8,17,29,41,42 >"$tmp/h200.cut"
    printf '%s\n' policy_name,mean_err,attainment_diff,verdict,misses edf-dyn,-0.062000,-0.011111,MISS,mean \
        tetriserve,-0.000086,-0.011111,PASS, xdit-sp1,0.053771,-0.011111,MISS,mean | cmp -s - "$tmp/h200.cut" ||
        fail "the H200 comparison is not docs/validation.md's: $(cat "$tmp/h200.cut")"
else
    echo "SKIP: no bench/results/h200 (not in the tarball)"
fi

[ "$failures" -eq 0 ] && echo "cli_validate: all passed"
exit "$failures"
