/* cli/serve_mpi.c: tetri serve across MPI ranks (contract in cli/serve_mpi.h). Built into
 * tetri-mpi only. One serve command is one remote world: rank 0 starts it when it opens its
 * backend and stops it when the command ends (or, when it ended before, tells the others to stop
 * waiting), so every rank leaves the collective calls together.
 *
 * The GPU backend (tetri-mpi built with CUDA): rank 0's options travel flat (exec/gpu_wire.h);
 * after remote_start every rank takes the world's NCCL id (when degrees above 1 are captured) and
 * opens the GPU backend for its own GPUs with external workers: rank 0's driver runs its GPUs'
 * runner through the proxies (exec/remote.c), the others' serving threads theirs. Start-up's
 * collectives (NCCL init, splits, warm-up, the captures) meet across the processes; remote_ready
 * then says whether every rank started. Each run's requests and seed go to every serving thread
 * ahead of its first block (remote_begin_run); the backend stays open for every run of the
 * command, as in one process (cli/serve_gpu.c), and closes with it (serve_mpi_gpu_close). */
#include "config.h"

#include "cli/serve_mpi.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec/gpu_wire.h"
#include "exec/remote.h"
#include "exec/workers.h"
#ifdef TETRI_HAVE_CUDA
#include <cuda_runtime.h>

#include "exec/gpu.h"
#endif

enum { BACKEND_EMULATED = 1, BACKEND_GPU = 2 };

/* What rank 0 hands the others: which backend, and its options. */
typedef struct mpi_config {
    int32_t backend;
    union {
        emulated_options emu;
        gpu_wire gpu;
    } u;
} mpi_config;
_Static_assert(sizeof(mpi_config) <= REMOTE_CONFIG_MAX, "the backend's options travel in remote_options.config");

/* A run's start, as rank 0 sends it: its seed, its requests. */
typedef struct run_head {
    uint64_t run, seed, n;
} run_head;

static struct {
    bool active;                /* rank 0, inside serve_mpi_command */
    bool started;               /* the others are serving: rank 0 owes them remote_stop */
    bool tried;                 /* rank 0 called remote_start (the others have left it) */
    bool quiet;                 /* rank 0: no line on what the others served */
    remote_world world;
    emulated_options emu;       /* the local runner's options: rank 0's, on every rank */
    workers_runner local;
    mpi_config cfg;             /* rank 0's, on every rank */
    /* the GPU backend */
    void *gpu;                  /* gpu_backend of this rank's GPUs */
    workers *drv;               /* rank 0: the driver over the ranks, open for the command */
    uint64_t input_seed, runs;  /* rank 0: the requests' seed; runs begun */
    uint64_t run_seen;          /* other ranks: the run the backend holds */
    host_arrival *arrivals;     /* other ranks: its requests */
    bool printed;               /* rank 0: the spread line is out */
} S;

bool serve_mpi_active(void) { return S.active; }

static int open_remote(void *ctx, const tetri_profile *profile, const host_arrival *arrivals, size_t n, host_backend *be,
                       void **handle, tetri_error *err)
{
    (void)ctx, (void)profile, (void)arrivals, (void)n;
    const workers_options wo = {.n_gpus = S.world.opt.n_gpus, .speed = S.emu.speed, .settle_ns = S.emu.settle_ns,
                                .spin_ns = S.emu.spin_ns, .poll_real_ns = S.emu.poll_real_ns};
    workers *w;
    if (workers_open(&wo, &S.world.runner, &w, err)) return -1;
    workers_bind(be, w);
    *handle = w;
    return 0;
}

static void close_remote(void *ctx, void *handle)
{
    (void)ctx;
    workers_close(handle, INT64_MAX / 4); /* a remote block always ends, or its rank died and mpirun ends us */
}

