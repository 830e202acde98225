/* dit/dit_gpu.h: one DiT on one GPU: weights in one allocation; request slots (each request's
 * denoising state); and a step runner per (batch, text tokens, image grid) whose launches are
 * captured once into a CUDA graph and replayed over whichever slots are bound to it.
 * defines: DIT_MAX_BATCH, dit_gpu, dit_slot, dit_gpu_step, dit_attn_backend, dit_gpu_create, dit_gpu_destroy,
 *          dit_gpu_init_random, dit_gpu_load_weights, dit_slot_create, dit_slot_destroy,
 *          dit_slot_set_inputs, dit_slot_random_inputs, dit_slot_prepare, dit_slot_read_latent,
 *          dit_slot_step_index, dit_slot_set_step, dit_slot_copy_state, dit_gpu_device, dit_gpu_hold,
 *          dit_gpu_step_create, dit_gpu_step_destroy,
 *          dit_gpu_step_bind, dit_gpu_step_run, dit_gpu_step_set_inputs, dit_gpu_step_random_inputs,
 *          dit_gpu_step_forward, dit_gpu_step_capture, dit_gpu_step_replay, dit_gpu_step_denoise,
 *          dit_gpu_step_read_velocity, dit_gpu_step_read_latent, dit_gpu_step_flops, dit_gpu_step_bytes,
 *          dit_gpu_step_sample_ms, dit_gpu_step_run_marked,
 *          dit_gpu_weight_bytes, dit_gpu_stream, dit_gpu_cublas, dit_gpu_set_gemm_tuning,
 *          dit_gpu_step_prepare, dit_gpu_step_attention, dit_attn_backend_name,
 *          dit_attn_backend_parse, dit_gpu_get_paths, dit_gpu_paths_text, dit_gpu_attention_runs, dit_slot_create_sp,
 *          dit_slot_shard, dit_slot_migration, dit_slot_migrate, dit_slot_migrate_idle, dit_slot_model,
 *          dit_gpu_step_create_sp, dit_gpu_step_shape, dit_gpu_step_shard, dit_gpu_step_model,
 *          dit_gpu_step_is_bound, dit_gpu_step_exchange, dit_gpu_step_clear_exchange,
 *          dit_gpu_step_n_blocks, dit_gpu_step_enqueue_begin, dit_gpu_step_enqueue_block_a,
 *          dit_gpu_step_enqueue_block_attention, dit_gpu_step_enqueue_block_b,
 *          dit_gpu_step_enqueue_end, dit_gpu_step_enqueue_update, dit_gpu_layout.
 *
 * A denoising step = the transformer forward (velocity) + the Euler update of the latent with the
 * schedule's sigmas. The state a step advances lives in slots, apart from the runner: a slot holds
 * one request's latent, text rows, pooled vector, sigma schedule, modulation table and step index.
 * A runner's graph reads a table of B slots (dit_gpu_step_bind rewrites it between blocks), so the
 * requests of a batch may stand at different steps of different schedules (selective and
 * continuous batching), and one captured graph serves every step of every request of its shape.
 * Everything runs on the model's stream, in order; slots are allocated stream-ordered.
 *
 * Sequence parallelism (Ulysses, dit/sp.h): a runner and its slots of degree k and rank r hold that
 * rank's rows only (its text rows and its image rows); the k runners of a request's group meet at
 * two all-to-alls per block, which dit/sp_group.h drives through the phase functions below. Degree
 * 1, rank 0 is the one-GPU runner, and what every function here without _sp makes. */
#ifndef TETRI_DIT_DIT_GPU_H
#define TETRI_DIT_DIT_GPU_H

#include <stdint.h>
#include <cuda_runtime.h>

#include "dit/gemm.h"
#include "dit/gpu_plan.h"
#include "dit/model.h"
#include "dit/sp.h"
#include "dit/step_inputs.h"
#include "core/error.h"

/* The largest batch a runner takes. */
#define DIT_MAX_BATCH 64

