/* dit/dit_gpu.c: the model on one GPU and its step runners (see dit_gpu.h; the slots they read are
 * dit/slot.c's). All device memory is allocated up front
 * (weights: one allocation; activations: one arena per step shape); a step allocates nothing. */
#include "config.h"

#include "dit/dit_gpu.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dit/gpu_internal.h"
#include "dit/safetensors.h"


int dit_gpu_create(const dit_layout *L, dit_gpu **out, tetri_error *err)
{
    dit_gpu *m = calloc(1, sizeof *m);
    if (!m) return tetri_errorf(err, "out of memory");
    m->L = L;
    cudaGetDevice(&m->device);
    /* The kernels this GPU runs: by its compute capability, what the build has for it, and
     * TETRI_GPU_PATHS; a GPU older than sm_80 is refused here, by name. */
    struct cudaDeviceProp prop;
    cudaError_t e = cudaGetDeviceProperties(&prop, m->device);
    if (e != cudaSuccess) { free(m); return tetri_errorf(err, "reading the GPU's properties: %s (is there a GPU?)", cudaGetErrorString(e)); }
    int wgmma_built = 0;
    if (prop.major >= 8) {
        int ke = tk_attention_wgmma_built(&wgmma_built);
        if (ke) {
            free(m);
            return tetri_errorf(err, "%s: probing the build's kernels: %s (a build without code for sm_%d%d? configure --with-cuda-arch)",
                                prop.name, cudaGetErrorString((cudaError_t)ke), prop.major, prop.minor);
        }
    }
    if (dit_gpu_paths_choose(prop.name, prop.major, prop.minor, wgmma_built, getenv(DIT_GPU_PATHS_ENV), &m->paths, m->paths_text,
                             sizeof m->paths_text, err)) {
        free(m);
        return -1;
    }
    e = cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking);
    if (e != cudaSuccess) { free(m); return tetri_errorf(err, "cudaStreamCreate: %s (is there a GPU?)", cudaGetErrorString(e)); }
    /* Slots are stream-ordered allocations from the device's default pool; by default the pool
     * hands its memory back at every synchronisation, and the next slot maps it again (ms on a
     * request's first block). Keep it. */
    cudaMemPool_t pool;
    uint64_t keep = UINT64_MAX;
    if (cudaDeviceGetDefaultMemPool(&pool, m->device) == cudaSuccess)
        cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep);
    e = cudaMalloc(&m->w, (size_t)L->total * 2);
    if (e != cudaSuccess) {
        cudaStreamDestroy(m->stream);
        free(m);
        return tetri_errorf(err, "cannot allocate %.2f GiB of weights: %s", (double)L->total * 2 / (1 << 30), cudaGetErrorString(e));
    }
    if (cudaStreamCreateWithFlags(&m->stream_txt, cudaStreamNonBlocking) != cudaSuccess ||
        cudaEventCreateWithFlags(&m->ev_fork, cudaEventDisableTiming) != cudaSuccess ||
        cudaEventCreateWithFlags(&m->ev_join, cudaEventDisableTiming) != cudaSuccess || dit_gemm_create(m->stream, &m->gemm, err) ||
        dit_gemm_create(m->stream_txt, &m->gemm_txt, err) || cublasCreate(&m->cublas) != CUBLAS_STATUS_SUCCESS) {
        dit_gpu_destroy(m);
        return tetri_errorf(err, "cannot create the streams, events and cuBLAS handles");
    }
    *out = m;
    return 0;
}

void dit_gpu_destroy(dit_gpu *m)
{
    if (!m) return;
    if (m->gemm) dit_gemm_destroy(m->gemm);
    if (m->gemm_txt) dit_gemm_destroy(m->gemm_txt);
    if (m->cublas) cublasDestroy(m->cublas);
#ifdef HAVE_CUDNN
    dit_cudnn_attn_destroy(m->cudnn);
#endif
    if (m->ev_fork) cudaEventDestroy(m->ev_fork);
    if (m->ev_join) cudaEventDestroy(m->ev_join);
    cudaFree(m->w);
    if (m->stream_txt) cudaStreamDestroy(m->stream_txt);
    cudaStreamDestroy(m->stream);
    free(m);
}

void dit_gpu_set_gemm_tuning(dit_gpu *m, dit_gemm_tuning t, FILE *log)
{
    dit_gemm_set_tuning(m->gemm, t, log);
    dit_gemm_set_tuning(m->gemm_txt, t, log);
}

size_t dit_gpu_weight_bytes(const dit_gpu *m) { return (size_t)m->L->n_weights * 2; }
dit_gpu_paths dit_gpu_get_paths(const dit_gpu *m) { return m->paths; }
const char *dit_gpu_paths_text(const dit_gpu *m) { return m->paths_text; }

int dit_gpu_attention_runs(const dit_gpu *m, dit_attn_backend b, tetri_error *err)
{
    if (b == DIT_ATTN_FLASH && m->paths != DIT_PATHS_HOPPER)
        return tetri_errorf(err, "attention flash is the Hopper kernel (wgmma, sm_90a), and this GPU runs the ampere paths (%s): "
                                 "use flash-mma, cudnn or auto",
                            m->paths_text);
    return 0;
}
cudaStream_t dit_gpu_stream(const dit_gpu *m) { return m->stream; }
const dit_layout *dit_gpu_layout(const dit_gpu *m) { return m->L; }
void *dit_gpu_cublas(const dit_gpu *m) { return m->cublas; }

int dit_gpu_init_random(dit_gpu *m, uint64_t seed, tetri_error *err)
{
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    CU(cudaMemsetAsync(m->w, 0, (size_t)L->total * 2, m->stream), "clearing the weights");
    for (int p = 0; p < L->n_params; p++) {
        const dit_param *P = &L->params[p];
        KL(tk_init_param(wptr(m, P->offset), P->numel, seed, p, (int)P->init, P->fan_in, L->D, c->pos_embed_max,
                         c->patch ? c->sample_size / c->patch : 0, m->stream),
           "init_param");
    }
    CU(cudaStreamSynchronize(m->stream), "initialising the weights");
    return 0;
}

static int upload_sink(void *ctx, int64_t offset, const uint16_t *bf16, int64_t n, tetri_error *err)
{
    dit_gpu *m = ctx;
    CU(cudaMemcpy((char *)m->w + offset * 2, bf16, (size_t)n * 2, cudaMemcpyHostToDevice), "uploading weights");
    return 0;
}

