#!/bin/sh
# tests/cli_sim.sh: `tetri sim` end to end: single runs and sweeps into a results database,
# reproducibility, resuming an interrupted sweep, trace replay, jitter, and bad options and files
# (exit code 2 for options, 1 for files, and a message naming what is wrong).
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_sim.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"

# expect CODE FRAGMENT -- ARGS: runs tetri sim ARGS; checks the exit code and that stderr has FRAGMENT.
expect() {
    want=$1 frag=$2
    shift 3
    (cd "$tmp" && "$TETRI" sim "$@") >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "tetri sim $*: exit $got, want $want ($(cat "$tmp/err"))"
    grep -qF -- "$frag" "$tmp/err" || fail "tetri sim $*: stderr lacks '$frag': $(cat "$tmp/err")"
}

# ---- help ----
"$TETRI" sim --help >"$tmp/help" || fail "--help exits non-zero"
for w in --policy --mix --slo-scale --seeds --rate --trace --profile --hardware --db --experiment \
         --jitter --check-plans 1.0:1.5:0.1 "tetri policies" "tetri report"; do
    grep -qF -- "$w" "$tmp/help" || fail "--help does not mention $w"
done

# ---- one run per policy, paper workload ----
"$TETRI" sim --profile "$profile" --policy xdit-sp4 --policy rssp --db "$tmp/one.db" >"$tmp/one.out" 2>&1 ||
    fail "single runs failed: $(cat "$tmp/one.out")"
[ "$(grep -c 'attainment' "$tmp/one.out")" -eq 2 ] || fail "want one line per run: $(cat "$tmp/one.out")"
grep -q '^  xdit-sp4 .*uniform .*scale 1.00 .*rate 12 .*seed 1 .*attainment 0\.[0-9]* ([0-9]* met, [0-9]* late, [0-9]* dropped of 300)' \
    "$tmp/one.out" || fail "run line format: $(cat "$tmp/one.out")"
grep -qF "$tmp/one.db" "$tmp/one.out" || fail "does not say where the db is"
"$TETRI" report --db "$tmp/one.db" --csv - >"$tmp/one.csv" || fail "report of the sim db failed"
[ "$(wc -l <"$tmp/one.csv")" -eq 3 ] || fail "want a header and 2 runs in the csv: $(cat "$tmp/one.csv")"

# ---- reproducible: same inputs, same rows ----
"$TETRI" sim --profile "$profile" --policy xdit-sp4 --policy rssp --db "$tmp/two.db" -q >/dev/null || fail "rerun failed"
"$TETRI" report --db "$tmp/two.db" --csv - >"$tmp/two.csv"
cmp -s "$tmp/one.csv" "$tmp/two.csv" || fail "same inputs, different results: $(diff "$tmp/one.csv" "$tmp/two.csv")"

# ---- a sweep, interrupted and resumed, equals one uninterrupted ----
sweep="--profile $profile --policy xdit-sp2 --policy rssp:backfill=on --mix uniform,skewed --slo-scale 1.0:1.2:0.1 --seeds 1-2 -n 80"
# shellcheck disable=SC2086
"$TETRI" sim $sweep --db "$tmp/full.db" --experiment s -q >"$tmp/full.out" || fail "sweep failed"
grep -q '^24 runs (24 written, 0 already there)' "$tmp/full.out" || fail "sweep summary: $(cat "$tmp/full.out")"
# shellcheck disable=SC2086
"$TETRI" sim $sweep --db "$tmp/part.db" --experiment s -q --stop-after 7 >"$tmp/p1.out" || fail "partial sweep failed"
grep -q '24 runs (7 written, 0 already there), stopped early' "$tmp/p1.out" || fail "stop-after: $(cat "$tmp/p1.out")"
# shellcheck disable=SC2086
"$TETRI" sim $sweep --db "$tmp/part.db" --experiment s >"$tmp/p2.out" || fail "resumed sweep failed"
grep -q '^24 runs (17 written, 7 already there)' "$tmp/p2.out" || fail "resume: $(tail -2 "$tmp/p2.out")"
[ "$(grep -c 'already in the database, skipped' "$tmp/p2.out")" -eq 7 ] || fail "resume does not list 7 skipped runs"
"$TETRI" report --db "$tmp/full.db" --csv - >"$tmp/full.csv"
"$TETRI" report --db "$tmp/part.db" --csv - >"$tmp/part.csv"
[ "$(wc -l <"$tmp/part.csv")" -eq 25 ] || fail "resumed db does not hold 24 runs"
cmp -s "$tmp/full.csv" "$tmp/part.csv" || fail "resumed sweep differs from an uninterrupted one"
# A real kill: SIGKILL partway (wherever it lands, even mid-transaction), then resume.
# shellcheck disable=SC2086
"$TETRI" sim $sweep --db "$tmp/kill.db" --experiment s -q >/dev/null 2>&1 &
pid=$!
sleep 0.1
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
# shellcheck disable=SC2086
"$TETRI" sim $sweep --db "$tmp/kill.db" --experiment s -q >"$tmp/k.out" || fail "sweep after kill -9 failed: $(cat "$tmp/k.out")"
"$TETRI" report --db "$tmp/kill.db" --csv - >"$tmp/kill.csv"
cmp -s "$tmp/full.csv" "$tmp/kill.csv" || fail "sweep resumed after kill -9 differs: $(cat "$tmp/k.out")"
"$TETRI" report --db "$tmp/full.db" >"$tmp/table" || fail "report table failed"
grep -q "1.0 .*1.1 .*1.2" "$tmp/table" || fail "table lacks the scale columns: $(cat "$tmp/table")"

