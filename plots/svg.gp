# plots/svg.gp: redraws the figure just plotted as SVG (loaded last by each script).
set terminal svg size 960,600 dynamic enhanced font "Sans,13" linewidth 1.5 background rgb '#ffffff'
set output outbase.'.svg'
replot
unset output
