/* sim/normalize.h: workloads stated relative to the hardware (issue 15): SLO bases as a multiple
 * of each resolution's standalone latency, and arrival rates as an offered load of the cluster.
 * defines: normalize_slo_base, normalize_parse_slo_base, normalize_standalone_ns,
 *          normalize_cheapest_ns, normalize_slo_bases, normalize_load_rate.
 *
 * workloads/ knows no profile: these read the profile and hand the generator plain numbers
 * (workload_spec's explicit slo_bases, its rate_per_min, and the load it came from, recorded).
 * Step times are batch 1, at each degree over the best link class any set of that size has. */
#ifndef TETRI_SIM_NORMALIZE_H
#define TETRI_SIM_NORMALIZE_H

#include "profiles/profile.h"
#include "workloads/workload.h"

/* --slo-base: "fixed" (the paper's 1.5/2/3/5 s, the default) or "profile:X[:best|:one]". */
typedef struct normalize_slo_base {
    int from_profile; /* 0: the fixed bases */
    double x;         /* base = x times the standalone latency, x in (0, 1000] */
    int one_gpu;      /* 1: standalone on one GPU; 0 (best): at the fastest degree */
} normalize_slo_base;

/* Parses `text` (the value of option `opt`, named in errors). Returns 0 or -1 with err. */
int normalize_parse_slo_base(const char *text, const char *opt, normalize_slo_base *out, tetri_error *err);

/* steps x step time of one side x side request alone: on one GPU, or at its fastest degree.
 * *degree gets the degree used. Returns 0, or -1 with err naming what the profile lacks. */
int normalize_standalone_ns(const tetri_profile *p, tetri_model model, int side, int steps, int one_gpu, tetri_ns *out,
                            int *degree, tetri_error *err);
/* The request's cheapest GPU time: min over degrees d of d x steps x step time at d; *degree gets
 * the d behind it. Returns 0 or -1 with err. */
int normalize_cheapest_ns(const tetri_profile *p, tetri_model model, int side, int steps, tetri_ns *out, int *degree,
                          tetri_error *err);
/* Sets w's explicit SLO bases from b (nothing for fixed bases): every side of w->resolutions and
 * w->homogeneous_resolution gets llround(x x standalone). Returns 0 or -1 with err. */
int normalize_slo_bases(const tetri_profile *p, const normalize_slo_base *b, workload_spec *w, tetri_error *err);
/* Sets w->load = rho and w->rate_per_min so the offered load is rho of the cluster's capacity
 * (its GPU count, in GPU-seconds per second): rate = 60 rho GPUs / sum over the mix's shares of
 * share x cheapest GPU-seconds. Returns 0 or -1 with err. */
int normalize_load_rate(const tetri_profile *p, workload_spec *w, double rho, tetri_error *err);

#endif