# ---- trace replay, jitter, plan checking ----
"$TETRI" workload -n 50 --rate 20 --seed 4 -o "$tmp/t.csv" || fail "tetri workload failed"
"$TETRI" sim --profile "$profile" --policy all --trace "$tmp/t.csv" --check-plans --db "$tmp/t.db" >"$tmp/t.out" 2>&1 ||
    fail "trace replay of every policy failed: $(cat "$tmp/t.out")"
grep -q "trace (uniform scale 1.00 rate 20)  seed 1  attainment .* of 50)" "$tmp/t.out" || fail "trace run line: $(cat "$tmp/t.out")"
# A replay records the generator's parameters (the trace's '# tetri workload:' comment), so traces
# of other parameters stay apart in reports; an edited trace no longer matches its comment.
"$TETRI" workload -n 30 --rate 20 --seed 4 --slo-scale 1.5 -o "$tmp/t15.csv" || fail "tetri workload --slo-scale 1.5"
"$TETRI" workload -n 30 --rate 20 --seed 4 --mix skewed -o "$tmp/tsk.csv" || fail "tetri workload --mix skewed"
sed 's/^0,flux-dev,\([0-9]*\),\([0-9]*\),20,/0,flux-dev,\1,\2,21,/' "$tmp/t15.csv" >"$tmp/tedit.csv"
for f in t15 tsk tedit; do
    "$TETRI" sim --profile "$profile" --policy rssp --trace "$tmp/$f.csv" --db "$tmp/gen.db" >"$tmp/$f.out" 2>&1 ||
        fail "replay of $f.csv: $(cat "$tmp/$f.out")"
done
grep -q "trace $tmp/tedit.csv: its '# tetri workload:' comment no longer describes its requests" "$tmp/tedit.out" ||
    fail "an edited trace is not named: $(cat "$tmp/tedit.out")"
"$TETRI" report --db "$tmp/gen.db" --csv - >"$tmp/gen.csv"
for row in "sim,flux-dev,h100x8,sim,uniform,20,1.5,rssp," "sim,flux-dev,h100x8,sim,skewed,20,1,rssp," "sim,flux-dev,h100x8,sim,trace,0,0,rssp,"; do
    grep -qF "$row" "$tmp/gen.csv" || fail "replays: no row '$row': $(cat "$tmp/gen.csv")"
done
grep -q 'trace=.*t15.csv,digest=[0-9a-f]*,generator:model=flux-dev,steps=20,mix=uniform,.*slo_scale=1.5,seed=4,n=30' "$tmp/gen.csv" ||
    fail "replay's workload text lacks its generator: $(cat "$tmp/gen.csv")"
