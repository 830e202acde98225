/* results/validate.h: the simulator against live runs, as `tetri validate` prints it: each live run
 * (backend emulated or exec) beside its simulated twin, the run of the same trace, policy, jitter,
 * timeline and hardware on the simulator, read back from a results database.
 * defines: validate_targets, VALIDATE_DEFAULT_TARGETS, validate_latency, validate_block_class,
 *          VALIDATE_CLASS_MIN_BLOCKS,
 *          validate_blocks, validate_miss, validate_envelope_stat, validate_envelope,
 *          VALIDATE_ENVELOPE_MIN_RUNS, validate_pair, validate_sim_key, validate_find_pairs,
 *          validate_find_pairs_twin, validate_key_on_profile, validate_key_with_actual,
 *          validate_compare, validate_envelope_key, validate_percentile_rank, validate_envelope_fill,
 *          validate_compare_envelope, validate_envelope_shown, validate_strict_misses,
 *          validate_describe_workload, validate_print, validate_print_summary, validate_write_csv.
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
 * infinite, infinite. A target is met only by a finite error within it.
 *
 * The envelope: a policy whose decisions hinge on which request ends first (tetriserve's rounds at
 * high load) moves by several percent between two simulations whose block times differ by noise
 * alone, so one simulated run is a single draw. The envelope of a live run is every simulated run of
 * its experiment of the same trace, policy, timeline, hardware and profile with jitter on (any
 * seed: `tetri sim --trace T --jitter --seeds 1-20`); with VALIDATE_ENVELOPE_MIN_RUNS of them or more
 * the comparison also says where the live mean, p99 and attainment lie among theirs, and whether
 * within their range widened by the targets. */
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
    int64_t n_idle;                 /* of them, blocks that started after their GPUs idled (TETRI_AFTER_IDLE_NS) */
    double err_idle_mean;           /* their mean error; NAN when n_idle = 0 */
    double err_busy_mean;           /* the others' (back to back); NAN when n_idle = n */
} validate_block_class;


/* The worst class is chosen among the classes of at least this many blocks (among all when none
 * has that many): one block's error is a sample, not a class's. */
#define VALIDATE_CLASS_MIN_BLOCKS 3
/* Classes kept per run for the text report (validate_blocks.classes). */
#define VALIDATE_MAX_CLASSES 16

/* The live run's blocks against their predictions (failed blocks and blocks predicted to take no
 * time are left out, as in tetri report --blocks). */
typedef struct validate_blocks {
    int64_t n, failed;              /* blocks that count; failed ones (left out) */
    double err_mean, err_p50, err_p90; /* signed relative duration error; NAN when n = 0 */
    validate_block_class all;       /* every block as one class (model and sizes 0): its idle split */
    validate_block_class worst;     /* the class of largest |err_mean| (ties: more blocks, then class order),
                                     * of VALIDATE_CLASS_MIN_BLOCKS blocks or more where a class has that many */
    /* Every class, in class order (model, tokens, width, batch, degree): the first
     * VALIDATE_MAX_CLASSES of n_classes. Which block times the profile gets wrong, size by size. */
    validate_block_class classes[VALIDATE_MAX_CLASSES];
    int32_t n_classes;
} validate_blocks;

/* Which targets a pair misses (bits). */
typedef enum validate_miss {
    VALIDATE_MISS_MEAN = 1, VALIDATE_MISS_P99 = 2, VALIDATE_MISS_SAR = 4, VALIDATE_MISS_KS = 8
} validate_miss;

/* The envelope is shown, and judged, from this many jittered simulated runs on. */
#define VALIDATE_ENVELOPE_MIN_RUNS 5

/* One figure (mean, p99 or attainment) over the envelope's runs, and the live run's. */
typedef struct validate_envelope_stat {
    size_t n;                       /* runs where it is defined (a mean without a finished request is not) */
    double min, max;                /* over them; NAN when n = 0 */
    double lo, hi;                  /* min and max widened by the target (mean, p99: x (1 -+ target);
                                     * attainment: -+ target); NAN when n = 0 */
    double live;                    /* the live run's value */
    double rank;                    /* its percentile rank among them (validate_percentile_rank); NAN when undefined */
} validate_envelope_stat;

typedef struct validate_envelope {
    size_t n;                       /* jittered simulated runs found (0 when none, or not looked for) */
    validate_envelope_stat mean, p99, sar;
    unsigned misses;                /* VALIDATE_MISS_MEAN, _P99, _SAR: the live value outside [lo, hi] */
} validate_envelope;

