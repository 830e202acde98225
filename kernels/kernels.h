/* kernels/kernels.h: C launchers of tetri's CUDA kernels (extern "C"; one .cu file per op family).
 * defines: tk_init_param, tk_fill_uniform_bf16, tk_poison, tk_f32_to_bf16, tk_bf16_to_f32,
 *          tk_mod_rows, tk_residual_ln_mod, tk_qk_norm_rope, tk_silu, tk_timestep_proj,
 *          tk_add_pos_embed, tk_velocity_packed, tk_slot_ref, tk_slot_gather, tk_slot_euler,
 *          tk_slot_advance, tk_attention,
 *          tk_attention_wgmma, tk_attention_wgmma_built, tk_attention_oracle, tk_count_diff_u16, tk_cond_rows,
 *          tk_gpu_sleep, tk_fill_uniform_bf16_at, tk_fill_uniform_f32_at, tk_add_pos_embed_rows, tk_sp_pack_heads,
 *          tk_sp_unpack_heads, tk_sp_pack_rows, tk_sp_unpack_rows.
 *
 * bf16 tensors travel as void * (the host code is C); every launcher returns the launch's
 * cudaError_t as an int (0 on success) so callers can report the failing kernel by name.
 * Activations are row-major [rows, features]; a "joint" buffer holds, per sample, the T text rows
 * first and then the N image rows (L = T + N), the order FLUX concatenates them in. */
#ifndef TETRI_KERNELS_KERNELS_H
#define TETRI_KERNELS_KERNELS_H

#include <stdint.h>
#include <cuda_runtime.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- init.cu ---- */
/* Fills n bf16 weights with dit_param_init_value (kind as dit_init_kind; D, M, base for the SD3
 * sin-cos table), rounded to nearest even. */
int tk_init_param(void *w, int64_t n, uint64_t seed, int param_index, int kind, int64_t fan_in, int D, int M,
                  int base, cudaStream_t s);
/* n values scale x U[-1, 1) from (seed, stream_id), as bf16 or float. */
int tk_fill_uniform_bf16(void *x, int64_t n, uint64_t seed, uint32_t stream_id, float scale, cudaStream_t s);
int tk_fill_uniform_f32(float *x, int64_t n, uint64_t seed, uint32_t stream_id, float scale, cudaStream_t s);
/* The same values' elements first .. first + n - 1 (x[i] = what the fills above write at first + i):
 * one rank's rows of a sequence-parallel request get the values the whole request would. */
int tk_fill_uniform_bf16_at(void *x, int64_t n, int64_t first, uint64_t seed, uint32_t stream_id, float scale, cudaStream_t s);
int tk_fill_uniform_f32_at(float *x, int64_t n, int64_t first, uint64_t seed, uint32_t stream_id, float scale, cudaStream_t s);
/* Writes a NaN bit pattern over n_bytes, so that an output element no kernel wrote shows up. */
int tk_poison(void *p, int64_t n_bytes, cudaStream_t s);
int tk_f32_to_bf16(const float *x, void *y, int64_t n, cudaStream_t s);
int tk_bf16_to_f32(const void *x, float *y, int64_t n, cudaStream_t s);
/* *count = the number of 16-bit words among n where a and b differ (count: device memory). */
int tk_count_diff_u16(const void *a, const void *b, int64_t n, unsigned long long *count, cudaStream_t s);

/* ---- norm.cu ---- */
/* Modulation for a range of rows, pointers into the step's modulation vector (bf16, one row per
 * sample, mod_stride elements apart). gate NULL: rows keep h; shift NULL: no normalised output. */
typedef struct tk_mod_rows {
    const void *gate, *shift, *scale;
} tk_mod_rows;
/* Per row r of each sample (rows < split take txt, the rest img):
 *   h = h + gate * y          (when y and gate are given; h rounded to bf16)
 *   out = LayerNorm(h) * (1 + scale) + shift   (eps 1e-6, no affine; when shift is given)
 * h, y, out: [batch, L, D] contiguous (y may be NULL). D a multiple of 8, at most 4096. The
 * modulation pointers are offset by b x mod_stride for sample b, plus (*step) x step_stride when
 * step (device memory) is given: the per-step rows of a modulation table precomputed for a whole
 * schedule, read at the step a replayed graph is at. */