typedef struct dit_gpu dit_gpu;
typedef struct dit_slot dit_slot;
typedef struct dit_gpu_step dit_gpu_step;

typedef enum dit_attn_backend {
    DIT_ATTN_FLASH = 0,  /* kernels/attention_wgmma.cu: ours on Hopper's wgmma, scores never in memory */
    DIT_ATTN_FLASH_MMA,  /* kernels/attention.cu: ours on mma.sync (any sm_80+ GPU), same contract */
    DIT_ATTN_ORACLE,     /* kernels/attention_oracle.cu: fp32 cuBLAS, for tests (memory grows as L^2) */
    DIT_ATTN_CUDNN,      /* dit/attention_cudnn.c: cuDNN's fused flash attention (builds with cuDNN 9 only) */
    DIT_ATTN_AUTO,       /* the default: cuDNN where the build has it and it takes the step's shape, else
                          * FLASH on the Hopper paths and FLASH_MMA on the Ampere paths (dit_gpu_get_paths);
                          * resolved at the step's first forward (dit_gpu_step_attention) */
} dit_attn_backend;

/* On the current device. Chooses the GPU paths (dit_gpu_paths_choose: by the device's compute
 * capability, the build's code for it and TETRI_GPU_PATHS) and refuses a GPU older than sm_80. */
int dit_gpu_create(const dit_layout *L, dit_gpu **out, tetri_error *err);
/* The paths chosen, and the one line saying so (for the commands to print). On the Ampere paths
 * DIT_ATTN_FLASH (wgmma) is refused: by dit_gpu_attention_runs before any step exists, and at the
 * step's forward for a caller that did not ask. */
dit_gpu_paths dit_gpu_get_paths(const dit_gpu *m);
const char *dit_gpu_paths_text(const dit_gpu *m);
int dit_gpu_attention_runs(const dit_gpu *m, dit_attn_backend b, tetri_error *err);
void dit_gpu_destroy(dit_gpu *m);
/* Seeded weights of the true shapes, generated on the GPU (the same values dit_cpu_init_weights makes). */
int dit_gpu_init_random(dit_gpu *m, uint64_t seed, tetri_error *err);
/* Weights from a diffusers transformer folder (see dit_load_weights_dir). */
int dit_gpu_load_weights(dit_gpu *m, const char *dir, tetri_error *err);
size_t dit_gpu_weight_bytes(const dit_gpu *m);
cudaStream_t dit_gpu_stream(const dit_gpu *m);
const dit_layout *dit_gpu_layout(const dit_gpu *m);
void *dit_gpu_cublas(const dit_gpu *m); /* the cublasHandle_t the oracle uses */
/* How GEMM algorithms are chosen for shapes not seen yet (see dit_gemm_tuning); log: NULL or a
 * stream for one line per tuned shape. */
void dit_gpu_set_gemm_tuning(dit_gpu *m, dit_gemm_tuning t, FILE *log);

/* ---- slots: one request's state ----
 * A slot of `n_steps` steps for text_tokens text rows and a grid_h x grid_w latent grid, its
 * memory allocated on the model's stream (poisoned until written). */
int dit_slot_create(dit_gpu *m, int text_tokens, int grid_h, int grid_w, int n_steps, dit_slot **out, tetri_error *err);
/* The slot of rank `rank` of a request run at degree `degree`: its latent rows and text rows
 * (dit_sp_shard_of) and the whole of its conditioning (pooled vector, guidance, sigma schedule,
 * modulation table: per request, so every rank computes or holds all of it). The inputs functions
 * below take the whole request's inputs and keep the slot's rows; read_latent reads its rows
 * [nn, C p^2]. dit_slot_create is degree 1, rank 0. */
int dit_slot_create_sp(dit_gpu *m, int text_tokens, int grid_h, int grid_w, int n_steps, int degree, int rank, dit_slot **out,
                       tetri_error *err);
