/* cli/cmd_sim.c: `tetri sim` and `tetri serve`: one run or a sweep (policies x mixes x SLO scales
 * x rates x seeds) into a results database, on the simulator's virtual clock (sim) or a real-time
 * backend (serve --backend emulated). Argument parsing and printing only; the host, the engine
 * and sweeps live in host/ and sim/, the emulated backend in exec/. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/serve_gpu.h"
#include "cli/sim_command.h"
#include "cli/sim_grid.h"
#ifdef TETRI_HAVE_MPI
#include "cli/serve_mpi.h"
#include "cli/sweep_mpi.h"
#endif
#include "cli/sweep_progress.h"
#include "exec/emulated.h"
#include "host/host.h"
#include "profiles/profile.h"
#include "results/results.h"
#include "sched/policy.h"
#include "sim/normalize.h"
#include "sim/sweep.h"
#include "sim/sweep_jobs.h"
#include "workloads/workload.h"

typedef enum run_mode { MODE_SIM, MODE_SERVE } run_mode;

static void usage_serve(FILE *f)
{
    fprintf(f,
            "usage: tetri serve --backend emulated [options of tetri sim] [--speed S] [--settle-us U] [--host-time MODE]\n"
            "       tetri serve --backend gpu [options of tetri sim] [GPU options]\n"
            "\n"
            "Serves the same workloads as `tetri sim` (every option of it applies: tetri sim --help) on\n"
            "a real-time backend: the serving host that the simulator uses, on the real monotonic clock.\n"
            "Results go to the same database and rows, with backend 'emulated' or 'exec'; every block keeps its\n"
            "predicted and actual start and end, so `tetri report --blocks` shows the prediction error.\n"
            "\n"
            "  --backend NAME      emulated: one worker thread per GPU runs a block by sleeping the\n"
            "                      profile's time for it (with --jitter, drawn from its CV as in sim);\n"
            "                      gpu: real FLUX.1-dev / SD3-medium steps on the GPUs (the profile's hardware\n"
            "                      gives their number; give it a measured profile of these GPUs)\n"
            "  --speed S           divide every duration by S (default 1): a 25-minute workload runs in\n"
            "                      75 s at 20; times in the results stay in the workload's time\n"
            "  --settle-us U       after a block ends, blocks predicted to end together with it (within U\n"
            "                      us of workload time) are waited for, up to U us, and join the same\n"
            "                      decision, as in the simulator (default 2000; 0: no wait)\n"
            "  --host-time MODE    real (default): the host's reaction to an event (noticing it, deciding,\n"
            "                      the hand-over) keeps its real length in the workload's time, as at\n"
            "                      speed 1; scaled: it is multiplied by --speed like everything else (the\n"
            "                      host looks S times slower: a stress test)\n"
            "  --max-failures N    failed blocks a request survives before it is dropped (default 1)\n"
            "  --inject-failures N every N-th block fails after half its time (tests the failure path)\n"
            "  --gpus-per-process N  under mpirun (tetri-mpi): process r serves GPUs r*N .. r*N+N-1 of the\n"
            "                      cluster, process 0 also the host and the results (default: the GPUs\n"
            "                      spread evenly). --backend gpu: each process opens its GPUs as its CUDA\n"
            "                      devices 0..N-1 (or --devices, each entry the device on its GPU's\n"
            "                      process); a request may not move between processes (such a block\n"
            "                      fails the run, saying so: docs/executor.md)\n"
            "\n"
            "GPU options (--backend gpu). The model's weights are loaded once per GPU, and a CUDA graph is\n"
            "captured for every resolution of the workload and batch size, before the clock starts (the\n"
            "memory they take is printed). A block of degree k > 1 runs on its k GPUs (Ulysses sequence\n"
            "parallelism, NCCL all-to-alls): with several GPUs, NCCL communicators for the aligned GPU sets\n"
            "and a graph per rank, resolution and batch for each degree the profile has rows of are made\n"
            "at start-up too; a request whose GPU set changes is copied GPU to GPU. There is no text\n"
            "encoder: each request's text and pooled embeddings, and its initial latent, are seeded random\n"
            "values of the right shapes.\n"
            "  --devices LIST      CUDA device of each of the profile's GPUs (default 0,1,...; a device may\n"
            "                      repeat, which tests several-GPU code on one at degree 1: NCCL takes one\n"
            "                      rank per device)\n"
            "  --weights DIR       a diffusers transformer folder (default: seeded random weights)\n"
            "  --weight-seed N     the random weights' and the request inputs' seed (default 1)\n"
            "  --max-batch N       graphs for batches 1..N (default: the profile's largest batch)\n"
            "  --attention NAME    auto (default: cuDNN's where built), cudnn, flash, flash-mma\n"
            "  --time-limit F      a block still running at F x its prediction + 2 s ends the run as a\n"
            "                      GPU that stopped answering (default 4)\n"
            "  --save-latents DIR  write each finished request's final latent, DIR/request-ID.safetensors\n"
            "  --inject-gpu-error N, --inject-hang N   the N-th block meets a CUDA error / never ends (tests)\n"
            "A CUDA error, a block past its time limit, SIGINT or SIGTERM end the run: it is written with\n"
            "status 'partial' (unfinished requests dropped) and tetri exits non-zero; run again to redo it.\n"
            "\n"
            "Each run prints what tetri sim prints, and the host's overhead: from a block's end to the\n"
            "start of the next block on those GPUs, p50 and p99, in real microseconds.\n"
            "Exit status: 0 ok, 1 a run or file failed or ended early, 2 bad options, 128+N stopped by\n"
            "signal N.\n");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri sim [options]\n"
            "\n"
            "Simulates scheduling policies on the paper's workload (or a trace file) against a latency\n"
            "profile, and writes every run (one row per request, a timeline) to a results database that\n"
            "`tetri report` and `tetri plot` read. Lists make a sweep: every policy runs on the same\n"
            "generated trace for each (rate, mix, SLO scale, seed). A run already in the database (same\n"
            "experiment and parameters) is skipped, so an interrupted sweep resumes where it stopped.\n"
            "\n"
            "what to run:\n"
            "  --policy SPEC       a policy, \"name\" or \"name:key=value,...\"; repeat for several;\n"
            "                      \"all\" = every registered one that fits the hardware (no xdit-sp8 on\n"
            "                      4 GPUs) but optimal (exhaustive, for a handful of requests: name it\n"
            "                      to add it; list: tetri policies). Default rssp\n"
            "  --mix LIST          uniform, skewed, homogeneous, comma-separated (default uniform)\n"
            "  --slo-scale LIST    deadline multipliers: 1.0,1.2 or a range FROM:TO:STEP like 1.0:1.5:0.1\n"
            "                      (default 1.0)\n"
            "  --rate LIST         arrivals per minute, a list or FROM:TO:STEP range (default 12)\n"
            "  --load LIST         instead of --rate: offered load as a fraction of the cluster's capacity\n"
            "                      (GPUs), each request costing its cheapest GPU-seconds in the profile;\n"
            "                      a list or range like --rate's, above 0 up to 10 (above 1: overload)\n"
            "  --slo-base B        fixed (default: 1.5/2/3/5 s at 256/512/1024/2048) or profile:X[:best|:one]:\n"
            "                      X times each resolution's standalone latency in the profile (steps x\n"
            "                      step time at the fastest degree, or on one GPU)\n"
            "  --seeds LIST        workload (and jitter) seeds: 1-5, 1,4,9 or 1-3,10 (default 1)\n"
            "  -n N                requests per run (default 300)\n"
            "  --model NAME        flux-dev (default) or sd3-medium\n"
            "  --steps N           denoising steps per request (default 20)\n"
            "  --resolutions LIST  square sides (default 256,512,1024,2048); --res SIDE for homogeneous\n"
            "  --alpha X           skew of --mix skewed (default 1)\n"
            "  --arrival KIND      poisson (default) or gamma (bursty; --cv X, default 2)\n"
            "  --trace FILE        replay this CSV trace instead of generating (tetri workload writes one);\n"
            "                      --seeds then only seed the jitter\n"
            "\n"
            "the model of the machine:\n"
            "  --profile FILE      latency profile (default: %s)\n"
            "  --hardware NAME     hardware in the profile (default: the profile's default, e.g. h100x8)\n"
            "  --analytic          use the analytic model for degrees the profile did not measure\n"
            "  --actual-profile FILE  blocks run by this profile's times (the simulator's, the emulated\n"
            "                      backend's: compute, moves, preparation, CV, idle speed-up) while the host\n"
            "                      and the policies predict with --profile, as a server's model against its\n"
            "                      GPUs: a what-if of misprediction, and a live run's twin on the GPU's own\n"
            "                      step times with the decisions' inputs unchanged (tetri validate\n"
            "                      --twin-actual). Same GPUs as --profile; in the run key\n"
            "  --sets any|aligned  which GPU sets a block of k > 1 GPUs may use: any k GPUs, or only aligned\n"
            "                      power-of-two blocks (GPUs 0-1, 2-3, 0-3, ...: the sets the GPU backend has\n"
            "                      communicators for; placement then never takes a ragged set, and the plan\n"
            "                      check refuses one). Default any; tetri serve --backend gpu on more than\n"
            "                      one GPU: aligned, the only rule it takes. Runs under aligned say so in\n"
            "                      their run key\n"
            "  --jitter            draw each block's time from the profile's CV (seeded; default off)\n"
            "  --check-plans       also refuse a wake-up asked for at or before now (every plan is\n"
            "                      always checked against the policy invariants)\n"
            "  --timeline SEC      timeline sampling period, 0 for none (default 1)\n"
            "\n"
            "where results go:\n"
            "  --db FILE           results database, created if missing (default results.db)\n"
            "  --experiment NAME   experiment name inside it (default sim)\n"
            "  --stop-after N      stop after writing N runs (to test resuming; default: no limit; --jobs 1)\n"
            "  --jobs N            run N runs at a time, each in a worker process of its own (default 1;\n"
            "                      tetri sweep's default: the cores available); the rows are those of\n"
            "                      --jobs 1, and a killed sweep resumes the same way\n"
            "  -q, --quiet         no per-run lines\n"
            "\n"
            "examples:\n"
            "  tetri sim --policy xdit-sp4 --policy rssp                 one run each, paper workload\n"
            "  tetri sim --policy all --mix uniform,skewed --slo-scale 1.0:1.5:0.1 --seeds 1-5 \\\n"
            "            --db sweep.db --experiment paper && tetri report --db sweep.db\n"
            "  tetri sim --policy 'rssp:backfill=on' --trace my-trace.csv --jitter --seeds 1-3\n"
            "\n"
            "Each run prints: policy, mix, SLO scale, rate, seed and SLO attainment (met / requests).\n"
            "Exit status: 0 ok, 1 a run or file failed, 2 bad options.\n",
            profile_default_path());
}

static const char *command_name = "sim"; /* for messages: "sim" or "serve" */

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tetri %s: ", command_name);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(tetri %s --help for the options)\n", command_name);
    return 2;
}

