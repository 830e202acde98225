# plots/sim_vs_real.gp: the simulator against live runs (tetri validate). Left: the latency CDF of
# each line (a policy on one live backend), simulated dashed, live solid. Middle: every live block's
# actual duration against the profile's prediction, log axes, with the line y = x (on it: exactly
# as predicted; above it: longer). Right: the same blocks' relative error in percent, which the
# middle panel's decades hide (a 3% error is a point's width there). Every series takes its x as
# well as its y from its own panel's rows, so one panel's rows never stretch another's x range.
# Drawn twice, PNG then SVG (replot cannot redo a multiplot).
# Data: panel,line_id,side,x,y,line (panel 1: latency s, fraction finished, side 0 sim / 1 live;
# panel 2: predicted s, actual s). Set by tetri plot: nblk, the number of panel 2 rows.
figw = nblk > 0 ? 2100 : 960
figh = 620
load scriptdir.'/common.gp'
in_series(p, i, s, v) = (column(1) == p && column(2) == i && column(3) == s ? v : NaN)
rel_err_pct(pred, actual) = 100.0 * (actual - pred) / pred
do for [pass = 1:2] {
    if (pass == 2) { eval svg_terminal; set output outbase.'.svg' }
    set multiplot layout 1, (nblk > 0 ? 3 : 1) title plottitle noenhanced
    set title 'end-to-end latency: simulated (dashed), live (solid)'
    set xlabel 'latency, arrival to finish (s)'
    set ylabel 'fraction of requests finished'
    unset logscale
    set xrange [0:*]
    set yrange [0:1]
    set key inside right bottom vertical Left reverse noenhanced
    plot for [i=1:npol] datafile skip 1 using (in_series(1, i, 0, $4)):(in_series(1, i, 0, $5)) with steps lt i dt 2 notitle, \
         for [i=1:npol] datafile skip 1 using (in_series(1, i, 1, $4)):(in_series(1, i, 1, $5)) with steps lt i dt 1 notitle, \
         for [i=1:npol] keyentry with lines lt i title policy(i), \
         keyentry with lines lc rgb '#444444' dt 2 title 'simulated', \
         keyentry with lines lc rgb '#444444' dt 1 title 'live'
    if (nblk > 0) {
        set title 'live blocks: actual against predicted duration'
        set xlabel 'predicted block duration (s)'
        set ylabel 'actual block duration (s)'
        set logscale xy
        set xrange [*:*]
        set yrange [*:*]
        set key inside left top vertical Left reverse noenhanced
        plot for [i=1:npol] datafile skip 1 using (in_series(2, i, 1, $4)):(in_series(2, i, 1, $5)) with points lt i ps 0.7 title policy(i), \
             x with lines lc rgb '#444444' dt 3 title 'y = x'
        set title 'live blocks: error against the prediction'
        set xlabel 'predicted block duration (s)'
        set ylabel '(actual - predicted) / predicted (%)'
        set logscale x
        unset logscale y
        set xrange [*:*]
        set yrange [*:*]
        set key inside right top vertical Left reverse noenhanced
        plot for [i=1:npol] datafile skip 1 using (in_series(2, i, 1, $4)):(in_series(2, i, 1, rel_err_pct($4, $5))) with points lt i ps 0.7 title policy(i), \
             0 with lines lc rgb '#444444' dt 3 title 'as predicted'
    }
    unset multiplot
}
unset output
