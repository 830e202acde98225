/* sched/optimal.c: optimal, an exhaustive search that measures how far tetriserve is from the
 * best schedule on small instances (DESIGN section 8).
 *
 * What "optimal" means here, precisely. Time is cut into rounds of tau (the same tau as
 * tetriserve: g x the largest fastest step time over the resolutions the run serves, or tau_ms),
 * starting at the first call. In each round every request either waits or runs one block of
 * q = min(steps left, floor((tau - migration) / T(k))) steps at degree k (a power of two the
 * profile has), the degrees of a round summing to at most the free GPUs. The link class of a step
 * follows from the degree (a block fits inside a fast domain exactly when its degree does, for
 * aligned power-of-two blocks), so the search is over degree vectors; the sets are then chosen by
 * sched/placement.c. Migration is costed by the one rule of profiles/profile.h, as tetriserve
 * costs it: in the search, which knows degrees only, by its estimate (a change of degree moves the
 * request, at the fast link's cost); once the first round's sets are placed, by the rule itself
 * (any change of set, at the link of the old and new sets together), which may shorten a block so
 * it still ends by the round's end. Among all such schedules of the known requests it takes one
 * that meets the most deadlines, then uses the least GPU time: a depth-first search over rounds
 * with memoisation on (round, steps left, last degree) of every request. Running more steps in a
 * round never hurts in this model, so fixing q at its maximum loses nothing; batching is not in
 * the model. Requests that can no longer meet their deadline leave the search and run on one GPU
 * from what is left, their move paid inside the round too (drop=on: dropped).
 *
 * It plans at every round boundary (calls inside a round wait for it, like tetriserve's
 * midround=wait; a boundary that finds a block predicted to end by it still running waits up to
 * guard_ms for it, as tetriserve's does, see sched/round_guard.h) and runs the first round of the
 * best plan; when every request arrives at t = 0 that is the offline optimum of the model
 * (Bellman: the rest of an optimal plan is optimal for what is left), otherwise the optimum for
 * the requests known at each boundary. With zero migration cost, no jitter and
 * tetriserve:batching=off, it is never worse than tetriserve (tests/test_optimal.c checks that on
 * random instances).
 *
 * Limits: at most 8 GPUs (create refuses more), at most max_requests live requests and max_nodes
 * search nodes per plan; beyond them decide() returns the error "instance too large" (the host
 * ends the run with that message) rather than running for hours. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"
#include "sched/placement.h"
#include "sched/policies.h"
#include "sched/round_guard.h"
#include "sched/step_table.h"

static const tetri_option_spec optimal_options[] = {
    {"g", TETRI_OPT_INT, "5", "1..1000", "round length tau in steps of the slowest resolution's fastest step (as tetriserve)"},
    {"tau_ms", TETRI_OPT_DOUBLE, "0", "0..1e6", "fixed round length in milliseconds (0: from g)"},
    {"guard_ms", TETRI_OPT_DOUBLE, "50", "0..1000", "as tetriserve's: a round boundary that finds a block predicted to end by it still running waits up to this long for it (blocks overrun in real time or with --jitter)"},
    {"max_requests", TETRI_OPT_INT, "6", "1..8", "most live requests searched at once; more is refused as too large"},
    {"max_nodes", TETRI_OPT_DOUBLE, "2e7", "1..1e10", "most search nodes per plan; more is refused as too large"},
    {"drop", TETRI_OPT_BOOL, "off", NULL, "drop requests that can no longer meet their deadline (else one GPU, best effort)"},
    {NULL, 0, NULL, NULL, NULL},
};

#define OPT_MAX_REQ 8
#define OPT_MEMO_BITS 18

typedef struct memo_entry {
    uint64_t k0, k1; /* packed key; k1 == 0 marks an empty slot (k1 always has its top bit set) */
    int64_t cost;
    int32_t met;
} memo_entry;

typedef struct opt_req {
    const tetri_request *r;
    int32_t cls;
    tetri_ns t[TETRI_STEP_MAX_DEGREES]; /* batch 1, best link; <= 0: degree unusable */
    tetri_ns t_min, deadline;
    tetri_ns mig_by_link[TETRI_LINK_COUNT]; /* its class's move cost per link class */
    tetri_ns prepare_ns;                    /* its class's preparation before a first block */
} opt_req;

