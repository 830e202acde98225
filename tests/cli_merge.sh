#!/bin/sh
# tests/cli_merge.sh: `tetri merge` end to end: two simulations' databases (different experiments and
# policies, and one experiment in both under different configs) into one, every run's rows as in its
# source (tetri report's CSV with host measurements, every request; with sqlite3, every column of
# every row); the config texts; merging again copies nothing; a conflicting run (a request 1 ns
# later in a copy) exits 1 naming the key and both files, keeps the target's run and merges the
# rest; the errors (a missing input, no --out, no input, an input that is the output); two
# validations, one policy each, merged and compared with tetri validate --from-db; tetri report and
# tetri plot on merged databases.
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
: "${TETRI_SRCDIR:?run through make check}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_merge.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
profile="$TETRI_SRCDIR/profiles/default.db"
have_sqlite3=0
command -v sqlite3 >/dev/null 2>&1 && have_sqlite3=1

# expect CODE FRAGMENT ARGS...: tetri merge ARGS exits CODE with FRAGMENT on stderr.
expect() {
    want=$1 frag=$2
    shift 2
    "$TETRI" merge "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "tetri merge $*: exit $got, want $want ($(cat "$tmp/err"))"
    grep -qF -- "$frag" "$tmp/err" || fail "tetri merge $*: stderr lacks '$frag': $(cat "$tmp/err")"
}
# expect_out FRAGMENT: the last command's stdout has FRAGMENT.
expect_out() { grep -qxF -- "$1" "$tmp/out" || fail "stdout lacks the line '$1': $(cat "$tmp/out")"; }

# runs_csv DB: every run as tetri report's CSV rows with the host measurements and block
# statistics, sorted, no header; requests_csv DB: every request's row, sorted.
runs_csv() { "$TETRI" report --db "$1" --csv - --timing --blocks | tail -n +2 | sort; }
requests_csv() { "$TETRI" report --db "$1" --requests - | tail -n +2 | sort; }
# rows DB: with sqlite3, every column of every row of every run (but the row ids), a line each,
# named by experiment and run key, sorted.
rows() {
    sqlite3 -separator ' ' "$1" "
        SELECT e.name, r.run_key, r.policy, r.policy_name, r.workload, r.mix, r.slo_scale, r.rate_per_min, r.seed,
               r.backend, r.hardware, r.model, r.n_requests, r.met, r.late, r.dropped, r.makespan_ns, r.decide_calls,
               r.wall_s, r.decide_median_ns, r.decide_p99_ns, r.decide_max_ns, r.status, quote(r.note)
          FROM run r JOIN experiment e ON e.id = r.experiment_id;
        SELECT e.name, r.run_key, 'request', q.id, q.model, q.width, q.height, q.steps, q.arrival_ns, q.deadline_ns,
               q.first_start_ns, q.finish_ns, q.outcome, q.gpu_ns, q.degree_changes, q.migrations, q.max_degree
          FROM request q JOIN run r ON r.id = q.run_id JOIN experiment e ON e.id = r.experiment_id;
        SELECT e.name, r.run_key, 'timeline', t.t_ns, t.busy_gpus, t.mean_degree, t.pending
          FROM timeline t JOIN run r ON r.id = t.run_id JOIN experiment e ON e.id = r.experiment_id;
        SELECT e.name, r.run_key, 'block', b.seq, b.gpus, b.degree, b.steps, b.n_req, b.request_id, quote(b.batch),
               b.pred_start_ns, b.pred_end_ns, b.start_ns, b.end_ns, b.migration_ns, b.failed
          FROM block b JOIN run r ON r.id = b.run_id JOIN experiment e ON e.id = r.experiment_id;" | sort
}
config_of() { sqlite3 "$1" "SELECT config FROM experiment WHERE name = '$2'"; }

# ---- help ----
"$TETRI" merge --help >"$tmp/help" || fail "merge --help exits non-zero"
for w in "--out" "IN.db" "already there" "conflict" "validate --from-db" "# merged from"; do
    grep -qF -- "$w" "$tmp/help" || fail "merge --help does not mention $w"
done
"$TETRI" --help | grep -q '^  merge ' || fail "tetri --help does not list merge"

