/* cli/cmd_profile_measure.c: `tetri profile measure`: per-step latency on this GPU into a profile.
 *
 * Each (model, resolution, batch) runs through the serving backend's own runner (dit_gpu_step: the
 * CUDA graph of one denoising step over request slots), so a measured row is what a block of the
 * GPU backend costs per step. Samples: --samples steps after --warmup untimed ones, by default
 * run back to back as a block runs them with a CUDA event between every two (--timing served; synced
 * waits for each step); by default a model's degree-1 rows are timed in turns (--interleave 20:
 * twenty steps of each row, a request's whole schedule as a one-GPU server runs it in one block,
 * then the next row's), so each row is taken at the clock the mixed load holds rather than at its
 * own, and after a turn of another size as a served block is (docs/validation.md 7.4). Each row's method text names the GPU, driver, CUDA, cuBLASLt and
 * cuDNN versions, how it was timed and the SM clocks seen (min..max over the row's samples, from
 * NVML). */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/types.h"
#include "profiles/analytic.h"
#include "profiles/measured.h"
#include "results/stats.h"

#ifdef TETRI_HAVE_CUDA
#include <cuda_runtime.h>

#include "dit/dit_gpu.h"
#include "dit/gpu_info.h"
#include "dit/model.h"
#include "dit/sp.h"
#include "dit/sp_group.h"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri profile measure --out FILE [--model LIST] [--res LIST] [--batch A-B] [--samples N]\n"
            "                             [--warmup N] [--steps N] [--device N] [--hardware NAME] [--attention NAME]\n"
            "                             [--degrees LIST --link-model HW] [--interleave Q]\n"
            "                             [--timing served|synced] [--idle-speedup]\n"
            "\n"
            "Times one denoising step on this GPU for every model, resolution and batch size asked for,\n"
            "through the runner `tetri serve --backend gpu` uses (a CUDA graph over request slots, random\n"
            "weights of the true shapes), and writes the rows, source 'measured', into FILE: the median,\n"
            "p10, p90 and coefficient of variation over --samples steps, and in each row's method the GPU,\n"
            "driver, CUDA, cuBLASLt and cuDNN versions and the SM clocks seen. FILE is created, or the rows\n"
            "of the same hardware, model, size and batch in it are replaced (others stay). Per resolution it also times a request's\n"
            "preparation (its state: seeded inputs and the conditioning of its schedule), stage 'prepare',\n"
            "which the block cost adds to every request's first block.\n"
            "\n"
            "  --out FILE       the profile database to write\n"
            "  --model LIST     flux-dev, sd3-medium (default both)\n"
            "  --res LIST       square sides (default 256,512,1024,2048)\n"
            "  --batch A-B      batch sizes (default 1-4)\n"
            "  --samples N      timed steps per row (default 20, at least 20)\n"
            "  --warmup N       untimed steps first (default 5)\n"
            "  --steps N        the schedule the slots follow (default 20; the step time does not depend on it)\n"
            "  --device N       the CUDA device (default 0)\n"
            "  --hardware NAME  the hardware's name in the profile (default from the GPU: h200x1, h100x1, ...)\n"
            "  --attention NAME auto (default), cudnn, flash, flash-mma\n"
            "  --settle-seconds S  run steps for S seconds before each model's first row (default 10): a\n"
            "                   power-bound GPU boosts higher while cool, and rows taken then are short\n"
            "                   for the clock a sustained load holds\n"
            "  --interleave Q   time a model's degree-1 rows in turns, Q steps of each row at a time (as a\n"
            "                   server runs blocks of different sizes one after another), after settling\n"
            "                   --settle-seconds on the same turns (default 20, a request's steps, which\n"
            "                   a one-GPU server runs as one block; 0: each row's samples one after\n"
            "                   another, after settling on the largest size). A power-bound GPU's clock\n"
            "                   follows the load's recent power: a small size timed alone gets a higher\n"
            "                   clock than it has between large ones (2-3%% on an H200), and in short\n"
            "                   turns a row inherits the clock of the row before it, which served\n"
            "                   blocks of 20 steps do not (docs/validation.md 7.4). The rows' runners\n"
            "                   are all held at once, as tetri serve holds its graphs\n"
            "  --timing HOW     served (default): the timed steps run back to back, as a block of tetri serve\n"
            "                   runs them, each between two CUDA events, nothing waiting between steps or\n"
            "                   turns; synced: each step is waited for before the next is launched (the GPU\n"
            "                   idles a launch between steps), the method before this option\n"
            "  --degrees LIST   sequence-parallel degrees (default 1; any of 1,2,4,8). Degree k > 1 on one GPU:\n"
            "                   one rank's share of the step (the rank with the most rows, its all-to-alls left\n"
            "                   out: dit_sp_rank_sample_ms) is measured, and its 2 all-to-alls per block are\n"
            "                   added from --link-model's link (one all-to-all = floor + bytes the rank sends /\n"
            "                   bandwidth): rows with source 'measured-compute+modelled-comm', never 'measured'.\n"
            "                   The hardware row gets that link model, its source, the GPU count and fast\n"
            "                   domain; the migration table gets each resolution's request state (latent, text\n"
            "                   rows, modulation table) over the same link (source 'analytic').\n"
            "  --link-model HW  the link figures of the analytic model's hardware HW (h100x8, h200x8, a40x4:\n"
            "                   tetri profile --analytic lists their sources); needed with a degree > 1\n"
            "  --idle-speedup   also time how the GPU runs after idling (the first model's batch-1 rows, after\n"
            "                   --interleave's): each of 4 repetitions runs 1 s of steps back to back, idles\n"
            "                   200 ms, then times 1.2 s of steps one by one against the row's median. The\n"
            "                   first 100 ms give the factor, the time saved over the 1.2 s the boost's\n"
            "                   length (saved / (1 - factor)); the medians over rows and repetitions are the\n"
            "                   hardware's idle_speedup row (min idle 50 ms, tetri validate's threshold), which\n"
            "                   the simulator applies to blocks that start after idling\n");
}

