/* host/host.c: the serving loop (contract in host/host.h).
 *
 * State: one tetri_request per arrival (the policy's view points into it), one
 * tetri_request_result per arrival (what it became), the running blocks by slot (at most one per
 * GPU, so TETRI_MAX_GPUS slots), and the record of every block started.
 *
 * Allocation: everything is sized from the arrivals before the loop; the loop only grows the
 * decide-time, timeline, block-record and gap arrays geometrically when an estimate was short. */
#include "host/host.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "host/plan_check.h"

/* A completion in real time, for the overhead measurement (host_event's stamps): its end, its
 * worker's report of it, the host's taking of it; 0 where unknown. */
typedef struct completion_stamp {
    tetri_ns end, posted, taken;
} completion_stamp;

/* A running block: its record, and for the overhead measurement the completion it follows. */
typedef struct running_block {
    size_t rec;                /* index into host.blocks */
    completion_stamp follows;  /* the completion that freed its GPUs this decision; end 0: none */
} running_block;

typedef struct host {
    const host_config *cfg;
    const host_backend *be;
    const host_arrival *arr;
    const tetri_profile *profile;
    const tetri_cluster *cluster;
    tetri_policy policy;
    tetri_error *err;

    size_t n;
    tetri_request *req;            /* one per arrival */
    tetri_request_result *res;     /* what each became (out->requests) */
    int32_t *failures;             /* failed blocks per request */
    const tetri_request **pending; /* arrived and unfinished, in arrival order; compacted lazily */
    int32_t n_pending;
    int32_t n_live;                /* pending entries not yet finished */
    size_t next_arrival;           /* cursor into the arrivals */

    running_block run[TETRI_MAX_GPUS];
    int32_t free_slot[TETRI_MAX_GPUS];
    int32_t n_free_slots;
    int32_t running_blocks;
    int64_t running_degree_sum;

    tetri_view view;               /* busy and gpu_busy_until are kept up to date in place */
    tetri_request_class *served;   /* view.served: the workload's classes */
    tetri_plan plan;
    int32_t *drop_buf;
    unsigned char *check_scratch;  /* host_plan_check's */
    tetri_ns wake_at;

    /* Per GPU, for the overhead measurement: the completion that last freed it, and the instant
     * (loop pass) that took it: only a block started in that same pass follows it. Stamped rather
     * than cleared each pass, which the simulator's million-request runs feel. */
    completion_stamp freed[TETRI_MAX_GPUS];
    int64_t freed_pass[TETRI_MAX_GPUS];
    int64_t pass;
    /* Per GPU, the run-time end of its last block; -1 until it ran one. The idle before a block,
     * for the profile's idle speed-up of its actual time. */
    tetri_ns last_end[TETRI_MAX_GPUS];

    gsl_rng *rng;                  /* jitter only */

    tetri_ns *decide_ns;
    size_t n_decide, cap_decide;
    tetri_timeline_sample *timeline;
    size_t n_timeline, cap_timeline;
    tetri_ns next_sample;
    tetri_block_result *blocks;
    size_t n_rec, cap_rec;
    tetri_ns *gap_ns;
    size_t n_gap, cap_gap;
    tetri_ns *gap_part_ns[HOST_GAP_PARTS];
    size_t n_gap_parts, cap_gap_part[HOST_GAP_PARTS];

    tetri_ns gpu_busy_ns;
    int64_t n_failed;
    tetri_ns last_event;
    tetri_ns decided_at;           /* the last pass's instant (decision_instant), never decreasing */
    bool partial;                  /* the run was ended early (end_partial); why says why */
    char partial_why[256];
} host;

/* ---- growable arrays (amortised; sized up front from the arrivals) ------------------------------ */

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

/* The error for a timeline longer than host_timeline_max_samples: `what` says how far it reached. */
static int timeline_too_long(const host *h, const char *what, tetri_ns t)
{
    return tetri_errorf(h->err,
                        "timeline: sampling every %g s %s %.9g s takes more than %zu samples (at most %d, or %d per "
                        "request); sample less often (--timeline SECONDS) or not at all (--timeline 0)",
                        (double)h->cfg->timeline_period / 1e9, what, (double)t / 1e9, host_timeline_max_samples(h->n),
                        HOST_TIMELINE_MIN_CAP, HOST_TIMELINE_PER_REQUEST);
}

