# plots/attainment_vs_round.gp: SLO attainment vs the round granularity g of a round-based policy
# (tetriserve's tau = g steps), one line per SLO scale (mean over seeds, error bars: 95% confidence interval, Student's t).
# Data: line_id,g,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,slo_scale,policy
load scriptdir.'/common.gp'
set title ci_title noenhanced
set xlabel 'round granularity g (steps of the slowest resolution per round)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1]
set offsets graph 0.04, graph 0.04, 0, 0
set logscale x 2
plot for [i=1:npol] datafile skip 1 using 2:(only(i, $3)):4:5 with yerrorlines lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
