/* dit/slot.c: request slots (dit_gpu.h, "slots: one request's state"): their memory, inputs,
 * conditioning (dit_slot_prepare), step index, and their migration between GPU sets and degrees.
 * The runners that read them are dit/dit_gpu.c's. */
#include "config.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "dit/gpu_internal.h"

/* A slot's arena, the same two passes. */
static void carve_slot(dit_slot *sl, dit_arena *a)
{
    size_t b[DIT_SLOT_BUFS];
    dit_slot_buffer_bytes(sl->m->L, sl->T, sl->gh, sl->gw, sl->n_steps, sl->sh.degree, sl->sh.rank, b);
    sl->ref.lat = dit_arena_take(a, b[DIT_SBUF_LAT]);
    sl->ref.txt = dit_arena_take(a, b[DIT_SBUF_TXT]);
    sl->ref.mod = dit_arena_take(a, b[DIT_SBUF_MOD]);
    sl->ref.sigmas = dit_arena_take(a, b[DIT_SBUF_SIGMAS]);
    sl->ref.step = dit_arena_take(a, b[DIT_SBUF_STEP]);
    sl->pooled = dit_arena_take(a, b[DIT_SBUF_POOLED]);
    sl->guid = dit_arena_take(a, b[DIT_SBUF_GUID]);
    sl->t_rows = dit_arena_take(a, b[DIT_SBUF_T_ROWS]);
    sl->g_rows = dit_arena_take(a, b[DIT_SBUF_G_ROWS]);
    sl->pooled_rows = dit_arena_take(a, b[DIT_SBUF_POOLED_ROWS]);
    sl->tproj = dit_arena_take(a, b[DIT_SBUF_TPROJ]);
    sl->e1 = dit_arena_take(a, b[DIT_SBUF_E1]);
    sl->e2 = dit_arena_take(a, b[DIT_SBUF_E2]);
    sl->temb = dit_arena_take(a, b[DIT_SBUF_TEMB]);
}

/* ---- slots ---------------------------------------------------------------------------------- */

int dit_slot_create(dit_gpu *m, int text_tokens, int grid_h, int grid_w, int n_steps, dit_slot **out, tetri_error *err)
{
    return dit_slot_create_sp(m, text_tokens, grid_h, grid_w, n_steps, 1, 0, out, err);
}

int dit_slot_create_sp(dit_gpu *m, int text_tokens, int grid_h, int grid_w, int n_steps, int degree, int rank, dit_slot **out,
                       tetri_error *err)
{
    const dit_config *c = &m->L->cfg;
    *out = NULL;
    if (text_tokens < 1 || grid_h < 1 || grid_w < 1 || n_steps < 1)
        return tetri_errorf(err, "slot: text tokens, image grid and steps must be positive");
    if (c->text_dim % 8 || m->L->mod_total % 8)
        return tetri_errorf(err, "slot: text rows and modulation rows must be multiples of 8 elements");
    if (dit_sp_check(c, degree, text_tokens, grid_h * grid_w, err)) return -1;
    if (rank < 0 || rank >= degree) return tetri_errorf(err, "slot: rank %d of degree %d", rank, degree);
    dit_slot *sl = calloc(1, sizeof *sl);
    if (!sl) return tetri_errorf(err, "out of memory");
    *sl = (dit_slot){.m = m, .T = text_tokens, .gh = grid_h, .gw = grid_w, .N = grid_h * grid_w, .n_steps = n_steps};
    dit_sp_shard_of(sl->T, sl->N, degree, rank, &sl->sh);
    sl->ref.n_steps = n_steps;
    dit_arena a = {0};
    carve_slot(sl, &a);
    /* Stream-ordered: a server makes and frees slots between blocks without synchronising the GPU. */
    cudaError_t e = cudaMallocAsync(&sl->arena, a.used, m->stream);
    if (e != cudaSuccess) {
        free(sl);
        return tetri_errorf(err, "slot: cannot allocate %.1f MiB: %s", (double)a.used / (1 << 20), cudaGetErrorString(e));
    }
    a = (dit_arena){.base = sl->arena};
    carve_slot(sl, &a);
    tk_poison(sl->arena, (int64_t)a.used, m->stream);
    *out = sl;
    return 0;
}

void dit_slot_destroy(dit_slot *sl)
{
    if (!sl) return;
    cudaFreeAsync(sl->arena, sl->m->stream);
    free(sl);
}

