/* exec/gpu_internal.h: what the GPU backend's two files share (exec/gpu.c: start-up, degree-1
 * blocks, runs; exec/gpu_sp.c: communicators, sequence-parallel ranks, their blocks, migration).
 * defines: CUDA_TRY, GPU_MAX_SHAPES, GPU_SP_LEVELS, gpu_block_stats, gpu_req, gpu_sp_dev, gpu_sp_block, gpu_dev, gpu_backend,
 *          gpu_request_seed, gpu_shape_index, gpu_on_device, gpu_wait_event, gpu_inject, gpu_finish_block, gpu_block_failed,
 *          gpu_free_request, gpu_sp_open, gpu_sp_thread_start, gpu_sp_thread_stop, gpu_sp_run, gpu_sp_place,
 *          gpu_sp_begin_run, gpu_sp_close, gpu_sp_report.
 * Not an interface for anything else. */
#ifndef TETRI_EXEC_GPU_INTERNAL_H
#define TETRI_EXEC_GPU_INTERNAL_H

#include <cuda_runtime.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "dit/dit_gpu.h"
#include "dit/sp_group.h"
#include "exec/gpu.h"
#include "exec/sp_plan.h"
#include "exec/workers.h"

/* A CUDA runtime call on GPU `gpu`: "GPU <gpu>: <what>: <CUDA's message>" into err, and return. */
#define CUDA_TRY(call, what)                                                                                          \
    do {                                                                                                              \
        cudaError_t e_ = (call);                                                                                      \
        if (e_ != cudaSuccess) return tetri_errorf(err, "GPU %d: %s: %s", gpu, what, cudaGetErrorString(e_));         \
    } while (0)

#define GPU_MAX_SHAPES 64
#define GPU_SP_LEVELS 4 /* degrees 1, 2, 4, 8: level l is degree 1 << l */

/* A request's state: one slot per GPU of the set of its last block (rank r on the set's r-th GPU);
 * set 0 before its first block and after its last. */
typedef struct gpu_req {
    tetri_gpuset set;
    dit_slot *slot[DIT_SP_MAX_DEGREE];
} gpu_req;

/* A GPU's ranks of sequence-parallel sets: per level l >= 1, its rank of the aligned set of 1 << l
 * GPUs holding it: the NCCL transport on its model's stream, and per (shape, batch) a runner of
 * that rank and its group (n_local = 1), whose graph captured that set's communicator. */
typedef struct gpu_sp_dev {
    dit_transport *transport[GPU_SP_LEVELS];
    dit_gpu_step *runner[GPU_SP_LEVELS][GPU_MAX_SHAPES][TETRI_MAX_BATCH + 1];
    dit_sp_group *group[GPU_SP_LEVELS][GPU_MAX_SHAPES][TETRI_MAX_BATCH + 1];
    size_t bytes[GPU_SP_LEVELS]; /* the runners' activations, per degree */
    int n_graphs;
} gpu_sp_dev;

/* A sequence-parallel block's meeting points, kept per lead (lowest) GPU: the lead prepares its
 * members' slots on every GPU of the set, then releases the other ranks; the last rank to end
 * finishes the block. Reset at each run (block numbers restart at 1). */
typedef struct gpu_sp_block {
    _Atomic int64_t prepared_seq; /* the block the lead has prepared (job seq) */
    atomic_bool prepare_ok;
    atomic_int parts_left;
    atomic_bool failed;
} gpu_sp_block;

/* A run's degree-1 blocks of one (shape, batch) on one GPU, as the GPU timed them (CUDA events at
 * the block's launch, after its requests' preparation, at its end) and as the worker saw them
 * (hand-over to the end seen), against their predictions: where a block's error comes from. */
typedef struct gpu_block_stats {
    int64_t blocks, steps, prepared;    /* prepared: first blocks (they made a request's state) */
    double prep_ms, steps_ms, gpu_ms, wall_ms, pred_ms; /* prep_ms: of the first blocks; gpu_ms: launch to end */
    /* the blocks that started on a GPU idle TETRI_AFTER_IDLE_NS or more (or first in the run): a power-bound
     * GPU runs them faster than back-to-back ones (docs/validation.md 7.4) */
    int64_t idle_blocks, idle_steps;
    double idle_steps_ms;
} gpu_block_stats;

typedef struct gpu_dev {
    int device;
    char name[96];
    dit_gpu *m;
    dit_gpu_step *runner[GPU_MAX_SHAPES][TETRI_MAX_BATCH + 1]; /* [shape][batch], degree 1 */
    gpu_sp_dev *sp;                                            /* NULL without sequence parallelism */
    cudaEvent_t ev_end, ev_moved;
    cudaEvent_t ev_launch, ev_steps;                           /* a degree-1 block's launch and first step (timing) */
    gpu_block_stats stats[GPU_MAX_SHAPES][TETRI_MAX_BATCH + 1]; /* the run's, degree 1; reset by gpu_begin_run */
    tetri_ns last_end_real;                                     /* its last degree-1 block's end seen (0: none yet) */
    /* Requests whose last block (degree 1) ended here: their slots are freed after this GPU's next
     * launch, while that block runs, not between a block's end and the host's hearing of it (a
     * slot's frees took tens of microseconds there). A partial run's leftovers: free_run_state. */
    int32_t finished[TETRI_MAX_BATCH];
    int n_finished;
    size_t weight_bytes, runner_bytes, mem_used; /* mem_used: all it took, the runners' own slots included */
    int n_graphs;                                /* degree 1 */
    double startup_s;
    /* A block failed on it (a CUDA error, or work that never ends): its memory is not freed at
     * the end, since cudaFree waits for the device, which may never finish. */
    bool broken;
} gpu_dev;

