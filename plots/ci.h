/* plots/ci.h: the error bars of tetri's figures: a 95% confidence interval of a mean over seeds,
 * by Student's t (GSL).
 * defines: plot_ci95, PLOT_CI_CAPTION.
 *
 * Seeds are independent replications of one configuration, few (3 to 10): the sample mean's
 * interval is mean +- t(0.975, n - 1) s / sqrt(n), s the sample standard deviation. With one seed
 * there is no interval (lo = hi = mean). The bounds are not clipped to [0, 1]: a figure's axis
 * clips them, the CSV keeps what the data say. */
#ifndef TETRI_PLOTS_CI_H
#define TETRI_PLOTS_CI_H

#include <stddef.h>

/* What a figure with these error bars says about them (its caption). */
#define PLOT_CI_CAPTION "mean over seeds; error bars: 95% confidence interval (Student's t)"

/* Mean and 95% interval [lo, hi] of x[0..n) (n >= 1). */
void plot_ci95(const double *x, size_t n, double *mean, double *lo, double *hi);

#endif