/* ---- what the options collect ------------------------------------------------------------------ */

typedef struct sim_args {
    char **policies;
    size_t n_policies;
    unsigned char *from_all;    /* per policy: added by --policy all (left out where it does not fit) */
    tetri_mix_kind mixes[8];
    size_t n_mixes;
    double *scales, *rates, *loads;
    size_t n_scales, n_rates, n_loads;
    normalize_slo_base slo_base;
    uint64_t *seeds;
    size_t n_seeds;
    workload_spec base;
    int jitter, check_plans;
    /* the rest of the command line */
    const char *trace_path, *profile_path, *hardware, *db_path, *experiment;
    const char *actual_path;    /* --actual-profile */
    int analytic, quiet, mix_given, scale_given, rate_given, load_given, slo_base_given, sets_given;
    tetri_sets sets;            /* --sets; when not given, resolve_sets chooses */
    double timeline_s;
    long stop_after;
    int jobs;                   /* 0: not given (1, or sim_grid_options.default_jobs) */
    /* serve only */
    const char *backend;
    double speed, settle_us, max_failures, inject;
    const char *host_time;      /* --host-time: "real" or "scaled" (checked); NULL: not given (real) */
    double gpus_per_process;    /* under mpirun: GPUs each process serves (0: spread evenly) */
    serve_gpu_args gpu;
} sim_args;

static void sim_args_init(sim_args *a)
{
    memset(a, 0, sizeof *a);
    workload_spec_default(&a->base);
    a->db_path = "results.db";
    a->experiment = "sim";
    a->timeline_s = 1.0;
    a->speed = 1.0;
    a->settle_us = EMULATED_DEFAULT_SETTLE_NS / 1e3;
    a->max_failures = 1;
    serve_gpu_args_init(&a->gpu);
}

static void sim_args_free(sim_args *a)
{
    for (size_t i = 0; i < a->n_policies; i++) free(a->policies[i]);
    free(a->policies);
    free(a->from_all);
    free(a->scales);
    free(a->rates);
    free(a->loads);
    free(a->seeds);
    memset(a, 0, sizeof *a);
}

static int push_policy(sim_args *a, const char *spec, int from_all, tetri_error *err)
{
    char **p = realloc(a->policies, (a->n_policies + 1) * sizeof *p);
    if (!p) return tetri_errorf(err, "out of memory");
    a->policies = p;
    unsigned char *f = realloc(a->from_all, a->n_policies + 1);
    if (!f) return tetri_errorf(err, "out of memory");
    a->from_all = f;
    if (!(p[a->n_policies] = strdup(spec))) return tetri_errorf(err, "out of memory");
    f[a->n_policies++] = (unsigned char)from_all;
    return 0;
}

/* "all" adds every registered policy with its defaults, except those that may refuse an instance
 * (may_refuse: optimal, an exhaustive search for a handful of requests), which would stop a
 * sweep of ordinary size; name them to add them. Those that need more GPUs than the hardware has
 * are left out once the profile is open (drop_unfit_policies). */
static int sim_args_add_policy(sim_args *a, const char *spec, tetri_error *err)
{
    if (!*spec) return tetri_errorf(err, "--policy needs a name (tetri policies lists them)");
    for (const char *c = spec; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f) /* never echoed: it would reach the terminal raw */
            return tetri_errorf(err, "--policy: byte 0x%02x at offset %d is a control character", (unsigned char)*c,
                                (int)(c - spec));
    if (strcmp(spec, "all") != 0) return push_policy(a, spec, 0, err);
    for (size_t i = 0; i < tetri_policy_registry_len; i++)
        if (!tetri_policy_registry[i]->may_refuse && push_policy(a, tetri_policy_registry[i]->name, 1, err)) return -1;
    return 0;
}

/* Leaves out the policies --policy all added that need more GPUs than the cluster has (xdit-sp8
 * on a40x4): "all" means every policy that fits the hardware. A policy named on its own stays, so
 * the run says why it cannot be. The names left out go to `left_out` ("" when none). */
static void drop_unfit_policies(sim_args *a, const tetri_cluster *cluster, char *left_out, size_t len)
{
    size_t kept = 0, used = 0;
    left_out[0] = '\0';
    for (size_t i = 0; i < a->n_policies; i++) {
        const tetri_policy_ops *ops = tetri_policy_find(a->policies[i]);
        if (a->from_all[i] && ops && ops->min_gpus > cluster->n_gpus) {
            if (used < len)
                used += (size_t)snprintf(left_out + used, len - used, "%s%s (needs %d GPUs)", used ? ", " : "",
                                         a->policies[i], ops->min_gpus);
            free(a->policies[i]);
            continue;
        }
        a->from_all[kept] = a->from_all[i];
        a->policies[kept++] = a->policies[i];
    }
    a->n_policies = kept;
}

/* A list option's items, checked before they are split: strtok would pass over an empty one
 * ("1.0," or "1,,2"), taking a stray comma for nothing. */
static int check_list_items(const char *text, const char *opt, tetri_error *err)
{
    size_t len = strlen(text);
    if (len == 0 || text[0] == ',' || text[len - 1] == ',' || strstr(text, ",,"))
        return tetri_errorf(err, "%s: '%s' has an empty item (a stray comma?)", opt, text);
    return 0;
}

