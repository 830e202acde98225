/* kernels/common.cuh: small device helpers shared by the kernels (bf16 vectors, warp reductions).
 * defines: bf16x8, load_bf16x8, store_bf16x8, warp_sum, warp_max, blocks_for, smem_u32, cp_async16,
 *          cp_async_commit, cp_async_wait, pack_bf16, fast_exp2, LAUNCH_RESULT. */
#ifndef TETRI_KERNELS_COMMON_CUH
#define TETRI_KERNELS_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <stdint.h>

typedef __nv_bfloat16 bf16;

/* Eight bf16 in one 16-byte access. */
struct __align__(16) bf16x8 {
    __nv_bfloat162 v[4];
};

__device__ __forceinline__ void load8(const bf16 *p, float f[8])
{
    bf16x8 x = *reinterpret_cast<const bf16x8 *>(p);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float2 t = __bfloat1622float2(x.v[i]);
        f[2 * i] = t.x;
        f[2 * i + 1] = t.y;
    }
}

__device__ __forceinline__ void store8(bf16 *p, const float f[8])
{
    bf16x8 x;
#pragma unroll
    for (int i = 0; i < 4; i++) x.v[i] = __floats2bfloat162_rn(f[2 * i], f[2 * i + 1]);
    *reinterpret_cast<bf16x8 *>(p) = x;
}

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Shared-memory address of a generic pointer into shared memory (what cp.async, ldmatrix and
 * wgmma descriptors take). */
__device__ __forceinline__ uint32_t smem_u32(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }
/* 16 bytes global -> shared, asynchronously; valid false: src-size 0 zero-fills the 16 bytes (rows
 * past L read as zeros). */
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, bool valid)
{
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
/* Waits until at most N committed groups are still in flight. */
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }
/* Two floats rounded to bf16, packed as an MMA A-fragment register (lo in the low half). */
__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi)
{
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<uint32_t *>(&v);
}
/* 2^x on the MUFU unit (flushes denormals; the online softmax works in base 2). */
__device__ __forceinline__ float fast_exp2(float x)
{
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
    return y;
}

/* Blocks of per_block threads for a grid-stride loop over n elements: at least 1, at most 16 x 65535. */
static inline unsigned blocks_for(int64_t n, int per_block)
{
    int64_t b = (n + per_block - 1) / per_block;
    return (unsigned)(b < 65535 * 16 ? (b ? b : 1) : 65535 * 16);
}

/* The launch's error, as the launchers return it. */
#define LAUNCH_RESULT() ((int)cudaGetLastError())

#endif
