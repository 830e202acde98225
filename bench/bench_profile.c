/* bench/bench_profile.c: the cost model's speed: profile_open, and profile_lookup_step_ns at
 * profiled resolutions (a hash probe and an array read), at unprofiled ones (Steffen interpolation
 * over tokens) and beyond the profiled range (extrapolation through the analytic model).
 *
 * Targets (profiles brief): a lookup is allocation-free and constant-time at profiled points; the
 * simulator runs 1,000,000 requests in under 10 s and the TetriServe policy asks each pending
 * request x each degree on every decision, so a lookup should cost tens of nanoseconds, an
 * interpolated one a few hundred at most.
 *
 * usage: bench_profile [--profile PATH] [--hardware NAME] [--lookups N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "profiles/profile.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ns per lookup over `n` lookups cycling through the sides given; the sum defeats dead-code
 * elimination and doubles as a check that every lookup answered. */
static double time_lookups(const tetri_profile *p, const int *sides, int n_sides, long n, int *failed)
{
    /* The profile's degrees, each over the link of the aligned block of that size (what a policy
     * asks for), cycled with the models and sides. */
    int degrees[16];
    tetri_link links[16];
    int n_deg = profile_degrees(p, TETRI_MODEL_FLUX_DEV, degrees, 16);
    for (int d = 0; d < n_deg; d++) links[d] = tetri_cluster_link(profile_cluster(p), tetri_gpuset_block(0, degrees[d]));
    tetri_ns sum = 0;
    *failed = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        int side = sides[i % n_sides], d = (int)((i >> 1) % n_deg);
        tetri_ns t = profile_lookup_step_ns(p, (tetri_model)(i & 1), side, side, degrees[d], 1, links[d]);
        if (t < 0) (*failed)++;
        sum += t;
    }
    double dt = now_s() - t0;
    if (sum == 42) puts(""); /* keeps the loop */
    return 1e9 * dt / (double)n;
}

int main(int argc, char **argv)
{
    const char *path = NULL, *hardware = "h100x8";
    long n = 20000000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) path = argv[++i];
        else if (strcmp(argv[i], "--hardware") == 0 && i + 1 < argc) hardware = argv[++i];
        else if (strcmp(argv[i], "--lookups") == 0 && i + 1 < argc) n = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_profile [--profile PATH] [--hardware NAME] [--lookups N]\n");
            return 2;
        }
    }
    if (!path) path = profile_default_path();
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    const int opens = 50;
    double t0 = now_s();
    for (int i = 0; i < opens; i++) {
        if (profile_open(path, hardware, 0, &p, &err) < 0) {
            fprintf(stderr, "bench_profile: %s\n", err.msg);
            return 1;
        }
        if (i + 1 < opens) profile_close(p);
    }
    printf("profile_open %s (%s, %d rows): %.2f ms\n", path, hardware, profile_row_count(p), 1e3 * (now_s() - t0) / opens);

    static const int profiled[] = {256, 512, 768, 1024, 1536, 2048};
    static const int between[] = {384, 640, 896, 1280, 1792, 1152};
    static const int beyond[] = {128, 2560, 3072, 4096, 160, 192};
    int failed;
    double ns = time_lookups(p, profiled, 6, n, &failed);
    printf("lookup, profiled resolution:   %6.1f ns   (target: tens of ns)%s\n", ns, failed ? "  SOME FAILED" : "");
    ns = time_lookups(p, between, 6, n / 4, &failed);
    printf("lookup, interpolated:          %6.1f ns   (target: < 500 ns)%s\n", ns, failed ? "  SOME FAILED" : "");
    ns = time_lookups(p, beyond, 6, n / 20, &failed);
    printf("lookup, extrapolated:          %6.1f ns   (rare: sizes outside the profile)%s\n", ns, failed ? "  SOME FAILED" : "");
    profile_close(p);
    return 0;
}
