/* tests/results_fixture.c: synthetic runs with known outcomes (see results_fixture.h). */
#include "tests/results_fixture.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fixture_met(const char *policy, const char *mix, double scale, double rate, uint64_t seed)
{
    int level = scale >= 1.5 - 1e-9 ? 2 : scale >= 1.2 - 1e-9 ? 1 : 0;
    static const int tetriserve[3] = {14, 17, 20}, xdit[3] = {8, 10, 12};
    int met = strncmp(policy, "tetriserve", 10) == 0 ? tetriserve[level] - (seed == 2 ? 1 : 0)
                                                     : xdit[level] - (seed == 2 ? 2 : 0);
    const char *g = strstr(policy, "g=");
    if (g && (g[-1] == ':' || g[-1] == ',')) met -= abs(atoi(g + 2) - 5) / 2;
    if (strcmp(mix, "skewed") == 0) met -= 2;
    met -= (int)lround((rate - 12.0) / 3.0);
    return met < 0 ? 0 : met > FIXTURE_N_REQUESTS ? FIXTURE_N_REQUESTS : met;
}

/* The blocks fixture_build describes, with error scale s. */
static void fixture_blocks(tetri_block_result *blk, int s)
{
    for (int k = 0; k < FIXTURE_N_BLOCKS; k++) {
        tetri_block_result *b = &blk[k];
        int degree = 1 << (k % 4);
        b->seq = k;
        b->n_req = 1 + k % 3;
        for (int j = 0; j < b->n_req; j++) b->req[j] = (k + 7 * j) % FIXTURE_N_REQUESTS;
        b->gpus = (((tetri_gpuset)1 << degree) - 1) << (k % 2 ? 8 - degree : 0);
        b->steps = 5;
        b->pred_start = (tetri_ns)k * 2 * TETRI_NS_PER_S;
        b->pred_end = b->pred_start + TETRI_NS_PER_S;
        b->migration_ns = k % 2 ? 50 * TETRI_NS_PER_MS : 0;
        b->start = b->pred_start + (tetri_ns)(s * k) * TETRI_NS_PER_MS;
        b->failed = k == FIXTURE_N_BLOCKS - 1;
        b->end = b->start + (b->failed ? 300 * TETRI_NS_PER_MS : TETRI_NS_PER_S + (tetri_ns)(s * (k - 1)) * 10 * TETRI_NS_PER_MS);
    }
}

