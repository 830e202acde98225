/* cli/gpu_dispatch.h: the command lines that run on the GPU, and handing them to tetri-gpu.
 * defines: tetri_gpu_route, tetri_gpu_routes, tetri_gpu_routes_len, tetri_gpu_route_match,
 *          tetri_gpu_program_built, tetri_gpu_program_path, tetri_gpu_exec, tetri_exec_hop.
 *
 * `tetri` links no CUDA library, so `tetri --help` and every simulator command start without
 * loading them (DESIGN section 1). The GPU commands live in a second program, tetri-gpu: the same
 * commands compiled with TETRI_HAVE_CUDA, plus the GPU ones, linked with CUDA. When tetri is asked
 * for a GPU command it execs tetri-gpu with the same argv: first the one next to the running
 * binary (/proc/self/exe: the build tree), then the installed one ($(pkglibexecdir)/tetri-gpu). A
 * GPU command is one line in tetri_gpu_routes (cli/gpu_dispatch.c). */
#ifndef TETRI_CLI_GPU_DISPATCH_H
#define TETRI_CLI_GPU_DISPATCH_H

#include <stddef.h>

#include "core/error.h"

typedef struct tetri_gpu_route {
    const char *command;   /* the subcommand, argv[1] */
    /* NULL: every use of the command; "--opt=value": when the command line has that option with
     * that value (as "--opt=value" or "--opt value"); "word": when its first argument is word. */
    const char *when;
    const char *summary;   /* for tetri --help: a whole GPU command's line (NULL for a variant) */
    /* NULL, or an option ("--opt") whose presence keeps the command line in tetri: a part of the
     * command that needs no GPU (bench-step --plan-memory). */
    const char *unless;
} tetri_gpu_route;

extern const tetri_gpu_route tetri_gpu_routes[];
extern const size_t tetri_gpu_routes_len;

/* The index in routes[0..n) of the first route argv (argv[0] the program, argv[1] the
 * subcommand) takes, or -1 when it runs in tetri itself. */
long tetri_gpu_route_match(const tetri_gpu_route *routes, size_t n, int argc, char *const *argv);

/* Where tetri-gpu is: beside the running binary when there, else the installed path. Writes it to
 * buf and returns 0, or returns -1 with err naming both places when neither has it. */
int tetri_gpu_program_path(char *buf, size_t len, tetri_error *err);

/* Whether this build has tetri-gpu (configure found CUDA). */
int tetri_gpu_program_built(void);

/* Execs tetri-gpu with argv. Returns only on failure: -1 with err (this build has no GPU part, the
 * program is missing, or exec failed, with the system's reason). */
int tetri_gpu_exec(char *const *argv, tetri_error *err);
/* Called before tetri hands a command to another of its programs (tetri-gpu, tetri-mpi): counts
 * the hand-overs in the environment (TETRI_EXEC_HOPS) and refuses a fourth, which only a loop can
 * make (programs of two builds mixed, or a build folder whose objects predate a configure change:
 * tetri and tetri-mpi each taking the other for the one with the GPU part). 0, or -1 with err. */
int tetri_exec_hop(const char *target, tetri_error *err);

#endif
