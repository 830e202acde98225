/* kernels/slot.cu: the request slots a step runner's graph reads and advances (tk_slot_ref in
 * kernels/kernels.h). A captured graph bakes in its pointers; these kernels are how one graph
 * serves any batch of requests, each at its own step of its own schedule: the graph reads the slot
 * table (device memory the host rewrites before a block), gathers each sample's state into the
 * runner's batch buffers, and after the forward writes the Euler update back into each slot. */
#include "kernels/common.cuh"
#include "kernels/kernels.h"

/* Sample b = blockIdx.y: latent -> bf16 batch rows, text rows, the modulation row of its step, and
 * the step's sigma pair. Text and modulation move as 16-byte words (their sizes are multiples of 8
 * bf16 and the slots 256-byte aligned: checked by the launcher). */
__global__ void slot_gather_kernel(const tk_slot_ref *refs, int64_t n_lat, int64_t txt16, int64_t mod16, bf16 *lat16,
                                   uint4 *txt, uint4 *mod, float *sig2)
{
    const int b = blockIdx.y;
    const tk_slot_ref r = refs[b];
    const int k = *r.step;
    const int64_t first = blockIdx.x * (int64_t)blockDim.x + threadIdx.x, stride = (int64_t)gridDim.x * blockDim.x;
    for (int64_t i = first; i < n_lat; i += stride) lat16[b * n_lat + i] = __float2bfloat16_rn(r.lat[i]);
    const uint4 *tx = (const uint4 *)r.txt;
    for (int64_t i = first; i < txt16; i += stride) txt[b * txt16 + i] = tx[i];
    const uint4 *md = (const uint4 *)r.mod + (int64_t)k * mod16;
    for (int64_t i = first; i < mod16; i += stride) mod[b * mod16 + i] = md[i];
    if (first == 0) {
        sig2[2 * b] = r.sigmas[k];
        sig2[2 * b + 1] = r.sigmas[k + 1];
    }
}

extern "C" int tk_slot_gather(const tk_slot_ref *refs, int batch, int64_t n_lat, int64_t n_txt, int64_t mod_total, void *lat16,
                              void *txt, void *mod, float *sig2, cudaStream_t s)
{
    if (batch < 1 || batch > 65535 || n_txt % 8 || mod_total % 8 || ((uintptr_t)txt | (uintptr_t)mod) % 16)
        return (int)cudaErrorInvalidValue;
    int64_t most = n_lat > n_txt / 8 ? n_lat : n_txt / 8;
    if (mod_total / 8 > most) most = mod_total / 8;
    unsigned bx = blocks_for(most, 256);
    if (bx > 1024) bx = 1024; /* x batch samples: enough blocks to fill the GPU, a grid-stride loop does the rest */
    slot_gather_kernel<<<dim3(bx, (unsigned)batch), 256, 0, s>>>(refs, n_lat, n_txt / 8, mod_total / 8, (bf16 *)lat16, (uint4 *)txt,
                                                                 (uint4 *)mod, sig2);
    return LAUNCH_RESULT();
}

/* Sample b = blockIdx.y: its slot's latent += (sigma_next - sigma) x velocity (fp32). */
__global__ void slot_euler_kernel(const tk_slot_ref *refs, const float *vel, int64_t n_lat, const float *sig2)
{
    const int b = blockIdx.y;
    float *lat = refs[b].lat;
    const float dt = sig2[2 * b + 1] - sig2[2 * b];
    const float *v = vel + b * n_lat;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n_lat; i += (int64_t)gridDim.x * blockDim.x)
        lat[i] += dt * v[i];
}

extern "C" int tk_slot_euler(const tk_slot_ref *refs, int batch, const float *vel, int64_t n_lat, const float *sig2, cudaStream_t s)
{
    if (batch < 1 || batch > 65535) return (int)cudaErrorInvalidValue;
    unsigned bx = blocks_for(n_lat, 256);
    if (bx > 1024) bx = 1024;
    slot_euler_kernel<<<dim3(bx, (unsigned)batch), 256, 0, s>>>(refs, vel, n_lat, sig2);
    return LAUNCH_RESULT();
}

/* Each slot's step = (step + 1) mod its n_steps: wrapping, so a benchmark may replay a graph any
 * number of times; a server counts the steps it ran. Its own kernel, after the Euler update, so
 * no thread reads a step another has already advanced. */
__global__ void slot_advance_kernel(const tk_slot_ref *refs, int batch)
{
    for (int b = threadIdx.x; b < batch; b += blockDim.x) *refs[b].step = (*refs[b].step + 1) % refs[b].n_steps;
}

extern "C" int tk_slot_advance(const tk_slot_ref *refs, int batch, cudaStream_t s)
{
    slot_advance_kernel<<<1, 32, 0, s>>>(refs, batch);
    return LAUNCH_RESULT();
}
