/* exec/emulated.c: the emulated real-time backend (contract in exec/emulated.h).
 *
 * Threads: the host's (the caller of host_run) and one worker per GPU. A worker owns a one-slot
 * mailbox (its mutex and condition variable); the host owns nothing the workers write but the
 * completion queue, a ring of at most one entry per GPU (a GPU runs at most one block, and the
 * host takes every end before it can start another block there), under its own mutex.
 * A block starts when the host hands it over (start_block stamps the time), as a GPU starts what
 * the host enqueued on its stream: the worker sleeps until that stamp plus the block's time,
 * however long it took to wake up itself. Waiting is hybrid, the way low-latency runtimes do it:
 * a thread sleeps (clock_nanosleep TIMER_ABSTIME, or a condition variable) until EMU_SPIN_NS
 * before the moment it expects something, then spins on an atomic flag. A worker sleeps until
 * just before its block's end and spins to it (block times exact to about a microsecond); where
 * there are cores for it, a worker also spins EMU_SPIN_NS for its next block before it blocks,
 * and the host spins from EMU_SPIN_NS before the earliest expected end, so the path from a
 * block's end to the host's reaction has no thread wake-up in it. On Linux every thread of the
 * run also asks for 1 ns of timer slack (the default is 50 us). */
#include "exec/emulated.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/* How long before a block's end its worker stops sleeping and spins to it (always: a few spinning
 * workers cost little, and the block's length is what the emulation is about). The host's spin
 * before an expected end, and a worker's spin for its next block, need a core for every thread
 * that may spin (the host's and one per GPU); with fewer cores a spinning thread would take the
 * core the thread it waits for needs, so those only sleep (spin_ns 0). */
#define EMU_SPIN_NS (50 * 1000)

typedef struct emu_job {
    int32_t slot;
    tetri_ns start_real;     /* when the host handed it over: the block starts then */
    tetri_ns duration_real;  /* ns of real time */
    bool fail;
} emu_job;

typedef struct emu_worker {
    struct emulated_backend *e;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool has_job;               /* set under mu; read without it while spinning */
    bool stop;
    emu_job job;
    _Atomic tetri_ns expected_end;     /* real end of the block it runs; INT64_MAX when idle */
} emu_worker;

struct emulated_backend {
    emulated_options opt;
    tetri_ns t0;                       /* real monotonic ns when the run's clock read 0 */
    emu_worker *workers;
    int n_started;
    int n_ready;                       /* workers waiting for their first block (under mu) */
    pthread_mutex_t mu;                /* the completion queue */
    pthread_cond_t cv;
    host_event queue[TETRI_MAX_GPUS];
    int q_head;
    atomic_int q_len;                  /* changed under mu; read without it while spinning */
    int64_t n_blocks;
    unsigned long saved_slack;         /* the host thread's timer slack, restored at close */
    tetri_ns spin_ns;                  /* EMU_SPIN_NS, or 0 on a machine with too few cores */
};

static tetri_ns real_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (tetri_ns)t.tv_sec * TETRI_NS_PER_S + t.tv_nsec;
}

static struct timespec timespec_of(tetri_ns ns)
{
    return (struct timespec){.tv_sec = ns / TETRI_NS_PER_S, .tv_nsec = ns % TETRI_NS_PER_S};
}

static void fine_timer_slack(void)
{
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
#endif
}

/* Real monotonic ns <-> the run's clock. */
static tetri_ns run_of_real(const emulated_backend *e, tetri_ns real)
{
    return (tetri_ns)llround((double)(real - e->t0) * e->opt.speed);
}
static tetri_ns real_of_run(const emulated_backend *e, tetri_ns run)
{
    return e->t0 + (tetri_ns)llround((double)run / e->opt.speed);
}

static void post(emulated_backend *e, const host_event *ev)
{
    pthread_mutex_lock(&e->mu);
    int len = atomic_load(&e->q_len);
    e->queue[(e->q_head + len) % TETRI_MAX_GPUS] = *ev;
    atomic_store(&e->q_len, len + 1);
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    sched_yield();
#endif
}

/* Sleeps until spin_ns before `real`, then spins to it. */
static void wait_until_real(tetri_ns real, tetri_ns spin_ns)
{
    if (real - real_now() > spin_ns) {
        struct timespec ts = timespec_of(real - spin_ns);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
    }
    while (real_now() < real) cpu_relax();
}

