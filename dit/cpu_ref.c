/* dit/cpu_ref.c: fp32 reference forward of one DiT step (see cpu_ref.h). Clarity over speed.
 * defines: dit_cpu_forward, dit_cpu_denoise, dit_cpu_init_weights, dit_rope_table, dit_timestep_proj,
 *          dit_sigma_schedule, and the per-row phases of dit/cpu_internal.h that the sharded
 *          forward (cpu_sp.c) shares. */
#include "dit/cpu_ref.h"
#include "dit/cpu_internal.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void dit_rope_table(const dit_config *c, int text_tokens, int grid_h, int grid_w, float *cos_out, float *sin_out)
{
    const int half = c->head_dim / 2, L = text_tokens + grid_h * grid_w;
    for (int r = 0; r < L; r++) {
        int pos[3] = {0, 0, 0};
        if (r >= text_tokens) {
            pos[1] = (r - text_tokens) / grid_w;
            pos[2] = (r - text_tokens) % grid_w;
        }
        int pair = 0;
        for (int a = 0; a < 3; a++) {
            int d = c->rope_axes[a];
            for (int p = 0; p < d / 2; p++, pair++) {
                double freq = 1.0 / pow(10000.0, (double)(2 * p) / (double)d);
                double ang = (double)pos[a] * freq;
                cos_out[(size_t)r * half + pair] = (float)cos(ang);
                sin_out[(size_t)r * half + pair] = (float)sin(ang);
            }
        }
        assert(pair == half);
    }
}

void dit_timestep_proj(float t, float out[256])
{
    for (int i = 0; i < 128; i++) {
        float freq = expf(-logf(10000.0f) * (float)i / 128.0f);
        float arg = t * freq;
        out[i] = cosf(arg); /* flip_sin_to_cos: cos half first */
        out[128 + i] = sinf(arg);
    }
}

void dit_sigma_schedule(const dit_config *c, int image_tokens, int n_steps, float *sigmas)
{
    double shift;
    if (c->arch == DIT_ARCH_FLUX) {
        double m = (1.15 - 0.5) / (4096.0 - 256.0), b = 0.5 - m * 256.0;
        shift = exp(image_tokens * m + b);
    } else {
        shift = 3.0;
    }
    for (int i = 0; i < n_steps; i++) {
        double s = n_steps == 1 ? 1.0 : 1.0 + (1.0 / n_steps - 1.0) * i / (n_steps - 1);
        sigmas[i] = (float)(shift * s / (1.0 + (shift - 1.0) * s));
    }
    sigmas[n_steps] = 0.0f;
}

void dit_cpu_init_weights(const dit_layout *L, uint64_t seed, float *w)
{
    memset(w, 0, (size_t)L->total * sizeof *w);
    for (int p = 0; p < L->n_params; p++) {
        const dit_param *P = &L->params[p];
        for (int64_t i = 0; i < P->numel; i++)
            w[P->offset + i] = dit_bf16_round(dit_param_init_value(seed, p, P->init, P->fan_in, i, &L->cfg, P->shape));
    }
}

/* y[r, o] = b[o] + sum_k x[r, k] W[o, k] for rows r < rows; x has row stride ldx, y ldy. */
static void linear(const float *w, const dit_linear *l, const float *x, int ldx, int rows, float *y, int ldy)
{
    const float *W = w + l->w, *B = l->b >= 0 ? w + l->b : NULL;
    for (int r = 0; r < rows; r++)
        for (int o = 0; o < l->out; o++) {
            double acc = B ? B[o] : 0.0;
            const float *xr = x + (size_t)r * ldx, *wr = W + (size_t)o * l->in;
            for (int k = 0; k < l->in; k++) acc += (double)xr[k] * wr[k];
            y[(size_t)r * ldy + o] = (float)acc;
        }
}

static float silu(float x) { return x / (1.0f + expf(-x)); }
static float gelu_tanh(float x) { return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x))); }

/* LayerNorm without affine (eps 1e-6), then x (1 + scale) + shift. */
static void ln_modulate(const float *x, int rows, int D, const float *shift, const float *scale, float *y)
{
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * D;
        double mean = 0, var = 0;
        for (int k = 0; k < D; k++) mean += xr[k];
        mean /= D;
        for (int k = 0; k < D; k++) var += (xr[k] - mean) * (xr[k] - mean);
        var /= D;
        float inv = (float)(1.0 / sqrt(var + 1e-6));
        for (int k = 0; k < D; k++) y[(size_t)r * D + k] = (float)(xr[k] - mean) * inv * (1.0f + scale[k]) + shift[k];
    }
}

