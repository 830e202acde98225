/* dit/model.c: model configurations, the parameter table and its offsets (see model.h). */
#include "dit/model.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/init_values.h"

#ifdef TETRI_HAVE_JANSSON
#include <jansson.h>
#endif

void dit_config_flux_dev(dit_config *c)
{
    *c = (dit_config){.arch = DIT_ARCH_FLUX, .n_double = 19, .n_single = 38, .n_heads = 24, .head_dim = 128,
                      .in_channels = 64, .out_channels = 64, .patch = 1, .text_dim = 4096, .pooled_dim = 768,
                      .guidance = 1, .qk_norm = 1, .rope_axes = {16, 56, 56}, .mlp_ratio = 4};
}

void dit_config_sd3_medium(dit_config *c)
{
    *c = (dit_config){.arch = DIT_ARCH_SD3, .n_double = 24, .n_single = 0, .n_heads = 24, .head_dim = 64,
                      .in_channels = 16, .out_channels = 16, .patch = 2, .text_dim = 4096, .pooled_dim = 2048,
                      .guidance = 0, .qk_norm = 0, .pos_embed_max = 192, .sample_size = 128, .mlp_ratio = 4};
}

void dit_config_tiny(dit_arch arch, dit_config *c)
{
    if (arch == DIT_ARCH_FLUX) {
        dit_config_flux_dev(c);
        c->n_double = 2;
        c->n_single = 2;
        c->n_heads = 2;
        c->text_dim = 96;
        c->pooled_dim = 48;
    } else {
        dit_config_sd3_medium(c);
        c->n_double = 3;
        c->n_heads = 2;
        c->text_dim = 96;
        c->pooled_dim = 48;
        c->pos_embed_max = 12;
        c->sample_size = 16;
    }
}

int dit_config_check(const dit_config *c, tetri_error *err)
{
    if (c->n_heads <= 0 || c->n_double < 0 || c->n_single < 0 || c->n_double + c->n_single == 0)
        return tetri_errorf(err, "model config: num_attention_heads and num_layers must be positive");
    if (c->head_dim != 64 && c->head_dim != 128)
        return tetri_errorf(err, "model config: attention_head_dim %d is not supported (the attention kernel "
                                 "is built for 64 and 128)", c->head_dim);
    if (c->n_heads * c->head_dim % 64 || c->n_heads * c->head_dim > 4096)
        return tetri_errorf(err, "model config: hidden size %d (heads x head dim) must be a multiple of 64 and at most 4096 "
                                 "(the LayerNorm kernel keeps a row in registers)", c->n_heads * c->head_dim);
    if (c->patch < 1 || c->in_channels < 1 || c->out_channels < 1 || c->text_dim < 8 || c->pooled_dim < 8)
        return tetri_errorf(err, "model config: patch_size, in/out_channels, joint_attention_dim and "
                                 "pooled_projection_dim must be positive");
    if (dit_token_in(c) % 8 || dit_token_out(c) % 8 || c->text_dim % 8 || c->pooled_dim % 8)
        return tetri_errorf(err, "model config: in_channels x patch^2 (%d), out_channels x patch^2 (%d), "
                                 "joint_attention_dim and pooled_projection_dim must be multiples of 8",
                            dit_token_in(c), dit_token_out(c));
    if (c->arch == DIT_ARCH_FLUX) {
        int s = c->rope_axes[0] + c->rope_axes[1] + c->rope_axes[2];
        if (s != c->head_dim || c->rope_axes[0] % 2 || c->rope_axes[1] % 2 || c->rope_axes[2] % 2)
            return tetri_errorf(err, "model config: axes_dims_rope (%d, %d, %d) must be even and sum to "
                                     "attention_head_dim %d", c->rope_axes[0], c->rope_axes[1], c->rope_axes[2],
                                c->head_dim);
        if (c->patch != 1)
            return tetri_errorf(err, "model config: FLUX expects patch_size 1 (latents packed 2x2 outside)");
    } else {
        if (c->n_single) return tetri_errorf(err, "model config: SD3 has no single-stream blocks");
        if (c->pos_embed_max < 1 || c->sample_size < c->patch)
            return tetri_errorf(err, "model config: SD3 needs pos_embed_max_size and sample_size");
    }
    return 0;
}

