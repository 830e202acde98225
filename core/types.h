/* core/types.h: the core types every part of tetri shares.
 * defines: tetri_ns, tetri_gpuset, tetri_model, tetri_request, tetri_cluster, tetri_link,
 *          tetri_outcome, tetri_sets, gpuset helpers (tetri_gpuset_block, tetri_gpuset_is_block, tetri_gpuset_name), model names,
 *          tetri_sides_parse, tetri_int_parse, TETRI_MAX_SIDE, tetri_monotonic_ns, tetri_seconds_since, TETRI_AFTER_IDLE_NS.
 *
 * Time is int64 nanoseconds everywhere (virtual in the simulator, monotonic since the run's start
 * in the executor). Doubles appear only at the edges (command line, CSV, reports). */
#ifndef TETRI_CORE_TYPES_H
#define TETRI_CORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef int64_t tetri_ns;
#define TETRI_NS_PER_S  1000000000LL
#define TETRI_NS_PER_MS 1000000LL
/* A block starts "after idle" when each of its GPUs ended its previous block this long before, or
 * ran none: a power-bound GPU's clock rises while it idles (on an H200 such blocks ran 3-4% fast),
 * while profiles are measured back to back. One threshold for tetri validate's split of the block
 * errors, the GPU backend's report and the minimum idle tetri profile measure --idle-speedup writes. */
#define TETRI_AFTER_IDLE_NS (50 * TETRI_NS_PER_MS)
#define TETRI_NS_NEVER  INT64_MAX

/* The monotonic clock in ns: what every real-time measurement reads (the executor's run clock,
 * host overhead, decide times, start-up and settle durations). */
tetri_ns tetri_monotonic_ns(void);
/* Seconds on the monotonic clock since t0 (a tetri_monotonic_ns reading). */
double tetri_seconds_since(tetri_ns t0);

/* A set of physical GPUs, bit i = GPU i. Its popcount is the sequence-parallel degree. */
typedef uint64_t tetri_gpuset;
#define TETRI_MAX_GPUS 64

static inline int tetri_gpuset_count(tetri_gpuset s) { return __builtin_popcountll(s); }
static inline bool tetri_gpuset_has(tetri_gpuset s, int gpu) { return (s >> gpu) & 1u; }
/* The aligned block of `size` GPUs (a power of two) starting at GPU `first`. */
static inline tetri_gpuset tetri_gpuset_block(int first, int size)
{
    return (size >= 64 ? ~0ULL : ((1ULL << size) - 1)) << first;
}
/* Whether `s` is an aligned block: a power-of-two count of GPUs starting at a multiple of that count.
 * The sets the executor keeps NCCL communicators for (exec/comms.c) and placement prefers
 * (sched/placement.h); one definition for both. */
static inline bool tetri_gpuset_is_block(tetri_gpuset s)
{
    const int n = tetri_gpuset_count(s), first = s ? __builtin_ctzll(s) : 0;
    return n > 0 && (n & (n - 1)) == 0 && first % n == 0 && s == tetri_gpuset_block(first, n);
}

/* "GPU 4", "GPUs 0-3" (consecutive) or "GPUs 1,2,5", cut to fit: a set as messages name it. */
void tetri_gpuset_name(tetri_gpuset set, char *buf, size_t len);

/* The largest image side (width or height, pixels) tetri takes anywhere: a trace, the generator, a
 * profile's rows and lookups. One rule, so a trace that `tetri workload --check` accepts is one the
 * simulator can cost. 16384 px is 1024 x 1024 = 1M latent tokens, far beyond any model here. */
#define TETRI_MAX_SIDE 16384

typedef enum tetri_model {
    TETRI_MODEL_FLUX_DEV = 0,   /* FLUX.1-dev: 19 double + 38 single blocks, hidden 3072 */
    TETRI_MODEL_SD3_MEDIUM = 1, /* SD3-medium: 24 joint blocks, hidden 1536 */
    TETRI_MODEL_COUNT
} tetri_model;

/* "flux-dev" / "sd3-medium". */
const char *tetri_model_name(tetri_model m);
/* Accepts the canonical names and the published ones ("FLUX.1-dev", "flux", "sd3", "SD3-medium").
 * Returns 0 and sets *out, or -1 for an unknown name. */
int tetri_model_parse(const char *name, tetri_model *out);
/* A comma-separated list of image sides in pixels ("256,512,1024"), each a multiple of 16 in
 * 16..max_side, into out[0..max): how many, or -1 when the text is not such a list. */
