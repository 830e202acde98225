/* sim/sim.c: the discrete-event engine (DESIGN section 4; contract in sim/sim.h).
 *
 * Events and their total order. Three kinds, (time, kind, insertion) ordered: block done <
 * arrival < wake-up. Only block-done events live in the binary heap (at most one per GPU, so the
 * heap stays in cache); arrivals come from a cursor over the trace (already in arrival order, so
 * the cursor is exactly the order a heap keyed by (time, ARRIVAL, trace index) would give), and
 * the wake-up is the single time the policy's latest plan asked for (a newer plan replaces it).
 * The next instant is the minimum of the three; every event of that instant is applied, then
 * decide() runs once.
 *
 * Allocation: everything is sized from the trace before the loop; the loop itself only grows the
 * decide-time and timeline arrays geometrically when an estimate was short. */
#include "sim/sim.h"

#include "host/plan_check.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* A policy that keeps asking to be woken while nothing runs and nothing arrives, and never starts
 * or drops anything, would loop forever; after this many such empty wake-ups in a row the run
 * stops with an error naming the policy. */
#define SIM_MAX_IDLE_WAKES 1000000

typedef struct sim_block {
    int32_t req[TETRI_MAX_BATCH];
    int32_t n_req;
    int32_t steps;
    tetri_gpuset gpus;
    tetri_ns start, end;
} sim_block;

typedef struct block_event {
    tetri_ns t;
    uint64_t seq;  /* insertion order: breaks ties between blocks ending at the same time */
    int32_t slot;  /* index into sim.blocks */
} block_event;

typedef struct sim {
    const sim_config *cfg;
    const tetri_trace *trace;
    const tetri_profile *profile;
    const tetri_cluster *cluster;
    tetri_policy policy;
    tetri_error *err;

    size_t n;
    tetri_request *req;          /* host state, one per trace entry */
    tetri_request_result *res;   /* what each request became (out->requests) */
    const tetri_request **pending; /* arrived and unfinished, in arrival order; compacted lazily */
    int32_t n_pending;
    int32_t n_live;              /* pending entries not yet finished (n_pending - finished ones) */
    size_t next_arrival;         /* cursor into the trace */

    block_event heap[TETRI_MAX_GPUS];
    int32_t n_heap;
    uint64_t seq;
    sim_block blocks[TETRI_MAX_GPUS];
    int32_t free_slot[TETRI_MAX_GPUS];
    int32_t n_free_slots;

    tetri_view view;             /* busy and gpu_busy_until are kept up to date in place */
    int32_t running_blocks;
    int64_t running_degree_sum;
    tetri_ns wake_at;

    tetri_plan plan;
    int32_t *drop_buf;

    gsl_rng *rng;                /* jitter only */

    tetri_ns *decide_ns;
    size_t n_decide, cap_decide;
    tetri_timeline_sample *timeline;
    size_t n_timeline, cap_timeline;
    tetri_ns next_sample;

    tetri_ns gpu_busy_ns;
    int64_t n_blocks;
    tetri_ns last_event;
} sim;

/* ---- the block-done heap ------------------------------------------------------------------------ */

static bool event_before(const block_event *a, const block_event *b)
{
    return a->t < b->t || (a->t == b->t && a->seq < b->seq);
}

static void heap_push(sim *s, tetri_ns t, int32_t slot)
{
    assert(s->n_heap < TETRI_MAX_GPUS); /* one outstanding block per GPU at most */
    block_event e = {.t = t, .seq = s->seq++, .slot = slot};
    int32_t i = s->n_heap++;
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (!event_before(&e, &s->heap[parent])) break;
        s->heap[i] = s->heap[parent];
        i = parent;
    }
    s->heap[i] = e;
}

static block_event heap_pop(sim *s)
{
    assert(s->n_heap > 0);
    block_event top = s->heap[0], last = s->heap[--s->n_heap];
    int32_t i = 0;
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= s->n_heap) break;
        if (c + 1 < s->n_heap && event_before(&s->heap[c + 1], &s->heap[c])) c++;
        if (!event_before(&s->heap[c], &last)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->n_heap > 0) s->heap[i] = last;
    return top;
}