#ifdef TETRI_HAVE_JANSSON
static int json_int_field(json_t *root, const char *path, const char *key, int required, int *out, tetri_error *err)
{
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return tetri_errorf(err, "%s: field \"%s\" is missing", path, key);
        return 0;
    }
    if (json_is_boolean(v)) { *out = json_is_true(v); return 0; }
    if (!json_is_integer(v)) return tetri_errorf(err, "%s: field \"%s\" must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < 0 || x > 1 << 20) return tetri_errorf(err, "%s: field \"%s\" = %lld is out of range", path, key, (long long)x);
    *out = (int)x;
    return 0;
}
#endif

int dit_config_from_json(const char *path, dit_config *c, tetri_error *err)
{
#ifndef TETRI_HAVE_JANSSON
    (void)c;
    return tetri_errorf(err, "%s: built without jansson, cannot read a config.json", path);
#else
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return tetri_errorf(err, "%s:%d: %s", path, je.line, je.text);
    int rc = -1;
    if (!json_is_object(root)) { tetri_errorf(err, "%s: not a JSON object", path); goto done; }
    const char *cls = json_string_value(json_object_get(root, "_class_name"));
    if (!cls) { tetri_errorf(err, "%s: field \"_class_name\" is missing", path); goto done; }
    if (strcmp(cls, "FluxTransformer2DModel") == 0) dit_config_flux_dev(c);
    else if (strcmp(cls, "SD3Transformer2DModel") == 0) dit_config_sd3_medium(c);
    else { tetri_errorf(err, "%s: _class_name \"%s\" is neither FluxTransformer2DModel nor SD3Transformer2DModel", path, cls); goto done; }
    int out_ch = -1;
    if (json_int_field(root, path, "num_layers", 1, &c->n_double, err) ||
        json_int_field(root, path, "num_attention_heads", 1, &c->n_heads, err) ||
        json_int_field(root, path, "attention_head_dim", 1, &c->head_dim, err) ||
        json_int_field(root, path, "in_channels", 1, &c->in_channels, err) ||
        json_int_field(root, path, "patch_size", 1, &c->patch, err) ||
        json_int_field(root, path, "joint_attention_dim", 1, &c->text_dim, err) ||
        json_int_field(root, path, "pooled_projection_dim", 1, &c->pooled_dim, err) ||
        json_int_field(root, path, "out_channels", 0, &out_ch, err))
        goto done;
    c->out_channels = out_ch > 0 ? out_ch : c->in_channels;
    if (c->arch == DIT_ARCH_FLUX) {
        if (json_int_field(root, path, "num_single_layers", 1, &c->n_single, err) ||
            json_int_field(root, path, "guidance_embeds", 0, &c->guidance, err))
            goto done;
        json_t *ax = json_object_get(root, "axes_dims_rope");
        if (ax) {
            if (!json_is_array(ax) || json_array_size(ax) != 3) { tetri_errorf(err, "%s: field \"axes_dims_rope\" must be an array of 3 integers", path); goto done; }
            for (int i = 0; i < 3; i++) {
                json_t *e = json_array_get(ax, (size_t)i);
                if (!json_is_integer(e)) { tetri_errorf(err, "%s: axes_dims_rope[%d] must be an integer", path, i); goto done; }
                c->rope_axes[i] = (int)json_integer_value(e);
            }
        }
    } else {
        int cap = -1;
        if (json_int_field(root, path, "pos_embed_max_size", 1, &c->pos_embed_max, err) ||
            json_int_field(root, path, "sample_size", 1, &c->sample_size, err) ||
            json_int_field(root, path, "caption_projection_dim", 0, &cap, err))
            goto done;
        if (cap > 0 && cap != c->n_heads * c->head_dim) {
            tetri_errorf(err, "%s: caption_projection_dim %d differs from the hidden size %d (heads x head dim)", path, cap, c->n_heads * c->head_dim);
            goto done;
        }
        json_t *dual = json_object_get(root, "dual_attention_layers");
        if (dual && json_is_array(dual) && json_array_size(dual) > 0) {
            tetri_errorf(err, "%s: dual_attention_layers (SD3.5's MMDiT-X) is not supported", path);
            goto done;
        }
        const char *qk = json_string_value(json_object_get(root, "qk_norm"));
        if (qk && strcmp(qk, "rms_norm") != 0) { tetri_errorf(err, "%s: qk_norm \"%s\" is not supported (only rms_norm)", path, qk); goto done; }
        c->qk_norm = qk != NULL;
    }
    if (dit_config_check(c, err)) { tetri_error_prefix(err, "%s", path); goto done; }
    rc = 0;
done:
    json_decref(root);
    return rc;
#endif
}

