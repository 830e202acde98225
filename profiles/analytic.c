/* profiles/analytic.c: the analytic per-step latency model and its calibration (see analytic.h and
 * docs/profiles.md). Every constant here comes from ../shared/reference/MEASUREMENTS.md, a
 * datasheet, or the fit; each says which. */
#include "profiles/analytic.h"

#include "core/options.h"

#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

/* ---- model shapes (dit_bench.py build()) ---------------------------------------------------- */

typedef struct dit_shape {
    int hidden, heads, n_double, n_single, text_tokens, latent_channels, text_dim, pooled_dim;
    int qk_norm_rope; /* FLUX: RMSNorm on q, k and RoPE in every attention; SD3-medium: neither */
} dit_shape;

static const dit_shape shapes[TETRI_MODEL_COUNT] = {
    [TETRI_MODEL_FLUX_DEV] = {3072, 24, 19, 38, 512, 64, 4096, 768, 1},
    [TETRI_MODEL_SD3_MEDIUM] = {1536, 24, 24, 0, 333, 64, 4096, 2048, 0},
};

/* Element-wise traffic of the eager blocks, in bytes per token per hidden unit, counted op by op
 * from dit_bench.py (every unfused op reads and writes its bf16 operands; RMSNorm goes through
 * fp32): a double/joint block's stream is 76 without q/k norm and RoPE, 156 with them; a FLUX
 * single block is 142. The SP path adds contiguous copies around its all-to-alls: 28. */
#define EW_BYTES_DOUBLE_PLAIN 76.0
#define EW_BYTES_DOUBLE_QKROPE 156.0
#define EW_BYTES_SINGLE 142.0
#define EW_BYTES_SP_COPIES 28.0
/* Kernel launches per block, counted the same way (GEMMs, norms, modulation, gates, residuals,
 * RMSNorm 7 ops per tensor, RoPE 7 per tensor, concatenations, SDPA, layout copies). */
#define KERNELS_DOUBLE_PLAIN 42.0
#define KERNELS_DOUBLE_QKROPE 84.0
#define KERNELS_SINGLE 42.0
#define KERNELS_STEP_FIXED 8.0   /* embedders, final norm and projection */
#define KERNELS_SP_PER_ATTN 7.0  /* the copies around the 4 all-to-alls */
#define COLLECTIVES_PER_ATTN 4.0 /* q, k, v heads-to-sequence, output back (dit_sp_bench.py) */
/* GPU-side floor of one small kernel (launch latency on the device, tail effects). Assumed. */
#define KERNEL_GPU_FLOOR_S 2.0e-6

/* ---- achieved rates on H100 (MEASUREMENTS.md "Ceilings") ------------------------------------ */

/* bf16 GEMM: 643 TFLOP/s at M = 768 rising to ~765-800 at M >= 4608; M/(M + M_half) through
 * those points gives a peak of 780 and M_half 164. */
#define GEMM_PEAK_FLOPS 780e12
#define GEMM_M_HALF 164.0

/* cuDNN SDPA (PyTorch's default pick on H100), 24 heads of 128, TFLOP/s by total tokens. */
static const double attn_tokens[] = {768, 1536, 4608, 9728, 16896};
static const double attn_tflops[] = {264, 446, 652, 697, 679};
#define N_ATTN_POINTS (sizeof attn_tokens / sizeof attn_tokens[0])

static double attention_rate(double tokens)
{
    /* Below the table, fewer query tiles than SMs: the rate falls in proportion. Above it, flat. */
    if (tokens <= attn_tokens[0]) return attn_tflops[0] * 1e12 * tokens / attn_tokens[0];
    for (size_t i = 1; i < N_ATTN_POINTS; i++)
        if (tokens <= attn_tokens[i]) {
            double t = log(tokens / attn_tokens[i - 1]) / log(attn_tokens[i] / attn_tokens[i - 1]);
            return (attn_tflops[i - 1] + t * (attn_tflops[i] - attn_tflops[i - 1])) * 1e12;
        }
    return attn_tflops[N_ATTN_POINTS - 1] * 1e12;
}

static double gemm_rate(double rows) { return GEMM_PEAK_FLOPS * rows / (rows + GEMM_M_HALF); }

/* ---- hardware -------------------------------------------------------------------------------- */

/* NVLink 4 effective all-to-all rate: NCCL between 2 H200s moved 256 MiB per rank (half of it to
 * the peer) in 476 us and 64 MiB in 136 us: ~282 GB/s of remote bytes, 24 us floor. That is 0.63
 * of the 450 GB/s per direction of the datasheet; the A40 and PCIe figures apply the same 0.63. */
