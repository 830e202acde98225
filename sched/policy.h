/* sched/policy.h: the plug point between a host (simulator or executor) and a scheduling policy.
 * defines: tetri_view, tetri_assignment, tetri_plan, tetri_policy_ops, tetri_policy,
 *          TETRI_POLICY_SPEC_MAX, tetri_policy_create/decide/destroy, tetri_policy_format_spec,
 *          tetri_plan_validate, the policy registry.
 *
 * A host owns the requests and GPUs. On every arrival, every block completion and at the time the
 * policy asked for, it builds a read-only view and calls decide(), which fills a plan: blocks of
 * consecutive steps, each for one request (or a batch of identical ones) on an exact GPU set.
 * Nothing here knows whether it runs under sim/ or exec/ (the host, host/, calls it).
 *
 * A policy never sleeps, never allocates per call outside its own arena, and is deterministic
 * given its inputs: same view, same plan. */
#ifndef TETRI_SCHED_POLICY_H
#define TETRI_SCHED_POLICY_H

#include <stddef.h>

#include "core/error.h"
#include "core/options.h"
#include "core/types.h"

struct tetri_profile; /* profiles/profile.h: the cost model */

/* What decide() sees. Pointers stay valid only during the call. */
typedef struct tetri_view {
    tetri_ns now;
    const tetri_cluster *cluster;
    tetri_gpuset busy;                        /* GPUs running a block at `now` */
    tetri_ns gpu_busy_until[TETRI_MAX_GPUS];  /* end of each busy GPU's block; <= now when free */
    const tetri_request *const *requests;     /* arrived and unfinished (WAITING or RUNNING), */
    int32_t n_requests;                       /*   in arrival order (ties: by id) */
} tetri_view;

#define TETRI_MAX_BATCH 8

/* One block: `steps` consecutive steps of each request in req[] (a batch of identical requests,
 * n_req >= 1) on exactly the GPUs of `gpus` (degree = popcount), without preemption. */
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
void tetri_plan_clear(tetri_plan *plan);

/* Checks the invariants every plan must keep, against the view it answers:
 * each GPU exists and is free and used once; each request is in the view, WAITING, in at most one
 * assignment or drop; batch members are identical (model, width, height); 1 <= steps <= what every
 * member has left; degree >= 1. Returns 0, or -1 with the first broken rule in err. */
int tetri_plan_validate(const tetri_plan *plan, const tetri_view *view, tetri_error *err);

typedef struct tetri_policy_ops {
    const char *name;                  /* as written on the command line, e.g. "xdit-sp4" */
    const char *summary;               /* one line for `tetri policies` */
    const tetri_option_spec *options;  /* terminated by {NULL}; may be NULL for none */
    /* Builds the policy's state from parsed options, the cost model and the cluster.
     * Returns NULL with err set when the options do not fit (e.g. degree > GPUs). */
    void *(*create)(const tetri_options *opts, const struct tetri_profile *profile,
                    const tetri_cluster *cluster, tetri_error *err);
    /* Fills `plan` (already cleared) for `view`. */
    void (*decide)(void *self, const tetri_view *view, tetri_plan *plan);
    void (*destroy)(void *self);
    /* Optional (NULL: never fails). Why the policy could not decide, e.g. "instance too large"
     * for an exhaustive search; NULL while all is well. Hosts check it after decide() and end the
     * run with the message, instead of serving a plan the policy could not make. */
    const char *(*failure)(const void *self);
} tetri_policy_ops;

/* Room for a canonical spec. tetriserve's defaults alone take 197 characters; a spec that would
 * not fit is an error at create, never cut (the cut text is what a sweep re-parses and runs). */
#define TETRI_POLICY_SPEC_MAX 512

/* A policy instance as a host holds it. */
typedef struct tetri_policy {
    const tetri_policy_ops *ops;
    void *self;
    tetri_options options;
    char spec[TETRI_POLICY_SPEC_MAX]; /* canonical "name:key=value,..." with every option, for result rows */
} tetri_policy;

/* Parses "name" or "name:key=value,..." (unknown names and options are errors that list what is
 * known), then creates the policy. Returns 0, or -1 with err. */
/* Writes p->spec from `name` and p->options. Returns 0, or -1 with err when it does not fit. */
int tetri_policy_format_spec(tetri_policy *p, const char *name, tetri_error *err);
int tetri_policy_create(tetri_policy *p, const char *spec, const struct tetri_profile *profile,
                        const tetri_cluster *cluster, tetri_error *err);
static inline void tetri_policy_decide(tetri_policy *p, const tetri_view *v, tetri_plan *plan)
{
    tetri_plan_clear(plan);
    p->ops->decide(p->self, v, plan);
}
void tetri_policy_destroy(tetri_policy *p);

/* The registry: every policy tetri knows, in the order `tetri policies` lists them.
 * Adding a policy = one file in sched/ plus one line in sched/registry.c. */
extern const tetri_policy_ops *const tetri_policy_registry[];
extern const size_t tetri_policy_registry_len;
const tetri_policy_ops *tetri_policy_find(const char *name);

#endif
