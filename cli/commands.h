/* cli/commands.h: the subcommands of `tetri`, one file each in cli/.
 * defines: cmd_* entry points (argc/argv start at the subcommand's name), cli_usage_error,
 *          cli_mpirun_ranks, cli_exec_mpi_program. */
#ifndef TETRI_CLI_COMMANDS_H
#define TETRI_CLI_COMMANDS_H

int cmd_workload(int argc, char **argv);  /* cli/cmd_workload.c: generate or check a trace */
int cmd_sim(int argc, char **argv);       /* cli/cmd_sim.c: simulate runs or sweeps into a results db */
int cmd_serve(int argc, char **argv);     /* cli/cmd_sim.c: the same on a real-time backend (emulated) */
int cmd_sweep(int argc, char **argv);     /* cli/cmd_sweep.c: an experiment file's grids, on every core */
int cmd_validate(int argc, char **argv);  /* cli/cmd_validate.c: the simulator against a live backend */
int cmd_report(int argc, char **argv);    /* cli/cmd_report.c: tables and CSV from a results db */
int cmd_plot(int argc, char **argv);      /* cli/cmd_plot.c: gnuplot figures from a results db */
int cmd_merge(int argc, char **argv);     /* cli/cmd_merge.c: the runs of several results dbs into one */
int cmd_profile(int argc, char **argv);   /* cli/cmd_profile.c: show, check or generate profiles */
int cmd_profile_measure(int argc, char **argv); /* cli/cmd_profile_measure.c: measured rows on this GPU */
int cmd_demo(int argc, char **argv);      /* cli/cmd_demo.c: the paper's scenario end to end */
int cmd_policies(int argc, char **argv);  /* cli/cmd_policies.c: every policy and its options */
#ifdef TETRI_HAVE_CUDA
int cmd_bench_step(int argc, char **argv); /* cli/cmd_bench_step.c: GPU per-step latency */
#endif
/* cli/cmd_plan_memory.c: bench-step --plan-memory (CPU only; in tetri, or called by cmd_bench_step) */
int cmd_bench_step_plan(int argc, char **argv);
int bench_step_has_plan_memory(int argc, char **argv);

/* cli/cmd_sweep.c: the ranks mpirun started this process among (its environment: Open MPI's, else
 * the PMI's of MPICH and others), 1 when not started by mpirun. */
int cli_mpirun_ranks(void);
#ifndef TETRI_HAVE_MPI
#include "core/error.h"
/* Execs tetri-mpi COMMAND argv[1..] (tetri never links MPI; sweep and serve under mpirun). Returns
 * only on failure, with err. */
int cli_exec_mpi_program(const char *command, char **argv, tetri_error *err);
#endif

#endif
