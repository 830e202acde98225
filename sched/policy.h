/* sched/policy.h: the plug point between the host (host/, under the simulator or a live backend)
 * and a scheduling policy.
 * defines: tetri_policy_ops, tetri_policy, TETRI_POLICY_SPEC_MAX, tetri_policy_create/decide/destroy,
 *          tetri_policy_format_spec, the policy registry. (The view and plan: core/plan.h.)
 *
 * A host owns the requests and GPUs. On every arrival, every block completion and at the time the
 * policy asked for, it builds a read-only view and calls decide(), which fills a plan: blocks of
 * consecutive steps, each for one request (or a batch of identical ones) on an exact GPU set.
 * Nothing here knows whether it runs under sim/ or exec/ (the host, host/, calls it).
 *
 * A policy never sleeps, never reads a clock, never allocates per call outside its own arena, and
 * is deterministic given its inputs: same view, same plan. It holds in real time: a block may end
 * a little before or after its predicted end, and no two events are assumed to fall on the same
 * nanosecond (what the host knows for certain, such as an arrival to an idle cluster, is in the
 * view). When it cannot decide (out of memory, an instance too large) it returns an error, never
 * an empty plan that would pass for a decision. */
#ifndef TETRI_SCHED_POLICY_H
#define TETRI_SCHED_POLICY_H

#include <stddef.h>

#include "core/error.h"
#include "core/options.h"
#include "core/plan.h"
#include "core/types.h"

struct tetri_profile; /* profiles/profile.h: the cost model */

typedef struct tetri_policy_ops {
    const char *name;                  /* as written on the command line, e.g. "xdit-sp4" */
    const char *summary;               /* one line for `tetri policies` */
    const tetri_option_spec *options;  /* terminated by {NULL}; may be NULL for none */
    /* Builds the policy's state from parsed options, the cost model and the cluster.
     * Returns NULL with err set when the options do not fit (e.g. degree > GPUs). */
    void *(*create)(const tetri_options *opts, const struct tetri_profile *profile,
                    const tetri_cluster *cluster, tetri_error *err);
    /* Fills `plan` (already cleared) for `view`. Returns 0, or -1 with err saying why it could
     * not decide (out of memory, "instance too large"): the host ends the run with that message. */
    int (*decide)(void *self, const tetri_view *view, tetri_plan *plan, tetri_error *err);
    void (*destroy)(void *self);
    /* May refuse an instance of ordinary size (an exhaustive search): `--policy all` leaves it out. */
    bool may_refuse;
    /* The fewest GPUs it runs on (xdit-spK: K); 0: any. `--policy all` leaves it out on hardware
     * with fewer, where create() would refuse it. */
    int min_gpus;
} tetri_policy_ops;

/* Room for a canonical spec. tetriserve's defaults alone take 208 characters; a spec that would
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
/* Clears the plan and calls the policy. Returns 0, or -1 with err. */
static inline int tetri_policy_decide(tetri_policy *p, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    tetri_plan_clear(plan);
    return p->ops->decide(p->self, v, plan, err);
}
void tetri_policy_destroy(tetri_policy *p);

/* The registry: every policy tetri knows, in the order `tetri policies` lists them.
 * Adding a policy = one file in sched/ plus one line in sched/registry.c. */
extern const tetri_policy_ops *const tetri_policy_registry[];
extern const size_t tetri_policy_registry_len;
const tetri_policy_ops *tetri_policy_find(const char *name);

#endif
