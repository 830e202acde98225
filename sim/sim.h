/* sim/sim.h: the discrete-event simulator (DESIGN section 4): the host's virtual-clock backend.
 * defines: sim_config, sim_result, sim_backend_init, sim_run, sim_result_free.
 *
 * The serving loop, the request lifecycle and the results are the host's (host/host.h); the
 * simulator gives it a virtual clock and an event heap. A block of q steps of request r at degree
 * k on GPU set G holds G for the host's block time: q x T(r, k, batch) from the profile (+ the
 * migration when G differs from r's last set, + jitter when on). Block ends are a binary heap
 * ordered by (time, insertion): a total order, so runs are exactly reproducible. At one instant
 * the host takes every block end first (so GPUs are free before the decision), then the arrivals
 * due, then the policy's wake-up, and decides once. */
#ifndef TETRI_SIM_SIM_H
#define TETRI_SIM_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "host/host.h"
#include "profiles/profile.h"
#include "results/results.h"
#include "sched/policy.h"
#include "workloads/trace.h"

typedef host_config sim_config;
typedef host_result sim_result;

/* The virtual-clock backend, for host_run. Time starts at 0 and moves only when wait_next jumps
 * to the next block end or to `until`. */
typedef struct sim_backend {
    tetri_ns clock;
    struct sim_event { tetri_ns t; uint64_t seq; int32_t slot; } heap[TETRI_MAX_GPUS];
    int32_t n_heap;
    uint64_t seq;
    tetri_ns start[TETRI_MAX_GPUS];
} sim_backend;
/* Sets `be` to drive `state` (settle window 0: one instant is one nanosecond). */
void sim_backend_init(host_backend *be, sim_backend *state);

/* Runs the trace (in arrival order; request i of the result is trace entry i) under the policy
 * with the virtual clock. Returns 0, or -1 with err (see host_run). Always safe to pass `out` to
 * sim_result_free afterwards. */
int sim_run(const sim_config *cfg, const tetri_trace *trace, sim_result *out, tetri_error *err);
static inline void sim_result_free(sim_result *r) { host_result_free(r); }

/* The trace's entries as the host's arrivals (malloc'd; free with free()). NULL when out of memory
 * (and n > 0). */
host_arrival *sim_arrivals_of(const tetri_trace *trace);

#endif
