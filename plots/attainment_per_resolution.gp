# plots/attainment_per_resolution.gp: SLO attainment of each resolution's requests, one bar per
# policy in each resolution's cluster: the mean over seeds of each seed's attainment, error bars
# 95% confidence intervals (Student's t; vectors with flat heads, as in ablation.gp).
# Data: policy_id,resolution_index,resolution,met,n,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,policy
load scriptdir.'/common.gp'
set title ci_title noenhanced
set xlabel 'resolution (pixels)'
set ylabel 'SLO attainment (fraction of requests on time)'
set yrange [0:1.05]
set xrange [-0.6:nres - 0.4]
set xtics () nomirror
do for [k=1:nres] { set xtics add (word(reslabels, k) k - 1) }
set grid noxtics
set style fill solid 0.85 border lc rgb '#333333'
bw = 0.8 / npol
set boxwidth bw absolute
bar_x(i) = column(2) + (i - (npol + 1) / 2.0) * bw
# A bar of height 0 is invisible: a "0" marks it, so none met differs from no such requests.
plot for [i=1:npol] datafile skip 1 using (bar_x(i)):(only(i, $6)) with boxes lt i title policy(i) noenhanced, \
     for [i=1:npol] datafile skip 1 using (bar_x(i)):(only(i, $7)):(0):($8 - $7) with vectors heads size screen 0.005,90 lc rgb '#222222' lw 1 notitle, \
     for [i=1:npol] datafile skip 1 using (bar_x(i)):(only(i, $6) == 0 ? 0.02 : NaN):("0") with labels font ",10" notitle
load scriptdir.'/svg.gp'
