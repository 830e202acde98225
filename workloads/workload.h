/* workloads/workload.h: the paper's workload generator (DESIGN section 7).
 * defines: workload_spec, workload_spec_default, workload_spec_validate, workload_generate,
 *          workload_slo_base_ns, workload_mix_shares, workload_spec_format, workload_spec_parse,
 *          workload_spec_set, workload_spec_slo_base_ns, WORKLOAD_TEXT_MAX, WORKLOAD_MAX_LOAD,
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
/* GSL's mt19937 takes 32-bit seeds and maps 0 to its default; seeds are 0..2^32-2, used + 1. */
#define WORKLOAD_MAX_SEED 4294967294ULL
/* Room for workload_spec_format's text, explicit SLO bases of every resolution included. */
#define WORKLOAD_TEXT_MAX 1024
/* --load: offered load as a fraction of capacity; above 1 is overload (a legitimate study). */
#define WORKLOAD_MAX_LOAD 10.0

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
    /* Explicit SLO bases (e.g. X times each resolution's standalone latency from a profile,
     * computed outside workloads/): side slo_base_sides[i] gets slo_bases[i]. 0 entries: the fixed
     * bases of workload_slo_base_ns. With entries, every side the mix uses needs one. */
    int32_t n_slo_bases;
    int32_t slo_base_sides[TETRI_MAX_RESOLUTIONS];
    tetri_ns slo_bases[TETRI_MAX_RESOLUTIONS];
    /* The offered load the rate was derived from (0: none, the rate was given). Only recorded:
     * the generator uses rate_per_min. (0, WORKLOAD_MAX_LOAD] when set. */
    double load;
} workload_spec;

/* The paper's preset: FLUX.1-dev, 20 steps, uniform over 256/512/1024/2048, Poisson at 12/min,
 * SLO scale 1.0, 300 requests, seed 1. */
void workload_spec_default(workload_spec *s);
/* Checks every field (ranges, resolutions multiples of 16, rate/scale/cv positive and finite...).
 * Returns 0, or -1 with err starting with the field's name as workload_spec_format writes it. */
int workload_spec_validate(const workload_spec *s, tetri_error *err);
/* Generates the trace. Returns 0, or -1 with err naming the bad field.
 * Draw order: every inter-arrival gap, then every resolution, so for one seed the arrivals do not
 * depend on the mix or the SLO scale. The first request arrives one gap after t = 0. */
int workload_generate(const workload_spec *s, tetri_trace *out, tetri_error *err);
/* The SLO base of a w x h image: 1.5 / 2.0 / 3.0 / 5.0 s at 256 / 512 / 1024 / 2048 squared,
 * linearly interpolated over tokens between them (clamped extrapolation outside). */
tetri_ns workload_slo_base_ns(int32_t width, int32_t height);
/* The SLO base the spec gives a w x h image: its explicit base for side w (square images) when
 * the spec has explicit bases, else workload_slo_base_ns. -1 when explicit bases lack the side. */
tetri_ns workload_spec_slo_base_ns(const workload_spec *s, int32_t width, int32_t height);
/* The expected share of each resolution of the mix (homogeneous: one share of 1). Returns how many
 * (<= TETRI_MAX_RESOLUTIONS; shares[] gets at most max), or -1 with err for an invalid spec. */
int workload_mix_shares(const workload_spec *s, double *shares, int max, tetri_error *err);
/* A one-line canonical description of the spec (for result rows): "model=flux-dev,steps=20,
 * mix=uniform,resolutions=256/512/1024/2048,arrival=poisson,rate=12,slo_scale=1,seed=1,n=300".
 * Fields that do not apply (alpha unless skewed, cv unless gamma) are left out; so are load and
 * explicit SLO bases when not set ("load=0.8" after rate; "slo_bases=256:300000000/512:..." in ns,
 * for the sides the mix uses, after slo_scale). len: WORKLOAD_TEXT_MAX is always enough. */
void workload_spec_format(const workload_spec *s, char *buf, size_t len);
/* The inverse: parses "key=value,..." (keys as above, any order, any subset) over *s, which the
 * caller initialises (e.g. workload_spec_default). Unknown keys and bad values are errors naming
 * the key. Does not validate the result: call workload_spec_validate. Returns 0 or -1 with err. */
int workload_spec_parse(const char *text, workload_spec *s, tetri_error *err);
/* Sets one field from text, as workload_spec_parse does for one "key=value" (resolutions here may
 * also be separated by commas). Returns 0, or -1 with err naming the key. */
int workload_spec_set(workload_spec *s, const char *key, const char *value, tetri_error *err);

#endif