static int sim_args_parse_mixes(sim_args *a, const char *text, tetri_error *err)
{
    a->n_mixes = 0;
    if (check_list_items(text, "--mix", err)) return -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        tetri_mix_kind m;
        if (tetri_mix_parse(tok, &m)) return tetri_errorf(err, "--mix: '%s' is not uniform, skewed or homogeneous", tok);
        for (size_t i = 0; i < a->n_mixes; i++)
            if (a->mixes[i] == m) return tetri_errorf(err, "--mix: '%s' given twice", tok);
        a->mixes[a->n_mixes++] = m;
    }
    if (a->n_mixes == 0) return tetri_errorf(err, "--mix: empty list");
    return 0;
}

/* 0, -1 when s is not a number, -2 when it is one that a double cannot hold (1e-308, 1e999). */
static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    if (!*s || *end) return -1;
    return errno == ERANGE || !isfinite(*out) ? -2 : 0;
}

/* The message for parse_double's answer rc about `text` of option opt. */
static int number_error(int rc, const char *opt, const char *text, tetri_error *err)
{
    return rc == -2 ? tetri_errorf(err, "%s: '%s' is out of range (too large, or too close to 0, for a number)", opt, text)
                    : tetri_errorf(err, "%s: '%s' is not a number", opt, text);
}

/* "1.0,1.2" or "FROM:TO:STEP" (inclusive; values rounded to 1e-9 so 1.0:1.5:0.1 gives 1.3, not
 * 1.3000000000000003, in run keys and tables). */
static int sim_args_parse_doubles(const char *text, const char *opt, double **out, size_t *n, tetri_error *err)
{
    free(*out);
    *out = NULL;
    *n = 0;
    const char *c1 = strchr(text, ':');
    if (c1) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", text);
        char *p1 = strchr(buf, ':'), *p2 = p1 ? strchr(p1 + 1, ':') : NULL;
        double from, to, step;
        if (!p2) return tetri_errorf(err, "%s: '%s' is not FROM:TO:STEP", opt, text);
        *p1 = *p2 = 0;
        const char *part[] = {buf, p1 + 1, p2 + 1};
        double *value[] = {&from, &to, &step};
        for (int k = 0; k < 3; k++) {
            int rc = parse_double(part[k], value[k]);
            if (rc == -2) return number_error(rc, opt, part[k], err);
            if (rc) return tetri_errorf(err, "%s: '%s' is not FROM:TO:STEP (three numbers)", opt, text);
        }
        if (!(step > 0) || to < from) return tetri_errorf(err, "%s: '%s' needs STEP > 0 and TO >= FROM", opt, text);
        double count = floor((to - from) / step + 1e-9) + 1;
        if (count > 10000) return tetri_errorf(err, "%s: '%s' makes %.0f values (at most 10000)", opt, text, count);
        *out = calloc((size_t)count, sizeof **out);
        if (!*out) return tetri_errorf(err, "out of memory");
        for (size_t i = 0; i < (size_t)count; i++) (*out)[i] = round((from + (double)i * step) * 1e9) / 1e9;
        *n = (size_t)count;
        return 0;
    }
    if (check_list_items(text, opt, err)) return -1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    size_t cap = 1;
    for (const char *q = text; *q; q++) cap += *q == ',';
    *out = calloc(cap, sizeof **out);
    if (!*out) return tetri_errorf(err, "out of memory");
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        double v;
        int rc = parse_double(tok, &v);
        if (rc) return number_error(rc, opt, tok, err);
        (*out)[(*n)++] = v;
    }
    if (*n == 0) return tetri_errorf(err, "%s: empty list", opt);
    return 0;
}

/* --load: a list or range of offered loads, each above 0 and at most WORKLOAD_MAX_LOAD. */
static int sim_args_parse_loads(sim_args *a, const char *text, tetri_error *err)
{
    if (sim_args_parse_doubles(text, "--load", &a->loads, &a->n_loads, err)) return -1;
    for (size_t i = 0; i < a->n_loads; i++)
        if (!(a->loads[i] > 0 && a->loads[i] <= WORKLOAD_MAX_LOAD))
            return tetri_errorf(err, "--load: %g is out of range (above 0, at most %g of capacity; above 1 is overload)",
                                a->loads[i], WORKLOAD_MAX_LOAD);
    return 0;
}

static int parse_seed(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || v > WORKLOAD_MAX_SEED) return -1;
    *out = v;
    return 0;
}

/* "1-5", "1,4,9", "1-3,10". */
static int sim_args_parse_seeds(const char *text, uint64_t **out, size_t *n, tetri_error *err)
{
    free(*out);
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    if (check_list_items(text, "--seeds", err)) return -1;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", text);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        uint64_t lo, hi;
        char *dash = strchr(tok, '-');
        if (dash) *dash = 0;
        if (parse_seed(tok, &lo) || (dash && parse_seed(dash + 1, &hi)))
            return tetri_errorf(err, "--seeds: '%s%s%s' is not a seed (0 to %llu) or a range A-B", tok, dash ? "-" : "",
                                dash ? dash + 1 : "", (unsigned long long)WORKLOAD_MAX_SEED);
        if (!dash) hi = lo;
        if (hi < lo) return tetri_errorf(err, "--seeds: range %s-%s runs backwards", tok, dash + 1);
        if (hi - lo >= 100000 || *n + (hi - lo + 1) > 100000) return tetri_errorf(err, "--seeds: more than 100000 seeds");
        if (*n + (size_t)(hi - lo + 1) > cap) {
            cap = (*n + (size_t)(hi - lo + 1)) * 2;
            uint64_t *p = realloc(*out, cap * sizeof *p);
            if (!p) return tetri_errorf(err, "out of memory");
            *out = p;
        }
        for (uint64_t v = lo; v <= hi; v++) (*out)[(*n)++] = v;
    }
    if (*n == 0) return tetri_errorf(err, "--seeds: empty list");
    return 0;
}

static void sim_args_fill_sweep(const sim_args *a, sweep_spec *s)
{
    s->policies = (const char *const *)a->policies;
    s->n_policies = a->n_policies;
    s->base = a->base;
    s->mixes = a->mixes;
    s->n_mixes = a->n_mixes;
    s->slo_scales = a->scales;
    s->n_slo_scales = a->n_scales;
    s->rates = a->rates;
    s->n_rates = a->n_rates;
    s->loads = a->loads;
    s->n_loads = a->n_loads;
    s->seeds = a->seeds;
    s->n_seeds = a->n_seeds;
    s->jitter = a->jitter;
    s->check_plans = a->check_plans;
}

/* The experiment's config text: the command line and the profile it resolved to. */
static void sim_args_config_text(char *buf, size_t len, int argc, char **argv, const char *profile, const char *hw)
{
    size_t used = (size_t)snprintf(buf, len, "tetri");
    for (int i = 0; i < argc && used < len; i++) used += (size_t)snprintf(buf + used, len - used, " %s", argv[i]);
    if (used < len) snprintf(buf + used, len - used, "\nprofile=%s hardware=%s", profile, hw);
}

typedef struct print_ctx {
    int quiet;
    int policy_width; /* the longest policy as given, so columns line up */
    int live;         /* the pass runs on a live backend: print the host's overhead */
    const sim_passes *passes;
    sweep_progress *bar; /* NULL: a line per run */
    long done;           /* runs finished so far (the bar's count with --jobs 1) */
    double start;        /* when the sweep started (sweep_progress_now) */
} print_ctx;

/* The p-th quantile (nearest rank) of n sorted gaps, in microseconds. */
static double gap_us(const tetri_ns *sorted, size_t n, double p)
{
    return n ? (double)host_quantile_ns(sorted, n, p) / 1e3 : 0.0;
}

