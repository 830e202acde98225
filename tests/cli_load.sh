#!/bin/sh
# tests/cli_load.sh: workloads relative to the profile (issue 15): --load and --slo-base profile:X
# through tetri workload and tetri sim. The invariant: on a profile whose every time is doubled,
# --load halves the rate and --slo-base profile:X doubles the deadlines, so every policy's
# attainment is exactly the same for the same seed. Also the run key and the bad inputs.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:=.}"
command -v sqlite3 >/dev/null 2>&1 || { echo "SKIP: the sqlite3 command is absent (needed to double a profile)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_load.XXXXXX") || exit 1
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
prof="$TETRI_SRCDIR/profiles/default.db"

# ---- the doubled profile: every step, migration and stage time x 2 ----
cp "$prof" "$tmp/double-profile.db" && chmod u+w "$tmp/double-profile.db"
sqlite3 "$tmp/double-profile.db" "UPDATE step_latency SET median_ns = 2 * median_ns, p10_ns = 2 * p10_ns, p90_ns = 2 * p90_ns;
    UPDATE migration SET median_ns = 2 * median_ns; UPDATE stage_latency SET median_ns = 2 * median_ns;" ||
    { echo "FAIL: cannot write the doubled profile"; exit 1; }

# ---- tetri workload: half the rate, double the bases (X = 3: whole ns, so doubling is exact) ----
for p in prof double; do
    f=$prof; [ "$p" = double ] && f="$tmp/double-profile.db"
    "$TETRI" workload --profile "$f" --load 0.8 --slo-base profile:3 -n 20 -o "$tmp/$p.csv" >"$tmp/$p.out" 2>&1 ||
        fail "tetri workload --load on $p: $(cat "$tmp/$p.out")"
done
for w in "load 0.8 of 8 GPUs: rate" "SLO base" "cheapest" "(degree"; do
    grep -qF "$w" "$tmp/prof.out" || fail "tetri workload --load does not print '$w': $(cat "$tmp/prof.out")"
done
field() { sed -n "1s/.*[:,]$2=\([^,]*\).*/\1/p" "$1"; }
r1=$(field "$tmp/prof.csv" rate) r2=$(field "$tmp/double.csv" rate)
awk -v a="$r1" -v b="$r2" 'BEGIN { exit !(a > 0 && a == 2 * b) }' || fail "doubled profile: rate $r2, want half of $r1"
[ "$(field "$tmp/prof.csv" load)" = 0.8 ] || fail "the workload text lacks load=0.8: $(head -1 "$tmp/prof.csv")"
b1=$(field "$tmp/prof.csv" slo_bases) b2=$(field "$tmp/double.csv" slo_bases)
[ -n "$b1" ] || fail "the workload text lacks slo_bases: $(head -1 "$tmp/prof.csv")"
twice=$(echo "$b1" | tr '/' '\n' | awk -F: '{ printf "%s%s:%.0f", (NR > 1 ? "/" : ""), $1, 2 * $2 }')
[ "$twice" = "$b2" ] || fail "doubled profile: slo_bases $b2, want $twice"
"$TETRI" workload -n 5 | head -1 | grep -q 'load=\|slo_bases=' && fail "default workload text mentions load or slo_bases"

# ---- tetri sim: the same attainment, policy by policy, run by run ----
# attain DB: hardware, mix, scale, policy, seed, n, met, late, dropped, attainment and the load from
# the run key (the rate, the latencies and GPU-seconds differ by design, and so does the mean
# degree: it is sampled on the timeline, whose period is not scaled); then every request's outcome.
attain() {
    "$TETRI" report --db "$1" --csv - | sed 's/"[^"]*load=\([0-9.]*\),[^"]*"$/\1/; s/"[^"]*"/P/g' |
        cut -d, -f3,5,7,8,10-15,20
    "$TETRI" report --db "$1" --requests - | sed 's/"[^"]*"/P/g' | cut -d, -f3,5,7-10,19
}
sweep() { # DB PROFILE ARGS...
    db=$1 f=$2; shift 2
    "$TETRI" sim -q --seeds 1-2 -n 80 --db "$db" --profile "$f" "$@" >>"$tmp/sim.out" 2>&1 || fail "tetri sim $*: $(cat "$tmp/sim.out")"
}
for p in prof double; do
    f=$prof; [ "$p" = double ] && f="$tmp/double-profile.db"
    sweep "$tmp/$p.db" "$f" --policy all --load 0.6,0.95 --slo-base profile:3
    sweep "$tmp/$p.db" "$f" --hardware a40x4 --policy rssp --policy edf-dyn --policy xdit-sp2 --mix skewed \
        --load 0.5:1.5:0.5 --slo-base profile:4:one --arrival gamma --cv 2
