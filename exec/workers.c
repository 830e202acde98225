/* exec/workers.c: the real-time driver of the live backends (contract in exec/workers.h).
 *
 * Threads: the host's (the caller of host_run) and one worker per GPU. A worker owns a one-slot
 * mailbox (its mutex and condition variable); the host owns nothing the workers write but the
 * completion queue, a ring of at most one entry per GPU (a GPU runs at most one block, and the
 * host takes every end before it can start another block there), under its own mutex.
 * A block starts when the host hands it over (start_block stamps the time), as a GPU starts what
 * the host enqueued on its stream. Waiting is hybrid, the way low-latency runtimes do it: a thread
 * sleeps (a condition variable) until WORKERS_SPIN_NS before the moment it expects something, then
 * spins on an atomic flag (the host up to WORKERS_OVERDUE_SPIN_NS past an expected end that is late). Where there are cores for it, a worker spins WORKERS_SPIN_NS for its
 * next block before it blocks, and the host spins from WORKERS_SPIN_NS before the earliest
 * expected end, so the path from a block's end to the host's reaction has no thread wake-up in it.
 * On Linux every thread of the run also asks for 1 ns of timer slack (the default is 50 us). */
#include "exec/workers.h"

#include <errno.h>
#include <limits.h>
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

/* The host's spin before an expected end, and a worker's spin for its next block, need a core for
 * every thread that may spin (the host's and one per GPU); with fewer cores a spinning thread
 * would take the core the thread it waits for needs, so those only sleep (spin_ns 0). */
#define WORKERS_SPIN_NS (50 * 1000)
/* The host keeps spinning this long past an expected end that has not come (a GPU block runs a
 * little past its prediction; a condition variable's wake-up would add tens of microseconds to the
 * gap before the next block), then sleeps. */
#define WORKERS_OVERDUE_SPIN_NS (50 * 1000 * 1000)
/* ... and starts spinning this fraction of a block's expected duration before its expected end
 * when that is longer than WORKERS_SPIN_NS. A GPU block ends early too: a GPU's clock can run it 3
 * to 5% faster than the profile for a whole run (docs/validation.md 7.2), which the expected end
 * follows (WORKERS_RATIO_*), and a block that starts on a GPU that idled runs 3 to 4% faster than
 * one that follows another (a 256 or 512 px FLUX block on an H200: docs/validation.md 7.4), which
 * this window covers (a 32nd, 3.1%, did not: those ends made the live gaps' p99 of 7.4, their
 * "report" part). An end that finds the host asleep reaches it through a condition variable's
 * wake-up, 100 to 300 us on the H200 machine. The host's core spins for it: one core, up to a
 * 16th of the time per GPU. */
#define WORKERS_EARLY_SPIN_DIV 16
/* A worker's ratio of its blocks' real to emulated (predicted) durations, in parts per million:
 * a moving average (the last block weighs 1/4), kept within 1/2..2 so one stalled block cannot
 * move the next block's expected end far. */
#define WORKERS_RATIO_ONE 1000000
#define WORKERS_RATIO_MIN (WORKERS_RATIO_ONE / 2)
#define WORKERS_RATIO_MAX (WORKERS_RATIO_ONE * 2)

/* A block run by several workers (every_gpu): its parts' events merged, under workers.mu. */
typedef struct merged_block {
    int parts_left;
    int why_gpu;                       /* the GPU whose failure `ev` carries; INT_MAX: none failed */
    host_event ev;
} merged_block;

typedef struct worker {
    struct workers *w;
    int gpu;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    atomic_bool has_job;               /* set under mu; read without it while spinning */
    bool stop;
    workers_job job;
    _Atomic tetri_ns expected_end;     /* real end of the block it runs; INT64_MAX when idle */
    _Atomic tetri_ns spin_from;        /* when the host starts spinning for that end; INT64_MAX when idle */
    _Atomic int64_t ratio_ppm;         /* WORKERS_RATIO_*: written by the worker before it posts an end */
    atomic_bool exited;                /* its thread has returned (close joins it, else leaves it) */
} worker;

