/* sim/sim.h: the discrete-event simulator (DESIGN section 4).
 * defines: sim_config, sim_result, sim_run, sim_result_free, SIM_JITTER_FLOOR.
 *
 * A binary-heap event queue ordered by (time, kind, insertion): a total order, so runs are exactly
 * reproducible. A block of q steps of request r at degree k on GPU set G occupies G for
 * q x T(r, k, batch) (+ migration when G differs from r's last set, + jitter when on).
 *
 * Event kinds, in the order they are handled at one instant: block done (so GPUs are free before
 * the new decision), arrival, policy wake-up. After every event of an instant is applied, the
 * policy's decide() runs once (one decision per distinct time, not per event), when something
 * changed or the policy asked for that time.
 *
 * Jitter (off by default): the steps of a block are taken as independent draws of the profile's
 * step time (median, CV c), so a block of q steps is multiplied by a lognormal factor of mean 1 and
 * CV c / sqrt(q) drawn from a seeded gsl_rng_mt19937, never below SIM_JITTER_FLOOR. Migration time
 * is not jittered. */
#ifndef TETRI_SIM_SIM_H
#define TETRI_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "profiles/profile.h"
#include "results/results.h"
#include "sched/policy.h"
#include "workloads/trace.h"

/* Smallest jitter factor: a block never runs faster than this fraction of its median time. */
#define SIM_JITTER_FLOOR 0.5

typedef struct sim_config {
    const tetri_profile *profile;
    const char *policy_spec;     /* "name:key=value,..." */
    /* Optional: run these ops instead of the registry's entry of that name (a policy under
     * development, or a test's deliberately broken one); policy_spec then carries only options. */
    const tetri_policy_ops *policy_ops;
    int jitter;                  /* 0: step times are the profile's median; 1: drawn from its CV */
    uint64_t seed;               /* jitter's generator */
    int check_plans;             /* validate every plan (tetri_plan_validate); abort the run on a broken one */
    tetri_ns timeline_period;    /* sampling period of the timeline; 0: none */
} sim_config;

typedef struct sim_result {
    tetri_request_result *requests;  /* one per trace entry, in id order */
    size_t n_requests;
    tetri_timeline_sample *timeline;
    size_t n_timeline;
    tetri_run_summary summary;
    char policy_spec[TETRI_POLICY_SPEC_MAX]; /* canonical */
    /* Engine totals, for conservation checks: GPU time handed out (sum over blocks of degree x
     * block time; equals the sum of the requests' gpu_ns) and the number of blocks run. */
    tetri_ns gpu_busy_ns;
    int64_t n_blocks;
} sim_result;

/* Runs the trace under the policy. The trace must be in arrival order; request i of the result is
 * trace entry i. Returns 0, or -1 with err (bad policy, missing profile row, a plan that breaks an
 * invariant, a policy that leaves requests waiting with nothing left to wake it). Always safe to
 * pass `out` to sim_result_free afterwards. */
int sim_run(const sim_config *cfg, const tetri_trace *trace, sim_result *out, tetri_error *err);
void sim_result_free(sim_result *r);

#endif
