/* sched/tetriserve.c: TetriServe, round-based step-level sequence parallelism (DESIGN section 8).
 * defines: tetri_policy_tetriserve, tetriserve_cheapest_plan.
 *
 * Every round of length tau (g x the largest fastest step time over resolutions), for the free
 * GPUs:
 *  1. each waiting request's cheapest plan (GPU-seconds) that meets its deadline with at most two
 *     degrees (tetriserve_cheapest_plan);
 *  2. its options this round (group_options): wait, or run q = min(planned steps at degree k,
 *     floor((tau - the block's lead-in) / T(k))) steps at k (the lead-in, a move or at a
 *     request's first block its preparation, is paid inside the round), at least one (a round
 *     cannot split a step); when no planned degree fits the free GPUs, the smallest degree whose
 *     step fits the round is offered instead. An option
 *     "survives" when after it the rest still fits at the fastest degree (t_next + remaining x
 *     T_min <= deadline, t_next = the round's end; a block that finishes the request survives
 *     when it ends by the deadline). survival=rounds (an open point; the default "steps" is
 *     DESIGN's) counts the rest in fixed rounds instead: at most floor(tau / T_min) steps a
 *     round, then a wait for the boundary (finish_after);
 *  3. a group knapsack (sched/knapsack.c; pick_blocks) over requests, GPU counts and survival
 *     picks one option per request: most survivors, then (tie=, which the paper leaves open) most
 *     GPUs busy, then the least-slack requests served (rank_urgency, set_value_weights). With
 *     extend=on (an open point settled here; extend_blocks), a chosen block shorter than the
 *     round runs more steps at its degree up to the round's end: its GPUs would otherwise idle
 *     until the boundary, which step 5's "no GPU idles in a round" rules out;
 *  4. requests that can no longer meet their deadline (classify_waiting) get one GPU each, best
 *     effort, from what is left (add_late_blocks; drop=on drops them instead);
 *  5. elastic scale-up (elastic=on; scale_up_elastic): GPUs still idle go to this round's blocks
 *     whose step time drops at a larger degree, the most time saved (net of migration) first;
 *  6. placement (sched/placement.c, placement=off is first fit; place_blocks): fast-link sets
 *     first, keep the previous set or one that contains it or is contained by it, leave the
 *     largest aligned free blocks. The DP works on GPU counts, elastic too; sets are chosen last,
 *     largest first. Migration follows the one rule of profiles/profile.h: until a set is
 *     chosen, its estimate (tetri_migration_estimate_ns: a change of degree moves the request, at
 *     the fast link's cost); once it is, the rule (tetri_migration_rule_ns: any change of set, at
 *     the link of the old and new sets together), which may cut the block's steps so it still
 *     fits the round; a first block pays its preparation instead (tetri_lead_in_estimate_ns and
 *     tetri_lead_in_rule_ns add both);
 *  7. selective batching (batching=on; form_groups, before step 1): when there are more waiting
 *     requests than free GPUs, identical small requests (same model, size <= batch_max_side,
 *     same steps done of the same steps total: the executor runs a batch at one schedule
 *     position) become one batch when the profile has that batch size and the batch's plan still
 *     meets the earliest member deadline; the batch is one knapsack group whose survival counts
 *     every member.
 * tetriserve_decide runs them as classify_waiting, form_groups, rank_urgency, set_value_weights,
 * build_options, pick_blocks, extend_blocks, add_late_blocks, scale_up_elastic, place_blocks;
 * they share the policy's arena and one call's `decision`.
 *
 * Rounds (round_for_call): a round starts at the first call at or after the previous round's end,
 * or at an arrival to an idle cluster (the view's idle_arrival: no GPU busy, nothing else
 * pending), and asks to be woken at its end. A call inside a round (an arrival, a block ending
 * early) does nothing with midround=wait (the paper's fixed rounds: new work waits for the
 * boundary), or, with midround=fill, runs the same steps on the GPUs free now with the round's
 * remaining length. In real time a block sized to end by the boundary may end a little after it;
 * when the wake-up at the boundary finds such a block still running (a busy GPU whose predicted
 * end, the view's gpu_busy_until, is by the boundary), the round waits for it at most guard_ms
 * (sched/round_guard.h): the call returns no blocks and asks to be woken at round_end + guard,
 * the block's completion calls earlier, and the round starts at that call's now. Without the
 * band the round would start without those GPUs, and with midround=wait they would idle a whole
 * round. guard_ms=0 starts the round at the boundary regardless. In the simulator without jitter
 * no block outlives its prediction (and completions at an instant come before the wake-up), so
 * those results do not depend on guard_ms; with --jitter they do, as real time does.
 *
 * trace=ID prints one request's plan, options, survival, pick and block every round to stderr
 * (trace_options, trace_block), without changing any decision.
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
#include "sched/round_guard.h"
#include "sched/step_table.h"

static const tetri_option_spec tetriserve_options[] = {
    {"g", TETRI_OPT_INT, "5", "1..1000", "round length tau in steps of the slowest resolution's fastest step"},
    {"tau_from", TETRI_OPT_ENUM, "served", "served|profile|seen|pending", "resolutions tau is taken over: those the run serves (its workload's), every one the profile has (of the models seen), all seen in the run, or those pending now"},
    {"tau_ms", TETRI_OPT_DOUBLE, "0", "0..1e6", "fixed round length in milliseconds, 0 or >= 1 (0: from g)"},
    {"midround", TETRI_OPT_ENUM, "wait", "wait|fill", "calls inside a round: wait for the boundary, or fill idle GPUs with the same rules"},
    {"guard_ms", TETRI_OPT_DOUBLE, "50", "0..1000", "a round boundary that finds a block predicted to end by it still running waits up to this long for it (blocks overrun in real time or with --jitter)"},
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
    tetri_ns guard;         /* guard_ms: how long a boundary waits for a block that overran it */
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
    s->tau_from = strcmp(tf, "pending") == 0 ? STEP_TAU_PENDING
                  : strcmp(tf, "seen") == 0  ? STEP_TAU_SEEN
                  : strcmp(tf, "profile") == 0 ? STEP_TAU_PROFILE
                                               : STEP_TAU_SERVED;
    const double tau_ms = tetri_options_double(o, "tau_ms");
    if (tau_ms > 0 && tau_ms < 1.0) {
        /* A round shorter than a millisecond is shorter than any DiT step: every block overruns
         * it and the policy is woken each tau while blocks run (1e11 wake-ups at 100 ns). */
        free(s);
        return tetri_errorf(err, "option tau_ms: %g ms is shorter than any denoising step; give 0 (tau from g) or at least 1", tau_ms), NULL;
    }
    s->tau_fixed = (tetri_ns)(tau_ms * TETRI_NS_PER_MS);
    s->midround = strcmp(tetri_options_str(o, "midround"), "fill") == 0 ? MID_FILL : MID_WAIT;
    s->guard = (tetri_ns)(tetri_options_double(o, "guard_ms") * TETRI_NS_PER_MS);
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