/* RMSNorm (eps 1e-6, gain g) of each head of q or k in place; rows of stride ld, n_heads heads of hd. */
static void rms_heads(float *x, int rows, int ld, int n_heads, int hd, const float *g)
{
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * ld + h * hd;
            double ss = 0;
            for (int k = 0; k < hd; k++) ss += (double)v[k] * v[k];
            float inv = (float)(1.0 / sqrt(ss / hd + 1e-6));
            for (int k = 0; k < hd; k++) v[k] = v[k] * inv * g[k];
        }
}

/* RoPE on pairs (2i, 2i+1): (a, b) -> (a cos - b sin, b cos + a sin), as diffusers' apply_rotary_emb. */
static void rope_heads(float *x, int rows, int ld, int n_heads, int hd, const float *cs, const float *sn)
{
    for (int r = 0; r < rows; r++)
        for (int h = 0; h < n_heads; h++) {
            float *v = x + (size_t)r * ld + h * hd;
            for (int i = 0; i < hd / 2; i++) {
                float c = cs[(size_t)r * hd / 2 + i], s = sn[(size_t)r * hd / 2 + i];
                float a = v[2 * i], b = v[2 * i + 1];
                v[2 * i] = a * c - b * s;
                v[2 * i + 1] = b * c + a * s;
            }
        }
}

/* Softmax attention over all L tokens: qkv rows [q | k | v] of stride ld, out [L, n_heads hd] of stride ldo. */
void dit_cpu_attention(const float *qkv, int L, int ld, int n_heads, int hd, float *out, int ldo, float *scores)
{
    const int D = n_heads * hd;
    const float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < n_heads; h++)
        for (int i = 0; i < L; i++) {
            const float *q = qkv + (size_t)i * ld + h * hd;
            double mx = -INFINITY;
            for (int j = 0; j < L; j++) {
                const float *k = qkv + (size_t)j * ld + D + h * hd;
                double s = 0;
                for (int e = 0; e < hd; e++) s += (double)q[e] * k[e];
                scores[j] = (float)(s * scale);
                if (scores[j] > mx) mx = scores[j];
            }
            double sum = 0;
            for (int j = 0; j < L; j++) { scores[j] = (float)exp(scores[j] - mx); sum += scores[j]; }
            float *o = out + (size_t)i * ldo + h * hd;
            for (int e = 0; e < hd; e++) {
                double acc = 0;
                for (int j = 0; j < L; j++) acc += (double)scores[j] * qkv[(size_t)j * ld + 2 * D + h * hd + e];
                o[e] = (float)(acc / sum);
            }
        }
}

/* h[r] += gate * y[r] over rows. */
static void gated_add(float *h, const float *y, int rows, int D, const float *gate)
{
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < D; k++) h[(size_t)r * D + k] += gate[k] * y[(size_t)r * D + k];
}

static void gelu_rows(float *x, int rows, int n, int ld)
{
    for (int r = 0; r < rows; r++)
        for (int k = 0; k < n; k++) x[(size_t)r * ld + k] = gelu_tanh(x[(size_t)r * ld + k]);
}

/* ---- one rank's rows ---- */

