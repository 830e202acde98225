/* exec/nccl_transport.h: sequence parallelism's all-to-all over NCCL, and the one way exec/ reports
 * NCCL errors and waits for non-blocking NCCL calls.
 * defines: NCCL_CHECK, nccl_error, nccl_wait, nccl_stream_wait, nccl_transport_create,
 *          nccl_transport_all_to_all_group, nccl_transport_comm.
 *
 * The transport is a dit_transport (dit/sp.h) for one rank: one GPU of a group, n_local = 1,
 * first_rank = the GPU's rank in the group's communicator. Its all-to-all is a group of ncclSend and
 * ncclRecv, one pair per peer (the rank itself included: NCCL copies a self send/recv on the
 * device), enqueued on the transport's stream, so it is captured into a CUDA graph with the step
 * around it (capture in cudaStreamCaptureModeThreadLocal, as dit/dit_gpu.c does: a non-blocking
 * communicator launches from a thread of NCCL's own).
 *
 * Communicators here are non-blocking (exec/comms.c makes them so): an NCCL call may return
 * ncclInProgress and finish in the background, and nothing may touch the communicator until
 * ncclCommGetAsyncError stops saying ncclInProgress. nccl_wait polls that with a time limit, so a
 * peer that never arrives ends in a message instead of a hang. After a failure or a timeout the
 * communicator is unusable: whoever owns it aborts it (comms_abort_set, comms_abort_all). */
#ifndef TETRI_EXEC_NCCL_TRANSPORT_H
#define TETRI_EXEC_NCCL_TRANSPORT_H

#include <cuda_runtime.h>
/* nccl.h declares ncclGroupStart() and others without (void): quiet -Wstrict-prototypes for it. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include <nccl.h>
#pragma GCC diagnostic pop

#include "core/error.h"
#include "core/types.h"
#include "dit/sp.h"

/* Fills err with "nccl <call>: <error string> (<NCCL's last error>)", call cut at its '('. Returns -1. */
int nccl_error(tetri_error *err, const char *call, ncclResult_t r);

/* Runs an NCCL call; anything but success or in-progress returns -1 from the calling function with
 * err (a tetri_error * in scope) filled by nccl_error. */
#define NCCL_CHECK(call)                                                                                               \
    do {                                                                                                               \
        ncclResult_t r_ = (call);                                                                                      \
        if (r_ != ncclSuccess && r_ != ncclInProgress) return nccl_error(err, #call, r_);                               \
    } while (0)

/* Polls the n communicators (NULL entries skipped) until none is in progress. Returns 0, or -1 with
 * err when one failed or `limit_ns` passed first ("nccl <what>: ..."). It aborts nothing. */
int nccl_wait(const ncclComm_t *comms, int n, tetri_ns limit_ns, const char *what, tetri_error *err);

/* Waits until `stream` has run what was enqueued on it. Returns 0, or -1 with err on a CUDA error or
 * when `limit_ns` passed first (a collective whose peer never came). */
int nccl_stream_wait(cudaStream_t stream, tetri_ns limit_ns, const char *what, tetri_error *err);

/* A transport for rank `rank` of the `degree` ranks of `comm` (a ready communicator of exactly
 * `degree` ranks), enqueuing on `stream` of the rank's device; each NCCL call it makes is waited
 * for at most `limit_ns`. The communicator stays its owner's. Returns 0, or -1 with err. */
int nccl_transport_create(ncclComm_t comm, int degree, int rank, cudaStream_t stream, tetri_ns limit_ns, dit_transport **out,
                          tetri_error *err);

/* One thread driving n ranks of a group at once (tests, comms' warm-up; the executor's workers
 * each call dit_transport_all_to_all on their own): every rank's sends and receives in one NCCL
 * group, as NCCL requires when one thread manages several devices. ts[i] is an NCCL transport;
 * send[i], recv[i] its buffers; bytes the group's k x k table. Returns 0, or -1 with err. */
int nccl_transport_all_to_all_group(dit_transport *const *ts, int n, void *const *send, void *const *recv, const size_t *bytes,
                                    tetri_error *err);

/* The communicator of an NCCL transport, NULL for any other transport. */
ncclComm_t nccl_transport_comm(const dit_transport *t);

#endif
