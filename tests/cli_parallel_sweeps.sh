#!/bin/sh
# tests/cli_parallel_sweeps.sh: sweeps started together on one results database (a new file, a new
# experiment, overlapping grids) all exit 0, and every run is written exactly once: the schema, the
# experiment and a run another sweep wrote meanwhile are each taken as they are, not an error.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_parallel.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"

# Four sweeps a round, each over two policies and three seeds, sliding by one seed: together they
# cover seeds 1-6 (12 runs), and neighbours share two seeds (4 runs written by whichever is first).
rounds=${ROUNDS:-4}
for round in $(seq 1 "$rounds"); do
    db="$tmp/r$round.db"
    pids=""
    for k in 1 2 3 4; do
        "$TETRI" sim --profile "$profile" --policy xdit-sp2 --policy rssp --seeds "$k-$((k + 2))" -n 20 \
            --db "$db" --experiment "round$round" -q >"$tmp/out$k" 2>&1 &
        pids="$pids $!"
    done
    k=0
    for pid in $pids; do
        k=$((k + 1))
        wait "$pid" || fail "round $round: sweep $k exited $?: $(cat "$tmp/out$k")"
    done
    "$TETRI" report --db "$db" --csv - >"$tmp/r.csv" 2>&1 || fail "round $round: report: $(cat "$tmp/r.csv")"
    runs=$(($(wc -l <"$tmp/r.csv") - 1))
    [ "$runs" -eq 12 ] || fail "round $round: $runs runs in the database, want 12 (seeds 1-6 x 2 policies): $(cat "$tmp/r.csv")"
    # The CSV leaves out host timings, so a run written twice would be two identical lines.
    distinct=$(tail -n +2 "$tmp/r.csv" | sort -u | wc -l)
    [ "$distinct" -eq "$runs" ] || fail "round $round: $distinct distinct runs among $runs rows"
    written=$(cat "$tmp"/out? | sed -n 's/^[0-9]* runs (\([0-9]*\) written.*/\1/p' | awk '{ s += $1 } END { print s }')
    [ "$written" -eq 12 ] || fail "round $round: the sweeps say they wrote $written runs, want 12: $(cat "$tmp"/out?)"
done

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_parallel_sweeps: all passed"
