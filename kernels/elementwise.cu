/* kernels/elementwise.cu: the small per-element stages of a step: SiLU, the sinusoidal timestep
 * projection, SD3's positional table, the velocity reorder and the flow-matching Euler update. */
#include "kernels/common.cuh"
#include "kernels/kernels.h"

__global__ void silu_kernel(bf16 *x, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = __bfloat162float(x[i]);
        x[i] = __float2bfloat16_rn(v / (1.f + __expf(-v)));
    }
}
extern "C" int tk_silu(void *x, int64_t n, cudaStream_t s)
{
    silu_kernel<<<blocks_for(n, 256), 256, 0, s>>>((bf16 *)x, n);
    return LAUNCH_RESULT();
}

/* The conditioning's rows r = k x B + b for every step k and sample b of a schedule: t_rows[r] =
 * sigmas[k], g_rows[r] = guid[b] (guid may be NULL), pooled_rows[r] = pooled[b] (width w). */
__global__ void cond_rows_kernel(const float *sigmas, const float *guid, const bf16 *pooled, int n_steps, int B, int w,
                                 float *t_rows, float *g_rows, bf16 *pooled_rows)
{
    const int64_t R = (int64_t)n_steps * B, n = R * w;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / w, c = i % w;
        const int b = (int)(r % B);
        pooled_rows[i] = pooled[(int64_t)b * w + c];
        if (c == 0) {
            t_rows[r] = sigmas[r / B];
            if (g_rows) g_rows[r] = guid ? guid[b] : 0.f;
        }
    }
}
extern "C" int tk_cond_rows(const float *sigmas, const float *guid, const void *pooled, int n_steps, int batch, int pooled_dim,
                            float *t_rows, float *g_rows, void *pooled_rows, cudaStream_t s)
{
    if (n_steps < 1 || batch < 1 || pooled_dim < 1) return (int)cudaErrorInvalidValue;
    const int64_t n = (int64_t)n_steps * batch * pooled_dim;
    cond_rows_kernel<<<blocks_for(n, 256), 256, 0, s>>>(sigmas, guid, (const bf16 *)pooled, n_steps, batch, pooled_dim, t_rows, g_rows,
                                                         (bf16 *)pooled_rows);
    return LAUNCH_RESULT();
}

/* Same float arithmetic as dit_timestep_proj (dit/cpu_ref.c). */
__global__ void timestep_proj_kernel(const float *values, bf16 *out)
{
    const int b = blockIdx.x, i = threadIdx.x; /* 128 threads */
    const float t = values ? values[b] * 1000.f : 0.f;
    const float freq = expf(-logf(10000.0f) * (float)i / 128.0f);
    const float arg = t * freq;
    out[(int64_t)b * 256 + i] = __float2bfloat16_rn(cosf(arg));
    out[(int64_t)b * 256 + 128 + i] = __float2bfloat16_rn(sinf(arg));
}
extern "C" int tk_timestep_proj(const float *values, void *out, int batch, cudaStream_t s)
{
    timestep_proj_kernel<<<(unsigned)batch, 128, 0, s>>>(values, (bf16 *)out);
    return LAUNCH_RESULT();
}

/* Block (x, b): image row n = n0 + x of the grid, held at row T + x of sample b. */
__global__ void add_pos_embed_kernel(bf16 *h, const bf16 *table, int L, int T, int n0, int grid_w, int M, int top, int left, int D)
{
    const int n = n0 + blockIdx.x, b = blockIdx.y;
    const int64_t src = ((int64_t)(top + n / grid_w) * M + left + n % grid_w) * D;
    bf16 *dst = h + ((int64_t)b * L + T + blockIdx.x) * D;
    for (int c = threadIdx.x * 8; c < D; c += blockDim.x * 8) {
        float a[8], p[8];
        load8(dst + c, a);
        load8(table + src + c, p);
#pragma unroll
        for (int i = 0; i < 8; i++) a[i] += p[i];
        store8(dst + c, a);
    }
}
extern "C" int tk_add_pos_embed_rows(void *h, const void *table, int batch, int L, int T, int n0, int nn, int grid_h, int grid_w,
                                     int M, int D, cudaStream_t s)
{
    if (D % 8 || grid_h > M || grid_w > M || n0 < 0 || nn < 1 || n0 + nn > grid_h * grid_w || T + nn > L)
        return (int)cudaErrorInvalidValue;
    dim3 grid((unsigned)nn, (unsigned)batch);
    add_pos_embed_kernel<<<grid, 128, 0, s>>>((bf16 *)h, (const bf16 *)table, L, T, n0, grid_w, M, (M - grid_h) / 2, (M - grid_w) / 2,
                                             D);
    return LAUNCH_RESULT();
}
extern "C" int tk_add_pos_embed(void *h, const void *table, int batch, int L, int T, int grid_h, int grid_w, int M, int D,
                                cudaStream_t s)
{
    return tk_add_pos_embed_rows(h, table, batch, L, T, 0, grid_h * grid_w, grid_h, grid_w, M, D, s);
}

__global__ void velocity_packed_kernel(const bf16 *out, float *vel, int64_t n, int width, int perm_C)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t tok = i / width;
        const int j = (int)(i % width); /* packed index: c * p^2 + pp */
        int src = j;
        if (perm_C > 0) {
            const int pp2 = width / perm_C, c = j / pp2, pp = j % pp2;
            src = pp * perm_C + c;
        }
        vel[i] = __bfloat162float(out[tok * width + src]);
    }
}
extern "C" int tk_velocity_packed(const void *out, float *vel, int batch, int N, int width, int perm_C, cudaStream_t s)
{
    const int64_t n = (int64_t)batch * N * width;
    velocity_packed_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const bf16 *)out, vel, n, width, perm_C);
    return LAUNCH_RESULT();
}

/* One thread that holds the stream for `ns` of the GPU's global timer: a GPU that stops
 * answering, for the serving backend's failure tests. */
__global__ void gpu_sleep_kernel(int64_t ns)
{
    uint64_t t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        __nanosleep(1000000);
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while ((int64_t)(t - t0) < ns);
}
extern "C" int tk_gpu_sleep(int64_t ns, cudaStream_t s)
{
    gpu_sleep_kernel<<<1, 1, 0, s>>>(ns);
    return LAUNCH_RESULT();
}
