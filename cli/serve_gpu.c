/* cli/serve_gpu.c: `tetri serve --backend gpu` (see serve_gpu.h). */
#include "config.h"

#include "cli/serve_gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef TETRI_HAVE_CUDA
#include "dit/dit_gpu.h"
#include "exec/gpu.h"
#endif
#ifdef TETRI_HAVE_MPI
#include "cli/serve_mpi.h"
#endif

void serve_gpu_args_init(serve_gpu_args *a)
{
    memset(a, 0, sizeof *a);
    a->attention = "auto";
    a->weight_seed = 1;
    a->time_limit = 4;
}

#ifdef TETRI_HAVE_CUDA

typedef struct serve_gpu_state {
    gpu_backend *g;
    uint64_t input_seed;
    int quiet;
    bool across;        /* the backend spans MPI ranks (cli/serve_mpi.h owns it) */
} serve_gpu_state;

static int open_run(void *ctx, const tetri_profile *profile, const host_arrival *arrivals, size_t n, host_backend *be,
                    void **handle, tetri_error *err)
{
    (void)profile;
    serve_gpu_state *st = ctx;
    if (gpu_begin_run(st->g, arrivals, n, st->input_seed, err)) return -1;
    gpu_bind(be, st->g);
    *handle = NULL; /* the backend outlives the run */
    return 0;
}

/* After each run: its blocks as the GPUs timed them (one process's GPUs). */
static void close_run(void *ctx, void *handle)
{
    (void)handle;
    const serve_gpu_state *st = ctx;
    if (!st->quiet && !st->across) gpu_run_report(st->g, stdout);
}

/* Every (side, steps) the sweep can hold: the trace's, or the workload's resolutions (and the
 * homogeneous side) at its step count. */
static int sweep_shapes(const sweep_spec *s, gpu_shape *shapes, int cap, int *n, tetri_error *err)
{
    *n = 0;
    const int from_trace = s->trace != NULL;
    const size_t count = from_trace ? s->trace->n : (size_t)s->base.n_resolutions + 1;
    for (size_t i = 0; i < count; i++) {
        gpu_shape x;
        if (from_trace) x = (gpu_shape){s->trace->entries[i].width, s->trace->entries[i].height, s->trace->entries[i].steps};
        else if (i < (size_t)s->base.n_resolutions) x = (gpu_shape){s->base.resolutions[i], s->base.resolutions[i], s->base.steps};
        else if (s->base.homogeneous_resolution > 0) x = (gpu_shape){s->base.homogeneous_resolution, s->base.homogeneous_resolution, s->base.steps};
        else continue;
        int seen = 0;
        for (int k = 0; k < *n && !seen; k++) seen = shapes[k].width == x.width && shapes[k].height == x.height && shapes[k].steps == x.steps;
        if (seen) continue;
        if (*n == cap) return tetri_errorf(err, "the workload has more than %d (resolution, steps) shapes", cap);
        shapes[(*n)++] = x;
    }
    return 0;
}

