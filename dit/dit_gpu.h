/* dit/dit_gpu.h: one DiT on one GPU: weights in one allocation, and a step runner per (batch,
 * text tokens, image grid) whose launches are captured once into a CUDA graph and replayed.
 * defines: dit_gpu, dit_gpu_step, dit_attn_backend, dit_gpu_create, dit_gpu_destroy,
 *          dit_gpu_init_random, dit_gpu_load_weights, dit_gpu_step_create, dit_gpu_step_destroy,
 *          dit_gpu_step_set_inputs, dit_gpu_step_random_inputs, dit_gpu_step_forward,
 *          dit_gpu_step_capture, dit_gpu_step_replay, dit_gpu_step_denoise, dit_gpu_step_read_velocity,
 *          dit_gpu_step_read_latent, dit_gpu_step_flops, dit_gpu_weight_bytes, dit_gpu_stream,
 *          dit_gpu_cublas, dit_gpu_set_gemm_tuning, dit_gpu_step_prepare, dit_gpu_step_attention,
 *          dit_attn_backend_name.
 *
 * A denoising step = the transformer forward (velocity) + the Euler update of the latent with the
 * schedule's sigmas; the step index lives in device memory, so one captured graph serves every step. */
#ifndef TETRI_DIT_DIT_GPU_H
#define TETRI_DIT_DIT_GPU_H

#include <stdint.h>
#include <cuda_runtime.h>

#include "dit/gemm.h"
#include "dit/model.h"
#include "dit/step_inputs.h"
#include "core/error.h"

typedef struct dit_gpu dit_gpu;
typedef struct dit_gpu_step dit_gpu_step;

typedef enum dit_attn_backend {
    DIT_ATTN_FLASH = 0,  /* kernels/attention_wgmma.cu: ours on Hopper's wgmma, scores never in memory */
    DIT_ATTN_FLASH_MMA,  /* kernels/attention.cu: ours on mma.sync (any sm_80+ GPU), same contract */
    DIT_ATTN_ORACLE,     /* kernels/attention_oracle.cu: fp32 cuBLAS, for tests (memory grows as L^2) */
    DIT_ATTN_CUDNN,      /* dit/attention_cudnn.c: cuDNN's fused flash attention (builds with cuDNN 9 only) */
    DIT_ATTN_AUTO,       /* the default: cuDNN where the build has it and it takes the step's shape, else
                          * FLASH; resolved at the step's first forward (dit_gpu_step_attention) */
} dit_attn_backend;

int dit_gpu_create(const dit_layout *L, dit_gpu **out, tetri_error *err);
void dit_gpu_destroy(dit_gpu *m);
/* Seeded weights of the true shapes, generated on the GPU (the same values dit_cpu_init_weights makes). */
int dit_gpu_init_random(dit_gpu *m, uint64_t seed, tetri_error *err);
/* Weights from a diffusers transformer folder (see dit_load_weights_dir). */
int dit_gpu_load_weights(dit_gpu *m, const char *dir, tetri_error *err);
size_t dit_gpu_weight_bytes(const dit_gpu *m);
cudaStream_t dit_gpu_stream(const dit_gpu *m);
void *dit_gpu_cublas(const dit_gpu *m); /* the cublasHandle_t the oracle uses */
/* How GEMM algorithms are chosen for shapes not seen yet (see dit_gemm_tuning); log: NULL or a
 * stream for one line per tuned shape. */
void dit_gpu_set_gemm_tuning(dit_gpu *m, dit_gemm_tuning t, FILE *log);

int dit_gpu_step_create(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int n_steps, dit_gpu_step **out,
                        tetri_error *err);
void dit_gpu_step_destroy(dit_gpu_step *s);
void dit_gpu_step_set_attention(dit_gpu_step *s, dit_attn_backend b);
/* The backend the step runs (AUTO until its first forward has resolved it). */
dit_attn_backend dit_gpu_step_attention(const dit_gpu_step *s);
const char *dit_attn_backend_name(dit_attn_backend b);
/* Uploads the latent and conditioning; sigmas has n_steps + 1 values (NULL: dit_sigma_schedule),
 * one schedule for the whole batch; in->sigma, when given, must be equal across the batch and
 * replaces sigmas[0] (a single forward at that sigma). Resets the step counter to 0 and runs
 * dit_gpu_step_prepare. */
int dit_gpu_step_set_inputs(dit_gpu_step *s, const dit_step_inputs *in, const float *sigmas, tetri_error *err);
/* The request's conditioning for the whole schedule: timestep, guidance and pooled embeddings
 * and every block's modulation at every step's sigma (one [n_steps x B, mod_total] GEMM), which
 * the steps then only read. set_inputs and random_inputs call it; call it again only to time it. */
int dit_gpu_step_prepare(dit_gpu_step *s, tetri_error *err);
/* Seeded random latent (N(0,1)-like uniform of unit variance), text and pooled vectors, guidance 3.5;
 * then dit_gpu_step_prepare. */
int dit_gpu_step_random_inputs(dit_gpu_step *s, uint64_t seed, tetri_error *err);
/* Enqueues and waits for one transformer forward at the current step, without a graph. */
int dit_gpu_step_forward(dit_gpu_step *s, tetri_error *err);
/* Captures forward + Euler update + step advance into a graph (after one eager forward). */
int dit_gpu_step_capture(dit_gpu_step *s, tetri_error *err);
/* Launches the captured graph once (asynchronously). */
int dit_gpu_step_replay(dit_gpu_step *s, tetri_error *err);
/* Runs n denoising steps from step 0 (graph if captured, else eager) and waits. */
int dit_gpu_step_denoise(dit_gpu_step *s, int n, tetri_error *err);
/* The last forward's velocity [B, N, C p^2] in packed token order, and the latent, as floats. */
int dit_gpu_step_read_velocity(dit_gpu_step *s, float *host, tetri_error *err);
int dit_gpu_step_read_latent(dit_gpu_step *s, float *host, tetri_error *err);
/* Floating-point operations of one forward (2 per multiply-add: GEMMs and attention). */
double dit_gpu_step_flops(const dit_gpu_step *s);
int dit_gpu_step_image_tokens(const dit_gpu_step *s);

#endif