typedef struct optimal {
    int g;
    tetri_ns tau_fixed, tau;
    tetri_ns guard;         /* guard_ms: how long a boundary waits for a block that overran it */
    int max_requests;
    double max_nodes;
    bool drop;
    step_table table;
    const tetri_cluster *cluster;
    tetri_ns round_start, round_end;
    bool started;
    /* search */
    opt_req req[OPT_MAX_REQ];
    int32_t m, n_free;
    tetri_ns t0;
    double nodes;
    bool too_large;
    memo_entry *memo;
    int32_t *late;
    int32_t cap_late;
} optimal;

static void optimal_destroy(void *self)
{
    optimal *o = self;
    if (!o) return;
    step_table_free(&o->table);
    free(o->memo);
    free(o->late);
    free(o);
}

static void *optimal_create(const tetri_options *opts, const struct tetri_profile *profile,
                            const tetri_cluster *cluster, tetri_error *err)
{
    if (cluster->n_gpus > 8)
        return tetri_errorf(err, "instance too large: %s has %d GPUs, optimal searches at most 8", cluster->hardware,
                            cluster->n_gpus), NULL;
    /* The link class follows from the degree only when fast domains are aligned power-of-two blocks. */
    int dom = 0;
    while (dom < cluster->n_gpus && cluster->fast_domain[dom] == cluster->fast_domain[0]) dom++;
    for (int gi = 0; gi < cluster->n_gpus; gi++)
        if ((dom & (dom - 1)) || cluster->fast_domain[gi] != gi / dom)
            return tetri_errorf(err, "%s: optimal needs fast domains of equal power-of-two size in GPU order", cluster->hardware), NULL;
    optimal *o = calloc(1, sizeof *o);
    if (!o) return tetri_errorf(err, "out of memory"), NULL;
    o->g = (int)tetri_options_int(opts, "g");
    o->tau_fixed = (tetri_ns)(tetri_options_double(opts, "tau_ms") * TETRI_NS_PER_MS);
    o->guard = (tetri_ns)(tetri_options_double(opts, "guard_ms") * TETRI_NS_PER_MS);
    o->max_requests = (int)tetri_options_int(opts, "max_requests");
    o->max_nodes = tetri_options_double(opts, "max_nodes");
    o->drop = tetri_options_bool(opts, "drop");
    o->cluster = cluster;
    if (step_table_init(&o->table, profile, cluster, err)) {
        free(o);
        return NULL;
    }
    o->memo = calloc((size_t)1 << OPT_MEMO_BITS, sizeof *o->memo);
    if (!o->memo) {
        optimal_destroy(o);
        return tetri_errorf(err, "out of memory"), NULL;
    }
    return o;
}

typedef struct value { int32_t met; int64_t cost; } value;
static bool better(value a, value b) { return a.met != b.met ? a.met > b.met : a.cost < b.cost; }

/* State: steps left and the degree (GPU count) of the last set (0 = never ran) of each request.
 * pack() keeps 5 bits of the degree: create refuses clusters over 8 GPUs. */
typedef struct state { uint8_t left[OPT_MAX_REQ]; uint8_t last[OPT_MAX_REQ]; } state;

static void pack(int round, const state *s, int m, uint64_t *k0, uint64_t *k1)
{
    uint64_t a = 0, b = (uint64_t)(round & 0xffff);
    for (int i = 0; i < m; i++) {
        a = a << 8 | s->left[i];
        b = b << 5 | s->last[i];
    }
    *k0 = a;
    *k1 = b | 1ULL << 63;
}

static value search(optimal *o, int round, const state *s);

/* One block's effect: how many steps (of `left`) fit the round at degree index d for a request
 * whose last set had `last` GPUs (0: never ran), and what it pays before them (*mig: the move, or
 * its preparation at its first block). The search knows only the degree of the last set, which is
 * all the estimate reads: any set of that many GPUs stands in for it. */
