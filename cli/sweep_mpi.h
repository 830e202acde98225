/* cli/sweep_mpi.h: one sweep across the ranks of `mpirun -np N tetri sweep ...` (tetri-mpi only):
 * each rank runs the grid indices i with i % N == its rank, and rank 0 writes every run into the
 * one results database (the others send theirs whole).
 * defines: sweep_mpi_start, sweep_mpi_end, sweep_mpi_ranks, sweep_mpi_rank, sweep_mpi_run. */
#ifndef TETRI_CLI_SWEEP_MPI_H
#define TETRI_CLI_SWEEP_MPI_H

#include "results/results.h"
#include "sim/sweep.h"

int sweep_mpi_start(int *argc, char ***argv); /* MPI_Init: 0 or -1 */
void sweep_mpi_end(void);                     /* MPI_Finalize */
int sweep_mpi_ranks(void);                    /* the world's size; 1 before start */
int sweep_mpi_rank(void);                     /* this rank; 0 before start */

/* Runs prepared sweep s over the ranks; db is rank 0's (NULL on the others). stats: on rank 0
 * every rank's runs (runs written, found done); simulation time is rank 0's own. Returns 0, or -1
 * with err (a rank's failure; rank 0's own failure aborts the job). */
int sweep_mpi_run(sweep_spec *s, results_db *db, sweep_stats *stats, tetri_error *err);

#endif
