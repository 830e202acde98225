/* exec/remote.c: GPUs of other MPI ranks behind the real-time driver (contract in exec/remote.h).
 *
 * Messages, all on MPI_COMM_WORLD, tagged per cluster GPU so that each thread receives only its own:
 *   TAG_READY          another rank -> 0, once: its runner started ("" ) or why not;
 *   TAG_JOB + g        0 -> owner of g: a block (job_msg), stop, or a run's start (its bytes follow
 *                      on the same tag);
 *   TAG_DONE + g       owner of g -> 0: the block's host_event, its end on rank 0's clock. */
#include "config.h"

#include "exec/remote.h"

#include <errno.h>
#include <mpi.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

enum { TAG_READY = 1, TAG_JOB = 1000, TAG_DONE = 2000 };

/* A proxy polls from this long before its block's expected end (the owner's message follows the
 * end by the transport's latency), every REMOTE_POLL_NS; a serving thread polls for its next job
 * every REMOTE_IDLE_POLL_NS (a late start costs nothing: the owner runs to hand-over + duration). */
#define REMOTE_EARLY_NS (200 * 1000)
#define REMOTE_POLL_NS (10 * 1000)
#define REMOTE_IDLE_POLL_NS (50 * 1000)

enum { MSG_JOB = 0, MSG_STOP = 1, MSG_RUN = 2 };

typedef struct job_msg {
    int32_t stop;                    /* MSG_* */
    int64_t len;                     /* MSG_RUN: the bytes of the message that follows */
    workers_job job;                 /* times on rank 0's monotonic clock */
} job_msg;

/* What rank 0 broadcasts at start-up. */
typedef struct start_msg {
    remote_options opt;
    tetri_ns mono, real;             /* rank 0's clocks, read together */
} start_msg;

static tetri_ns clock_ns(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (tetri_ns)t.tv_sec * TETRI_NS_PER_S + t.tv_nsec;
}

static void sleep_until(tetri_ns mono)
{
    const struct timespec ts = {.tv_sec = mono / TETRI_NS_PER_S, .tv_nsec = mono % TETRI_NS_PER_S};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

/* Polls rq (sleeping poll_ns between tests) from `from` (monotonic) until it completes. */
static void wait_request(MPI_Request *rq, tetri_ns from, tetri_ns poll_ns, MPI_Status *st)
{
    if (from > workers_real_now()) sleep_until(from);
    int done = 0;
    for (MPI_Test(rq, &done, st); !done; MPI_Test(rq, &done, st)) sleep_until(workers_real_now() + poll_ns);
}

static int owner_of(const remote_world *w, int gpu) { return gpu / w->opt.gpus_per_rank; }

int remote_init(int *argc, char ***argv, tetri_error *err)
{
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return tetri_errorf(err, "MPI_Init_thread failed");
    if (provided >= MPI_THREAD_MULTIPLE) return 0;
    MPI_Finalize();
    return tetri_errorf(err, "this MPI provides thread level %d, not MPI_THREAD_MULTIPLE (%d): serving across processes "
                             "sends from every GPU's worker thread; use an MPI built with thread support",
                        provided, MPI_THREAD_MULTIPLE);
}

void remote_finalize(void) { MPI_Finalize(); }

int remote_rank(void)
{
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    return rank;
}

/* FNV-1a over the arguments, each ended by a NUL (so "a b" and "ab" differ). */
static uint64_t args_digest(int argc, char **argv)
{
    uint64_t h = 14695981039346656037ULL;
    for (int i = 1; i < argc; i++)
        for (const char *c = argv[i];; c++) {
            h = (h ^ (unsigned char)*c) * 1099511628211ULL;
            if (!*c) break;
        }
    return h;
}

int remote_check_args(int argc, char **argv, tetri_error *err)
{
    int ranks = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    uint64_t mine = args_digest(argc, argv), *all = malloc((size_t)ranks * sizeof *all);
    if (!all) MPI_Abort(MPI_COMM_WORLD, 1); /* the others wait in the gather */
    MPI_Allgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD);
    int bad = 0;
    for (int r = 1; r < ranks && !bad; r++)
        if (all[r] != all[0]) bad = r;
    free(all);
    if (bad) return tetri_errorf(err, "rank %d was started with other arguments than rank 0's (every rank must run the same command line)", bad);
    return 0;
}

