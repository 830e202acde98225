/* exec/comms.c: the world and set communicators (see comms.h).
 *
 * set[l][g] is GPU g's communicator in the aligned block of 2^l GPUs that holds it (NULL where that
 * block would pass the world's end, or once aborted). A lock guards the table, since an abort may
 * come from the host's thread while workers look communicators up. */
#include "exec/comms.h"

#include <pthread.h>
#include <stdlib.h>

#include "exec/nccl_transport.h"
#include "exec/workers.h"

#define COMMS_LEVELS 7                              /* set sizes 1, 2, ..., 64 */
#define COMMS_DEFAULT_LIMIT_NS (60 * TETRI_NS_PER_S) /* NCCL's init over many GPUs takes seconds */
#define COMMS_WARM_BYTES 256                        /* a warm-up chunk: the connections, not bandwidth */

struct comms {
    int n, n_levels, n_sets;
    int first, end;                  /* this process's GPUs (ranks of the world): first .. end - 1 */
    int device[TETRI_MAX_GPUS];
    tetri_ns limit_ns;
    ncclUniqueId id;
    ncclComm_t world[TETRI_MAX_GPUS];
    ncclComm_t set[COMMS_LEVELS][TETRI_MAX_GPUS];
    pthread_mutex_t lock;
};

/* Per GPU, what the warm-up exchanges through: a stream and a send and a receive buffer. */
typedef struct warm_gpu {
    cudaStream_t stream;
    void *send, *recv;
} warm_gpu;

static ncclConfig_t nonblocking_config(void)
{
    ncclConfig_t cfg = NCCL_CONFIG_INITIALIZER;
    cfg.blocking = 0;
    return cfg;
}

int comms_unique_id(ncclUniqueId *id, tetri_error *err)
{
    NCCL_CHECK(ncclGetUniqueId(id));
    return 0;
}

int comms_init_rank(const ncclUniqueId *id, int nranks, int rank, int device, tetri_ns limit_ns, ncclComm_t *out, tetri_error *err)
{
    *out = NULL;
    ncclConfig_t cfg = nonblocking_config();
    cudaError_t e = cudaSetDevice(device);
    if (e != cudaSuccess) return tetri_errorf(err, "nccl: CUDA device %d: %s", device, cudaGetErrorString(e));
    ncclComm_t comm = NULL;
    const ncclResult_t r = ncclCommInitRankConfig(&comm, nranks, *id, rank, &cfg);
    char what[64];
    snprintf(what, sizeof what, "init of rank %d of %d", rank, nranks);
    if ((r != ncclSuccess && r != ncclInProgress ? nccl_error(err, "ncclCommInitRankConfig", r) : nccl_wait(&comm, 1, limit_ns, what, err))) {
        if (comm) ncclCommAbort(comm); /* also joins NCCL's init thread, which sees the abort flag */
        return tetri_error_prefix(err, "device %d: communicator aborted", device);
    }
    *out = comm;
    return 0;
}

static int check_options(const comms_options *o, tetri_error *err)
{
    int n_dev = 0;
    const cudaError_t e = cudaGetDeviceCount(&n_dev);
    if (e != cudaSuccess || n_dev == 0) return tetri_errorf(err, "nccl: no CUDA device (%s)", cudaGetErrorString(e));
    if (o->n_gpus < 1 || o->n_gpus > TETRI_MAX_GPUS) return tetri_errorf(err, "nccl: a world of %d GPUs (1..%d)", o->n_gpus, TETRI_MAX_GPUS);
    const int md = o->max_degree;
    if (md < 0 || md > DIT_SP_MAX_DEGREE || (md & (md - 1)))
        return tetri_errorf(err, "nccl: largest set %d is not a power of two up to %d", md, DIT_SP_MAX_DEGREE);
    const int first = o->n_local ? o->first_gpu : 0, end = o->n_local ? o->first_gpu + o->n_local : o->n_gpus;
    if (o->n_local < 0 || first < 0 || end > o->n_gpus)
        return tetri_errorf(err, "nccl: this process's GPUs %d..%d are not within the world's %d", first, end - 1, o->n_gpus);
    for (int g = first; g < end; g++) {
        if (o->devices[g] < 0 || o->devices[g] >= n_dev)
            return tetri_errorf(err, "nccl: GPU %d is CUDA device %d; this machine has %d", g, o->devices[g], n_dev);
        for (int h = first; h < g; h++)
            if (o->devices[h] == o->devices[g])
                return tetri_errorf(err, "nccl: GPUs %d and %d are both CUDA device %d (NCCL takes one rank per device)", h, g, o->devices[g]);
    }
    return 0;
}

