/* workloads/workload.h: the paper's workload generator (DESIGN section 7).
 * defines: workload_spec, workload_spec_default, workload_generate, workload_slo_base_ns,
 *          tetri_arrival_kind, tetri_mix_kind and their names.
 *
 * Same spec and seed: the same trace, byte for byte, on every machine (GSL's generator, seeded). */
#ifndef TETRI_WORKLOADS_WORKLOAD_H
#define TETRI_WORKLOADS_WORKLOAD_H

#include <stdint.h>

#include "workloads/trace.h"

typedef enum tetri_arrival_kind { TETRI_ARRIVAL_POISSON = 0, TETRI_ARRIVAL_GAMMA } tetri_arrival_kind;
typedef enum tetri_mix_kind { TETRI_MIX_UNIFORM = 0, TETRI_MIX_SKEWED, TETRI_MIX_HOMOGENEOUS } tetri_mix_kind;
const char *tetri_arrival_name(tetri_arrival_kind a); /* "poisson" / "gamma" */
const char *tetri_mix_name(tetri_mix_kind m);         /* "uniform" / "skewed" / "homogeneous" */
int tetri_arrival_parse(const char *s, tetri_arrival_kind *out);
int tetri_mix_parse(const char *s, tetri_mix_kind *out);

#define TETRI_MAX_RESOLUTIONS 16

typedef struct workload_spec {
    tetri_model model;
    int32_t steps;                          /* denoising steps per request (paper preset: 20) */
    int32_t n_resolutions;
    int32_t resolutions[TETRI_MAX_RESOLUTIONS]; /* square sides, default 256, 512, 1024, 2048 */
    tetri_mix_kind mix;
    double skew_alpha;                      /* skewed: share_i ~ exp(alpha L_i / L_max), default 1 */
    int32_t homogeneous_resolution;         /* homogeneous: the one side used */
    tetri_arrival_kind arrival;
    double rate_per_min;                    /* mean arrival rate, default 12 */
    double gamma_cv;                        /* gamma: CV of inter-arrival times, default 2 */
    double slo_scale;                       /* deadline = arrival + scale x base, default 1.0 */
    uint64_t seed;
    int32_t n_requests;                     /* default 300 */
} workload_spec;

/* The paper's preset: FLUX.1-dev, 20 steps, uniform over 256/512/1024/2048, Poisson at 12/min,
 * SLO scale 1.0, 300 requests, seed 1. */
void workload_spec_default(workload_spec *s);
/* Generates the trace. Returns 0, or -1 with err naming the bad field. */
int workload_generate(const workload_spec *s, tetri_trace *out, tetri_error *err);
/* The SLO base of a w x h image: 1.5 / 2.0 / 3.0 / 5.0 s at 256 / 512 / 1024 / 2048 squared,
 * linearly interpolated over tokens between them (clamped extrapolation outside). */
tetri_ns workload_slo_base_ns(int32_t width, int32_t height);
/* A one-line canonical description of the spec (for result rows): "mix=uniform,rate=12,...". */
void workload_spec_format(const workload_spec *s, char *buf, size_t len);

#endif
