/* sched/xdit.c: xdit-spK, xDiT's fixed-degree sequence parallelism (DESIGN section 8).
 *
 * The GPUs form N/K fixed aligned groups of K; one FCFS queue; the request at its head takes the
 * first free group (lowest GPU index) and runs all its steps there, non-preemptive. A request
 * never waits behind a later one: when no group is free, nobody starts (strict FCFS).
 * Cost per call: O(pending + N/K). */
#include "sched/policies.h"

#include <stdlib.h>

typedef struct xdit {
    int degree;
    int n_groups;
    tetri_gpuset group[TETRI_MAX_GPUS];
} xdit;

/* xdit-spK has no options: K is in its name. */

static void *xdit_create_k(int k, const tetri_cluster *cluster, tetri_error *err)
{
    if (k > cluster->n_gpus)
        return tetri_errorf(err, "degree %d is more than the %d GPUs of %s", k, cluster->n_gpus, cluster->hardware), NULL;
    if (k & (k - 1)) return tetri_errorf(err, "degree %d is not a power of two", k), NULL;
    xdit *x = calloc(1, sizeof *x);
    if (!x) return tetri_errorf(err, "out of memory"), NULL;
    x->degree = k;
    x->n_groups = cluster->n_gpus / k;
    for (int g = 0; g < x->n_groups; g++) x->group[g] = tetri_gpuset_block(g * k, k);
    return x;
}

#define XDIT_CREATE(K) \
    static void *xdit_create_##K(const tetri_options *o, const struct tetri_profile *p, const tetri_cluster *c, tetri_error *e) \
    { (void)o; (void)p; return xdit_create_k(K, c, e); }
XDIT_CREATE(1)
XDIT_CREATE(2)
XDIT_CREATE(4)
XDIT_CREATE(8)

static int xdit_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    const xdit *x = self;
    int g = 0;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        while (g < x->n_groups && (x->group[g] & v->busy)) g++;
        if (g == x->n_groups) return 0; /* strict FCFS: the head waits for a group */
        plan->assign[plan->n_assign++] = (tetri_assignment){
            .req = {r->id}, .n_req = 1, .gpus = x->group[g], .steps = tetri_request_steps_left(r)};
        g++;
    }
    return 0;
}

static void xdit_destroy(void *self) { free(self); }

#define XDIT_OPS(K) \
    const tetri_policy_ops tetri_policy_xdit_sp##K = { \
        .name = "xdit-sp" #K, \
        .summary = "xDiT fixed sequence parallelism: FCFS over fixed aligned groups of " #K " GPU(s), all steps on one group", \
        .options = NULL, .create = xdit_create_##K, .decide = xdit_decide, .destroy = xdit_destroy, .min_gpus = K};
XDIT_OPS(1)
XDIT_OPS(2)
XDIT_OPS(4)
XDIT_OPS(8)