#define LINK_EFFICIENCY 0.63
#define LINK_H200_NCCL                                                                                                  \
    "NCCL all-to-all between 2 x H200 (NVLink 4): 256 MiB per rank in 476 us, 64 MiB in 136 us: 282 GB/s of remote "   \
    "bytes, 24 us floor (0.63 of the 450 GB/s datasheet); slow link PCIe 5.0 x16 64 GB/s x 0.63"

static const analytic_hw hardware[] = {
    {"h100x8", "NVIDIA H100 80GB HBM3", 8, 8, 282.0, 64.0 * LINK_EFFICIENCY, 24.0, 3350.0, ANALYTIC_MEM_HBM3, 1.0, 1,
     "H100 SXM x8, one NVLink 4 domain; rates measured on H100, links from the H200 NCCL test", LINK_H200_NCCL},
    {"h200x8", "NVIDIA H200", 8, 8, 282.0, 64.0 * LINK_EFFICIENCY, 24.0, 4800.0, ANALYTIC_MEM_HBM3E, 1.0, 1,
     "H200 SXM x8, one NVLink 4 domain; same compute as H100, 4.8 TB/s HBM3e; measured on 2 x H200", LINK_H200_NCCL},
    /* A40: 149.7 dense bf16 TFLOP/s vs the H100's 989.4 (datasheets), 696 GB/s GDDR6, NVLink bridge
     * 112.5 GB/s both directions between pairs, PCIe 4.0 x16 (32 GB/s) between pairs. */
    {"a40x4", "NVIDIA A40", 4, 2, 56.25 * LINK_EFFICIENCY, 32.0 * LINK_EFFICIENCY, 30.0, 696.0, ANALYTIC_MEM_GDDR6,
     149.7 / 989.4, 0,
     "A40 x4, NVLink bridges in pairs 0-1 and 2-3, PCIe 4.0 x16 between pairs; NO A40 measurement: the H100's achieved "
     "curves x 149.7/989.4 (dense bf16 tensor TFLOP/s, A40 and H100 SXM datasheets), 696 GB/s GDDR6 (A40 datasheet), "
     "NVLink 56.25 and PCIe 32 GB/s per direction x 0.63, host costs of the H100/H200 fit; the Ampere kernels timed on "
     "Hopper (docs/ampere.md) are not A40 rates and are not used",
     "datasheets: NVLink bridge 112.5 GB/s both directions (56.25 per direction), PCIe 4.0 x16 32 GB/s, each x 0.63 "
     "(the H200 NCCL test's efficiency); 30 us floor assumed"},
};
#define N_HARDWARE ((int)(sizeof hardware / sizeof hardware[0]))

int analytic_hardware_count(void) { return N_HARDWARE; }
const analytic_hw *analytic_hardware_at(int i)
{
    assert(i >= 0 && i < N_HARDWARE);
    return &hardware[i];
}
const analytic_hw *analytic_hardware_find(const char *name)
{
    for (int i = 0; name && i < N_HARDWARE; i++)
        if (strcmp(hardware[i].name, name) == 0) return &hardware[i];
    return NULL;
}

/* The output of `tetri profile --analytic --fit` over the calibration rows below, frozen. */
static const analytic_params default_params = {
    .launch_us = 15.6,
    .coll_host_us = 184.0,
    .ew_efficiency = 0.482,
    .ew_efficiency_hbm3e = 0.385,
    .overlap_p = 16.0,
    .attn_head64_factor = 0.578,
};
const analytic_params *analytic_default_params(void) { return &default_params; }

/* The settable constants, their fields and sane ranges (outside them the model means nothing).
 * A range's lower end is written with a decimal point: the option parser reads "%lf..%lf", and
 * "0..1" would scan as "0." and then miss the "..". */
static const struct {
    const char *name, *range, *help;
    size_t offset;
} settable[] = {
    {"launch_us", "0.0..100000", "host time per kernel launch, us", offsetof(analytic_params, launch_us)},
    {"coll_host_us", "0.0..1000000", "host time per all-to-all, us", offsetof(analytic_params, coll_host_us)},
    {"ew_efficiency", "0.01..1", "element-wise fraction of HBM3/GDDR6 bandwidth", offsetof(analytic_params, ew_efficiency)},
    {"ew_efficiency_hbm3e", "0.01..1", "the same on HBM3e", offsetof(analytic_params, ew_efficiency_hbm3e)},
    {"overlap_p", "1.0..64", "host/GPU overlap exponent", offsetof(analytic_params, overlap_p)},
    {"attn_head64_factor", "0.05..1", "attention rate at head dim 64 vs 128", offsetof(analytic_params, attn_head64_factor)},
};
#define N_SETTABLE (sizeof settable / sizeof settable[0])

