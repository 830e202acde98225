/* host/host.h: the serving loop the simulator and the live backends share (DESIGN section 2).
 * defines: host_arrival, host_config, host_result, host_run, host_result_free, HOST_JITTER_FLOOR,
 *          HOST_MAX_IDLE_WAKES, host_gap_part, host_quantile_ns, host_timeline_max_samples, host_actual_check.
 *
 * One request lifecycle, one plan check, one way of applying a plan and of accounting results,
 * whatever runs the blocks. The loop:
 *   1. wait (backend wait_next) for the first of: a block's end, the next arrival, the policy's
 *      wake-up;
 *   2. take every event of that instant (block ends within the backend's settle window, arrivals
 *      and the wake-up due by the clock): ended requests become met or late, arrivals join;
 *   3. when something changed or the policy asked, call decide() once on a read-only view, check
 *      the plan (host/plan_check.c: a broken plan ends the run with the rule it broke), drop what
 *      it drops, and start its blocks, each costed by profile_block_cost: the prediction that every
 *      block record keeps beside what the backend reports.
 * Every request ends met (finished by its deadline), late or dropped, exactly once. A block that
 * fails (the backend says so) gives its requests back as waiting, their steps of that block not
 * counted; a request whose blocks fail more than max_failures times is dropped. A fatal failure
 * (the backend cannot go on) or a stop request ends the run early, partial, every request still
 * accounted for (host_result.partial). A policy that
 * keeps GPUs idle with requests waiting and nothing to wake it is reported as a bug, by name.
 *
 * Jitter (off by default) emulates the profile's variance for the backends that emulate GPUs:
 * the steps of a block are independent draws of the step time (median, CV c), so its compute
 * part is scaled by a lognormal factor of mean 1 and CV c / sqrt(q), from a seeded
 * gsl_rng_mt19937, never below HOST_JITTER_FLOOR; migration is not jittered. */
#ifndef TETRI_HOST_HOST_H
#define TETRI_HOST_HOST_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host/backend.h"
#include "profiles/profile.h"
#include "results/results.h"
#include "sched/policy.h"

/* Smallest jitter factor: a block never runs faster than this fraction of its median time. */
#define HOST_JITTER_FLOOR 0.5
/* Empty wake-ups in a row (nothing running, nothing started or dropped) before a run is stopped
 * as a livelocked policy. */
#define HOST_MAX_IDLE_WAKES 1000000

/* The most timeline samples a run of n requests keeps: HOST_TIMELINE_MIN_CAP, or
 * HOST_TIMELINE_PER_REQUEST per request when that is more. A run that would sample more (a period
 * far below the trace's time scale, or one late arrival far from the rest) ends with an error that
 * names the period, instead of allocating the whole span (one arrival at 1e9 s: 1e9 samples). */
#define HOST_TIMELINE_MIN_CAP 1000000
#define HOST_TIMELINE_PER_REQUEST 1000
static inline size_t host_timeline_max_samples(size_t n_requests)
{
    return n_requests > HOST_TIMELINE_MIN_CAP / HOST_TIMELINE_PER_REQUEST ? n_requests * HOST_TIMELINE_PER_REQUEST
                                                                         : HOST_TIMELINE_MIN_CAP;
}

/* A request, as the host learns of it (a trace entry; id = its index). */
typedef struct host_arrival {
    tetri_model model;
    int32_t width, height, steps;
    tetri_ns arrival, deadline;
} host_arrival;