/* The state applied at the last instant holds until `t`: record every sample time before `t`. */
static int sample_until(host *h, tetri_ns t, bool inclusive)
{
    tetri_ns period = h->cfg->timeline_period;
    if (period <= 0) return 0;
    while (h->next_sample < t || (inclusive && h->next_sample == t)) {
        if (h->n_timeline == host_timeline_max_samples(h->n)) return timeline_too_long(h, "up to t =", t);
        if (grow((void **)&h->timeline, &h->cap_timeline, sizeof *h->timeline, h->n_timeline + 1, h->err)) return -1;
        h->timeline[h->n_timeline++] = (tetri_timeline_sample){
            .t = h->next_sample,
            .busy_gpus = tetri_gpuset_count(h->view.busy),
            .mean_degree = h->running_blocks ? (double)h->running_degree_sum / h->running_blocks : 0.0,
            .pending = h->n_live,
        };
        h->next_sample += period;
    }
    return 0;
}

/* ---- the request lifecycle ---------------------------------------------------------------------- */

static void finish_request(host *h, tetri_request *r, tetri_ns t, tetri_outcome outcome)
{
    tetri_request_result *res = &h->res[r->id];
    res->outcome = outcome;
    if (outcome == TETRI_DROPPED) {
        r->state = TETRI_REQ_DROPPED;
        res->finish = -1;
    } else {
        r->state = TETRI_REQ_DONE;
        res->finish = t;
    }
    h->n_live--;
}

static void arrive(host *h, size_t i)
{
    tetri_request *r = &h->req[i];
    r->state = TETRI_REQ_WAITING;
    h->pending[h->n_pending++] = r;
    h->n_live++;
}

/* Drops finished requests from the pending list, keeping arrival order. O(pending), and only
 * when something finished since the last decision. */
static void compact_pending(host *h)
{
    if (h->n_live == h->n_pending) return;
    int32_t w = 0;
    for (int32_t i = 0; i < h->n_pending; i++) {
        const tetri_request *r = h->pending[i];
        if (r->state == TETRI_REQ_WAITING || r->state == TETRI_REQ_RUNNING) h->pending[w++] = r;
    }
    h->n_pending = w;
    assert(w == h->n_live);
}

/* Frees the GPUs of the block in `slot`. */
static void release_slot(host *h, int32_t slot, tetri_gpuset gpus)
{
    h->view.busy &= ~gpus;
    h->running_blocks--;
    h->running_degree_sum -= tetri_gpuset_count(gpus);
    h->free_slot[h->n_free_slots++] = slot;
}

/* Ends the run now, partially: a stop asked for (SIGINT, SIGTERM) or a backend that cannot go on.
 * Blocks still running are recorded as failed at `now` (the backend abandons them); every request
 * not finished, arrived or not, ends dropped. The results say so (host_result.partial). */
static void end_partial(host *h, tetri_ns now, const char *why)
{
    if (h->partial) return;
    h->partial = true;
    snprintf(h->partial_why, sizeof h->partial_why, "%s", why);
    for (int32_t slot = 0; slot < TETRI_MAX_GPUS; slot++) {
        running_block *rb = &h->run[slot];
        if (rb->rec == SIZE_MAX) continue;
        tetri_block_result *b = &h->blocks[rb->rec];
        b->start = b->pred_start;
        b->end = now > b->start ? now : b->start;
        b->failed = true;
        h->n_failed++;
        const tetri_ns gpu_ns = (b->end - b->start) * tetri_gpuset_count(b->gpus);
        h->gpu_busy_ns += gpu_ns;
        for (int32_t k = 0; k < b->n_req; k++) {
            tetri_request *r = &h->req[b->req[k]];
            h->res[r->id].gpu_ns += gpu_ns / b->n_req + (k == 0 ? gpu_ns % b->n_req : 0);
            r->state = TETRI_REQ_WAITING;
        }
        release_slot(h, slot, b->gpus);
        rb->rec = SIZE_MAX;
    }
    for (int32_t i = 0; i < h->n_pending; i++) {
        tetri_request *r = &h->req[h->pending[i]->id];
        if (r->state == TETRI_REQ_WAITING || r->state == TETRI_REQ_RUNNING) finish_request(h, r, now, TETRI_DROPPED);
    }
    for (size_t i = h->next_arrival; i < h->n; i++) h->req[i].state = TETRI_REQ_DROPPED; /* never arrived: dropped */
    h->next_arrival = h->n;
    h->wake_at = TETRI_NS_NEVER;
    if (now > h->last_event) h->last_event = now;
}

/* A block's end, as the backend reports it. Its requests move on (or, when it failed, go back to
 * waiting with its steps not counted, or are dropped after too many failures). *pred_end gets the
 * block's predicted end. */