done
attain "$tmp/prof.db" >"$tmp/prof.att"
attain "$tmp/double.db" >"$tmp/double.att"
[ "$(wc -l <"$tmp/prof.att")" -gt 40 ] || fail "too few runs in the report: $(cat "$tmp/prof.att")"
cmp -s "$tmp/prof.att" "$tmp/double.att" || fail "attainment differs on the doubled profile: $(diff "$tmp/prof.att" "$tmp/double.att" | head -5)"
grep -q ',0\.95,\|,0\.95$' "$tmp/prof.att" || fail "the load is not in the run keys: $(head -3 "$tmp/prof.att")"
# a rerun resumes: every run is already there
"$TETRI" sim -q --seeds 1-2 -n 80 --db "$tmp/prof.db" --profile "$prof" --policy all --load 0.6,0.95 --slo-base profile:3 \
    >"$tmp/again" 2>&1 || fail "rerun: $(cat "$tmp/again")"
grep -q "(0 written" "$tmp/again" || fail "a rerun with --load does not resume: $(cat "$tmp/again")"
"$TETRI" report --db "$tmp/prof.db" --by hardware,rate,policy >"$tmp/report" 2>&1 || fail "report --by rate: $(cat "$tmp/report")"
# tetri report --by load: the loads as columns, one table per mix (the rates move with them)
"$TETRI" report --db "$tmp/prof.db" --by hardware,mix,load,policy >"$tmp/report" 2>&1 || fail "report --by load: $(cat "$tmp/report")"
grep -q "^policy  *0\.6  *0\.95$" "$tmp/report" || fail "report --by load lacks the columns 0.6 0.95: $(cat "$tmp/report")"
grep -q "^policy  *0\.5  *1  *1\.5$" "$tmp/report" || fail "report --by load lacks the columns 0.5 1 1.5: $(cat "$tmp/report")"
[ "$(grep -c '^==' "$tmp/report")" -eq 2 ] || fail "report --by load: not one table per hardware: $(cat "$tmp/report")"

# ---- bad input: exit 2 and a message naming the option ----
expect() { # CMD FRAGMENT ARGS...
    cmd=$1 frag=$2; shift 2
    "$TETRI" "$cmd" "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq 2 ] || fail "tetri $cmd $*: exit $got, want 2 ($(cat "$tmp/err"))"
    grep -qF -- "$frag" "$tmp/err" || fail "tetri $cmd $*: stderr lacks '$frag': $(cat "$tmp/err")"
}
for cmd in sim workload; do
    expect "$cmd" "--slo-base: 'profile:' needs X" --slo-base profile:
    expect "$cmd" "--slo-base: 'profile:-1' needs X" --slo-base profile:-1
    expect "$cmd" "after X comes :best" --slo-base profile:2:fastest
    expect "$cmd" "is not 'fixed' or profile:X" --slo-base 3
    expect "$cmd" "--load: 0 is out of range" --load 0
    expect "$cmd" "--load: 10.5 is out of range" --load 10.5
    expect "$cmd" "--rate and --load are exclusive" --load 0.5 --rate 12
done
expect sim "--load: 'x' is not a number" --load 0.5,x
expect serve "--rate and --load are exclusive" --backend emulated --load 0.5 --rate 12
expect sim "--load and --slo-base do not apply" --trace "$tmp/prof.csv" --load 0.5
expect workload "apply to --load and --slo-base profile:X only" --profile "$prof"
# --load 1.5 is overload, allowed
"$TETRI" workload --load 1.5 -n 3 >/dev/null 2>&1 || fail "--load 1.5 (overload) is refused"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_load: all passed"
