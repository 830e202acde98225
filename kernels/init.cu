/* kernels/init.cu: seeded weight and input initialisation, poisoning, dtype conversion. */
#include "kernels/common.cuh"
#include "kernels/init_values.h"
#include "kernels/kernels.h"

/* Same arithmetic as dit_param_init_value (dit/model.c); kinds as dit_init_kind. */
__global__ void init_param_kernel(bf16 *w, int64_t n, uint64_t seed, int param_index, int kind, float bound, int D,
                                  int M, int base)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v;
        if (kind == 0) v = dit_uniform_pm1(seed, (uint32_t)param_index, (uint64_t)i) * bound;
        else if (kind == 1) v = 1.0f + 0.1f * dit_uniform_pm1(seed, (uint32_t)param_index, (uint64_t)i);
        else v = dit_sincos_2d_value(i / D, i % D, D, M, base);
        w[i] = __float2bfloat16_rn(v);
    }
}

extern "C" int tk_init_param(void *w, int64_t n, uint64_t seed, int param_index, int kind, int64_t fan_in, int D,
                             int M, int base, cudaStream_t s)
{
    /* the host computes the bound the same way: 1 / sqrtf(fan_in) in float */
    float bound = 1.0f / sqrtf((float)fan_in);
    init_param_kernel<<<blocks_for(n, 256), 256, 0, s>>>((bf16 *)w, n, seed, param_index, kind, bound, D, M, base);
    return LAUNCH_RESULT();
}

/* x[i] = the value of element first + i (first > 0: one shard of a longer sequence). */
__global__ void fill_uniform_bf16_kernel(bf16 *x, int64_t n, int64_t first, uint64_t seed, uint32_t sid, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        x[i] = __float2bfloat16_rn(scale * dit_uniform_pm1(seed, sid, (uint64_t)(first + i)));
}
__global__ void fill_uniform_f32_kernel(float *x, int64_t n, int64_t first, uint64_t seed, uint32_t sid, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        x[i] = scale * dit_uniform_pm1(seed, sid, (uint64_t)(first + i));
}

extern "C" int tk_fill_uniform_bf16_at(void *x, int64_t n, int64_t first, uint64_t seed, uint32_t stream_id, float scale,
                                       cudaStream_t s)
{
    fill_uniform_bf16_kernel<<<blocks_for(n, 256), 256, 0, s>>>((bf16 *)x, n, first, seed, stream_id, scale);
    return LAUNCH_RESULT();
}
extern "C" int tk_fill_uniform_f32_at(float *x, int64_t n, int64_t first, uint64_t seed, uint32_t stream_id, float scale,
                                      cudaStream_t s)
{
    fill_uniform_f32_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, n, first, seed, stream_id, scale);
    return LAUNCH_RESULT();
}
extern "C" int tk_fill_uniform_bf16(void *x, int64_t n, uint64_t seed, uint32_t stream_id, float scale, cudaStream_t s)
{
    return tk_fill_uniform_bf16_at(x, n, 0, seed, stream_id, scale, s);
}
extern "C" int tk_fill_uniform_f32(float *x, int64_t n, uint64_t seed, uint32_t stream_id, float scale, cudaStream_t s)
{
    return tk_fill_uniform_f32_at(x, n, 0, seed, stream_id, scale, s);
}

extern "C" int tk_poison(void *p, int64_t n_bytes, cudaStream_t s)
{
    /* 0xFF bytes: NaN as bf16 (0xFFFF) and as float (0xFFFFFFFF) */
    return (int)cudaMemsetAsync(p, 0xFF, (size_t)n_bytes, s);
}

/* Counts the 16-bit words where a and b differ (atomicAdd of per-block sums; the count is exact
 * whatever the order). Used by the GEMM tuner to keep only algorithms whose output is bit-identical. */
__global__ void count_diff_u16_kernel(const uint16_t *a, const uint16_t *b, int64_t n, unsigned long long *count)
{
    unsigned long long local = 0;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        local += a[i] != b[i];
    for (int o = 16; o > 0; o >>= 1) local += __shfl_down_sync(0xffffffffu, local, o);
    if ((threadIdx.x & 31) == 0 && local) atomicAdd(count, local);
}

extern "C" int tk_count_diff_u16(const void *a, const void *b, int64_t n, unsigned long long *count, cudaStream_t s)
{
    cudaError_t e = cudaMemsetAsync(count, 0, sizeof *count, s);
    if (e != cudaSuccess) return (int)e;
    count_diff_u16_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const uint16_t *)a, (const uint16_t *)b, n, count);
    return LAUNCH_RESULT();
}

__global__ void f32_to_bf16_kernel(const float *x, bf16 *y, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __float2bfloat16_rn(x[i]);
}
__global__ void bf16_to_f32_kernel(const bf16 *x, float *y, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = __bfloat162float(x[i]);
}
extern "C" int tk_f32_to_bf16(const float *x, void *y, int64_t n, cudaStream_t s)
{
    f32_to_bf16_kernel<<<blocks_for(n, 256), 256, 0, s>>>(x, (bf16 *)y, n);
    return LAUNCH_RESULT();
}
extern "C" int tk_bf16_to_f32(const void *x, float *y, int64_t n, cudaStream_t s)
{
    bf16_to_f32_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const bf16 *)x, y, n);
    return LAUNCH_RESULT();
}