void dit_slot_shard(const dit_slot *sl, dit_sp_shard *sh);
/* Frees it, stream-ordered (after whatever was enqueued on it). NULL is fine. */
void dit_slot_destroy(dit_slot *sl);
/* Sample `sample` of in (latent, text, pooled, guidance; in->sigma[sample], when given, replaces
 * the schedule's first sigma: a single forward at that sigma); sigmas has n_steps + 1 values (NULL:
 * dit_sigma_schedule). Step 0; then dit_slot_prepare. Waits for the uploads. */
int dit_slot_set_inputs(dit_slot *sl, const dit_step_inputs *in, int sample, const float *sigmas, tetri_error *err);
/* Seeded random latent (uniform of unit variance), text and pooled vectors, guidance 3.5, the
 * model's schedule, step 0; then dit_slot_prepare. Enqueued only. */
int dit_slot_random_inputs(dit_slot *sl, uint64_t seed, tetri_error *err);
/* The request's conditioning for its whole schedule: timestep, guidance and pooled embeddings and
 * every block's modulation at every step's sigma (one [n_steps, mod_total] GEMM), which the steps
 * then only read. The inputs functions call it. Enqueued only. */
int dit_slot_prepare(dit_slot *sl, tetri_error *err);
int dit_slot_read_latent(const dit_slot *sl, float *host, tetri_error *err); /* [N, C p^2], waits */
int dit_slot_step_index(const dit_slot *sl, int *step, tetri_error *err);     /* waits */
int dit_slot_set_step(dit_slot *sl, int step, tetri_error *err);              /* waits */
/* Moves a request between GPUs: src's latent and step into dst (same model, shape, schedule; dst
 * already holds the request's conditioning), enqueued on dst's stream, peer to peer when the two
 * live on different devices. src must be idle. */
int dit_slot_copy_state(dit_slot *dst, const dit_slot *src, tetri_error *err);
/* What dit_slot_migrate does with the request's conditioning. */
typedef enum dit_slot_migration {
    DIT_MIGRATE_KEEP = 0,  /* nothing: the destinations already hold it (dit_slot_set_inputs or random_inputs on each) */
    DIT_MIGRATE_COPY,      /* copies schedule, guidance, pooled vector and the modulation table ([n_steps, mod_total] bf16:
                            * 3 MB a step for FLUX.1-dev) */
    DIT_MIGRATE_RECOMPUTE, /* copies schedule, guidance and pooled vector, then dit_slot_prepare on each destination
                            * (one [n_steps, mod_total] GEMM on its GPU, reading the 6.5 GB modulation weights) */
} dit_slot_migration;
/* Moves a request from degree a (src[0..a): its slots of ranks 0..a-1) to degree b (dst[0..b): new
 * slots of ranks 0..b-1, same model, shape and schedule): every latent row and text row to the new
 * rank that holds it (dit_sp_migration_plan; a run of rows between slots on one GPU is a
 * cudaMemcpyAsync, between GPUs a cudaMemcpyPeerAsync), the step index, and the conditioning as
 * `how` says; destination rank r's per-request state comes from source rank r mod a. Enqueued on the
 * destinations' streams after all work enqueued on the sources' streams so far, and each source's
 * stream is made to wait for the copies, so freeing a source slot afterwards is safe; no host
 * synchronisation. The slots may live on different GPUs (each copy and RECOMPUTE's GEMMs are issued
 * with the destination's device current; the caller's current device is restored). */
int dit_slot_migrate(dit_slot *const *dst, int b, dit_slot *const *src, int a, dit_slot_migration how, tetri_error *err);
/* The same, for a caller that knows the sources' last work has completed (a server that saw their
 * last block end): the copies do not wait for the sources' streams, which may since have taken
 * another request's block (waiting for it would delay the move by that whole block); each source's
 * stream still waits for the copies, so freeing a source slot afterwards is safe. */
