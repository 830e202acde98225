/* cli/serve_mpi.h: `mpirun -np N tetri serve --backend emulated ...` (tetri-mpi only): one
 * process per node; rank 0 runs the host, the results and its own GPUs' workers, every other rank
 * serves its GPUs' blocks (exec/remote.h); only rank 0 writes or prints.
 * defines: serve_mpi_command, serve_mpi_active, serve_mpi_backend, serve_mpi_gpu_backend, serve_mpi_gpu_close. */
#ifndef TETRI_CLI_SERVE_MPI_H
#define TETRI_CLI_SERVE_MPI_H

#include <stdbool.h>

#include "core/error.h"
#include "exec/emulated.h"
#include "exec/gpu.h"
#include "sim/sweep.h"

/* Starts MPI, checks that every rank has the same arguments, then runs rank0_main on rank 0 and
 * the serving loop on the others. Returns the exit status (rank 0's: rank0_main's). */
int serve_mpi_command(int argc, char **argv, int (*rank0_main)(int argc, char **argv));
/* True on rank 0 inside serve_mpi_command: the serve backend spans the ranks. */
bool serve_mpi_active(void);
/* Rank 0: starts the other ranks' runners for a cluster of n_gpus (gpus_per_rank 0: spread
 * evenly) running `emu`, and points sb's open and close at a driver over the ranks (its name and
 * key stay: the runs are those of one process). Once per command; at its end, unless quiet, a
 * line per other rank: the blocks it served. Returns 0, or -1 with err. */
int serve_mpi_backend(int n_gpus, int gpus_per_rank, const emulated_options *emu, bool quiet, sweep_backend *sb,
                      tetri_error *err);
/* Rank 0, tetri-mpi with the GPU part: the GPU backend over the ranks (opts: the whole cluster's,
 * as cli/serve_gpu.c makes them; devices_given: --devices was), each rank opening its GPUs
 * (exec/gpu_wire.h maps them to its CUDA devices), rank 0 the host; sb's open starts each run on
 * every rank (requests seeded from input_seed). Once per command; closed by serve_mpi_gpu_close.
 * Returns 0, or -1 with err (any rank's start-up failure). */
int serve_mpi_gpu_backend(const gpu_options *opts, bool devices_given, int gpus_per_rank, bool quiet, uint64_t input_seed,
                          sweep_backend *sb, tetri_error *err);
/* Rank 0: stops every rank's GPUs and closes the backend; true when a GPU failed (see gpu_close). */
bool serve_mpi_gpu_close(void);

#endif
