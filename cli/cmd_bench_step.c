/* cli/cmd_bench_step.c: `tetri bench-step`: time real DiT denoising steps on this GPU, or run steps
 * on given inputs (--inputs/--output safetensors) for checking against other implementations. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>

#include "cli/bench_model.h"
#include "cli/commands.h"
#include "dit/attention_cudnn.h"
#include "dit/cpu_ref.h"
#include "dit/dit_gpu.h"
#include "dit/gpu_plan.h"
#include "dit/safetensors.h"
#include "core/types.h"
#include "profiles/measured.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri bench-step [options]\n"
            "  Times one denoising step (transformer forward + Euler update) of FLUX.1-dev or SD3-medium on\n"
            "  this GPU: median of --iters CUDA-graph replays after --warmup, CUDA events.\n\n"
            "  --model NAME        flux-dev (default) or sd3-medium\n"
            "  --res LIST          square resolutions in pixels, multiples of 16 (default 256,512,1024,2048)\n"
            "  --batch N           samples per step (default 1)\n"
            "  --text-tokens N     text tokens (default 512 for FLUX, 333 for SD3)\n"
            "  --warmup N          untimed replays first (default 3)\n"
            "  --iters N           timed replays (default 20)\n"
            "  --seed N            weights and inputs seed (default 42)\n"
            "  --config FILE       a diffusers config.json: random weights of its shapes\n"
            "  --weights DIR       a diffusers transformer folder (config.json + safetensors [+ index])\n"
            "  --tiny              the tiny test configuration of the model\n"
            "  --attention NAME    auto (default: cudnn where built and the shape is taken, else flash),\n"
            "                      flash (ours, wgmma), flash-mma (ours, mma.sync), cudnn (cuDNN's\n"
            "                      fused attention, builds with cuDNN 9) or oracle (fp32 cuBLAS; memory\n"
            "                      grows as L^2)\n"
            "  --eager             also time the step without the graph (launch by launch)\n"
            "  --gemm NAME         how GEMM algorithms are chosen: heuristic (cuBLASLt's first choice, default),\n"
            "                      identical (the fastest of its candidates whose output is bit-identical to\n"
            "                      the heuristic's) or fastest (the fastest run-to-run reproducible candidate)\n"
            "  --gemm-log          print each tuned GEMM shape (times, algorithms) to stderr\n"
            "  --inputs FILE       run on these inputs instead of timing: latent [B, H/16, W/16, 64] (packed),\n"
            "                      text [B, T, text_dim], pooled [B, pooled_dim], optional sigmas [steps + 1]\n"
            "                      and guidance [B] (FLUX, default 3.5)\n"
            "  --steps N           with --inputs: 0 = one forward, writes velocity; N = N Euler steps, writes\n"
            "                      latent (default 0)\n"
            "  --output FILE       with --inputs: safetensors file to write; --attention applies (the\n"
            "                      kernel that ran is printed)\n"
            "  --paths NAME        the kernels to run: auto (default: by the GPU's compute capability: wgmma\n"
            "                      attention on sm_90, mma.sync on sm_80/86), ampere (the sm_80/86 paths on any\n"
            "                      GPU: how they are tested on Hopper) or hopper; the same as TETRI_GPU_PATHS=NAME.\n"
            "                      What was picked is printed (\"# GPU paths: ...\")\n"
            "  --plan-memory       print the device memory each configuration takes (computed, no GPU used)\n"
            "  --gpu-memory SIZE   with --plan-memory: say whether each fits a GPU of SIZE (48G, 46068MiB, 48GB)\n"
            "                      or of a named GPU (a40, a100-80, h100, h200)\n\n"
            "  Before allocating, each configuration's memory (weights, workspaces, activations, slots and a\n"
            "  1 GiB allowance for the context and libraries) is compared with the GPU's free memory: one that\n"
            "  will not fit is refused with a message (exit status 1 once the others have run).\n");
}

/* The schedule a timed step belongs to: FLUX.1-dev's and SD3's usual 28 steps (the graph's step
 * counter wraps, so any number of replays is fine). */
#define BENCH_STEPS 28
#define BENCH_STEPS_STR "28"

/* Median, p10 and p90 of `iters` timed step launches (graph replays, or eager steps), CUDA events
 * around each, after `warmup` untimed ones; the quantiles as profile measure takes them
 * (measured_row_from_samples), so the two commands agree on one GPU's numbers. */