static int end_block(host *h, const host_event *ev, tetri_ns *pred_end)
{
    if (ev->slot < 0 || ev->slot >= TETRI_MAX_GPUS || h->run[ev->slot].rec == SIZE_MAX)
        return tetri_errorf(h->err, "backend %s reported block slot %d, which is not running", h->be->ops->name, ev->slot);
    running_block *rb = &h->run[ev->slot];
    tetri_block_result *b = &h->blocks[rb->rec];
    *pred_end = b->pred_end;
    const bool failed = ev->kind == HOST_EVENT_FAILED;
    b->start = ev->start;
    b->end = ev->end;
    b->failed = failed;
    const completion_stamp *f = &rb->follows;
    if (f->end > 0 && ev->start_real_ns > 0 && !failed) {
        if (grow((void **)&h->gap_ns, &h->cap_gap, sizeof *h->gap_ns, h->n_gap + 1, h->err)) return -1;
        h->gap_ns[h->n_gap++] = ev->start_real_ns - f->end;
        if (f->posted > 0 && f->taken > 0) {
            const tetri_ns part[HOST_GAP_PARTS] = {f->posted - f->end, f->taken - f->posted, ev->start_real_ns - f->taken};
            for (int k = 0; k < HOST_GAP_PARTS; k++) {
                if (grow((void **)&h->gap_part_ns[k], &h->cap_gap_part[k], sizeof *h->gap_part_ns[k], h->n_gap_parts + 1, h->err))
                    return -1;
                h->gap_part_ns[k][h->n_gap_parts] = part[k];
            }
            h->n_gap_parts++;
        }
    }
    /* GPU time as run (failed blocks held their GPUs too). A batch shares it; the first member
     * takes the remainder, so the requests' sum is exactly the GPUs' busy time. */
    const tetri_ns gpu_ns = (ev->end - ev->start) * tetri_gpuset_count(b->gpus);
    h->gpu_busy_ns += gpu_ns;
    for (int32_t k = 0; k < b->n_req; k++) {
        tetri_request *r = &h->req[b->req[k]];
        assert(r->state == TETRI_REQ_RUNNING);
        h->res[r->id].gpu_ns += gpu_ns / b->n_req + (k == 0 ? gpu_ns % b->n_req : 0);
        r->state = TETRI_REQ_WAITING;
        if (failed) {
            if (++h->failures[r->id] > h->cfg->max_failures) finish_request(h, r, ev->end, TETRI_DROPPED);
            continue;
        }
        r->steps_done += b->steps;
        assert(r->steps_done <= r->steps_total);
        if (r->steps_done == r->steps_total) finish_request(h, r, ev->end, ev->end <= r->deadline ? TETRI_MET : TETRI_LATE);
    }
    if (failed) h->n_failed++;
    for (tetri_gpuset g = b->gpus; g; g &= g - 1) {
        h->freed[__builtin_ctzll(g)] = (completion_stamp){ev->end_real_ns, ev->posted_real_ns, ev->taken_real_ns};
        h->freed_pass[__builtin_ctzll(g)] = h->pass;
        h->last_end[__builtin_ctzll(g)] = ev->end;
    }
    release_slot(h, ev->slot, b->gpus);
    rb->rec = SIZE_MAX;
    if (failed && ev->fatal) {
        char why[256];
        snprintf(why, sizeof why, "backend %s: %.200s", h->be->ops->name, ev->why);
        end_partial(h, ev->end, why);
    }
    return 0;
}

/* ---- starting blocks ---------------------------------------------------------------------------- */

static double jitter_factor(host *h, double step_cv, int steps)
{
    if (step_cv <= 0) return 1.0;
    double cv = step_cv / sqrt((double)steps);
    double sigma2 = log1p(cv * cv);
    double f = gsl_ran_lognormal(h->rng, -0.5 * sigma2, sqrt(sigma2)); /* mean exactly 1 */
    return f < HOST_JITTER_FLOOR ? HOST_JITTER_FLOOR : f;
}

/* How long the block's GPUs idled before `now`: the shortest over them; -1 when none ran before. */
static tetri_ns idle_before(const host *h, tetri_gpuset gpus, tetri_ns now)
{
    tetri_ns idle = -1;
    for (tetri_gpuset g = gpus; g; g &= g - 1) {
        const tetri_ns end = h->last_end[__builtin_ctzll(g)];
        if (end >= 0 && (idle < 0 || now - end < idle)) idle = now - end > 0 ? now - end : 0;
    }
    return idle;
}

/* The block's cost from profile p (the host's, or its actual one), with the message a user needs
 * when a row is missing. */
static int cost_block(host *h, const tetri_profile *p, const tetri_assignment *a, tetri_block_cost *cost)
{
    const tetri_request *r0 = &h->req[a->req[0]];
    tetri_gpuset prev[TETRI_MAX_BATCH];
    for (int32_t k = 0; k < a->n_req; k++) prev[k] = h->req[a->req[k]].last_gpus;
    tetri_error why;
    if (profile_block_cost(p, r0->model, r0->width, r0->height, a->steps, a->n_req, a->gpus, prev, a->n_req,
                           cost, &why) == 0 && cost->step_ns > 0)
        return 0;
    const int degree = tetri_gpuset_count(a->gpus);
    return tetri_errorf(h->err, "profile %s has no step time for %s %dx%d at degree %d, batch %d, over %s (hardware %s; policy %s, request %d)",
                        profile_path(p), tetri_model_name(r0->model), r0->width, r0->height, degree, a->n_req,
                        tetri_link_name(tetri_cluster_link(h->cluster, a->gpus)), h->cluster->hardware, h->policy.spec, r0->id);
}

