/* dit/gpu_plan.c: the executor's paths for a GPU and the device memory of a configuration (see
 * gpu_plan.h). CPU only. */
#include "dit/gpu_plan.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dit/sp.h"

const char *dit_gpu_paths_name(dit_gpu_paths p) { return p == DIT_PATHS_HOPPER ? "hopper" : "ampere"; }

int dit_gpu_paths_choose(const char *name, int major, int minor, int wgmma_built, const char *request, dit_gpu_paths *out,
                         char *text, size_t text_len, tetri_error *err)
{
    if (!name || !*name) name = "this GPU";
    if (major < 8)
        return tetri_errorf(err,
                            "%s (compute capability %d.%d, sm_%d%d) is older than sm_80: tetri's kernels need an Ampere "
                            "(sm_80: A100; sm_86: A40, A10) or Hopper (sm_90: H100, H200) GPU, for bf16 mma.sync and cp.async",
                            name, major, minor, major, minor);
    const int forced_ampere = request && strcmp(request, "ampere") == 0;
    const int forced_hopper = request && strcmp(request, "hopper") == 0;
    if (request && *request && !forced_ampere && !forced_hopper && strcmp(request, "auto") != 0)
        return tetri_errorf(err, "%s='%s': the GPU paths are auto, ampere or hopper", DIT_GPU_PATHS_ENV, request);
    /* wgmma is sm_90a's: neither Ampere's nor later GPUs' (sm_100 has other MMA instructions). */
    const int sm90 = major == 9 && minor == 0;
    const char *why;
    if (forced_hopper && !(sm90 && wgmma_built))
        return tetri_errorf(err, "%s=hopper: %s (sm_%d%d) cannot run the Hopper paths: %s", DIT_GPU_PATHS_ENV, name, major, minor,
                            sm90 ? "this build has no sm_90a code (configure --with-cuda-arch)" : "wgmma is sm_90 only");
    if (forced_ampere) {
        *out = DIT_PATHS_AMPERE;
        why = sm90 ? "forced by " DIT_GPU_PATHS_ENV "=ampere" : "an Ampere or later GPU (also forced)";
    } else if (sm90 && wgmma_built) {
        *out = DIT_PATHS_HOPPER;
        why = "the build has its sm_90a code";
    } else {
        *out = DIT_PATHS_AMPERE;
        why = sm90 ? "but this build has no sm_90a code: configure --with-cuda-arch"
                   : major == 8 ? "sm_8x" : "no wgmma on this architecture";
    }
    if (text)
        snprintf(text, text_len, "GPU paths: %s on %s (sm_%d%d; %s): attention %s", dit_gpu_paths_name(*out), name, major, minor, why,
                 *out == DIT_PATHS_HOPPER ? "wgmma (flash) or cuDNN's" : "mma.sync (flash-mma) or cuDNN's, no wgmma");
    return 0;
}

void dit_step_buffer_bytes(const dit_layout *L, int batch, int T, int gh, int gw, int degree, int rank, size_t b[DIT_STEP_BUFS])
{
    const dit_config *c = &L->cfg;
    dit_sp_shard sh;
    dit_sp_shard_of(T, gh * gw, degree, rank, &sh);
    /* the request's rows (Lt: attention sees all of them) and this rank's (Tl text, Nl image, Ll) */
    const size_t B = (size_t)batch, D = (size_t)L->D, Lt = (size_t)T + (size_t)gh * (size_t)gw, M = (size_t)c->mlp_ratio * D;
    const size_t Tl = (size_t)sh.tn, Nl = (size_t)sh.nn, Ll = Tl + Nl;
    const size_t tin = (size_t)dit_token_in(c), tout = (size_t)dit_token_out(c), hd = (size_t)c->head_dim;
    b[DIT_BUF_REFS] = B * DIT_SLOT_REF_BYTES;
    b[DIT_BUF_VEL] = B * Nl * tout * 4;
    b[DIT_BUF_SIG2] = B * 2 * 4;
    b[DIT_BUF_ROPE_COS] = Ll * hd / 2 * 4;
    b[DIT_BUF_ROPE_SIN] = Ll * hd / 2 * 4;
    b[DIT_BUF_LAT16] = B * Nl * tin * 2;
    b[DIT_BUF_TXT] = B * Tl * (size_t)c->text_dim * 2;
    b[DIT_BUF_MOD] = B * (size_t)L->mod_total * 2;
    b[DIT_BUF_H] = B * Ll * D * 2;
    b[DIT_BUF_NRM] = B * Ll * D * 2;
    b[DIT_BUF_QKV] = B * Ll * 3 * D * 2;
    b[DIT_BUF_ATT] = B * Ll * D * 2;
    b[DIT_BUF_Y] = B * Ll * D * 2;
    b[DIT_BUF_BIG] = B * Ll * (D + M) * 2;
    b[DIT_BUF_OUT] = B * Nl * tout * 2;
    /* the exchange (dit/sp.h's chunk layout, bf16; Dk = D / k): */
    const int ex = degree > 1;
    const size_t Dk = D / (size_t)degree;
    b[DIT_BUF_SEND_IN] = ex ? B * Ll * 3 * D * 2 : 0;   /* [k][B, Ll, 3 Dk]: qkv by head group */
    b[DIT_BUF_RECV_IN] = ex ? B * Lt * 3 * Dk * 2 : 0;  /* [k][B, L_i, 3 Dk]: every rank's rows of this rank's heads */
    b[DIT_BUF_ATT_IN] = ex ? B * Lt * 3 * Dk * 2 : 0;   /* [B, Lt, 3 Dk] */
    b[DIT_BUF_ATT_OUT] = ex ? B * Lt * Dk * 2 : 0;      /* [B, Lt, Dk] */
    b[DIT_BUF_SEND_OUT] = ex ? B * Lt * Dk * 2 : 0;     /* [k][B, L_i, Dk]: att_out's rows by owner */
    b[DIT_BUF_RECV_OUT] = ex ? B * Ll * D * 2 : 0;      /* [k][B, Ll, Dk]: this rank's rows of every head group */
}

