/* sched/tetriserve.c: TetriServe, round-based step-level sequence parallelism (DESIGN section 8).
 *
 * Every round of length tau (g x the largest fastest step time over resolutions), for the free
 * GPUs:
 *  1. each waiting request's cheapest plan (GPU-seconds) that meets its deadline with at most two
 *     degrees (tetriserve_cheapest_plan);
 *  2. its options this round: wait, or run q = min(planned steps at degree k,
 *     floor((tau - the block's migration) / T(k))) steps at k (the move is paid inside the
 *     round), at least one (a round cannot split a step); when no planned degree fits the
 *     free GPUs, the smallest degree whose step fits the round is offered instead; an option "survives" when after it the rest still fits at the fastest degree
 *     (t_next + remaining x T_min <= deadline, t_next = the round's end; a block that finishes
 *     the request survives when it ends by the deadline). survival=rounds (an open point; the
 *     default "steps" is DESIGN's) counts the rest in fixed rounds instead: at most
 *     floor(tau / T_min) steps a round, then a wait for the boundary (finish_after);
 *  3. a group knapsack (sched/knapsack.c) over requests, GPU counts and survival picks one option
 *     per request: most survivors, then (tie=, which the paper leaves open) most GPUs busy, then
 *     the least-slack requests served;
 *     With extend=on (an open point settled here), a chosen block shorter than the round runs
 *     more steps at its degree up to the round's end: its GPUs would otherwise idle until the
 *     boundary, which step 5's "no GPU idles in a round" rules out;
 *  4. requests that can no longer meet their deadline get one GPU each, best effort, from what is
 *     left (drop=on drops them instead);
 *  5. elastic scale-up (elastic=on): GPUs still idle go to this round's blocks whose step time
 *     drops at a larger degree, the most time saved (net of migration) first;
 *  6. placement (sched/placement.c; placement=off is first fit): fast-link sets first, keep
 *     the previous set or one that contains it or is contained by it, leave the largest aligned
 *     free blocks. The DP works on GPU counts, elastic too; sets are chosen last, largest first.
 *     Migration follows the one rule of profiles/profile.h: until a set is chosen, its estimate
 *     (tetri_migration_estimate_ns: a change of degree moves the request, at the fast link's
 *     cost); once it is, the rule (tetri_migration_rule_ns: any change of set, at the link of the
 *     old and new sets together), which may cut the block's steps so it still fits the round;
 *  7. selective batching (batching=on): when there are more waiting requests than free GPUs,
 *     identical small requests (same model, size <= batch_max_side, same steps done of the same
 *     steps total: the executor runs a batch at one schedule position) become one
 *     batch when the profile has that batch size and the batch's plan still meets the earliest
 *     member deadline; the batch is one knapsack group whose survival counts every member.
 *
 * Rounds: a round starts at the first call at or after the previous round's end, or at an arrival
 * to an idle cluster (the view's idle_arrival: no GPU busy, nothing else pending), and asks to be
 * woken at its end. A
 * call inside a round (an arrival, a block ending early) does nothing with
 * midround=wait (the paper's fixed rounds: new work waits for the boundary), or, with
 * midround=fill, runs the same steps on the GPUs free now with the round's remaining length.
 *
 * trace=ID prints one request's plan, options, survival, pick and block every round to stderr
 * (trace_options), without changing any decision.
 *
 * Cost per call: O(R log R + R x N x D) for R waiting requests, N free GPUs, D degrees; memory
 * comes from arrays sized at create and doubled when the pending count outgrows them. */
#include "sched/tetriserve.h"

#include <assert.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "profiles/profile.h"
#include "sched/knapsack.h"
#include "sched/placement.h"
#include "sched/policies.h"
#include "sched/step_table.h"

