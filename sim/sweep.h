/* sim/sweep.h: sweeps, the grid of runs behind every figure.
 * defines: sweep_spec, sweep_backend, sweep_run_report, sweep_progress_fn, sweep_claim_fn, sweep_stats,
 *          sweep_prepare, sweep_runs_total, sweep_run, sweep_run_key, sweep_trace_generator.
 *
 * A sweep = policies x rates (or loads) x mixes x SLO scales x seeds for one model and hardware (or
 * policies x seeds over one replayed trace). Every (rate, mix, scale, seed) generates its trace
 * once (workload_generate), and every policy runs on that same trace. Each run goes to the results
 * database in one transaction under a run key made of all its parameters; a run whose key is
 * already complete is skipped, so a sweep killed midway and started again finishes the grid
 * without losing or duplicating a run, and gives the same rows as one uninterrupted sweep.
 *
 * Runs go through the host (host/host.h) on the simulator's virtual clock, or on a backend the
 * caller provides (sweep_backend: `tetri serve`'s emulated real-time backend), whose name and
 * settings join the run key and the rows. */
#ifndef TETRI_SIM_SWEEP_H
#define TETRI_SIM_SWEEP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "host/host.h"
#include "profiles/profile.h"
#include "results/results.h"
#include "workloads/trace.h"
#include "workloads/workload.h"

/* What the progress callback hears after each run (written or skipped). */
typedef struct sweep_run_report {
    const char *policy;               /* canonical "name:key=value,..." */
    const char *policy_given;         /* the spec as the sweep was given it (short, for display) */
    const char *mix;                  /* "uniform" ..., or "trace" for a replay without its generator */
    const char *trace_name;           /* a replay: the trace's name; NULL for a generated workload */
    double slo_scale, rate_per_min;   /* of the generated workload (a replay: its generator's, or 0) */
    double load;                      /* the offered load the rate came from (0: a given rate) */
    uint64_t seed;
    const char *run_key;
    int skipped;                      /* 1: already complete in the database, not run again */
    const tetri_run_summary *summary; /* NULL when skipped */
    const host_result *result;        /* the whole run; NULL when skipped */
    double sim_s, write_s;            /* real seconds simulating it and writing it (0 when skipped) */
} sweep_run_report;

typedef void (*sweep_progress_fn)(void *ctx, const sweep_run_report *r);

/* Whether this process takes the run of grid index `run_index` (0 .. sweep_runs_total - 1), asked
 * once per run in grid order: 1 runs it (or skips it when already done), 0 leaves it to another
 * process (neither run nor reported). Parallel sweeps (sim/sweep_jobs.h) share the grid this way. */
typedef int (*sweep_claim_fn)(void *ctx, long run_index);

/* A backend other than the simulator, opened for each run just before it starts and closed after. */
typedef struct sweep_backend {
    const char *name;                 /* the results' backend column, e.g. "emulated" */
    const char *key;                  /* its settings, in the run key: "backend=emulated,speed=20,..." */
    /* arrivals: the run's requests (a GPU backend captures a graph for each of their shapes). */
    int (*open)(void *ctx, const tetri_profile *profile, const host_arrival *arrivals, size_t n, host_backend *be, void **handle,
                tetri_error *err);
    /* After each run whose open succeeded, with the handle open set (NULL: a backend that outlives
     * its runs). */
    void (*close)(void *ctx, void *handle);
    void *ctx;
} sweep_backend;

