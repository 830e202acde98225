/* dit/cpu_sp.c: the CPU reference at Ulysses degree k (see cpu_ref.h and dit/sp.h): k ranks in host
 * memory, each holding only its shard's rows and running cpu_ref.c's per-row phases on them, the
 * all-to-all around attention through a dit_transport; and requests held as per-rank shards,
 * moved between degrees by dit_sp_migration_plan and denoised.
 * defines: dit_cpu_forward_sp, dit_cpu_request_shard, dit_cpu_request_gather, dit_cpu_migrate,
 *          dit_cpu_sharded_free, dit_cpu_denoise_sp. */
#include "dit/cpu_ref.h"
#include "dit/cpu_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* Where rank r's rows of sample b come from and go (io[b k + r]): its shard's rows only. */
typedef struct sp_rank_io {
    const float *text;   /* [tn, text_dim] */
    const float *latent; /* [nn, C p^2] */
    float *out;          /* [nn, C p^2] */
} sp_rank_io;

/* What a group of k ranks holds for one batch of B samples: each rank's rows and the exchange's buffers. */
typedef struct sp_group {
    int k, B, Lt;
    int L[DIT_SP_MAX_DEGREE];                 /* rank r's rows of one sample */
    dit_cpu_rows rank[DIT_SP_MAX_DEGREE];
    size_t in_bytes[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE], out_bytes[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE];
    void *send[DIT_SP_MAX_DEGREE], *recv[DIT_SP_MAX_DEGREE]; /* rank r's chunks back to back, either exchange */
    float *att_in[DIT_SP_MAX_DEGREE];         /* rank j: [B, Lt, 3D/k] q | k | v of heads j H/k.., every row */
    float *att_out[DIT_SP_MAX_DEGREE];        /* rank j: [B, Lt, D/k] */
    float *scores;                            /* [Lt] */
} sp_group;

/* What rank r sends (from = 1) or receives (from = 0) in one exchange, from its byte table. */
static size_t chunk_sum(const size_t *bytes, int k, int r, int from)
{
    size_t s = 0;
    for (int o = 0; o < k; o++) s += from ? bytes[r * k + o] : bytes[o * k + r];
    return s;
}
static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

static void sp_group_init(sp_group *g, const dit_layout *L, const dit_step_inputs *in, int k)
{
    const int T = in->text_tokens, N = in->grid_h * in->grid_w, B = in->batch;
    const size_t D = (size_t)L->D, Lt = (size_t)T + (size_t)N;
    *g = (sp_group){.k = k, .B = B, .Lt = (int)Lt};
    /* the byte tables size the buffers and drive the transport: the ones a GPU group uses, at 4 bytes an element */
    dit_sp_a2a_in_bytes(&L->cfg, k, T, N, B, sizeof(float), g->in_bytes);
    dit_sp_a2a_out_bytes(&L->cfg, k, T, N, B, sizeof(float), g->out_bytes);
    for (int r = 0; r < k; r++) {
        dit_sp_shard s;
        dit_sp_shard_of(T, N, k, r, &s);
        dit_cpu_rows_init(L, T, in->grid_h, in->grid_w, &s, B, &g->rank[r]);
        g->L[r] = g->rank[r].rows;
        g->send[r] = malloc(max_size(chunk_sum(g->in_bytes, k, r, 1), chunk_sum(g->out_bytes, k, r, 1)));
        g->recv[r] = malloc(max_size(chunk_sum(g->in_bytes, k, r, 0), chunk_sum(g->out_bytes, k, r, 0)));
        g->att_in[r] = malloc((size_t)B * Lt * 3 * (D / (size_t)k) * sizeof(float));
        g->att_out[r] = malloc((size_t)B * Lt * (D / (size_t)k) * sizeof(float));
        if (!g->send[r] || !g->recv[r] || !g->att_in[r] || !g->att_out[r]) abort();
    }
    g->scores = malloc(Lt * sizeof *g->scores);
    if (!g->scores) abort();
}

static void sp_group_free(sp_group *g)
{
    for (int r = 0; r < g->k; r++) {
        dit_cpu_rows_free(&g->rank[r]);
        free(g->send[r]); free(g->recv[r]); free(g->att_in[r]); free(g->att_out[r]);
    }
    free(g->scores);
}

/* One block's attention at degree k: every rank's q|k|v [B, L_r, 3D] -> all-to-all -> rank j holds
 * heads j H/k.. of every row -> attention -> all-to-all -> each rank's rows get every head back, in
 * att [B, L_r, D] (double blocks) or ff's first D columns [B, L_r, D + M] (single blocks). */