void dit_cpu_rows_init(const dit_layout *L, int T, int grid_h, int grid_w, const dit_sp_shard *s, int slots, dit_cpu_rows *R)
{
    const dit_config *c = &L->cfg;
    const size_t D = (size_t)L->D, M = (size_t)c->mlp_ratio * D, rows = (size_t)s->tn + (size_t)s->nn, half = (size_t)c->head_dim / 2;
    *R = (dit_cpu_rows){.s = *s, .rows = (int)rows, .grid_h = grid_h, .grid_w = grid_w, .slots = slots};
    R->h = malloc(slots * rows * D * sizeof *R->h);
    R->qkv = malloc(slots * rows * 3 * D * sizeof *R->qkv);
    R->att = malloc(slots * rows * D * sizeof *R->att);
    R->ff = malloc(slots * rows * (D + M) * sizeof *R->ff);
    R->nrm = malloc(rows * D * sizeof *R->nrm);
    R->y = malloc(rows * D * sizeof *R->y);
    R->proj = malloc((size_t)s->nn * (size_t)dit_token_out(c) * sizeof *R->proj);
    R->rc = malloc(rows * half * sizeof *R->rc);
    R->rs = malloc(rows * half * sizeof *R->rs);
    if (!R->h || !R->qkv || !R->att || !R->ff || !R->nrm || !R->y || !R->proj || !R->rc || !R->rs) abort();
    if (c->arch != DIT_ARCH_FLUX) return;
    /* RoPE at the rows' global positions: the full table's text rows t0.. and image rows T + n0.. */
    const size_t all = (size_t)T + (size_t)grid_h * grid_w;
    float *fc = malloc(all * half * sizeof *fc), *fs = malloc(all * half * sizeof *fs);
    if (!fc || !fs) abort();
    dit_rope_table(c, T, grid_h, grid_w, fc, fs);
    memcpy(R->rc, fc + (size_t)s->t0 * half, (size_t)s->tn * half * sizeof *fc);
    memcpy(R->rs, fs + (size_t)s->t0 * half, (size_t)s->tn * half * sizeof *fs);
    memcpy(R->rc + (size_t)s->tn * half, fc + ((size_t)T + s->n0) * half, (size_t)s->nn * half * sizeof *fc);
    memcpy(R->rs + (size_t)s->tn * half, fs + ((size_t)T + s->n0) * half, (size_t)s->nn * half * sizeof *fs);
    free(fc);
    free(fs);
}

void dit_cpu_rows_free(dit_cpu_rows *R)
{
    free(R->h); free(R->qkv); free(R->att); free(R->ff); free(R->nrm); free(R->y); free(R->proj); free(R->rc); free(R->rs);
    memset(R, 0, sizeof *R);
}

int dit_cpu_check_inputs(const dit_layout *L, const dit_step_inputs *in, tetri_error *err)
{
    const dit_config *c = &L->cfg;
    if (in->batch < 1 || in->text_tokens < 1 || in->grid_h < 1 || in->grid_w < 1)
        return tetri_errorf(err, "cpu reference: batch, text tokens and image grid must be positive");
    if (c->arch != DIT_ARCH_FLUX && (in->grid_h > c->pos_embed_max || in->grid_w > c->pos_embed_max))
        return tetri_errorf(err, "cpu reference: image grid %dx%d exceeds pos_embed_max_size %d", in->grid_h, in->grid_w, c->pos_embed_max);
    return 0;
}

/* ---- the phases ---- */

void dit_cpu_modulation(const dit_layout *L, const float *w, float sigma, float guidance, const float *pooled, float *mod)
{
    /* temb = timestep embedding (+ guidance embedding) + pooled projection; mod = linear(silu(temb)). */
    const int D = L->D;
    float tp[256], a[8192], temb[8192], t2[8192];
    assert(D <= 8192);
    dit_timestep_proj(sigma * 1000.0f, tp);
    linear(w, &L->t_l1, tp, 256, 1, a, D);
    for (int k = 0; k < D; k++) a[k] = silu(a[k]);
    linear(w, &L->t_l2, a, D, 1, temb, D);
    if (L->g_l1.w >= 0) {
        dit_timestep_proj(guidance * 1000.0f, tp);
        linear(w, &L->g_l1, tp, 256, 1, a, D);
        for (int k = 0; k < D; k++) a[k] = silu(a[k]);
        linear(w, &L->g_l2, a, D, 1, t2, D);
        for (int k = 0; k < D; k++) temb[k] += t2[k];
    }
    linear(w, &L->p_l1, pooled, L->cfg.pooled_dim, 1, a, D);
    for (int k = 0; k < D; k++) a[k] = silu(a[k]);
    linear(w, &L->p_l2, a, D, 1, t2, D);
    for (int k = 0; k < D; k++) a[k] = silu(temb[k] + t2[k]);
    dit_linear all_mod = {.w = L->mod_w, .b = L->mod_b, .out = (int)L->mod_total, .in = D};
    linear(w, &all_mod, a, D, 1, mod, (int)L->mod_total);
}

