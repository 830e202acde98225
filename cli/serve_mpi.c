/* cli/serve_mpi.c: tetri serve across MPI ranks (contract in cli/serve_mpi.h). Built into
 * tetri-mpi only. One serve command is one remote world: rank 0 starts it when it opens its
 * backend and stops it when the command ends (or, when it ended before, tells the others to stop
 * waiting), so every rank leaves the collective calls together. */
#include "cli/serve_mpi.h"

#include <stdio.h>
#include <string.h>

#include "exec/remote.h"
#include "exec/workers.h"

_Static_assert(sizeof(emulated_options) <= REMOTE_CONFIG_MAX, "the emulated options travel in remote_options.config");

static struct {
    bool active;                /* rank 0, inside serve_mpi_command */
    bool started;               /* the others are serving: rank 0 owes them remote_stop */
    bool tried;                 /* rank 0 called remote_start (the others have left it) */
    bool quiet;                 /* rank 0: no line on what the others served */
    remote_world world;
    emulated_options emu;       /* the local runner's options: rank 0's, on every rank */
    workers_runner local;
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
    memcpy(o.config, &S.emu, sizeof S.emu);
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
    if (S.started && !S.quiet) print_spread(&S.world);
    if (S.started) remote_stop(&S.world);
    else if (!S.tried) remote_start(&S.world, &(remote_options){.n_gpus = 0}, &S.local, &err);
}

/* Another rank: rank 0's options, then its GPUs until rank 0 stops them. Prints nothing: rank 0
 * tells every failure (a bad layout it checked too, a runner that could not start: sent to it).
 * When rank 0 gave up before serving, 0: the job's exit status is then rank 0's own. */
static int serve_other(void)
{
    tetri_error err = {{0}};
    S.local = emulated_runner(&S.emu);
    const int started = remote_start(&S.world, &(remote_options){0}, &S.local, &err);
    if (started) return started == 1 ? 0 : 1;
    memcpy(&S.emu, S.world.opt.config, sizeof S.emu);
    return remote_serve(&S.world, &err) ? 1 : 0;
}

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
