/* sched/least_slack.c: least slack first, the worked example of docs/adding-a-policy.md.
 *
 * Slack = deadline - now - (steps left x the one-GPU step time): how long a request can still
 * wait. Waiting requests go in order of least slack (ties: id); each takes the smallest degree
 * (up to max_degree) that still finishes it by its deadline, on the lowest free aligned block,
 * and runs all its steps there; when no degree does, one GPU, best effort. Cost: O(R log R). */
#include <stdlib.h>

#include "profiles/profile.h"
#include "sched/placement.h"
#include "sched/policies.h"

static const tetri_option_spec least_slack_options[] = {
    {"max_degree", TETRI_OPT_INT, "8", "1..64", "largest degree a request may get"},
    {NULL, 0, NULL, NULL, NULL},
};

typedef struct item { tetri_ns slack; const tetri_request *r; } item;

typedef struct least_slack {
    const struct tetri_profile *profile;
    int max_degree;
    item *items; /* sorting space, grown when the pending count outgrows it */
    int32_t cap;
} least_slack;

static void *least_slack_create(const tetri_options *o, const struct tetri_profile *profile,
                                const tetri_cluster *cluster, tetri_error *err)
{
    least_slack *p = calloc(1, sizeof *p);
    if (!p) return tetri_errorf(err, "out of memory"), NULL;
    p->profile = profile;
    p->max_degree = (int)tetri_options_int(o, "max_degree");
    if (p->max_degree > cluster->n_gpus) p->max_degree = cluster->n_gpus;
    return p;
}

static void least_slack_destroy(void *self)
{
    least_slack *p = self;
    free(p->items);
    free(p);
}

/* One step of r at degree k on the fast link; -1 when the profile has no row. */
static tetri_ns step_ns(const least_slack *p, const tetri_request *r, int k)
{
    return profile_lookup_step_ns(p->profile, r->model, r->width, r->height, k, 1, TETRI_LINK_FAST);
}

static int by_slack(const void *a, const void *b)
{
    const item *x = a, *y = b;
    if (x->slack != y->slack) return x->slack < y->slack ? -1 : 1;
    return (x->r->id > y->r->id) - (x->r->id < y->r->id);
}

static int least_slack_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    least_slack *p = self;
    if (v->n_requests > p->cap) { /* rare: amortised growth, never per call */
        item *grown = realloc(p->items, 2 * (size_t)v->n_requests * sizeof *grown);
        if (!grown) return tetri_errorf(err, "out of memory");
        p->items = grown;
        p->cap = 2 * v->n_requests;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        tetri_ns t1 = step_ns(p, r, 1);
        if (r->state == TETRI_REQ_WAITING && t1 > 0)
            p->items[n++] = (item){r->deadline - v->now - tetri_request_steps_left(r) * t1, r};
    }
    qsort(p->items, (size_t)n, sizeof *p->items, by_slack);
    tetri_gpuset free = tetri_cluster_all(v->cluster) & ~v->busy;
    for (int32_t j = 0; j < n && free; j++) {
        const tetri_request *r = p->items[j].r;
        int degree = 1;
        for (int k = 1; k <= p->max_degree; k *= 2) {
            tetri_ns t = step_ns(p, r, k);
            if (t > 0 && v->now + tetri_request_steps_left(r) * t <= r->deadline) { degree = k; break; }
        }
        if (!placement_fits(v->cluster, free, degree)) continue; /* its degree is not free: let others pass */
        tetri_gpuset set = placement_pick(v->cluster, free, degree, 0, 0, PLACEMENT_FIRST_FIT | PLACEMENT_FAST_ONLY);
        if (!set) continue;
        free &= ~set;
        plan->assign[plan->n_assign++] = (tetri_assignment){
            .req = {r->id}, .n_req = 1, .gpus = set, .steps = tetri_request_steps_left(r)};
    }
    return 0;
}

const tetri_policy_ops tetri_policy_least_slack = {
    .name = "least-slack",
    .summary = "least slack first: the smallest degree that meets each deadline, all steps there (worked example)",
    .options = least_slack_options,
    .create = least_slack_create,
    .decide = least_slack_decide,
    .destroy = least_slack_destroy,
};