/* Every GPU's rank of the world, from this one thread: grouped, as NCCL requires. */
static int init_world(comms *c, tetri_error *err)
{
    ncclConfig_t cfg = nonblocking_config();
    NCCL_CHECK(ncclGroupStart());
    for (int g = c->first; g < c->end; g++) {
        const cudaError_t e = cudaSetDevice(c->device[g]); /* NCCL binds a rank to the current device */
        const ncclResult_t r = e == cudaSuccess ? ncclCommInitRankConfig(&c->world[g], c->n, c->id, g, &cfg) : ncclSuccess;
        if (e != cudaSuccess || (r != ncclSuccess && r != ncclInProgress)) {
            (void)ncclGroupEnd();
            return e != cudaSuccess ? tetri_errorf(err, "nccl: CUDA device %d: %s", c->device[g], cudaGetErrorString(e))
                                    : nccl_error(err, "ncclCommInitRankConfig", r);
        }
    }
    NCCL_CHECK(ncclGroupEnd());
    return nccl_wait(c->world + c->first, c->end - c->first, c->limit_ns, "world init", err);
}

/* The blocks of 2^l GPUs: one grouped split of the world, colour = block, key = position in it. */
static int split_level(comms *c, int l, tetri_error *err)
{
    const int s = 1 << l;
    ncclConfig_t cfg = nonblocking_config();
    NCCL_CHECK(ncclGroupStart());
    for (int g = c->first; g < c->end; g++) {
        const int color = (g / s + 1) * s <= c->n ? g / s : NCCL_SPLIT_NOCOLOR;
        const ncclResult_t r = ncclCommSplit(c->world[g], color, g % s, &c->set[l][g], &cfg);
        if (r != ncclSuccess && r != ncclInProgress) {
            (void)ncclGroupEnd();
            return nccl_error(err, "ncclCommSplit", r);
        }
    }
    NCCL_CHECK(ncclGroupEnd());
    char what[48];
    snprintf(what, sizeof what, "split into sets of %d", s);
    if (nccl_wait(c->world + c->first, c->end - c->first, c->limit_ns, what, err) ||
        nccl_wait(c->set[l] + c->first, c->end - c->first, c->limit_ns, what, err))
        return -1;
    c->n_sets += c->n / s;
    return 0;
}

/* One small all-to-all on the block of s GPUs from `first`, every rank from this thread. */
static int warm_block(comms *c, int l, int first, const warm_gpu *w, tetri_error *err)
{
    const int s = 1 << l;
    dit_transport *ts[DIT_SP_MAX_DEGREE] = {0};
    void *send[DIT_SP_MAX_DEGREE], *recv[DIT_SP_MAX_DEGREE];
    size_t bytes[DIT_SP_MAX_DEGREE * DIT_SP_MAX_DEGREE];
    for (int i = 0; i < s * s; i++) bytes[i] = COMMS_WARM_BYTES;
    /* this process's ranks of it; the other processes drive theirs */
    const int r0 = c->first > first ? c->first - first : 0, r1 = c->end < first + s ? c->end - first : s, n = r1 - r0;
    if (n <= 0) return 0;
    int rc = 0;
    for (int r = r0; r < r1 && !rc; r++) {
        rc = nccl_transport_create(c->set[l][first + r], s, r, w[first + r].stream, c->limit_ns, &ts[r - r0], err);
        send[r - r0] = w[first + r].send;
        recv[r - r0] = w[first + r].recv;
    }
    if (!rc) rc = nccl_transport_all_to_all_group(ts, n, send, recv, bytes, err);
    for (int r = r0; r < r1 && !rc; r++) rc = nccl_stream_wait(w[first + r].stream, c->limit_ns, "nccl warm-up", err);
    for (int r = 0; r < n; r++) dit_transport_destroy(ts[r]);
    if (rc) tetri_error_prefix(err, "warming the set of GPUs %d..%d", first, first + s - 1);
    return rc;
}

static int warm_alloc(const comms *c, warm_gpu *w, tetri_error *err)
{
    const size_t b = (size_t)DIT_SP_MAX_DEGREE * COMMS_WARM_BYTES;
    for (int g = c->first; g < c->end; g++) {
        cudaError_t e = cudaSetDevice(c->device[g]);
        if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&w[g].stream, cudaStreamNonBlocking);
        if (e == cudaSuccess) e = cudaMalloc(&w[g].send, b);
        if (e == cudaSuccess) e = cudaMalloc(&w[g].recv, b);
        if (e == cudaSuccess) e = cudaMemset(w[g].send, 0, b);
        if (e != cudaSuccess) return tetri_errorf(err, "nccl warm-up: CUDA device %d: %s", c->device[g], cudaGetErrorString(e));
    }
    return 0;
}

