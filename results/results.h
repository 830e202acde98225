/* results/results.h: the results database (DESIGN section 6) that sim and exec both write.
 * defines: tetri_request_result, tetri_timeline_sample, tetri_run_info, tetri_run_summary,
 *          results_db, results_open/close, results_experiment, results_run_done, results_write_run.
 *
 * A run is written in one transaction (its row, every request row, its timeline), keyed by
 * (experiment, run_key): a sweep killed midway resumes by skipping the keys already done, so no
 * run is lost or written twice. */
#ifndef TETRI_RESULTS_RESULTS_H
#define TETRI_RESULTS_RESULTS_H

#include <stddef.h>
#include <stdint.h>

#include "sched/error.h"
#include "sched/types.h"

#define TETRI_RESULTS_SCHEMA_VERSION 1

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

typedef struct tetri_run_info {
    const char *run_key;        /* unique in the experiment; derived from everything below */
    const char *policy;         /* canonical "name:key=value,..." */
    const char *workload;       /* canonical workload spec text, or the trace file */
    const char *mix;            /* "uniform" / "skewed" / "homogeneous" / "trace" */
    double slo_scale;
    double rate_per_min;
    uint64_t seed;
    const char *backend;        /* "sim" or "exec" */
    const char *hardware;
    const char *model;
} tetri_run_info;

typedef struct tetri_run_summary {
    int32_t n, met, late, dropped;
    double wall_s;              /* host wall time of the run */
    int64_t decide_calls;
    tetri_ns decide_median_ns, decide_p99_ns, decide_max_ns;
    tetri_ns makespan;          /* virtual (sim) or real (exec) time of the last event */
} tetri_run_summary;

typedef struct results_db results_db;

/* Opens or creates the database. Errors: not a tetri results db, newer schema, I/O. */
int results_open(const char *path, results_db **out, tetri_error *err);
void results_close(results_db *db);
/* The id of experiment `name`, created with `config_text` if new. */
int results_experiment(results_db *db, const char *name, const char *config_text, int64_t *id, tetri_error *err);
/* 1 when run_key of this experiment is already written completely, 0 when not, -1 on error. */
int results_run_done(results_db *db, int64_t experiment, const char *run_key, tetri_error *err);
/* Writes one run in one transaction. Returns 0 or -1 (nothing written). */
int results_write_run(results_db *db, int64_t experiment, const tetri_run_info *info,
                      const tetri_run_summary *sum, const tetri_request_result *req, size_t n_req,
                      const tetri_timeline_sample *tl, size_t n_tl, tetri_error *err);

#endif
