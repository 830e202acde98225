/* exec/nccl_transport.c: the NCCL all-to-all and NCCL's error and wait helpers (see nccl_transport.h). */
#include "exec/nccl_transport.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/workers.h"

/* How long a poll sleeps between looks: NCCL's background work (init, connection set-up, a group's
 * launch) takes from tens of microseconds to seconds; 50 us keeps the short ones short. */
#define NCCL_POLL_NS (50 * 1000)

typedef struct nccl_transport {
    dit_transport base;
    ncclComm_t comm;
    cudaStream_t stream;
    tetri_ns limit_ns;
} nccl_transport;

int nccl_error(tetri_error *err, const char *call, ncclResult_t r)
{
    const char *last = ncclGetLastError(NULL);
    return tetri_errorf(err, "nccl %.*s: %s (%s)", (int)strcspn(call, "("), call, ncclGetErrorString(r),
                        last && *last ? last : "no further detail");
}

static void poll_sleep(void)
{
    struct timespec ts = {0, NCCL_POLL_NS};
    nanosleep(&ts, NULL);
}

int nccl_wait(const ncclComm_t *comms, int n, tetri_ns limit_ns, const char *what, tetri_error *err)
{
    const tetri_ns t0 = workers_real_now();
    for (int i = 0; i < n; i++) {
        ncclResult_t state = ncclInProgress;
        while (comms[i]) {
            NCCL_CHECK(ncclCommGetAsyncError(comms[i], &state));
            if (state != ncclInProgress) break;
            if (workers_real_now() - t0 > limit_ns)
                return tetri_errorf(err, "nccl %s: still in progress after %.1f s, its time limit (a peer that never arrived?)", what,
                                    (double)limit_ns / 1e9);
            poll_sleep();
        }
        if (comms[i] && state != ncclSuccess) return nccl_error(err, what, state);
    }
    return 0;
}

int nccl_stream_wait(cudaStream_t stream, tetri_ns limit_ns, const char *what, tetri_error *err)
{
    const tetri_ns t0 = workers_real_now();
    for (;;) {
        const cudaError_t q = cudaStreamQuery(stream);
        if (q == cudaSuccess) return 0;
        if (q != cudaErrorNotReady) return tetri_errorf(err, "%s: %s", what, cudaGetErrorString(q));
        if (workers_real_now() - t0 > limit_ns)
            return tetri_errorf(err, "%s: the stream still runs after %.1f s, its time limit (a collective whose peer never came?)",
                                what, (double)limit_ns / 1e9);
        poll_sleep();
    }
}

/* The widest unit every chunk of the table is a multiple of, and its NCCL type: the same on every
 * rank, since sender and receiver must name the same count and type. Send/recv copy bytes; the
 * type only sets the unit. */
static size_t chunk_unit(const size_t *bytes, int k, ncclDataType_t *type)
{
    size_t all = 0;
    for (int i = 0; i < k * k; i++) all |= bytes[i];
    if (all % 4 == 0) { *type = ncclUint32; return 4; }
    if (all % 2 == 0) { *type = ncclBfloat16; return 2; }
    *type = ncclUint8;
    return 1;
}

/* This rank's sends (its chunks for ranks 0..k-1, back to back) and receives (the chunks from ranks
 * 0..k-1, back to back), enqueued inside the caller's group. Empty chunks are skipped on both sides. */
static int enqueue(const nccl_transport *t, char *send, char *recv, const size_t *bytes, tetri_error *err)
{
    const int k = t->base.degree, r = t->base.first_rank;
    ncclDataType_t type;
    const size_t unit = chunk_unit(bytes, k, &type);
    size_t so = 0, ro = 0;
    for (int j = 0; j < k; j++) {
        const size_t sb = bytes[r * k + j], rb = bytes[j * k + r];
        if (sb) NCCL_CHECK(ncclSend(send + so, sb / unit, type, j, t->comm, t->stream));
        if (rb) NCCL_CHECK(ncclRecv(recv + ro, rb / unit, type, j, t->comm, t->stream));
        so += sb;
        ro += rb;
    }
    return 0;
}

static const dit_transport_ops nccl_ops;

int nccl_transport_all_to_all_group(dit_transport *const *ts, int n, void *const *send, void *const *recv, const size_t *bytes,
                                    tetri_error *err)
{
    ncclComm_t comms[DIT_SP_MAX_DEGREE];
    tetri_ns limit = 0;
    if (n < 1 || n > DIT_SP_MAX_DEGREE) return tetri_errorf(err, "nccl all-to-all: %d ranks from one thread (1..%d)", n, DIT_SP_MAX_DEGREE);
    for (int i = 0; i < n; i++) {
        if (ts[i]->ops != &nccl_ops) return tetri_errorf(err, "nccl all-to-all: transport %d is %s, not nccl", i, ts[i]->ops->name);
        comms[i] = ((const nccl_transport *)ts[i])->comm;
        if (((const nccl_transport *)ts[i])->limit_ns > limit) limit = ((const nccl_transport *)ts[i])->limit_ns;
    }
    NCCL_CHECK(ncclGroupStart());
    for (int i = 0; i < n; i++)
        if (enqueue((const nccl_transport *)ts[i], send[i], recv[i], bytes, err)) {
            (void)ncclGroupEnd(); /* leaves the thread's group; the communicators are aborted by their owner */
            return -1;
        }
    NCCL_CHECK(ncclGroupEnd());
    return nccl_wait(comms, n, limit, "all-to-all", err);
}

static int nccl_all_to_all(dit_transport *t, void *const *send, void *const *recv, const size_t *bytes, tetri_error *err)
{
    return nccl_transport_all_to_all_group(&t, 1, send, recv, bytes, err);
}

static void nccl_destroy(dit_transport *t) { free(t); }

static const dit_transport_ops nccl_ops = {.name = "nccl", .all_to_all = nccl_all_to_all, .destroy = nccl_destroy};

int nccl_transport_create(ncclComm_t comm, int degree, int rank, cudaStream_t stream, tetri_ns limit_ns, dit_transport **out,
                          tetri_error *err)
{
    *out = NULL;
    int count = 0, user_rank = -1;
    if (!comm) return tetri_errorf(err, "nccl transport: no communicator");
    NCCL_CHECK(ncclCommCount(comm, &count));
    NCCL_CHECK(ncclCommUserRank(comm, &user_rank));
    if (degree < 1 || degree > DIT_SP_MAX_DEGREE || count != degree || user_rank != rank)
        return tetri_errorf(err, "nccl transport: asked for rank %d of %d; the communicator has rank %d of %d (degrees 1..%d)", rank,
                            degree, user_rank, count, DIT_SP_MAX_DEGREE);
    nccl_transport *t = calloc(1, sizeof *t);
    if (!t) return tetri_errorf(err, "out of memory");
    *t = (nccl_transport){.base = {.ops = &nccl_ops, .degree = degree, .n_local = 1, .first_rank = rank},
                          .comm = comm, .stream = stream, .limit_ns = limit_ns};
    *out = &t->base;
    return 0;
}

ncclComm_t nccl_transport_comm(const dit_transport *t)
{
    return t && t->ops == &nccl_ops ? ((const nccl_transport *)t)->comm : NULL;
}
