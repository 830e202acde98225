/* results/results.h: the results database (DESIGN section 6) that sim and exec both write.
 * defines: tetri_request_result, tetri_timeline_sample, tetri_block_result, tetri_run_info, tetri_run_summary,
 *          results_db, results_open/close, results_experiment, results_experiment_set_config,
 *          results_run_done, results_run_exists, results_runs_lacking_key_part, results_write_run,
 *          results_dump_run; the reader: results_open_readonly, results_experiment_info,
 *          results_list_experiments, results_find_experiment, results_run, results_load_runs,
 *          results_load_requests, results_load_timeline, results_load_blocks and their frees.
 *
 * A run is written in one transaction (its row, every request row, its timeline, its blocks), keyed by
 * (experiment, run_key): a sweep killed midway resumes by skipping the keys already done, so no
 * run is lost or written twice. */
#ifndef TETRI_RESULTS_RESULTS_H
#define TETRI_RESULTS_RESULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/error.h"
#include "core/plan.h"
#include "core/types.h"

#define TETRI_RESULTS_SCHEMA_VERSION 3

typedef struct tetri_request_result {
    int32_t id;
    tetri_model model;
    int32_t width, height, steps;
    tetri_ns arrival, deadline;
    tetri_ns first_start;       /* -1: never started */
    tetri_ns finish;            /* -1: dropped before finishing */
    tetri_outcome outcome;
    tetri_ns gpu_ns;            /* GPU time used: sum over blocks of degree x block time */
    int32_t degree_changes;     /* blocks whose degree differs from the previous block's */
    int32_t migrations;         /* blocks on a GPU set different from the previous block's */
    int32_t max_degree;
} tetri_request_result;

typedef struct tetri_timeline_sample {
    tetri_ns t;
    int32_t busy_gpus;
    double mean_degree;         /* over running blocks; 0 when none */
    int32_t pending;            /* arrived, unfinished requests */
} tetri_timeline_sample;

/* One block as it ran: predicted by the host when it started it (the decision's time and the
 * profile's block time, tetri_block_cost.total_ns) and as the backend ran it. In the simulator
 * start equals pred_start, and end equals pred_end unless jitter is on. */
typedef struct tetri_block_result {
    int32_t seq;                    /* start order in the run, 0, 1, ... */
    int32_t req[TETRI_MAX_BATCH];   /* request ids (a batch: several) */
    int32_t n_req;
    tetri_gpuset gpus;              /* its degree is the popcount */
    int32_t steps;
    tetri_ns pred_start, pred_end;
    tetri_ns start, end;            /* as run; a failed block: when the failure was seen */
    tetri_ns migration_ns;          /* the predicted part spent moving state (in pred_end - pred_start) */
    int32_t failed;                 /* 1: the backend reported the block failed (its steps did not count) */
} tetri_block_result;

typedef struct tetri_run_info {
    const char *run_key;        /* unique in the experiment; derived from everything below */
    const char *policy;         /* canonical "name:key=value,..." */
    const char *workload;       /* canonical workload spec text, or the trace file */
    const char *mix;            /* "uniform" / "skewed" / "homogeneous" / "trace" */
    double slo_scale;
    double rate_per_min;
    uint64_t seed;
    const char *backend;        /* "sim", "emulated" or "exec" */
    const char *hardware;
    const char *model;
} tetri_run_info;

typedef struct tetri_run_summary {
    int32_t n, met, late, dropped;
    double wall_s;              /* host wall time of the run */
    int64_t decide_calls;
    tetri_ns decide_median_ns, decide_p99_ns, decide_max_ns;
    tetri_ns makespan;          /* virtual (sim) or real (exec) time of the last event */
    bool partial;               /* ended early (status 'partial'); note says why */
    char note[256];
} tetri_run_summary;

typedef struct results_db results_db;

/* Opens or creates the database; an older schema (version 1) is upgraded in one transaction.
 * Errors: not a tetri results db, newer schema, I/O, and names that SQLite would not take as the
 * file they spell (SQLite's temporary and in-memory databases "" and ":memory:", "file:" URIs),
 * where the results would be lost. */
int results_open(const char *path, results_db **out, tetri_error *err);
void results_close(results_db *db);
/* The id of experiment `name`, created with `config_text` if new. */
int results_experiment(results_db *db, const char *name, const char *config_text, int64_t *id, tetri_error *err);
/* Replaces the config text of experiment `id` (tetri merge appends another database's to it).
 * Returns 0, or -1 (no such experiment, read-only, I/O). */
int results_experiment_set_config(results_db *db, int64_t id, const char *config_text, tetri_error *err);
/* 1 when run_key of this experiment is already written completely, 0 when not, -1 on error. */
int results_run_done(results_db *db, int64_t experiment, const char *run_key, tetri_error *err);
/* 1 when the experiment has a run row of run_key, done or partial, 0 when not, -1 on error. (A
 * partial run is not done, and results_write_run replaces it; tetri merge keeps it instead.) */