/* snprintf at buf + *used, never past len. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (*used >= len) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (n > 0) *used += (size_t)n;
}

/* A run's line (without the newline): what ran and its attainment, or that it was skipped. */
static void format_run(void *ctx, const sweep_run_report *r, char *line, size_t len)
{
    const print_ctx *pc = ctx;
    char what[128];
    if (r->trace_name && strcmp(r->mix, "trace") == 0)
        snprintf(what, sizeof what, "trace  seed %llu", (unsigned long long)r->seed);
    else if (r->trace_name)
        snprintf(what, sizeof what, "trace (%s scale %.2f rate %g)  seed %llu", r->mix, r->slo_scale, r->rate_per_min,
                 (unsigned long long)r->seed);
    else if (r->load > 0)
        snprintf(what, sizeof what, "%-11s scale %.2f  load %g (rate %.4g)  seed %llu", r->mix, r->slo_scale, r->load,
                 r->rate_per_min, (unsigned long long)r->seed);
    else
        snprintf(what, sizeof what, "%-11s scale %.2f  rate %g  seed %llu", r->mix, r->slo_scale, r->rate_per_min,
                 (unsigned long long)r->seed);
    size_t used = 0;
    if (r->skipped) {
        append(line, len, &used, "  %-*s  %s  already in the database, skipped", pc->policy_width, r->policy_given, what);
        return;
    }
    const tetri_run_summary *s = r->summary;
    append(line, len, &used, "  %-*s  %s  attainment %.3f (%d met, %d late, %d dropped of %d)  decide p50 %.2f us",
           pc->policy_width, r->policy_given, what, s->n ? (double)s->met / s->n : 0.0, s->met, s->late, s->dropped, s->n,
           (double)s->decide_median_ns / 1e3);
    const host_result *h = r->result;
    if (pc->live)
        append(line, len, &used, "  end->next start p50 %.1f us p99 %.1f us (%zu gaps%s)", gap_us(h->gap_ns, h->n_gap, 0.5),
               gap_us(h->gap_ns, h->n_gap, 0.99), h->n_gap,
               h->n_gap > 1 && h->n_gap < 100 ? ": under 100, the p99 is the largest" : "");
    if (pc->live && h->n_gap_parts) /* each part's own p99: where the slow gaps go */
        append(line, len, &used, " [p99 of its parts: worker %.1f, report %.1f, host %.1f us]",
               gap_us(h->gap_part_ns[HOST_GAP_WORKER], h->n_gap_parts, 0.99),
               gap_us(h->gap_part_ns[HOST_GAP_REPORT], h->n_gap_parts, 0.99), gap_us(h->gap_part_ns[HOST_GAP_HOST], h->n_gap_parts, 0.99));
    if (pc->live && r->result->n_failed_blocks)
        append(line, len, &used, "  %lld failed block(s)", (long long)r->result->n_failed_blocks);
}

static void print_run(void *ctx, const sweep_run_report *r)
{
    print_ctx *pc = ctx;
    if (pc->passes && pc->passes->observe) pc->passes->observe(pc->passes->ctx, r, pc->live);
    pc->done++;
    if (pc->bar) {
        sweep_progress_update(pc->bar, pc->done, sweep_progress_now() - pc->start);
        return;
    }
    if (pc->quiet) return;
    char line[1024];
    format_run(pc, r, line, sizeof line);
    printf("%s\n", line);
    fflush(stdout);
}

/* A parallel sweep's run, heard from its worker. */
static void print_heard(void *ctx, const sweep_jobs_event *e)
{
    print_ctx *pc = ctx;
    if (pc->bar) sweep_progress_update(pc->bar, e->done, e->elapsed_s);
    else if (!pc->quiet) {
        printf("%s\n", e->line);
        fflush(stdout);
    }
}

enum {
    OPT_POLICY = 256, OPT_ACTUAL_PROFILE, OPT_MIX, OPT_SLO_SCALE, OPT_RATE, OPT_SEEDS, OPT_TRACE, OPT_PROFILE, OPT_HARDWARE,
    OPT_ANALYTIC, OPT_JITTER, OPT_CHECK_PLANS, OPT_TIMELINE, OPT_DB, OPT_EXPERIMENT, OPT_STOP_AFTER,
    OPT_LOAD, OPT_SLO_BASE, OPT_JOBS, OPT_SETS,
    /* serve only */
    OPT_BACKEND, OPT_SPEED, OPT_SETTLE_US, OPT_MAX_FAILURES, OPT_INJECT_FAILURES, OPT_GPUS_PER_PROCESS, OPT_HOST_TIME,
    /* serve --backend gpu only */
    OPT_DEVICES, OPT_WEIGHTS, OPT_WEIGHT_SEED, OPT_MAX_BATCH, OPT_ATTENTION, OPT_TIME_LIMIT, OPT_SAVE_LATENTS,
    OPT_INJECT_GPU_ERROR, OPT_INJECT_HANG,
    /* workload fields, set through workload_spec_set */
    OPT_MODEL, OPT_STEPS, OPT_RESOLUTIONS, OPT_RES, OPT_ALPHA, OPT_ARRIVAL, OPT_CV,
};

/* The emulated backend for the sweep: opened before each run (its clock starts there). */
typedef struct emulated_ctx {
    emulated_options opt;
} emulated_ctx;

static int open_emulated(void *ctx, const tetri_profile *profile, const host_arrival *arrivals, size_t n, host_backend *be,
                         void **handle, tetri_error *err)
{
    (void)arrivals, (void)n;
    emulated_ctx *c = ctx;
    c->opt.n_gpus = profile_cluster(profile)->n_gpus;
    emulated_backend *e;
    if (emulated_open(&c->opt, &e, err)) return -1;
    emulated_bind(be, e);
    *handle = e;
    return 0;
}

static void close_emulated(void *ctx, void *handle)
{
    (void)ctx;
    emulated_close(handle);
}

/* parse_double, within [lo, hi]. */
static int parse_number(const char *text, const char *opt, double lo, double hi, double *out, tetri_error *err)
{
    double v;
    if (parse_double(text, &v) || v < lo || v > hi)
        return tetri_errorf(err, "%s: '%s' is not a number in [%g, %g]", opt, text, lo, hi);
    *out = v;
    return 0;
}

static const struct option long_options[] = {
    {"policy", required_argument, NULL, OPT_POLICY},
    {"mix", required_argument, NULL, OPT_MIX},
    {"slo-scale", required_argument, NULL, OPT_SLO_SCALE},
    {"rate", required_argument, NULL, OPT_RATE},
    {"load", required_argument, NULL, OPT_LOAD},
    {"slo-base", required_argument, NULL, OPT_SLO_BASE},
    {"seeds", required_argument, NULL, OPT_SEEDS},
    {"seed", required_argument, NULL, OPT_SEEDS},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"hardware", required_argument, NULL, OPT_HARDWARE},
    {"analytic", no_argument, NULL, OPT_ANALYTIC},
    {"actual-profile", required_argument, NULL, OPT_ACTUAL_PROFILE},
    {"sets", required_argument, NULL, OPT_SETS},
    {"jitter", no_argument, NULL, OPT_JITTER},
    {"check-plans", no_argument, NULL, OPT_CHECK_PLANS},
    {"timeline", required_argument, NULL, OPT_TIMELINE},
    {"db", required_argument, NULL, OPT_DB},
    {"experiment", required_argument, NULL, OPT_EXPERIMENT},
    {"stop-after", required_argument, NULL, OPT_STOP_AFTER},
    {"model", required_argument, NULL, OPT_MODEL},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"resolutions", required_argument, NULL, OPT_RESOLUTIONS},
    {"res", required_argument, NULL, OPT_RES},
    {"alpha", required_argument, NULL, OPT_ALPHA},
    {"arrival", required_argument, NULL, OPT_ARRIVAL},
    {"cv", required_argument, NULL, OPT_CV},
    {"backend", required_argument, NULL, OPT_BACKEND},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"settle-us", required_argument, NULL, OPT_SETTLE_US},
    {"max-failures", required_argument, NULL, OPT_MAX_FAILURES},
    {"inject-failures", required_argument, NULL, OPT_INJECT_FAILURES},
    {"gpus-per-process", required_argument, NULL, OPT_GPUS_PER_PROCESS},
    {"host-time", required_argument, NULL, OPT_HOST_TIME},
    {"devices", required_argument, NULL, OPT_DEVICES},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"weight-seed", required_argument, NULL, OPT_WEIGHT_SEED},
    {"max-batch", required_argument, NULL, OPT_MAX_BATCH},
    {"attention", required_argument, NULL, OPT_ATTENTION},
    {"time-limit", required_argument, NULL, OPT_TIME_LIMIT},
    {"save-latents", required_argument, NULL, OPT_SAVE_LATENTS},
    {"inject-gpu-error", required_argument, NULL, OPT_INJECT_GPU_ERROR},
    {"inject-hang", required_argument, NULL, OPT_INJECT_HANG},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"requests", required_argument, NULL, 'n'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* A workload field (-n, --model, ...): set through workload_spec_set, named as the user typed it. */
