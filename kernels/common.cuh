/* kernels/common.cuh: small device helpers shared by the kernels (bf16 vectors, warp reductions).
 * defines: bf16x8, load_bf16x8, store_bf16x8, warp_sum, warp_max, LAUNCH_RESULT. */
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

/* The launch's error, as the launchers return it. */
#define LAUNCH_RESULT() ((int)cudaGetLastError())

#endif
