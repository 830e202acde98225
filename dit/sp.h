/* dit/sp.h: Ulysses sequence parallelism's arithmetic, shared by the CPU reference, the GPU
 * runners and the live backend: which rows each rank holds, how the all-to-all around attention
 * lays its chunks out, the transport interface that moves them, and how a request's rows move
 * when its GPU set changes.
 * defines: DIT_SP_MAX_DEGREE, dit_sp_shard, dit_sp_shard_of, dit_sp_check, dit_sp_a2a_in_bytes,
 *          dit_sp_a2a_out_bytes, dit_sp_pack_heads, dit_sp_unpack_heads, dit_sp_pack_rows,
 *          dit_sp_unpack_rows, dit_transport, dit_transport_ops, dit_transport_host_create,
 *          dit_transport_all_to_all, dit_transport_destroy, dit_sp_move, dit_sp_migration_plan.
 *
 * Degree k: rank r of a request's group holds a contiguous, balanced share of its text rows and of
 * its image rows (rows floor(r T / k) .. floor((r + 1) T / k) of T, likewise of N), text first, as
 * a degree-1 runner holds all of them. Everything per row (embeddings, norms, RoPE with the row's
 * global position, MLPs, the Euler update) runs on the rank's rows alone; attention needs every
 * row, so before it an all-to-all over heads gives rank r all Lt rows of heads r H/k .. (r+1) H/k,
 * and after it a second all-to-all gives every row its heads back (DeepSpeed-Ulysses).
 *
 * The exchange, per sample b of a batch of B:
 *   in:  rank i's qkv rows [B, L_i, 3D] -> chunk (i -> j) = [B, L_i, 3, D/k] (q, k, v of head group j)
 *        rank j's receive buffer = chunks (0 -> j), (1 -> j), ... = [k][B, L_i, 3 D/k]
 *        unpacked to attention's input [B, Lt, 3 D/k], sample b's rows the ranks' rows in rank order
 *   out: rank j's attention output [B, Lt, D/k] -> chunk (j -> i) = [B, L_i, D/k]
 *        rank i's receive buffer [k][B, L_i, D/k] -> its [B, L_i, D] at columns j D/k
 * Attention treats keys as a set and keeps each query's row, so the order of rows within the
 * gathered sequence (text and image of rank 0, then of rank 1, ...) changes nothing.
 * The host pack/unpack here are the CPU reference's; kernels/sp.cu does the same on the GPU. */
#ifndef TETRI_DIT_SP_H
#define TETRI_DIT_SP_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "dit/model.h"

#define DIT_SP_MAX_DEGREE 8

/* Rank `rank`'s share of one request's rows at degree `degree`. */
typedef struct dit_sp_shard {
    int degree, rank;
    int t0, tn;   /* text rows [t0, t0 + tn) of T */
    int n0, nn;   /* image rows [n0, n0 + nn) of N */
} dit_sp_shard;

void dit_sp_shard_of(int T, int N, int degree, int rank, dit_sp_shard *out);

/* 0 when degree k can run this model at this shape: k a power of two in 1..8, heads divisible by
 * k, and at least one text row and one image row per rank; else -1 with err saying which. */
int dit_sp_check(const dit_config *c, int degree, int T, int N, tetri_error *err);

/* bytes[i k + j]: what rank i sends rank j in the exchange before attention (in) and after it
 * (out), for B samples of elem_bytes-wide elements (4 on the CPU reference, 2 for bf16). */
void dit_sp_a2a_in_bytes(const dit_config *c, int degree, int T, int N, int B, size_t elem_bytes, size_t *bytes);
void dit_sp_a2a_out_bytes(const dit_config *c, int degree, int T, int N, int B, size_t elem_bytes, size_t *bytes);

/* The host (float) pack and unpack of the exchange, the CPU reference's; D = model width, k =
 * degree, rows = the local rank's L_i = tn + nn, L[k] every rank's row count.
 *   pack_heads:   qkv [B, rows, ld_qkv] (q | k | v, each D wide) -> send [k][B, rows, 3 D/k]
 *   unpack_heads: recv [k][B, L_i, 3 D/k] -> att_in [B, Lt, 3 D/k]
 *   pack_rows:    att_out [B, Lt, D/k] -> send [k][B, L_i, D/k]
 *   unpack_rows:  recv [k][B, rows, D/k] -> out [B, rows, ld_out] at columns j D/k */
void dit_sp_pack_heads(const float *qkv, int64_t ld_qkv, int B, int rows, int D, int k, float *send);
void dit_sp_unpack_heads(const float *recv, int B, const int *L, int D, int k, float *att_in);
void dit_sp_pack_rows(const float *att_out, int B, const int *L, int D, int k, float *send);
void dit_sp_unpack_rows(const float *recv, int B, int rows, int D, int k, float *out, int64_t ld_out);

/* ---- the transport ----
 * An all-to-all among the `degree` ranks of one group. The object drives n_local of them from the
 * calling thread: all of them (in-process: on the host, or k ranks on one GPU) or one (NCCL, one
 * rank per GPU, in exec/). Rank i's send buffer holds its chunks for ranks 0..k-1 back to back;
 * rank j's receive buffer gets the chunks from ranks 0..k-1 back to back; bytes[i k + j] is chunk
 * (i -> j)'s size. send[l] and recv[l] are local rank l's (group rank first_rank + l), host or
 * device memory as the transport says. Device transports enqueue on their streams and return. */
typedef struct dit_transport dit_transport;
typedef struct dit_transport_ops {
    const char *name;
    int (*all_to_all)(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err);
    void (*destroy)(dit_transport *t);
} dit_transport_ops;
struct dit_transport {
    const dit_transport_ops *ops;
    int degree, n_local, first_rank;
};

/* All `degree` ranks in host memory, memcpy. */
int dit_transport_host_create(int degree, dit_transport **out, tetri_error *err);
int dit_transport_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err);
void dit_transport_destroy(dit_transport *t);

/* ---- migration ----
 * A request's per-row state (its latent rows; its text rows) held at degree `from` moves to degree
 * `to`: the copies, each a run of rows from one old rank to one new rank, in order. Ranks are
 * positions in the sets (rank r of the old set is its r-th GPU), so a GPU in both sets may keep
 * rows where src_rank's GPU = dst_rank's GPU. Returns the number of moves (at most from + to - 1);
 * `moves` has room for DIT_SP_MAX_DEGREE * 2. */
typedef struct dit_sp_move {
    int src_rank, dst_rank;
    int src_row, dst_row;  /* the first row within the source shard and within the destination shard */
    int rows;
} dit_sp_move;
int dit_sp_migration_plan(int rows, int from, int to, dit_sp_move *moves);

#endif
