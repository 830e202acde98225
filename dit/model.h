/* dit/model.h: DiT shapes (FLUX.1-dev, SD3-medium, and any size of either architecture), the
 * parameter table under diffusers' tensor names, and the offset table of the one weight allocation.
 * defines: dit_arch, dit_config, dit_init_kind, dit_param, dit_linear, dit_double_block,
 *          dit_single_block, dit_layout, dit_config_flux_dev, dit_config_sd3_medium,
 *          dit_config_tiny, dit_config_from_json, dit_config_choose, dit_layout_build, dit_layout_free, dit_layout_find,
 *          dit_param_init_value, dit_bf16_round, dit_image_tokens, dit_default_text_tokens.
 *
 * CPU only (no CUDA): the GPU executor, the CPU reference and the safetensors loader all index one
 * flat weight buffer through this table, so they agree on every offset by construction.
 *
 * Order of the buffer: every adaLN modulation linear of the whole model first (all weights, then all
 * biases, block after block), so that one GEMM per step computes every block's shift/scale/gate
 * from silu(temb); then each block's tensors, with to_q|to_k|to_v (and add_q|add_k|add_v) weights
 * adjacent and their biases adjacent, so that each is one fused [3D, D] linear. */
#ifndef TETRI_DIT_MODEL_H
#define TETRI_DIT_MODEL_H

#include <stdint.h>

#include "core/error.h"

typedef enum dit_arch { DIT_ARCH_FLUX = 0, DIT_ARCH_SD3 = 1 } dit_arch;

/* The fields of a diffusers config.json that set the shapes. */
typedef struct dit_config {
    dit_arch arch;
    int n_double;      /* num_layers: FLUX double-stream blocks / SD3 joint blocks */
    int n_single;      /* num_single_layers (FLUX); 0 for SD3 */
    int n_heads;       /* num_attention_heads */
    int head_dim;      /* attention_head_dim; hidden = n_heads * head_dim */
    int in_channels;   /* latent channels entering the patchifier (FLUX config says 64 = 16 x 2 x 2, patch 1) */
    int out_channels;  /* channels leaving proj_out per patch position */
    int patch;         /* patch_size: 1 for FLUX (already packed), 2 for SD3 */
    int text_dim;      /* joint_attention_dim: width of the text encoder's tokens (4096) */
    int pooled_dim;    /* pooled_projection_dim: 768 (FLUX, CLIP-L) or 2048 (SD3) */
    int guidance;      /* guidance_embeds (FLUX.1-dev: 1) */
    int qk_norm;       /* RMSNorm on q and k (FLUX: always; SD3-medium: none) */
    int rope_axes[3];  /* axes_dims_rope (FLUX: 16, 56, 56; sums to head_dim) */
    int pos_embed_max; /* pos_embed_max_size (SD3: 192) */
    int sample_size;   /* sample_size (SD3: 128), sets the base of the sin-cos positional table */
    int mlp_ratio;     /* 4 */
} dit_config;

static inline int dit_hidden(const dit_config *c) { return c->n_heads * c->head_dim; }
/* Width of one image token entering x_embedder / pos_embed.proj: in_channels x patch^2 (64 for both). */
static inline int dit_token_in(const dit_config *c) { return c->in_channels * c->patch * c->patch; }
static inline int dit_token_out(const dit_config *c) { return c->out_channels * c->patch * c->patch; }
/* The text tokens a pipeline feeds the transformer: T5's 512 (FLUX); CLIP's 77 + T5's 256 (SD3). */
static inline int dit_default_text_tokens(const dit_config *c) { return c->arch == DIT_ARCH_FLUX ? 512 : 333; }
/* Image tokens at a square resolution (pixels): (res/16)^2, the VAE downsampling 8 times 2x2 patches. */
static inline int dit_image_tokens(int res_w, int res_h) { return (res_w / 16) * (res_h / 16); }

void dit_config_flux_dev(dit_config *c);
void dit_config_sd3_medium(dit_config *c);
/* A tiny configuration of the same architecture for the CPU reference and the GPU step tests:
 * 2 double (+ 2 single) blocks, 2 heads of 128 (FLUX: RoPE axes 16, 56, 56) or 2 heads of 64 (SD3),
 * text width 96, pooled 48. */
void dit_config_tiny(dit_arch arch, dit_config *c);
/* Reads a diffusers transformer config.json ("_class_name" FluxTransformer2DModel or
 * SD3Transformer2DModel). Errors name the file and the field. */
int dit_config_from_json(const char *path, dit_config *c, tetri_error *err);
/* The configuration a command asked for, in its order of precedence: weights_dir's config.json,
 * else the config.json at config_path, else the tiny configuration of arch (tiny), else the
 * published FLUX.1-dev or SD3-medium of arch. Errors name the file and the field. */
