/* exec/gpu_sp.c: the GPU backend's sequence parallelism (contract in exec/gpu.h; state shared with
 * exec/gpu.c in exec/gpu_internal.h): peer access and the NCCL communicators at open, each GPU's
 * ranks of the aligned sets captured at start-up, a block of degree k run by its k workers, and
 * requests moved between placements.
 * defines: gpu_sp_open, gpu_sp_thread_start, gpu_sp_thread_stop, gpu_sp_run, gpu_sp_place,
 *          gpu_sp_begin_run, gpu_sp_close, gpu_sp_report.
 *
 * A block of degree k on the aligned set G runs on G's k workers (exec/workers.c, every_gpu). The
 * lead (G's lowest GPU) places its members' slots on G: made at a request's first block, else
 * migrated from its last set by dit_slot_migrate_idle with the modulation table copied (one peer
 * copy of n_steps x mod_total bf16, 3 MB a step for FLUX, is cheaper than recomputing it: a
 * [n_steps, mod_total] GEMM reading the 6.5 GB of modulation weights on each new GPU). Then it
 * releases the other ranks; each binds its rank's slots to its group of (shape, batch), replays the
 * group's graph q times (the graphs' NCCL all-to-alls keep the ranks in step) and waits for its end
 * event under the block's time limit. The last rank to end counts the steps, saves and frees the
 * finished requests. A rank that fails after the release aborts the set's communicators, from a
 * thread of its own (ncclCommAbort frees device memory, which may wait for a GPU that stopped
 * answering), so its peers' collectives stop instead of waiting for their time limit; the run then
 * ends partial, as for one GPU. Ragged sets have no communicator: a block on one is refused. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/gpu_internal.h"
#ifdef HAVE_NCCL
#include "exec/comms.h"
#endif

/* A non-lead rank waits this long for its lead to prepare the block (a few copies and allocations,
 * all enqueued: milliseconds), spinning SP_AWAIT_SPINS turns first. */
#define SP_PREPARE_LIMIT_NS (60 * TETRI_NS_PER_S)
#define SP_AWAIT_SPINS 2000
/* Workers meet before their collective captures; one that never comes (a thread that failed to
 * start) ends the wait after this. */
#define SP_MEET_LIMIT_S 1800

/* ---- NCCL, or its absence ----------------------------------------------------------------------- */

#ifdef HAVE_NCCL
static int comms_open(gpu_backend *g, tetri_error *err)
{
    int max_degree = 1;
    for (int k = 2; k <= DIT_SP_MAX_DEGREE; k *= 2)
        if (g->inv.degrees >> k & 1u) max_degree = k;
    /* across processes: this one's ranks of the world whose id they share */
    const bool across = g->end - g->first < g->opt.n_gpus;
    if (across && !g->opt.nccl_id) return tetri_errorf(err, "sequence parallelism across processes needs the world's NCCL id (remote_nccl_id)");
    const comms_options o = {.n_gpus = g->opt.n_gpus, .first_gpu = g->first, .n_local = across ? g->end - g->first : 0,
                             .devices = g->opt.devices, .max_degree = max_degree, .log = g->opt.log};
    return comms_create(&o, across ? (const ncclUniqueId *)g->opt.nccl_id : NULL, &g->comms, err);
}

static int set_transport(gpu_backend *g, tetri_gpuset set, int gpu, cudaStream_t st, dit_transport **out, tetri_error *err)
{
    return comms_transport(g->comms, set, gpu, st, out, err);
}

typedef struct abort_job {
    struct comms *c;
    tetri_gpuset set;
} abort_job;

static void *abort_main(void *arg)
{
    abort_job *j = arg;
    comms_abort_set(j->c, j->set);
    free(j);
    return NULL;
}

/* Aborts the set's communicators from a detached thread (see the file's opening); here when no
 * thread can be made. */