/* ---- growable arrays (amortised; sized up front from the trace) --------------------------------- */

static int grow(void **arr, size_t *cap, size_t elem, size_t need, tetri_error *err)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *p = realloc(*arr, c * elem);
    if (!p) return tetri_errorf(err, "out of memory (%zu elements)", c);
    *arr = p;
    *cap = c;
    return 0;
}

/* ---- timeline ----------------------------------------------------------------------------------- */

/* The state applied at the last instant holds until `t`: record every sample time before `t`. */
static int sample_until(sim *s, tetri_ns t, bool inclusive)
{
    tetri_ns period = s->cfg->timeline_period;
    if (period <= 0) return 0;
    while (s->next_sample < t || (inclusive && s->next_sample == t)) {
        if (grow((void **)&s->timeline, &s->cap_timeline, sizeof *s->timeline, s->n_timeline + 1, s->err)) return -1;
        s->timeline[s->n_timeline++] = (tetri_timeline_sample){
            .t = s->next_sample,
            .busy_gpus = tetri_gpuset_count(s->view.busy),
            .mean_degree = s->running_blocks ? (double)s->running_degree_sum / s->running_blocks : 0.0,
            .pending = s->n_live,
        };
        s->next_sample += period;
    }
    return 0;
}

/* ---- events ------------------------------------------------------------------------------------- */

static void finish_request(sim *s, tetri_request *r, tetri_ns now, tetri_outcome outcome)
{
    tetri_request_result *res = &s->res[r->id];
    res->outcome = outcome;
    if (outcome == TETRI_DROPPED) {
        r->state = TETRI_REQ_DROPPED;
        res->finish = -1;
    } else {
        r->state = TETRI_REQ_DONE;
        res->finish = now;
    }
    s->n_live--;
}

static void complete_block(sim *s, int32_t slot, tetri_ns now)
{
    sim_block *b = &s->blocks[slot];
    assert(b->end == now);
    for (int32_t k = 0; k < b->n_req; k++) {
        tetri_request *r = &s->req[b->req[k]];
        assert(r->state == TETRI_REQ_RUNNING && r->busy_until == now);
        r->steps_done += b->steps;
        assert(r->steps_done <= r->steps_total);
        r->state = TETRI_REQ_WAITING;
        if (r->steps_done == r->steps_total)
            finish_request(s, r, now, now <= r->deadline ? TETRI_MET : TETRI_LATE);
    }
    s->view.busy &= ~b->gpus;
    s->running_blocks--;
    s->running_degree_sum -= tetri_gpuset_count(b->gpus);
    s->free_slot[s->n_free_slots++] = slot;
}

static void arrive(sim *s, size_t i)
{
    tetri_request *r = &s->req[i];
    r->state = TETRI_REQ_WAITING;
    s->pending[s->n_pending++] = r;
    s->n_live++;
}

/* Drops finished requests from the pending list, keeping arrival order. O(pending), and only
 * when something finished since the last decision. */
static void compact_pending(sim *s)
{
    if (s->n_live == s->n_pending) return;
    int32_t w = 0;
    for (int32_t i = 0; i < s->n_pending; i++) {
        const tetri_request *r = s->pending[i];
        if (r->state == TETRI_REQ_WAITING || r->state == TETRI_REQ_RUNNING) s->pending[w++] = r;
    }
    s->n_pending = w;
    assert(w == s->n_live);
}

/* ---- applying a plan ---------------------------------------------------------------------------- */

/* The request `id` of a plan, checked cheaply (always on: a broken policy must not corrupt the
 * host's state even without --check-plans). */
