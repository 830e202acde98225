/* kernels/init_values.h: the seeded initial weight values, one definition for host C and device CUDA.
 * defines: dit_mix64, dit_uniform_pm1, dit_sincos_2d_value, DIT_HD.
 *
 * Counter-based (a hash of seed, parameter index and element index), so the GPU fills 24 GB in
 * parallel and the CPU reference recomputes any element and gets the same bits before bf16 rounding. */
#ifndef TETRI_KERNELS_INIT_VALUES_H
#define TETRI_KERNELS_INIT_VALUES_H

#include <stdint.h>
#include <math.h>

#ifdef __CUDACC__
#define DIT_HD __host__ __device__ __forceinline__
#else
#define DIT_HD static inline
#endif

/* splitmix64's finaliser: a bijective, well-mixed 64-bit hash. */
DIT_HD uint64_t dit_mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Uniform on [-1, 1) with 24 random bits: exact in float, so host and device agree bit for bit. */
DIT_HD float dit_uniform_pm1(uint64_t seed, uint32_t param_index, uint64_t i)
{
    uint64_t h = dit_mix64(dit_mix64(seed) ^ ((uint64_t)param_index << 40) ^ i);
    return (float)(h >> 40) * (1.0f / 8388608.0f) - 1.0f;
}

/* Element j (of D) of row r of SD3's M x M sin-cos table (diffusers get_2d_sincos_pos_embed with
 * base_size = sample_size / patch, interpolation 1): first half encodes the column (x), second half
 * the row (y), each half [sin(pos w_i), cos(pos w_i)] with w_i = 10000^(-i / (D/4)). */
DIT_HD float dit_sincos_2d_value(int64_t r, int64_t j, int D, int M, int base)
{
    int half = D / 2, quarter = D / 4;
    int64_t y = r / M, x = r % M;
    double coord = (double)(j < half ? x : y) * (double)base / (double)M;
    int jj = (int)(j % half), i = jj % quarter;
    double omega = pow(10000.0, -(double)i / (double)quarter);
    double v = coord * omega;
    return (float)(jj < quarter ? sin(v) : cos(v));
}

#endif
