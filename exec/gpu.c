/* exec/gpu.c: the GPU backend (contract in exec/gpu.h).
 *
 * Threads: the host's, and one worker per cluster GPU (exec/workers.c) that owns that GPU's model,
 * runners and CUDA calls; a request's slots are touched by one worker at a time (the host never runs
 * a request in two blocks at once, and its completion queue orders one worker's last use before
 * the next's first; within a block of degree > 1, exec/gpu_sp.c orders its ranks). Blocks of degree
 * > 1, the communicators and moves between degrees are exec/gpu_sp.c's. */
#include "exec/gpu.h"

#include <assert.h>
#include <cuda_runtime.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "dit/dit_gpu.h"
#include "dit/model.h"
#include "dit/safetensors.h"
#include "exec/gpu_internal.h"
#include "exec/sp_plan.h"
#include "exec/workers.h"

/* A worker sleeps in steps of this while its block is far from its predicted end, then spins. */
#define GPU_POLL_SLEEP_NS (100 * 1000)
#define GPU_SPIN_BEFORE_NS (2 * 1000 * 1000)

/* The seed of request id's inputs (latent, text, pooled): splitmix64 of the run's seed and the id. */
uint64_t gpu_request_seed(uint64_t seed, int32_t id)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(id + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

int gpu_shape_index(const gpu_backend *g, int32_t w, int32_t h, int32_t steps)
{
    for (int i = 0; i < g->n_shapes; i++)
        if (g->shape[i].width == w && g->shape[i].height == h && g->shape[i].steps == steps) return i;
    return -1;
}

/* ---- start-up, on each worker's thread -------------------------------------------------------- */

static int capture_runners(gpu_backend *g, int gpu, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    for (int s = 0; s < g->n_shapes; s++)
        for (int b = 1; b <= g->opt.max_batch; b++) {
            const gpu_shape *sh = &g->shape[s];
            dit_gpu_step *r = NULL;
            if (dit_gpu_step_create(d->m, b, g->text_tokens, sh->height / 16, sh->width / 16, sh->steps, &r, err))
                return tetri_error_prefix(err, "GPU %d: the %dx%d runner of batch %d", gpu, sh->width, sh->height, b);
            d->runner[s][b] = r;
            dit_gpu_step_set_attention(r, (dit_attn_backend)g->opt.attention);
            if (dit_gpu_step_capture(r, err))
                return tetri_error_prefix(err, "GPU %d: capturing the %dx%d graph of batch %d", gpu, sh->width, sh->height, b);
            d->runner_bytes += dit_gpu_step_bytes(r);
            d->n_graphs++;
        }
    return 0;
}

int gpu_on_device(int device)
{
    int cur = 0;
    cudaGetDevice(&cur);
    if (cur != device) cudaSetDevice(device);
    return cur;
}

/* The GPU's model, its degree-1 runners and graphs, its events. */
static int start_model(gpu_backend *g, int gpu, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    CUDA_TRY(cudaSetDevice(d->device), "selecting the device");
    struct cudaDeviceProp prop;
    CUDA_TRY(cudaGetDeviceProperties(&prop, d->device), "reading its properties");
    snprintf(d->name, sizeof d->name, "%.95s", prop.name);
    if (dit_gpu_create(&g->L, &d->m, err)) return tetri_error_prefix(err, "GPU %d", gpu);
    if (g->opt.weights_dir ? dit_gpu_load_weights(d->m, g->opt.weights_dir, err) : dit_gpu_init_random(d->m, g->opt.weight_seed, err))
        return tetri_error_prefix(err, "GPU %d: weights", gpu);
    d->weight_bytes = dit_gpu_weight_bytes(d->m);
    if (capture_runners(g, gpu, err)) return -1;
    CUDA_TRY(cudaEventCreate(&d->ev_end), "creating events"); /* timing: the block's steps end at it */
    CUDA_TRY(cudaEventCreate(&d->ev_launch), "creating events");
    CUDA_TRY(cudaEventCreate(&d->ev_steps), "creating events");
    CUDA_TRY(cudaEventCreateWithFlags(&d->ev_moved, cudaEventDisableTiming), "creating events");
    return 0;
}

static int gpu_thread_start(void *ctx, int gpu, tetri_error *err)
{
    gpu_backend *g = ctx;
    gpu_dev *d = &g->dev[gpu];
    const tetri_ns t0 = tetri_monotonic_ns();
    size_t free0 = 0, free1 = 0, total = 0;
    const cudaError_t e = cudaSetDevice(d->device);
    if (e == cudaSuccess) cudaMemGetInfo(&free0, &total);
    int rc = e == cudaSuccess ? start_model(g, gpu, err) : tetri_errorf(err, "GPU %d: selecting the device: %s", gpu, cudaGetErrorString(e));
    /* every worker reaches this, failed or not: the others wait for it before their collective captures */
    if (gpu_sp_thread_start(g, gpu, rc, err)) return -1;
    CUDA_TRY(cudaDeviceSynchronize(), "start-up");
    CUDA_TRY(cudaMemGetInfo(&free1, &total), "reading its memory");
    d->mem_used = free0 > free1 ? free0 - free1 : 0;
    d->startup_s = tetri_seconds_since(t0);
    return 0;
}

static void gpu_thread_stop(void *ctx, int gpu)
{
    gpu_backend *g = ctx;
    gpu_dev *d = &g->dev[gpu];
    if (d->broken) return; /* the process ends with it (gpu_close says so) */
    cudaSetDevice(d->device);
    /* this GPU's slots only: the other workers free theirs at the same time */
    for (size_t i = 0; i < g->n_arrivals; i++)
        for (int r = 0; r < tetri_gpuset_count(g->req[i].set); r++)
            if (g->req[i].slot[r] && sp_plan_rank(g->req[i].set, gpu) == r) {
                dit_slot_destroy(g->req[i].slot[r]);
                g->req[i].slot[r] = NULL;
            }
    gpu_sp_thread_stop(g, gpu); /* its graphs captured communicators: destroyed before them (gpu_sp_close) */
    for (int s = 0; s < g->n_shapes; s++)
        for (int b = 1; b <= g->opt.max_batch; b++) dit_gpu_step_destroy(d->runner[s][b]);
    if (d->ev_end) cudaEventDestroy(d->ev_end);
    if (d->ev_launch) cudaEventDestroy(d->ev_launch);
    if (d->ev_steps) cudaEventDestroy(d->ev_steps);
    if (d->ev_moved) cudaEventDestroy(d->ev_moved);
    dit_gpu_destroy(d->m);
    d->m = NULL;
}

/* ---- a block ------------------------------------------------------------------------------------ */

/* The slot of request id on `gpu` for a block of degree 1: made at its first block (its seeded
 * inputs and conditioning enqueued ahead of the block's steps), moved here from the GPU of its last
 * block of degree 1 (its latent and step; the conditioning made here again), or gathered from the
 * GPUs of its last block of degree > 1 (exec/gpu_sp.c). */
static int slot_here(gpu_backend *g, int gpu, int32_t id, dit_slot **out, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    const host_arrival *a = &g->arrivals[id];
    gpu_req *q = &g->req[id];
    const tetri_gpuset here = 1ULL << gpu;
    if (sp_plan_check_move(id, q->set, here, g->opt.gpus_per_process, err)) return tetri_error_prefix(err, "GPU %d", gpu);
    if (q->set != here && tetri_gpuset_count(q->set) > 1 && gpu_sp_place(g, id, here, err)) return -1;
    if (q->set == here) { *out = q->slot[0]; return 0; }
    dit_slot *old = q->slot[0], *sl = NULL;
    if (dit_slot_create(d->m, g->text_tokens, a->height / 16, a->width / 16, a->steps, &sl, err) ||
        dit_slot_random_inputs(sl, gpu_request_seed(g->seed, id), err)) {
        dit_slot_destroy(sl);
        return tetri_error_prefix(err, "GPU %d: request %d's state", gpu, id);
    }
    if (old) {
        /* The old GPU frees the old slot only after this GPU's copy has read it. */
        const gpu_dev *from = &g->dev[__builtin_ctzll(q->set)];
        if (dit_slot_copy_state(sl, old, err)) { dit_slot_destroy(sl); return tetri_error_prefix(err, "GPU %d: moving request %d", gpu, id); }
        CUDA_TRY(cudaEventRecord(d->ev_moved, dit_gpu_stream(d->m)), "moving a request");
        CUDA_TRY(cudaStreamWaitEvent(dit_gpu_stream(from->m), d->ev_moved, 0), "moving a request");
        /* freed on its own GPU's stream with that GPU current, as gpu_free_request does (its error is
         * not checked: a refused cross-device free would leak the slot unseen) */
        cudaSetDevice(from->device);
        dit_slot_destroy(old);
        CUDA_TRY(cudaSetDevice(d->device), "moving a request");
    }
    *q = (gpu_req){.set = here, .slot = {sl}};
    *out = sl;
    return 0;
}

/* Writes request id's final latent to DIR/request-ID.safetensors ([1, H/16, W/16, C p^2] float),
 * each rank's rows read from its GPU. */
static int save_latent(gpu_backend *g, int32_t id, tetri_error *err)
{
    const host_arrival *a = &g->arrivals[id];
    const gpu_req *q = &g->req[id];
    const int gh = a->height / 16, gw = a->width / 16, C = dit_token_in(&g->L.cfg);
    float *lat = malloc((size_t)gh * gw * C * 4);
    if (!lat) return tetri_errorf(err, "out of memory");
    char path[4096], seed[32], steps[16];
    snprintf(path, sizeof path, "%s/request-%d.safetensors", g->opt.save_latents_dir, id);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)gpu_request_seed(g->seed, id));
    snprintf(steps, sizeof steps, "%d", a->steps);
    st_out_tensor t = {.name = "latent", .dtype = ST_F32, .ndim = 4, .shape = {1, gh, gw, C}, .data = lat};
    const char *meta[] = {"producer", "tetri serve --backend gpu", "input_seed", seed, "steps", steps,
                          "layout", "packed tokens (c, py, px)"};
    int rc = 0, n0 = gh * gw, n1 = 0;
    for (int r = 0; r < tetri_gpuset_count(q->set) && !rc; r++) {
        if (!q->slot[r]) continue; /* another process's rank */
        dit_sp_shard sh;
        dit_slot_shard(q->slot[r], &sh);
        const int cur = gpu_on_device(dit_gpu_device(dit_slot_model(q->slot[r])));
        rc = dit_slot_read_latent(q->slot[r], lat + (size_t)sh.n0 * C, err);
        cudaSetDevice(cur);
        if (sh.n0 < n0) n0 = sh.n0;
        if (sh.n0 + sh.nn > n1) n1 = sh.n0 + sh.nn;
    }
    /* A set across processes: each writes its rows, request-ID.rows-N0.safetensors ([1, rows, C p^2]
     * of the packed tokens from N0; the test joins them in N0's order). */
    char rows[16];
    const char *pmeta[] = {"producer", "tetri serve --backend gpu", "input_seed", seed, "steps", steps,
                           "layout", "packed tokens (c, py, px)", "first_row", rows};
    if (!rc && gpu_local_set(g, q->set) != q->set) {
        snprintf(path, sizeof path, "%s/request-%d.rows-%d.safetensors", g->opt.save_latents_dir, id, n0);
        snprintf(rows, sizeof rows, "%d", n0);
        t = (st_out_tensor){.name = "latent", .dtype = ST_F32, .ndim = 3, .shape = {1, n1 - n0, C}, .data = lat + (size_t)n0 * C};
        rc = st_write(path, &t, 1, pmeta, 5, err);
    } else if (!rc) {
        rc = st_write(path, &t, 1, meta, 4, err);
    }
    free(lat);
    return rc;
}

