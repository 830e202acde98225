/* cli/live_backend.h: the live backends that `tetri serve --backend NAME` and `tetri validate --live
 * NAME` run on, in one table (cli/live_backend.c): adding one is one entry there.
 * defines: live_options, live_backend, live_backend_check, live_backend_open, live_backend_close, live_backend_names.
 *
 * A live backend is what the sweeps (sim/sweep.h) take as a sweep_backend: a name for the results'
 * backend column, its settings for the run key, and open/close around each run. Its settings come
 * from the command line (live_options); its run key part starts with "backend=NAME,", which is what
 * `tetri validate` strips to find a live run's simulated twin. */
#ifndef TETRI_CLI_LIVE_BACKEND_H
#define TETRI_CLI_LIVE_BACKEND_H

#include "core/error.h"
#include "sim/sweep.h"

/* What tetri serve's options set for a live backend. */
typedef struct live_options {
    double speed;           /* durations divided by this (emulated) */
    double settle_us;       /* the host's coalescing window, us of workload time */
    double max_failures;    /* failed blocks a request survives (a whole number) */
    double inject;          /* every inject-th block fails (0: none; a whole number) */
} live_options;

/* One sweep's live backend: its sweep_backend and what that points to. */
typedef struct live_backend {
    sweep_backend sweep;    /* for sweep_spec.backend */
    char key[512];          /* sweep.key's storage */
    void *state;            /* the kind's own: options, or a backend kept open across runs */
    void (*free_state)(void *state); /* live_backend_close's call on it */
} live_backend;

/* 0 when `name` is a backend of this build, else -1 with live_backend_open's message. */
int live_backend_check(const char *name, tetri_error *err);
/* Sets up the backend called `name` with options o. Returns 0, or -1 with err: an unknown name
 * ("'NAME' is not a backend (emulated, gpu)") or one this build lacks (why, and what to do). */
int live_backend_open(const char *name, const live_options *o, live_backend *lb, tetri_error *err);
/* Frees what live_backend_open made; a zeroed lb is fine. */
void live_backend_close(live_backend *lb);
/* The table's names, comma-separated, each with "(not built)" where this build lacks it. */
const char *live_backend_names(void);

#endif
