/* dit/gpu_plan.h: what a GPU run will take and which kernels it will run, decided without CUDA:
 * the executor's paths for a compute capability (Hopper: wgmma attention; Ampere: mma.sync or
 * cuDNN's), and the device memory of a model, a step runner and its slots (the byte counts the GPU
 * runner carves its arenas by: one function for both, at every Ulysses degree: a runner or slot of
 * degree k and rank r holds that rank's rows (dit/sp.h), and a runner the exchange buffers).
 * defines: dit_gpu_paths, DIT_GPU_PATHS_ENV, dit_gpu_paths_choose, dit_gpu_paths_name,
 *          DIT_STEP_BUFS, DIT_SLOT_BUFS, DIT_ARENA_ALIGN, DIT_SLOT_REF_BYTES, DIT_GEMM_WORKSPACE_BYTES,
 *          DIT_MEM_RESERVE_BYTES, dit_arena_round, dit_step_buffer_bytes, dit_slot_buffer_bytes,
 *          dit_arena_bytes, dit_mem_plan, dit_mem_plan_compute, dit_parse_gpu_memory.
 *
 * CPU only: `tetri bench-step --plan-memory` runs it in the build without CUDA (and in CI), and
 * the pure functions of the paths choice are unit-tested there. */
#ifndef TETRI_DIT_GPU_PLAN_H
#define TETRI_DIT_GPU_PLAN_H

#include <stddef.h>

#include "core/error.h"
#include "dit/model.h"

/* ---- paths: which kernels a GPU runs ---- */
typedef enum dit_gpu_paths {
    DIT_PATHS_HOPPER = 0, /* sm_90 with the build's sm_90a code: wgmma attention (or cuDNN's) */
    DIT_PATHS_AMPERE,     /* sm_80, sm_86, sm_89, later GPUs, or forced: mma.sync attention (or cuDNN's), no wgmma */
} dit_gpu_paths;

/* The environment variable that forces a choice: "ampere" (the paths of an sm_80/86 GPU, on any
 * GPU: how the portable kernels are tested on Hopper), "hopper" (refused where it cannot run),
 * "auto" or unset (by the device). `tetri bench-step --paths NAME` sets it. */
#define DIT_GPU_PATHS_ENV "TETRI_GPU_PATHS"

/* The paths for a device `name` of compute capability major.minor; wgmma_built: whether the code
 * this device loaded has the wgmma kernel (an sm_90a build of it: tk_attention_wgmma_built);
 * request: the forced choice (DIT_GPU_PATHS_ENV's value; NULL, "" or "auto": by the device).
 * Writes *out and one line saying what was picked and why to text. Returns 0, or -1 with err:
 * a GPU older than sm_80 (named, with its compute capability), an unknown request, or "hopper"
 * requested where it cannot run. */
int dit_gpu_paths_choose(const char *name, int major, int minor, int wgmma_built, const char *request, dit_gpu_paths *out,
                         char *text, size_t text_len, tetri_error *err);
const char *dit_gpu_paths_name(dit_gpu_paths p); /* "hopper", "ampere" */

/* ---- device memory ---- */
/* Arenas are carved in this order, each buffer rounded up to DIT_ARENA_ALIGN bytes. The last six
 * are the exchange of a runner of degree k > 1 (0 bytes, and not carved, at degree 1): send_in,
 * recv_in, att_in, att_out, send_out, recv_out (dit_gpu.c, struct dit_gpu_step). */
