/* dit/gemm.c: cuBLASLt wrapper (see gemm.h). */
#include "dit/gemm.h"

/* cublasLt.h declares a function without a prototype; keep -Wstrict-prototypes for our code */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#pragma GCC diagnostic pop
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dit/gpu_plan.h"
#include "kernels/kernels.h"

#define GEMM_WORKSPACE DIT_GEMM_WORKSPACE_BYTES /* dit/gpu_plan.h: the memory plan counts it */
#define GEMM_CACHE 256
#define GEMM_CANDIDATES 16 /* heuristic results the tuner times */
#define GEMM_TUNE_REPS 10

typedef struct gemm_key {
    int M, N, K, epi, batch;
    int64_t ldx, ldy, sx, sy; /* sx, sy: elements between one batch entry's X (Y) and the next */
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
    dit_gemm_tuning tuning;
    FILE *log;
};

void dit_gemm_set_tuning(dit_gemm_ctx *g, dit_gemm_tuning t, FILE *log)
{
    g->tuning = t;
    g->log = log;
}

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
static int tune_plan(dit_gemm_ctx *g, gemm_plan *p, const cublasLtMatmulHeuristicResult_t *res, int found, const void *X,
                     const void *W, const void *bias, void *Y, tetri_error *err);

static int make_plan(dit_gemm_ctx *g, const gemm_key *k, gemm_plan *p, const void *X, const void *W, const void *bias, void *Y,
                     tetri_error *err)
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
    if (k->batch > 1) { /* the weights (A) are shared: batch stride 0 */
        const int32_t n = k->batch;
        const int64_t s0 = 0, sx = k->sx, sy = k->sy;
        if (cublasLtMatrixLayoutSetAttribute(p->a, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof n) ||
            cublasLtMatrixLayoutSetAttribute(p->a, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &s0, sizeof s0) ||
            cublasLtMatrixLayoutSetAttribute(p->b, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof n) ||
            cublasLtMatrixLayoutSetAttribute(p->b, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sx, sizeof sx) ||
            cublasLtMatrixLayoutSetAttribute(p->c, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, &n, sizeof n) ||
            cublasLtMatrixLayoutSetAttribute(p->c, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, &sy, sizeof sy))
            return tetri_errorf(err, "gemm: cannot set the batch of %d", k->batch);
    }
    cublasLtMatmulPreference_t pref;
    size_t ws = GEMM_WORKSPACE;
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws);
    /* No split-K that reduces with atomics in the output: its bits change from run to run, and a
     * step must give the same bits every time (graph replay = eager forward, byte-identical runs). */
    const uint32_t schemes = CUBLASLT_REDUCTION_SCHEME_MASK & ~(uint32_t)CUBLASLT_REDUCTION_SCHEME_INPLACE;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes, sizeof schemes);
    cublasLtMatmulHeuristicResult_t res[GEMM_CANDIDATES];
    int found = 0;
    const int want = g->tuning == DIT_GEMM_HEURISTIC ? 1 : GEMM_CANDIDATES;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(g->lt, p->op, p->a, p->b, p->c, p->c, pref, want, res, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0)
        return tetri_errorf(err, "gemm: cuBLASLt has no algorithm for M=%d N=%d K=%d (ldx %lld, ldy %lld, epilogue %d, batch %d)",
                            k->M, k->N, k->K, (long long)k->ldx, (long long)k->ldy, k->epi, k->batch);
    p->algo = res[0].algo;
    enum cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    cudaStreamIsCapturing(g->stream, &cap);
    /* Tuning runs the candidates on the real operands, so it needs Y to be pure output (beta 0)
     * and cannot happen inside a graph capture (the step's eager forward makes every plan first). */
    if (g->tuning != DIT_GEMM_HEURISTIC && found > 1 && !k->beta_nonzero && cap == cudaStreamCaptureStatusNone)
        return tune_plan(g, p, res, found, X, W, bias, Y, err);
    return 0;
}

static void algo_describe(const cublasLtMatmulAlgo_t *a, char *buf, size_t n)
{
    int id = -1, splitk = 1;
    uint32_t tile = 0, stages = 0, red = 0, cluster = 0;
    size_t w;
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &w);
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &w);
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages, &w);
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk, &w);
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME, &red, sizeof red, &w);
    cublasLtMatmulAlgoConfigGetAttribute(a, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cluster, sizeof cluster, &w);
    snprintf(buf, n, "algo %d tile %u stages %u splitk %d red %u cluster %u", id, tile, stages, splitk, red, cluster);
}