static int32_t block_steps(const optimal *o, const opt_req *q, int left, int last, int d, tetri_ns *mig)
{
    *mig = tetri_lead_in_estimate_ns(last ? tetri_gpuset_block(0, last) : 0, o->table.degree[d], 1, q->mig_by_link, q->prepare_ns);
    tetri_ns room = o->tau - *mig;
    if (q->t[d] <= 0 || room < q->t[d]) return 0;
    int64_t fit = room / q->t[d];
    return fit < left ? (int32_t)fit : left;
}

/* Tries every degree choice of requests i.. in round `round`, given the choices so far. */
static void enumerate(optimal *o, int round, const state *s, int i, int32_t gpus_left, state *next, value acc,
                      value *best, int *choice, int *root_choice)
{
    if (o->too_large) return;
    if (i == o->m) {
        if (++o->nodes > o->max_nodes) {
            o->too_large = true;
            return;
        }
        value rest = search(o, round + 1, next);
        value total = {acc.met + rest.met, acc.cost + rest.cost};
        if (better(total, *best)) {
            *best = total;
            if (root_choice) memcpy(root_choice, choice, sizeof(int) * (size_t)o->m);
        }
        return;
    }
    const opt_req *q = &o->req[i];
    const tetri_ns start = o->t0 + (tetri_ns)round * o->tau;
    next->left[i] = s->left[i];
    next->last[i] = s->last[i];
    choice[i] = -1;
    /* Finished, or no longer able to meet its deadline: out of the search. */
    bool alive = s->left[i] > 0 && start + s->left[i] * q->t_min <= q->deadline;
    if (!alive) next->left[i] = 0;
    enumerate(o, round, s, i + 1, gpus_left, next, acc, best, choice, root_choice);
    if (!alive) return;
    for (int d = 0; d < o->table.n_degrees; d++) {
        int k = o->table.degree[d];
        if (k > gpus_left) break;
        if (k & (k - 1)) continue;
        tetri_ns mig;
        int32_t steps = block_steps(o, q, s->left[i], s->last[i], d, &mig);
        if (steps < 1) continue;
        value a = acc;
        a.cost += (int64_t)k * (mig + steps * q->t[d]);
        next->left[i] = (uint8_t)(s->left[i] - steps);
        next->last[i] = (uint8_t)k;
        if (next->left[i] == 0) a.met += start + mig + steps * q->t[d] <= q->deadline;
        choice[i] = d;
        enumerate(o, round, s, i + 1, gpus_left - k, next, a, best, choice, root_choice);
    }
    next->left[i] = s->left[i];
    next->last[i] = s->last[i];
}

static value search(optimal *o, int round, const state *s)
{
    bool any = false;
    const tetri_ns start = o->t0 + (tetri_ns)round * o->tau;
    for (int i = 0; i < o->m; i++)
        any |= s->left[i] > 0 && start + s->left[i] * o->req[i].t_min <= o->req[i].deadline;
    if (!any) return (value){0, 0};
    uint64_t k0, k1;
    pack(round, s, o->m, &k0, &k1);
    const size_t mask = ((size_t)1 << OPT_MEMO_BITS) - 1;
    size_t h = (size_t)((k0 * 0x9E3779B97F4A7C15ULL) ^ (k1 * 0xC2B2AE3D27D4EB4FULL)) >> 7;
    for (size_t probe = 0; probe < 16; probe++) {
        memo_entry *e = &o->memo[(h + probe) & mask];
        if (e->k1 == 0) break;
        if (e->k0 == k0 && e->k1 == k1) return (value){e->met, e->cost};
    }
    state next = *s;
    int choice[OPT_MAX_REQ];
    value best = {-1, 0};
    enumerate(o, round, s, 0, o->cluster->n_gpus, &next, (value){0, 0}, &best, choice, NULL);
    /* Later rounds have every GPU back: blocks end by the round's end (see block_steps). */
    if (!o->too_large)
        for (size_t probe = 0; probe < 16; probe++) {
            memo_entry *e = &o->memo[(h + probe) & mask];
            if (e->k1 == 0) {
                *e = (memo_entry){k0, k1, best.cost, best.met};
                break;
            }
        }
    return best;
}