struct workers {
    workers_options opt;
    const workers_runner *runner;
    tetri_ns t0;                       /* real monotonic ns when the run's clock read 0 */
    worker *workers;
    int n_started;
    int n_ready;                       /* workers past thread_start (under mu) */
    int n_start_failed;
    tetri_error start_err;             /* the first thread_start error (under mu) */
    pthread_mutex_t mu;                /* the completion queue */
    pthread_cond_t cv;
    host_event queue[TETRI_MAX_GPUS];
    merged_block merge[TETRI_MAX_GPUS]; /* per lowest GPU of a block run by several workers */
    int q_head;
    atomic_int q_len;                  /* changed under mu; read without it while spinning */
    int64_t n_blocks;
    unsigned long saved_slack;         /* the host thread's timer slack, restored at close */
    tetri_ns spin_ns;                  /* WORKERS_SPIN_NS, or 0 on a machine with too few cores */
};

tetri_ns workers_real_now(void) { return tetri_monotonic_ns(); }

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
static tetri_ns run_of_real(const workers *w, tetri_ns real)
{
    return (tetri_ns)llround((double)(real - w->t0) * w->opt.speed);
}
static tetri_ns real_of_run(const workers *w, tetri_ns run)
{
    return w->t0 + (tetri_ns)llround((double)run / w->opt.speed);
}

/* When a block is expected to end: its emulated duration scaled by its GPU's recent ratio. */
static tetri_ns expected_end_real(const workers_job *job, int64_t ratio_ppm)
{
    return job->start_real + (tetri_ns)((double)job->emulate_real * (double)ratio_ppm / WORKERS_RATIO_ONE);
}

/* Worker k's ratio after a block that ran `real` ns of an emulated `emulated`. */
static void update_ratio(worker *k, tetri_ns real, tetri_ns emulated)
{
    if (emulated <= 0 || real <= 0) return;
    int64_t r = (int64_t)((double)real / (double)emulated * WORKERS_RATIO_ONE);
    r = r < WORKERS_RATIO_MIN ? WORKERS_RATIO_MIN : r > WORKERS_RATIO_MAX ? WORKERS_RATIO_MAX : r;
    const int64_t old = atomic_load(&k->ratio_ppm);
    atomic_store(&k->ratio_ppm, old + (r - old) / 4);
}