static int take_workload_option(sim_args *a, int c, const char *value, tetri_error *err)
{
    static const char *const keys[] = {"model", "steps", "resolutions", "res", "alpha", "arrival", "cv"};
    const char *key = c == 'n' ? "n" : keys[c - OPT_MODEL];
    if (workload_spec_set(&a->base, key, value, err)) {
        /* err starts with the spec's key; name the option the user typed instead */
        const char *why = strchr(err->msg, ':');
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", why ? why + 2 : err->msg);
        return tetri_errorf(err, "%s%s: %s", c == 'n' ? "-" : "--", key, msg);
    }
    if (c == OPT_RES) {
        if (a->mix_given && !(a->n_mixes == 1 && a->mixes[0] == TETRI_MIX_HOMOGENEOUS))
            return tetri_errorf(err, "--res is the side of --mix homogeneous");
        if (!a->mix_given) sim_args_parse_mixes(a, "homogeneous", err);
    }
    return 0;
}

/* An option of tetri serve's backend. */
static int take_serve_option(sim_args *a, run_mode mode, int c, const char *value, tetri_error *err)
{
    static const char *const names[] = {"--backend", "--speed", "--settle-us", "--max-failures", "--inject-failures",
                                        "--gpus-per-process", "--host-time"};
    const char *name = names[c - OPT_BACKEND];
    if (mode != MODE_SERVE)
        return tetri_errorf(err, "%s is an option of tetri serve (a real-time backend); tetri sim runs the virtual clock", name);
    if (c == OPT_BACKEND) {
        a->backend = value;
        return 0;
    }
    if (c == OPT_HOST_TIME) {
        if (strcmp(value, "real") != 0 && strcmp(value, "scaled") != 0)
            return tetri_errorf(err, "--host-time: '%s' is neither real nor scaled", value);
        a->host_time = value;
        return 0;
    }
    double *field = c == OPT_SPEED ? &a->speed : c == OPT_SETTLE_US ? &a->settle_us : c == OPT_MAX_FAILURES ? &a->max_failures
                    : c == OPT_INJECT_FAILURES ? &a->inject : &a->gpus_per_process;
    const double hi = c == OPT_SPEED ? 1e6 : c == OPT_SETTLE_US ? 1e9 : c == OPT_MAX_FAILURES ? 1e6 : c == OPT_INJECT_FAILURES ? 1e12
                    : TETRI_MAX_GPUS;
    if (parse_number(value, name, c == OPT_SPEED ? 1e-3 : c == OPT_GPUS_PER_PROCESS ? 1 : 0, hi, field, err)) return -1;
    if ((c == OPT_MAX_FAILURES || c == OPT_INJECT_FAILURES || c == OPT_GPUS_PER_PROCESS) && *field != floor(*field))
        return tetri_errorf(err, "%s: '%s' is not a whole number", name, value);
    return 0;
}

/* An option of tetri serve --backend gpu (checked against the backend once all are read). */
static int take_gpu_option(sim_args *a, run_mode mode, int c, const char *value, tetri_error *err)
{
    static const char *const names[] = {"--devices", "--weights", "--weight-seed", "--max-batch", "--attention", "--time-limit",
                                         "--save-latents", "--inject-gpu-error", "--inject-hang"};
    const char *opt = names[c - OPT_DEVICES];
    serve_gpu_args *g = &a->gpu;
    if (mode != MODE_SERVE) return tetri_errorf(err, "%s is an option of tetri serve --backend gpu", opt);
    switch (c) {
    case OPT_DEVICES: g->devices = value; return 0;
    case OPT_WEIGHTS: g->weights = value; return 0;
    case OPT_ATTENTION: g->attention = value; return 0;
    case OPT_SAVE_LATENTS: g->save_latents = value; return 0;
    default: break;
    }
    double *field = c == OPT_WEIGHT_SEED ? &g->weight_seed : c == OPT_MAX_BATCH ? &g->max_batch : c == OPT_TIME_LIMIT ? &g->time_limit
                  : c == OPT_INJECT_GPU_ERROR ? &g->inject_error : &g->inject_hang;
    const double lo = c == OPT_TIME_LIMIT ? 1 : c == OPT_MAX_BATCH ? 1 : 0, hi = c == OPT_MAX_BATCH ? TETRI_MAX_BATCH : 1e15;
    if (parse_number(value, opt, lo, hi, field, err)) return -1;
    if (c != OPT_TIME_LIMIT && *field != floor(*field)) return tetri_errorf(err, "%s: '%s' is not a whole number", opt, value);
    return 0;
}

/* One option `c` with its value. `opt` is the argument as typed (for errors about the option
 * itself). Returns 0, or -1 with err. */
static int take_option(sim_args *a, run_mode mode, int c, const char *value, const char *opt, tetri_error *err)
{
    char *end;
    switch (c) {
    case 'q': a->quiet = 1; return 0;
    case OPT_JOBS:
        errno = 0;
        long jobs = strtol(value, &end, 10);
        if (!*value || *end || errno || jobs < 1 || jobs > 1024)
            return tetri_errorf(err, "--jobs: '%s' is not a number of workers (1 to 1024)", value);
        a->jobs = (int)jobs;
        return 0;
    case OPT_POLICY: return sim_args_add_policy(a, value, err);
    case OPT_MIX: a->mix_given = 1; return sim_args_parse_mixes(a, value, err);
    case OPT_SLO_SCALE: a->scale_given = 1; return sim_args_parse_doubles(value, "--slo-scale", &a->scales, &a->n_scales, err);
    case OPT_RATE: a->rate_given = 1; return sim_args_parse_doubles(value, "--rate", &a->rates, &a->n_rates, err);
    case OPT_LOAD: a->load_given = 1; return sim_args_parse_loads(a, value, err);
    case OPT_SLO_BASE: a->slo_base_given = 1; return normalize_parse_slo_base(value, "--slo-base", &a->slo_base, err);
    case OPT_SEEDS: return sim_args_parse_seeds(value, &a->seeds, &a->n_seeds, err);
    case OPT_TRACE: a->trace_path = value; return 0;
    case OPT_PROFILE: a->profile_path = value; return 0;
    case OPT_HARDWARE: a->hardware = value; return 0;
    case OPT_ANALYTIC: a->analytic = 1; return 0;
    case OPT_ACTUAL_PROFILE: a->actual_path = value; return 0;
    case OPT_SETS:
        a->sets_given = 1;
        if (tetri_sets_parse(value, &a->sets)) return tetri_errorf(err, "--sets: '%s' is not any or aligned", value);
        return 0;
    case OPT_JITTER: a->jitter = 1; return 0;
    case OPT_CHECK_PLANS: a->check_plans = 1; return 0;
    case OPT_TIMELINE:
        errno = 0;
        a->timeline_s = strtod(value, &end);
        if (!*value || *end || errno || !(a->timeline_s >= 0) || a->timeline_s > 1e6)
            return tetri_errorf(err, "--timeline: '%s' is not a period in seconds (0 for none)", value);
        /* Periods are whole nanoseconds: a smaller one would round to 0, silently no timeline. */
        if (a->timeline_s > 0 && llround(a->timeline_s * TETRI_NS_PER_S) < 1)
            return tetri_errorf(err, "--timeline: '%s' s is below 1 ns, the clock's resolution (0 for no timeline)", value);
        return 0;
    case OPT_DB: a->db_path = value; return 0;
    case OPT_EXPERIMENT: a->experiment = value; return 0;
    case OPT_STOP_AFTER:
        errno = 0;
        a->stop_after = strtol(value, &end, 10);
        if (!*value || *end || errno || a->stop_after < 1)
            return tetri_errorf(err, "--stop-after: '%s' is not a positive count", value);
        return 0;
    case 'n': case OPT_MODEL: case OPT_STEPS: case OPT_RESOLUTIONS: case OPT_RES: case OPT_ALPHA:
    case OPT_ARRIVAL: case OPT_CV:
        return take_workload_option(a, c, value, err);
    case OPT_BACKEND: case OPT_SPEED: case OPT_SETTLE_US: case OPT_MAX_FAILURES: case OPT_INJECT_FAILURES:
    case OPT_GPUS_PER_PROCESS: case OPT_HOST_TIME:
        return take_serve_option(a, mode, c, value, err);
    case OPT_DEVICES: case OPT_WEIGHTS: case OPT_WEIGHT_SEED: case OPT_MAX_BATCH: case OPT_ATTENTION: case OPT_TIME_LIMIT:
    case OPT_SAVE_LATENTS: case OPT_INJECT_GPU_ERROR: case OPT_INJECT_HANG:
        return take_gpu_option(a, mode, c, value, err);
    case ':': return tetri_errorf(err, "%s needs a value", opt);
    default: return tetri_errorf(err, "unknown option '%s'", opt);
    }
}

