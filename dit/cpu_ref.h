/* dit/cpu_ref.h: the reference forward pass of one DiT step in plain C, fp32.
 * defines: dit_cpu_forward, dit_cpu_init_weights, dit_cpu_request, dit_cpu_denoise.
 *
 * Written for clarity, one sample and one operation at a time, straight from diffusers'
 * FluxTransformer2DModel and SD3Transformer2DModel; the GPU executor is checked against it on tiny
 * configurations (tests/gpu) and it runs in CI on its own (tests/test_exec_cpu.c). */
#ifndef TETRI_DIT_CPU_REF_H
#define TETRI_DIT_CPU_REF_H

#include <stdint.h>

#include "dit/model.h"
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

#endif
