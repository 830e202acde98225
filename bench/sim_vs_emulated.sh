#!/bin/sh
# bench/sim_vs_emulated.sh: the same traces through the simulator and `tetri serve --backend
# emulated`, per policy: SLO attainment and mean end-to-end latency side by side.
#
# usage: bench/sim_vs_emulated.sh TETRI OUTDIR [N] [SPEED] [JOBS] [EXTRA...]
#   N requests per trace (default 300), SPEED for serve (default 20), JOBS emulated runs at once
#   (default 1; each holds a thread per GPU, mostly asleep). EXTRA is passed to both (e.g. --jitter).
#   Environment: MIXES (default "uniform skewed"), SCALES ("1.0 1.5"), POLICIES (the four), SEED (1),
#   TOL_SAR and TOL_MEAN_PCT (0.02 and 2: the tolerances; tests/cli_serve.sh widens them).
# Traces: FLUX.1-dev paper workload (12/min), mixes uniform and skewed, SLO scales 1.0 and 1.5,
# seed 1 (SEED), on the default profile's h100x8. Writes OUTDIR/table.txt (and every db); exit 1 when a
# policy misses attainment within TOL_SAR or mean latency within TOL_MEAN_PCT %, or a run is missing.
set -u
T=$1 OUT=$2 N=${3:-300} SPEED=${4:-20} JOBS=${5:-1}
shift 2; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && shift; [ $# -gt 0 ] && shift
EXTRA="$*"
POLICIES=${POLICIES:-xdit-sp4 rssp edf-dyn tetriserve}
SCALES=${SCALES:-1.0 1.5}
SEED=${SEED:-1}
TOL_SAR=${TOL_SAR:-0.02}
TOL_MEAN_PCT=${TOL_MEAN_PCT:-2}
mkdir -p "$OUT"
summary() { # DB -> "n met dropped mean_latency_s" (mean over finished requests)
    "$T" report --db "$1" --requests - 2>/dev/null | sed 's/"[^"]*"/P/g' |
        awk -F, 'NR > 1 { n++; if ($19 == "met") met++; if ($19 == "dropped") dr++; if ($18 != "") { done++; lat += $18 } }
                 END { printf "%d %d %d %.6f\n", n, met, dr, done ? lat / done : 0 }'
}
running=0
for mix in ${MIXES:-uniform skewed}; do
    for scale in $SCALES; do
        tr="$OUT/trace-$mix-$scale.csv"
        "$T" workload --mix $mix --slo-scale $scale -n "$N" --rate 12 --seed "$SEED" -o "$tr" >/dev/null || exit 1
        for p in $POLICIES; do
            # shellcheck disable=SC2086
            "$T" sim --policy $p --trace "$tr" $EXTRA --db "$OUT/sim-$mix-$scale-$p.db" -q >/dev/null || exit 1
            # shellcheck disable=SC2086
            "$T" serve --backend emulated --speed "$SPEED" --policy $p --trace "$tr" $EXTRA \
                --db "$OUT/emu-$mix-$scale-$p.db" >"$OUT/emu-$mix-$scale-$p.log" 2>&1 &
            running=$((running + 1))
            if [ "$running" -ge "$JOBS" ]; then wait; running=0; fi
        done
    done
done
wait
{
    printf "%-8s %5s %-11s %9s %9s %7s %10s %10s %7s %8s %8s\n" mix scale policy SAR_sim SAR_emu dSAR mean_sim_s \
        mean_emu_s dmean% gap_p50 gap_p99
    for mix in ${MIXES:-uniform skewed}; do for scale in $SCALES; do for p in $POLICIES; do
        gaps=$(sed -n 's/.*end->next start p50 \([0-9.]*\) us p99 \([0-9.]*\) us.*/\1 \2/p' "$OUT/emu-$mix-$scale-$p.log")
        echo "$mix $scale $p $(summary "$OUT/sim-$mix-$scale-$p.db") $(summary "$OUT/emu-$mix-$scale-$p.db") ${gaps:-nan nan}"
    done; done; done | awk -v ts="$TOL_SAR" -v tm="$TOL_MEAN_PCT" '{
        ds = ($9 - $5) / $4; dm = 100 * ($11 - $7) / $7
        bad = (ds > ts || ds < -ts || dm > tm || dm < -tm || $4 != $8 || $4 == 0)
        printf "%-8s %5s %-11s %9.3f %9.3f %+7.3f %10.3f %10.3f %+7.2f %8s %8s%s\n", $1, $2, $3, $5 / $4, $9 / $8, ds, $7, $11, dm, $12, $13, bad ? "  MISS" : ""
        miss += bad } END { printf "%d of %d cells within %s attainment and %s%% mean latency\n", NR - miss, NR, ts, tm; exit miss > 0 }'
} >"$OUT/table.txt"
rc=$?
cat "$OUT/table.txt"
exit $rc
