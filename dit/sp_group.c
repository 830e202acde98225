/* dit/sp_group.c: the sequence-parallel group's step driver (see dit/sp_group.h). */
#include "dit/sp_group.h"

#include <stdlib.h>
#include <string.h>

#include "dit/cuda_check.h"
#include "dit/transport_device.h"

struct dit_sp_group {
    dit_gpu_step *r[DIT_SP_MAX_DEGREE]; /* local rank l = group rank t->first_rank + l */
    int n_local, degree, B, T, gh, gw;
    dit_transport *t;
    size_t bytes_in[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE];  /* chunk (i -> j) before attention */
    size_t bytes_out[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE]; /* and after it */
    cudaStream_t stream;                /* local rank 0's: the graph's and the timing's */
    cudaGraph_t graph;
    cudaGraphExec_t exec;
};

static cudaStream_t stream_of(const dit_gpu_step *s) { return dit_gpu_stream(dit_gpu_step_model(s)); }

static int check_ranks(dit_gpu_step *const *ranks, int n_local, const dit_transport *t, tetri_error *err)
{
    if (n_local != t->n_local || n_local < 1 || n_local > DIT_SP_MAX_DEGREE)
        return tetri_errorf(err, "group: %d runners for a transport driving %d ranks", n_local, t->n_local);
    int B0, T0, h0, w0;
    dit_gpu_step_shape(ranks[0], &B0, &T0, &h0, &w0);
    for (int l = 0; l < n_local; l++) {
        dit_sp_shard sh;
        int B, T, gh, gw;
        dit_gpu_step_shard(ranks[l], &sh);
        dit_gpu_step_shape(ranks[l], &B, &T, &gh, &gw);
        if (sh.degree != t->degree || sh.rank != t->first_rank + l)
            return tetri_errorf(err, "group: runner %d is rank %d of degree %d, the transport wants rank %d of %d", l, sh.rank, sh.degree,
                                t->first_rank + l, t->degree);
        if (B != B0 || T != T0 || gh != h0 || gw != w0 || dit_gpu_layout(dit_gpu_step_model(ranks[l])) != dit_gpu_layout(dit_gpu_step_model(ranks[0])))
            return tetri_errorf(err, "group: the runners differ in model, batch or shape");
        if (n_local > 1 && stream_of(ranks[l]) != stream_of(ranks[0]))
            return tetri_errorf(err, "group: the %d local ranks must share one stream (one model on one GPU)", n_local);
    }
    return 0;
}

int dit_sp_group_create(dit_gpu_step *const *ranks, int n_local, dit_transport *t, dit_sp_group **out, tetri_error *err)
{
    if (check_ranks(ranks, n_local, t, err)) return -1;
    dit_sp_group *g = calloc(1, sizeof *g);
    if (!g) return tetri_errorf(err, "out of memory");
    memcpy(g->r, ranks, (size_t)n_local * sizeof *ranks);
    g->n_local = n_local;
    g->degree = t->degree;
    g->t = t;
    g->stream = stream_of(ranks[0]);
    dit_gpu_step_shape(ranks[0], &g->B, &g->T, &g->gh, &g->gw);
    const dit_config *c = &dit_gpu_layout(dit_gpu_step_model(ranks[0]))->cfg;
    dit_sp_a2a_in_bytes(c, g->degree, g->T, g->gh * g->gw, g->B, 2, g->bytes_in);
    dit_sp_a2a_out_bytes(c, g->degree, g->T, g->gh * g->gw, g->B, 2, g->bytes_out);
    if (dit_transport_is_null(t))
        for (int l = 0; l < n_local; l++)
            if (dit_gpu_step_clear_exchange(ranks[l], err)) { free(g); return -1; }
    *out = g;
    return 0;
}

static void drop_graph(dit_sp_group *g)
{
    if (g->exec) cudaGraphExecDestroy(g->exec);
    if (g->graph) cudaGraphDestroy(g->graph);
    g->exec = NULL;
    g->graph = NULL;
}

void dit_sp_group_destroy(dit_sp_group *g)
{
    if (!g) return;
    drop_graph(g);
    free(g);
}

