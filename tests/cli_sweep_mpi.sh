#!/bin/sh
# tests/cli_sweep_mpi.sh: `mpirun -np 2 tetri sweep` (tetri hands it to tetri-mpi): the ranks split
# the runs and rank 0 writes them all: every run and request as tetri report writes them is the same
# as --jobs 1's; only rank 0 prints; run again it finds every run done; started on a database that
# holds part of the grid it writes the rest. Skipped (77) where configure found no MPI.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
: "${TETRI_BUILDDIR:?run through make check}"
if [ -z "${MPIRUN:-}" ] || [ ! -x "$TETRI_BUILDDIR/tetri-mpi" ]; then
    echo "cli_sweep_mpi: no MPI in this build (configure: MPI sweeps: no): skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_sweep_mpi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
. "$TETRI_SRCDIR/tests/mpi_env.sh" # what Open MPI needs here (root, oversubscription)
# Open MPI does not free all it allocates by MPI_Finalize: in a sanitizer build, leak reports whose
# allocation stack goes through its libraries are suppressed (full stacks, so that only those match;
# tetri's own leaks still fail the test).
cat >"$tmp/lsan.supp" <<SUPP
leak:libmpi.so
leak:libopen-pal.so
leak:libopen-rte.so
leak:libhwloc.so
leak:libpmix.so
leak:libevent
leak:mca_
SUPP
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$tmp/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS LSAN_OPTIONS
profile="$TETRI_SRCDIR/profiles/default.db"

# 4 policies x 2 mixes x 2 scales x 3 seeds = 48 runs of 100 requests
cat >"$tmp/g.ini" <<INI
profile = $profile
policy = xdit-sp2
policy = rssp
policy = edf-dyn
policy = tetriserve:g=5
mix = uniform,skewed
slo-scale = 1.0,1.3
seeds = 1-3
requests = 100
INI
dump() { "$TETRI" report --db "$1" --csv - >"$tmp/$2.runs" && "$TETRI" report --db "$1" --requests - >"$tmp/$2.requests"; }
"$TETRI" sweep "$tmp/g.ini" --db "$tmp/j1.db" --jobs 1 -q >"$tmp/j1.out" 2>&1 || fail "--jobs 1: $(cat "$tmp/j1.out")"
dump "$tmp/j1.db" j1

"$MPIRUN" -np 2 "$TETRI" sweep "$tmp/g.ini" --db "$tmp/mpi.db" >"$tmp/mpi.out" 2>&1 || fail "mpirun -np 2: $(cat "$tmp/mpi.out")"
dump "$tmp/mpi.db" mpi
cmp -s "$tmp/j1.runs" "$tmp/mpi.runs" || fail "mpirun -np 2: runs differ from --jobs 1: $(diff "$tmp/j1.runs" "$tmp/mpi.runs" | head -5)"
cmp -s "$tmp/j1.requests" "$tmp/mpi.requests" || fail "mpirun -np 2: requests differ from --jobs 1"
[ "$(grep -c "^48 runs (48 written, 0 already there)" "$tmp/mpi.out")" -eq 1 ] || fail "want one summary from rank 0: $(cat "$tmp/mpi.out")"
# Rank 0 tells every rank's runs: a line each, or (mpirun gives rank 0 a terminal) the progress bar.
[ "$(grep -c "  attainment " "$tmp/mpi.out")" -eq 48 ] || grep -q "48/48 runs" "$tmp/mpi.out" ||
    fail "want 48 run lines or a progress bar at 48/48: $(cat "$tmp/mpi.out")"
grep -q "48 runs in .* s with 2 ranks: .* runs/s" "$tmp/mpi.out" || fail "no timing line: $(cat "$tmp/mpi.out")"

# Again: every run is there.
"$MPIRUN" -np 2 "$TETRI" sweep "$tmp/g.ini" --db "$tmp/mpi.db" -q >"$tmp/again.out" 2>&1 || fail "again: $(cat "$tmp/again.out")"
grep -q "^48 runs (0 written, 48 already there)" "$tmp/again.out" || fail "again: $(cat "$tmp/again.out")"

# Part of the grid first (seed 1, one process), then the whole under MPI: the rest is written.
"$TETRI" sweep "$tmp/g.ini" --db "$tmp/part.db" --seeds 1 --jobs 1 -q >/dev/null 2>&1 || fail "seed 1 alone"
"$MPIRUN" -np 2 "$TETRI" sweep "$tmp/g.ini" --db "$tmp/part.db" -q >"$tmp/part.out" 2>&1 || fail "resume: $(cat "$tmp/part.out")"
grep -q "^48 runs (32 written, 16 already there)" "$tmp/part.out" || fail "resume: $(cat "$tmp/part.out")"
dump "$tmp/part.db" part
cmp -s "$tmp/j1.runs" "$tmp/part.runs" || fail "resumed under MPI: runs differ from --jobs 1"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_sweep_mpi: all passed"
