/* dit/cuda_check.h: the CUDA check macros of the dit GPU code: a failed call returns its message.
 * defines: CU, KL.
 * Both expand to `return tetri_errorf(err, ...)`: the caller returns int and has a tetri_error *err. */
#ifndef TETRI_DIT_CUDA_CHECK_H
#define TETRI_DIT_CUDA_CHECK_H

#include <cuda_runtime.h>

#include "core/error.h"

/* A CUDA runtime call: "<what>: <CUDA's message>". */
#define CU(call, what)                                                                                         \
    do {                                                                                                       \
        cudaError_t e_ = (call);                                                                               \
        if (e_ != cudaSuccess) return tetri_errorf(err, "%s: %s", what, cudaGetErrorString(e_));              \
    } while (0)
/* A kernel launcher of kernels/ (extern "C", returns its cudaError_t as int). */
#define KL(call, what)                                                                                         \
    do {                                                                                                       \
        int e_ = (call);                                                                                       \
        if (e_) return tetri_errorf(err, "kernel %s: %s", what, cudaGetErrorString((cudaError_t)e_));         \
    } while (0)

#endif