static tetri_request *plan_request(sim *s, int32_t id, const char *what)
{
    if (id < 0 || (size_t)id >= s->n) {
        tetri_errorf(s->err, "policy %s %s request %d, which does not exist", s->policy.spec, what, id);
        return NULL;
    }
    tetri_request *r = &s->req[id];
    if (r->state != TETRI_REQ_WAITING || (size_t)id >= s->next_arrival) {
        tetri_errorf(s->err, "policy %s %s request %d, which is not waiting (%s)", s->policy.spec, what, id,
                     (size_t)id >= s->next_arrival ? "not arrived" : r->state == TETRI_REQ_RUNNING ? "running or assigned twice" : "finished");
        return NULL;
    }
    return r;
}

static double jitter_factor(sim *s, const tetri_request *r, int degree, int batch, tetri_link link, int steps)
{
    tetri_step_cost cost;
    tetri_error ignored;
    if (profile_step_cost(s->profile, r->model, r->width, r->height, degree, batch, link, &cost, &ignored) || cost.cv <= 0)
        return 1.0;
    double cv = cost.cv / sqrt((double)steps);
    double sigma2 = log1p(cv * cv);
    double f = gsl_ran_lognormal(s->rng, -0.5 * sigma2, sqrt(sigma2)); /* mean exactly 1 */
    return f < SIM_JITTER_FLOOR ? SIM_JITTER_FLOOR : f;
}

static int start_block(sim *s, const tetri_assignment *a, tetri_ns now)
{
    const tetri_gpuset all = tetri_cluster_all(s->cluster);
    if (a->gpus == 0 || (a->gpus & ~all))
        return tetri_errorf(s->err, "policy %s assigned GPU set %#llx on %s (%d GPUs)", s->policy.spec,
                            (unsigned long long)a->gpus, s->cluster->hardware, s->cluster->n_gpus);
    if (a->gpus & s->view.busy)
        return tetri_errorf(s->err, "policy %s assigned busy GPUs %#llx at t=%.9f s (busy %#llx)", s->policy.spec,
                            (unsigned long long)(a->gpus & s->view.busy), (double)now / TETRI_NS_PER_S,
                            (unsigned long long)s->view.busy);
    if (a->n_req < 1 || a->n_req > TETRI_MAX_BATCH)
        return tetri_errorf(s->err, "policy %s assigned a batch of %d requests", s->policy.spec, a->n_req);
    tetri_request *members[TETRI_MAX_BATCH];
    for (int32_t k = 0; k < a->n_req; k++) {
        tetri_request *r = plan_request(s, a->req[k], "assigned");
        if (!r) return -1;
        if (a->steps < 1 || a->steps > tetri_request_steps_left(r))
            return tetri_errorf(s->err, "policy %s assigned %d steps to request %d, which has %d left", s->policy.spec,
                                a->steps, r->id, tetri_request_steps_left(r));
        if (k && (r->model != members[0]->model || r->width != members[0]->width || r->height != members[0]->height))
            return tetri_errorf(s->err, "policy %s batched requests %d and %d, which differ", s->policy.spec,
                                members[0]->id, r->id);
        r->state = TETRI_REQ_RUNNING; /* so a second use in this plan is caught */
        members[k] = r;
    }
    const tetri_request *r0 = members[0];
    const int degree = tetri_gpuset_count(a->gpus);
    const tetri_link link = tetri_cluster_link(s->cluster, a->gpus);
    tetri_ns step_ns = profile_lookup_step_ns(s->profile, r0->model, r0->width, r0->height, degree, a->n_req, link);
    if (step_ns <= 0)
        return tetri_errorf(s->err, "profile %s has no step time for %s %dx%d at degree %d, batch %d, over %s (hardware %s; policy %s, request %d)",
                            profile_path(s->profile), tetri_model_name(r0->model), r0->width, r0->height, degree,
                            a->n_req, tetri_link_name(link), s->cluster->hardware, s->policy.spec, r0->id);
    tetri_ns compute = a->steps * step_ns;
    if (s->rng) compute = (tetri_ns)llround((double)compute * jitter_factor(s, r0, degree, a->n_req, link, a->steps));
    /* Members move their state in parallel: the block waits for the slowest move. */
    tetri_ns migration = 0;
    for (int32_t k = 0; k < a->n_req; k++) {
        const tetri_request *r = members[k];
        if (r->last_gpus == 0 || r->last_gpus == a->gpus) continue;
        tetri_link mlink = tetri_cluster_link(s->cluster, r->last_gpus | a->gpus);
        tetri_ns m = profile_migration_ns(s->profile, r->model, r->width, r->height, mlink);
        if (m < 0)
            return tetri_errorf(s->err, "profile %s has no migration cost for %s %dx%d over %s (policy %s, request %d)",
                                profile_path(s->profile), tetri_model_name(r->model), r->width, r->height,
                                tetri_link_name(mlink), s->policy.spec, r->id);
        if (m > migration) migration = m;
    }
    const tetri_ns duration = compute + migration;
    assert(duration > 0);
    const tetri_ns end = now + duration;
    const tetri_ns gpu_ns = duration * degree;

    assert(s->n_free_slots > 0); /* a block holds at least one free GPU */
    int32_t slot = s->free_slot[--s->n_free_slots];
    sim_block *b = &s->blocks[slot];
    *b = (sim_block){.n_req = a->n_req, .steps = a->steps, .gpus = a->gpus, .start = now, .end = end};
    for (int32_t k = 0; k < a->n_req; k++) {
        tetri_request *r = members[k];
        tetri_request_result *res = &s->res[r->id];
        b->req[k] = r->id;
        if (res->first_start < 0) res->first_start = now;
        if (r->last_gpus != 0 && tetri_gpuset_count(r->last_gpus) != degree) res->degree_changes++;
        if (r->last_gpus != 0 && r->last_gpus != a->gpus) res->migrations++;
        if (degree > res->max_degree) res->max_degree = degree;
        /* A batch shares its GPU time; the first member takes the remainder, so the requests' sum
         * is exactly the GPUs' busy time. */
        res->gpu_ns += gpu_ns / a->n_req + (k == 0 ? gpu_ns % a->n_req : 0);
        r->last_gpus = a->gpus;
        r->busy_until = end;
    }
    for (tetri_gpuset g = a->gpus; g; g &= g - 1) s->view.gpu_busy_until[__builtin_ctzll(g)] = end;
    s->view.busy |= a->gpus;
    s->running_blocks++;
    s->running_degree_sum += degree;
    s->gpu_busy_ns += gpu_ns;
    s->n_blocks++;
    heap_push(s, end, slot);
    return 0;
}

