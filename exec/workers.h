/* exec/workers.h: the real-time driver the live backends share: a worker thread per GPU, the
 * run's clock, hand-over and the completion queue. A backend supplies only how a block runs.
 * defines: workers_job, workers_runner, workers_options, workers, workers_open, workers_close,
 *          workers_bind, workers_restart, workers_real_now, workers_cpu_relax.
 *
 * The host calls start_block and wait_next from its thread (host/backend.h). start_block stamps
 * the hand-over and gives the block to the worker of its lowest GPU (the others are held by the
 * host), or, for a runner with every_gpu, to the worker of each of its GPUs (sequence parallelism:
 * every GPU runs its rank); the worker runs it through the runner and posts its end to one
 * completion queue that wait_next takes from (with every_gpu, the last of its workers posts the
 * block's one event). The run's clock is (real - start) x speed: every time the host and the
 * results see is the workload's time; the overhead figures stay in real time.
 *
 * Two runners use it: exec/emulated.c (a block sleeps its profile time, divided by speed) and
 * exec/gpu.c (a block's steps run on the GPU's stream, speed 1). */
#ifndef TETRI_EXEC_WORKERS_H
#define TETRI_EXEC_WORKERS_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "core/plan.h"
#include "host/backend.h"

/* A block as a worker runs it. */
typedef struct workers_job {
    int32_t slot;                /* the host's handle */
    int64_t seq;                 /* start order, 1-based */
    tetri_assignment a;          /* a copy: requests, GPU set, steps */
    tetri_ns start_real;         /* monotonic ns of the hand-over: the block starts then */
    tetri_ns pred_real;          /* the profile's time for it, in real ns (pred_ns / speed) */
    tetri_ns emulate_real;       /* the host's emulate_ns / speed (jittered when jitter is on) */
    /* The host's reaction, real ns: from the instant the block's decision answers (host_block's
     * pred_start) to the hand-over, >= 0. A duration, like spin_after_real. */
    tetri_ns late_real;
    /* How long after start_real its end is looked for, set at the hand-over: emulate_real scaled
     * by how long this GPU's recent blocks ran against theirs (a GPU that runs 3% fast runs every
     * block 3% fast), less a 32nd of the block (the spread around that) or at least
     * WORKERS_SPIN_NS. The host spins for the end from then; a runner that polls its GPU may too.
     * A duration, so a job sent to another process's clock (exec/remote.c) needs only start_real
     * translated. */
    tetri_ns spin_after_real;
    int parts;                   /* workers that run it: 1, or with every_gpu its GPU count */
} workers_job;

/* How a block runs, on its lowest GPU's worker thread (or on each of its GPUs' with every_gpu). */
typedef struct workers_runner {
    const char *name;            /* the results' backend column: "emulated" or "exec" */
    void *ctx;
    /* A block of k GPUs runs on all k workers at once, each calling run with its GPU; its event:
     * DONE when every part is, else FAILED with the lowest failed GPU's why (fatal when any part
     * is), ending at the latest part's end. */
    bool every_gpu;
    /* Optional: once on each worker's thread before the run's clock starts (a GPU's set-up). An
     * error stops workers_open with it. */
    int (*thread_start)(void *ctx, int gpu, tetri_error *err);
    /* Runs job on `gpu` and returns when it has ended: sets ev->kind (DONE, or FAILED with why;
     * fatal when the backend cannot go on) and ev->end_real_ns (monotonic). The driver fills slot
     * and the run-clock times. */
    void (*run)(void *ctx, int gpu, const workers_job *job, host_event *ev);
    /* Optional: once on each worker's thread as it stops. */
    void (*thread_stop)(void *ctx, int gpu);
} workers_runner;

typedef struct workers_options {
    int n_gpus;                  /* workers: the cluster's GPU count */
    double speed;                /* > 0: durations are divided by it (1 for real GPUs) */
    tetri_ns settle_ns;          /* the host's coalescing window, in the run's time */
    /* How long threads spin before what they expect: 0 chooses (50 us where there is a core per
     * thread, else none), < 0 never, > 0 this many ns (tests take the spinning paths with it). */
    tetri_ns spin_ns;
    /* The longest the host's wait_next blocks, in real ns (0: as long as it is asked), so that it
     * sees a stop request (SIGINT) while nothing ends. */
    tetri_ns poll_real_ns;
} workers_options;

typedef struct workers workers;

/* Starts the workers (thread_start on each); the run's clock starts once all are ready. Returns 0,
 * or -1 with err (a bad option, no thread, a thread_start error). `runner` must outlive it. */
int workers_open(const workers_options *opts, const workers_runner *runner, workers **out, tetri_error *err);
/* Stops and joins the workers: waits for a block still running at most `grace_real_ns`, then
 * leaves that thread behind (a GPU that stopped answering). NULL is fine. */
void workers_close(workers *w, tetri_ns grace_real_ns);
/* A new run on the same workers (a GPU backend keeps its models and graphs across the runs of a
 * sweep): the run's clock starts again at 0, block numbers at 1, the completion queue empty. No
 * block may be running. */
void workers_restart(workers *w);
/* Fills `be` to drive `w` from host_run. */
void workers_bind(host_backend *be, workers *w);
/* The monotonic clock the driver uses, in ns. */
tetri_ns workers_real_now(void);
/* One turn of a spin-wait: the pause instruction where there is one, else a yield. */
static inline void workers_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    sched_yield();
#endif
}

#endif