static cublasStatus_t run_algo(dit_gemm_ctx *g, gemm_plan *p, const cublasLtMatmulAlgo_t *algo, const void *X, const void *W,
                               void *Y)
{
    const float alpha = 1.f, beta = 0.f;
    return cublasLtMatmul(g->lt, p->op, &alpha, W, p->a, X, p->b, &beta, Y, p->c, Y, p->c, algo, g->workspace, GEMM_WORKSPACE,
                          g->stream);
}

/* Times the heuristic's candidates on the real operands and keeps the fastest. The heuristic
 * offers no split-K with atomic reduction (make_plan's preference); candidates whose output still
 * changes between two runs are skipped; DIT_GEMM_TUNE_IDENTICAL also skips every candidate whose
 * output differs by one bit from the heuristic's first choice, so the step's results stay those of
 * the untuned executor. The heuristic's choice is kept unless another is at least 2% faster. */
static int tune_plan(dit_gemm_ctx *g, gemm_plan *p, const cublasLtMatmulHeuristicResult_t *res, int found, const void *X,
                     const void *W, const void *bias, void *Y, tetri_error *err)
{
    const gemm_key *k = &p->key;
    const int64_t words = (int64_t)(k->batch - 1) * k->sy + (int64_t)(k->M - 1) * k->ldy + k->N; /* bf16 elements Y spans */
    void *ref = NULL;
    unsigned long long *count = NULL;
    cudaEvent_t t0 = NULL, t1 = NULL;
    int rc = 0;
    if (k->epi != DIT_EPI_NONE)
        cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
    if (cudaMalloc(&ref, (size_t)words * 2) != cudaSuccess || cudaMalloc((void **)&count, sizeof *count) != cudaSuccess ||
        cudaEventCreate(&t0) != cudaSuccess || cudaEventCreate(&t1) != cudaSuccess) {
        rc = tetri_errorf(err, "gemm tuning: cannot allocate %.1f MiB of scratch", (double)words * 2 / (1 << 20));
        goto out;
    }
    int best = 0;
    float best_us = 0, heur_us = 0;
    int best_identical = 1;
    for (int i = 0; i < found; i++) {
        if (res[i].state != CUBLAS_STATUS_SUCCESS) continue;
        if (run_algo(g, p, &res[i].algo, X, W, Y) != CUBLAS_STATUS_SUCCESS) {
            if (i == 0) { rc = tetri_errorf(err, "gemm tuning: the heuristic's first algorithm fails for M=%d N=%d K=%d", k->M, k->N, k->K); goto out; }
            continue;
        }
        int identical = 1;
        if (i == 0) {
            cudaMemcpyAsync(ref, Y, (size_t)words * 2, cudaMemcpyDeviceToDevice, g->stream);
        } else {
            unsigned long long d1 = 0, d2 = 0;
            tk_count_diff_u16(Y, ref, words, count, g->stream);
            cudaMemcpyAsync(&d1, count, sizeof d1, cudaMemcpyDeviceToHost, g->stream);
            run_algo(g, p, &res[i].algo, X, W, Y);
            tk_count_diff_u16(Y, ref, words, count, g->stream);
            cudaMemcpyAsync(&d2, count, sizeof d2, cudaMemcpyDeviceToHost, g->stream);
            if (cudaStreamSynchronize(g->stream) != cudaSuccess) { rc = tetri_errorf(err, "gemm tuning: a candidate failed"); goto out; }
            if (d1 != d2) continue; /* not reproducible from run to run */
            identical = d1 == 0;
            if (!identical && g->tuning == DIT_GEMM_TUNE_IDENTICAL) continue;
        }
        for (int r = 0; r < 2; r++) run_algo(g, p, &res[i].algo, X, W, Y);
        cudaEventRecord(t0, g->stream);
        for (int r = 0; r < GEMM_TUNE_REPS; r++) run_algo(g, p, &res[i].algo, X, W, Y);
        cudaEventRecord(t1, g->stream);
        float ms = 0;
        if (cudaEventSynchronize(t1) != cudaSuccess || cudaEventElapsedTime(&ms, t0, t1) != cudaSuccess) {
            rc = tetri_errorf(err, "gemm tuning: timing failed");
            goto out;
        }
        const float us = ms * 1000.f / GEMM_TUNE_REPS;
        if (i == 0) { heur_us = best_us = us; continue; }
        if (us < 0.98f * heur_us && us < best_us) { best = i; best_us = us; best_identical = identical; }
    }
    p->algo = res[best].algo;
    if (g->log) {
        char a0[128], a1[128];
        algo_describe(&res[0].algo, a0, sizeof a0);
        algo_describe(&res[best].algo, a1, sizeof a1);
        fprintf(g->log, "gemm tune M=%d N=%d K=%d epi %d: heuristic %.1f us (%s); chosen #%d %.1f us (%s)%s; %.0f TFLOP/s\n", k->M,
                k->N, k->K, k->epi, heur_us, a0, best, best_us, a1, best_identical ? "" : ", other bits",
                2.0 * k->M * k->N * (double)k->K / (best_us * 1e-6) / 1e12);
    }
    /* Y now holds the chosen algorithm's output or a candidate's: recompute it with the choice. */
    if (run_algo(g, p, &p->algo, X, W, Y) != CUBLAS_STATUS_SUCCESS) rc = tetri_errorf(err, "gemm tuning: rerun failed");
out:
    if (t0) cudaEventDestroy(t0);
    if (t1) cudaEventDestroy(t1);
    cudaFree(count);
    cudaFree(ref);
    return rc;
}