static int apply_plan(sim *s, tetri_ns now)
{
    const tetri_plan *p = &s->plan;
    if (s->cfg->check_plans && tetri_plan_validate(p, &s->view, s->err))
        return tetri_error_prefix(s->err, "policy %s, plan at t=%.9f s", s->policy.spec, (double)now / TETRI_NS_PER_S);
    if (p->n_drop < 0 || p->n_drop > s->n_pending || p->n_assign < 0 || p->n_assign > TETRI_MAX_GPUS)
        return tetri_errorf(s->err, "policy %s returned %d drops and %d assignments", s->policy.spec, p->n_drop, p->n_assign);
    for (int32_t d = 0; d < p->n_drop; d++) {
        tetri_request *r = plan_request(s, p->drop[d], "dropped");
        if (!r) return -1;
        finish_request(s, r, now, TETRI_DROPPED);
    }
    for (int32_t a = 0; a < p->n_assign; a++)
        if (start_block(s, &p->assign[a], now)) return -1;
    if (p->wake_at != TETRI_NS_NEVER && p->wake_at <= now) {
        if (s->cfg->check_plans)
            return tetri_errorf(s->err, "policy %s asked to be woken at t=%.9f s, not after now (t=%.9f s)", s->policy.spec,
                                (double)p->wake_at / TETRI_NS_PER_S, (double)now / TETRI_NS_PER_S);
        s->wake_at = TETRI_NS_NEVER; /* it was just called: nothing new would happen */
    } else {
        s->wake_at = p->wake_at;
    }
    return 0;
}