int analytic_params_set(analytic_params *prm, const char *text, tetri_error *err)
{
    /* The option parser wants textual defaults: the current values. */
    char defaults[N_SETTABLE][32];
    tetri_option_spec spec[N_SETTABLE + 1];
    for (size_t i = 0; i < N_SETTABLE; i++) {
        snprintf(defaults[i], sizeof defaults[i], "%.17g", *(const double *)((const char *)prm + settable[i].offset));
        spec[i] = (tetri_option_spec){settable[i].name, TETRI_OPT_DOUBLE, defaults[i], settable[i].range, settable[i].help};
    }
    spec[N_SETTABLE] = (tetri_option_spec){NULL, 0, NULL, NULL, NULL};
    tetri_options o;
    if (tetri_options_parse(spec, text, &o, err) < 0) return tetri_error_prefix(err, "--set");
    for (size_t i = 0; i < N_SETTABLE; i++)
        *(double *)((char *)prm + settable[i].offset) = tetri_options_double(&o, settable[i].name);
    return 0;
}

/* ---- the model --------------------------------------------------------------------------------- */

double analytic_step(const analytic_hw *hw, const analytic_params *prm, tetri_model model, int width,
                     int height, int degree, int batch, tetri_link link, analytic_breakdown *out)
{
    assert(hw && prm && (unsigned)model < TETRI_MODEL_COUNT);
    assert(width > 0 && height > 0 && degree >= 1 && batch >= 1);
    const dit_shape *s = &shapes[model];
    const double k = degree, b = batch, D = s->hidden;
    const double img = (double)(width / 16) * (height / 16);
    /* Text tokens are padded to a multiple of the degree (SD3's 333 -> 336 at SP=2). */
    const double txt = degree > 1 ? ceil((double)s->text_tokens / degree) * degree : s->text_tokens;
    const double all = img + txt;
    const double n_attn = s->n_double + s->n_single;

    /* GEMMs: 12 D^2 multiply-adds per token per stream in a double block (qkv 3, out 1, MLP 8) and
     * 12 D^2 in a single block (qkv+mlp-in 7, out 5); each rank has 1/k of the tokens. */
    double gemm_s = 0;
    const double img_rows = b * img / k, txt_rows = b * txt / k, all_rows = b * all / k;
    gemm_s += s->n_double * (24.0 * D * D * img_rows / gemm_rate(img_rows) + 24.0 * D * D * txt_rows / gemm_rate(txt_rows));
    gemm_s += s->n_single * 24.0 * D * D * all_rows / gemm_rate(all_rows);
    gemm_s += 2.0 * D * (img_rows * 2.0 * s->latent_channels + txt_rows * s->text_dim) / gemm_rate(img_rows);

    /* Attention: 4 D L^2 FLOPs over all tokens, 1/k of the heads on each rank. The rate is read at
     * b L / k tokens: the same number of query tiles as the full-head measurement there. */
    const double attn_flops = n_attn * 4.0 * D * all * all * b / k;
    const double head_factor = D / s->heads < 128 ? prm->attn_head64_factor : 1.0;
    const double attn_s = attn_flops / (attention_rate(b * all / k) * head_factor * hw->compute_scale);
    gemm_s /= hw->compute_scale;

    const double per_stream = s->qk_norm_rope ? EW_BYTES_DOUBLE_QKROPE : EW_BYTES_DOUBLE_PLAIN;
    double ew_bytes = D * all_rows * (s->n_double * per_stream + s->n_single * EW_BYTES_SINGLE);
    if (degree > 1) ew_bytes += D * all_rows * n_attn * EW_BYTES_SP_COPIES;
    const double ew_eff = hw->memory == ANALYTIC_MEM_HBM3E ? prm->ew_efficiency_hbm3e : prm->ew_efficiency;
    const double ew_s = ew_bytes / (hw->hbm_gbps * 1e9 * ew_eff);

    const double kernels = KERNELS_STEP_FIXED + s->n_double * (s->qk_norm_rope ? KERNELS_DOUBLE_QKROPE : KERNELS_DOUBLE_PLAIN) +
                           s->n_single * KERNELS_SINGLE + (degree > 1 ? n_attn * KERNELS_SP_PER_ATTN : 0);
    const double collectives = degree > 1 ? n_attn * COLLECTIVES_PER_ATTN : 0;
    /* Each all-to-all sends (k-1)/k of a rank's L/k x D bf16 tensor to the others. */
    const double a2a_bytes = all * D * 2.0 * b * (k - 1.0) / (k * k);
    const double comm_s = collectives * analytic_a2a_s(hw, a2a_bytes, degree > 1 ? link : TETRI_LINK_FAST);
    const double floor_s = kernels * KERNEL_GPU_FLOOR_S;

    const double gpu_s = gemm_s + attn_s + ew_s + floor_s + comm_s;
    const double host_s = kernels * prm->launch_us * 1e-6 + collectives * prm->coll_host_us * 1e-6;
    const double p = prm->overlap_p;
    /* (H^p + G^p)^(1/p), scaled by the larger so the powers cannot overflow. */
    const double big = gpu_s > host_s ? gpu_s : host_s;
    const double step_s = big * pow(pow(gpu_s / big, p) + pow(host_s / big, p), 1.0 / p);
    if (out) {
        *out = (analytic_breakdown){gemm_s, attn_s, ew_s, floor_s, comm_s, gpu_s, host_s, step_s, kernels, collectives};
    }
    assert(step_s > 0);
    return step_s;
}