#ifdef TETRI_HAVE_CUDA

typedef struct measure_args {
    const char *out, *hardware, *attention;
    const analytic_hw *link;    /* --link-model: the link of the modelled all-to-alls */
    int degrees[4], n_degrees;
    int models[TETRI_MODEL_COUNT], n_models;
    int res[16], n_res;
    int batch_lo, batch_hi, samples, warmup, steps, device;
    int interleave;             /* --interleave Q: the degree-1 rows' steps in turns of Q (0: a row at a time) */
    bool served;                /* --timing served (steps back to back, as a block runs them) or synced */
    bool idle_speedup;          /* --idle-speedup: measure the hardware's idle_speedup row */
    double settle_s;
} measure_args;

static int parse_args(int argc, char **argv, measure_args *a, tetri_error *err)
{
    enum { OPT_OUT = 256, OPT_MODEL, OPT_RES, OPT_BATCH, OPT_SAMPLES, OPT_WARMUP, OPT_STEPS, OPT_DEVICE, OPT_HW, OPT_ATTN, OPT_SETTLE, OPT_DEGREES, OPT_LINK, OPT_INTERLEAVE, OPT_TIMING,
           OPT_IDLE };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},          {"out", required_argument, NULL, OPT_OUT},
        {"model", required_argument, NULL, OPT_MODEL}, {"res", required_argument, NULL, OPT_RES},
        {"batch", required_argument, NULL, OPT_BATCH}, {"samples", required_argument, NULL, OPT_SAMPLES},
        {"warmup", required_argument, NULL, OPT_WARMUP}, {"steps", required_argument, NULL, OPT_STEPS},
        {"device", required_argument, NULL, OPT_DEVICE}, {"hardware", required_argument, NULL, OPT_HW},
        {"attention", required_argument, NULL, OPT_ATTN}, {"settle-seconds", required_argument, NULL, OPT_SETTLE},
        {"degrees", required_argument, NULL, OPT_DEGREES}, {"link-model", required_argument, NULL, OPT_LINK},
        {"interleave", required_argument, NULL, OPT_INTERLEAVE}, {"timing", required_argument, NULL, OPT_TIMING},
        {"idle-speedup", no_argument, NULL, OPT_IDLE},
        {NULL, 0, NULL, 0},
    };
    *a = (measure_args){.attention = "auto", .models = {TETRI_MODEL_FLUX_DEV, TETRI_MODEL_SD3_MEDIUM}, .n_models = 2,
                        .res = {256, 512, 1024, 2048}, .n_res = 4, .batch_lo = 1, .batch_hi = 4, .samples = 20, .warmup = 5,
                        .steps = 20, .settle_s = 10, .degrees = {1}, .n_degrees = 1, .interleave = -1,
                        .served = true};
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        char *list, *tok, *save;
        switch (c) {
        case 'h': usage(stdout); return 1;
        case OPT_OUT: a->out = optarg; break;
        case OPT_HW: a->hardware = optarg; break;
        case OPT_ATTN: a->attention = optarg; break;
        case OPT_LINK:
            if (!(a->link = analytic_hardware_find(optarg)))
                return tetri_errorf(err, "--link-model '%s': h100x8, h200x8 or a40x4 (the analytic model's hardware)", optarg);
            break;
        case OPT_DEGREES:
            a->n_degrees = 0;
            list = strdup(optarg);
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                int k;
                if (a->n_degrees == 4 || tetri_int_parse(tok, 1, 8, &k) || (k & (k - 1))) {
                    free(list);
                    return tetri_errorf(err, "--degrees '%s': a list of 1, 2, 4, 8", optarg);
                }
                a->degrees[a->n_degrees++] = k;
            }
            free(list);
            if (a->n_degrees == 0) return tetri_errorf(err, "--degrees '%s': a list of 1, 2, 4, 8", optarg);
            break;
        case OPT_MODEL:
            a->n_models = 0;
            list = strdup(optarg);
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
                tetri_model m;
                if (tetri_model_parse(tok, &m) < 0 || a->n_models == TETRI_MODEL_COUNT) {
                    free(list);
                    return tetri_errorf(err, "--model '%s': a list of flux-dev, sd3-medium", optarg);
                }
                a->models[a->n_models++] = m;
            }
            free(list);
            if (a->n_models == 0) return tetri_errorf(err, "--model '%s': a list of flux-dev, sd3-medium", optarg);
            break;
        case OPT_RES:
            if ((a->n_res = tetri_sides_parse(optarg, 4096, a->res, 16)) < 0)
                return tetri_errorf(err, "--res '%s': up to 16 sides, multiples of 16 in 16..4096", optarg);
            break;
        case OPT_BATCH: {
            const char *dash = strchr(optarg, '-');
            char lo[16];
            snprintf(lo, sizeof lo, "%.*s", dash ? (int)(dash - optarg) : (int)strlen(optarg), optarg);
            if (tetri_int_parse(lo, 1, 8, &a->batch_lo) || tetri_int_parse(dash ? dash + 1 : lo, a->batch_lo, 8, &a->batch_hi))
                return tetri_errorf(err, "--batch '%s': A-B (or A) with 1 <= A <= B <= 8", optarg);
            break;
        }
        case OPT_SAMPLES: if (tetri_int_parse(optarg, 20, 100000, &a->samples)) return tetri_errorf(err, "--samples '%s': at least 20", optarg); break;
        case OPT_WARMUP: if (tetri_int_parse(optarg, 0, 100000, &a->warmup)) return tetri_errorf(err, "--warmup '%s': a count", optarg); break;
        case OPT_STEPS: if (tetri_int_parse(optarg, 1, 1000, &a->steps)) return tetri_errorf(err, "--steps '%s': 1..1000", optarg); break;
        case OPT_SETTLE: {
            char *end;
            a->settle_s = strtod(optarg, &end);
            if (end == optarg || *end || !(a->settle_s >= 0 && a->settle_s <= 3600))
                return tetri_errorf(err, "--settle-seconds '%s': 0..3600", optarg);
            break;
        }
        case OPT_INTERLEAVE:
            if (tetri_int_parse(optarg, 0, 1000, &a->interleave))
                return tetri_errorf(err, "--interleave '%s': steps per turn, 1..1000 (0: a row at a time)", optarg);
            break;
        case OPT_TIMING:
            if (strcmp(optarg, "served") && strcmp(optarg, "synced"))
                return tetri_errorf(err, "--timing '%s': served (steps back to back) or synced (each step waited for)", optarg);
            a->served = strcmp(optarg, "served") == 0;
            break;
        case OPT_IDLE: a->idle_speedup = true; break;
        case OPT_DEVICE: if (tetri_int_parse(optarg, 0, 1023, &a->device)) return tetri_errorf(err, "--device '%s': a device number", optarg); break;
        case ':': return tetri_errorf(err, "%s needs a value", argv[optind - 1]);
        default: return tetri_errorf(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return tetri_errorf(err, "unexpected argument '%s'", argv[optind]);
    if (!a->out) return tetri_errorf(err, "--out FILE is required: the profile to write");
    int max_degree = 1;
    for (int i = 0; i < a->n_degrees; i++) max_degree = a->degrees[i] > max_degree ? a->degrees[i] : max_degree;
    if (max_degree > 1 && !a->link)
        return tetri_errorf(err, "--degrees '%d' needs --link-model HW: the all-to-alls of a degree above 1 are modelled", max_degree);
    if (a->link && max_degree > a->link->fast_domain_size)
        return tetri_errorf(err, "--degrees: %d is wider than %s's fast domain (%d GPUs)", max_degree, a->link->name,
                            a->link->fast_domain_size);
    if (a->link && !a->hardware) return tetri_errorf(err, "--link-model: name the hardware it describes with --hardware (e.g. h200x8)");
    bool degree1 = false;
    for (int i = 0; i < a->n_degrees; i++) degree1 |= a->degrees[i] == 1;
    if (a->interleave > 0 && !degree1) return tetri_errorf(err, "--interleave takes the degree-1 rows in turns: --degrees has no 1");
    if (a->interleave < 0) a->interleave = degree1 ? 20 : 0;
    if (a->idle_speedup && (!degree1 || a->batch_lo != 1 || !a->served || a->interleave == 0))
        return tetri_errorf(err, "--idle-speedup compares steps after idling with the batch-1 degree-1 rows timed back to back in "
                                 "turns: it needs degree 1, batch 1 in --batch, --timing served and --interleave above 0");
    return 0;
}