int dit_gemm_run(dit_gemm_ctx *g, int M, int N, int K, const void *X, int64_t ldx, const void *W, const void *bias,
                 void *Y, int64_t ldy, dit_gemm_epilogue epi, float beta, tetri_error *err)
{
    return dit_gemm_run_batched(g, 1, M, N, K, X, ldx, 0, W, bias, Y, ldy, 0, epi, beta, err);
}

int dit_gemm_run_batched(dit_gemm_ctx *g, int batch, int M, int N, int K, const void *X, int64_t ldx, int64_t sx, const void *W,
                         const void *bias, void *Y, int64_t ldy, int64_t sy, dit_gemm_epilogue epi, float beta, tetri_error *err)
{
    if (M <= 0 || N <= 0 || K <= 0 || ldx < K || ldy < N || batch < 1)
        return tetri_errorf(err, "gemm: bad shape M=%d N=%d K=%d ldx=%lld ldy=%lld batch=%d", M, N, K, (long long)ldx, (long long)ldy,
                            batch);
    if (batch > 1 && (sx < (int64_t)(M - 1) * ldx + K || sy < (int64_t)(M - 1) * ldy + N))
        return tetri_errorf(err, "gemm: batch strides %lld / %lld overlap the M=%d rows of X / Y", (long long)sx, (long long)sy, M);
    if (batch == 1) sx = sy = 0;
    if (((uintptr_t)X | (uintptr_t)W | (uintptr_t)Y | (uintptr_t)bias) % 16 || ldx % 8 || ldy % 8 || K % 8 || sx % 8 || sy % 8)
        return tetri_errorf(err, "gemm: operands must be 16-byte aligned (M=%d N=%d K=%d)", M, N, K);
    if (epi != DIT_EPI_NONE && !bias) return tetri_errorf(err, "gemm: bias epilogue without a bias");
    /* cuBLASLt applies GELU to (X W^T + bias + beta Y), not GELU(X W^T + bias) + beta Y: refuse the
     * ambiguous combination rather than compute a surprise. */
    if (epi == DIT_EPI_GELU_BIAS && beta != 0.f) return tetri_errorf(err, "gemm: the GELU epilogue cannot accumulate (beta must be 0)");
    gemm_key key;
    memset(&key, 0, sizeof key); /* compared with memcmp: no stray padding bytes */
    key.M = M, key.N = N, key.K = K, key.epi = (int)epi, key.batch = batch;
    key.ldx = ldx, key.ldy = ldy, key.sx = sx, key.sy = sy, key.beta_nonzero = beta != 0.f;
    gemm_plan *p = NULL;
    for (int i = 0; i < g->n_plans; i++)
        if (memcmp(&g->plans[i].key, &key, sizeof key) == 0) { p = &g->plans[i]; break; }
    if (!p) {
        if (g->n_plans == GEMM_CACHE) return tetri_errorf(err, "gemm: more than %d distinct shapes", GEMM_CACHE);
        p = &g->plans[g->n_plans];
        if (make_plan(g, &key, p, X, W, bias, Y, err)) return -1;
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
