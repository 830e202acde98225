# plots/degree_over_time.gp: mean sequence-parallel degree of the running requests over time (one
# run per policy: the lowest seed), one line per policy. 0 while no GPU is busy.
# Data: policy_id,t_s,mean_degree,busy_gpus,pending,policy
load scriptdir.'/common.gp'
set xlabel 'time since the run started (min)'
set ylabel 'mean SP degree of running requests (GPUs)'
set yrange [0:*]
set xrange [0:*]
# Sampled values hold until the next sample: steps, sparse markers, a legend entry of both.
plot for [i=1:npol] datafile skip 1 using ($2 / 60):(only(i, $3)) with steps lt i notitle, \
     for [i=1:npol] datafile skip 1 using ($2 / 60):(only(i, $3)) with points lt i pointinterval ptint notitle, \
     for [i=1:npol] keyentry with linespoints lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
