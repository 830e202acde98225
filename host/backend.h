/* host/backend.h: what the serving host asks of a backend, in the manner of Redis's ae.c.
 * defines: host_block, host_event_kind, host_event, host_backend_ops, host_backend.
 *
 * The host (host/host.c) owns the requests, the policy and the results; a backend owns time and
 * the GPUs. Three implement this: the simulator's virtual clock over an event heap (sim/sim.c),
 * the emulated real-time backend that "runs" a block by sleeping its time on a worker thread per
 * GPU (exec/emulated.c), and the GPU backend (exec/, next). The host calls, from one thread:
 *   now()                    the run's clock (ns since the run's start; virtual in the simulator);
 *   start_block(block)       start this block now; it must not block for the block's duration;
 *   wait_next(until, event)  the next block that ended or failed, waiting at most until `until`
 *                            (TETRI_NS_NEVER: until one ends); when none ends by then, a TIMEOUT
 *                            event whose `end` is the clock then (>= until).
 * Every block started is reported exactly once, as DONE or FAILED. Arrivals and the policy's
 * wake-ups are the host's: it passes their time as `until`. */
#ifndef TETRI_HOST_BACKEND_H
#define TETRI_HOST_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/plan.h"
#include "core/types.h"

/* A block as the host hands it over; valid only during start_block. */
typedef struct host_block {
    int32_t slot;                   /* the host's handle, echoed in the block's event */
    const tetri_assignment *a;      /* requests, GPU set, steps */
    /* The decision's time: the instant it answers (the block end, arrival or wake-up that woke
     * the host), on the run's clock. In real time the hand-over comes after it by the host's
     * reaction; a backend faster than real time (emulated at --speed S) uses it to keep that
     * reaction at its real length in the run's time instead of S times it. */
    tetri_ns pred_start;
    tetri_ns pred_ns;               /* the profile's time for it (steps x step + migration) */
    /* What a backend that emulates the GPUs (simulator, emulated) takes: pred_ns, or with the
     * host's jitter on, the compute part scaled by a draw from the profile's variance. Drawn by
     * the host in start order, so the simulator and the emulated backend see the same draws. */
    tetri_ns emulate_ns;
} host_block;

typedef enum host_event_kind {
    HOST_EVENT_TIMEOUT = 0,         /* nothing ended by `until`; end = the clock */
    HOST_EVENT_DONE,                /* block `slot` ran from start to end */
    HOST_EVENT_FAILED,              /* block `slot` failed at end (why says how); its steps do not count */
} host_event_kind;

typedef struct host_event {
    host_event_kind kind;
    int32_t slot;
    tetri_ns start, end;            /* as run, on the run's clock */
    tetri_ns end_real_ns;           /* monotonic real time the end was seen (the host's overhead counts
                                     * from it); 0 in the simulator */
    tetri_ns start_real_ns;         /* monotonic real time of the start; 0 in the simulator */
    /* When the block ended, where that was before its end was seen (end_real_ns): an emulated
     * block ends at its time, however late its worker thread woke. 0: at end_real_ns. The run's
     * clock `end` is this; the host's overhead counts from end_real_ns. */
    tetri_ns gpu_end_real_ns;
    /* Where the block began in the run's time, when that is not its hand-over (start_real_ns): an
     * emulated block under --host-time real begins (1 - 1/speed) x the host's reaction before it,
     * so that on the run's clock it starts at its decision's instant plus that reaction at its real
     * length, and runs its whole time. 0: at the hand-over. */
    tetri_ns gpu_start_real_ns;
    /* Where the host's overhead goes (0 where a backend does not say): when the worker reported
     * the end (posted_real_ns, after its own work on it) and when the host took it from the
     * backend (taken_real_ns, set by wait_next). */
    tetri_ns posted_real_ns, taken_real_ns;
    bool fatal;                     /* FAILED only: the backend cannot go on (a GPU error, a GPU that
                                     * stopped answering): the host ends the run, partial */
    char why[256];
} host_event;

typedef struct host_backend_ops {
    const char *name;               /* "sim", "emulated" or "exec": the results' backend column */
    tetri_ns (*now)(void *self);
    int (*start_block)(void *self, const host_block *b, tetri_error *err);
    int (*wait_next)(void *self, tetri_ns until, host_event *ev, tetri_error *err);
} host_backend_ops;

typedef struct host_backend {
    const host_backend_ops *ops;
    void *self;
    /* One decision per instant. After a block ends at t, while a running block predicted to end
     * within settle_ns of the same predicted time still runs, the host waits up to t + settle_ns
     * for it, so blocks the model ends together are decided on together. 0 in the simulator
     * (exactly the same nanosecond); in real time a few milliseconds of workload time
     * (tetri serve --settle-us). An end no other block shares is decided on at once. */
    tetri_ns settle_ns;
} host_backend;

#endif
