/* kernels/norm.cu: the adaLN family (gated residual fused with LayerNorm + modulation) and the
 * per-head QK RMSNorm fused with RoPE. One pass over each row: the row stays in registers. */
#include "kernels/common.cuh"
#include "kernels/kernels.h"

#define LN_THREADS 128
#define LN_MAX_VEC 4 /* 8-wide vectors per thread: D up to 128 x 4 x 8 = 4096 */

__device__ __forceinline__ float block_sum(float v, float *red)
{
    v = warp_sum(v);
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    __syncthreads(); /* red may still be read from the previous call */
    if (lane == 0) red[warp] = v;
    __syncthreads();
    float t = 0.f;
#pragma unroll
    for (int i = 0; i < LN_THREADS / 32; i++) t += red[i];
    return t;
}

/* One block per row. */
__global__ void __launch_bounds__(LN_THREADS) residual_ln_mod_kernel(bf16 *h, const bf16 *y, bf16 *out, int L, int split,
                                                                     int D, tk_mod_rows txt, tk_mod_rows img,
                                                                     int64_t mod_stride, const int *step,
                                                                     int64_t step_stride)
{
    __shared__ float red[LN_THREADS / 32];
    const int row = blockIdx.x, b = blockIdx.y;
    const tk_mod_rows m = row < split ? txt : img;
    const int64_t base = ((int64_t)b * L + row) * D;
    const int64_t mb = (int64_t)b * mod_stride + (step ? (int64_t)*step * step_stride : 0);
    const int nvec = D / 8;
    float x[LN_MAX_VEC][8];
    float sum = 0.f;
#pragma unroll
    for (int v = 0; v < LN_MAX_VEC; v++) {
        const int c = (threadIdx.x + v * LN_THREADS) * 8;
        if (c < D && (threadIdx.x + v * LN_THREADS) < nvec) {
            load8(h + base + c, x[v]);
            if (y && m.gate) {
                float yy[8], g[8];
                load8(y + base + c, yy);
                load8((const bf16 *)m.gate + mb + c, g);
#pragma unroll
                for (int i = 0; i < 8; i++) x[v][i] = __bfloat162float(__float2bfloat16_rn(x[v][i] + g[i] * yy[i]));
                store8(h + base + c, x[v]);
            }
#pragma unroll
            for (int i = 0; i < 8; i++) sum += x[v][i];
        }
    }
    if (!m.shift) return; /* uniform per block: no barrier is skipped by part of it */
    const float mean = block_sum(sum, red) / (float)D;
    float sq = 0.f;
#pragma unroll
    for (int v = 0; v < LN_MAX_VEC; v++)
        if ((threadIdx.x + v * LN_THREADS) < nvec)
#pragma unroll
            for (int i = 0; i < 8; i++) sq += (x[v][i] - mean) * (x[v][i] - mean);
    const float inv = rsqrtf(block_sum(sq, red) / (float)D + 1e-6f);
#pragma unroll
    for (int v = 0; v < LN_MAX_VEC; v++) {
        const int c = (threadIdx.x + v * LN_THREADS) * 8;
        if ((threadIdx.x + v * LN_THREADS) < nvec) {
            float sh[8], sc[8], o[8];
            load8((const bf16 *)m.shift + mb + c, sh);
            load8((const bf16 *)m.scale + mb + c, sc);
#pragma unroll
            for (int i = 0; i < 8; i++) o[i] = (x[v][i] - mean) * inv * (1.f + sc[i]) + sh[i];
            store8(out + base + c, o);
        }
    }
}

extern "C" int tk_residual_ln_mod(void *h, const void *y, void *out, int batch, int L, int split, int D, tk_mod_rows txt,
                                  tk_mod_rows img, int64_t mod_stride, const int *step, int64_t step_stride,
                                  cudaStream_t s)
{
    if (D % 8 || D > LN_THREADS * LN_MAX_VEC * 8) return (int)cudaErrorInvalidValue;
    dim3 grid((unsigned)L, (unsigned)batch);
    residual_ln_mod_kernel<<<grid, LN_THREADS, 0, s>>>((bf16 *)h, (const bf16 *)y, (bf16 *)out, L, split, D, txt, img,
                                                       mod_stride, step, step_stride);
    return LAUNCH_RESULT();
}