static int sp_attention(sp_group *g, const dit_layout *L, dit_transport *t, int single, tetri_error *err)
{
    const int k = g->k, B = g->B, Lt = g->Lt, D = L->D, Dk = D / k, M = L->cfg.mlp_ratio * D;
    for (int r = 0; r < k; r++) dit_sp_pack_heads(g->rank[r].qkv, 3 * D, B, g->L[r], D, k, g->send[r]);
    if (dit_transport_all_to_all(t, g->send, g->recv, g->in_bytes, err)) return -1;
    for (int j = 0; j < k; j++) {
        dit_sp_unpack_heads(g->recv[j], B, g->L, D, k, g->att_in[j]);
        /* the same attention as degree 1, on H/k heads: q | k | v each D/k wide, rows 3D/k apart */
        for (int b = 0; b < B; b++)
            dit_cpu_attention(g->att_in[j] + (size_t)b * Lt * 3 * Dk, Lt, 3 * Dk, L->cfg.n_heads / k, L->cfg.head_dim,
                              g->att_out[j] + (size_t)b * Lt * Dk, Dk, g->scores);
        dit_sp_pack_rows(g->att_out[j], B, g->L, D, k, g->send[j]);
    }
    if (dit_transport_all_to_all(t, g->send, g->recv, g->out_bytes, err)) return -1;
    for (int r = 0; r < k; r++) {
        if (single) dit_sp_unpack_rows(g->recv[r], B, g->L[r], D, k, g->rank[r].ff, D + M);
        else dit_sp_unpack_rows(g->recv[r], B, g->L[r], D, k, g->rank[r].att, D);
    }
    return 0;
}

typedef void (*sp_phase)(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot);

/* Block i's phase f on every rank's rows of every sample (k GPUs would run theirs at once). */
static void each_rank(sp_group *g, sp_phase f, const dit_layout *L, const float *w, int i, const float *mod)
{
    for (int r = 0; r < g->k; r++)
        for (int b = 0; b < g->B; b++) f(L, w, i, mod + (size_t)b * L->mod_total, &g->rank[r], b);
}

/* The forward at degree k once the inputs are checked: in gives the batch's shape and per-sample
 * sigma, guidance and pooled vector; io each rank's rows. t: NULL or a transport of k local ranks. */
static int forward_sharded(const dit_layout *L, const float *w, const dit_step_inputs *in, int k, dit_transport *t,
                           const sp_rank_io *io, tetri_error *err)
{
    const dit_config *c = &L->cfg;
    const int B = in->batch;
    dit_transport *own = NULL;
    if (!t && dit_transport_host_create(k, &own, err)) return -1;
    if (!t) t = own;
    else if (t->degree != k || t->n_local != k)
        return tetri_errorf(err, "cpu reference at degree %d: transport '%s' drives %d of %d ranks, not all %d", k, t->ops->name,
                            t->n_local, t->degree, k);
    sp_group g;
    sp_group_init(&g, L, in, k);
    /* mod [B, mod_total]: per sample and the same on every rank, so computed once per sample and
     * read by all k ranks (a GPU rank computes its own copy; the values are the same). */
    float *mod = malloc((size_t)B * L->mod_total * sizeof *mod);
    if (!mod) abort();
    for (int b = 0; b < B; b++)
        dit_cpu_modulation(L, w, in->sigma[b], in->guidance ? in->guidance[b] : 0.0f, in->pooled + (size_t)b * c->pooled_dim,
                           mod + (size_t)b * L->mod_total);
    for (int b = 0; b < B; b++)
        for (int r = 0; r < k; r++) dit_cpu_embed(L, w, io[b * k + r].text, io[b * k + r].latent, &g.rank[r], b);
    int rc = 0;
    for (int i = 0; i < c->n_double && !rc; i++) {
        each_rank(&g, dit_cpu_double_pre, L, w, i, mod);
        if (!(rc = sp_attention(&g, L, t, 0, err))) each_rank(&g, dit_cpu_double_post, L, w, i, mod);
    }
    for (int i = 0; i < c->n_single && !rc; i++) {
        each_rank(&g, dit_cpu_single_pre, L, w, i, mod);
        if (!(rc = sp_attention(&g, L, t, 1, err))) each_rank(&g, dit_cpu_single_post, L, w, i, mod);
    }
    for (int b = 0; b < B && !rc; b++)
        for (int r = 0; r < k; r++) dit_cpu_final(L, w, mod + (size_t)b * L->mod_total, &g.rank[r], b, io[b * k + r].out);
    free(mod);
    sp_group_free(&g);
    dit_transport_destroy(own);
    return rc;
}