static void abort_set(gpu_backend *g, tetri_gpuset set)
{
    abort_job *j = malloc(sizeof *j);
    pthread_t t;
    pthread_attr_t attr;
    if (j && pthread_attr_init(&attr) == 0) {
        *j = (abort_job){g->comms, set};
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        const int rc = pthread_create(&t, &attr, abort_main, j);
        pthread_attr_destroy(&attr);
        if (rc == 0) return;
    }
    free(j);
    comms_abort_set(g->comms, set);
}

static void comms_close(gpu_backend *g) { comms_destroy(g->comms); }
#else
static int comms_open(gpu_backend *g, tetri_error *err) { return tetri_errorf(err, "this tetri was built without NCCL"); }
static int set_transport(gpu_backend *g, tetri_gpuset set, int gpu, cudaStream_t st, dit_transport **out, tetri_error *err)
{
    (void)g, (void)set, (void)st, (void)out;
    return tetri_errorf(err, "GPU %d: this tetri was built without NCCL", gpu);
}
static void abort_set(gpu_backend *g, tetri_gpuset set) { (void)g, (void)set; }
static void comms_close(gpu_backend *g) { (void)g; }
#endif

/* ---- open ----------------------------------------------------------------------------------------- */

/* Why degrees above 1 cannot run here (NULL: they can, or none were asked for). */
static const char *why_off(const gpu_backend *g)
{
    if (!g->opt.sp_degrees || g->opt.n_gpus < 2) return NULL;
#ifndef HAVE_NCCL
    return "this tetri was built without NCCL (configure --with-nccl=DIR)";
#endif
    for (int i = g->first; i < g->end; i++)
        for (int j = g->first; j < i; j++)
            if (g->opt.devices[i] == g->opt.devices[j])
                return "the cluster's GPUs share CUDA devices (--devices), and NCCL takes one rank per device";
    return NULL;
}

/* Peer access between every two distinct devices that allow it: migrations and degree-1 moves then
 * copy over NVLink directly rather than through host memory. */
static void enable_peer_access(gpu_backend *g)
{
    int cur = 0;
    cudaGetDevice(&cur);
    for (int i = g->first; i < g->end; i++) /* this process's devices: no peer access to another's */
        for (int j = g->first; j < g->end; j++) {
            const int a = g->opt.devices[i], b = g->opt.devices[j];
            bool seen = a == b;
            for (int x = g->first; x < i && !seen; x++) seen = g->opt.devices[x] == a; /* each device pair once */
            for (int y = g->first; y < j && !seen; y++) seen = g->opt.devices[y] == b;
            int can = 0;
            if (seen) continue;
            g->peer_pairs_possible++;
            if (cudaDeviceCanAccessPeer(&can, a, b) != cudaSuccess || !can || cudaSetDevice(a) != cudaSuccess) continue;
            const cudaError_t e = cudaDeviceEnablePeerAccess(b, 0);
            if (e == cudaSuccess || e == cudaErrorPeerAccessAlreadyEnabled) g->peer_pairs++;
            cudaGetLastError(); /* an already-enabled pair is no error of the next call's */
        }
    cudaSetDevice(cur);
}

int gpu_sp_open(gpu_backend *g, tetri_error *err)
{
    g->start_mu = (pthread_mutex_t)PTHREAD_MUTEX_INITIALIZER;
    g->start_cv = (pthread_cond_t)PTHREAD_COND_INITIALIZER;
    g->sp_off = why_off(g);
    const unsigned wanted = g->opt.n_gpus > 1 && !g->sp_off ? g->opt.sp_degrees : 0;
    for (int s = 0; s < g->n_shapes; s++)
        g->shape_degrees[s] = sp_plan_shape_degrees(&g->L.cfg, g->text_tokens, (g->shape[s].height / 16) * (g->shape[s].width / 16), wanted);
    sp_plan_inventory(g->opt.n_gpus, wanted, g->shape_degrees, g->n_shapes, g->opt.max_batch, &g->inv);
    if (g->end - g->first > 1) enable_peer_access(g);
    if (g->inv.degrees == 1u << 1) return 0; /* degree 1 only: no communicator needed */
    return comms_open(g, err);
}

