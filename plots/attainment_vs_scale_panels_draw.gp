# plots/attainment_vs_scale_panels_draw.gp: draws attainment_vs_scale_panels.gp's panels on the
# current terminal (loaded once for PNG, once for SVG).
in_panel(m, i, v) = (column(1) == m && column(2) == i ? v : NaN)
set multiplot layout 1, nmix title ci_title noenhanced margins 0.085, 0.84, 0.15, 0.78 spacing 0.025, 0
set yrange [0:1]
set xrange [xlo:xhi]
set xlabel 'SLO scale'
do for [m=1:nmix] {
    set title field(mixes, m).' mix' noenhanced
    if (m == 1) { set ylabel 'SLO attainment'; set format y '%g' } else { unset ylabel; set format y '' }
    if (m == nmix) { set key outside right top vertical Left reverse noenhanced } else { set key off }
    plot for [i=1:npol] datafile skip 1 using 3:(in_panel(m, i, $4)):5:6 with yerrorlines lt i title policy(i) noenhanced
}
unset multiplot
