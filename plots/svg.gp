# plots/svg.gp: redraws the figure just plotted as SVG (loaded last by each single-plot script).
eval svg_terminal
set output outbase.'.svg'
replot
unset output