/* ---- start-up, on each worker's thread ------------------------------------------------------------ */

/* Rank gpu % k of the set of k = 1 << l holding it, for shape s and batch b: a runner and its group. */
static int make_rank(gpu_backend *g, int gpu, int l, int s, int b, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    const gpu_shape *sh = &g->shape[s];
    const int k = 1 << l;
    dit_gpu_step *r = NULL;
    if (dit_gpu_step_create_sp(d->m, b, g->text_tokens, sh->height / 16, sh->width / 16, sh->steps, k, gpu % k, &r, err))
        return tetri_error_prefix(err, "GPU %d: rank %d of degree %d, %dx%d, batch %d", gpu, gpu % k, k, sh->width, sh->height, b);
    d->sp->runner[l][s][b] = r;
    dit_gpu_step_set_attention(r, (dit_attn_backend)g->opt.attention);
    d->sp->bytes[l] += dit_gpu_step_bytes(r);
    if (dit_sp_group_create(&r, 1, d->sp->transport[l], &d->sp->group[l][s][b], err))
        return tetri_error_prefix(err, "GPU %d: the group of degree %d, %dx%d, batch %d", gpu, k, sh->width, sh->height, b);
    return 0;
}

/* Every rank this GPU holds (sp_inventory): transports, runners, groups. Nothing collective. */
static int make_ranks(gpu_backend *g, int gpu, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    if (!(d->sp = calloc(1, sizeof *d->sp))) return tetri_errorf(err, "GPU %d: out of memory", gpu);
    for (int l = 1; l < GPU_SP_LEVELS; l++) {
        const int k = 1 << l;
        if (!(g->inv.gpu_degrees[gpu] >> k & 1u)) continue;
        if (set_transport(g, tetri_gpuset_block(gpu / k * k, k), gpu, dit_gpu_stream(d->m), &d->sp->transport[l], err)) return -1;
        for (int s = 0; s < g->n_shapes; s++)
            for (int b = 1; b <= g->opt.max_batch && (g->shape_degrees[s] >> k & 1u); b++)
                if (make_rank(g, gpu, l, s, b, err)) return -1;
    }
    return 0;
}

static bool start_failed(gpu_backend *g)
{
    pthread_mutex_lock(&g->start_mu);
    const bool failed = g->start_failed;
    pthread_mutex_unlock(&g->start_mu);
    return failed;
}

/* The captures, in the same order on every GPU (level, shape, batch), so that the eager forward
 * each capture starts with meets its peers' in every set's communicator. Stops before the next
 * capture once another GPU's failed (its communicators are being aborted). */
static int capture_ranks(gpu_backend *g, int gpu, tetri_error *err)
{
    gpu_sp_dev *sp = g->dev[gpu].sp;
    for (int l = 1; l < GPU_SP_LEVELS; l++)
        for (int s = 0; s < g->n_shapes; s++)
            for (int b = 1; b <= g->opt.max_batch; b++) {
                if (!sp->group[l][s][b]) continue;
                if (start_failed(g)) return tetri_errorf(err, "GPU %d: captures stopped, since another GPU's failed", gpu);
                if (dit_sp_group_capture(sp->group[l][s][b], err))
                    return tetri_error_prefix(err, "GPU %d: capturing rank %d of degree %d, %dx%d, batch %d", gpu, gpu % (1 << l), 1 << l,
                                              g->shape[s].width, g->shape[s].height, b);
                sp->n_graphs++;
            }
    return 0;
}

/* Every worker arrives here, `rc` its start-up so far; the first failure is kept for gpu_open.
 * Returns 0 when all succeeded, else -1 with err. */