int dit_config_choose(const char *weights_dir, const char *config_path, int tiny, dit_arch arch, dit_config *out, tetri_error *err);
/* Checks the invariants the kernels rely on (head_dim 64 or 128, hidden a multiple of 64 up to 4096,
 * RoPE axes summing to head_dim, widths multiples of 8). */
int dit_config_check(const dit_config *c, tetri_error *err);

typedef enum dit_init_kind {
    DIT_INIT_UNIFORM = 0, /* U(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's Linear bound */
    DIT_INIT_NORM_WEIGHT, /* 1 + U(-0.1, 0.1): RMSNorm gains */
    DIT_INIT_SINCOS_2D,   /* SD3's fixed 2-D sin-cos positional table (a buffer in the checkpoint) */
} dit_init_kind;

typedef struct dit_param {
    char name[96];     /* diffusers' state-dict name, e.g. transformer_blocks.3.attn.to_q.weight */
    int ndim;
    int64_t shape[4];
    int64_t numel;
    int64_t offset;    /* elements from the start of the one allocation */
    int64_t fan_in;    /* for the random init bound */
    dit_init_kind init;
} dit_param;

/* A linear layer y = x W^T + b as offsets into the buffer; b < 0 when absent. */
typedef struct dit_linear {
    int64_t w, b;
    int out, in;
} dit_linear;

typedef struct dit_double_block {
    int context_pre_only;         /* SD3's last block: text side only feeds attention */
    int64_t mod_x_off, mod_c_off; /* offsets of this block's chunks in the step's modulation vector */
    int mod_c_chunks;             /* 6 (AdaLayerNormZero) or 2 (AdaLayerNormContinuous: scale, shift) */
    dit_linear qkv_x, qkv_c;      /* to_q|to_k|to_v and add_q_proj|add_k_proj|add_v_proj, fused [3D, D] */
    int64_t norm_q, norm_k, norm_added_q, norm_added_k; /* RMSNorm gains [head_dim]; -1 without qk norm */
    dit_linear out_x, out_c;      /* attn.to_out.0, attn.to_add_out (out_c.w < 0 when context_pre_only) */
    dit_linear ff1_x, ff2_x;      /* ff.net.0.proj (GELU-tanh), ff.net.2 */
    dit_linear ff1_c, ff2_c;      /* ff_context.*; absent when context_pre_only */
} dit_double_block;

typedef struct dit_single_block {
    int64_t mod_off;              /* shift, scale, gate (AdaLayerNormZeroSingle) */
    dit_linear qkv;               /* attn.to_q|to_k|to_v fused [3D, D] */
    dit_linear mlp;               /* proj_mlp [4D, D], GELU-tanh */
    int64_t norm_q, norm_k;
    dit_linear out;               /* proj_out [D, 5D] over concat(attention, mlp) */
} dit_single_block;

typedef struct dit_layout {
    dit_config cfg;
    int D;
    dit_param *params;
    int n_params;
    int64_t total;                /* elements in the allocation (with alignment padding) */
    int64_t n_weights;            /* sum of numel: the model's parameter count */
    /* every modulation linear, concatenated: one [mod_total, D] GEMM from silu(temb) */
    int64_t mod_w, mod_b, mod_total;
    int64_t norm_out_off;         /* norm_out.linear chunks (scale, shift) in the modulation vector */
    dit_linear x_embed;           /* x_embedder (FLUX) or pos_embed.proj as [D, C*p*p] (SD3) */
    int64_t pos_table;            /* SD3 pos_embed.pos_embed [1, M*M, D]; -1 for FLUX */
    dit_linear ctx_embed;         /* context_embedder */
    dit_linear t_l1, t_l2;        /* time_text_embed.timestep_embedder.linear_1/2 */
    dit_linear g_l1, g_l2;        /* guidance_embedder (FLUX.1-dev), w < 0 when absent */
    dit_linear p_l1, p_l2;        /* text_embedder (pooled projection) */
    dit_linear proj_out;
    dit_double_block *dbl;
    dit_single_block *sgl;
} dit_layout;

int dit_layout_build(const dit_config *c, dit_layout *L, tetri_error *err);
void dit_layout_free(dit_layout *L);
/* Index of the parameter called name, or -1. */
int dit_layout_find(const dit_layout *L, const char *name);

/* The seeded random initial value of element i of parameter p, before rounding to bf16. Computed by
 * a counter-based hash, so the GPU initialiser (kernels/init.cu) and the CPU produce the same bits. */
float dit_param_init_value(uint64_t seed, int param_index, dit_init_kind kind, int64_t fan_in, int64_t i,
                           const dit_config *c, const int64_t *shape);
/* Round-to-nearest-even to bf16 and back, as __float2bfloat16_rn does. */
float dit_bf16_round(float x);
uint16_t dit_f32_to_bf16_bits(float x);
float dit_bf16_bits_to_f32(uint16_t b);

#endif
