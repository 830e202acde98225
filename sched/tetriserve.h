/* sched/tetriserve.h: the pieces of tetriserve that tests and sibling policies reuse.
 * defines: two_degree_plan, tetriserve_cheapest_plan.
 *
 * The policy itself is registered as tetri_policy_tetriserve (sched/policies.h). */
#ifndef TETRI_SCHED_TETRISERVE_H
#define TETRI_SCHED_TETRISERVE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/types.h"

/* The cheapest way to finish n steps within a time budget using at most two degrees (DESIGN
 * section 8, step 1): steps_hi steps at degree index hi, the other n - steps_hi at lo (lo <= hi
 * by degree, lo == hi for a single-degree plan). gpu_ns = sum of degree x step time; time_ns the
 * pure compute time. */
typedef struct two_degree_plan {
    bool feasible;
    int32_t lo, hi;
    int32_t steps_hi;
    tetri_ns gpu_ns, time_ns;
} two_degree_plan;

/* t[d] is the step time at degree index d (<= 0: not available), degree[d] its GPU count,
 * ascending. Among plans with time_ns <= budget it returns the least gpu_ns, ties to the least
 * time, then the lowest degrees. Not feasible when even the fastest degree misses the budget.
 * O(degrees^2). */
two_degree_plan tetriserve_cheapest_plan(const tetri_ns *t, const int32_t *degree, int32_t n_degrees,
                                         int32_t n_steps, tetri_ns budget);

#endif
