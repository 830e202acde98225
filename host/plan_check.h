/* host/plan_check.h: the one place the rules every plan keeps are written.
 * defines: host_plan_check, tetri_plan_validate.
 *
 * The host checks every plan before it applies any of it, under every backend: a broken policy
 * must never corrupt the host's state or reach a GPU. The rules, against the view the plan
 * answers:
 *  - at most one assignment per GPU of the cluster; each GPU exists, is free and is used once;
 *  - under the cluster's ALIGNED rule, a set of more than one GPU is an aligned power-of-two block
 *    (core/types.h, tetri_sets: the GPU backend has communicators for no other set);
 *  - each assignment has 1..TETRI_MAX_BATCH requests and runs 1..(steps each member has left);
 *  - each request named is in the view, WAITING, and named once (assigned or dropped);
 *  - batch members share model and size (their steps and schedules may differ: the executor keeps
 *    a step index per request);
 *  - drops are at most the view's requests.
 * Cost: O(plan size x view size) for the membership scans, no allocation. */
#ifndef TETRI_HOST_PLAN_CHECK_H
#define TETRI_HOST_PLAN_CHECK_H

#include "core/error.h"
#include "core/plan.h"

/* Checks `plan` against `view`. `seen` is scratch of at least view->n_requests bytes (its content
 * on entry does not matter). Returns 0, or -1 with the first broken rule in err. */
int host_plan_check(const tetri_plan *plan, const tetri_view *view, unsigned char *seen, tetri_error *err);

/* The same check with its own scratch (tests, benchmarks). Returns 0, or -1 with err. */
int tetri_plan_validate(const tetri_plan *plan, const tetri_view *view, tetri_error *err);

#endif
