/* results/bench_results.c: the results database's speed: results_write_run (one transaction per
 * run, prepared statements), results_run_done (a sweep's resume check), results_load_runs (what
 * report and plot read) and results_dump_run.
 *
 * Target (results brief): writing a run of 300 request rows takes well under a few ms, so a sweep
 * of thousands of simulated runs (each a few ms itself) is not slowed down by its database.
 *
 * usage: bench_results [--runs N] [--timeline SAMPLES] [--blocks BLOCKS] [--db PATH]   (built by make check)
 * Prints wall and CPU time per operation: best and median over N runs (default 200), for runs of
 * 300 requests with 10 timeline samples and no blocks, with 10 samples and BLOCKS blocks (default
 * 1000: about 3 blocks a request, what a round-based policy runs), and with SAMPLES (default 1500:
 * a 1 s timeline of a 25 minute run, what `tetri sim --timeline 1` writes). The database is a fresh
 * file (default in $TMPDIR), removed at the end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "results/results.h"

enum { N_REQUESTS = 300 };

static double clock_s(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* "best / median" of v[0..n) in ms, sorted in place. */
static void print_ms(const char *what, double *wall, double *cpu, int n)
{
    qsort(wall, (size_t)n, sizeof *wall, compare_double);
    qsort(cpu, (size_t)n, sizeof *cpu, compare_double);
    printf("  %-50s wall %7.3f / %7.3f ms   cpu %7.3f / %7.3f ms  (best / median of %d)\n", what, wall[0] * 1e3,
           wall[n / 2] * 1e3, cpu[0] * 1e3, cpu[n / 2] * 1e3, n);
}

