# plots/degree_over_time.gp: mean sequence-parallel degree of the running requests over time, in
# bins (seeds pooled; idle samples have no degree and are left out), one line per policy.
# Data: policy_id,bin_mid_s,mean_degree,mean_busy_gpus,policy (mean_degree empty: no GPU busy in the bin)
load scriptdir.'/common.gp'
set xlabel sprintf('time since the run started (min; bins of %g min)', binmin)
set ylabel 'mean SP degree of running requests (GPUs)'
set yrange [0:*]
set xrange [0:*]
set datafile missing ''
plot for [i=1:npol] datafile skip 1 using ($2 / 60):(only(i, $3)) with linespoints lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