static int parse_devices(const char *text, int n_gpus, int *devices, tetri_error *err)
{
    if (!text) {
        for (int i = 0; i < n_gpus; i++) devices[i] = i;
        return 0;
    }
    int n = 0;
    for (const char *p = text; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1023 || (*end && *end != ',')) return tetri_errorf(err, "--devices: '%s' is not a list of device numbers", text);
        if (n == n_gpus) return tetri_errorf(err, "--devices: '%s' names more devices than the profile's %d GPUs", text, n_gpus);
        devices[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (n != n_gpus) return tetri_errorf(err, "--devices: '%s' names %d device(s); the profile's hardware has %d GPUs", text, n, n_gpus);
    return 0;
}

/* The serving kernels: any backend but the fp32 oracle, whose memory grows as L^2. */
static int parse_attention(const char *name, int *out, tetri_error *err)
{
    dit_attn_backend b;
    if (dit_attn_backend_parse(name, &b) || b == DIT_ATTN_ORACLE)
        return tetri_errorf(err, "--attention: '%s' is not one of auto, cudnn, flash, flash-mma", name);
    *out = (int)b;
    return 0;
}

/* The degrees above 1 a policy may run blocks at, whose graphs start-up captures: those the profile
 * has rows of (a block's cost comes from them), or, with the analytic fallback, every one. */
static unsigned sp_degrees(const tetri_profile *p, tetri_model model)
{
    if (profile_flags(p) & TETRI_PROFILE_ANALYTIC_FALLBACK) return 1u << 2 | 1u << 4 | 1u << 8;
    int d[16];
    unsigned mask = 0;
    const int n = profile_degrees(p, model, d, 16);
    for (int i = 0; i < n; i++)
        if (d[i] == 2 || d[i] == 4 || d[i] == 8) mask |= 1u << d[i];
    return mask;
}

int serve_gpu_open(const serve_gpu_args *a, const sweep_spec *s, int quiet, sweep_backend *out, char *key, size_t key_len,
                   void **state, tetri_error *err)
{
    *state = NULL;
    if (s->jitter) return tetri_errorf(err, "--jitter draws block times for the backends that emulate GPUs; the GPU backend has its own");
    /* cli/cmd_sim.c chooses aligned for several GPUs; a caller that did not would end its run at
     * the first ragged set, so it is refused before any GPU starts. */
    const tetri_cluster *cl = profile_cluster(s->profile);
    if (cl->n_gpus > 1 && cl->sets != TETRI_SETS_ALIGNED)
        return tetri_errorf(err, "the GPU backend on %d GPUs runs sets=aligned only (communicators exist for aligned blocks)", cl->n_gpus);
    gpu_shape shapes[64];
    gpu_options o = {.n_gpus = profile_cluster(s->profile)->n_gpus, .model = s->trace && s->trace->n ? s->trace->entries[0].model : s->base.model,
                     .weights_dir = a->weights, .weight_seed = (uint64_t)a->weight_seed, .shapes = shapes,
                     .time_limit = a->time_limit, .time_limit_floor_ns = 2 * TETRI_NS_PER_S, .settle_ns = 2 * TETRI_NS_PER_MS,
                     .poll_real_ns = 20 * TETRI_NS_PER_MS, .save_latents_dir = a->save_latents,
                     .inject_error_at = (int64_t)a->inject_error, .inject_hang_at = (int64_t)a->inject_hang,
                     .log = quiet ? NULL : stdout};
    if (sweep_shapes(s, shapes, 64, &o.n_shapes, err) || parse_devices(a->devices, o.n_gpus, o.devices, err) ||
        parse_attention(a->attention, &o.attention, err))
        return -1;
    if (o.n_shapes == 0) return tetri_errorf(err, "the workload holds no request");
    o.max_batch = a->max_batch > 0 ? (int)a->max_batch : profile_max_batch(s->profile, o.model, shapes[0].width, shapes[0].height, 1);
    if (o.max_batch > TETRI_MAX_BATCH) o.max_batch = TETRI_MAX_BATCH;
    o.sp_degrees = sp_degrees(s->profile, o.model);
    serve_gpu_state *st = calloc(1, sizeof *st);
    if (!st) return tetri_errorf(err, "out of memory");
    st->input_seed = (uint64_t)a->weight_seed;
    st->quiet = quiet;
    if (!quiet) {
        printf("# GPU backend: %s on %d GPU(s), %d shape(s) x batches 1-%d; loading the model and capturing the graphs\n",
               tetri_model_name(o.model), o.n_gpus, o.n_shapes, o.max_batch);
        fflush(stdout);
    }
#ifdef TETRI_HAVE_MPI
    if (serve_mpi_active()) { /* every rank opens its GPUs; this one hosts (cli/serve_mpi.h) */
        if (serve_mpi_gpu_backend(&o, a->devices != NULL, a->gpus_per_process, quiet, st->input_seed, out, err)) { free(st); return -1; }
        st->across = true;
        snprintf(key, key_len, "backend=gpu,devices=%s,weights=%s,seed=%llu,max_batch=%d,attention=%s", a->devices ? a->devices : "default",
                 a->weights ? a->weights : "random", (unsigned long long)o.weight_seed, o.max_batch, a->attention);
        out->name = "exec";
        out->key = key;
        *state = st;
        return 0;
    }
#endif
    if (gpu_open(&o, &st->g, err)) { free(st); return -1; }
    if (!quiet) gpu_report(st->g, stdout);
    snprintf(key, key_len, "backend=gpu,devices=%s,weights=%s,seed=%llu,max_batch=%d,attention=%s", a->devices ? a->devices : "default",
             a->weights ? a->weights : "random", (unsigned long long)o.weight_seed, o.max_batch, a->attention);
    *out = (sweep_backend){.name = "exec", .key = key, .open = open_run, .close = close_run, .ctx = st};
    *state = st;
    return 0;
}

bool serve_gpu_close(void *state)
{
    serve_gpu_state *st = state;
    if (!st) return false;
#ifdef TETRI_HAVE_MPI
    const bool broken = st->across ? serve_mpi_gpu_close() : gpu_close(st->g);
#else
    const bool broken = gpu_close(st->g);
#endif
    free(st);
    return broken;
}

#else /* no CUDA */

int serve_gpu_open(const serve_gpu_args *a, const sweep_spec *s, int quiet, sweep_backend *out, char *key, size_t key_len,
                   void **state, tetri_error *err)
{
    (void)a, (void)s, (void)quiet, (void)out, (void)key, (void)key_len;
    *state = NULL;
    return tetri_errorf(err, "--backend gpu: this tetri was built without CUDA (configure found no CUDA toolkit)");
}

bool serve_gpu_close(void *state)
{
    (void)state;
    return false;
}

#endif
