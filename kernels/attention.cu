/* kernels/attention.cu: fused softmax attention, flash style, on the tensor cores (mma.sync
 * m16n8k16 bf16 -> fp32). The L x L scores live only in registers.
 *
 * A block takes 128 query rows of one head of one sample; each of its 8 warps owns 16 rows and
 * keeps them in registers (Q as A fragments, O as fp32 accumulators). K and V stream through shared
 * memory 64 keys at a time, double-buffered with cp.async, rows XOR-swizzled in 16-byte chunks so
 * ldmatrix reads are free of bank conflicts. The online softmax works in base 2: scores are scaled
 * by log2(e) / sqrt(hd) once, exp2 replaces exp. P goes from the S accumulators straight into A
 * fragments (the accumulator and A layouts of m16n8k16 line up), so it never touches memory. */
#include "kernels/common.cuh"
#include "kernels/kernels.h"

#define ATT_BM 128
#define ATT_BN 64
#define ATT_WARPS 8

__device__ __forceinline__ void ldmatrix_x4(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t addr, uint32_t &r0, uint32_t &r1, uint32_t &r2, uint32_t &r3)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3)
                 : "r"(addr));
}
__device__ __forceinline__ void mma_bf16(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* Element offset of 16-byte chunk `chunk` of row `row` in a swizzled [rows][HD] bf16 tile. */
template <int HD> __device__ __forceinline__ int swz(int row, int chunk) { return row * HD + ((chunk ^ (row & 7)) << 3); }

/* Loads rows [row0, row0 + ROWS) of one head (columns [0, HD) from base) into a swizzled tile. */
template <int HD, int ROWS>
__device__ __forceinline__ void load_tile(bf16 *tile, const bf16 *base, int64_t ld, int row0, int L)
{
    constexpr int CHUNKS = HD / 8;
    for (int i = threadIdx.x; i < ROWS * CHUNKS; i += ATT_WARPS * 32) {
        const int r = i / CHUNKS, c = i % CHUNKS;
        const bool valid = row0 + r < L;
        const bf16 *src = base + (int64_t)(valid ? row0 + r : 0) * ld + c * 8;
        cp_async16(smem_u32(tile + swz<HD>(r, c)), src, valid);
    }
}

template <int HD>
__global__ void __launch_bounds__(ATT_WARPS * 32, 1)
    flash_attention_kernel(const bf16 *q, const bf16 *k, const bf16 *v, int64_t ld, int64_t bs, bf16 *out, int64_t ldo,
                           int64_t obs, int L, float scale_log2)
{
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *Qs = reinterpret_cast<bf16 *>(smem_raw);
    bf16 *Ks = Qs + ATT_BM * HD;     /* [2][ATT_BN][HD] */
    bf16 *Vs = Ks + 2 * ATT_BN * HD; /* [2][ATT_BN][HD] */
    const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int m0 = blockIdx.x * ATT_BM, head = blockIdx.y, b = blockIdx.z;
    const int64_t hoff = (int64_t)b * bs + (int64_t)head * HD;
    const bf16 *qb = q + hoff, *kb = k + hoff, *vb = v + hoff;
    const int n_tiles = (L + ATT_BN - 1) / ATT_BN;

    load_tile<HD, ATT_BM>(Qs, qb, ld, m0, L);
    load_tile<HD, ATT_BN>(Ks, kb, ld, 0, L);
    load_tile<HD, ATT_BN>(Vs, vb, ld, 0, L);
    cp_async_commit();

    uint32_t qf[HD / 16][4];
    float o[HD / 8][4];
#pragma unroll
    for (int i = 0; i < HD / 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};

    for (int j = 0; j < n_tiles; j++) {
        const int stage = j & 1;
        if (j + 1 < n_tiles) {
            load_tile<HD, ATT_BN>(Ks + (stage ^ 1) * ATT_BN * HD, kb, ld, (j + 1) * ATT_BN, L);
            load_tile<HD, ATT_BN>(Vs + (stage ^ 1) * ATT_BN * HD, vb, ld, (j + 1) * ATT_BN, L);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        if (j == 0) {
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++)
                ldmatrix_x4(smem_u32(Qs + swz<HD>(warp * 16 + (lane & 15), kk * 2 + (lane >> 4))), qf[kk][0], qf[kk][1],
                            qf[kk][2], qf[kk][3]);
        }
        const bf16 *Kt = Ks + stage * ATT_BN * HD, *Vt = Vs + stage * ATT_BN * HD;

        /* S = Q K^T: 16 rows x 64 keys per warp, 8 n-tiles of 8 keys. */
        float s[ATT_BN / 8][4];
#pragma unroll
        for (int i = 0; i < ATT_BN / 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
        for (int nt2 = 0; nt2 < ATT_BN / 16; nt2++) {
#pragma unroll
            for (int kk = 0; kk < HD / 16; kk++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4(smem_u32(Kt + swz<HD>(nt2 * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1))),
                            b0, b1, b2, b3);
                mma_bf16(s[2 * nt2], qf[kk], b0, b1);
                mma_bf16(s[2 * nt2 + 1], qf[kk], b2, b3);
            }
        }
        /* Scale, mask keys past L, online softmax (rows g and g + 8 of this warp's 16). */
        const bool tail = (j + 1) * ATT_BN > L;
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < ATT_BN / 8; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                float x = s[nt][e] * scale_log2;
                if (tail && j * ATT_BN + nt * 8 + 2 * t + (e & 1) >= L) x = -INFINITY;
                s[nt][e] = x;
                mx[e >> 1] = fmaxf(mx[e >> 1], x);
            }
        }
        float corr[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float m_new = fmaxf(row_max[r], mx[r]);
            corr[r] = fast_exp2(row_max[r] - m_new); /* 0 on the first tile (row_max = -inf) */
            row_max[r] = m_new;
            row_sum[r] *= corr[r];
        }
#pragma unroll
        for (int nt = 0; nt < ATT_BN / 8; nt++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float p = fast_exp2(s[nt][e] - row_max[e >> 1]);
                s[nt][e] = p;
                row_sum[e >> 1] += p;
            }
        }