void gpu_block_failed(gpu_backend *g, int gpu, host_event *ev, const tetri_error *err)
{
    g->dev[gpu].broken = true;
    ev->kind = HOST_EVENT_FAILED;
    ev->fatal = true;
    snprintf(ev->why, sizeof ev->why, "%.255s", err->msg);
    ev->end_real_ns = workers_real_now();
}

int gpu_inject(gpu_backend *g, int gpu, const workers_job *job, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    if (g->opt.inject_error_at == job->seq) { /* a real CUDA error: a copy from an address no allocation holds */
        int sink = 0;
        CUDA_TRY(cudaMemcpyAsync(&sink, (const void *)16, sizeof sink, cudaMemcpyDeviceToHost, dit_gpu_stream(d->m)),
                 "the block's launch (injected)");
        CUDA_TRY(cudaStreamSynchronize(dit_gpu_stream(d->m)), "the block's launch (injected)");
    }
    if (g->opt.inject_hang_at == job->seq && dit_gpu_hold(d->m, 3600 * TETRI_NS_PER_S, err)) return -1;
    return 0;
}

/* The block's work, enqueued: its members' slots bound to the runner of its shape and batch, its
 * steps, the end event; the injected failures of the tests. */
static int launch_block(gpu_backend *g, int gpu, const workers_job *job, bool *first, tetri_error *err)
{
    gpu_dev *d = &g->dev[gpu];
    const tetri_assignment *a = &job->a;
    const host_arrival *r0 = &g->arrivals[a->req[0]];
    const int s = gpu_shape_index(g, r0->width, r0->height, r0->steps);
    if (s < 0 || a->n_req > g->opt.max_batch || !d->runner[s][a->n_req])
        return tetri_errorf(err, "GPU %d: no graph for a batch of %d at %dx%d, %d steps (graphs: batches 1-%d of the workload's shapes)",
                            gpu, a->n_req, r0->width, r0->height, r0->steps, g->opt.max_batch);
    dit_slot *sl[TETRI_MAX_BATCH];
    *first = false;
    for (int k = 0; k < a->n_req; k++) *first |= g->req[a->req[k]].set == 0;
    CUDA_TRY(cudaEventRecord(d->ev_launch, dit_gpu_stream(d->m)), "recording the block's launch");
    for (int k = 0; k < a->n_req; k++)
        if (slot_here(g, gpu, a->req[k], &sl[k], err)) return -1;
    dit_gpu_step *r = d->runner[s][a->n_req];
    if (gpu_inject(g, gpu, job, err)) return -1;
    if (dit_gpu_step_bind(r, sl, a->n_req, err)) return tetri_error_prefix(err, "GPU %d: the block's launch", gpu);
    CUDA_TRY(cudaEventRecord(d->ev_steps, dit_gpu_stream(d->m)), "recording the block's first step");
    if (dit_gpu_step_run(r, a->steps, err)) return tetri_error_prefix(err, "GPU %d: the block's launch", gpu);
    CUDA_TRY(cudaEventRecord(d->ev_end, dit_gpu_stream(d->m)), "recording the block's end");
    return 0;
}