static int upload_bf16(void *dst, const float *src, size_t n, cudaStream_t st, tetri_error *err)
{
    uint16_t *tmp = malloc(n * 2 + 2);
    if (!tmp) return tetri_errorf(err, "out of memory");
    for (size_t i = 0; i < n; i++) tmp[i] = dit_f32_to_bf16_bits(src[i]);
    cudaError_t e = cudaMemcpyAsync(dst, tmp, n * 2, cudaMemcpyHostToDevice, st);
    if (e == cudaSuccess) e = cudaStreamSynchronize(st);
    free(tmp);
    if (e != cudaSuccess) return tetri_errorf(err, "uploading inputs: %s", cudaGetErrorString(e));
    return 0;
}

/* The schedule (sigmas, or the model's for the slot's size), sigma0 replacing its first value when
 * given, the guidance and step 0; enqueued, pageable copies (staged at once, no synchronisation). */
static int upload_schedule(dit_slot *sl, const float *sigmas, const float *sigma0, float guidance, tetri_error *err)
{
    cudaStream_t st = sl->m->stream;
    float *sig = malloc(((size_t)sl->n_steps + 1) * 4);
    if (!sig) return tetri_errorf(err, "out of memory");
    if (sigmas) memcpy(sig, sigmas, ((size_t)sl->n_steps + 1) * 4);
    else dit_sigma_schedule(&sl->m->L->cfg, sl->N, sl->n_steps, sig);
    if (sigma0) sig[0] = *sigma0;
    const int zero = 0;
    cudaError_t e = cudaMemcpyAsync((float *)sl->ref.sigmas, sig, ((size_t)sl->n_steps + 1) * 4, cudaMemcpyHostToDevice, st);
    if (!e) e = cudaMemcpyAsync(sl->guid, &guidance, 4, cudaMemcpyHostToDevice, st);
    if (!e) e = cudaMemcpyAsync(sl->ref.step, &zero, 4, cudaMemcpyHostToDevice, st);
    free(sig);
    if (e) return tetri_errorf(err, "slot: uploading the schedule: %s", cudaGetErrorString(e));
    return 0;
}

int dit_slot_set_inputs(dit_slot *sl, const dit_step_inputs *in, int sample, const float *sigmas, tetri_error *err)
{
    const dit_config *c = &sl->m->L->cfg;
    cudaStream_t st = sl->m->stream;
    if (sample < 0 || sample >= in->batch || in->text_tokens != sl->T || in->grid_h != sl->gh || in->grid_w != sl->gw)
        return tetri_errorf(err, "slot inputs: sample %d of %d, %d text tokens, grid %dx%d do not match the slot's %d, %dx%d", sample,
                            in->batch, in->text_tokens, in->grid_h, in->grid_w, sl->T, sl->gh, sl->gw);
    /* sample's rows [n0, n0 + nn) of its latent and [t0, t0 + tn) of its text: the slot's shard */
    const size_t tin = (size_t)dit_token_in(c), td = (size_t)c->text_dim;
    const float *lat = in->latent + ((size_t)sample * sl->N + (size_t)sl->sh.n0) * tin;
    const float *txt = in->text + ((size_t)sample * sl->T + (size_t)sl->sh.t0) * td;
    cudaError_t e = cudaMemcpyAsync(sl->ref.lat, lat, (size_t)sl->sh.nn * tin * 4, cudaMemcpyHostToDevice, st);
    if (e) return tetri_errorf(err, "slot: uploading the latent: %s", cudaGetErrorString(e));
    if (upload_bf16((void *)sl->ref.txt, txt, (size_t)sl->sh.tn * td, st, err) ||
        upload_bf16(sl->pooled, in->pooled + (size_t)sample * c->pooled_dim, (size_t)c->pooled_dim, st, err) ||
        upload_schedule(sl, sigmas, in->sigma ? &in->sigma[sample] : NULL, in->guidance ? in->guidance[sample] : 0.f, err))
        return -1;
    return dit_slot_prepare(sl, err);
}

int dit_slot_random_inputs(dit_slot *sl, uint64_t seed, tetri_error *err)
{
    const dit_config *c = &sl->m->L->cfg;
    cudaStream_t st = sl->m->stream;
    const int64_t tin = dit_token_in(c), td = c->text_dim;
    /* U(-sqrt 3, sqrt 3): unit variance like the Gaussian latent the pipeline starts from; a shard
     * gets the values of its rows of the whole request's */
    KL(tk_fill_uniform_f32_at(sl->ref.lat, sl->sh.nn * tin, sl->sh.n0 * tin, seed, 1, 1.7320508f, st), "fill latent");
    KL(tk_fill_uniform_bf16_at((void *)sl->ref.txt, sl->sh.tn * td, sl->sh.t0 * td, seed, 2, 1.0f, st), "fill text");
    KL(tk_fill_uniform_bf16(sl->pooled, c->pooled_dim, seed, 3, 1.0f, st), "fill pooled");
    if (upload_schedule(sl, NULL, NULL, 3.5f, err)) return -1;
    return dit_slot_prepare(sl, err);
}

