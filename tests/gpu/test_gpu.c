/* tests/gpu/test_gpu.c: `make check-gpu`. Each kernel against a CPU computation on fresh random
 * inputs, then whole steps of tiny FLUX and SD3 configurations against the CPU reference
 * (dit/cpu_ref.c). Outputs are poisoned (NaN) before every run; the bar is relative error
 * ||gpu - cpu|| / ||cpu|| under 1e-2 (bf16 operands, fp32 accumulation) and no NaN.
 * Then sequence parallelism: the pack/unpack kernels against dit/sp.c bit for bit, degree 2, 4, 8
 * against degree 1 (tiny 8-head models and the true FLUX.1-dev and SD3-medium at 256 px, every
 * attention backend) and a request migrated between degrees; `test_gpu --sp` runs those alone.
 * Exit status: number of failed checks (0 = all passed); 77 (skip) when there is no GPU. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>
#include <cublas_v2.h>

#include "dit/attention_cudnn.h"
#include "dit/cpu_ref.h"
#include "dit/dit_gpu.h"
#include "dit/gemm.h"
#include "dit/safetensors.h"
#include "dit/sp.h"
#include "dit/sp_group.h"
#include "dit/transport_device.h"
#include "kernels/kernels.h"

static int failures = 0;
/* The GPU paths this run takes (dit/gpu_plan.h): by the device, or forced with TETRI_GPU_PATHS=ampere
 * (make check-gpu runs everything a second time so); wgmma_built: the device runs sm_90a code. */
static dit_gpu_paths paths = DIT_PATHS_HOPPER;
static int wgmma_built = 0;
/* Ours, the fast attention of these paths: wgmma (flash) on Hopper, mma.sync (flash-mma) elsewhere. */
static dit_attn_backend fast_attn(void) { return paths == DIT_PATHS_HOPPER ? DIT_ATTN_FLASH : DIT_ATTN_FLASH_MMA; }
static uint64_t rng_state = 0x5eed;

static float frand(void) /* U[-1, 1) */
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((rng_state >> 40) & 0xffffff) / 8388608.0f - 1.0f;
}
static float *rand_bf16_host(size_t n, float scale) /* values already bf16-representable */
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = dit_bf16_round(scale * frand());
    return x;
}
static void *to_dev_bf16(const float *x, size_t n)
{
    uint16_t *t = malloc(n * 2);
    for (size_t i = 0; i < n; i++) t[i] = dit_f32_to_bf16_bits(x[i]);
    void *d;
    cudaMalloc(&d, n * 2);
    cudaMemcpy(d, t, n * 2, cudaMemcpyHostToDevice);
    free(t);
    return d;
}
static float *from_dev_bf16(const void *d, size_t n)
{
    uint16_t *t = malloc(n * 2);
    float *x = malloc(n * sizeof *x);
    cudaMemcpy(t, d, n * 2, cudaMemcpyDeviceToHost);
    for (size_t i = 0; i < n; i++) x[i] = dit_bf16_bits_to_f32(t[i]);
    free(t);
    return x;
}
static void *dev_poisoned(size_t bytes)
{
    void *d;
    cudaMalloc(&d, bytes);
    cudaMemset(d, 0xff, bytes);
    return d;
}

/* Checks got against want: relative L2 error under tol, no NaN/inf. */
static void check(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double num = 0, den = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) { bad++; continue; }
        num += ((double)got[i] - want[i]) * ((double)got[i] - want[i]);
        den += (double)want[i] * want[i];
    }
    double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    int ok = bad == 0 && rel < tol && den > 0;
    printf("%s %-58s rel err %.2e (tol %.0e)%s\n", ok ? "PASS" : "FAIL", what, rel, tol, bad ? " NON-FINITE VALUES" : "");
    if (bad) printf("     %zu of %zu elements are NaN/inf (unwritten or overflow)\n", bad, n);
    failures += !ok;
}

static cudaError_t sync_check(const char *what)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) { printf("FAIL %s: %s\n", what, cudaGetErrorString(e)); failures++; }
    return e;
}

static void test_gemm(dit_gemm_ctx *g)
{
    const int M = 77, N = 96, K = 136, ldy = 128; /* odd M, and Y a column slice of a wider buffer */
    for (int epi = 0; epi < 3; epi++)
        for (int acc = 0; acc < 2; acc++) {
            float *X = rand_bf16_host((size_t)M * K, 1.f), *W = rand_bf16_host((size_t)N * K, 0.1f), *b = rand_bf16_host(N, 0.5f);
            float *Y0 = rand_bf16_host((size_t)M * ldy, 1.f), *want = malloc((size_t)M * N * 4), *got = malloc((size_t)M * N * 4);
            void *dX = to_dev_bf16(X, (size_t)M * K), *dW = to_dev_bf16(W, (size_t)N * K), *db = to_dev_bf16(b, N);
            void *dY = acc ? to_dev_bf16(Y0, (size_t)M * ldy) : dev_poisoned((size_t)M * ldy * 2);
            for (int r = 0; r < M; r++)
                for (int o = 0; o < N; o++) {
                    double s = epi ? b[o] : 0;
                    for (int k = 0; k < K; k++) s += (double)X[r * K + k] * W[o * K + k];
                    if (epi == 2) s = 0.5 * s * (1 + tanh(0.7978845608028654 * (s + 0.044715 * s * s * s)));
                    want[r * N + o] = (float)(s + (acc ? Y0[r * ldy + o] : 0));
                }
            tetri_error err = {{0}};
            if (epi == 2 && acc) { /* refused by design: cuBLASLt would apply GELU after the accumulation */
                int refused = dit_gemm_run(g, M, N, K, dX, K, dW, db, dY, ldy, DIT_EPI_GELU_BIAS, 1.f, &err) != 0;
                printf("%s gemm refuses GELU with beta != 0\n", refused ? "PASS" : "FAIL");
                failures += !refused;
            } else if (dit_gemm_run(g, M, N, K, dX, K, dW, epi ? db : NULL, dY, ldy, (dit_gemm_epilogue)epi, acc ? 1.f : 0.f, &err)) {
                printf("FAIL gemm: %s\n", err.msg);
                failures++;
            } else if (sync_check("gemm") == cudaSuccess) {
                float *all = from_dev_bf16(dY, (size_t)M * ldy);
                for (int r = 0; r < M; r++) memcpy(got + r * N, all + r * ldy, N * 4);
                char name[96];
                snprintf(name, sizeof name, "gemm %dx%dx%d epilogue %s%s", M, N, K, epi == 0 ? "none" : epi == 1 ? "bias" : "gelu+bias",
                         acc ? " beta=1" : "");
                check(name, got, want, (size_t)M * N, 1e-2);
                free(all);
            }
            free(X); free(W); free(b); free(Y0); free(want); free(got);
            cudaFree(dX); cudaFree(dW); cudaFree(db); cudaFree(dY);
        }
}

/* dit_gemm_run_batched: 3 samples, each M rows of X and Y at a sample stride (rows of a joint
 * buffer, Y a column slice), shared W and bias; the gaps between samples must stay untouched. */
static void test_gemm_batched(dit_gemm_ctx *g, dit_gemm_epilogue epi)
{
    const int Bn = 3, M = 45, N = 64, K = 96, ldx = 104, ldy = 80;
    const int64_t sx = (int64_t)(M + 7) * ldx, sy = (int64_t)(M + 5) * ldy;
    float *X = rand_bf16_host((size_t)Bn * sx, 1.f), *W = rand_bf16_host((size_t)N * K, 0.1f), *b = rand_bf16_host(N, 0.5f);
    float *want = malloc((size_t)Bn * sy * 4);
    void *dX = to_dev_bf16(X, (size_t)Bn * sx), *dW = to_dev_bf16(W, (size_t)N * K), *db = to_dev_bf16(b, N);
    void *dY = dev_poisoned((size_t)Bn * sy * 2);
    tetri_error err = {{0}};
    if (dit_gemm_run_batched(g, Bn, M, N, K, dX, ldx, sx, dW, db, dY, ldy, sy, epi, 0.f, &err)) {
        printf("FAIL batched gemm: %s\n", err.msg);
        failures++;
    } else if (sync_check("batched gemm") == cudaSuccess) {
        float *all = from_dev_bf16(dY, (size_t)Bn * sy);
        size_t n = 0, untouched = 0, slots = 0;
        float *got = malloc((size_t)Bn * M * N * 4);
        for (int i = 0; i < Bn; i++)
            for (int64_t e = 0; e < sy; e++) {
                const int r = (int)(e / ldy), o = (int)(e % ldy);
                if (r < M && o < N) {
                    double acc = b[o];
                    for (int k = 0; k < K; k++) acc += (double)X[i * sx + (int64_t)r * ldx + k] * W[(size_t)o * K + k];
                    if (epi == DIT_EPI_GELU_BIAS) acc = 0.5 * acc * (1 + tanh(0.7978845608028654 * (acc + 0.044715 * acc * acc * acc)));
                    want[n] = (float)acc;
                    got[n++] = all[i * sy + e];
                } else {
                    slots++;
                    untouched += isnan(all[i * sy + e]);
                }
            }
        check(epi == DIT_EPI_GELU_BIAS ? "gemm batched x3, strided samples, gelu+bias" : "gemm batched x3, strided samples, bias", got,
              want, n, 1e-2);
        printf("%s gemm batched leaves the %zu elements between samples untouched (%zu still poisoned)\n",
               untouched == slots ? "PASS" : "FAIL", slots, untouched);
        failures += untouched != slots;
        free(all);
        free(got);
    }
    free(X); free(W); free(b); free(want);
    cudaFree(dX); cudaFree(dW); cudaFree(db); cudaFree(dY);
}

/* with_step: the modulation table holds 3 steps and the kernel reads step 2's rows through the
 * device step index (how a replayed graph reads the precomputed schedule). */
