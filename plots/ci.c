/* plots/ci.c: 95% confidence intervals over seeds (contract in plots/ci.h). */
#include "plots/ci.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>

void plot_ci95(const double *x, size_t n, double *mean, double *lo, double *hi)
{
    *mean = gsl_stats_mean(x, 1, n);
    *lo = *hi = *mean;
    if (n < 2) return;
    const double half = gsl_cdf_tdist_Pinv(0.975, (double)(n - 1)) * gsl_stats_sd_m(x, 1, n, *mean) / sqrt((double)n);
    *lo = *mean - half;
    *hi = *mean + half;
}