void dit_cpu_embed(const dit_layout *L, const float *w, const float *text, const float *latent, dit_cpu_rows *R, int slot)
{
    const dit_config *c = &L->cfg;
    const int D = L->D, tn = R->s.tn, nn = R->s.nn;
    float *h = R->h + (size_t)slot * R->rows * D; /* [rows, D]: text rows first, then image rows */
    linear(w, &L->ctx_embed, text, c->text_dim, tn, h, D);
    linear(w, &L->x_embed, latent, dit_token_in(c), nn, h + (size_t)tn * D, D);
    if (c->arch == DIT_ARCH_FLUX) return;
    /* SD3's positional table, cropped to the grid's centre, at each row's global image position */
    const int Mx = c->pos_embed_max, top = (Mx - R->grid_h) / 2, left = (Mx - R->grid_w) / 2;
    for (int n = 0; n < nn; n++) {
        const int g = R->s.n0 + n;
        const float *pe = w + L->pos_table + ((size_t)(top + g / R->grid_w) * Mx + left + g % R->grid_w) * D;
        for (int k = 0; k < D; k++) h[(size_t)(tn + n) * D + k] += pe[k];
    }
}

/* RMSNorm of q and k (gains gq, gk; none when NULL), then RoPE (FLUX), over rows of qkv [rows, 3D]. */
static void qk_norm_rope(const dit_layout *L, float *qkv, int rows, const float *gq, const float *gk, const float *rc, const float *rs)
{
    const int D = L->D, H = L->cfg.n_heads, hd = L->cfg.head_dim;
    if (gq) {
        rms_heads(qkv, rows, 3 * D, H, hd, gq);
        rms_heads(qkv + D, rows, 3 * D, H, hd, gk);
    }
    if (rc) {
        rope_heads(qkv, rows, 3 * D, H, hd, rc, rs);
        rope_heads(qkv + D, rows, 3 * D, H, hd, rc, rs);
    }
}

void dit_cpu_double_pre(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot)
{
    const dit_double_block *blk = &L->dbl[i];
    const int D = L->D, tn = R->s.tn, nn = R->s.nn, qk = L->cfg.qk_norm;
    const float *mx = mod + blk->mod_x_off, *mc = mod + blk->mod_c_off;
    const float *h = R->h + (size_t)slot * R->rows * D;  /* [rows, D] */
    float *qkv = R->qkv + (size_t)slot * R->rows * 3 * D; /* [rows, 3D] */
    /* AdaLayerNormZero chunks: shift1, scale1, gate1, shift2, scale2, gate2;
     * AdaLayerNormContinuous (SD3's last context): scale, shift. */
    if (blk->mod_c_chunks == 6) ln_modulate(h, tn, D, mc, mc + D, R->nrm);
    else ln_modulate(h, tn, D, mc + D, mc, R->nrm);
    ln_modulate(h + (size_t)tn * D, nn, D, mx, mx + D, R->nrm + (size_t)tn * D);
    linear(w, &blk->qkv_c, R->nrm, D, tn, qkv, 3 * D);
    linear(w, &blk->qkv_x, R->nrm + (size_t)tn * D, D, nn, qkv + (size_t)tn * 3 * D, 3 * D);
    /* q/k norms differ by stream (norm_added_* on text rows), RoPE does not: normalise each stream, rotate all rows */
    if (qk) {
        qk_norm_rope(L, qkv, tn, w + blk->norm_added_q, w + blk->norm_added_k, NULL, NULL);
        qk_norm_rope(L, qkv + (size_t)tn * 3 * D, nn, w + blk->norm_q, w + blk->norm_k, NULL, NULL);
    }
    if (L->cfg.arch == DIT_ARCH_FLUX) qk_norm_rope(L, qkv, R->rows, NULL, NULL, R->rc, R->rs);
}

/* One stream's rows after attention (m: its six chunks): h += gate1 out(att), then
 * h += gate2 ff2(gelu(ff1(LN(h) (1 + scale2) + shift2))). ff [rows, M] and nrm, y [rows, D] scratch. */
static void post_stream(const dit_layout *L, const float *w, const dit_linear *out, const dit_linear *ff1, const dit_linear *ff2,
                        const float *m, int rows, const float *att, float *h, float *nrm, float *y, float *ff)
{
    const int D = L->D, M = L->cfg.mlp_ratio * D;
    linear(w, out, att, D, rows, y, D);
    gated_add(h, y, rows, D, m + 2 * D);
    ln_modulate(h, rows, D, m + 3 * D, m + 4 * D, nrm);
    linear(w, ff1, nrm, D, rows, ff, M);
    gelu_rows(ff, rows, M, M);
    linear(w, ff2, ff, M, rows, y, D);
    gated_add(h, y, rows, D, m + 5 * D);
}

