/* cli/serve_gpu.h: `tetri serve --backend gpu`: its options, and the backend a sweep runs on.
 * defines: serve_gpu_args, serve_gpu_args_init, serve_gpu_open, serve_gpu_close.
 *
 * The GPU backend (exec/gpu.h) is opened once for the sweep: the model on every GPU and a graph for
 * every (resolution, steps, batch) the sweep can hold; each run of the sweep then starts its own
 * clock and requests on it. A build without CUDA says so. */
#ifndef TETRI_CLI_SERVE_GPU_H
#define TETRI_CLI_SERVE_GPU_H

#include <stdbool.h>

#include "core/error.h"
#include "sim/sweep.h"

typedef struct serve_gpu_args {
    const char *devices;       /* "0,1,..." CUDA device per cluster GPU; NULL: 0..n-1 */
    const char *weights;       /* a diffusers transformer folder; NULL: seeded random weights */
    const char *attention;     /* auto, cudnn, flash, flash-mma */
    const char *save_latents;  /* a folder, or NULL */
    double weight_seed;        /* random weights and request inputs */
    double max_batch;          /* 0: the profile's largest batch at degree 1 */
    double time_limit;         /* a block may run this x its prediction (+ 2 s) */
    double inject_error, inject_hang; /* test aids: block numbers, 0 none */
    int gpus_per_process;      /* under mpirun (tetri-mpi): GPUs each process serves (0: spread evenly) */
} serve_gpu_args;

void serve_gpu_args_init(serve_gpu_args *a);
/* Opens the GPU backend for sweep `s` (its profile, workload or trace) and fills *out; *state is
 * what serve_gpu_close takes. key: room for the backend's settings in run keys. Returns 0, or -1
 * with err (no GPU, a bad option, a model that does not fit). */
int serve_gpu_open(const serve_gpu_args *a, const sweep_spec *s, int quiet, sweep_backend *out, char *key, size_t key_len,
                   void **state, tetri_error *err);
/* Closes it; true when a GPU failed and the process must end with _exit (see gpu_close). */
bool serve_gpu_close(void *state);

#endif