int gpu_wait_event(gpu_backend *g, int gpu, cudaEvent_t ev, const workers_job *job, tetri_ns *end_real, tetri_error *err)
{
    /* Polled every GPU_POLL_SLEEP_NS until the hand-over's spin point (the expected end, from how
     * this GPU's blocks have run, less the spread around it) or GPU_SPIN_BEFORE_NS before the
     * predicted end, whichever is earlier; then spun for, so the end is seen within a microsecond. */
    const tetri_ns expected = job->start_real + job->pred_real;
    const tetri_ns spin_from = job->spin_after_real > 0 && job->start_real + job->spin_after_real < expected - GPU_SPIN_BEFORE_NS
                                   ? job->start_real + job->spin_after_real : expected - GPU_SPIN_BEFORE_NS;
    const tetri_ns limit = job->start_real + (tetri_ns)((double)job->pred_real * g->opt.time_limit) + g->opt.time_limit_floor_ns;
    for (;;) {
        const cudaError_t q = cudaEventQuery(ev);
        const tetri_ns now = workers_real_now();
        if (q == cudaSuccess) { *end_real = now; return 0; }
        if (q != cudaErrorNotReady) return tetri_errorf(err, "GPU %d: the block failed: %s", gpu, cudaGetErrorString(q));
        if (now > limit)
            return tetri_errorf(err, "GPU %d stopped answering: its block of %d step(s) still runs %.3f s after its start, past its "
                                     "time limit of %.3f s (predicted %.3f s)", gpu, job->a.steps, (double)(now - job->start_real) / 1e9,
                                (double)(limit - job->start_real) / 1e9, (double)job->pred_real / 1e9);
        if (now < spin_from) {
            struct timespec ts = {0, GPU_POLL_SLEEP_NS};
            nanosleep(&ts, NULL);
        } else {
            workers_cpu_relax();
        }
    }
}

