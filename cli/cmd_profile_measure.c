/* cli/cmd_profile_measure.c: `tetri profile measure`: per-step latency on this GPU into a profile.
 *
 * Each (model, resolution, batch) runs through the serving backend's own runner (dit_gpu_step: the
 * CUDA graph of one denoising step over request slots), so a measured row is what a block of the
 * GPU backend costs per step. Samples: CUDA events around each of --samples single steps after
 * --warmup untimed ones. Each row's method text names the GPU, driver, CUDA, cuBLASLt and cuDNN
 * versions and the SM clocks seen (min..max over the row's samples, from NVML). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/commands.h"
#include "core/error.h"
#include "core/types.h"
#include "profiles/measured.h"

#ifdef TETRI_HAVE_CUDA
#include <cuda_runtime.h>

#include "dit/dit_gpu.h"
#include "dit/gpu_info.h"
#include "dit/model.h"
#endif

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri profile measure --out FILE [--model LIST] [--res LIST] [--batch A-B] [--samples N]\n"
            "                             [--warmup N] [--steps N] [--device N] [--hardware NAME] [--attention NAME]\n"
            "\n"
            "Times one denoising step on this GPU for every model, resolution and batch size asked for,\n"
            "through the runner `tetri serve --backend gpu` uses (a CUDA graph over request slots, random\n"
            "weights of the true shapes), and writes the rows, source 'measured', into FILE: the median,\n"
            "p10, p90 and coefficient of variation over --samples steps, and in each row's method the GPU,\n"
            "driver, CUDA, cuBLASLt and cuDNN versions and the SM clocks seen. FILE is created, or the rows\n"
            "of the same hardware, model, size and batch in it are replaced (others stay). Degree 1 only:\n"
            "sequence parallelism is not in the executor yet. Per resolution it also times a request's\n"
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
            "                   for the clock a sustained load holds\n");
}

#ifdef TETRI_HAVE_CUDA

typedef struct measure_args {
    const char *out, *hardware, *attention;
    int models[TETRI_MODEL_COUNT], n_models;
    int res[16], n_res;
    int batch_lo, batch_hi, samples, warmup, steps, device;
    double settle_s;
} measure_args;

static int parse_int_in(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, measure_args *a, tetri_error *err)
{
    enum { OPT_OUT = 256, OPT_MODEL, OPT_RES, OPT_BATCH, OPT_SAMPLES, OPT_WARMUP, OPT_STEPS, OPT_DEVICE, OPT_HW, OPT_ATTN, OPT_SETTLE };
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},          {"out", required_argument, NULL, OPT_OUT},
        {"model", required_argument, NULL, OPT_MODEL}, {"res", required_argument, NULL, OPT_RES},
        {"batch", required_argument, NULL, OPT_BATCH}, {"samples", required_argument, NULL, OPT_SAMPLES},
        {"warmup", required_argument, NULL, OPT_WARMUP}, {"steps", required_argument, NULL, OPT_STEPS},
        {"device", required_argument, NULL, OPT_DEVICE}, {"hardware", required_argument, NULL, OPT_HW},
        {"attention", required_argument, NULL, OPT_ATTN}, {"settle-seconds", required_argument, NULL, OPT_SETTLE},
        {NULL, 0, NULL, 0},
    };
    *a = (measure_args){.attention = "auto", .models = {TETRI_MODEL_FLUX_DEV, TETRI_MODEL_SD3_MEDIUM}, .n_models = 2,
                        .res = {256, 512, 1024, 2048}, .n_res = 4, .batch_lo = 1, .batch_hi = 4, .samples = 20, .warmup = 5,
                        .steps = 20, .settle_s = 10};
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
            a->n_res = 0;
            list = strdup(optarg);
            for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
                if (a->n_res == 16 || parse_int_in(tok, 16, 4096, &a->res[a->n_res]) || a->res[a->n_res++] % 16) {
                    free(list);
                    return tetri_errorf(err, "--res '%s': up to 16 sides, multiples of 16 in 16..4096", optarg);
                }
            free(list);
            if (a->n_res == 0) return tetri_errorf(err, "--res '%s': no side", optarg);
            break;
        case OPT_BATCH: {
            const char *dash = strchr(optarg, '-');
            char lo[16];
            snprintf(lo, sizeof lo, "%.*s", dash ? (int)(dash - optarg) : (int)strlen(optarg), optarg);
            if (parse_int_in(lo, 1, 8, &a->batch_lo) || parse_int_in(dash ? dash + 1 : lo, a->batch_lo, 8, &a->batch_hi))
                return tetri_errorf(err, "--batch '%s': A-B (or A) with 1 <= A <= B <= 8", optarg);
            break;
        }
        case OPT_SAMPLES: if (parse_int_in(optarg, 20, 100000, &a->samples)) return tetri_errorf(err, "--samples '%s': at least 20", optarg); break;
        case OPT_WARMUP: if (parse_int_in(optarg, 0, 100000, &a->warmup)) return tetri_errorf(err, "--warmup '%s': a count", optarg); break;
        case OPT_STEPS: if (parse_int_in(optarg, 1, 1000, &a->steps)) return tetri_errorf(err, "--steps '%s': 1..1000", optarg); break;
        case OPT_SETTLE: {
            char *end;
            a->settle_s = strtod(optarg, &end);
            if (end == optarg || *end || !(a->settle_s >= 0 && a->settle_s <= 3600))
                return tetri_errorf(err, "--settle-seconds '%s': 0..3600", optarg);
            break;
        }
        case OPT_DEVICE: if (parse_int_in(optarg, 0, 1023, &a->device)) return tetri_errorf(err, "--device '%s': a device number", optarg); break;
        case ':': return tetri_errorf(err, "%s needs a value", argv[optind - 1]);
        default: return tetri_errorf(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return tetri_errorf(err, "unexpected argument '%s'", argv[optind]);
    if (!a->out) return tetri_errorf(err, "--out FILE is required: the profile to write");
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
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = dit_gpu_step_create(m, 1, T, res / 16, res / 16, a->steps, &st, err) || dit_gpu_step_random_inputs(st, 3, err) ||
                     dit_gpu_step_capture(st, err) ? -1 : 0;
    float ms;
    do {
        if (!rc) rc = dit_gpu_step_sample_ms(st, 0, 1, &ms, err);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while (!rc && (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < a->settle_s);
    dit_gpu_step_destroy(st);
    if (!rc) printf("# settled %.0f s at %dx%d: SM clock now %d MHz\n", a->settle_s, res, res, dit_gpu_sm_clock_mhz(a->device));
    return rc;
}

/* One row: a runner of `batch` at side `res`, its own seeded slots, --samples timed steps. */
static int measure_row(dit_gpu *m, const measure_args *a, const dit_gpu_info *info, dit_attn_backend attn, tetri_model model, int T,
                       int res, int batch, measured_row *row, char *method, size_t method_len, tetri_error *err)
{
    dit_gpu_step *st = NULL;
    float *ms = malloc((size_t)a->samples * sizeof *ms);
    if (!ms) return tetri_errorf(err, "out of memory");
    int clock_lo = dit_gpu_sm_clock_mhz(a->device), clock_hi = clock_lo;
    int rc = -1;
    if (dit_gpu_step_create(m, batch, T, res / 16, res / 16, a->steps, &st, err)) goto done;
    dit_gpu_step_set_attention(st, attn);
    if (dit_gpu_step_random_inputs(st, 7, err) || dit_gpu_step_capture(st, err) ||
        dit_gpu_step_sample_ms(st, a->warmup, a->samples, ms, err))
        goto done;
    const int clock_end = dit_gpu_sm_clock_mhz(a->device);
    if (clock_end < clock_lo) clock_lo = clock_end;
    if (clock_end > clock_hi) clock_hi = clock_end;
    *row = (measured_row){.model = model, .width = res, .height = res, .degree = 1, .batch = batch};
    measured_row_from_samples(row, ms, a->samples);
    char gpu[256];
    dit_gpu_info_text(info, gpu, sizeof gpu);
    snprintf(method, method_len, "tetri %s profile measure: CUDA graph of one step, %s attention (%s paths), %d samples after %d warm-up; %s; "
             "SM clock seen %d..%d MHz", PACKAGE_VERSION, dit_attn_backend_name(dit_gpu_step_attention(st)),
             dit_gpu_paths_name(dit_gpu_get_paths(m)), a->samples, a->warmup, gpu, clock_lo, clock_hi);
    row->method = method;
    printf("%-10s %5d %5d %10.3f %10.3f %10.3f %7.4f %6d..%-6d %s\n", tetri_model_name(model), res, batch, row->median_ns / 1e6,
           row->p10_ns / 1e6, row->p90_ns / 1e6, row->cv, clock_lo, clock_hi, dit_attn_backend_name(dit_gpu_step_attention(st)));
    fflush(stdout);
    rc = 0;
done:
    dit_gpu_step_destroy(st);
    free(ms);
    return rc;
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
    printf("%-10s %5s %5s %10s %10s %10s %7s %14s %s\n", "model", "res", "batch", "median_ms", "p10_ms", "p90_ms", "cv", "SM MHz seen",
           "attention");
    const size_t cap = (size_t)a->n_models * a->n_res * (a->batch_hi - a->batch_lo + 1);
    measured_row *rows = calloc(cap, sizeof *rows);
    measured_stage *stages = calloc((size_t)a->n_models * a->n_res, sizeof *stages);
    size_t n_stages = 0;
    char (*methods)[512] = calloc(cap, sizeof *methods);
    size_t n = 0;
    int rc = rows && methods && stages ? 0 : tetri_errorf(err, "out of memory");
    for (int mi = 0; mi < a->n_models && !rc; mi++) {
        dit_config c;
        if (a->models[mi] == TETRI_MODEL_FLUX_DEV) dit_config_flux_dev(&c);
        else dit_config_sd3_medium(&c);
        dit_layout L;
        dit_gpu *m = NULL;
        if (dit_layout_build(&c, &L, err)) { rc = -1; break; }
        const tetri_model model = (tetri_model)a->models[mi];
        const int T = dit_default_text_tokens(&c);
        rc = dit_gpu_create(&L, &m, err) || dit_gpu_init_random(m, 1, err) || settle_clock(m, a, T, err) ? -1 : 0;
        if (!rc && mi == 0) printf("# %s\n", dit_gpu_paths_text(m));
        for (int ri = 0; ri < a->n_res && !rc; ri++) {
            rc = measure_prepare(m, a, model, T, a->res[ri], &stages[n_stages++], err);
            for (int b = a->batch_lo; b <= a->batch_hi && !rc; b++, n++)
                rc = measure_row(m, a, &info, attn, model, T, a->res[ri], b, &rows[n], methods[n], sizeof methods[n], err);
        }
        dit_gpu_destroy(m);
        dit_layout_free(&L);
    }
    if (!rc) {
        char date[16];
        time_t now = time(NULL);
        strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
        const measured_hardware hw = {.name = hw_name, .gpu = info.name, .n_gpus = 1};
        rc = measured_write(a->out, &hw, rows, n, stages, n_stages, date, err);
        if (!rc) printf("# wrote %zu measured rows of '%s' to %s\n", n, hw_name, a->out);
    }
    free(rows);
    free(methods);
    free(stages);
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
