/* results/stats.h: statistics over samples of doubles, shared by the readers of results: the
 * nearest-rank quantile, and the two-sample Kolmogorov-Smirnov test that `tetri validate` applies
 * to the latency distributions of a simulated and a live run.
 * defines: stats_compare_double, stats_quantile_sorted, stats_ks_result, stats_ks_statistic,
 *          stats_kolmogorov_sf, stats_ks_two_sample.
 *
 * Samples may hold +infinity (a dropped request's latency: it never finishes); infinities are
 * ordinary values here, equal to one another and above every number. NaN is not a sample. */
#ifndef TETRI_RESULTS_STATS_H
#define TETRI_RESULTS_STATS_H

#include <stddef.h>

/* qsort order of doubles, ascending. */
int stats_compare_double(const void *a, const void *b);

/* Nearest-rank quantile of sorted v[0..n-1]: the smallest value with at least p of the mass at or
 * below it (p in [0, 1]). NAN when n = 0. */
double stats_quantile_sorted(const double *v, size_t n, double p);

typedef struct stats_ks_result {
    size_t n1, n2;
    double d;           /* sup over x of |F1(x) - F2(x)|, the empirical CDFs' largest gap, in [0, 1] */
    double lambda;      /* sqrt(n1 n2 / (n1 + n2)) x d */
    double p;           /* asymptotic p-value: P(K > lambda), K Kolmogorov's distribution */
} stats_ks_result;

/* D of two samples, each sorted ascending (ties within and across samples are handled: the CDFs
 * are compared only after every copy of a value). 0 when either is empty. */
double stats_ks_statistic(const double *a, size_t na, const double *b, size_t nb);

/* P(K > lambda) for Kolmogorov's limiting distribution, K = sup |Brownian bridge|:
 * 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 lambda^2), or for small lambda, where that alternating series
 * converges slowly, 1 - sqrt(2 pi) / lambda sum_{j>=1} exp(-(2j-1)^2 pi^2 / (8 lambda^2)) (the same
 * function by Jacobi's theta identity). 1 for lambda <= 0. Absolute error below 1e-15. */
double stats_kolmogorov_sf(double lambda);

/* The two-sample test: sorts a and b in place, then D and its asymptotic p-value
 * stats_kolmogorov_sf(sqrt(n1 n2 / (n1 + n2)) D), as R's ks.test(exact = FALSE) and
 * scipy.special.kolmogorov give it (scipy.stats.ks_2samp's own "asymp" method uses another
 * approximation, the one-sample distribution at n1 n2 / (n1 + n2)). With an empty sample: d = 0,
 * p = 1 (nothing to reject on). */
void stats_ks_two_sample(double *a, size_t na, double *b, size_t nb, stats_ks_result *out);

#endif
