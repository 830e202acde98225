/* kernels/attention_oracle.cu: attention the plain way (fp32, cuBLAS, scores in device memory),
 * kept only as the flash kernel's test oracle. */
#include <cublas_v2.h>

#include "kernels/common.cuh"
#include "kernels/kernels.h"

/* dst[r, c] = float(src[r * ld + c]) for one head's [L, hd] slice. */
__global__ void gather_head_kernel(const bf16 *src, int64_t ld, float *dst, int L, int hd)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (int64_t)L * hd; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __bfloat162float(src[(i / hd) * ld + i % hd]);
}
/* Row-wise softmax of S [L, L] in place, one block per row. */
__global__ void softmax_rows_kernel(float *S, int L, float scale)
{
    __shared__ float red[32];
    float *row = S + (int64_t)blockIdx.x * L;
    float mx = -INFINITY;
    for (int j = threadIdx.x; j < L; j += blockDim.x) mx = fmaxf(mx, row[j] * scale);
    for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = mx;
    __syncthreads();
    mx = -INFINITY;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) mx = fmaxf(mx, red[i]);
    __syncthreads();
    float sum = 0.f;
    for (int j = threadIdx.x; j < L; j += blockDim.x) {
        const float e = expf(row[j] * scale - mx);
        row[j] = e;
        sum += e;
    }
    sum = warp_sum(sum);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = sum;
    __syncthreads();
    sum = 0.f;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) sum += red[i];
    for (int j = threadIdx.x; j < L; j += blockDim.x) row[j] /= sum;
}
__global__ void scatter_head_kernel(const float *src, bf16 *dst, int64_t ldo, int L, int hd)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (int64_t)L * hd; i += (int64_t)gridDim.x * blockDim.x)
        dst[(i / hd) * ldo + i % hd] = __float2bfloat16_rn(src[i]);
}

extern "C" int tk_attention_oracle(void *cublas_handle, const void *q, const void *k, const void *v, int64_t ld, int64_t bs,
                                   void *out, int64_t ldo, int64_t obs, int batch, int L, int H, int hd, float *ws,
                                   cudaStream_t s)
{
    cublasHandle_t hnd = (cublasHandle_t)cublas_handle;
    if (cublasSetStream(hnd, s) != CUBLAS_STATUS_SUCCESS) return (int)cudaErrorUnknown;
    float *Q = ws, *K = Q + (int64_t)L * hd, *V = K + (int64_t)L * hd, *S = V + (int64_t)L * hd;
    const unsigned gb = (unsigned)(((int64_t)L * hd + 255) / 256);
    const float one = 1.f, zero = 0.f;
    for (int b = 0; b < batch; b++)
        for (int h = 0; h < H; h++) {
            const int64_t off = (int64_t)b * bs + (int64_t)h * hd;
            gather_head_kernel<<<gb, 256, 0, s>>>((const bf16 *)q + off, ld, Q, L, hd);
            gather_head_kernel<<<gb, 256, 0, s>>>((const bf16 *)k + off, ld, K, L, hd);
            gather_head_kernel<<<gb, 256, 0, s>>>((const bf16 *)v + off, ld, V, L, hd);
            /* Row-major S = Q K^T is column-major S^T = K Q^T. */
            if (cublasSgemm(hnd, CUBLAS_OP_T, CUBLAS_OP_N, L, L, hd, &one, K, hd, Q, hd, &zero, S, L) != CUBLAS_STATUS_SUCCESS)
                return (int)cudaErrorUnknown;
            softmax_rows_kernel<<<(unsigned)L, 256, 0, s>>>(S, L, 1.f / sqrtf((float)hd));
            /* Row-major O = P V is column-major O^T = V^T P^T; reuse Q for O. */
            if (cublasSgemm(hnd, CUBLAS_OP_N, CUBLAS_OP_N, hd, L, L, &one, V, hd, S, L, &zero, Q, hd) != CUBLAS_STATUS_SUCCESS)
                return (int)cudaErrorUnknown;
            scatter_head_kernel<<<gb, 256, 0, s>>>(Q, (bf16 *)out + (int64_t)b * obs + (int64_t)h * hd, ldo, L, hd);
        }
    return LAUNCH_RESULT();
}