int serve_mpi_backend(int n_gpus, int gpus_per_rank, const emulated_options *emu, bool quiet, sweep_backend *sb, tetri_error *err)
{
    S.quiet = quiet;
    if (S.tried) return tetri_errorf(err, "serving across processes is started once per command");
    S.emu = *emu;
    S.emu.n_gpus = n_gpus;
    S.local = emulated_runner(&S.emu);
    remote_options o = {.n_gpus = n_gpus, .gpus_per_rank = gpus_per_rank};
    S.cfg = (mpi_config){.backend = BACKEND_EMULATED, .u.emu = S.emu};
    memcpy(o.config, &S.cfg, sizeof S.cfg);
    S.tried = true;
    if (remote_start(&S.world, &o, &S.local, err)) return -1;
    S.started = true;
    if (remote_ready(&S.world, err)) return -1;
    remote_bind_runner(&S.world);
    sb->open = open_remote;
    sb->close = close_remote;
    sb->ctx = NULL;
    return 0;
}

/* What went to the other ranks, one line each (the proof that they served). */
static void print_spread(const remote_world *w)
{
    for (int r = 1; r < w->ranks; r++) {
        const int first = r * w->opt.gpus_per_rank, end = first + w->opt.gpus_per_rank;
        int64_t n = 0;
        for (int g = first; g < end && g < w->opt.n_gpus; g++) n += w->sent[g];
        printf("  rank %d served %lld block%s on GPUs %d-%d\n", r, (long long)n, n == 1 ? "" : "s", first,
               (end < w->opt.n_gpus ? end : w->opt.n_gpus) - 1);
    }
}

/* Rank 0 after its command: the others stop serving, or stop waiting for a start that never came. */
static void finish_rank0(void)
{
    tetri_error err = {{0}};
    if (S.started && !S.quiet && !S.printed) print_spread(&S.world);
    if (S.started) remote_stop(&S.world);
    else if (!S.tried) remote_start(&S.world, &(remote_options){.n_gpus = 0}, &S.local, &err);
}

/* Another rank: rank 0's options, then its GPUs until rank 0 stops them. Prints nothing: rank 0
 * tells every failure (a bad layout it checked too, a runner that could not start: sent to it).
 * When rank 0 gave up before serving, 0: the job's exit status is then rank 0's own. */
static int serve_other_gpu(void);

static int serve_other(void)
{
    tetri_error err = {{0}};
    S.local = emulated_runner(&S.emu);
    const int started = remote_start(&S.world, &(remote_options){0}, &S.local, &err);
    if (started) return started == 1 ? 0 : 1;
    memcpy(&S.cfg, S.world.opt.config, sizeof S.cfg);
    if (S.cfg.backend == BACKEND_GPU) return serve_other_gpu();
    S.emu = S.cfg.u.emu;
    return remote_serve(&S.world, &err) ? 1 : 0;
}

/* ---- the GPU backend ---------------------------------------------------------------------------- */

/* Whether start-up needs the world's NCCL id: the same verdict on every rank (rank 0's options). */
static inline bool wants_nccl(const gpu_wire *w) { return w->n_gpus > 1 && w->sp_degrees != 0; }

#ifdef TETRI_HAVE_CUDA

/* Another rank whose gpu_open failed serves with this runner: each GPU's start fails saying why
 * (rank 0 hears it in remote_ready); no block ever runs on it. */
static tetri_error open_err;
static int failed_start(void *ctx, int gpu, tetri_error *err)
{
    (void)ctx;
    return tetri_errorf(err, "GPU %d: the GPU backend did not open: %.700s", gpu, open_err.msg);
}
static void no_run(void *ctx, int gpu, const workers_job *job, host_event *ev)
{
    (void)ctx, (void)job;
    *ev = (host_event){.kind = HOST_EVENT_FAILED, .fatal = true, .end_real_ns = workers_real_now()};
    snprintf(ev->why, sizeof ev->why, "GPU %d did not start", gpu);
}

/* Every rank after remote_start (its layout in S.world): the world's NCCL id when degrees above 1
 * are captured (collective: every rank asks, by rank 0's options), then the backend of its GPUs,
 * whose NCCL start-up meets the other ranks'. Only rank 0 prints. Returns 0, or -1 with err. */
