/* dit/transport_device.c: the in-process device transport and the null transport (see
 * dit/transport_device.h). */
#include "dit/transport_device.h"

#include <stdlib.h>

typedef struct device_transport {
    dit_transport base; /* first: the object dit_transport_* functions see */
    cudaStream_t stream;
} device_transport;

/* Chunk (i -> j) = bytes[i k + j], at offset sum_{j' < j} bytes[i k + j'] of send[i], lands at
 * offset sum_{i' < i} bytes[i' k + j] of recv[j], as dit/sp.h lays them out. */
static int device_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err)
{
    const device_transport *d = (const device_transport *)t;
    const int k = t->degree;
    for (int j = 0; j < k; j++) {
        size_t doff = 0;
        for (int i = 0; i < k; i++) {
            size_t soff = 0;
            for (int jj = 0; jj < j; jj++) soff += bytes[i * k + jj];
            if (bytes[i * k + j]) {
                cudaError_t e = cudaMemcpyAsync((char *)recv[j] + doff, (const char *)send[i] + soff, bytes[i * k + j],
                                                cudaMemcpyDeviceToDevice, d->stream);
                if (e != cudaSuccess) return tetri_errorf(err, "device all-to-all: chunk %d -> %d: %s", i, j, cudaGetErrorString(e));
            }
            doff += bytes[i * k + j];
        }
    }
    return 0;
}
static void device_destroy(dit_transport *t) { free(t); }
static const dit_transport_ops device_ops = {.name = "device", .all_to_all = device_all_to_all, .destroy = device_destroy};

int dit_transport_device_create(int degree, cudaStream_t stream, dit_transport **out, tetri_error *err)
{
    if (degree < 1 || degree > DIT_SP_MAX_DEGREE) return tetri_errorf(err, "transport: degree %d is outside 1..%d", degree, DIT_SP_MAX_DEGREE);
    device_transport *d = calloc(1, sizeof *d);
    if (!d) return tetri_errorf(err, "out of memory");
    d->base = (dit_transport){.ops = &device_ops, .degree = degree, .n_local = degree, .first_rank = 0};
    d->stream = stream;
    *out = &d->base;
    return 0;
}

/* ---- null: timing only ---- */
static int null_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err)
{
    (void)t, (void)send, (void)recv, (void)bytes, (void)err;
    return 0;
}
static void null_destroy(dit_transport *t) { free(t); }
static const dit_transport_ops null_ops = {.name = "null (timing only: moves nothing)", .all_to_all = null_all_to_all,
                                           .destroy = null_destroy};

int dit_transport_null_create(int degree, int first_rank, int n_local, dit_transport **out, tetri_error *err)
{
    if (degree < 1 || degree > DIT_SP_MAX_DEGREE || first_rank < 0 || n_local < 1 || first_rank + n_local > degree)
        return tetri_errorf(err, "null transport: ranks %d..%d of degree %d", first_rank, first_rank + n_local - 1, degree);
    dit_transport *t = calloc(1, sizeof *t);
    if (!t) return tetri_errorf(err, "out of memory");
    *t = (dit_transport){.ops = &null_ops, .degree = degree, .n_local = n_local, .first_rank = first_rank};
    *out = t;
    return 0;
}

int dit_transport_is_null(const dit_transport *t) { return t && t->ops == &null_ops; }
