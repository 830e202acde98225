/* tests/gpu/test_nccl.c: `make check-gpu`'s NCCL part, on the GPUs present: the communicators
 * (exec/comms.c) and the NCCL transport (exec/nccl_transport.c).
 *  - a world of every GPU here and its set communicators, made and warmed, the start-up line;
 *  - lookups: each aligned block's rank order; a ragged set, a set past the world, a GPU outside
 *    its set are refused;
 *  - degree 1: the all-to-all (a self send/recv, rank 0 to rank 0) equals a copy, for chunks of 4-,
 *    2- and 1-byte multiples (the three NCCL element types); then captured in a CUDA graph and
 *    replayed on new data;
 *  - degrees 2 and 4 (GPUs allowing): every block's all-to-all from one thread, chunks of unequal
 *    sizes, each checked byte for byte;
 *  - hangs: a collective whose peer never comes (2 GPUs: rank 0 alone of set {0,1}) ends at the time
 *    limit with the set's communicators aborted and the stream free again; on one GPU only a
 *    simulation runs (a stream held by a host function past the limit), and says so;
 *  - a peer that never arrives at init (rank 0 of 2 made alone): the init time limit, a clean abort.
 * What cannot run on the GPUs here prints "skipped: needs N GPUs" and counts as neither.
 * Exit status: number of failed checks (0 = all passed); 77 (skip) when there is no GPU. */
#include "config.h"

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime.h>

#include "exec/comms.h"
#include "exec/nccl_transport.h"
#include "exec/workers.h"

#define LIMIT_NS (20 * TETRI_NS_PER_S) /* generous: a healthy call takes milliseconds */
#define HANG_LIMIT_NS (2 * TETRI_NS_PER_S)

static int failures = 0;

static void check(bool ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf(ok ? "ok   " : "FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    if (!ok) failures++;
    fflush(stdout);
}

static void skipped(const char *what, int need, int have)
{
    printf("skipped: %s: needs %d GPUs (%d here)\n", what, need, have);
}

/* Byte `i` of the pattern `seed`: differs between chunks, ranks and runs. */
static uint8_t pattern(unsigned seed, size_t i) { return (uint8_t)(seed * 131u + i * 7u + (i >> 8) * 13u + 1u); }

static void *dev_fill(int device, size_t bytes, unsigned seed)
{
    uint8_t *h = malloc(bytes ? bytes : 1);
    for (size_t i = 0; i < bytes; i++) h[i] = pattern(seed, i);
    void *d = NULL;
    cudaSetDevice(device);
    cudaMalloc(&d, bytes ? bytes : 1);
    cudaMemcpy(d, h, bytes, cudaMemcpyHostToDevice);
    free(h);
    return d;
}

/* Bytes [off, off + n) of device buffer d equal pattern(seed, from .. from + n)? */
static bool dev_matches(int device, const void *d, size_t off, size_t n, unsigned seed, size_t from)
{
    uint8_t *h = malloc(n ? n : 1);
    cudaSetDevice(device);
    cudaMemcpy(h, (const uint8_t *)d + off, n, cudaMemcpyDeviceToHost);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) ok = h[i] == pattern(seed, from + i);
    free(h);
    return ok;
}

static void poison(int device, void *d, size_t bytes)
{
    cudaSetDevice(device);
    cudaMemset(d, 0xa5, bytes);
    cudaDeviceSynchronize();
}

static void test_lookups(comms *c, int n)
{
    tetri_error err = {{0}};
    ncclComm_t comm;
    int rank = -1, ok = 1;
    for (int s = 1; s <= n && s <= DIT_SP_MAX_DEGREE; s *= 2)
        for (int first = 0; first + s <= n; first += s)
            for (int g = first; g < first + s; g++)
                ok &= !comms_for_set(c, tetri_gpuset_block(first, s), g, &comm, &rank, &err) && rank == g - first && comm;
    check(ok, "every aligned block of 1..%d GPUs has a communicator; rank r is its r-th GPU%s%s", n < 8 ? n : 8, ok ? "" : ": ", ok ? "" : err.msg);
    check(comms_for_set(c, 0x5, 0, &comm, &rank, &err) && strstr(err.msg, "aligned"), "a ragged set {0,2} is refused: %s", err.msg);
    check(comms_for_set(c, tetri_gpuset_block(n, 1), n, &comm, &rank, &err) != 0, "a set past the world's %d GPUs is refused: %s", n, err.msg);
    check(comms_for_set(c, 0x1, 1, &comm, &rank, &err) != 0, "a GPU outside its set is refused: %s", err.msg);
}

