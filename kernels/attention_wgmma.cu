/* kernels/attention_wgmma.cu: the Hopper path of the fused attention: warpgroup MMA (wgmma,
 * sm_90a) reading K and V straight from shared memory through matrix descriptors.
 *
 * A block of NWG warpgroups takes 64 x NWG query rows of one head (64 per warpgroup); K and V
 * stream through shared memory 128 keys at a time, double-buffered with cp.async. Tiles are stored in the
 * 128-byte-swizzle layout the descriptors describe: 64-column blocks of 128-byte rows, 16-byte chunk
 * c of row r at chunk c ^ (r mod 8), 1024-byte aligned atoms of 8 rows. S = Q K^T is one
 * m64n128k16 per 16 of head dim (both operands K-major); P goes from the S accumulators into
 * register A fragments (same layout as mma.sync's), and O += P V is m64n64k16 per 64 columns of
 * head dim with V read transposed (MN-major), so V needs no transposition in memory and one
 * 64-column block per instruction keeps the descriptors' leading offset out of play. Scores never
 * reach device memory. The softmax is online and in base 2, the scale folded into one FFMA per
 * score.
 *
 * Measured on an H200 at L = 16896, 24 heads of 128 (docs/benchmarks.md has the whole history):
 * 2 warpgroups per block 353 TFLOP/s; with the softmax of tile j+1 overlapped with P_j V_j (three
 * smem stages; commit ae86ee7) 360; 3 warpgroups 424; + the FFMA softmax 435; + one barrier per tile
 * instead of two 480 (mma.sync: 270). With one block per SM, what hides one warpgroup's softmax is
 * another's MMAs, so more warpgroups and fewer barriers pay; 4 would need more than 65536 registers.
 * Exponentials by a polynomial on the FMA pipe made it slower (the FP32 pipe is as busy as MUFU).
 *
 * One fatbin serves Ampere and Hopper (configure's --with-cuda-arch): wgmma exists on sm_90a only,
 * so the device code below is compiled for sm_90a alone; in every other architecture's pass (sm_80,
 * sm_86, the compute_80 PTX) the kernel keeps its signature with an empty body. Which one a device
 * loaded is asked of the device itself (tk_attention_wgmma_built, a probe kernel compiled the same
 * way), and the launcher refuses to launch the empty one. */
#include "kernels/common.cuh"
#include "kernels/kernels.h"

/* 1 in the pass that emits sm_90a code (and in the host pass, which emits no device code). */
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define TK_WGMMA_CODE 1
#else
#define TK_WGMMA_CODE 0
#endif

#define WG_BN 128 /* keys per tile */

#if TK_WGMMA_CODE
/* Matrix descriptor: start address, leading and stride byte offsets, 128-byte swizzle. */
__device__ __forceinline__ uint64_t make_desc(uint32_t addr, uint32_t lbo, uint32_t sbo)
{
    return (uint64_t)((addr & 0x3FFFF) >> 4) | (uint64_t)((lbo >> 4) & 0x3FFF) << 16 | (uint64_t)((sbo >> 4) & 0x3FFF) << 32 |
           (uint64_t)1 << 62;
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }

__device__ __forceinline__ void wgmma_m64n128k16_ss(float (&d)[16][4], uint64_t da, uint64_t db, int accumulate)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
                 : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3]), "+f"(d[8][0]), "+f"(d[8][1]), "+f"(d[8][2]), "+f"(d[8][3]), "+f"(d[9][0]), "+f"(d[9][1]), "+f"(d[9][2]), "+f"(d[9][3]), "+f"(d[10][0]), "+f"(d[10][1]), "+f"(d[10][2]), "+f"(d[10][3]), "+f"(d[11][0]), "+f"(d[11][1]), "+f"(d[11][2]), "+f"(d[11][3]), "+f"(d[12][0]), "+f"(d[12][1]), "+f"(d[12][2]), "+f"(d[12][3]), "+f"(d[13][0]), "+f"(d[13][1]), "+f"(d[13][2]), "+f"(d[13][3]), "+f"(d[14][0]), "+f"(d[14][1]), "+f"(d[14][2]), "+f"(d[14][3]), "+f"(d[15][0]), "+f"(d[15][1]), "+f"(d[15][2]), "+f"(d[15][3])
                 : "l"(da), "l"(db), "r"(accumulate));
}
__device__ __forceinline__ void wgmma_m64n64k16_rs_tb(float (&d)[8][4], const uint32_t (&a)[4], uint64_t db)
{
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 {%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, {%32,%33,%34,%35}, %36, p, 1, 1, 1;\n}\n"
                 : "+f"(d[0][0]), "+f"(d[0][1]), "+f"(d[0][2]), "+f"(d[0][3]), "+f"(d[1][0]), "+f"(d[1][1]), "+f"(d[1][2]), "+f"(d[1][3]), "+f"(d[2][0]), "+f"(d[2][1]), "+f"(d[2][2]), "+f"(d[2][3]), "+f"(d[3][0]), "+f"(d[3][1]), "+f"(d[3][2]), "+f"(d[3][3]), "+f"(d[4][0]), "+f"(d[4][1]), "+f"(d[4][2]), "+f"(d[4][3]), "+f"(d[5][0]), "+f"(d[5][1]), "+f"(d[5][2]), "+f"(d[5][3]), "+f"(d[6][0]), "+f"(d[6][1]), "+f"(d[6][2]), "+f"(d[6][3]), "+f"(d[7][0]), "+f"(d[7][1]), "+f"(d[7][2]), "+f"(d[7][3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
}

#endif /* TK_WGMMA_CODE */

/* Rows [row0, row0 + ROWS) of one head into a swizzled tile of HD / 64 column blocks. */
template <int HD, int ROWS>
__device__ __forceinline__ void load_sw128(uint32_t tile, const bf16 *base, int64_t ld, int row0, int L)
{
    constexpr int CHUNKS = HD / 8;
    for (int i = threadIdx.x; i < ROWS * CHUNKS; i += blockDim.x) {
        const int r = i / CHUNKS, c = i % CHUNKS;
        const bool valid = row0 + r < L;
        const bf16 *src = base + (int64_t)(valid ? row0 + r : 0) * ld + c * 8;
        const uint32_t dst = tile + (c >> 3) * (ROWS * 128) + r * 128 + (((c & 7) ^ (r & 7)) << 4);
        cp_async16(dst, src, valid);
    }
}

template <int HD, int NWG>
__global__ void __launch_bounds__(NWG * 128, 1)
    flash_wgmma_kernel(const bf16 *q, const bf16 *k, const bf16 *v, int64_t ld, int64_t bs, bf16 *out, int64_t ldo, int64_t obs,
                       int L, float scale_log2)
{
#if TK_WGMMA_CODE
    extern __shared__ unsigned char smem_raw[];
    /* descriptors want 1024-byte aligned atoms */
    const uint32_t base = (smem_u32(smem_raw) + 1023) & ~1023u;
    constexpr int BM = NWG * 64;
    constexpr uint32_t Q_BYTES = BM * HD * 2, KV_BYTES = WG_BN * HD * 2;
    const uint32_t Qs = base, Ks = base + Q_BYTES, Vs = Ks + 2 * KV_BYTES;
    const int wg = threadIdx.x >> 7, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int m0 = blockIdx.x * BM, head = blockIdx.y, b = blockIdx.z;
    const int64_t hoff = (int64_t)b * bs + (int64_t)head * HD;
    const bf16 *qb = q + hoff, *kb = k + hoff, *vb = v + hoff;
    const int n_tiles = (L + WG_BN - 1) / WG_BN;

    load_sw128<HD, BM>(Qs, qb, ld, m0, L);
    load_sw128<HD, WG_BN>(Ks, kb, ld, 0, L);
    load_sw128<HD, WG_BN>(Vs, vb, ld, 0, L);
    cp_async_commit();

    float o[HD / 64][8][4];
#pragma unroll
    for (int db = 0; db < HD / 64; db++)
#pragma unroll
        for (int c = 0; c < 8; c++) o[db][c][0] = o[db][c][1] = o[db][c][2] = o[db][c][3] = 0.f;
    float row_max[2] = {-INFINITY, -INFINITY}, row_sum[2] = {0.f, 0.f};
    float s[WG_BN / 8][4];

    for (int j = 0; j < n_tiles; j++) {
        const int stage = j & 1;
        cp_async_wait<0>(); /* tile j, the only group in flight, has landed */
        /* cp.async wrote through the generic proxy; wgmma reads through the async proxy */
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        /* One barrier per tile: past it, tile j is visible to all, and every warpgroup is done with
         * tile j - 1, so its stage takes tile j + 1 now, a whole tile of work ahead. Without a
         * second barrier at the end, the warpgroups drift apart within a tile and one's softmax
         * overlaps another's MMAs. */
        __syncthreads();
        if (j + 1 < n_tiles) {
            load_sw128<HD, WG_BN>(Ks + (stage ^ 1) * KV_BYTES, kb, ld, (j + 1) * WG_BN, L);
            load_sw128<HD, WG_BN>(Vs + (stage ^ 1) * KV_BYTES, vb, ld, (j + 1) * WG_BN, L);
            cp_async_commit();
        }
        const uint32_t Kt = Ks + stage * KV_BYTES, Vt = Vs + stage * KV_BYTES;

        /* S = Q K^T for this warpgroup's 64 rows. */
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < HD / 16; kk++) {
            const uint64_t da = make_desc(Qs + (kk >> 2) * (BM * 128) + wg * 64 * 128 + (kk & 3) * 32, 16, 1024);
            const uint64_t dk = make_desc(Kt + (kk >> 2) * (WG_BN * 128) + (kk & 3) * 32, 16, 1024);
            wgmma_m64n128k16_ss(s, da, dk, kk > 0);
        }
        wgmma_commit();
        wgmma_wait0();

        /* Online softmax on raw scores: the max is taken unscaled and the scale folded into one FFMA
         * per element, p = 2^(s scale - max scale); only the last tile pays for masking. */
        if ((j + 1) * WG_BN > L) {
#pragma unroll
            for (int c = 0; c < WG_BN / 8; c++)
#pragma unroll
                for (int e = 0; e < 4; e++)
                    if (j * WG_BN + c * 8 + 2 * t + (e & 1) >= L) s[c][e] = -INFINITY;
        }
        float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int c = 0; c < WG_BN / 8; c++) {
            mx[0] = fmaxf(mx[0], fmaxf(s[c][0], s[c][1]));
            mx[1] = fmaxf(mx[1], fmaxf(s[c][2], s[c][3]));
        }
        float corr[2], mb[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            const float m_new = fmaxf(row_max[r], mx[r]); /* finite: every tile has a valid key */
            corr[r] = fast_exp2((row_max[r] - m_new) * scale_log2); /* 0 on the first tile (row_max = -inf) */
            row_max[r] = m_new;
            row_sum[r] *= corr[r];
            mb[r] = m_new * scale_log2;
        }
#pragma unroll
        for (int c = 0; c < WG_BN / 8; c++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const float p = fast_exp2(fmaf(s[c][e], scale_log2, -mb[e >> 1]));
                s[c][e] = p;
                row_sum[e >> 1] += p;
            }
#pragma unroll
        for (int db = 0; db < HD / 64; db++)
#pragma unroll
            for (int c = 0; c < 8; c++) {
                o[db][c][0] *= corr[0];
                o[db][c][1] *= corr[0];
                o[db][c][2] *= corr[1];
                o[db][c][3] *= corr[1];
            }
        /* O += P V: 16 keys per k-step, one m64n64k16 per 64 columns of head dim. P is packed into A
         * fragments before the fence, so no register is written between the wgmmas. */
        uint32_t pa[WG_BN / 16][4];
#pragma unroll
        for (int kk = 0; kk < WG_BN / 16; kk++) {
            pa[kk][0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
            pa[kk][1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
            pa[kk][2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
            pa[kk][3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
        }
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < WG_BN / 16; kk++)
#pragma unroll
            for (int db = 0; db < HD / 64; db++)
                wgmma_m64n64k16_rs_tb(o[db], pa[kk], make_desc(Vt + db * (WG_BN * 128) + kk * 16 * 128, 1024, 1024));
        wgmma_commit();
        wgmma_wait0();
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 1);
        row_sum[r] += __shfl_xor_sync(0xffffffffu, row_sum[r], 2);
        row_sum[r] = 1.f / row_sum[r];
    }
    const int row0 = m0 + wg * 64 + warp * 16 + g;
    bf16 *ob = out + (int64_t)b * obs + (int64_t)head * HD;
#pragma unroll
    for (int db = 0; db < HD / 64; db++)
#pragma unroll
        for (int c = 0; c < 8; c++) {
            const int col = db * 64 + c * 8 + 2 * t;
            if (row0 < L)
                *reinterpret_cast<__nv_bfloat162 *>(ob + (int64_t)row0 * ldo + col) =
                    __floats2bfloat162_rn(o[db][c][0] * row_sum[0], o[db][c][1] * row_sum[0]);
            if (row0 + 8 < L)
                *reinterpret_cast<__nv_bfloat162 *>(ob + (int64_t)(row0 + 8) * ldo + col) =
                    __floats2bfloat162_rn(o[db][c][2] * row_sum[1], o[db][c][3] * row_sum[1]);
        }
#endif /* TK_WGMMA_CODE: elsewhere the body is empty, and tk_attention_wgmma never launches it */
}

/* Writes whether the code this device runs was compiled with the wgmma body. */
__global__ void wgmma_probe_kernel(int *out)
{
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
    *out = 1;
#else
    *out = 0;
#endif
}

#define TK_MAX_DEVICES 64
static int wgmma_built_on[TK_MAX_DEVICES]; /* per device: 0 unknown, 1 built, 2 not built */

extern "C" int tk_attention_wgmma_built(int *built)
{
    int dev = 0;
    cudaError_t e = cudaGetDevice(&dev);
    if (e != cudaSuccess) return (int)e;
    if (dev >= 0 && dev < TK_MAX_DEVICES && wgmma_built_on[dev]) {
        *built = wgmma_built_on[dev] == 1;
        return 0;
    }
    int *d = NULL, h = 0;
    e = cudaMalloc((void **)&d, sizeof *d);
    if (e != cudaSuccess) return (int)e;
    wgmma_probe_kernel<<<1, 1>>>(d);
    e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e != cudaSuccess) return (int)e;
    *built = h == 1;
    if (dev >= 0 && dev < TK_MAX_DEVICES) wgmma_built_on[dev] = h == 1 ? 1 : 2;
    return 0;
}

template <int HD, int NWG>
static int launch_wgmma(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo, int64_t obs,
                        int batch, int L, int H, cudaStream_t s)
{
    const size_t smem = (size_t)(NWG * 64 + 4 * WG_BN) * HD * 2 + 1024;
    static bool attr_set = false;
    if (!attr_set) {
        cudaError_t e = cudaFuncSetAttribute(flash_wgmma_kernel<HD, NWG>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (e != cudaSuccess) return (int)e;
        attr_set = true;
    }
    dim3 grid((unsigned)((L + NWG * 64 - 1) / (NWG * 64)), (unsigned)H, (unsigned)batch);
    const float scale_log2 = 1.4426950408889634f / sqrtf((float)HD);
    flash_wgmma_kernel<HD, NWG><<<grid, NWG * 128, smem, s>>>((const bf16 *)q, (const bf16 *)k, (const bf16 *)v, ld, bs, (bf16 *)out, ldo,
                                                          obs, L, scale_log2);
    return LAUNCH_RESULT();
}

/* Three warpgroups (192 query rows) per block: the best of the tilings measured (see the header). */
extern "C" int tk_attention_wgmma(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo,
                                   int64_t obs, int batch, int L, int H, int hd, cudaStream_t s)
{
    if (ld % 8 || ldo % 8 || bs % 8 || L < 1) return (int)cudaErrorInvalidValue;
    /* Only where this device runs sm_90a code: anywhere else the kernel is empty. The answer is
     * asked once per device, outside any capture (dit_gpu_create asks first). */
    int dev = 0, built = 0;
    if (cudaGetDevice(&dev) == cudaSuccess && dev >= 0 && dev < TK_MAX_DEVICES && wgmma_built_on[dev]) {
        built = wgmma_built_on[dev] == 1;
    } else {
        cudaStreamCaptureStatus cs = cudaStreamCaptureStatusNone;
        if (cudaStreamIsCapturing(s, &cs) != cudaSuccess || cs != cudaStreamCaptureStatusNone) return (int)cudaErrorStreamCaptureUnsupported;
        const int e = tk_attention_wgmma_built(&built);
        if (e) return e;
    }
    if (!built) return (int)cudaErrorNoKernelImageForDevice;
    if (hd == 128) return launch_wgmma<128, 3>(q, k, v, ld, bs, out, ldo, obs, batch, L, H, s);
    if (hd == 64) return launch_wgmma<64, 3>(q, k, v, ld, bs, out, ldo, obs, batch, L, H, s);
    return (int)cudaErrorInvalidValue;
}

