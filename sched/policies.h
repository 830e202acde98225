/* sched/policies.h: the ops of every registered policy (one line each in sched/registry.c).
 * defines: TETRI_POLICY_LIST and the extern ops it names. */
#ifndef TETRI_SCHED_POLICIES_H
#define TETRI_SCHED_POLICIES_H

#include "sched/policy.h"

extern const tetri_policy_ops tetri_policy_xdit_sp1, tetri_policy_xdit_sp2, tetri_policy_xdit_sp4,
    tetri_policy_xdit_sp8;
/* sched/tetriserve.c, sched/edf_dyn.c, sched/optimal.c, sched/least_slack.c */
extern const tetri_policy_ops tetri_policy_tetriserve, tetri_policy_edf_dyn, tetri_policy_optimal,
    tetri_policy_least_slack;
extern const tetri_policy_ops tetri_policy_rssp; /* sched/rssp.c */
/* rssp's degree rule for one resolution (see sched/rssp.c), for reports. */
int rssp_degree(const struct tetri_profile *profile, const tetri_cluster *cluster, tetri_model model, int width,
                int height, double eff);

/* The registry's order is the order `tetri policies` lists them. */
#define TETRI_POLICY_LIST \
    &tetri_policy_xdit_sp1, &tetri_policy_xdit_sp2, &tetri_policy_xdit_sp4, &tetri_policy_xdit_sp8, \
    &tetri_policy_rssp, \
    &tetri_policy_tetriserve, &tetri_policy_edf_dyn, &tetri_policy_optimal, &tetri_policy_least_slack,

#endif
