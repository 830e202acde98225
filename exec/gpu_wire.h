/* exec/gpu_wire.h: the GPU backend's options as one flat block of bytes, for rank 0 of tetri-mpi to
 * hand the other ranks (exec/remote.h's remote_options.config; every rank is one build, so the
 * layout is shared), and each rank's own GPUs out of them. Plain C (tested in CI: tests/test_exec_sp).
 * defines: GPU_WIRE_PATH_MAX, gpu_wire, gpu_wire_pack, gpu_wire_unpack.
 *
 * Devices: without --devices, cluster GPU g runs on CUDA device device_base + g - first_gpu of its
 * process: the caller's base is the process's place among its node's processes x its GPU count (so
 * processes sharing a node take consecutive devices), or 0 where each sees only its own (a launcher
 * that sets CUDA_VISIBLE_DEVICES per process); with --devices, its entry g is that CUDA device on
 * g's own process. */
#ifndef TETRI_EXEC_GPU_WIRE_H
#define TETRI_EXEC_GPU_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/error.h"
#include "exec/gpu.h"

#define GPU_WIRE_PATH_MAX 1024
#define GPU_WIRE_SHAPES 64

typedef struct gpu_wire {
    int32_t n_gpus, devices_given, devices[TETRI_MAX_GPUS];
    int32_t model, n_shapes, max_batch, attention, quiet;
    uint32_t sp_degrees;
    uint64_t weight_seed;
    gpu_shape shapes[GPU_WIRE_SHAPES];
    double time_limit;
    int64_t time_limit_floor_ns, settle_ns, spin_ns, poll_real_ns, inject_error_at, inject_hang_at;
    char weights_dir[GPU_WIRE_PATH_MAX];      /* "" : NULL */
    char save_latents_dir[GPU_WIRE_PATH_MAX]; /* "" : NULL */
} gpu_wire;

/* o's options into w (devices_given: --devices was; quiet: no start-up report). Returns 0, or -1
 * with err (a path longer than GPU_WIRE_PATH_MAX - 1, more shapes than GPU_WIRE_SHAPES). */
int gpu_wire_pack(const gpu_options *o, bool devices_given, bool quiet, gpu_wire *w, tetri_error *err);
/* The options of the process holding GPUs first_gpu .. first_gpu + n_local - 1 of w's cluster in
 * processes of gpus_per_process: *o points into w (its paths) and shapes (w's copied there, at least
 * GPU_WIRE_SHAPES), external_workers set, nccl_id NULL (the caller's), log stdout unless quiet. */
void gpu_wire_unpack(const gpu_wire *w, int gpus_per_process, int first_gpu, int n_local, int device_base, gpu_shape *shapes,
                     gpu_options *o);

#endif