/* What a block of group g at degree d pays before its steps, until its set is chosen
 * (tetri_lead_in_estimate_ns: the move, or the members' preparation at their first block). A block
 * sized without the preparation overruns a round it was meant to fill, and with midround=wait
 * its GPUs then idle a whole round. */
static tetri_ns group_lead_in_ns(const tetriserve *s, const group *g, const step_class *c, int32_t d)
{
    return tetri_lead_in_estimate_ns(g->prev, s->table.degree[d], g->n_member, c->migration_ns, c->prepare_ns);
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

/* tau: g x the slowest fastest step over the classes tau_from names (step_table_round_slowest),
 * or tau_ms; a 1 s heartbeat when nothing is runnable. -1 when out of memory. */
static tetri_ns round_length(tetriserve *s, const tetri_view *v)
{
    if (s->tau_fixed > 0) return s->tau_fixed;
    tetri_ns slowest = step_table_round_slowest(&s->table, v, (step_tau_from)s->tau_from);
    if (slowest < 0) return -1;
    return slowest > 0 ? s->g * slowest : TETRI_NS_PER_S;
}

/* ---- one decision ----------------------------------------------------------------------------
 * tetriserve_decide runs the steps of the header in order, each a function below; they share the
 * policy's arena (groups, late, options, picks) and a `decision`: what this call works with. */

/* One call's working state: the view and the plan it fills, what is left of the round, the free
 * GPUs, the DP's value weights, and the blocks before placement. */
typedef struct decision {
    const tetri_view *v;
    tetri_plan *plan;
    tetri_ns now;
    tetri_ns tau;           /* what is left of the round: round_end - now */
    tetri_ns tau_round;     /* the whole round, for survival=rounds */
    tetri_gpuset free;
    int32_t n_free;
    int32_t n_late;         /* late requests, view indices in s->late[] */
    int32_t n_normal;       /* waiting requests that can still meet their deadline */
    int32_t n_groups;       /* knapsack groups in s->groups[] */
    int64_t w_surv, w_gpu, w_urg; /* value of a survivor, a busy GPU, a unit of urgency */
    block blocks[TETRI_MAX_GPUS];
    int32_t n_blocks;
    int32_t used;           /* free GPUs the blocks take */
} decision;

/* trace=ID: one line per round for the group holding request ID: its plan, every option the DP
 * was offered (degree, steps, whether it survives) and the pick. For researchers following one
 * request through the rounds (docs/scheduler-results.md, section 3); off, it costs one compare. */
static void trace_options(const tetriserve *s, const decision *dc)
{
    for (int32_t gi = 0; gi < dc->n_groups; gi++) {
        const group *g = &s->groups[gi];
        bool hit = false;
        for (int32_t m = 0; m < g->n_member; m++) hit |= g->member[m] == s->trace_id;
        if (!hit) continue;
        two_degree_plan p = group_plan(s, g, dc->now);
        fprintf(stderr, "tetriserve trace: request %d t=%.3f ms round [%.3f, %.3f] free %d, %d steps left, deadline %.3f",
                s->trace_id, dc->now / 1e6, s->round_start / 1e6, s->round_end / 1e6, dc->n_free, g->steps_left, g->deadline / 1e6);
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
            fprintf(stderr, " (%s)%s", o->value >= dc->w_surv ? "survives" : "dies", j + 1 < s->n_opts[gi] ? "," : "");
        }
        fprintf(stderr, "; picked %d\n", s->pick[gi]);
    }
}

