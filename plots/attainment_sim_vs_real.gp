# plots/attainment_sim_vs_real.gp: SLO attainment vs SLO scale, simulated (dashed) against real executor
# runs (solid), one colour per policy. Data: policy_id,backend_id (0 sim, 1 exec),slo_scale,
# attainment_mean,attainment_min,attainment_max,seeds,backend,policy
load scriptdir.'/common.gp'
set xlabel 'SLO scale (deadline = arrival + scale x base latency)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1]
set offsets graph 0.04, graph 0.04, 0, 0
backend_is(b, v) = (column(2) == b ? v : NaN)
# Simulated: the open variant of the policy's point type (common.gp's filled 7 5 9 11 13 ...).
open_pt(i) = word('6 4 8 10 12 4 6 8', (i - 1) % 8 + 1) + 0
plot for [i=1:npol] datafile skip 1 using 3:(backend_is(0, only(i, $4))) with linespoints lt i dt 2 pt open_pt(i) title policy(i).' (sim)' noenhanced, \
     for [i=1:npol] datafile skip 1 using 3:(backend_is(1, only(i, $4))) with linespoints lt i dt 1 title policy(i).' (real)' noenhanced
load scriptdir.'/svg.gp'
