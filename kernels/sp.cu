/* kernels/sp.cu: the bf16 pack and unpack around Ulysses' two all-to-alls, exactly what
 * dit_sp_pack_heads, dit_sp_unpack_heads, dit_sp_pack_rows and dit_sp_unpack_rows (dit/sp.c) do on
 * the host: the chunk layout is documented in dit/sp.h. One launch per call.
 *
 * Written for obviousness rather than speed: every kernel is a grid-stride loop over the 16-byte
 * words (8 bf16) of one side, each word's index decomposed into (chunk, sample, row, column) with
 * plain division, the other side's index computed from those. The widths are multiples of 8 (D / k
 * is a whole number of heads of 64 or 128), so a word never straddles a head group or a row; the
 * launchers check that, and the 16-byte alignment, and refuse otherwise. */
#include "kernels/common.cuh"
#include "kernels/kernels.h"

/* Ranks' first rows within the gathered sequence: row0[i] = L[0] + ... + L[i - 1], row0[k] = Lt. By
 * value, so a captured graph keeps it. */
struct sp_rows {
    int64_t row0[9];
};

static int sp_rows_of(const int *L, int k, sp_rows *r)
{
    if (k < 1 || k > 8) return -1;
    r->row0[0] = 0;
    for (int i = 0; i < k; i++) {
        if (L[i] < 0) return -1;
        r->row0[i + 1] = r->row0[i] + L[i];
    }
    return 0;
}

/* The rank whose rows hold gathered row g (row0[i] <= g < row0[i + 1]); ranks may hold no rows
 * only in tests, and then are skipped by the strict comparison. */
__device__ __forceinline__ int sp_rank_of(const sp_rows &r, int k, int64_t g)
{
    int i = 0;
    while (i + 1 < k && r.row0[i + 1] <= g) i++;
    return i;
}

static bool aligned16(const void *a, const void *b) { return (((uintptr_t)a | (uintptr_t)b) & 15) == 0; }

/* send [k][B, rows, 3, Dk] from qkv [B, rows, ld] (q | k | v, each D wide): over send's words. */
__global__ void sp_pack_heads_kernel(const uint4 *qkv, int64_t ld8, int B, int rows, int64_t D8, int k, uint4 *send)
{
    const int64_t Dk8 = D8 / k, n = (int64_t)k * B * rows * 3 * Dk8;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = e % Dk8;                   /* word within the head group */
        const int64_t p = e / Dk8 % 3;               /* q, k or v */
        const int64_t r = e / (3 * Dk8) % rows;      /* row */
        const int64_t b = e / (3 * Dk8 * rows) % B;  /* sample */
        const int64_t j = e / (3 * Dk8 * rows * B);  /* destination rank = head group */
        send[e] = qkv[(b * rows + r) * ld8 + p * D8 + j * Dk8 + c];
    }
}

extern "C" int tk_sp_pack_heads(const void *qkv, int64_t ld_qkv, int batch, int rows, int D, int k, void *send, cudaStream_t s)
{
    if (k < 1 || k > 8 || D % (8 * k) || ld_qkv % 8 || ld_qkv < 3 * (int64_t)D || batch < 1 || rows < 0 || !aligned16(qkv, send))
        return (int)cudaErrorInvalidValue;
    const int64_t n = (int64_t)batch * rows * 3 * (D / 8);
    sp_pack_heads_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const uint4 *)qkv, ld_qkv / 8, batch, rows, D / 8, k, (uint4 *)send);
    return LAUNCH_RESULT();
}

/* att_in [B, Lt, w] from recv [k][B, L_i, w] (w = 3 Dk): over att_in's words. Chunk i starts
 * B x row0[i] rows into recv; sample b's rows start b x L_i rows into the chunk. */
__global__ void sp_unpack_heads_kernel(const uint4 *recv, int B, sp_rows R, int k, int64_t w8, uint4 *att_in)
{
    const int64_t Lt = R.row0[k], n = (int64_t)B * Lt * w8;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = e % w8, g = e / w8 % Lt, b = e / (w8 * Lt);
        const int i = sp_rank_of(R, k, g);
        const int64_t Li = R.row0[i + 1] - R.row0[i], r = g - R.row0[i];
        att_in[e] = recv[((int64_t)B * R.row0[i] + b * Li + r) * w8 + c];
    }
}

extern "C" int tk_sp_unpack_heads(const void *recv, int batch, const int *L, int D, int k, void *att_in, cudaStream_t s)
{
    sp_rows R;
    if (sp_rows_of(L, k, &R) || D % (8 * k) || batch < 1 || !aligned16(recv, att_in)) return (int)cudaErrorInvalidValue;
    const int64_t w8 = 3 * (int64_t)(D / k) / 8, n = (int64_t)batch * R.row0[k] * w8;
    sp_unpack_heads_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const uint4 *)recv, batch, R, k, w8, (uint4 *)att_in);
    return LAUNCH_RESULT();
}

/* send [k][B, L_i, w] from att_out [B, Lt, w] (w = Dk): the inverse of unpack_heads' mapping, over
 * att_out's words. */
__global__ void sp_pack_rows_kernel(const uint4 *att_out, int B, sp_rows R, int k, int64_t w8, uint4 *send)
{
    const int64_t Lt = R.row0[k], n = (int64_t)B * Lt * w8;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = e % w8, g = e / w8 % Lt, b = e / (w8 * Lt);
        const int i = sp_rank_of(R, k, g);
        const int64_t Li = R.row0[i + 1] - R.row0[i], r = g - R.row0[i];
        send[((int64_t)B * R.row0[i] + b * Li + r) * w8 + c] = att_out[e];
    }
}

extern "C" int tk_sp_pack_rows(const void *att_out, int batch, const int *L, int D, int k, void *send, cudaStream_t s)
{
    sp_rows R;
    if (sp_rows_of(L, k, &R) || D % (8 * k) || batch < 1 || !aligned16(att_out, send)) return (int)cudaErrorInvalidValue;
    const int64_t w8 = (int64_t)(D / k) / 8, n = (int64_t)batch * R.row0[k] * w8;
    sp_pack_rows_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const uint4 *)att_out, batch, R, k, w8, (uint4 *)send);
    return LAUNCH_RESULT();
}

/* out [B, rows, ld] at columns j Dk from recv [k][B, rows, Dk]: over recv's words. */
__global__ void sp_unpack_rows_kernel(const uint4 *recv, int B, int rows, int64_t D8, int k, uint4 *out, int64_t ld8)
{
    const int64_t Dk8 = D8 / k, n = (int64_t)k * B * rows * Dk8;
    for (int64_t e = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; e < n; e += (int64_t)gridDim.x * blockDim.x) {
        const int64_t c = e % Dk8, r = e / Dk8 % rows, b = e / (Dk8 * rows) % B, j = e / (Dk8 * rows * B);
        out[(b * rows + r) * ld8 + j * Dk8 + c] = recv[e];
    }
}

extern "C" int tk_sp_unpack_rows(const void *recv, int batch, int rows, int D, int k, void *out, int64_t ld_out, cudaStream_t s)
{
    if (k < 1 || k > 8 || D % (8 * k) || ld_out % 8 || ld_out < D || batch < 1 || rows < 0 || !aligned16(recv, out))
        return (int)cudaErrorInvalidValue;
    const int64_t n = (int64_t)batch * rows * (D / 8);
    sp_unpack_rows_kernel<<<blocks_for(n, 256), 256, 0, s>>>((const uint4 *)recv, batch, rows, D / 8, k, (uint4 *)out, ld_out / 8);
    return LAUNCH_RESULT();
}