void gpu_free_request(gpu_backend *g, int32_t id)
{
    gpu_req *q = &g->req[id];
    for (int r = 0; r < DIT_SP_MAX_DEGREE; r++)
        if (q->slot[r]) {
            const int cur = gpu_on_device(dit_gpu_device(dit_slot_model(q->slot[r])));
            dit_slot_destroy(q->slot[r]); /* stream-ordered on its GPU */
            cudaSetDevice(cur);
        }
    *q = (gpu_req){0};
}

int gpu_finish_block(gpu_backend *g, const workers_job *job, gpu_dev *later, tetri_error *err)
{
    for (int k = 0; k < job->a.n_req; k++) {
        const int32_t id = job->a.req[k];
        g->steps_run[id] += job->a.steps;
        if (g->steps_run[id] < g->arrivals[id].steps) continue;
        if (g->opt.save_latents_dir && save_latent(g, id, err)) return -1;
        if (later && !g->opt.save_latents_dir) {
            assert(later->n_finished < TETRI_MAX_BATCH); /* emptied at every launch, a block holds at most that many */
            later->finished[later->n_finished++] = id;
        } else {
            gpu_free_request(g, id);
        }
    }
    return 0;
}

/* The slots of the requests whose last block ended on d before the block just launched there. */
static void free_finished(gpu_backend *g, gpu_dev *d)
{
    for (int k = 0; k < d->n_finished; k++) gpu_free_request(g, d->finished[k]);
    d->n_finished = 0;
}

