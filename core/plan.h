/* core/plan.h: what a host shows a policy and what the policy answers.
 * defines: tetri_request_class, tetri_view, TETRI_MAX_BATCH, tetri_assignment, tetri_plan, tetri_plan_clear.
 *
 * A host (host/) owns the requests and GPUs. On every arrival, every block completion and at the
 * time the policy asked for, it builds a read-only view and the policy fills a plan: blocks of
 * consecutive steps, each for one request (or a batch) on an exact GPU set. The invariants a plan
 * keeps are checked in one place, host/plan_check.c. */
#ifndef TETRI_CORE_PLAN_H
#define TETRI_CORE_PLAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/types.h"

/* A class of requests: one model at one size. */
typedef struct tetri_request_class {
    tetri_model model;
    int32_t width, height;
} tetri_request_class;

/* What decide() sees. Pointers stay valid only during the call. */
typedef struct tetri_view {
    tetri_ns now;
    const tetri_cluster *cluster;
    tetri_gpuset busy;                        /* GPUs running a block at `now` */
    /* The predicted end of each busy GPU's block (its start plus the profile's time): in real
     * time a block may run past it, so a busy GPU can show a time <= now. Free GPUs: <= now. */
    tetri_ns gpu_busy_until[TETRI_MAX_GPUS];
    const tetri_request *const *requests;     /* arrived and unfinished (WAITING or RUNNING), */
    int32_t n_requests;                       /*   in arrival order (ties: by id) */
    /* This decision answers arrivals to an idle cluster: no GPU is busy and every request in the
     * view arrived since the previous decision (nothing was pending before). A fact the host
     * states, so no policy compares two clocks to the nanosecond to find it. */
    bool idle_arrival;
    /* The classes the run serves, as a server's configuration would list them before its first
     * request: the host takes the distinct (model, width, height) of its workload, sorted by model,
     * width, height. The same in every call of a run; n_served == 0 when the host declares none (a
     * hand-built view): a policy then knows only the profile and what has arrived. */
    const tetri_request_class *served;
    int32_t n_served;
} tetri_view;

#define TETRI_MAX_BATCH 8

/* One block: `steps` consecutive steps of each request in req[] (a batch, n_req >= 1, of requests
 * of one model and size, at any steps of their schedules) on exactly the GPUs of `gpus`
 * (degree = popcount), without preemption. */
typedef struct tetri_assignment {
    int32_t req[TETRI_MAX_BATCH];
    int32_t n_req;
    tetri_gpuset gpus;
    int32_t steps;
} tetri_assignment;

/* What decide() returns. The host provides the storage: assign[] has room for one assignment per
 * GPU (no GPU may appear twice, so that is enough); drop[] has room for every request in the view. */
typedef struct tetri_plan {
    tetri_assignment assign[TETRI_MAX_GPUS];
    int32_t n_assign;
    int32_t *drop;          /* ids of requests to drop now (they end as dropped) */
    int32_t n_drop;
    tetri_ns wake_at;       /* when the policy wants its next call (TETRI_NS_NEVER: only on events) */
} tetri_plan;

/* Empties a plan for the next call (keeps the drop buffer). */
static inline void tetri_plan_clear(tetri_plan *plan)
{
    plan->n_assign = 0;
    plan->n_drop = 0;
    plan->wake_at = TETRI_NS_NEVER;
}

#endif