int dit_slot_migrate_idle(dit_slot *const *dst, int b, dit_slot *const *src, int a, dit_slot_migration how, tetri_error *err);
dit_gpu *dit_slot_model(const dit_slot *sl);
int dit_gpu_device(const dit_gpu *m);
/* Enqueues a kernel that holds the model's stream for ns of GPU time: a GPU that stops answering,
 * for the serving backend's failure tests. */
int dit_gpu_hold(dit_gpu *m, int64_t ns, tetri_error *err);

/* ---- runners ---- */
/* A runner for `batch` samples; n_steps is the schedule of the runner's own slots (set_inputs,
 * random_inputs). */
int dit_gpu_step_create(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int n_steps, dit_gpu_step **out,
                        tetri_error *err);
/* Rank `rank` of a group of degree `degree` (dit/sp.h: a power of two up to 8 dividing the heads,
 * at least one text row and one image row per rank): its activations are sized for its rows, its
 * RoPE rows (FLUX) and positional rows (SD3) are its rows' global ones, and attention runs on all
 * rows of n_heads / degree heads through exchange buffers. Degree > 1 runs only in a dit_sp_group
 * (dit/sp_group.h); forward, capture, run, denoise and sample_ms here refuse it. Its velocity and
 * latents read back are its rows ([B, nn, C p^2]); flops count its share. */
int dit_gpu_step_create_sp(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int n_steps, int degree, int rank,
                           dit_gpu_step **out, tetri_error *err);
void dit_gpu_step_destroy(dit_gpu_step *s);
/* Device memory of its activations (slots apart). */
size_t dit_gpu_step_bytes(const dit_gpu_step *s);
void dit_gpu_step_set_attention(dit_gpu_step *s, dit_attn_backend b);
/* The backend the step runs (AUTO until its first forward has resolved it). */
dit_attn_backend dit_gpu_step_attention(const dit_gpu_step *s);
const char *dit_attn_backend_name(dit_attn_backend b);
/* The backend of that name (dit_attn_backend_name's: auto, flash, flash-mma, oracle, cudnn); -1
 * when it names none. */
int dit_attn_backend_parse(const char *name, dit_attn_backend *out);
/* Makes slots[0..n) (n = the batch, slots of this model and shape) the ones the next steps
 * advance: enqueues the table's upload. The slots must live until those steps have run. */
int dit_gpu_step_bind(dit_gpu_step *s, dit_slot *const *slots, int n, tetri_error *err);
/* Enqueues n denoising steps of the bound slots (the graph if captured, else eager launches);
 * each slot advances from its own step. No synchronisation. */
int dit_gpu_step_run(dit_gpu_step *s, int n, tetri_error *err);
/* The single-runner API (benchmarks, tests): the runner's own slots, one per sample, filled from
 * `in` (per-sample sigmas allowed, see dit_slot_set_inputs) or seeded random, and bound. */
int dit_gpu_step_set_inputs(dit_gpu_step *s, const dit_step_inputs *in, const float *sigmas, tetri_error *err);
int dit_gpu_step_random_inputs(dit_gpu_step *s, uint64_t seed, tetri_error *err);
/* dit_slot_prepare on every bound slot, and waits: call it only to time the conditioning. */
int dit_gpu_step_prepare(dit_gpu_step *s, tetri_error *err);
/* Enqueues and waits for one transformer forward of the bound slots at their steps, without a
 * graph (the velocity only: slots do not advance). */
int dit_gpu_step_forward(dit_gpu_step *s, tetri_error *err);
/* Captures gather + forward + Euler update + step advance into a graph (after one eager forward,
 * on the runner's own seeded slots when none are bound). */
int dit_gpu_step_capture(dit_gpu_step *s, tetri_error *err);
/* Launches the captured graph once (asynchronously). */
int dit_gpu_step_replay(dit_gpu_step *s, tetri_error *err);
/* Times n single steps (dit_gpu_step_run(s, 1)) after `warmup` untimed ones, CUDA events around
 * each: ms[0..n) in milliseconds. The slots advance (their step index wraps at their schedule's end). */
