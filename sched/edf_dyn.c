/* sched/edf_dyn.c: edf-dyn, earliest deadline first with a degree chosen once per request.
 *
 * The stronger fixed-degree baseline (DESIGN section 8): waiting requests in deadline order
 * (ties: id); each starts on the cheapest degree (GPU-seconds) that fits the free GPUs (under
 * sets=aligned: a free aligned block, placement_fits) and finishes it by its deadline (after its
 * preparation, at its first block), and runs all its steps there, non-preemptive. It isolates what
 * tetriserve gains by changing the degree from step to step. A request whose right degree does
 * not fit now is skipped for a later one (backfill=on) or blocks the queue (backfill=off).
 * Requests that cannot meet their deadline at any degree run last, on one GPU, best effort
 * (drop=on drops them). Sets come from sched/placement.c (fast links first, largest free blocks
 * left; placement=off: first fit). Cost per call: O(R log R + R x D) plus placement. */
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "sched/placement.h"
#include "sched/policies.h"
#include "sched/step_table.h"

static const tetri_option_spec edf_dyn_options[] = {
    {"backfill", TETRI_OPT_BOOL, "on", NULL, "a request whose degree does not fit now lets later ones start (off: strict EDF)"},
    {"drop", TETRI_OPT_BOOL, "off", NULL, "drop requests that can no longer meet their deadline (else one GPU, best effort)"},
    {"placement", TETRI_OPT_BOOL, "on", NULL, "fragmentation-aware sets (off: first fit)"},
    {NULL, 0, NULL, NULL, NULL},
};

typedef struct edf_item { tetri_ns deadline; int32_t id, index, cls; } edf_item;

typedef struct edf_dyn {
    bool backfill, drop, placement;
    step_table table;
    edf_item *items;
    int32_t cap;
} edf_dyn;

static void edf_dyn_destroy(void *self)
{
    edf_dyn *e = self;
    if (!e) return;
    step_table_free(&e->table);
    free(e->items);
    free(e);
}

static void *edf_dyn_create(const tetri_options *o, const struct tetri_profile *profile,
                            const tetri_cluster *cluster, tetri_error *err)
{
    edf_dyn *e = calloc(1, sizeof *e);
    if (!e) return tetri_errorf(err, "out of memory"), NULL;
    e->backfill = tetri_options_bool(o, "backfill");
    e->drop = tetri_options_bool(o, "drop");
    e->placement = tetri_options_bool(o, "placement");
    if (step_table_init(&e->table, profile, cluster, err)) {
        free(e);
        return NULL;
    }
    e->cap = 256;
    e->items = malloc((size_t)e->cap * sizeof *e->items);
    if (!e->items) {
        edf_dyn_destroy(e);
        return tetri_errorf(err, "out of memory"), NULL;
    }
    return e;
}

static int cmp_deadline(const void *a, const void *b)
{
    const edf_item *x = a, *y = b;
    if (x->deadline != y->deadline) return x->deadline < y->deadline ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Places one block of all remaining steps at degree index d; false when no set with a profile
 * row is free. */
static bool start(edf_dyn *e, const tetri_view *v, const tetri_request *r, const step_class *c, int d,
                  tetri_gpuset *free, tetri_plan *plan)
{
    unsigned flags = e->placement ? 0 : PLACEMENT_FIRST_FIT;
    if (c->t[d][TETRI_LINK_SLOW][1] <= 0) flags |= PLACEMENT_FAST_ONLY;
    tetri_gpuset set = placement_pick(v->cluster, *free, e->table.degree[d], r->last_gpus, 0, flags);
    if (!set) return false;
    *free &= ~set;
    plan->assign[plan->n_assign++] = (tetri_assignment){
        .req = {r->id}, .n_req = 1, .gpus = set, .steps = tetri_request_steps_left(r)};
    return true;
}

static int edf_dyn_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    edf_dyn *e = self;
    if (v->n_requests > e->cap) {
        edf_item *grown = realloc(e->items, (size_t)v->n_requests * 2 * sizeof *grown);
        if (!grown) return tetri_errorf(err, "out of memory");
        e->items = grown;
        e->cap = v->n_requests * 2;
    }
    int32_t n = 0;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        int32_t cls = step_table_find_request(&e->table, r);
        if (cls < 0) return tetri_errorf(err, "out of memory");
        e->items[n++] = (edf_item){r->deadline, r->id, i, cls};
    }
    qsort(e->items, (size_t)n, sizeof *e->items, cmp_deadline);
    tetri_gpuset free = tetri_cluster_all(v->cluster) & ~v->busy;
    const int32_t nd = e->table.n_degrees;
    /* Pass 0: requests that can still make it; pass 1: the late ones, one GPU each. */
    for (int pass = 0; pass < 2; pass++) {
        for (int32_t j = 0; j < n; j++) {
            const tetri_request *r = v->requests[e->items[j].index];
            const step_class *c = step_table_class(&e->table, e->items[j].cls);
            const int64_t left = tetri_request_steps_left(r);
            /* what it has to finish in: to its deadline, less its preparation before a first block */
            const tetri_ns budget = r->deadline - v->now - tetri_prepare_rule_ns(r->last_gpus, 1, c->prepare_ns);
            bool late = c->t_min <= 0 || left * c->t_min > budget;
            if (late != (pass == 1)) continue;
            if (late) {
                if (e->drop || c->t_min <= 0) { plan->drop[plan->n_drop++] = r->id; continue; }
                int d = 0;
                while (d < nd && c->t_best[d] <= 0) d++;
                if (placement_fits(v->cluster, free, e->table.degree[d])) start(e, v, r, c, d, &free, plan);
                continue;
            }
            int best = -1;
            for (int d = 0; d < nd; d++) {
                const int k = e->table.degree[d];
                if (c->t_best[d] <= 0 || !placement_fits(v->cluster, free, k) || left * c->t_best[d] > budget) continue;
                if (best < 0 || k * c->t_best[d] < e->table.degree[best] * c->t_best[best]) best = d;
            }
            if (best >= 0 && start(e, v, r, c, best, &free, plan)) continue;
            if (!e->backfill) return 0; /* strict EDF: nobody passes the head */
        }
    }
    return 0;
}

const tetri_policy_ops tetri_policy_edf_dyn = {
    .name = "edf-dyn",
    .summary = "earliest deadline first; each request's degree chosen once at start (the cheapest that meets its deadline), all steps there",
    .options = edf_dyn_options,
    .create = edf_dyn_create,
    .decide = edf_dyn_decide,
    .destroy = edf_dyn_destroy,
};