void fixture_build(fixture_run *f, const char *policy, const char *mix, double scale, double rate, uint64_t seed,
                   const char *backend)
{
    memset(f, 0, sizeof *f);
    snprintf(f->policy, sizeof f->policy, "%s", policy);
    snprintf(f->mix, sizeof f->mix, "%s", mix);
    snprintf(f->backend, sizeof f->backend, "%s", backend);
    snprintf(f->workload, sizeof f->workload, "mix=%s,rate=%g,scale=%g,n=%d,seed=%llu", mix, rate, scale,
             FIXTURE_N_REQUESTS, (unsigned long long)seed);
    snprintf(f->run_key, sizeof f->run_key, "%s|%s|%s", policy, f->workload, backend);
    f->info = (tetri_run_info){.run_key = f->run_key, .policy = f->policy, .workload = f->workload, .mix = f->mix,
                               .slo_scale = scale, .rate_per_min = rate, .seed = seed, .backend = f->backend,
                               .hardware = "h100x8", .model = "flux-dev"};
    int met = fixture_met(policy, mix, scale, rate, seed);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < FIXTURE_N_REQUESTS; i++) {
        tetri_request_result *r = &f->req[i];
        int side = 256 << (i % 4);
        static const double base_s[4] = {1.5, 2.0, 3.0, 5.0};
        r->id = i;
        r->model = TETRI_MODEL_FLUX_DEV;
        r->width = r->height = side;
        r->steps = 20;
        r->arrival = (tetri_ns)i * 5 * TETRI_NS_PER_S;
        r->deadline = r->arrival + (tetri_ns)llround(scale * base_s[i % 4] * 1e9);
        int is_met = (int)((i + seed) % FIXTURE_N_REQUESTS) < met;
        int miss = i; /* alternate late / dropped among the misses */
        r->outcome = is_met ? TETRI_MET : (miss % 2 ? TETRI_LATE : TETRI_DROPPED);
        r->first_start = r->outcome == TETRI_DROPPED ? -1 : r->arrival + TETRI_NS_PER_S / 10;
        r->finish = r->outcome == TETRI_MET ? r->arrival + (r->deadline - r->arrival) / 2
                    : r->outcome == TETRI_LATE ? r->deadline + TETRI_NS_PER_S
                                               : -1;
        int degree = 1 << (i % 4);
        r->gpu_ns = r->outcome == TETRI_DROPPED ? 0 : (tetri_ns)degree * (r->finish - r->first_start);
        r->degree_changes = i % 3;
        r->migrations = i % 2;
        r->max_degree = degree;
        counts[r->outcome]++;
    }
    for (int k = 0; k < FIXTURE_N_TIMELINE; k++) {
        tetri_timeline_sample *s = &f->tl[k];
        s->t = (tetri_ns)k * 10 * TETRI_NS_PER_S;
        s->busy_gpus = (int32_t)((k * 3 + (int)seed) % 9);
        s->mean_degree = s->busy_gpus ? 1.0 + (k % 4) : 0.0;
        s->pending = k % 5;
    }
    fixture_blocks(f->blk, strcmp(backend, "sim") == 0 ? 1 : 2);
    f->sum = (tetri_run_summary){.n = FIXTURE_N_REQUESTS, .met = counts[TETRI_MET], .late = counts[TETRI_LATE],
                                 .dropped = counts[TETRI_DROPPED], .wall_s = 0.001, .decide_calls = 40,
                                 .decide_median_ns = 5000, .decide_p99_ns = 20000, .decide_max_ns = 30000,
                                 .makespan = 100 * TETRI_NS_PER_S};
}

static int write_one(results_db *db, int64_t exp, const char *policy, const char *mix, double scale, double rate,
                     uint64_t seed, const char *backend, tetri_error *err)
{
    static fixture_run f; /* large; one at a time */
    fixture_build(&f, policy, mix, scale, rate, seed, backend);
    return results_write_run(db, exp, &f.info, &f.sum, f.req, FIXTURE_N_REQUESTS, f.tl, FIXTURE_N_TIMELINE, f.blk,
                             FIXTURE_N_BLOCKS, err);
}

int fixture_write_sweep(results_db *db, tetri_error *err)
{
    static const char *const policies[] = {"tetriserve:g=5", "xdit-sp1"};
    static const char *const mixes[] = {"uniform", "skewed"};
    static const double scales[] = {1.0, 1.2, 1.5};
    int64_t paper, rates;
    if (results_experiment(db, "paper", "fixture: policies x mixes x scales x seeds", &paper, err) ||
        results_experiment(db, "rates", "fixture: policies x rates", &rates, err))
        return -1;
    for (int p = 0; p < 2; p++)
        for (int m = 0; m < 2; m++)
            for (int s = 0; s < 3; s++)
                for (uint64_t seed = 1; seed <= 2; seed++)
                    if (write_one(db, paper, policies[p], mixes[m], scales[s], 12, seed, "sim", err)) return -1;
    for (int s = 0; s < 3; s++)
        if (write_one(db, paper, policies[0], "uniform", scales[s], 12, 1, "exec", err)) return -1;
    static const double rate_values[] = {6, 12, 18};
    for (int p = 0; p < 2; p++)
        for (int r = 0; r < 3; r++)
            if (write_one(db, rates, policies[p], "uniform", 1.0, rate_values[r], 1, "sim", err)) return -1;
    int64_t rounds;
    if (results_experiment(db, "rounds", "fixture: tetriserve round granularity g x scales", &rounds, err)) return -1;
    static const int gs[] = {1, 2, 5, 10};
    for (int k = 0; k < 4; k++)
        for (int s = 0; s < 3; s += 2) {
            char policy[64];
            snprintf(policy, sizeof policy, "tetriserve:g=%d,elastic=on", gs[k]);
            if (write_one(db, rounds, policy, "uniform", scales[s], 12, 1, "sim", err)) return -1;
        }
    return 0;
}