/* Degree 1 on GPU 0: a chunk of `bytes` sent to itself arrives whole. */
static void test_degree1(comms *c, cudaStream_t st, size_t bytes)
{
    tetri_error err = {{0}};
    dit_transport *t = NULL;
    void *send = dev_fill(0, bytes, 3), *recv = dev_fill(0, bytes, 99);
    poison(0, recv, bytes);
    int rc = comms_transport(c, 0x1, 0, st, &t, &err);
    if (!rc) rc = dit_transport_all_to_all(t, &send, &recv, &bytes, &err);
    if (!rc) rc = comms_wait_stream(c, 0x1, st, LIMIT_NS, "degree-1 all-to-all", &err);
    check(!rc && dev_matches(0, recv, 0, bytes, 3, 0), "degree 1, %zu bytes (%s elements): the self send/recv equals a copy%s%s", bytes,
          bytes % 4 == 0 ? "uint32" : bytes % 2 == 0 ? "bf16" : "uint8", rc ? ": " : "", rc ? err.msg : "");
    dit_transport_destroy(t);
    cudaFree(send);
    cudaFree(recv);
}

/* Degree 1 captured into a graph, then replayed twice on new contents of the same buffers. */
static void test_degree1_graph(comms *c, cudaStream_t st)
{
    tetri_error err = {{0}};
    size_t bytes = 6 * 1024 + 2;
    dit_transport *t = NULL;
    void *send = dev_fill(0, bytes, 5), *recv = dev_fill(0, bytes, 6);
    cudaGraph_t graph = NULL;
    cudaGraphExec_t exec = NULL;
    int rc = comms_transport(c, 0x1, 0, st, &t, &err);
    cudaError_t e = rc ? cudaSuccess : cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal);
    if (!rc && e == cudaSuccess) rc = dit_transport_all_to_all(t, &send, &recv, &bytes, &err);
    if (e == cudaSuccess && !rc) e = cudaStreamEndCapture(st, &graph);
    if (e == cudaSuccess && !rc) e = cudaGraphInstantiate(&exec, graph, 0);
    check(!rc && e == cudaSuccess, "degree 1: the all-to-all is captured into a CUDA graph%s%s", rc ? ": " : e ? ": " : "",
          rc ? err.msg : e ? cudaGetErrorString(e) : "");
    for (unsigned run = 0; run < 2 && !rc && e == cudaSuccess; run++) {
        void *fresh = dev_fill(0, bytes, 40 + run);
        cudaMemcpy(send, fresh, bytes, cudaMemcpyDeviceToDevice);
        cudaFree(fresh);
        poison(0, recv, bytes);
        e = cudaGraphLaunch(exec, st);
        rc = e == cudaSuccess ? comms_wait_stream(c, 0x1, st, LIMIT_NS, "graph replay", &err) : -1;
        check(!rc && e == cudaSuccess && dev_matches(0, recv, 0, bytes, 40 + run, 0), "degree 1: graph replay %u moves the new data%s%s", run + 1,
              rc ? ": " : "", rc ? err.msg : "");
    }
    /* Before the communicators go: NCCL's finalize waits for every graph that captured them. */
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    dit_transport_destroy(t);
    cudaFree(send);
    cudaFree(recv);
}

/* Chunk (i -> j) of degree k: unequal sizes (offsets matter), even, not all multiples of 4. */
static size_t chunk_bytes(int i, int j) { return 2 * (size_t)(300 + 37 * i + 11 * j); }

static bool check_received(int k, int j, int device, const void *recv)
{
    size_t off = 0;
    bool ok = true;
    for (int i = 0; i < k; i++) {
        size_t from = 0; /* chunk (i -> j) starts at byte `from` of rank i's send pattern */
        for (int jj = 0; jj < j; jj++) from += chunk_bytes(i, jj);
        ok &= dev_matches(device, recv, off, chunk_bytes(i, j), 100 + i, from);
        off += chunk_bytes(i, j);
    }
    return ok;
}

