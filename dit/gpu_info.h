/* dit/gpu_info.h: what a measurement must say about the GPU it ran on: the device, the driver, the
 * CUDA, cuBLAS(Lt) and cuDNN versions, and its SM clock (read through NVML, loaded at run time).
 * defines: dit_gpu_info, dit_gpu_info_read, dit_gpu_sm_clock_mhz, dit_gpu_info_text.
 *
 * NVML (libnvidia-ml.so.1) ships with the driver, not the toolkit: it is opened with dlopen, and
 * where it is missing the clock reads 0 and the text says "clock unknown". */
#ifndef TETRI_DIT_GPU_INFO_H
#define TETRI_DIT_GPU_INFO_H

#include <stddef.h>

typedef struct dit_gpu_info {
    int device;
    char name[96];
    char driver[32];            /* NVML's driver version string, else the CUDA driver API's number */
    int cuda_runtime, cuda_driver; /* e.g. 13000 */
    size_t cublaslt;            /* cublasLtGetVersion() */
    long cudnn;                 /* cudnnGetVersion(), 0 without cuDNN */
    int sm_clock_max_mhz;       /* NVML's max SM clock, 0 unknown */
    long memory_mib;
} dit_gpu_info;

/* Fills info for CUDA device `device`. Returns 0, or -1 when the device cannot be queried. */
int dit_gpu_info_read(int device, dit_gpu_info *info);
/* The device's SM clock now, in MHz (NVML; 0 when unknown). */
int dit_gpu_sm_clock_mhz(int device);
/* One line: "NVIDIA H200, driver 550.54.15, CUDA 13.0 (driver 13.0), cuBLASLt 130000, cuDNN 91000". */
void dit_gpu_info_text(const dit_gpu_info *info, char *buf, size_t len);

#endif
