# plots/ablation.gp: variants of one policy (features switched on one by one) as grouped bars of
# SLO attainment, a cluster per SLO scale; error bars 95% confidence intervals over seeds (drawn as
# vectors from ci_lo to ci_hi with flat heads: yerrorbars would mark the mean with a point).
# Data: variant_id,scale_index,slo_scale,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,variant
# Set by tetri plot: nx (clusters), xlabels (their SLO scales, space-separated).
load scriptdir.'/common.gp'
set title ci_title noenhanced
set xlabel 'SLO scale (deadline = arrival + scale x base latency)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1.05]
set xrange [-0.6:nx - 0.4]
set xtics () nomirror
do for [k=1:nx] { set xtics add (word(xlabels, k) k - 1) }
set grid noxtics
set key outside bottom center horizontal Left reverse noenhanced maxrows 2
set style fill solid 0.85 border lc rgb '#333333'
bw = 0.8 / npol
set boxwidth bw absolute
bar_x(i) = column(2) + (i - (npol + 1) / 2.0) * bw
plot for [i=1:npol] datafile skip 1 using (bar_x(i)):(only(i, $4)) with boxes lt i title policy(i) noenhanced, \
     for [i=1:npol] datafile skip 1 using (bar_x(i)):(only(i, $5)):(0):($6 - $5) with vectors heads size screen 0.006,90 lc rgb '#222222' lw 1 notitle
load scriptdir.'/svg.gp'