void dit_slot_buffer_bytes(const dit_layout *L, int T, int gh, int gw, int n_steps, int degree, int rank, size_t b[DIT_SLOT_BUFS])
{
    const dit_config *c = &L->cfg;
    dit_sp_shard sh;
    dit_sp_shard_of(T, gh * gw, degree, rank, &sh);
    const size_t D = (size_t)L->D, R = (size_t)n_steps;
    b[DIT_SBUF_LAT] = (size_t)sh.nn * (size_t)dit_token_in(c) * 4;
    b[DIT_SBUF_TXT] = (size_t)sh.tn * (size_t)c->text_dim * 2;
    b[DIT_SBUF_MOD] = R * (size_t)L->mod_total * 2;
    b[DIT_SBUF_SIGMAS] = (R + 1) * 4;
    b[DIT_SBUF_STEP] = 4;
    b[DIT_SBUF_POOLED] = (size_t)c->pooled_dim * 2;
    b[DIT_SBUF_GUID] = 4;
    b[DIT_SBUF_T_ROWS] = R * 4;
    b[DIT_SBUF_G_ROWS] = R * 4;
    b[DIT_SBUF_POOLED_ROWS] = R * (size_t)c->pooled_dim * 2;
    b[DIT_SBUF_TPROJ] = R * 256 * 2;
    b[DIT_SBUF_E1] = R * D * 2;
    b[DIT_SBUF_E2] = R * D * 2;
    b[DIT_SBUF_TEMB] = R * D * 2;
}

size_t dit_arena_bytes(const size_t *bytes, int n)
{
    size_t sum = 0;
    for (int i = 0; i < n; i++) sum += dit_arena_round(bytes[i]);
    return sum;
}

void dit_mem_plan_compute(const dit_layout *L, int batch, int T, int gh, int gw, int n_steps, int oracle, dit_mem_plan *out)
{
    size_t step[DIT_STEP_BUFS], slot[DIT_SLOT_BUFS];
    dit_step_buffer_bytes(L, batch, T, gh, gw, 1, 0, step);
    dit_slot_buffer_bytes(L, T, gh, gw, n_steps, 1, 0, slot);
    memset(out, 0, sizeof *out);
    out->weights = (size_t)L->total * 2;
    out->workspaces = 2 * (size_t)DIT_GEMM_WORKSPACE_BYTES;
    if (oracle) { /* kernels/kernels.h, tk_attention_oracle: (3 L hd + L L) floats */
        const size_t Lt = (size_t)T + (size_t)gh * (size_t)gw;
        out->workspaces += (3 * Lt * (size_t)L->cfg.head_dim + Lt * Lt) * 4;
    }
    out->activations = dit_arena_bytes(step, DIT_STEP_BUFS);
    out->slots = (size_t)batch * dit_arena_bytes(slot, DIT_SLOT_BUFS);
    out->reserve = DIT_MEM_RESERVE_BYTES;
    out->total = out->weights + out->workspaces + out->activations + out->slots + out->reserve;
}

/* nvidia-smi's memory.total of each GPU named (MiB). */
static const struct { const char *name, *label; long mib; } known_gpus[] = {
    {"a40", "NVIDIA A40", 46068}, {"a100-80", "NVIDIA A100 80GB", 81920}, {"h100", "NVIDIA H100 80GB HBM3", 81559},
    {"h200", "NVIDIA H200", 143771},
};

int dit_parse_gpu_memory(const char *text, size_t *bytes, char *label, size_t label_len)
{
    if (!text || !*text) return -1;
    for (size_t i = 0; i < sizeof known_gpus / sizeof known_gpus[0]; i++)
        if (strcasecmp(text, known_gpus[i].name) == 0) {
            *bytes = (size_t)known_gpus[i].mib << 20;
            if (label) snprintf(label, label_len, "%s (%ld MiB)", known_gpus[i].label, known_gpus[i].mib);
            return 0;
        }
    char *end;
    errno = 0;
    const double v = strtod(text, &end);
    if (end == text || errno || !isfinite(v) || v <= 0) return -1;
    static const struct { const char *suffix; double mult; } units[] = {
        {"", 1.0},      {"B", 1.0},       {"K", 0x1p10},  {"KiB", 0x1p10}, {"M", 0x1p20}, {"MiB", 0x1p20}, {"G", 0x1p30},
        {"GiB", 0x1p30}, {"T", 0x1p40},   {"TiB", 0x1p40}, {"KB", 1e3},    {"MB", 1e6},   {"GB", 1e9},     {"TB", 1e12},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            const double b = v * units[i].mult;
            if (b < 1 || b > 0x1p60) return -1;
            *bytes = (size_t)b;
            if (label) snprintf(label, label_len, "%s (%.2f GiB)", text, b / 0x1p30);
            return 0;
        }
    return -1;
}