/* Records the block, updates the requests' results and the view, and hands it to the backend. */
static int start_block(host *h, const tetri_assignment *a, tetri_ns now)
{
    tetri_block_cost cost, run = {0};
    if (cost_block(h, h->profile, a, &cost) || (h->cfg->actual && cost_block(h, h->cfg->actual, a, &run))) return -1;
    if (!h->cfg->actual) run = cost;
    /* What the block takes as run (the simulator's time, the emulated backend's sleep): its compute
     * drawn with --jitter and sped up after idling (the profile's idle_speedup); the prediction,
     * pred_end, is the profile's alone, as live. */
    tetri_ns compute = run.compute_ns;
    if (h->rng) compute = (tetri_ns)llround((double)compute * jitter_factor(h, run.step_cv, a->steps));
    const tetri_idle_speedup *idle = profile_idle_speedup(h->cfg->actual ? h->cfg->actual : h->profile);
    if (idle->present) compute = tetri_idle_speedup_rule_ns(idle, compute, idle_before(h, a->gpus, now));
    tetri_ns emulate = compute + run.migration_ns + run.prepare_ns;
    assert(emulate > 0);
    const int degree = tetri_gpuset_count(a->gpus);

    if (grow((void **)&h->blocks, &h->cap_rec, sizeof *h->blocks, h->n_rec + 1, h->err)) return -1;
    assert(h->n_free_slots > 0); /* a block holds at least one free GPU */
    const int32_t slot = h->free_slot[--h->n_free_slots];
    tetri_block_result *b = &h->blocks[h->n_rec];
    *b = (tetri_block_result){.seq = (int32_t)h->n_rec, .n_req = a->n_req, .gpus = a->gpus, .steps = a->steps,
                              .pred_start = now, .pred_end = now + cost.total_ns, .start = now, .end = now + emulate,
                              .migration_ns = cost.migration_ns};
    running_block rb = {.rec = h->n_rec++};
    for (tetri_gpuset g = a->gpus; g; g &= g - 1) {
        const int gpu = __builtin_ctzll(g);
        if (h->freed_pass[gpu] == h->pass && h->freed[gpu].end > rb.follows.end) rb.follows = h->freed[gpu];
    }
    h->run[slot] = rb;
    for (int32_t k = 0; k < a->n_req; k++) {
        tetri_request *r = &h->req[a->req[k]];
        tetri_request_result *res = &h->res[r->id];
        b->req[k] = r->id;
        if (res->first_start < 0) res->first_start = now;
        if (r->last_gpus != 0 && tetri_gpuset_count(r->last_gpus) != degree) res->degree_changes++;
        if (r->last_gpus != 0 && r->last_gpus != a->gpus) res->migrations++;
        if (degree > res->max_degree) res->max_degree = degree;
        r->state = TETRI_REQ_RUNNING;
        r->last_gpus = a->gpus;
        r->busy_until = b->pred_end;
    }
    for (tetri_gpuset g = a->gpus; g; g &= g - 1) h->view.gpu_busy_until[__builtin_ctzll(g)] = b->pred_end;
    h->view.busy |= a->gpus;
    h->running_blocks++;
    h->running_degree_sum += degree;
    host_block hb = {.slot = slot, .a = a, .pred_start = now, .pred_ns = cost.total_ns, .emulate_ns = emulate};
    if (h->be->ops->start_block(h->be->self, &hb, h->err))
        return tetri_error_prefix(h->err, "backend %s, block %d", h->be->ops->name, b->seq);
    return 0;
}

/* ---- deciding ----------------------------------------------------------------------------------- */

static int apply_plan(host *h, tetri_ns now)
{
    const tetri_plan *p = &h->plan;
    if (host_plan_check(p, &h->view, h->check_scratch, h->err))
        return tetri_error_prefix(h->err, "policy %s, plan at t=%.9f s", h->policy.spec, (double)now / TETRI_NS_PER_S);
    for (int32_t d = 0; d < p->n_drop; d++) finish_request(h, &h->req[p->drop[d]], now, TETRI_DROPPED);
    for (int32_t a = 0; a < p->n_assign; a++)
        if (start_block(h, &p->assign[a], now)) return -1;
    if (p->wake_at != TETRI_NS_NEVER && p->wake_at <= now) {
        if (h->cfg->check_plans)
            return tetri_errorf(h->err, "policy %s asked to be woken at t=%.9f s, not after now (t=%.9f s)", h->policy.spec,
                                (double)p->wake_at / TETRI_NS_PER_S, (double)now / TETRI_NS_PER_S);
        h->wake_at = TETRI_NS_NEVER; /* it was just called: nothing new would happen */
    } else {
        h->wake_at = p->wake_at;
    }
    return 0;
}