/* The next block of worker w, after spinning spin_ns for it; false when told to stop. */
static bool next_job(emu_worker *w, emu_job *job)
{
    const tetri_ns spin_end = real_now() + w->e->spin_ns;
    while (!atomic_load_explicit(&w->has_job, memory_order_acquire) && real_now() < spin_end) cpu_relax();
    pthread_mutex_lock(&w->mu);
    while (!atomic_load(&w->has_job) && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    bool got = atomic_load(&w->has_job);
    if (got) {
        *job = w->job;
        atomic_store(&w->has_job, false);
    }
    pthread_mutex_unlock(&w->mu);
    return got;
}

static void *worker_main(void *arg)
{
    emu_worker *w = arg;
    emulated_backend *e = w->e;
    fine_timer_slack();
    pthread_mutex_lock(&e->mu); /* ready: the run's clock starts once every worker is */
    e->n_ready++;
    pthread_cond_broadcast(&e->cv);
    pthread_mutex_unlock(&e->mu);
    emu_job job;
    while (next_job(w, &job)) {
        /* The block runs from its hand-over, as a GPU runs what the host enqueued on its stream:
         * the time this thread took to wake is the emulation's, not the host's or a GPU's. */
        const tetri_ns start = job.start_real;
        const tetri_ns until = start + (job.fail ? job.duration_real / 2 : job.duration_real);
        atomic_store(&w->expected_end, until);
        wait_until_real(until, EMU_SPIN_NS); /* always: the block's length is the emulation's accuracy */
        const tetri_ns end = real_now();
        atomic_store(&w->expected_end, INT64_MAX);
        host_event ev = {.kind = job.fail ? HOST_EVENT_FAILED : HOST_EVENT_DONE, .slot = job.slot,
                         .start = run_of_real(e, start), .end = run_of_real(e, end), .start_real_ns = start,
                         .end_real_ns = end};
        if (job.fail) snprintf(ev.why, sizeof ev.why, "injected failure (fail_every=%lld)", (long long)e->opt.fail_every);
        post(e, &ev);
    }
    return NULL;
}

static tetri_ns emu_now(void *self) { return run_of_real(self, real_now()); }

static int emu_start_block(void *self, const host_block *b, tetri_error *err)
{
    emulated_backend *e = self;
    const int lead = __builtin_ctzll(b->a->gpus);
    if (lead >= e->opt.n_gpus) return tetri_errorf(err, "GPU %d: the emulated cluster has %d", lead, e->opt.n_gpus);
    emu_worker *w = &e->workers[lead];
    e->n_blocks++;
    emu_job job = {.slot = b->slot, .start_real = real_now(),
                   .duration_real = (tetri_ns)llround((double)b->emulate_ns / e->opt.speed),
                   .fail = e->opt.fail_every > 0 && e->n_blocks % e->opt.fail_every == 0};
    pthread_mutex_lock(&w->mu);
    if (atomic_load(&w->has_job)) {
        pthread_mutex_unlock(&w->mu);
        return tetri_errorf(err, "GPU %d is given a block before it took the previous one", lead);
    }
    w->job = job;
    /* Known now, not when the worker wakes: the host spins for this end from spin_ns before it. */
    atomic_store(&w->expected_end, job.start_real + job.duration_real);
    atomic_store_explicit(&w->has_job, true, memory_order_release);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

/* The earliest real time a running block is expected to end (INT64_MAX: none running). */
static tetri_ns earliest_end(const emulated_backend *e)
{
    tetri_ns t = INT64_MAX;
    for (int g = 0; g < e->opt.n_gpus; g++) {
        tetri_ns x = atomic_load(&e->workers[g].expected_end);
        if (x < t) t = x;
    }
    return t;
}

static int emu_wait_next(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    (void)err;
    emulated_backend *e = self;
    const tetri_ns deadline = until == TETRI_NS_NEVER ? INT64_MAX / 2 : real_of_run(e, until);
    pthread_mutex_lock(&e->mu);
    for (;;) {
        if (atomic_load(&e->q_len) > 0) {
            *ev = e->queue[e->q_head];
            e->q_head = (e->q_head + 1) % TETRI_MAX_GPUS;
            atomic_fetch_sub(&e->q_len, 1);
            pthread_mutex_unlock(&e->mu);
            return 0;
        }
        const tetri_ns now = real_now();
        if (now >= deadline) break;
        /* Within spin_ns of an expected end or of the deadline (an arrival, a wake-up: a round
         * boundary is one): spin without the lock, so either is met on time. */
        const tetri_ns soon = earliest_end(e), spin = e->spin_ns;
        if (spin > 0 && ((soon != INT64_MAX && now >= soon - spin && now < soon + spin) || now >= deadline - spin)) {
            pthread_mutex_unlock(&e->mu);
            for (tetri_ns t = real_now(); atomic_load(&e->q_len) == 0 && t < deadline &&
                                          ((soon != INT64_MAX && t < soon + spin) || t >= deadline - spin);
                 t = real_now())
                cpu_relax();
            pthread_mutex_lock(&e->mu);
            continue;
        }
        /* Else sleep to the next point of interest: spin_ns before the deadline or before an end
         * still ahead (an overdue end is no such point: its post wakes the condition variable). */
        tetri_ns wake = deadline - spin;
        if (soon != INT64_MAX && soon - spin > now && soon - spin < wake) wake = soon - spin;
        const struct timespec ts = timespec_of(wake);
        pthread_cond_timedwait(&e->cv, &e->mu, &ts);
    }
    pthread_mutex_unlock(&e->mu);
    tetri_ns now = emu_now(e);
    *ev = (host_event){.kind = HOST_EVENT_TIMEOUT, .slot = -1, .end = now > until ? now : until};
    return 0;
}

static const host_backend_ops emulated_ops = {
    .name = "emulated", .now = emu_now, .start_block = emu_start_block, .wait_next = emu_wait_next};

void emulated_bind(host_backend *be, emulated_backend *e)
{
    *be = (host_backend){.ops = &emulated_ops, .self = e, .settle_ns = e->opt.settle_ns};
}

void emulated_close(emulated_backend *e)
{
    if (!e) return;
    for (int g = 0; g < e->n_started; g++) {
        emu_worker *w = &e->workers[g];
        pthread_mutex_lock(&w->mu);
        w->stop = true;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
    }
    for (int g = 0; g < e->n_started; g++) {
        pthread_mutex_destroy(&e->workers[g].mu);
        pthread_cond_destroy(&e->workers[g].cv);
    }
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, e->saved_slack, 0, 0, 0);
#endif
    free(e->workers);
    free(e);
}

/* A condition variable that waits on the monotonic clock (the run's clock never jumps). */
static int monotonic_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr)) return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) || pthread_cond_init(cv, &attr);
    pthread_condattr_destroy(&attr);
    return rc ? -1 : 0;
}