static int open_local_gpu(tetri_error *err)
{
    static gpu_shape shapes[GPU_WIRE_SHAPES];
    const remote_world *w = &S.world;
    /* the node's processes take consecutive devices, unless each sees fewer (CUDA_VISIBLE_DEVICES per process) */
    int base = w->node_rank * w->opt.gpus_per_rank, n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || base + w->n_own > n_dev) base = 0;
    gpu_options o;
    gpu_wire_unpack(&S.cfg.u.gpu, w->opt.gpus_per_rank, w->first_gpu, w->n_own, base, shapes, &o);
    if (w->rank != 0) o.log = NULL;
#ifdef HAVE_NCCL
    static ncclUniqueId id;
    if (wants_nccl(&S.cfg.u.gpu)) {
        if (remote_nccl_id(&id, err)) return -1;
        o.nccl_id = &id;
    }
#endif
    gpu_backend *g;
    if (gpu_open(&o, &g, err)) return tetri_error_prefix(err, "rank %d", w->rank);
    S.gpu = g;
    return 0;
}

/* Other ranks: a run's start from rank 0 (run_head, then its requests), once per run for all this
 * rank's serving threads (the first to see it begins the run; between runs every thread is idle). */
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;
static int run_rc;
static tetri_error run_err;

static int begin_other(void *ctx, int gpu, const void *bytes, size_t len, tetri_error *err)
{
    (void)ctx, (void)gpu;
    run_head h;
    if (len < sizeof h) return tetri_errorf(err, "a run's start of %zu bytes", len);
    memcpy(&h, bytes, sizeof h);
    if (h.n > (len - sizeof h) / sizeof(host_arrival) || len != sizeof h + h.n * sizeof(host_arrival))
        return tetri_errorf(err, "a run's start of %zu bytes for %llu requests", len, (unsigned long long)h.n);
    pthread_mutex_lock(&run_mu);
    if (S.run_seen != h.run) {
        host_arrival *a = malloc(h.n ? h.n * sizeof *a : 1);
        if (!a) {
            run_rc = tetri_errorf(&run_err, "out of memory for %llu requests", (unsigned long long)h.n);
        } else {
            memcpy(a, (const unsigned char *)bytes + sizeof h, h.n * sizeof *a);
            run_rc = gpu_begin_run(S.gpu, a, (size_t)h.n, h.seed, &run_err);
            free(S.arrivals); /* the previous run's: the backend let go of it in gpu_begin_run */
            S.arrivals = a;
        }
        S.run_seen = h.run;
    }
    const int rc = run_rc;
    if (rc) *err = run_err;
    pthread_mutex_unlock(&run_mu);
    return rc;
}

static int serve_other_gpu(void)
{
    tetri_error err = {{0}};
    static workers_runner failing;
    if (open_local_gpu(&err)) {
        open_err = err;
        failing = (workers_runner){.name = "exec", .every_gpu = true, .thread_start = failed_start, .run = no_run};
        S.world.local = &failing;
    } else {
        S.world.local = gpu_runner(S.gpu);
        S.world.begin_run = begin_other;
    }
    const int rc = remote_serve(&S.world, &err) ? 1 : 0;
    const bool broken = S.gpu && gpu_close(S.gpu);
    S.gpu = NULL;
    if (broken) { /* work on a GPU that never ends: the CUDA runtime's teardown would wait for it */
        fflush(NULL);
        remote_finalize();
        _exit(1);
    }
    free(S.arrivals);
    S.arrivals = NULL;
    return rc;
}

/* Rank 0, each run: its requests and seed to the other ranks, then its own GPUs', the driver's clock. */
static int open_gpu_run(void *ctx, const tetri_profile *profile, const host_arrival *arrivals, size_t n, host_backend *be,
                        void **handle, tetri_error *err)
{
    (void)ctx, (void)profile;
    const run_head h = {.run = ++S.runs, .seed = S.input_seed, .n = n};
    const size_t len = sizeof h + n * sizeof *arrivals;
    unsigned char *buf = malloc(len);
    if (!buf) return tetri_errorf(err, "out of memory for %zu requests", n);
    memcpy(buf, &h, sizeof h);
    if (n) memcpy(buf + sizeof h, arrivals, n * sizeof *arrivals);
    remote_begin_run(&S.world, buf, len);
    free(buf);
    if (gpu_begin_run(S.gpu, arrivals, n, S.input_seed, err)) return -1;
    workers_restart(S.drv);
    workers_bind(be, S.drv);
    *handle = NULL; /* the driver outlives the run */
    return 0;
}