static int decide(host *h, tetri_ns now, bool idle_arrival)
{
    compact_pending(h);
    if (h->n_pending == 0) { /* nothing to schedule: no call, no wake-up */
        h->wake_at = TETRI_NS_NEVER;
        return 0;
    }
    h->view.now = now;
    h->view.requests = h->pending;
    h->view.n_requests = h->n_pending;
    h->view.idle_arrival = idle_arrival;
    const tetri_ns t0 = tetri_monotonic_ns();
    int rc = tetri_policy_decide(&h->policy, &h->view, &h->plan, h->err);
    const tetri_ns t1 = tetri_monotonic_ns();
    if (rc) return tetri_error_prefix(h->err, "policy %s at t=%.9f s", h->policy.spec, (double)now / TETRI_NS_PER_S);
    if (grow((void **)&h->decide_ns, &h->cap_decide, sizeof *h->decide_ns, h->n_decide + 1, h->err)) return -1;
    h->decide_ns[h->n_decide++] = t1 - t0;
    return apply_plan(h, now);
}

/* ---- the loop ----------------------------------------------------------------------------------- */

/* True when a running block was predicted to end within `window` of `pred_end`: in the model it
 * ends at the same instant as the block that predicted end belongs to. O(running blocks). */
static bool ends_together(const host *h, tetri_ns pred_end, tetri_ns window)
{
    for (int32_t slot = 0; slot < TETRI_MAX_GPUS; slot++) {
        if (h->run[slot].rec == SIZE_MAX) continue;
        tetri_ns d = h->blocks[h->run[slot].rec].pred_end - pred_end;
        if (d <= window && d >= -window) return true;
    }
    return false;
}

/* Takes every block end of the instant that began with `first`. The backend's settle window
 * is waited out only while a block predicted to end together with one just taken still runs:
 * blocks the model ends at one instant (started together for the same time) end microseconds
 * apart in real time, and one decision over all of them is the simulator's decision, where one
 * per end would plan with part of the GPUs. An end nobody else shares costs no wait. */
static int take_instant(host *h, const host_event *first, bool *changed, tetri_ns *last_end)
{
    host_event ev = *first;
    const tetri_ns settle = h->be->settle_ns, horizon = first->end + settle;
    while (ev.kind != HOST_EVENT_TIMEOUT) {
        tetri_ns pred_end = TETRI_NS_NEVER;
        if (end_block(h, &ev, &pred_end)) return -1;
        *changed = true;
        if (ev.end > *last_end) *last_end = ev.end;
        if (h->partial) return 0;
        const tetri_ns until = settle > 0 && ends_together(h, pred_end, settle) ? horizon : first->end;
        if (h->be->ops->wait_next(h->be->self, until, &ev, h->err))
            return tetri_error_prefix(h->err, "backend %s", h->be->ops->name);
    }
    return 0;
}

/* The time a pass decides at: the instant it answers (the latest block end it took, or the
 * arrival or wake-up it waited for), not the clock when the host got to it. In the simulator the
 * two are equal. In real time the host's reaction (noticing, deciding, handing over) comes
 * between; deciding as of the event keeps the policy's times (a round's start, a wake-up, a
 * block's predicted start) on the instants the model has, so the reaction is not added to them
 * round after round, and a backend faster than real time can keep it at its real length
 * (exec/emulated.c). Never before the last decision's instant; never after `clock`. */
static tetri_ns decision_instant(const host *h, tetri_ns last_end, tetri_ns clock)
{
    const tetri_ns t = last_end > h->decided_at ? last_end : h->decided_at;
    return t < clock ? t : clock;
}

