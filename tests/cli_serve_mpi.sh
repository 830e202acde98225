#!/bin/sh
# tests/cli_serve_mpi.sh: `mpirun -np 2 tetri serve --backend emulated` (tetri hands it to
# tetri-mpi): one process per node, here two on this machine, 4 of the profile's 8 GPUs each;
# rank 0 runs the host and its GPUs, rank 1 serves the blocks of GPUs 4-7 (exec/remote.h). Against
# one process on the same trace: xdit-sp4 (fixed groups, no decision that timing can flip) gives
# every request the same outcome; edf-dyn the same attainment within 0.1; both the same mean
# latency within 5% (tests/cli_serve.sh's tolerances for the emulated backend against the
# simulator: real time differs a little between any two runs). Only rank 0 writes; mismatched
# arguments and a layout that does not hold the GPUs end the run with a message.
# Where tetri-mpi has the GPU part and no GPU is here: --backend gpu fails on every rank, saying
# why, without hanging. Skipped (77) where configure found no MPI or no mpirun.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
: "${TETRI_BUILDDIR:?run through make check}"
if [ -z "${MPIRUN:-}" ] || [ ! -x "$TETRI_BUILDDIR/tetri-mpi" ]; then
    echo "cli_serve_mpi: no MPI or no mpirun in this build (configure: MPI sweeps: no): skipped"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_serve_mpi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
. "$TETRI_SRCDIR/tests/mpi_env.sh" # what Open MPI needs here (root, oversubscription)
# Open MPI's own leaks at MPI_Finalize are not tetri's (tests/cli_sweep_mpi.sh says more).
printf 'leak:libmpi.so\nleak:libopen-pal.so\nleak:libopen-rte.so\nleak:libhwloc.so\nleak:libpmix.so\nleak:libevent\nleak:mca_\n' \
    >"$tmp/lsan.supp"
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$tmp/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS LSAN_OPTIONS
profile="$TETRI_SRCDIR/profiles/default.db"
"$TETRI" workload -n 16 --rate 12 --slo-scale 1.5 --seed 3 -o "$tmp/trace.csv" >/dev/null || fail "workload"
serve="serve --backend emulated --speed 40 --trace $tmp/trace.csv --profile $profile"

# "n met late dropped mean_latency_s" of a database, and its requests' "id outcome" lines.
summary() {
    "$TETRI" report --db "$1" --requests - | sed 's/"[^"]*"/P/g' |
        awk -F, 'NR > 1 { n++; o[$19]++; if ($18 != "") { done++; lat += $18 } }
                 END { printf "%d %d %d %d %.6f\n", n, o["met"], o["late"], o["dropped"], done ? lat / done : 0 }'
}
outcomes() { "$TETRI" report --db "$1" --requests - | sed 's/"[^"]*"/P/g' | awk -F, 'NR > 1 { print $1, $19 }'; }

for p in xdit-sp4 edf-dyn; do
    # shellcheck disable=SC2086
    "$TETRI" $serve --policy $p --db "$tmp/one-$p.db" >"$tmp/one-$p.out" 2>&1 || fail "$p, one process: $(cat "$tmp/one-$p.out")"
    # shellcheck disable=SC2086
    "$MPIRUN" -np 2 "$TETRI" $serve --policy $p --gpus-per-process 4 --db "$tmp/two-$p.db" >"$tmp/two-$p.out" 2>&1 ||
        fail "$p, mpirun -np 2: $(cat "$tmp/two-$p.out")"
    [ "$(grep -c "^1 run (1 written" "$tmp/two-$p.out")" -eq 1 ] || fail "$p: want one summary, rank 0's: $(cat "$tmp/two-$p.out")"
    grep -q "rank 1 served [1-9][0-9]* blocks\? on GPUs 4-7" "$tmp/two-$p.out" || fail "$p: rank 1 served nothing: $(cat "$tmp/two-$p.out")"
    one=$(summary "$tmp/one-$p.db") two=$(summary "$tmp/two-$p.db")
    echo "$p: one process: $one; two: $two (n met late dropped mean_latency_s)"
    echo "$one $two" | awk -v p=$p '{ dm = 100 * ($10 - $5) / $5; ds = ($7 - $2) / $1
        if ($1 != 16 || $6 != 16 || dm > 5 || dm < -5 || ds > 0.1 || ds < -0.1) exit 1 }' ||
        fail "$p: two processes differ from one beyond 0.1 attainment or 5% mean latency: $one / $two"
done
outcomes "$tmp/one-xdit-sp4.db" >"$tmp/one.outcomes"
outcomes "$tmp/two-xdit-sp4.db" >"$tmp/two.outcomes"
cmp -s "$tmp/one.outcomes" "$tmp/two.outcomes" ||
    fail "xdit-sp4: a request's outcome differs: $(diff "$tmp/one.outcomes" "$tmp/two.outcomes" | head -5)"

# ---- errors end the run with a message ----
# shellcheck disable=SC2086
"$MPIRUN" -np 1 "$TETRI" $serve --policy xdit-sp4 --db "$tmp/x.db" : -np 1 "$TETRI" $serve --policy edf-dyn --db "$tmp/x.db" \
    >"$tmp/mismatch.out" 2>&1 && fail "mismatched arguments: exit 0"
grep -q "rank 1 was started with other arguments than rank 0's" "$tmp/mismatch.out" ||
    fail "mismatched arguments: $(cat "$tmp/mismatch.out")"
# shellcheck disable=SC2086
"$MPIRUN" -np 2 "$TETRI" $serve --policy xdit-sp4 --gpus-per-process 3 --db "$tmp/x.db" >"$tmp/layout.out" 2>&1 &&
    fail "2 x 3 GPUs for 8: exit 0"
grep -q "gpus-per-process 3: 2 processes must hold the 8 GPUs" "$tmp/layout.out" || fail "2 x 3 GPUs for 8: $(cat "$tmp/layout.out")"
# shellcheck disable=SC2086
"$TETRI" $serve --policy xdit-sp4 --gpus-per-process 4 --db "$tmp/x.db" >"$tmp/alone.out" 2>&1 && fail "--gpus-per-process alone: exit 0"
grep -q "gpus-per-process is for tetri serve under mpirun" "$tmp/alone.out" || fail "--gpus-per-process alone: $(cat "$tmp/alone.out")"
[ ! -e "$tmp/x.db" ] || [ "$("$TETRI" report --db "$tmp/x.db" --csv - 2>/dev/null | wc -l)" -le 1 ] || fail "a refused run wrote rows"

# --backend gpu where tetri-mpi has the GPU part but this machine has no GPU (CI): the options reach
# rank 1, every rank's start fails, rank 0 says why and every rank ends (no hang) with status 1.
if [ -x "$TETRI_BUILDDIR/tetri-gpu" ] && ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }; then
    # shellcheck disable=SC2086
    timeout 300 "$MPIRUN" -np 2 "$TETRI" serve --backend gpu --trace "$tmp/trace.csv" --profile "$profile" --policy xdit-sp4 \
        --gpus-per-process 4 --db "$tmp/g.db" >"$tmp/gpu.out" 2>&1
    rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "--backend gpu across processes without a GPU: exit status $rc: $(cat "$tmp/gpu.out")"
    grep -q "tetri serve: rank 0: the GPU backend finds no CUDA device" "$tmp/gpu.out" ||
        fail "--backend gpu across processes without a GPU: $(cat "$tmp/gpu.out")"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_serve_mpi: all passed"
