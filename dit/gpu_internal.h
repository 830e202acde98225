/* dit/gpu_internal.h: what dit/dit_gpu.c (the model and its runners) and dit/slot.c (request
 * slots and their migration) share, and nothing else includes: the three structs, the weight and
 * arena pointers, the arena, the model's linear layer (and dit/cuda_check.h's CU and KL).
 * defines: struct dit_gpu, struct dit_slot, struct dit_gpu_step, wptr, bptr, dit_arena,
 *          dit_arena_take, dit_gpu_lin_model. */
#ifndef TETRI_DIT_GPU_INTERNAL_H
#define TETRI_DIT_GPU_INTERNAL_H

#include <cublas_v2.h>

#include "dit/attention_cudnn.h"
#include "dit/cuda_check.h"
#include "dit/dit_gpu.h"
#include "dit/gemm.h"
#include "dit/gpu_plan.h"
#include "dit/sp.h"
#include "kernels/kernels.h"

struct dit_gpu {
    const dit_layout *L;
    int device;              /* the CUDA device it lives on (current at create) */
    cudaStream_t stream;
    dit_gemm_ctx *gemm;
    /* The text stream of the double blocks: its GEMMs run beside the image stream's (small M on
     * each side underfills the GPU at 256-512 px); own cuBLASLt workspace, joined by events. */
    cudaStream_t stream_txt;
    dit_gemm_ctx *gemm_txt;
    cudaEvent_t ev_fork, ev_join;
    cublasHandle_t cublas;
    dit_cudnn_attn_ctx *cudnn; /* --attention cudnn: made at its first call (eager), plans cached per shape */
    void *w; /* bf16 [L->total] */
    dit_gpu_paths paths;     /* the kernels this GPU runs (dit/gpu_plan.h), chosen at create */
    char paths_text[384];
};

_Static_assert(sizeof(tk_slot_ref) == DIT_SLOT_REF_BYTES, "dit/gpu_plan.h's DIT_SLOT_REF_BYTES is sizeof(tk_slot_ref)");

/* One request's state (see dit_gpu.h, dit_slot): one stream-ordered allocation on its model's GPU.
 * A slot of degree k holds rank sh.rank's rows of the latent and of the text (sh: dit/sp.h) and
 * the whole of everything else: the conditioning is per request, not per row. */
struct dit_slot {
    dit_gpu *m;
    int T, gh, gw, N, n_steps; /* the request's: all text rows, the whole grid */
    dit_sp_shard sh;         /* the rows it holds (degree 1: all of them) */
    void *arena;
    tk_slot_ref ref;         /* lat [nn, C p^2] f32, txt [tn, text_dim], mod [n_steps, mod_total], sigmas, step */
    void *pooled;            /* [pooled_dim] bf16 */
    float *guid;             /* [1] FLUX.1-dev's guidance scale (0: none) */
    /* the conditioning's scratch, one row per step k (dit_slot_prepare) */
    float *t_rows, *g_rows;  /* [n_steps] */
    void *pooled_rows;       /* [n_steps, pooled_dim] */
    void *tproj;             /* [n_steps, 256] */
    void *e1, *e2, *temb;    /* [n_steps, D] */
};

/* A runner of degree k holds rank sh.rank's rows of each sample: Tl text rows, then Nl image rows,
 * Ll in all (degree 1: T, N, Lt). Every per-row activation is [B, Ll, ...]; attention sees all Lt
 * rows of H / k heads, through the exchange buffers (NULL at degree 1, where attention reads qkv and
 * writes its output in place). */
struct dit_gpu_step {
    dit_gpu *m;
    int B, T, gh, gw, N, Lt, n_steps; /* the request shape: all rows */
    dit_sp_shard sh;                  /* this rank's rows */
    int Tl, Nl, Ll;                   /* = sh.tn, sh.nn, their sum */
    int Lrank[DIT_SP_MAX_DEGREE];     /* every rank's rows, as the pack/unpack kernels take them */
    dit_attn_backend attn;
    double flops;
    /* The slots the graph reads: refs [B] in device memory, written from refs_host (pinned) by
     * dit_gpu_step_bind; bind_done marks that copy, so the next bind does not rewrite refs_host
     * under a copy still in flight. */
    tk_slot_ref *refs, *refs_host;
    dit_slot *bound[DIT_MAX_BATCH];
    dit_slot *own[DIT_MAX_BATCH];  /* made by set_inputs / random_inputs */
    cudaEvent_t bind_done;
    /* device buffers, carved from one arena */
    void *arena;
    float *vel;              /* [B, Nl, C p^2] the last forward's velocity, packed token order */
    float *sig2;             /* [B, 2] each sample's sigma and next sigma at its step */
    float *rope_cos, *rope_sin; /* [Ll, hd / 2] the table's rows at this rank's rows' global positions */
    float *oracle_ws;
    void *lat16;             /* [B, Nl, C p^2] bf16: the gathered latents */
    void *txt;               /* [B, Tl, text_dim] bf16: the gathered text rows */
    void *mod;               /* [B, mod_total] bf16: each sample's modulation row at its step */
    void *h, *nrm, *qkv, *att, *y, *big, *out; /* activations: [B, Ll, D], [B, Ll, D], [B, Ll, 3D], [B, Ll, D],
                                                  [B, Ll, D], [B, Ll, D + M], [B, Nl, C p^2] */
    /* the exchange (degree k > 1; Dk = D / k; chunk layout in dit/sp.h): */
    void *send_in;           /* [k][B, Ll, 3 Dk] qkv packed by head group */
    void *recv_in;           /* [k][B, L_i, 3 Dk] every rank's rows of this rank's heads */
    void *att_in;            /* [B, Lt, 3 Dk] attention's input */
    void *att_out;           /* [B, Lt, Dk] attention's output */
    void *send_out;          /* [k][B, L_i, Dk] att_out's rows by owner */
    void *recv_out;          /* [k][B, Ll, Dk] this rank's rows of every head group */
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

static inline void *wptr(const dit_gpu *m, int64_t off) { return off < 0 ? NULL : (char *)m->w + off * 2; }
static inline void *bptr(void *base, int64_t elems) { return (char *)base + elems * 2; }

/* One allocation carved in two passes: the first (base NULL) measures, the second hands out. */
typedef struct dit_arena {
    char *base;
    size_t used;
} dit_arena;
static inline void *dit_arena_take(dit_arena *a, size_t bytes)
{
    void *p = a->base ? a->base + a->used : NULL;
    a->used += dit_arena_round(bytes);
    return p;
}

/* y = l(X) on `rows` rows through the model's weights (the conditioning's and the forward's GEMMs). */
int dit_gpu_lin_model(dit_gemm_ctx *g, const dit_gpu *m, const dit_linear *l, int rows, const void *X, int64_t ldx, void *Y,
                     int64_t ldy, dit_gemm_epilogue epi, float beta, tetri_error *err);

#endif