static int time_launches(dit_gpu_step *st, cudaStream_t stream, int use_graph, int warmup, int iters, float out[3],
                         tetri_error *err)
{
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    float *ms = calloc((size_t)iters, sizeof *ms);
    int rc = 0;
    for (int i = 0; i < warmup + iters && !rc; i++) {
        cudaEventRecord(a, stream);
        rc = use_graph ? dit_gpu_step_replay(st, err) : dit_gpu_step_denoise(st, 1, err);
        cudaEventRecord(b, stream);
        cudaError_t e = cudaEventSynchronize(b);
        if (e != cudaSuccess) rc = tetri_errorf(err, "timing: %s", cudaGetErrorString(e));
        if (!rc && i >= warmup) cudaEventElapsedTime(&ms[i - warmup], a, b);
    }
    if (!rc) {
        measured_row r;
        measured_row_from_samples(&r, ms, iters);
        out[0] = (float)(r.median_ns / 1e6);
        out[1] = (float)(r.p10_ns / 1e6);
        out[2] = (float)(r.p90_ns / 1e6);
    }
    free(ms);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return rc;
}

/* A request's conditioning for the whole schedule, timed once more after the call that made it. */
static int time_prepare(dit_gpu_step *st, cudaStream_t stream, float *ms, tetri_error *err)
{
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    cudaEventRecord(a, stream);
    int rc = dit_gpu_step_prepare(st, err);
    cudaEventRecord(b, stream);
    if (!rc && cudaEventSynchronize(b) == cudaSuccess) cudaEventElapsedTime(ms, a, b);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return rc;
}

static int run_inputs(dit_gpu *gm, const dit_layout *L, const char *inputs, const char *output, int steps,
                      dit_attn_backend attention, tetri_error *err)
{
    const dit_config *c = &L->cfg;
    st_file f;
    if (st_open(inputs, &f, err)) return -1;
    int rc = -1;
    float *lat = NULL, *txt = NULL, *pooled = NULL, *sig = NULL, *guid = NULL, *res = NULL;
    dit_gpu_step *st = NULL;
    int il = st_find(&f, "latent"), it = st_find(&f, "text"), ip = st_find(&f, "pooled"), is = st_find(&f, "sigmas"),
        ig = st_find(&f, "guidance");
    if (il < 0 || it < 0 || ip < 0) { tetri_errorf(err, "%s: needs tensors 'latent', 'text' and 'pooled'", inputs); goto done; }
    const st_tensor *tl = &f.t[il], *tt = &f.t[it], *tp = &f.t[ip];
    if (tl->ndim != 4 || tl->shape[3] != dit_token_in(c)) {
        tetri_errorf(err, "%s: 'latent' must be [B, H/16, W/16, %d] (packed tokens)", inputs, dit_token_in(c));
        goto done;
    }
    const int B = (int)tl->shape[0], gh = (int)tl->shape[1], gw = (int)tl->shape[2];
    if (tt->ndim != 3 || tt->shape[0] != B || tt->shape[2] != c->text_dim) {
        tetri_errorf(err, "%s: 'text' must be [%d, T, %d]", inputs, B, c->text_dim);
        goto done;
    }
    const int T = (int)tt->shape[1];
    if (tp->ndim != 2 || tp->shape[0] != B || tp->shape[1] != c->pooled_dim) {
        tetri_errorf(err, "%s: 'pooled' must be [%d, %d]", inputs, B, c->pooled_dim);
        goto done;
    }
    const int n_steps = steps > 0 ? steps : 1;
    if (is >= 0 && (f.t[is].ndim != 1 || f.t[is].shape[0] < n_steps + 1)) {
        tetri_errorf(err, "%s: 'sigmas' must be a vector of at least %d values (steps + 1)", inputs, n_steps + 1);
        goto done;
    }
    if (ig >= 0 && (f.t[ig].ndim != 1 || f.t[ig].shape[0] != B)) { tetri_errorf(err, "%s: 'guidance' must be [%d]", inputs, B); goto done; }
    lat = malloc((size_t)tl->numel * 4);
    txt = malloc((size_t)tt->numel * 4);
    pooled = malloc((size_t)tp->numel * 4);
    sig = malloc(((size_t)(is >= 0 ? f.t[is].numel : n_steps + 1)) * 4);
    guid = malloc((size_t)B * 4);
    res = malloc((size_t)tl->numel * 4);
    if (!lat || !txt || !pooled || !sig || !guid || !res) { tetri_errorf(err, "out of memory"); goto done; }
    if (st_read_f32(&f, il, lat, err) || st_read_f32(&f, it, txt, err) || st_read_f32(&f, ip, pooled, err)) goto done;
    if (is >= 0) { if (st_read_f32(&f, is, sig, err)) goto done; }
    else dit_sigma_schedule(c, gh * gw, n_steps, sig);
    for (int b = 0; b < B; b++) guid[b] = 3.5f;
    if (ig >= 0 && st_read_f32(&f, ig, guid, err)) goto done;
    if (dit_gpu_step_create(gm, B, T, gh, gw, n_steps, &st, err)) goto done;
    dit_gpu_step_set_attention(st, attention); /* --attention holds for --inputs as for timing */
    dit_step_inputs in = {.batch = B, .text_tokens = T, .grid_h = gh, .grid_w = gw, .latent = lat, .text = txt, .pooled = pooled,
                          .sigma = NULL, .guidance = c->guidance ? guid : NULL};
    if (dit_gpu_step_set_inputs(st, &in, sig, err)) goto done;
    const char *what;
    if (steps == 0) {
        if (dit_gpu_step_forward(st, err) || dit_gpu_step_read_velocity(st, res, err)) goto done;
        what = "velocity";
    } else {
        if (dit_gpu_step_capture(st, err) || dit_gpu_step_set_inputs(st, &in, sig, err) || dit_gpu_step_denoise(st, steps, err) ||
            dit_gpu_step_read_latent(st, res, err))
            goto done;
        what = "latent";
    }
    if (output) {
        st_out_tensor o = {.name = what, .dtype = ST_F32, .ndim = 4, .shape = {B, gh, gw, dit_token_out(c)}, .data = res};
        char nsteps[16];
        snprintf(nsteps, sizeof nsteps, "%d", steps);
        const char *meta[] = {"producer", "tetri bench-step", "steps", nsteps, "layout", "packed tokens (c, py, px)"};
        if (st_write(output, &o, 1, meta, 3, err)) goto done;
        printf("wrote %s [%d, %d, %d, %d] to %s\n", what, B, gh, gw, dit_token_out(c), output);
    }
    /* Which kernel ran: auto resolves at the first forward, so a comparison knows what it compared. */
    printf("attention %s\n", dit_attn_backend_name(dit_gpu_step_attention(st)));
    rc = 0;
done:
    dit_gpu_step_destroy(st);
    st_close(&f);
    free(lat); free(txt); free(pooled); free(sig); free(guid); free(res);
    return rc;
}