static int decide(sim *s, tetri_ns now)
{
    compact_pending(s);
    if (s->n_pending == 0) { /* nothing to schedule: no call, no wake-up */
        s->wake_at = TETRI_NS_NEVER;
        return 0;
    }
    s->view.now = now;
    s->view.requests = s->pending;
    s->view.n_requests = s->n_pending;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = tetri_policy_decide(&s->policy, &s->view, &s->plan, s->err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) return tetri_error_prefix(s->err, "policy %s at t=%.9f s", s->policy.spec, (double)now / TETRI_NS_PER_S);
    if (grow((void **)&s->decide_ns, &s->cap_decide, sizeof *s->decide_ns, s->n_decide + 1, s->err)) return -1;
    s->decide_ns[s->n_decide++] = (t1.tv_sec - t0.tv_sec) * TETRI_NS_PER_S + (t1.tv_nsec - t0.tv_nsec);
    return apply_plan(s, now);
}

/* ---- the loop ----------------------------------------------------------------------------------- */

static int run_loop(sim *s)
{
    const tetri_trace *tr = s->trace;
    int64_t idle_wakes = 0;
    for (;;) {
        tetri_ns t_block = s->n_heap ? s->heap[0].t : TETRI_NS_NEVER;
        tetri_ns t_arrival = s->next_arrival < s->n ? tr->entries[s->next_arrival].arrival : TETRI_NS_NEVER;
        tetri_ns now = t_block < t_arrival ? t_block : t_arrival;
        if (s->wake_at < now) now = s->wake_at;
        if (now == TETRI_NS_NEVER) break;
        assert(now >= s->last_event); /* time never runs backwards */
        if (sample_until(s, now, false)) return -1;
        s->last_event = now;

        bool changed = false;
        while (s->n_heap && s->heap[0].t == now) {
            complete_block(s, heap_pop(s).slot, now);
            changed = true;
        }
        const bool idle_before = s->n_live == 0 && s->view.busy == 0;
        bool arrived = false;
        while (s->next_arrival < s->n && tr->entries[s->next_arrival].arrival == now) {
            arrive(s, s->next_arrival++);
            changed = arrived = true;
        }
        s->view.idle_arrival = idle_before && arrived;
        bool asked = s->wake_at == now;
        if (asked) s->wake_at = TETRI_NS_NEVER;
        if (!changed && !asked) continue;
        if (decide(s, now)) return -1;

        /* Livelock guard: only wake-ups, nothing running or arriving, nothing ever started. */
        if (!changed && s->plan.n_assign == 0 && s->plan.n_drop == 0 && s->n_heap == 0) {
            if (++idle_wakes > SIM_MAX_IDLE_WAKES)
                return tetri_errorf(s->err, "policy %s woke %d times in a row at t=%.9f s without starting or dropping anything while every GPU was idle (%d requests waiting): a policy bug",
                                    s->policy.spec, SIM_MAX_IDLE_WAKES, (double)now / TETRI_NS_PER_S, s->n_live);
        } else {
            idle_wakes = 0;
        }
    }
    if (s->n_live > 0) {
        compact_pending(s);
        const tetri_request *r = s->pending[0];
        return tetri_errorf(s->err, "policy %s left %d request(s) waiting with every GPU idle and no wake-up asked for (first: request %d, %s %dx%d, arrived at t=%.9f s, %d of %d steps done): a policy bug",
                            s->policy.spec, s->n_live, r->id, tetri_model_name(r->model), r->width, r->height,
                            (double)r->arrival / TETRI_NS_PER_S, r->steps_done, r->steps_total);
    }
    return sample_until(s, s->last_event, true);
}

/* ---- setup, summary, teardown ------------------------------------------------------------------- */