double analytic_a2a_s(const analytic_hw *hw, double bytes, tetri_link link)
{
    const double gbps = link == TETRI_LINK_SLOW ? hw->slow_link_gbps : hw->fast_link_gbps;
    return hw->a2a_latency_us * 1e-6 + bytes / (gbps * 1e9);
}

double analytic_migration(const analytic_hw *hw, tetri_model model, int width, int height, tetri_link link)
{
    assert((unsigned)model < TETRI_MODEL_COUNT);
    const dit_shape *s = &shapes[model];
    /* bf16 latent (packed 2x2: 64 channels a token), text embeddings, pooled vector. */
    const double img = (double)(width / 16) * (height / 16);
    const double bytes = 2.0 * (img * s->latent_channels + (double)s->text_tokens * s->text_dim + s->pooled_dim);
    const double gbps = link == TETRI_LINK_SLOW ? hw->slow_link_gbps : hw->fast_link_gbps;
    /* Fixed part: a peer copy per tensor (three) plus the event the destination waits on. Assumed
     * 3 x the all-to-all floor. */
    return 3.0 * hw->a2a_latency_us * 1e-6 + bytes / (gbps * 1e9);
}

/* ---- calibration -------------------------------------------------------------------------------- */

#define FLUX TETRI_MODEL_FLUX_DEV
#define SD3 TETRI_MODEL_SD3_MEDIUM
static const char src_h200[] = "2xH200 SP table";
static const char src_h100[] = "H100 reference column";
static const analytic_calib_row calibration[] = {
    /* 2 x H200 (NV18), PyTorch eager Ulysses. FLUX 256/512 SP=1 are ranges (45-64, 58-67): midpoints. */
    {"h200x8", src_h200, FLUX, 256, 1, 54.5},   {"h200x8", src_h200, FLUX, 512, 1, 62.5},
    {"h200x8", src_h200, FLUX, 768, 1, 99.6},   {"h200x8", src_h200, FLUX, 1024, 1, 170.6},
    {"h200x8", src_h200, FLUX, 1536, 1, 410.2}, {"h200x8", src_h200, FLUX, 2048, 1, 844.2},
    {"h200x8", src_h200, FLUX, 256, 2, 98.7},   {"h200x8", src_h200, FLUX, 512, 2, 101.4},
    {"h200x8", src_h200, FLUX, 768, 2, 100.8},  {"h200x8", src_h200, FLUX, 1024, 2, 112.4},
    {"h200x8", src_h200, FLUX, 1536, 2, 234.0}, {"h200x8", src_h200, FLUX, 2048, 2, 472.0},
    {"h200x8", src_h200, SD3, 256, 1, 14.2},    {"h200x8", src_h200, SD3, 512, 1, 14.3},
    {"h200x8", src_h200, SD3, 768, 1, 15.8},    {"h200x8", src_h200, SD3, 1024, 1, 26.3},
    {"h200x8", src_h200, SD3, 1536, 1, 68.9},   {"h200x8", src_h200, SD3, 2048, 1, 159.2},
    {"h200x8", src_h200, SD3, 256, 2, 36.6},    {"h200x8", src_h200, SD3, 512, 2, 37.8},
    {"h200x8", src_h200, SD3, 768, 2, 37.9},    {"h200x8", src_h200, SD3, 1024, 2, 30.4},
    {"h200x8", src_h200, SD3, 1536, 2, 42.9},   {"h200x8", src_h200, SD3, 2048, 2, 90.3},
    /* One H100 80GB HBM3, the reference column beside diffusers. */
    {"h100x8", src_h100, FLUX, 256, 1, 41.6},   {"h100x8", src_h100, FLUX, 512, 1, 61.0},
    {"h100x8", src_h100, FLUX, 1024, 1, 180.5}, {"h100x8", src_h100, FLUX, 2048, 1, 875.9},
    {"h100x8", src_h100, SD3, 256, 1, 17.9},    {"h100x8", src_h100, SD3, 512, 1, 19.0},
    {"h100x8", src_h100, SD3, 1024, 1, 27.0},   {"h100x8", src_h100, SD3, 2048, 1, 164.1},
};
#define N_CALIBRATION ((int)(sizeof calibration / sizeof calibration[0]))