static const tetri_option_spec tetriserve_options[] = {
    {"g", TETRI_OPT_INT, "5", "1..1000", "round length tau in steps of the slowest resolution's fastest step"},
    {"tau_from", TETRI_OPT_ENUM, "profile", "profile|seen|pending", "resolutions tau is taken over: the profile's (of the models seen), all seen in the run, or those pending now"},
    {"tau_ms", TETRI_OPT_DOUBLE, "0", "0..1e6", "fixed round length in milliseconds, 0 or >= 1 (0: from g)"},
    {"midround", TETRI_OPT_ENUM, "wait", "wait|fill", "calls inside a round: wait for the boundary, or fill idle GPUs with the same rules"},
    {"order", TETRI_OPT_ENUM, "last", "last|first", "in a two-degree plan, the high-degree steps run last (scale up later) or first"},
    {"round_options", TETRI_OPT_ENUM, "plan", "plan|phase|all", "degrees offered to the DP: both plan degrees, only the current phase's, or every degree"},
    {"tie", TETRI_OPT_ENUM, "gpus-slack", "gpus-slack|slack-gpus|none", "DP ties among equal survivors: more GPUs busy then less slack, the reverse, or none"},
    {"survival", TETRI_OPT_ENUM, "steps", "steps|rounds", "an option survives if the rest fits at the fastest degree back to back (steps), or in whole rounds of floor(tau / T_min) steps (rounds)"},
    {"drop", TETRI_OPT_BOOL, "off", NULL, "drop requests that can no longer meet their deadline (else one GPU, best effort)"},
    {"placement", TETRI_OPT_BOOL, "on", NULL, "placement preservation and fragmentation-aware sets (off: first fit)"},
    {"elastic", TETRI_OPT_BOOL, "on", NULL, "elastic scale-up: idle GPUs go to blocks whose step time drops"},
    {"extend", TETRI_OPT_BOOL, "on", NULL, "a block shorter than the round runs more steps at its degree, up to the round's end"},
    {"batching", TETRI_OPT_BOOL, "on", NULL, "selective batching of identical small requests under pressure"},
    {"batch_max_side", TETRI_OPT_INT, "512", "16..65536", "largest width or height that may be batched"},
    {"trace", TETRI_OPT_INT, "-1", "-1..2147483647", "print this request id's plan, options and pick every round to stderr (-1: none)"},
    {NULL, 0, NULL, NULL, NULL},
};

enum { TAU_PROFILE, TAU_SEEN, TAU_PENDING };
enum { MID_WAIT, MID_FILL };
enum { OPTS_PLAN, OPTS_PHASE, OPTS_ALL };
enum { TIE_GPUS_SLACK, TIE_SLACK_GPUS, TIE_NONE };
enum { SURV_STEPS, SURV_ROUNDS };

/* One knapsack group: a request, or a batch of identical ones. */
typedef struct group {
    int32_t member[TETRI_MAX_BATCH];
    int32_t n_member;
    int32_t cls;            /* step table index */
    int32_t steps_left;
    int32_t steps_total;    /* members share it and steps_left: the same schedule position */
    tetri_ns deadline;      /* the earliest member's */
    tetri_gpuset prev;      /* the first member's last set (batches form only from fresh requests) */
    tetri_ns slack;         /* deadline - now - steps_left x T_min */
    int64_t urgency;        /* R - rank by slack: the least slack gets the most */
} group;

/* One block before placement. */
typedef struct block {
    int32_t group;          /* index into groups, or -1 - late index */
    int32_t d;              /* degree index */
    int32_t steps;
    tetri_gpuset gpus;
} block;

typedef struct opt_meta { int32_t d, q; } opt_meta;
typedef struct slack_rank { tetri_ns slack; int32_t g; } slack_rank;

typedef struct tetriserve {
    int g, tau_from, midround, order_first, round_options, tie, survival;
    tetri_ns tau_fixed;
    bool drop, placement, elastic, batching, extend;
    int32_t batch_max_side;
    int32_t trace_id;       /* request to trace to stderr, -1: none */
    const tetri_cluster *cluster;
    step_table table;
    knapsack ks;
    tetri_ns round_start, round_end;
    /* Arena, sized for cap requests. */
    int32_t cap;
    int32_t *cls_of;        /* per view index */
    group *groups;
    int32_t *late;          /* view indices */
    knap_option *opts;
    opt_meta *meta;
    int32_t *first, *n_opts, *pick;
    slack_rank *rank;
    int32_t open_batch[64]; /* per class (first 64 classes): the group still open for joiners */
} tetriserve;

two_degree_plan tetriserve_cheapest_plan(const tetri_ns *t, const int32_t *degree, int32_t n_degrees,
                                         int32_t n_steps, tetri_ns budget)
{
    two_degree_plan best = {.feasible = false};
    const int64_t n = n_steps;
    for (int32_t i = 0; i < n_degrees; i++) {
        if (t[i] <= 0) continue;
        for (int32_t j = i; j < n_degrees; j++) {
            if (t[j] <= 0) continue;
            int64_t x; /* steps at j */
            if (i == j) {
                x = 0;
                if (n * t[i] > budget) continue;
            } else {
                if (t[j] >= t[i]) continue; /* a higher degree that is not faster never helps */
                int64_t over = n * t[i] - budget;
                if (over <= 0) continue;    /* then x = 0: the single-degree plan i */
                int64_t gain = t[i] - t[j];
                x = (over + gain - 1) / gain;
                if (x >= n) continue;       /* x = n: the single-degree plan j */
            }
            two_degree_plan p = {
                .feasible = true, .lo = i, .hi = j, .steps_hi = (int32_t)x,
                .gpu_ns = (n - x) * degree[i] * t[i] + x * degree[j] * t[j],
                .time_ns = (n - x) * t[i] + x * t[j],
            };
            if (!best.feasible || p.gpu_ns < best.gpu_ns || (p.gpu_ns == best.gpu_ns && p.time_ns < best.time_ns))
                best = p;
        }
    }
    return best;
}