static tetri_ns select_kth(tetri_ns *a, ptrdiff_t n, ptrdiff_t k)
{
    /* Quickselect (Hoare partition, middle pivot): O(n) expected; reorders a[]. */
    assert(k >= 0 && k < n);
    ptrdiff_t lo = 0, hi = n - 1;
    while (lo < hi) {
        tetri_ns pivot = a[lo + (hi - lo) / 2];
        ptrdiff_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                tetri_ns t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return a[k];
    }
    return a[k];
}

static void summarise(sim *s, sim_result *out)
{
    tetri_run_summary *sum = &out->summary;
    sum->n = (int32_t)s->n;
    for (size_t i = 0; i < s->n; i++) {
        switch (s->res[i].outcome) {
        case TETRI_MET: sum->met++; break;
        case TETRI_LATE: sum->late++; break;
        case TETRI_DROPPED: sum->dropped++; break;
        }
    }
    assert(sum->met + sum->late + sum->dropped == sum->n); /* nothing disappears */
    sum->makespan = s->last_event;
    sum->decide_calls = (int64_t)s->n_decide;
    if (s->n_decide) {
        tetri_ns mx = 0;
        for (size_t i = 0; i < s->n_decide; i++) mx = s->decide_ns[i] > mx ? s->decide_ns[i] : mx;
        sum->decide_max_ns = mx;
        ptrdiff_t n = (ptrdiff_t)s->n_decide;
        sum->decide_p99_ns = select_kth(s->decide_ns, n, (ptrdiff_t)ceil(0.99 * (double)n) - 1);
        sum->decide_median_ns = select_kth(s->decide_ns, n, (n - 1) / 2);
    }
}

static int check_trace(const tetri_trace *t, tetri_error *err)
{
    for (size_t i = 0; i < t->n; i++) {
        const tetri_trace_entry *e = &t->entries[i];
        if (i && e->arrival < t->entries[i - 1].arrival)
            return tetri_errorf(err, "trace entry %zu (id %d) arrives before the entry above it: a trace must be in arrival order", i, e->id);
        if (e->steps < 1) return tetri_errorf(err, "trace entry %zu (id %d) has %d steps", i, e->id, e->steps);
        if (e->width < 16 || e->height < 16 || e->width % 16 || e->height % 16)
            return tetri_errorf(err, "trace entry %zu (id %d): %dx%d is not a multiple of 16", i, e->id, e->width, e->height);
        if (e->arrival < 0) return tetri_errorf(err, "trace entry %zu (id %d) arrives before time 0", i, e->id);
    }
    if (t->n > (size_t)INT32_MAX / 2) return tetri_errorf(err, "trace of %zu requests is too long", t->n);
    return 0;
}

/* The registry's policy, or cfg->policy_ops with cfg->policy_spec as its option text. */
static int create_policy(tetri_policy *p, const sim_config *cfg, const tetri_cluster *cluster, tetri_error *err)
{
    const char *spec = cfg->policy_spec ? cfg->policy_spec : "";
    if (!cfg->policy_ops) return tetri_policy_create(p, spec, cfg->profile, cluster, err);
    memset(p, 0, sizeof *p);
    const tetri_policy_ops *ops = cfg->policy_ops;
    if (tetri_options_parse(ops->options, spec, &p->options, err)) return tetri_error_prefix(err, "policy %s", ops->name);
    if (tetri_policy_format_spec(p, ops->name, err)) return -1;
    p->ops = ops;
    p->self = ops->create(&p->options, cfg->profile, cluster, err);
    if (!p->self) return tetri_error_prefix(err, "policy %s", ops->name);
    return 0;
}

void sim_result_free(sim_result *r)
{
    if (!r) return;
    free(r->requests);
    free(r->timeline);
    memset(r, 0, sizeof *r);
}

