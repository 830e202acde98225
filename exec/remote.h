/* exec/remote.h: GPUs of other processes behind the real-time driver: one process per node, the
 * processes MPI ranks (built into tetri-mpi only: it needs MPI).
 * defines: REMOTE_CONFIG_MAX, remote_options, remote_world, remote_init, remote_finalize,
 *          remote_rank, remote_check_args, remote_share, remote_start, remote_ready, remote_bind_runner,
 *          remote_serve, remote_stop, remote_begin_run, remote_nccl_id.
 *
 * Cluster GPU g lives on rank g / gpus_per_rank. Rank 0 runs the host and the workers of every GPU
 * (exec/workers.h): those of its own GPUs run its local runner; that of another rank's GPU runs a
 * proxy, whose run() sends the job (a fixed-size message: the workers_job, bytes, since every rank
 * is one build of tetri-mpi) to the owner and waits for the owner's completion message. Every other
 * rank runs remote_serve: a thread per GPU it owns, each receiving its jobs, running them with its
 * local runner (thread_start / run / thread_stop, as a worker would) and sending the ends back,
 * until rank 0's stop message. A block's hand-over stays rank 0's stamp; its end is measured by the
 * owner.
 *
 * Clocks: at start-up rank 0 sends its (CLOCK_MONOTONIC, CLOCK_REALTIME) read together; each rank
 * reads its own pair and takes delta = (its monotonic - its realtime) - (rank 0's monotonic - rank
 * 0's realtime), and translates every time of a message by it. That holds when the ranks share a
 * host (one monotonic clock: delta is the reading noise, tens of ns) or their realtime clocks are
 * synchronised (PTP, NTP: their offset becomes the error of every remote block's times).
 *
 * Threads: MPI_THREAD_MULTIPLE. Each proxy and each serving thread sends and receives its own
 * messages (tags per GPU), so a block's path has no hand-off to an MPI thread; remote_init
 * refuses an MPI that provides less. Waits are MPI_Test polls between short sleeps, not blocking
 * calls (Open MPI's spin a core each, which an oversubscribed node has not got): a proxy sleeps
 * to shortly before its block's expected end, then polls every few microseconds.
 *
 * Failures: a rank that dies ends the job (mpirun's default); a rank whose runner cannot start
 * tells rank 0 (remote_ready); a block that fails comes back as its FAILED event (the GPU backend's
 * CUDA error, or its block past its time limit on the owner: gpu_wait_event, fatal either way). */
#ifndef TETRI_EXEC_REMOTE_H
#define TETRI_EXEC_REMOTE_H

#include <stddef.h>

#include "core/error.h"
#include "exec/workers.h"

/* Bytes of a runner's configuration rank 0 hands the other ranks at start-up (the GPU backend's
 * options with their paths: exec/gpu_wire.h). */
#define REMOTE_CONFIG_MAX 8192

typedef struct remote_options {
    int n_gpus;              /* the cluster; 0 on rank 0: it gives up, the other ranks stop */
    int gpus_per_rank;       /* 0: n_gpus / ranks, rounded up */
    unsigned char config[REMOTE_CONFIG_MAX]; /* the runner's, as rank 0 gives it */
} remote_options;

typedef struct remote_world {
    int rank, ranks;
    remote_options opt;      /* rank 0's, on every rank */
    int first_gpu, n_own;    /* this rank's GPUs: first_gpu .. first_gpu + n_own - 1 */
    int node_rank;           /* this rank among those on its node (MPI_COMM_TYPE_SHARED), from 0 */
    tetri_ns clock_delta;    /* this rank's monotonic clock minus rank 0's */
    const workers_runner *local;
    workers_runner runner;   /* rank 0: its GPUs on local, the others' through proxies */
    /* Other ranks, optional: a new run's bytes from rank 0 (remote_begin_run), on each serving
     * thread before the run's first job; an error fails every block of that run on `gpu` (FAILED,
     * fatal, with err's message). Set before remote_serve. */
    int (*begin_run)(void *ctx, int gpu, const void *bytes, size_t len, tetri_error *err);
    void *begin_ctx;
    _Atomic int64_t sent[TETRI_MAX_GPUS]; /* rank 0: blocks (parts) sent to each GPU's owner */
} remote_world;

/* MPI_Init_thread with MPI_THREAD_MULTIPLE. Returns 0, or -1 with err (MPI provides less). */
int remote_init(int *argc, char ***argv, tetri_error *err);
void remote_finalize(void);
int remote_rank(void);       /* this process's rank in MPI_COMM_WORLD */
/* Collective: every rank's argv (from argv[1]) against rank 0's, by a 64-bit digest. Returns 0, or
 * -1 with err naming the first rank that differs (on every rank). */
int remote_check_args(int argc, char **argv, tetri_error *err);
/* Collective: `len` bytes made by `make` on rank 0 (0, or -1 with err), broadcast to every rank.
 * Returns 0, or -1 (rank 0: make's err; the others: "rank 0 could not make it"). */
int remote_share(void *bytes, size_t len, int (*make)(void *bytes, void *ctx, tetri_error *err), void *ctx, tetri_error *err);
/* Collective: rank 0's options and clock to every rank, the layout checked. `local` runs this
 * rank's GPUs and must outlive w. Returns 0; 1 when rank 0 gave up (opts->n_gpus 0); -1 with err. */
int remote_start(remote_world *w, const remote_options *opts, const workers_runner *local, tetri_error *err);
/* Rank 0: waits for every other rank to have started its runner. Returns 0, or -1 with err. */
int remote_ready(remote_world *w, tetri_error *err);
/* Rank 0: fills w->runner, the runner of workers_open for the whole cluster. */
void remote_bind_runner(remote_world *w);
/* Every other rank: serves its GPUs until rank 0's remote_stop. Returns 0, or -1 with err (its
 * runner could not start; rank 0 was told). */
int remote_serve(remote_world *w, tetri_error *err);
/* Rank 0: ends every other rank's remote_serve. No block may be running. */
void remote_stop(remote_world *w);
/* Rank 0, between runs (no block running): `len` bytes to every other rank's serving threads, for
 * w->begin_run there ahead of the run's first job (the GPU backend's requests and seed). */
void remote_begin_run(remote_world *w, const void *bytes, size_t len);

#if defined(HAVE_NCCL) && defined(TETRI_HAVE_CUDA)
#include "exec/comms.h"
/* Collective: NCCL's world id, made on rank 0 (comms_unique_id) and broadcast, for comms_create's
 * `id` on every rank. Returns 0, or -1 with err. */
int remote_nccl_id(ncclUniqueId *id, tetri_error *err);
#endif

#endif