int tk_residual_ln_mod(void *h, const void *y, void *out, int batch, int L, int split, int D, tk_mod_rows txt,
                       tk_mod_rows img, int64_t mod_stride, const int *step, int64_t step_stride, cudaStream_t s);
/* In place on qkv [batch, L, row stride ld] holding q | k | v of H heads of hd (64 or 128):
 * RMSNorm (eps 1e-6) of each q and k head with gains g*_txt for rows < split, g*_img after (NULL
 * gains: no norm), then RoPE on pairs with cos/sin [L, hd / 2] (NULL: none). */
int tk_qk_norm_rope(void *qkv, int batch, int L, int split, int H, int hd, int64_t ld, const void *gq_txt,
                    const void *gk_txt, const void *gq_img, const void *gk_img, const float *cos_t, const float *sin_t,
                    cudaStream_t s);

/* ---- elementwise.cu ---- */
int tk_silu(void *x, int64_t n, cudaStream_t s);
/* out[b, 0:256] = diffusers Timesteps(256, flip_sin_to_cos) of t = values[b] x 1000 for b < batch
 * (values == NULL: t = 0). */
int tk_timestep_proj(const float *values, void *out, int batch, cudaStream_t s);
/* Adds SD3's positional table, centre-cropped to grid_h x grid_w from M x M, to the image rows. */
int tk_add_pos_embed(void *h, const void *table, int batch, int L, int T, int grid_h, int grid_w, int M, int D,
                     cudaStream_t s);
/* The same for image rows n0 .. n0 + nn - 1 of the grid only, held at h rows T .. T + nn - 1 of each
 * sample (one rank's image rows under sequence parallelism: T its text rows, L its rows). */
int tk_add_pos_embed_rows(void *h, const void *table, int batch, int L, int T, int n0, int nn, int grid_h, int grid_w, int M,
                          int D, cudaStream_t s);
/* Velocity in packed token order (float) from proj_out's bf16 output [batch, N, C p^2]; perm_C > 0
 * reorders SD3's (py, px, c) into (c, py, px) for C = perm_C channels. */
int tk_velocity_packed(const void *out, float *vel, int batch, int N, int width, int perm_C, cudaStream_t s);
/* A schedule's conditioning rows r = k x batch + b (step k, sample b): t_rows[r] = sigmas[k],
 * g_rows[r] = guid[b] (0 without guid; g_rows may be NULL), pooled_rows[r, :] = pooled[b, :] (bf16). */
int tk_cond_rows(const float *sigmas, const float *guid, const void *pooled, int n_steps, int batch, int pooled_dim, float *t_rows,
                 float *g_rows, void *pooled_rows, cudaStream_t s);

/* Holds the stream for ns of GPU time (one thread sleeping): a GPU that stops answering, in tests. */
int tk_gpu_sleep(int64_t ns, cudaStream_t s);

/* ---- slot.cu ---- */
/* One request's denoising state in device memory, as a step runner's graph reads it (dit/dit_gpu.h,
 * dit_slot): the graph bakes in a table of these, which the host rewrites before each block. */
typedef struct tk_slot_ref {
    float *lat;                 /* [N, C p^2] fp32: the latent the steps advance */
    const void *txt;            /* [T, text_dim] bf16: the text encoder's output */
    const void *mod;            /* [n_steps, mod_total] bf16: every block's modulation at every step */
    const float *sigmas;        /* [n_steps + 1] the schedule */
    int *step;                  /* the step it is at, 0..n_steps-1 */
    int n_steps;
} tk_slot_ref;
/* For sample b < batch of refs (device memory): lat16[b] = bf16(latent), txt[b] = its text rows,
 * mod[b] = its modulation row at its step, sig2[b] = {sigmas[step], sigmas[step + 1]}. n_txt and
 * mod_total multiples of 8, txt and mod 16-byte aligned. */
