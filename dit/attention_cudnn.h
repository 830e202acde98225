/* dit/attention_cudnn.h: cuDNN's fused flash attention as a second fast attention path, through the
 * cuDNN 9 backend graph API (the C API under cudnn-frontend's `sdpa` node).
 * defines: dit_cudnn_attn_ctx, dit_cudnn_attn_create, dit_cudnn_attn_destroy, dit_cudnn_attention,
 *          dit_cudnn_attn_plan_info, dit_cudnn_versions, DIT_CUDNN_REFUSED.
 *
 * Same contract as tk_attention_wgmma (kernels/kernels.h): softmax(Q K^T / sqrt(hd)) V for every head,
 * q, k, v rows of stride ld (head h at column h x hd), samples bs elements apart; out rows of stride
 * ldo, samples obs apart; bf16 in and out, fp32 inside. No copies: the strides go into cuDNN's 4-D
 * [B, H, L, hd] tensor descriptors as they are.
 *
 * An execution plan is built once per (B, L, H, hd, ld, bs, ldo, obs) and kept in the context with its
 * workspace (allocated when the plan is built, never per call), so a caller that runs each shape once
 * eagerly can then capture the calls into a CUDA graph: a call whose plan exists allocates nothing
 * and does not synchronise. This header does not include cudnn.h; it is compiled only where
 * configure found cuDNN (HAVE_CUDNN in config.h). */
#ifndef TETRI_DIT_ATTENTION_CUDNN_H
#define TETRI_DIT_ATTENTION_CUDNN_H

#include <stdint.h>
#include <cuda_runtime.h>

#include "core/error.h"

typedef struct dit_cudnn_attn_ctx dit_cudnn_attn_ctx;

/* dit_cudnn_attention's return value when cuDNN has no engine for the shape (err says what it said),
 * as opposed to -1 for any other failure. */
#define DIT_CUDNN_REFUSED (-2)

/* A cuDNN handle and an empty plan cache. */
int dit_cudnn_attn_create(dit_cudnn_attn_ctx **out, tetri_error *err);
void dit_cudnn_attn_destroy(dit_cudnn_attn_ctx *c);

/* Enqueues the attention on stream s (the plan is built on the first call of a shape, which must not
 * be inside a stream capture). 0, DIT_CUDNN_REFUSED or -1. */
int dit_cudnn_attention(dit_cudnn_attn_ctx *c, const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out,
                        int64_t ldo, int64_t obs, int batch, int L, int H, int hd, cudaStream_t s, tetri_error *err);

/* The most recently built plan, in words: graph form, engine, workspace (for logs). */
const char *dit_cudnn_attn_plan_info(const dit_cudnn_attn_ctx *c);

/* cuDNN's version as cudnnGetVersion() reports it at run time, and the one the headers said at build
 * time (both as 9xxyy, e.g. 91900 for 9.19.0). */
void dit_cudnn_versions(long *runtime, long *built);

#endif