struct comms;

struct gpu_backend {
    gpu_options opt;
    int first, end;                         /* this process's GPUs: first .. end - 1 (all of them in one process) */
    dit_layout L;
    int text_tokens;
    gpu_shape shape[GPU_MAX_SHAPES];
    int n_shapes;
    gpu_dev dev[TETRI_MAX_GPUS];
    /* sequence parallelism (exec/gpu_sp.c) */
    struct comms *comms;                    /* NULL: degree 1 only */
    const char *sp_off;                     /* why there is none (NULL: there is, or none was asked for) */
    unsigned shape_degrees[GPU_MAX_SHAPES]; /* per shape: the degrees it runs at (sp_plan_shape_degrees) */
    sp_inventory inv;
    int peer_pairs, peer_pairs_possible;    /* device pairs with peer access enabled, of those that differ */
    gpu_sp_block sp_block[TETRI_MAX_GPUS];
    pthread_mutex_t start_mu;               /* start-up: every worker meets before the collective captures */
    pthread_cond_t start_cv;
    int start_arrived;
    bool start_failed;
    char start_why[256];
    _Atomic long n_migrations;
    _Atomic unsigned long long migrated_peer, migrated_local; /* bytes */
    /* the run (gpu_begin_run) */
    const host_arrival *arrivals; /* its requests, id = index */
    size_t n_arrivals;
    uint64_t seed;
    gpu_req *req;           /* per request */
    int32_t *steps_run;     /* steps run here, per request */
    workers_runner runner;
    workers *w;
};

/* Whether cluster GPU `gpu` is this process's. */
static inline bool gpu_local(const gpu_backend *g, int gpu) { return gpu >= g->first && gpu < g->end; }
/* This process's GPUs of `set`. */
static inline tetri_gpuset gpu_local_set(const gpu_backend *g, tetri_gpuset set)
{
    const tetri_gpuset mine = g->end - g->first >= 64 ? ~0ULL : ((1ULL << (g->end - g->first)) - 1) << g->first;
    return set & mine;
}

/* ---- exec/gpu.c ---- */
/* The seed of request id's inputs (latent, text, pooled): the same at every placement. */
uint64_t gpu_request_seed(uint64_t seed, int32_t id);
int gpu_shape_index(const gpu_backend *g, int32_t w, int32_t h, int32_t steps);
/* cudaSetDevice(device), returning the device that was current, for the caller to restore. */
int gpu_on_device(int device);
/* Waits for `ev` (recorded on `gpu` after the block's launch): sleeps until shortly before the
 * predicted end, then spins. Returns 0 at the end, -1 with err on a CUDA error or past the block's
 * time limit. */
int gpu_wait_event(gpu_backend *g, int gpu, cudaEvent_t ev, const workers_job *job, tetri_ns *end_real, tetri_error *err);
/* The test aids: a real CUDA error, or a stream held for an hour, at the block numbered so. */
int gpu_inject(gpu_backend *g, int gpu, const workers_job *job, tetri_error *err);
/* After a block has ended on every GPU of it: steps counted; a request that has run all its steps
 * leaves its slots (and its latent, with --save-latents): at once, or, with `later` (a degree-1
 * block's GPU) and no --save-latents, after that GPU's next launch (gpu_dev.finished). */
int gpu_finish_block(gpu_backend *g, const workers_job *job, gpu_dev *later, tetri_error *err);
/* A block that failed on `gpu`: the GPU marked broken (never freed: work may still hang on it) and
 * the host's event made a fatal failure with err's message, ended now. */
void gpu_block_failed(gpu_backend *g, int gpu, host_event *ev, const tetri_error *err);
/* Frees request id's slots (each stream-ordered on its GPU); its set becomes 0. */
void gpu_free_request(gpu_backend *g, int32_t id);

/* ---- exec/gpu_sp.c ---- */
/* From gpu_open, before the workers start: peer access between the devices, the communicators
 * (more than one GPU, NCCL built, devices distinct), the graph inventory. Returns 0, or -1 with err. */
int gpu_sp_open(gpu_backend *g, tetri_error *err);
/* The end of a worker's start-up: its sequence-parallel runners and groups, then (every worker
 * having arrived, `rc` its start-up so far) their captures. Returns rc, or -1 with err. */
int gpu_sp_thread_start(gpu_backend *g, int gpu, int rc, tetri_error *err);
void gpu_sp_thread_stop(gpu_backend *g, int gpu);
/* A block of degree > 1: this GPU's part (exec/workers.c runs it on each GPU of the set). */
void gpu_sp_run(gpu_backend *g, int gpu, const workers_job *job, host_event *ev);
/* Request id's slots onto `set` (one per GPU): made with its seeded inputs at its first block, else
 * migrated from its last set (dit_slot_migrate, the modulation table copied), the old freed. */
int gpu_sp_place(gpu_backend *g, int32_t id, tetri_gpuset set, tetri_error *err);
void gpu_sp_begin_run(gpu_backend *g);
/* After the workers stopped: the communicators destroyed (left alone when a GPU failed: the
 * process ends with _exit). */
void gpu_sp_close(gpu_backend *g, bool broken);
void gpu_sp_report(const gpu_backend *g, FILE *out);

#endif