static void tetriserve_destroy(void *self)
{
    tetriserve *s = self;
    if (!s) return;
    step_table_free(&s->table);
    knapsack_free(&s->ks);
    free(s->cls_of);
    free(s->groups);
    free(s->late);
    free(s->opts);
    free(s->meta);
    free(s->first);
    free(s->n_opts);
    free(s->pick);
    free(s->rank);
    free(s);
}

/* Grows the arena to hold n requests (doubling). Returns 0, or -1 when out of memory. */
static int reserve(tetriserve *s, int32_t n)
{
    if (n <= s->cap) return 0;
    int32_t cap = s->cap ? s->cap : 64;
    while (cap < n) cap *= 2;
    const size_t per = (size_t)s->table.n_degrees + 1;
#define GROW(field, count) do { void *p_ = realloc(s->field, (count) * sizeof *s->field); if (!p_) return -1; s->field = p_; } while (0)
    GROW(cls_of, (size_t)cap);
    GROW(groups, (size_t)cap);
    GROW(late, (size_t)cap);
    GROW(opts, (size_t)cap * per);
    GROW(meta, (size_t)cap * per);
    GROW(first, (size_t)cap);
    GROW(n_opts, (size_t)cap);
    GROW(pick, (size_t)cap);
    GROW(rank, (size_t)cap);
#undef GROW
    if (knapsack_reserve(&s->ks, cap, s->cluster->n_gpus)) return -1;
    s->cap = cap;
    return 0;
}

static void *tetriserve_create(const tetri_options *o, const struct tetri_profile *profile,
                               const tetri_cluster *cluster, tetri_error *err)
{
    tetriserve *s = calloc(1, sizeof *s);
    if (!s) return tetri_errorf(err, "out of memory"), NULL;
    s->g = (int)tetri_options_int(o, "g");
    const char *tf = tetri_options_str(o, "tau_from");
    s->tau_from = strcmp(tf, "pending") == 0 ? TAU_PENDING : strcmp(tf, "seen") == 0 ? TAU_SEEN : TAU_PROFILE;
    const double tau_ms = tetri_options_double(o, "tau_ms");
    if (tau_ms > 0 && tau_ms < 1.0) {
        /* A round shorter than a millisecond is shorter than any DiT step: every block overruns
         * it and the policy is woken each tau while blocks run (1e11 wake-ups at 100 ns). */
        free(s);
        return tetri_errorf(err, "option tau_ms: %g ms is shorter than any denoising step; give 0 (tau from g) or at least 1", tau_ms), NULL;
    }
    s->tau_fixed = (tetri_ns)(tau_ms * TETRI_NS_PER_MS);
    s->midround = strcmp(tetri_options_str(o, "midround"), "fill") == 0 ? MID_FILL : MID_WAIT;
    s->order_first = strcmp(tetri_options_str(o, "order"), "first") == 0;
    const char *ro = tetri_options_str(o, "round_options");
    s->round_options = strcmp(ro, "all") == 0 ? OPTS_ALL : strcmp(ro, "phase") == 0 ? OPTS_PHASE : OPTS_PLAN;
    const char *tie = tetri_options_str(o, "tie");
    s->tie = strcmp(tie, "none") == 0 ? TIE_NONE : strcmp(tie, "slack-gpus") == 0 ? TIE_SLACK_GPUS : TIE_GPUS_SLACK;
    s->survival = strcmp(tetri_options_str(o, "survival"), "rounds") == 0 ? SURV_ROUNDS : SURV_STEPS;
    s->drop = tetri_options_bool(o, "drop");
    s->placement = tetri_options_bool(o, "placement");
    s->elastic = tetri_options_bool(o, "elastic");
    s->batching = tetri_options_bool(o, "batching");
    s->extend = tetri_options_bool(o, "extend");
    s->batch_max_side = (int32_t)tetri_options_int(o, "batch_max_side");
    s->trace_id = (int32_t)tetri_options_int(o, "trace");
    s->cluster = cluster;
    knapsack_init(&s->ks);
    if (step_table_init(&s->table, profile, cluster, err)) {
        free(s);
        return NULL;
    }
    if (reserve(s, 64)) {
        tetriserve_destroy(s);
        return tetri_errorf(err, "out of memory"), NULL;
    }
    return s;
}

/* How many steps of `t` fit in `tau` after a migration of `mig` (the block pays the move first):
 * a block sized without it overruns the round by the migration, and with fixed rounds its
 * request then waits a whole round for the next boundary. May be 0. */
