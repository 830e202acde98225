/* sim/sim.h: the discrete-event simulator (DESIGN section 4).
 * defines: sim_config, sim_result, sim_run, sim_result_free.
 *
 * A binary-heap event queue ordered by (time, kind, insertion): a total order, so runs are exactly
 * reproducible. A block of q steps of request r at degree k on GPU set G occupies G for
 * q x T(r, k, batch) (+ migration when G differs from r's last set, + jitter when on). */
#ifndef TETRI_SIM_SIM_H
#define TETRI_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "profiles/profile.h"
#include "results/results.h"
#include "sched/policy.h"
#include "workloads/trace.h"

typedef struct sim_config {
    const tetri_profile *profile;
    const char *policy_spec;     /* "name:key=value,..." */
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
    char policy_spec[256];           /* canonical */
} sim_result;

/* Runs the trace under the policy. Returns 0, or -1 with err (bad policy, missing profile row,
 * a plan that breaks an invariant when check_plans is on). */
int sim_run(const sim_config *cfg, const tetri_trace *trace, sim_result *out, tetri_error *err);
void sim_result_free(sim_result *r);

#endif
