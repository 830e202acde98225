/* cli/gpu_dispatch.c: the GPU command lines and the exec of tetri-gpu (see cli/gpu_dispatch.h). */
#include "config.h"

#include "cli/gpu_dispatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One line per command line that needs the GPU. */
const tetri_gpu_route tetri_gpu_routes[] = {
    {"bench-step", NULL, "time real DiT denoising steps on this GPU", "--plan-memory"}, /* the plan: cli/cmd_plan_memory.c */
    {"serve", "--backend=gpu", NULL, NULL},   /* cli/serve_gpu.c */
    {"profile", "measure", NULL, NULL},       /* cli/cmd_profile_measure.c */
    {"validate", "--live=gpu", NULL, NULL},   /* cli/cmd_validate.c */
};
const size_t tetri_gpu_routes_len = sizeof tetri_gpu_routes / sizeof tetri_gpu_routes[0];

/* Whether argv (from argv[2]) has option `opt` with `value`: "--opt=value" or "--opt value". */
static int has_option_value(int argc, char *const *argv, const char *opt, size_t opt_len, const char *value)
{
    for (int i = 2; i < argc; i++) {
        if (strncmp(argv[i], opt, opt_len) != 0) continue;
        if (argv[i][opt_len] == '=' && strcmp(argv[i] + opt_len + 1, value) == 0) return 1;
        if (argv[i][opt_len] == '\0' && i + 1 < argc && strcmp(argv[i + 1], value) == 0) return 1;
    }
    return 0;
}

static int route_takes(const tetri_gpu_route *r, int argc, char *const *argv)
{
    if (argc < 2 || strcmp(argv[1], r->command) != 0) return 0;
    if (r->unless)
        for (int i = 2; i < argc; i++)
            if (strcmp(argv[i], r->unless) == 0) return 0;
    if (!r->when) return 1;
    const char *eq = strchr(r->when, '=');
    if (r->when[0] == '-' && eq) return has_option_value(argc, argv, r->when, (size_t)(eq - r->when), eq + 1);
    return argc > 2 && strcmp(argv[2], r->when) == 0;
}

long tetri_gpu_route_match(const tetri_gpu_route *routes, size_t n, int argc, char *const *argv)
{
    for (size_t i = 0; i < n; i++)
        if (route_takes(&routes[i], argc, argv)) return (long)i;
    return -1;
}

int tetri_gpu_program_path(char *buf, size_t len, tetri_error *err)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    const char *beside = "(unknown: /proc/self/exe unreadable)";
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            snprintf(slash + 1, sizeof self - (size_t)(slash + 1 - self), "tetri-gpu");
            beside = self;
            if (access(self, X_OK) == 0) return snprintf(buf, len, "%s", self) < (int)len ? 0 : -1;
        }
    }
    static const char installed[] = TETRI_PKGLIBEXECDIR "/tetri-gpu";
    if (access(installed, X_OK) == 0) return snprintf(buf, len, "%s", installed) < (int)len ? 0 : -1;
    return tetri_errorf(err, "its program tetri-gpu is neither beside this tetri (%s) nor installed (%s): build it (make) "
                             "or install it (make install)",
                        beside, installed);
}

int tetri_gpu_program_built(void)
{
#ifdef TETRI_HAVE_GPU_PROGRAM
    return 1;
#else
    return 0;
#endif
}

int tetri_exec_hop(const char *target, tetri_error *err)
{
    const char *v = getenv("TETRI_EXEC_HOPS");
    const int hops = v ? atoi(v) : 0;
    if (hops >= 3)
        return tetri_errorf(err, "handing the command to %s would be hand-over %d between tetri's programs: they hand it to each "
                                 "other in a loop (programs of two builds mixed, or objects older than the build's configure: "
                                 "make clean && make)",
                            target, hops + 1);
    char buf[16];
    snprintf(buf, sizeof buf, "%d", hops + 1);
    return setenv("TETRI_EXEC_HOPS", buf, 1) ? tetri_errorf(err, "setenv: %s", strerror(errno)) : 0;
}

int tetri_gpu_exec(char *const *argv, tetri_error *err)
{
#ifndef TETRI_HAVE_GPU_PROGRAM
    (void)argv;
    return tetri_errorf(err, "this build has no GPU part (configure: %s; README, \"Building for the GPU\")",
                        TETRI_GPU_ABSENT_WHY);
#else
    char path[PATH_MAX];
    if (tetri_gpu_program_path(path, sizeof path, err) || tetri_exec_hop(path, err)) return -1;
    execv(path, argv);
    return tetri_errorf(err, "cannot run %s: %s", path, strerror(errno));
#endif
}