/* ---- the parameter table ---------------------------------------------------------------------- */

typedef struct builder {
    dit_layout *L;
    int cap;
    int64_t cursor;
} builder;

static int64_t add_param(builder *b, dit_init_kind init, int64_t fan_in, int ndim, const int64_t *shape, const char *fmt, ...)
{
    dit_layout *L = b->L;
    if (L->n_params == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        dit_param *p = realloc(L->params, (size_t)b->cap * sizeof *p);
        if (!p) abort();
        L->params = p;
    }
    dit_param *p = &L->params[L->n_params++];
    memset(p, 0, sizeof *p);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->name, sizeof p->name, fmt, ap);
    va_end(ap);
    p->ndim = ndim;
    p->numel = 1;
    for (int i = 0; i < ndim; i++) { p->shape[i] = shape[i]; p->numel *= shape[i]; }
    p->offset = b->cursor;
    p->fan_in = fan_in;
    p->init = init;
    b->cursor += p->numel;
    L->n_weights += p->numel;
    return p->offset;
}

/* Starts a new group at a 128-byte boundary, so every GEMM operand is 16-byte aligned. */
static void align_group(builder *b) { b->cursor = (b->cursor + 63) & ~(int64_t)63; }

static int64_t add_w(builder *b, int out, int in, const char *prefix)
{
    int64_t s[2] = {out, in};
    return add_param(b, DIT_INIT_UNIFORM, in, 2, s, "%s.weight", prefix);
}
static int64_t add_b(builder *b, int out, int in, const char *prefix)
{
    int64_t s[1] = {out};
    return add_param(b, DIT_INIT_UNIFORM, in, 1, s, "%s.bias", prefix);
}
/* One linear layer, weight then bias, each group-aligned. */
static dit_linear add_linear(builder *b, int out, int in, const char *fmt, ...)
{
    char prefix[80];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    dit_linear l = {.out = out, .in = in};
    align_group(b);
    l.w = add_w(b, out, in, prefix);
    align_group(b);
    l.b = add_b(b, out, in, prefix);
    return l;
}
/* Three linears of [D, D] stored as one [3D, D] weight and one [3D] bias. */
static dit_linear add_fused_qkv(builder *b, int D, const char *base, const char *const names[3])
{
    char prefix[80];
    dit_linear l = {.out = 3 * D, .in = D};
    align_group(b);
    for (int i = 0; i < 3; i++) {
        snprintf(prefix, sizeof prefix, "%s.%s", base, names[i]);
        int64_t o = add_w(b, D, D, prefix);
        if (i == 0) l.w = o;
    }
    align_group(b);
    for (int i = 0; i < 3; i++) {
        snprintf(prefix, sizeof prefix, "%s.%s", base, names[i]);
        int64_t o = add_b(b, D, D, prefix);
        if (i == 0) l.b = o;
    }
    return l;
}
static int64_t add_norm_weight(builder *b, int d, const char *fmt, int i)
{
    int64_t s[1] = {d};
    align_group(b);
    return add_param(b, DIT_INIT_NORM_WEIGHT, d, 1, s, fmt, i);
}