enum {
    DIT_BUF_REFS, DIT_BUF_VEL, DIT_BUF_SIG2, DIT_BUF_ROPE_COS, DIT_BUF_ROPE_SIN, DIT_BUF_LAT16, DIT_BUF_TXT, DIT_BUF_MOD,
    DIT_BUF_H, DIT_BUF_NRM, DIT_BUF_QKV, DIT_BUF_ATT, DIT_BUF_Y, DIT_BUF_BIG, DIT_BUF_OUT,
    DIT_BUF_SEND_IN, DIT_BUF_RECV_IN, DIT_BUF_ATT_IN, DIT_BUF_ATT_OUT, DIT_BUF_SEND_OUT, DIT_BUF_RECV_OUT,
    DIT_STEP_BUFS
};
enum {
    DIT_SBUF_LAT, DIT_SBUF_TXT, DIT_SBUF_MOD, DIT_SBUF_SIGMAS, DIT_SBUF_STEP, DIT_SBUF_POOLED, DIT_SBUF_GUID, DIT_SBUF_T_ROWS,
    DIT_SBUF_G_ROWS, DIT_SBUF_POOLED_ROWS, DIT_SBUF_TPROJ, DIT_SBUF_E1, DIT_SBUF_E2, DIT_SBUF_TEMB,
    DIT_SLOT_BUFS
};
#define DIT_ARENA_ALIGN 256
/* sizeof(tk_slot_ref) (kernels/kernels.h; dit_gpu.c asserts it): five pointers and an int. */
#define DIT_SLOT_REF_BYTES 48
/* Each cuBLASLt context's workspace (dit/gemm.c); a model has two (image and text streams). */
#define DIT_GEMM_WORKSPACE_BYTES (32u << 20)
/* What the plan cannot count and allows for: the CUDA context, the kernels of cuBLASLt, cuDNN and
 * ours as loaded, the handles, the captured graph and cuDNN's attention workspace. An allowance,
 * not a measurement: bench-step prints the memory in use beside the plan. */
#define DIT_MEM_RESERVE_BYTES ((size_t)1 << 30)

static inline size_t dit_arena_round(size_t bytes) { return (bytes + DIT_ARENA_ALIGN - 1) & ~(size_t)(DIT_ARENA_ALIGN - 1); }
/* The buffers of rank `rank` of a runner of degree `degree` (dit_gpu_step_create_sp; 1, 0: the
 * one-GPU runner, dit_gpu_step_create) for batch samples of T text tokens on a gh x gw grid: the
 * per-row buffers for its Ll = tn + nn rows (dit_sp_shard_of), the RoPE rows likewise, and at
 * degree k > 1 the exchange, whose sizes are what dit_sp_a2a_in_bytes / dit_sp_a2a_out_bytes say
 * the rank sends and receives (bf16). degree and rank as dit_sp_check allows them. */
void dit_step_buffer_bytes(const dit_layout *L, int batch, int T, int gh, int gw, int degree, int rank, size_t bytes[DIT_STEP_BUFS]);
/* One slot's buffers (dit_slot_create_sp; 1, 0: dit_slot_create): the rank's latent and text rows,
 * the whole of the conditioning. */
void dit_slot_buffer_bytes(const dit_layout *L, int T, int gh, int gw, int n_steps, int degree, int rank, size_t bytes[DIT_SLOT_BUFS]);
/* An arena of those buffers: the sum of each rounded up. */
size_t dit_arena_bytes(const size_t *bytes, int n);

typedef struct dit_mem_plan {
    size_t weights;     /* the weights' one allocation (dit_gpu_create) */
    size_t workspaces;  /* the two cuBLASLt workspaces, and the oracle attention's when it runs */
    size_t activations; /* the runner's arena */
    size_t slots;       /* batch slots (the runner's own, as bench-step makes them) */
    size_t reserve;     /* DIT_MEM_RESERVE_BYTES */
    size_t total;
} dit_mem_plan;
/* The device memory of one configuration: the model, a runner of batch x (T, gh x gw) and its
 * batch slots of n_steps, at degree 1 (one GPU: what bench-step runs); oracle: with the oracle
 * attention's workspace. */
void dit_mem_plan_compute(const dit_layout *L, int batch, int T, int gh, int gw, int n_steps, int oracle, dit_mem_plan *out);

/* A memory size: a number with K, M, G, T (binary: GiB...; also KiB, MiB, GiB, TiB) or KB, MB, GB,
 * TB (decimal), or a GPU's name for its memory as nvidia-smi reports it (a40, a100-80, h100,
 * h200). label (may be NULL) gets what it read, e.g. "A40 (46068 MiB)". Returns 0 or -1. */
int dit_parse_gpu_memory(const char *text, size_t *bytes, char *label, size_t label_len);

#endif
