# plots/common.gp: the style every tetri figure shares, loaded first by each script.
# Terminal: pngcairo (anti-aliased), else gd's png; svg.gp redraws the same plot as SVG.
# Lines: one per policy, each its own colour (Okabe-Ito, readable with colour blindness) AND its own
# point type, so figures survive black-and-white printing.
# Set by `tetri plot` (gnuplot -e, see OUT/plot.sh): outbase, datafile, plottitle, policies (line
# titles, '|'-separated, in policy_id order), npol, scriptdir, and per figure nres,
# reslabels, binmin, xname, xlo, xhi, mixes, nmix. A script may set figw, figh (pixels) first.
if (!exists("figw")) figw = 960
if (!exists("figh")) figh = 600
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) {
    set terminal pngcairo size figw,figh enhanced font "Sans,13" linewidth 1.5
} else {
    set terminal png size figw,figh
}
# The SVG twin (svg.gp, or a multiplot script that must draw twice: replot cannot redo a multiplot).
svg_terminal = sprintf("set terminal svg size %d,%d dynamic enhanced font 'Sans,13' linewidth 1.5 background rgb '#ffffff'", figw, figh)
set output outbase.'.png'
set datafile separator comma
set title plottitle noenhanced
# The caption of figures whose error bars are plots/ci.h's intervals (set as the title's second line).
ci_caption = "mean over seeds; error bars: 95% confidence interval (Student's t)"
ci_title = plottitle."\n".ci_caption
set key outside right top vertical Left reverse noenhanced samplen 2.5 spacing 1.2
set grid xtics ytics lc rgb '#d9d9d9' lw 1 dt 1
set border 3 lw 1
set tics nomirror out
set mytics 2
set linetype 1 lc rgb '#0072B2' pt 7  ps 1.4 lw 2
set linetype 2 lc rgb '#D55E00' pt 5  ps 1.3 lw 2
set linetype 3 lc rgb '#009E73' pt 9  ps 1.6 lw 2
set linetype 4 lc rgb '#CC79A7' pt 11 ps 1.6 lw 2
set linetype 5 lc rgb '#E69F00' pt 13 ps 1.5 lw 2
set linetype 6 lc rgb '#56B4E9' pt 4  ps 1.3 lw 2
set linetype 7 lc rgb '#000000' pt 6  ps 1.3 lw 2
set linetype 8 lc rgb '#999999' pt 8  ps 1.4 lw 2
set linetype cycle 8
# The i-th '|'-separated field of s (gnuplot has no split; the recursion is lazy, via ?:).
field(s, i) = (i <= 1) ? (strstrt(s, "|") > 0 ? s[1:strstrt(s, "|") - 1] : s) : field(s[strstrt(s, "|") + 1:], i - 1)
policy(i) = field(policies, i)
# A policy's rows are consecutive in every CSV; other rows map to NaN and are skipped.
only(i, v) = (column(1) == i ? v : NaN)