int remote_share(void *bytes, size_t len, int (*make)(void *bytes, void *ctx, tetri_error *err), void *ctx, tetri_error *err)
{
    int rank = 0, ok = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    if (rank == 0) ok = make(bytes, ctx, err) == 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) return rank == 0 ? -1 : tetri_errorf(err, "rank 0 could not make what it shares");
    MPI_Bcast(bytes, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);
    return 0;
}

static int make_start(void *bytes, void *ctx, tetri_error *err)
{
    (void)err;
    start_msg *m = bytes;
    m->opt = *(const remote_options *)ctx;
    m->mono = clock_ns(CLOCK_MONOTONIC);
    m->real = clock_ns(CLOCK_REALTIME);
    return 0;
}

/* Every rank checks the same layout, so every rank gives the same verdict. */
static int check_layout(remote_world *w, tetri_error *err)
{
    remote_options *o = &w->opt;
    if (o->n_gpus < 1 || o->n_gpus > TETRI_MAX_GPUS) return tetri_errorf(err, "a cluster of %d GPUs", o->n_gpus);
    if (o->gpus_per_rank == 0) o->gpus_per_rank = (o->n_gpus + w->ranks - 1) / w->ranks;
    if (o->gpus_per_rank < 1 || (long)o->gpus_per_rank * w->ranks < o->n_gpus || (long)o->gpus_per_rank * (w->ranks - 1) >= o->n_gpus)
        return tetri_errorf(err, "--gpus-per-process %d: %d processes must hold the %d GPUs, each at least one", o->gpus_per_rank,
                            w->ranks, o->n_gpus);
    w->first_gpu = w->rank * o->gpus_per_rank;
    w->n_own = o->n_gpus - w->first_gpu < o->gpus_per_rank ? o->n_gpus - w->first_gpu : o->gpus_per_rank;
    return 0;
}

int remote_start(remote_world *w, const remote_options *opts, const workers_runner *local, tetri_error *err)
{
    memset(w, 0, sizeof *w);
    MPI_Comm_rank(MPI_COMM_WORLD, &w->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &w->ranks);
    w->local = local;
    start_msg m;
    if (remote_share(&m, sizeof m, make_start, (void *)opts, err)) return -1;
    /* Read as soon as the broadcast arrives; the transit time is in neither pair, so not in delta. */
    const tetri_ns mono = clock_ns(CLOCK_MONOTONIC), real = clock_ns(CLOCK_REALTIME);
    w->clock_delta = w->rank == 0 ? 0 : (mono - real) - (m.mono - m.real);
    w->opt = m.opt;
    /* collective too, so every rank leaves remote_start together */
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w->rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_rank(node, &w->node_rank);
        MPI_Comm_free(&node);
    }
    if (w->opt.n_gpus == 0) return 1;
    return check_layout(w, err);
}

/* ---- rank 0 ---------------------------------------------------------------------------------- */

int remote_ready(remote_world *w, tetri_error *err)
{
    int failed = 0;
    for (int r = 1; r < w->ranks; r++) {
        char why[sizeof err->msg];
        MPI_Request rq;
        MPI_Status st;
        MPI_Irecv(why, sizeof why, MPI_CHAR, MPI_ANY_SOURCE, TAG_READY, MPI_COMM_WORLD, &rq);
        wait_request(&rq, 0, REMOTE_IDLE_POLL_NS, &st);
        if (why[0] && !failed++) tetri_errorf(err, "rank %d: %.*s", st.MPI_SOURCE, (int)sizeof why - 16, why);
    }
    return failed ? -1 : 0;
}

static bool own(const remote_world *w, int gpu) { return gpu >= w->first_gpu && gpu < w->first_gpu + w->n_own; }

static int proxy_thread_start(void *ctx, int gpu, tetri_error *err)
{
    remote_world *w = ctx;
    return own(w, gpu) && w->local->thread_start ? w->local->thread_start(w->local->ctx, gpu, err) : 0;
}

static void proxy_thread_stop(void *ctx, int gpu)
{
    remote_world *w = ctx;
    if (own(w, gpu) && w->local->thread_stop) w->local->thread_stop(w->local->ctx, gpu);
}

