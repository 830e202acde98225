/* sched/placement.h: which exact GPUs a block of a given degree runs on, for every policy.
 * defines: placement_flags, placement_pick, placement_fits, placement_free_block_score.
 *
 * The rules (DESIGN section 8, step 5), in order of precedence:
 *  1. fast link: a set inside one fast domain (NVLink) beats one that crosses the slow link, so
 *     on a40x4 a pair is an NVLink pair whenever one is free;
 *  2. placement preservation: the request's previous set, or a set that contains it or is
 *     contained by it, beats an unrelated one (less state to move);
 *  3. do not take GPUs that another block of this plan would like to keep (`avoid`);
 *  4. an aligned power-of-two block beats a ragged set (NCCL groups, executor communicators);
 *  5. the set that leaves the largest aligned free blocks (then the most of them);
 *  6. the lowest GPU numbers (determinism).
 * With PLACEMENT_FIRST_FIT (the ablation "placement=off"), rules 2, 3 and 5 are skipped: the
 * first free aligned block (or, when none is free, the lowest free GPUs, without the best-fit
 * packing a ragged set otherwise gets) on the best link wins. Rules 1 and 4 stay: the link is
 * the cost model's, which every policy obeys, and aligned blocks are what the executor has
 * communicators for.
 * Under the cluster's rule sets=aligned (core/types.h, tetri_sets) rule 4 is absolute: a set of
 * more than one GPU is always an aligned block, and when none of the degree is free there is no
 * set (0), so the policy picks another degree or waits. The rule comes from the cluster the
 * policy's view names, never from a global.
 * Cost: O(candidates x GPUs / 64) with at most N/degree + domains + 2 candidates; no allocation. */
#ifndef TETRI_SCHED_PLACEMENT_H
#define TETRI_SCHED_PLACEMENT_H

#include "core/types.h"

enum placement_flags {
    PLACEMENT_FIRST_FIT = 1 << 0, /* ablation: ignore previous sets and fragmentation */
    PLACEMENT_FAST_ONLY = 1 << 1, /* refuse sets that cross the slow link (no profile rows for it) */
};

/* A set of exactly `degree` GPUs out of `free`, or 0 when there are fewer than `degree` free
 * GPUs (or, with PLACEMENT_FAST_ONLY, no fast set of that size; or, under sets=aligned, no free
 * aligned block of that size). `prev` is the request's last set (0: none); `avoid` GPUs others
 * would like to keep. Deterministic. */
tetri_gpuset placement_pick(const tetri_cluster *c, tetri_gpuset free, int degree, tetri_gpuset prev,
                            tetri_gpuset avoid, unsigned flags);

/* Whether the cluster's rule leaves a set of `degree` GPUs in `free`: enough free GPUs, and under
 * sets=aligned (degree > 1) a whole free aligned block (link classes not considered). For
 * policies choosing a degree before placing it. */
bool placement_fits(const tetri_cluster *c, tetri_gpuset free, int degree);

/* How good `free` is for later blocks: (size of the largest aligned free block) x 1024 + (how many
 * blocks of that size are free). Larger is better. */
int placement_free_block_score(const tetri_cluster *c, tetri_gpuset free);

#endif