int dit_layout_build(const dit_config *c, dit_layout *L, tetri_error *err)
{
    memset(L, 0, sizeof *L);
    if (dit_config_check(c, err)) return -1;
    L->cfg = *c;
    const int D = dit_hidden(c), M = c->mlp_ratio * D, nd = c->n_double, ns = c->n_single;
    const int flux = c->arch == DIT_ARCH_FLUX;
    L->D = D;
    L->dbl = calloc((size_t)(nd ? nd : 1), sizeof *L->dbl);
    L->sgl = calloc((size_t)(ns ? ns : 1), sizeof *L->sgl);
    if (!L->dbl || !L->sgl) abort();
    builder b = {.L = L};

    /* 1. Every modulation linear: weights of all blocks back to back, then their biases. The same
     *    order in both passes puts block i's bias chunk at the same row as its weight rows. */
    const char *dprefix = "transformer_blocks"; /* both architectures name their (double/joint) blocks so */
    char name[80];
    for (int pass = 0; pass < 2; pass++) {
        align_group(&b);
        int64_t row = 0;
        for (int i = 0; i < nd; i++) {
            int pre_only = !flux && i == nd - 1;
            int cc = pre_only ? 2 : 6;
            snprintf(name, sizeof name, "%s.%d.norm1.linear", dprefix, i);
            int64_t o = pass ? add_b(&b, 6 * D, D, name) : add_w(&b, 6 * D, D, name);
            if (i == 0 && pass == 0) L->mod_w = o;
            if (i == 0 && pass == 1) L->mod_b = o;
            L->dbl[i].mod_x_off = row;
            row += 6 * D;
            snprintf(name, sizeof name, "%s.%d.norm1_context.linear", dprefix, i);
            if (pass) add_b(&b, cc * D, D, name); else add_w(&b, cc * D, D, name);
            L->dbl[i].mod_c_off = row;
            L->dbl[i].mod_c_chunks = cc;
            L->dbl[i].context_pre_only = pre_only;
            row += cc * D;
        }
        for (int i = 0; i < ns; i++) {
            snprintf(name, sizeof name, "single_transformer_blocks.%d.norm.linear", i);
            int64_t o = pass ? add_b(&b, 3 * D, D, name) : add_w(&b, 3 * D, D, name);
            if (nd == 0 && i == 0) { if (pass) L->mod_b = o; else L->mod_w = o; }
            L->sgl[i].mod_off = row;
            row += 3 * D;
        }
        if (pass) add_b(&b, 2 * D, D, "norm_out.linear"); else add_w(&b, 2 * D, D, "norm_out.linear");
        L->norm_out_off = row;
        row += 2 * D;
        L->mod_total = row;
    }

    /* 2. Embedders. */
    if (flux) {
        L->x_embed = add_linear(&b, D, dit_token_in(c), "x_embedder");
        L->pos_table = -1;
    } else {
        L->x_embed.out = D;
        L->x_embed.in = dit_token_in(c);
        int64_t s4[4] = {D, c->in_channels, c->patch, c->patch};
        align_group(&b);
        L->x_embed.w = add_param(&b, DIT_INIT_UNIFORM, dit_token_in(c), 4, s4, "pos_embed.proj.weight");
        align_group(&b);
        L->x_embed.b = add_b(&b, D, dit_token_in(c), "pos_embed.proj");
        int64_t s3[3] = {1, (int64_t)c->pos_embed_max * c->pos_embed_max, D};
        align_group(&b);
        L->pos_table = add_param(&b, DIT_INIT_SINCOS_2D, 1, 3, s3, "pos_embed.pos_embed");
    }
    L->ctx_embed = add_linear(&b, D, c->text_dim, "context_embedder");
    L->t_l1 = add_linear(&b, D, 256, "time_text_embed.timestep_embedder.linear_1");
    L->t_l2 = add_linear(&b, D, D, "time_text_embed.timestep_embedder.linear_2");
    L->g_l1.w = L->g_l2.w = L->g_l1.b = L->g_l2.b = -1;
    if (flux && c->guidance) {
        L->g_l1 = add_linear(&b, D, 256, "time_text_embed.guidance_embedder.linear_1");
        L->g_l2 = add_linear(&b, D, D, "time_text_embed.guidance_embedder.linear_2");
    }
    L->p_l1 = add_linear(&b, D, c->pooled_dim, "time_text_embed.text_embedder.linear_1");
    L->p_l2 = add_linear(&b, D, D, "time_text_embed.text_embedder.linear_2");

    /* 3. Blocks. */
    static const char *const qkv_x[3] = {"to_q", "to_k", "to_v"};
    static const char *const qkv_c[3] = {"add_q_proj", "add_k_proj", "add_v_proj"};
    char base[80];
    for (int i = 0; i < nd; i++) {
        dit_double_block *blk = &L->dbl[i];
        snprintf(base, sizeof base, "transformer_blocks.%d.attn", i);
        blk->qkv_x = add_fused_qkv(&b, D, base, qkv_x);
        blk->qkv_c = add_fused_qkv(&b, D, base, qkv_c);
        blk->norm_q = blk->norm_k = blk->norm_added_q = blk->norm_added_k = -1;
        if (c->qk_norm) {
            blk->norm_q = add_norm_weight(&b, c->head_dim, "transformer_blocks.%d.attn.norm_q.weight", i);
            blk->norm_k = add_norm_weight(&b, c->head_dim, "transformer_blocks.%d.attn.norm_k.weight", i);
            blk->norm_added_q = add_norm_weight(&b, c->head_dim, "transformer_blocks.%d.attn.norm_added_q.weight", i);
            blk->norm_added_k = add_norm_weight(&b, c->head_dim, "transformer_blocks.%d.attn.norm_added_k.weight", i);
        }
        blk->out_x = add_linear(&b, D, D, "transformer_blocks.%d.attn.to_out.0", i);
        blk->out_c.w = blk->out_c.b = blk->ff1_c.w = blk->ff1_c.b = blk->ff2_c.w = blk->ff2_c.b = -1;
        if (!blk->context_pre_only) blk->out_c = add_linear(&b, D, D, "transformer_blocks.%d.attn.to_add_out", i);
        blk->ff1_x = add_linear(&b, M, D, "transformer_blocks.%d.ff.net.0.proj", i);
        blk->ff2_x = add_linear(&b, D, M, "transformer_blocks.%d.ff.net.2", i);
        if (!blk->context_pre_only) {
            blk->ff1_c = add_linear(&b, M, D, "transformer_blocks.%d.ff_context.net.0.proj", i);
            blk->ff2_c = add_linear(&b, D, M, "transformer_blocks.%d.ff_context.net.2", i);
        }
    }
    for (int i = 0; i < ns; i++) {
        dit_single_block *blk = &L->sgl[i];
        snprintf(base, sizeof base, "single_transformer_blocks.%d.attn", i);
        blk->qkv = add_fused_qkv(&b, D, base, qkv_x);
        blk->norm_q = add_norm_weight(&b, c->head_dim, "single_transformer_blocks.%d.attn.norm_q.weight", i);
        blk->norm_k = add_norm_weight(&b, c->head_dim, "single_transformer_blocks.%d.attn.norm_k.weight", i);
        blk->mlp = add_linear(&b, M, D, "single_transformer_blocks.%d.proj_mlp", i);
        blk->out = add_linear(&b, D, D + M, "single_transformer_blocks.%d.proj_out", i);
    }
    L->proj_out = add_linear(&b, dit_token_out(c), D, "proj_out");
    align_group(&b);
    L->total = b.cursor;
    return 0;
}