/* trace=ID: the block request ID runs, once placed. */
static void trace_block(const tetriserve *s, const tetri_assignment *a, bool late)
{
    for (int32_t m = 0; m < a->n_req; m++)
        if (a->req[m] == s->trace_id)
            fprintf(stderr, "tetriserve trace: request %d runs %d step%s on GPUs %#llx (degree %d%s%s)\n", s->trace_id,
                    a->steps, a->steps == 1 ? "" : "s", (unsigned long long)a->gpus, tetri_gpuset_count(a->gpus),
                    late ? ", late: best effort" : "", a->n_req > 1 ? ", batched" : "");
}

enum { CALL_WAIT, CALL_NEW_ROUND, CALL_MIDROUND };

/* What this call is (see Rounds in the header): a new round, at the first call at or after the
 * last round's end or at an arrival to an idle cluster (a fact the host states: the round of the
 * last work is stale and must not make the arrival wait for its boundary), unless the guard band
 * holds it for a block that overran the boundary (CALL_WAIT, woken at the band's end); else a
 * call inside the round, which waits for its boundary (midround=wait: CALL_WAIT with wake_at
 * set) or fills the GPUs free now (midround=fill). */
static int round_for_call(const tetriserve *s, const tetri_view *v, tetri_plan *plan)
{
    if (v->now >= s->round_end || v->idle_arrival) {
        const tetri_ns wake = round_guard_wake(v, s->round_end, s->guard);
        if (wake == TETRI_NS_NEVER) return CALL_NEW_ROUND;
        assert(wake > v->now);
        plan->wake_at = wake;
        return CALL_WAIT;
    }
    if (s->midround == MID_FILL) return CALL_MIDROUND;
    plan->wake_at = s->round_end;
    return CALL_WAIT;
}

/* Looks up every request's step class (s->cls_of, by view index), growing the arena to the view.
 * Returns 0, or -1 with err when out of memory. */
