/* exec/gemm.c: cuBLASLt wrapper (see gemm.h). */
#include "exec/gemm.h"

/* cublasLt.h declares a function without a prototype; keep -Wstrict-prototypes for our code */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#pragma GCC diagnostic pop
#include <stdlib.h>
#include <string.h>

#define GEMM_WORKSPACE (32u << 20)
#define GEMM_CACHE 256

typedef struct gemm_key {
    int M, N, K, epi;
    int64_t ldx, ldy;
    int beta_nonzero;
} gemm_key;

typedef struct gemm_plan {
    gemm_key key;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t a, b, c;
    cublasLtMatmulAlgo_t algo;
} gemm_plan;

struct dit_gemm_ctx {
    cublasLtHandle_t lt;
    cudaStream_t stream;
    void *workspace;
    gemm_plan plans[GEMM_CACHE];
    int n_plans;
};

int dit_gemm_create(cudaStream_t stream, dit_gemm_ctx **out, tetri_error *err)
{
    dit_gemm_ctx *g = calloc(1, sizeof *g);
    if (!g) return tetri_errorf(err, "gemm: out of memory");
    if (cublasLtCreate(&g->lt) != CUBLAS_STATUS_SUCCESS) { free(g); return tetri_errorf(err, "gemm: cublasLtCreate failed"); }
    cudaError_t e = cudaMalloc(&g->workspace, GEMM_WORKSPACE);
    if (e != cudaSuccess) {
        cublasLtDestroy(g->lt);
        free(g);
        return tetri_errorf(err, "gemm: cannot allocate the %u MiB workspace: %s", GEMM_WORKSPACE >> 20, cudaGetErrorString(e));
    }
    g->stream = stream;
    *out = g;
    return 0;
}

void dit_gemm_destroy(dit_gemm_ctx *g)
{
    if (!g) return;
    for (int i = 0; i < g->n_plans; i++) {
        cublasLtMatmulDescDestroy(g->plans[i].op);
        cublasLtMatrixLayoutDestroy(g->plans[i].a);
        cublasLtMatrixLayoutDestroy(g->plans[i].b);
        cublasLtMatrixLayoutDestroy(g->plans[i].c);
    }
    cudaFree(g->workspace);
    cublasLtDestroy(g->lt);
    free(g);
}

void dit_gemm_set_stream(dit_gemm_ctx *g, cudaStream_t stream) { g->stream = stream; }

/* Builds the descriptors for a shape. Column-major view: Y^T[N, M] = W[N, K] X^T[K, M], so A is
 * W (stored K x N column-major, transposed), B is X (K x M column-major), C is Y (N x M, ld ldy). */
static int make_plan(dit_gemm_ctx *g, const gemm_key *k, gemm_plan *p, tetri_error *err)
{
    memset(p, 0, sizeof *p);
    p->key = *k;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtEpilogue_t epi = k->epi == DIT_EPI_GELU_BIAS ? CUBLASLT_EPILOGUE_GELU_BIAS
                           : k->epi == DIT_EPI_BIAS      ? CUBLASLT_EPILOGUE_BIAS
                                                         : CUBLASLT_EPILOGUE_DEFAULT;
    if (cublasLtMatmulDescCreate(&p->op, CUBLAS_COMPUTE_32F, CUDA_R_32F) != CUBLAS_STATUS_SUCCESS ||
        cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta) ||
        cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb) ||
        cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi))
        return tetri_errorf(err, "gemm: cannot create the matmul descriptor");
    if (k->epi != DIT_EPI_NONE) {
        cudaDataType_t bt = CUDA_R_16BF;
        if (cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt))
            return tetri_errorf(err, "gemm: cannot set the bias type");
    }
    if (cublasLtMatrixLayoutCreate(&p->a, CUDA_R_16BF, (uint64_t)k->K, (uint64_t)k->N, k->K) ||
        cublasLtMatrixLayoutCreate(&p->b, CUDA_R_16BF, (uint64_t)k->K, (uint64_t)k->M, k->ldx) ||
        cublasLtMatrixLayoutCreate(&p->c, CUDA_R_16BF, (uint64_t)k->N, (uint64_t)k->M, k->ldy))
        return tetri_errorf(err, "gemm: cannot create the matrix layouts");
    cublasLtMatmulPreference_t pref;
    size_t ws = GEMM_WORKSPACE;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    cublasLtMatmulHeuristicResult_t res;
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(g->lt, p->op, p->a, p->b, p->c, p->c, pref, 1, &res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0)
        return tetri_errorf(err, "gemm: cuBLASLt has no algorithm for M=%d N=%d K=%d (ldx %lld, ldy %lld, epilogue %d)", k->M,
                            k->N, k->K, (long long)k->ldx, (long long)k->ldy, k->epi);
    p->algo = res.algo;
    return 0;
}

int dit_gemm_run(dit_gemm_ctx *g, int M, int N, int K, const void *X, int64_t ldx, const void *W, const void *bias,
                 void *Y, int64_t ldy, dit_gemm_epilogue epi, float beta, tetri_error *err)
{
    if (M <= 0 || N <= 0 || K <= 0 || ldx < K || ldy < N)
        return tetri_errorf(err, "gemm: bad shape M=%d N=%d K=%d ldx=%lld ldy=%lld", M, N, K, (long long)ldx, (long long)ldy);
    if (((uintptr_t)X | (uintptr_t)W | (uintptr_t)Y | (uintptr_t)bias) % 16 || ldx % 8 || ldy % 8 || K % 8)
        return tetri_errorf(err, "gemm: operands must be 16-byte aligned (M=%d N=%d K=%d)", M, N, K);
    if (epi != DIT_EPI_NONE && !bias) return tetri_errorf(err, "gemm: bias epilogue without a bias");
    /* cuBLASLt applies GELU to (X W^T + bias + beta Y), not GELU(X W^T + bias) + beta Y: refuse the
     * ambiguous combination rather than compute a surprise. */
    if (epi == DIT_EPI_GELU_BIAS && beta != 0.f) return tetri_errorf(err, "gemm: the GELU epilogue cannot accumulate (beta must be 0)");
    gemm_key key = {M, N, K, (int)epi, ldx, ldy, beta != 0.f};
    gemm_plan *p = NULL;
    for (int i = 0; i < g->n_plans; i++)
        if (memcmp(&g->plans[i].key, &key, sizeof key) == 0) { p = &g->plans[i]; break; }
    if (!p) {
        if (g->n_plans == GEMM_CACHE) return tetri_errorf(err, "gemm: more than %d distinct shapes", GEMM_CACHE);
        p = &g->plans[g->n_plans];
        if (make_plan(g, &key, p, err)) return -1;
        g->n_plans++;
    }
    if (epi != DIT_EPI_NONE &&
        cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias) != CUBLAS_STATUS_SUCCESS)
        return tetri_errorf(err, "gemm: cannot set the bias pointer");
    const float alpha = 1.f;
    cublasStatus_t st = cublasLtMatmul(g->lt, p->op, &alpha, W, p->a, X, p->b, &beta, Y, p->c, Y, p->c, &p->algo,
                                       g->workspace, GEMM_WORKSPACE, g->stream);
    if (st != CUBLAS_STATUS_SUCCESS)
        return tetri_errorf(err, "gemm: cublasLtMatmul failed (status %d) for M=%d N=%d K=%d", (int)st, M, N, K);
    return 0;
}