#define GIB(x) ((double)(x) / (double)(1 << 30))

int cmd_bench_step(int argc, char **argv)
{
    /* the memory plan is arithmetic only: the CPU command's (cli/cmd_plan_memory.c) */
    if (bench_step_has_plan_memory(argc, argv)) return cmd_bench_step_plan(argc, argv);
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'}, {"res", required_argument, 0, 'r'},     {"batch", required_argument, 0, 'b'},
        {"text-tokens", required_argument, 0, 't'}, {"warmup", required_argument, 0, 'w'}, {"iters", required_argument, 0, 'i'},
        {"seed", required_argument, 0, 's'},  {"config", required_argument, 0, 'c'},  {"weights", required_argument, 0, 'W'},
        {"tiny", no_argument, 0, 'T'},        {"attention", required_argument, 0, 'a'}, {"eager", no_argument, 0, 'e'},
        {"inputs", required_argument, 0, 'I'}, {"steps", required_argument, 0, 'n'},  {"output", required_argument, 0, 'o'},
        {"gemm", required_argument, 0, 'g'},   {"gemm-log", no_argument, 0, 'G'},   {"paths", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *model = "flux-dev", *res_list = "256,512,1024,2048", *config = NULL, *weights = NULL, *attn = "auto";
    const char *inputs = NULL, *output = NULL, *gemm = "heuristic", *paths = NULL;
    int gemm_log = 0;
    const char *tokens_arg = NULL;
    int batch = 1, warmup = 3, iters = 20, tiny = 0, eager = 0, steps = 0;
    long long seed = 42;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'r': res_list = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': tokens_arg = optarg; break;
        case 'w': warmup = atoi(optarg); break;
        case 'i': iters = atoi(optarg); break;
        case 's': seed = atoll(optarg); break;
        case 'c': config = optarg; break;
        case 'W': weights = optarg; break;
        case 'T': tiny = 1; break;
        case 'a': attn = optarg; break;
        case 'e': eager = 1; break;
        case 'I': inputs = optarg; break;
        case 'n': steps = atoi(optarg); break;
        case 'o': output = optarg; break;
        case 'g': gemm = optarg; break;
        case 'G': gemm_log = 1; break;
        case 'p': paths = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "tetri bench-step: unexpected argument '%s'\n", argv[optind]); return 2; }
    if (batch < 1 || batch > 64 || warmup < 0 || iters < 1 || steps < 0) {
        fprintf(stderr, "tetri bench-step: --batch must be 1..64, --iters positive, --warmup and --steps non-negative\n");
        return 2;
    }
    dit_attn_backend backend;
    if (dit_attn_backend_parse(attn, &backend)) {
        fprintf(stderr, "tetri bench-step: --attention must be auto, flash, flash-mma, cudnn or oracle, not '%s'\n", attn);
        return 2;
    }