[ "$("$TETRI" policies 2>/dev/null | grep -c '^[a-z]')" -ge 5 ] 2>/dev/null || true
# "all" is every policy but optimal (exhaustive: it refuses the paper's 300 requests), so it runs
# the paper workload; optimal still runs when named.
"$TETRI" sim --profile "$profile" --policy all --slo-scale 1.0 --db "$tmp/all.db" -q >"$tmp/all.out" 2>&1 ||
    fail "--policy all on the paper workload failed: $(cat "$tmp/all.out")"
for p in xdit-sp1 xdit-sp8 rssp tetriserve edf-dyn least-slack; do
    "$TETRI" report --db "$tmp/all.db" --csv - | grep -q ",$p," || fail "--policy all did not run $p"
done
"$TETRI" report --db "$tmp/all.db" --csv - | grep -q ",optimal," && fail "--policy all ran optimal"
"$TETRI" sim --profile "$profile" --policy optimal --trace "$tmp/t.csv" --db "$tmp/opt.db" -q >"$tmp/opt.out" 2>&1 ||
    fail "optimal by name on a small trace failed: $(cat "$tmp/opt.out")"
"$TETRI" sim --profile "$profile" --policy rssp --trace "$tmp/t.csv" --jitter --seeds 1-2 --db "$tmp/j.db" >"$tmp/j.out" ||
    fail "jitter failed"
"$TETRI" sim --profile "$profile" --policy rssp --trace "$tmp/t.csv" --jitter --seeds 1-2 --db "$tmp/j2.db" -q >/dev/null
"$TETRI" report --db "$tmp/j.db" --csv - >"$tmp/j.csv"
"$TETRI" report --db "$tmp/j2.db" --csv - >"$tmp/j2.csv"
cmp -s "$tmp/j.csv" "$tmp/j2.csv" || fail "jitter with the same seeds is not reproducible"

# ---- bad options: exit 2, the option named ----
expect 2 "unknown option '--bogus'" -- --bogus
expect 2 "unknown policy 'nonesuch'" -- --profile "$profile" --policy nonesuch
expect 2 "unknown option 'zap'" -- --profile "$profile" --policy rssp:zap=1
expect 2 "is not FROM:TO:STEP" -- --slo-scale 1.0:1.5
expect 2 "needs STEP > 0" -- --slo-scale 1.5:1.0:0.1
expect 2 "--rate: 'fast' is not a number" -- --rate fast
expect 2 "--seeds: 'x' is not a seed" -- --seeds x
expect 2 "runs backwards" -- --seeds 5-1
expect 2 "--mix: 'lumpy' is not" -- --mix lumpy
expect 2 "--trace replays a file" -- --trace x.csv --mix skewed
expect 2 "-n" -- -n 0
expect 2 "--policy needs a value" -- --policy
expect 2 "unexpected argument 'extra'" -- extra
expect 2 "degree 8 is more than" -- --profile "$profile" --hardware a40x4 --policy xdit-sp8
# Lists: a stray comma is an error, not nothing.
expect 2 "--slo-scale: '1.0,' has an empty item" -- --slo-scale 1.0,
expect 2 "--rate: '12,,18' has an empty item" -- --rate 12,,18
expect 2 "--seeds: ',3' has an empty item" -- --seeds ,3
expect 2 "--mix: 'uniform,' has an empty item" -- --mix uniform,
# Numbers out of range are said to be, not "not a number" / "not an integer".
expect 2 "--rate: '1e-308' is out of range" -- --rate 1e-308
expect 2 "option g: 99999999999999999999 is out of range (1..1000)" -- --policy tetriserve:g=99999999999999999999
# A period that rounds to 0 ns would silently turn the timeline off.
expect 2 "--timeline: '1e-12' s is below 1 ns" -- --timeline 1e-12
# Control bytes in --policy are named, never echoed raw to the terminal.
esc=$(printf '\033')
expect 2 "byte 0x1b at offset 4 is a control character" -- --policy "rssp${esc}[31m"
grep -q "$esc" "$tmp/err" && fail "--policy echoed a control byte raw"
# "all" is every policy that fits the hardware: a40x4 has 4 GPUs, so no xdit-sp8.
"$TETRI" sim --profile "$profile" --hardware a40x4 --policy all -n 20 --db "$tmp/a40.db" >"$tmp/a40.out" 2>&1 ||
    fail "--policy all on a40x4: $(cat "$tmp/a40.out")"