static void warm_free(const comms *c, warm_gpu *w)
{
    for (int g = c->first; g < c->end; g++) {
        cudaSetDevice(c->device[g]);
        if (w[g].stream) cudaStreamDestroy(w[g].stream);
        cudaFree(w[g].send);
        cudaFree(w[g].recv);
    }
}

/* Every set, so that NCCL connects its peers now rather than in a served block or a capture. */
static int warm_all(comms *c, tetri_error *err)
{
    warm_gpu w[TETRI_MAX_GPUS] = {{0}};
    int rc = warm_alloc(c, w, err);
    for (int l = 0; l < c->n_levels && !rc; l++)
        for (int first = 0; first + (1 << l) <= c->n && !rc; first += 1 << l) rc = warm_block(c, l, first, w, err);
    if (rc) return rc; /* buffers stay: a hung stream may still use them; the caller aborts */
    warm_free(c, w);
    return 0;
}

static void report(const comms *c, tetri_ns t0, FILE *log)
{
    int v = 0;
    if (!log) return;
    ncclGetVersion(&v);
    fprintf(log, "# nccl: world of %d GPU%s + %d set communicator%s in %.0f ms (NCCL %d.%d.%d, non-blocking; sets of 1..%d GPUs)", c->n,
            c->n == 1 ? "" : "s", c->n_sets, c->n_sets == 1 ? "" : "s", (double)(workers_real_now() - t0) / 1e6, v / 10000,
            v / 100 % 100, v % 100, 1 << (c->n_levels - 1));
    if (c->end - c->first < c->n) fprintf(log, "; this process holds ranks %d..%d", c->first, c->end - 1);
    fputc('\n', log);
}

int comms_create(const comms_options *o, const ncclUniqueId *id, comms **out, tetri_error *err)
{
    *out = NULL;
    if (check_options(o, err)) return -1;
    comms *c = calloc(1, sizeof *c);
    if (!c) return tetri_errorf(err, "out of memory");
    const tetri_ns t0 = workers_real_now();
    const int max_degree = o->max_degree ? o->max_degree : DIT_SP_MAX_DEGREE;
    c->n = o->n_gpus;
    c->first = o->n_local ? o->first_gpu : 0;
    c->end = o->n_local ? o->first_gpu + o->n_local : o->n_gpus;
    c->limit_ns = o->limit_ns > 0 ? o->limit_ns : COMMS_DEFAULT_LIMIT_NS;
    for (int g = c->first; g < c->end; g++) c->device[g] = o->devices[g];
    while (c->n_levels < COMMS_LEVELS && (1 << c->n_levels) <= c->n && (1 << c->n_levels) <= max_degree) c->n_levels++;
    pthread_mutex_init(&c->lock, NULL);
    if (!id && c->end - c->first < c->n) {
        pthread_mutex_destroy(&c->lock);
        free(c);
        return tetri_errorf(err, "nccl: a world across processes needs the id they share (remote_nccl_id)");
    }
    int rc = id ? (c->id = *id, 0) : comms_unique_id(&c->id, err);
    if (!rc) rc = init_world(c, err);
    for (int l = 0; l < c->n_levels && !rc; l++) rc = split_level(c, l, err);
    if (!rc) rc = warm_all(c, err);
    if (rc) {
        comms_abort_all(c);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return -1;
    }
    report(c, t0, o->log);
    *out = c;
    return 0;
}

/* The level of an aligned block within this world, or -1 with err. */
static int level_of(const comms *c, tetri_gpuset set, tetri_error *err)
{
    if (!tetri_gpuset_is_block(set))
        return tetri_errorf(err, "nccl: GPU set %#llx is not an aligned power-of-two block, the only sets with communicators",
                            (unsigned long long)set);
    const int count = tetri_gpuset_count(set), first = __builtin_ctzll(set), l = __builtin_ctz((unsigned)count);
    if (first + count > c->n || l >= c->n_levels)
        return tetri_errorf(err, "nccl: GPU set %#llx: the world has %d GPUs and sets of up to %d", (unsigned long long)set, c->n,
                            1 << (c->n_levels - 1));
    return l;
}