void dit_cpu_double_post(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot)
{
    const dit_double_block *blk = &L->dbl[i];
    const int D = L->D, M = L->cfg.mlp_ratio * D, tn = R->s.tn, nn = R->s.nn;
    const size_t t = (size_t)tn * D; /* where the image rows start in [rows, D] */
    float *h = R->h + (size_t)slot * R->rows * D, *att = R->att + (size_t)slot * R->rows * D;
    float *ff = R->ff + (size_t)slot * R->rows * (D + M); /* scratch here */
    post_stream(L, w, &blk->out_x, &blk->ff1_x, &blk->ff2_x, mod + blk->mod_x_off, nn, att + t, h + t, R->nrm + t, R->y + t, ff);
    /* SD3's last block: the text rows only fed attention */
    if (!blk->context_pre_only)
        post_stream(L, w, &blk->out_c, &blk->ff1_c, &blk->ff2_c, mod + blk->mod_c_off, tn, att, h, R->nrm, R->y, ff);
}

void dit_cpu_single_pre(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot)
{
    const dit_single_block *blk = &L->sgl[i];
    const int D = L->D, M = L->cfg.mlp_ratio * D, rows = R->rows;
    const float *m = mod + blk->mod_off, *h = R->h + (size_t)slot * rows * D;
    float *qkv = R->qkv + (size_t)slot * rows * 3 * D;
    float *ff = R->ff + (size_t)slot * rows * (D + M); /* [rows, D + M]: attention's output lands in columns 0..D */
    ln_modulate(h, rows, D, m, m + D, R->nrm);
    linear(w, &blk->qkv, R->nrm, D, rows, qkv, 3 * D);
    linear(w, &blk->mlp, R->nrm, D, rows, ff + D, D + M);
    gelu_rows(ff + D, rows, M, D + M);
    qk_norm_rope(L, qkv, rows, w + blk->norm_q, w + blk->norm_k, R->rc, R->rs);
}

void dit_cpu_single_post(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot)
{
    const dit_single_block *blk = &L->sgl[i];
    const int D = L->D, M = L->cfg.mlp_ratio * D, rows = R->rows;
    float *h = R->h + (size_t)slot * rows * D;
    /* proj_out over concat(attention, MLP), one linear */
    linear(w, &blk->out, R->ff + (size_t)slot * rows * (D + M), D + M, rows, R->y, D);
    gated_add(h, R->y, rows, D, mod + blk->mod_off + 2 * D);
}

void dit_cpu_final(const dit_layout *L, const float *w, const float *mod, dit_cpu_rows *R, int slot, float *out)
{
    const dit_config *c = &L->cfg;
    const int D = L->D, nn = R->s.nn, tout = dit_token_out(c);
    const float *mo = mod + L->norm_out_off;
    /* norm_out (AdaLayerNormContinuous: scale, shift), proj_out, image rows only. */
    ln_modulate(R->h + ((size_t)slot * R->rows + R->s.tn) * D, nn, D, mo + D, mo, R->nrm);
    if (c->arch == DIT_ARCH_FLUX) {
        linear(w, &L->proj_out, R->nrm, D, nn, out, tout);
        return;
    }
    /* SD3's proj_out emits (py, px, c); the packed token order is (c, py, px). */
    const int p = c->patch, C = c->out_channels;
    linear(w, &L->proj_out, R->nrm, D, nn, R->proj, tout);
    for (int n = 0; n < nn; n++)
        for (int ch = 0; ch < C; ch++)
            for (int pp = 0; pp < p * p; pp++) out[(size_t)n * tout + ch * p * p + pp] = R->proj[(size_t)n * tout + pp * C + ch];
}

/* ---- degree 1 ---- */