static int meet(gpu_backend *g, int gpu, int rc, tetri_error *err)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += SP_MEET_LIMIT_S;
    pthread_mutex_lock(&g->start_mu);
    if (rc && !g->start_failed) {
        g->start_failed = true;
        snprintf(g->start_why, sizeof g->start_why, "%.255s", err->msg);
    }
    g->start_arrived++;
    pthread_cond_broadcast(&g->start_cv);
    int timed_out = 0;
    while (g->start_arrived < g->end - g->first && !timed_out) timed_out = pthread_cond_timedwait(&g->start_cv, &g->start_mu, &until) != 0;
    const bool failed = g->start_failed || timed_out;
    char why[256];
    snprintf(why, sizeof why, "%s", g->start_failed ? g->start_why : "a GPU's start-up never ended");
    pthread_mutex_unlock(&g->start_mu);
    if (rc) return -1;
    if (failed) return tetri_errorf(err, "GPU %d: sequence-parallel graphs not captured, since %s", gpu, why);
    return 0;
}

int gpu_sp_thread_start(gpu_backend *g, int gpu, int rc, tetri_error *err)
{
    if (!g->comms) return rc;
    if (!rc) rc = make_ranks(g, gpu, err);
    if (meet(g, gpu, rc, err)) return -1;
    if (capture_ranks(g, gpu, err)) {
        pthread_mutex_lock(&g->start_mu);
        const bool first = !g->start_failed;
        if (first) {
            g->start_failed = true;
            snprintf(g->start_why, sizeof g->start_why, "%.255s", err->msg);
        }
        pthread_mutex_unlock(&g->start_mu);
        if (first) {
            /* now, not at gpu_open's end: a peer left in a collective of an aborted communicator may
             * never return, or crash the process */
            if (g->opt.log) {
                fprintf(g->opt.log, "# GPU backend: start-up failed: %s\n", err->msg);
                fflush(g->opt.log);
            }
            /* Its peers may wait in a collective of this capture: each set's communicators aborted,
             * each set from a thread of its own. An abort of a set whose graphs (any GPU's) still
             * exist waits until they are destroyed (NCCL >= 2.26), which only this start-up's end
             * does (gpu_thread_stop): from this thread it would never return, and one set's abort
             * waiting before the next set's would leave that set's kernels spinning. */
            for (int l = 1; l < GPU_SP_LEVELS; l++)
                for (int first_gpu = 0; first_gpu + (1 << l) <= g->opt.n_gpus; first_gpu += 1 << l)
                    abort_set(g, tetri_gpuset_block(first_gpu, 1 << l));
        }
        return -1;
    }
    return 0;
}

void gpu_sp_thread_stop(gpu_backend *g, int gpu)
{
    gpu_sp_dev *sp = g->dev[gpu].sp;
    if (!sp) return;
    for (int l = 1; l < GPU_SP_LEVELS; l++) {
        for (int s = 0; s < g->n_shapes; s++)
            for (int b = 1; b <= g->opt.max_batch; b++) {
                dit_sp_group_destroy(sp->group[l][s][b]); /* its graph, before the communicator it captured */
                dit_gpu_step_destroy(sp->runner[l][s][b]);
            }
        dit_transport_destroy(sp->transport[l]);
    }
    free(sp);
    g->dev[gpu].sp = NULL;
}

/* ---- placing a request's slots ------------------------------------------------------------------ */

/* Bytes and count of one move, for the report at close. */
static void count_move(gpu_backend *g, tetri_gpuset from, tetri_gpuset to, const host_arrival *a)
{
    const dit_config *c = &g->L.cfg;
    const size_t R = (size_t)a->steps;
    const size_t cond = (R + 1) * 4 + 4 + (size_t)c->pooled_dim * 2 + R * (size_t)g->L.mod_total * 2 + 4;
    sp_plan_bytes by;
    sp_plan_migration_bytes(from, to, g->text_tokens, (a->height / 16) * (a->width / 16), (size_t)c->text_dim * 2,
                            (size_t)dit_token_in(c) * 4, cond, &by);
    atomic_fetch_add(&g->n_migrations, 1);
    atomic_fetch_add(&g->migrated_peer, (unsigned long long)by.peer);
    atomic_fetch_add(&g->migrated_local, (unsigned long long)by.local);
}