static void post(workers *w, const host_event *ev)
{
    pthread_mutex_lock(&w->mu);
    int len = atomic_load(&w->q_len);
    w->queue[(w->q_head + len) % TETRI_MAX_GPUS] = *ev;
    atomic_store(&w->q_len, len + 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* Adds one part's end to block `lead`'s; true when it was the last, with the block's event in *ev. */
static bool merge_part(workers *w, int lead, int gpu, host_event *ev)
{
    pthread_mutex_lock(&w->mu);
    merged_block *m = &w->merge[lead];
    if (ev->kind == HOST_EVENT_FAILED && gpu < m->why_gpu) {
        m->why_gpu = gpu;
        m->ev.kind = HOST_EVENT_FAILED;
        memcpy(m->ev.why, ev->why, sizeof m->ev.why);
    }
    m->ev.fatal |= ev->kind == HOST_EVENT_FAILED && ev->fatal;
    if (ev->end_real_ns > m->ev.end_real_ns) m->ev.end_real_ns = ev->end_real_ns;
    if (ev->gpu_end_real_ns > m->ev.gpu_end_real_ns) m->ev.gpu_end_real_ns = ev->gpu_end_real_ns;
    if (ev->gpu_start_real_ns > 0 && (m->ev.gpu_start_real_ns == 0 || ev->gpu_start_real_ns < m->ev.gpu_start_real_ns))
        m->ev.gpu_start_real_ns = ev->gpu_start_real_ns;
    const bool last = --m->parts_left == 0;
    if (last) *ev = m->ev;
    pthread_mutex_unlock(&w->mu);
    return last;
}

/* The next block of worker k, after spinning spin_ns for it; false when told to stop. */
static bool next_job(worker *k, workers_job *job)
{
    const tetri_ns spin_end = workers_real_now() + k->w->spin_ns;
    while (!atomic_load_explicit(&k->has_job, memory_order_acquire) && workers_real_now() < spin_end) workers_cpu_relax();
    pthread_mutex_lock(&k->mu);
    while (!atomic_load(&k->has_job) && !k->stop) pthread_cond_wait(&k->cv, &k->mu);
    bool got = atomic_load(&k->has_job);
    if (got) {
        *job = k->job;
        atomic_store(&k->has_job, false);
    }
    pthread_mutex_unlock(&k->mu);
    return got;
}

static void *worker_main(void *arg)
{
    worker *k = arg;
    workers *w = k->w;
    const workers_runner *r = w->runner;
    fine_timer_slack();
    tetri_error err = {{0}};
    const int failed = r->thread_start && r->thread_start(r->ctx, k->gpu, &err);
    pthread_mutex_lock(&w->mu); /* ready: the run's clock starts once every worker is */
    w->n_ready++;
    if (failed && w->n_start_failed++ == 0) w->start_err = err;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    workers_job job;
    while (!failed && next_job(k, &job)) {
        host_event ev = {.kind = HOST_EVENT_DONE};
        r->run(r->ctx, k->gpu, &job, &ev);
        if (ev.end_real_ns == 0) ev.end_real_ns = workers_real_now();
        atomic_store(&k->expected_end, INT64_MAX);
        atomic_store(&k->spin_from, INT64_MAX);
        if (ev.kind == HOST_EVENT_DONE) update_ratio(k, ev.end_real_ns - job.start_real, job.emulate_real);
        if (job.parts > 1 && !merge_part(w, __builtin_ctzll(job.a.gpus), k->gpu, &ev)) continue;
        ev.slot = job.slot;
        ev.start_real_ns = job.start_real;
        ev.start = run_of_real(w, ev.gpu_start_real_ns > 0 ? ev.gpu_start_real_ns : job.start_real);
        ev.end = run_of_real(w, ev.gpu_end_real_ns > 0 ? ev.gpu_end_real_ns : ev.end_real_ns);
        if (ev.end < ev.start) ev.end = ev.start;
        ev.posted_real_ns = workers_real_now();
        post(w, &ev);
    }
    if (r->thread_stop) r->thread_stop(r->ctx, k->gpu);
    atomic_store(&k->exited, true);
    return NULL;
}

static tetri_ns workers_now(void *self) { return run_of_real(self, workers_real_now()); }

/* Whether every worker of `gpus` is free to take a block; else err names the first that is not. */
static int check_free(workers *w, tetri_gpuset gpus, tetri_error *err)
{
    for (int g = 0; g < w->opt.n_gpus; g++)
        if (tetri_gpuset_has(gpus, g) && atomic_load(&w->workers[g].has_job))
            return tetri_errorf(err, "GPU %d is given a block before it took the previous one", g);
    return 0;
}

/* Gives `job` to worker g. */
static void hand_over(workers *w, int g, const workers_job *job)
{
    worker *k = &w->workers[g];
    const tetri_ns end = expected_end_real(job, atomic_load(&k->ratio_ppm));
    const tetri_ns early = (end - job->start_real) / WORKERS_EARLY_SPIN_DIV;
    pthread_mutex_lock(&k->mu);
    k->job = *job;
    k->job.spin_after_real = end - (early > WORKERS_SPIN_NS ? early : WORKERS_SPIN_NS) - job->start_real;
    /* Known now, not when the worker wakes: the host spins for this end from spin_from. */
    atomic_store(&k->expected_end, end);
    atomic_store(&k->spin_from, job->start_real + k->job.spin_after_real);
    atomic_store_explicit(&k->has_job, true, memory_order_release);
    pthread_cond_signal(&k->cv);
    pthread_mutex_unlock(&k->mu);
}

static int workers_start_block(void *self, const host_block *b, tetri_error *err)
{
    workers *w = self;
    const int lead = __builtin_ctzll(b->a->gpus), last = 63 - __builtin_clzll(b->a->gpus);
    if (last >= w->opt.n_gpus) return tetri_errorf(err, "GPU %d: the %s cluster has %d", last, w->runner->name, w->opt.n_gpus);
    const double speed = w->opt.speed;
    const tetri_gpuset gpus = w->runner->every_gpu ? b->a->gpus : 1ULL << lead;
    workers_job job = {.slot = b->slot, .seq = w->n_blocks + 1, .a = *b->a, .start_real = workers_real_now(),
                       .pred_real = (tetri_ns)llround((double)b->pred_ns / speed),
                       .emulate_real = (tetri_ns)llround((double)b->emulate_ns / speed), .parts = tetri_gpuset_count(gpus)};
    job.late_real = job.start_real - real_of_run(w, b->pred_start);
    if (job.late_real < 0) job.late_real = 0;
    /* A worker takes its job before it posts the previous end, and the host starts a block only on
     * GPUs whose ends it has taken: a busy mailbox here is a host error, checked before any hand-over. */
    if (check_free(w, gpus, err)) return -1;
    w->n_blocks++;
    if (job.parts > 1) {
        pthread_mutex_lock(&w->mu);
        w->merge[lead] = (merged_block){.parts_left = job.parts, .why_gpu = INT_MAX, .ev = {.kind = HOST_EVENT_DONE}};
        pthread_mutex_unlock(&w->mu);
    }
    for (int g = lead; g <= last; g++)
        if (tetri_gpuset_has(gpus, g)) hand_over(w, g, &job);
    return 0;
}

/* The earliest real time a running block is expected to end, and the earliest time the host is
 * to spin for one (INT64_MAX: none running). */
static tetri_ns earliest_end(const workers *w, tetri_ns *spin_from)
{
    tetri_ns t = INT64_MAX, f = INT64_MAX;
    for (int g = 0; g < w->opt.n_gpus; g++) {
        tetri_ns x = atomic_load(&w->workers[g].expected_end), y = atomic_load(&w->workers[g].spin_from);
        if (x < t) t = x;
        if (y < f) f = y;
    }
    *spin_from = f;
    return t;
}

static int workers_wait_next(void *self, tetri_ns until, host_event *ev, tetri_error *err)
{
    (void)err;
    workers *w = self;
    tetri_ns deadline = until == TETRI_NS_NEVER ? INT64_MAX / 2 : real_of_run(w, until);
    if (w->opt.poll_real_ns > 0 && workers_real_now() + w->opt.poll_real_ns < deadline) deadline = workers_real_now() + w->opt.poll_real_ns;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        if (atomic_load(&w->q_len) > 0) {
            *ev = w->queue[w->q_head];
            ev->taken_real_ns = workers_real_now();
            w->q_head = (w->q_head + 1) % TETRI_MAX_GPUS;
            atomic_fetch_sub(&w->q_len, 1);
            pthread_mutex_unlock(&w->mu);
            return 0;
        }
        const tetri_ns now = workers_real_now();
        if (now >= deadline) break;
        /* Near an expected end (from its spin_from) or within spin_ns of the deadline (an arrival,
         * a wake-up: a round boundary is one): spin without the lock, so either is met on time. */
        tetri_ns spin_from;
        const tetri_ns soon = earliest_end(w, &spin_from), spin = w->spin_ns;
        const tetri_ns overdue = spin > 0 ? WORKERS_OVERDUE_SPIN_NS : 0;
        if (spin > 0 && ((soon != INT64_MAX && now >= spin_from && now < soon + overdue) || now >= deadline - spin)) {
            pthread_mutex_unlock(&w->mu);
            for (tetri_ns t = workers_real_now(); atomic_load(&w->q_len) == 0 && t < deadline &&
                                                 ((soon != INT64_MAX && t < soon + overdue) || t >= deadline - spin);
                 t = workers_real_now())
                workers_cpu_relax();
            pthread_mutex_lock(&w->mu);
            continue;
        }
        /* Else sleep to the next point of interest: spin_ns before the deadline or an end's
         * spin_from still ahead (an overdue end is no such point: its post wakes the condition
         * variable). */
        tetri_ns wake = deadline - spin;
        if (spin > 0 && soon != INT64_MAX && spin_from > now && spin_from < wake) wake = spin_from;
        const struct timespec ts = timespec_of(wake);
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    tetri_ns now = workers_now(w);
    /* The clock then: at or after `until`, or before it when the poll interval ended the wait. */
    *ev = (host_event){.kind = HOST_EVENT_TIMEOUT, .slot = -1, .end = now};
    return 0;
}

static const host_backend_ops workers_ops_emulated = {
    .name = "emulated", .now = workers_now, .start_block = workers_start_block, .wait_next = workers_wait_next};
static const host_backend_ops workers_ops_exec = {
    .name = "exec", .now = workers_now, .start_block = workers_start_block, .wait_next = workers_wait_next};

void workers_bind(host_backend *be, workers *w)
{
    const host_backend_ops *ops = strcmp(w->runner->name, "exec") == 0 ? &workers_ops_exec : &workers_ops_emulated;
    *be = (host_backend){.ops = ops, .self = w, .settle_ns = w->opt.settle_ns};
}

void workers_restart(workers *w)
{
    pthread_mutex_lock(&w->mu);
    atomic_store(&w->q_len, 0);
    w->q_head = 0;
    pthread_mutex_unlock(&w->mu);
    w->n_blocks = 0;
    w->t0 = workers_real_now();
}

void workers_close(workers *w, tetri_ns grace_real_ns)
{
    if (!w) return;
    for (int g = 0; g < w->n_started; g++) {
        worker *k = &w->workers[g];
        pthread_mutex_lock(&k->mu);
        k->stop = true;
        pthread_cond_signal(&k->cv);
        pthread_mutex_unlock(&k->mu);
    }
    /* A worker inside a block that does not end (a GPU that stopped answering) is left behind:
     * detached, its memory kept, since it may still touch it. */
    const tetri_ns give_up = workers_real_now() + grace_real_ns;
    bool left_behind = false;
    for (int g = 0; g < w->n_started; g++) {
        worker *k = &w->workers[g];
        while (!atomic_load(&k->exited) && workers_real_now() < give_up) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&k->exited)) pthread_join(k->thread, NULL);
        else { pthread_detach(k->thread); left_behind = true; }
    }
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, w->saved_slack, 0, 0, 0);
#endif
    if (left_behind) return;
    for (int g = 0; g < w->n_started; g++) {
        pthread_mutex_destroy(&w->workers[g].mu);
        pthread_cond_destroy(&w->workers[g].cv);
    }
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->workers);
    free(w);
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