# ---- two simulations into one ----
sim() { "$TETRI" sim --profile "$profile" -n 20 "$@" >/dev/null 2>"$tmp/err" || fail "sim $*: $(cat "$tmp/err")"; }
a=$tmp/a.db b=$tmp/b.db m=$tmp/m.db
sim --policy rssp --policy xdit-sp4 --db "$a" --experiment one
sim --policy edf-dyn --db "$a" --experiment shared
sim --policy tetriserve --seeds 1-2 --db "$b" --experiment two
sim --policy xdit-sp1 --jitter --db "$b" --experiment shared
"$TETRI" merge --out "$m" "$a" "$b" >"$tmp/out" 2>"$tmp/err" || fail "merge: exit $? ($(cat "$tmp/err"))"
[ -s "$tmp/err" ] && fail "merge: stderr not empty: $(cat "$tmp/err")"
expect_out "$a: 3 run(s) copied, 0 already there, 0 conflicting"
expect_out "$b: 3 run(s) copied, 0 already there, 0 conflicting"
expect_out "total into $m: 6 run(s) copied, 0 already there, 0 conflicting"
{ runs_csv "$a"; runs_csv "$b"; } | sort >"$tmp/want.runs"
runs_csv "$m" >"$tmp/got.runs"
[ "$(wc -l <"$tmp/got.runs")" -eq 6 ] || fail "merged db: want 6 runs: $(cat "$tmp/got.runs")"
cmp -s "$tmp/want.runs" "$tmp/got.runs" || fail "merged runs differ from their sources: $(diff "$tmp/want.runs" "$tmp/got.runs")"
{ requests_csv "$a"; requests_csv "$b"; } | sort >"$tmp/want.req"
requests_csv "$m" >"$tmp/got.req"
[ "$(wc -l <"$tmp/got.req")" -eq 120 ] || fail "merged db: want 120 requests, has $(wc -l <"$tmp/got.req")"
cmp -s "$tmp/want.req" "$tmp/got.req" || fail "merged requests differ from their sources"
if [ $have_sqlite3 -eq 1 ]; then
    { rows "$a"; rows "$b"; } | sort >"$tmp/want.rows"
    rows "$m" >"$tmp/got.rows"
    grep -q ' timeline ' "$tmp/got.rows" && grep -q ' block ' "$tmp/got.rows" || fail "no timeline or block rows merged"
    cmp -s "$tmp/want.rows" "$tmp/got.rows" || fail "merged rows differ from their sources: $(diff "$tmp/want.rows" "$tmp/got.rows" | head)"
    # experiments: one and two as in their source; shared: a's config, then b's after its line
    [ "$(config_of "$m" one)" = "$(config_of "$a" one)" ] || fail "experiment one's config changed"
    [ "$(config_of "$m" two)" = "$(config_of "$b" two)" ] || fail "experiment two's config changed"
    printf '%s\n# merged from %s:\n%s\n' "$(config_of "$a" shared)" "$b" "$(config_of "$b" shared)" >"$tmp/want.config"
    config_of "$m" shared >"$tmp/got.config"
    cmp -s "$tmp/want.config" "$tmp/got.config" || fail "shared's config: $(diff "$tmp/want.config" "$tmp/got.config")"
else
    echo "SKIP: no sqlite3: the row-by-row comparison, the config texts and the conflict"
fi
"$TETRI" report --db "$m" --list >"$tmp/list" || fail "report --list of the merged db"
for e in "one 2" "two 2" "shared 2"; do
    awk '{ print $1, $2 }' "$tmp/list" | grep -qxF "$e" || fail "report --list lacks '$e': $(cat "$tmp/list")"
done
"$TETRI" report --db "$m" --runs >"$tmp/report" || fail "report of the merged db"
for p in rssp xdit-sp4 edf-dyn tetriserve xdit-sp1; do
    grep -q "^ *$p " "$tmp/report" || fail "report of the merged db lacks $p: $(cat "$tmp/report")"
done

# ---- again: nothing copied, nothing changed ----
"$TETRI" merge --out "$m" "$a" "$b" >"$tmp/out" 2>"$tmp/err" || fail "merge again: exit $? ($(cat "$tmp/err"))"
expect_out "$a: 0 run(s) copied, 3 already there, 0 conflicting"
expect_out "$b: 0 run(s) copied, 3 already there, 0 conflicting"
expect_out "total into $m: 0 run(s) copied, 6 already there, 0 conflicting"
runs_csv "$m" | cmp -s - "$tmp/got.runs" || fail "merging again changed the runs"
if [ $have_sqlite3 -eq 1 ]; then
    config_of "$m" shared | cmp -s - "$tmp/want.config" || fail "merging again changed shared's config: $(config_of "$m" shared)"
fi
# into a new file in the other order: the same runs
"$TETRI" merge --out "$tmp/m2.db" "$b" "$a" >/dev/null 2>"$tmp/err" || fail "merge b a: $(cat "$tmp/err")"
runs_csv "$tmp/m2.db" | cmp -s - "$tmp/got.runs" || fail "merging b then a gives other runs"