/* Starts a round at this call: tau as tetriserve's default (tau_from=served: the slowest fastest
 * step over the classes the run serves, every request's class looked up first), or tau_ms.
 * Returns 0, or -1 with err when out of memory. */
static int start_round(optimal *o, const tetri_view *v, tetri_error *err)
{
    const tetri_ns slowest = step_table_round_slowest(&o->table, v, STEP_TAU_SERVED);
    if (slowest < 0) return tetri_errorf(err, "out of memory");
    o->tau = o->tau_fixed > 0 ? o->tau_fixed : slowest > 0 ? o->g * slowest : TETRI_NS_PER_S;
    o->round_start = v->now;
    o->round_end = v->now + o->tau;
    o->started = true;
    o->t0 = v->now;
    return 0;
}

/* The search's requests (o->req, o->m) and their state: every waiting request that can still
 * meet its deadline. Unrunnable ones (no profile row) are dropped; late ones (and any with more
 * than 255 steps left, beyond the state's range) go to o->late (drop=on: dropped). Returns the
 * number of late ones, or -1 with err when more than max_requests would enter the search. */
static int32_t load_requests(optimal *o, const tetri_view *v, tetri_plan *plan, state *s, tetri_error *err)
{
    int32_t n_late = 0;
    o->m = 0;
    memset(s, 0, sizeof *s);
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        const step_class *c = step_table_class(&o->table, step_table_find_request(&o->table, r));
        int left = tetri_request_steps_left(r);
        if (c->t_min <= 0 || v->now + left * c->t_min > r->deadline || left > 255) {
            if (c->t_min <= 0 || o->drop) plan->drop[plan->n_drop++] = r->id;
            else o->late[n_late++] = i;
            continue;
        }
        if (o->m == o->max_requests)
            return tetri_errorf(err, "instance too large: more than %d live requests at t=%.3f s x %d degrees x %d GPUs (max_requests=%d)",
                                o->max_requests, (double)v->now / TETRI_NS_PER_S, o->table.n_degrees, v->cluster->n_gpus,
                                o->max_requests);
        opt_req *q = &o->req[o->m];
        q->r = r;
        for (int d = 0; d < o->table.n_degrees; d++) q->t[d] = c->t_best[d];
        q->t_min = c->t_min;
        memcpy(q->mig_by_link, c->migration_ns, sizeof q->mig_by_link);
        q->prepare_ns = c->prepare_ns;
        q->deadline = r->deadline;
        s->left[o->m] = (uint8_t)left;
        s->last[o->m] = (uint8_t)tetri_gpuset_count(r->last_gpus);
        o->m++;
    }
    return n_late;
}

/* The search from state s over the GPUs free now: root[i] is the degree index request i runs at
 * in this round (-1: waits). Returns 0, or -1 with err when it needs more than max_nodes. */
static int search_first_round(optimal *o, const tetri_view *v, const state *s, int *root, tetri_error *err)
{
    for (int i = 0; i < o->m; i++) root[i] = -1;
    if (o->m == 0) return 0;
    memset(o->memo, 0, ((size_t)1 << OPT_MEMO_BITS) * sizeof *o->memo);
    o->nodes = 0;
    state next = *s;
    int choice[OPT_MAX_REQ];
    value best = {-1, 0};
    enumerate(o, 0, s, 0, o->n_free, &next, (value){0, 0}, &best, choice, root);
    if (o->too_large)
        return tetri_errorf(err, "instance too large: %d requests x %d degrees x %d GPUs needed more than %.0f search nodes (max_nodes)",
                            o->m, o->table.n_degrees, v->cluster->n_gpus, o->max_nodes);
    return 0;
}

/* Runs the first round of the plan: largest blocks first, keeping previous sets where possible.
 * Returns the GPUs still free. */
