#!/bin/sh
# bench/bench_sweep.sh: the whole of examples/paper.ini (every grid of the paper's evaluation, a few
# thousand 300-request runs) with tetri sweep on every core, into a fresh database: the runs per
# second, and how the time splits between simulating and writing results (target: under 60 s on a
# 2-core machine). Run by `make bench` as: bench_sweep.sh TETRI SRCDIR
set -u
tetri=$1 srcdir=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_sweep.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s.%N)
"$tetri" sweep "$srcdir/examples/paper.ini" --profile "$srcdir/profiles/default.db" --db "$tmp/paper.db" -q >"$tmp/out" 2>&1 ||
    { cat "$tmp/out"; exit 1; }
end=$(date +%s.%N)
runs=$(sqlite3 "$tmp/paper.db" "SELECT count(*) FROM run")
tail -n 1 "$tmp/out"
awk -v s="$start" -v e="$end" -v r="$runs" -v j="$(nproc)" 'BEGIN {
    t = e - s
    printf "examples/paper.ini: %d distinct runs written in %.2f s with %d jobs, %.1f runs/s (target: the whole file < 60 s): %s\n",
           r, t, j, r / t, t < 60 ? "ok" : "MISSED"
}'
