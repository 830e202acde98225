/* profiles/analytic.h: the analytic per-step latency model, its calibration against measured rows,
 * and the generator that writes a profile database from it.
 * defines: analytic_hw, analytic_params, analytic_breakdown, analytic_calib_row, analytic_hardware*,
 *          analytic_params_set, analytic_step, analytic_a2a_s, analytic_calibration*, analytic_fit, analytic_generate,
 *          analytic_may_replace.
 *
 * The model (DESIGN section 3; docs/profiles.md derives it): one denoising step of a DiT in the
 * PyTorch-eager Ulysses style the reference measures (../shared/reference/MEASUREMENTS.md):
 *   GPU time  G = GEMM FLOPs / achieved GEMM rate(M) + attention FLOPs / achieved attention rate(L)
 *               + element-wise bytes / (HBM bandwidth x efficiency) + kernels x per-kernel GPU floor
 *               + per all-to-all (latency + bytes / link bandwidth)
 *   host time H = kernels x launch cost + collectives x per-collective host cost
 *   step      = (H^p + G^p)^(1/p): eager launches run ahead of the GPU, so the two overlap; p -> inf
 *               is a perfect max, a finite p charges the stalls where both are about equal.
 * At degree k every rank does 1/k of the tokens' GEMM and element-wise work and 1/k of the heads'
 * attention over all tokens, plus 4 all-to-alls per attention (q, k, v in, output back). */
#ifndef TETRI_PROFILES_ANALYTIC_H
#define TETRI_PROFILES_ANALYTIC_H

#include "core/error.h"
#include "core/types.h"

/* The calibrated constants, shared by every hardware (they describe the executor, not the GPU). */
typedef struct analytic_params {
    double launch_us;       /* host time per kernel launch, eager PyTorch */
    double coll_host_us;    /* host time per all-to-all (ProcessGroupNCCL enqueue, rank skew) */
    double ew_efficiency;   /* achieved fraction of datasheet memory bandwidth by unfused element-wise
                             * ops (H100 HBM3; also applied to the A40's GDDR6, an assumption) */
    double ew_efficiency_hbm3e; /* the same on H200 HBM3e: the reference's H200 is only ~4% faster than
                                 * the H100 where element-wise work is a third of the step, so the
                                 * 43% more bandwidth is not reached; fitted separately */
    double overlap_p;       /* the p of (H^p + G^p)^(1/p) */
    double attn_head64_factor; /* attention rate at head dim 64 (SD3-medium) relative to the measured
                                * head-dim-128 table: half the FLOPs per softmax exponential, so the
                                * exponential units bind earlier. FlashAttention-3 reports ~0.6-0.77
                                * on H100; fitted here */
} analytic_params;

enum { ANALYTIC_MEM_HBM3 = 0, ANALYTIC_MEM_HBM3E = 1, ANALYTIC_MEM_GDDR6 = 2 };

/* One hardware setup. Rates are the GPU's; link figures are effective (achieved) per direction. */
typedef struct analytic_hw {
    const char *name;            /* profile hardware name: "h100x8" */
    const char *gpu;             /* "NVIDIA H100 80GB HBM3" */
    int n_gpus, fast_domain_size;
    double fast_link_gbps, slow_link_gbps; /* effective all-to-all bandwidth per rank, GB/s */
    double a2a_latency_us;       /* GPU-side floor of one all-to-all */
    double hbm_gbps;             /* datasheet memory bandwidth */
    int memory;                  /* ANALYTIC_MEM_*: which fitted element-wise efficiency applies */
    double compute_scale;        /* achieved GEMM/attention rates relative to the H100 measured ones */
    int measured_basis;          /* 1: calibrated against measured rows of this GPU; 0: datasheet only */
    const char *basis;           /* one line for the rows' `method` */
    const char *link_basis;      /* where the link figures come from (the hardware table's link_source) */
} analytic_hw;

typedef struct analytic_breakdown {
    double gemm_s, attn_s, elementwise_s, kernel_floor_s, comm_s; /* GPU side */
    double gpu_s, host_s, step_s;
    double kernels, collectives;
} analytic_breakdown;

/* The built-in hardware: h100x8, h200x8, a40x4. */
int analytic_hardware_count(void);
const analytic_hw *analytic_hardware_at(int i);
const analytic_hw *analytic_hardware_find(const char *name); /* NULL when unknown */
/* The calibrated constants (the result of analytic_fit over the reference, frozen in the source so
 * generated profiles do not move with floating-point details of the fit). */
const analytic_params *analytic_default_params(void);
/* Overrides constants of *prm from "name=value,..." (launch_us, coll_host_us, ew_efficiency,
 * ew_efficiency_hbm3e, overlap_p, attn_head64_factor), for what-if profiles: e.g. a CUDA-graph
 * executor without eager launch and collective host costs. Returns 0, or -1 with err naming the key. */
int analytic_params_set(analytic_params *prm, const char *text, tetri_error *err);

/* Step time of `batch` identical requests of model at w x h, Ulysses degree `degree` over `link`
 * (ignored at degree 1). Returns seconds (> 0); fills *out when non-NULL. Allocation-free. */
double analytic_step(const analytic_hw *hw, const analytic_params *prm, tetri_model model, int width,
                     int height, int degree, int batch, tetri_link link, analytic_breakdown *out);
/* Seconds to move one request's state (latent, text embeddings, pooled vector) over `link`. */
double analytic_migration(const analytic_hw *hw, tetri_model model, int width, int height, tetri_link link);
/* The link model, seconds for one all-to-all in which a rank sends `bytes` to the others:
 * a2a_latency_us + bytes / link bandwidth (the analytic steps' and the modelled-comm rows' one rule). */
double analytic_a2a_s(const analytic_hw *hw, double bytes, tetri_link link);

/* A measured reference row (MEASUREMENTS.md), per-step milliseconds. */
typedef struct analytic_calib_row {
    const char *hardware;  /* analytic hardware it calibrates: "h100x8" / "h200x8" */
    const char *source;    /* which table of MEASUREMENTS.md */
    tetri_model model;
    int res, degree;
    double measured_ms;    /* for a range (45-64) its midpoint */
} analytic_calib_row;
int analytic_calibration_count(void);
const analytic_calib_row *analytic_calibration_at(int i);
/* Predicted milliseconds for a calibration row under prm. */
double analytic_calibration_predict(const analytic_calib_row *row, const analytic_params *prm);

/* Fits prm (Nelder-Mead, GSL, over the logs of all six constants) to minimise the mean
 * squared log error over the calibration rows, starting from *prm. Returns the final RMS log error. */
double analytic_fit(analytic_params *prm);

/* Writes a new profile database at `path` (replacing it) with the analytic rows of the named
 * hardware (comma-separated list; NULL or "" for all built-in). Returns 0 or -1 with err. */
/* Whether `path` may be replaced by a generated profile: yes when nothing is there, or a tetri
 * profile is and `force` is set. Anything else (a results database, any other file, a folder) is
 * refused whatever `force` says. Returns 0, or -1 with err saying what is there and what to do. */
int analytic_may_replace(const char *path, int force, tetri_error *err);
int analytic_generate(const char *path, const char *hardware_list, const analytic_params *prm, tetri_error *err);

#endif