static int find_classes(tetriserve *s, const tetri_view *v, tetri_error *err)
{
    if (reserve(s, v->n_requests)) return tetri_errorf(err, "out of memory for %d requests", v->n_requests);
    for (int32_t i = 0; i < v->n_requests; i++) {
        s->cls_of[i] = step_table_find_request(&s->table, v->requests[i]);
        if (s->cls_of[i] < 0) return tetri_errorf(err, "out of memory");
    }
    return 0;
}

/* Sorts the waiting requests: unrunnable ones (no profile row at any degree) are dropped, late
 * ones (even the fastest degree back to back misses the deadline) go to s->late in view order,
 * the rest are counted as normal (they form the knapsack's groups). */
static void classify_waiting(tetriserve *s, decision *dc)
{
    const tetri_view *v = dc->v;
    dc->n_late = dc->n_normal = 0;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        const step_class *c = step_table_class(&s->table, s->cls_of[i]);
        if (c->t_min <= 0) {
            dc->plan->drop[dc->plan->n_drop++] = r->id;
            continue;
        }
        if (dc->now + tetri_request_steps_left(r) * c->t_min > r->deadline) s->late[dc->n_late++] = i;
        else dc->n_normal++;
    }
}

/* Step 7's test for request i (view index): whether it joins the batch still open for its class.
 * It must be at the same schedule position on the same previous set, the batch must have room in
 * the profile, and the batch's plan must still meet the earliest member deadline. */
static bool join_open_batch(tetriserve *s, const decision *dc, int32_t i)
{
    const tetri_request *r = dc->v->requests[i];
    const int32_t ob = s->open_batch[s->cls_of[i]];
    if (ob < 0) return false;
    group *b = &s->groups[ob];
    const step_class *c = step_table_class(&s->table, s->cls_of[i]);
    if (b->steps_left != tetri_request_steps_left(r) || b->steps_total != r->steps_total || b->n_member >= c->batch_limit ||
        b->prev != r->last_gpus)
        return false;
    group trial = *b;
    trial.member[trial.n_member++] = r->id;
    if (r->deadline < trial.deadline) trial.deadline = r->deadline;
    if (!group_plan(s, &trial, dc->now).feasible) return false;
    *b = trial;
    return true;
}

/* The knapsack's groups, one per normal waiting request in view order, except that with
 * batching=on and more normal requests than free GPUs, identical small requests share a group
 * (step 7; the first 64 classes, each with at most one batch open for joiners). */
static void form_groups(tetriserve *s, decision *dc)
{
    const tetri_view *v = dc->v;
    const bool batch_now = s->batching && dc->n_normal > dc->n_free;
    for (int32_t k = 0; k < 64; k++) s->open_batch[k] = -1;
    dc->n_groups = 0;
    for (int32_t i = 0, lj = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        if (step_table_class(&s->table, s->cls_of[i])->t_min <= 0) continue;
        if (lj < dc->n_late && s->late[lj] == i) { lj++; continue; }
        if (batch_now && s->cls_of[i] < 64 && r->width <= s->batch_max_side && r->height <= s->batch_max_side) {
            if (join_open_batch(s, dc, i)) continue;
            s->open_batch[s->cls_of[i]] = dc->n_groups;
        }
        s->groups[dc->n_groups++] = (group){.member = {r->id}, .n_member = 1, .cls = s->cls_of[i],
                                            .steps_left = tetri_request_steps_left(r), .steps_total = r->steps_total,
                                            .deadline = r->deadline, .prev = r->last_gpus};
    }
}

/* Urgency: groups ranked by slack at the fastest degree; the least slack gets n_groups, ties to
 * the lower group index. */
static void rank_urgency(tetriserve *s, decision *dc)
{
    for (int32_t gi = 0; gi < dc->n_groups; gi++) {
        group *g = &s->groups[gi];
        g->slack = g->deadline - dc->now - g->steps_left * step_table_class(&s->table, g->cls)->t_min;
        s->rank[gi] = (slack_rank){g->slack, gi};
    }
    qsort(s->rank, (size_t)dc->n_groups, sizeof *s->rank, cmp_slack);
    for (int32_t k = 0; k < dc->n_groups; k++) s->groups[s->rank[k].g].urgency = dc->n_groups - k;
}

/* The DP's value weights (step 3): survivors first, then the tie rule's two terms, so that no sum
 * of the lesser terms over all groups outweighs one unit of a greater; exact in int64. */
