#!/bin/sh
# tests/cli_readonly.sh: `tetri report` and `tetri plot` read a results database in a read-only
# folder or mount (and, when not root, a write-protected file), give the same answers as from a
# writable copy, and leave no file beside it (no -wal, -shm or -journal).
# The folder is made read-only by a read-only bind mount in a user namespace (unshare), else, for a
# user other than root, by chmod; root without unshare cannot make one: skip (77).
set -u
: "${TETRI:?}" "${TETRI_BUILDDIR:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tetri-cli-readonly.XXXXXX") || exit 99
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

mkdir "$tmp/ro" "$tmp/plots-rw" "$tmp/plots-ro"
db=$tmp/ro/results.db
"$TETRI_BUILDDIR/tests/make_results_db" "$db" || { echo "FAIL: make_results_db"; exit 1; }
"$TETRI" report --db "$db" --experiment paper >"$tmp/want.txt" 2>&1 || fail "report of the writable copy: $(cat "$tmp/want.txt")"
"$TETRI" report --db "$db" --csv - >"$tmp/want.csv" 2>&1 || fail "report --csv of the writable copy"
TETRI_GNUPLOT=$tmp/no-gnuplot "$TETRI" plot --db "$db" --out "$tmp/plots-rw" >/dev/null 2>&1 || fail "plot of the writable copy"
ls -a "$tmp/ro" >"$tmp/before"

# readonly CMD...: runs CMD with $tmp/ro read-only.
if unshare -r -m true 2>/dev/null; then
    how="a read-only bind mount"
    readonly_run() { unshare -r -m sh -c 'mount --bind -o ro "$0" "$0" && exec "$@"' "$tmp/ro" "$@"; }
elif [ "$(id -u)" -ne 0 ]; then
    how="a folder without write permission"
    chmod a-w "$tmp/ro"
    readonly_run() { "$@"; }
else
    echo "SKIP: root without unshare cannot make a read-only folder"
    exit 77
fi

readonly_run "$TETRI" report --db "$db" --experiment paper >"$tmp/got.txt" 2>&1 || fail "report in $how: $(cat "$tmp/got.txt")"
cmp -s "$tmp/want.txt" "$tmp/got.txt" || fail "report in $how differs: $(diff "$tmp/want.txt" "$tmp/got.txt")"
readonly_run "$TETRI" report --db "$db" --csv - >"$tmp/got.csv" 2>&1 || fail "report --csv in $how: $(cat "$tmp/got.csv")"
cmp -s "$tmp/want.csv" "$tmp/got.csv" || fail "report --csv in $how differs"
readonly_run env TETRI_GNUPLOT="$tmp/no-gnuplot" "$TETRI" plot --db "$db" --out "$tmp/plots-ro" >"$tmp/plot.out" 2>&1 ||
    fail "plot in $how: $(cat "$tmp/plot.out")"
for f in "$tmp/plots-rw"/*.csv; do
    cmp -s "$f" "$tmp/plots-ro/$(basename "$f")" || { fail "plot in $how: $(basename "$f") (and maybe more) differs"; break; }
done
ls -a "$tmp/ro" >"$tmp/after"
cmp -s "$tmp/before" "$tmp/after" || fail "reading in $how left files: $(diff "$tmp/before" "$tmp/after")"

# A write-protected file in a writable folder (root writes it anyway: only another user can test).
if [ "$(id -u)" -ne 0 ]; then
    chmod u+w "$tmp/ro"
    chmod a-w "$db"
    "$TETRI" report --db "$db" --experiment paper >"$tmp/got2.txt" 2>&1 || fail "report of a write-protected file: $(cat "$tmp/got2.txt")"
    cmp -s "$tmp/want.txt" "$tmp/got2.txt" || fail "report of a write-protected file differs"
    ls -a "$tmp/ro" >"$tmp/after2"
    cmp -s "$tmp/before" "$tmp/after2" || fail "reading a write-protected file left files: $(diff "$tmp/before" "$tmp/after2")"
fi

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_readonly: all passed ($how)"