typedef struct host_config {
    const tetri_profile *profile;
    /* Optional: the profile blocks run by, where `profile` is what the host and the policies
     * predict with (a what-if: the GPU's truth against the model a server holds). It gives the
     * simulator's block times and the emulated backend's (compute, moves, preparation, CV for
     * jitter, idle speed-up); every prediction, and so every decision, stays `profile`'s. Its
     * cluster must have the same GPUs. NULL: `profile` both ways. */
    const tetri_profile *actual;
    const char *policy_spec;        /* "name:key=value,..." */
    /* Optional: run these ops instead of the registry's entry of that name (a policy under
     * development, or a test's deliberately broken one); policy_spec then carries only options. */
    const tetri_policy_ops *policy_ops;
    int jitter;                     /* draw block times from the profile's CV (see above) */
    uint64_t seed;                  /* the jitter's generator */
    int check_plans;                /* strict: a wake-up asked for at or before now is an error too */
    tetri_ns timeline_period;       /* sampling period of the timeline; 0: none */
    int max_failures;               /* failed blocks a request survives; one more and it is dropped */
    /* Optional: when it reads non-zero (a signal's number, set by a handler), the run ends at the
     * next event, partially (see host_result.partial). Live backends wake the host often enough
     * to see it (exec/workers.h, poll_real_ns). */
    const volatile sig_atomic_t *stop;
} host_config;

/* Whether `actual` has profile's GPUs and fast domains (host_config.actual). 0, or -1 with err
 * naming both files. */
int host_actual_check(const tetri_profile *profile, const tetri_profile *actual, tetri_error *err);

/* The nearest-rank quantile p (0 < p <= 1) of sorted[0..n), n > 0: the smallest value with at
 * least p of them at or below it. For host_result's sorted gap arrays. */
tetri_ns host_quantile_ns(const tetri_ns *sorted, size_t n, double p);

/* The parts of the host's overhead (host_result.gap_part_ns). */
typedef enum host_gap_part { HOST_GAP_WORKER, HOST_GAP_REPORT, HOST_GAP_HOST, HOST_GAP_PARTS } host_gap_part;

typedef struct host_result {
    tetri_request_result *requests; /* one per arrival, in id order */
    size_t n_requests;
    tetri_timeline_sample *timeline;
    size_t n_timeline;
    tetri_block_result *blocks;     /* every block started, in start order */
    size_t n_blocks;
    tetri_run_summary summary;
    char policy_spec[TETRI_POLICY_SPEC_MAX]; /* canonical */
    /* Totals for conservation checks: GPU time handed out (sum over blocks of degree x block
     * time; equals the sum of the requests' gpu_ns) and the blocks that failed. */
    tetri_ns gpu_busy_ns;
    int64_t n_failed_blocks;
    /* Host overhead in real time (live backends; 0 in the simulator): for each block started on
     * GPUs that the completion behind that very decision freed, the time from that completion to
     * the block's start, in monotonic ns, sorted ascending. */
    tetri_ns *gap_ns;
    size_t n_gap;
    /* Those gaps in their three parts, each array sorted on its own (n_gap_parts of them: the gaps
     * whose backend stamped host_event.posted_real_ns and taken_real_ns): HOST_GAP_WORKER, from
     * the end to the worker's report of it (its own work on the ended block); HOST_GAP_REPORT,
     * from that report to the host taking it (the host noticing); HOST_GAP_HOST, from there to the
     * block's start (the host's pass: the decision and the hand-over). */
    tetri_ns *gap_part_ns[HOST_GAP_PARTS];
    size_t n_gap_parts;
    /* The run ended early: a stop asked for (host_config.stop) or a fatal backend failure (a GPU
     * error). Every request is still accounted for (those not finished are dropped); blocks still
     * running then are recorded as failed. partial_why says what ended it. */
    bool partial;
    char partial_why[256];
} host_result;

/* Serves `n` requests (in arrival order) with the policy on the backend. Returns 0, or -1 with
 * err (bad policy, a profile row missing, a plan that breaks a rule, a policy that cannot decide
 * or leaves requests waiting with nothing left to wake it, a backend error). Always safe to pass
 * `out` to host_result_free afterwards. */
int host_run(const host_config *cfg, const host_backend *backend, const host_arrival *arrivals, size_t n,
             host_result *out, tetri_error *err);
void host_result_free(host_result *r);

#endif
