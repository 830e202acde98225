#!/bin/sh
# tests/cli_paper_grid.sh: the simulator's results on the paper's grid do not move. Every policy of
# the paper (xdit-sp1/2/4/8, rssp, edf-dyn, tetriserve), both mixes, SLO scales 1.0 to 1.5, seeds 1
# to 3, 300 requests at 12/min on the default profile's h100x8 (252 runs): `tetri report --csv`
# and `--requests` are compared, by SHA-256, with
#   - this tree's own figures (a change that moves any number, or any text, fails here: update the
#     digests only with a note of what moved and why), and
#   - those of commit 0605eab, before the serving host was split out of the simulator (issue 8),
#     once two pieces of text that came later are taken out: the tetriserve spec's guard_ms=50 (the
#     guard band, a real-time option whose default does not change a simulated number) and the
#     run key's profile digest (runs name their profile since 239403f); and tetriserve's default
#     tau_from, profile until session 9, served since (the paper's workload serves every resolution
#     the profile has, so its tau, and every number, is the same). Numbers are equal.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_paper_grid.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
if command -v sha256sum >/dev/null 2>&1; then sha() { sha256sum | cut -d' ' -f1; }
elif command -v shasum >/dev/null 2>&1; then sha() { shasum -a 256 | cut -d' ' -f1; }
else echo "SKIP: no sha256sum or shasum"; exit 77; fi

"$TETRI" sim --profile "$TETRI_SRCDIR/profiles/default.db" --hardware h100x8 --model flux-dev -n 300 --seeds 1-3 --rate 12 \
    --mix uniform,skewed --slo-scale 1.0:1.5:0.1 --policy xdit-sp1 --policy xdit-sp2 --policy xdit-sp4 --policy xdit-sp8 \
    --policy rssp --policy edf-dyn --policy tetriserve --db "$tmp/g.db" --experiment paper -q >/dev/null 2>"$tmp/err" ||
    { echo "FAIL: the grid: $(cat "$tmp/err")"; exit 1; }
"$TETRI" report --db "$tmp/g.db" --experiment paper --csv "$tmp/runs.csv" >/dev/null 2>&1 || fail "report --csv"
"$TETRI" report --db "$tmp/g.db" --experiment paper --requests "$tmp/requests.csv" >/dev/null 2>&1 || fail "report --requests"
[ "$(($(wc -l <"$tmp/runs.csv") - 1))" -eq 252 ] || fail "want 252 runs, have $(($(wc -l <"$tmp/runs.csv") - 1))"
[ "$(($(wc -l <"$tmp/requests.csv") - 1))" -eq 75600 ] || fail "want 75600 requests, have $(($(wc -l <"$tmp/requests.csv") - 1))"

# check NAME FILE WANT [SED]: the digest of FILE (through SED when given) is WANT.
check() {
    if [ $# -gt 3 ]; then got=$(sed -E "$4" "$2" | sha); else got=$(sha <"$2"); fi
    [ "$got" = "$3" ] || fail "$1: sha256 $got, want $3"
}
check "report --csv" "$tmp/runs.csv" d34642536a8c902455d8100f11376b1960c6fced5e645fd1e91b7dfe0578c0b3
check "report --requests" "$tmp/requests.csv" 2f8830acd9a9d3cfcc50738350a049d134467f9f1909c04ca328e61a4afde747
later='s/tau_from=served/tau_from=profile/g; s/,guard_ms=50//g; s/\|profile=[0-9a-f]+,analytic=off//g'
check "report --csv against 0605eab" "$tmp/runs.csv" ef03a5824b31af599284e6d87e25150d2e1a428e5e49359a2eb3853eab350af5 "$later"
check "report --requests against 0605eab" "$tmp/requests.csv" fb69274c2cab637ff676097106d9eed813b95ed0aefe801e12ebe1b2611a1c70 "$later"

[ "$failures" -eq 0 ] || exit 1
echo "paper grid: 252 runs, report --csv and --requests as at 0605eab (and as this tree's digests)"
