#!/bin/sh
# tests/cli_workload.sh: `tetri workload` end to end: generation, determinism, --check, and every
# kind of bad trace and bad option through the command (exit code, file:line, the reason).
set -u
: "${TETRI:?run through make check (TETRI is the built binary)}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cli_workload.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# expect CODE FRAGMENT... -- ARGS: runs tetri workload ARGS, checks the exit code and that
# stderr contains every fragment.
expect() {
    want=$1; shift
    frags=
    while [ "$1" != -- ]; do frags="$frags
$1"; shift; done
    shift
    "$TETRI" workload "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    [ "$got" -eq "$want" ] || fail "tetri workload $*: exit $got, want $want ($(cat "$tmp/err"))"
    printf '%s\n' "$frags" | while IFS= read -r frag; do
        [ -z "$frag" ] && continue
        grep -qF -- "$frag" "$tmp/err" || { echo "FAIL: tetri workload $*: stderr lacks '$frag': $(cat "$tmp/err")"; echo x >>"$tmp/frag-failures"; }
    done
}

# ---- help ----
"$TETRI" workload --help >"$tmp/help" || fail "--help exits non-zero"
for w in --check --mix --rate --slo-scale --seed --arrival docs/trace-format.md; do
    grep -q -- "$w" "$tmp/help" || fail "--help does not mention $w"
done

# ---- generation: default preset, determinism ----
"$TETRI" workload -o "$tmp/a.csv" || fail "default generation failed"
"$TETRI" workload -o "$tmp/b.csv"
cmp -s "$tmp/a.csv" "$tmp/b.csv" || fail "same options, different files"
"$TETRI" workload >"$tmp/stdout.csv"
cmp -s "$tmp/a.csv" "$tmp/stdout.csv" || fail "-o FILE and stdout differ"
"$TETRI" workload --seed 2 -o "$tmp/c.csv"
cmp -s "$tmp/a.csv" "$tmp/c.csv" && fail "seeds 1 and 2 give the same file"
[ "$(grep -c '^[0-9]' "$tmp/a.csv")" -eq 300 ] || fail "default is not 300 requests"
head -2 "$tmp/a.csv" | grep -q '^id,model,width,height,steps,arrival_s,deadline_s$' || fail "header missing"
head -1 "$tmp/a.csv" | grep -q '^# tetri workload: model=flux-dev,steps=20,mix=uniform' || fail "spec comment missing"

"$TETRI" workload --check "$tmp/a.csv" >"$tmp/summary" || fail "--check of a generated trace failed"
grep -q "300 requests" "$tmp/summary" || fail "summary lacks the count"
for r in 256x256 512x512 1024x1024 2048x2048; do grep -q "$r" "$tmp/summary" || fail "summary lacks $r"; done
grep -q "requests/min" "$tmp/summary" || fail "summary lacks the rate"
grep -q "span" "$tmp/summary" || fail "summary lacks the span"
"$TETRI" workload --check - <"$tmp/a.csv" | grep -q "300 requests" || fail "--check - (stdin) failed"

"$TETRI" workload --res 768 -n 10 --steps 28 --model sd3 -o "$tmp/h.csv" || fail "homogeneous generation failed"
[ "$(grep -c '^[0-9]*,sd3-medium,768,768,28,' "$tmp/h.csv")" -eq 10 ] || fail "--res 768 --steps 28 --model sd3 not honoured"
"$TETRI" workload --mix skewed --alpha 2 --arrival gamma --cv 3 --rate 18 --slo-scale 1.5 -n 50 --seed 9 -o "$tmp/s.csv" ||
    fail "skewed gamma generation failed"
grep -q 'mix=skewed,resolutions=256/512/1024/2048,alpha=2,arrival=gamma,rate=18,cv=3,slo_scale=1.5,seed=9,n=50' "$tmp/s.csv" ||
    fail "spec comment of skewed gamma: $(head -1 "$tmp/s.csv")"
"$TETRI" workload --resolutions 256,768 -n 40 -o "$tmp/r.csv" || fail "--resolutions failed"
[ "$(grep -c ',\(256,256\|768,768\),' "$tmp/r.csv")" -eq 40 ] || fail "--resolutions 256,768 not honoured"

