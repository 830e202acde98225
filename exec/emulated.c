/* exec/emulated.c: the emulated real-time backend (contract in exec/emulated.h).
 *
 * Threads: the host's (the caller of host_run) and one worker per GPU. A worker owns a one-slot
 * mailbox (its mutex and condition variable); the host owns nothing the workers write but the
 * completion queue, a ring of at most one entry per GPU (a GPU runs at most one block, and the
 * host takes every end before it can start another block there), under its own mutex.
 * Sleeps are absolute (clock_nanosleep TIMER_ABSTIME), and on Linux every thread of the run asks
 * for 1 ns of timer slack: the default 50 us would be a visible share of short blocks at speed 50. */
#include "exec/emulated.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

typedef struct emu_job {
    int32_t slot;
    tetri_ns duration_real;  /* ns of real time */
    bool fail;
} emu_job;

typedef struct emu_worker {
    struct emulated_backend *e;
    int gpu;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool has_job, stop;
    emu_job job;
} emu_worker;

struct emulated_backend {
    emulated_options opt;
    tetri_ns t0;                       /* real monotonic ns when the run's clock read 0 */
    emu_worker *workers;
    int n_started;
    pthread_mutex_t mu;                /* the completion queue */
    pthread_cond_t cv;
    host_event queue[TETRI_MAX_GPUS];
    int q_head, q_len;
    int64_t n_blocks;
    unsigned long saved_slack;         /* the host thread's timer slack, restored at close */
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
    e->queue[(e->q_head + e->q_len++) % TETRI_MAX_GPUS] = *ev;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
}

static void sleep_until_real(tetri_ns real)
{
    struct timespec ts = timespec_of(real);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

static void *worker_main(void *arg)
{
    emu_worker *w = arg;
    emulated_backend *e = w->e;
    fine_timer_slack();
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (!w->has_job && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) {
            pthread_mutex_unlock(&w->mu);
            return NULL;
        }
        emu_job job = w->job;
        w->has_job = false;
        pthread_mutex_unlock(&w->mu);

        const tetri_ns start = real_now();
        sleep_until_real(start + (job.fail ? job.duration_real / 2 : job.duration_real));
        const tetri_ns end = real_now();
        host_event ev = {.kind = job.fail ? HOST_EVENT_FAILED : HOST_EVENT_DONE, .slot = job.slot,
                         .start = run_of_real(e, start), .end = run_of_real(e, end), .start_real_ns = start,
                         .end_real_ns = end};
        if (job.fail) snprintf(ev.why, sizeof ev.why, "injected failure (fail_every=%lld)", (long long)e->opt.fail_every);
        post(e, &ev);
    }
}

static tetri_ns emu_now(void *self) { return run_of_real(self, real_now()); }

static int emu_start_block(void *self, const host_block *b, tetri_error *err)
{
    emulated_backend *e = self;
    const int lead = __builtin_ctzll(b->a->gpus);
    if (lead >= e->opt.n_gpus) return tetri_errorf(err, "GPU %d: the emulated cluster has %d", lead, e->opt.n_gpus);
    emu_worker *w = &e->workers[lead];
    e->n_blocks++;
    emu_job job = {.slot = b->slot, .duration_real = (tetri_ns)llround((double)b->emulate_ns / e->opt.speed),
                   .fail = e->opt.fail_every > 0 && e->n_blocks % e->opt.fail_every == 0};
    pthread_mutex_lock(&w->mu);
    if (w->has_job) {
        pthread_mutex_unlock(&w->mu);
        return tetri_errorf(err, "GPU %d is given a block before it took the previous one", lead);
    }
    w->job = job;
    w->has_job = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return 0;
}

static int emu_wait_next(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    (void)err;
    emulated_backend *e = self;
    const struct timespec deadline = timespec_of(until == TETRI_NS_NEVER ? INT64_MAX / 2 : real_of_run(e, until));
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    while (e->q_len == 0 && rc != ETIMEDOUT) rc = pthread_cond_timedwait(&e->cv, &e->mu, &deadline);
    if (e->q_len > 0) {
        *ev = e->queue[e->q_head];
        e->q_head = (e->q_head + 1) % TETRI_MAX_GPUS;
        e->q_len--;
        pthread_mutex_unlock(&e->mu);
        return 0;
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
        w->gpu = g;
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
    e->t0 = real_now();
    *out = e;
    return 0;
}