int tk_slot_gather(const tk_slot_ref *refs, int batch, int64_t n_lat, int64_t n_txt, int64_t mod_total, void *lat16, void *txt,
                   void *mod, float *sig2, cudaStream_t s);
/* Each sample's slot latent += (sig2[b][1] - sig2[b][0]) * vel[b] (vel [batch, n_lat]). */
int tk_slot_euler(const tk_slot_ref *refs, int batch, const float *vel, int64_t n_lat, const float *sig2, cudaStream_t s);
/* Each slot's step = (step + 1) mod n_steps. */
int tk_slot_advance(const tk_slot_ref *refs, int batch, cudaStream_t s);

/* ---- attention.cu ---- */
/* Softmax(Q K^T / sqrt(hd)) V for every head, flash style (the L x L scores never leave the
 * chip): q, k, v rows of stride ld, head h at column h x hd, samples bs elements apart; out rows of
 * stride ldo, samples obs apart. hd 64 or 128; ld, ldo multiples of 8. */
int tk_attention(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo,
                 int64_t obs, int batch, int L, int H, int hd, cudaStream_t s);

/* ---- attention_wgmma.cu ---- */
/* The same contract as tk_attention, on Hopper's warpgroup MMA (sm_90a): the fast path. */
int tk_attention_wgmma(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo,
                       int64_t obs, int batch, int L, int H, int hd, cudaStream_t s);
/* The current device runs sm_90a code of it (*built 1), or the empty body of another architecture's
 * pass (0: a GPU other than sm_90, or a build without sm_90a, see configure's --with-cuda-arch);
 * there tk_attention_wgmma returns cudaErrorNoKernelImageForDevice. Asked of the device once (a
 * probe kernel, synchronous: not during a capture), then remembered per device. */
int tk_attention_wgmma_built(int *built);

/* ---- attention_oracle.cu ---- */
/* The same result the plain way, in fp32 through cuBLAS (scores in device memory): the flash
 * kernel's test oracle. Needs workspace of (3 L hd + L L) floats; cublas_handle a cublasHandle_t. */
int tk_attention_oracle(void *cublas_handle, const void *q, const void *k, const void *v, int64_t ld, int64_t bs,
                        void *out, int64_t ldo, int64_t obs, int batch, int L, int H, int hd, float *workspace,
                        cudaStream_t s);

/* ---- sp.cu ----
 * Ulysses' pack and unpack around the two all-to-alls, bf16, exactly what dit_sp_pack_heads,
 * dit_sp_unpack_heads, dit_sp_pack_rows and dit_sp_unpack_rows (dit/sp.h, where the chunk layout is
 * described) do on the host; one launch each. D the model width, k the degree (1..8, D a multiple
 * of 8 k), L[k] (host memory) every rank's row count, rows the calling rank's; row strides
 * multiples of 8 and buffers 16-byte aligned, else cudaErrorInvalidValue.
 *   pack_heads:   qkv [B, rows, ld_qkv] (q | k | v, each D wide) -> send [k][B, rows, 3 D/k]
 *   unpack_heads: recv [k][B, L_i, 3 D/k] -> att_in [B, Lt, 3 D/k]
 *   pack_rows:    att_out [B, Lt, D/k] -> send [k][B, L_i, D/k]
 *   unpack_rows:  recv [k][B, rows, D/k] -> out [B, rows, ld_out] at columns j D/k */
int tk_sp_pack_heads(const void *qkv, int64_t ld_qkv, int batch, int rows, int D, int k, void *send, cudaStream_t s);
int tk_sp_unpack_heads(const void *recv, int batch, const int *L, int D, int k, void *att_in, cudaStream_t s);
int tk_sp_pack_rows(const void *att_out, int batch, const int *L, int D, int k, void *send, cudaStream_t s);
int tk_sp_unpack_rows(const void *recv, int batch, int rows, int D, int k, void *out, int64_t ld_out, cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