/* The command line into `a`. Returns 0, 1 when --help was printed, or -1 with err (a usage error). */
static int parse_command_line(int argc, char **argv, run_mode mode, sim_args *a, tetri_error *err)
{
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hqn:", long_options, NULL)) != -1) {
        if (c == 'h') {
            (mode == MODE_SERVE ? usage_serve : usage)(stdout);
            return 1;
        }
        if (take_option(a, mode, c, optarg, argv[optind - 1], err)) return -1;
    }
    if (optind < argc) return tetri_errorf(err, "unexpected argument '%s'", argv[optind]);
    if (a->trace_path && (a->mix_given || a->scale_given || a->rate_given || a->load_given || a->slo_base_given))
        return tetri_errorf(err, "--trace replays a file: --mix, --slo-scale, --rate, --load and --slo-base do not apply to it");
    if (a->rate_given && a->load_given)
        return tetri_errorf(err, "--rate and --load are exclusive: give the arrival rate or the offered load, not both");
    if (mode == MODE_SERVE && !a->backend) return tetri_errorf(err, "--backend is required: emulated or gpu");
    if (mode == MODE_SERVE && a->jobs)
        return tetri_errorf(err, "--jobs is tetri sim's: a real-time backend serves one run at a time");
    if (a->jobs > 1 && a->stop_after)
        return tetri_errorf(err, "--stop-after counts one process's runs: give it with --jobs 1");
    if (a->backend && sim_command_check_backend(a->backend, err)) return tetri_error_prefix(err, "--backend");
    const serve_gpu_args *g = &a->gpu, *none = &(serve_gpu_args){0};
    serve_gpu_args dflt;
    serve_gpu_args_init(&dflt);
    if (a->backend && strcmp(a->backend, "gpu") == 0) {
        if (a->speed != 1.0) return tetri_errorf(err, "--speed: the GPU backend runs in real time (speed 1)");
        if (a->host_time) return tetri_errorf(err, "--host-time is the emulated backend's: the GPU backend runs in real time");
        if (a->inject > 0) return tetri_errorf(err, "--inject-failures is the emulated backend's; the GPU's are --inject-gpu-error and --inject-hang");
    } else if (g->devices != none->devices || g->weights || g->save_latents || g->max_batch != 0 || g->inject_error || g->inject_hang ||
               g->weight_seed != dflt.weight_seed || g->time_limit != dflt.time_limit || strcmp(g->attention, dflt.attention) != 0) {
        return tetri_errorf(err, "--devices, --weights, --weight-seed, --max-batch, --attention, --time-limit, --save-latents and "
                                 "the GPU injections are options of --backend gpu");
    }
    if (a->n_policies == 0) return push_policy(a, "rssp", 0, err);
    return 0;
}

int sim_command_check_backend(const char *name, tetri_error *err)
{
    if (strcmp(name, "emulated") == 0 || strcmp(name, "gpu") == 0) return 0;
    return tetri_errorf(err, "'%s' is not a backend (emulated or gpu)", name);
}

/* The cluster's rule for GPU sets (core/types.h, tetri_sets), set on the profile's cluster, which
 * every policy and the plan check read: --sets, else aligned for the GPU backend on more than one
 * GPU (its NCCL communicators and graphs exist for aligned blocks only), else any. Returns 0, or
 * -1 with err when --sets any asks the GPU backend for sets it cannot run. */
static int resolve_sets(const sim_args *a, run_mode mode, tetri_profile *profile, tetri_error *err)
{
    const int n_gpus = profile_cluster(profile)->n_gpus;
    const bool gpu = mode == MODE_SERVE && a->backend && strcmp(a->backend, "gpu") == 0 && n_gpus > 1;
    if (gpu && a->sets_given && a->sets == TETRI_SETS_ANY)
        return tetri_errorf(err, "--sets any: the GPU backend on %d GPUs has NCCL communicators and CUDA graphs only for "
                                 "aligned power-of-two blocks, so a block on any other set would end the run; it runs "
                                 "--sets aligned (its default)", n_gpus);
    profile_set_sets(profile, a->sets_given ? a->sets : gpu ? TETRI_SETS_ALIGNED : TETRI_SETS_ANY);
    return 0;
}

/* SIGINT and SIGTERM during tetri serve: the run in progress ends partial (host_config.stop). */
static volatile sig_atomic_t stop_signal;
static void on_stop_signal(int sig) { stop_signal = sig; }

static void catch_stop_signals(struct sigaction old[2])
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old[0]);
    sigaction(SIGTERM, &sa, &old[1]);
}

/* Whether this serve spans MPI ranks (tetri-mpi under mpirun): 1, 0, or -1 with err for what
 * cannot go with it or without it. */
static int across_processes(const sim_args *a, tetri_error *err)
{
    bool across = false;
#ifdef TETRI_HAVE_MPI
    across = serve_mpi_active();
#endif
    if (!across && a->gpus_per_process > 0)
        return tetri_errorf(err, "--gpus-per-process is for tetri serve under mpirun with more than one process");
#ifndef TETRI_HAVE_CUDA
    if (across && strcmp(a->backend, "emulated") != 0)
        return tetri_errorf(err, "--backend %s: this tetri-mpi has no GPU part, so only the emulated backend serves across processes", a->backend);
#endif
    return across;
}

/* The backend of tetri serve: the emulated one's settings, or the GPU backend opened for the
 * sweep (*gpu_state, for serve_gpu_close). */
static int open_serve_backend(const sim_args *a, const sweep_spec *s, emulated_ctx *ectx, sweep_backend *sb, char *key,
                              size_t key_len, void **gpu_state, tetri_error *err)
{
    if (across_processes(a, err) < 0) return -1;
    if (strcmp(a->backend, "gpu") == 0) {
        serve_gpu_args g = a->gpu;
        g.gpus_per_process = (int)a->gpus_per_process; /* used under mpirun only (across_processes) */
        return serve_gpu_open(&g, s, a->quiet, sb, key, key_len, gpu_state, err);
    }
    const bool scale_host = a->host_time && strcmp(a->host_time, "scaled") == 0;
    *ectx = (emulated_ctx){.opt = {.speed = a->speed, .settle_ns = (tetri_ns)llround(a->settle_us * 1e3), .scale_host = scale_host,
                                   .fail_every = (int64_t)a->inject, .poll_real_ns = 20 * TETRI_NS_PER_MS}};
    snprintf(key, key_len, "backend=emulated,speed=%.17g,settle_ns=%lld,host_time=%s,max_failures=%d,inject=%lld", a->speed,
             (long long)ectx->opt.settle_ns, scale_host ? "scaled" : "real", (int)a->max_failures, (long long)a->inject);
    *sb = (sweep_backend){.name = "emulated", .key = key, .open = open_emulated, .close = close_emulated, .ctx = ectx};
#ifdef TETRI_HAVE_MPI
    if (serve_mpi_active())
        return serve_mpi_backend(profile_cluster(s->profile)->n_gpus, (int)a->gpus_per_process, &ectx->opt, a->quiet, sb, err);
#endif
    return 0;
}