static void test_ln_mod(int with_step)
{
    const int B = 2, L = 37, split = 11, D = 3072, S = with_step ? 3 : 1, step = S - 1;
    const size_t n = (size_t)B * L * D;
    float *h = rand_bf16_host(n, 2.f), *y = rand_bf16_host(n, 1.f), *mod = rand_bf16_host((size_t)S * B * 6 * D, 0.5f);
    void *dh = to_dev_bf16(h, n), *dy = to_dev_bf16(y, n), *dm = to_dev_bf16(mod, (size_t)S * B * 6 * D), *dout = dev_poisoned(n * 2);
    int *dstep = NULL;
    cudaMalloc((void **)&dstep, sizeof *dstep);
    cudaMemcpy(dstep, &step, sizeof step, cudaMemcpyHostToDevice);
    /* text rows: gate chunk 0, shift 1, scale 2; image rows: 3, 4, 5 */
    tk_mod_rows txt = {dm, (char *)dm + 2 * D, (char *)dm + 4 * D}, img = {(char *)dm + 6 * D, (char *)dm + 8 * D, (char *)dm + 10 * D};
    int e = tk_residual_ln_mod(dh, dy, dout, B, L, split, D, txt, img, 6 * D, with_step ? dstep : NULL, (int64_t)B * 6 * D, 0);
    if (e || sync_check("residual_ln_mod")) { printf("FAIL residual_ln_mod launch %d\n", e); failures++; return; }
    float *wh = malloc(n * 4), *wo = malloc(n * 4);
    for (int b = 0; b < B; b++)
        for (int r = 0; r < L; r++) {
            const float *m = mod + ((size_t)step * B + b) * 6 * D + (r < split ? 0 : 3 * D);
            const size_t o = ((size_t)b * L + r) * D;
            double mean = 0, var = 0;
            for (int k = 0; k < D; k++) { wh[o + k] = dit_bf16_round(h[o + k] + m[k] * y[o + k]); mean += wh[o + k]; }
            mean /= D;
            for (int k = 0; k < D; k++) var += (wh[o + k] - mean) * (wh[o + k] - mean);
            const double inv = 1 / sqrt(var / D + 1e-6);
            for (int k = 0; k < D; k++) wo[o + k] = (float)((wh[o + k] - mean) * inv * (1 + m[2 * D + k]) + m[D + k]);
        }
    float *gh = from_dev_bf16(dh, n), *go = from_dev_bf16(dout, n);
    check(with_step ? "residual + gate, D=3072, modulation of step 2 of 3" : "residual + gate, D=3072", gh, wh, n, 1e-2);
    check(with_step ? "layernorm + modulation (text/image rows), step 2 of 3" : "layernorm + modulation (text/image rows), D=3072", go, wo, n, 1e-2);
    free(h); free(y); free(mod); free(wh); free(wo); free(gh); free(go);
    cudaFree(dh); cudaFree(dy); cudaFree(dm); cudaFree(dout); cudaFree(dstep);
}

static void test_qk_norm_rope(int hd)
{
    const int B = 2, L = 29, split = 7, H = 3, D = H * hd;
    const size_t n = (size_t)B * L * 3 * D;
    float *qkv = rand_bf16_host(n, 3.f), *g = rand_bf16_host(4 * hd, 1.f);
    float *cs = malloc((size_t)L * hd / 2 * 4), *sn = malloc((size_t)L * hd / 2 * 4);
    for (size_t i = 0; i < (size_t)L * hd / 2; i++) { double a = 3.14159 * frand(); cs[i] = (float)cos(a); sn[i] = (float)sin(a); }
    void *dq = to_dev_bf16(qkv, n), *dg = to_dev_bf16(g, 4 * hd);
    float *dcs, *dsn;
    cudaMalloc((void **)&dcs, (size_t)L * hd / 2 * 4);
    cudaMalloc((void **)&dsn, (size_t)L * hd / 2 * 4);
    cudaMemcpy(dcs, cs, (size_t)L * hd / 2 * 4, cudaMemcpyHostToDevice);
    cudaMemcpy(dsn, sn, (size_t)L * hd / 2 * 4, cudaMemcpyHostToDevice);
    const char *G = dg;
    int e = tk_qk_norm_rope(dq, B, L, split, H, hd, 3 * D, G, G + 2 * hd, G + 4 * hd, G + 6 * hd, dcs, dsn, 0);
    if (e || sync_check("qk_norm_rope")) { printf("FAIL qk_norm_rope launch %d\n", e); failures++; return; }
    float *want = malloc(n * 4);
    memcpy(want, qkv, n * 4);
    for (int b = 0; b < B; b++)
        for (int r = 0; r < L; r++)
            for (int w = 0; w < 2; w++)
                for (int h = 0; h < H; h++) {
                    float *v = want + ((size_t)b * L + r) * 3 * D + w * D + h * hd;
                    const float *gg = g + ((r < split ? 0 : 2) + w) * hd;
                    double ss = 0;
                    for (int k = 0; k < hd; k++) ss += (double)v[k] * v[k];
                    const double inv = 1 / sqrt(ss / hd + 1e-6);
                    for (int k = 0; k < hd; k++) v[k] = (float)(v[k] * inv * gg[k]);
                    for (int i = 0; i < hd / 2; i++) {
                        const float c = cs[r * hd / 2 + i], s = sn[r * hd / 2 + i], a = v[2 * i], bb = v[2 * i + 1];
                        v[2 * i] = a * c - bb * s;
                        v[2 * i + 1] = bb * c + a * s;
                    }
                }
    float *got = from_dev_bf16(dq, n);
    char name[64];
    snprintf(name, sizeof name, "qk rmsnorm + rope, head dim %d (v untouched)", hd);
    check(name, got, want, n, 1e-2);
    free(qkv); free(g); free(cs); free(sn); free(want); free(got);
    cudaFree(dq); cudaFree(dg); cudaFree(dcs); cudaFree(dsn);
}

typedef int (*attn_fn)(const void *, const void *, const void *, int64_t, int64_t, void *, int64_t, int64_t, int, int, int, int,
                       cudaStream_t);

#ifdef HAVE_CUDNN
/* cuDNN's attention behind the kernels' launcher signature: one context (plans cached per shape);
 * the message of a failure in cudnn_err. */
static dit_cudnn_attn_ctx *cudnn_ctx;
static tetri_error cudnn_err;
static int attention_cudnn_launch(const void *q, const void *k, const void *v, int64_t ld, int64_t bs, void *out, int64_t ldo,
                                  int64_t obs, int batch, int L, int H, int hd, cudaStream_t s)
{
    return dit_cudnn_attention(cudnn_ctx, q, k, v, ld, bs, out, ldo, obs, batch, L, H, hd, s, &cudnn_err);
}
#define N_ATTN_VARIANTS 3
static const attn_fn attn_fns[N_ATTN_VARIANTS] = {tk_attention, tk_attention_wgmma, attention_cudnn_launch};
#else
#define N_ATTN_VARIANTS 2
static const attn_fn attn_fns[N_ATTN_VARIANTS] = {tk_attention, tk_attention_wgmma};
#endif
static const char *const attn_names[3] = {"mma.sync", "wgmma", "cudnn"};

/* Flash attention against fp64 on the CPU (small L) and against the cuBLAS oracle (large L);
 * variant: 0 mma.sync, 1 wgmma, 2 cuDNN (a shape cuDNN refuses is skipped, saying what it said). */
static void test_attention(int variant, int hd, int L, int H, int B, int vs_cpu, cublasHandle_t cb)
{
    const int D = H * hd;
    const size_t n = (size_t)B * L * 3 * D, no = (size_t)B * L * D;
    float *qkv = rand_bf16_host(n, 2.f);
    void *dq = to_dev_bf16(qkv, n), *dout = dev_poisoned(no * 2), *dref = dev_poisoned(no * 2);
    int e = attn_fns[variant](dq, (char *)dq + D * 2, (char *)dq + 2 * D * 2, 3 * D, (int64_t)L * 3 * D, dout, D, (int64_t)L * D, B, L,
                              H, hd, 0);
    const char *vname = attn_names[variant];
#ifdef HAVE_CUDNN
    if (variant == 2 && e) {
        if (e == DIT_CUDNN_REFUSED) printf("SKIP cudnn attention hd %d, L %d, H %d, B %d: cuDNN refuses it: %s\n", hd, L, H, B, cudnn_err.msg);
        else { printf("FAIL cudnn attention hd %d, L %d, H %d, B %d: %s\n", hd, L, H, B, cudnn_err.msg); failures++; }
        free(qkv); cudaFree(dq); cudaFree(dout); cudaFree(dref);
        return;
    }
#endif
    if (e || sync_check("attention")) { printf("FAIL attention launch: %s\n", cudaGetErrorString((cudaError_t)e)); failures++; return; }
    float *got = from_dev_bf16(dout, no), *want = malloc(no * 4);
    char name[96];
    if (vs_cpu) {
        double *sc = malloc((size_t)L * sizeof *sc);
        for (int b = 0; b < B; b++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < L; i++) {
                    const float *q = qkv + ((size_t)b * L + i) * 3 * D + h * hd;
                    double mx = -1e300, sum = 0;
                    for (int j = 0; j < L; j++) {
                        const float *k = qkv + ((size_t)b * L + j) * 3 * D + D + h * hd;
                        double s = 0;
                        for (int d = 0; d < hd; d++) s += (double)q[d] * k[d];
                        sc[j] = s / sqrt((double)hd);
                        if (sc[j] > mx) mx = sc[j];
                    }
                    for (int j = 0; j < L; j++) { sc[j] = exp(sc[j] - mx); sum += sc[j]; }
                    for (int d = 0; d < hd; d++) {
                        double acc = 0;
                        for (int j = 0; j < L; j++) acc += sc[j] * qkv[((size_t)b * L + j) * 3 * D + 2 * D + h * hd + d];
                        want[((size_t)b * L + i) * D + h * hd + d] = (float)(acc / sum);
                    }
                }
        free(sc);
        snprintf(name, sizeof name, "%s attention vs CPU fp64: hd %d, L %d, H %d, B %d", vname, hd, L, H, B);
    } else {
        float *ws;
        cudaMalloc((void **)&ws, ((size_t)3 * L * hd + (size_t)L * L) * 4);
        e = tk_attention_oracle(cb, dq, (char *)dq + D * 2, (char *)dq + 2 * D * 2, 3 * D, (int64_t)L * 3 * D, dref, D, (int64_t)L * D,
                                B, L, H, hd, ws, 0);
        sync_check("attention oracle");
        cudaFree(ws);
        free(want);
        want = from_dev_bf16(dref, no);
        snprintf(name, sizeof name, "%s attention vs cuBLAS oracle: hd %d, L %d, H %d", vname, hd, L, H);
    }
    check(name, got, want, no, 1e-2);
    free(qkv); free(got); free(want);
    cudaFree(dq); cudaFree(dout); cudaFree(dref);
}

/* The tiny step with cuDNN's attention: eager against the CPU's velocity (want), then captured and
 * replayed, which must give the eager velocity bit for bit. Leaves the step's graph a cuDNN one. */
