/* dit/gpu_info.c: the GPU's identity, versions and clocks (see gpu_info.h). */
#include "config.h"

#include "dit/gpu_info.h"

/* cublasLt.h declares a function without a prototype; keep -Wstrict-prototypes for our code */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <cublasLt.h>
#pragma GCC diagnostic pop
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#ifdef HAVE_CUDNN
#include "dit/attention_cudnn.h"
#endif

/* The few NVML entry points used, by their C signatures (nvml.h is not needed to build). */
typedef struct nvml_api {
    void *lib;
    int (*init)(void);
    int (*by_pci)(const char *bus_id, void **dev);
    int (*clock)(void *dev, int type, unsigned *mhz);
    int (*max_clock)(void *dev, int type, unsigned *mhz);
    int (*driver)(char *buf, unsigned len);
} nvml_api;

enum { NVML_CLOCK_SM = 1 };

/* NVML, opened once (process lifetime); NULL when absent. */
static const nvml_api *nvml(void)
{
    static nvml_api api;
    static int tried;
    if (tried) return api.lib ? &api : NULL;
    tried = 1;
    api.lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!api.lib) return NULL;
    *(void **)&api.init = dlsym(api.lib, "nvmlInit_v2");
    *(void **)&api.by_pci = dlsym(api.lib, "nvmlDeviceGetHandleByPciBusId_v2");
    *(void **)&api.clock = dlsym(api.lib, "nvmlDeviceGetClockInfo");
    *(void **)&api.max_clock = dlsym(api.lib, "nvmlDeviceGetMaxClockInfo");
    *(void **)&api.driver = dlsym(api.lib, "nvmlSystemGetDriverVersion");
    if (!api.init || !api.by_pci || !api.clock || !api.max_clock || !api.driver || api.init() != 0) {
        dlclose(api.lib);
        api.lib = NULL;
        return NULL;
    }
    return &api;
}

/* The NVML handle of a CUDA device, matched by PCI bus id (CUDA_VISIBLE_DEVICES renumbers). */
static void *nvml_device(const nvml_api *api, int device)
{
    char bus[32];
    void *dev = NULL;
    if (cudaDeviceGetPCIBusId(bus, sizeof bus, device) != cudaSuccess || api->by_pci(bus, &dev) != 0) return NULL;
    return dev;
}

int dit_gpu_sm_clock_mhz(int device)
{
    const nvml_api *api = nvml();
    void *dev = api ? nvml_device(api, device) : NULL;
    unsigned mhz = 0;
    if (!dev || api->clock(dev, NVML_CLOCK_SM, &mhz) != 0) return 0;
    return (int)mhz;
}

int dit_gpu_info_read(int device, dit_gpu_info *info)
{
    memset(info, 0, sizeof *info);
    info->device = device;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, device) != cudaSuccess) return -1;
    snprintf(info->name, sizeof info->name, "%.95s", prop.name);
    info->memory_mib = (long)(prop.totalGlobalMem >> 20);
    cudaRuntimeGetVersion(&info->cuda_runtime);
    cudaDriverGetVersion(&info->cuda_driver);
    info->cublaslt = cublasLtGetVersion();
#ifdef HAVE_CUDNN
    long built;
    dit_cudnn_versions(&info->cudnn, &built);
#endif
    const nvml_api *api = nvml();
    void *dev = api ? nvml_device(api, device) : NULL;
    unsigned mhz = 0;
    if (dev && api->max_clock(dev, NVML_CLOCK_SM, &mhz) == 0) info->sm_clock_max_mhz = (int)mhz;
    if (!api || api->driver(info->driver, sizeof info->driver) != 0)
        snprintf(info->driver, sizeof info->driver, "CUDA %d", info->cuda_driver);
    return 0;
}

void dit_gpu_info_text(const dit_gpu_info *info, char *buf, size_t len)
{
    snprintf(buf, len, "%s, driver %s, CUDA %d.%d (driver API %d.%d), cuBLASLt %zu, cuDNN %ld, SM clock max %d MHz", info->name,
             info->driver, info->cuda_runtime / 1000, info->cuda_runtime % 1000 / 10, info->cuda_driver / 1000,
             info->cuda_driver % 1000 / 10, info->cublaslt, info->cudnn, info->sm_clock_max_mhz);
}
