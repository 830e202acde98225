/* results/validate.h: the simulator against live runs, as `tetri validate` prints it: each live run
 * (backend emulated or exec) beside its simulated twin, the run of the same trace, policy, jitter,
 * timeline and hardware on the simulator, read back from a results database.
 * defines: validate_targets, VALIDATE_DEFAULT_TARGETS, validate_latency, validate_block_class,
 *          VALIDATE_CLASS_MIN_BLOCKS,
 *          validate_blocks, validate_miss, validate_pair, validate_sim_key, validate_find_pairs,
 *          validate_compare, validate_describe_workload, validate_print, validate_print_summary,
 *          validate_write_csv.
 *
 * Per pair: the end-to-end latency (finish - arrival) of every request, its mean, p50, p90 and p99
 * on each side and their relative errors (live - sim) / sim; the SLO attainment on each side and
 * the difference live - sim; a two-sample Kolmogorov-Smirnov test of the two latency samples
 * (results/stats.h); the live blocks' relative duration error (actual - predicted) / predicted,
 * overall and for the worst (model, resolution, batch, degree) class; and a verdict against
 * targets (issue 9: mean error at most 2%, p99 at most 5%, attainment within 0.02, KS not
 * rejecting at 5%).
 *
 * A dropped request never finishes: its latency is +infinity, in the quantiles and the KS samples
 * (a policy that drops requests is not rewarded with a shorter tail), and the mean is over finished
 * requests. A relative error of two infinite quantiles is 0 (both land on dropped requests); of one
 * infinite, infinite. A target is met only by a finite error within it. */
#ifndef TETRI_RESULTS_VALIDATE_H
#define TETRI_RESULTS_VALIDATE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "results/results.h"
#include "results/stats.h"

typedef struct validate_targets {
    double mean_err;        /* |relative error of the mean latency| at most this */
    double p99_err;         /* |relative error of the p99 latency| at most this */
    double sar_diff;        /* |attainment live - sim| at most this */
    double ks_alpha;        /* the KS test rejects when its p-value is below this */
} validate_targets;

/* Issue 9's targets. */
#define VALIDATE_DEFAULT_TARGETS ((validate_targets){.mean_err = 0.02, .p99_err = 0.05, .sar_diff = 0.02, .ks_alpha = 0.05})

/* One run's requests. */
typedef struct validate_latency {
    int32_t n, finished, met;
    double mean_s;                  /* over finished requests; NAN when none finished */
    double p50_s, p90_s, p99_s;     /* nearest rank over every request, a dropped one +inf; NAN when n = 0 */
    double attainment;              /* met / n (0 when n = 0) */
} validate_latency;

/* Live blocks of one model, resolution, batch size and degree. */
typedef struct validate_block_class {
    tetri_model model;
    int32_t width, height, batch, degree;
    int64_t n;                      /* blocks (0: no class, the run has no block that counts) */
    double err_mean;                /* mean relative duration error of its blocks */
} validate_block_class;

/* The worst class is chosen among the classes of at least this many blocks (among all when none
 * has that many): one block's error is a sample, not a class's. */
#define VALIDATE_CLASS_MIN_BLOCKS 3

/* The live run's blocks against their predictions (failed blocks and blocks predicted to take no
 * time are left out, as in tetri report --blocks). */
typedef struct validate_blocks {
    int64_t n, failed;              /* blocks that count; failed ones (left out) */
    double err_mean, err_p50, err_p90; /* signed relative duration error; NAN when n = 0 */
    validate_block_class worst;     /* the class of largest |err_mean| (ties: more blocks, then class order),
                                     * of VALIDATE_CLASS_MIN_BLOCKS blocks or more where a class has that many */
} validate_blocks;

/* Which targets a pair misses (bits). */
typedef enum validate_miss {
    VALIDATE_MISS_MEAN = 1, VALIDATE_MISS_P99 = 2, VALIDATE_MISS_SAR = 4, VALIDATE_MISS_KS = 8
} validate_miss;

typedef struct validate_pair {
    const results_run *sim, *live;  /* into the runs given to validate_find_pairs */
    validate_latency s, l;
    double err_mean, err_p50, err_p90, err_p99; /* (live - sim) / sim */
    double sar_diff;                /* attainment live - sim */
    stats_ks_result ks;
    validate_blocks blocks;
    unsigned misses;                /* validate_miss bits */
} validate_pair;

/* The simulated twin's run key of a live run key: the live key without its backend part (the sweep's
 * keys are the simulator's plus "|backend=NAME,..."). Returns 0, or -1 when `live_key` has none. */
int validate_sim_key(const char *live_key, char *buf, size_t len);

/* Pairs live runs with their simulated twins among runs[0..n) (the runs of one experiment, or of
 * several: a twin is looked for in its live run's experiment). live_keys[0..n_keys) names the live
 * runs to pair, in that order, each of which must be there with its twin (an error names the key
 * otherwise): sim_keys[k] when given, else the run of validate_sim_key's key, or when there is
 * none, of that key with "jitter=on" for "jitter=off" (the simulator's pass of tetri validate
 * --sim-jitter). live_keys NULL pairs every live run of `runs` that has a twin by that rule, in runs'
 * order, and counts the others in *n_unpaired (may be NULL). *out (free()) gets the pairs,
 * statistics not yet computed. Returns 0 or -1 with err. */
int validate_find_pairs(const results_run *runs, size_t n, const char *const *live_keys, const char *const *sim_keys,
                        size_t n_keys, validate_pair **out, size_t *n_out, size_t *n_unpaired, tetri_error *err);

/* Reads both runs' requests and the live run's blocks and fills every statistic of p and its misses
 * against t. Returns 0 or -1 with err. */
int validate_compare(results_db *db, validate_pair *p, const validate_targets *t, tetri_error *err);

/* The workload of run r in words (without its seed): "MIX mix, SLO scale X, R/min", or for a replayed
 * trace "trace NAME", with those parameters in parentheses when its generator's are known. */
void validate_describe_workload(const results_run *r, char *buf, size_t len);

/* The comparison of every pair, one block of lines each (policies labelled among `runs`, as in
 * tetri report), then validate_print_summary. */
void validate_print(FILE *out, const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                    const validate_targets *t);
/* One line per pair (policy, workload, the errors, verdict) and a closing count of pairs that meet
 * every target. */
void validate_print_summary(FILE *out, const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                            const validate_targets *t);
/* One CSV row per pair, with a header: identity, both sides' figures, errors, KS, blocks, verdict,
 * both run keys (docs/validation.md lists the columns). Fixed formats: the same database gives the
 * same bytes. */
void validate_write_csv(FILE *out, const validate_pair *pairs, size_t n);

#endif
