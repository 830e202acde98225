# plots/attainment_vs_scale.gp: SLO attainment vs SLO scale, one line per policy (mean over seeds,
# error bars: 95% confidence interval, Student's t). Data: policy_id,slo_scale,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,policy
load scriptdir.'/common.gp'
set title ci_title noenhanced
set xlabel 'SLO scale (deadline = arrival + scale x base latency)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1]
set xrange [xlo:xhi]
plot for [i=1:npol] datafile skip 1 using 2:(only(i, $3)):4:5 with yerrorlines lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
