#!/bin/sh
# tests/cli_profile.sh: `tetri profile` end to end: showing, lookups (exact, interpolated,
# extrapolated, fallback), generation and its determinism against the shipped default profile,
# and every kind of bad profile and bad option through the command (exit code and the reason).
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_profile.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
shipped=$TETRI_SRCDIR/profiles/default.db
unset TETRI_PROFILE

# expect CODE FRAGMENT... -- ARGS: runs tetri profile ARGS, checks the exit code and that stdout
# plus stderr contain every fragment.
expect() {
    want=$1; shift
    frags=
    while [ "$1" != -- ]; do frags="$frags
$1"; shift; done
    shift
    "$TETRI" profile "$@" >"$tmp/out" 2>&1
    got=$?
    [ "$got" -eq "$want" ] || fail "tetri profile $*: exit $got, want $want ($(cat "$tmp/out"))"
    printf '%s\n' "$frags" | {
        while IFS= read -r frag; do
            [ -z "$frag" ] && continue
            grep -qF -- "$frag" "$tmp/out" || echo "tetri profile $*: output lacks '$frag': $(head -c 600 "$tmp/out")"
        done
    } >"$tmp/missing"
    [ -s "$tmp/missing" ] && fail "$(cat "$tmp/missing")"
    return 0
}

# ---- help ----
expect 0 --lookup --analytic --hardware TETRI_PROFILE docs/profiles.md "h100x8, h200x8, a40x4" examples -- --help

# ---- show ----
expect 0 "profile $shipped" "h100x8" "<- shown" "deg 8" "flux-dev   2048x2048" "sd3-medium" "analytic" -- --db "$shipped"
expect 0 "a40x4" "pcie" "deg 4" -- --db "$shipped" --hardware a40x4
# The default lookup: $TETRI_PROFILE first.
TETRI_PROFILE=$shipped "$TETRI" profile >"$tmp/env" 2>&1 || fail "TETRI_PROFILE=default.db tetri profile: $(cat "$tmp/env")"
grep -qF "profile $shipped" "$tmp/env" || fail "tetri profile ignores TETRI_PROFILE"
TETRI_PROFILE=$tmp/nowhere.db "$TETRI" profile >"$tmp/env" 2>&1 && fail "a TETRI_PROFILE that does not exist is accepted"
grep -qF "TETRI_PROFILE: profile $tmp/nowhere.db: No such file" "$tmp/env" ||
    fail "the missing TETRI_PROFILE is not named: $(cat "$tmp/env")"

# ---- lookups ----
expect 0 "1280x1280 (6400 tokens) degree 2" "interpolated over tokens" "analytic" -- \
    --db "$shipped" --lookup --model flux-dev --res 1280 --degree 2
expect 0 "1024x1024" "exact: a profiled resolution" -- --db "$shipped" --lookup --model flux --res 1024 --degree 8
expect 0 "1280x720" "interpolated" -- --db "$shipped" --lookup --model sd3 --res 1280x720 --degree 1
expect 0 "extrapolated beyond" -- --db "$shipped" --lookup --model flux-dev --res 4096 --degree 8
expect 0 "batch 3" "interpolated" -- --db "$shipped" --lookup --model flux-dev --res 384 --degree 1 --batch 3
expect 0 "pcie" "exact" -- --db "$shipped" --hardware a40x4 --lookup --model flux-dev --res 1024 --degree 4 --link pcie
expect 0 "degree 3" "the analytic model's prediction" -- \
    --db "$shipped" --lookup --model flux-dev --res 1024 --degree 3 --analytic-fallback
# The interpolated value lies between its neighbours.
ms() { "$TETRI" profile --db "$shipped" --lookup --model flux-dev --degree 2 --res "$1" | sed -n 's/.*: \([0-9.]*\) ms per step.*/\1/p'; }
lo=$(ms 1024) mid=$(ms 1280) hi=$(ms 1536)
awk -v a="$lo" -v b="$mid" -v c="$hi" 'BEGIN { exit !(a + 0 < b + 0 && b + 0 < c + 0) }' ||
    fail "interpolated 1280 ($mid ms) not between 1024 ($lo) and 1536 ($hi)"

# ---- missing rows ----
expect 1 "hardware h100x8" "model flux-dev" "degree 3" "degree not profiled" "degrees profiled: 1, 2, 4, 8" -- \
    --db "$shipped" --lookup --model flux-dev --res 1024 --degree 3
expect 1 "degree 16" "exceeds" -- --db "$shipped" --lookup --model flux-dev --res 1024 --degree 16
expect 1 "no set of that many GPUs shares fast links" -- \
    --db "$shipped" --hardware a40x4 --lookup --model flux-dev --res 1024 --degree 4