typedef struct validate_pair {
    const results_run *sim, *live;  /* into the runs given to validate_find_pairs */
    validate_latency s, l;
    double err_mean, err_p50, err_p90, err_p99; /* (live - sim) / sim */
    double sar_diff;                /* attainment live - sim */
    stats_ks_result ks;
    validate_blocks blocks;
    unsigned misses;                /* validate_miss bits */
    validate_envelope env;          /* the jittered simulator's spread (validate_compare_envelope) */
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

/* validate_find_pairs of every live run (live_keys NULL) with each twin looked for on the profile
 * of content digest `digest` (16 hex digits, profile_digest) instead of the one its live run ran on
 * (how another profile, measured another way or on another machine, predicts the same live runs;
 * NULL: the live run's own), and among the runs whose blocks ran by the profile of digest `actual`
 * (tetri sim --actual-profile: the predictions, and so the decisions' inputs, of the profile, the
 * block times of the actual one; NULL: none). */
int validate_find_pairs_twin(const results_run *runs, size_t n, const char *digest, const char *actual, validate_pair **out,
                             size_t *n_out, size_t *n_unpaired, tetri_error *err);
/* `key` with its profile's digest (the value of its "|profile=" part) replaced by `digest` (16 hex digits).
 * Returns 0, or -1 when the key names no profile digest or buf is too short. */
int validate_key_on_profile(const char *key, const char *digest, char *buf, size_t len);
/* `key` with the actual profile of `digest` (16 hex digits): ",actual=<digest>" before its backend
 * part, or at its end (sim/sweep.c's sweep_run_key). -1 when it has one already or buf is short. */
int validate_key_with_actual(const char *key, const char *digest, char *buf, size_t len);

/* Reads both runs' requests and the live run's blocks and fills every statistic of p and its misses
 * against t. Returns 0 or -1 with err. */
int validate_compare(results_db *db, validate_pair *p, const validate_targets *t, tetri_error *err);

/* The identity of a run key within an envelope, into buf: "policy=P|workload=W|REST", the key without
 * its backend part and its jitter part ("jitter=on,seed=N"), REST what follows that (timeline,
 * hardware, profile); the workload W of a replayed trace is its generator's spec when it has one
 * (the spec the trace's content was checked to match, and the text of that generated workload's own
 * runs), else "digest=HEX": a trace is known by its content, not by its file's name, which differs
 * between the GPU machine that recorded a live run and this one. *jitter_on: whether the jitter part
 * says on. Returns 0, or -1 when the key is not of that form (or buf is too short). */
int validate_envelope_key(const char *run_key, char *buf, size_t len, int *jitter_on);

/* The percentile rank of x among v[0..n) (NaNs in v left out): 100 (below + equal / 2) / count, from
 * 0 (below them all) to 100 (above them all); infinities compare as numbers. NAN when x is NaN or no
 * value counts. */
double validate_percentile_rank(const double *v, size_t n, double x);

/* The envelope e of live figures `live` from the figures of its n jittered runs, judged against t
 * (mean and p99 within [min (1 - target), max (1 + target)], attainment within [min - target,
 * max + target], 1e-12 of rounding allowed; an undefined live value or figure misses). Returns 0,
 * or -1 with err (out of memory). */
int validate_envelope_fill(validate_envelope *e, const validate_latency *runs, size_t n, const validate_latency *live,
                           const validate_targets *t, tetri_error *err);

/* Finds p's envelope among runs[0..n_runs) (the simulated runs of p->live's experiment whose
 * validate_envelope_key is the live run's, with jitter on), reads their requests, and fills p->env.
 * Call after validate_compare (it uses p->l). Returns 0 or -1 with err. */
int validate_compare_envelope(results_db *db, validate_pair *p, const results_run *runs, size_t n_runs,
                              const validate_targets *t, tetri_error *err);

/* Whether p's envelope has VALIDATE_ENVELOPE_MIN_RUNS runs or more (and so is printed and judged). */
int validate_envelope_shown(const validate_pair *p);

/* What --strict acts on: the envelope's misses when it is shown, else the targets' (p->misses). */
unsigned validate_strict_misses(const validate_pair *p);

/* The workload of run r in words (without its seed): "MIX mix, SLO scale X, R/min", or for a replayed
 * trace "trace NAME", with those parameters in parentheses when its generator's are known. */
void validate_describe_workload(const results_run *r, char *buf, size_t len);

/* The comparison of every pair, one block of lines each (policies labelled among `runs`, as in
 * tetri report), then validate_print_summary. */
void validate_print(FILE *out, const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                    const validate_targets *t);
/* One line per pair (policy, workload, the errors, verdict, and the envelope's verdict in a last
 * column when some pair has an envelope shown) and a closing count of pairs that meet every target
 * (and of those within their envelope). */
void validate_print_summary(FILE *out, const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                            const validate_targets *t);
/* One CSV row per pair, with a header: identity, both sides' figures, errors, KS, blocks, verdict,
 * both run keys, the envelope (docs/validation.md lists the columns). Fixed formats: the same database gives the
 * same bytes. */
void validate_write_csv(FILE *out, const validate_pair *pairs, size_t n);

#endif
