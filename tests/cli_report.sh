#!/bin/sh
# tests/cli_report.sh: `tetri report` over a results database with known outcomes (written by
# tests/make_results_db from the formula in tests/results_fixture.h): tables, CSV, --by, --runs,
# and the errors a user can cause (missing db, unknown experiment, not a results db, bad --by).
set -u
: "${TETRI:?}" "${TETRI_BUILDDIR:?}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tetri-cli-report.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_in FILE TEXT: the file contains the fixed string.
expect_in() { grep -qF -- "$2" "$1" || { echo "--- $1:" >&2; cat "$1" >&2; fail "expected '$2' in $1"; }; }

db=$tmp/results.db
"$TETRI_BUILDDIR/tests/make_results_db" "$db" || fail "make_results_db"

# Default: one table per mix (and backend, which differs in experiment 'paper'), rows policy, columns scale.
"$TETRI" report --db "$db" --experiment paper >"$tmp/table" 2>"$tmp/err" || fail "report exited $?"
expect_in "$tmp/table" "== mix uniform backend sim"
expect_in "$tmp/table" "== mix skewed backend sim"
expect_in "$tmp/table" "== mix uniform backend exec"
expect_in "$tmp/table" "policy      1.0                      1.2                      1.5"
# tetriserve, uniform, scale 1.0: seeds met 14 and 13 of 20.
expect_in "$tmp/table" "tetriserve  0.675 (2; 0.650..0.700)  0.825 (2; 0.800..0.850)  0.975 (2; 0.950..1.000)"
# xdit-sp1, skewed, scale 1.5: 12 - 2 and 10 - 2 of 20.
expect_in "$tmp/table" "0.450 (2; 0.400..0.500)"
# exec: one seed.
expect_in "$tmp/table" "tetriserve  0.700 (1)  0.850 (1)  1.000 (1)"
[ -s "$tmp/err" ] && fail "stderr not empty: $(cat "$tmp/err")"
[ -e "$db-wal" ] || [ -e "$db-shm" ] && fail "report left WAL side files next to the database"

# Attainment vs rate: experiment 'rates', columns rate.
"$TETRI" report --db "$db" --experiment rates --by rate,policy >"$tmp/rates" || fail "report --by rate,policy"
expect_in "$tmp/rates" "columns rate"
expect_in "$tmp/rates" "tetriserve  0.800 (1)  0.700 (1)  0.600 (1)"
expect_in "$tmp/rates" "xdit-sp1    0.500 (1)  0.400 (1)  0.300 (1)"

# Variants of one policy are labelled by the options that differ, and sorted numerically (g=2 < g=10).
"$TETRI" report --db "$db" --experiment rounds >"$tmp/rounds" || fail "report rounds"
expect_in "$tmp/rounds" "tetriserve:g=1   0.600 (1)  0.900 (1)"
expect_in "$tmp/rounds" "tetriserve:g=10  0.600 (1)  0.900 (1)"
expect_in "$tmp/rounds" "tetriserve:g=5   0.700 (1)  1.000 (1)"
awk '/^tetriserve:g=/ { printf "%s ", $1 }' "$tmp/rounds" | grep -qx 'tetriserve:g=1 tetriserve:g=2 tetriserve:g=5 tetriserve:g=10 ' \
  || fail "rows not in numeric g order: $(awk '/^tetriserve:g=/ { printf "%s ", $1 }' "$tmp/rounds")"

# Every experiment at once: experiment splits the tables.
"$TETRI" report --db "$db" >"$tmp/all" || fail "report (all experiments)"
expect_in "$tmp/all" "== experiment paper mix uniform backend sim"
grep -qF "== experiment rates mix skewed" "$tmp/all" && fail "rates has no skewed mix"
expect_in "$tmp/all" "== experiment rates mix uniform backend sim rate 6 "