/* One group of HD / 8 lanes per (row, q or k, head): each lane holds 8 consecutive elements (one
 * 16-byte access, four whole RoPE pairs (2i, 2i + 1)), so a warp covers 256 / HD heads; the
 * RMSNorm's sum is a shuffle reduction within the group. */
template <int HD>
__global__ void qk_norm_rope_kernel(bf16 *qkv, int L, int split, int H, int64_t ld, const bf16 *gq_txt,
                                    const bf16 *gk_txt, const bf16 *gq_img, const bf16 *gk_img, const float *cos_t,
                                    const float *sin_t, int64_t total_units)
{
    constexpr int LANES = HD / 8; /* lanes per head: 16 (hd 128) or 8 (hd 64) */
    const int64_t tid = blockIdx.x * (int64_t)blockDim.x + threadIdx.x;
    const int64_t unit = tid / LANES;
    const int sub = (int)(tid % LANES);
    /* every lane of a full group takes part in the shuffles; groups never straddle a warp */
    const bool live = unit < total_units;
    const int64_t u = live ? unit : total_units - 1;
    const int which = (int)(u % 2);          /* 0: q, 1: k */
    const int head = (int)((u / 2) % H);
    const int64_t rowg = u / (2 * H);        /* b * L + row */
    const int row = (int)(rowg % L);
    bf16 *p = qkv + rowg * ld + (int64_t)which * H * HD + (int64_t)head * HD + sub * 8;
    float x[8];
    load8(p, x);
    const bf16 *g = row < split ? (which ? gk_txt : gq_txt) : (which ? gk_img : gq_img);
    if (g) {
        float ss = 0.f;
#pragma unroll
        for (int i = 0; i < 8; i++) ss += x[i] * x[i];
#pragma unroll
        for (int o = LANES / 2; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        const float inv = rsqrtf(ss / (float)HD + 1e-6f);
        float gv[8];
        load8(g + sub * 8, gv);
#pragma unroll
        for (int i = 0; i < 8; i++) x[i] = x[i] * inv * gv[i];
    }
    if (cos_t) {
        const float4 c = *reinterpret_cast<const float4 *>(cos_t + (int64_t)row * (HD / 2) + sub * 4);
        const float4 s = *reinterpret_cast<const float4 *>(sin_t + (int64_t)row * (HD / 2) + sub * 4);
        const float cc[4] = {c.x, c.y, c.z, c.w}, sn[4] = {s.x, s.y, s.z, s.w};
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const float a = x[2 * i], bb = x[2 * i + 1];
            x[2 * i] = a * cc[i] - bb * sn[i];
            x[2 * i + 1] = bb * cc[i] + a * sn[i];
        }
    }
    if (live) store8(p, x);
}

extern "C" int tk_qk_norm_rope(void *qkv, int batch, int L, int split, int H, int hd, int64_t ld, const void *gq_txt,
                               const void *gk_txt, const void *gq_img, const void *gk_img, const float *cos_t,
                               const float *sin_t, cudaStream_t s)
{
    const int64_t units = (int64_t)batch * L * H * 2;
    if (((uintptr_t)qkv | (uintptr_t)cos_t | (uintptr_t)sin_t | (uintptr_t)gq_txt | (uintptr_t)gk_txt | (uintptr_t)gq_img |
         (uintptr_t)gk_img) % 16 || ld % 8)
        return (int)cudaErrorMisalignedAddress;
    const int64_t threads = units * (hd / 8);
    const unsigned blocks = (unsigned)((threads + 255) / 256);
#define QK_ARGS (bf16 *)qkv, L, split, H, ld, (const bf16 *)gq_txt, (const bf16 *)gk_txt, (const bf16 *)gq_img, \
                (const bf16 *)gk_img, cos_t, sin_t, units
    if (hd == 128) qk_norm_rope_kernel<128><<<blocks, 256, 0, s>>>(QK_ARGS);
    else if (hd == 64) qk_norm_rope_kernel<64><<<blocks, 256, 0, s>>>(QK_ARGS);
    else return (int)cudaErrorInvalidValue;
#undef QK_ARGS
    return LAUNCH_RESULT();
}
