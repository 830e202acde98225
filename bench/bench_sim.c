/* bench/bench_sim.c: how fast the simulator runs (`make bench`).
 *
 * (a) One run of the paper's workload (FLUX.1-dev, 300 requests, uniform mix, 12/min, SLO scale
 *     1.0, seed 1) on the default profile's 8 x H100, for every registered policy: the median wall
 *     time over repeated runs (at least 3, up to 200 or about 1 s per policy). Target < 20 ms,
 *     except for `optimal`, an exhaustive search meant for a handful of requests (reported, no
 *     target).
 * (b) 1,000,000 requests with xdit-sp1/2/4/8, each at an arrival rate giving it a load of 0.8 (from
 *     the profile's step times and the mix), so queues stay bounded as in a sensible cluster:
 *     one run each, wall time. Target < 10 s.
 * Usage: bench_sim [--quick] [PROFILE]   (--quick: (b) with 100,000 requests) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiles/profile.h"
#include "sched/policies.h"
#include "sim/sim.h"
#include "workloads/workload.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean GPU-seconds a request occupies its group for under xdit-spK: the mix's mean service time. */
static double mean_service_s(const tetri_profile *p, const workload_spec *w, int k)
{
    double shares[TETRI_MAX_RESOLUTIONS];
    tetri_error err;
    int n = workload_mix_shares(w, shares, TETRI_MAX_RESOLUTIONS, &err);
    double s = 0;
    for (int i = 0; i < n; i++) {
        int side = w->resolutions[i];
        tetri_link link = tetri_cluster_link(profile_cluster(p), tetri_gpuset_block(0, k));
        tetri_ns t = profile_lookup_step_ns(p, w->model, side, side, k, 1, link);
        if (t <= 0) return -1;
        s += shares[i] * (double)w->steps * (double)t / TETRI_NS_PER_S;
    }
    return s;
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
    tetri_profile *p;
    tetri_error err = {{0}};
    if (profile_open(path, "h100x8", 0, &p, &err)) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        return 1;
    }
    int missed = 0;

    /* (a) */
    workload_spec w;
    workload_spec_default(&w);
    tetri_trace trace;
    if (workload_generate(&w, &trace, &err)) {
        fprintf(stderr, "bench_sim: %s\n", err.msg);
        return 1;
    }
    printf("bench_sim (a): one run of the paper workload (300 requests, flux-dev, uniform, 12/min, h100x8)\n");
    printf("  %-12s %12s %10s %8s   %s\n", "policy", "median ms", "runs", "SAR", "target");
    for (size_t i = 0; i < tetri_policy_registry_len; i++) {
        const char *name = tetri_policy_registry[i]->name;
        enum { MAX_REPS = 200 };
        double times[MAX_REPS];
        int reps = 0;
        double spent = 0, sar = 0;
        const int exhaustive = strcmp(name, "optimal") == 0;
        while (reps < MAX_REPS && (reps < 3 || spent < 1.0) && !(exhaustive && reps >= 1)) {
            sim_config cfg = {.profile = p, .policy_spec = name, .timeline_period = TETRI_NS_PER_S};
            sim_result res;
            double t0 = now_s();
            if (sim_run(&cfg, &trace, &res, &err)) {
                sim_result_free(&res);
                if (exhaustive) break; /* it may refuse an instance this large: say so below */
                fprintf(stderr, "bench_sim: %s: %s\n", name, err.msg);
                return 1;
            }
            times[reps] = now_s() - t0;
            spent += times[reps++];
            sar = (double)res.summary.met / res.summary.n;
            sim_result_free(&res);
        }
        if (reps == 0) {
            printf("  %-12s %12s %10s %8s   (refused: %s)\n", name, "-", "-", "-", err.msg);
            continue;
        }
        qsort(times, (size_t)reps, sizeof times[0], cmp_double);
        double med = 1e3 * times[(reps - 1) / 2];
        if (exhaustive) {
            printf("  %-12s %12.3f %10d %8.3f   (exhaustive search for a handful of requests: no target)\n", name, med,
                   reps, sar);
            continue;
        }
        missed += med >= 20.0;
        printf("  %-12s %12.3f %10d %8.3f   < 20 ms %s\n", name, med, reps, sar, med < 20.0 ? "ok" : "MISSED");
    }
    tetri_trace_free(&trace);

    /* (b) */
    const int n = quick ? 100000 : 1000000;
    printf("bench_sim (b): %d requests, each policy at the rate that loads it to 0.8\n", n);
    printf("  %-12s %10s %12s %12s %8s   %s\n", "policy", "rate/min", "wall s", "decide calls", "SAR", "target");
    for (int k = 1; k <= 8; k *= 2) {
        char name[16];
        snprintf(name, sizeof name, "xdit-sp%d", k);
        workload_spec big;
        workload_spec_default(&big);
        double service = mean_service_s(p, &big, k);
        if (service <= 0) {
            fprintf(stderr, "bench_sim: the profile lacks a degree-%d row\n", k);
            return 1;
        }
        big.rate_per_min = 0.8 * (8.0 / k) / service * 60.0;
        big.n_requests = n;
        big.slo_scale = 1.5;
        if (workload_generate(&big, &trace, &err)) {
            fprintf(stderr, "bench_sim: %s\n", err.msg);
            return 1;
        }
        sim_config cfg = {.profile = p, .policy_spec = name, .timeline_period = TETRI_NS_PER_S};
        sim_result res;
        double t0 = now_s();
        if (sim_run(&cfg, &trace, &res, &err)) {
            fprintf(stderr, "bench_sim: %s: %s\n", name, err.msg);
            return 1;
        }
        double wall = now_s() - t0;
        double target = 10.0 * n / 1000000.0;
        missed += wall >= target;
        printf("  %-12s %10.1f %12.3f %12lld %8.3f   < %g s %s\n", name, big.rate_per_min, wall,
               (long long)res.summary.decide_calls, (double)res.summary.met / res.summary.n, target,
               wall < target ? "ok" : "MISSED");
        sim_result_free(&res);
        tetri_trace_free(&trace);
    }
    profile_close(p);
    if (missed) printf("bench_sim: %d target(s) missed\n", missed);
    return 0;
}