static void destroy_slots(dit_slot **sl, int n)
{
    for (int r = 0; r < n; r++)
        if (sl[r]) {
            const int cur = gpu_on_device(dit_gpu_device(dit_slot_model(sl[r])));
            dit_slot_destroy(sl[r]);
            cudaSetDevice(cur);
        }
}

int gpu_sp_place(gpu_backend *g, int32_t id, tetri_gpuset set, tetri_error *err)
{
    gpu_req *q = &g->req[id];
    if (q->set == set) return 0;
    const host_arrival *a = &g->arrivals[id];
    const int b = tetri_gpuset_count(set);
    dit_slot *dst[DIT_SP_MAX_DEGREE] = {0};
    int cur = 0, rc = 0;
    /* across processes: a move within this one, or none (the set's other ranks are other processes') */
    if (sp_plan_check_move(id, q->set, set, g->opt.gpus_per_process, err)) return -1;
    cudaGetDevice(&cur);
    for (int r = 0; r < b && !rc; r++) {
        if (!gpu_local(g, sp_plan_gpu_of_rank(set, r))) continue;
        gpu_dev *d = &g->dev[sp_plan_gpu_of_rank(set, r)];
        cudaSetDevice(d->device); /* slots are allocated and filled on their GPU's stream */
        rc = dit_slot_create_sp(d->m, g->text_tokens, a->height / 16, a->width / 16, a->steps, b, r, &dst[r], err);
        if (!rc && !q->set) rc = dit_slot_random_inputs(dst[r], gpu_request_seed(g->seed, id), err);
    }
    /* the old set's last block has ended (the host saw it): the copies need not wait for its streams */
    if (!rc && q->set) rc = dit_slot_migrate_idle(dst, b, q->slot, tetri_gpuset_count(q->set), DIT_MIGRATE_COPY, err);
    cudaSetDevice(cur);
    if (rc) {
        char name[96];
        tetri_gpuset_name(set, name, sizeof name);
        destroy_slots(dst, b);
        return tetri_error_prefix(err, "request %d onto %s", id, name);
    }
    if (q->set) {
        count_move(g, q->set, set, a);
        gpu_free_request(g, id); /* stream-ordered after the copies (dit_slot_migrate) */
    }
    q->set = set;
    memcpy(q->slot, dst, sizeof dst);
    return 0;
}

/* ---- a block of degree > 1 ------------------------------------------------------------------------ */

/* The lead's part before any rank launches: the block checked, its members' slots on its set. */
static int lead_prepare(gpu_backend *g, const workers_job *job, tetri_error *err)
{
    const tetri_assignment *a = &job->a;
    const host_arrival *r0 = &g->arrivals[a->req[0]];
    const int s = gpu_shape_index(g, r0->width, r0->height, r0->steps);
    if (s < 0) return tetri_errorf(err, "no graphs for %dx%d, %d steps", r0->width, r0->height, r0->steps);
    if (sp_plan_check_block(&g->inv, a->gpus, g->shape_degrees[s], a->n_req, g->sp_off, err)) return -1;
    for (int i = 0; i < a->n_req; i++)
        if (gpu_sp_place(g, a->req[i], a->gpus, err)) return -1;
    return 0;
}

/* The block's lead in this process: the lowest of its GPUs here (its set's lowest in one process);
 * the parts of it this process runs. */
static int local_lead(const gpu_backend *g, tetri_gpuset set) { return __builtin_ctzll(gpu_local_set(g, set)); }
static int local_parts(const gpu_backend *g, const workers_job *job)
{
    return gpu_local_set(g, job->a.gpus) == job->a.gpus ? job->parts : tetri_gpuset_count(gpu_local_set(g, job->a.gpus));
}