int emulated_open(const emulated_options *opts, emulated_backend **out, tetri_error *err)
{
    *out = NULL;
    if (opts->n_gpus < 1 || opts->n_gpus > TETRI_MAX_GPUS)
        return tetri_errorf(err, "the emulated backend needs 1 to %d GPUs, not %d", TETRI_MAX_GPUS, opts->n_gpus);
    if (!(opts->speed > 0) || !isfinite(opts->speed) || opts->speed > 1e6)
        return tetri_errorf(err, "--speed: %g is not a factor in (0, 1e6]", opts->speed);
    if (opts->settle_ns < 0) return tetri_errorf(err, "--settle-us: a window cannot be negative");
    emulated_backend *e = calloc(1, sizeof *e);
    if (!e) return tetri_errorf(err, "out of memory");
    e->opt = *opts;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    e->spin_ns = opts->spin_ns > 0 ? opts->spin_ns : opts->spin_ns < 0 ? 0 : cores > opts->n_gpus + 1 ? EMU_SPIN_NS : 0;
    e->workers = calloc((size_t)opts->n_gpus, sizeof *e->workers);
    if (!e->workers || pthread_mutex_init(&e->mu, NULL) || monotonic_cond_init(&e->cv)) {
        free(e->workers);
        free(e);
        return tetri_errorf(err, "out of memory starting the emulated backend");
    }
#ifdef __linux__
    e->saved_slack = (unsigned long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
#endif
    fine_timer_slack();
    for (int g = 0; g < opts->n_gpus; g++) {
        emu_worker *w = &e->workers[g];
        w->e = e;
        atomic_init(&w->expected_end, INT64_MAX);
        atomic_init(&w->has_job, false);
        if (pthread_mutex_init(&w->mu, NULL) || pthread_cond_init(&w->cv, NULL)) break;
        if (pthread_create(&w->thread, NULL, worker_main, w)) {
            pthread_mutex_destroy(&w->mu);
            pthread_cond_destroy(&w->cv);
            break;
        }
        e->n_started++;
    }
    if (e->n_started < opts->n_gpus) {
        int started = e->n_started;
        emulated_close(e);
        return tetri_errorf(err, "could start only %d of %d worker threads", started, opts->n_gpus);
    }
    pthread_mutex_lock(&e->mu);
    while (e->n_ready < e->n_started) pthread_cond_wait(&e->cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    e->t0 = real_now();
    *out = e;
    return 0;
}
