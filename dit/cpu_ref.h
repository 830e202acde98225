/* dit/cpu_ref.h: the reference forward pass of one DiT step in plain C, fp32.
 * defines: dit_cpu_forward, dit_cpu_init_weights.
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

#endif