static void set_value_weights(const tetriserve *s, decision *dc)
{
    const int64_t R = dc->n_groups > 0 ? dc->n_groups : 1, N = dc->n_free;
    switch (s->tie) {
    case TIE_SLACK_GPUS: dc->w_gpu = 1; dc->w_urg = N + 1; dc->w_surv = (N * R + 1) * dc->w_urg; break;
    case TIE_NONE: dc->w_gpu = 0; dc->w_urg = 0; dc->w_surv = 1; break;
    default: dc->w_urg = 1; dc->w_gpu = N * R + 1; dc->w_surv = (N + 1) * dc->w_gpu; break;
    }
}

/* The steps the group's plan p runs at degree index d (step 2): both plan degrees, or with
 * round_options=phase only the current phase's (order= says which comes first), or with
 * round_options=all every degree for all its steps. 0: not offered. */
static int32_t planned_steps(const tetriserve *s, const group *g, const two_degree_plan *p, int32_t d)
{
    const int32_t n = g->steps_left;
    if (s->round_options == OPTS_ALL) return n;
    if (!p->feasible) return 0;
    const int32_t at_hi = p->steps_hi, at_lo = n - p->steps_hi;
    int32_t planned = d == p->hi && d == p->lo ? n : d == p->hi ? at_hi : d == p->lo ? at_lo : 0;
    if (s->round_options == OPTS_PHASE && p->lo != p->hi) {
        const int32_t phase = s->order_first ? (at_hi > 0 ? p->hi : p->lo) : (at_lo > 0 ? p->lo : p->hi);
        if (d != phase) planned = 0;
    }
    return planned;
}

/* The option "run q steps at degree index d" (step time t, move mig first): its value counts the
 * members when the group survives it (step 2: a block that finishes the request must end by the
 * deadline; otherwise the rest must fit at the fastest degree from when it can run again), plus
 * the tie rule's GPUs and urgency. */
static void run_option(const tetriserve *s, const decision *dc, const group *g, int32_t d, int32_t q, tetri_ns t,
                       tetri_ns mig, knap_option *o, opt_meta *m)
{
    const step_class *c = step_table_class(&s->table, g->cls);
    const int32_t n = g->steps_left;
    const tetri_ns end = dc->now + mig + q * t;
    const bool survive = q == n ? end <= g->deadline
                                : resume_at(s, end, s->round_end, dc->tau_round) + finish_after(s, c, n - q, dc->tau_round) <= g->deadline;
    const int32_t degree = s->table.degree[d];
    *o = (knap_option){degree, (survive ? dc->w_surv * g->n_member : 0) + dc->w_gpu * degree + dc->w_urg * g->urgency};
    *m = (opt_meta){d, q};
}

/* Steps 1 and 2 for group gi: its options from s->opts[at] on (wait first), returning how many. */
static int32_t group_options(tetriserve *s, const decision *dc, int32_t gi, int32_t at)
{
    const group *g = &s->groups[gi];
    const step_class *c = step_table_class(&s->table, g->cls);
    const int32_t n = g->steps_left, nd = s->table.n_degrees;
    knap_option *o = &s->opts[at];
    opt_meta *m = &s->meta[at];
    int32_t k = 0;
    const bool wait_ok = s->round_end + finish_after(s, c, n, dc->tau_round) <= g->deadline;
    o[k] = (knap_option){0, wait_ok ? dc->w_surv * g->n_member : 0};
    m[k++] = (opt_meta){-1, 0};
    const two_degree_plan p = group_plan(s, g, dc->now);
    for (int32_t d = 0; d < nd && s->table.degree[d] <= dc->n_free; d++) {
        const tetri_ns t = group_step_ns(s, g, d);
        const int32_t planned = t > 0 ? planned_steps(s, g, &p, d) : 0;
        if (planned < 1) continue;
        /* A step longer than what is left of the round still runs once: a round cannot split
         * a step (the block overruns the boundary by less than one step). */
        const tetri_ns mig = group_lead_in_ns(s, g, c, d);
        const int64_t fit = steps_fit(dc->tau, mig, t);
        run_option(s, dc, g, d, fit < 1 ? 1 : (int32_t)(planned < fit ? planned : fit), t, mig, &o[k], &m[k]);
        k++;
    }
    /* No plan degree fits the free GPUs (or the profile lacks its batch row): offer the
     * smallest degree whose step fits the round, so the request is not starved. */
    for (int32_t d = 0; k == 1 && d < nd && s->table.degree[d] <= dc->n_free; d++) {
        const tetri_ns t = group_step_ns(s, g, d);
        const tetri_ns mig = group_lead_in_ns(s, g, c, d);
        const int64_t fit = t > 0 ? steps_fit(dc->tau, mig, t) : 0;
        if (fit < 1) continue;
        run_option(s, dc, g, d, (int32_t)(n < fit ? n : fit), t, mig, &o[k], &m[k]);
        k++;
    }
    return k;
}

