/* cli/sweep_mpi.c: a sweep across MPI ranks (contract in cli/sweep_mpi.h). Built into tetri-mpi
 * only (configure found MPI); tetri itself hands a sweep started under mpirun to tetri-mpi.
 *
 * Rank 0 owns the database: it makes the experiment, tells every rank which runs are done (their
 * keys, broadcast once), runs its share and writes every rank's runs. The others run theirs
 * (grid index % ranks == rank) and send each run whole to rank 0 (the request, timeline and block
 * rows as the same binary writes them: ranks are one build of tetri-mpi), which writes it as it
 * would its own: the rows are those of --jobs 1. Rank 0 takes what has arrived after each of its
 * own runs, then the rest. */
#include "cli/sweep_mpi.h"

#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sweep_jobs.h"

enum { TAG_RUN = 1, TAG_SKIP = 2, TAG_DONE = 3 };
#define N_STRINGS 7

/* A run as sent: this header, the strings of tetri_run_info (each with its NUL), then the request,
 * timeline and block rows. */
typedef struct run_header {
    double slo_scale, rate_per_min;
    uint64_t seed, n_requests, n_timeline, n_blocks;
    uint32_t str_len[N_STRINGS];
    tetri_run_summary summary;
} run_header;

static int world_rank(void)
{
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

static int world_size(void)
{
    int n = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    return n;
}

int sweep_mpi_start(int *argc, char ***argv)
{
    return MPI_Init(argc, argv) == MPI_SUCCESS ? 0 : -1;
}

void sweep_mpi_end(void) { MPI_Finalize(); }

int sweep_mpi_ranks(void)
{
    int up = 0;
    MPI_Initialized(&up);
    return up ? world_size() : 1;
}

int sweep_mpi_rank(void)
{
    int up = 0;
    MPI_Initialized(&up);
    return up ? world_rank() : 0;
}

typedef struct mpi_ctx {
    int rank, ranks;
    char *keys_blob;         /* the done keys, NUL-separated, sorted */
    const char **keys;
    size_t n_keys;
    sweep_progress_fn progress; /* the caller's, on rank 0 */
    void *progress_ctx;
    results_db *db;          /* rank 0 */
    int64_t experiment;
    sweep_stats remote;      /* what rank 0 wrote for the others */
    int done_ranks, failed;
    tetri_error *err;
} mpi_ctx;

static int claim_by_rank(void *ctx, long index)
{
    const mpi_ctx *m = ctx;
    return index % m->ranks == m->rank;
}

static int compare_key(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int known_done(void *ctx, const char *run_key)
{
    const mpi_ctx *m = ctx;
    return m->n_keys && bsearch(&run_key, m->keys, m->n_keys, sizeof *m->keys, compare_key) != NULL;
}

/* ---- the other ranks: send ------------------------------------------------------------------ */

static int send_run(void *ctx, const tetri_run_info *info, const host_result *res, tetri_error *err)
{
    (void)ctx;
    const char *str[N_STRINGS] = {info->run_key, info->policy, info->workload, info->mix, info->backend, info->hardware, info->model};
    run_header h = {.slo_scale = info->slo_scale, .rate_per_min = info->rate_per_min, .seed = info->seed,
                    .n_requests = res->n_requests, .n_timeline = res->n_timeline, .n_blocks = res->n_blocks, .summary = res->summary};
    size_t len = sizeof h;
    for (int k = 0; k < N_STRINGS; k++) len += (h.str_len[k] = (uint32_t)strlen(str[k] ? str[k] : "") + 1);
    const size_t rows[3] = {res->n_requests * sizeof *res->requests, res->n_timeline * sizeof *res->timeline,
                            res->n_blocks * sizeof *res->blocks};
    len += rows[0] + rows[1] + rows[2];
    if (len > INT32_MAX) return tetri_errorf(err, "run %s: %zu bytes, too large for one MPI message", info->run_key, len);
    char *buf = malloc(len), *at = buf;
    if (!buf) return tetri_errorf(err, "out of memory");
    memcpy(at, &h, sizeof h);
    at += sizeof h;
    for (int k = 0; k < N_STRINGS; k++) {
        memcpy(at, str[k] ? str[k] : "", h.str_len[k]);
        at += h.str_len[k];
    }
    const void *src[3] = {res->requests, res->timeline, res->blocks};
    for (int k = 0; k < 3; k++)
        if (rows[k]) memcpy(at, src[k], rows[k]), at += rows[k];
    const int rc = MPI_Send(buf, (int)len, MPI_BYTE, 0, TAG_RUN, MPI_COMM_WORLD);
    free(buf);
    return rc == MPI_SUCCESS ? 0 : tetri_errorf(err, "run %s: MPI_Send to rank 0 failed", info->run_key);
}

/* A run found done: rank 0 counts it. */
static void send_skip(void *ctx, const sweep_run_report *r)
{
    (void)ctx;
    if (r->skipped) MPI_Send(NULL, 0, MPI_BYTE, 0, TAG_SKIP, MPI_COMM_WORLD);
}

/* ---- rank 0: receive and write ---------------------------------------------------------------- */

/* Writes one run a rank sent (buf, len bytes). Returns 0 or -1 with m->err. */
static int write_received(mpi_ctx *m, const char *buf, size_t len)
{
    run_header h;
    if (len < sizeof h) return tetri_errorf(m->err, "a rank sent a run of %zu bytes", len);
    memcpy(&h, buf, sizeof h);
    const char *str[N_STRINGS], *at = buf + sizeof h;
    for (int k = 0; k < N_STRINGS; k++) {
        str[k] = at;
        at += h.str_len[k];
    }
    tetri_run_info info = {.run_key = str[0], .policy = str[1], .workload = str[2], .mix = str[3], .slo_scale = h.slo_scale,
                           .rate_per_min = h.rate_per_min, .seed = h.seed, .backend = str[4], .hardware = str[5], .model = str[6]};
    /* The rows are copied out: buf's offsets need not suit their alignment. */
    tetri_request_result *req = malloc((h.n_requests ? h.n_requests : 1) * sizeof *req);
    tetri_timeline_sample *tl = malloc((h.n_timeline ? h.n_timeline : 1) * sizeof *tl);
    tetri_block_result *blk = malloc((h.n_blocks ? h.n_blocks : 1) * sizeof *blk);
    int rc = req && tl && blk ? 0 : tetri_errorf(m->err, "out of memory");
    if (rc == 0) {
        memcpy(req, at, h.n_requests * sizeof *req);
        at += h.n_requests * sizeof *req;
        memcpy(tl, at, h.n_timeline * sizeof *tl);
        at += h.n_timeline * sizeof *tl;
        memcpy(blk, at, h.n_blocks * sizeof *blk);
        rc = results_write_run(m->db, m->experiment, &info, &h.summary, req, h.n_requests, tl, h.n_timeline, blk, h.n_blocks, m->err);
    }
    if (rc >= 0) {
        sweep_run_report rep = {.policy = info.policy, .policy_given = info.policy, .mix = info.mix, .slo_scale = info.slo_scale,
                                .rate_per_min = info.rate_per_min, .seed = info.seed, .run_key = info.run_key, .skipped = rc == 1,
                                .summary = rc == 0 ? &h.summary : NULL};
        if (rc == 0) m->remote.runs_written++;
        else m->remote.runs_skipped++;
        if (m->progress) m->progress(m->progress_ctx, &rep);
    }
    free(req);
    free(tl);
    free(blk);
    return rc < 0 ? -1 : 0;
}

/* Takes one message (blocking when `wait`). Returns 1 when one was taken, 0 when none waited, -1. */
static int take_message(mpi_ctx *m, int wait)
{
    MPI_Status st;
    int there = 1;
    if (wait) MPI_Probe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    else MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &there, &st);
    if (!there) return 0;
    int len = 0;
    MPI_Get_count(&st, MPI_BYTE, &len);
    char *buf = malloc(len > 0 ? (size_t)len : 1);
    if (!buf) return tetri_errorf(m->err, "out of memory");
    MPI_Recv(buf, len, MPI_BYTE, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    int rc = 0;
    if (st.MPI_TAG == TAG_RUN) rc = write_received(m, buf, (size_t)len);
    else if (st.MPI_TAG == TAG_SKIP) m->remote.runs_skipped++;
    else if (st.MPI_TAG == TAG_DONE) {
        m->done_ranks++;
        if (len > 0 && !m->failed) {
            m->failed = 1;
            tetri_errorf(m->err, "rank %d: %.*s", st.MPI_SOURCE, len, buf);
        }
    }
    free(buf);
    return rc < 0 ? -1 : 1;
}

/* Rank 0's progress: its own run, then whatever the other ranks sent meanwhile. */
static void rank0_progress(void *ctx, const sweep_run_report *r)
{
    mpi_ctx *m = ctx;
    if (m->progress) m->progress(m->progress_ctx, r);
    while (!m->failed && take_message(m, 0) > 0) {}
}

/* ---- every rank ------------------------------------------------------------------------------ */

/* Rank 0 makes the experiment and broadcasts the done keys; every rank indexes them. */
static int share_done_keys(mpi_ctx *m, const sweep_spec *s, results_db *db, tetri_error *err)
{
    unsigned long long len = 0;
    int rc = 0;
    if (m->rank == 0) {
        size_t n = 0;
        rc = results_experiment(db, s->experiment ? s->experiment : "sim", s->config_text ? s->config_text : "", &m->experiment, err);
        if (rc == 0) rc = results_done_keys(db, m->experiment, &m->keys_blob, &n, err);
        len = rc == 0 ? n : 0;
        if (rc == 0 && len > INT32_MAX) rc = tetri_errorf(err, "%llu bytes of run keys: too many for one broadcast", len);
        if (rc) MPI_Abort(MPI_COMM_WORLD, 1); /* the others wait in the broadcast */
    }
    MPI_Bcast(&len, 1, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
    if (m->rank != 0 && !(m->keys_blob = malloc(len ? len : 1))) MPI_Abort(MPI_COMM_WORLD, 1);
    if (len) MPI_Bcast(m->keys_blob, (int)len, MPI_BYTE, 0, MPI_COMM_WORLD);
    for (size_t at = 0; at < len; at += strlen(m->keys_blob + at) + 1) m->n_keys++;
    if (!(m->keys = malloc((m->n_keys ? m->n_keys : 1) * sizeof *m->keys))) return tetri_errorf(err, "out of memory");
    size_t k = 0;
    for (size_t at = 0; at < len; at += strlen(m->keys_blob + at) + 1) m->keys[k++] = m->keys_blob + at;
    return 0;
}

static int run_rank0(mpi_ctx *m, sweep_spec *s, results_db *db, sweep_stats *st, tetri_error *err)
{
    s->progress = rank0_progress;
    s->progress_ctx = m;
    int rc = sweep_run(s, db, st, err);
    if (rc) MPI_Abort(MPI_COMM_WORLD, 1); /* the others may be waiting to send */
    while (m->done_ranks < m->ranks - 1)
        if (take_message(m, 1) < 0) MPI_Abort(MPI_COMM_WORLD, 1);
    st->runs_written += m->remote.runs_written;
    st->runs_skipped += m->remote.runs_skipped;
    return m->failed ? -1 : 0;
}

static int run_other(mpi_ctx *m, sweep_spec *s, sweep_stats *st, tetri_error *err)
{
    s->progress = send_skip;
    s->write_run = send_run;
    s->known_done = known_done;
    s->writer_ctx = m;
    const int rc = sweep_run(s, NULL, st, err);
    const int len = rc ? (int)strlen(err->msg) + 1 : 0;
    MPI_Send(err->msg, len, MPI_BYTE, 0, TAG_DONE, MPI_COMM_WORLD);
    return rc;
}

int sweep_mpi_run(sweep_spec *s, results_db *db, sweep_stats *st, tetri_error *err)
{
    mpi_ctx m = {.rank = world_rank(), .ranks = world_size(), .progress = s->progress, .progress_ctx = s->progress_ctx, .db = db,
                 .err = err};
    memset(st, 0, sizeof *st);
    int rc = share_done_keys(&m, s, db, err);
    s->claim = claim_by_rank;
    s->claim_ctx = &m;
    if (rc == 0) rc = m.rank == 0 ? run_rank0(&m, s, db, st, err) : run_other(&m, s, st, err);
    free(m.keys);
    free(m.keys_blob);
    return rc;
}