typedef struct sweep_spec {
    const tetri_profile *profile;
    const tetri_profile *actual;      /* optional: the profile blocks run by (host_config.actual); in run keys */
    const char *const *policies;      /* policy specs, e.g. "rssp:backfill=on" */
    size_t n_policies;
    /* The workload: `base` gives every field; a non-empty list below replaces its field. */
    workload_spec base;
    const tetri_mix_kind *mixes;  size_t n_mixes;
    const double *slo_scales;     size_t n_slo_scales;
    const double *rates;          size_t n_rates;       /* requests per minute */
    /* Offered loads instead of rates (normalize_load_rate on the profile, per mix); not both. */
    const double *loads;          size_t n_loads;
    const uint64_t *seeds;        size_t n_seeds;       /* workload and jitter seeds */
    /* Replay instead of generating (mixes, scales and rates are then ignored; seeds only feed
     * the jitter generator). trace_name goes into run keys and rows. */
    const tetri_trace *trace;
    const char *trace_name;
    int jitter, check_plans;
    int max_failures;                 /* failed blocks a request survives (live backends) */
    tetri_ns timeline_period;
    const sweep_backend *backend;     /* NULL: the simulator */
    /* The policies' canonical specs from sweep_prepare; NULL: sweep_run prepares them itself. */
    char (*canonical)[TETRI_POLICY_SPEC_MAX];
    const char *experiment;           /* results experiment name */
    const char *config_text;          /* stored with a new experiment */
    long stop_after;                  /* > 0: stop after writing this many runs (resume tests) */
    /* Optional: a stop request (a signal's number, from a handler). A run it interrupts ends
     * partial (host_result.partial), is written with status 'partial', and the sweep stops. */
    const volatile sig_atomic_t *stop;
    sweep_progress_fn progress;
    void *progress_ctx;
    sweep_claim_fn claim;             /* NULL: every run is this process's */
    void *claim_ctx;
    /* Optional, together: where runs go instead of the database (an MPI rank that sends its runs to
     * rank 0, which writes them), and which runs are done already (known_done: 1 done, 0 not).
     * write_run returns 0 (handed on), or -1 with err. With them, sweep_run takes db NULL. */
    int (*write_run)(void *ctx, const tetri_run_info *info, const host_result *res, tetri_error *err);
    int (*known_done)(void *ctx, const char *run_key);
    void *writer_ctx;
} sweep_spec;

typedef struct sweep_stats {
    long runs_total;      /* the grid's size (all processes' runs, with claim) */
    long runs_written;
    long runs_skipped;    /* already complete */
    int stopped_early;    /* stop_after reached before the end */
    long runs_partial;    /* written with status 'partial' (a stop, a failed GPU); the sweep stopped there */
    char partial_why[256];
    double sim_s, write_s; /* real seconds spent running the runs and writing them (summed over workers) */
} sweep_stats;

/* The run key of one run: canonical policy, canonical workload (or trace name, a digest of the
 * trace's content, and seed), jitter and timeline settings, hardware, the profile (its content
 * digest, profile_digest) and whether the analytic model fills unprofiled degrees, and a live
 * backend's settings: everything that shapes the run's rows. */
#define SWEEP_KEY_PROFILE "profile="
/* ...and of the actual profile, when a run has one: after the profile's part and the set rule. */
#define SWEEP_KEY_ACTUAL ",actual="
void sweep_run_key(char *buf, size_t len, const char *policy_canonical, const char *workload_text,
                   const sweep_spec *s, uint64_t seed);

/* The workload a replayed trace was generated from: its generator comment (tetri workload's
 * "# tetri workload: SPEC") parsed into *w, when generating that spec again gives exactly the
 * trace's requests. Returns 1, or 0 when it has no comment or the comment no longer describes it
 * (the file was edited or cut): a replay then records mix "trace" and scale and rate 0. */
int sweep_trace_generator(const tetri_trace *t, workload_spec *w);

/* Checks everything a sweep can refuse before anything runs: every workload of the grid, then
 * every policy (each created once, on the profile's cluster), whose canonical spec goes to
 * canon[i] (room for n_policies). Returns 0, or -1 with err; for a bad policy *bad_policy is its
 * index (else it is set to SIZE_MAX). */
int sweep_prepare(const sweep_spec *s, char (*canon)[TETRI_POLICY_SPEC_MAX], size_t *bad_policy, tetri_error *err);

/* The number of runs in the grid: policies x rates x mixes x scales x seeds (a replay: x seeds). */
long sweep_runs_total(const sweep_spec *s);

/* Runs the sweep into `db` (preparing it first unless s->canonical is set). Returns 0, or -1
 * with err naming the run that failed. */
int sweep_run(const sweep_spec *s, results_db *db, sweep_stats *stats, tetri_error *err);

#endif