/* Every group's options, laid out one group after another (s->first, s->n_opts). */
static void build_options(tetriserve *s, const decision *dc)
{
    int32_t n_opt_total = 0;
    for (int32_t gi = 0; gi < dc->n_groups; gi++) {
        s->first[gi] = n_opt_total;
        s->n_opts[gi] = group_options(s, dc, gi, n_opt_total);
        n_opt_total += s->n_opts[gi];
    }
}

/* Step 3: the knapsack picks one option per group; the picks that run become blocks. */
static void pick_blocks(tetriserve *s, decision *dc)
{
    knapsack_solve(&s->ks, dc->n_groups, s->first, s->n_opts, s->opts, dc->n_free, s->pick);
    if (s->trace_id >= 0) trace_options(s, dc);
    dc->n_blocks = dc->used = 0;
    for (int32_t gi = 0; gi < dc->n_groups; gi++) {
        const opt_meta *m = &s->meta[s->first[gi] + s->pick[gi]];
        if (m->d < 0) continue;
        assert(dc->n_blocks < TETRI_MAX_GPUS);
        dc->blocks[dc->n_blocks++] = (block){gi, m->d, m->q, 0};
        dc->used += s->table.degree[m->d];
    }
    assert(dc->used <= dc->n_free);
}

/* Step 3b (extend=on): the plan caps a block at its planned steps at that degree (say one step at
 * degree 8 before the rest at 4), which would leave its GPUs idle for the rest of the round; run
 * more steps at the same degree instead, up to the round's end. */
static void extend_blocks(const tetriserve *s, decision *dc)
{
    for (int32_t b = 0; s->extend && b < dc->n_blocks; b++) {
        block *bl = &dc->blocks[b];
        const group *g = &s->groups[bl->group];
        const step_class *c = step_table_class(&s->table, g->cls);
        const tetri_ns mig = group_lead_in_ns(s, g, c, bl->d);
        const int64_t fit = steps_fit(dc->tau, mig, group_step_ns(s, g, bl->d));
        const int32_t q = fit < g->steps_left ? (int32_t)fit : g->steps_left;
        if (q > bl->steps) bl->steps = q;
    }
}

/* Step 4: late requests get one GPU each (their smallest degree with a row), oldest first, from
 * what the knapsack left; or, with drop=on, are dropped. Their blocks are groups -1, -2, ... */
static void add_late_blocks(tetriserve *s, decision *dc)
{
    for (int32_t j = 0; j < dc->n_late; j++) {
        const int32_t i = s->late[j];
        const tetri_request *r = dc->v->requests[i];
        if (s->drop) {
            dc->plan->drop[dc->plan->n_drop++] = r->id;
            continue;
        }
        const step_class *c = step_table_class(&s->table, s->cls_of[i]);
        int32_t d = 0;
        while (d < s->table.n_degrees && c->t_best[d] <= 0) d++;
        if (d == s->table.n_degrees || dc->used + s->table.degree[d] > dc->n_free) continue;
        const tetri_ns mig = tetri_lead_in_estimate_ns(r->last_gpus, s->table.degree[d], 1, c->migration_ns, c->prepare_ns);
        const int64_t fit = steps_fit(dc->tau, mig, c->t_best[d]);
        const int32_t left = tetri_request_steps_left(r);
        assert(dc->n_blocks < TETRI_MAX_GPUS);
        dc->blocks[dc->n_blocks++] = (block){-1 - j, d, fit < 1 ? 1 : fit < left ? (int32_t)fit : left, 0};
        dc->used += s->table.degree[d];
    }
}