static tetri_gpuset run_first_round(const optimal *o, const tetri_view *v, const state *s, const int *root,
                                    tetri_gpuset free, tetri_plan *plan)
{
    for (int pass = TETRI_MAX_GPUS; pass >= 1; pass /= 2)
        for (int i = 0; i < o->m; i++) {
            if (root[i] < 0 || o->table.degree[root[i]] != pass) continue;
            const opt_req *q = &o->req[i];
            tetri_ns mig;
            int32_t steps = block_steps(o, q, s->left[i], s->last[i], root[i], &mig);
            tetri_gpuset set = placement_pick(v->cluster, free, pass, q->r->last_gpus, 0, 0);
            if (!set || steps < 1) continue;
            free &= ~set;
            /* The set is known now: the rule may charge a move the estimate did not (a new set of
             * the same degree, or one across a slower link), and the block then runs fewer steps
             * so it still ends by the round's end (at least one: a round cannot split a step). */
            mig = tetri_lead_in_rule_ns(v->cluster, q->r->last_gpus, set, 1, q->mig_by_link, q->prepare_ns);
            const int64_t fit = o->tau > mig ? (o->tau - mig) / q->t[root[i]] : 0;
            if (fit < steps) steps = fit < 1 ? 1 : (int32_t)fit;
            plan->assign[plan->n_assign++] = (tetri_assignment){.req = {q->r->id}, .n_req = 1, .gpus = set, .steps = steps};
        }
    return free;
}

/* Requests out of reach: one GPU each (their smallest degree with a row), best effort, oldest
 * first, from the GPUs the plan left free. */
static void run_late(optimal *o, const tetri_view *v, int32_t n_late, tetri_gpuset free, tetri_plan *plan)
{
    for (int32_t j = 0; j < n_late && free; j++) {
        const tetri_request *r = v->requests[o->late[j]];
        const step_class *c = step_table_class(&o->table, step_table_find_request(&o->table, r));
        int d = 0;
        while (d < o->table.n_degrees && c->t_best[d] <= 0) d++;
        assert(d < o->table.n_degrees); /* a late request has a t_min, so some degree has a row */
        tetri_gpuset set = placement_pick(v->cluster, free, o->table.degree[d], r->last_gpus, 0, 0);
        if (!set) continue;
        free &= ~set;
        /* It pays its move (the rule, its set being known) inside the round, as planned blocks do. */
        const tetri_ns mig = tetri_lead_in_rule_ns(v->cluster, r->last_gpus, set, 1, c->migration_ns, c->prepare_ns);
        int64_t fit = o->tau > mig ? (o->tau - mig) / c->t_best[d] : 0;
        int32_t left = tetri_request_steps_left(r);
        plan->assign[plan->n_assign++] = (tetri_assignment){
            .req = {r->id}, .n_req = 1, .gpus = set, .steps = fit < 1 ? 1 : fit < left ? (int32_t)fit : left};
    }
}

static int optimal_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    optimal *o = self;
    if (o->started && v->now < o->round_end) {
        plan->wake_at = o->round_end; /* inside a round: wait for its boundary */
        return 0;
    }
    const tetri_ns guard_wake = o->started ? round_guard_wake(v, o->round_end, o->guard) : TETRI_NS_NEVER;
    if (guard_wake != TETRI_NS_NEVER) {
        plan->wake_at = guard_wake; /* a block overran the boundary: wait for it (sched/round_guard.h) */
        return 0;
    }
    if (v->n_requests > o->cap_late) {
        int32_t *grown = realloc(o->late, (size_t)v->n_requests * 2 * sizeof *grown);
        if (!grown) return tetri_errorf(err, "out of memory");
        o->late = grown;
        o->cap_late = v->n_requests * 2;
    }
    if (start_round(o, v, err)) return -1;
    plan->wake_at = o->round_end;
    const tetri_gpuset free = tetri_cluster_all(v->cluster) & ~v->busy;
    o->n_free = tetri_gpuset_count(free);
    state s;
    int root[OPT_MAX_REQ];
    const int32_t n_late = load_requests(o, v, plan, &s, err);
    if (n_late < 0 || search_first_round(o, v, &s, root, err)) return -1;
    run_late(o, v, n_late, run_first_round(o, v, &s, root, free, plan), plan);
    return 0;
}

const tetri_policy_ops tetri_policy_optimal = {
    .name = "optimal",
    .summary = "exhaustive search over degrees per round for a handful of requests (<= 8 GPUs): the most deadlines met, then least GPU time",
    .options = optimal_options,
    .create = optimal_create,
    .decide = optimal_decide,
    .destroy = optimal_destroy,
    .may_refuse = true,
};
