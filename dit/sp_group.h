/* dit/sp_group.h: a sequence-parallel group's step driver: the runners (dit_gpu_step of degree k)
 * of the ranks this thread drives, meeting at the two all-to-alls of every block through a
 * transport (dit/sp.h).
 * defines: dit_sp_group, dit_sp_group_create, dit_sp_group_destroy, dit_sp_group_bind,
 *          dit_sp_group_set_inputs, dit_sp_group_random_inputs, dit_sp_group_forward,
 *          dit_sp_group_capture, dit_sp_group_run, dit_sp_group_sample_ms,
 *          dit_sp_group_read_velocity, dit_sp_group_read_latent, dit_sp_group_flops,
 *          dit_sp_rank_sample_ms.
 *
 * One step of the group: every local rank's begin; for each block, every local rank's block_a,
 * the transport's all-to-all (send_in -> recv_in), every local rank's block_attention, the second
 * all-to-all (send_out -> recv_out), every local rank's block_b; every local rank's end and update
 * (dit_gpu.h, the phases). Two uses:
 *   n_local = degree: all ranks on one GPU and one stream (the device transport,
 *     dit/transport_device.h): one CUDA graph holds the whole group's step; what the tests check
 *     against degree 1.
 *   n_local = 1: one rank of a group spread over GPUs (exec/'s NCCL transport, its all-to-all
 *     enqueued on the rank's stream), or one rank timed alone (the null transport).
 * Degree 1 with one runner is the one-GPU step (no exchange). */
#ifndef TETRI_DIT_SP_GROUP_H
#define TETRI_DIT_SP_GROUP_H

#include <stdint.h>

#include "core/error.h"
#include "dit/dit_gpu.h"
#include "dit/sp.h"

typedef struct dit_sp_group dit_sp_group;

/* ranks[l] is group rank t->first_rank + l (l < n_local = t->n_local), all runners of one batch and
 * shape at degree t->degree; with n_local > 1 they share one stream (one model on one GPU), which
 * must be the device transport's. The group owns neither the runners nor the transport. With the
 * null transport, the runners' receive buffers are zeroed (enqueued). */
int dit_sp_group_create(dit_gpu_step *const *ranks, int n_local, dit_transport *t, dit_sp_group **out, tetri_error *err);
void dit_sp_group_destroy(dit_sp_group *g);
/* slots[l B + b]: local rank l's slot for sample b (a slot of that rank and degree). */
int dit_sp_group_bind(dit_sp_group *g, dit_slot *const *slots, tetri_error *err);
/* Every local runner's own slots, from the whole request's inputs (dit_gpu_step_set_inputs) or
 * seeded random (the same request at every degree), and bound. */
int dit_sp_group_set_inputs(dit_sp_group *g, const dit_step_inputs *in, const float *sigmas, tetri_error *err);
int dit_sp_group_random_inputs(dit_sp_group *g, uint64_t seed, tetri_error *err);
/* One forward of the bound slots at their steps, eager (no graph; slots do not advance); waits. */
int dit_sp_group_forward(dit_sp_group *g, tetri_error *err);
/* Captures one step of the group (every local rank, both all-to-alls of every block) into one CUDA
 * graph, after one eager forward (on seeded random slots when some runner has none bound). */
int dit_sp_group_capture(dit_sp_group *g, tetri_error *err);
/* Enqueues n denoising steps (the graph if captured, else eager). No synchronisation. */
int dit_sp_group_run(dit_sp_group *g, int n, tetri_error *err);
/* Times n single steps after `warmup` untimed ones, CUDA events on local rank 0's stream: ms[0..n).
 * With the null transport and one runner: that rank's compute alone, all-to-alls excluded. */
int dit_sp_group_sample_ms(dit_sp_group *g, int warmup, int n, float *ms, tetri_error *err);
/* The last forward's velocity and the bound slots' latents as [B, N, C p^2] floats, each local
 * rank's rows in place (rows of ranks not driven here are left as they were). */
int dit_sp_group_read_velocity(dit_sp_group *g, float *host, tetri_error *err);
int dit_sp_group_read_latent(dit_sp_group *g, float *host, tetri_error *err);
/* The local ranks' floating-point operations of one forward (their GEMMs and attention). */
double dit_sp_group_flops(const dit_sp_group *g);

/* One rank's share of a step timed alone on model m's GPU (for `tetri profile measure --degrees`):
 * a runner of rank `rank` of degree `degree`, its own seeded slots, the null transport, its graph
 * captured; n steps timed after `warmup`, ms[0..n) in milliseconds. The all-to-alls are left out:
 * add them from a measurement of the transport. attn: the attention backend (DIT_ATTN_AUTO: the
 * default). */
int dit_sp_rank_sample_ms(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int degree, int rank, dit_attn_backend attn,
                          int warmup, int n, float *ms, tetri_error *err);

#endif