int dit_gpu_load_weights(dit_gpu *m, const char *dir, tetri_error *err)
{
    CU(cudaMemset(m->w, 0, (size_t)m->L->total * 2), "clearing the weights");
    return dit_load_weights_dir(dir, m->L, upload_sink, m, err);
}

/* ---- step ------------------------------------------------------------------------------------- */


/* Two passes: the first (base NULL) measures, the second carves; the sizes are the memory plan's
 * (dit/gpu_plan.c), so `bench-step --plan-memory` counts what is allocated here. */
static void carve(dit_gpu_step *s, dit_arena *a)
{
    size_t b[DIT_STEP_BUFS];
    dit_step_buffer_bytes(s->m->L, s->B, s->T, s->gh, s->gw, s->sh.degree, s->sh.rank, b);
    s->refs = dit_arena_take(a, b[DIT_BUF_REFS]);
    s->vel = dit_arena_take(a, b[DIT_BUF_VEL]);
    s->sig2 = dit_arena_take(a, b[DIT_BUF_SIG2]);
    s->rope_cos = dit_arena_take(a, b[DIT_BUF_ROPE_COS]);
    s->rope_sin = dit_arena_take(a, b[DIT_BUF_ROPE_SIN]);
    s->lat16 = dit_arena_take(a, b[DIT_BUF_LAT16]);
    s->txt = dit_arena_take(a, b[DIT_BUF_TXT]);
    s->mod = dit_arena_take(a, b[DIT_BUF_MOD]);
    s->h = dit_arena_take(a, b[DIT_BUF_H]);
    s->nrm = dit_arena_take(a, b[DIT_BUF_NRM]);
    s->qkv = dit_arena_take(a, b[DIT_BUF_QKV]);
    s->att = dit_arena_take(a, b[DIT_BUF_ATT]);
    s->y = dit_arena_take(a, b[DIT_BUF_Y]);
    s->big = dit_arena_take(a, b[DIT_BUF_BIG]);
    s->out = dit_arena_take(a, b[DIT_BUF_OUT]);
    if (s->sh.degree == 1) return; /* no exchange: its pointers stay NULL (its sizes are 0) */
    s->send_in = dit_arena_take(a, b[DIT_BUF_SEND_IN]);
    s->recv_in = dit_arena_take(a, b[DIT_BUF_RECV_IN]);
    s->att_in = dit_arena_take(a, b[DIT_BUF_ATT_IN]);
    s->att_out = dit_arena_take(a, b[DIT_BUF_ATT_OUT]);
    s->send_out = dit_arena_take(a, b[DIT_BUF_SEND_OUT]);
    s->recv_out = dit_arena_take(a, b[DIT_BUF_RECV_OUT]);
}


/* The RoPE table's rows at this rank's rows' global positions: text rows t0.., then image rows
 * T + n0.. of the degree-1 table (FLUX; SD3 has none). */