static int run_loop(host *h)
{
    int64_t idle_wakes = 0;
    for (;;) {
        const tetri_ns t_arrival = h->next_arrival < h->n ? h->arr[h->next_arrival].arrival : TETRI_NS_NEVER;
        const tetri_ns until = t_arrival < h->wake_at ? t_arrival : h->wake_at;
        if (until == TETRI_NS_NEVER && h->running_blocks == 0) break;
        host_event ev;
        if (h->be->ops->wait_next(h->be->self, until, &ev, h->err))
            return tetri_error_prefix(h->err, "backend %s", h->be->ops->name);
        if (sample_until(h, ev.end, false)) return -1;
        h->pass++;
        bool changed = false;
        tetri_ns last_end = ev.kind == HOST_EVENT_TIMEOUT && until < ev.end ? until : ev.end;
        if (take_instant(h, &ev, &changed, &last_end)) return -1;
        if (h->partial) break;
        const tetri_ns clock = h->be->ops->now(h->be->self);
        if (h->cfg->stop && *h->cfg->stop) {
            char why[64];
            snprintf(why, sizeof why, "stopped by signal %d", (int)*h->cfg->stop);
            end_partial(h, clock, why);
            break;
        }
        assert(clock >= h->last_event); /* time never runs backwards */
        h->last_event = clock;
        const tetri_ns now = decision_instant(h, last_end, clock);

        const bool idle_before = h->n_live == 0 && h->view.busy == 0;
        bool arrived = false;
        while (h->next_arrival < h->n && h->arr[h->next_arrival].arrival <= now) {
            arrive(h, h->next_arrival++);
            changed = arrived = true;
        }
        const bool asked = h->wake_at <= now;
        if (asked) h->wake_at = TETRI_NS_NEVER;
        if (!changed && !asked) continue;
        h->decided_at = now;
        if (decide(h, now, idle_before && arrived)) return -1;

        /* Livelock guard: only wake-ups, nothing running or arriving, nothing ever started. */
        if (!changed && h->plan.n_assign == 0 && h->plan.n_drop == 0 && h->running_blocks == 0) {
            if (++idle_wakes > HOST_MAX_IDLE_WAKES)
                return tetri_errorf(h->err, "policy %s woke %d times in a row at t=%.9f s without starting or dropping anything while every GPU was idle (%d requests waiting): a policy bug",
                                    h->policy.spec, HOST_MAX_IDLE_WAKES, (double)now / TETRI_NS_PER_S, h->n_live);
        } else {
            idle_wakes = 0;
        }
    }
    if (h->partial) return sample_until(h, h->last_event, true);
    if (h->n_live > 0) {
        compact_pending(h);
        const tetri_request *r = h->pending[0];
        return tetri_errorf(h->err, "policy %s left %d request(s) waiting with every GPU idle and no wake-up asked for (first: request %d, %s %dx%d, arrived at t=%.9f s, %d of %d steps done): a policy bug",
                            h->policy.spec, h->n_live, r->id, tetri_model_name(r->model), r->width, r->height,
                            (double)r->arrival / TETRI_NS_PER_S, r->steps_done, r->steps_total);
    }
    return sample_until(h, h->last_event, true);
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

/* The 0-based index of the nearest-rank quantile p of n values. */
static size_t nearest_rank(size_t n, double p)
{
    const size_t k = (size_t)ceil(p * (double)n);
    return k ? k - 1 : 0;
}

tetri_ns host_quantile_ns(const tetri_ns *sorted, size_t n, double p)
{
    assert(n > 0);
    return sorted[nearest_rank(n, p)];
}

static int cmp_ns(const void *a, const void *b)
{
    tetri_ns x = *(const tetri_ns *)a, y = *(const tetri_ns *)b;
    return (x > y) - (x < y);
}

static void summarise(host *h, host_result *out)
{
    tetri_run_summary *sum = &out->summary;
    sum->n = (int32_t)h->n;
    for (size_t i = 0; i < h->n; i++) {
        switch (h->res[i].outcome) {
        case TETRI_MET: sum->met++; break;
        case TETRI_LATE: sum->late++; break;
        case TETRI_DROPPED: sum->dropped++; break;
        }
    }
    assert(sum->met + sum->late + sum->dropped == sum->n); /* nothing disappears */
    sum->makespan = h->last_event;
    sum->decide_calls = (int64_t)h->n_decide;
    if (h->n_decide) {
        tetri_ns mx = 0;
        for (size_t i = 0; i < h->n_decide; i++) mx = h->decide_ns[i] > mx ? h->decide_ns[i] : mx;
        sum->decide_max_ns = mx;
        ptrdiff_t n = (ptrdiff_t)h->n_decide;
        sum->decide_p99_ns = select_kth(h->decide_ns, n, (ptrdiff_t)nearest_rank(h->n_decide, 0.99));
        sum->decide_median_ns = select_kth(h->decide_ns, n, (n - 1) / 2);
    }
    if (h->n_gap) qsort(h->gap_ns, h->n_gap, sizeof *h->gap_ns, cmp_ns); /* gap_ns may be NULL */
    for (int k = 0; k < HOST_GAP_PARTS && h->n_gap_parts; k++) qsort(h->gap_part_ns[k], h->n_gap_parts, sizeof *h->gap_part_ns[k], cmp_ns);
}

static int check_arrivals(const host_arrival *a, size_t n, tetri_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const host_arrival *e = &a[i];
        if (i && e->arrival < a[i - 1].arrival)
            return tetri_errorf(err, "trace entry %zu arrives before the entry above it: a trace must be in arrival order", i);
        if (e->steps < 1) return tetri_errorf(err, "trace entry %zu has %d steps", i, e->steps);
        if (e->width < 16 || e->height < 16 || e->width % 16 || e->height % 16)
            return tetri_errorf(err, "trace entry %zu: %dx%d is not a multiple of 16", i, e->width, e->height);
        if (e->arrival < 0) return tetri_errorf(err, "trace entry %zu arrives before time 0", i);
    }
    if (n > (size_t)INT32_MAX / 2) return tetri_errorf(err, "trace of %zu requests is too long", n);
    return 0;
}

