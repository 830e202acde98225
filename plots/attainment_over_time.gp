# plots/attainment_over_time.gp: SLO attainment of the requests arriving in each time bin (seeds
# pooled), one line per policy. Data: policy_id,bin_start_s,bin_mid_s,met,n,attainment,policy
load scriptdir.'/common.gp'
set xlabel sprintf('arrival time (min; bins of %g min)', binmin)
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1]
set xrange [0:*]
plot for [i=1:npol] datafile skip 1 using ($3 / 60):(only(i, $6)) with linespoints lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