int workers_open(const workers_options *opts, const workers_runner *runner, workers **out, tetri_error *err)
{
    *out = NULL;
    if (opts->n_gpus < 1 || opts->n_gpus > TETRI_MAX_GPUS)
        return tetri_errorf(err, "the %s backend needs 1 to %d GPUs, not %d", runner->name, TETRI_MAX_GPUS, opts->n_gpus);
    if (!(opts->speed > 0) || !isfinite(opts->speed) || opts->speed > 1e6)
        return tetri_errorf(err, "--speed: %g is not a factor in (0, 1e6]", opts->speed);
    if (opts->settle_ns < 0) return tetri_errorf(err, "--settle-us: a window cannot be negative");
    workers *w = calloc(1, sizeof *w);
    if (!w) return tetri_errorf(err, "out of memory");
    w->opt = *opts;
    w->runner = runner;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    w->spin_ns = opts->spin_ns > 0 ? opts->spin_ns : opts->spin_ns < 0 ? 0 : cores > opts->n_gpus + 1 ? WORKERS_SPIN_NS : 0;
    w->workers = calloc((size_t)opts->n_gpus, sizeof *w->workers);
    if (!w->workers || pthread_mutex_init(&w->mu, NULL) || monotonic_cond_init(&w->cv)) {
        free(w->workers);
        free(w);
        return tetri_errorf(err, "out of memory starting the %s backend", runner->name);
    }
#ifdef __linux__
    w->saved_slack = (unsigned long)prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0);