#ifndef HAVE_CUDNN
    if (backend == DIT_ATTN_CUDNN) {
        fprintf(stderr, "tetri bench-step: --attention cudnn: this build has no cuDNN (configure found no cuDNN 9; see --with-cudnn)\n");
        return 2;
    }
#endif
    if (paths) {
        if (strcmp(paths, "auto") && strcmp(paths, "ampere") && strcmp(paths, "hopper")) {
            fprintf(stderr, "tetri bench-step: --paths must be auto, ampere or hopper, not '%s'\n", paths);
            return 2;
        }
        setenv(DIT_GPU_PATHS_ENV, paths, 1); /* dit_gpu_create reads it */
    }
    dit_gemm_tuning tuning;
    if (strcmp(gemm, "heuristic") == 0) tuning = DIT_GEMM_HEURISTIC;
    else if (strcmp(gemm, "identical") == 0) tuning = DIT_GEMM_TUNE_IDENTICAL;
    else if (strcmp(gemm, "fastest") == 0) tuning = DIT_GEMM_TUNE_FASTEST;
    else { fprintf(stderr, "tetri bench-step: --gemm must be heuristic, identical or fastest, not '%s'\n", gemm); return 2; }
    bench_model bm;
    const int bad = bench_model_resolve(model, res_list, tokens_arg, weights, config, tiny, &bm);
    if (bad) return bad;
    const dit_config *cfg = &bm.cfg;
    dit_layout *L = &bm.L;
    const int text_tokens = bm.text_tokens, n_res = bm.n_res, *res = bm.res;
    tetri_error err = {{0}};
    if (weights && dit_load_weights_dir(weights, L, NULL, NULL, &err)) {
        fprintf(stderr, "tetri bench-step: %s\n", err.msg);
        dit_layout_free(L);
        return 1;
    }
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        fprintf(stderr, "tetri bench-step: no usable CUDA device\n");
        dit_layout_free(L);
        return 1;
    }
    dit_gpu *gm = NULL;
    int rc = 1, refused = 0;
    /* Memory: each configuration's plan against what the GPU has free before anything of ours. */
    size_t free0 = 0, total0 = 0;
    if (cudaMemGetInfo(&free0, &total0) != cudaSuccess) {
        fprintf(stderr, "tetri bench-step: cannot read %s's free memory\n", prop.name);
        dit_layout_free(L);
        return 1;
    }
    {
        dit_mem_plan p;
        dit_mem_plan_compute(L, 1, 1, 1, 1, 1, 0, &p);
        const size_t base = p.weights + p.workspaces + p.reserve;
        if (base > free0) {
            fprintf(stderr,
                    "tetri bench-step: this model will not fit %s: its weights (%.2f GiB) with the cuBLASLt workspaces and the %.0f "
                    "GiB allowance need %.2f GiB, and the GPU has %.2f GiB free of %.2f (bench-step --plan-memory shows the plan)\n",
                    prop.name, GIB(p.weights), GIB(p.reserve), GIB(base), GIB(free0), GIB(total0));
            dit_layout_free(L);
            return 1;
        }
    }
    if (dit_gpu_create(L, &gm, &err)) goto fail;
    dit_gpu_set_gemm_tuning(gm, tuning, gemm_log ? stderr : NULL);
    if (weights ? dit_gpu_load_weights(gm, weights, &err) : dit_gpu_init_random(gm, (uint64_t)seed, &err)) goto fail;
    printf("# %s; device code built for %s\n", dit_gpu_paths_text(gm), TETRI_CUDA_ARCHS);
    if (dit_gpu_attention_runs(gm, backend, &err)) goto fail;
    if (inputs) {
        if (run_inputs(gm, L, inputs, output, steps, backend, &err)) goto fail;
        rc = 0;
        goto fail;
    }
    printf("# tetri bench-step: %s (%s weights, %.2f B parameters, %.1f GiB), %s, batch %d, %d text tokens, attention %s, gemm %s\n",
           cfg->arch == DIT_ARCH_FLUX ? "FLUX" : "SD3", weights ? "loaded" : "random", (double)L->n_weights / 1e9,
           (double)dit_gpu_weight_bytes(gm) / (1 << 30), prop.name, batch, text_tokens, attn, gemm);
