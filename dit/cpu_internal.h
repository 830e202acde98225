/* dit/cpu_internal.h: the CPU reference forward's phases over one rank's rows, shared by the
 * degree-1 forward (cpu_ref.c) and the sharded one (cpu_sp.c), so that both run the same code.
 * defines: dit_cpu_rows, dit_cpu_rows_init, dit_cpu_rows_free, dit_cpu_check_inputs,
 *          dit_cpu_modulation, dit_cpu_embed, dit_cpu_double_pre, dit_cpu_double_post,
 *          dit_cpu_single_pre, dit_cpu_single_post, dit_cpu_final, dit_cpu_attention.
 * Not part of the public contract: only dit/cpu_ref.c and dit/cpu_sp.c include it.
 *
 * A rank holds one shard of each sample's rows (dit_sp_shard: text rows t0.., then image rows
 * n0..); degree 1 is the one rank holding them all. Everything but attention is per row, so these
 * phases see the rank's rows alone, with their global positions where a position matters (FLUX's
 * RoPE, SD3's positional table). Attention between a block's pre- and post-attention phase is the
 * caller's: directly over every row at degree 1, through the all-to-all at degree k. */
#ifndef TETRI_DIT_CPU_INTERNAL_H
#define TETRI_DIT_CPU_INTERNAL_H

#include "dit/model.h"
#include "dit/sp.h"
#include "dit/step_inputs.h"

/* One rank's rows and their buffers, for `slots` samples held at once (the sharded forward holds
 * the whole batch across each exchange; degree 1 runs one sample at a time in slot 0). */
typedef struct dit_cpu_rows {
    dit_sp_shard s;     /* text rows [t0, t0 + tn), image rows [n0, n0 + nn) */
    int rows;           /* s.tn + s.nn, text first */
    int grid_h, grid_w; /* the image's grid, for the image rows' (row, col) */
    int slots;
    float *h;           /* [slots, rows, D] hidden state */
    float *qkv;         /* [slots, rows, 3D] q | k | v, attention's input */
    float *att;         /* [slots, rows, D] a double block's attention output */
    float *ff;          /* [slots, rows, D + M] a single block's attention output | MLP; double blocks: [rows, M] scratch */
    float *nrm, *y;     /* [rows, D] scratch */
    float *proj;        /* [nn, tout] scratch: SD3's proj_out before reordering */
    float *rc, *rs;     /* [rows, head_dim / 2] FLUX's RoPE cos, sin at the rows' global positions */
} dit_cpu_rows;

void dit_cpu_rows_init(const dit_layout *L, int T, int grid_h, int grid_w, const dit_sp_shard *s, int slots, dit_cpu_rows *R);
void dit_cpu_rows_free(dit_cpu_rows *R);

/* -1 with err when in's batch or shape cannot run (text and latent pointers are not read). */
int dit_cpu_check_inputs(const dit_layout *L, const dit_step_inputs *in, tetri_error *err);

/* One sample's modulation vector mod [mod_total] from its sigma, guidance and pooled [pooled_dim]. */
void dit_cpu_modulation(const dit_layout *L, const float *w, float sigma, float guidance, const float *pooled, float *mod);

/* The rank's rows of slot's hidden state from its text rows [tn, text_dim] and latent rows [nn, C p^2]. */
void dit_cpu_embed(const dit_layout *L, const float *w, const float *text, const float *latent, dit_cpu_rows *R, int slot);

/* Block i before attention (h -> qkv) and after it (att or ff's attention columns -> h). */
void dit_cpu_double_pre(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot);
void dit_cpu_double_post(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot);
void dit_cpu_single_pre(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot);
void dit_cpu_single_post(const dit_layout *L, const float *w, int i, const float *mod, dit_cpu_rows *R, int slot);

/* norm_out and proj_out of the rank's image rows: out [nn, C p^2] in the packed token order. */
void dit_cpu_final(const dit_layout *L, const float *w, const float *mod, dit_cpu_rows *R, int slot, float *out);

/* Softmax attention of n_heads heads over all L rows: qkv rows [q | k | v] (each n_heads x hd wide)
 * of stride ld, out [L, n_heads x hd] of stride ldo; scores [L] scratch. */
void dit_cpu_attention(const float *qkv, int L, int ld, int n_heads, int hd, float *out, int ldo, float *scores);

#endif
