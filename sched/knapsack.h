/* sched/knapsack.h: the group knapsack at the heart of tetriserve (DESIGN section 8, step 3).
 * defines: knap_option, knapsack, knapsack_init/reserve/free/solve, knapsack_brute_force.
 *
 * Groups are requests, each with a few options (option 0 of every group is "none": weight 0);
 * weights are GPU counts, the capacity the free GPUs. The solver picks exactly one option per
 * group, total weight <= capacity, maximising the sum of values (int64, so composite objectives
 * such as "survivors, then GPUs busy, then urgency" stay exact). O(groups x capacity x options)
 * time, O(groups x capacity) bytes of choice table, all from buffers grown only when a call needs
 * more than any call before. */
#ifndef TETRI_SCHED_KNAPSACK_H
#define TETRI_SCHED_KNAPSACK_H

#include <stdint.h>

typedef struct knap_option {
    int32_t weight;  /* >= 0 */
    int64_t value;
} knap_option;

typedef struct knapsack {
    int64_t *best;        /* [capacity + 1]: best value of groups so far with weight <= c */
    int64_t *next;        /* [capacity + 1]: the same with the current group added */
    uint8_t *choice;      /* [groups x (capacity + 1)]: option picked for group i at capacity c */
    int32_t cap_groups, cap_capacity;
} knapsack;

#define KNAPSACK_MAX_OPTIONS 255

void knapsack_init(knapsack *k);
/* Grows the buffers to hold `groups` groups at `capacity`. Returns 0, or -1 when out of memory. */
int knapsack_reserve(knapsack *k, int32_t groups, int32_t capacity);
void knapsack_free(knapsack *k);

/* Solves the instance: group i has n_options[i] >= 1 options at options[first[i] ...], the first
 * of which must have weight 0. Writes the option index picked for each group to pick[] and
 * returns the best total value. Ties between equal values go to the lowest option index of the
 * highest-numbered group first (deterministic). The buffers must have been reserved. */
int64_t knapsack_solve(knapsack *k, int32_t n_groups, const int32_t *first, const int32_t *n_options,
                       const knap_option *options, int32_t capacity, int32_t *pick);

/* Exhaustive search over every combination, for tests: the best total value (no picks).
 * Exponential: keep to a handful of groups. */
int64_t knapsack_brute_force(int32_t n_groups, const int32_t *first, const int32_t *n_options,
                             const knap_option *options, int32_t capacity);

#endif
