/* dit/gemm.h: the one wrapper through which every linear layer runs: cuBLASLt, bf16 operands,
 * fp32 accumulation, bias or bias + GELU-tanh fused in the epilogue.
 * defines: dit_gemm_ctx, dit_gemm_epilogue, dit_gemm_tuning, dit_gemm_create, dit_gemm_destroy,
 *          dit_gemm_set_stream, dit_gemm_set_tuning, dit_gemm_run, dit_gemm_run_batched.
 *
 * Row-major: Y[M, N] = beta Y + X[M, K] W[N, K]^T (+ bias[N]) (then GELU), X rows ldx apart, Y rows
 * ldy apart (so a GEMM can write a column slice of a wider buffer, e.g. the MLP half of FLUX's
 * single-block concat). Algorithms come from cuBLASLt's heuristic once per shape and are cached;
 * the cache lookup is the only host work on a repeated shape. The GELU epilogue takes beta = 0 only. */
#ifndef TETRI_DIT_GEMM_H
#define TETRI_DIT_GEMM_H

#include <stdint.h>
#include <stdio.h>
#include <cuda_runtime.h>

#include "core/error.h"

typedef enum dit_gemm_epilogue { DIT_EPI_NONE = 0, DIT_EPI_BIAS, DIT_EPI_GELU_BIAS } dit_gemm_epilogue;

typedef struct dit_gemm_ctx dit_gemm_ctx;

/* How a shape's algorithm is chosen the first time it is seen: cuBLASLt's heuristic's first
 * choice; or the fastest of its candidates timed on the real operands, among those whose output is
 * bit-identical to the heuristic's (results unchanged) or among all run-to-run reproducible ones. */
typedef enum dit_gemm_tuning { DIT_GEMM_HEURISTIC = 0, DIT_GEMM_TUNE_IDENTICAL, DIT_GEMM_TUNE_FASTEST } dit_gemm_tuning;

int dit_gemm_create(cudaStream_t stream, dit_gemm_ctx **out, tetri_error *err);
void dit_gemm_destroy(dit_gemm_ctx *g);
void dit_gemm_set_stream(dit_gemm_ctx *g, cudaStream_t stream);
/* log: one line per tuned shape (NULL: silent). */
void dit_gemm_set_tuning(dit_gemm_ctx *g, dit_gemm_tuning t, FILE *log);

int dit_gemm_run(dit_gemm_ctx *g, int M, int N, int K, const void *X, int64_t ldx, const void *W, const void *bias,
                 void *Y, int64_t ldy, dit_gemm_epilogue epi, float beta, tetri_error *err);
/* The same for `batch` independent (X, Y) pairs sharing W and the bias, in one launch: pair i's
 * X starts i x sx elements after X, its Y i x sy after Y (a per-sample slice of a batched
 * activation buffer, e.g. each sample's image rows). */
int dit_gemm_run_batched(dit_gemm_ctx *g, int batch, int M, int N, int K, const void *X, int64_t ldx, int64_t sx, const void *W,
                         const void *bias, void *Y, int64_t ldy, int64_t sy, dit_gemm_epilogue epi, float beta, tetri_error *err);

#endif
