#!/bin/sh
# tests/cli_sweep_jobs.sh: tetri sweep --jobs N: the same rows as --jobs 1 (every run and every
# request, as tetri report writes them); killed with SIGKILL at random moments and started again,
# it ends with exactly the runs of an uninterrupted sweep, no worker outliving its sweep; a line
# per run when not on a terminal, a progress bar on one, nothing but the summary with -q.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_sweep_jobs.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"

# 4 policies x 2 mixes x 2 scales x 6 seeds = 96 runs of 300 requests (a fraction of a second)
cat >"$tmp/g.ini" <<INI
profile = $profile
policy = xdit-sp2
policy = rssp
policy = edf-dyn
policy = tetriserve:g=5
mix = uniform,skewed
slo-scale = 1.0,1.3
seeds = 1-6
requests = 300
INI
dump() { # dump DB NAME: every run and every request as CSV, into $tmp/NAME.runs and .requests
    "$TETRI" report --db "$1" --csv - >"$tmp/$2.runs" && "$TETRI" report --db "$1" --requests - >"$tmp/$2.requests"
}
"$TETRI" sweep "$tmp/g.ini" --db "$tmp/j1.db" --jobs 1 >"$tmp/j1.out" 2>&1 || fail "--jobs 1: $(cat "$tmp/j1.out")"
dump "$tmp/j1.db" j1
[ "$(tail -n +2 "$tmp/j1.runs" | wc -l)" -eq 96 ] || fail "--jobs 1: want 96 runs: $(cat "$tmp/j1.out")"
[ "$(wc -l <"$tmp/j1.requests")" -gt 28800 ] || fail "--jobs 1: want 96 x 300 requests"
for jobs in 2 3; do
    "$TETRI" sweep "$tmp/g.ini" --db "$tmp/j$jobs.db" --jobs "$jobs" >"$tmp/j$jobs.out" 2>&1 || fail "--jobs $jobs: $(cat "$tmp/j$jobs.out")"
    dump "$tmp/j$jobs.db" "j$jobs"
    cmp -s "$tmp/j1.runs" "$tmp/j$jobs.runs" || fail "--jobs $jobs: runs differ from --jobs 1"
    cmp -s "$tmp/j1.requests" "$tmp/j$jobs.requests" || fail "--jobs $jobs: requests differ from --jobs 1"
    # Not a terminal: a line per run, as tetri sim prints them.
    [ "$(grep -c "  attainment " "$tmp/j$jobs.out")" -eq 96 ] || fail "--jobs $jobs: want 96 run lines: $(cat "$tmp/j$jobs.out")"
    grep -q "96 runs in .* s with $jobs jobs: .* runs/s" "$tmp/j$jobs.out" || fail "--jobs $jobs: no timing: $(cat "$tmp/j$jobs.out")"
done

# -q: the summary lines only.
"$TETRI" sweep "$tmp/g.ini" --db "$tmp/q.db" --jobs 2 -q >"$tmp/q.out" 2>&1 || fail "-q: $(cat "$tmp/q.out")"
[ "$(cat "$tmp/q.out")" = "96 runs (96 written, 0 already there) -> $tmp/q.db, experiment 'g'" ] || fail "-q printed: $(cat "$tmp/q.out")"

# On a terminal (script gives it one): a progress bar, no run lines.
if command -v script >/dev/null 2>&1; then
    script -qec "'$TETRI' sweep '$tmp/g.ini' --db '$tmp/tty.db' --jobs 2" /dev/null >"$tmp/tty.out" 2>&1 ||
        fail "on a terminal: $(cat "$tmp/tty.out")"
    grep -q "\[#*\] 96/96 runs  [0-9.]* runs/s  0:00 left" "$tmp/tty.out" || fail "no progress bar: $(cat "$tmp/tty.out")"
    grep -q "  attainment " "$tmp/tty.out" && fail "run lines under the progress bar: $(cat "$tmp/tty.out")"
else
    echo "cli_sweep_jobs: no script(1): the progress bar is not tested"
fi

# Killed at random moments (anywhere: in a worker's transaction, between runs, before the first),
# then started again until it completes: the runs are those of the uninterrupted sweep.
seed=${KILL_SEED:-$$}
echo "cli_sweep_jobs: kill delays from seed $seed"
kills=0
for round in $(seq 1 12); do
    delay=$(awk -v s="$seed" -v r="$round" 'BEGIN { srand(s + r); printf "%.3f", rand() * 0.12 }')
    "$TETRI" sweep "$tmp/g.ini" --db "$tmp/kill.db" --jobs 2 -q >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    [ $? -eq 137 ] && kills=$((kills + 1))
    printf ' %s' "$(sqlite3 "$tmp/kill.db" 'SELECT count(*) FROM run' 2>/dev/null)" >>"$tmp/counts"
    # The workers die with their parent (PR_SET_PDEATHSIG): none may go on writing.
    sleep 0.05
    if pgrep -f "$tmp/kill.db" >/dev/null 2>&1; then fail "round $round: a worker outlived its killed sweep"; fi
done
"$TETRI" sweep "$tmp/g.ini" --db "$tmp/kill.db" --jobs 2 -q >"$tmp/k.out" 2>&1 || fail "after the kills: $(cat "$tmp/k.out")"
dump "$tmp/kill.db" kill
cmp -s "$tmp/j1.runs" "$tmp/kill.runs" || fail "after $kills kills: runs differ from an uninterrupted sweep: $(diff "$tmp/j1.runs" "$tmp/kill.runs" | head -5)"
cmp -s "$tmp/j1.requests" "$tmp/kill.requests" || fail "after $kills kills: requests differ"
[ "$kills" -gt 0 ] || echo "cli_sweep_jobs: every sweep finished before its kill (a fast machine): resume after kill untested this time"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_sweep_jobs: all passed ($kills kills; runs in the database after each:$(cat "$tmp/counts"))"
