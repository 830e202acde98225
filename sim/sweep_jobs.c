/* sim/sweep_jobs.c: a sweep over worker processes (contract in sim/sweep_jobs.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "sim/sweep_jobs.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "core/types.h"

/* A worker's message to the parent, one line, written whole (at most PIPE_BUF bytes, so lines of
 * several workers never interleave): "W sim_s write_s text" (a run written), "S ..." (skipped),
 * "E message" (the worker failed). */
#define JOBS_MSG_MAX 1024

int sweep_cores_available(void)
{
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)(n < 1024 ? n : 1024) : 1;
}

static double now_seconds(void)
{
    return (double)tetri_monotonic_ns() / 1e9;
}

/* ---- in a worker ---------------------------------------------------------------------------- */

typedef struct worker_ctx {
    atomic_long *next_shared; /* the next grid index nobody has taken */
    long mine;                /* the index this worker took last (-1: none yet) */
    int fd;                   /* the pipe to the parent */
    const sweep_jobs *j;
} worker_ctx;

/* Every worker asks about every index in the same order; the one whose last take equals it runs it
 * and takes the next free one. So each index goes to exactly one worker. */
static int worker_claim(void *ctx, long index)
{
    worker_ctx *w = ctx;
    if (w->mine < 0) w->mine = atomic_fetch_add(w->next_shared, 1);
    if (index != w->mine) return 0;
    w->mine = atomic_fetch_add(w->next_shared, 1);
    return 1;
}

static void send_line(int fd, const char *msg)
{
    size_t len = strlen(msg), off = 0;
    while (off < len) {
        ssize_t n = write(fd, msg + off, len - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* the parent is gone: nothing to tell */
        off += (size_t)n;
    }
}

static void worker_progress(void *ctx, const sweep_run_report *r)
{
    worker_ctx *w = ctx;
    char text[JOBS_MSG_MAX - 64] = "", msg[JOBS_MSG_MAX];
    if (w->j->format) w->j->format(w->j->format_ctx, r, text, sizeof text);
    for (char *c = text; *c; c++)
        if (*c == '\n') *c = ' ';
    snprintf(msg, sizeof msg, "%c %.9f %.9f %s\n", r->skipped ? 'S' : 'W', r->sim_s, r->write_s, text);
    send_line(w->fd, msg);
}

/* A worker's whole life: its own connection, its share of the grid, _exit (never returns: the
 * parent's stdio buffers and database handle are not the worker's to flush or close). */
static void worker_main(const sweep_spec *spec, const sweep_jobs *j, atomic_long *next_shared, int fd)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed parent takes its workers with it */
#endif
    worker_ctx w = {.next_shared = next_shared, .mine = -1, .fd = fd, .j = j};
    sweep_spec s = *spec;
    s.claim = worker_claim;
    s.claim_ctx = &w;
    s.progress = worker_progress;
    s.progress_ctx = &w;
    tetri_error err = {{0}};
    results_db *db = NULL;
    sweep_stats st;
    int rc = results_open(j->db_path, &db, &err);
    if (rc == 0) rc = sweep_run(&s, db, &st, &err);
    if (rc == 0 && st.runs_partial) rc = tetri_errorf(&err, "a run ended early: %s", st.partial_why);
    if (rc) {
        char msg[JOBS_MSG_MAX];
        snprintf(msg, sizeof msg, "E %.1000s\n", err.msg);
        for (char *c = msg + 2; c[1]; c++)
            if (*c == '\n') *c = ' ';
        send_line(fd, msg);
    }
    results_close(db);
    close(fd);
    _exit(rc ? 1 : 0);
}

/* ---- in the parent ---------------------------------------------------------------------------- */

typedef struct parent_state {
    const sweep_jobs *j;
    sweep_stats *stats;
    sweep_jobs_event ev;
    double start;
    int failed;
    tetri_error *err;
} parent_state;