# ---- bad traces: exit 1, "file:line: reason" ----
H='id,model,width,height,steps,arrival_s,deadline_s'
bad() { # bad NAME LINE FRAGMENT CONTENT
    printf '%s' "$4" >"$tmp/$1.csv"
    expect 1 "$tmp/$1.csv:$2: " "$3" -- --check "$tmp/$1.csv"
}
bad missing 2 "missing field 'deadline_s'" "$H
0,flux-dev,512,512,20,1.0
"
bad extra 2 "extra field 'x'" "$H
0,flux-dev,512,512,20,1.0,3.0,x
"
bad notnum 2 "width 'big' is not a whole number" "$H
0,flux-dev,big,512,20,1.0,3.0
"
bad notsec 3 "arrival_s 'later' is not a number of seconds" "$H
0,flux-dev,512,512,20,1.0,3.0
1,flux-dev,512,512,20,later,3.0
"
bad negative 2 "arrival_s '-2' is negative" "$H
0,flux-dev,512,512,20,-2,3.0
"
bad unsorted 3 "is before the previous request's 5.000000000 (line 2)" "$H
0,flux-dev,512,512,20,5,9
1,flux-dev,512,512,20,4,9
"
bad mult16 2 "height 500 is not a multiple of 16" "$H
0,flux-dev,512,500,20,1,3
"
bad deadline 2 "deadline_s 0.500000000 is not after arrival_s 1.000000000" "$H
0,flux-dev,512,512,20,1,0.5
"
bad model 2 "model 'midjourney' is unknown" "$H
0,midjourney,512,512,20,1,3
"
bad ids 3 "id 2 is out of order: expected 1" "$H
0,flux-dev,512,512,20,1,3
2,flux-dev,512,512,20,1,3
"
bad steps 2 "steps '0' is too small" "$H
0,flux-dev,512,512,0,1,3
"
bad zero 2 "width '0' is too small" "$H
0,flux-dev,0,512,20,1,3
"
bad huge 2 "width '9999999999999999999999' is too large" "$H
0,flux-dev,9999999999999999999999,512,20,1,3
"
bad hugetime 2 "deadline_s '99999999999' is too large" "$H
0,flux-dev,512,512,20,1,99999999999
"
bad empty 1 "no requests (the file is empty)" ""
bad headeronly 1 "no requests" "$H
"
bad header 1 "header column 2 is 'modle'" "id,modle,width,height,steps,arrival_s,deadline_s
"
# One size rule with the simulator: --check refuses what tetri sim could not cost (above 16384).
bad toolarge 2 "width '32768' is too large (at most 16384)" "$H
0,flux-dev,32768,512,20,1,3
"
printf '0,flux-dev,16384,16384,1,1,3\n' >"$tmp/largest.csv"
"$TETRI" workload --check "$tmp/largest.csv" >/dev/null || fail "--check refused a 16384 x 16384 request"
"$TETRI" sim --policy xdit-sp8 --trace "$tmp/largest.csv" --db "$tmp/largest.db" -q >"$tmp/largest.out" 2>&1 ||
    fail "tetri sim refused the 16384 x 16384 request --check accepted: $(cat "$tmp/largest.out")"
expect 2 "--res: 32768 is out of range (16 to 16384)" -- --res 32768
# Lines ended by a lone CR (old Mac files) read as lines, not as one line of 13 columns.
printf '%s\r0,flux-dev,512,512,20,1,3\r1,flux-dev,512,512,20,2,4\r' "$H" >"$tmp/cr.csv"
"$TETRI" workload --check "$tmp/cr.csv" >"$tmp/cr.out" 2>&1 || fail "CR-only trace rejected: $(cat "$tmp/cr.out")"
grep -q "2 requests" "$tmp/cr.out" || fail "CR-only trace: $(cat "$tmp/cr.out")"
printf '%s\r\n0,flux-dev,512,512,20,1,3\r\n\r\n# ok\r\n' "$H" >"$tmp/crlf.csv"
"$TETRI" workload --check "$tmp/crlf.csv" >/dev/null || fail "CRLF trace rejected"
expect 1 "/nonexistent/t.csv: cannot open" -- --check /nonexistent/t.csv

# ---- bad options: exit 2, naming the option ----
expect 2 "--rate: 'abc' is not a number" -- --rate abc
expect 2 "--rate: 0 must be > 0" -- --rate 0
expect 2 "--rate: '1e-308' is out of range" -- --rate 1e-308
expect 2 "-n: 0 is out of range" -- -n 0
expect 2 "--steps: 0 is out of range" -- --steps 0
expect 2 "--mix: 'lumpy' is unknown" -- --mix lumpy
expect 2 "--arrival: 'bursty' is unknown" -- --arrival bursty
expect 2 "--model: 'dalle' is unknown" -- --model dalle
expect 2 "--res: 100 is not a multiple of 16" -- --res 100
expect 2 "--resolutions: 500 is not a multiple of 16" -- --resolutions 256,500
expect 2 "--seed: -1 is out of range" -- --seed -1
expect 2 "--slo-scale: 'x' is not a number" -- --slo-scale x
expect 2 "--alpha applies to --mix skewed only" -- --alpha 2
expect 2 "--cv applies to --arrival gamma only" -- --cv 2
expect 2 "--res is the side of --mix homogeneous, not of --mix skewed" -- --mix skewed --res 512
expect 2 "--mix homogeneous takes --res SIDE" -- --mix homogeneous --resolutions 256,512
expect 2 "unknown option '--colour'" -- --colour red
expect 2 "--rate needs a value" -- --rate
expect 2 "unexpected argument 'extra'" -- extra
expect 2 "--check reads a trace" -- --check "$tmp/a.csv" -n 5
expect 2 "spans more than" -- --rate 1e-9
expect 1 "cannot write" -- -o /nonexistent/dir/t.csv

[ -f "$tmp/frag-failures" ] && failures=$((failures + $(wc -l <"$tmp/frag-failures")))
[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "cli_workload: all passed"
