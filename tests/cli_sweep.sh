#!/bin/sh
# tests/cli_sweep.sh: tetri sweep FILE.ini: grids, policy option grids, profile/hardware/model
# lists, flags that override the file's keys, the stored config, and every kind of bad file named
# by FILE:LINE: key with exit status 2.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_sweep.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"
runs_of() { "$TETRI" report --db "$1" --csv - | tail -n +2 | wc -l; }

# ---- a file with a shared section and two grids ----
cat >"$tmp/e.ini" <<INI
; shared by every grid
[sweep]
profile = $profile
policy = xdit-sp2
policy = tetriserve:g=1,5,placement=on,off   ; 4 policies
seeds = 1-2
requests = 30
timeline = 0

[grid mixes]
mix = uniform, skewed

[grid rates]
policy = rssp
rate = 6,18
INI
"$TETRI" sweep "$tmp/e.ini" --db "$tmp/e.db" --jobs 1 >"$tmp/e.out" 2>&1 || fail "sweep failed: $(cat "$tmp/e.out")"
# mixes: 5 policies x 2 mixes x 2 seeds; rates: rssp x 2 rates x 2 seeds
[ "$(runs_of "$tmp/e.db")" -eq 24 ] || fail "want 24 runs, got $(runs_of "$tmp/e.db"): $(cat "$tmp/e.out")"
grep -q "tetri sweep: grid mixes (1 of 2)" "$tmp/e.out" || fail "no grid header: $(cat "$tmp/e.out")"
for p in "tetriserve:g=1,placement=on" "tetriserve:g=1,placement=off" "tetriserve:g=5,placement=on" "tetriserve:g=5,placement=off"; do
    grep -q "policy $p = " "$tmp/e.out" || fail "policy grid lacks $p: $(cat "$tmp/e.out")"
done
grep -q "runs/s; simulating .* s, writing results .* s" "$tmp/e.out" || fail "no timing line: $(cat "$tmp/e.out")"
# The experiment is the file's name; its config holds the command, what ran and the file.
config=$(sqlite3 "$tmp/e.db" "SELECT config FROM experiment WHERE name = 'e'")
echo "$config" | grep -q "^tetri sweep $tmp/e.ini --db $tmp/e.db --jobs 1$" || fail "config lacks the command: $config"
echo "$config" | grep -q "^ran: tetri sim --experiment e .*--policy rssp .*--rate 6,18" || fail "config lacks what ran: $config"
echo "$config" | grep -q "^policy = tetriserve:g=1,5,placement=on,off" || fail "config lacks the file: $config"
# Again: everything is there already.
"$TETRI" sweep "$tmp/e.ini" --db "$tmp/e.db" -q >"$tmp/e2.out" 2>&1 || fail "second sweep failed: $(cat "$tmp/e2.out")"
[ "$(grep -c "written, .* already there" "$tmp/e2.out")" -eq 2 ] && ! grep -q "[1-9][0-9]* written" "$tmp/e2.out" ||
    fail "second sweep wrote runs: $(cat "$tmp/e2.out")"

# ---- flags override the file: --seeds replaces seeds, --load replaces rate, --policy the policies ----
"$TETRI" sweep "$tmp/e.ini" --db "$tmp/f.db" --seeds 3 --load 0.5 --policy edf-dyn -q >"$tmp/f.out" 2>&1 ||
    fail "sweep with flags failed: $(cat "$tmp/f.out")"
# mixes: edf-dyn x 2 mixes x seed 3; rates: edf-dyn x load 0.5 (not rate) x seed 3 on the uniform mix,
# the same run as the first grid's: written once
[ "$(runs_of "$tmp/f.db")" -eq 2 ] || fail "flags: want 2 runs: $("$TETRI" report --db "$tmp/f.db" --csv -)"
grep -q "1 run (0 written, 1 already there)" "$tmp/f.out" || fail "flags: the second grid's run was not found done: $(cat "$tmp/f.out")"
"$TETRI" report --db "$tmp/f.db" --csv - | tail -n +2 | grep -v "edf-dyn" && fail "flags: a policy other than --policy ran"
"$TETRI" report --db "$tmp/f.db" --csv - | tail -n +2 | grep -q ",3,edf-dyn\|,edf-dyn" || fail "flags: no edf-dyn runs"

