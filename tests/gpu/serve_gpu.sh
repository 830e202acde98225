#!/bin/sh
# tests/gpu/serve_gpu.sh: `tetri serve --backend gpu` end to end on this GPU (make check-gpu).
# SD3-medium at 256 px (seconds per run): a measured profile of this GPU first, then a short trace
# served live by xdit-sp1 and by tetriserve (batches of requests at different steps), every
# request accounted; the latents saved; and each failure injected: a CUDA error, a GPU that stops
# answering (past its time limit), SIGINT and SIGTERM; each ends the run partial, written, exit
# non-zero. Exit status: failed checks (0 all passed), 77 without a GPU.
: "${TETRI:?the tetri binary}"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 || { echo "SKIP: no GPU"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
pass() { echo "PASS: $*"; }
# sqlite3's command may be absent where the GPUs are; Python's module is not
sql() { python3 -c 'import sqlite3, sys; print("\n".join("|".join(str(v) for v in r) for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])))' "$1" "$2"; }

"$TETRI" profile measure --out "$tmp/p.db" --model sd3-medium --res 256,512 --batch 1-2 --samples 20 --warmup 3 --settle-seconds 2 >"$tmp/measure.out" 2>&1 ||
    { fail "profile measure: $(cat "$tmp/measure.out")"; exit 1; }
hw=$(sql "$tmp/p.db" "SELECT name FROM hardware")
[ "$(sql "$tmp/p.db" "SELECT count(*) FROM step_latency WHERE source = 'measured' AND samples = 20 AND method LIKE '%driver%'")" = 4 ] &&
    pass "profile measure wrote 4 measured rows of $hw" || fail "profile measure rows: $(sql "$tmp/p.db" "SELECT * FROM step_latency")"
"$TETRI" workload --model sd3-medium --resolutions 256,512 --steps 8 -n 12 --rate 120 --slo-scale 2 --seed 5 -o "$tmp/t.csv" >/dev/null ||
    fail "workload"
serve() { # DB OUT POLICY [options]: serve the trace on the GPU backend
    db=$1 out=$2 pol=$3
    shift 3
    "$TETRI" serve --backend gpu --profile "$tmp/p.db" --trace "$tmp/t.csv" --policy "$pol" --db "$db" "$@" >"$out" 2>&1
}

# ---- serving: every request ends once; latents written; a batched policy works ----
mkdir "$tmp/lat"
serve "$tmp/ok.db" "$tmp/ok.out" xdit-sp1 --save-latents "$tmp/lat" && pass "serve xdit-sp1" || fail "serve xdit-sp1: $(cat "$tmp/ok.out")"
[ "$(sql "$tmp/ok.db" "SELECT backend || ' ' || status || ' ' || (met + late) FROM run")" = "exec done 12" ] &&
    pass "12 requests served, backend exec" || fail "serve rows: $(sql "$tmp/ok.db" "SELECT backend, status, met, late, dropped FROM run")"
[ "$(ls "$tmp/lat" | grep -c '^request-[0-9]*\.safetensors$')" = 12 ] && pass "12 latents saved" || fail "latents: $(ls "$tmp/lat")"
grep -q "graphs" "$tmp/ok.out" && pass "start-up reports its graphs" || fail "no start-up report: $(cat "$tmp/ok.out")"
serve "$tmp/ts.db" "$tmp/ts.out" tetriserve && pass "serve tetriserve" || fail "serve tetriserve: $(cat "$tmp/ts.out")"
[ "$(sql "$tmp/ts.db" "SELECT met + late FROM run")" = 12 ] || fail "tetriserve rows: $(sql "$tmp/ts.db" "SELECT met, late, dropped FROM run")"
echo "# tetriserve batched blocks: $(sql "$tmp/ts.db" "SELECT count(*) FROM block WHERE n_req > 1")"

# ---- failures: each ends the run partial, written, every request accounted ----
partial_ok() { # DB WHAT NOTE-FRAGMENT
    row=$(sql "$1" "SELECT status || '|' || n_requests || '|' || (met + late + dropped) || '|' || note FROM run")
    case "$row" in "partial|12|12|"*"$3"*) pass "$2 ends the run partial: $row" ;; *) fail "$2: run row '$row'" ;; esac
}
serve "$tmp/err.db" "$tmp/err.out" xdit-sp1 --inject-gpu-error 3
[ $? -eq 1 ] || fail "an injected CUDA error: exit status not 1: $(cat "$tmp/err.out")"
partial_ok "$tmp/err.db" "a CUDA error" "the block's launch (injected)"
serve "$tmp/hang.db" "$tmp/hang.out" xdit-sp1 --inject-hang 2 --time-limit 1.5
[ $? -eq 1 ] || fail "an injected hang: exit status not 1: $(cat "$tmp/hang.out")"
partial_ok "$tmp/hang.db" "a GPU that stops answering" "stopped answering"
for sig in 2 15; do
    "$TETRI" workload --model sd3-medium --resolutions 256 --steps 8 -n 12 --rate 6 --slo-scale 2 --seed 5 -o "$tmp/slow.csv" >/dev/null
    "$TETRI" serve --backend gpu --profile "$tmp/p.db" --trace "$tmp/slow.csv" --policy xdit-sp1 --db "$tmp/$sig.db" >"$tmp/$sig.out" 2>&1 &
    pid=$!
    sleep 25 # start-up (weights, graphs) and a few requests
    kill -$sig $pid
    wait $pid
    rc=$?
    want=$((128 + sig))
    [ $rc -eq $want ] || fail "SIG$sig: exit $rc, want $want: $(cat "$tmp/$sig.out")"
    partial_ok "$tmp/$sig.db" "SIG$sig" "stopped by signal"
done
echo "serve_gpu: $failures failed"
exit "$failures"
