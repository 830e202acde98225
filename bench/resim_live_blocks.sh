#!/bin/sh
# bench/resim_live_blocks.sh: how much of a live run's latency error its block times explain.
#
# usage: [BLOCKS=back-to-back] bench/resim_live_blocks.sh TETRI DB LIVE_RUN_ID PROFILE TRACE
#   DB          a results database with the live run (tetri validate --live gpu, tetri serve --backend gpu)
#   LIVE_RUN_ID its id (sqlite3 DB "SELECT id, backend, policy_name FROM run")
#   PROFILE     the profile it ran on; TRACE the trace it served
# Each (model, resolution, batch, degree) class's step time is scaled by that class's mean live
# block error (actual / predicted duration, failed blocks left out; with BLOCKS=back-to-back only
# the blocks that started within 50 ms of the previous end on one of their GPUs, the speed a
# loaded GPU holds, which a round policy's overruns follow) in a copy of PROFILE; the
# trace is simulated on the copy with the run's policy. Printed: the mean end-to-end latency of
# the simulator on PROFILE, on the corrected copy, and live, and the share of the live-vs-sim
# difference the block times account for. docs/validation.md, section 7.3, uses it (C: +1.7% of
# +2.7%). Needs sqlite3. A policy that sizes its work from the step times (tetriserve and optimal
# derive their round from them) decides differently on the corrected copy, so there the figure is
# not the block times' share alone (on session 7's tetriserve runs the corrected copy moved the
# mean by -13% and -6.5% against live errors of -2.5% and -1.9%); since session 9 the copy is the
# simulation's --actual-profile, so blocks run by it while every prediction stays PROFILE's.
set -eu
T=$1 DB=$2 RUN=$3 PROFILE=$4 TRACE=$5
command -v sqlite3 >/dev/null || { echo "resim_live_blocks: needs the sqlite3 shell" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/resim.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
q() { sqlite3 "$DB" "$1"; }
[ "$(q "SELECT count(*) FROM run WHERE id = $RUN AND backend != 'sim'")" = 1 ] ||
    { echo "resim_live_blocks: $DB has no live run $RUN" >&2; exit 1; }
policy=$(q "SELECT policy FROM run WHERE id = $RUN")
hw=$(q "SELECT hardware FROM run WHERE id = $RUN")
cp "$PROFILE" "$tmp/corrected.db"
only=
case ${BLOCKS:-all} in
all) ;;
back-to-back) only="AND b.start_ns - (SELECT max(p.end_ns) FROM block p WHERE p.run_id = b.run_id AND p.seq < b.seq
                                      AND (p.gpus & b.gpus) != 0) < 50000000" ;;
*) echo "resim_live_blocks: BLOCKS=$BLOCKS: all or back-to-back" >&2; exit 2 ;;
esac
# Per class: model and size from the block's first request, batch = n_req, degree.
q "SELECT q.model, q.width, q.height, b.n_req, b.degree,
          avg(1.0 * (b.end_ns - b.start_ns) / (b.pred_end_ns - b.pred_start_ns)), count(*)
   FROM block b JOIN request q ON q.run_id = b.run_id AND q.id = b.request_id
   WHERE b.run_id = $RUN AND b.failed = 0 AND b.pred_end_ns > b.pred_start_ns $only
   GROUP BY q.model, q.width, q.height, b.n_req, b.degree" >"$tmp/classes"
echo "live run $RUN of $DB: $policy on $hw; block time / predicted by class:"
while IFS='|' read -r model w h batch degree ratio n; do
    printf "  %s %sx%s batch %s degree %s: %.4f over %s blocks\n" "$model" "$w" "$h" "$batch" "$degree" "$ratio" "$n"
    sqlite3 "$tmp/corrected.db" "UPDATE step_latency SET median_ns = CAST(round(median_ns * $ratio) AS INTEGER),
        p10_ns = CAST(round(p10_ns * $ratio) AS INTEGER), p90_ns = CAST(round(p90_ns * $ratio) AS INTEGER)
        WHERE hardware = '$hw' AND model = '$model' AND width = $w AND height = $h AND batch = $batch AND degree = $degree"
done <"$tmp/classes"
mean() { # DB [RUN]: mean latency of finished requests of the only run, or of RUN
    sqlite3 "$1" "SELECT avg((finish_ns - arrival_ns) / 1e9) FROM request WHERE finish_ns >= 0 AND run_id = ${2:-(SELECT max(id) FROM run)}"
}
"$T" sim --profile "$PROFILE" --hardware "$hw" --trace "$TRACE" --policy "$policy" --db "$tmp/a.db" -q >/dev/null
# The corrected copy is the actual profile: blocks run by it, predictions (and a round policy's
# tau) stay PROFILE's, as they were live.
"$T" sim --profile "$PROFILE" --actual-profile "$tmp/corrected.db" --hardware "$hw" --trace "$TRACE" --policy "$policy" \
    --db "$tmp/b.db" -q >/dev/null
awk -v s="$(mean "$tmp/a.db")" -v c="$(mean "$tmp/b.db")" -v l="$(mean "$DB" "$RUN")" 'BEGIN {
    printf "mean latency: simulated %.4f s, with the live block times %.4f s (%+.2f%%), live %.4f s (%+.2f%%)\n",
           s, c, 100 * (c - s) / s, l, 100 * (l - s) / s
    if (l != s) printf "the block times account for %.0f%% of the live-vs-sim difference\n", 100 * (c - s) / (l - s) }'