static void test_step_cudnn(dit_gpu_step *st, const dit_step_inputs *in, const float *sigmas, const float *want, size_t nv, const char *nm)
{
#ifdef HAVE_CUDNN
    tetri_error err = {{0}};
    char name[96];
    float *eager = malloc(nv * 4), *replay = malloc(nv * 4);
    dit_gpu_step_set_attention(st, DIT_ATTN_CUDNN);
    if (dit_gpu_step_set_inputs(st, in, sigmas, &err) || dit_gpu_step_forward(st, &err) || dit_gpu_step_read_velocity(st, eager, &err)) {
        printf("FAIL %s tiny step, cuDNN attention: %s\n", nm, err.msg);
        failures++;
    } else {
        snprintf(name, sizeof name, "%s tiny step, cuDNN attention vs CPU", nm);
        check(name, eager, want, nv, 1e-2);
        if (dit_gpu_step_capture(st, &err) || dit_gpu_step_set_inputs(st, in, sigmas, &err) || dit_gpu_step_denoise(st, 1, &err) ||
            dit_gpu_step_read_velocity(st, replay, &err)) {
            printf("FAIL %s cuDNN graph: %s\n", nm, err.msg);
            failures++;
        } else {
            int same = memcmp(eager, replay, nv * 4) == 0;
            printf("%s %s graph replay with cuDNN attention gives its eager velocity bit for bit\n", same ? "PASS" : "FAIL", nm);
            failures += !same;
        }
    }
    dit_gpu_step_set_attention(st, fast_attn());
    free(eager);
    free(replay);
#else
    (void)st; (void)in; (void)sigmas; (void)want; (void)nv;
    printf("SKIP %s tiny step with cuDNN attention: built without cuDNN\n", nm);
#endif
}

/* The tiny configuration of `arch` and its layout; -1 (a failure counted) when the layout cannot be built. */
static int tiny_layout(dit_arch arch, dit_config *c, dit_layout *L)
{
    tetri_error err = {{0}};
    dit_config_tiny(arch, c);
    if (dit_layout_build(c, L, &err) == 0) return 0;
    printf("FAIL layout: %s\n", err.msg);
    failures++;
    return -1;
}

/* The text rows each request of the tiny tests has. */
static int tiny_text_tokens(dit_arch arch) { return arch == DIT_ARCH_FLUX ? 24 : 13; }

/* A whole step of a tiny configuration: GPU (flash and oracle attention, eager and graph) vs CPU. */
static void test_step(dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "FLUX" : "SD3";
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    if (tiny_layout(arch, &c, &L)) return;
    const int B = 2, T = tiny_text_tokens(arch), gh = 6, gw = 5, N = gh * gw, tin = dit_token_in(&c);
    const uint64_t seed = 1234;
    float *w = malloc((size_t)L.total * 4);
    dit_cpu_init_weights(&L, seed, w);
    float *lat = malloc((size_t)B * N * tin * 4), *txt = malloc((size_t)B * T * c.text_dim * 4), *pooled = malloc((size_t)B * c.pooled_dim * 4);
    for (int i = 0; i < B * N * tin; i++) lat[i] = dit_bf16_round(1.7f * frand());
    for (int i = 0; i < B * T * c.text_dim; i++) txt[i] = dit_bf16_round(frand());
    for (int i = 0; i < B * c.pooled_dim; i++) pooled[i] = dit_bf16_round(frand());
    float sigma[2] = {0.75f, 0.75f}, guid[2] = {3.5f, 2.0f}, sigmas[3] = {0.75f, 0.4f, 0.0f};
    dit_step_inputs in = {.batch = B, .text_tokens = T, .grid_h = gh, .grid_w = gw, .latent = lat, .text = txt, .pooled = pooled,
                          .sigma = sigma, .guidance = guid};
    const size_t nv = (size_t)B * N * dit_token_out(&c);
    float *want = malloc(nv * 4), *got = malloc(nv * 4), *got2 = malloc(nv * 4), *lat_after = malloc(nv * 4);
    if (dit_cpu_forward(&L, w, &in, want, &err)) { printf("FAIL cpu forward: %s\n", err.msg); failures++; return; }

    dit_gpu *g = NULL;
    dit_gpu_step *st = NULL;
    char name[96];
    /* ours (flash) first, named: the default (auto) would take cuDNN's where built, and the graph
     * replay below is compared with this forward bit for bit */
    if (dit_gpu_create(&L, &g, &err) || dit_gpu_init_random(g, seed, &err) || dit_gpu_step_create(g, B, T, gh, gw, 2, &st, &err) ||
        (dit_gpu_step_set_attention(st, fast_attn()), 0) || dit_gpu_step_set_inputs(st, &in, sigmas, &err) ||
        dit_gpu_step_forward(st, &err) || dit_gpu_step_read_velocity(st, got, &err)) {
        printf("FAIL %s step: %s\n", nm, err.msg);
        failures++;
        goto done;
    }
    snprintf(name, sizeof name, "%s tiny step (B=2, T=%d, 6x5 grid), %s attention vs CPU (%s paths)", nm, T,
             paths == DIT_PATHS_HOPPER ? "wgmma" : "mma.sync", dit_gpu_paths_name(paths));
    check(name, got, want, nv, 1e-2);
    dit_gpu_step_set_attention(st, DIT_ATTN_ORACLE);
    if (dit_gpu_step_forward(st, &err) || dit_gpu_step_read_velocity(st, got2, &err)) { printf("FAIL %s\n", err.msg); failures++; goto done; }
    snprintf(name, sizeof name, "%s tiny step, cuBLAS-oracle attention vs CPU", nm);
    check(name, got2, want, nv, 1e-2);
    dit_gpu_step_set_attention(st, DIT_ATTN_FLASH_MMA);
    if (dit_gpu_step_forward(st, &err) || dit_gpu_step_read_velocity(st, got2, &err)) { printf("FAIL %s\n", err.msg); failures++; goto done; }
    snprintf(name, sizeof name, "%s tiny step, mma.sync attention vs CPU", nm);
    check(name, got2, want, nv, 1e-2);
    if (paths != DIT_PATHS_HOPPER) { /* the wgmma kernel is refused on these paths, by name */
        dit_gpu_step_set_attention(st, DIT_ATTN_FLASH);
        tetri_error why = {{0}};
        const int refused = dit_gpu_step_forward(st, &why) != 0 && strstr(why.msg, "ampere paths") != NULL;
        printf("%s %s attention flash (wgmma) refused on the ampere paths: %s\n", refused ? "PASS" : "FAIL", nm, why.msg);
        failures += !refused;
    }
    dit_gpu_step_set_attention(st, fast_attn());
    /* graph: capture, re-upload (the eager warm-up forward does not move the latent), one Euler step */
    if (dit_gpu_step_capture(st, &err) || dit_gpu_step_set_inputs(st, &in, sigmas, &err) || dit_gpu_step_denoise(st, 1, &err) ||
        dit_gpu_step_read_velocity(st, got2, &err) || dit_gpu_step_read_latent(st, lat_after, &err)) {
        printf("FAIL %s graph: %s\n", nm, err.msg);
        failures++;
        goto done;
    }
    int same = memcmp(got, got2, nv * 4) == 0;
    printf("%s %s graph replay gives the eager forward's velocity bit for bit\n", same ? "PASS" : "FAIL", nm);
    failures += !same;
    test_step_cudnn(st, &in, sigmas, want, nv, nm);
    { /* the default, auto: cuDNN's attention where this build has it, ours otherwise */
        dit_gpu_step *sa = NULL;
        if (dit_gpu_step_create(g, B, T, gh, gw, 2, &sa, &err) || dit_gpu_step_set_inputs(sa, &in, sigmas, &err) ||
            dit_gpu_step_forward(sa, &err) || dit_gpu_step_read_velocity(sa, got2, &err)) {
            printf("FAIL %s auto attention: %s\n", nm, err.msg);
            failures++;
        } else {
#ifdef HAVE_CUDNN
            const dit_attn_backend expect = DIT_ATTN_CUDNN;
#else
            const dit_attn_backend expect = fast_attn(); /* wgmma on Hopper, mma.sync on the ampere paths */
#endif
            const int ok = dit_gpu_step_attention(sa) == expect;
            printf("%s %s default attention resolves to %s\n", ok ? "PASS" : "FAIL", nm, dit_attn_backend_name(dit_gpu_step_attention(sa)));
            failures += !ok;
            snprintf(name, sizeof name, "%s tiny step, default (auto) attention vs CPU", nm);
            check(name, got2, want, nv, 1e-2);
        }
        dit_gpu_step_destroy(sa);
    }
    for (size_t i = 0; i < nv; i++) want[i] = lat[i] + (sigmas[1] - sigmas[0]) * got[i];
    snprintf(name, sizeof name, "%s Euler update x + (s1 - s0) v", nm);
    check(name, lat_after, want, nv, 1e-6);
done:
    dit_gpu_step_destroy(st);
    dit_gpu_destroy(g);
    dit_layout_free(&L);
    free(w); free(lat); free(txt); free(pooled); free(want); free(got); free(got2); free(lat_after);
}

/* Request slots: a batched block of requests at different steps of different schedules equals
 * the same requests run alone. A (6 steps) and B (9 steps, another seed): alone, A runs 5 steps and
 * B 3; batched, A runs 2 steps alone, then A and B 3 steps together (A from step 2, B from 0).
 * Both ways through captured graphs of a 1-runner and a 2-runner. */
static void test_slots_batched(dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "FLUX" : "SD3";
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    if (tiny_layout(arch, &c, &L)) return;
    const int T = tiny_text_tokens(arch), gh = 6, gw = 5;
    const size_t nl = (size_t)gh * gw * dit_token_in(&c);
    dit_gpu *g = NULL;
    dit_gpu_step *r1 = NULL, *r2 = NULL;
    dit_slot *a1 = NULL, *a2 = NULL, *b1 = NULL, *b2 = NULL;
    float *la1 = malloc(nl * 4), *la2 = malloc(nl * 4), *lb1 = malloc(nl * 4), *lb2 = malloc(nl * 4), *la0 = malloc(nl * 4);
    int step_a = -1, step_b = -1;
    if (dit_gpu_create(&L, &g, &err) || dit_gpu_init_random(g, 99, &err) || dit_gpu_step_create(g, 1, T, gh, gw, 6, &r1, &err) ||
        dit_gpu_step_create(g, 2, T, gh, gw, 6, &r2, &err) || dit_gpu_step_capture(r1, &err) || dit_gpu_step_capture(r2, &err) ||
        dit_slot_create(g, T, gh, gw, 6, &a1, &err) || dit_slot_create(g, T, gh, gw, 6, &a2, &err) ||
        dit_slot_create(g, T, gh, gw, 9, &b1, &err) || dit_slot_create(g, T, gh, gw, 9, &b2, &err) ||
        dit_slot_random_inputs(a1, 11, &err) || dit_slot_random_inputs(a2, 11, &err) || dit_slot_random_inputs(b1, 22, &err) ||
        dit_slot_random_inputs(b2, 22, &err) || dit_slot_read_latent(a1, la0, &err) ||
        /* alone */
        dit_gpu_step_bind(r1, &a1, 1, &err) || dit_gpu_step_run(r1, 5, &err) || dit_gpu_step_bind(r1, &b1, 1, &err) ||
        dit_gpu_step_run(r1, 3, &err) ||
        /* batched at different steps */
        dit_gpu_step_bind(r1, &a2, 1, &err) || dit_gpu_step_run(r1, 2, &err) ||
        dit_gpu_step_bind(r2, (dit_slot *[]){a2, b2}, 2, &err) || dit_gpu_step_run(r2, 3, &err) ||
        dit_slot_read_latent(a1, la1, &err) || dit_slot_read_latent(a2, la2, &err) || dit_slot_read_latent(b1, lb1, &err) ||
        dit_slot_read_latent(b2, lb2, &err) || dit_slot_step_index(a2, &step_a, &err) || dit_slot_step_index(b2, &step_b, &err)) {
        printf("FAIL %s slots: %s\n", nm, err.msg);
        failures++;
        goto done;
    }
    char name[128];
    snprintf(name, sizeof name, "%s batched block at steps 2/6 and 0/9 = alone (request A, 5 steps)", nm);
    check(name, la2, la1, nl, 1e-2);
    snprintf(name, sizeof name, "%s batched block at steps 2/6 and 0/9 = alone (request B, 3 steps)", nm);
    check(name, lb2, lb1, nl, 1e-2);
    double moved = 0, norm = 0;
    for (size_t i = 0; i < nl; i++) { moved += (la1[i] - la0[i]) * (la1[i] - la0[i]); norm += la0[i] * (double)la0[i]; }
    const int ok = step_a == 5 && step_b == 3 && moved > 1e-4 * norm;
    printf("%s %s slots stand at steps %d and %d (want 5 and 3), the latent moved by %.3g of its norm\n", ok ? "PASS" : "FAIL", nm,
           step_a, step_b, sqrt(moved / norm));
    failures += !ok;
done:
    dit_slot_destroy(a1); dit_slot_destroy(a2); dit_slot_destroy(b1); dit_slot_destroy(b2);
    dit_gpu_step_destroy(r1);
    dit_gpu_step_destroy(r2);
    dit_gpu_destroy(g);
    dit_layout_free(&L);
    free(la0); free(la1); free(la2); free(lb1); free(lb2);
}

