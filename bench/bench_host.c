/* bench/bench_host.c: the serving host's own overhead in real time (`make bench`).
 *
 * The paper's workload (FLUX.1-dev, uniform mix, 12/min, SLO scale 1.0, seed 1; 300 requests, or
 * 100 with --quick) on the default profile's 8 x H100, served by the emulated real-time backend
 * at a speed high enough that the run takes seconds (the overhead is in real microseconds and
 * does not scale with the speed). For each policy it prints:
 *  - end -> next start: for every block started on GPUs that the completion behind that very
 *    decision freed, the real time from the worker's end stamp of that completion to the new
 *    block's worker start stamp: the host's whole reaction (wake-up, bookkeeping, decide, plan
 *    check, hand-over to the worker thread), p50 / p99 / max. Target p99 < 100 us.
 *  - decide: the policy's own time per call, p50 / p99.
 *  - late: each block's end after its prediction, in workload time. With --host-time real (the
 *    emulated backend's default) that is the host's reaction before its hand-over at its real
 *    length, so it reads as real microseconds too.
 *  - attainment beside the simulator's on the same trace (a sanity check, not a figure).
 * Usage: bench_host [--quick] [PROFILE] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/emulated.h"
#include "host/host.h"
#include "profiles/profile.h"
#include "sim/sim.h"
#include "workloads/workload.h"

static int cmp_ns(const void *a, const void *b)
{
    tetri_ns x = *(const tetri_ns *)a, y = *(const tetri_ns *)b;
    return (x > y) - (x < y);
}

static double quantile_us(const tetri_ns *sorted, size_t n, double p)
{
    return n ? (double)host_quantile_ns(sorted, n, p) / 1e3 : NAN;
}

int main(int argc, char **argv)
{
    int quick = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else path = argv[i];
    }
    if (!path) path = profile_default_path();
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    if (profile_open(path, "h100x8", 0, &p, &err)) {
        fprintf(stderr, "bench_host: %s\n", err.msg);
        return 1;
    }
    workload_spec w;
    workload_spec_default(&w);
    w.n_requests = quick ? 100 : 300;
    tetri_trace trace = {0};
    if (workload_generate(&w, &trace, &err)) {
        fprintf(stderr, "bench_host: %s\n", err.msg);
        return 1;
    }
    host_arrival *arr = sim_arrivals_of(&trace);
    const double speed = quick ? 400 : 200;
    printf("host overhead on the emulated backend (real time), %zu requests, speed %g, profile %s (h100x8)\n", trace.n,
           speed, path);
    printf("%-12s %10s %10s %10s %8s %26s %11s %11s %10s %10s %8s %8s %7s\n", "policy", "gap p50us", "gap p99us", "gap max",
           "gaps", "p99 worker/report/host us", "decide p50", "decide p99", "late p50us", "late p99us", "SAR", "SAR sim", "wall s");
    const char *policies[] = {"xdit-sp4", "rssp", "edf-dyn", "tetriserve"};
    int rc = 0;
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        host_config cfg = {.profile = p, .policy_spec = policies[i], .max_failures = 1};
        host_result sim = {0}, live = {0};
        emulated_options eo = {.n_gpus = profile_cluster(p)->n_gpus, .speed = speed, .settle_ns = EMULATED_DEFAULT_SETTLE_NS};
        emulated_backend *e = NULL;
        host_backend be;
        if (sim_run(&cfg, &trace, &sim, &err) || emulated_open(&eo, &e, &err)) goto fail;
        emulated_bind(&be, e);
        int r = host_run(&cfg, &be, arr, trace.n, &live, &err);
        emulated_close(e);
        if (r) goto fail;
        /* How much after its prediction each block ended, in workload time. */
        tetri_ns *over = malloc((live.n_blocks ? live.n_blocks : 1) * sizeof *over);
        for (size_t b = 0; b < live.n_blocks; b++) over[b] = live.blocks[b].end - live.blocks[b].pred_end;
        qsort(over, live.n_blocks, sizeof *over, cmp_ns);
        char parts[64];
        snprintf(parts, sizeof parts, "%.1f / %.1f / %.1f", quantile_us(live.gap_part_ns[HOST_GAP_WORKER], live.n_gap_parts, 0.99),
                 quantile_us(live.gap_part_ns[HOST_GAP_REPORT], live.n_gap_parts, 0.99),
                 quantile_us(live.gap_part_ns[HOST_GAP_HOST], live.n_gap_parts, 0.99));
        printf("%-12s %10.1f %10.1f %10.1f %8zu %26s %9.2fus %9.2fus %10.1f %10.1f %8.3f %8.3f %7.2f%s\n", policies[i],
               quantile_us(live.gap_ns, live.n_gap, 0.5), quantile_us(live.gap_ns, live.n_gap, 0.99),
               quantile_us(live.gap_ns, live.n_gap, 1.0), live.n_gap, parts, (double)live.summary.decide_median_ns / 1e3,
               (double)live.summary.decide_p99_ns / 1e3, quantile_us(over, live.n_blocks, 0.5),
               quantile_us(over, live.n_blocks, 0.99), (double)live.summary.met / (double)live.summary.n,
               (double)sim.summary.met / (double)sim.summary.n, live.summary.wall_s,
               quantile_us(live.gap_ns, live.n_gap, 0.99) < 100 ? "" : "  (p99 over the 100 us target)");
        free(over);
        host_result_free(&sim);
        host_result_free(&live);
        continue;
    fail:
        fprintf(stderr, "bench_host: %s: %s\n", policies[i], err.msg);
        host_result_free(&sim);
        host_result_free(&live);
        rc = 1;
    }
    free(arr);
    tetri_trace_free(&trace);
    profile_close(p);
    return rc;
}