/* "NVIDIA H200" -> "h200x1", "NVIDIA H100 80GB HBM3" -> "h100x1": the first word after the vendor's. */
static void hardware_name_of(const char *gpu, char *buf, size_t len)
{
    const char *p = strncmp(gpu, "NVIDIA ", 7) == 0 ? gpu + 7 : gpu;
    size_t n = 0;
    char word[32];
    for (; *p && *p != ' ' && n + 1 < sizeof word; p++)
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            word[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    word[n] = 0;
    snprintf(buf, len, "%sx1", n ? word : "gpu");
}

/* What serving runs: any backend but the fp32 oracle. */
static int attention_of(const char *name, dit_attn_backend *out, tetri_error *err)
{
    if (dit_attn_backend_parse(name, out) || *out == DIT_ATTN_ORACLE)
        return tetri_errorf(err, "--attention '%s': auto, cudnn, flash or flash-mma", name);
    return 0;
}

/* A request's preparation at side `res` as the GPU backend makes it at its first block: its slot
 * allocated (stream-ordered), seeded inputs, the conditioning of its schedule; median of 10 after
 * 2 untimed. */
static int measure_prepare(dit_gpu *m, const measure_args *a, tetri_model model, int T, int res, measured_stage *out, tetri_error *err)
{
    cudaStream_t st = dit_gpu_stream(m);
    cudaEvent_t e0, e1;
    float ms[10];
    int rc = 0;
    if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) return tetri_errorf(err, "creating events");
    for (int i = 0; i < 12 && !rc; i++) {
        dit_slot *sl = NULL;
        cudaEventRecord(e0, st);
        rc = dit_slot_create(m, T, res / 16, res / 16, a->steps, &sl, err) || dit_slot_random_inputs(sl, (uint64_t)i, err) ? -1 : 0;
        cudaEventRecord(e1, st);
        if (!rc && cudaEventSynchronize(e1) != cudaSuccess) rc = tetri_errorf(err, "timing the preparation");
        if (!rc && i >= 2) cudaEventElapsedTime(&ms[i - 2], e0, e1);
        dit_slot_destroy(sl);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (rc) return -1;
    measured_row r;
    measured_row_from_samples(&r, ms, 10);
    *out = (measured_stage){.model = model, .width = res, .height = res, .median_ns = r.median_ns};
    printf("%-10s %5d  prepare %.3f ms (a request's state before its first step)\n", tetri_model_name(model), res, r.median_ns / 1e6);
    return 0;
}

/* Steps of the first row's shape for `seconds`, untimed: the GPU at the clock a sustained load holds. */
static int settle_clock(dit_gpu *m, const measure_args *a, int T, tetri_error *err)
{
    if (a->settle_s <= 0) return 0;
    const int res = a->res[a->n_res - 1];
    dit_gpu_step *st = NULL;
    const tetri_ns t0 = tetri_monotonic_ns();
    int rc = dit_gpu_step_create(m, 1, T, res / 16, res / 16, a->steps, &st, err) || dit_gpu_step_random_inputs(st, 3, err) ||
                     dit_gpu_step_capture(st, err) ? -1 : 0;
    float ms;
    do {
        if (!rc) rc = dit_gpu_step_sample_ms(st, 0, 1, &ms, err);
    } while (!rc && tetri_seconds_since(t0) < a->settle_s);
    dit_gpu_step_destroy(st);
    if (!rc) printf("# settled %.0f s at %dx%d: SM clock now %d MHz\n", a->settle_s, res, res, dit_gpu_sm_clock_mhz(a->device));
    return rc;
}

/* A runner of `batch` at side `res` over its own seeded slots, its graph captured. */
static int make_runner(dit_gpu *m, const measure_args *a, dit_attn_backend attn, int T, int res, int batch, dit_gpu_step **st,
                       tetri_error *err)
{
    *st = NULL;
    if (dit_gpu_step_create(m, batch, T, res / 16, res / 16, a->steps, st, err)) return -1;
    dit_gpu_step_set_attention(*st, attn);
    return dit_gpu_step_random_inputs(*st, 7, err) || dit_gpu_step_capture(*st, err) ? -1 : 0;
}

/* A degree-1 row from its --samples step times (sorted in place): the row, its method text (`how` it was timed)
 * and its line of the table. */
static void finish_row(const dit_gpu *m, const measure_args *a, const dit_gpu_info *info, const dit_gpu_step *st, tetri_model model,
                       int res, int batch, float *ms, int clock_lo, int clock_hi, const char *how, measured_row *row,
                       char *method, size_t method_len)
{
    *row = (measured_row){.model = model, .width = res, .height = res, .degree = 1, .batch = batch};
    measured_row_from_samples(row, ms, a->samples);
    char gpu[256];
    dit_gpu_info_text(info, gpu, sizeof gpu);
    snprintf(method, method_len, "tetri %s profile measure: CUDA graph of one step, %s attention (%s paths), %d samples after %d warm-up%s; %s; "
             "SM clock seen %d..%d MHz", PACKAGE_VERSION, dit_attn_backend_name(dit_gpu_step_attention(st)),
             dit_gpu_paths_name(dit_gpu_get_paths(m)), a->samples, a->warmup, how, gpu, clock_lo, clock_hi);
    row->method = method;
    printf("%-10s %5d %5d %10.3f %10.3f %10.3f %7.4f %6d..%-6d %s\n", tetri_model_name(model), res, batch, row->median_ns / 1e6,
           row->p10_ns / 1e6, row->p90_ns / 1e6, row->cv, clock_lo, clock_hi, dit_attn_backend_name(dit_gpu_step_attention(st)));
    fflush(stdout);
}

/* How --timing took the steps, for a row's method text. */
static const char *timing_text(const measure_args *a)
{
    return a->served ? "steps back to back (--timing served)" : "each step waited for (--timing synced)";
}

/* Widens the clock range [*lo, *hi] to the SM clock now. */
static void clock_seen(const measure_args *a, int *lo, int *hi)
{
    const int mhz = dit_gpu_sm_clock_mhz(a->device);
    if (mhz < *lo) *lo = mhz;
    if (mhz > *hi) *hi = mhz;
}

/* n CUDA events with timing, ev[0..n) (zeroed first); on failure the ones made are destroyed. */
static int events_create(cudaEvent_t *ev, size_t n, tetri_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (cudaEventCreate(&ev[i]) != cudaSuccess) {
            for (size_t j = 0; j < i; j++) cudaEventDestroy(ev[j]);
            return tetri_errorf(err, "creating %zu CUDA events", n);
        }
    return 0;
}

static void events_destroy(cudaEvent_t *ev, size_t n)
{
    for (size_t i = 0; i < n; i++) cudaEventDestroy(ev[i]);
}

/* --warmup untimed then n timed steps of one runner, all back to back (--timing served): ms[0..n). */
static int sample_served(dit_gpu_step *st, int warmup, int n, float *ms, tetri_error *err)
{
    cudaEvent_t *at = calloc((size_t)n + 1, sizeof *at);
    if (!at) return tetri_errorf(err, "out of memory");
    if (events_create(at, (size_t)n + 1, err)) { free(at); return -1; }
    int rc = dit_gpu_step_run(st, warmup, err) || dit_gpu_step_run_marked(st, n, at, err) ? -1 : 0;
    if (!rc && cudaEventSynchronize(at[n]) != cudaSuccess) rc = tetri_errorf(err, "waiting for the timed steps");
    for (int i = 0; i < n && !rc; i++)
        if (cudaEventElapsedTime(&ms[i], at[i], at[i + 1]) != cudaSuccess) rc = tetri_errorf(err, "reading a step's time");
    events_destroy(at, (size_t)n + 1);
    free(at);
    return rc;
}

/* One row: a runner of `batch` at side `res`, --samples timed steps after --warmup, alone. */
static int measure_row(dit_gpu *m, const measure_args *a, const dit_gpu_info *info, dit_attn_backend attn, tetri_model model, int T,
                       int res, int batch, measured_row *row, char *method, size_t method_len, tetri_error *err)
{
    dit_gpu_step *st = NULL;
    float *ms = malloc((size_t)a->samples * sizeof *ms);
    if (!ms) return tetri_errorf(err, "out of memory");
    int clock_lo = dit_gpu_sm_clock_mhz(a->device), clock_hi = clock_lo;
    int rc = make_runner(m, a, attn, T, res, batch, &st, err);
    if (!rc) rc = a->served ? sample_served(st, a->warmup, a->samples, ms, err) : dit_gpu_step_sample_ms(st, a->warmup, a->samples, ms, err);
    if (!rc) {
        clock_seen(a, &clock_lo, &clock_hi);
        char how[80];
        snprintf(how, sizeof how, ", %s", timing_text(a));
        finish_row(m, a, info, st, model, res, batch, ms, clock_lo, clock_hi, how, row, method, method_len);
    }
    dit_gpu_step_destroy(st);
    free(ms);
    return rc;
}

/* --timing synced: each timed step waited for (dit_gpu_step_sample_ms), so the GPU idles for a
 * launch between steps; the method of tetri before --timing. Rows' steps in turns of Q, first
 * untimed for --settle-seconds (and at least --warmup steps each). */
static int turns_synced(const measure_args *a, dit_gpu_step **st, int nr, float *ms, int *lo, int *hi, tetri_error *err)
{
    const int q = a->interleave;
    float *untimed = malloc((size_t)q * sizeof *untimed);
    if (!untimed) return tetri_errorf(err, "out of memory");
    const tetri_ns t0 = tetri_monotonic_ns();
    int rc = 0;
    for (int turns = 0; !rc && (turns * q < a->warmup || tetri_seconds_since(t0) < a->settle_s); turns++)
        for (int i = 0; i < nr && !rc; i++) rc = dit_gpu_step_sample_ms(st[i], 0, q, untimed, err);
    free(untimed);
    if (!rc)
        printf("# settled %.1f s on turns of %d steps of each of %d rows: SM clock now %d MHz\n", tetri_seconds_since(t0), q, nr,
               dit_gpu_sm_clock_mhz(a->device));
    for (int done = 0; done < a->samples && !rc; done += q) {
        const int k = a->samples - done < q ? a->samples - done : q;
        for (int i = 0; i < nr && !rc; i++) {
            rc = dit_gpu_step_sample_ms(st[i], 0, k, ms + (size_t)i * a->samples + done, err);
            clock_seen(a, &lo[i], &hi[i]);
        }
    }
    return rc;
}

/* --timing served: a cycle runs Q steps of every row back to back, an event between every two
 * steps (dit_gpu_step_run_marked), and nothing waits between steps or cycles: the host enqueues
 * cycle c + 1 (its own set of events) before it reads cycle c's times, so the GPU never idles,
 * as under a server's queue. Cycles are untimed until --settle-seconds have passed (and each row
 * has had --warmup steps), then timed until each row has --samples. A row's clock is read when its
 * turn of the cycle just read has ended (the next cycle runs then). O(cycles x rows) events
 * waited on. */
static int turns_served(const measure_args *a, dit_gpu_step **st, int nr, float *ms, int *lo, int *hi, tetri_error *err)
{
    const int q = a->interleave, per = q + 1, timed_cycles = (a->samples + q - 1) / q;
    const size_t n_ev = (size_t)2 * nr * per;
    cudaEvent_t *ev = calloc(n_ev, sizeof *ev);
    if (!ev) return tetri_errorf(err, "out of memory");
    if (events_create(ev, n_ev, err)) { free(ev); return -1; }
    int rc = 0;
    const tetri_ns t0 = tetri_monotonic_ns();
    bool settled = false;
    int timed = 0, prev = -2; /* prev: the cycle just enqueued, its timed index; -1 untimed, -2 none */
    for (int c = 0; !rc; c++) {
        if (!settled && c * q >= a->warmup && tetri_seconds_since(t0) >= a->settle_s) {
            settled = true;
            printf("# settled %.1f s on turns of %d steps of each of %d rows, back to back: SM clock now %d MHz\n",
                   tetri_seconds_since(t0), q, nr, dit_gpu_sm_clock_mhz(a->device));
        }
        const bool more = !settled || timed < timed_cycles;
        const int this = !settled ? -1 : timed++;
        cudaEvent_t *mine = ev + (size_t)(c & 1) * nr * per, *theirs = ev + (size_t)((c + 1) & 1) * nr * per;
        for (int i = 0; more && i < nr && !rc; i++) rc = dit_gpu_step_run_marked(st[i], q, mine + (size_t)i * per, err);
        for (int i = 0; prev != -2 && i < nr && !rc; i++) {
            cudaEvent_t *at = theirs + (size_t)i * per;
            if (cudaEventSynchronize(at[q]) != cudaSuccess) { rc = tetri_errorf(err, "waiting for a turn's steps"); break; }
            if (prev < 0) continue;
            clock_seen(a, &lo[i], &hi[i]);
            for (int j = 0; j < q && prev * q + j < a->samples && !rc; j++)
                if (cudaEventElapsedTime(&ms[(size_t)i * a->samples + (size_t)prev * q + j], at[j], at[j + 1]) != cudaSuccess)
                    rc = tetri_errorf(err, "reading a step's time");
        }
        if (!more) break;
        prev = this;
    }
    events_destroy(ev, n_ev);
    free(ev);
    return rc;
}

/* Every degree-1 row of a model at once (--interleave Q): a runner per (resolution, batch), then
 * turns in which each runs Q steps, as a server runs blocks of different shapes one after
 * another (turns_served or turns_synced, by --timing). Each row is thus taken at the clock the
 * mixed load holds, where a row timed alone gets the clock of its own power draw. Appends the rows
 * at rows[*n]. */
static int measure_rows_interleaved(dit_gpu *m, const measure_args *a, const dit_gpu_info *info, dit_attn_backend attn,
                                    tetri_model model, int T, measured_row *rows, char (*methods)[1024], size_t *n,
                                    tetri_error *err)
{
    const int nb = a->batch_hi - a->batch_lo + 1, nr = a->n_res * nb, q = a->interleave;
    dit_gpu_step **st = calloc((size_t)nr, sizeof *st);
    float *ms = malloc((size_t)nr * (size_t)a->samples * sizeof *ms);
    int *lo = malloc((size_t)nr * sizeof *lo), *hi = malloc((size_t)nr * sizeof *hi);
    int rc = st && ms && lo && hi ? 0 : tetri_errorf(err, "out of memory");
    for (int i = 0; i < nr && !rc; i++) {
        rc = make_runner(m, a, attn, T, a->res[i / nb], a->batch_lo + i % nb, &st[i], err);
        if (rc) tetri_error_prefix(err, "--interleave: a runner of %dx%d batch %d beside the %d before it", a->res[i / nb],
                                   a->res[i / nb], a->batch_lo + i % nb, i);
    }
    for (int i = 0; lo && hi && i < nr; i++) lo[i] = INT32_MAX, hi[i] = 0;
    if (!rc) rc = a->served ? turns_served(a, st, nr, ms, lo, hi, err) : turns_synced(a, st, nr, ms, lo, hi, err);
    char how[160];
    snprintf(how, sizeof how, ", in turns of %d steps with the model's %d other rows, %s", q, nr - 1, timing_text(a));
    for (int i = 0; i < nr && !rc; i++, (*n)++)
        finish_row(m, a, info, st[i], model, a->res[i / nb], a->batch_lo + i % nb, ms + (size_t)i * a->samples, lo[i], hi[i], how,
                   &rows[*n], methods[*n], sizeof methods[*n]);
    for (int i = 0; st && i < nr; i++) dit_gpu_step_destroy(st[i]);
    free(st);
    free(ms);
    free(lo);
    free(hi);
    return rc;
}

/* ---- --idle-speedup ---------------------------------------------------------------------------- */

#define IDLE_REPS 4
#define IDLE_SETTLE_S 1.0     /* back to back before each idle: the sustained clock */
#define IDLE_PAUSE_NS (200 * TETRI_NS_PER_MS)
#define IDLE_TIMED_S 1.2      /* timed after the idle: longer than the boost lasts */
#define IDLE_FIRST_NS (100 * TETRI_NS_PER_MS) /* the steps ending within this give the factor */

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, stats_compare_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One repetition on runner st (back-to-back step median_ms): settle, idle, then k steps timed one by
 * one. *factor: the steps ending within IDLE_FIRST_NS against the median; *saved_ms: all k steps'
 * time saved against it. */
static int idle_repetition(dit_gpu_step *st, double median_ms, int k, double *factor, double *saved_ms, tetri_error *err)
{
    const int settle = (int)ceil(IDLE_SETTLE_S * 1e3 / median_ms);
    cudaEvent_t *at = calloc((size_t)k + 1, sizeof *at);
    if (!at) return tetri_errorf(err, "out of memory");
    if (events_create(at, (size_t)k + 1, err)) { free(at); return -1; }
    int rc = dit_gpu_step_run(st, settle, err);
    if (!rc && cudaDeviceSynchronize() != cudaSuccess) rc = tetri_errorf(err, "waiting for the steps before the idle");
    if (!rc) {
        struct timespec pause = {0, IDLE_PAUSE_NS};
        nanosleep(&pause, NULL); /* the GPU idles: nothing is queued */
        rc = dit_gpu_step_run_marked(st, k, at, err);
        if (!rc && cudaEventSynchronize(at[k]) != cudaSuccess) rc = tetri_errorf(err, "waiting for the steps after the idle");
    }
    double first = 0, elapsed = 0, saved = 0;
    int n_first = 0;
    for (int i = 0; i < k && !rc; i++) {
        float ms;
        if (cudaEventElapsedTime(&ms, at[i], at[i + 1]) != cudaSuccess) { rc = tetri_errorf(err, "reading a step's time"); break; }
        elapsed += ms;
        saved += median_ms - ms;
        if (i == 0 || elapsed * 1e6 <= (double)IDLE_FIRST_NS) first += ms, n_first++;
    }
    events_destroy(at, (size_t)k + 1);
    free(at);
    if (rc) return tetri_error_prefix(err, "--idle-speedup");
    *factor = first / (n_first * median_ms);
    *saved_ms = saved;
    return 0;
}

/* The hardware's idle_speedup row from the model's batch-1 rows just measured (rows[first..n)):
 * IDLE_REPS repetitions each, the medians over rows of their medians. */
static int measure_idle_speedup(dit_gpu *m, const measure_args *a, dit_attn_backend attn, tetri_model model, int T,
                                const measured_row *rows, size_t first, size_t n, measured_idle_speedup *out, char *method,
                                size_t method_len, tetri_error *err)
{
    double f_row[16], d_row[16];
    int nr = 0;
    size_t used = (size_t)snprintf(method, method_len, "tetri %s profile measure --idle-speedup: after %.0f ms idle, %d repetitions;",
                                   PACKAGE_VERSION, (double)IDLE_PAUSE_NS / 1e6, IDLE_REPS);
    for (size_t i = first; i < n && nr < 16; i++) {
        if (rows[i].batch != 1 || rows[i].degree != 1) continue;
        const double median_ms = rows[i].median_ns / 1e6;
        const int k = (int)ceil(IDLE_TIMED_S * 1e3 / median_ms) < 3 ? 3 : (int)ceil(IDLE_TIMED_S * 1e3 / median_ms);
        dit_gpu_step *st = NULL;
        double f[IDLE_REPS], saved[IDLE_REPS];
        int rc = make_runner(m, a, attn, T, rows[i].width, 1, &st, err);
        for (int r = 0; r < IDLE_REPS && !rc; r++) rc = idle_repetition(st, median_ms, k, &f[r], &saved[r], err);
        dit_gpu_step_destroy(st);
        if (rc) return -1;
        const double fm = median_of(f, IDLE_REPS), sm = median_of(saved, IDLE_REPS);
        f_row[nr] = fm;
        /* saved / (1 - factor) extrapolates when the factor is near 1 (noise): the boost seen is at
         * most the window timed */
        d_row[nr] = fm < 1 && sm > 0 ? fmin(sm / (1 - fm), k * median_ms) : 0;
        printf("# idle speed-up %-10s %5d: the first %.0f ms at %.4f x the median, %.2f ms saved over %d steps (%.2f s): boost %.0f ms\n",
               tetri_model_name(model), rows[i].width, (double)IDLE_FIRST_NS / 1e6, fm, sm, k, k * median_ms / 1e3, d_row[nr]);
        if (used < method_len)
            used += (size_t)snprintf(method + used, method_len - used, " %dpx %.4f x, %.1f ms saved;", rows[i].width, fm, sm);
        nr++;
    }
    if (nr == 0) return tetri_errorf(err, "--idle-speedup: no batch-1 row of %s was measured", tetri_model_name(model));
    const double f = median_of(f_row, nr), d = median_of(d_row, nr);
    *out = (measured_idle_speedup){.min_idle_ns = TETRI_AFTER_IDLE_NS, .boost_ns = (int64_t)llround(d * 1e6),
                                   .factor = f > 1 ? 1 : f, .method = method};
    if (used < method_len)
        snprintf(method + used, method_len - used, " medians over rows: factor %.4f, boost %.0f ms; min idle %.0f ms assumed", out->factor,
                 d, (double)TETRI_AFTER_IDLE_NS / 1e6);
    printf("# idle speed-up: factor %.4f, boost %.0f ms, after %.0f ms or more of idling (the hardware's idle_speedup row)\n",
           out->factor, d, (double)TETRI_AFTER_IDLE_NS / 1e6);
    return 0;
}

/* The rank of degree k with the most rows (shards differ by a row where k does not divide T or N):
 * the one a block waits for. */
static int widest_rank(int T, int N, int k)
{
    int best = 0, rows = -1;
    for (int r = 0; r < k; r++) {
        dit_sp_shard sh;
        dit_sp_shard_of(T, N, k, r, &sh);
        if (sh.tn + sh.nn > rows) rows = sh.tn + sh.nn, best = r;
    }
    return best;
}

/* Seconds of a step's all-to-alls for rank r at degree k over the link model: every block's two
 * exchanges (qkv before attention, the output after), each the bytes r sends to the other ranks. */
static double modelled_comm_s(const measure_args *a, const dit_config *c, int T, int N, int B, int k, int r)
{
    size_t in[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE], out[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE];
    dit_sp_a2a_in_bytes(c, k, T, N, B, 2, in);
    dit_sp_a2a_out_bytes(c, k, T, N, B, 2, out);
    double sent_in = 0, sent_out = 0;
    for (int j = 0; j < k; j++)
        if (j != r) sent_in += (double)in[r * k + j], sent_out += (double)out[r * k + j];
    const int blocks = c->n_double + c->n_single;
    return blocks * (analytic_a2a_s(a->link, sent_in, TETRI_LINK_FAST) + analytic_a2a_s(a->link, sent_out, TETRI_LINK_FAST));
}

/* A row of degree k > 1: the widest rank's compute measured alone (null transport), plus the
 * modelled all-to-alls; p10 and p90 shift by the same time, the CV scales to the longer mean. */
static int measure_sp_row(dit_gpu *m, const measure_args *a, const dit_config *c, const dit_gpu_info *info, dit_attn_backend attn,
                          tetri_model model, int T, int res, int batch, int k, double deg1_ms, measured_row *row, char *method,
                          size_t method_len, tetri_error *err)
{
    const int g = res / 16, N = g * g, r = widest_rank(T, N, k);
    float *ms = malloc((size_t)a->samples * sizeof *ms);
    if (!ms) return tetri_errorf(err, "out of memory");
    const int clock_lo = dit_gpu_sm_clock_mhz(a->device);
    int rc = dit_sp_rank_sample_ms(m, batch, T, g, g, k, r, attn, a->warmup, a->samples, ms, err);
    const int clock_hi = dit_gpu_sm_clock_mhz(a->device);
    if (rc) { free(ms); return -1; }
    *row = (measured_row){.model = model, .width = res, .height = res, .degree = k, .batch = batch,
                          .source = "measured-compute+modelled-comm"};
    measured_row_from_samples(row, ms, a->samples);
    free(ms);
    const double compute_ms = row->median_ns / 1e6, comm_s = modelled_comm_s(a, c, T, N, batch, k, r);
    const tetri_ns comm_ns = (tetri_ns)llround(comm_s * 1e9);
    row->cv *= compute_ms / (compute_ms + comm_s * 1e3);
    row->median_ns += comm_ns, row->p10_ns += comm_ns, row->p90_ns += comm_ns;
    char gpu[256];
    dit_gpu_info_text(info, gpu, sizeof gpu);
    snprintf(method, method_len,
             "tetri %s profile measure --degrees: rank %d of %d computed alone (CUDA graph, null transport, --attention %s, %s paths) "
             "%.3f ms median over %d samples after %d warm-up on %s, SM clock seen %d..%d MHz; + %.3f ms of all-to-alls modelled "
             "on %s's link (%.0f GB/s, %.0f us floor, 2 per block)",
             PACKAGE_VERSION, r, k, dit_attn_backend_name(attn), dit_gpu_paths_name(dit_gpu_get_paths(m)), compute_ms, a->samples,
             a->warmup, gpu, clock_lo < clock_hi ? clock_lo : clock_hi,
             clock_lo < clock_hi ? clock_hi : clock_lo, comm_s * 1e3, a->link->name, a->link->fast_link_gbps, a->link->a2a_latency_us);
    row->method = method;
    printf("%-10s %5d %5d %3d %10.3f %10.3f %10.3f %7.4f  compute %8.3f + comm %7.3f", tetri_model_name(model), res, batch, k,
           row->median_ns / 1e6, row->p10_ns / 1e6, row->p90_ns / 1e6, row->cv, compute_ms, comm_s * 1e3);
    if (deg1_ms > 0) printf("  k x rank / deg 1 = %.3f", k * compute_ms / deg1_ms);
    printf("\n");
    fflush(stdout);
    return 0;
}

/* A request's state moved whole between GPUs (latent f32, text rows, the modulation table of
 * --steps steps, sigmas) over the link model, as one peer transfer: the migration table's row. */
static tetri_ns modelled_migration_ns(const measure_args *a, const dit_layout *L, int T, int res)
{
    const dit_config *c = &L->cfg;
    const double N = (double)(res / 16) * (res / 16);
    const double bytes = N * dit_token_in(c) * 4.0 + (double)T * c->text_dim * 2.0 + (double)a->steps * (double)L->mod_total * 2.0 +
                         (a->steps + 1) * 4.0;
    return (tetri_ns)llround(analytic_a2a_s(a->link, bytes, TETRI_LINK_FAST) * 1e9);
}

static int measure_all(const measure_args *a, tetri_error *err)
{
    dit_gpu_info info;
    dit_attn_backend attn = DIT_ATTN_AUTO;
    if (attention_of(a->attention, &attn, err)) return -1;
    if (cudaSetDevice(a->device) != cudaSuccess || dit_gpu_info_read(a->device, &info))
        return tetri_errorf(err, "no CUDA device %d", a->device);
    char hw_name[64], gpu_text[256];
    if (a->hardware) snprintf(hw_name, sizeof hw_name, "%s", a->hardware);
    else hardware_name_of(info.name, hw_name, sizeof hw_name);
    dit_gpu_info_text(&info, gpu_text, sizeof gpu_text);
    printf("# tetri profile measure on device %d: %s\n# into %s, hardware '%s'\n", a->device, gpu_text, a->out, hw_name);
    if (a->link) printf("# degrees above 1: the widest rank's compute measured here + all-to-alls modelled on %s's link\n", a->link->name);
    printf("%-10s %5s %5s %10s %10s %10s %7s %14s %s\n", "model", "res", "batch", "median_ms", "p10_ms", "p90_ms", "cv", "SM MHz seen",
           "attention");
    const size_t cap = (size_t)a->n_models * a->n_res * (a->batch_hi - a->batch_lo + 1) * a->n_degrees;
    measured_migration *migr = calloc((size_t)a->n_models * a->n_res, sizeof *migr);
    size_t n_migr = 0;
    measured_row *rows = calloc(cap, sizeof *rows);
    measured_stage *stages = calloc((size_t)a->n_models * a->n_res, sizeof *stages);
    size_t n_stages = 0;
    char (*methods)[1024] = calloc(cap, sizeof *methods);
    size_t n = 0;
    measured_idle_speedup idle = {0};
    char idle_method[1024] = "";
    bool have_idle = false;
    int rc = rows && methods && stages && migr ? 0 : tetri_errorf(err, "out of memory");
    for (int mi = 0; mi < a->n_models && !rc; mi++) {
        dit_config c;
        if (a->models[mi] == TETRI_MODEL_FLUX_DEV) dit_config_flux_dev(&c);
        else dit_config_sd3_medium(&c);
        dit_layout L;
        dit_gpu *m = NULL;
        if (dit_layout_build(&c, &L, err)) { rc = -1; break; }
        const tetri_model model = (tetri_model)a->models[mi];
        const int T = dit_default_text_tokens(&c);
        rc = dit_gpu_create(&L, &m, err) || dit_gpu_init_random(m, 1, err) || (!a->interleave && settle_clock(m, a, T, err)) ? -1 : 0;
        if (!rc && mi == 0) printf("# %s\n", dit_gpu_paths_text(m));
        const size_t first_row = n;
        for (int ri = 0; ri < a->n_res && !rc; ri++) {
            const int res = a->res[ri];
            rc = measure_prepare(m, a, model, T, res, &stages[n_stages++], err);
            if (a->link) migr[n_migr++] = (measured_migration){model, res, res, modelled_migration_ns(a, &L, T, res)};
        }
        if (!rc && a->interleave) rc = measure_rows_interleaved(m, a, &info, attn, model, T, rows, methods, &n, err);
        if (!rc && a->idle_speedup && mi == 0) {
            rc = measure_idle_speedup(m, a, attn, model, T, rows, first_row, n, &idle, idle_method, sizeof idle_method, err);
            have_idle = rc == 0;
        }
        for (int ri = 0; ri < a->n_res && !rc; ri++) {
            const int res = a->res[ri], N = (res / 16) * (res / 16);
            for (int b = a->batch_lo; b <= a->batch_hi && !rc; b++) {
                double deg1_ms = 0;
                for (size_t i = first_row; i < n; i++)
                    if (rows[i].width == res && rows[i].batch == b && rows[i].degree == 1) deg1_ms = rows[i].median_ns / 1e6;
                for (int di = 0; di < a->n_degrees && !rc; di++) {
                    const int k = a->degrees[di];
                    if (k == 1 && a->interleave) continue; /* taken in turns above */
                    tetri_error why = {{0}};
                    if (k > 1 && dit_sp_check(&c, k, T, N, &why)) {
                        printf("%-10s %5d %5d %3d  skipped: %s\n", tetri_model_name(model), res, b, k, why.msg);
                        continue;
                    }
                    rc = k == 1 ? measure_row(m, a, &info, attn, model, T, res, b, &rows[n], methods[n], sizeof methods[n], err)
                                : measure_sp_row(m, a, &c, &info, attn, model, T, res, b, k, deg1_ms, &rows[n], methods[n],
                                                 sizeof methods[n], err);
                    if (!rc && k == 1) deg1_ms = rows[n].median_ns / 1e6;
                    if (!rc) n++;
                }
            }
        }
        dit_gpu_destroy(m);
        dit_layout_free(&L);
    }
    if (!rc) {
        char date[16];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
        measured_hardware hw = {.name = hw_name, .gpu = info.name, .n_gpus = 1};
        if (a->link) {
            hw.n_gpus = a->link->n_gpus;
            hw.fast_domain_size = a->link->fast_domain_size;
            hw.fast_link_gbps = a->link->fast_link_gbps;
            hw.slow_link_gbps = a->link->slow_link_gbps;
            hw.a2a_latency_us = a->link->a2a_latency_us;
            hw.link_source = a->link->link_basis;
        }
        rc = measured_write(a->out, &hw, rows, n, stages, n_stages, date, err) ||
                     (n_migr && measured_write_migration(a->out, hw_name, migr, n_migr, err)) ||
                     (have_idle && measured_write_idle_speedup(a->out, hw_name, &idle, err)) ? -1 : 0;
        if (!rc) printf("# wrote %zu rows (%s) and %zu migration rows of '%s' to %s\n", n, a->link ? "measured, and measured compute + modelled all-to-alls" : "measured", n_migr, hw_name, a->out);
    }
    free(rows);
    free(methods);
    free(stages);
    free(migr);
    return rc;
}

int cmd_profile_measure(int argc, char **argv)
{
    measure_args a;
    tetri_error err = {{0}};
    int parsed = parse_args(argc, argv, &a, &err);
    if (parsed == 1) return 0;
    if (parsed < 0) {
        fprintf(stderr, "tetri profile measure: %s\n(tetri profile measure --help for the options)\n", err.msg);
        return 2;
    }
    if (measure_all(&a, &err)) {
        fprintf(stderr, "tetri profile measure: %s\n", err.msg);
        return 1;
    }
    return 0;
}

#else /* no CUDA */

int cmd_profile_measure(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "tetri profile measure: this tetri was built without CUDA (configure found no CUDA toolkit)\n");
    return 1;
}

#endif