static int same_floats(const float *a, const float *b, size_t n);

/* dit_gpu_step_run_marked (tetri profile measure --timing served): n steps between n + 1 events
 * advance a slot exactly as n plain steps do (the same latent, bit for bit, and step index), every
 * step's interval is positive, and the intervals add up to the span from the first event to the last. */
static void test_run_marked(dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "FLUX" : "SD3";
    dit_config c;
    dit_layout L;
    tetri_error err = {{0}};
    if (tiny_layout(arch, &c, &L)) return;
    enum { N = 5 };
    const int T = tiny_text_tokens(arch), gh = 6, gw = 5;
    const size_t nl = (size_t)gh * gw * dit_token_in(&c);
    dit_gpu *g = NULL;
    dit_gpu_step *r = NULL;
    dit_slot *plain = NULL, *marked = NULL;
    cudaEvent_t at[N + 1] = {0};
    float *lp = malloc(nl * 4), *lm = malloc(nl * 4), ms[N], span = 0;
    int step_p = -1, step_m = -1, ok = 1;
    for (int i = 0; i <= N; i++) ok &= cudaEventCreate(&at[i]) == cudaSuccess;
    if (!ok || dit_gpu_create(&L, &g, &err) || dit_gpu_init_random(g, 5, &err) || dit_gpu_step_create(g, 1, T, gh, gw, 8, &r, &err) ||
        dit_gpu_step_capture(r, &err) || dit_slot_create(g, T, gh, gw, 8, &plain, &err) || dit_slot_create(g, T, gh, gw, 8, &marked, &err) ||
        dit_slot_random_inputs(plain, 33, &err) || dit_slot_random_inputs(marked, 33, &err) ||
        dit_gpu_step_bind(r, &plain, 1, &err) || dit_gpu_step_run(r, N, &err) ||
        dit_gpu_step_bind(r, &marked, 1, &err) || dit_gpu_step_run_marked(r, N, at, &err) ||
        cudaEventSynchronize(at[N]) != cudaSuccess || dit_slot_read_latent(plain, lp, &err) || dit_slot_read_latent(marked, lm, &err) ||
        dit_slot_step_index(plain, &step_p, &err) || dit_slot_step_index(marked, &step_m, &err)) {
        printf("FAIL %s run_marked: %s\n", nm, ok ? err.msg : "creating events");
        failures++;
        goto done;
    }
    double sum = 0;
    for (int i = 0; i < N; i++) {
        ok &= cudaEventElapsedTime(&ms[i], at[i], at[i + 1]) == cudaSuccess && ms[i] > 0;
        sum += ms[i];
    }
    ok &= cudaEventElapsedTime(&span, at[0], at[N]) == cudaSuccess;
    ok = ok && step_p == N && step_m == N && same_floats(lp, lm, nl) && fabs(sum - span) <= 1e-3 * span + 1e-3;
    printf("%s %s run_marked: %d steps at %d (want %d), latent %s the plain run's, steps %.4f ms summed against %.4f ms spanned\n",
           ok ? "PASS" : "FAIL", nm, N, step_m, step_p, same_floats(lp, lm, nl) ? "equal to" : "DIFFERENT from", sum, span);
    failures += !ok;
done:
    for (int i = 0; i <= N; i++)
        if (at[i]) cudaEventDestroy(at[i]);
    dit_slot_destroy(plain);
    dit_slot_destroy(marked);
    dit_gpu_step_destroy(r);
    dit_gpu_destroy(g);
    dit_layout_free(&L);
    free(lp);
    free(lm);
}

/* The weight initialiser kernel against dit_param_init_value for every 37th parameter of the full
 * SD3-medium table (uniform, RMSNorm-free, and the sin-cos positional table), sampled elements. */
static void test_init_matches_cpu(void)
{
    dit_config c;
    dit_config_sd3_medium(&c);
    dit_layout L;
    tetri_error err = {{0}};
    dit_layout_build(&c, &L, &err);
    int mism = 0, checked = 0;
    for (int p = 0; p < L.n_params; p += 37) {
        const dit_param *P = &L.params[p];
        uint16_t *t = malloc((size_t)P->numel * 2);
        void *d;
        cudaMalloc(&d, (size_t)P->numel * 2);
        tk_init_param(d, P->numel, 7, p, (int)P->init, P->fan_in, L.D, c.pos_embed_max, c.sample_size / c.patch, 0);
        cudaMemcpy(t, d, (size_t)P->numel * 2, cudaMemcpyDeviceToHost);
        for (int64_t i = 0; i < P->numel; i += 997) {
            uint16_t want = dit_f32_to_bf16_bits(dit_param_init_value(7, p, P->init, P->fan_in, i, &c, P->shape));
            /* the sin-cos table may differ by one bf16 ulp (device vs host sin/cos in double) */
            mism += t[i] != want && (abs((int)t[i] - (int)want) > 1 || P->init != DIT_INIT_SINCOS_2D);
            checked++;
        }
        cudaFree(d);
        free(t);
    }
    printf("%s GPU weight init gives the CPU's bits (%d sampled elements, %d mismatches)\n", mism ? "FAIL" : "PASS", checked, mism);
    failures += mism != 0;
    dit_layout_free(&L);
}

/* Runs cmd; 0 when it exits 0 and its standard output has the line `line`. */
static int run_and_find_line(const char *cmd, const char *line)
{
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    char buf[512];
    int found = 0;
    while (fgets(buf, sizeof buf, p)) {
        buf[strcspn(buf, "\n")] = 0;
        found |= strcmp(buf, line) == 0;
    }
    return pclose(p) == 0 && found ? 0 : -1;
}

/* `tetri bench-step --inputs/--output` end to end: one forward (velocity) with each attention
 * kernel --attention names (it must be the one that runs: the command says which) and two Euler
 * steps (latent) of the tiny FLUX, against the CPU reference on the same seeded weights. */
static void test_cli_inputs(const char *tetri)
{
    dit_config c;
    dit_config_tiny(DIT_ARCH_FLUX, &c);
    dit_layout L;
    tetri_error err = {{0}};
    dit_layout_build(&c, &L, &err);
    const int B = 1, gh = 4, gw = 6, N = gh * gw, T = 16, W = 64;
    float *w = malloc((size_t)L.total * 4);
    dit_cpu_init_weights(&L, 77, w);
    float *lat = malloc((size_t)N * W * 4), *txt = malloc((size_t)T * c.text_dim * 4), *pooled = malloc((size_t)c.pooled_dim * 4);
    for (int i = 0; i < N * W; i++) lat[i] = dit_bf16_round(1.7f * frand());
    for (int i = 0; i < T * c.text_dim; i++) txt[i] = frand();
    for (int i = 0; i < c.pooled_dim; i++) pooled[i] = frand();
    float sig[3] = {0.8f, 0.5f, 0.2f}, guid[1] = {3.0f};
    st_out_tensor t[5] = {{.name = "latent", .dtype = ST_F32, .ndim = 4, .shape = {B, gh, gw, W}, .data = lat},
                          {.name = "text", .dtype = ST_F32, .ndim = 3, .shape = {B, T, c.text_dim}, .data = txt},
                          {.name = "pooled", .dtype = ST_F32, .ndim = 2, .shape = {B, c.pooled_dim}, .data = pooled},
                          {.name = "sigmas", .dtype = ST_F32, .ndim = 1, .shape = {3}, .data = sig},
                          {.name = "guidance", .dtype = ST_F32, .ndim = 1, .shape = {1}, .data = guid}};
    char in_path[] = "/tmp/tetri-gpu-inputs.safetensors", out_path[] = "/tmp/tetri-gpu-output.safetensors", cmd[1024];
    float *got = malloc((size_t)N * W * 4), *v0 = malloc((size_t)N * W * 4), *x1 = malloc((size_t)N * W * 4), *v1 = malloc((size_t)N * W * 4);
    if (st_write(in_path, t, 5, NULL, 0, &err)) { printf("FAIL write inputs: %s\n", err.msg); failures++; goto done; }
    static const struct { const char *attention; int steps; } runs[] = {{"flash", 0}, {"oracle", 0}, {"flash-mma", 0}, {"flash", 2}};
    for (size_t run = 0; run < sizeof runs / sizeof runs[0]; run++) {
        const int steps = runs[run].steps;
        /* the child inherits TETRI_GPU_PATHS: on the ampere paths ours is flash-mma */
        const char *attention = paths != DIT_PATHS_HOPPER && strcmp(runs[run].attention, "flash") == 0 ? "flash-mma" : runs[run].attention;
        char expect[64];
        snprintf(expect, sizeof expect, "attention %s", attention);
        snprintf(cmd, sizeof cmd, "%s bench-step --model flux-dev --tiny --seed 77 --inputs %s --output %s --steps %d --attention %s",
                 tetri, in_path, out_path, steps, attention);
        st_file f;
        int idx;
        if (run_and_find_line(cmd, expect) || st_open(out_path, &f, &err) || (idx = st_find(&f, steps ? "latent" : "velocity")) < 0 ||
            f.t[idx].numel != N * W || st_read_f32(&f, idx, got, &err)) {
            printf("FAIL bench-step --inputs --steps %d --attention %s (no line '%s'?): %s\n", steps, attention, expect, err.msg);
            failures++;
            goto done;
        }
        st_close(&f);
        /* CPU: v0 = f(x0, 0.8); x1 = x0 - 0.3 v0; v1 = f(x1, 0.5); x2 = x1 - 0.3 v1 */
        dit_step_inputs in = {.batch = 1, .text_tokens = T, .grid_h = gh, .grid_w = gw, .latent = lat, .text = txt, .pooled = pooled,
                              .sigma = &sig[0], .guidance = guid};
        dit_cpu_forward(&L, w, &in, v0, &err);
        if (steps == 0) {
            char what[96];
            snprintf(what, sizeof what, "bench-step --inputs --attention %s: velocity vs CPU reference", attention);
            check(what, got, v0, (size_t)N * W, 1e-2);
            continue;
        }
        for (int i = 0; i < N * W; i++) x1[i] = lat[i] + (sig[1] - sig[0]) * v0[i];
        in.latent = x1;
        in.sigma = &sig[1];
        dit_cpu_forward(&L, w, &in, v1, &err);
        for (int i = 0; i < N * W; i++) {
            got[i] -= lat[i]; /* compare the change, not the latent it starts from */
            v1[i] = x1[i] + (sig[2] - sig[1]) * v1[i] - lat[i];
        }
        check("bench-step --inputs --steps 2: latent change vs CPU", got, v1, (size_t)N * W, 1e-2);
    }
done:
    remove(in_path);
    remove(out_path);
    free(w); free(lat); free(txt); free(pooled); free(got); free(v0); free(x1); free(v1);
    dit_layout_free(&L);
}