static int64_t steps_fit(tetri_ns tau, tetri_ns mig, tetri_ns t)
{
    return tau > mig ? (tau - mig) / t : 0;
}

/* Step time of group g at degree index d over the best link, batch included. */
static tetri_ns group_step_ns(const tetriserve *s, const group *g, int d)
{
    const step_class *c = step_table_class(&s->table, g->cls);
    return step_class_ns(c, d, s->table.best_link[d], g->n_member);
}

static two_degree_plan group_plan(const tetriserve *s, const group *g, tetri_ns now)
{
    tetri_ns t[TETRI_STEP_MAX_DEGREES];
    for (int d = 0; d < s->table.n_degrees; d++) t[d] = group_step_ns(s, g, d);
    return tetriserve_cheapest_plan(t, s->table.degree, s->table.n_degrees, g->steps_left, g->deadline - now);
}

/* Time to run `rem` steps of class c at its fastest degree from a round boundary, for the
 * survival test (DESIGN step 2). survival=steps (DESIGN): back to back, rem x T_min.
 * survival=rounds, with fixed rounds (midround=wait): a request runs at most
 * per = floor(tau / T_min) steps a round and then waits for the boundary, so all but the last
 * round cost tau each; a step longer than the round overruns it and the next call, mid-round,
 * waits for the following boundary, so such a step costs ceil(T_min / tau) rounds. */
static tetri_ns finish_after(const tetriserve *s, const step_class *c, int32_t rem, tetri_ns tau)
{
    if (rem <= 0) return 0;
    if (s->survival == SURV_STEPS || s->midround == MID_FILL || tau <= 0) return rem * c->t_min;
    const int64_t per = tau / c->t_min;
    if (per >= 1) {
        const int64_t full = (rem - 1) / per;
        return full * tau + (rem - full * per) * c->t_min;
    }
    const int64_t rounds_per_step = (c->t_min + tau - 1) / tau;
    return (rem - 1) * rounds_per_step * tau + c->t_min;
}

/* When a request can run again after a block ending at `end` (t_next: this round's end). With
 * survival=rounds and fixed rounds, a block that overruns the round is picked up at the first
 * boundary after it ends (a call mid-round waits); otherwise as soon as both have passed. */
static tetri_ns resume_at(const tetriserve *s, tetri_ns end, tetri_ns t_next, tetri_ns tau)
{
    if (end <= t_next) return t_next;
    if (s->survival == SURV_STEPS || s->midround == MID_FILL || tau <= 0) return end;
    return t_next + (end - t_next + tau - 1) / tau * tau;
}

static int cmp_slack(const void *a, const void *b)
{
    const slack_rank *x = a, *y = b;
    if (x->slack != y->slack) return x->slack < y->slack ? -1 : 1;
    return (x->g > y->g) - (x->g < y->g);
}

/* Placement order: largest degree first, then the order blocks were made in (groups in view
 * order, then late requests). At most one block per GPU, so an insertion sort is plenty. */
static bool block_before(const tetriserve *s, const block *x, const block *y)
{
    int kx = s->table.degree[x->d], ky = s->table.degree[y->d];
    if (kx != ky) return kx > ky;
    /* groups (>= 0) in order, then late ones (-1, -2, ...) in order */
    int64_t ox = x->group >= 0 ? x->group : (int64_t)INT32_MAX - x->group;
    int64_t oy = y->group >= 0 ? y->group : (int64_t)INT32_MAX - y->group;
    return ox < oy;
}

static void sort_blocks(const tetriserve *s, block *b, int32_t n)
{
    for (int32_t i = 1; i < n; i++) {
        block x = b[i];
        int32_t j = i;
        for (; j > 0 && block_before(s, &x, &b[j - 1]); j--) b[j] = b[j - 1];
        b[j] = x;
    }
}

static tetri_ns round_length(tetriserve *s, const tetri_view *v)
{
    if (s->tau_fixed > 0) return s->tau_fixed;
    tetri_ns slowest = 0;
    if (s->tau_from == TAU_PROFILE) {
        /* The profile's resolutions of every model this run has shown so far (a resolution the
         * profile lacks, interpolated, counts too). */
        for (int32_t i = 0; i < s->table.n_cls; i++) {
            tetri_ns p = s->table.profile_slowest_fastest[s->table.cls[i].model];
            if (p > slowest) slowest = p;
            if (s->table.cls[i].t_min > slowest) slowest = s->table.cls[i].t_min;
        }
    } else if (s->tau_from == TAU_SEEN) {
        for (int32_t i = 0; i < s->table.n_cls; i++)
            if (s->table.cls[i].t_min > slowest) slowest = s->table.cls[i].t_min;
    } else {
        for (int32_t i = 0; i < v->n_requests; i++) {
            tetri_ns t = step_table_class(&s->table, s->cls_of[i])->t_min;
            if (t > slowest) slowest = t;
        }
    }
    return slowest > 0 ? s->g * slowest : TETRI_NS_PER_S; /* nothing runnable: a 1 s heartbeat */
}