/* The policy of cfg (registry name and options, or cfg->policy_ops with options only) for the
 * profile's cluster. Returns 0, or -1 with err. */
static int host_policy_create(tetri_policy *p, const host_config *cfg, tetri_error *err)
{
    const char *spec = cfg->policy_spec ? cfg->policy_spec : "";
    const tetri_cluster *cluster = profile_cluster(cfg->profile);
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

void host_result_free(host_result *r)
{
    if (!r) return;
    free(r->requests);
    free(r->timeline);
    free(r->blocks);
    free(r->gap_ns);
    for (int k = 0; k < HOST_GAP_PARTS; k++) free(r->gap_part_ns[k]);
    memset(r, 0, sizeof *r);
}

static int class_order(const void *a, const void *b)
{
    const tetri_request_class *x = a, *y = b;
    if (x->model != y->model) return x->model < y->model ? -1 : 1;
    if (x->width != y->width) return x->width < y->width ? -1 : 1;
    return (x->height > y->height) - (x->height < y->height);
}

/* view.served: the distinct classes of the arrivals, sorted. A workload has a handful of classes:
 * each arrival is compared with the last class matched, then with every one found, O(n x classes)
 * once per run, and the array holds only the classes. */
static int collect_served(host *h, const host_arrival *arrivals, size_t n)
{
    size_t m = 0, cap = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        const tetri_request_class c = {arrivals[i].model, arrivals[i].width, arrivals[i].height};
        if (m && class_order(&c, &h->served[last]) == 0) continue;
        for (last = 0; last < m && class_order(&c, &h->served[last]) != 0;) last++;
        if (last < m) continue;
        if (grow((void **)&h->served, &cap, sizeof *h->served, m + 1, h->err)) return -1;
        h->served[m++] = c;
    }
    if (m > 1) qsort(h->served, m, sizeof *h->served, class_order);
    h->view.served = h->served;
    h->view.n_served = (int32_t)m;
    return 0;
}

static int host_init(host *h, const host_arrival *arrivals, size_t n)
{
    const host_config *cfg = h->cfg;
    size_t slots = n ? n : 1;
    h->req = calloc(slots, sizeof *h->req);
    h->res = calloc(slots, sizeof *h->res);
    h->failures = calloc(slots, sizeof *h->failures);
    h->pending = calloc(slots, sizeof *h->pending);
    h->drop_buf = calloc(slots, sizeof *h->drop_buf);
    h->check_scratch = calloc(slots, 1);
    if (!h->req || !h->res || !h->failures || !h->pending || !h->drop_buf || !h->check_scratch)
        return tetri_errorf(h->err, "out of memory for %zu requests", n);
    /* Roughly: each request causes an arrival and a completion decision, plus round wake-ups. */
    if (grow((void **)&h->decide_ns, &h->cap_decide, sizeof *h->decide_ns, 2 * n + 64, h->err)) return -1;
    if (grow((void **)&h->blocks, &h->cap_rec, sizeof *h->blocks, n + 64, h->err)) return -1;
    if (cfg->timeline_period > 0 && n) {
        /* The run lasts at least to the last arrival: refuse now a timeline that cannot fit, rather
         * than after the simulation (or an allocation of the whole span). */
        const size_t max = host_timeline_max_samples(n);
        if ((uint64_t)(arrivals[n - 1].arrival / cfg->timeline_period) >= max)
            return timeline_too_long(h, "to the last arrival at", arrivals[n - 1].arrival);
        tetri_ns span = arrivals[n - 1].arrival + 60 * TETRI_NS_PER_S;
        size_t estimate = (size_t)(span / cfg->timeline_period) + 2;
        if (grow((void **)&h->timeline, &h->cap_timeline, sizeof *h->timeline, estimate < max ? estimate : max, h->err))
            return -1;
    }
    if (cfg->jitter) {
        h->rng = gsl_rng_alloc(gsl_rng_mt19937);
        if (!h->rng) return tetri_errorf(h->err, "out of memory for the jitter generator");
        gsl_rng_set(h->rng, (unsigned long)cfg->seed);
    }
    for (size_t i = 0; i < n; i++) {
        const host_arrival *e = &arrivals[i];
        h->req[i] = (tetri_request){.id = (int32_t)i, .model = e->model, .width = e->width, .height = e->height,
                                    .steps_total = e->steps, .arrival = e->arrival, .deadline = e->deadline,
                                    .state = TETRI_REQ_WAITING};
        h->res[i] = (tetri_request_result){.id = (int32_t)i, .model = e->model, .width = e->width, .height = e->height,
                                           .steps = e->steps, .arrival = e->arrival, .deadline = e->deadline,
                                           .first_start = -1, .finish = -1, .outcome = TETRI_DROPPED};
    }
    for (int32_t g = 0; g < TETRI_MAX_GPUS; g++) {
        h->free_slot[g] = TETRI_MAX_GPUS - 1 - g;
        h->run[g].rec = SIZE_MAX;
    }
    h->n_free_slots = TETRI_MAX_GPUS;
    for (int32_t g = 0; g < TETRI_MAX_GPUS; g++) h->last_end[g] = -1;
    h->view.cluster = h->cluster;
    if (collect_served(h, arrivals, n)) return -1;
    h->plan.drop = h->drop_buf;
    return 0;
}