static void release(gpu_backend *g, const workers_job *job, bool ok)
{
    gpu_sp_block *b = &g->sp_block[local_lead(g, job->a.gpus)];
    atomic_store(&b->parts_left, local_parts(g, job));
    atomic_store(&b->failed, false);
    atomic_store(&b->prepare_ok, ok);
    atomic_store_explicit(&b->prepared_seq, job->seq, memory_order_release);
}

/* A non-lead rank: waits for the lead's release of this block. */
static int await_prepared(gpu_backend *g, int gpu, const workers_job *job, tetri_error *err)
{
    const int lead = local_lead(g, job->a.gpus);
    gpu_sp_block *b = &g->sp_block[lead];
    const tetri_ns limit = workers_real_now() + SP_PREPARE_LIMIT_NS;
    for (int turn = 0; atomic_load_explicit(&b->prepared_seq, memory_order_acquire) != job->seq; turn++) {
        if (workers_real_now() > limit)
            return tetri_errorf(err, "GPU %d: its block's lead, GPU %d, did not prepare it in %d s", gpu, lead,
                                (int)(SP_PREPARE_LIMIT_NS / TETRI_NS_PER_S));
        if (turn < SP_AWAIT_SPINS) {
            workers_cpu_relax();
        } else {
            struct timespec ts = {0, 20 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (!atomic_load(&b->prepare_ok)) return tetri_errorf(err, "GPU %d: not run, since its lead (GPU %d) could not prepare the block", gpu, lead);
    return 0;
}

/* This rank's work, enqueued: its slots bound to its group of the block's shape and batch, q graph
 * replays, the end event (the test aids on the lead). */
static int launch_rank(gpu_backend *g, int gpu, const workers_job *job, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    const tetri_assignment *a = &job->a;
    const int k = tetri_gpuset_count(a->gpus), rank = sp_plan_rank(a->gpus, gpu), l = __builtin_ctz((unsigned)k);
    const host_arrival *r0 = &g->arrivals[a->req[0]];
    const int s = gpu_shape_index(g, r0->width, r0->height, r0->steps);
    dit_sp_group *grp = d->sp && s >= 0 && l < GPU_SP_LEVELS ? d->sp->group[l][s][a->n_req] : NULL;
    if (!grp) return tetri_errorf(err, "GPU %d: no graph of rank %d of degree %d for a batch of %d at %dx%d", gpu, rank, k, a->n_req,
                                  r0->width, r0->height);
    dit_slot *sl[TETRI_MAX_BATCH];
    for (int i = 0; i < a->n_req; i++) sl[i] = g->req[a->req[i]].slot[rank];
    if (rank == 0 && gpu_inject(g, gpu, job, err)) return -1;
    if (dit_sp_group_bind(grp, sl, err) || dit_sp_group_run(grp, a->steps, err))
        return tetri_error_prefix(err, "GPU %d: the block's launch (rank %d of %d)", gpu, rank, k);
    CUDA_TRY(cudaEventRecord(d->ev_end, dit_gpu_stream(d->m)), "recording the block's end");
    return 0;
}

/* After the release: launch, wait, and the last rank to end finishes the block. */
static int run_rank(gpu_backend *g, int gpu, const workers_job *job, tetri_ns *end, tetri_error *err)
{
    gpu_sp_block *b = &g->sp_block[local_lead(g, job->a.gpus)];
    int rc = launch_rank(g, gpu, job, err) || gpu_wait_event(g, gpu, g->dev[gpu].ev_end, job, end, err) ? -1 : 0;
    if (rc) {
        atomic_store(&b->failed, true); /* before the count: the last rank then sees it */
        abort_set(g, job->a.gpus);
    }
    if (atomic_fetch_sub(&b->parts_left, 1) == 1 && !atomic_load(&b->failed) && gpu_finish_block(g, job, NULL, err)) rc = -1;
    return rc;
}

void gpu_sp_run(gpu_backend *g, int gpu, const workers_job *job, host_event *ev)
{
    tetri_error err = {{0}};
    tetri_ns end = 0;
    int rc;
    if (gpu == local_lead(g, job->a.gpus)) {
        rc = lead_prepare(g, job, &err);
        release(g, job, rc == 0);
    } else {
        rc = await_prepared(g, gpu, job, &err);
    }
    if (!rc) rc = run_rank(g, gpu, job, &end, &err);
    if (rc) {
        gpu_block_failed(g, gpu, ev, &err);
        return;
    }
    ev->end_real_ns = end;
}

/* ---- runs, close, report -------------------------------------------------------------------------- */

void gpu_sp_begin_run(gpu_backend *g)
{
    for (int i = 0; i < TETRI_MAX_GPUS; i++) {
        gpu_sp_block *b = &g->sp_block[i];
        atomic_store(&b->prepared_seq, 0);
        atomic_store(&b->prepare_ok, false);
        atomic_store(&b->parts_left, 0);
        atomic_store(&b->failed, false);
    }
}

void gpu_sp_close(gpu_backend *g, bool broken)
{
    const long n = atomic_load(&g->n_migrations);
    if (g->opt.log && n > 0)
        fprintf(g->opt.log, "# GPU backend: %ld request moves between GPU sets: %.1f MiB peer to peer, %.1f MiB within a GPU\n", n,
                (double)atomic_load(&g->migrated_peer) / (1 << 20), (double)atomic_load(&g->migrated_local) / (1 << 20));
    /* with a failed GPU, an abort may still run on a thread of its own: the process ends with _exit */
    if (g->comms && !broken) comms_close(g);
    g->comms = NULL;
}

/* "degree 2 rank 1 of GPUs 0-1 (8 graphs, 1.20 GiB)" for each of gpu's levels, into buf. */
static void rank_list(const gpu_backend *g, int gpu, char *buf, size_t len)
{
    const gpu_sp_dev *sp = g->dev[gpu].sp;
    size_t used = 0;
    buf[0] = 0;
    for (int l = 1; l < GPU_SP_LEVELS && sp && used < len; l++) {
        const int k = 1 << l;
        if (!sp->transport[l]) continue;
        char name[48];
        int n = 0;
        tetri_gpuset_name(tetri_gpuset_block(gpu / k * k, k), name, sizeof name);
        for (int s = 0; s < g->n_shapes; s++)
            for (int b = 1; b <= g->opt.max_batch; b++) n += sp->group[l][s][b] != NULL;
        used += (size_t)snprintf(buf + used, len - used, "%sdegree %d rank %d of %s (%d graphs, %.2f GiB)", used ? ", " : "", k, gpu % k,
                                 name, n, (double)sp->bytes[l] / (1 << 30));
    }
}

void gpu_sp_report(const gpu_backend *g, FILE *out)
{
    if (g->opt.n_gpus < 2) return;
    fprintf(out, "# peer access: %d of %d device pairs (one way each)\n", g->peer_pairs, g->peer_pairs_possible);
    if (g->sp_off) fprintf(out, "# sequence parallelism off: %s\n", g->sp_off);
    if (!g->comms) return;
    int most = 0;
    for (int i = g->first; i < g->end; i++) {
        char list[512];
        rank_list(g, i, list, sizeof list);
        if (list[0]) fprintf(out, "# GPU %d sequence-parallel ranks: %s\n", i, list);
        if (g->inv.sp_graphs[i] > most) most = g->inv.sp_graphs[i];
    }
    fprintf(out, "# sequence parallelism: %d aligned set(s), %d graphs of degree > 1 (at most %d on one GPU) beside %d of degree 1, "
                 "captured at start-up\n", g->inv.sp_sets, g->inv.total_sp_graphs, most, g->inv.total_graphs - g->inv.total_sp_graphs);
}