void dit_layout_free(dit_layout *L)
{
    free(L->params);
    free(L->dbl);
    free(L->sgl);
    memset(L, 0, sizeof *L);
}

int dit_layout_find(const dit_layout *L, const char *name)
{
    for (int i = 0; i < L->n_params; i++)
        if (strcmp(L->params[i].name, name) == 0) return i;
    return -1;
}

float dit_param_init_value(uint64_t seed, int param_index, dit_init_kind kind, int64_t fan_in, int64_t i,
                           const dit_config *c, const int64_t *shape)
{
    switch (kind) {
    case DIT_INIT_UNIFORM:
        return dit_uniform_pm1(seed, (uint32_t)param_index, (uint64_t)i) / sqrtf((float)fan_in);
    case DIT_INIT_NORM_WEIGHT:
        return 1.0f + 0.1f * dit_uniform_pm1(seed, (uint32_t)param_index, (uint64_t)i);
    case DIT_INIT_SINCOS_2D: {
        int D = (int)shape[2];
        return dit_sincos_2d_value(i / D, i % D, D, c->pos_embed_max, c->sample_size / c->patch);
    }
    }
    assert(0 && "unknown init kind");
    return 0;
}

uint16_t dit_f32_to_bf16_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float dit_bf16_bits_to_f32(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

float dit_bf16_round(float x) { return dit_bf16_bits_to_f32(dit_f32_to_bf16_bits(x)); }

int dit_config_choose(const char *weights_dir, const char *config_path, int tiny, dit_arch arch, dit_config *out, tetri_error *err)
{
    if (weights_dir) {
        char path[4096];
        snprintf(path, sizeof path, "%s/config.json", weights_dir);
        return dit_config_from_json(path, out, err);
    }
    if (config_path) return dit_config_from_json(config_path, out, err);
    if (tiny) dit_config_tiny(arch, out);
    else if (arch == DIT_ARCH_FLUX) dit_config_flux_dev(out);
    else dit_config_sd3_medium(out);
    return 0;
}