/* Adds an ended degree-1 block to its (shape, batch)'s figures; `first`: it made a request's state. */
static void count_block(gpu_backend *g, int gpu, const workers_job *job, bool first, tetri_ns end_real)
{
    gpu_dev *d = &g->dev[gpu];
    const host_arrival *r0 = &g->arrivals[job->a.req[0]];
    const int s = gpu_shape_index(g, r0->width, r0->height, r0->steps);
    float prep = 0, steps = 0;
    if (s < 0 || cudaEventElapsedTime(&prep, d->ev_launch, d->ev_steps) != cudaSuccess ||
        cudaEventElapsedTime(&steps, d->ev_steps, d->ev_end) != cudaSuccess)
        return;
    gpu_block_stats *x = &d->stats[s][job->a.n_req];
    x->blocks++;
    x->steps += job->a.steps;
    x->prepared += first;
    x->prep_ms += first ? prep : 0; /* else a rebinding of the runner: in the GPU time, not a preparation */
    x->gpu_ms += prep + steps;
    x->steps_ms += steps;
    x->wall_ms += (double)(end_real - job->start_real) / 1e6;
    x->pred_ms += (double)job->pred_real / 1e6;
    if (d->last_end_real == 0 || job->start_real - d->last_end_real >= TETRI_AFTER_IDLE_NS) {
        x->idle_blocks++;
        x->idle_steps += job->a.steps;
        x->idle_steps_ms += steps;
    }
    d->last_end_real = end_real;
}

