# plots/latency_cdf.gp: CDF of request latency (arrival to finish), seeds pooled, one line per policy.
# Dropped requests never finish: each curve ends below 1 by the dropped fraction.
# Data: policy_id,latency_s,cumulative_fraction,marker,policy
load scriptdir.'/common.gp'
set xlabel 'latency, arrival to finish (s)'
set ylabel 'fraction of requests finished'
set yrange [0:1]
set xrange [0:*]
# A CDF is a step function: steps for the curve, markers on the rows marked for them (8 per curve,
# staggered between policies), and a legend entry of both.
plot for [i=1:npol] datafile skip 1 using 2:(only(i, $3)) with steps lt i notitle, \
     for [i=1:npol] datafile skip 1 using 2:(only(i, $4 > 0 ? $3 : NaN)) with points lt i notitle, \
     for [i=1:npol] keyentry with linespoints lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