expect 1 "batch 2" "batch size profiled only at other resolutions" -- \
    --db "$shipped" --lookup --model flux-dev --res 2048 --degree 1 --batch 2

# ---- bad profiles ----
expect 1 "--db: profile $tmp/absent.db: No such file" -- --db "$tmp/absent.db"
grep -qF "give one with" "$tmp/out" && fail "a missing --db file is told to give one: $(cat "$tmp/out")"
[ -e "$tmp/absent.db" ] && fail "opening a missing profile created it"
printf 'id,model,width\n0,flux-dev,1024\n' >"$tmp/trace.csv"
expect 1 "$tmp/trace.csv" "not an SQLite database" -- --db "$tmp/trace.csv"
expect 1 "unknown hardware 'b200x8'" "known: a40x4, h100x8, h200x8" -- --db "$shipped" --hardware b200x8
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$tmp/other.db" "CREATE TABLE runs (id INTEGER);"
    expect 1 "not a tetri profile" "no meta table" -- --db "$tmp/other.db"
    cp "$shipped" "$tmp/newer.db" && chmod u+w "$tmp/newer.db"
    sqlite3 "$tmp/newer.db" "UPDATE meta SET value = '7' WHERE key = 'schema_version';"
    expect 1 "schema version 7 is newer than this tetri reads (2)" -- --db "$tmp/newer.db"
    cp "$shipped" "$tmp/bad.db" && chmod u+w "$tmp/bad.db"
    sqlite3 "$tmp/bad.db" "PRAGMA ignore_check_constraints = ON;
        UPDATE step_latency SET median_ns = -5 WHERE hardware = 'h100x8' AND model = 'flux-dev' AND width = 512 AND degree = 2 AND batch = 1;"
    expect 1 "$tmp/bad.db" "step_latency row" "flux-dev 512x512 degree 2 batch 1" "median_ns must be" -- --db "$tmp/bad.db"
    expect 0 "a40x4" -- --db "$tmp/bad.db" --hardware a40x4
else
    echo "SKIP: sqlite3 command absent: the no-meta, newer-schema and bad-row cases (tests/test_profiles covers them)"
fi

# ---- generation ----
expect 0 "calibration against" "measured predicted" "h200x8   2xH200 SP table" "rms log error" "wrote $tmp/gen.db" -- \
    --analytic --out "$tmp/gen.db"
# Same rows as the shipped default, and byte-identical when generated again.
for hw in h100x8 h200x8 a40x4; do
    "$TETRI" profile --db "$shipped" --hardware "$hw" | sed 1d >"$tmp/shipped.$hw"
    "$TETRI" profile --db "$tmp/gen.db" --hardware "$hw" | sed 1d >"$tmp/gen.$hw"
    cmp -s "$tmp/shipped.$hw" "$tmp/gen.$hw" ||
        fail "profiles/default.db ($hw) differs from a fresh tetri profile --analytic: regenerate it"
done
"$TETRI" profile --analytic --out "$tmp/gen2.db" >/dev/null || fail "second generation failed"
cmp -s "$tmp/gen.db" "$tmp/gen2.db" || fail "two generations are not byte-identical"
expect 0 "wrote $tmp/h100.db (h100x8)" -- --analytic --out "$tmp/h100.db" --hardware h100x8
expect 1 "unknown hardware 'a40x4'" "known: h100x8" -- --db "$tmp/h100.db" --hardware a40x4
# An existing profile is replaced only with --force; anything else never (a results database, a
# CSV, an empty file), and is left as it was.
expect 1 "$tmp/h100.db: exists (a tetri profile); give --force to replace it" -- --analytic --out "$tmp/h100.db" --hardware a40x4
expect 0 "wrote $tmp/h100.db (a40x4)" -- --analytic --out "$tmp/h100.db" --hardware a40x4 --force
expect 0 "a40x4" -- --db "$tmp/h100.db" --hardware a40x4
"$TETRI" sim --profile "$shipped" -n 5 --db "$tmp/results.db" -q >/dev/null 2>&1 || fail "tetri sim for a results database"
printf 'id,model\n' >"$tmp/trace.csv"
: >"$tmp/empty.db"
for victim in results.db:"a tetri results database" trace.csv:"not an SQLite database" empty.db:"an empty file"; do
    f=$tmp/${victim%%:*}
    cp "$f" "$tmp/before"
    expect 1 "$f: exists and is not a tetri profile (${victim#*:}); not replacing it" -- --analytic --out "$f" --force
    cmp -s "$f" "$tmp/before" || fail "--analytic --out $f changed it"