static void gpu_run(void *ctx, int gpu, const workers_job *job, host_event *ev)
{
    gpu_backend *g = ctx;
    tetri_error err = {{0}};
    tetri_ns end = 0;
    bool first = false;
    if (tetri_gpuset_count(job->a.gpus) > 1) {
        gpu_sp_run(g, gpu, job, ev);
        return;
    }
    if (launch_block(g, gpu, job, &first, &err) || (free_finished(g, &g->dev[gpu]),
                                                      gpu_wait_event(g, gpu, g->dev[gpu].ev_end, job, &end, &err)) ||
        gpu_finish_block(g, job, &g->dev[gpu], &err)) {
        gpu_block_failed(g, gpu, ev, &err);
        return;
    }
    count_block(g, gpu, job, first, end);
    ev->end_real_ns = end;
}

/* ---- open, close -------------------------------------------------------------------------------- */

/* Frees what a run left: the slots of requests it did not finish (a partial run). From the host's
 * thread between runs, when no block runs. */
static void free_run_state(gpu_backend *g)
{
    for (size_t i = 0; g->req && i < g->n_arrivals; i++) gpu_free_request(g, (int32_t)i);
    for (int i = 0; i < TETRI_MAX_GPUS; i++) g->dev[i].n_finished = 0; /* freed just above */
    free(g->req);
    free(g->steps_run);
    g->req = NULL;
    g->steps_run = NULL;
    g->n_arrivals = 0;
}

int gpu_begin_run(gpu_backend *g, const host_arrival *arrivals, size_t n, uint64_t seed, tetri_error *err)
{
    free_run_state(g);
    for (size_t i = 0; i < n; i++) {
        const host_arrival *a = &arrivals[i];
        if (a->model != g->opt.model)
            return tetri_errorf(err, "request %zu is for %s; the GPU backend was started for %s", i, tetri_model_name(a->model),
                                tetri_model_name(g->opt.model));
        if (gpu_shape_index(g, a->width, a->height, a->steps) < 0)
            return tetri_errorf(err, "request %zu (%dx%d, %d steps) has no captured graph (the backend was started for the "
                                     "workload's resolutions and steps)", i, a->width, a->height, a->steps);
    }
    g->req = calloc(n + 1, sizeof *g->req);
    g->steps_run = calloc(n + 1, sizeof *g->steps_run);
    if (!g->req || !g->steps_run) {
        free(g->req), free(g->steps_run);
        g->req = NULL, g->steps_run = NULL;
        return tetri_errorf(err, "out of memory for %zu requests", n);
    }
    g->arrivals = arrivals;
    g->n_arrivals = n;
    for (int i = 0; i < TETRI_MAX_GPUS; i++) {
        memset(g->dev[i].stats, 0, sizeof g->dev[i].stats);
        g->dev[i].last_end_real = 0;
    }
    g->seed = seed;
    gpu_sp_begin_run(g);
    if (g->w) workers_restart(g->w); /* else the caller's driver restarts */
    return 0;
}