static int upload_rope(dit_gpu_step *s, tetri_error *err)
{
    const dit_config *c = &s->m->L->cfg;
    const size_t w = (size_t)c->head_dim / 2, n = (size_t)s->Lt * w;
    float *cs = malloc(n * 4), *sn = malloc(n * 4);
    if (!cs || !sn) { free(cs); free(sn); return tetri_errorf(err, "out of memory"); }
    dit_rope_table(c, s->T, s->gh, s->gw, cs, sn);
    const size_t txt0 = (size_t)s->sh.t0 * w, img0 = ((size_t)s->T + (size_t)s->sh.n0) * w, local_img = (size_t)s->Tl * w;
    cudaError_t e = cudaMemcpy(s->rope_cos, cs + txt0, (size_t)s->Tl * w * 4, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(s->rope_sin, sn + txt0, (size_t)s->Tl * w * 4, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(s->rope_cos + local_img, cs + img0, (size_t)s->Nl * w * 4, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(s->rope_sin + local_img, sn + img0, (size_t)s->Nl * w * 4, cudaMemcpyHostToDevice);
    free(cs);
    free(sn);
    if (e != cudaSuccess) return tetri_errorf(err, "step: uploading the RoPE table: %s", cudaGetErrorString(e));
    return 0;
}

int dit_gpu_step_create(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int n_steps, dit_gpu_step **out,
                        tetri_error *err)
{
    return dit_gpu_step_create_sp(m, batch, text_tokens, grid_h, grid_w, n_steps, 1, 0, out, err);
}

int dit_gpu_step_create_sp(dit_gpu *m, int batch, int text_tokens, int grid_h, int grid_w, int n_steps, int degree, int rank,
                           dit_gpu_step **out, tetri_error *err)
{
    const dit_config *c = &m->L->cfg;
    if (batch < 1 || text_tokens < 1 || grid_h < 1 || grid_w < 1 || n_steps < 1)
        return tetri_errorf(err, "step: batch, text tokens, image grid and steps must be positive");
    if (batch > DIT_MAX_BATCH) return tetri_errorf(err, "step: batch %d is above %d", batch, DIT_MAX_BATCH);
    if (c->arch == DIT_ARCH_SD3 && (grid_h > c->pos_embed_max || grid_w > c->pos_embed_max))
        return tetri_errorf(err, "step: image grid %dx%d exceeds SD3's pos_embed_max_size %d", grid_h, grid_w, c->pos_embed_max);
    if (dit_token_in(c) != dit_token_out(c))
        return tetri_errorf(err, "step: the Euler update needs in_channels x patch^2 (%d) = out_channels x patch^2 (%d)",
                            dit_token_in(c), dit_token_out(c));
    if (dit_sp_check(c, degree, text_tokens, grid_h * grid_w, err)) return -1;
    if (rank < 0 || rank >= degree) return tetri_errorf(err, "step: rank %d of degree %d", rank, degree);
    dit_gpu_step *s = calloc(1, sizeof *s);
    if (!s) return tetri_errorf(err, "out of memory");
    s->m = m;
    s->B = batch;
    s->T = text_tokens;
    s->gh = grid_h;
    s->gw = grid_w;
    s->N = grid_h * grid_w;
    s->Lt = s->T + s->N;
    s->n_steps = n_steps;
    dit_sp_shard_of(s->T, s->N, degree, rank, &s->sh);
    s->Tl = s->sh.tn;
    s->Nl = s->sh.nn;
    s->Ll = s->Tl + s->Nl;
    for (int r = 0; r < degree; r++) {
        dit_sp_shard o;
        dit_sp_shard_of(s->T, s->N, degree, r, &o);
        s->Lrank[r] = o.tn + o.nn;
    }
    s->attn = DIT_ATTN_AUTO;
    dit_arena a = {0};
    carve(s, &a);
    cudaError_t e = cudaMalloc(&s->arena, a.used);
    if (e != cudaSuccess) {
        free(s);
        return tetri_errorf(err, "step: cannot allocate %.2f GiB of activations: %s", (double)a.used / (1 << 30), cudaGetErrorString(e));
    }
    a = (dit_arena){.base = s->arena};
    carve(s, &a);
    /* Poison everything: a buffer a kernel should have written and did not reads as NaN. */
    tk_poison(s->arena, (int64_t)a.used, m->stream);
    e = cudaMallocHost((void **)&s->refs_host, (size_t)batch * sizeof *s->refs_host);
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&s->bind_done, cudaEventDisableTiming);
    if (e != cudaSuccess) { dit_gpu_step_destroy(s); return tetri_errorf(err, "step: the slot table: %s", cudaGetErrorString(e)); }
    /* the poison is enqueued on the model's stream; the table's synchronous uploads must land after it */
    e = cudaStreamSynchronize(m->stream);
    if (e != cudaSuccess) { dit_gpu_step_destroy(s); return tetri_errorf(err, "step: poisoning: %s", cudaGetErrorString(e)); }
    if (c->arch == DIT_ARCH_FLUX && upload_rope(s, err)) { dit_gpu_step_destroy(s); return -1; }
    *out = s;
    return 0;
}

void dit_gpu_step_destroy(dit_gpu_step *s)
{
    if (!s) return;
    if (s->exec) cudaGraphExecDestroy(s->exec);
    if (s->graph) cudaGraphDestroy(s->graph);
    for (int b = 0; b < s->B; b++) dit_slot_destroy(s->own[b]);
    if (s->bind_done) cudaEventDestroy(s->bind_done);
    cudaFreeHost(s->refs_host);
    cudaFree(s->oracle_ws);
    cudaFree(s->arena);
    free(s);
}

void dit_gpu_step_set_attention(dit_gpu_step *s, dit_attn_backend b) { s->attn = b; }
dit_attn_backend dit_gpu_step_attention(const dit_gpu_step *s) { return s->attn; }
const char *dit_attn_backend_name(dit_attn_backend b)
{
    switch (b) {
    case DIT_ATTN_FLASH: return "flash";
    case DIT_ATTN_FLASH_MMA: return "flash-mma";
    case DIT_ATTN_ORACLE: return "oracle";
    case DIT_ATTN_CUDNN: return "cudnn";
    case DIT_ATTN_AUTO: return "auto";
    }
    return "?";
}
int dit_attn_backend_parse(const char *name, dit_attn_backend *out)
{
    for (int b = DIT_ATTN_FLASH; b <= DIT_ATTN_AUTO; b++)
        if (strcmp(name, dit_attn_backend_name((dit_attn_backend)b)) == 0) {
            *out = (dit_attn_backend)b;
            return 0;
        }
    return -1;
}
int dit_gpu_step_image_tokens(const dit_gpu_step *s) { return s->N; }
void dit_gpu_step_shape(const dit_gpu_step *s, int *batch, int *text_tokens, int *grid_h, int *grid_w)
{
    *batch = s->B;
    *text_tokens = s->T;
    *grid_h = s->gh;
    *grid_w = s->gw;
}
void dit_gpu_step_shard(const dit_gpu_step *s, dit_sp_shard *sh) { *sh = s->sh; }
dit_gpu *dit_gpu_step_model(const dit_gpu_step *s) { return s->m; }
int dit_gpu_step_is_bound(const dit_gpu_step *s)
{
    for (int b = 0; b < s->B; b++)
        if (!s->bound[b]) return 0;
    return 1;
}
void dit_gpu_step_exchange(const dit_gpu_step *s, void **send_in, void **recv_in, void **send_out, void **recv_out)
{
    *send_in = s->send_in;
    *recv_in = s->recv_in;
    *send_out = s->send_out;
    *recv_out = s->recv_out;
}
int dit_gpu_step_clear_exchange(dit_gpu_step *s, tetri_error *err)
{
    if (s->sh.degree == 1) return 0;
    size_t b[DIT_STEP_BUFS];
    dit_step_buffer_bytes(s->m->L, s->B, s->T, s->gh, s->gw, s->sh.degree, s->sh.rank, b);
    CU(cudaMemsetAsync(s->recv_in, 0, b[DIT_BUF_RECV_IN], s->m->stream), "clearing the exchange");
    CU(cudaMemsetAsync(s->recv_out, 0, b[DIT_BUF_RECV_OUT], s->m->stream), "clearing the exchange");
    return 0;
}
double dit_gpu_step_flops(const dit_gpu_step *s) { return s->flops; }

int dit_gpu_device(const dit_gpu *m) { return m->device; }

int dit_gpu_hold(dit_gpu *m, int64_t ns, tetri_error *err)
{
    KL(tk_gpu_sleep(ns, m->stream), "gpu_sleep");
    return 0;
}


/* ---- the runner's batch: binding slots ---------------------------------------------------------- */

int dit_gpu_step_bind(dit_gpu_step *s, dit_slot *const *slots, int n, tetri_error *err)
{
    if (n != s->B) return tetri_errorf(err, "step: %d slots bound to a runner of batch %d", n, s->B);
    for (int b = 0; b < n; b++) {
        const dit_slot *sl = slots[b];
        if (!sl || sl->m != s->m || sl->T != s->T || sl->gh != s->gh || sl->gw != s->gw)
            return tetri_errorf(err, "step: slot %d is not of this runner's model, text length and %dx%d grid", b, s->gh, s->gw);
        if (sl->sh.degree != s->sh.degree || sl->sh.rank != s->sh.rank)
            return tetri_errorf(err, "step: slot %d holds rank %d of degree %d, the runner rank %d of degree %d", b, sl->sh.rank,
                                sl->sh.degree, s->sh.rank, s->sh.degree);
    }
    /* The previous bind's copy must have read refs_host before it is rewritten. */
    CU(cudaEventSynchronize(s->bind_done), "bind");
    for (int b = 0; b < n; b++) {
        s->refs_host[b] = slots[b]->ref;
        s->bound[b] = slots[b];
    }
    CU(cudaMemcpyAsync(s->refs, s->refs_host, (size_t)n * sizeof *s->refs, cudaMemcpyHostToDevice, s->m->stream), "bind");
    CU(cudaEventRecord(s->bind_done, s->m->stream), "bind");
    return 0;
}

/* The runner's own slots, one per sample (the single-runner API: set_inputs, random_inputs). */
static int own_slots(dit_gpu_step *s, tetri_error *err)
{
    for (int b = 0; b < s->B; b++)
        if (!s->own[b] && dit_slot_create_sp(s->m, s->T, s->gh, s->gw, s->n_steps, s->sh.degree, s->sh.rank, &s->own[b], err))
            return -1;
    return 0;
}

int dit_gpu_step_set_inputs(dit_gpu_step *s, const dit_step_inputs *in, const float *sigmas, tetri_error *err)
{
    if (in->batch != s->B || in->text_tokens != s->T || in->grid_h != s->gh || in->grid_w != s->gw)
        return tetri_errorf(err, "step inputs: batch %d, %d text tokens, grid %dx%d do not match the step's %d, %d, %dx%d",
                            in->batch, in->text_tokens, in->grid_h, in->grid_w, s->B, s->T, s->gh, s->gw);
    if (own_slots(s, err)) return -1;
    for (int b = 0; b < s->B; b++)
        if (dit_slot_set_inputs(s->own[b], in, b, sigmas, err)) return -1;
    return dit_gpu_step_bind(s, s->own, s->B, err);
}

int dit_gpu_step_random_inputs(dit_gpu_step *s, uint64_t seed, tetri_error *err)
{
    if (own_slots(s, err)) return -1;
    for (int b = 0; b < s->B; b++)
        if (dit_slot_random_inputs(s->own[b], seed + (uint64_t)b * 0x9E3779B97F4A7C15ull, err)) return -1;
    if (dit_gpu_step_bind(s, s->own, s->B, err)) return -1;
    CU(cudaStreamSynchronize(s->m->stream), "random inputs");
    return 0;
}

/* One linear layer of model m on rows [X, X + rows) through the wrapper. */

int dit_gpu_lin_model(dit_gemm_ctx *g, const dit_gpu *m, const dit_linear *l, int rows, const void *X, int64_t ldx, void *Y,
                     int64_t ldy, dit_gemm_epilogue epi, float beta, tetri_error *err)
{
    assert(l->w >= 0 && l->b >= 0);
    return dit_gemm_run(g, rows, l->out, l->in, X, ldx, wptr(m, l->w), wptr(m, l->b), Y, ldy, epi, beta, err);
}

/* The same, counting its FLOPs in the runner's. */
static int lin_on(dit_gemm_ctx *g, dit_gpu_step *s, const dit_linear *l, int rows, const void *X, int64_t ldx, void *Y, int64_t ldy,
                  dit_gemm_epilogue epi, float beta, tetri_error *err)
{
    s->flops += 2.0 * rows * l->out * l->in;
    return dit_gpu_lin_model(g, s->m, l, rows, X, ldx, Y, ldy, epi, beta, err);
}

static int lin(dit_gpu_step *s, const dit_linear *l, int rows, const void *X, int64_t ldx, void *Y, int64_t ldy,
               dit_gemm_epilogue epi, float beta, tetri_error *err)
{
    return lin_on(s->m->gemm, s, l, rows, X, ldx, Y, ldy, epi, beta, err);
}
/* The same linear on `rows` rows of every sample in one launch: sample b's rows start b x sx
 * (X) and b x sy (Y) elements further on, e.g. each sample's text or image rows of a joint buffer. */
static int lin_each(dit_gemm_ctx *g, dit_gpu_step *s, const dit_linear *l, int rows, const void *X, int64_t ldx, int64_t sx,
                    void *Y, int64_t ldy, int64_t sy, dit_gemm_epilogue epi, tetri_error *err)
{
    assert(l->w >= 0 && l->b >= 0);
    s->flops += 2.0 * s->B * rows * l->out * l->in;
    return dit_gemm_run_batched(g, s->B, rows, l->out, l->in, X, ldx, sx, wptr(s->m, l->w), wptr(s->m, l->b), Y, ldy, sy, epi, 0.f,
                                err);
}
static int fork_txt(dit_gpu *m, tetri_error *err)
{
    CU(cudaEventRecord(m->ev_fork, m->stream), "fork");
    CU(cudaStreamWaitEvent(m->stream_txt, m->ev_fork, 0), "fork");
    return 0;
}
static int join_txt(dit_gpu *m, tetri_error *err)
{
    CU(cudaEventRecord(m->ev_join, m->stream_txt), "join");
    CU(cudaStreamWaitEvent(m->stream, m->ev_join, 0), "join");
    return 0;
}

/* cuDNN's fused attention (its context made at the first call): 0, DIT_CUDNN_REFUSED when this
 * build or this GPU's cuDNN cannot take it (err says why), or -1 on any other failure. qkv holds
 * q | k | v of the runner's H / k heads, each Dk wide. */
static int attention_cudnn(dit_gpu_step *s, void *qkv, void *out, int64_t ld, int64_t bs, int64_t ldo, int64_t obs,
                           tetri_error *err)
{
#ifdef HAVE_CUDNN
    const dit_layout *L = s->m->L;
    const int k = s->sh.degree, Dk = L->D / k;
    if (!s->m->cudnn && dit_cudnn_attn_create(&s->m->cudnn, err)) return DIT_CUDNN_REFUSED;
    return dit_cudnn_attention(s->m->cudnn, qkv, bptr(qkv, Dk), bptr(qkv, 2 * Dk), ld, bs, out, ldo, obs, s->B, s->Lt,
                               L->cfg.n_heads / k, L->cfg.head_dim, s->m->stream, err);
#else
    (void)s, (void)qkv, (void)out, (void)ld, (void)bs, (void)ldo, (void)obs;
    tetri_errorf(err, "attention cudnn: this build has no cuDNN (configure found no cuDNN 9; see --with-cudnn)");
    return DIT_CUDNN_REFUSED;
#endif
}

/* Attention over all Lt rows of the runner's H / k heads: qkv [B, Lt, 3 Dk] (q | k | v) -> out
 * [B, Lt, ldo] at columns 0..Dk. At degree 1 (Dk = D) qkv is the block's own qkv buffer and out
 * its attention output; at degree k they are the exchange's att_in and att_out. */
static int attention(dit_gpu_step *s, void *qkv, void *out, int64_t ldo, tetri_error *err)
{
    const dit_layout *L = s->m->L;
    const int k = s->sh.degree, Dk = L->D / k, H = L->cfg.n_heads / k, hd = L->cfg.head_dim, Lt = s->Lt;
    s->flops += 4.0 * s->B * (double)Lt * Lt * Dk;
    const int64_t ld = 3 * Dk, bs = (int64_t)Lt * 3 * Dk, obs = (int64_t)Lt * ldo;
    if (s->attn == DIT_ATTN_ORACLE) {
        if (!s->oracle_ws) CU(cudaMalloc((void **)&s->oracle_ws, ((size_t)3 * Lt * hd + (size_t)Lt * Lt) * 4), "oracle workspace");
        KL(tk_attention_oracle(s->m->cublas, qkv, bptr(qkv, Dk), bptr(qkv, 2 * Dk), ld, bs, out, ldo, obs, s->B, Lt, H, hd,
                               s->oracle_ws, s->m->stream),
           "attention_oracle");
        return 0;
    }
    if (s->attn == DIT_ATTN_AUTO) {
        /* cuDNN's kernel is the faster at every shape measured (docs/benchmarks.md); ours takes any
         * shape cuDNN refuses. Decided once per step, at its first (eager) forward, so the graph
         * and every later replay run what was decided. */
        tetri_error why = {{0}};
        const int rc = attention_cudnn(s, qkv, out, ld, bs, ldo, obs, &why);
        if (rc == 0) { s->attn = DIT_ATTN_CUDNN; return 0; }
        if (rc != DIT_CUDNN_REFUSED) { *err = why; return -1; }
        s->attn = s->m->paths == DIT_PATHS_HOPPER ? DIT_ATTN_FLASH : DIT_ATTN_FLASH_MMA;
    }
    if (dit_gpu_attention_runs(s->m, s->attn, err)) return -1;
    if (s->attn == DIT_ATTN_CUDNN) return attention_cudnn(s, qkv, out, ld, bs, ldo, obs, err) ? -1 : 0;
    if (s->attn == DIT_ATTN_FLASH_MMA)
        KL(tk_attention(qkv, bptr(qkv, Dk), bptr(qkv, 2 * Dk), ld, bs, out, ldo, obs, s->B, Lt, H, hd, s->m->stream), "attention");
    else
        KL(tk_attention_wgmma(qkv, bptr(qkv, Dk), bptr(qkv, 2 * Dk), ld, bs, out, ldo, obs, s->B, Lt, H, hd, s->m->stream),
           "attention_wgmma");
    return 0;
}

/* The modulation rows that normalise the input of the block after double block i (or of
 * norm_out): shift/scale for text rows and image rows. */
static void next_norm_mods(const dit_gpu_step *s, int next_double, int next_single, tk_mod_rows *txt, tk_mod_rows *img)
{
    const dit_layout *L = s->m->L;
    const int64_t D = L->D;
    void *mod = s->mod;
    if (next_double >= 0) {
        const dit_double_block *b = &L->dbl[next_double];
        void *mx = bptr(mod, b->mod_x_off), *mc = bptr(mod, b->mod_c_off);
        img->shift = mx;
        img->scale = bptr(mx, D);
        if (b->mod_c_chunks == 6) { txt->shift = mc; txt->scale = bptr(mc, D); }
        else { txt->scale = mc; txt->shift = bptr(mc, D); } /* AdaLayerNormContinuous: scale, shift */
    } else if (next_single >= 0) {
        void *m = bptr(mod, L->sgl[next_single].mod_off);
        img->shift = txt->shift = m;
        img->scale = txt->scale = bptr(m, D);
    } else {
        void *mo = bptr(mod, L->norm_out_off);
        img->scale = mo;
        img->shift = bptr(mo, D);
        txt->shift = txt->scale = NULL; /* text rows are not needed after the last block */
    }
}


int dit_gpu_step_prepare(dit_gpu_step *s, tetri_error *err)
{
    for (int b = 0; b < s->B; b++) {
        if (!s->bound[b]) return tetri_errorf(err, "step: no slot bound to sample %d", b);
        if (dit_slot_prepare(s->bound[b], err)) return -1;
    }
    CU(cudaStreamSynchronize(s->m->stream), "conditioning");
    return 0;
}

/* ---- the forward, in phases ----
 * So that the ranks of a sequence-parallel group meet at the two all-to-alls of every block, the
 * forward is cut there (dit_gpu.h: dit_gpu_step_enqueue_*): begin (gather, embeddings, the first
 * norm); per block, block_a (up to qkv packed by head group into send_in), block_attention (unpack
 * recv_in, attention, pack send_out) and block_b (unpack recv_out, the rest of the block); end
 * (proj_out, the velocity). Everything per row runs on the runner's Ll rows ([B, Ll, ...]: Tl text
 * rows, then Nl image rows, of each sample); only attention sees all Lt rows. At degree 1 nothing is
 * packed: attention reads qkv and writes the block's attention buffer, the one-GPU launches. */

int dit_gpu_step_n_blocks(const dit_gpu_step *s) { return s->m->L->cfg.n_double + s->m->L->cfg.n_single; }

static int check_bound(const dit_gpu_step *s, tetri_error *err);

int dit_gpu_step_enqueue_begin(dit_gpu_step *s, tetri_error *err)
{
    dit_gpu *m = s->m;
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    const int B = s->B, Tl = s->Tl, Nl = s->Nl, D = L->D, tin = dit_token_in(c);
    const int64_t mt = L->mod_total, sD = (int64_t)s->Ll * D; /* one sample's rows in the [B, Ll, D] buffers */
    cudaStream_t st = m->stream;
    if (check_bound(s, err)) return -1;
    s->flops = 0;
    /* Each sample's latent [Nl, tin] and text rows [Tl, text_dim] (its slot's shard), modulation row
     * at its own step, and sigma pair. */
    KL(tk_slot_gather(s->refs, B, (int64_t)Nl * tin, (int64_t)Tl * c->text_dim, mt, s->lat16, s->txt, s->mod, s->sig2, st),
       "slot_gather");
    /* h [B, Ll, D]: text rows, then image rows (+ SD3's positional table at their grid positions). */
    if (lin_each(m->gemm, s, &L->ctx_embed, Tl, s->txt, c->text_dim, (int64_t)Tl * c->text_dim, s->h, D, sD, DIT_EPI_BIAS, err) ||
        lin_each(m->gemm, s, &L->x_embed, Nl, s->lat16, tin, (int64_t)Nl * tin, bptr(s->h, (int64_t)Tl * D), D, sD, DIT_EPI_BIAS, err))
        return -1;
    if (c->arch != DIT_ARCH_FLUX)
        KL(tk_add_pos_embed_rows(s->h, wptr(m, L->pos_table), B, s->Ll, Tl, s->sh.n0, Nl, s->gh, s->gw, c->pos_embed_max, D, st),
           "add_pos_embed");
    /* nrm [B, Ll, D]: the first block's normalised input */
    tk_mod_rows txt = {0}, img = {0};
    next_norm_mods(s, c->n_double ? 0 : -1, c->n_double ? -1 : 0, &txt, &img);
    KL(tk_residual_ln_mod(s->h, NULL, s->nrm, B, s->Ll, Tl, D, txt, img, mt, NULL, 0, st), "ln_mod");
    return 0;
}

/* Degree k > 1: qkv [B, Ll, 3D] -> send_in [k][B, Ll, 3 D/k], head group j's columns for rank j. */
static int pack_heads(dit_gpu_step *s, tetri_error *err)
{
    const int D = s->m->L->D;
    if (s->sh.degree == 1) return 0;
    KL(tk_sp_pack_heads(s->qkv, 3 * D, s->B, s->Ll, D, s->sh.degree, s->send_in, s->m->stream), "sp_pack_heads");
    return 0;
}

/* Double block i up to attention: qkv [B, Ll, 3D] from nrm (text rows through add_*_proj beside the
 * image rows through to_*), RMSNorm of q and k, RoPE at the rows' global positions; packed. */
static int double_a(dit_gpu_step *s, int i, tetri_error *err)
{
    dit_gpu *m = s->m;
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    const dit_double_block *blk = &L->dbl[i];
    const int Tl = s->Tl, Nl = s->Nl, D = L->D;
    const int64_t sD = (int64_t)s->Ll * D;
    const int flux = c->arch == DIT_ARCH_FLUX;
    if (fork_txt(m, err)) return -1;
    if (lin_each(m->gemm_txt, s, &blk->qkv_c, Tl, s->nrm, D, sD, s->qkv, 3 * D, 3 * sD, DIT_EPI_BIAS, err) ||
        lin_each(m->gemm, s, &blk->qkv_x, Nl, bptr(s->nrm, (int64_t)Tl * D), D, sD, bptr(s->qkv, (int64_t)Tl * 3 * D), 3 * D, 3 * sD,
                 DIT_EPI_BIAS, err))
        return -1;
    if (join_txt(m, err)) return -1;
    KL(tk_qk_norm_rope(s->qkv, s->B, s->Ll, Tl, c->n_heads, c->head_dim, 3 * D, wptr(m, blk->norm_added_q), wptr(m, blk->norm_added_k),
                       wptr(m, blk->norm_q), wptr(m, blk->norm_k), flux ? s->rope_cos : NULL, flux ? s->rope_sin : NULL, m->stream),
       "qk_norm_rope");
    return pack_heads(s, err);
}

/* Single block j up to attention: qkv [B, Ll, 3D] and the MLP's input big[:, :, D:] [B, Ll, M] from
 * nrm; RMSNorm and RoPE; packed. */
static int single_a(dit_gpu_step *s, int j, tetri_error *err)
{
    dit_gpu *m = s->m;
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    const dit_single_block *blk = &L->sgl[j];
    const int D = L->D, M = c->mlp_ratio * D, rows = s->B * s->Ll;
    const int flux = c->arch == DIT_ARCH_FLUX;
    if (lin(s, &blk->qkv, rows, s->nrm, D, s->qkv, 3 * D, DIT_EPI_BIAS, 0.f, err) ||
        lin(s, &blk->mlp, rows, s->nrm, D, bptr(s->big, D), D + M, DIT_EPI_GELU_BIAS, 0.f, err))
        return -1;
    KL(tk_qk_norm_rope(s->qkv, s->B, s->Ll, s->Tl, c->n_heads, c->head_dim, 3 * D, wptr(m, blk->norm_q), wptr(m, blk->norm_k),
                       wptr(m, blk->norm_q), wptr(m, blk->norm_k), flux ? s->rope_cos : NULL, flux ? s->rope_sin : NULL, m->stream),
       "qk_norm_rope");
    return pack_heads(s, err);
}

int dit_gpu_step_enqueue_block_a(dit_gpu_step *s, int block, tetri_error *err)
{
    const int nd = s->m->L->cfg.n_double;
    if (block < 0 || block >= dit_gpu_step_n_blocks(s)) return tetri_errorf(err, "step: no block %d", block);
    return block < nd ? double_a(s, block, err) : single_a(s, block - nd, err);
}

/* Where block `block`'s attention output lands, [B, Ll, ld]: att (double blocks) or the first D
 * columns of big, beside the MLP's activations (single blocks: one proj_out over both). */
static void *attention_dst(dit_gpu_step *s, int block, int64_t *ld)
{
    const int D = s->m->L->D, M = s->m->L->cfg.mlp_ratio * D;
    const int dbl = block < s->m->L->cfg.n_double;
    *ld = dbl ? D : D + M;
    return dbl ? s->att : s->big;
}

int dit_gpu_step_enqueue_block_attention(dit_gpu_step *s, int block, tetri_error *err)
{
    const int D = s->m->L->D, k = s->sh.degree, Dk = D / k;
    cudaStream_t st = s->m->stream;
    int64_t ld;
    void *dst = attention_dst(s, block, &ld);
    if (block < 0 || block >= dit_gpu_step_n_blocks(s)) return tetri_errorf(err, "step: no block %d", block);
    if (k == 1) return attention(s, s->qkv, dst, ld, err);
    /* recv_in [k][B, L_i, 3 Dk] -> att_in [B, Lt, 3 Dk] -> att_out [B, Lt, Dk] -> send_out [k][B, L_i, Dk] */
    KL(tk_sp_unpack_heads(s->recv_in, s->B, s->Lrank, D, k, s->att_in, st), "sp_unpack_heads");
    if (attention(s, s->att_in, s->att_out, Dk, err)) return -1;
    KL(tk_sp_pack_rows(s->att_out, s->B, s->Lrank, D, k, s->send_out, st), "sp_pack_rows");
    return 0;
}

/* Double block i after attention (att [B, Ll, D]): output projections, gated residual, norm, the
 * feed-forwards, gated residual and the next block's norm into nrm. */
static int double_b(dit_gpu_step *s, int i, tetri_error *err)
{
    dit_gpu *m = s->m;
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    const dit_double_block *blk = &L->dbl[i];
    const int B = s->B, Tl = s->Tl, Nl = s->Nl, Ll = s->Ll, D = L->D, M = c->mlp_ratio * D;
    const int64_t mt = L->mod_total, sD = (int64_t)Ll * D, sM = (int64_t)Ll * M;
    void *mx = bptr(s->mod, blk->mod_x_off), *mc = bptr(s->mod, blk->mod_c_off);
    const int pre = blk->context_pre_only;
    cudaStream_t st = m->stream;
    if (fork_txt(m, err)) return -1;
    if (lin_each(m->gemm, s, &blk->out_x, Nl, bptr(s->att, (int64_t)Tl * D), D, sD, bptr(s->y, (int64_t)Tl * D), D, sD, DIT_EPI_BIAS,
                 err) ||
        (!pre && lin_each(m->gemm_txt, s, &blk->out_c, Tl, s->att, D, sD, s->y, D, sD, DIT_EPI_BIAS, err)))
        return -1;
    if (join_txt(m, err)) return -1;
    tk_mod_rows t1 = {pre ? NULL : bptr(mc, 2 * D), pre ? NULL : bptr(mc, 3 * D), bptr(mc, 4 * D)};
    tk_mod_rows i1 = {bptr(mx, 2 * D), bptr(mx, 3 * D), bptr(mx, 4 * D)};
    KL(tk_residual_ln_mod(s->h, s->y, s->nrm, B, Ll, Tl, D, t1, i1, mt, NULL, 0, st), "residual_ln_mod");
    if (fork_txt(m, err)) return -1;
    if (!pre && (lin_each(m->gemm_txt, s, &blk->ff1_c, Tl, s->nrm, D, sD, s->big, M, sM, DIT_EPI_GELU_BIAS, err) ||
                 lin_each(m->gemm_txt, s, &blk->ff2_c, Tl, s->big, M, sM, s->y, D, sD, DIT_EPI_BIAS, err)))
        return -1;
    if (lin_each(m->gemm, s, &blk->ff1_x, Nl, bptr(s->nrm, (int64_t)Tl * D), D, sD, bptr(s->big, (int64_t)Tl * M), M, sM,
                 DIT_EPI_GELU_BIAS, err) ||
        lin_each(m->gemm, s, &blk->ff2_x, Nl, bptr(s->big, (int64_t)Tl * M), M, sM, bptr(s->y, (int64_t)Tl * D), D, sD, DIT_EPI_BIAS, err))
        return -1;
    if (join_txt(m, err)) return -1;
    tk_mod_rows t2 = {0}, i2 = {0};
    next_norm_mods(s, i + 1 < c->n_double ? i + 1 : -1, i + 1 < c->n_double ? -1 : (c->n_single ? 0 : -1), &t2, &i2);
    t2.gate = pre ? NULL : bptr(mc, 5 * D);
    if (pre) t2.shift = t2.scale = NULL;
    i2.gate = bptr(mx, 5 * D);
    KL(tk_residual_ln_mod(s->h, s->y, s->nrm, B, Ll, Tl, D, t2, i2, mt, NULL, 0, st), "residual_ln_mod");
    return 0;
}

/* Single block j after attention (big [B, Ll, D + M] = attention | MLP activations): proj_out,
 * gated residual, the next block's norm into nrm. */
static int single_b(dit_gpu_step *s, int j, tetri_error *err)
{
    const dit_layout *L = s->m->L;
    const dit_config *c = &L->cfg;
    const dit_single_block *blk = &L->sgl[j];
    const int D = L->D, M = c->mlp_ratio * D;
    void *mm = bptr(s->mod, blk->mod_off);
    if (lin(s, &blk->out, s->B * s->Ll, s->big, D + M, s->y, D, DIT_EPI_BIAS, 0.f, err)) return -1;
    tk_mod_rows t2 = {0}, i2 = {0};
    next_norm_mods(s, -1, j + 1 < c->n_single ? j + 1 : -1, &t2, &i2);
    t2.gate = i2.gate = bptr(mm, 2 * D);
    KL(tk_residual_ln_mod(s->h, s->y, s->nrm, s->B, s->Ll, s->Tl, D, t2, i2, L->mod_total, NULL, 0, s->m->stream), "residual_ln_mod");
    return 0;
}

int dit_gpu_step_enqueue_block_b(dit_gpu_step *s, int block, tetri_error *err)
{
    const int nd = s->m->L->cfg.n_double, D = s->m->L->D;
    if (block < 0 || block >= dit_gpu_step_n_blocks(s)) return tetri_errorf(err, "step: no block %d", block);
    if (s->sh.degree > 1) {
        /* recv_out [k][B, Ll, Dk] -> the attention output [B, Ll, ld] at columns j Dk */
        int64_t ld;
        void *dst = attention_dst(s, block, &ld);
        KL(tk_sp_unpack_rows(s->recv_out, s->B, s->Ll, D, s->sh.degree, dst, ld, s->m->stream), "sp_unpack_rows");
    }
    return block < nd ? double_b(s, block, err) : single_b(s, block - nd, err);
}

int dit_gpu_step_enqueue_end(dit_gpu_step *s, tetri_error *err)
{
    dit_gpu *m = s->m;
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    const int D = L->D, Nl = s->Nl, tout = dit_token_out(c);
    /* out [B, Nl, tout] from the image rows of nrm; vel [B, Nl, tout] f32 in packed token order */
    if (lin_each(m->gemm, s, &L->proj_out, Nl, bptr(s->nrm, (int64_t)s->Tl * D), D, (int64_t)s->Ll * D, s->out, tout,
                 (int64_t)Nl * tout, DIT_EPI_BIAS, err))
        return -1;
    KL(tk_velocity_packed(s->out, s->vel, s->B, Nl, tout, c->arch == DIT_ARCH_FLUX ? 0 : c->out_channels, m->stream), "velocity_packed");
    return 0;
}

int dit_gpu_step_enqueue_update(dit_gpu_step *s, tetri_error *err)
{
    const int64_t n = (int64_t)s->Nl * dit_token_in(&s->m->L->cfg);
    KL(tk_slot_euler(s->refs, s->B, s->vel, n, s->sig2, s->m->stream), "slot_euler");
    KL(tk_slot_advance(s->refs, s->B, s->m->stream), "slot_advance");
    return 0;
}

/* Enqueues one transformer forward of a runner on its own (degree 1) on the model's stream (no
 * synchronisation): the phases back to back. */
static int enqueue_forward(dit_gpu_step *s, tetri_error *err)
{
    if (s->sh.degree != 1)
        return tetri_errorf(err, "step: a runner of degree %d runs in a group (dit/sp_group.h), not alone", s->sh.degree);
    if (dit_gpu_step_enqueue_begin(s, err)) return -1;
    for (int i = 0; i < dit_gpu_step_n_blocks(s); i++)
        if (dit_gpu_step_enqueue_block_a(s, i, err) || dit_gpu_step_enqueue_block_attention(s, i, err) ||
            dit_gpu_step_enqueue_block_b(s, i, err))
            return -1;
    return dit_gpu_step_enqueue_end(s, err);
}

/* One denoising step of the bound slots: forward, then each slot's Euler update and step. */
static int enqueue_denoise_step(dit_gpu_step *s, tetri_error *err)
{
    if (enqueue_forward(s, err)) return -1;
    return dit_gpu_step_enqueue_update(s, err);
}

static int check_bound(const dit_gpu_step *s, tetri_error *err)
{
    for (int b = 0; b < s->B; b++)
        if (!s->bound[b]) return tetri_errorf(err, "step: no slot bound to sample %d (dit_gpu_step_bind or set_inputs first)", b);
    return 0;
}

int dit_gpu_step_forward(dit_gpu_step *s, tetri_error *err)
{
    if (check_bound(s, err) || enqueue_forward(s, err)) return -1;
    CU(cudaStreamSynchronize(s->m->stream), "forward");
    return 0;
}

int dit_gpu_step_capture(dit_gpu_step *s, tetri_error *err)
{
    /* One eager forward first: cuBLASLt plans and kernel attributes are made outside the capture.
     * It needs slots: the runner's own, with seeded random inputs, when none are bound (a server captures
     * at start-up, before any request). */
    if (!s->bound[0] && dit_gpu_step_random_inputs(s, 0, err)) return -1;
    if (dit_gpu_step_forward(s, err)) return -1;
    if (s->exec) { cudaGraphExecDestroy(s->exec); s->exec = NULL; }
    if (s->graph) { cudaGraphDestroy(s->graph); s->graph = NULL; }
    CU(cudaStreamBeginCapture(s->m->stream, cudaStreamCaptureModeThreadLocal), "begin capture");
    int rc = enqueue_denoise_step(s, err);
    cudaError_t e = cudaStreamEndCapture(s->m->stream, &s->graph);
    if (rc) return -1;
    if (e != cudaSuccess) return tetri_errorf(err, "end capture: %s", cudaGetErrorString(e));
    CU(cudaGraphInstantiate(&s->exec, s->graph, 0), "graph instantiate");
    return 0;
}

int dit_gpu_step_replay(dit_gpu_step *s, tetri_error *err)
{
    if (!s->exec) return tetri_errorf(err, "step: no captured graph");
    CU(cudaGraphLaunch(s->exec, s->m->stream), "graph launch");
    return 0;
}

int dit_gpu_step_run(dit_gpu_step *s, int n, tetri_error *err)
{
    if (check_bound(s, err)) return -1;
    for (int i = 0; i < n; i++) {
        if (s->exec) { CU(cudaGraphLaunch(s->exec, s->m->stream), "graph launch"); }
        else if (enqueue_denoise_step(s, err)) return -1;
    }
    return 0;
}

int dit_gpu_step_denoise(dit_gpu_step *s, int n, tetri_error *err)
{
    if (check_bound(s, err)) return -1;
    for (int b = 0; b < s->B; b++)
        if (dit_slot_set_step(s->bound[b], 0, err)) return -1;
    if (dit_gpu_step_run(s, n, err)) return -1;
    CU(cudaStreamSynchronize(s->m->stream), "denoise");
    return 0;
}

int dit_gpu_step_read_velocity(dit_gpu_step *s, float *host, tetri_error *err)
{
    const size_t n = (size_t)s->B * s->Nl * dit_token_out(&s->m->L->cfg);
    CU(cudaMemcpy(host, s->vel, n * 4, cudaMemcpyDeviceToHost), "reading the velocity");
    return 0;
}

int dit_gpu_step_read_latent(dit_gpu_step *s, float *host, tetri_error *err)
{
    const size_t n = (size_t)s->Nl * dit_token_in(&s->m->L->cfg);
    if (check_bound(s, err)) return -1;
    for (int b = 0; b < s->B; b++)
        if (dit_slot_read_latent(s->bound[b], host + (size_t)b * n, err)) return -1;
    return 0;
}

int dit_gpu_step_sample_ms(dit_gpu_step *s, int warmup, int n, float *ms, tetri_error *err)
{
    if (check_bound(s, err)) return -1;
    cudaEvent_t a = NULL, b = NULL;
    cudaStream_t st = s->m->stream;
    int rc = 0;
    cudaError_t e = cudaEventCreate(&a);
    if (e == cudaSuccess) e = cudaEventCreate(&b);
    for (int i = 0; i < warmup + n && e == cudaSuccess && !rc; i++) {
        e = cudaEventRecord(a, st);
        if (e == cudaSuccess) rc = dit_gpu_step_run(s, 1, err);
        if (e == cudaSuccess && !rc) e = cudaEventRecord(b, st);
        if (e == cudaSuccess && !rc) e = cudaEventSynchronize(b);
        if (e == cudaSuccess && !rc && i >= warmup) e = cudaEventElapsedTime(&ms[i - warmup], a, b);
    }
    if (a) cudaEventDestroy(a);
    if (b) cudaEventDestroy(b);
    if (e != cudaSuccess) return tetri_errorf(err, "timing steps: %s", cudaGetErrorString(e));
    return rc;
}

int dit_gpu_step_run_marked(dit_gpu_step *s, int n, cudaEvent_t *at, tetri_error *err)
{
    if (check_bound(s, err)) return -1;
    for (int i = 0; i < n; i++) {
        CU(cudaEventRecord(at[i], s->m->stream), "marking a step");
        if (dit_gpu_step_run(s, 1, err)) return -1;
    }
    CU(cudaEventRecord(at[n], s->m->stream), "marking a step");
    return 0;
}

size_t dit_gpu_step_bytes(const dit_gpu_step *s)
{
    dit_arena a = {0};
    dit_gpu_step probe = *s;
    carve(&probe, &a);
    return a.used;
}