done
expect 2 "go with --analytic or --calibration" -- --force
expect 0 "refitted (rms log error 0.07" "attn_head64_factor 0.57" -- --calibration --fit

# ---- what-if constants ----
expect 0 "constants overridden (--set launch_us=1,coll_host_us=5)" "launch 1.00 us/kernel" "wrote $tmp/graphs.db" -- \
    --analytic --out "$tmp/graphs.db" --hardware h100x8 --set launch_us=1,coll_host_us=5
# Without eager host costs a second GPU helps even at 256 (with them it hurts: checked above).
ms_in() { "$TETRI" profile --db "$1" --lookup --model flux-dev --res 256 --degree "$2" | sed -n 's/.*: \([0-9.]*\) ms per step.*/\1/p'; }
g1=$(ms_in "$tmp/graphs.db" 1) g2=$(ms_in "$tmp/graphs.db" 2) e1=$(ms_in "$shipped" 1) e2=$(ms_in "$shipped" 2)
awk -v g1="$g1" -v g2="$g2" -v e1="$e1" -v e2="$e2" 'BEGIN { exit !(g2 + 0 < g1 + 0 && e2 + 0 > e1 + 0) }' ||
    fail "what-if (graphs) 256: deg1 $g1 deg2 $g2 ms; eager: deg1 $e1 deg2 $e2 ms"
if command -v sqlite3 >/dev/null 2>&1; then
    sqlite3 "$tmp/graphs.db" "SELECT DISTINCT method FROM step_latency" | grep -qF "launch 1.0 us, all-to-all host 5 us" ||
        fail "the what-if rows' method does not record the constants"
fi
expect 2 "--set: option launch_us: -1 is outside" -- --calibration --set launch_us=-1
expect 2 "--set: unknown option 'warp'" "known: launch_us" -- --calibration --set warp=9
expect 2 "go with --analytic or --calibration" -- --set launch_us=1

# ---- bad options ----
expect 2 "no analytic model for 'b200x8'" "known: h100x8, h200x8, a40x4" -- --analytic --out "$tmp/x.db" --hardware b200x8
[ -e "$tmp/x.db" ] && fail "a failed generation left a file"
expect 2 "--analytic needs --out" -- --analytic
expect 2 "--lookup needs --model, --res and --degree" -- --lookup --model flux-dev
expect 2 "--res '1000'" -- --lookup --model flux-dev --res 1000 --degree 1
expect 2 "--res '64x'" -- --lookup --model flux-dev --res 64x --degree 1
expect 2 "--degree '0'" -- --lookup --model flux-dev --res 1024 --degree 0
expect 2 "--model 'sdxl'" -- --lookup --model sdxl --res 1024 --degree 1
expect 2 "--link 'ib'" -- --lookup --model flux-dev --res 1024 --degree 2 --link ib
expect 2 "go with --lookup" -- --degree 2
expect 2 "separate modes" -- --lookup --analytic
expect 2 "unknown option '--frobnicate'" -- --frobnicate
expect 2 "--db needs a value" -- --db
expect 2 "unexpected argument 'extra'" -- extra

# The shipped measured profile of one H200 (tetri profile measure): every row measured
"$TETRI" profile --db "$TETRI_SRCDIR/profiles/h200x1.db" >"$tmp/h200" 2>&1 || fail "profiles/h200x1.db does not load: $(cat "$tmp/h200")"
grep -q "26 rows: 26 measured, 0 analytic" "$tmp/h200" || fail "profiles/h200x1.db: not 26 measured rows: $(tail -3 "$tmp/h200")"
"$TETRI" profile --db "$TETRI_SRCDIR/profiles/h200x1.db" --lookup --model flux-dev --res 512 --degree 1 | grep -q "37.52" ||
    fail "profiles/h200x1.db: FLUX 512 px is not its measured 37.526 ms"
# its idle speed-up, measured in session 10 (tetri profile measure --idle-speedup)
grep -qF "idle speed-up: after 50 ms or more of idling, a block's first 163 ms of steps run at 0.9032 x" "$tmp/h200" ||
    fail "profiles/h200x1.db: not its measured idle speed-up: $(tail -2 "$tmp/h200")"
# a profile without the row (the analytic default) says so
"$TETRI" profile --db "$TETRI_SRCDIR/profiles/default.db" 2>&1 | grep -qF "idle speed-up: none (blocks after idling run as back to back)" ||
    fail "profiles/default.db: 'idle speed-up: none' not shown"