static void host_free(host *h)
{
    tetri_policy_destroy(&h->policy);
    if (h->rng) gsl_rng_free(h->rng);
    free(h->req);
    free(h->res);
    free(h->failures);
    free(h->pending);
    free(h->drop_buf);
    free(h->check_scratch);
    free(h->decide_ns);
    free(h->timeline);
    free(h->blocks);
    free(h->gap_ns);
    free(h->served);
    for (int k = 0; k < HOST_GAP_PARTS; k++) free(h->gap_part_ns[k]);
}

int host_actual_check(const tetri_profile *profile, const tetri_profile *actual, tetri_error *err)
{
    const tetri_cluster *c = profile_cluster(profile), *t = profile_cluster(actual);
    bool same = c->n_gpus == t->n_gpus;
    for (int32_t g = 0; same && g < c->n_gpus; g++) same = c->fast_domain[g] == t->fast_domain[g];
    if (!same)
        return tetri_errorf(err, "actual profile %s (%s: %d GPUs) has other GPUs than profile %s (%s: %d GPUs)", profile_path(actual),
                            t->hardware, t->n_gpus, profile_path(profile), c->hardware, c->n_gpus);
    return 0;
}

int host_run(const host_config *cfg, const host_backend *backend, const host_arrival *arrivals, size_t n,
             host_result *out, tetri_error *err)
{
    const tetri_ns w0 = tetri_monotonic_ns();
    memset(out, 0, sizeof *out);
    assert(cfg && cfg->profile && backend && (arrivals || n == 0));
    if (check_arrivals(arrivals, n, err) || (cfg->actual && host_actual_check(cfg->profile, cfg->actual, err))) return -1;

    host h = {.cfg = cfg, .be = backend, .arr = arrivals, .profile = cfg->profile, .err = err, .n = n,
              .wake_at = TETRI_NS_NEVER};
    h.cluster = profile_cluster(cfg->profile);
    if (host_policy_create(&h.policy, cfg, err)) return -1;
    snprintf(out->policy_spec, sizeof out->policy_spec, "%s", h.policy.spec);

    int rc = -1;
    if (host_init(&h, arrivals, n) || run_loop(&h)) goto done;
    for (size_t i = 0; i < n; i++) /* every request ended exactly once */
        assert(h.req[i].state == TETRI_REQ_DONE || h.req[i].state == TETRI_REQ_DROPPED);
    assert(h.running_blocks == 0);

    summarise(&h, out);
    out->requests = h.res;
    out->n_requests = n;
    h.res = NULL;
    out->timeline = h.timeline;
    out->n_timeline = h.n_timeline;
    h.timeline = NULL;
    out->blocks = h.blocks;
    out->n_blocks = h.n_rec;
    h.blocks = NULL;
    out->gap_ns = h.gap_ns;
    out->n_gap = h.n_gap;
    h.gap_ns = NULL;
    for (int k = 0; k < HOST_GAP_PARTS; k++) out->gap_part_ns[k] = h.gap_part_ns[k], h.gap_part_ns[k] = NULL;
    out->n_gap_parts = h.n_gap_parts;
    out->gpu_busy_ns = h.gpu_busy_ns;
    out->n_failed_blocks = h.n_failed;
    out->partial = h.partial;
    snprintf(out->partial_why, sizeof out->partial_why, "%s", h.partial_why);
    out->summary.wall_s = (double)(tetri_monotonic_ns() - w0) / 1e9;
    rc = 0;
done:
    host_free(&h);
    return rc;
}