/* Sends the job to its GPU's owner and waits for the end it sends back. */
static void proxy_run(void *ctx, int gpu, const workers_job *job, host_event *ev)
{
    remote_world *w = ctx;
    if (own(w, gpu)) {
        w->local->run(w->local->ctx, gpu, job, ev);
        return;
    }
    MPI_Request rq;
    MPI_Irecv(ev, sizeof *ev, MPI_BYTE, owner_of(w, gpu), TAG_DONE + gpu, MPI_COMM_WORLD, &rq);
    job_msg m = {.stop = MSG_JOB, .job = *job};
    atomic_fetch_add(&w->sent[gpu], 1);
    MPI_Send(&m, sizeof m, MPI_BYTE, owner_of(w, gpu), TAG_JOB + gpu, MPI_COMM_WORLD);
    wait_request(&rq, job->start_real + job->emulate_real - REMOTE_EARLY_NS, REMOTE_POLL_NS, MPI_STATUS_IGNORE);
}

void remote_bind_runner(remote_world *w)
{
    w->runner = (workers_runner){.name = w->local->name, .ctx = w, .every_gpu = w->local->every_gpu,
                                 .thread_start = proxy_thread_start, .run = proxy_run, .thread_stop = proxy_thread_stop};
}

void remote_begin_run(remote_world *w, const void *bytes, size_t len)
{
    const job_msg m = {.stop = MSG_RUN, .len = (int64_t)len};
    for (int g = w->n_own; g < w->opt.n_gpus; g++) {
        MPI_Send(&m, sizeof m, MPI_BYTE, owner_of(w, g), TAG_JOB + g, MPI_COMM_WORLD);
        MPI_Send(bytes, (int)len, MPI_BYTE, owner_of(w, g), TAG_JOB + g, MPI_COMM_WORLD);
    }
}

void remote_stop(remote_world *w)
{
    const job_msg m = {.stop = MSG_STOP};
    for (int g = w->n_own; g < w->opt.n_gpus; g++)
        MPI_Send(&m, sizeof m, MPI_BYTE, owner_of(w, g), TAG_JOB + g, MPI_COMM_WORLD);
}

/* ---- the other ranks ------------------------------------------------------------------------- */

typedef struct server {
    remote_world *w;
    int gpu;
    pthread_t thread;
    int started, failed;             /* thread_start has returned; with an error (err) */
    tetri_error err;
    bool run_failed;                 /* the run's begin_run failed (run_err): its blocks fail */
    tetri_error run_err;
    pthread_mutex_t *mu;
    pthread_cond_t *cv;
} server;

/* Runs one job on the local runner, its times translated to this rank's clock and back. */
static void serve_job(server *s, workers_job *job, host_event *ev)
{
    const tetri_ns d = s->w->clock_delta;
    *ev = (host_event){.kind = HOST_EVENT_DONE};
    if (s->failed) {
        *ev = (host_event){.kind = HOST_EVENT_FAILED, .fatal = true, .end_real_ns = job->start_real};
        snprintf(ev->why, sizeof ev->why, "GPU %d did not start: %.200s", s->gpu, s->err.msg);
        return;
    }
    if (s->run_failed) {
        *ev = (host_event){.kind = HOST_EVENT_FAILED, .fatal = true, .end_real_ns = job->start_real};
        snprintf(ev->why, sizeof ev->why, "rank %d, GPU %d: the run did not start there: %.200s", s->w->rank, s->gpu, s->run_err.msg);
        return;
    }
    job->start_real += d;
    s->w->local->run(s->w->local->ctx, s->gpu, job, ev);
    if (ev->end_real_ns == 0) ev->end_real_ns = workers_real_now();
    ev->end_real_ns -= d;
    if (ev->gpu_end_real_ns > 0) ev->gpu_end_real_ns -= d;
    if (ev->gpu_start_real_ns > 0) ev->gpu_start_real_ns -= d;
}

