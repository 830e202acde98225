/* exec/gpu_wire.c: the GPU backend's options flattened for other processes (see gpu_wire.h). */
#include "exec/gpu_wire.h"

#include <stdio.h>
#include <string.h>

static int copy_path(char *dst, const char *src, const char *what, tetri_error *err)
{
    if (!src) { dst[0] = '\0'; return 0; }
    if (!src[0]) return tetri_errorf(err, "%s: an empty path", what);
    if (strlen(src) >= GPU_WIRE_PATH_MAX) return tetri_errorf(err, "%s: a path of %zu bytes (at most %d across processes)", what, strlen(src), GPU_WIRE_PATH_MAX - 1);
    memcpy(dst, src, strlen(src) + 1);
    return 0;
}

int gpu_wire_pack(const gpu_options *o, bool devices_given, bool quiet, gpu_wire *w, tetri_error *err)
{
    memset(w, 0, sizeof *w);
    if (o->n_gpus < 1 || o->n_gpus > TETRI_MAX_GPUS) return tetri_errorf(err, "a cluster of %d GPUs", o->n_gpus);
    if (o->n_shapes < 0 || o->n_shapes > GPU_WIRE_SHAPES)
        return tetri_errorf(err, "%d (resolution, steps) shapes (at most %d across processes)", o->n_shapes, GPU_WIRE_SHAPES);
    if (copy_path(w->weights_dir, o->weights_dir, "--weights", err) || copy_path(w->save_latents_dir, o->save_latents_dir, "--save-latents", err))
        return -1;
    w->n_gpus = o->n_gpus;
    w->devices_given = devices_given;
    memcpy(w->devices, o->devices, sizeof w->devices);
    w->model = (int32_t)o->model;
    w->n_shapes = o->n_shapes;
    if (o->n_shapes) memcpy(w->shapes, o->shapes, (size_t)o->n_shapes * sizeof *o->shapes);
    w->max_batch = o->max_batch;
    w->attention = o->attention;
    w->quiet = quiet;
    w->sp_degrees = o->sp_degrees;
    w->weight_seed = o->weight_seed;
    w->time_limit = o->time_limit;
    w->time_limit_floor_ns = o->time_limit_floor_ns;
    w->settle_ns = o->settle_ns;
    w->spin_ns = o->spin_ns;
    w->poll_real_ns = o->poll_real_ns;
    w->inject_error_at = o->inject_error_at;
    w->inject_hang_at = o->inject_hang_at;
    return 0;
}

void gpu_wire_unpack(const gpu_wire *w, int gpus_per_process, int first_gpu, int n_local, int device_base, gpu_shape *shapes,
                     gpu_options *o)
{
    memset(o, 0, sizeof *o);
    o->n_gpus = w->n_gpus;
    for (int g = 0; g < TETRI_MAX_GPUS; g++)
        o->devices[g] = w->devices_given ? w->devices[g] : g >= first_gpu ? device_base + g - first_gpu : 0;
    o->model = (tetri_model)w->model;
    o->weights_dir = w->weights_dir[0] ? w->weights_dir : NULL;
    o->weight_seed = w->weight_seed;
    memcpy(shapes, w->shapes, sizeof w->shapes);
    o->shapes = shapes;
    o->n_shapes = w->n_shapes;
    o->max_batch = w->max_batch;
    o->sp_degrees = w->sp_degrees;
    o->attention = w->attention;
    o->time_limit = w->time_limit;
    o->time_limit_floor_ns = w->time_limit_floor_ns;
    o->settle_ns = w->settle_ns;
    o->spin_ns = w->spin_ns;
    o->poll_real_ns = w->poll_real_ns;
    o->save_latents_dir = w->save_latents_dir[0] ? w->save_latents_dir : NULL;
    o->inject_error_at = w->inject_error_at;
    o->inject_hang_at = w->inject_hang_at;
    o->log = w->quiet ? NULL : stdout;
    o->gpus_per_process = gpus_per_process;
    o->first_gpu = first_gpu;
    o->n_local = n_local;
    o->external_workers = true;
}