/* Writes a tiny model as a diffusers folder (config.json + diffusion_pytorch_model.safetensors, bf16)
 * and one step's case (inputs, the CPU reference's output, the GPU's output) under dir/<arch>/, for
 * bench/reference/tiny_diffusers_check.py to recompute in float64 PyTorch, written from diffusers'
 * modules rather than from our C. Returns the number of failures. */
static int export_case(const char *dir, dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "flux" : "sd3";
    dit_config c;
    dit_config_tiny(arch, &c);
    dit_layout L;
    tetri_error err = {{0}};
    if (dit_layout_build(&c, &L, &err)) { printf("FAIL export: %s\n", err.msg); return 1; }
    char path[1200], sub[1100];
    snprintf(sub, sizeof sub, "mkdir -p '%s/%s'", dir, nm);
    if (system(sub) != 0) { printf("FAIL export: cannot create %s/%s\n", dir, nm); return 1; }
    snprintf(sub, sizeof sub, "%s/%s", dir, nm);
    const uint64_t seed = 4242;
    float *w = malloc((size_t)L.total * 4);
    dit_cpu_init_weights(&L, seed, w);
    /* the weights under diffusers' names, bf16 (exactly the values the CPU and GPU use) */
    st_out_tensor *t = calloc((size_t)L.n_params, sizeof *t);
    uint16_t *w16 = malloc((size_t)L.total * 2);
    for (int64_t i = 0; i < L.total; i++) w16[i] = dit_f32_to_bf16_bits(w[i]);
    for (int i = 0; i < L.n_params; i++) {
        const dit_param *P = &L.params[i];
        t[i] = (st_out_tensor){.name = P->name, .dtype = ST_BF16, .ndim = P->ndim, .data = w16 + P->offset};
        memcpy(t[i].shape, P->shape, sizeof t[i].shape);
    }
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", sub);
    int rc = st_write(path, t, L.n_params, NULL, 0, &err);
    snprintf(path, sizeof path, "%s/config.json", sub);
    FILE *f = fopen(path, "w");
    if (arch == DIT_ARCH_FLUX)
        fprintf(f, "{\"_class_name\": \"FluxTransformer2DModel\", \"attention_head_dim\": %d, \"axes_dims_rope\": [%d, %d, %d], "
                   "\"guidance_embeds\": true, \"in_channels\": %d, \"joint_attention_dim\": %d, \"num_attention_heads\": %d, "
                   "\"num_layers\": %d, \"num_single_layers\": %d, \"patch_size\": 1, \"pooled_projection_dim\": %d}\n",
                c.head_dim, c.rope_axes[0], c.rope_axes[1], c.rope_axes[2], c.in_channels, c.text_dim, c.n_heads, c.n_double, c.n_single,
                c.pooled_dim);
    else
        fprintf(f, "{\"_class_name\": \"SD3Transformer2DModel\", \"attention_head_dim\": %d, \"caption_projection_dim\": %d, "
                   "\"in_channels\": %d, \"joint_attention_dim\": %d, \"num_attention_heads\": %d, \"num_layers\": %d, "
                   "\"out_channels\": %d, \"patch_size\": %d, \"pooled_projection_dim\": %d, \"pos_embed_max_size\": %d, "
                   "\"sample_size\": %d}\n",
                c.head_dim, c.n_heads * c.head_dim, c.in_channels, c.text_dim, c.n_heads, c.n_double, c.out_channels, c.patch, c.pooled_dim,
                c.pos_embed_max, c.sample_size);
    fclose(f);
    /* one step's case: batch 2, different sigma per... one sigma (the GPU runs one schedule), two guidances */
    const int B = 2, T = 11, gh = 5, gw = 7, N = gh * gw, W = 64;
    float *lat = malloc((size_t)B * N * W * 4), *txt = malloc((size_t)B * T * c.text_dim * 4), *pooled = malloc((size_t)B * c.pooled_dim * 4);
    for (int i = 0; i < B * N * W; i++) lat[i] = 1.7f * frand();
    for (int i = 0; i < B * T * c.text_dim; i++) txt[i] = frand();
    for (int i = 0; i < B * c.pooled_dim; i++) pooled[i] = frand();
    float sigma[2] = {0.65f, 0.65f}, guid[2] = {3.5f, 1.5f}, grid[2] = {(float)gh, (float)gw};
    float *cpu = malloc((size_t)B * N * W * 4), *gpu = malloc((size_t)B * N * W * 4);
    dit_step_inputs in = {.batch = B, .text_tokens = T, .grid_h = gh, .grid_w = gw, .latent = lat, .text = txt, .pooled = pooled,
                          .sigma = sigma, .guidance = guid};
    rc = rc || dit_cpu_forward(&L, w, &in, cpu, &err);
    dit_gpu *g = NULL;
    dit_gpu_step *st = NULL;
    float sig3[2] = {0.65f, 0.f};
    rc = rc || dit_gpu_create(&L, &g, &err) || dit_gpu_load_weights(g, sub, &err) || dit_gpu_step_create(g, B, T, gh, gw, 1, &st, &err) ||
         dit_gpu_step_set_inputs(st, &in, sig3, &err) || dit_gpu_step_forward(st, &err) || dit_gpu_step_read_velocity(st, gpu, &err);
    if (!rc) {
        st_out_tensor ct[8] = {{.name = "latent", .dtype = ST_F32, .ndim = 3, .shape = {B, N, W}, .data = lat},
                               {.name = "text", .dtype = ST_F32, .ndim = 3, .shape = {B, T, c.text_dim}, .data = txt},
                               {.name = "pooled", .dtype = ST_F32, .ndim = 2, .shape = {B, c.pooled_dim}, .data = pooled},
                               {.name = "sigma", .dtype = ST_F32, .ndim = 1, .shape = {B}, .data = sigma},
                               {.name = "guidance", .dtype = ST_F32, .ndim = 1, .shape = {B}, .data = guid},
                               {.name = "grid", .dtype = ST_F32, .ndim = 1, .shape = {2}, .data = grid},
                               {.name = "cpu_out", .dtype = ST_F32, .ndim = 3, .shape = {B, N, W}, .data = cpu},
                               {.name = "gpu_out", .dtype = ST_F32, .ndim = 3, .shape = {B, N, W}, .data = gpu}};
        snprintf(path, sizeof path, "%s/case.safetensors", sub);
        rc = st_write(path, ct, 8, NULL, 0, &err);
    }
    printf("%s export of the tiny %s model and case to %s%s%s\n", rc ? "FAIL" : "PASS", nm, sub, rc ? ": " : "", rc ? err.msg : "");
    dit_gpu_step_destroy(st);
    dit_gpu_destroy(g);
    free(w); free(w16); free(t); free(lat); free(txt); free(pooled); free(cpu); free(gpu);
    dit_layout_free(&L);
    return rc != 0;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Not a check: the attention kernels' rate, variants first.. (0 mma.sync, 1 wgmma, 2 cuDNN where
 * built), one sample of 24 heads on a q|k|v buffer as the step lays it out; median of 20 launches
 * timed with CUDA events after 5 warm-up launches (the first of which builds cuDNN's plan).
 * `test_gpu --bench-attention` runs it from wgmma on; the check run from mma.sync on. */
static void bench_attention(int L, int hd, int first)
{
    const int H = 24, D = H * hd, reps = 20, warm = 5;
    void *dq, *dout;
    cudaMalloc(&dq, (size_t)L * 3 * D * 2);
    cudaMalloc(&dout, (size_t)L * D * 2);
    tk_fill_uniform_bf16(dq, (int64_t)L * 3 * D, 11, 1, 2.f, 0);
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    printf("BENCH attention L %5d, 24 heads of %3d:", L, hd);
    for (int variant = first; variant < N_ATTN_VARIANTS; variant++) {
        if (variant == 1 && paths != DIT_PATHS_HOPPER) continue; /* no wgmma on the ampere paths */
        float ms[20];
        int e = 0;
        for (int it = 0; it < warm + reps && !e; it++) {
            cudaEventRecord(a, 0);
            e = attn_fns[variant](dq, (char *)dq + D * 2, (char *)dq + 2 * D * 2, 3 * D, (int64_t)L * 3 * D, dout, D, (int64_t)L * D, 1, L,
                                  H, hd, 0);
            cudaEventRecord(b, 0);
            cudaEventSynchronize(b);
            if (it >= warm) cudaEventElapsedTime(&ms[it - warm], a, b);
        }
        if (e) {
            const char *why = cudaGetErrorString((cudaError_t)e);
#ifdef HAVE_CUDNN
            if (variant == 2) why = cudnn_err.msg;
#endif
            printf("  %s: failed (%s)", attn_names[variant], why);
            continue;
        }
        qsort(ms, reps, sizeof ms[0], cmp_float);
        const float med = 0.5f * (ms[reps / 2 - 1] + ms[reps / 2]);
        printf("  %s %7.3f ms %5.0f TFLOP/s", attn_names[variant], med, 4.0 * L * (double)L * D / (med * 1e-3) / 1e12);
    }
    printf("\n");
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    cudaFree(dq);
    cudaFree(dout);
}

/* ---- sequence parallelism (dit/sp.h, dit/sp_group.h) ----------------------------------------- */

/* max |got - want| / max |want| under tol and no NaN/inf: the bar for degree k against degree 1
 * (the L2 relative error is printed beside it). */
static void check_max(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double dmax = 0, wmax = 0, num = 0, den = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(got[i])) { bad++; continue; }
        const double d = fabs((double)got[i] - want[i]);
        if (d > dmax) dmax = d;
        if (fabs(want[i]) > wmax) wmax = fabs(want[i]);
        num += d * d;
        den += (double)want[i] * want[i];
    }
    const double rel = wmax > 0 ? dmax / wmax : dmax;
    const int ok = bad == 0 && wmax > 0 && rel < tol;
    printf("%s %-66s max rel err %.2e (tol %.0e), L2 %.2e%s\n", ok ? "PASS" : "FAIL", what, rel, tol, den > 0 ? sqrt(num / den) : 0.0,
           bad ? " NON-FINITE VALUES" : "");
    if (bad) printf("     %zu of %zu elements are NaN/inf (unwritten or overflow)\n", bad, n);
    failures += !ok;
}