# CSV: long format, one row per run, reproducible byte for byte.
"$TETRI" report --db "$db" --csv - >"$tmp/a.csv" || fail "report --csv -"
[ "$(wc -l <"$tmp/a.csv")" -eq 42 ] || fail "CSV has $(wc -l <"$tmp/a.csv") lines, expected 41 runs + header"
head -1 "$tmp/a.csv" | grep -q '^experiment,model,hardware,backend,mix,rate_per_min,slo_scale,policy_name,policy,seed,n,met,late,dropped,attainment,p50_latency_s,p99_latency_s,mean_degree,gpu_seconds,run_key$' \
  || fail "CSV header: $(head -1 "$tmp/a.csv")"
expect_in "$tmp/a.csv" "paper,flux-dev,h100x8,sim,skewed,12,1.5,xdit-sp1,xdit-sp1,2,20,8,"
"$TETRI" report --db "$db" --csv "$tmp/b.csv" >"$tmp/out" || fail "report --csv FILE"
expect_in "$tmp/out" "wrote $tmp/b.csv (41 runs)"
cmp -s "$tmp/a.csv" "$tmp/b.csv" || fail "CSV differs between two reports of one db"
"$TETRI" report --db "$db" --csv - --timing | head -1 | grep -q ',wall_s,decide_calls,decide_median_us,decide_p99_us,decide_max_us$' \
  || fail "--timing columns"
"$TETRI" report --db "$db" --csv - --blocks --timing | head -1 | grep -q ',run_key,n_blocks,failed_blocks,block_err_mean,block_err_p50,block_err_p99,start_delay_p50_ms,start_delay_p99_ms,wall_s,' \
  || fail "--blocks columns in the CSV"

# Every request as CSV: 41 runs x 20 requests; exact seconds; empty finish and latency when dropped.
"$TETRI" report --db "$db" --requests - >"$tmp/req.csv" || fail "--requests -"
[ "$(wc -l <"$tmp/req.csv")" -eq 821 ] || fail "--requests: $(wc -l <"$tmp/req.csv") lines, expected 820 + header"
head -1 "$tmp/req.csv" | grep -q '^experiment,model,hardware,backend,mix,rate_per_min,slo_scale,policy,seed,request_id,width,height,steps,arrival_s,deadline_s,first_start_s,finish_s,latency_s,outcome,gpu_seconds,degree_changes,migrations,max_degree$' \
  || fail "--requests header: $(head -1 "$tmp/req.csv")"
# Request 3 of rates/tetriserve/6 per min: 2048x2048, arrives at 15 s, deadline 15 + 5 s, met at half the window.
expect_in "$tmp/req.csv" "rates,flux-dev,h100x8,sim,uniform,6,1,tetriserve:g=5,1,3,2048,2048,20,15.000000000,20.000000000,15.100000000,17.500000000,2.500000000,met,"
grep -q ',,,dropped,' "$tmp/req.csv" || fail "--requests: a dropped request has no empty finish/latency"
"$TETRI" report --db "$db" --csv - --requests - >/dev/null 2>"$tmp/err" && fail "two CSVs on stdout accepted"
expect_in "$tmp/err" "both want stdout"

