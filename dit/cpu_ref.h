/* dit/cpu_ref.h: the reference forward pass of one DiT step in plain C, fp32.
 * defines: dit_cpu_forward, dit_cpu_init_weights, dit_cpu_request, dit_cpu_denoise,
 *          dit_cpu_forward_sp, dit_cpu_sharded_request, dit_cpu_request_shard, dit_cpu_request_gather,
 *          dit_cpu_migrate, dit_cpu_sharded_free, dit_cpu_denoise_sp.
 *
 * Written for clarity, one sample and one operation at a time, straight from diffusers'
 * FluxTransformer2DModel and SD3Transformer2DModel; the GPU executor is checked against it on tiny
 * configurations (tests/gpu) and it runs in CI on its own (tests/test_exec_cpu.c).
 *
 * The _sp functions run Ulysses sequence parallelism of degree k (dit/sp.h) on the host: k ranks,
 * each with only its shard's rows, through the same per-row code as degree 1 (dit/cpu_internal.h)
 * and the same pack/unpack and transport as the GPU; they equal degree 1 up to the order of
 * attention's sums over keys (the ranks' rows in rank order). */
#ifndef TETRI_DIT_CPU_REF_H
#define TETRI_DIT_CPU_REF_H

#include <stdint.h>

#include "dit/model.h"
#include "dit/sp.h"
#include "dit/step_inputs.h"

/* Fills w[L->total] with the seeded initial weights, rounded to bf16 (the values the GPU makes);
 * alignment padding is zero. */
void dit_cpu_init_weights(const dit_layout *L, uint64_t seed, float *w);

/* The transformer's output (the velocity) for in's batch: out [B, N, out_channels x patch^2] in the
 * packed token order. Allocates its scratch; returns -1 with err set on a bad input shape. */
int dit_cpu_forward(const dit_layout *L, const float *w, const dit_step_inputs *in, float *out, tetri_error *err);

/* One request's denoising state on the CPU, the mirror of a GPU slot (dit/dit_gpu.h, dit_slot). */
typedef struct dit_cpu_request {
    int text_tokens, grid_h, grid_w;
    float *latent;           /* [N, C p^2], advanced in place */
    const float *text;       /* [T, text_dim] */
    const float *pooled;     /* [pooled_dim] */
    float guidance;
    const float *sigmas;     /* [n_steps + 1] */
    int n_steps, step;       /* the schedule's length and the step it is at */
} dit_cpu_request;

/* `steps` Euler steps of a batch of requests of one shape, each from its own step of its own
 * schedule (the batch's forward takes each sample's sigma), as a GPU runner's graph runs them.
 * Returns -1 with err on a bad shape or a request that would run past its schedule. */
int dit_cpu_denoise(const dit_layout *L, const float *w, dit_cpu_request *const *reqs, int n, int steps, tetri_error *err);

/* dit_cpu_forward at Ulysses degree `degree` (1, 2, 4, 8; dit_sp_check's refusals come back in
 * err): `degree` ranks, rank r holding sample b's rows of dit_sp_shard_of(T, N, degree, r) only,
 * an all-to-all over heads around each attention through t (a transport of `degree` ranks, all
 * driven from here: n_local == degree; NULL: a host one made for the call). out as dit_cpu_forward's. */
int dit_cpu_forward_sp(const dit_layout *L, const float *w, const dit_step_inputs *in, int degree, dit_transport *t, float *out,
                       tetri_error *err);

/* One request's denoising state held as a GPU set holds it at degree `degree`: rank r keeps the
 * latent rows and text rows of its shard (dit_sp_shard_of); the per-request rest is held once. */
typedef struct dit_cpu_sharded_request {
    int text_tokens, grid_h, grid_w;
    int degree;
    float *latent[DIT_SP_MAX_DEGREE]; /* rank r: [nn_r, C p^2], advanced in place; NULL past degree */
    float *text[DIT_SP_MAX_DEGREE];   /* rank r: [tn_r, text_dim] */
    const float *pooled;              /* [pooled_dim] */
    float guidance;
    const float *sigmas;              /* [n_steps + 1] */
    int n_steps, step;
} dit_cpu_sharded_request;

/* Copies r's latent and text into shards at `degree` (-1 with err where dit_sp_check refuses it). */
int dit_cpu_request_shard(const dit_config *c, const dit_cpu_request *r, int degree, dit_cpu_sharded_request *out, tetri_error *err);
/* The latent in global row order, latent [N, C p^2]. */
void dit_cpu_request_gather(const dit_config *c, const dit_cpu_sharded_request *s, float *latent);
/* Moves the request's rows to degree `to` as dit_sp_migration_plan says, one copy per move. */
int dit_cpu_migrate(const dit_config *c, dit_cpu_sharded_request *s, int to, tetri_error *err);
void dit_cpu_sharded_free(dit_cpu_sharded_request *s);

/* dit_cpu_denoise at degree `degree` for requests held at that degree: each rank reads its own
 * shards and updates its own latent rows. */
int dit_cpu_denoise_sp(const dit_layout *L, const float *w, dit_cpu_sharded_request *const *reqs, int n, int steps, int degree,
                       tetri_error *err);

#endif