/* One block of k GPUs from `first`: every rank from this thread, every chunk checked. */
static void test_block(comms *c, const int *dev, const cudaStream_t *st, int first, int k)
{
    tetri_error err = {{0}};
    const tetri_gpuset set = tetri_gpuset_block(first, k);
    dit_transport *ts[DIT_SP_MAX_DEGREE] = {0};
    void *send[DIT_SP_MAX_DEGREE], *recv[DIT_SP_MAX_DEGREE];
    size_t bytes[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE];
    int rc = 0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) bytes[i * k + j] = chunk_bytes(i, j);
    for (int r = 0; r < k; r++) {
        size_t sb = 0, rb = 0;
        for (int j = 0; j < k; j++) sb += chunk_bytes(r, j), rb += chunk_bytes(j, r);
        send[r] = dev_fill(dev[first + r], sb, 100 + r);
        recv[r] = dev_fill(dev[first + r], rb, 7);
        poison(dev[first + r], recv[r], rb);
        if (!rc) rc = comms_transport(c, set, first + r, st[first + r], &ts[r], &err);
    }
    if (!rc) rc = nccl_transport_all_to_all_group(ts, k, send, recv, bytes, &err);
    for (int r = 0; r < k && !rc; r++) rc = comms_wait_stream(c, set, st[first + r], LIMIT_NS, "all-to-all", &err);
    bool ok = !rc;
    for (int r = 0; r < k && ok; r++) ok = check_received(k, r, dev[first + r], recv[r]);
    check(ok, "degree %d on GPUs %d..%d: every chunk arrives at its place%s%s", k, first, first + k - 1, rc ? ": " : "", rc ? err.msg : "");
    for (int r = 0; r < k; r++) {
        dit_transport_destroy(ts[r]);
        cudaSetDevice(dev[first + r]);
        cudaFree(send[r]);
        cudaFree(recv[r]);
    }
}

static void test_degrees(comms *c, const int *dev, const cudaStream_t *st, int n)
{
    for (int k = 2; k <= 4; k *= 2) {
        char what[48];
        snprintf(what, sizeof what, "degree %d all-to-all", k);
        if (n < k) { skipped(what, k, n); continue; }
        for (int first = 0; first + k <= n; first += k) test_block(c, dev, st, first, k);
    }
}

/* A real hang: rank 0 of set {0,1} exchanges alone; its kernel waits for rank 1 forever, until
 * the time limit aborts the set's communicators, whose abort flag ends the kernel. */
static void test_hang_real(comms *c, const int *dev, const cudaStream_t *st, int n)
{
    if (n < 2) { skipped("a hung collective (rank 0 of 2 alone) aborted at its time limit", 2, n); return; }
    tetri_error err = {{0}};
    dit_transport *t = NULL;
    size_t bytes[4] = {256, 256, 256, 256};
    void *send = dev_fill(dev[0], 512, 1), *recv = dev_fill(dev[0], 512, 2);
    int rc = comms_transport(c, 0x3, 0, st[0], &t, &err);
    if (!rc) rc = dit_transport_all_to_all(t, &send, &recv, bytes, &err);
    const tetri_ns t0 = workers_real_now();
    const int wrc = rc ? 0 : comms_wait_stream(c, 0x3, st[0], HANG_LIMIT_NS, "lonely all-to-all", &err);
    const double waited = (double)(workers_real_now() - t0) / 1e9;
    ncclComm_t comm;
    int rank;
    tetri_error err2 = {{0}};
    check(!rc && wrc && strstr(err.msg, "aborted") && comms_for_set(c, 0x3, 0, &comm, &rank, &err2),
          "rank 0 of {0,1} alone: stopped after %.1f s with the set aborted: %s", waited, err.msg);
    cudaSetDevice(dev[0]);
    rc = nccl_stream_wait(st[0], 10 * TETRI_NS_PER_S, "the stream after the abort", &err);
    check(!rc, "the aborted collective's kernel ended: the stream is free%s%s", rc ? ": " : "", rc ? err.msg : "");
    dit_transport_destroy(t);
    if (!rc) cudaFree(send), cudaFree(recv); /* else the kernel may still read them */
}

static void CUDART_CB hold_stream(void *arg) { sleep(*(unsigned *)arg); }