#endif
    fine_timer_slack();
    for (int g = 0; g < opts->n_gpus; g++) {
        worker *k = &w->workers[g];
        k->w = w;
        k->gpu = g;
        atomic_init(&k->expected_end, INT64_MAX);
        atomic_init(&k->spin_from, INT64_MAX);
        atomic_init(&k->ratio_ppm, WORKERS_RATIO_ONE);
        atomic_init(&k->has_job, false);
        atomic_init(&k->exited, false);
        if (pthread_mutex_init(&k->mu, NULL) || pthread_cond_init(&k->cv, NULL)) break;
        if (pthread_create(&k->thread, NULL, worker_main, k)) {
            pthread_mutex_destroy(&k->mu);
            pthread_cond_destroy(&k->cv);
            break;
        }
        w->n_started++;
    }
    pthread_mutex_lock(&w->mu);
    while (w->n_ready < w->n_started) pthread_cond_wait(&w->cv, &w->mu);
    pthread_mutex_unlock(&w->mu);
    if (w->n_started < opts->n_gpus || w->n_start_failed) {
        const int started = w->n_started;
        if (w->n_start_failed) *err = w->start_err;
        else tetri_errorf(err, "could start only %d of %d worker threads", started, opts->n_gpus);
        workers_close(w, 0);
        return -1;
    }
    w->t0 = workers_real_now();
    *out = w;
    return 0;
}
