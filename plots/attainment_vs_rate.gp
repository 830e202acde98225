# plots/attainment_vs_rate.gp: SLO attainment vs arrival rate, one line per policy (mean over seeds,
# error bars min..max). Data: policy_id,rate_per_min,attainment_mean,attainment_min,attainment_max,seeds,policy
load scriptdir.'/common.gp'
set xlabel 'arrival rate (requests/min)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1]
set xrange [xlo:xhi]
plot for [i=1:npol] datafile skip 1 using 2:(only(i, $3)):4:5 with yerrorlines lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