int dit_gpu_step_sample_ms(dit_gpu_step *s, int warmup, int n, float *ms, tetri_error *err);
/* Enqueues n steps back to back, as a block of the GPU backend runs them, recording at[i] before
 * step i and at[n] after the last (n + 1 events, the caller's); nothing waits. Step i took
 * cudaEventElapsedTime(at[i], at[i + 1]) once at[n] has completed. */
int dit_gpu_step_run_marked(dit_gpu_step *s, int n, cudaEvent_t *at, tetri_error *err);
/* Sets the bound slots to step 0, runs n denoising steps and waits. */
int dit_gpu_step_denoise(dit_gpu_step *s, int n, tetri_error *err);
/* The last forward's velocity [B, N, C p^2] in packed token order, and the bound slots' latents
 * [B, N, C p^2], as floats. */
int dit_gpu_step_read_velocity(dit_gpu_step *s, float *host, tetri_error *err);
int dit_gpu_step_read_latent(dit_gpu_step *s, float *host, tetri_error *err);
/* Floating-point operations of one forward (2 per multiply-add: GEMMs and attention). */
double dit_gpu_step_flops(const dit_gpu_step *s);
int dit_gpu_step_image_tokens(const dit_gpu_step *s); /* N, the whole grid's */
void dit_gpu_step_shape(const dit_gpu_step *s, int *batch, int *text_tokens, int *grid_h, int *grid_w);
void dit_gpu_step_shard(const dit_gpu_step *s, dit_sp_shard *sh);
dit_gpu *dit_gpu_step_model(const dit_gpu_step *s);
int dit_gpu_step_is_bound(const dit_gpu_step *s); /* 1 when every sample has a slot */

/* ---- the forward in phases: what a sequence-parallel group (dit/sp_group.h) interleaves ----
 * One denoising step of a runner = begin; for each block i < n_blocks (double blocks, then single
 * blocks): block_a(i), [all-to-all: send_in -> recv_in], block_attention(i), [all-to-all: send_out
 * -> recv_out], block_b(i); then end (the velocity) and update (Euler, step + 1). Each enqueues on
 * the model's stream. At degree 1 there is no exchange and the sequence is the one-GPU forward.
 *   begin:           each bound slot's rows, embeddings, the first block's norm
 *   block_a:         the block's qkv [B, Ll, 3D], q/k norm and RoPE; at degree k packed into send_in
 *   block_attention: degree k: recv_in -> attention over all rows of n_heads / k heads -> send_out
 *   block_b:         degree k: recv_out -> the attention output; then the rest of the block
 *   end, update:     proj_out and the velocity [B, Nl, C p^2]; each slot's Euler step and step index */
int dit_gpu_step_n_blocks(const dit_gpu_step *s);
int dit_gpu_step_enqueue_begin(dit_gpu_step *s, tetri_error *err);
int dit_gpu_step_enqueue_block_a(dit_gpu_step *s, int block, tetri_error *err);
int dit_gpu_step_enqueue_block_attention(dit_gpu_step *s, int block, tetri_error *err);
int dit_gpu_step_enqueue_block_b(dit_gpu_step *s, int block, tetri_error *err);
int dit_gpu_step_enqueue_end(dit_gpu_step *s, tetri_error *err);
int dit_gpu_step_enqueue_update(dit_gpu_step *s, tetri_error *err);
/* The exchange buffers (NULL at degree 1), chunk layout and sizes as dit_sp_a2a_in_bytes and
 * dit_sp_a2a_out_bytes (bf16, elem_bytes 2) say: before attention the rank sends send_in and
 * receives recv_in, after it sends send_out and receives recv_out. */
void dit_gpu_step_exchange(const dit_gpu_step *s, void **send_in, void **recv_in, void **send_out, void **recv_out);
/* Zeroes the receive buffers (enqueued): for a transport that moves nothing (timing one rank
 * alone), so that attention reads zeros rather than the NaN they are poisoned with. */
int dit_gpu_step_clear_exchange(dit_gpu_step *s, tetri_error *err);

#endif