/* trace=ID: one line per round for the group holding request ID: its plan, every option the DP
 * was offered (degree, steps, whether it survives) and the pick. For researchers following one
 * request through the rounds (docs/scheduler-results.md, section 3); off, it costs one compare. */
static void trace_options(const tetriserve *s, tetri_ns now, int32_t n_free, int32_t n_groups, int64_t w_surv)
{
    for (int32_t gi = 0; gi < n_groups; gi++) {
        const group *g = &s->groups[gi];
        bool hit = false;
        for (int32_t m = 0; m < g->n_member; m++) hit |= g->member[m] == s->trace_id;
        if (!hit) continue;
        two_degree_plan p = group_plan(s, g, now);
        fprintf(stderr, "tetriserve trace: request %d t=%.3f ms round [%.3f, %.3f] free %d, %d steps left, deadline %.3f",
                s->trace_id, now / 1e6, s->round_start / 1e6, s->round_end / 1e6, n_free, g->steps_left, g->deadline / 1e6);
        if (p.feasible && (p.lo == p.hi || p.steps_hi == 0))
            fprintf(stderr, ", plan %d at %d", g->steps_left, s->table.degree[p.lo]);
        else if (p.feasible)
            fprintf(stderr, ", plan %d at %d then %d at %d (order=%s)", g->steps_left - p.steps_hi, s->table.degree[p.lo],
                    p.steps_hi, s->table.degree[p.hi], s->order_first ? "first" : "last");
        else
            fprintf(stderr, ", no plan meets the deadline");
        fprintf(stderr, "; options:");
        for (int32_t j = 0; j < s->n_opts[gi]; j++) {
            const knap_option *o = &s->opts[s->first[gi] + j];
            const opt_meta *m = &s->meta[s->first[gi] + j];
            if (m->d < 0) fprintf(stderr, " wait");
            else fprintf(stderr, " %d step%s at %d", m->q, m->q == 1 ? "" : "s", o->weight);
            fprintf(stderr, " (%s)%s", o->value >= w_surv ? "survives" : "dies", j + 1 < s->n_opts[gi] ? "," : "");
        }
        fprintf(stderr, "; picked %d\n", s->pick[gi]);
    }
}