int results_run_exists(results_db *db, int64_t experiment, const char *run_key, tetri_error *err);
/* Every run key of `experiment` that results_run_done finds, each followed by its NUL, in key order,
 * into *blob (malloc'ed; NULL when none) of *len bytes (MPI's rank 0 tells the others). 0 or -1. */
int results_done_keys(results_db *db, int64_t experiment, char **blob, size_t *len, tetri_error *err);
/* How many runs of this experiment have a run key without `part` in it (into *n): keys written
 * before a part joined them, which a resumed sweep cannot match. Returns 0, or -1 with err. */
int results_runs_lacking_key_part(results_db *db, int64_t experiment, const char *part, int64_t *n, tetri_error *err);
/* Writes one run in one transaction: its row, the requests, the timeline and the blocks (any
 * order; seq numbers them 0..n_blocks-1, request ids are those of req, 0..n_req-1). Every row is
 * checked first; an invalid one is refused with a message naming the run and the row. Returns 0
 * (written), 1 when run_key is already complete in the experiment (written earlier, or by a sweep
 * beside this one since the caller looked: nothing is written twice), or -1 (nothing written). */
int results_write_run(results_db *db, int64_t experiment, const tetri_run_info *info,
                      const tetri_run_summary *sum, const tetri_request_result *req, size_t n_req,
                      const tetri_timeline_sample *tl, size_t n_tl, const tetri_block_result *blocks,
                      size_t n_blocks, tetri_error *err);

/* Writes the deterministic content of run `run_key` as canonical text: the run's identity, its
 * counts and makespan, every request row, every timeline sample and every block, in a fixed order and format
 * (doubles as %.17g). Host measurements (wall time, decide timings) are left out, so two runs of the
 * same inputs and seed dump byte-identical text. Returns 0, or -1 (no such run, I/O). */
int results_dump_run(results_db *db, int64_t experiment, const char *run_key, FILE *out, tetri_error *err);

/* ---- reader (tetri report, tetri plot) --------------------------------------------------------- */

/* Opens an existing results database for reading only: a missing file is an error (never created).
 * An older schema is read as it is (version 1: no blocks). */
int results_open_readonly(const char *path, results_db **out, tetri_error *err);

typedef struct results_experiment_info {
    int64_t id;
    char *name;
    char *config;               /* the full config text given when it was created */
    int64_t n_runs;
} results_experiment_info;

/* Every experiment, by name. Free with results_experiments_free. */
int results_list_experiments(results_db *db, results_experiment_info **out, size_t *n, tetri_error *err);
void results_experiments_free(results_experiment_info *e, size_t n);
/* The id of experiment `name`; -1 with an error that lists the known names when there is none. */
int results_find_experiment(results_db *db, const char *name, int64_t *id, tetri_error *err);

/* One run as read back, with the statistics report and plot need, derived from its request,
 * timeline and block rows. sum is the run row's, as written: partial and note from its status
 * and note (none in a file older than version 3), so info and sum rewrite the run elsewhere. */
typedef struct results_run {
    int64_t id;                 /* row id, for results_load_requests / results_load_timeline */
    int64_t experiment_id;
    char *experiment;
    char *run_key, *policy, *policy_name, *workload, *mix, *backend, *hardware, *model, *status;
    double slo_scale, rate_per_min;
    double load;                /* the workload text's load= (tetri sim --load); 0: none */
    uint64_t seed;
    tetri_run_summary sum;
    double attainment;          /* met / n (0 when n = 0) */
    /* Latency = finish - arrival, over every request; a dropped request counts as +infinity, so a
     * quantile that lands on one is INFINITY (printed "inf"). Nearest-rank quantiles. */
    double p50_latency_s, p99_latency_s;
    double mean_degree;         /* time average of the timeline's mean degree while a GPU is busy; NAN: no timeline */
    double gpu_seconds;         /* sum of the requests' GPU time */
    /* Blocks: predicted vs actual. A failed block's end is when the failure was seen, not a
     * duration, so the errors below leave failed blocks out (and blocks predicted to take 0 ns). */
    int64_t n_blocks, failed_blocks;
    double block_err_mean, block_err_p50, block_err_p99; /* (actual - predicted) / predicted duration; NAN: none */
    double start_delay_p50_ms, start_delay_p99_ms;       /* actual - predicted start; NAN: none */
} results_run;

/* The runs of `experiment` (-1: every experiment), ordered by experiment, model, hardware, mix,
 * policy, SLO scale, rate, seed, backend, run key (a fixed order: reports are reproducible). */
int results_load_runs(results_db *db, int64_t experiment, results_run **out, size_t *n, tetri_error *err);
void results_runs_free(results_run *runs, size_t n);
/* The request rows of a run (by results_run.id), in id order. Free with free(). */
int results_load_requests(results_db *db, int64_t run_id, tetri_request_result **out, size_t *n, tetri_error *err);
/* The timeline of a run, in time order. Free with free(). */
int results_load_timeline(results_db *db, int64_t run_id, tetri_timeline_sample **out, size_t *n, tetri_error *err);
/* The blocks of a run, in seq order (none from a version-1 file). Free with free(). */
int results_load_blocks(results_db *db, int64_t run_id, tetri_block_result **out, size_t *n, tetri_error *err);

#endif