int dit_cpu_forward_sp(const dit_layout *L, const float *w, const dit_step_inputs *in, int degree, dit_transport *t, float *out,
                       tetri_error *err)
{
    const dit_config *c = &L->cfg;
    if (dit_cpu_check_inputs(L, in, err)) return -1;
    const int T = in->text_tokens, N = in->grid_h * in->grid_w, B = in->batch, k = degree;
    if (dit_sp_check(c, k, T, N, err)) return -1;
    sp_rank_io *io = malloc((size_t)B * k * sizeof *io);
    if (!io) abort();
    /* rank r reads and writes its shard's rows of each sample's global arrays, nothing else */
    for (int b = 0; b < B; b++)
        for (int r = 0; r < k; r++) {
            dit_sp_shard s;
            dit_sp_shard_of(T, N, k, r, &s);
            io[b * k + r] = (sp_rank_io){.text = in->text + ((size_t)b * T + s.t0) * c->text_dim,
                                         .latent = in->latent + ((size_t)b * N + s.n0) * dit_token_in(c),
                                         .out = out + ((size_t)b * N + s.n0) * dit_token_out(c)};
        }
    int rc = forward_sharded(L, w, in, k, t, io, err);
    free(io);
    return rc;
}

/* ---- requests held as shards ---- */

/* Fresh shards of a request's rows at degree k: latent[r] [nn_r, C p^2], text[r] [tn_r, text_dim]. */
static void shards_alloc(const dit_config *c, int T, int N, int k, float **latent, float **text)
{
    for (int r = 0; r < DIT_SP_MAX_DEGREE; r++) latent[r] = text[r] = NULL;
    for (int r = 0; r < k; r++) {
        dit_sp_shard s;
        dit_sp_shard_of(T, N, k, r, &s);
        latent[r] = malloc((size_t)s.nn * dit_token_in(c) * sizeof(float)); /* dit_sp_check: at least a row each */
        text[r] = malloc((size_t)s.tn * c->text_dim * sizeof(float));
        if (!latent[r] || !text[r]) abort();
    }
}

/* dit_sp_migration_plan(rows, from, to)'s copies of one per-row array, `width` floats a row. Degree
 * 1 is the whole array, so sharding and gathering are migrations too. */
static void move_rows(const float *const *src, float *const *dst, int rows, int from, int to, size_t width)
{
    dit_sp_move m[2 * DIT_SP_MAX_DEGREE];
    const int n = dit_sp_migration_plan(rows, from, to, m);
    for (int i = 0; i < n; i++)
        memcpy(dst[m[i].dst_rank] + (size_t)m[i].dst_row * width, src[m[i].src_rank] + (size_t)m[i].src_row * width,
               (size_t)m[i].rows * width * sizeof(float));
}

int dit_cpu_request_shard(const dit_config *c, const dit_cpu_request *r, int degree, dit_cpu_sharded_request *out, tetri_error *err)
{
    const int T = r->text_tokens, N = r->grid_h * r->grid_w;
    if (dit_sp_check(c, degree, T, N, err)) return -1;
    *out = (dit_cpu_sharded_request){.text_tokens = T, .grid_h = r->grid_h, .grid_w = r->grid_w, .degree = degree,
                                     .pooled = r->pooled, .guidance = r->guidance, .sigmas = r->sigmas,
                                     .n_steps = r->n_steps, .step = r->step};
    shards_alloc(c, T, N, degree, out->latent, out->text);
    move_rows((const float *const[]){r->latent}, out->latent, N, 1, degree, (size_t)dit_token_in(c));
    move_rows((const float *const[]){r->text}, out->text, T, 1, degree, (size_t)c->text_dim);
    return 0;
}

void dit_cpu_request_gather(const dit_config *c, const dit_cpu_sharded_request *s, float *latent)
{
    move_rows((const float *const *)s->latent, (float *const[]){latent}, s->grid_h * s->grid_w, s->degree, 1,
              (size_t)dit_token_in(c));
}

int dit_cpu_migrate(const dit_config *c, dit_cpu_sharded_request *s, int to, tetri_error *err)
{
    const int T = s->text_tokens, N = s->grid_h * s->grid_w;
    if (dit_sp_check(c, to, T, N, err)) return -1;
    float *latent[DIT_SP_MAX_DEGREE], *text[DIT_SP_MAX_DEGREE];
    shards_alloc(c, T, N, to, latent, text);
    /* every row is copied to its new rank, even one a GPU in both sets would keep in place */
    move_rows((const float *const *)s->latent, latent, N, s->degree, to, (size_t)dit_token_in(c));
    move_rows((const float *const *)s->text, text, T, s->degree, to, (size_t)c->text_dim);
    dit_cpu_sharded_free(s);
    memcpy(s->latent, latent, sizeof latent);
    memcpy(s->text, text, sizeof text);
    s->degree = to;
    return 0;
}

