/* sim/normalize.c: SLO bases and arrival rates relative to a profile (contract in sim/normalize.h). */
#include "sim/normalize.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NORMALIZE_MAX_X 1000.0
#define NORMALIZE_MAX_DEGREES 64

int normalize_parse_slo_base(const char *text, const char *opt, normalize_slo_base *out, tetri_error *err)
{
    static const char prefix[] = "profile:";
    memset(out, 0, sizeof *out);
    if (strcmp(text, "fixed") == 0) return 0;
    if (strncmp(text, prefix, sizeof prefix - 1) != 0)
        return tetri_errorf(err, "%s: '%.60s' is not 'fixed' or profile:X[:best|:one]", opt, text);
    const char *num = text + sizeof prefix - 1;
    char *end;
    errno = 0;
    double x = strtod(num, &end);
    if (end == num || errno || !(x > 0 && x <= NORMALIZE_MAX_X))
        return tetri_errorf(err, "%s: '%.60s' needs X, a number above 0 and at most %g, after profile:", opt, text,
                            NORMALIZE_MAX_X);
    if (*end == ':' && strcmp(end + 1, "one") == 0) out->one_gpu = 1;
    else if (*end != '\0' && strcmp(end, ":best") != 0)
        return tetri_errorf(err, "%s: '%.60s': after X comes :best (the fastest degree, the default) or :one (one GPU)", opt,
                            text);
    out->from_profile = 1;
    out->x = x;
    return 0;
}

/* One step at `degree`, batch 1, over the best link class with a row (degree 1: any). -1: none. */
static tetri_ns step_ns(const tetri_profile *p, tetri_model model, int side, int degree)
{
    tetri_ns best = -1;
    for (int l = 0; l < TETRI_LINK_COUNT; l++) {
        tetri_ns t = profile_lookup_step_ns(p, model, side, side, degree, 1, (tetri_link)l);
        if (t > 0 && (best < 0 || t < best)) best = t;
    }
    return best;
}

/* min over degrees d of weight(d) x steps x step(d), weight(d) = d for GPU time, 1 for latency. */
static int min_over_degrees(const tetri_profile *p, tetri_model model, int side, int steps, int gpu_time, int max_degree,
                            tetri_ns *out, int *degree, tetri_error *err)
{
    int degrees[NORMALIZE_MAX_DEGREES];
    int n = profile_degrees(p, model, degrees, NORMALIZE_MAX_DEGREES);
    *out = -1;
    for (int i = 0; i < n; i++) {
        if (degrees[i] > max_degree || degrees[i] > profile_cluster(p)->n_gpus) continue;
        tetri_ns t = step_ns(p, model, side, degrees[i]);
        if (t < 0) continue;
        tetri_ns cost = (gpu_time ? degrees[i] : 1) * (tetri_ns)steps * t;
        if (*out < 0 || cost < *out) {
            *out = cost;
            *degree = degrees[i];
        }
    }
    if (*out < 0)
        return tetri_errorf(err, "profile %s: no step time for %s at %dx%d (batch 1)", profile_hardware(p),
                            tetri_model_name(model), side, side);
    return 0;
}

int normalize_standalone_ns(const tetri_profile *p, tetri_model model, int side, int steps, int one_gpu, tetri_ns *out,
                            int *degree, tetri_error *err)
{
    return min_over_degrees(p, model, side, steps, 0, one_gpu ? 1 : NORMALIZE_MAX_DEGREES, out, degree, err);
}

int normalize_cheapest_ns(const tetri_profile *p, tetri_model model, int side, int steps, tetri_ns *out, int *degree,
                          tetri_error *err)
{
    return min_over_degrees(p, model, side, steps, 1, NORMALIZE_MAX_DEGREES, out, degree, err);
}

/* Adds side's base to w unless it is there. */
static int add_base(const tetri_profile *p, const normalize_slo_base *b, workload_spec *w, int32_t side, tetri_error *err)
{
    for (int i = 0; i < w->n_slo_bases; i++)
        if (w->slo_base_sides[i] == side) return 0;
    if (w->n_slo_bases == TETRI_MAX_RESOLUTIONS)
        return tetri_errorf(err, "slo_bases: more than %d sides", TETRI_MAX_RESOLUTIONS);
    tetri_ns alone;
    int degree;
    if (normalize_standalone_ns(p, w->model, side, w->steps, b->one_gpu, &alone, &degree, err)) return -1;
    w->slo_base_sides[w->n_slo_bases] = side;
    w->slo_bases[w->n_slo_bases++] = (tetri_ns)llround(b->x * (double)alone);
    return 0;
}

int normalize_slo_bases(const tetri_profile *p, const normalize_slo_base *b, workload_spec *w, tetri_error *err)
{
    assert(p && b && w);
    w->n_slo_bases = 0;
    if (!b->from_profile) return 0;
    for (int i = 0; i < w->n_resolutions && i < TETRI_MAX_RESOLUTIONS; i++)
        if (add_base(p, b, w, w->resolutions[i], err)) return -1;
    return add_base(p, b, w, w->homogeneous_resolution, err);
}

int normalize_load_rate(const tetri_profile *p, workload_spec *w, double rho, tetri_error *err)
{
    assert(p && w);
    double shares[TETRI_MAX_RESOLUTIONS], expected_ns = 0;
    w->load = rho;
    int n = workload_mix_shares(w, shares, TETRI_MAX_RESOLUTIONS, err);
    if (n < 0) return -1;
    for (int i = 0; i < n; i++) {
        int32_t side = w->mix == TETRI_MIX_HOMOGENEOUS ? w->homogeneous_resolution : w->resolutions[i];
        tetri_ns cost;
        int degree;
        if (normalize_cheapest_ns(p, w->model, side, w->steps, &cost, &degree, err)) return -1;
        expected_ns += shares[i] * (double)cost;
    }
    w->rate_per_min = 60.0 * rho * profile_cluster(p)->n_gpus * 1e9 / expected_ns;
    return 0;
}
