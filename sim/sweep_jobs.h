/* sim/sweep_jobs.h: one sweep on several cores: worker processes share the grid and write to the
 * one results database.
 * defines: sweep_jobs, sweep_jobs_event, sweep_run_jobs, sweep_cores_available.
 *
 * Each worker is a process of its own (fork) with its own database connection: the simulator keeps
 * no state between runs, and a process is what SQLite may share a file with. The workers walk the
 * grid in the same order and take runs from a shared counter (sweep_spec.claim), so the fast and
 * slow policies spread evenly. Every run is written once, in its own transaction (results_write_run;
 * a run another writer wrote first is skipped), so a sweep killed at any moment and started again
 * finishes the grid without losing or duplicating a run, and its rows are those of --jobs 1: each run
 * depends only on its parameters, never on which worker ran it or when. */
#ifndef TETRI_SIM_SWEEP_JOBS_H
#define TETRI_SIM_SWEEP_JOBS_H

#include "sim/sweep.h"

/* What the parent hears after each run a worker finished (written or skipped). */
typedef struct sweep_jobs_event {
    int skipped;          /* 1: already in the database */
    const char *line;     /* the worker's line for it (sweep_jobs.format), "" without one */
    long done, total;     /* runs finished so far (written + skipped) and the grid's size */
    double elapsed_s;     /* since the workers started */
    double sim_s, write_s; /* the workers' time simulating and writing so far, summed over workers */
} sweep_jobs_event;

typedef struct sweep_jobs {
    int jobs;             /* worker processes (>= 1) */
    const char *db_path;  /* each worker opens it */
    /* In the worker: the line the parent hears for a run (NULL: none). */
    void (*format)(void *ctx, const sweep_run_report *r, char *line, size_t len);
    void *format_ctx;
    /* In the parent: after each run (NULL: nothing). */
    void (*heard)(void *ctx, const sweep_jobs_event *e);
    void *heard_ctx;
} sweep_jobs;

/* Runs sweep s (prepared: s->canonical set; s->progress, s->claim and s->stop_after must be unset)
 * over j->jobs workers. stats counts every worker's runs; stats->sim_s and write_s their summed
 * time. Returns 0, or -1 with err (the first worker's error; the others are then stopped). */
int sweep_run_jobs(const sweep_spec *s, const sweep_jobs *j, sweep_stats *stats, tetri_error *err);

/* The cores this process may run on (its CPU affinity), at least 1. */
int sweep_cores_available(void);

#endif