int dit_slot_read_latent(const dit_slot *sl, float *host, tetri_error *err)
{
    const size_t n = (size_t)sl->sh.nn * dit_token_in(&sl->m->L->cfg);
    CU(cudaMemcpyAsync(host, sl->ref.lat, n * 4, cudaMemcpyDeviceToHost, sl->m->stream), "reading a slot's latent");
    CU(cudaStreamSynchronize(sl->m->stream), "reading a slot's latent");
    return 0;
}

int dit_slot_step_index(const dit_slot *sl, int *step, tetri_error *err)
{
    CU(cudaMemcpyAsync(step, sl->ref.step, 4, cudaMemcpyDeviceToHost, sl->m->stream), "reading a slot's step");
    CU(cudaStreamSynchronize(sl->m->stream), "reading a slot's step");
    return 0;
}

int dit_slot_copy_state(dit_slot *dst, const dit_slot *src, tetri_error *err)
{
    if (dst->T != src->T || dst->gh != src->gh || dst->gw != src->gw || dst->n_steps != src->n_steps ||
        dst->m->L->total != src->m->L->total || dst->sh.degree != src->sh.degree || dst->sh.rank != src->sh.rank)
        return tetri_errorf(err, "slot copy: the two slots differ in model, shape, schedule or shard (dit_slot_migrate moves between degrees)");
    const size_t nl = (size_t)dst->sh.nn * dit_token_in(&dst->m->L->cfg) * 4;
    /* Ordered on the destination's stream; the source's last block has ended (the caller saw it). */
    CU(cudaMemcpyPeerAsync(dst->ref.lat, dst->m->device, src->ref.lat, src->m->device, nl, dst->m->stream), "moving a latent");
    CU(cudaMemcpyPeerAsync(dst->ref.step, dst->m->device, src->ref.step, src->m->device, 4, dst->m->stream), "moving a step index");
    return 0;
}

void dit_slot_shard(const dit_slot *sl, dit_sp_shard *sh) { *sh = sl->sh; }

/* ---- migration between degrees ---- */

/* bytes from src (on device sdev) to dst (on ddev), on stream st (dst's), with dst's device current
 * (a stream takes work only from its own device; dit_slot_migrate restores the caller's). */
static int copy_dev(void *dst, int ddev, const void *src, int sdev, size_t bytes, cudaStream_t st, tetri_error *err)
{
    if (!bytes) return 0;
    CU(cudaSetDevice(ddev), "migrating a slot");
    if (ddev == sdev) CU(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, st), "migrating a slot");
    else CU(cudaMemcpyPeerAsync(dst, ddev, src, sdev, bytes, st), "migrating a slot (peer)");
    return 0;
}

/* `waiter` waits for what is enqueued on `first` (of device first_dev) so far; nothing when they are
 * one stream (ranks on one GPU). */
static int stream_after(cudaStream_t waiter, cudaStream_t first, int first_dev, tetri_error *err)
{
    if (waiter == first) return 0;
    int cur = 0;
    cudaEvent_t ev = NULL;
    cudaGetDevice(&cur);
    cudaError_t e = cudaSetDevice(first_dev); /* an event is recorded on its own device's streams */
    if (e == cudaSuccess) e = cudaEventCreateWithFlags(&ev, cudaEventDisableTiming);
    if (e == cudaSuccess) e = cudaEventRecord(ev, first);
    cudaSetDevice(cur);
    if (e == cudaSuccess) e = cudaStreamWaitEvent(waiter, ev, 0);
    if (ev) cudaEventDestroy(ev); /* released once it has completed */
    if (e != cudaSuccess) return tetri_errorf(err, "migrating a slot: ordering streams: %s", cudaGetErrorString(e));
    return 0;
}

static int check_migration(dit_slot *const *dst, int b, dit_slot *const *src, int a, tetri_error *err)
{
    if (a < 1 || a > DIT_SP_MAX_DEGREE || b < 1 || b > DIT_SP_MAX_DEGREE)
        return tetri_errorf(err, "slot migration: degrees %d -> %d outside 1..%d", a, b, DIT_SP_MAX_DEGREE);
    const dit_slot *r = src[0];
    for (int i = 0; i < a + b; i++) {
        const dit_slot *sl = i < a ? src[i] : dst[i - a];
        const int deg = i < a ? a : b, rank = i < a ? i : i - a;
        if (!sl || sl->sh.degree != deg || sl->sh.rank != rank)
            return tetri_errorf(err, "slot migration: %s slot [%d] is not a slot of rank %d of degree %d", i < a ? "source" : "destination",
                                rank, rank, deg);
        if (sl->T != r->T || sl->gh != r->gh || sl->gw != r->gw || sl->n_steps != r->n_steps || sl->m->L->total != r->m->L->total)
            return tetri_errorf(err, "slot migration: the slots differ in model, shape or schedule");
    }
    return 0;
}