static void close_gpu_run(void *ctx, void *handle) { (void)ctx, (void)handle; }

int serve_mpi_gpu_backend(const gpu_options *opts, bool devices_given, int gpus_per_rank, bool quiet, uint64_t input_seed,
                          sweep_backend *sb, tetri_error *err)
{
    S.quiet = quiet;
    if (S.tried) return tetri_errorf(err, "serving across processes is started once per command");
    remote_options o = {.n_gpus = opts->n_gpus, .gpus_per_rank = gpus_per_rank};
    S.cfg.backend = BACKEND_GPU;
    if (gpu_wire_pack(opts, devices_given, quiet, &S.cfg.u.gpu, err)) return -1; /* not tried: finish_rank0 releases the others */
    memcpy(o.config, &S.cfg, sizeof S.cfg);
    S.tried = true;
    if (remote_start(&S.world, &o, &S.local, err)) return -1;
    S.started = true;
    S.input_seed = input_seed;
    int rc = open_local_gpu(err);
    if (!rc) {
        S.world.local = gpu_runner(S.gpu);
        remote_bind_runner(&S.world);
        const workers_options wo = {.n_gpus = opts->n_gpus, .speed = 1.0, .settle_ns = opts->settle_ns, .spin_ns = opts->spin_ns,
                                    .poll_real_ns = opts->poll_real_ns};
        rc = workers_open(&wo, &S.world.runner, &S.drv, err); /* this rank's GPUs start; the others' at once */
    }
    tetri_error theirs = {{0}};
    if (remote_ready(&S.world, rc ? &theirs : err) || rc) return -1; /* the process ends: a failed start's GPUs are left */
    if (!quiet) gpu_report(S.gpu, stdout);
    sb->open = open_gpu_run;
    sb->close = close_gpu_run;
    sb->ctx = NULL;
    return 0;
}

bool serve_mpi_gpu_close(void)
{
    if (!S.gpu) return false;
    /* every block has ended (a hung GPU's at its time limit): this rank's GPUs stop, then the others' */
    if (S.drv) workers_close(S.drv, 120 * TETRI_NS_PER_S);
    S.drv = NULL;
    if (S.started) {
        if (!S.quiet) print_spread(&S.world);
        S.printed = true;
        remote_stop(&S.world);
        S.started = false;
    }
    const bool broken = gpu_close(S.gpu);
    S.gpu = NULL;
    /* A failed GPU: the caller ends the process with _exit (cli/cmd_sim.c), past serve_mpi_command's
     * MPI_Finalize, which every rank must reach (the others, stopped above, are in theirs). */
    if (broken) {
        fflush(NULL);
        remote_finalize();
    }
    return broken;
}

#else /* no GPU part: rank 0 never sends BACKEND_GPU */

static int serve_other_gpu(void) { return 1; }

#endif


int serve_mpi_command(int argc, char **argv, int (*rank0_main)(int argc, char **argv))
{
    tetri_error err = {{0}};
    if (remote_init(&argc, &argv, &err)) {
        fprintf(stderr, "tetri serve: %s\n", err.msg);
        return 1;
    }
    const int rank = remote_rank();
    int rc;
    if (remote_check_args(argc, argv, &err)) {
        if (rank == 0) fprintf(stderr, "tetri serve: %s\n", err.msg);
        rc = 2;
    } else if (rank == 0) {
        S.active = true;
        rc = rank0_main(argc, argv);
        finish_rank0();
        S.active = false;
    } else
        rc = serve_other();
    remote_finalize();
    return rc;
}
