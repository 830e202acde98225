# plots/attainment_per_resolution.gp: SLO attainment of each resolution's requests (seeds pooled),
# one bar per policy in each resolution's cluster.
# Data: policy_id,resolution_index,resolution,met,n,attainment,policy
load scriptdir.'/common.gp'
set xlabel 'resolution (pixels)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1]
set xrange [-0.6:nres - 0.4]
set xtics () nomirror
do for [k=1:nres] { set xtics add (word(reslabels, k) k - 1) }
set grid noxtics
set style fill solid 0.85 border lc rgb '#333333'
bw = 0.8 / npol
set boxwidth bw absolute
plot for [i=1:npol] datafile skip 1 using ($2 + (i - (npol + 1) / 2.0) * bw):(only(i, $6)) with boxes lt i title policy(i) noenhanced
load scriptdir.'/svg.gp'