/* One GPU cannot hang a collective: a host function holds GPU 0's stream past the limit, and the
 * same wait-abort path as a hung collective runs. */
static void test_hang_simulated(comms *c, cudaStream_t st)
{
    static unsigned seconds = 4;
    tetri_error err = {{0}}, err2 = {{0}};
    cudaSetDevice(0);
    cudaLaunchHostFunc(st, hold_stream, &seconds);
    const int rc = comms_wait_stream(c, 0x1, st, HANG_LIMIT_NS, "held stream", &err);
    ncclComm_t comm;
    int rank;
    printf("# simulated (a stream held %u s by a host function, not a hung collective: that needs 2 GPUs)\n", seconds);
    check(rc && strstr(err.msg, "time limit") && strstr(err.msg, "aborted"), "a stream past its time limit aborts its set: %s", err.msg);
    check(comms_for_set(c, 0x1, 0, &comm, &rank, &err2) != 0, "the aborted set is refused afterwards: %s", err2.msg);
    cudaStreamSynchronize(st);
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL the init-timeout abort hung (ncclCommAbort did not return)\n";
    if (write(1, msg, sizeof msg - 1)) {}
    _exit(1);
}

/* Rank 0 of a 2-rank communicator whose rank 1 never comes: init stops at its limit, aborted.
 * Last: NCCL's bootstrap root for this id keeps waiting for rank 1 until the process ends. */
static void test_init_timeout(void)
{
    tetri_error err = {{0}};
    ncclUniqueId id;
    ncclComm_t comm = NULL;
    if (comms_unique_id(&id, &err)) { check(false, "unique id: %s", err.msg); return; }
    signal(SIGALRM, on_alarm);
    alarm(60);
    const tetri_ns t0 = workers_real_now();
    const int rc = comms_init_rank(&id, 2, 0, 0, HANG_LIMIT_NS, &comm, &err);
    const double took = (double)(workers_real_now() - t0) / 1e9;
    alarm(0);
    check(rc && !comm && strstr(err.msg, "time limit") && strstr(err.msg, "aborted") && took < 30,
          "rank 0 of 2 alone: init stopped after %.1f s, aborted: %s", took, err.msg);
}

int main(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n == 0) {
        printf("SKIP: no CUDA device\n");
        return 77;
    }
    if (n > TETRI_MAX_GPUS) n = TETRI_MAX_GPUS;
    int v = 0;
    ncclGetVersion(&v);
    printf("# test_nccl: %d GPU%s, NCCL %d.%d.%d at run time, built against %d.%d.%d\n", n, n == 1 ? "" : "s", v / 10000, v / 100 % 100,
           v % 100, NCCL_MAJOR, NCCL_MINOR, NCCL_PATCH);
    int dev[TETRI_MAX_GPUS];
    cudaStream_t st[TETRI_MAX_GPUS];
    for (int g = 0; g < n; g++) {
        dev[g] = g;
        cudaSetDevice(g);
        cudaStreamCreateWithFlags(&st[g], cudaStreamNonBlocking);
    }
    tetri_error err = {{0}};
    comms *c = NULL;
    const comms_options o = {.n_gpus = n, .devices = dev, .limit_ns = LIMIT_NS, .log = stdout};
    const int rc = comms_create(&o, NULL, &c, &err);
    int expect = 0;
    for (int s = 1; s <= n && s <= DIT_SP_MAX_DEGREE; s *= 2) expect += n / s;
    check(!rc && comms_n_sets(c) == expect && comms_world_size(c) == n, "a world of %d GPU(s) and %d set communicators, warmed%s%s", n, expect,
          rc ? ": " : "", rc ? err.msg : "");
    if (rc) return failures;
    test_lookups(c, n);
    test_degree1(c, st[0], 4096 + 4);
    test_degree1(c, st[0], 4096 + 2);
    test_degree1(c, st[0], 4096 + 1);
    test_degree1_graph(c, st[0]);
    test_degrees(c, dev, st, n);
    test_hang_real(c, dev, st, n);
    test_hang_simulated(c, st[0]);
    comms_destroy(c);
    test_init_timeout();
    printf("%s: %d check(s) failed\n", failures ? "FAILED" : "ALL PASSED", failures);
    return failures ? 1 : 0;
}