static int check_options(const gpu_options *o, tetri_error *err)
{
    int n_dev = 0;
    cudaError_t e = cudaGetDeviceCount(&n_dev);
    if (e != cudaSuccess || n_dev == 0) return tetri_errorf(err, "the GPU backend finds no CUDA device (%s)", cudaGetErrorString(e));
    if (o->n_gpus < 1 || o->n_gpus > TETRI_MAX_GPUS) return tetri_errorf(err, "the GPU backend needs 1 to %d GPUs", TETRI_MAX_GPUS);
    const int first = o->gpus_per_process ? o->first_gpu : 0, end = o->gpus_per_process ? o->first_gpu + o->n_local : o->n_gpus;
    if (first < 0 || end <= first || end > o->n_gpus)
        return tetri_errorf(err, "this process's GPUs %d..%d are not within the cluster's %d", first, end - 1, o->n_gpus);
    for (int i = first; i < end; i++)
        if (o->devices[i] < 0 || o->devices[i] >= n_dev)
            return tetri_errorf(err, "--devices: GPU %d maps to CUDA device %d; this machine has %d (0..%d)", i, o->devices[i], n_dev,
                                n_dev - 1);
    if (o->n_shapes < 1 || o->n_shapes > GPU_MAX_SHAPES)
        return tetri_errorf(err, "the GPU backend needs 1 to %d (resolution, steps) shapes to capture, not %d", GPU_MAX_SHAPES, o->n_shapes);
    for (int i = 0; i < o->n_shapes; i++)
        if (o->shapes[i].width % 16 || o->shapes[i].height % 16 || o->shapes[i].width < 16 || o->shapes[i].height < 16 ||
            o->shapes[i].steps < 1)
            return tetri_errorf(err, "shape %dx%d with %d steps: sides must be positive multiples of 16, steps positive",
                                o->shapes[i].width, o->shapes[i].height, o->shapes[i].steps);
    if (o->max_batch < 1 || o->max_batch > TETRI_MAX_BATCH) return tetri_errorf(err, "--max-batch: %d is not in 1..%d", o->max_batch, TETRI_MAX_BATCH);
    if (!(o->time_limit >= 1)) return tetri_errorf(err, "--time-limit: %g is below 1 (a block would be stopped before its prediction)", o->time_limit);
    if (o->save_latents_dir) {
        struct stat st;
        if (stat(o->save_latents_dir, &st) || !S_ISDIR(st.st_mode))
            return tetri_errorf(err, "--save-latents: %s is not a folder (%s)", o->save_latents_dir, errno ? strerror(errno) : "not a folder");
    }
    return 0;
}