int dit_sp_group_bind(dit_sp_group *g, dit_slot *const *slots, tetri_error *err)
{
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_bind(g->r[l], slots + (size_t)l * g->B, g->B, err)) return -1;
    return 0;
}

int dit_sp_group_set_inputs(dit_sp_group *g, const dit_step_inputs *in, const float *sigmas, tetri_error *err)
{
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_set_inputs(g->r[l], in, sigmas, err)) return -1;
    return 0;
}

int dit_sp_group_random_inputs(dit_sp_group *g, uint64_t seed, tetri_error *err)
{
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_random_inputs(g->r[l], seed, err)) return -1;
    return 0;
}

/* One all-to-all among the local ranks' exchange buffers: before attention (send_in -> recv_in)
 * or after it (send_out -> recv_out). */
static int exchange(dit_sp_group *g, int after, tetri_error *err)
{
    void *send[DIT_SP_MAX_DEGREE], *recv[DIT_SP_MAX_DEGREE];
    for (int l = 0; l < g->n_local; l++) {
        void *si, *ri, *so, *ro;
        dit_gpu_step_exchange(g->r[l], &si, &ri, &so, &ro);
        send[l] = after ? so : si;
        recv[l] = after ? ro : ri;
    }
    return dit_transport_all_to_all(g->t, send, recv, after ? g->bytes_out : g->bytes_in, err);
}

/* Block i of every local rank, the ranks in lockstep at the two all-to-alls. */
static int enqueue_block(dit_sp_group *g, int i, tetri_error *err)
{
    const int ex = g->degree > 1;
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_enqueue_block_a(g->r[l], i, err)) return -1;
    if (ex && exchange(g, 0, err)) return -1;
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_enqueue_block_attention(g->r[l], i, err)) return -1;
    if (ex && exchange(g, 1, err)) return -1;
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_enqueue_block_b(g->r[l], i, err)) return -1;
    return 0;
}

static int enqueue_forward(dit_sp_group *g, tetri_error *err)
{
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_enqueue_begin(g->r[l], err)) return -1;
    for (int i = 0; i < dit_gpu_step_n_blocks(g->r[0]); i++)
        if (enqueue_block(g, i, err)) return -1;
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_enqueue_end(g->r[l], err)) return -1;
    return 0;
}

static int enqueue_step(dit_sp_group *g, tetri_error *err)
{
    if (enqueue_forward(g, err)) return -1;
    for (int l = 0; l < g->n_local; l++)
        if (dit_gpu_step_enqueue_update(g->r[l], err)) return -1;
    return 0;
}

/* Waits for every local rank's stream (one, unless n_local = 1). */
static int sync_all(dit_sp_group *g, const char *what, tetri_error *err)
{
    for (int l = 0; l < g->n_local; l++) CU(cudaStreamSynchronize(stream_of(g->r[l])), what);
    return 0;
}

int dit_sp_group_forward(dit_sp_group *g, tetri_error *err)
{
    if (enqueue_forward(g, err)) return -1;
    return sync_all(g, "group forward", err);
}

int dit_sp_group_capture(dit_sp_group *g, tetri_error *err)
{
    /* One eager forward first: cuBLASLt and cuDNN plans, kernel attributes, the oracle's workspace
     * and the attention backend AUTO resolves to are all made outside the capture. */
    for (int l = 0; l < g->n_local; l++)
        if (!dit_gpu_step_is_bound(g->r[l])) {
            if (dit_sp_group_random_inputs(g, 0, err)) return -1;
            break;
        }
    if (dit_sp_group_forward(g, err)) return -1;
    drop_graph(g);
    CU(cudaStreamBeginCapture(g->stream, cudaStreamCaptureModeThreadLocal), "begin capture");
    const int rc = enqueue_step(g, err);
    cudaError_t e = cudaStreamEndCapture(g->stream, &g->graph);
    if (rc) { drop_graph(g); return -1; }
    if (e != cudaSuccess) { drop_graph(g); return tetri_errorf(err, "group end capture: %s", cudaGetErrorString(e)); }
    e = cudaGraphInstantiate(&g->exec, g->graph, 0);
    if (e != cudaSuccess) { drop_graph(g); return tetri_errorf(err, "group graph instantiate: %s", cudaGetErrorString(e)); }
    return 0;
}