#ifdef HAVE_CUDNN
    if (backend == DIT_ATTN_CUDNN || backend == DIT_ATTN_AUTO) {
        long rt, built;
        dit_cudnn_versions(&rt, &built);
        printf("# cuDNN %ld.%ld.%ld at run time (built against %ld.%ld.%ld)\n", rt / 10000, rt / 100 % 100, rt % 100, built / 10000,
               built / 100 % 100, built % 100);
    }
#endif
    printf("# step = transformer forward + Euler update, CUDA graph replay; median (p10-p90) of %d after %d warm-up\n", iters, warmup);
    printf("# prep = once per request: embeddings and every block's modulation for a %d-step schedule (dit_gpu_step_prepare)\n",
           BENCH_STEPS);
    printf("# mem GiB = device memory in use after the timed steps (the peak: everything is allocated up front), plan GiB =\n"
           "# bench-step --plan-memory's count (with its 1 GiB allowance); %.2f GiB free of %.2f before the weights\n",
           GIB(free0), GIB(total0));
    printf("%6s %14s %10s %18s %9s %10s %9s %9s %11s %9s%s\n", "res", "tokens", "ms/step", "p10-p90", "TFLOP/s", "mem GiB", "plan GiB",
           "prep ms", "+prep/" BENCH_STEPS_STR, "attention", eager ? "  eager ms" : "");
    for (int r = 0; r < n_res; r++) {
        const int g = res[r] / 16;
        dit_gpu_step *st = NULL;
        size_t free1, total;
        dit_mem_plan plan;
        dit_mem_plan_compute(L, batch, text_tokens, g, g, BENCH_STEPS, backend == DIT_ATTN_ORACLE, &plan);
        if (plan.total > free0) {
            printf("%6d %14s   refused: needs %.2f GiB (weights %.2f, activations %.2f, slots %.2f, workspaces %.2f, allowance %.2f); "
                   "%.2f GiB were free\n",
                   res[r], "-", GIB(plan.total), GIB(plan.weights), GIB(plan.activations), GIB(plan.slots), GIB(plan.workspaces),
                   GIB(plan.reserve), GIB(free0));
            fprintf(stderr, "tetri bench-step: %d px at batch %d will not fit %s: it needs %.2f GiB and %.2f GiB were free\n", res[r],
                    batch, prop.name, GIB(plan.total), GIB(free0));
            fflush(stdout);
            refused++;
            continue;
        }
        if (dit_gpu_step_create(gm, batch, text_tokens, g, g, BENCH_STEPS, &st, &err)) goto fail;
        dit_gpu_step_set_attention(st, backend);
        float t[3], te[3] = {0, 0, 0};
        float prep_ms = 0;
        if (dit_gpu_step_random_inputs(st, (uint64_t)seed + 1, &err) || time_prepare(st, dit_gpu_stream(gm), &prep_ms, &err) ||
            dit_gpu_step_capture(st, &err) ||
            time_launches(st, dit_gpu_stream(gm), 1, warmup, iters, t, &err) ||
            (eager && time_launches(st, dit_gpu_stream(gm), 0, warmup, iters, te, &err))) {
            dit_gpu_step_destroy(st);
            goto fail;
        }
        cudaMemGetInfo(&free1, &total);
        const double tflops = dit_gpu_step_flops(st) / (t[0] * 1e-3) / 1e12;
        char tok[32], spread[32];
        snprintf(tok, sizeof tok, "%d+%d", g * g, text_tokens);
        snprintf(spread, sizeof spread, "%.2f-%.2f", t[1], t[2]);
        printf("%6d %14s %10.2f %18s %9.1f %10.2f %9.2f %9.2f %11.2f %9s", res[r], tok, t[0], spread, tflops, GIB(total - free1),
               GIB(plan.total), prep_ms, t[0] + prep_ms / BENCH_STEPS, dit_attn_backend_name(dit_gpu_step_attention(st)));
        if (eager) printf("  %8.2f", te[0]);
        printf("\n");
        fflush(stdout);
        dit_gpu_step_destroy(st);
    }
    rc = refused ? 1 : 0;
fail:
    if (rc && err.msg[0]) fprintf(stderr, "tetri bench-step: %s\n", err.msg);
    dit_gpu_destroy(gm);
    dit_layout_free(L);
    return rc;
}
