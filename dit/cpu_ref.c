/* dit/cpu_ref.c: fp32 reference forward of one DiT step (see cpu_ref.h). Clarity over speed. */
#include "dit/cpu_ref.h"

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

/* Softmax attention over all L tokens: qkv rows [q | k | v] of stride ld, out [L, D] of stride ldo. */
static void attention(const float *qkv, int L, int ld, int n_heads, int hd, float *out, int ldo, float *scores)
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

int dit_cpu_forward(const dit_layout *L, const float *w, const dit_step_inputs *in, float *out, tetri_error *err)
{
    const dit_config *c = &L->cfg;
    const int D = L->D, H = c->n_heads, hd = c->head_dim, M = c->mlp_ratio * D;
    const int T = in->text_tokens, N = in->grid_h * in->grid_w, Lt = T + N;
    const int tin = dit_token_in(c), tout = dit_token_out(c);
    const int flux = c->arch == DIT_ARCH_FLUX;
    if (in->batch < 1 || T < 1 || in->grid_h < 1 || in->grid_w < 1)
        return tetri_errorf(err, "cpu reference: batch, text tokens and image grid must be positive");
    if (!flux && (in->grid_h > c->pos_embed_max || in->grid_w > c->pos_embed_max))
        return tetri_errorf(err, "cpu reference: image grid %dx%d exceeds pos_embed_max_size %d", in->grid_h, in->grid_w, c->pos_embed_max);

    float *mod = malloc((size_t)L->mod_total * sizeof *mod);
    float *h = malloc((size_t)Lt * D * sizeof *h), *nrm = malloc((size_t)Lt * D * sizeof *nrm);
    float *qkv = malloc((size_t)Lt * 3 * D * sizeof *qkv), *att = malloc((size_t)Lt * D * sizeof *att);
    float *y = malloc((size_t)Lt * D * sizeof *y), *ff = malloc((size_t)Lt * (D + M) * sizeof *ff);
    float *scores = malloc((size_t)Lt * sizeof *scores), *tmp = malloc((size_t)Lt * tout * sizeof *tmp);
    float *rc = malloc((size_t)Lt * hd / 2 * sizeof *rc), *rs = malloc((size_t)Lt * hd / 2 * sizeof *rs);
    if (!mod || !h || !nrm || !qkv || !att || !y || !ff || !scores || !tmp || !rc || !rs) abort();
    if (flux) dit_rope_table(c, T, in->grid_h, in->grid_w, rc, rs);

    for (int b = 0; b < in->batch; b++) {
        /* temb = timestep embedding (+ guidance embedding) + pooled projection. */
        float tp[256], a[8192], temb[8192], t2[8192];
        assert(D <= 8192);
        dit_timestep_proj(in->sigma[b] * 1000.0f, tp);
        linear(w, &L->t_l1, tp, 256, 1, a, D);
        for (int k = 0; k < D; k++) a[k] = silu(a[k]);
        linear(w, &L->t_l2, a, D, 1, temb, D);
        if (L->g_l1.w >= 0) {
            dit_timestep_proj((in->guidance ? in->guidance[b] : 0.0f) * 1000.0f, tp);
            linear(w, &L->g_l1, tp, 256, 1, a, D);
            for (int k = 0; k < D; k++) a[k] = silu(a[k]);
            linear(w, &L->g_l2, a, D, 1, t2, D);
            for (int k = 0; k < D; k++) temb[k] += t2[k];
        }
        linear(w, &L->p_l1, in->pooled + (size_t)b * c->pooled_dim, c->pooled_dim, 1, a, D);
        for (int k = 0; k < D; k++) a[k] = silu(a[k]);
        linear(w, &L->p_l2, a, D, 1, t2, D);
        for (int k = 0; k < D; k++) a[k] = silu(temb[k] + t2[k]);
        dit_linear all_mod = {.w = L->mod_w, .b = L->mod_b, .out = (int)L->mod_total, .in = D};
        linear(w, &all_mod, a, D, 1, mod, (int)L->mod_total);

        /* Joint hidden state: text rows first, then image rows. */
        linear(w, &L->ctx_embed, in->text + (size_t)b * T * c->text_dim, c->text_dim, T, h, D);
        linear(w, &L->x_embed, in->latent + (size_t)b * N * tin, tin, N, h + (size_t)T * D, D);
        if (!flux) {
            const int Mx = c->pos_embed_max, top = (Mx - in->grid_h) / 2, left = (Mx - in->grid_w) / 2;
            for (int n = 0; n < N; n++) {
                const float *pe = w + L->pos_table + ((size_t)(top + n / in->grid_w) * Mx + left + n % in->grid_w) * D;
                for (int k = 0; k < D; k++) h[(size_t)(T + n) * D + k] += pe[k];
            }
        }

        for (int i = 0; i < c->n_double; i++) {
            const dit_double_block *blk = &L->dbl[i];
            const float *mx = mod + blk->mod_x_off, *mc = mod + blk->mod_c_off;
            /* AdaLayerNormZero chunks: shift1, scale1, gate1, shift2, scale2, gate2;
             * AdaLayerNormContinuous (SD3's last context): scale, shift. */
            if (blk->mod_c_chunks == 6) ln_modulate(h, T, D, mc, mc + D, nrm);
            else ln_modulate(h, T, D, mc + D, mc, nrm);
            ln_modulate(h + (size_t)T * D, N, D, mx, mx + D, nrm + (size_t)T * D);
            linear(w, &blk->qkv_c, nrm, D, T, qkv, 3 * D);
            linear(w, &blk->qkv_x, nrm + (size_t)T * D, D, N, qkv + (size_t)T * 3 * D, 3 * D);
            if (c->qk_norm) {
                rms_heads(qkv, T, 3 * D, H, hd, w + blk->norm_added_q);
                rms_heads(qkv + D, T, 3 * D, H, hd, w + blk->norm_added_k);
                rms_heads(qkv + (size_t)T * 3 * D, N, 3 * D, H, hd, w + blk->norm_q);
                rms_heads(qkv + (size_t)T * 3 * D + D, N, 3 * D, H, hd, w + blk->norm_k);
            }
            if (flux) {
                rope_heads(qkv, Lt, 3 * D, H, hd, rc, rs);
                rope_heads(qkv + D, Lt, 3 * D, H, hd, rc, rs);
            }
            attention(qkv, Lt, 3 * D, H, hd, att, D, scores);
            linear(w, &blk->out_x, att + (size_t)T * D, D, N, y + (size_t)T * D, D);
            gated_add(h + (size_t)T * D, y + (size_t)T * D, N, D, mx + 2 * D);
            ln_modulate(h + (size_t)T * D, N, D, mx + 3 * D, mx + 4 * D, nrm + (size_t)T * D);
            linear(w, &blk->ff1_x, nrm + (size_t)T * D, D, N, ff, M);
            for (size_t k = 0; k < (size_t)N * M; k++) ff[k] = gelu_tanh(ff[k]);
            linear(w, &blk->ff2_x, ff, M, N, y + (size_t)T * D, D);
            gated_add(h + (size_t)T * D, y + (size_t)T * D, N, D, mx + 5 * D);
            if (!blk->context_pre_only) {
                linear(w, &blk->out_c, att, D, T, y, D);
                gated_add(h, y, T, D, mc + 2 * D);
                ln_modulate(h, T, D, mc + 3 * D, mc + 4 * D, nrm);
                linear(w, &blk->ff1_c, nrm, D, T, ff, M);
                for (size_t k = 0; k < (size_t)T * M; k++) ff[k] = gelu_tanh(ff[k]);
                linear(w, &blk->ff2_c, ff, M, T, y, D);
                gated_add(h, y, T, D, mc + 5 * D);
            }
        }
        for (int i = 0; i < c->n_single; i++) {
            const dit_single_block *blk = &L->sgl[i];
            const float *m = mod + blk->mod_off;
            ln_modulate(h, Lt, D, m, m + D, nrm);
            linear(w, &blk->qkv, nrm, D, Lt, qkv, 3 * D);
            linear(w, &blk->mlp, nrm, D, Lt, ff + D, D + M);
            for (int r = 0; r < Lt; r++)
                for (int k = 0; k < M; k++) ff[(size_t)r * (D + M) + D + k] = gelu_tanh(ff[(size_t)r * (D + M) + D + k]);
            rms_heads(qkv, Lt, 3 * D, H, hd, w + blk->norm_q);
            rms_heads(qkv + D, Lt, 3 * D, H, hd, w + blk->norm_k);
            rope_heads(qkv, Lt, 3 * D, H, hd, rc, rs);
            rope_heads(qkv + D, Lt, 3 * D, H, hd, rc, rs);
            attention(qkv, Lt, 3 * D, H, hd, ff, D + M, scores);
            linear(w, &blk->out, ff, D + M, Lt, y, D);
            gated_add(h, y, Lt, D, m + 2 * D);
        }
        /* norm_out (AdaLayerNormContinuous: scale, shift), proj_out, image rows only. */
        const float *mo = mod + L->norm_out_off;
        ln_modulate(h + (size_t)T * D, N, D, mo + D, mo, nrm);
        float *ob = out + (size_t)b * N * tout;
        if (flux) {
            linear(w, &L->proj_out, nrm, D, N, ob, tout);
        } else {
            /* SD3's proj_out emits (py, px, c); the packed token order is (c, py, px). */
            const int p = c->patch, C = c->out_channels;
            linear(w, &L->proj_out, nrm, D, N, tmp, tout);
            for (int n = 0; n < N; n++)
                for (int ch = 0; ch < C; ch++)
                    for (int pp = 0; pp < p * p; pp++) ob[(size_t)n * tout + ch * p * p + pp] = tmp[(size_t)n * tout + pp * C + ch];
        }
    }
    free(mod); free(h); free(nrm); free(qkv); free(att); free(y); free(ff); free(scores); free(tmp); free(rc); free(rs);
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
