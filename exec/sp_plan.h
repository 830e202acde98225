/* exec/sp_plan.h: the GPU backend's sequence-parallel bookkeeping, pure C (tested without a GPU):
 * which rank a GPU holds in a block, which (degree, shape) graphs each GPU captures at start-up,
 * whether a block can run, and what moving a request between two placements copies.
 * defines: SP_PLAN_MAX_MOVES, sp_plan_rank, sp_plan_gpu_of_rank, sp_plan_gpu_degrees, sp_plan_shape_degrees,
 *          sp_inventory, sp_plan_inventory, sp_plan_check_block, sp_plan_move, sp_plan_moves,
 *          sp_plan_bytes, sp_plan_migration_bytes.
 *
 * A placement is a GPU set: a request placed on `set` at degree k = |set| holds one slot per GPU of
 * it, rank r on the set's r-th GPU (the numbering of exec/comms.h's communicators and dit/sp.h's
 * shards). Degree masks have bit k set for degree k (1, 2, 4, 8). */
#ifndef TETRI_EXEC_SP_PLAN_H
#define TETRI_EXEC_SP_PLAN_H

#include <stddef.h>

#include "core/error.h"
#include "core/types.h"
#include "dit/model.h"
#include "dit/sp.h"

#define SP_PLAN_MAX_MOVES (2 * DIT_SP_MAX_DEGREE)


/* The rank of `gpu` in `set` (how many GPUs of the set are below it), or -1 when it is not in it. */
int sp_plan_rank(tetri_gpuset set, int gpu);
/* The GPU of rank r of `set` (0 <= r < its count): its r-th lowest GPU. */
int sp_plan_gpu_of_rank(tetri_gpuset set, int r);

/* The degrees GPU `gpu` of an n_gpus cluster captures graphs of: 1, and each degree k of `wanted`
 * whose aligned block holding gpu lies inside the cluster (a GPU past the last whole block of k has
 * no set of k, so no communicator and no graphs of that degree). */
unsigned sp_plan_gpu_degrees(int n_gpus, unsigned wanted, int gpu);

/* The degrees of `wanted` (and 1) a request of T text rows and N image rows runs at (dit_sp_check). */
unsigned sp_plan_shape_degrees(const dit_config *c, int T, int N, unsigned wanted);

/* What start-up captures: per GPU, per degree it holds a set of, per shape that runs at it, one
 * graph per batch 1..max_batch (a graph captures its set's communicator, so it is per (set, shape,
 * batch); a GPU belongs to one aligned set of each size, so per GPU that is per (degree, shape,
 * batch)). */
typedef struct sp_inventory {
    int n_gpus, max_batch;
    unsigned wanted;                  /* the degrees asked for that fit the cluster (bit 1 always) */
    unsigned degrees;                 /* degrees with graphs on some GPU (bit 1 always) */
    unsigned gpu_degrees[TETRI_MAX_GPUS];
    int graphs[TETRI_MAX_GPUS];       /* per GPU, every degree */
    int sp_graphs[TETRI_MAX_GPUS];    /* per GPU, degrees above 1 */
    int total_graphs, total_sp_graphs;
    int sp_sets;                      /* aligned sets of degree > 1 with graphs */
} sp_inventory;

/* shape_degrees[s]: sp_plan_shape_degrees of shape s (n_shapes of them). */
void sp_plan_inventory(int n_gpus, unsigned wanted, const unsigned *shape_degrees, int n_shapes, int max_batch, sp_inventory *out);

/* Whether a block on `set` of a shape that runs at `shape_degrees`, batch `batch`, has graphs.
 * Returns 0, or -1 with err naming the set and why not: a ragged set (no communicator), a set past
 * the cluster, a degree not captured (`why_off`, when given, says why sequence parallelism is off),
 * the shape at that degree, the batch. */
int sp_plan_check_block(const sp_inventory *inv, tetri_gpuset set, unsigned shape_degrees, int batch, const char *why_off,
                        tetri_error *err);

/* Whether request `id`'s state may move from placement `from` to `to` when the cluster's GPUs are
 * spread over processes of gpus_per_process consecutive GPUs each (tetri-mpi; 0: one process, every
 * move allowed). A move within one process is a peer copy; one whose GPUs (old and new together)
 * lie in more than one process would need NCCL send/receive between them, which the executor does
 * not do yet. A first placement (from 0) or none (from = to) moves nothing. Returns 0, or -1 with
 * err saying which processes and what to do instead. */
int sp_plan_check_move(int32_t id, tetri_gpuset from, tetri_gpuset to, int gpus_per_process, tetri_error *err);

/* One run of rows copied from a slot of the old placement to one of the new. */
typedef struct sp_plan_move {
    int src_gpu, dst_gpu, src_rank, dst_rank;
    int src_row, dst_row, rows;       /* rows within the source and the destination shard */
} sp_plan_move;

/* The copies that move a request's `rows` per-row values (its latent rows, or its text rows) from
 * placement `from` to placement `to` (dit_sp_migration_plan, ranks mapped to GPUs). A move whose
 * src_gpu = dst_gpu is a copy within one GPU. Returns the count (<= SP_PLAN_MAX_MOVES). */
int sp_plan_moves(tetri_gpuset from, tetri_gpuset to, int rows, sp_plan_move *out);

typedef struct sp_plan_bytes {
    size_t peer, local;               /* between two GPUs; within one */
} sp_plan_bytes;

/* What dit_slot_migrate copies: T text rows of txt_row bytes, N latent rows of lat_row bytes, and
 * per destination rank r the request's conditioning (`cond` bytes: schedule, guidance, pooled,
 * modulation table, step) from source rank r mod |from|. */
void sp_plan_migration_bytes(tetri_gpuset from, tetri_gpuset to, int T, int N, size_t txt_row, size_t lat_row, size_t cond,
                             sp_plan_bytes *out);

#endif