/* Host buffers of bf16-representable random values: the kernels move bits, so the GPU's output read
 * back must equal the host function's exactly. */
static int same_floats(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], sizeof a[i])) return 0;
    return 1;
}

/* The four pack/unpack kernels against dit/sp.c's host functions, bit for bit: the destination
 * starts with the same random values on both sides, so elements neither writes must stay. */
static void test_sp_pack_case(int B, int k, int hd, int T, int N, int rank)
{
    const int H = 8, D = H * hd, Dk = D / k, ld_qkv = 3 * D + 64, ld_out = D + 4 * D;
    int L[DIT_SP_MAX_DEGREE], Lt = 0;
    for (int r = 0; r < k; r++) {
        dit_sp_shard sh;
        dit_sp_shard_of(T, N, k, r, &sh);
        L[r] = sh.tn + sh.nn;
        Lt += L[r];
    }
    const int rows = L[rank];
    const size_t n_qkv = (size_t)B * rows * ld_qkv, n_send = (size_t)B * rows * 3 * D, n_recv = (size_t)B * Lt * 3 * Dk;
    const size_t n_att = (size_t)B * Lt * Dk, n_out = (size_t)B * rows * ld_out, n_rrow = (size_t)B * rows * D;
    struct { const char *name; size_t n_in, n_out; } ops[4] = {
        {"pack_heads", n_qkv, n_send}, {"unpack_heads", n_recv, n_recv}, {"pack_rows", n_att, n_att}, {"unpack_rows", n_rrow, n_out}};
    for (int op = 0; op < 4; op++) {
        float *in = rand_bf16_host(ops[op].n_in, 4.f), *want = rand_bf16_host(ops[op].n_out, 4.f);
        void *din = to_dev_bf16(in, ops[op].n_in), *dout = to_dev_bf16(want, ops[op].n_out);
        int e = 0;
        switch (op) {
        case 0: dit_sp_pack_heads(in, ld_qkv, B, rows, D, k, want); e = tk_sp_pack_heads(din, ld_qkv, B, rows, D, k, dout, 0); break;
        case 1: dit_sp_unpack_heads(in, B, L, D, k, want); e = tk_sp_unpack_heads(din, B, L, D, k, dout, 0); break;
        case 2: dit_sp_pack_rows(in, B, L, D, k, want); e = tk_sp_pack_rows(din, B, L, D, k, dout, 0); break;
        default: dit_sp_unpack_rows(in, B, rows, D, k, want, ld_out); e = tk_sp_unpack_rows(din, B, rows, D, k, dout, ld_out, 0); break;
        }
        char what[160];
        snprintf(what, sizeof what, "sp %s B %d, degree %d, D %d, T %d, N %d, rank %d (%d rows of %d)", ops[op].name, B, k, D, T, N, rank,
                 rows, Lt);
        if (e || sync_check(what)) {
            printf("FAIL %s: launch %s\n", what, cudaGetErrorString((cudaError_t)e));
            failures++;
        } else {
            float *got = from_dev_bf16(dout, ops[op].n_out);
            const int ok = same_floats(got, want, ops[op].n_out);
            printf("%s %s = dit/sp.c's, bit for bit\n", ok ? "PASS" : "FAIL", what);
            failures += !ok;
            free(got);
        }
        free(in); free(want);
        cudaFree(din); cudaFree(dout);
    }
}

static void test_sp_pack(void)
{
    test_sp_pack_case(1, 1, 64, 13, 30, 0);
    test_sp_pack_case(2, 2, 64, 13, 30, 1);
    test_sp_pack_case(3, 4, 128, 13, 30, 3);
    test_sp_pack_case(2, 8, 64, 13, 30, 5);
    test_sp_pack_case(2, 8, 128, 333, 256, 7);
    test_sp_pack_case(1, 8, 64, 8, 8, 0); /* one text row and one image row per rank */
}

/* The tiny configurations with 8 heads (head_dim 128 for FLUX, whose RoPE axes 16 + 56 + 56 sum to
 * it; 64 for SD3), so that degree 8 leaves one head per rank. */
static void tiny8(dit_arch arch, dit_config *c)
{
    dit_config_tiny(arch, c);
    c->n_heads = 8;
}

/* One request shape on one model: its slots at one degree (rank r's = sl[r]). */
typedef struct sp_req {
    dit_slot *sl[DIT_SP_MAX_DEGREE];
    int degree;
} sp_req;

/* seed 0: no inputs (a migration's destination); step: where it starts. */
static int sp_req_create(dit_gpu *g, int T, int gh, int gw, int n_steps, int degree, uint64_t seed, int step, sp_req *q, tetri_error *err)
{
    memset(q, 0, sizeof *q);
    q->degree = degree;
    for (int r = 0; r < degree; r++)
        if (dit_slot_create_sp(g, T, gh, gw, n_steps, degree, r, &q->sl[r], err) || (seed && dit_slot_random_inputs(q->sl[r], seed, err)) ||
            (step && dit_slot_set_step(q->sl[r], step, err)))
            return -1;
    return 0;
}

static void sp_req_destroy(sp_req *q)
{
    for (int r = 0; r < q->degree; r++) dit_slot_destroy(q->sl[r]);
    memset(q, 0, sizeof *q);
}

/* The request's whole latent [N, w] from its ranks' slots. */
static int sp_req_latent(const sp_req *q, int N, int w, float *host, tetri_error *err)
{
    for (int r = 0; r < q->degree; r++) {
        dit_sp_shard sh;
        dit_slot_shard(q->sl[r], &sh);
        if (sh.n0 + sh.nn > N || dit_slot_read_latent(q->sl[r], host + (size_t)sh.n0 * w, err)) return -1;
    }
    return 0;
}

/* k runners of degree k (one per rank, all on model g and its stream), a device transport and the
 * group over them. */
typedef struct sp_rig {
    dit_gpu_step *r[DIT_SP_MAX_DEGREE];
    dit_transport *t;
    dit_sp_group *grp;
    int k, B;
} sp_rig;

static int sp_rig_create(dit_gpu *g, int B, int T, int gh, int gw, int n_steps, int k, dit_attn_backend attn, sp_rig *x, tetri_error *err)
{
    memset(x, 0, sizeof *x);
    x->k = k;
    x->B = B;
    for (int r = 0; r < k; r++) {
        if (dit_gpu_step_create_sp(g, B, T, gh, gw, n_steps, k, r, &x->r[r], err)) return -1;
        dit_gpu_step_set_attention(x->r[r], attn);
    }
    return dit_transport_device_create(k, dit_gpu_stream(g), &x->t, err) || dit_sp_group_create(x->r, k, x->t, &x->grp, err) ? -1 : 0;
}

static void sp_rig_destroy(sp_rig *x)
{
    dit_sp_group_destroy(x->grp);
    dit_transport_destroy(x->t);
    for (int r = 0; r < x->k; r++) dit_gpu_step_destroy(x->r[r]);
    memset(x, 0, sizeof *x);
}

/* Binds requests q[0..B) (all at the rig's degree) to the rig: rank r's batch = their rank-r slots. */
static int sp_rig_bind(sp_rig *x, sp_req *const *q, tetri_error *err)
{
    dit_slot *slots[DIT_SP_MAX_DEGREE * 2];
    for (int r = 0; r < x->k; r++)
        for (int b = 0; b < x->B; b++) slots[r * x->B + b] = q[b]->sl[r];
    return dit_sp_group_bind(x->grp, slots, err);
}

/* What one run of the degree test produces: the first forward's velocity, and the latents after two
 * denoising steps through the captured graph. */
typedef struct sp_out {
    float *vel, *lat;
    int steps[2];
    dit_attn_backend attn[DIT_SP_MAX_DEGREE]; /* what each rank's runner ran (auto: what it resolved to) */
} sp_out;

/* Two requests A (seed 11, at step 2 of 6) and B (seed 22, at step 0 of 9) batched at degree k
 * (k = 1: the one-GPU runner; k > 1: the group of k ranks on this GPU through the device
 * transport): their velocity, then two steps through the captured graph (eager with the oracle,
 * whose cuBLAS calls the step's graphs never hold). */
static int sp_run(dit_gpu *g, int T, int gh, int gw, int k, dit_attn_backend attn, sp_out *o, tetri_error *err)
{
    const dit_config *c = &dit_gpu_layout(g)->cfg;
    const int N = gh * gw, w = dit_token_in(c);
    sp_req a = {0}, b = {0};
    sp_rig x = {0};
    dit_gpu_step *one = NULL;
    const int graph = attn != DIT_ATTN_ORACLE;
    int rc = sp_req_create(g, T, gh, gw, 6, k, 11, 2, &a, err) || sp_req_create(g, T, gh, gw, 9, k, 22, 0, &b, err);
    if (!rc && k == 1) {
        dit_slot *both[2] = {a.sl[0], b.sl[0]};
        rc = dit_gpu_step_create(g, 2, T, gh, gw, 6, &one, err) || (dit_gpu_step_set_attention(one, attn), 0) ||
             dit_gpu_step_bind(one, both, 2, err) || dit_gpu_step_forward(one, err) || dit_gpu_step_read_velocity(one, o->vel, err) ||
             (graph && dit_gpu_step_capture(one, err)) || dit_gpu_step_run(one, 2, err);
        if (!rc) o->attn[0] = dit_gpu_step_attention(one);
    } else if (!rc) {
        rc = sp_rig_create(g, 2, T, gh, gw, 6, k, attn, &x, err) || sp_rig_bind(&x, (sp_req *[]){&a, &b}, err) ||
             dit_sp_group_forward(x.grp, err) || dit_sp_group_read_velocity(x.grp, o->vel, err) ||
             (graph && dit_sp_group_capture(x.grp, err)) || dit_sp_group_run(x.grp, 2, err);
        for (int r = 0; !rc && r < k; r++) o->attn[r] = dit_gpu_step_attention(x.r[r]);
    }
    rc = rc || sp_req_latent(&a, N, w, o->lat, err) || sp_req_latent(&b, N, w, o->lat + (size_t)N * w, err) ||
         dit_slot_step_index(a.sl[0], &o->steps[0], err) || dit_slot_step_index(b.sl[0], &o->steps[1], err);
    sp_rig_destroy(&x);
    dit_gpu_step_destroy(one);
    sp_req_destroy(&a);
    sp_req_destroy(&b);
    return rc ? -1 : 0;
}

