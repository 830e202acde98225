/* cli/sim_grid.h: what `tetri sweep` (cli/cmd_sweep.c) uses of `tetri sim` (cli/cmd_sim.c): its
 * options checked one at a time, and a grid run from an argv made of a file's keys and the flags.
 * defines: sim_grid_options, sim_grid_run, sim_option_arity, sim_option_check. */
#ifndef TETRI_CLI_SIM_GRID_H
#define TETRI_CLI_SIM_GRID_H

#include "core/error.h"

typedef struct sim_grid_options {
    int default_jobs;         /* --jobs when not given */
    int progress_bar;         /* on a terminal (and without -q): a progress bar instead of a line per run */
    const char *config_text;  /* stored with a new experiment instead of the command line */
    /* Added to by each grid run: its runs (written or skipped), real seconds, and seconds
     * simulating and writing summed over the jobs. */
    long runs;
    double elapsed_s, sim_s, write_s;
} sim_grid_options;

/* Runs `tetri sim` on argv (argv[0] is the command's name) with o's defaults; prints the runs per
 * second and the time simulating and writing. Returns the exit status. */
int sim_grid_run(int argc, char **argv, sim_grid_options *o);

/* 1: option --NAME of tetri sim takes a value, 0: it is a switch, -1: there is none. */
int sim_option_arity(const char *name);

/* Checks one option's value as tetri sim would take it. Returns 0, or -1 with err. */
int sim_option_check(const char *name, const char *value, tetri_error *err);

#endif
