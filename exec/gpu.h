/* exec/gpu.h: the GPU backend of the serving host: real FLUX.1-dev / SD3-medium steps.
 * defines: gpu_shape, gpu_options, gpu_backend, gpu_open, gpu_close, gpu_begin_run, gpu_bind, gpu_runner, gpu_report, gpu_run_report.
 *
 * The driver is exec/workers.c (a worker thread per GPU, the run's clock at speed 1, the
 * completion queue); this backend's runner launches a block on its GPUs' streams and waits for it.
 * At start-up (gpu_open), on each GPU's worker thread: the model's weights (seeded random of the
 * true shapes, or a diffusers folder), and a step runner with its CUDA graph for every (resolution,
 * steps, batch) the workloads may need, captured then, never on the critical path. With several
 * GPUs (exec/gpu_sp.c): peer access between them; when NCCL is built, the devices are distinct and
 * sp_degrees asks for degrees above 1, the NCCL communicators of the aligned GPU sets
 * (exec/comms.h), and per GPU, per degree k it holds an aligned set of, per shape and batch, a
 * runner of its rank and the graph of its sequence-parallel group (the all-to-alls of that set's
 * communicator captured in it), all captured at start-up (exec/sp_plan.h counts them). Models and
 * graphs stay for every run of a sweep; gpu_begin_run starts each run's clock and requests.
 *
 * A request's state lives in slots (dit/dit_gpu.h), one per GPU of the set of its last block (rank
 * r's shard on the set's r-th GPU), made at its first block: seeded random latent, text and pooled
 * embeddings of the right shapes (there is no text encoder), the conditioning for its schedule.
 * A block of degree 1 binds its members' slots to the runner of its shape and batch (members may
 * stand at different steps of different schedules), replays the graph q times, and its worker
 * waits for the end event: polling in 100 us sleeps until shortly before the predicted end, then
 * spinning. A block of degree k > 1 runs on its k workers, each replaying its rank's graph (NCCL
 * keeps them in step); it ends when every rank's end event has. A request whose set changes is
 * moved first: peer to peer, its modulation table copied rather than recomputed.
 *
 * Failures end the run: a CUDA error in a block, or a block still running at its time limit
 * (time_limit x its prediction + time_limit_floor), is reported as a fatal failure (on a set of
 * GPUs, its communicators aborted), and the host ends the run with every request accounted for. A
 * block of degree > 1 on a ragged set (no communicator), at a degree without graphs, or with
 * sequence parallelism off (no NCCL, devices shared) fails the run with a message saying so. */
#ifndef TETRI_EXEC_GPU_H
#define TETRI_EXEC_GPU_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/types.h"
#include "host/backend.h"
#include "host/host.h"
#include "exec/workers.h"

/* A request shape the workload holds: one graph per batch size 1..max_batch is captured for it. */
typedef struct gpu_shape {
    int32_t width, height, steps;
} gpu_shape;

typedef struct gpu_options {
    int n_gpus;                          /* the cluster's (the profile's hardware) */
    int devices[TETRI_MAX_GPUS];         /* CUDA device of cluster GPU g (several may share one: tests) */
    tetri_model model;
    const char *weights_dir;             /* NULL: seeded random weights */
    uint64_t weight_seed;                /* the random weights' seed */
    const gpu_shape *shapes;             /* every (resolution, steps) the runs may hold */
    int n_shapes;
    int max_batch;                       /* graphs for batches 1..max_batch of every shape */
    unsigned sp_degrees;                 /* degrees above 1 to capture graphs of (bit k: degree k); 0: none */
    int attention;                       /* a dit_attn_backend (DIT_ATTN_AUTO by default) */
    double time_limit;                   /* a block may run time_limit x its prediction */
    tetri_ns time_limit_floor_ns;        /*   + this, before it is declared hung */
    tetri_ns settle_ns, spin_ns, poll_real_ns; /* the driver's (exec/workers.h) */
    const char *save_latents_dir;        /* NULL, or write each finished request's latent there */
    int64_t inject_error_at;             /* test aid: block seq (1-based) that meets a CUDA error; 0 none */
    int64_t inject_hang_at;              /* test aid: block seq whose GPU stops answering; 0 none */
    FILE *log;                           /* start-up report (NULL: none) */
    /* Across processes (tetri-mpi, cli/serve_mpi.h): the cluster's GPUs are spread over processes of
     * gpus_per_process consecutive GPUs (0: one process holds them all, the fields below unused);
     * this one runs first_gpu .. first_gpu + n_local - 1 (devices[] read for those only), its part
     * of each block; nccl_id is the world's shared ncclUniqueId (remote_nccl_id), needed when
     * degrees above 1 are captured; with external_workers gpu_open starts no driver: the caller runs
     * gpu_runner's calls on a thread per local GPU (exec/remote.c). */
    int gpus_per_process, first_gpu, n_local;
    const void *nccl_id;
    bool external_workers;
} gpu_options;

typedef struct gpu_backend gpu_backend;

/* Loads the model and captures the graphs on every GPU, then starts the run's clock. Returns 0, or
 * -1 with err (no such device, out of memory, a capture that fails). */
int gpu_open(const gpu_options *opts, gpu_backend **out, tetri_error *err);
/* Stops the workers (a hung one is left behind) and frees the GPUs. Returns true when a GPU failed
 * (a CUDA error, or work that never ended): its memory was not freed, and the process should end
 * without the CUDA runtime's teardown, which would wait for that work (_exit). NULL is fine. */
bool gpu_close(gpu_backend *g);
/* A new run: its requests (id = index; each of a captured shape and the backend's model), whose
 * inputs are seeded from `seed` and the id; the run's clock starts now. State a partial run left
 * is freed. Returns 0, or -1 with err (a request the graphs do not cover). */
int gpu_begin_run(gpu_backend *g, const host_arrival *arrivals, size_t n, uint64_t seed, tetri_error *err);
void gpu_bind(host_backend *be, gpu_backend *g);
/* The runner of this process's GPUs (thread_start, run, thread_stop), for a caller that drives them
 * itself (gpu_options.external_workers). With several processes a request's slots live on the
 * processes of its set's GPUs, each counting its steps; a block that would move a request between
 * processes fails the run (sp_plan_check_move). */
const workers_runner *gpu_runner(gpu_backend *g);
/* What start-up took and holds: per GPU, weights, graphs and their activations, seconds. */
void gpu_report(const gpu_backend *g, FILE *out);
/* The run's degree-1 blocks per GPU and (shape, batch), from CUDA events: the step and preparation
 * times the GPU took, the worker's wall time and the prediction, and how they differ. */
void gpu_run_report(const gpu_backend *g, FILE *out);

#endif
