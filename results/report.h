/* results/report.h: the tables and CSV of `tetri report`, over runs read by results_load_runs.
 * defines: report_dim, report_dim_name, report_parse_by, report_dim_value, report_dim_compare,
 *          report_policy_label, report_metric (+ name, parse, value), report_options, report_print_tables,
 *          report_print_runs, report_print_blocks, report_write_csv, report_write_requests_csv,
 *          report_csv_field.
 *
 * A table shows a metric (SLO attainment, met / n, by default) for one value of every dimension that
 * is not its rows or columns; so a cell only ever averages runs that differ in seed, and its text says how many and
 * their range. */
#ifndef TETRI_RESULTS_REPORT_H
#define TETRI_RESULTS_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "results/results.h"

typedef enum report_dim {
    REPORT_DIM_EXPERIMENT = 0,
    REPORT_DIM_MODEL,
    REPORT_DIM_HARDWARE,
    REPORT_DIM_BACKEND,
    REPORT_DIM_MIX,
    REPORT_DIM_RATE,
    REPORT_DIM_LOAD,        /* the offered load of tetri sim --load (from the workload text); "-": none */
    REPORT_DIM_SCALE,
    REPORT_DIM_POLICY,
    REPORT_DIM_COUNT
} report_dim;

/* "experiment", "model", "hardware", "backend", "mix", "rate", "load", "scale", "policy". */
const char *report_dim_name(report_dim d);

/* Parses "--by" text: comma-separated dimension names, at least two, none twice; the last names the
 * rows, the one before it the columns, earlier ones the order in which tables are split.
 * Returns 0, or -1 with err naming the bad word and the choices. */
int report_parse_by(const char *text, report_dim *dims, int *n_dims, tetri_error *err);

/* The value of dimension d of run r as text ("%g" for numbers, "1.0" for scales; the policy as
 * report_policy_label among the runs `among`). */
void report_dim_value(const results_run *r, report_dim d, const results_run *all, const size_t *among, size_t n_among,
                      char *buf, size_t len);
/* Orders runs along d: numbers numerically, text by strcmp (policies with digit runs as numbers). */
int report_dim_compare(const results_run *a, const results_run *b, report_dim d);
/* A short, unambiguous label of r's policy among the runs all[among[0..n_among)] (among NULL: all[0..
 * n_among)), e.g. those of one table or figure: the name ("tetriserve") when every one of them with
 * that name has the same options, else the name and the options that differ between them
 * ("tetriserve:g=2,elastic=off"), so two variants never share a label and none is a paragraph. */
void report_policy_label(const results_run *r, const results_run *all, const size_t *among, size_t n_among, char *buf,
                         size_t len);

/* What a table's cells show, per run, averaged over seeds. */
typedef enum report_metric {
    REPORT_METRIC_ATTAINMENT = 0, /* met / n */
    REPORT_METRIC_P50,            /* p50 latency, s (inf when half the requests were dropped) */
    REPORT_METRIC_P99,            /* p99 latency, s (inf when over 1% were dropped) */
    REPORT_METRIC_DEGREE,         /* mean SP degree while busy */
    REPORT_METRIC_GPU_SECONDS,    /* GPU-seconds used */
    REPORT_METRIC_DROPPED,        /* dropped requests */
    REPORT_METRIC_BLOCK_ERR,      /* mean relative block-duration error, (actual - predicted) / predicted */
    REPORT_METRIC_COUNT
} report_metric;
/* "attainment", "p50", "p99", "degree", "gpu_s", "dropped", "block_err". */
const char *report_metric_name(report_metric m);
int report_parse_metric(const char *text, report_metric *out, tetri_error *err);
/* The metric of one run (NAN when it has none: a mean degree without a timeline, a block error
 * without blocks). */
double report_metric_value(const results_run *r, report_metric m);

typedef struct report_options {
    report_dim by[REPORT_DIM_COUNT];
    int n_by;
    report_metric metric;       /* 0: attainment */
} report_options;

/* Tables of opt->metric, one per value of the table dimensions. Returns 0 or -1 (out of memory). */
int report_print_tables(FILE *out, const results_run *runs, size_t n, const report_options *opt, tetri_error *err);
/* One line per run: identity, counts, attainment, latency quantiles, mean degree, GPU-seconds and
 * (measurements) wall time and decision time. */
void report_print_runs(FILE *out, const results_run *runs, size_t n);
/* One line per run on its blocks: count, failed, the relative duration error (mean, p50, p99) and
 * the start delay (p50, p99, ms) of the blocks that did not fail. */
void report_print_blocks(FILE *out, const results_run *runs, size_t n);
/* Long-format CSV, one row per run. with_blocks appends the block statistics (count, failed, relative
 * duration error mean/p50/p99, start delay p50/p99 in ms); with_timing then the host measurements
 * (wall time, decision times), which differ between repeated runs. Without either the columns are
 * those of schema 1's reports, so scripts written for them keep working. */
void report_write_csv(FILE *out, const results_run *runs, size_t n, int with_timing, int with_blocks);
/* Long-format CSV of every request of the runs: the run's identity, then the request's rows with
 * times in seconds (exact: the integer nanoseconds printed with 9 decimals; empty for never
 * started or never finished), latency (empty when dropped) and GPU-seconds. Returns 0 or -1. */
int report_write_requests_csv(FILE *out, results_db *db, const results_run *runs, size_t n, tetri_error *err);
/* Writes s as one CSV field (quoted when it holds a comma, quote or line break). */
void report_csv_field(FILE *out, const char *s);

#endif
