/* exec/emulated.h: the emulated real-time backend: everything of live serving but the GPU.
 * defines: EMULATED_DEFAULT_SETTLE_NS, emulated_options, emulated_backend, emulated_open, emulated_close,
 *          emulated_bind, emulated_runner.
 *
 * The driver (a worker thread per GPU, the run's clock, the completion queue) is exec/workers.c;
 * this backend's runner "executes" a block by sleeping its time (the host's emulate_ns: the
 * profile's, jittered when the host's jitter is on), divided by `speed`, so a 10-minute workload
 * runs in seconds at speed 20 and above. The GPU backend (exec/gpu.c) is the same driver with a
 * runner that launches the block's steps on the GPU instead. */
#ifndef TETRI_EXEC_EMULATED_H
#define TETRI_EXEC_EMULATED_H

#include <stdint.h>

#include "core/error.h"
#include "exec/workers.h"
#include "host/backend.h"

/* The settle window tetri serve uses unless told otherwise: 2 ms of workload time (100 us of real
 * time at speed 20), beyond the spread of ends of blocks predicted to end together. */
#define EMULATED_DEFAULT_SETTLE_NS (2 * TETRI_NS_PER_MS)

typedef struct emulated_options {
    int n_gpus;             /* workers: the cluster's GPU count */
    double speed;           /* > 0: every block's duration is divided by it */
    /* false (tetri serve's default): the host's reaction to an event (noticing it, deciding, the
     * hand-over: workers_job.late_real) takes its real length in the run's time, as it would at
     * speed 1 beside GPUs this fast: each block begins and ends (1 - 1/speed) x that reaction
     * earlier than its hand-over and sleep say (host_event.gpu_start_real_ns, gpu_end_real_ns).
     * true: the run's clock scales it too, so the host looks `speed` times slower (a stress test:
     * at speed 20 a 50 us reaction is 1 ms of the workload's time). Equal at speed 1. */
    bool scale_host;
    tetri_ns settle_ns;     /* the host's coalescing window, in the run's time */
    /* Test aid: every fail_every-th block started (1-based; 0: none) fails instead of running,
     * after half its time, so the host's failure rule is exercised. */
    int64_t fail_every;
    /* How long threads spin before what they expect: 0 chooses (50 us where there is a core per
     * thread, else none), < 0 never, > 0 this many ns (tests take the spinning paths with it). */
    tetri_ns spin_ns;
    /* The longest the host waits without looking at its stop flag, real ns (0: unbounded). */
    tetri_ns poll_real_ns;
} emulated_options;

typedef struct emulated_backend emulated_backend;

/* Starts the workers; the run's clock starts now. Returns 0, or -1 with err (bad option, no thread). */
int emulated_open(const emulated_options *opts, emulated_backend **out, tetri_error *err);
/* Stops and joins the workers (any block still running is abandoned). NULL is fine. */
void emulated_close(emulated_backend *e);
/* Fills `be` to drive `e` from host_run. */
void emulated_bind(host_backend *be, emulated_backend *e);
/* The runner alone, for a driver set up elsewhere (exec/remote.h: a process serving some of the
 * cluster's GPUs); reads opts->fail_every, so opts must outlive it. */
workers_runner emulated_runner(const emulated_options *opts);

#endif