int dit_sp_group_run(dit_sp_group *g, int n, tetri_error *err)
{
    for (int i = 0; i < n; i++) {
        if (g->exec) CU(cudaGraphLaunch(g->exec, g->stream), "group graph launch");
        else if (enqueue_step(g, err)) return -1;
    }
    return 0;
}

int dit_sp_group_sample_ms(dit_sp_group *g, int warmup, int n, float *ms, tetri_error *err)
{
    cudaEvent_t a = NULL, b = NULL;
    int rc = 0;
    cudaError_t e = cudaEventCreate(&a);
    if (e == cudaSuccess) e = cudaEventCreate(&b);
    for (int i = 0; i < warmup + n && e == cudaSuccess && !rc; i++) {
        e = cudaEventRecord(a, g->stream);
        if (e == cudaSuccess) rc = dit_sp_group_run(g, 1, err);
        if (e == cudaSuccess && !rc) e = cudaEventRecord(b, g->stream);
        if (e == cudaSuccess && !rc) e = cudaEventSynchronize(b);
        if (e == cudaSuccess && !rc && i >= warmup) e = cudaEventElapsedTime(&ms[i - warmup], a, b);
    }
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
    if (e != cudaSuccess) return tetri_errorf(err, "timing group steps: %s", cudaGetErrorString(e));
    return rc;
}

/* A local rank's [B, Nl, w] rows into the whole [B, N, w] at its rows n0.. . */
static void scatter_rows(const float *part, const dit_sp_shard *sh, int B, int N, int w, float *whole)
{
    for (int b = 0; b < B; b++)
        memcpy(whole + ((size_t)b * N + (size_t)sh->n0) * w, part + (size_t)b * sh->nn * w, (size_t)sh->nn * w * sizeof *whole);
}

static int read_rows(dit_sp_group *g, int latent, float *host, tetri_error *err)
{
    const dit_config *c = &dit_gpu_layout(dit_gpu_step_model(g->r[0]))->cfg;
    const int N = g->gh * g->gw, w = latent ? dit_token_in(c) : dit_token_out(c);
    float *part = malloc((size_t)g->B * N * w * sizeof *part);
    if (!part) return tetri_errorf(err, "out of memory");
    for (int l = 0; l < g->n_local; l++) {
        dit_sp_shard sh;
        dit_gpu_step_shard(g->r[l], &sh);
        int rc = latent ? dit_gpu_step_read_latent(g->r[l], part, err) : dit_gpu_step_read_velocity(g->r[l], part, err);
        if (rc) { free(part); return -1; }
        scatter_rows(part, &sh, g->B, N, w, host);
    }
    free(part);
    return 0;
}

int dit_sp_group_read_velocity(dit_sp_group *g, float *host, tetri_error *err) { return read_rows(g, 0, host, err); }
int dit_sp_group_read_latent(dit_sp_group *g, float *host, tetri_error *err) { return read_rows(g, 1, host, err); }

double dit_sp_group_flops(const dit_sp_group *g)
{
    double f = 0;
    for (int l = 0; l < g->n_local; l++) f += dit_gpu_step_flops(g->r[l]);
    return f;
}

int dit_sp_rank_sample_ms(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int degree, int rank, dit_attn_backend attn,
                          int warmup, int n, float *ms, tetri_error *err)
{
    dit_gpu_step *s = NULL;
    dit_transport *t = NULL;
    dit_sp_group *g = NULL;
    int rc = dit_gpu_step_create_sp(m, batch, text_tokens, grid_h, grid_w, 4, degree, rank, &s, err);
    if (!rc) {
        dit_gpu_step_set_attention(s, attn);
        rc = dit_transport_null_create(degree, rank, 1, &t, err) || dit_sp_group_create(&s, 1, t, &g, err) ||
             dit_sp_group_capture(g, err) || dit_sp_group_sample_ms(g, warmup, n, ms, err);
    }
    dit_sp_group_destroy(g);
    dit_transport_destroy(t);
    dit_gpu_step_destroy(s);
    return rc ? -1 : 0;
}
