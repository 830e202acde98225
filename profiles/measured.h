/* profiles/measured.h: profile rows measured on the GPUs at hand (`tetri profile measure`).
 * defines: measured_hardware, measured_row, measured_stage, measured_migration, measured_row_from_samples,
 *          measured_write, measured_write_migration, measured_idle_speedup, measured_write_idle_speedup.
 *
 * The measuring (GPU) is the command's; this part turns samples into a row (median, p10, p90,
 * CV) and writes a hardware's rows into a profile database, created when absent, in one
 * transaction. A row of the same hardware, model, size, degree and batch already there is
 * replaced (a new measurement, or a measured row over an analytic one); every other row stays, so
 * measurements of one GPU may be taken in several commands. A profile of schema 1 is upgraded to
 * schema 2 in the same transaction (its rows kept). */
#ifndef TETRI_PROFILES_MEASURED_H
#define TETRI_PROFILES_MEASURED_H

#include <stddef.h>

#include "core/error.h"
#include "core/types.h"

typedef struct measured_hardware {
    const char *name;           /* e.g. "h200x1" */
    const char *gpu;            /* the device's name, e.g. "NVIDIA H200" */
    int n_gpus;
    /* The link model behind rows whose all-to-alls are modelled (0 / NULL: none, one GPU): GPUs per
     * fast domain, effective all-to-all bandwidth per rank (GB/s) on the fast and slow links, the
     * floor of one all-to-all, and where those figures come from. */
    int fast_domain_size;
    double fast_link_gbps, slow_link_gbps, a2a_latency_us;
    const char *link_source;
} measured_hardware;

typedef struct measured_row {
    tetri_model model;
    int width, height, degree, batch;
    tetri_ns median_ns, p10_ns, p90_ns;
    double cv;                  /* sample standard deviation / mean */
    int samples;
    const char *method;         /* how: command, GPU, driver, library versions, clocks */
    const char *source;         /* NULL: 'measured'; or 'measured-compute+modelled-comm' */
} measured_row;

/* A stage's time (stage_latency): 'prepare', a request's state before its first step. */
typedef struct measured_stage {
    tetri_model model;
    int width, height;
    tetri_ns median_ns;
} measured_stage;

/* A request's migration cost (the migration table, link nvlink, source 'analytic': modelled). */
typedef struct measured_migration {
    tetri_model model;
    int width, height;
    tetri_ns median_ns;
} measured_migration;

/* Fills the statistics of r from n >= 1 step times in ms (reorders ms). Quantiles: nearest rank. */
void measured_row_from_samples(measured_row *r, float *ms, int n);
/* Writes hw and its rows to the profile at path (created when absent, with hw as its default
 * hardware; an existing file must be a tetri profile), measured_at = date (YYYY-MM-DD). Returns 0,
 * or -1 with err naming the file. */
int measured_write(const char *path, const measured_hardware *hw, const measured_row *rows, size_t n,
                   const measured_stage *stages, size_t n_stages, const char *date, tetri_error *err);
/* Migration rows of hardware `hw` (already written by measured_write), replacing those of the same
 * model and size. */
int measured_write_migration(const char *path, const char *hw, const measured_migration *rows, size_t n, tetri_error *err);

/* The idle_speedup row of a hardware (profiles/schema.sql): its first boost_ns of compute after
 * min_idle_ns of idling run at factor x the step rows' time. */
typedef struct measured_idle_speedup {
    int64_t min_idle_ns, boost_ns;
    double factor;                  /* (0, 1] */
    const char *method;             /* how it was measured */
} measured_idle_speedup;
/* Writes (replaces) hardware hw's idle_speedup row (hw already written by measured_write; the table
 * is made in a profile older than it). Returns 0, or -1 with err naming the file. */
int measured_write_idle_speedup(const char *path, const char *hw, const measured_idle_speedup *s, tetri_error *err);

#endif