/* Row runs of one per-row array (latent: row_bytes = C p^2 floats; text: text_dim bf16) from the
 * old shards to the new, per dit_sp_migration_plan. lat: 1 for the latent, 0 for the text. */
static int migrate_rows(dit_slot *const *dst, int b, dit_slot *const *src, int a, int lat, tetri_error *err)
{
    const dit_config *c = &src[0]->m->L->cfg;
    const int rows = lat ? src[0]->N : src[0]->T;
    const size_t row_bytes = lat ? (size_t)dit_token_in(c) * 4 : (size_t)c->text_dim * 2;
    dit_sp_move mv[2 * DIT_SP_MAX_DEGREE];
    const int n = dit_sp_migration_plan(rows, a, b, mv);
    for (int i = 0; i < n; i++) {
        const dit_slot *s = src[mv[i].src_rank];
        dit_slot *d = dst[mv[i].dst_rank];
        const char *sp = lat ? (const char *)s->ref.lat : (const char *)s->ref.txt;
        char *dp = lat ? (char *)d->ref.lat : (char *)d->ref.txt;
        if (copy_dev(dp + (size_t)mv[i].dst_row * row_bytes, d->m->device, sp + (size_t)mv[i].src_row * row_bytes, s->m->device,
                     (size_t)mv[i].rows * row_bytes, d->m->stream, err))
            return -1;
    }
    return 0;
}

/* Destination rank r's step index, and (how > KEEP) its schedule, guidance and pooled vector, (COPY)
 * its modulation table, from source rank r mod a: a GPU that is rank r of both sets copies locally. */
static int migrate_request(dit_slot *d, const dit_slot *s, dit_slot_migration how, tetri_error *err)
{
    const dit_layout *L = s->m->L;
    const size_t R = (size_t)s->n_steps;
    const int dd = d->m->device, sd = s->m->device;
    cudaStream_t st = d->m->stream;
    if (copy_dev(d->ref.step, dd, s->ref.step, sd, 4, st, err)) return -1;
    if (how == DIT_MIGRATE_KEEP) return 0;
    if (copy_dev((void *)d->ref.sigmas, dd, s->ref.sigmas, sd, (R + 1) * 4, st, err) || copy_dev(d->guid, dd, s->guid, sd, 4, st, err) ||
        copy_dev(d->pooled, dd, s->pooled, sd, (size_t)L->cfg.pooled_dim * 2, st, err))
        return -1;
    if (how == DIT_MIGRATE_COPY) return copy_dev((void *)d->ref.mod, dd, s->ref.mod, sd, R * (size_t)L->mod_total * 2, st, err);
    CU(cudaSetDevice(dd), "migrating a slot"); /* prepare's GEMMs and kernels run on d's GPU */
    return dit_slot_prepare(d, err);
}

static int migrate(dit_slot *const *dst, int b, dit_slot *const *src, int a, dit_slot_migration how, int sources_idle, tetri_error *err)
{
    /* every destination's stream after every source's work so far (their last step), unless the
     * caller saw that work end */
    for (int j = 0; j < b && !sources_idle; j++)
        for (int i = 0; i < a; i++)
            if (stream_after(dst[j]->m->stream, src[i]->m->stream, src[i]->m->device, err)) return -1;
    if (migrate_rows(dst, b, src, a, 1, err) || migrate_rows(dst, b, src, a, 0, err)) return -1;
    for (int j = 0; j < b; j++)
        if (migrate_request(dst[j], src[j % a], how, err)) return -1;
    /* and every source's stream after the copies, so that freeing or reusing a source slot
     * (stream-ordered on its stream) waits for them */
    for (int i = 0; i < a; i++)
        for (int j = 0; j < b; j++)
            if (stream_after(src[i]->m->stream, dst[j]->m->stream, dst[j]->m->device, err)) return -1;
    return 0;
}

static int migrate_restoring(dit_slot *const *dst, int b, dit_slot *const *src, int a, dit_slot_migration how, int sources_idle,
                             tetri_error *err)
{
    int cur = 0;
    if (check_migration(dst, b, src, a, err)) return -1;
    cudaGetDevice(&cur);
    const int rc = migrate(dst, b, src, a, how, sources_idle, err);
    cudaSetDevice(cur);
    return rc;
}