static const dit_attn_backend sp_backends[] = {DIT_ATTN_FLASH, DIT_ATTN_FLASH_MMA, DIT_ATTN_ORACLE,
#ifdef HAVE_CUDNN
                                               DIT_ATTN_CUDNN,
#endif
                                               DIT_ATTN_AUTO};

/* On the ampere paths the sharded runners refuse the wgmma kernel as the one-GPU runner does: at
 * degree 1 and at every degree k, by name. */
static void test_sp_flash_refused(dit_gpu *g, const char *nm, int T, int gh, int gw, sp_out *o)
{
    const dit_config *c = &dit_gpu_layout(g)->cfg;
    for (int k = 1; k <= DIT_SP_MAX_DEGREE; k *= 2) {
        tetri_error why = {{0}};
        if (dit_sp_check(c, k, T, gh * gw, &why)) continue;
        const int refused = sp_run(g, T, gh, gw, k, DIT_ATTN_FLASH, o, &why) != 0 && strstr(why.msg, "ampere paths") != NULL;
        printf("%s %s degree %d: attention flash (wgmma) refused on the ampere paths: %s\n", refused ? "PASS" : "FAIL", nm, k,
               why.msg);
        failures += !refused;
    }
}

/* Degree 2, 4, 8 (those the heads and rows allow) against degree 1, per attention backend. On the
 * ampere paths, flash (wgmma) must be refused at every degree and auto must resolve, on every rank,
 * to something other than it. */
static void test_sp_degrees_on(dit_gpu *g, const char *nm, int T, int gh, int gw, int n_backends)
{
    const dit_config *c = &dit_gpu_layout(g)->cfg;
    const size_t n = (size_t)2 * gh * gw * dit_token_in(c);
    tetri_error err = {{0}};
    sp_out ref = {malloc(n * 4), malloc(n * 4), {0}, {0}}, got = {malloc(n * 4), malloc(n * 4), {0}, {0}};
    for (int bi = 0; bi < n_backends; bi++) {
        const dit_attn_backend be = sp_backends[bi];
        if (be == DIT_ATTN_FLASH && paths != DIT_PATHS_HOPPER) {
            test_sp_flash_refused(g, nm, T, gh, gw, &got);
            continue;
        }
        if (sp_run(g, T, gh, gw, 1, be, &ref, &err)) {
            printf("FAIL %s sp degree 1, %s attention: %s\n", nm, dit_attn_backend_name(be), err.msg);
            failures++;
            continue;
        }
        for (int k = 2; k <= DIT_SP_MAX_DEGREE; k *= 2) {
            if (dit_sp_check(c, k, T, gh * gw, &err)) { printf("SKIP %s degree %d: %s\n", nm, k, err.msg); continue; }
            char what[160];
            if (sp_run(g, T, gh, gw, k, be, &got, &err)) {
                printf("FAIL %s sp degree %d, %s attention: %s\n", nm, k, dit_attn_backend_name(be), err.msg);
                failures++;
                continue;
            }
            snprintf(what, sizeof what, "%s degree %d = 1, %s attn: velocity (B 2 at steps 2, 0; T %d, %dx%d)", nm, k,
                     dit_attn_backend_name(be), T, gh, gw);
            check_max(what, got.vel, ref.vel, n, 1e-2);
            snprintf(what, sizeof what, "%s degree %d = 1, %s attn: latents after 2 %s steps", nm, k, dit_attn_backend_name(be),
                     be == DIT_ATTN_ORACLE ? "eager" : "graph");
            check_max(what, got.lat, ref.lat, n, 1e-2);
            const int ok = got.steps[0] == 4 && got.steps[1] == 2 && ref.steps[0] == 4 && ref.steps[1] == 2;
            printf("%s %s degree %d: the requests stand at steps %d and %d (want 4 and 2)\n", ok ? "PASS" : "FAIL", nm, k, got.steps[0],
                   got.steps[1]);
            failures += !ok;
            if (be == DIT_ATTN_AUTO) { /* every rank resolved alike, and never to wgmma on the ampere paths */
                int same = 1;
                for (int r = 1; r < k; r++) same &= got.attn[r] == got.attn[0];
                const int okp = same && (paths == DIT_PATHS_HOPPER || got.attn[0] != DIT_ATTN_FLASH);
                printf("%s %s degree %d: auto attention resolves to %s on %s rank (%s paths)\n", okp ? "PASS" : "FAIL", nm, k,
                       dit_attn_backend_name(got.attn[0]), same ? "every" : "NOT every", dit_gpu_paths_name(paths));
                failures += !okp;
            }
        }
    }
    free(ref.vel); free(ref.lat); free(got.vel); free(got.lat);
}

/* The group driver at degree 1 (one runner, a device transport of degree 1: no exchange) is the
 * one-GPU runner: the same velocity bit for bit. */
static void test_sp_group_degree1(dit_gpu *g, const char *nm, int T, int gh, int gw)
{
    const size_t n = (size_t)2 * gh * gw * dit_token_in(&dit_gpu_layout(g)->cfg);
    float *a = malloc(n * 4), *b = malloc(n * 4);
    tetri_error err = {{0}};
    sp_out o = {a, malloc(n * 4), {0}, {0}};
    sp_rig x = {0};
    int rc = sp_run(g, T, gh, gw, 1, fast_attn(), &o, &err) || sp_rig_create(g, 2, T, gh, gw, 6, 1, fast_attn(), &x, &err);
    sp_req q0 = {0}, q1 = {0};
    rc = rc || sp_req_create(g, T, gh, gw, 6, 1, 11, 2, &q0, &err) || sp_req_create(g, T, gh, gw, 9, 1, 22, 0, &q1, &err) ||
         sp_rig_bind(&x, (sp_req *[]){&q0, &q1}, &err) || dit_sp_group_forward(x.grp, &err) || dit_sp_group_read_velocity(x.grp, b, &err);
    if (rc) { printf("FAIL %s group of degree 1: %s\n", nm, err.msg); failures++; }
    else {
        const int same = memcmp(a, b, n * 4) == 0;
        printf("%s %s group driver at degree 1 gives the one-GPU runner's velocity bit for bit\n", same ? "PASS" : "FAIL", nm);
        failures += !same;
    }
    sp_req_destroy(&q0);
    sp_req_destroy(&q1);
    sp_rig_destroy(&x);
    free(a); free(b); free(o.lat);
}

/* The null transport: a group of one runner (rank 1 of degree 2) runs and times its share alone. */
static void test_sp_null(dit_gpu *g, const char *nm, int T, int gh, int gw)
{
    tetri_error err = {{0}};
    float ms[3];
    const int rc = dit_sp_rank_sample_ms(g, 2, T, gh, gw, 2, 1, fast_attn(), 1, 3, ms, &err);
    const int ok = rc == 0 && ms[0] > 0 && ms[1] > 0 && ms[2] > 0;
    printf("%s %s one rank (1 of 2) timed alone through the null transport: %.3f %.3f %.3f ms%s%s\n", ok ? "PASS" : "FAIL", nm, ms[0],
           ms[1], ms[2], rc ? ": " : "", rc ? err.msg : "");
    failures += !ok;
}

/* Tiny 8-head FLUX and SD3: every degree, every backend, text rows that do not divide (13). */
static void test_sp_tiny(dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "FLUX tiny8" : "SD3 tiny8";
    dit_config c;
    tiny8(arch, &c);
    dit_layout L;
    tetri_error err = {{0}};
    dit_gpu *g = NULL;
    if (dit_layout_build(&c, &L, &err) || dit_gpu_create(&L, &g, &err) || dit_gpu_init_random(g, 5150, &err)) {
        printf("FAIL %s: %s\n", nm, err.msg);
        failures++;
    } else {
        test_sp_group_degree1(g, nm, 13, 6, 5);
        test_sp_degrees_on(g, nm, 13, 6, 5, (int)(sizeof sp_backends / sizeof sp_backends[0]));
        test_sp_null(g, nm, 13, 6, 5);
    }
    dit_gpu_destroy(g);
    dit_layout_free(&L);
}

/* The true FLUX.1-dev and SD3-medium (24 heads: 3 per rank at degree 8), seeded weights, 256 px
 * (16 x 16 tokens) and their pipelines' text lengths (512; 333, which no degree divides). */
static void test_sp_full(dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "FLUX.1-dev 256px" : "SD3-medium 256px";
    dit_config c;
    if (arch == DIT_ARCH_FLUX) dit_config_flux_dev(&c);
    else dit_config_sd3_medium(&c);
    dit_layout L;
    tetri_error err = {{0}};
    dit_gpu *g = NULL;
    if (dit_layout_build(&c, &L, &err) || dit_gpu_create(&L, &g, &err) || dit_gpu_init_random(g, 7, &err)) {
        printf("FAIL %s: %s\n", nm, err.msg);
        failures++;
    } else
        test_sp_degrees_on(g, nm, dit_default_text_tokens(&c), 16, 16, (int)(sizeof sp_backends / sizeof sp_backends[0]));
    dit_gpu_destroy(g);
    dit_layout_free(&L);
}

/* Migration: request X (seed 33, at step 1 of 8) batched with Y (seed 44, at step 0 of 8) runs 2
 * steps at degree 1, moves to degree 4 (conditioning copied), 2 steps, to degree 2 (X's
 * recomputed, Y's kept: its new slots were given its inputs), 2 steps; both must end where the same
 * requests end after 6 steps at degree 1, never moved. */