# ---- a conflict: the same key, a request 1 ns later; a new run beside it ----
if [ $have_sqlite3 -eq 1 ]; then
    c=$tmp/c.db
    cp "$a" "$c"
    sqlite3 "$c" "UPDATE request SET finish_ns = finish_ns + 1 WHERE id = 0 AND run_id = (SELECT id FROM run WHERE policy_name = 'rssp')" ||
        fail "editing the copy"
    key=$(sqlite3 "$c" "SELECT run_key FROM run WHERE policy_name = 'rssp'")
    sim --policy xdit-sp2 --db "$c" --experiment one
    expect 1 "1 run(s) conflict" --out "$m" "$c"
    grep -qF -- "$c: run '$key' of experiment 'one' differs from $m's; kept $m's" "$tmp/err" ||
        fail "the conflict does not name the key and both files: $(cat "$tmp/err")"
    expect_out "$c: 1 run(s) copied, 2 already there, 1 conflicting"
    expect_out "total into $m: 1 run(s) copied, 2 already there, 1 conflicting"
    rows "$m" | grep -vF "xdit-sp2" | cmp -s - "$tmp/got.rows" || fail "the conflict changed the merged db's runs"
    [ "$(sqlite3 "$m" "SELECT count(*) FROM run WHERE policy_name = 'xdit-sp2'")" = 1 ] || fail "the run beside the conflict was not merged"
    expect 1 "1 run(s) conflict" --out "$m" "$c" # still (merging again copies nothing, keeps m's)
    expect_out "$c: 0 run(s) copied, 3 already there, 1 conflicting"
fi

# ---- errors ----
expect 2 "--out FILE is required"
expect 2 "--out FILE is required" "$a"
expect 2 "give at least one results database" --out "$tmp/x.db"
expect 2 "option --out needs a value" "$a" --out
expect 2 "unknown option --nonesuch" --out "$tmp/x.db" --nonesuch "$a"
expect 1 "$tmp/none.db: cannot open results database: No such file or directory" --out "$tmp/x.db" "$a" "$tmp/none.db"
[ -e "$tmp/x.db" ] && fail "a missing input left a new --out database behind"
expect 1 "$m: is the --out database" --out "$m" "$a" "$m"
expect 1 "$tmp/./m.db: is the --out database" --out "$m" "$tmp/./m.db"
ln -s "$m" "$tmp/link.db"
expect 1 "$tmp/link.db: is the --out database" --out "$m" "$tmp/link.db"
expect 1 "not a tetri results database" --out "$tmp/x.db" "$profile"
[ -e "$tmp/x.db" ] && fail "an input that is not a results database left a new --out database behind"

# ---- validations, one policy each, merged: validate --from-db and plot see both ----
"$TETRI" workload -n 12 --rate 12 --slo-scale 1.5 --seed 3 -o "$tmp/trace.csv" >/dev/null || fail "workload"
for p in edf-dyn tetriserve; do
    "$TETRI" validate --live emulated --speed 100 --policy "$p" --trace "$tmp/trace.csv" --profile "$profile" \
        --db "$tmp/v-$p.db" >/dev/null 2>"$tmp/err" || fail "validate $p: $(cat "$tmp/err")"
done
v=$tmp/v.db
"$TETRI" merge --out "$v" "$tmp/v-edf-dyn.db" "$tmp/v-tetriserve.db" >"$tmp/out" 2>"$tmp/err" || fail "merging validations: $(cat "$tmp/err")"
expect_out "total into $v: 4 run(s) copied, 0 already there, 0 conflicting"
"$TETRI" validate --from-db --db "$v" >"$tmp/vtable" 2>"$tmp/err" || fail "validate --from-db of the merged db: $(cat "$tmp/err")"
for w in "== edf-dyn | trace" "== tetriserve | trace" "of 2 pairs meet every target"; do
    grep -qF -- "$w" "$tmp/vtable" || fail "validate --from-db of the merged db lacks '$w': $(cat "$tmp/vtable")"
done
# its CSV rows: each source's
{ for p in edf-dyn tetriserve; do "$TETRI" validate --from-db --db "$tmp/v-$p.db" --csv - | tail -n +2; done; } | sort >"$tmp/want.v"
"$TETRI" validate --from-db --db "$v" --csv - | tail -n +2 | sort >"$tmp/got.v"
[ "$(wc -l <"$tmp/got.v")" -eq 2 ] || fail "validate --from-db --csv of the merged db: want 2 rows: $(cat "$tmp/got.v")"
cmp -s "$tmp/want.v" "$tmp/got.v" || fail "validate --from-db of the merged db differs from its sources': $(diff "$tmp/want.v" "$tmp/got.v")"
"$TETRI" plot --db "$v" --out "$tmp/fig" --figures sim_vs_real >/dev/null 2>"$tmp/err" || fail "plot of the merged db: $(cat "$tmp/err")"
ls "$tmp/fig"/sim_vs_real*.csv >/dev/null 2>&1 || fail "plot of the merged db wrote no sim_vs_real CSV"

[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "PASS"