int sim_run(const sim_config *cfg, const tetri_trace *trace, sim_result *out, tetri_error *err)
{
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    memset(out, 0, sizeof *out);
    assert(cfg && cfg->profile && trace);
    if (check_trace(trace, err)) return -1;

    sim s = {.cfg = cfg, .trace = trace, .profile = cfg->profile, .err = err, .n = trace->n, .wake_at = TETRI_NS_NEVER};
    s.cluster = profile_cluster(cfg->profile);
    if (create_policy(&s.policy, cfg, s.cluster, err)) return -1;
    snprintf(out->policy_spec, sizeof out->policy_spec, "%s", s.policy.spec);

    int rc = -1;
    size_t n = trace->n, slots = n ? n : 1;
    s.req = calloc(slots, sizeof *s.req);
    s.res = calloc(slots, sizeof *s.res);
    s.pending = calloc(slots, sizeof *s.pending);
    s.drop_buf = calloc(slots, sizeof *s.drop_buf);
    if (!s.req || !s.res || !s.pending || !s.drop_buf) {
        tetri_errorf(err, "out of memory for %zu requests", n);
        goto done;
    }
    /* Roughly: each request causes an arrival and a completion decision, plus round wake-ups. */
    if (grow((void **)&s.decide_ns, &s.cap_decide, sizeof *s.decide_ns, 2 * n + 64, err)) goto done;
    if (cfg->timeline_period > 0 && n) {
        tetri_ns span = trace->entries[n - 1].arrival + 60 * TETRI_NS_PER_S;
        if (grow((void **)&s.timeline, &s.cap_timeline, sizeof *s.timeline, (size_t)(span / cfg->timeline_period) + 2, err)) goto done;
    }
    if (cfg->jitter) {
        s.rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!s.rng) { tetri_errorf(err, "out of memory for the jitter generator"); goto done; }
        gsl_rng_set(s.rng, (unsigned long)cfg->seed);
    }
    for (size_t i = 0; i < n; i++) {
        const tetri_trace_entry *e = &trace->entries[i];
        s.req[i] = (tetri_request){.id = (int32_t)i, .model = e->model, .width = e->width, .height = e->height,
                                   .steps_total = e->steps, .arrival = e->arrival, .deadline = e->deadline,
                                   .state = TETRI_REQ_WAITING};
        s.res[i] = (tetri_request_result){.id = (int32_t)i, .model = e->model, .width = e->width, .height = e->height,
                                          .steps = e->steps, .arrival = e->arrival, .deadline = e->deadline,
                                          .first_start = -1, .finish = -1, .outcome = TETRI_DROPPED};
    }
    for (int32_t g = 0; g < TETRI_MAX_GPUS; g++) s.free_slot[g] = TETRI_MAX_GPUS - 1 - g;
    s.n_free_slots = TETRI_MAX_GPUS;
    s.view.cluster = s.cluster;
    s.plan.drop = s.drop_buf;

    if (run_loop(&s)) goto done;
    for (size_t i = 0; i < n; i++) /* every request ended exactly once */
        assert(s.req[i].state == TETRI_REQ_DONE || s.req[i].state == TETRI_REQ_DROPPED);
    assert(s.n_heap == 0 && s.running_blocks == 0);

    summarise(&s, out);
    out->requests = s.res;
    out->n_requests = n;
    s.res = NULL;
    out->timeline = s.timeline;
    out->n_timeline = s.n_timeline;
    s.timeline = NULL;
    out->gpu_busy_ns = s.gpu_busy_ns;
    out->n_blocks = s.n_blocks;
    clock_gettime(CLOCK_MONOTONIC, &w1);
    out->summary.wall_s = (double)(w1.tv_sec - w0.tv_sec) + 1e-9 * (double)(w1.tv_nsec - w0.tv_nsec);
    rc = 0;
done:
    tetri_policy_destroy(&s.policy);
    if (s.rng) gsl_rng_free(s.rng);
    free(s.req);
    free(s.res);
    free(s.pending);
    free(s.drop_buf);
    free(s.decide_ns);
    free(s.timeline);
    return rc;
}