/* What a replay records of the trace's generator (sim/sweep.h, sweep_trace_generator). */
static void print_trace_generator(const char *path, const tetri_trace *trace)
{
    workload_spec w;
    if (sweep_trace_generator(trace, &w))
        printf("  trace %s: made by tetri workload; runs record its mix %s, SLO scale %g, rate %g\n", path,
               tetri_mix_name(w.mix), w.slo_scale, w.rate_per_min);
    else if (trace->generator)
        printf("  trace %s: its '# tetri workload:' comment no longer describes its requests (edited?); runs record mix "
               "'trace'\n", path);
}

enum { PASS_DONE, PASS_STOPPED_EARLY, PASS_PARTIAL };

/* How a simulator pass spreads its runs: over MPI ranks (under mpirun, in tetri-mpi), over worker
 * processes (--jobs), or in this process. */
typedef struct pass_spread {
    int jobs, mpi_ranks, mpi_rank;
    sim_grid_options *o;      /* tetri sweep's, or NULL */
} pass_spread;

/* A sweep over worker processes: the experiment is made here first (with this sweep's config),
 * then the parent's connection is closed (*db = NULL), so no worker inherits one in use. */
static int run_parallel(sweep_spec *s, results_db **db, int jobs, const char *db_path, print_ctx *pc, sweep_stats *st,
                        tetri_error *err)
{
    int64_t id;
    if (results_experiment(*db, s->experiment, s->config_text, &id, err)) return -1;
    results_close(*db);
    *db = NULL;
    sweep_spec parallel = *s;
    parallel.progress = NULL;
    sweep_jobs j = {.jobs = jobs, .db_path = db_path, .format = pc->quiet || pc->bar ? NULL : format_run, .format_ctx = pc,
                    .heard = print_heard, .heard_ctx = pc};
    return sweep_run_jobs(&parallel, &j, st, err);
}

/* What the sweep cost: runs per second, and the time simulating and writing results. */
static void print_timing(const sweep_stats *st, double elapsed_s, const pass_spread *sp)
{
    const long runs = st->runs_written + st->runs_skipped;
    const int mpi = sp->mpi_ranks > 1, n = mpi ? sp->mpi_ranks : sp->jobs;
    printf("%ld runs in %.2f s with %d %s%s: %.1f runs/s; simulating %.2f s, writing results %.2f s (%s)\n", runs, elapsed_s, n,
           mpi ? "rank" : "job", n == 1 ? "" : "s", elapsed_s > 0 ? (double)runs / elapsed_s : 0.0, st->sim_s, st->write_s,
           mpi ? "simulating: rank 0's own runs; writing: rank 0, every rank's runs"
               : "summed over jobs; writing counts the wait for another job's write");
}

/* The sweep of one simulator pass, spread as sp says. Returns 0 or -1 with err. */
static int sweep_spread(sweep_spec *s, results_db **db, const sim_args *a, print_ctx *pc, const pass_spread *sp, sweep_stats *st,
                        tetri_error *err)
{
    sweep_progress bar;
    if (sp->o && sp->o->progress_bar && !a->quiet && isatty(STDOUT_FILENO)) {
        sweep_progress_start(&bar, stdout, sweep_runs_total(s));
        pc->bar = &bar;
    }
    pc->start = sweep_progress_now();
    int rc;
#ifdef TETRI_HAVE_MPI
    if (sp->mpi_ranks > 1) rc = sweep_mpi_run(s, *db, st, err);
    else
#endif
        rc = sp->jobs > 1 ? run_parallel(s, db, sp->jobs, a->db_path, pc, st, err) : sweep_run(s, *db, st, err);
    if (pc->bar) sweep_progress_end(pc->bar);
    pc->bar = NULL;
    const double elapsed = sweep_progress_now() - pc->start;
    if (rc == 0 && sp->o) {
        sp->o->runs += st->runs_written + st->runs_skipped;
        sp->o->elapsed_s += elapsed;
        sp->o->sim_s += st->sim_s;
        sp->o->write_s += st->write_s;
    }
    if (rc == 0 && sp->o && !a->quiet && sp->mpi_rank == 0) print_timing(st, elapsed, sp);
    return rc;
}

/* One sweep of s into db, on the simulator (backend NULL) or a live backend, then its summary line
 * (named after the backend when there are two passes). Returns PASS_DONE, PASS_STOPPED_EARLY
 * (--stop-after), PASS_PARTIAL (a run ended early: said on stderr), or -1 with err. */
static int run_pass(sweep_spec *s, const sweep_backend *backend, const sim_args *a, results_db **db, print_ctx *pc, int named,
                    const pass_spread *sp, tetri_error *err)
{
    s->backend = backend;
    pc->live = backend != NULL;
    sweep_stats st;
    if (backend ? sweep_run(s, *db, &st, err) : sweep_spread(s, db, a, pc, sp, &st, err)) return -1;
    if (sp->mpi_rank != 0) return PASS_DONE; /* its runs are rank 0's to count and tell */
    if (st.runs_partial) {
        fprintf(stderr, "tetri %s: a run ended early (%s): it is written with status 'partial', unfinished requests dropped; "
                        "run the command again to redo it\n", command_name, st.partial_why);
        return PASS_PARTIAL;
    }
    printf("%s%s%ld run%s (%ld written, %ld already there)%s -> %s, experiment '%s'\n",
           named ? (backend ? backend->name : "simulator") : "", named ? ": " : "", st.runs_total, st.runs_total == 1 ? "" : "s",
           st.runs_written, st.runs_skipped, st.stopped_early ? ", stopped early by --stop-after: run again to finish" : "",
           a->db_path, a->experiment);
    return st.stopped_early ? PASS_STOPPED_EARLY : PASS_DONE;
}

/* Opens the files, checks the sweep and runs its passes: the simulator (sim), the live backend
 * (serve), or both in that order (passes->simulator_first, tetri validate). The live backend is
 * opened before either pass, so one that cannot start (no GPU, a build without CUDA) fails before
 * anything runs. Returns the exit status (0, 1 files and runs, 2 usage, 128+N stopped by signal N). */