int dit_cpu_forward(const dit_layout *L, const float *w, const dit_step_inputs *in, float *out, tetri_error *err)
{
    const dit_config *c = &L->cfg;
    if (dit_cpu_check_inputs(L, in, err)) return -1;
    const int D = L->D, H = c->n_heads, hd = c->head_dim, M = c->mlp_ratio * D;
    const int T = in->text_tokens, N = in->grid_h * in->grid_w, Lt = T + N;
    dit_sp_shard all;
    dit_sp_shard_of(T, N, 1, 0, &all);
    dit_cpu_rows R;
    dit_cpu_rows_init(L, T, in->grid_h, in->grid_w, &all, 1, &R);
    float *mod = malloc((size_t)L->mod_total * sizeof *mod), *scores = malloc((size_t)Lt * sizeof *scores);
    if (!mod || !scores) abort();
    /* one sample at a time, through slot 0 */
    for (int b = 0; b < in->batch; b++) {
        dit_cpu_modulation(L, w, in->sigma[b], in->guidance ? in->guidance[b] : 0.0f, in->pooled + (size_t)b * c->pooled_dim, mod);
        dit_cpu_embed(L, w, in->text + (size_t)b * T * c->text_dim, in->latent + (size_t)b * N * dit_token_in(c), &R, 0);
        for (int i = 0; i < c->n_double; i++) {
            dit_cpu_double_pre(L, w, i, mod, &R, 0);
            dit_cpu_attention(R.qkv, Lt, 3 * D, H, hd, R.att, D, scores);
            dit_cpu_double_post(L, w, i, mod, &R, 0);
        }
        for (int i = 0; i < c->n_single; i++) {
            dit_cpu_single_pre(L, w, i, mod, &R, 0);
            dit_cpu_attention(R.qkv, Lt, 3 * D, H, hd, R.ff, D + M, scores);
            dit_cpu_single_post(L, w, i, mod, &R, 0);
        }
        dit_cpu_final(L, w, mod, &R, 0, out + (size_t)b * N * dit_token_out(c));
    }
    free(mod);
    free(scores);
    dit_cpu_rows_free(&R);
    return 0;
}

int dit_cpu_denoise(const dit_layout *L, const float *w, dit_cpu_request *const *reqs, int n, int steps, tetri_error *err)
{
    const dit_config *c = &L->cfg;
    if (n < 1) return tetri_errorf(err, "cpu denoise: an empty batch");
    const int T = reqs[0]->text_tokens, gh = reqs[0]->grid_h, gw = reqs[0]->grid_w;
    const size_t nl = (size_t)gh * gw * dit_token_in(c), nt = (size_t)T * c->text_dim, np = (size_t)c->pooled_dim;
    for (int b = 0; b < n; b++) {
        const dit_cpu_request *r = reqs[b];
        if (r->text_tokens != T || r->grid_h != gh || r->grid_w != gw)
            return tetri_errorf(err, "cpu denoise: request %d's shape differs from request 0's", b);
        if (r->step < 0 || r->step + steps > r->n_steps)
            return tetri_errorf(err, "cpu denoise: request %d at step %d of %d cannot run %d more", b, r->step, r->n_steps, steps);
    }
    float *lat = malloc((size_t)n * nl * 4), *txt = malloc((size_t)n * nt * 4), *pooled = malloc((size_t)n * np * 4);
    float *sigma = malloc((size_t)n * 4), *guid = malloc((size_t)n * 4), *vel = malloc((size_t)n * nl * 4);
    if (!lat || !txt || !pooled || !sigma || !guid || !vel) abort();
    int rc = 0;
    for (int k = 0; k < steps && !rc; k++) {
        for (int b = 0; b < n; b++) {
            const dit_cpu_request *r = reqs[b];
            memcpy(lat + b * nl, r->latent, nl * 4);
            memcpy(txt + b * nt, r->text, nt * 4);
            memcpy(pooled + b * np, r->pooled, np * 4);
            sigma[b] = r->sigmas[r->step];
            guid[b] = r->guidance;
        }
        dit_step_inputs in = {.batch = n, .text_tokens = T, .grid_h = gh, .grid_w = gw, .latent = lat, .text = txt,
                              .pooled = pooled, .sigma = sigma, .guidance = guid};
        rc = dit_cpu_forward(L, w, &in, vel, err);
        for (int b = 0; b < n && !rc; b++) {
            dit_cpu_request *r = reqs[b];
            const float dt = r->sigmas[r->step + 1] - r->sigmas[r->step];
            for (size_t i = 0; i < nl; i++) r->latent[i] += dt * vel[b * nl + i];
            r->step++;
        }
    }
    free(lat); free(txt); free(pooled); free(sigma); free(guid); free(vel);
    return rc;
}
