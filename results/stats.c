/* results/stats.c: nearest-rank quantiles and the two-sample Kolmogorov-Smirnov test (see stats.h). */
#include "results/stats.h"

#include <math.h>
#include <stdlib.h>

int stats_compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double stats_quantile_sorted(const double *v, size_t n, double p)
{
    if (n == 0) return NAN;
    size_t rank = (size_t)ceil(p * (double)n);
    if (rank < 1) rank = 1;
    if (rank > n) rank = n;
    return v[rank - 1];
}

double stats_ks_statistic(const double *a, size_t na, const double *b, size_t nb)
{
    if (na == 0 || nb == 0) return 0.0;
    size_t i = 0, j = 0;
    double d = 0.0;
    /* Walk the pooled values in order; at each distinct value, step past every copy of it in both
     * samples before comparing, so a tie never opens a gap that the data does not have. */
    while (i < na && j < nb) {
        double x = a[i] <= b[j] ? a[i] : b[j];
        while (i < na && a[i] == x) i++;
        while (j < nb && b[j] == x) j++;
        double gap = fabs((double)i / (double)na - (double)j / (double)nb);
        if (gap > d) d = gap;
    }
    /* One sample is used up, at CDF 1; the other's CDF only grows towards 1 from here, so the gap
     * was largest where the walk stopped (already counted). */
    return d;
}

double stats_kolmogorov_sf(double lambda)
{
    if (!(lambda > 0)) return 1.0;
    /* Both series need at most a handful of terms at the switch point 1.18 (term ratio < 1e-3);
     * 100 bounds the loop for any lambda. */
    if (lambda < 1.18) {
        const double k = M_PI * M_PI / (8.0 * lambda * lambda);
        double sum = 0.0;
        for (int j = 1; j <= 100; j++) {
            double term = exp(-(double)((2 * j - 1) * (2 * j - 1)) * k);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        return 1.0 - sqrt(2.0 * M_PI) / lambda * sum;
    }
    double sum = 0.0;
    for (int j = 1; j <= 100; j++) {
        double term = exp(-2.0 * (double)j * (double)j * lambda * lambda);
        sum += (j % 2 ? term : -term);
        if (term < 1e-17 * sum) break;
    }
    double q = 2.0 * sum;
    return q < 0 ? 0.0 : q > 1 ? 1.0 : q;
}

void stats_ks_two_sample(double *a, size_t na, double *b, size_t nb, stats_ks_result *out)
{
    if (na > 1) qsort(a, na, sizeof *a, stats_compare_double); /* qsort takes no NULL, even for 0 items */
    if (nb > 1) qsort(b, nb, sizeof *b, stats_compare_double);
    out->n1 = na;
    out->n2 = nb;
    out->d = stats_ks_statistic(a, na, b, nb);
    out->lambda = na && nb ? sqrt((double)na * (double)nb / ((double)na + (double)nb)) * out->d : 0.0;
    out->p = na && nb ? stats_kolmogorov_sf(out->lambda) : 1.0;
}