# another idle_speedup row (the table as profiles/schema.sql makes it) is shown
if command -v sqlite3 >/dev/null 2>&1; then
    cp "$TETRI_SRCDIR/profiles/h200x1.db" "$tmp/idle.db" && chmod u+w "$tmp/idle.db"
    sed -n '/CREATE TABLE IF NOT EXISTS idle_speedup/,/);/p' "$TETRI_SRCDIR/profiles/schema.sql" | sqlite3 "$tmp/idle.db" &&
        sqlite3 "$tmp/idle.db" "INSERT OR REPLACE INTO idle_speedup VALUES ('h200x1', 50000000, 500000000, 0.964, 'fitted', 'test')" ||
        fail "adding an idle_speedup row"
    "$TETRI" profile --db "$tmp/idle.db" >"$tmp/idle" 2>&1 || fail "a profile with an idle_speedup row: $(cat "$tmp/idle")"
    grep -qF "idle speed-up: after 50 ms or more of idling, a block's first 500 ms of steps run at 0.9640 x" "$tmp/idle" ||
        fail "the idle_speedup row is not shown: $(tail -2 "$tmp/idle")"
fi

# The shipped profile of tetri's own executor at degrees 1-8 (tetri profile measure --degrees on one
# H200): degree 1 measured, degrees 2-8 one rank's compute measured + all-to-alls modelled, the link
# model and its source in the hardware row
"$TETRI" profile --db "$TETRI_SRCDIR/profiles/tetri-h200x8.db" >"$tmp/h200x8" 2>&1 ||
    fail "profiles/tetri-h200x8.db does not load: $(cat "$tmp/h200x8")"
grep -q "32 rows: 8 measured, 0 analytic, 24 measured compute + modelled all-to-alls" "$tmp/h200x8" ||
    fail "profiles/tetri-h200x8.db: not 8 measured + 24 modelled-comm rows: $(tail -3 "$tmp/h200x8")"
grep -q "^link model of h200x8 .*nvlink 282.0 GB/s" "$tmp/h200x8" && grep -q "source: NCCL all-to-all between 2 x H200" "$tmp/h200x8" ||
    fail "profiles/tetri-h200x8.db: the link model and its source are not shown: $(cat "$tmp/h200x8")"
grep -q "^flux-dev   2048x2048      1 nvlink    684.33    335.66    175.88     92.64 m+c" "$tmp/h200x8" ||
    fail "profiles/tetri-h200x8.db: FLUX 2048 px row differs from the measured one: $(grep 2048 "$tmp/h200x8")"

# tetri profile measure's options are checked before any GPU is touched (where tetri has its GPU
# part; without it the command says so and the checks are skipped).
"$TETRI" profile measure --help >"$tmp/mhelp" 2>&1 || fail "profile measure --help exits non-zero"
grep -qF -- "--interleave Q" "$tmp/mhelp" || fail "profile measure --help lacks --interleave"
grep -qF -- "--timing HOW     served (default)" "$tmp/mhelp" || fail "profile measure --help lacks --timing"
if "$TETRI" profile measure --out "$tmp/m.db" --interleave abc >"$tmp/out" 2>"$tmp/err"; then
    fail "profile measure --interleave abc exits 0"
elif ! grep -q "built without CUDA" "$tmp/err"; then
    grep -qF -- "--interleave 'abc': steps per turn" "$tmp/err" || fail "--interleave abc: $(cat "$tmp/err")"
    "$TETRI" profile measure --out "$tmp/m.db" --interleave 5 --degrees 2 --link-model h200x8 --hardware h200x8 \
        >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 2 ] && grep -qF -- "--interleave takes the degree-1 rows in turns: --degrees has no 1" "$tmp/err" ||
        fail "--interleave without degree 1: $(cat "$tmp/err")"
    "$TETRI" profile measure --out "$tmp/m.db" --timing sometimes >"$tmp/out" 2>"$tmp/err"
    [ $? -eq 2 ] && grep -qF -- "--timing 'sometimes': served (steps back to back) or synced (each step waited for)" "$tmp/err" ||
        fail "--timing sometimes: $(cat "$tmp/err")"
    for bad in "--batch 2-4" "--interleave 0" "--timing synced"; do
        # shellcheck disable=SC2086 # the options split on purpose
        "$TETRI" profile measure --out "$tmp/m.db" --idle-speedup $bad >"$tmp/out" 2>"$tmp/err"
        [ $? -eq 2 ] && grep -qF -- "--idle-speedup compares steps after idling with the batch-1 degree-1 rows" "$tmp/err" ||
            fail "--idle-speedup $bad: $(cat "$tmp/err")"
    done
fi
grep -qF -- "--idle-speedup" "$tmp/mhelp" || fail "profile measure --help lacks --idle-speedup"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_profile: all passed"