/* A run's start: its bytes (sent right after), handed to begin_run. */
static void serve_begin(server *s, size_t len)
{
    void *bytes = malloc(len ? len : 1);
    if (!bytes) MPI_Abort(MPI_COMM_WORLD, 1); /* rank 0 waits for this GPU's blocks */
    MPI_Request rq;
    MPI_Irecv(bytes, (int)len, MPI_BYTE, 0, TAG_JOB + s->gpu, MPI_COMM_WORLD, &rq);
    wait_request(&rq, 0, REMOTE_IDLE_POLL_NS, MPI_STATUS_IGNORE);
    s->run_failed = false;
    if (!s->failed && s->w->begin_run) s->run_failed = s->w->begin_run(s->w->begin_ctx, s->gpu, bytes, len, &s->run_err) != 0;
    free(bytes);
}

static void *server_main(void *arg)
{
    server *s = arg;
    const workers_runner *r = s->w->local;
#ifdef __linux__
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0); /* as the driver's workers: 1 ns, not 50 us */
#endif
    const int failed = r->thread_start && r->thread_start(r->ctx, s->gpu, &s->err);
    pthread_mutex_lock(s->mu);
    s->failed = failed;
    s->started = 1;
    pthread_cond_broadcast(s->cv);
    pthread_mutex_unlock(s->mu);
    /* A GPU that did not start still takes its messages until stop (its blocks fail), so rank 0's
     * sends all match. */
    for (;;) {
        job_msg m;
        MPI_Request rq;
        MPI_Irecv(&m, sizeof m, MPI_BYTE, 0, TAG_JOB + s->gpu, MPI_COMM_WORLD, &rq);
        wait_request(&rq, 0, REMOTE_IDLE_POLL_NS, MPI_STATUS_IGNORE);
        if (m.stop == MSG_STOP) break;
        if (m.stop == MSG_RUN) {
            serve_begin(s, (size_t)m.len);
            continue;
        }
        host_event ev;
        serve_job(s, &m.job, &ev);
        MPI_Send(&ev, sizeof ev, MPI_BYTE, 0, TAG_DONE + s->gpu, MPI_COMM_WORLD);
    }
    if (!failed && r->thread_stop) r->thread_stop(r->ctx, s->gpu);
    return NULL;
}

/* Waits until every server has run thread_start; tells rank 0 the first failure ("" : none). */
static void report_ready(server *sv, int n, pthread_mutex_t *mu, pthread_cond_t *cv, tetri_error *err)
{
    pthread_mutex_lock(mu);
    for (int i = 0; i < n; i++)
        while (!sv[i].started) pthread_cond_wait(cv, mu);
    pthread_mutex_unlock(mu);
    char why[sizeof err->msg] = "";
    for (int i = 0; i < n && !why[0]; i++)
        if (sv[i].failed) snprintf(why, sizeof why, "GPU %d: %.700s", sv[i].gpu, sv[i].err.msg);
    if (why[0]) tetri_errorf(err, "%s", why);
    MPI_Send(why, (int)strlen(why) + 1, MPI_CHAR, 0, TAG_READY, MPI_COMM_WORLD);
}

int remote_serve(remote_world *w, tetri_error *err)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
    server *sv = calloc((size_t)w->n_own, sizeof *sv);
    if (!sv) MPI_Abort(MPI_COMM_WORLD, 1); /* rank 0 waits for this rank's ready */
    int n = 0;
    for (; n < w->n_own; n++) {
        sv[n] = (server){.w = w, .gpu = w->first_gpu + n, .mu = &mu, .cv = &cv};
        if (pthread_create(&sv[n].thread, NULL, server_main, &sv[n])) break;
    }
    if (n < w->n_own) {
        fprintf(stderr, "rank %d: could start only %d of %d threads\n", w->rank, n, w->n_own);
        MPI_Abort(MPI_COMM_WORLD, 1); /* the started ones wait for messages that never come */
    }
    err->msg[0] = '\0';
    report_ready(sv, n, &mu, &cv, err);
    for (int i = 0; i < n; i++) pthread_join(sv[i].thread, NULL);
    free(sv);
    return err->msg[0] ? -1 : 0;
}

#if defined(HAVE_NCCL) && defined(TETRI_HAVE_CUDA)
static int make_nccl_id(void *bytes, void *ctx, tetri_error *err)
{
    (void)ctx;
    return comms_unique_id(bytes, err);
}

int remote_nccl_id(ncclUniqueId *id, tetri_error *err) { return remote_share(id, sizeof *id, make_nccl_id, NULL, err); }
#endif
