# plots/attainment_vs_scale_panels.gp: the paper's layout: SLO attainment vs SLO scale, one panel
# per mix side by side, one line per policy (same colour and point in every panel), one legend.
# Error bars: 95% confidence intervals over seeds (Student's t), said under the title.
# Data: mix_id,policy_id,slo_scale,attainment_mean,attainment_ci_lo,attainment_ci_hi,seeds,mix,policy
figw = 420 * nmix + 220
figh = 480
load scriptdir.'/common.gp'
load scriptdir.'/attainment_vs_scale_panels_draw.gp'
eval svg_terminal
set output outbase.'.svg'
load scriptdir.'/attainment_vs_scale_panels_draw.gp'
unset output