/* One line from a worker. */
static void heard_line(parent_state *p, char *line)
{
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == 'E') {
        if (!p->failed) tetri_errorf(p->err, "%s", line[1] ? line + 2 : "a worker failed");
        p->failed = 1;
        return;
    }
    double sim_s = 0, write_s = 0;
    int used = 0;
    if ((line[0] != 'W' && line[0] != 'S') || sscanf(line + 1, " %lf %lf%n", &sim_s, &write_s, &used) != 2) return;
    p->ev.skipped = line[0] == 'S';
    p->ev.line = line + 1 + used + (line[1 + used] == ' '); /* the one space after the numbers */
    if (p->ev.skipped) p->stats->runs_skipped++;
    else p->stats->runs_written++;
    p->stats->sim_s += sim_s;
    p->stats->write_s += write_s;
    p->ev.done++;
    p->ev.elapsed_s = now_seconds() - p->start;
    p->ev.sim_s = p->stats->sim_s;
    p->ev.write_s = p->stats->write_s;
    if (p->j->heard) p->j->heard(p->j->heard_ctx, &p->ev);
}

/* Reads the workers' lines until every worker has closed its end of the pipe. */
static void listen_to_workers(parent_state *p, int fd, pid_t *pids, int n)
{
    FILE *in = fdopen(fd, "r");
    if (!in) {
        close(fd);
        return;
    }
    char line[JOBS_MSG_MAX + 8];
    int stopped = 0;
    while (fgets(line, sizeof line, in)) {
        heard_line(p, line);
        if (p->failed && !stopped) { /* one failure ends the sweep, as with one process */
            for (int k = 0; k < n; k++) kill(pids[k], SIGTERM);
            stopped = 1;
        }
    }
    fclose(in);
}

/* Waits for every worker; a worker that died without saying why (killed) is an error too. */
static void reap_workers(parent_state *p, pid_t *pids, int n)
{
    for (int k = 0; k < n; k++) {
        int status;
        while (waitpid(pids[k], &status, 0) < 0 && errno == EINTR) {}
        const int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!ok && !p->failed) {
            p->failed = 1;
            if (WIFSIGNALED(status)) tetri_errorf(p->err, "worker %d was killed by signal %d", k + 1, WTERMSIG(status));
            else tetri_errorf(p->err, "worker %d failed (exit status %d)", k + 1, WEXITSTATUS(status));
        }
    }
}

int sweep_run_jobs(const sweep_spec *s, const sweep_jobs *j, sweep_stats *stats, tetri_error *err)
{
    if (!s->canonical || s->progress || s->claim || s->stop_after > 0)
        return tetri_errorf(err, "a parallel sweep takes a prepared spec without progress, claim or stop-after");
    memset(stats, 0, sizeof *stats);
    stats->runs_total = sweep_runs_total(s);
    const int n = j->jobs < 1 ? 1 : j->jobs;
    atomic_long *next = mmap(NULL, sizeof *next, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (next == MAP_FAILED) return tetri_errorf(err, "cannot share memory with the workers: %s", strerror(errno));
    atomic_init(next, 0);
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    int fds[2] = {-1, -1};
    if (!pids || pipe(fds) != 0) {
        free(pids);
        munmap(next, sizeof *next);
        return tetri_errorf(err, "cannot start the workers: %s", pids ? strerror(errno) : "out of memory");
    }
    fflush(NULL); /* nothing buffered is written twice by a worker */
    parent_state p = {.j = j, .stats = stats, .ev = {.total = stats->runs_total}, .start = now_seconds(), .err = err};
    int started = 0;
    for (; started < n; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            tetri_errorf(err, "cannot start worker %d: %s", started + 1, strerror(errno));
            p.failed = 1;
            break;
        }
        if (pid == 0) {
            close(fds[0]);
            worker_main(s, j, next, fds[1]);
        }
        pids[started] = pid;
    }
    close(fds[1]);
    if (p.failed)
        for (int k = 0; k < started; k++) kill(pids[k], SIGTERM);
    listen_to_workers(&p, fds[0], pids, started);
    reap_workers(&p, pids, started);
    free(pids);
    munmap(next, sizeof *next);
    return p.failed ? -1 : 0;
}