#pragma unroll
        for (int i = 0; i < HD / 8; i++) {
            o[i][0] *= corr[0];
            o[i][1] *= corr[0];
            o[i][2] *= corr[1];
            o[i][3] *= corr[1];
        }
        /* O += P V: P's accumulators become A fragments, 16 keys per k-step. */
#pragma unroll
        for (int kk = 0; kk < ATT_BN / 16; kk++) {
            uint32_t a[4];
            a[0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
            a[1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
            a[2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            a[3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
            for (int dt2 = 0; dt2 < HD / 16; dt2++) {
                uint32_t b0, b1, b2, b3;
                ldmatrix_x4_trans(smem_u32(Vt + swz<HD>(kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dt2 * 2 + (lane >> 4))),
                                  b0, b1, b2, b3);
                mma_bf16(o[2 * dt2], a, b0, b1);
                mma_bf16(o[2 * dt2 + 1], a, b2, b3);
            }
        }
        __syncthreads(); /* this stage is refilled by the next iteration's prefetch */
    }
    /* Normalise and store: each thread writes bf16 pairs of rows g and g + 8. */
#pragma unroll
    for (int r = 0; r < 2; r++) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        row_sum[r] = 1.f / row_sum[r];
    }
    const int row0 = m0 + warp * 16 + g;
    bf16 *ob = out + (int64_t)b * obs + (int64_t)head * HD;
#pragma unroll
    for (int dt = 0; dt < HD / 8; dt++) {
        const int col = dt * 8 + 2 * t;
        if (row0 < L)
            *reinterpret_cast<__nv_bfloat162 *>(ob + (int64_t)row0 * ldo + col) =
                __floats2bfloat162_rn(o[dt][0] * row_sum[0], o[dt][1] * row_sum[0]);
        if (row0 + 8 < L)
            *reinterpret_cast<__nv_bfloat162 *>(ob + (int64_t)(row0 + 8) * ldo + col) =
                __floats2bfloat162_rn(o[dt][2] * row_sum[1], o[dt][3] * row_sum[1]);
    }
}

template <int HD>
static int launch_flash(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo,
                        int64_t obs, int batch, int L, int H, cudaStream_t s)
{
    const size_t smem = (size_t)(ATT_BM + 4 * ATT_BN) * HD * sizeof(bf16);
    static bool attr_set = false; /* the attribute is per function, set once per process */
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(flash_attention_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    dim3 grid((unsigned)((L + ATT_BM - 1) / ATT_BM), (unsigned)H, (unsigned)batch);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HD);
    flash_attention_kernel<HD><<<grid, ATT_WARPS * 32, smem, s>>>((const bf16 *)q, (const bf16 *)k, (const bf16 *)v, ld, bs,
                                                                  (bf16 *)out, ldo, obs, L, scale_log2);
    return LAUNCH_RESULT();
}

extern "C" int tk_attention(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo,
                            int64_t obs, int batch, int L, int H, int hd, cudaStream_t s)
{
    if (ld % 8 || ldo % 8 || bs % 8 || L < 1) return (int)cudaErrorInvalidValue;
    if (hd == 128) return launch_flash<128>(q, k, v, ld, bs, out, ldo, obs, batch, L, H, s);
    if (hd == 64) return launch_flash<64>(q, k, v, ld, bs, out, ldo, obs, batch, L, H, s);
    return (int)cudaErrorInvalidValue;
}