int tetri_sides_parse(const char *list, int max_side, int *out, int max);
/* A whole decimal number in lo..hi, the whole text ("12", not "12x" or ""). Returns 0 and sets
 * *out, or -1. */
int tetri_int_parse(const char *s, int lo, int hi, int *out);

/* Link classes between the GPUs of a set: FAST when every pair shares a fast link (NVLink, or
 * a single GPU), SLOW when some pair talks over the slower link (PCIe between NVLink pairs). */
typedef enum tetri_link { TETRI_LINK_FAST = 0, TETRI_LINK_SLOW = 1, TETRI_LINK_COUNT } tetri_link;
const char *tetri_link_name(tetri_link l); /* "nvlink" / "pcie" */
int tetri_link_parse(const char *name, tetri_link *out);

typedef enum tetri_req_state {
    TETRI_REQ_WAITING = 0, /* arrived, not running a block now (may have run some steps) */
    TETRI_REQ_RUNNING,     /* running a block until busy_until */
    TETRI_REQ_DONE,
    TETRI_REQ_DROPPED,
} tetri_req_state;

/* How a request ended: every request ends as exactly one of these. */
typedef enum tetri_outcome { TETRI_MET = 0, TETRI_LATE = 1, TETRI_DROPPED = 2 } tetri_outcome;
const char *tetri_outcome_name(tetri_outcome o); /* "met" / "late" / "dropped" */

typedef struct tetri_request {
    int32_t id;              /* index in the trace, 0..n-1 */
    tetri_model model;
    int32_t width, height;   /* pixels, multiples of 16; tokens = (w/16)(h/16) */
    int32_t steps_total;     /* denoising steps asked for */
    int32_t steps_done;      /* steps finished so far */
    tetri_ns arrival, deadline;
    tetri_gpuset last_gpus;  /* the GPU set of its last block; 0 before it first runs */
    tetri_req_state state;
    tetri_ns busy_until;     /* when RUNNING: the end of its current block */
} tetri_request;

static inline int32_t tetri_request_tokens(const tetri_request *r)
{
    return (r->width / 16) * (r->height / 16);
}
static inline int32_t tetri_request_steps_left(const tetri_request *r)
{
    return r->steps_total - r->steps_done;
}

/* Which GPU sets may run a block of degree k > 1 (degree 1 is always any single GPU).
 * ANY: every set of k GPUs (the simulator's and the emulated backend's default, as before the rule).
 * ALIGNED: only aligned power-of-two blocks (tetri_gpuset_is_block): the sets the GPU backend has
 * NCCL communicators and CUDA graphs for, so a plan it cannot run is refused as a policy bug
 * (host/plan_check.c) instead of ending a live run the first time placement fragments. */
typedef enum tetri_sets { TETRI_SETS_ANY = 0, TETRI_SETS_ALIGNED = 1 } tetri_sets;
const char *tetri_sets_name(tetri_sets s); /* "any" / "aligned" */
int tetri_sets_parse(const char *name, tetri_sets *out);

/* The GPUs a host owns and how they are linked. GPUs with the same fast_domain share fast links
 * (8 x H100: one domain; 4 x A40: domains 0,0,1,1). */
typedef struct tetri_cluster {
    int32_t n_gpus;
    int32_t fast_domain[TETRI_MAX_GPUS];
    char hardware[48];       /* profile hardware name, e.g. "h100x8" */
    tetri_sets sets;         /* which sets a block may use (TETRI_SETS_ANY after tetri_cluster_init) */
} tetri_cluster;

/* Every GPU of the cluster. */
static inline tetri_gpuset tetri_cluster_all(const tetri_cluster *c)
{
    return c->n_gpus >= 64 ? ~0ULL : (1ULL << c->n_gpus) - 1;
}
/* Whether the cluster's rule lets a block run on `set` (not checked: that its GPUs exist). */
static inline bool tetri_cluster_set_ok(const tetri_cluster *c, tetri_gpuset set)
{
    return c->sets == TETRI_SETS_ANY || tetri_gpuset_count(set) <= 1 || tetri_gpuset_is_block(set);
}
/* FAST when all GPUs of `set` sit in one fast domain, else SLOW. */
tetri_link tetri_cluster_link(const tetri_cluster *c, tetri_gpuset set);
/* A cluster of n GPUs with fast links inside groups of `domain_size` consecutive GPUs
 * (domain_size >= n: all pairs fast). */
void tetri_cluster_init(tetri_cluster *c, const char *hardware, int n_gpus, int domain_size);

#endif