static void remove_db(const char *path)
{
    char side[1100];
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

/* A plausible run: 300 requests over four resolutions, most met. */
static void make_run(tetri_request_result *req, tetri_run_summary *sum, tetri_timeline_sample *tl, int n_tl)
{
    memset(sum, 0, sizeof *sum);
    for (int i = 0; i < N_REQUESTS; i++) {
        tetri_request_result *r = &req[i];
        memset(r, 0, sizeof *r);
        r->id = i;
        r->model = TETRI_MODEL_FLUX_DEV;
        r->width = r->height = 256 << (i % 4);
        r->steps = 20;
        r->arrival = (tetri_ns)i * 5 * TETRI_NS_PER_S;
        r->deadline = r->arrival + (2 + i % 4) * TETRI_NS_PER_S;
        r->first_start = r->arrival + TETRI_NS_PER_S / 10;
        r->outcome = i % 10 == 0 ? TETRI_LATE : TETRI_MET;
        r->finish = r->outcome == TETRI_MET ? r->deadline - TETRI_NS_PER_S / 2 : r->deadline + TETRI_NS_PER_S;
        r->max_degree = 1 << (i % 4);
        r->gpu_ns = r->max_degree * (r->finish - r->first_start);
        r->degree_changes = i % 3;
        r->migrations = i % 2;
        if (r->outcome == TETRI_MET) sum->met++;
        else sum->late++;
    }
    sum->n = N_REQUESTS;
    for (int k = 0; k < n_tl; k++)
        tl[k] = (tetri_timeline_sample){.t = (tetri_ns)k * TETRI_NS_PER_S, .busy_gpus = k % 9, .mean_degree = (k % 9) ? 1.0 + k % 4 : 0.0,
                                        .pending = k % 7};
}

/* n plausible blocks over the 300 requests: every 10th a batch of two, degrees 1 to 8, predicted
 * 1 s each and run a little late and long (an emulated backend's jitter). */
static void make_blocks(tetri_block_result *b, int n)
{
    for (int k = 0; k < n; k++) {
        int degree = 1 << (k % 4);
        b[k] = (tetri_block_result){.seq = k, .n_req = k % 10 == 0 ? 2 : 1, .steps = 5,
                                    .gpus = (((tetri_gpuset)1 << degree) - 1) << (8 - degree) * (k % 2)};
        b[k].req[0] = k % N_REQUESTS;
        b[k].req[1] = (k + 1) % N_REQUESTS;
        b[k].pred_start = (tetri_ns)k * TETRI_NS_PER_S / 2;
        b[k].pred_end = b[k].pred_start + TETRI_NS_PER_S;
        b[k].migration_ns = k % 3 == 0 ? 20 * TETRI_NS_PER_MS : 0;
        b[k].start = b[k].pred_start + (k % 7) * 100000;
        b[k].end = b[k].start + TETRI_NS_PER_S + (k % 13) * 1000000;
    }
}

/* Writes n_runs runs with n_tl samples and n_blocks blocks each into a fresh experiment; prints the
 * write times. */
static int bench_write(results_db *db, const char *experiment, int n_runs, int n_tl, int n_blocks, double *wall,
                       double *cpu)
{
    static tetri_request_result req[N_REQUESTS];
    tetri_timeline_sample *tl = malloc((size_t)(n_tl ? n_tl : 1) * sizeof *tl);
    tetri_block_result *blocks = malloc((size_t)(n_blocks ? n_blocks : 1) * sizeof *blocks);
    tetri_run_summary sum;
    tetri_error err = {{0}};
    int64_t exp;
    if (!tl || !blocks || results_experiment(db, experiment, "bench", &exp, &err)) goto fail;
    make_run(req, &sum, tl, n_tl);
    make_blocks(blocks, n_blocks);
    for (int k = 0; k < n_runs; k++) {
        char key[64];
        snprintf(key, sizeof key, "run-%d", k);
        tetri_run_info info = {.run_key = key, .policy = "tetriserve:g=5", .workload = "bench", .mix = "uniform",
                               .slo_scale = 1.0, .rate_per_min = 12, .seed = (uint64_t)k, .backend = "sim",
                               .hardware = "h100x8", .model = "flux-dev"};
        double w0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (results_write_run(db, exp, &info, &sum, req, N_REQUESTS, tl, (size_t)n_tl, blocks, (size_t)n_blocks, &err))
            goto fail;
        cpu[k] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
        wall[k] = clock_s(CLOCK_MONOTONIC) - w0;
    }
    char what[96];
    snprintf(what, sizeof what, "write_run, %d requests + %d samples + %d blocks", N_REQUESTS, n_tl, n_blocks);
    print_ms(what, wall, cpu, n_runs);
    free(tl);
    free(blocks);
    return 0;
fail:
    fprintf(stderr, "bench_results: %s\n", err.msg);
    free(tl);
    free(blocks);
    return -1;
}

/* What report and plot do first, every run with its statistics, and the canonical dump, over each
 * experiment bench_write filled. */
static int bench_read(results_db *db, tetri_error *err)
{
    static const char *const passes[] = {"small", "blocks", "timeline"};
    static const char *const pass_what[] = {"10 samples", "with blocks", "with timelines"};
    int rc = 0;
    for (int pass = 0; pass < 3 && !rc; pass++) {
        results_run *runs;
        size_t n;
        int64_t id;
        if (results_find_experiment(db, passes[pass], &id, err)) return 1;
        double w0 = clock_s(CLOCK_MONOTONIC);
        if (results_load_runs(db, id, &runs, &n, err)) return 1;
        double dt = clock_s(CLOCK_MONOTONIC) - w0;
        char what[96];
        snprintf(what, sizeof what, "load_runs (%s, %zu runs)", pass_what[pass], n);
        printf("  %-50s %.1f ms, %.1f us per run\n", what, dt * 1e3, dt / (double)n * 1e6);
        FILE *null = fopen("/dev/null", "w");
        w0 = clock_s(CLOCK_MONOTONIC);
        for (size_t k = 0; k < n && null; k++)
            if (results_dump_run(db, id, runs[k].run_key, null, err)) rc = 1;
        if (null) fclose(null);
        snprintf(what, sizeof what, "dump_run (%s)", pass_what[pass]);
        printf("  %-50s %.3f ms per run\n", what, (clock_s(CLOCK_MONOTONIC) - w0) / (double)n * 1e3);
        results_runs_free(runs, n);
    }
    return rc;
}

int main(int argc, char **argv)
{
    int n_runs = 200, n_tl = 1500, n_blocks = 1000;
    char path[1024];
    snprintf(path, sizeof path, "%s/tetri-bench-results-%d.db", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) n_runs = atoi(argv[++i]);
        else if (strcmp(argv[i], "--timeline") == 0 && i + 1 < argc) n_tl = atoi(argv[++i]);
        else if (strcmp(argv[i], "--blocks") == 0 && i + 1 < argc) n_blocks = atoi(argv[++i]);
        else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) snprintf(path, sizeof path, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: bench_results [--runs N] [--timeline SAMPLES] [--blocks BLOCKS] [--db PATH]\n");
            return 2;
        }
    }
    if (n_runs < 1 || n_tl < 0 || n_blocks < 0) {
        fprintf(stderr, "bench_results: --runs must be >= 1, --timeline and --blocks >= 0\n");
        return 2;
    }
    double *wall = malloc((size_t)n_runs * sizeof *wall), *cpu = malloc((size_t)n_runs * sizeof *cpu);
    results_db *db;
    tetri_error err = {{0}};
    remove_db(path);
    if (!wall || !cpu || results_open(path, &db, &err)) {
        fprintf(stderr, "bench_results: %s\n", err.msg[0] ? err.msg : "out of memory");
        return 1;
    }
    printf("bench_results: %s (target: a 300-request run written in well under a few ms)\n", path);
    int rc = bench_write(db, "small", n_runs, 10, 0, wall, cpu) || bench_write(db, "blocks", n_runs, 10, n_blocks, wall, cpu) ||
             bench_write(db, "timeline", n_runs, n_tl, 0, wall, cpu);

    /* The resume check of a sweep: one indexed lookup per run. */
    int64_t exp = 0;
    if (!rc && results_experiment(db, "small", "", &exp, &err) == 0) {
        double w0 = clock_s(CLOCK_MONOTONIC);
        int done = 0;
        for (int k = 0; k < n_runs; k++) {
            char key[64];
            snprintf(key, sizeof key, "run-%d", k);
            done += results_run_done(db, exp, key, &err) == 1;
        }
        printf("  %-50s %.2f us per call (%d of %d done)\n", "run_done", (clock_s(CLOCK_MONOTONIC) - w0) / n_runs * 1e6,
               done, n_runs);
        rc |= done != n_runs;
    }
    if (!rc) rc = bench_read(db, &err);
    if (rc && err.msg[0]) fprintf(stderr, "bench_results: %s\n", err.msg);
    results_close(db);
    remove_db(path);
    free(wall);
    free(cpu);
    return rc ? 1 : 0;
}