static int run_sweep(sim_args *a, run_mode mode, const sim_passes *passes, int argc, char **argv, sim_grid_options *o)
{
    int rc = 1;
    tetri_error err = {{0}};
    tetri_profile *profile = NULL, *actual = NULL;
    results_db *db = NULL;
    tetri_trace trace = {0};
    char (*canon)[TETRI_POLICY_SPEC_MAX] = NULL;
    void *gpu_state = NULL;
    struct sigaction old_handlers[2];
    sweep_spec s = {0};
    stop_signal = 0;
    pass_spread spread = {.jobs = a->jobs ? a->jobs : o ? o->default_jobs : 1, .mpi_ranks = 1, .o = o};
#ifdef TETRI_HAVE_MPI
    spread.mpi_ranks = sweep_mpi_ranks();
    spread.mpi_rank = sweep_mpi_rank();
#endif
    if (spread.mpi_rank != 0) a->quiet = 1; /* rank 0 speaks for the sweep */
    const int flags = a->analytic ? TETRI_PROFILE_ANALYTIC_FALLBACK : 0;
    if (profile_open_option("--profile", a->profile_path, a->hardware, flags, &profile, &err)) goto fail;
    if (resolve_sets(a, mode, profile, &err)) {
        rc = usage_error("%s", err.msg);
        goto out;
    }
    if (a->actual_path) {
        if (mode == MODE_SERVE && a->backend && strcmp(a->backend, "emulated") != 0) {
            rc = usage_error("--actual-profile: the %s backend's blocks take what they take (the simulator's and the emulated "
                             "backend's follow it)", a->backend);
            goto out;
        }
        if (profile_open_option("--actual-profile", a->actual_path, a->hardware, flags, &actual, &err)) goto fail;
        if (host_actual_check(profile, actual, &err)) {
            tetri_error_prefix(&err, "--actual-profile");
            goto fail;
        }
        profile_set_sets(actual, profile_cluster(profile)->sets);
    }
    char left_out[256];
    drop_unfit_policies(a, profile_cluster(profile), left_out, sizeof left_out);
    const int both = mode == MODE_SERVE && passes && passes->simulator_first;
    if (!a->quiet)
        printf("tetri %s: %s on %s (%s), %zu polic%s%s%s\n", command_name, a->trace_path ? a->trace_path : "generated workloads",
               profile_hardware(profile), profile_path(profile), a->n_policies, a->n_policies == 1 ? "y" : "ies",
               mode == MODE_SIM ? "" : both ? ", the simulator then backend " : ", backend ", mode == MODE_SERVE ? a->backend : "");
    if (!a->quiet && profile_cluster(profile)->sets == TETRI_SETS_ALIGNED)
        printf("  GPU sets: aligned power-of-two blocks only (sets=aligned)\n");
    if (!a->quiet && actual)
        printf("  blocks run by %s (%s, profile=%016llx); predictions and decisions by the profile above\n", profile_path(actual),
               profile_hardware(actual), (unsigned long long)profile_digest(actual));
    if (!a->quiet && left_out[0])
        printf("  --policy all: left out what does not fit %s's %d GPUs: %s\n", profile_hardware(profile),
               profile_cluster(profile)->n_gpus, left_out);
    sim_args_fill_sweep(a, &s);
    s.profile = profile;
    s.actual = actual;
    s.trace = a->trace_path ? &trace : NULL;
    if (normalize_slo_bases(profile, &a->slo_base, &s.base, &err)) goto fail;
    /* Everything the sweep can refuse, before any file is written: workloads, then policies
     * (each created once here; a usage error, named as the option). */
    print_ctx pc = {.quiet = a->quiet, .passes = passes};
    if (!(canon = calloc(a->n_policies, sizeof *canon))) {
        tetri_errorf(&err, "out of memory");
        goto fail;
    }
    size_t bad_policy;
    if (sweep_prepare(&s, canon, &bad_policy, &err)) {
        if (bad_policy == SIZE_MAX) rc = usage_error("%s", err.msg);
        /* "policy NAME: why" reads best as the option: "--policy NAME: why" */
        else if (strncmp(err.msg, "policy ", 7) == 0) rc = usage_error("--%s", err.msg);
        else rc = usage_error("--policy %s: %s", a->policies[bad_policy], err.msg);
        goto out;
    }
    for (size_t p = 0; p < a->n_policies; p++) {
        int w = (int)strlen(a->policies[p]);
        if (w > pc.policy_width) pc.policy_width = w;
        if (!a->quiet) printf("  policy %s = %s\n", a->policies[p], canon[p]);
    }
    /* Under MPI only rank 0 opens the database: the others may be on machines that cannot see it. */
    if ((a->trace_path && trace_read_csv(a->trace_path, &trace, &err)) ||
        (spread.mpi_rank == 0 && results_open(a->db_path, &db, &err)))
        goto fail;
    if (a->trace_path && !a->quiet) print_trace_generator(a->trace_path, &trace);

    char config[2048];
    sim_args_config_text(config, sizeof config, argc, argv, profile_path(profile), profile_hardware(profile));
    emulated_ctx ectx;
    sweep_backend sb;
    char backend_key[320];
    s.trace_name = a->trace_path;
    if (mode == MODE_SERVE) { /* before the backend: a GPU's start-up takes seconds */
        catch_stop_signals(old_handlers);
        s.stop = &stop_signal;
    }
    if (mode == MODE_SERVE && open_serve_backend(a, &s, &ectx, &sb, backend_key, sizeof backend_key, &gpu_state, &err)) goto fail;
    s.max_failures = (int)a->max_failures;
    s.canonical = canon;
    s.trace_name = a->trace_path;
    s.timeline_period = (tetri_ns)llround(a->timeline_s * TETRI_NS_PER_S);
    s.experiment = a->experiment;
    s.config_text = o && o->config_text ? o->config_text : config;
    s.stop_after = a->stop_after;
    s.progress = print_run;
    s.progress_ctx = &pc;
    const sweep_backend *pass_backend[2];
    int n_passes = 0;
    if (mode == MODE_SIM || both) pass_backend[n_passes++] = NULL;
    if (mode == MODE_SERVE) pass_backend[n_passes++] = &sb;
    for (int i = 0; i < n_passes; i++) {
        s.jitter = a->jitter || (pass_backend[i] == NULL && passes && passes->simulator_jitter);
        int pass = run_pass(&s, pass_backend[i], a, &db, &pc, n_passes > 1, &spread, &err);
        if (pass < 0) goto fail;
        if (pass == PASS_PARTIAL) {
            rc = stop_signal ? 128 + stop_signal : 1;
            goto out;
        }
        if (pass == PASS_STOPPED_EARLY) break;
    }
    if (!a->quiet && !passes && spread.mpi_rank == 0) printf("next: tetri report --db %s --experiment %s\n", a->db_path, a->experiment);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "tetri %s: %s\n", command_name, err.msg);
out:
    if (s.stop) {
        sigaction(SIGINT, &old_handlers[0], NULL);
        sigaction(SIGTERM, &old_handlers[1], NULL);
    }
    const bool gpu_broken = serve_gpu_close(gpu_state);
    free(canon);
    results_close(db);
    tetri_trace_free(&trace);
    profile_close(profile);
    profile_close(actual);
    if (gpu_broken) { /* work on the GPU that never ends: the CUDA runtime's teardown would wait for it */
        fflush(NULL);
        _exit(rc);
    }
    return rc;
}

static int run_command(int argc, char **argv, run_mode mode, const char *name, const sim_passes *passes, sim_grid_options *o)
{
    command_name = name;
    sim_args a;
    sim_args_init(&a);
    tetri_error err = {{0}};
    int parsed = parse_command_line(argc, argv, mode, &a, &err);
    int rc = parsed < 0 ? usage_error("%s", err.msg) : parsed == 1 ? 0 : run_sweep(&a, mode, passes, argc, argv, o);
    sim_args_free(&a);
    return rc;
}

int cmd_sim(int argc, char **argv) { return run_command(argc, argv, MODE_SIM, "sim", NULL, NULL); }
static int serve_here(int argc, char **argv) { return run_command(argc, argv, MODE_SERVE, "serve", NULL, NULL); }

/* Under mpirun with several processes, tetri-mpi serves across them (cli/serve_mpi.h); tetri hands
 * such a command line to tetri-mpi, as it does sweeps. */
int cmd_serve(int argc, char **argv)
{
    if (cli_mpirun_ranks() <= 1) return serve_here(argc, argv);
#ifdef TETRI_HAVE_MPI
    return serve_mpi_command(argc, argv, serve_here);
#else
    tetri_error err = {{0}};
    cli_exec_mpi_program("serve", argv, &err);
    fprintf(stderr, "tetri serve: %s\n", err.msg);
    return 1;
#endif
}

int sim_command_serve(int argc, char **argv, const char *name, const sim_passes *passes)
{
    return run_command(argc, argv, MODE_SERVE, name, passes, NULL);
}

int sim_grid_run(int argc, char **argv, sim_grid_options *o) { return run_command(argc, argv, MODE_SIM, "sim", NULL, o); }

int sim_option_arity(const char *name)
{
    for (const struct option *opt = long_options; opt->name; opt++)
        if (strcmp(opt->name, name) == 0) return opt->val == 'h' ? -1 : opt->has_arg == no_argument ? 0 : 1;
    return -1;
}

int sim_option_check(const char *name, const char *value, tetri_error *err)
{
    const struct option *opt = long_options;
    while (opt->name && strcmp(opt->name, name) != 0) opt++;
    if (!opt->name || opt->val == 'h') return tetri_errorf(err, "'%s' is not an option of tetri sim", name);
    char as_typed[64];
    snprintf(as_typed, sizeof as_typed, "--%s", name);
    sim_args a;
    sim_args_init(&a);
    int rc = take_option(&a, MODE_SIM, opt->val, value, as_typed, err);
    sim_args_free(&a);
    return rc;
}