/* One candidate of step 5: block b to degree index d for q steps, saving `saved` of its time. */
typedef struct scale_up { int32_t b, d, q; tetri_ns saved; } scale_up;

/* Step 5's best single move: the block (not a late one: those stay on one GPU) whose step time
 * drops the most at a larger degree that fits the GPUs still idle, net of the change in its move;
 * b = -1 when no move saves time. */
static scale_up best_scale_up(const tetriserve *s, const decision *dc)
{
    scale_up best = {-1, -1, 0, 0};
    for (int32_t b = 0; b < dc->n_blocks; b++) {
        const block *bl = &dc->blocks[b];
        if (bl->group < 0) continue;
        const group *g = &s->groups[bl->group];
        const step_class *c = step_table_class(&s->table, g->cls);
        const int32_t k0 = s->table.degree[bl->d];
        const tetri_ns t0 = group_step_ns(s, g, bl->d);
        const tetri_ns mig0 = group_lead_in_ns(s, g, c, bl->d);
        for (int32_t d = bl->d + 1; d < s->table.n_degrees; d++) {
            const int32_t k = s->table.degree[d];
            if (k - k0 > dc->n_free - dc->used) break;
            const tetri_ns t = group_step_ns(s, g, d);
            if (t <= 0 || t >= t0) continue;
            const tetri_ns mig = group_lead_in_ns(s, g, c, d);
            const int64_t fit = steps_fit(dc->tau, mig, t);
            int32_t q = fit < g->steps_left ? (int32_t)fit : g->steps_left;
            if (q < bl->steps) q = bl->steps;
            const tetri_ns saved = q * (t0 - t) - (mig - mig0);
            if (saved > best.saved) best = (scale_up){b, d, q, saved};
        }
    }
    return best;
}

/* Step 5 (elastic=on): while GPUs are idle, the best move of a block to a larger degree. */
static void scale_up_elastic(const tetriserve *s, decision *dc)
{
    while (s->elastic && dc->used < dc->n_free) {
        const scale_up u = best_scale_up(s, dc);
        if (u.b < 0) break;
        block *bl = &dc->blocks[u.b];
        dc->used += s->table.degree[u.d] - s->table.degree[bl->d];
        bl->d = u.d;
        bl->steps = u.q;
    }
}

/* The late request behind a block of group -1 - j. */
static const tetri_request *late_request(const tetriserve *s, const decision *dc, const block *bl)
{
    assert(bl->group < 0 && -1 - bl->group < dc->n_late);
    return dc->v->requests[s->late[-1 - bl->group]];
}

/* The set the block's request(s) last ran on (a batch's members share it). */
static tetri_gpuset block_prev(const tetriserve *s, const decision *dc, const block *bl)
{
    return bl->group >= 0 ? s->groups[bl->group].prev : late_request(s, dc, bl)->last_gpus;
}

/* The set for block bl at its degree. Under the cluster's sets=aligned, when no aligned block of
 * that degree is free (the knapsack counts GPUs, not blocks), the next smaller degree with a row
 * for its batch, which becomes bl->d: fewer GPUs still make progress, where waiting loses the
 * round. 0 when none is free. */
static tetri_gpuset pick_set(const tetriserve *s, const decision *dc, block *bl, const step_class *c, int32_t nb,
                             tetri_gpuset prev, tetri_gpuset avoid, tetri_gpuset left_free)
{
    const int32_t lowest = dc->v->cluster->sets == TETRI_SETS_ALIGNED ? 0 : bl->d;
    for (int32_t d = bl->d; d >= lowest; d--) {
        if (d != bl->d && c->t[d][TETRI_LINK_FAST][nb] <= 0) continue;
        unsigned flags = s->placement ? 0 : PLACEMENT_FIRST_FIT;
        if (c->t[d][TETRI_LINK_SLOW][nb] <= 0) flags |= PLACEMENT_FAST_ONLY;
        const tetri_gpuset set = placement_pick(dc->v->cluster, left_free, s->table.degree[d], prev, avoid, flags);
        if (set) {
            bl->d = d;
            return set;
        }
    }
    return 0;
}

