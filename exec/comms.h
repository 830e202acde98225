/* exec/comms.h: the NCCL communicators of the live backend: a world over the process's GPUs and,
 * split from it, one communicator for every GPU set a block may run on.
 * defines: comms_options, comms, comms_unique_id, comms_init_rank, comms_create, comms_for_set,
 *          comms_transport, comms_wait_stream, comms_abort_set, comms_abort_all, comms_destroy,
 *          comms_n_sets, comms_world_size.
 *
 * One process, one thread per GPU at serving time; creation runs on one thread, which drives every
 * device inside ncclGroupStart/End (NCCL's rule for one thread and several devices). The sets are
 * the aligned power-of-two blocks (tetri_gpuset_is_block, core/types.h) of 1 .. max_degree GPUs:
 * for each size s, one ncclCommSplit of the world in which GPU g takes colour g / s and key g mod
 * s, so rank r of a set is its r-th GPU, the rank numbering dit/sp.h's shards use. Each set is
 * warmed at creation by one small all-to-all (NCCL connects peers at their first exchange: that
 * cost must not land on a served block, nor in a graph capture), and start-up reports the time:
 * "# nccl: world of 4 GPUs + 7 set communicators in 812 ms".
 *
 * Every communicator is non-blocking (ncclConfig_t.blocking = 0), and every NCCL call is followed
 * by polling until it is no longer in progress, with a time limit (nccl_wait): a peer that never
 * arrives or a collective that never ends becomes an error message, and the communicators involved
 * are aborted (ncclCommAbort), which also stops their kernels, so the run ends cleanly.
 *
 * Across processes (tetri-mpi, exec/remote.h): one process per node or per GPU. The world's
 * ncclUniqueId is the one thing the processes share: rank 0 makes it (comms_unique_id), MPI
 * broadcasts it (remote_nccl_id), and every process passes it to comms_create with its GPUs' range
 * (comms_options.first_gpu, n_local): each process inits, splits and warms its own ranks of the one
 * world (grouped, from its one thread); the set communicators are the same splits as in one
 * process. comms_init_rank is the one-rank form. */
#ifndef TETRI_EXEC_COMMS_H
#define TETRI_EXEC_COMMS_H

#include <stdio.h>

#include "core/error.h"
#include "core/types.h"
#include "dit/sp.h"
#include "exec/nccl_transport.h" /* nccl.h, quieted */

typedef struct comms_options {
    int n_gpus;           /* the world: cluster GPUs 0..n_gpus-1, its ranks */
    /* This process's GPUs: first_gpu .. first_gpu + n_local - 1 (n_local 0: all of them, one process).
     * With fewer than the world, every process calls comms_create with the same shared id. */
    int first_gpu, n_local;
    const int *devices;   /* CUDA device of cluster GPU g (this process's read only), all distinct (NCCL: one rank per device) */
    int max_degree;       /* the largest set; 0: DIT_SP_MAX_DEGREE (sequence parallelism's limit) */
    tetri_ns limit_ns;    /* each NCCL call's time limit (init, split, warm-up, teardown); 0: 60 s */
    FILE *log;            /* the start-up line; NULL: none */
} comms_options;

typedef struct comms comms;

/* A fresh world id (the one value processes would share over MPI). Returns 0, or -1 with err. */
int comms_unique_id(ncclUniqueId *id, tetri_error *err);

/* Rank `rank` of an `nranks`-rank communicator of `id` on CUDA device `device`, non-blocking, ready
 * within `limit_ns` (the other ranks join from other threads or processes). On failure or timeout
 * the half-made communicator is aborted: returns -1 with err and *out NULL. */
int comms_init_rank(const ncclUniqueId *id, int nranks, int rank, int device, tetri_ns limit_ns, ncclComm_t *out, tetri_error *err);

/* The world over opts->devices (id NULL: a fresh one), its set communicators, each warmed. Returns
 * 0, or -1 with err (everything made so far aborted). */
int comms_create(const comms_options *opts, const ncclUniqueId *id, comms **out, tetri_error *err);

/* The communicator of `set` (an aligned block) on cluster GPU `gpu` of it, and gpu's rank in it.
 * Returns 0, or -1 with err: a ragged set, one beyond max_degree, a GPU outside it, or aborted. */
int comms_for_set(comms *c, tetri_gpuset set, int gpu, ncclComm_t *comm, int *rank, tetri_error *err);

/* An NCCL transport (exec/nccl_transport.h) for `gpu`'s rank in `set`, on `stream` of gpu's device.
 * Returns 0, or -1 with err. */
int comms_transport(comms *c, tetri_gpuset set, int gpu, cudaStream_t stream, dit_transport **out, tetri_error *err);

/* Waits for `stream` (work of `set`'s communicators on it) at most limit_ns; past it, or on a CUDA
 * error, aborts the set's communicators (a hung collective stops) and returns -1 with err saying so. */
int comms_wait_stream(comms *c, tetri_gpuset set, cudaStream_t stream, tetri_ns limit_ns, const char *what, tetri_error *err);

/* ncclCommAbort on the communicators of `set` (every rank's), or on all of them and the world.
 * Afterwards comms_for_set fails for what was aborted. No thread may be inside an NCCL call on them
 * (a thread that is, is left behind and must never touch them again). NULL c is fine. The table's
 * lock is not held through the aborts: with NCCL >= 2.26 the abort of a set's last rank waits until
 * every CUDA graph that captured the set's communicator is destroyed, so a caller that still holds
 * such graphs (or whose peers do) calls this from a thread that may block; comms_abort_all aborts
 * one communicator after another, so only a set whose graphs are all gone may come before another. */
void comms_abort_set(comms *c, tetri_gpuset set);
void comms_abort_all(comms *c);

/* Finalizes and frees every communicator (aborts any that do not finish in time). NULL is fine. */
void comms_destroy(comms *c);

int comms_n_sets(const comms *c);
int comms_world_size(const comms *c);

#endif