int gpu_open(const gpu_options *opts, gpu_backend **out, tetri_error *err)
{
    *out = NULL;
    if (check_options(opts, err)) return -1;
    gpu_backend *g = calloc(1, sizeof *g);
    if (!g) return tetri_errorf(err, "out of memory");
    g->opt = *opts;
    g->first = opts->gpus_per_process ? opts->first_gpu : 0;
    g->end = opts->gpus_per_process ? opts->first_gpu + opts->n_local : opts->n_gpus;
    dit_config c;
    if (opts->model == TETRI_MODEL_FLUX_DEV) dit_config_flux_dev(&c);
    else dit_config_sd3_medium(&c);
    g->text_tokens = dit_default_text_tokens(&c);
    for (int i = 0; i < opts->n_shapes; i++)
        if (gpu_shape_index(g, opts->shapes[i].width, opts->shapes[i].height, opts->shapes[i].steps) < 0) g->shape[g->n_shapes++] = opts->shapes[i];
    g->opt.shapes = NULL; /* copied */
    if (dit_layout_build(&c, &g->L, err)) { gpu_close(g); return -1; }
    for (int i = g->first; i < g->end; i++) g->dev[i].device = opts->devices[i];
    if (gpu_sp_open(g, err)) { gpu_close(g); return -1; }
    /* every GPU of a block of degree k runs its rank (exec/gpu_sp.c); degree 1 is its GPU's alone */
    g->runner = (workers_runner){.name = "exec", .ctx = g, .every_gpu = true, .thread_start = gpu_thread_start, .run = gpu_run,
                                 .thread_stop = gpu_thread_stop};
    if (opts->external_workers) { /* the caller's threads run g->runner (exec/remote.c) */
        *out = g;
        return 0;
    }
    const workers_options wo = {.n_gpus = opts->n_gpus, .speed = 1.0, .settle_ns = opts->settle_ns, .spin_ns = opts->spin_ns,
                                .poll_real_ns = opts->poll_real_ns};
    if (workers_open(&wo, &g->runner, &g->w, err)) {
        /* the first failure, rather than a GPU that stopped because another failed */
        if (g->start_failed) tetri_errorf(err, "%s", g->start_why);
        gpu_sp_close(g, true); /* a worker may be left behind in a graph of a communicator: the process ends */
        gpu_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

bool gpu_close(gpu_backend *g)
{
    if (!g) return false;
    bool broken = false;
    for (int i = 0; i < g->opt.n_gpus; i++) broken |= g->dev[i].broken; /* set before their failed blocks' events */
    /* A GPU that stopped answering is left behind after 2 s. Without one, every worker is idle and its
     * thread_stop (graphs, communicator-captured ones included, activations, weights, on all GPUs at
     * once) is waited for: one left behind would free its slots while free_run_state does, and use g
     * after the free below. */
    if (g->w) workers_close(g->w, (broken ? 2 : 120) * TETRI_NS_PER_S);
    for (int i = 0; i < g->opt.n_gpus; i++) broken |= g->dev[i].broken;
    if (!broken) free_run_state(g); /* a failed GPU's slots stay: freeing them would wait on it */
    gpu_sp_close(g, broken);
    dit_layout_free(&g->L);
    free(g->req);       /* NULL after free_run_state */
    free(g->steps_run);
    free(g);
    return broken;
}

void gpu_bind(host_backend *be, gpu_backend *g) { workers_bind(be, g->w); }

const workers_runner *gpu_runner(gpu_backend *g) { return &g->runner; }

void gpu_report(const gpu_backend *g, FILE *out)
{
    for (int i = g->first; i < g->end; i++) {
        const gpu_dev *d = &g->dev[i];
        fprintf(out, "# GPU %d = CUDA device %d (%s): weights %.2f GiB, %d graphs (%d shapes x batches 1-%d) with %.2f GiB of "
                     "activations, %.2f GiB of device memory in all, ready in %.1f s\n",
                i, d->device, d->name, (double)d->weight_bytes / (1 << 30), d->n_graphs, g->n_shapes, g->opt.max_batch,
                (double)d->runner_bytes / (1 << 30), (double)d->mem_used / (1 << 30), d->startup_s);
        /* the kernels it runs (by its compute capability, or TETRI_GPU_PATHS) */
        if (d->m) fprintf(out, "# GPU %d %s\n", i, dit_gpu_paths_text(d->m));
    }
    gpu_sp_report(g, out);
}

void gpu_run_report(const gpu_backend *g, FILE *out)
{
    for (int i = g->first; i < g->end; i++)
        for (int s = 0; s < g->n_shapes; s++)
            for (int b = 1; b <= g->opt.max_batch; b++) {
                const gpu_block_stats *x = &g->dev[i].stats[s][b];
                if (!x->blocks) continue;
                const int64_t b2b = x->steps - x->idle_steps;
                fprintf(out, "# GPU %d %dx%d batch %d: %lld blocks, %lld steps: step %.3f ms on the GPU (%.3f ms in blocks started "
                             "within %d ms of the GPU's last end, %.3f ms in the %lld others); preparation %.3f ms at %lld first blocks; GPU time "
                             "(launch to end) vs predicted %+.2f%%, the worker's (hand-over to end seen) %+.2f%%, %.3f ms a block "
                             "more than the GPU's\n",
                        i, g->shape[s].width, g->shape[s].height, b, (long long)x->blocks, (long long)x->steps, x->steps_ms / (double)x->steps,
                        b2b ? (x->steps_ms - x->idle_steps_ms) / (double)b2b : 0.0, (int)(TETRI_AFTER_IDLE_NS / 1000000),
                        x->idle_steps ? x->idle_steps_ms / (double)x->idle_steps : 0.0, (long long)x->idle_blocks,
                        x->prepared ? x->prep_ms / (double)x->prepared : 0.0, (long long)x->prepared, 100.0 * (x->gpu_ms / x->pred_ms - 1),
                        100.0 * (x->wall_ms / x->pred_ms - 1), (x->wall_ms - x->gpu_ms) / (double)x->blocks);
            }
}