/* Step 6 for one block: its set from the GPUs still free (*left_free), keeping `want` (the other
 * blocks' previous sets) free as long as possible; then the block is costed on that set (its
 * link's step time, and the migration rule now that the set is known) and cut to fit the round,
 * and becomes an assignment. A block with no set (no profile row fits) waits. */
static void place_block(const tetriserve *s, decision *dc, block *bl, tetri_gpuset want, tetri_gpuset *left_free)
{
    const bool late = bl->group < 0;
    const group *g = late ? NULL : &s->groups[bl->group];
    const step_class *c = step_table_class(&s->table, late ? s->cls_of[s->late[-1 - bl->group]] : g->cls);
    const int32_t nb = late ? 1 : g->n_member;
    const tetri_gpuset prev = block_prev(s, dc, bl);
    bl->gpus = pick_set(s, dc, bl, c, nb, prev, want & ~prev, *left_free);
    if (!bl->gpus) return;
    *left_free &= ~bl->gpus;
    /* The cost model charges the set's real link, and the move whenever the set differs from the
     * previous one (same degree too): fewer steps fit when either applies. */
    const tetri_ns t = step_class_ns(c, bl->d, tetri_cluster_link(dc->v->cluster, bl->gpus), nb);
    const tetri_ns mig = tetri_lead_in_rule_ns(dc->v->cluster, prev, bl->gpus, nb, c->migration_ns, c->prepare_ns);
    const int64_t fit = t > 0 ? steps_fit(dc->tau, mig, t) : bl->steps;
    if (fit < bl->steps) bl->steps = fit < 1 ? 1 : (int32_t)fit;
    tetri_assignment *a = &dc->plan->assign[dc->plan->n_assign++];
    a->gpus = bl->gpus;
    a->steps = bl->steps;
    if (late) {
        a->n_req = 1;
        a->req[0] = late_request(s, dc, bl)->id;
    } else {
        a->n_req = g->n_member;
        memcpy(a->req, g->member, sizeof a->req);
    }
    if (s->trace_id >= 0) trace_block(s, a, late);
}

/* Step 6: placement, largest blocks first; the GPUs of every block's previous set are kept free
 * for it as long as possible. */
static void place_blocks(const tetriserve *s, decision *dc)
{
    sort_blocks(s, dc->blocks, dc->n_blocks);
    tetri_gpuset want = 0;
    for (int32_t b = 0; b < dc->n_blocks; b++) want |= block_prev(s, dc, &dc->blocks[b]);
    want &= dc->free;
    tetri_gpuset left_free = dc->free;
    for (int32_t b = 0; b < dc->n_blocks; b++) place_block(s, dc, &dc->blocks[b], want, &left_free);
}

static int tetriserve_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    tetriserve *s = self;
    if (v->n_requests == 0) return 0; /* idle: the next arrival starts a fresh round */
    const int call = round_for_call(s, v, plan);
    if (call == CALL_WAIT) return 0;
    if (find_classes(s, v, err)) return -1;
    if (call == CALL_NEW_ROUND) {
        const tetri_ns tau = round_length(s, v);
        if (tau < 0) return tetri_errorf(err, "out of memory");
        s->round_start = v->now;
        s->round_end = v->now + tau;
    }
    plan->wake_at = s->round_end;
    decision dc = {.v = v, .plan = plan, .now = v->now, .tau = s->round_end - v->now,
                   .tau_round = s->round_end - s->round_start};
    dc.free = tetri_cluster_all(v->cluster) & ~v->busy;
    dc.n_free = tetri_gpuset_count(dc.free);
    classify_waiting(s, &dc);
    if (dc.n_free == 0) {
        for (int32_t j = 0; s->drop && j < dc.n_late; j++) plan->drop[plan->n_drop++] = v->requests[s->late[j]]->id;
        return 0;
    }
    form_groups(s, &dc);
    rank_urgency(s, &dc);
    set_value_weights(s, &dc);
    build_options(s, &dc);
    pick_blocks(s, &dc);
    extend_blocks(s, &dc);
    add_late_blocks(s, &dc);
    scale_up_elastic(s, &dc);
    place_blocks(s, &dc);
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
