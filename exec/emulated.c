/* exec/emulated.c: the emulated real-time backend (contract in exec/emulated.h): the driver of
 * exec/workers.c with a runner that sleeps a block's time.
 *
 * A block runs from its hand-over, as a GPU runs what the host enqueued on its stream: the worker
 * sleeps until that stamp plus the block's time, however long it took to wake up itself (the time
 * the thread took to wake is the emulation's, not the host's or a GPU's). Under --host-time real
 * (scale_host false) the block is moved earlier by (1 - 1/speed) x the host's reaction before the
 * hand-over, so the reaction counts at its real length in the run's time (emu_shift_real). It sleeps
 * (clock_nanosleep TIMER_ABSTIME) until EMU_SPIN_NS before the end and spins to it, always: a few
 * spinning workers cost little, and the block's length is what the emulation is about (exact to
 * about a microsecond). */
#include "exec/emulated.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "exec/workers.h"

#define EMU_SPIN_NS (50 * 1000)

struct emulated_backend {
    emulated_options opt;
    workers_runner runner;
    workers *w;
};

/* Sleeps until EMU_SPIN_NS before `real`, then spins to it. */
static void wait_until_real(tetri_ns real)
{
    if (real - workers_real_now() > EMU_SPIN_NS) {
        const tetri_ns at = real - EMU_SPIN_NS;
        struct timespec ts = {.tv_sec = at / TETRI_NS_PER_S, .tv_nsec = at % TETRI_NS_PER_S};
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
    }
    while (workers_real_now() < real) workers_cpu_relax();
}

/* How much sooner an emulated block begins and ends, real ns, than its hand-over and its sleep
 * say. Run-clock time is (real - start) x speed, so a host reaction of late_real before the
 * hand-over is speed x late_real of the workload's time; unless scale_host, the block is moved
 * (1 - 1/speed) x late_real earlier, which leaves late_real of it: in the run's time the block
 * then begins and ends where it would at speed 1 with this host. */
static tetri_ns emu_shift_real(const emulated_options *o, const workers_job *job)
{
    if (o->scale_host || !(o->speed > 1) || job->late_real <= 0) return 0;
    return job->late_real - (tetri_ns)llround((double)job->late_real / o->speed);
}

static void emu_run(void *ctx, int gpu, const workers_job *job, host_event *ev)
{
    (void)gpu;
    const emulated_options *o = ctx;
    const bool fail = o->fail_every > 0 && job->seq % o->fail_every == 0;
    const tetri_ns shift = emu_shift_real(o, job), start = job->start_real - shift;
    tetri_ns end = start + (fail ? job->emulate_real / 2 : job->emulate_real);
    if (end < job->start_real) end = job->start_real; /* never before the hand-over */
    wait_until_real(end);
    if (shift > 0) ev->gpu_start_real_ns = start;
    /* The emulated GPU ended at `end`, which is the block's end in the run's time; its end is
     * seen now (a thread that woke late: the emulation's delay in telling the host, left out of
     * the workload's times, in the host's overhead figures as before). */
    ev->gpu_end_real_ns = end;
    ev->end_real_ns = workers_real_now();
    if (fail) {
        ev->kind = HOST_EVENT_FAILED;
        snprintf(ev->why, sizeof ev->why, "injected failure (fail_every=%lld)", (long long)o->fail_every);
    }
}

workers_runner emulated_runner(const emulated_options *opts)
{
    return (workers_runner){.name = "emulated", .ctx = (void *)opts, .run = emu_run};
}

int emulated_open(const emulated_options *opts, emulated_backend **out, tetri_error *err)
{
    *out = NULL;
    emulated_backend *e = calloc(1, sizeof *e);
    if (!e) return tetri_errorf(err, "out of memory");
    e->opt = *opts;
    e->runner = emulated_runner(&e->opt);
    const workers_options wo = {.n_gpus = opts->n_gpus, .speed = opts->speed, .settle_ns = opts->settle_ns,
                                .spin_ns = opts->spin_ns, .poll_real_ns = opts->poll_real_ns};
    if (workers_open(&wo, &e->runner, &e->w, err)) {
        free(e);
        return -1;
    }
    *out = e;
    return 0;
}

void emulated_close(emulated_backend *e)
{
    if (!e) return;
    workers_close(e->w, INT64_MAX / 4); /* a sleeping block always ends */
    free(e);
}

void emulated_bind(host_backend *be, emulated_backend *e) { workers_bind(be, e->w); }