void dit_cpu_sharded_free(dit_cpu_sharded_request *s)
{
    for (int r = 0; r < DIT_SP_MAX_DEGREE; r++) {
        free(s->latent[r]);
        free(s->text[r]);
        s->latent[r] = s->text[r] = NULL;
    }
}

/* -1 with err unless the requests share one shape, are held at `degree` and have `steps` left. */
static int denoise_sp_check(const dit_layout *L, dit_cpu_sharded_request *const *reqs, int n, int steps, int degree,
                            tetri_error *err)
{
    if (n < 1) return tetri_errorf(err, "cpu denoise: an empty batch");
    const dit_cpu_sharded_request *r0 = reqs[0];
    for (int b = 0; b < n; b++) {
        const dit_cpu_sharded_request *r = reqs[b];
        if (r->text_tokens != r0->text_tokens || r->grid_h != r0->grid_h || r->grid_w != r0->grid_w)
            return tetri_errorf(err, "cpu denoise: request %d's shape differs from request 0's", b);
        if (r->degree != degree)
            return tetri_errorf(err, "cpu denoise: request %d is held at degree %d, the batch runs at %d", b, r->degree, degree);
        if (r->step < 0 || r->step + steps > r->n_steps)
            return tetri_errorf(err, "cpu denoise: request %d at step %d of %d cannot run %d more", b, r->step, r->n_steps, steps);
    }
    dit_step_inputs shape = {.batch = n, .text_tokens = r0->text_tokens, .grid_h = r0->grid_h, .grid_w = r0->grid_w};
    if (dit_cpu_check_inputs(L, &shape, err)) return -1;
    return dit_sp_check(&L->cfg, degree, r0->text_tokens, r0->grid_h * r0->grid_w, err);
}

int dit_cpu_denoise_sp(const dit_layout *L, const float *w, dit_cpu_sharded_request *const *reqs, int n, int steps, int degree,
                       tetri_error *err)
{
    const dit_config *c = &L->cfg;
    if (denoise_sp_check(L, reqs, n, steps, degree, err)) return -1;
    const int k = degree, T = reqs[0]->text_tokens, N = reqs[0]->grid_h * reqs[0]->grid_w, tout = dit_token_out(c);
    assert(tout == dit_token_in(c)); /* the velocity updates the latent it came from, as in dit_cpu_denoise */
    const size_t np = (size_t)c->pooled_dim;
    float *pooled = malloc((size_t)n * np * 4), *sigma = malloc((size_t)n * 4), *guid = malloc((size_t)n * 4);
    float *vel = malloc((size_t)n * N * tout * 4); /* [n, N, tout]: rank r writes, and reads back, its rows only */
    sp_rank_io *io = malloc((size_t)n * k * sizeof *io);
    if (!pooled || !sigma || !guid || !vel || !io) abort();
    for (int b = 0; b < n; b++) {
        memcpy(pooled + b * np, reqs[b]->pooled, np * 4);
        guid[b] = reqs[b]->guidance;
        for (int r = 0; r < k; r++) {
            dit_sp_shard s;
            dit_sp_shard_of(T, N, k, r, &s);
            io[b * k + r] = (sp_rank_io){reqs[b]->text[r], reqs[b]->latent[r], vel + ((size_t)b * N + s.n0) * tout};
        }
    }
    dit_step_inputs in = {.batch = n, .text_tokens = T, .grid_h = reqs[0]->grid_h, .grid_w = reqs[0]->grid_w,
                          .pooled = pooled, .sigma = sigma, .guidance = guid};
    int rc = 0;
    for (int st = 0; st < steps && !rc; st++) {
        for (int b = 0; b < n; b++) sigma[b] = reqs[b]->sigmas[reqs[b]->step];
        rc = forward_sharded(L, w, &in, k, NULL, io, err);
        /* each rank's Euler update of its own latent rows */
        for (int b = 0; b < n && !rc; b++) {
            dit_cpu_sharded_request *q = reqs[b];
            const float dt = q->sigmas[q->step + 1] - q->sigmas[q->step];
            for (int r = 0; r < k; r++) {
                dit_sp_shard s;
                dit_sp_shard_of(T, N, k, r, &s);
                for (size_t i = 0; i < (size_t)s.nn * tout; i++) q->latent[r][i] += dt * io[b * k + r].out[i];
            }
            q->step++;
        }
    }
    free(pooled); free(sigma); free(guid); free(vel); free(io);
    return rc;
}
