/* bench/bench_startup.c: what starting `tetri` costs (`make bench`): wall time and peak memory
 * (the child's maximum resident set, from wait4) of `tetri --help` and of `tetri sim` for one short
 * run (20 requests, rssp), median and maximum over 7 starts each. Scripts that start one process
 * per run pay this every time, so it must stay far below a run's own cost: targets < 30 ms and
 * < 32 MB. In a CUDA build the same two commands through tetri-gpu (which links cuBLASLt, cuDNN
 * and NCCL) show what tetri saves by leaving the GPU part to it.
 * Usage: bench_startup [ignored...]; $TETRI (default ./tetri) and tetri-gpu beside it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STARTS 7
#define TARGET_MS 30.0
#define TARGET_MB 32.0

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Runs argv once, its output to /dev/null; wall seconds and peak RSS (MB) into *wall, *mb.
 * Returns its exit status, or -1 when it could not be run. */
static int run_once(char *const *argv, double *wall, double *mb)
{
    fflush(stdout); /* else the child's freopen would write our buffered lines a second time */
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr)) _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) return -1;
    *wall = now_s() - t0;
    *mb = (double)ru.ru_maxrss / 1024.0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* STARTS runs of argv (db, when set, removed before each so every run writes); prints a line.
 * Returns 1 when a target was missed, 0 when met, -1 when the command failed. */
static int measure(const char *label, char *const *argv, const char *db, int with_target)
{
    double wall[STARTS], mb_max = 0;
    for (int i = 0; i < STARTS; i++) {
        double mb;
        if (db) unlink(db);
        int rc = run_once(argv, &wall[i], &mb);
        if (rc != 0) {
            fprintf(stderr, "bench_startup: %s exited %d\n", argv[0], rc);
            return -1;
        }
        if (mb > mb_max) mb_max = mb;
    }
    qsort(wall, STARTS, sizeof wall[0], cmp_double);
    double med_ms = 1e3 * wall[STARTS / 2], max_ms = 1e3 * wall[STARTS - 1];
    int missed = with_target && (med_ms >= TARGET_MS || mb_max >= TARGET_MB);
    printf("  %-34s %9.1f %9.1f %10.1f   %s\n", label, med_ms, max_ms, mb_max,
           !with_target ? "(for comparison)" : missed ? "MISSED" : "ok");
    return missed;
}

int main(void)
{
    const char *tetri = getenv("TETRI") ? getenv("TETRI") : "./tetri";
    char gpu[4096], db[] = "/tmp/bench_startup-XXXXXX";
    int fd = mkstemp(db);
    if (fd < 0) {
        fprintf(stderr, "bench_startup: mkstemp: %s\n", strerror(errno));
        return 1;
    }
    close(fd);
    snprintf(gpu, sizeof gpu, "%s", tetri);
    char *slash = strrchr(gpu, '/');
    snprintf(slash ? slash + 1 : gpu, sizeof gpu - (size_t)(slash ? slash + 1 - gpu : 0), "tetri-gpu");
    char *help[] = {(char *)tetri, "--help", NULL};
    char *sim[] = {(char *)tetri, "sim", "-n", "20", "--policy", "rssp", "--db", db, "-q", NULL};
    printf("bench_startup: starting tetri, %d starts each (targets: median < %.0f ms, peak RSS < %.0f MB)\n", STARTS,
           TARGET_MS, TARGET_MB);
    printf("  %-34s %9s %9s %10s\n", "command", "median ms", "max ms", "peak MB");
    int missed = 0, rc = measure("tetri --help", help, NULL, 1);
    missed += rc > 0;
    if (rc >= 0) missed += (rc = measure("tetri sim -n 20 --policy rssp", sim, db, 1)) > 0;
    if (rc >= 0 && access(gpu, X_OK) == 0) {
        help[0] = sim[0] = gpu;
        if ((rc = measure("tetri-gpu --help (links CUDA)", help, NULL, 0)) >= 0)
            rc = measure("tetri-gpu sim -n 20 (links CUDA)", sim, db, 0);
    }
    unlink(db);
    if (rc < 0) return 1;
    if (missed) printf("bench_startup: %d target(s) missed\n", missed);
    return 0;
}