# Blocks, predicted vs actual (the fixture's formula, tests/results_fixture.h: 6 blocks, one failed;
# over the other 5 the relative duration error is s x {-0.01..0.03} and the start delay s x {0..4} ms,
# s = 1 for sim and 2 for exec).
"$TETRI" report --db "$db" --csv - --blocks >"$tmp/ab.csv" || fail "report --csv - --blocks"
expect_in "$tmp/ab.csv" "scale=1.5,n=20,seed=1|sim\",6,1,0.010000,0.010000,0.030000,2.000000,4.000000"
expect_in "$tmp/ab.csv" "\"tetriserve:g=5|mix=uniform,rate=12,scale=1,n=20,seed=1|exec\",6,1,0.020000,0.020000,0.060000,4.000000,8.000000"
"$TETRI" report --db "$db" --experiment paper --blocks >"$tmp/blocks" 2>"$tmp/err" || fail "--blocks exited $?"
[ -s "$tmp/err" ] && fail "--blocks: stderr not empty: $(cat "$tmp/err")"
expect_in "$tmp/blocks" "SLO attainment (met/n)"   # the tables still come first
expect_in "$tmp/blocks" "policy      mix         scale   rate seed backend   blocks failed err_mean  err_p50  err_p99 delay_p50_ms delay_p99_ms  run_key"
expect_in "$tmp/blocks" "tetriserve  uniform     1         12    1 exec           6      1  +0.0200  +0.0200  +0.0600        4.000        8.000  tetriserve:g=5|mix=uniform,rate=12,scale=1,n=20,seed=1|exec"
expect_in "$tmp/blocks" "xdit-sp1    skewed      1.5       12    2 sim            6      1  +0.0100  +0.0100  +0.0300        2.000        4.000  xdit-sp1|mix=skewed,rate=12,scale=1.5,n=20,seed=2|sim"
[ "$(grep -c ' 6      1  ' "$tmp/blocks")" -eq 27 ] || fail "--blocks: expected one line for each of the 27 runs"
"$TETRI" report --db "$db" --experiment paper --metric block_err >"$tmp/berr" || fail "--metric block_err"
expect_in "$tmp/berr" "mean relative block-duration error, (actual - predicted) / predicted (-: no blocks): rows policy, columns scale"
expect_in "$tmp/berr" "tetriserve  0.0200 (1)  0.0200 (1)  0.0200 (1)"
expect_in "$tmp/berr" "xdit-sp1    0.0100 (2; 0.0100..0.0100)  0.0100 (2; 0.0100..0.0100)  0.0100 (2; 0.0100..0.0100)"
"$TETRI" report --help | grep -q -- '--blocks' || fail "--help does not mention --blocks"

# Per-run detail and the experiment list.
"$TETRI" report --db "$db" --experiment rates --runs >"$tmp/runs" || fail "--runs"
expect_in "$tmp/runs" "run_key"
expect_in "$tmp/runs" "xdit-sp1|mix=uniform,rate=18,scale=1,n=20,seed=1|sim"
"$TETRI" report --db "$db" --list >"$tmp/list" || fail "--list"
grep -Eq '^paper +27$' "$tmp/list" || fail "--list: $(cat "$tmp/list")"
grep -Eq '^rates +6$' "$tmp/list" || fail "--list: $(cat "$tmp/list")"
grep -Eq '^rounds +8$' "$tmp/list" || fail "--list: $(cat "$tmp/list")"

# Errors: non-zero exit and a message that names the problem.
"$TETRI" report --db "$tmp/none.db" >/dev/null 2>"$tmp/err" && fail "missing db accepted"
expect_in "$tmp/err" "$tmp/none.db: cannot open results database: No such file or directory"
[ -e "$tmp/none.db" ] && fail "report created the missing db"
"$TETRI" report --db "$db" --experiment nope >/dev/null 2>"$tmp/err" && fail "unknown experiment accepted"
expect_in "$tmp/err" "no experiment 'nope'; known: paper, rates, rounds"
printf 'policy,scale\nnot,a database at all, just a CSV file that is long enough\n' >"$tmp/text.db"
"$TETRI" report --db "$tmp/text.db" >/dev/null 2>"$tmp/err" && fail "text file accepted"
expect_in "$tmp/err" "$tmp/text.db: not a tetri results database (not an SQLite file)"
"$TETRI" report --db "$db" --by mix,speed,policy >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "bad --by: exit status"
expect_in "$tmp/err" "unknown dimension 'speed'"
"$TETRI" report --db "$db" --metric p95 >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "bad --metric: exit status"
expect_in "$tmp/err" "unknown metric 'p95'"
"$TETRI" report --db "$db" --experiment rates --by rate,policy --metric gpu_s >"$tmp/gpu" || fail "--metric gpu_s"
expect_in "$tmp/gpu" "GPU-seconds used: rows policy, columns rate"
"$TETRI" report >/dev/null 2>"$tmp/err"
[ $? -eq 2 ] || fail "no --db: exit status"
expect_in "$tmp/err" "--db FILE is required"
"$TETRI" report --db "$db" --bogus >/dev/null 2>"$tmp/err" && fail "unknown option accepted"
expect_in "$tmp/err" "unknown argument '--bogus'"
exit 0