static int sp_migrate_run(dit_gpu *g, int T, int gh, int gw, int move, float *lat, tetri_error *err)
{
    const dit_config *c = &dit_gpu_layout(g)->cfg;
    const int N = gh * gw, w = dit_token_in(c);
    sp_req x1 = {0}, y1 = {0}, x4 = {0}, y4 = {0}, x2 = {0}, y2 = {0};
    sp_rig r1 = {0}, r4 = {0}, r2 = {0};
    int sx = -1, sy = -1;
    int rc = sp_req_create(g, T, gh, gw, 8, 1, 33, 1, &x1, err) || sp_req_create(g, T, gh, gw, 8, 1, 44, 0, &y1, err) ||
             sp_rig_create(g, 2, T, gh, gw, 8, 1, DIT_ATTN_AUTO, &r1, err) || sp_rig_bind(&r1, (sp_req *[]){&x1, &y1}, err) ||
             dit_sp_group_capture(r1.grp, err) || dit_sp_group_run(r1.grp, move ? 2 : 6, err);
    const sp_req *fx = &x1, *fy = &y1;
    if (!rc && move) {
        rc = sp_req_create(g, T, gh, gw, 8, 4, 0, 0, &x4, err) || sp_req_create(g, T, gh, gw, 8, 4, 0, 0, &y4, err) ||
             dit_slot_migrate(x4.sl, 4, x1.sl, 1, DIT_MIGRATE_COPY, err) || dit_slot_migrate(y4.sl, 4, y1.sl, 1, DIT_MIGRATE_COPY, err) ||
             sp_rig_create(g, 2, T, gh, gw, 8, 4, DIT_ATTN_AUTO, &r4, err) || sp_rig_bind(&r4, (sp_req *[]){&x4, &y4}, err) ||
             dit_sp_group_capture(r4.grp, err) || dit_sp_group_run(r4.grp, 2, err) ||
             /* Y's new slots get its inputs (seed 44: the same conditioning), then KEEP moves only its rows and step */
             sp_req_create(g, T, gh, gw, 8, 2, 0, 0, &x2, err) || sp_req_create(g, T, gh, gw, 8, 2, 44, 0, &y2, err) ||
             dit_slot_migrate(x2.sl, 2, x4.sl, 4, DIT_MIGRATE_RECOMPUTE, err) ||
             dit_slot_migrate(y2.sl, 2, y4.sl, 4, DIT_MIGRATE_KEEP, err) || sp_rig_create(g, 2, T, gh, gw, 8, 2, DIT_ATTN_AUTO, &r2, err) ||
             sp_rig_bind(&r2, (sp_req *[]){&x2, &y2}, err) || dit_sp_group_capture(r2.grp, err) || dit_sp_group_run(r2.grp, 2, err);
        fx = &x2;
        fy = &y2;
    }
    rc = rc || sp_req_latent(fx, N, w, lat, err) || sp_req_latent(fy, N, w, lat + (size_t)N * w, err) ||
         dit_slot_step_index(fx->sl[0], &sx, err) || dit_slot_step_index(fy->sl[0], &sy, err);
    if (!rc && (sx != 7 || sy != 6)) rc = tetri_errorf(err, "the requests stand at steps %d and %d, not 7 and 6", sx, sy);
    sp_rig_destroy(&r1); sp_rig_destroy(&r4); sp_rig_destroy(&r2);
    sp_req_destroy(&x1); sp_req_destroy(&y1); sp_req_destroy(&x4); sp_req_destroy(&y4); sp_req_destroy(&x2); sp_req_destroy(&y2);
    return rc ? -1 : 0;
}

static void test_sp_migrate(dit_arch arch)
{
    const char *nm = arch == DIT_ARCH_FLUX ? "FLUX tiny8" : "SD3 tiny8";
    const int T = 13, gh = 6, gw = 5;
    dit_config c;
    tiny8(arch, &c);
    dit_layout L;
    tetri_error err = {{0}};
    dit_gpu *g = NULL;
    const size_t n = (size_t)2 * gh * gw * dit_token_in(&c);
    float *still = malloc(n * 4), *moved = malloc(n * 4);
    if (dit_layout_build(&c, &L, &err) || dit_gpu_create(&L, &g, &err) || dit_gpu_init_random(g, 6060, &err) ||
        sp_migrate_run(g, T, gh, gw, 0, still, &err) || sp_migrate_run(g, T, gh, gw, 1, moved, &err)) {
        printf("FAIL %s migration: %s\n", nm, err.msg);
        failures++;
    } else {
        char what[160];
        snprintf(what, sizeof what, "%s 2 steps at degree 1, 4, 2 (migrated twice) = 6 at 1 (X and Y)", nm);
        check_max(what, moved, still, n, 1e-2);
    }
    dit_gpu_destroy(g);
    dit_layout_free(&L);
    free(still);
    free(moved);
}

int main(int argc, char **argv)
{
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    struct cudaDeviceProp prop;
    cudaGetDeviceProperties(&prop, 0);
    if (argc == 3 && strcmp(argv[1], "--export") == 0) /* for bench/reference/tiny_diffusers_check.py */
        return export_case(argv[2], DIT_ARCH_FLUX) + export_case(argv[2], DIT_ARCH_SD3);
    printf("# check-gpu on %s\n", prop.name);
    tetri_error err = {{0}};
    char paths_text[384];
    if (prop.major >= 8 && tk_attention_wgmma_built(&wgmma_built)) {
        printf("FAIL probing the build's kernels on %s (sm_%d%d): no code for it? (configure --with-cuda-arch)\n", prop.name, prop.major,
               prop.minor);
        return 1;
    }
    if (dit_gpu_paths_choose(prop.name, prop.major, prop.minor, wgmma_built, getenv(DIT_GPU_PATHS_ENV), &paths, paths_text,
                             sizeof paths_text, &err)) {
        printf("FAIL %s\n", err.msg);
        return 1;
    }
    printf("# %s; device code built for %s\n", paths_text, TETRI_CUDA_ARCHS);
#ifdef HAVE_CUDNN
    long cudnn_rt, cudnn_built;
    dit_cudnn_versions(&cudnn_rt, &cudnn_built);
    printf("# cuDNN %ld.%ld.%ld at run time, built against %ld.%ld.%ld\n", cudnn_rt / 10000, cudnn_rt / 100 % 100, cudnn_rt % 100,
           cudnn_built / 10000, cudnn_built / 100 % 100, cudnn_built % 100);
    if (dit_cudnn_attn_create(&cudnn_ctx, &cudnn_err)) { printf("FAIL %s\n", cudnn_err.msg); return 1; }
#endif
    if (argc == 2 && strcmp(argv[1], "--bench-attention") == 0) {
        const int l128[4] = {768, 1536, 4608, 16896}, l64[4] = {589, 1357, 4429, 16717};
        for (int i = 0; i < 4; i++) bench_attention(l128[i], 128, 1);
        for (int i = 0; i < 4; i++) bench_attention(l64[i], 64, 1);
#ifdef HAVE_CUDNN
        printf("# cuDNN's last plan: %s\n", dit_cudnn_attn_plan_info(cudnn_ctx));
        dit_cudnn_attn_destroy(cudnn_ctx);
#endif
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--sp") == 0) { /* the sequence-parallel checks alone */
        test_sp_pack();
        test_sp_tiny(DIT_ARCH_FLUX);
        test_sp_tiny(DIT_ARCH_SD3);
        test_sp_migrate(DIT_ARCH_FLUX);
        test_sp_migrate(DIT_ARCH_SD3);
        test_sp_full(DIT_ARCH_FLUX);
        test_sp_full(DIT_ARCH_SD3);
        printf("%s: %d check(s) failed\n", failures ? "FAILED" : "ALL PASSED", failures);
        return failures ? 1 : 0;
    }
    dit_gemm_ctx *g;
    cublasHandle_t cb;
    if (dit_gemm_create(0, &g, &err) || cublasCreate(&cb) != CUBLAS_STATUS_SUCCESS) { printf("FAIL: %s\n", err.msg); return 1; }
    test_gemm(g);
    test_gemm_batched(g, DIT_EPI_BIAS);
    test_gemm_batched(g, DIT_EPI_GELU_BIAS);
    test_ln_mod(0);
    test_ln_mod(1);
    test_qk_norm_rope(64);
    test_qk_norm_rope(128);
    if (!wgmma_built) { /* the wgmma launcher must refuse a device without sm_90a code, not launch an empty kernel */
        const int e = tk_attention_wgmma(NULL, NULL, NULL, 8, 8, NULL, 8, 8, 1, 1, 1, 128, 0);
        printf("%s wgmma attention refused where this device runs no sm_90a code: %s\n",
               e == cudaErrorNoKernelImageForDevice ? "PASS" : "FAIL", cudaGetErrorString((cudaError_t)e));
        failures += e != cudaErrorNoKernelImageForDevice;
    }
    for (int wg = 0; wg < N_ATTN_VARIANTS; wg++) {
        if (wg == 1 && paths != DIT_PATHS_HOPPER) {
            printf("SKIP wgmma attention kernel checks: the %s paths run no wgmma\n", dit_gpu_paths_name(paths));
            continue;
        }
        test_attention(wg, 128, 200, 2, 2, 1, cb);
        test_attention(wg, 64, 333 + 64, 2, 1, 1, cb);
        test_attention(wg, 128, 64, 1, 1, 1, cb);
        test_attention(wg, 128, 300, 3, 1, 1, cb);
        test_attention(wg, 64, 129, 2, 2, 1, cb);
        test_attention(wg, 128, 1, 1, 1, 1, cb);
        test_attention(wg, 128, 4608, 24, 1, 0, cb);
        test_attention(wg, 64, 4096 + 333, 24, 1, 0, cb);
    }
#ifdef HAVE_CUDNN
    printf("# cuDNN's last plan: %s\n", dit_cudnn_attn_plan_info(cudnn_ctx));
#endif
    test_init_matches_cpu();
    test_step(DIT_ARCH_FLUX);
    test_step(DIT_ARCH_SD3);
    test_slots_batched(DIT_ARCH_FLUX);
    test_slots_batched(DIT_ARCH_SD3);
    test_run_marked(DIT_ARCH_FLUX);
    test_run_marked(DIT_ARCH_SD3);
    test_sp_pack();
    test_sp_tiny(DIT_ARCH_FLUX);
    test_sp_tiny(DIT_ARCH_SD3);
    test_sp_migrate(DIT_ARCH_FLUX);
    test_sp_migrate(DIT_ARCH_SD3);
    test_sp_full(DIT_ARCH_FLUX);
    test_sp_full(DIT_ARCH_SD3);
    /* the tetri binary: $TETRI, else three levels above this program (BUILD/tests/gpu/test_gpu) */
    char tetri[1024];
    if (getenv("TETRI")) snprintf(tetri, sizeof tetri, "%s", getenv("TETRI"));
    else {
        snprintf(tetri, sizeof tetri, "%s", argv[0]);
        for (int up = 0; up < 3; up++) { char *sl = strrchr(tetri, '/'); if (sl) *sl = 0; else { strcpy(tetri, "."); break; } }
        strncat(tetri, "/tetri", sizeof tetri - strlen(tetri) - 1);
    }
    test_cli_inputs(tetri);
    bench_attention(768, 128, 0);
    bench_attention(4608, 128, 0);
    bench_attention(16896, 128, 0);
    bench_attention(4429, 64, 0);
    bench_attention(16717, 64, 0);
    dit_gemm_destroy(g);
    cublasDestroy(cb);
#ifdef HAVE_CUDNN
    dit_cudnn_attn_destroy(cudnn_ctx);
#endif
    printf("%s: %d check(s) failed\n", failures ? "FAILED" : "ALL PASSED", failures);
    return failures ? 1 : 0;
}
