/* dit/transport_device.h: two transports (dit/sp.h, dit_transport) for sequence parallelism on one
 * GPU, built where CUDA is.
 * defines: dit_transport_device_create, dit_transport_null_create, dit_transport_is_null.
 *
 * device: all `degree` ranks of a group live on one device and one stream (k runners of one model,
 *   their send and receive buffers device memory); the all-to-all is k^2 cudaMemcpyAsync of the
 *   chunks on that stream, in order with the runners' kernels and capturable into their graph.
 *   What the tests use to check degree k against degree 1 on one GPU.
 * null: moves nothing and enqueues nothing. ONLY FOR TIMING: a group of one runner (rank r of
 *   degree k) with it computes that rank's share of a step with the all-to-alls left out, so one GPU
 *   measures a rank's compute alone (dit_sp_group_sample_ms). Its results are meaningless: the
 *   receive buffers keep whatever they held (dit_sp_group_create zeroes them for it). */
#ifndef TETRI_DIT_TRANSPORT_DEVICE_H
#define TETRI_DIT_TRANSPORT_DEVICE_H

#include <cuda_runtime.h>

#include "core/error.h"
#include "dit/sp.h"

int dit_transport_device_create(int degree, cudaStream_t stream, dit_transport **out, tetri_error *err);
/* n_local ranks from first_rank, of a group of `degree`. */
int dit_transport_null_create(int degree, int first_rank, int n_local, dit_transport **out, tetri_error *err);
/* 1 for a null transport's object. */
int dit_transport_is_null(const dit_transport *t);

#endif