static int tetriserve_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    tetriserve *s = self;
    const tetri_ns now = v->now;
    if (v->n_requests == 0) return 0; /* idle: the next arrival starts a fresh round */
    /* Arrivals to an idle cluster (a fact the host states): the round of the last work is stale
     * and must not make the arrival wait for its boundary; a fresh round starts here. */
    const bool new_round = now >= s->round_end || v->idle_arrival;
    if (!new_round && s->midround == MID_WAIT) {
        plan->wake_at = s->round_end; /* inside a round: wait for its boundary */
        return 0;
    }
    if (reserve(s, v->n_requests)) return tetri_errorf(err, "out of memory for %d requests", v->n_requests);
    for (int32_t i = 0; i < v->n_requests; i++) {
        s->cls_of[i] = step_table_find_request(&s->table, v->requests[i]);
        if (s->cls_of[i] < 0) return tetri_errorf(err, "out of memory");
    }
    if (new_round) {
        s->round_start = now;
        s->round_end = now + round_length(s, v);
    }
    plan->wake_at = s->round_end;
    const tetri_ns tau = s->round_end - now;
    const tetri_ns tau_round = s->round_end - s->round_start; /* the full round, for survival=rounds */
    const tetri_gpuset free = tetri_cluster_all(v->cluster) & ~v->busy;
    const int32_t n_free = tetri_gpuset_count(free);
    const int32_t nd = s->table.n_degrees;

    /* Classify waiting requests: unrunnable (dropped: no profile row at all), late, or normal. */
    int32_t n_late = 0, n_normal = 0;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        const step_class *c = step_table_class(&s->table, s->cls_of[i]);
        if (c->t_min <= 0) {
            plan->drop[plan->n_drop++] = r->id;
            continue;
        }
        if (now + tetri_request_steps_left(r) * c->t_min > r->deadline) s->late[n_late++] = i;
        else n_normal++;
    }
    if (n_free == 0) {
        if (s->drop)
            for (int32_t j = 0; j < n_late; j++) plan->drop[plan->n_drop++] = v->requests[s->late[j]]->id;
        return 0;
    }

    /* Groups, batching identical small fresh requests when there are more of them than GPUs. */
    const bool batch_now = s->batching && n_normal > n_free;
    for (int32_t k = 0; k < 64; k++) s->open_batch[k] = -1;
    int32_t n_groups = 0;
    for (int32_t i = 0, lj = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        const step_class *c = step_table_class(&s->table, s->cls_of[i]);
        if (c->t_min <= 0) continue;
        if (lj < n_late && s->late[lj] == i) { lj++; continue; }
        const int32_t left = tetri_request_steps_left(r);
        if (batch_now && s->cls_of[i] < 64 && r->width <= s->batch_max_side && r->height <= s->batch_max_side) {
            int32_t ob = s->open_batch[s->cls_of[i]];
            if (ob >= 0) {
                group *b = &s->groups[ob];
                if (b->steps_left == left && b->steps_total == r->steps_total && b->n_member < c->batch_limit &&
                    b->prev == r->last_gpus) {
                    group trial = *b;
                    trial.member[trial.n_member++] = r->id;
                    if (r->deadline < trial.deadline) trial.deadline = r->deadline;
                    if (group_plan(s, &trial, now).feasible) {
                        *b = trial;
                        continue;
                    }
                }
            }
            s->open_batch[s->cls_of[i]] = n_groups;
        }
        s->groups[n_groups++] = (group){.member = {r->id}, .n_member = 1, .cls = s->cls_of[i],
                                        .steps_left = left, .steps_total = r->steps_total, .deadline = r->deadline,
                                        .prev = r->last_gpus};
    }

    /* Urgency: rank by slack at the fastest degree (least slack: urgency n_groups). */
    for (int32_t gi = 0; gi < n_groups; gi++) {
        group *g = &s->groups[gi];
        g->slack = g->deadline - now - g->steps_left * step_table_class(&s->table, g->cls)->t_min;
        s->rank[gi] = (slack_rank){g->slack, gi};
    }
    qsort(s->rank, (size_t)n_groups, sizeof *s->rank, cmp_slack);
    for (int32_t k = 0; k < n_groups; k++) s->groups[s->rank[k].g].urgency = n_groups - k;

    /* Value weights: survivors, then (tie rule) GPUs busy and urgency, exact in int64. */
    const int64_t R = n_groups > 0 ? n_groups : 1, N = n_free;
    int64_t w_surv, w_gpu, w_urg;
    switch (s->tie) {
    case TIE_SLACK_GPUS: w_gpu = 1; w_urg = N + 1; w_surv = (N * R + 1) * w_urg; break;
    case TIE_NONE: w_gpu = 0; w_urg = 0; w_surv = 1; break;
    default: w_urg = 1; w_gpu = N * R + 1; w_surv = (N + 1) * w_gpu; break;
    }

    /* Options per group (steps 1 and 2). */
    int32_t n_opt_total = 0;
    for (int32_t gi = 0; gi < n_groups; gi++) {
        const group *g = &s->groups[gi];
        const step_class *c = step_table_class(&s->table, g->cls);
        const tetri_ns t_next = s->round_end;
        const int32_t n = g->steps_left;
        s->first[gi] = n_opt_total;
        knap_option *o = &s->opts[n_opt_total];
        opt_meta *m = &s->meta[n_opt_total];
        int32_t k = 0;
        bool wait_ok = t_next + finish_after(s, c, n, tau_round) <= g->deadline;
        o[k] = (knap_option){0, wait_ok ? w_surv * g->n_member : 0};
        m[k++] = (opt_meta){-1, 0};
        two_degree_plan p = group_plan(s, g, now);
        for (int32_t d = 0; d < nd; d++) {
            const int degree = s->table.degree[d];
            if (degree > n_free) break;
            tetri_ns t = group_step_ns(s, g, d);
            if (t <= 0) continue;
            int32_t planned = n;
            if (s->round_options != OPTS_ALL) {
                if (!p.feasible) continue;
                int32_t at_hi = p.steps_hi, at_lo = n - p.steps_hi;
                planned = d == p.hi && d == p.lo ? n : d == p.hi ? at_hi : d == p.lo ? at_lo : 0;
                if (s->round_options == OPTS_PHASE && p.lo != p.hi) {
                    int phase = s->order_first ? (at_hi > 0 ? p.hi : p.lo) : (at_lo > 0 ? p.lo : p.hi);
                    if (d != phase) planned = 0;
                }
            }
            if (planned < 1) continue;
            /* A step longer than what is left of the round still runs once: a round cannot split
             * a step (the block overruns the boundary by less than one step). */
            const tetri_ns mig = tetri_migration_estimate_ns(g->prev, degree, c->migration_ns);
            int64_t fit = steps_fit(tau, mig, t);
            int32_t q = fit < 1 ? 1 : (int32_t)(planned < fit ? planned : fit);
            tetri_ns end = now + mig + q * t;
            bool survive = q == n ? end <= g->deadline
                                  : resume_at(s, end, t_next, tau_round) + finish_after(s, c, n - q, tau_round) <= g->deadline;
            o[k] = (knap_option){degree, (survive ? w_surv * g->n_member : 0) + w_gpu * degree + w_urg * g->urgency};
            m[k++] = (opt_meta){d, q};
        }
        /* No plan degree fits the free GPUs (or the profile lacks its batch row): offer the
         * smallest degree whose step fits the round, so the request is not starved. */
        for (int32_t d = 0; k == 1 && d < nd && s->table.degree[d] <= n_free; d++) {
            tetri_ns t = group_step_ns(s, g, d);
            const tetri_ns mig = tetri_migration_estimate_ns(g->prev, s->table.degree[d], c->migration_ns);
            if (t <= 0 || steps_fit(tau, mig, t) < 1) continue;
            int64_t fit = steps_fit(tau, mig, t);
            int32_t q = (int32_t)(n < fit ? n : fit);
            tetri_ns end = now + mig + q * t;
            bool survive = q == n ? end <= g->deadline
                                  : resume_at(s, end, t_next, tau_round) + finish_after(s, c, n - q, tau_round) <= g->deadline;
            o[k] = (knap_option){s->table.degree[d], (survive ? w_surv * g->n_member : 0) + w_gpu * s->table.degree[d] + w_urg * g->urgency};
            m[k++] = (opt_meta){d, q};
        }
        s->n_opts[gi] = k;
        n_opt_total += k;
    }

    /* Step 3: the knapsack. */
    knapsack_solve(&s->ks, n_groups, s->first, s->n_opts, s->opts, n_free, s->pick);
    if (s->trace_id >= 0) trace_options(s, now, n_free, n_groups, w_surv);
    block blocks[TETRI_MAX_GPUS];
    int32_t n_blocks = 0, used = 0;
    for (int32_t gi = 0; gi < n_groups; gi++) {
        const opt_meta *m = &s->meta[s->first[gi] + s->pick[gi]];
        if (m->d < 0) continue;
        assert(n_blocks < TETRI_MAX_GPUS);
        blocks[n_blocks++] = (block){gi, m->d, m->q, 0};
        used += s->table.degree[m->d];
    }
    assert(used <= n_free);

    /* Step 3b (extend=on): the plan caps a block at its planned steps at that degree (say one
     * step at degree 8 before the rest at 4), which would leave its GPUs idle for the rest of the
     * round; run more steps at the same degree instead, up to the round's end. */
    for (int32_t b = 0; s->extend && b < n_blocks; b++) {
        const group *g = &s->groups[blocks[b].group];
        const step_class *c = step_table_class(&s->table, g->cls);
        int64_t fit = steps_fit(tau, tetri_migration_estimate_ns(g->prev, s->table.degree[blocks[b].d], c->migration_ns), group_step_ns(s, g, blocks[b].d));
        int32_t q = fit < g->steps_left ? (int32_t)fit : g->steps_left;
        if (q > blocks[b].steps) blocks[b].steps = q;
    }

    /* Step 4: late requests, one GPU each (the smallest degree), oldest first; or dropped. */
    for (int32_t j = 0; j < n_late; j++) {
        const int32_t i = s->late[j];
        const tetri_request *r = v->requests[i];
        if (s->drop) { plan->drop[plan->n_drop++] = r->id; continue; }
        const step_class *c = step_table_class(&s->table, s->cls_of[i]);
        int32_t d = 0;
        while (d < nd && c->t_best[d] <= 0) d++;
        if (d == nd || used + s->table.degree[d] > n_free) continue;
        int64_t fit = steps_fit(tau, tetri_migration_estimate_ns(r->last_gpus, s->table.degree[d], c->migration_ns), c->t_best[d]);
        int32_t left = tetri_request_steps_left(r);
        int32_t q = fit < 1 ? 1 : fit < left ? (int32_t)fit : left;
        blocks[n_blocks++] = (block){-1 - j, d, q, 0};
        used += s->table.degree[d];
    }

    /* Step 5: elastic scale-up of this round's blocks into the GPUs still idle. */
    while (s->elastic && used < n_free) {
        int32_t best_b = -1, best_d = -1, best_q = 0;
        tetri_ns best_saved = 0;
        for (int32_t b = 0; b < n_blocks; b++) {
            if (blocks[b].group < 0) continue; /* late requests stay on one GPU */
            const group *g = &s->groups[blocks[b].group];
            const step_class *c = step_table_class(&s->table, g->cls);
            const int32_t d0 = blocks[b].d, k0 = s->table.degree[d0];
            const tetri_ns t0 = group_step_ns(s, g, d0);
            for (int32_t d = d0 + 1; d < nd; d++) {
                const int32_t k = s->table.degree[d];
                if (k - k0 > n_free - used) break;
                tetri_ns t = group_step_ns(s, g, d);
                if (t <= 0 || t >= t0) continue;
                int64_t fit = steps_fit(tau, tetri_migration_estimate_ns(g->prev, k, c->migration_ns), t);
                int32_t q = fit < g->steps_left ? (int32_t)fit : g->steps_left;
                if (q < blocks[b].steps) q = blocks[b].steps;
                tetri_ns saved = q * (t0 - t) - (tetri_migration_estimate_ns(g->prev, k, c->migration_ns) - tetri_migration_estimate_ns(g->prev, k0, c->migration_ns));
                if (saved > best_saved) {
                    best_saved = saved;
                    best_b = b;
                    best_d = d;
                    best_q = q;
                }
            }
        }
        if (best_b < 0) break;
        used += s->table.degree[best_d] - s->table.degree[blocks[best_b].d];
        blocks[best_b].d = best_d;
        blocks[best_b].steps = best_q;
    }

    /* Step 6: placement, largest blocks first; the GPUs of every block's previous set are kept
     * free for it as long as possible. */
    sort_blocks(s, blocks, n_blocks);
    tetri_gpuset want = 0;
    for (int32_t b = 0; b < n_blocks; b++) {
        int32_t gi = blocks[b].group;
        want |= gi >= 0 ? s->groups[gi].prev : v->requests[s->late[-1 - gi]]->last_gpus;
    }
    want &= free;
    tetri_gpuset left_free = free;
    for (int32_t b = 0; b < n_blocks; b++) {
        block *bl = &blocks[b];
        const int32_t gi = bl->group;
        const tetri_request *lr = gi < 0 ? v->requests[s->late[-1 - gi]] : NULL;
        const step_class *c = step_table_class(&s->table, gi >= 0 ? s->groups[gi].cls : s->cls_of[s->late[-1 - gi]]);
        const int32_t nb = gi >= 0 ? s->groups[gi].n_member : 1;
        const tetri_gpuset prev = gi >= 0 ? s->groups[gi].prev : lr->last_gpus;
        unsigned flags = s->placement ? 0 : PLACEMENT_FIRST_FIT;
        if (c->t[bl->d][TETRI_LINK_SLOW][nb] <= 0) flags |= PLACEMENT_FAST_ONLY;
        const int degree = s->table.degree[bl->d];
        bl->gpus = placement_pick(v->cluster, left_free, degree, prev, want & ~prev, flags);
        if (!bl->gpus) continue; /* no set with a profile row: the request waits */
        left_free &= ~bl->gpus;
        /* The cost model charges the set's real link, and the move whenever the set differs
         * from the previous one (same degree too): fewer steps fit when either applies. */
        tetri_ns t = step_class_ns(c, bl->d, tetri_cluster_link(v->cluster, bl->gpus), nb);
        const tetri_ns mig = tetri_migration_rule_ns(v->cluster, prev, bl->gpus, c->migration_ns);
        int64_t fit = t > 0 ? steps_fit(tau, mig, t) : bl->steps;
        if (fit < bl->steps) bl->steps = fit < 1 ? 1 : (int32_t)fit;
        tetri_assignment *a = &plan->assign[plan->n_assign++];
        a->gpus = bl->gpus;
        a->steps = bl->steps;
        if (gi >= 0) {
            a->n_req = s->groups[gi].n_member;
            memcpy(a->req, s->groups[gi].member, sizeof a->req);
        } else {
            a->n_req = 1;
            a->req[0] = lr->id;
        }
        for (int32_t m = 0; s->trace_id >= 0 && m < a->n_req; m++)
            if (a->req[m] == s->trace_id)
                fprintf(stderr, "tetriserve trace: request %d runs %d step%s on GPUs %#llx (degree %d%s%s)\n", s->trace_id,
                        a->steps, a->steps == 1 ? "" : "s", (unsigned long long)a->gpus, degree, gi < 0 ? ", late: best effort" : "",
                        a->n_req > 1 ? ", batched" : "");
    }
    return 0;
}

const tetri_policy_ops tetri_policy_tetriserve = {
    .name = "tetriserve",
    .summary = "TetriServe: rounds of tau, per-request cheapest two-degree plans, a group-knapsack DP for survivors, "
               "placement preservation, elastic scale-up, selective batching",
    .options = tetriserve_options,
    .create = tetriserve_create,
    .decide = tetriserve_decide,
    .destroy = tetriserve_destroy,
};
