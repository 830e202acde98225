/* cli/live_backend.c: the table of live backends (see live_backend.h): emulated, and the GPU
 * backend's place. */
#include "cli/live_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/emulated.h"

/* ---- emulated: worker threads that sleep the profile's time (exec/emulated.h) ------------------- */

/* Opened before each run (its clock starts there), on the profile's GPU count. */
static int open_emulated(void *ctx, const tetri_profile *profile, host_backend *be, void **handle, tetri_error *err)
{
    emulated_options *opt = ctx;
    opt->n_gpus = profile_cluster(profile)->n_gpus;
    emulated_backend *e;
    if (emulated_open(opt, &e, err)) return -1;
    emulated_bind(be, e);
    *handle = e;
    return 0;
}

static void close_emulated(void *ctx, void *handle)
{
    (void)ctx;
    emulated_close(handle);
}

static int begin_emulated(const live_options *o, live_backend *lb, tetri_error *err)
{
    emulated_options *opt = calloc(1, sizeof *opt);
    if (!opt) return tetri_errorf(err, "out of memory");
    opt->speed = o->speed;
    opt->settle_ns = (tetri_ns)llround(o->settle_us * 1e3);
    opt->fail_every = (int64_t)o->inject;
    snprintf(lb->key, sizeof lb->key, "backend=emulated,speed=%.17g,settle_ns=%lld,max_failures=%d,inject=%lld", o->speed,
             (long long)opt->settle_ns, (int)o->max_failures, (long long)o->inject);
    lb->sweep = (sweep_backend){.name = "emulated", .key = lb->key, .open = open_emulated, .close = close_emulated, .ctx = opt};
    lb->state = opt;
    lb->free_state = free;
    return 0;
}

/* ---- the table ------------------------------------------------------------------------------------ */

typedef struct live_kind {
    const char *name;       /* as typed after --backend / --live */
    /* Fills lb (sweep, key, state) from the options; NULL: not in this build, `missing` says why. */
    int (*begin)(const live_options *o, live_backend *lb, tetri_error *err);
    const char *missing;
} live_kind;

/* The GPU backend (exec/gpu.c: gpu_open, gpu_bind, gpu_close, results backend "exec") takes the
 * place of its entry here: a begin_gpu like begin_emulated, built where CUDA is. */
static const live_kind kinds[] = {
    {"emulated", begin_emulated, NULL},
    {"gpu", NULL, "the GPU backend is not built yet (exec/gpu.c is being written); use emulated"},
};
#define N_KINDS (sizeof kinds / sizeof kinds[0])

const char *live_backend_names(void)
{
    static char names[256];
    if (!names[0])
        for (size_t i = 0; i < N_KINDS; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s%s", i ? ", " : "", kinds[i].name,
                     kinds[i].begin ? "" : " (not built)");
    return names;
}

/* The entry called `name` of this build, or NULL with err. */
static const live_kind *find_kind(const char *name, tetri_error *err)
{
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcmp(name, kinds[i].name) != 0) continue;
        if (!kinds[i].begin) {
            tetri_errorf(err, "'%s': %s", name, kinds[i].missing);
            return NULL;
        }
        return &kinds[i];
    }
    tetri_errorf(err, "'%s' is not a backend (%s)", name, live_backend_names());
    return NULL;
}

int live_backend_check(const char *name, tetri_error *err) { return find_kind(name, err) ? 0 : -1; }

int live_backend_open(const char *name, const live_options *o, live_backend *lb, tetri_error *err)
{
    memset(lb, 0, sizeof *lb);
    const live_kind *k = find_kind(name, err);
    return k ? k->begin(o, lb, err) : -1;
}

void live_backend_close(live_backend *lb)
{
    if (lb->free_state) lb->free_state(lb->state);
    memset(lb, 0, sizeof *lb);
}
