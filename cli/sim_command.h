/* cli/sim_command.h: what cli/cmd_sim.c lends to `tetri validate`: tetri serve's command line and
 * sweep, run on the simulator first and then on the live backend.
 * defines: sim_passes, sim_command_serve, sim_command_check_backend. */
#ifndef TETRI_CLI_SIM_COMMAND_H
#define TETRI_CLI_SIM_COMMAND_H

#include "sim/sweep.h"

typedef struct sim_passes {
    int simulator_first;    /* the whole sweep on the simulator, then on --backend's live backend */
    /* The simulator's pass draws block times from the profile's CV (--jitter) though the live one
     * does not: a GPU has its own variance, and an unjittered simulator's latencies have atoms. */
    int simulator_jitter;
    /* Called after every run of either pass, written or already there (live: 1 on the live pass). */
    void (*observe)(void *ctx, const sweep_run_report *r, int live);
    void *ctx;
} sim_passes;

/* Runs `tetri serve` on argv (argv[0] the command's name, as cmd_serve gets it), with messages that
 * name `name` ("tetri validate: ...") and the passes asked for (NULL: serve's one pass on --backend).
 * Returns the exit status: 0, 1 a run or file failed, 2 bad options. */
int sim_command_serve(int argc, char **argv, const char *name, const sim_passes *passes);

/* 0 when `name` is a live backend tetri serve knows (emulated, gpu), else -1 with err ("'NAME' is
 * not a backend (emulated or gpu)"). Whether this build and machine can run it is found when it is
 * opened (gpu: a build without CUDA, no GPU). */
int sim_command_check_backend(const char *name, tetri_error *err);

#endif