int dit_slot_migrate(dit_slot *const *dst, int b, dit_slot *const *src, int a, dit_slot_migration how, tetri_error *err)
{
    return migrate_restoring(dst, b, src, a, how, 0, err);
}

int dit_slot_migrate_idle(dit_slot *const *dst, int b, dit_slot *const *src, int a, dit_slot_migration how, tetri_error *err)
{
    return migrate_restoring(dst, b, src, a, how, 1, err);
}

dit_gpu *dit_slot_model(const dit_slot *sl) { return sl->m; }

int dit_slot_set_step(dit_slot *sl, int step, tetri_error *err)
{
    if (step < 0 || step >= sl->n_steps) return tetri_errorf(err, "slot: step %d is outside 0..%d", step, sl->n_steps - 1);
    CU(cudaMemcpyAsync(sl->ref.step, &step, 4, cudaMemcpyHostToDevice, sl->m->stream), "setting a slot's step");
    CU(cudaStreamSynchronize(sl->m->stream), "setting a slot's step"); /* the source is this frame's */
    return 0;
}

/* The request's conditioning, once per schedule: temb = timestep embedding of sigma[k] (+
 * guidance) + pooled projection for every step k, then every block's modulation for every step in
 * one GEMM, mod[k, :] = W_mod silu(temb[k]) + b_mod. The modulation depends only on the step's
 * sigma, the guidance and the pooled vector, all fixed when the request starts; reading its 6.5 GB
 * of weights (FLUX) once per request instead of once per step saves about 1.5-2 ms a step, which
 * is 4-5% of a step at 512 px. */
int dit_slot_prepare(dit_slot *sl, tetri_error *err)
{
    dit_gpu *m = sl->m;
    const dit_layout *L = m->L;
    const dit_config *c = &L->cfg;
    const int D = L->D, R = sl->n_steps; /* one row per step */
    const int64_t RD = (int64_t)R * D;
    cudaStream_t st = m->stream;
    dit_gemm_ctx *g = m->gemm;
    KL(tk_cond_rows(sl->ref.sigmas, L->g_l1.w >= 0 ? sl->guid : NULL, sl->pooled, R, 1, c->pooled_dim, sl->t_rows, sl->g_rows,
                    sl->pooled_rows, st),
       "cond_rows");
    KL(tk_timestep_proj(sl->t_rows, sl->tproj, R, st), "timestep_proj");
    if (dit_gpu_lin_model(g, m, &L->t_l1, R, sl->tproj, 256, sl->e1, D, DIT_EPI_BIAS, 0.f, err)) return -1;
    KL(tk_silu(sl->e1, RD, st), "silu");
    if (dit_gpu_lin_model(g, m, &L->t_l2, R, sl->e1, D, sl->temb, D, DIT_EPI_BIAS, 0.f, err)) return -1;
    if (L->g_l1.w >= 0) {
        KL(tk_timestep_proj(sl->g_rows, sl->tproj, R, st), "timestep_proj");
        if (dit_gpu_lin_model(g, m, &L->g_l1, R, sl->tproj, 256, sl->e1, D, DIT_EPI_BIAS, 0.f, err)) return -1;
        KL(tk_silu(sl->e1, RD, st), "silu");
        if (dit_gpu_lin_model(g, m, &L->g_l2, R, sl->e1, D, sl->temb, D, DIT_EPI_BIAS, 1.f, err)) return -1;
    }
    if (dit_gpu_lin_model(g, m, &L->p_l1, R, sl->pooled_rows, c->pooled_dim, sl->e1, D, DIT_EPI_BIAS, 0.f, err)) return -1;
    KL(tk_silu(sl->e1, RD, st), "silu");
    if (dit_gpu_lin_model(g, m, &L->p_l2, R, sl->e1, D, sl->temb, D, DIT_EPI_BIAS, 1.f, err)) return -1;
    CU(cudaMemcpyAsync(sl->e2, sl->temb, (size_t)RD * 2, cudaMemcpyDeviceToDevice, st), "copy temb");
    KL(tk_silu(sl->e2, RD, st), "silu");
    dit_linear all_mod = {.w = L->mod_w, .b = L->mod_b, .out = (int)L->mod_total, .in = D};
    return dit_gpu_lin_model(g, m, &all_mod, R, sl->e2, D, (void *)sl->ref.mod, L->mod_total, DIT_EPI_BIAS, 0.f, err);
}
