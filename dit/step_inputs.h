/* dit/step_inputs.h: what one denoising step of a DiT takes, on the host, in float.
 * defines: dit_step_inputs, dit_rope_table, dit_timestep_proj, dit_sigma_schedule.
 *
 * Shared by the CPU reference, the GPU step runner and the --inputs/--output files, so that all
 * three describe one step the same way. Latent tokens are "packed": token (y, x) of the (res/16)^2
 * grid holds the 2x2 patch of the 16-channel VAE latent in (channel, py, px) order, as FLUX's
 * _pack_latents and SD3's patch-embedding convolution both read it. */
#ifndef TETRI_DIT_STEP_INPUTS_H
#define TETRI_DIT_STEP_INPUTS_H

#include "dit/model.h"

typedef struct dit_step_inputs {
    int batch;
    int text_tokens;      /* T: 512 for FLUX (T5), 77 + 256 = 333 for SD3 (CLIP + T5) */
    int grid_h, grid_w;   /* image tokens N = grid_h x grid_w (res / 16 each) */
    const float *latent;  /* [B, N, in_channels x patch^2] */
    const float *text;    /* [B, T, text_dim] */
    const float *pooled;  /* [B, pooled_dim] */
    const float *sigma;   /* [B] the flow-matching sigma of this step (the timestep / 1000) */
    const float *guidance;/* [B] FLUX.1-dev's distilled guidance scale (3.5 by default); NULL: none */
} dit_step_inputs;

/* FLUX's 3-axis RoPE table: cos and sin [L, head_dim / 2], text tokens first (ids 0, 0, 0), then
 * image tokens (0, row, col). Computed in double as diffusers does (freqs_dtype float64). */
void dit_rope_table(const dit_config *c, int text_tokens, int grid_h, int grid_w, float *cos_out, float *sin_out);

/* diffusers' Timesteps(256, flip_sin_to_cos=True, downscale_freq_shift=0) of t (= sigma x 1000). */
void dit_timestep_proj(float t, float out[256]);

/* Flow-matching Euler sigmas, n_steps + 1 values ending at 0: linspace(1, 1/n, n) shifted by
 * s' = shift s / (1 + (shift - 1) s). FLUX's dynamic shift takes shift = exp(mu) with mu linear in
 * the image token count (0.5 at 256 tokens, 1.15 at 4096); SD3-medium's shift is 3.0. */
void dit_sigma_schedule(const dit_config *c, int image_tokens, int n_steps, float *sigmas);

#endif