int comms_for_set(comms *c, tetri_gpuset set, int gpu, ncclComm_t *comm, int *rank, tetri_error *err)
{
    const int l = level_of(c, set, err);
    if (l < 0) return -1;
    if (gpu < 0 || gpu >= TETRI_MAX_GPUS || !tetri_gpuset_has(set, gpu))
        return tetri_errorf(err, "nccl: GPU %d is not in set %#llx", gpu, (unsigned long long)set);
    pthread_mutex_lock(&c->lock);
    *comm = c->set[l][gpu];
    pthread_mutex_unlock(&c->lock);
    if (!*comm) return tetri_errorf(err, "nccl: the communicator of set %#llx was aborted", (unsigned long long)set);
    *rank = gpu - __builtin_ctzll(set);
    return 0;
}

int comms_transport(comms *c, tetri_gpuset set, int gpu, cudaStream_t stream, dit_transport **out, tetri_error *err)
{
    ncclComm_t comm;
    int rank;
    if (comms_for_set(c, set, gpu, &comm, &rank, err)) return -1;
    return nccl_transport_create(comm, tetri_gpuset_count(set), rank, stream, c->limit_ns, out, err);
}

int comms_wait_stream(comms *c, tetri_gpuset set, cudaStream_t stream, tetri_ns limit_ns, const char *what, tetri_error *err)
{
    if (!nccl_stream_wait(stream, limit_ns, what, err)) return 0;
    comms_abort_set(c, set);
    return tetri_error_prefix(err, "GPU set %#llx's communicators aborted", (unsigned long long)set);
}

/* Takes table entries [l][g] for g in `gpus` out of the table into out[*n..] (the caller holds the
 * lock), in rank order. */
static void take_entries(comms *c, int l, tetri_gpuset gpus, ncclComm_t *out, int *n)
{
    for (int g = 0; g < c->n; g++)
        if (tetri_gpuset_has(gpus, g) && c->set[l][g]) {
            out[(*n)++] = c->set[l][g];
            c->set[l][g] = NULL;
        }
}

/* ncclCommAbort on each, outside the lock: the abort of a communicator's last rank in this process
 * frees it, and since NCCL 2.26 that first waits until every CUDA graph that captured it is
 * destroyed (its workers' graphs go only at their thread's stop), so it may block for long. Every
 * earlier rank's abort only raises its flag, which is what stops its kernels. Holding the lock
 * through a blocked abort would stall every later abort (and comms_for_set) behind it. */
static void abort_list(const ncclComm_t *list, int n)
{
    for (int i = 0; i < n; i++) ncclCommAbort(list[i]);
}

void comms_abort_set(comms *c, tetri_gpuset set)
{
    if (!c) return;
    const int l = level_of(c, set, NULL);
    if (l < 0) return; /* no communicator of its own */
    ncclComm_t list[TETRI_MAX_GPUS];
    int n = 0;
    pthread_mutex_lock(&c->lock);
    take_entries(c, l, set, list, &n);
    pthread_mutex_unlock(&c->lock);
    abort_list(list, n);
}

void comms_abort_all(comms *c)
{
    if (!c) return;
    ncclComm_t list[(COMMS_LEVELS + 1) * TETRI_MAX_GPUS];
    int n = 0;
    pthread_mutex_lock(&c->lock);
    for (int g = 0; g < c->n; g++)
        if (c->world[g]) {
            list[n++] = c->world[g];
            c->world[g] = NULL;
        }
    for (int l = 0; l < COMMS_LEVELS; l++) take_entries(c, l, ~0ULL, list, &n);
    pthread_mutex_unlock(&c->lock);
    abort_list(list, n);
}

/* Finalize (flushes its work, may be in progress), wait, destroy; abort when it does not finish. */
static void destroy_one(ncclComm_t *comm, tetri_ns limit_ns)
{
    tetri_error err;
    const ncclResult_t r = ncclCommFinalize(*comm);
    if ((r == ncclSuccess || r == ncclInProgress) && !nccl_wait(comm, 1, limit_ns, "finalize", &err)) ncclCommDestroy(*comm);
    else ncclCommAbort(*comm);
    *comm = NULL;
}

void comms_destroy(comms *c)
{
    if (!c) return;
    for (int l = 0; l < COMMS_LEVELS; l++)
        for (int g = 0; g < c->n; g++)
            if (c->set[l][g]) destroy_one(&c->set[l][g], c->limit_ns);
    for (int g = 0; g < c->n; g++)
        if (c->world[g]) destroy_one(&c->world[g], c->limit_ns);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int comms_n_sets(const comms *c) { return c->n_sets; }
int comms_world_size(const comms *c) { return c->n; }