grep -q "left out what does not fit a40x4's 4 GPUs: xdit-sp8 (needs 8 GPUs)" "$tmp/a40.out" || fail "--policy all on a40x4 does not say what it left out: $(cat "$tmp/a40.out")"
"$TETRI" report --db "$tmp/a40.db" --csv - >"$tmp/a40.csv"
grep -q ",xdit-sp4," "$tmp/a40.csv" && grep -q ",tetriserve," "$tmp/a40.csv" || fail "--policy all on a40x4 lacks xdit-sp4 or tetriserve"
grep -q ",xdit-sp8," "$tmp/a40.csv" && fail "--policy all on a40x4 ran xdit-sp8"

# ---- --sets: the cluster's GPU-set rule, in the run key only when aligned ----
expect 2 "--sets: 'ragged' is not any or aligned" -- --profile "$profile" --sets ragged
"$TETRI" sim --profile "$profile" --policy tetriserve --policy edf-dyn -n 60 --db "$tmp/sets.db" --experiment any >/dev/null 2>&1 &&
    "$TETRI" sim --profile "$profile" --policy tetriserve --policy edf-dyn -n 60 --sets any --db "$tmp/sets.db" --experiment any \
        >"$tmp/sets-any.out" 2>&1 &&
    "$TETRI" sim --profile "$profile" --policy tetriserve --policy edf-dyn -n 60 --sets aligned --db "$tmp/sets.db" --experiment al \
        >"$tmp/sets-al.out" 2>&1 || fail "--sets runs failed: $(cat "$tmp/sets-al.out")"
grep -q "2 already there" "$tmp/sets-any.out" || fail "--sets any is not the default's run: $(cat "$tmp/sets-any.out")"
grep -qF "sets=aligned" "$tmp/sets-al.out" || fail "--sets aligned is not said: $(cat "$tmp/sets-al.out")"
"$TETRI" report --db "$tmp/sets.db" --csv - >"$tmp/sets.csv" || fail "report of the --sets db failed"
[ "$(grep -c ',sets=aligned' "$tmp/sets.csv")" -eq 2 ] || fail "want sets=aligned in the 2 aligned run keys only: $(cat "$tmp/sets.csv")"
"$TETRI" sim --help | grep -qF -- "--sets any|aligned" || fail "--help does not mention --sets"

# ---- bad files: exit 1, the file named ----
# A missing profile names the option it came from (--profile, not tetri profile's --db).
expect 1 "--profile: profile $tmp/missing.db: No such file or directory" -- --profile "$tmp/missing.db" -n 5
grep -qF -- "--db" "$tmp/err" && fail "tetri sim --profile of a missing file names --db: $(cat "$tmp/err")"
expect 1 "--actual-profile: profile $tmp/missing.db: No such file" -- --profile "$profile" --actual-profile "$tmp/missing.db" -n 5
grep -qF -- "--db" "$tmp/err" && fail "tetri sim --actual-profile of a missing file names --db: $(cat "$tmp/err")"
(cd "$tmp" && TETRI_PROFILE="$tmp/missing.db" "$TETRI" sim -n 5) >/dev/null 2>"$tmp/err" &&
    fail "tetri sim with a missing \$TETRI_PROFILE exits 0"
grep -qF "TETRI_PROFILE: profile $tmp/missing.db: No such file" "$tmp/err" ||
    fail "tetri sim with a missing \$TETRI_PROFILE does not name it: $(cat "$tmp/err")"
expect 1 "nope.csv" -- --profile "$profile" --trace nope.csv
printf 'id,model,width,height,steps,arrival_s,deadline_s\n0,flux-dev,256,256,20,abc,1\n' >"$tmp/bad.csv"
expect 1 "bad.csv:2" -- --profile "$profile" --trace "$tmp/bad.csv"
# Names SQLite takes for no file: the results would be lost after "1 run (1 written)".
for name in "" ":memory:" "file:x.db?mode=memory"; do
    expect 1 "results database '$name'" -- --profile "$profile" -n 5 --db "$name"
done
[ -z "$(ls "$tmp" | grep -F 'x.db')" ] || fail "--db file:x.db?mode=memory left a file: $(ls "$tmp")"
echo "not a database" >"$tmp/junk.db"
expect 1 "junk.db" -- --profile "$profile" --db "$tmp/junk.db"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_sim: all passed"