int analytic_calibration_count(void) { return N_CALIBRATION; }
const analytic_calib_row *analytic_calibration_at(int i)
{
    assert(i >= 0 && i < N_CALIBRATION);
    return &calibration[i];
}

double analytic_calibration_predict(const analytic_calib_row *row, const analytic_params *prm)
{
    const analytic_hw *hw = analytic_hardware_find(row->hardware);
    assert(hw);
    return 1e3 * analytic_step(hw, prm, row->model, row->res, row->res, row->degree, 1, TETRI_LINK_FAST, NULL);
}

/* Parameters travel through the fit as logs so every one stays positive; efficiencies and the
 * head-dim factor are capped at 1 and p kept in [1, 16] (outside those the model means nothing). */
static void params_from_vector(const gsl_vector *x, analytic_params *prm)
{
    prm->launch_us = exp(gsl_vector_get(x, 0));
    prm->coll_host_us = exp(gsl_vector_get(x, 1));
    prm->ew_efficiency = fmin(1.0, exp(gsl_vector_get(x, 2)));
    prm->overlap_p = fmin(16.0, fmax(1.0, exp(gsl_vector_get(x, 3))));
    prm->ew_efficiency_hbm3e = fmin(1.0, exp(gsl_vector_get(x, 4)));
    prm->attn_head64_factor = fmin(1.0, exp(gsl_vector_get(x, 5)));
}

static double mean_sq_log_error(const gsl_vector *x, void *unused)
{
    (void)unused;
    analytic_params prm;
    params_from_vector(x, &prm);
    double sum = 0;
    for (int i = 0; i < N_CALIBRATION; i++) {
        double e = log(analytic_calibration_predict(&calibration[i], &prm) / calibration[i].measured_ms);
        sum += e * e;
    }
    return sum / N_CALIBRATION;
}

/* One Nelder-Mead descent from *prm. Returns the mean squared log error reached. */
static double fit_once(analytic_params *prm)
{
    enum { N_FIT = 6 };
    gsl_vector *x = gsl_vector_alloc(N_FIT), *step = gsl_vector_alloc(N_FIT);
    gsl_vector_set(x, 0, log(prm->launch_us));
    gsl_vector_set(x, 1, log(prm->coll_host_us));
    gsl_vector_set(x, 2, log(prm->ew_efficiency));
    gsl_vector_set(x, 3, log(prm->overlap_p));
    gsl_vector_set(x, 4, log(prm->ew_efficiency_hbm3e));
    gsl_vector_set(x, 5, log(prm->attn_head64_factor));
    gsl_vector_set_all(step, 0.3);
    gsl_multimin_function f = {.f = mean_sq_log_error, .n = N_FIT, .params = NULL};
    gsl_multimin_fminimizer *m = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, N_FIT);
    gsl_multimin_fminimizer_set(m, &f, x, step);
    for (int it = 0; it < 2000; it++) {
        if (gsl_multimin_fminimizer_iterate(m) != GSL_SUCCESS) break;
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-6) == GSL_SUCCESS) break;
    }
    params_from_vector(gsl_multimin_fminimizer_x(m), prm);
    double msq = gsl_multimin_fminimizer_minimum(m);
    gsl_multimin_fminimizer_free(m);
    gsl_vector_free(x);
    gsl_vector_free(step);
    return msq;
}

double analytic_fit(analytic_params *prm)
{
    /* The caps (efficiency <= 1, 1 <= p <= 16) make flat regions a simplex can shrink into:
     * restart from where it stopped until a restart no longer improves. */
    double best = fit_once(prm);
    for (int restart = 0; restart < 8; restart++) {
        analytic_params again = *prm;
        double msq = fit_once(&again);
        if (msq >= best * (1 - 1e-9)) break;
        best = msq;
        *prm = again;
    }
    return sqrt(best);
}