# ---- lists of hardware and models: a grid for each combination ----
cat >"$tmp/hw.ini" <<INI
profile = $profile
hardware = h100x8, a40x4
model = flux-dev,sd3-medium
policy = rssp
requests = 20
INI
"$TETRI" sweep "$tmp/hw.ini" --db "$tmp/hw.db" -q >"$tmp/hw.out" 2>&1 || fail "hardware x model sweep: $(cat "$tmp/hw.out")"
[ "$(runs_of "$tmp/hw.db")" -eq 4 ] || fail "hardware x model: want 4 runs: $(cat "$tmp/hw.out")"
for row in "flux-dev,h100x8" "sd3-medium,h100x8" "flux-dev,a40x4" "sd3-medium,a40x4"; do
    "$TETRI" report --db "$tmp/hw.db" --csv - | grep -q "$row" || fail "hardware x model: no $row run"
done

# ---- bad files: FILE:LINE: key: why, exit status 2 ----
bad() { # bad NAME LINE EXPECTED-MESSAGE-PATTERN: the file $tmp/NAME.ini must be refused so
    rm -f "$tmp/bad.db"
    "$TETRI" sweep "$tmp/$1.ini" --db "$tmp/bad.db" >"$tmp/bad.out" 2>&1
    rc=$?
    [ "$rc" -eq 2 ] || fail "$1: exit status $rc, want 2: $(cat "$tmp/bad.out")"
    grep -q "^tetri sweep: $tmp/$1.ini:$2: $3" "$tmp/bad.out" || fail "$1: want '$1.ini:$2: $3', got: $(cat "$tmp/bad.out")"
    [ ! -e "$tmp/bad.db" ] || fail "$1: a database was written"
}
printf 'policy = rssp\n\nslo_scale = 1.0\n' >"$tmp/unknown.ini"
bad unknown 3 "slo_scale: unknown key"
printf '[sweep]\nseeds = 1-3\nslo-scale = 1.0:abc:0.1\n' >"$tmp/value.ini"
bad value 3 "slo-scale: --slo-scale: '1.0:abc:0.1' is not FROM:TO:STEP"
printf 'policy = rssp\n[grids x]\nseeds = 1\n' >"$tmp/section.ini"
bad section 2 "\[grids x\]: the sections are \[sweep\] and \[grid NAME\]"
printf '# ok\npolicy = rssp\npolicy = nosuch:x=1\n' >"$tmp/policy.ini"
bad policy 3 "policy: 'nosuch' is not a policy"
printf 'policy = tetriserve:1,2\n' >"$tmp/grid.ini"
bad grid 1 "policy: policy 'tetriserve:1,2': value '1' comes before any key="
printf 'jitter = maybe\n' >"$tmp/switch.ini"
bad switch 1 "jitter: 'maybe' is not on or off"
printf 'policy = rssp\nthis is not a key\n' >"$tmp/syntax.ini"
bad syntax 2 "not 'key = value', '\[sweep\]' or '\[grid NAME\]'"
printf 'hardware = h100x8,,a40x4\n' >"$tmp/list.ini"
bad list 1 "hardware: "
printf 'rate = %0300d\n' 1 >"$tmp/long.ini"
bad long 1 "a line longer than"
# Flags are checked as tetri sim checks them; a missing file is a file error (1).
"$TETRI" sweep "$tmp/e.ini" --jobs 0 >"$tmp/o.out" 2>&1
[ $? -eq 2 ] && grep -q "jobs: --jobs: '0' is not a number of workers" "$tmp/o.out" || fail "--jobs 0: $(cat "$tmp/o.out")"
"$TETRI" sweep "$tmp/e.ini" --no-such >"$tmp/o.out" 2>&1
[ $? -eq 2 ] && grep -q "unknown option '--no-such'" "$tmp/o.out" || fail "--no-such: $(cat "$tmp/o.out")"
"$TETRI" sweep "$tmp/missing.ini" >"$tmp/o.out" 2>&1
[ $? -eq 1 ] && grep -q "missing.ini: No such file" "$tmp/o.out" || fail "missing file: $(cat "$tmp/o.out")"
"$TETRI" serve --backend emulated --jobs 2 >"$tmp/o.out" 2>&1
[ $? -eq 2 ] && grep -q "jobs is tetri sim's" "$tmp/o.out" || fail "serve --jobs: $(cat "$tmp/o.out")"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_sweep: all passed"
