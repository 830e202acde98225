/* tests/results_fixture.h: synthetic runs with known outcomes, for the results and report tests.
 * defines: fixture_run, fixture_build, fixture_met, fixture_write_sweep.
 *
 * The outcomes are a closed formula (fixture_met), so a test can state the attainment a table must
 * show without running a simulator. */
#ifndef TETRI_TESTS_RESULTS_FIXTURE_H
#define TETRI_TESTS_RESULTS_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "results/results.h"

#define FIXTURE_N_REQUESTS 20
#define FIXTURE_N_TIMELINE 10
#define FIXTURE_N_BLOCKS 6

typedef struct fixture_run {
    char run_key[256], policy[64], workload[128], mix[32], backend[16];
    tetri_run_info info;
    tetri_run_summary sum;
    tetri_request_result req[FIXTURE_N_REQUESTS];
    tetri_timeline_sample tl[FIXTURE_N_TIMELINE];
    tetri_block_result blk[FIXTURE_N_BLOCKS];
} fixture_run;

/* How many of the 20 requests meet their deadline: tetriserve 14/17/20 and xdit-sp1 8/10/12 at
 * SLO scale 1.0/1.2/1.5 with seed 1; one fewer (tetriserve) or two fewer (xdit-sp1) with seed 2;
 * two fewer again under the skewed mix; at rate r: minus (r - 12) / 3; with option g=G other than
 * 5 in the policy text: minus |G - 5| / 2 (integer division). */
int fixture_met(const char *policy, const char *mix, double scale, double rate, uint64_t seed);

/* Fills one run: request i has side 256 << (i % 4), arrives at 5 i s; requests (i + seed) % 20 <
 * met are met, the others alternate late (finish 1 s after the deadline) and dropped.
 * Blocks k = 0..5 (seq k, batches of 1 + k % 3 requests (k + 7 j) % 20, 5 steps) are predicted at
 * 2k s for 1 s and run s x k ms late for 1 s + s x (k - 1) x 10 ms, where s = 1 for backend sim and
 * 2 otherwise; block 5 fails 300 ms in. So over the 5 blocks that count, the relative duration
 * error is s x {-0.01, 0, 0.01, 0.02, 0.03} (mean and p50 s x 0.01, p99 s x 0.03) and the start
 * delay s x {0..4} ms (p50 2s, p99 4s). */
void fixture_build(fixture_run *f, const char *policy, const char *mix, double scale, double rate, uint64_t seed,
                   const char *backend);

/* Writes the sweep the CLI tests read: experiment "paper" (tetriserve and xdit-sp1 x uniform and
 * skewed x scales 1.0, 1.2, 1.5 x seeds 1, 2 at rate 12, sim; plus tetriserve uniform seed 1 on exec)
 * experiment "rates" (both policies, uniform, scale 1.0, rates 6, 12, 18, seed 1) and experiment
 * "rounds" (tetriserve:g=G,elastic=on for G = 1, 2, 5, 10, uniform, scales 1.0 and 1.5, seed 1). */
int fixture_write_sweep(results_db *db, tetri_error *err);

#endif
