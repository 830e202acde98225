/* profiles/profile.h: the cost model. Per-step latency profiles kept in SQLite, loaded once.
 * defines: tetri_profile, tetri_step_cost, profile_open/close, profile_open_option, profile_lookup_step_ns,
 *          profile_step_cost, profile_migration_ns, profile_cluster, profile_set_sets, profile_degrees,
 *          profile_default_path, tetri_profile_row, profile_row_count/at, tetri_profile_hw,
 *          tetri_block_cost, profile_block_cost, profile_prepare_ns, tetri_prepare_rule_ns, tetri_migration_rule_ns,
 *          tetri_migration_estimate_ns, tetri_lead_in_rule_ns, tetri_lead_in_estimate_ns, profile_hardware_count/at, profile_digest, profile_flags,
 *          tetri_idle_speedup, profile_idle_speedup, tetri_idle_speedup_rule_ns.
 *
 * Schema (DESIGN section 3): see profiles/schema.sql. The loader reads every row of one hardware
 * into memory; lookups during a run never touch SQLite. A resolution that was not measured is
 * interpolated over token count and flagged; a degree that was not measured is an error unless the
 * caller opened with TETRI_PROFILE_ANALYTIC_FALLBACK. */
#ifndef TETRI_PROFILES_PROFILE_H
#define TETRI_PROFILES_PROFILE_H

#include <math.h>
#include <stdbool.h>

#include "core/error.h"
#include "core/types.h"

typedef struct tetri_profile tetri_profile;

/* 2: the hardware's link model (a2a_latency_us, link_source) and the source
 * 'measured-compute+modelled-comm'; tetri reads 1 and 2. */
#define TETRI_PROFILE_SCHEMA_VERSION 2

enum {
    TETRI_PROFILE_ANALYTIC_FALLBACK = 1 << 0, /* unmeasured degrees come from the analytic model */
};

typedef struct tetri_step_cost {
    tetri_ns median_ns, p10_ns, p90_ns;
    double cv;             /* coefficient of variation of one step's time (jitter) */
    int interpolated;      /* resolution not in the profile: interpolated over tokens */
    int analytic;          /* row(s) behind it came from the analytic model, not measurement */
    int modelled_comm;     /* row(s) behind it: one rank's compute measured, the all-to-alls modelled
                            * (source 'measured-compute+modelled-comm') */
    int extrapolated;      /* outside the measured token range: nearest row scaled by the analytic
                            * model's ratio (implies interpolated) */
    int fallback;          /* no row for the degree: computed by the analytic model
                            * (TETRI_PROFILE_ANALYTIC_FALLBACK) */
} tetri_step_cost;

/* The profile a command uses when given none: $TETRI_PROFILE when set and non-empty, else
 * PKGDATADIR/default.db when installed, else the source tree's profiles/default.db (compiled in),
 * else the installed path (so the "no such file" error names where it was expected). */
const char *profile_default_path(void);

/* Opens `path` read-only (never creating it) and loads the rows of `hardware` (NULL: the one its
 * meta 'default_hardware' names, else its first by name). Errors name the file: missing, not
 * SQLite, not a tetri profile, newer schema, unknown hardware (listing the known ones), a row with
 * impossible values (naming the row and field). Returns 0 or -1 with err. */
int profile_open(const char *path, const char *hardware, int flags, tetri_profile **out, tetri_error *err);
/* How a command opens its profile: `given`, the value of its option `option` ("--profile",
 * "--db", ...), or when NULL the default (profile_default_path). profile_open's errors then say
 * where the path came from: "--profile: profile FILE: why" when given, "TETRI_PROFILE: profile
 * FILE: why" from the environment, else "profile FILE: why (the default: give one with --profile,
 * or set TETRI_PROFILE)". err must not be NULL. Returns 0 or -1 with err. */
int profile_open_option(const char *option, const char *given, const char *hardware, int flags, tetri_profile **out,
                        tetri_error *err);
void profile_close(tetri_profile *p);

/* The hardware's GPUs and fast-link domains. */
const tetri_cluster *profile_cluster(const tetri_profile *p);
/* Sets the cluster's rule for the GPU sets of a block (TETRI_SETS_ANY when opened). Not a cost:
 * it is left out of profile_digest (run keys name it apart, sim/sweep.c). Call it before the
 * profile is shared with threads or runs. */
void profile_set_sets(tetri_profile *p, tetri_sets sets);
const char *profile_hardware(const tetri_profile *p);
/* The path it was opened from. */
const char *profile_path(const tetri_profile *p);
/* A digest of everything loaded that shapes a cost (core/digest.h): the hardware, every step and
 * migration row of it, the flags it was opened with and the analytic model behind the fallback and
 * extrapolation. Equal digests, equal costs, whatever the file's name or its other hardware. */
uint64_t profile_digest(const tetri_profile *p);
/* The flags it was opened with (TETRI_PROFILE_ANALYTIC_FALLBACK). */
int profile_flags(const tetri_profile *p);

/* Median time of one denoising step of a batch of `batch` identical requests at sequence-parallel
 * degree `degree` over link class `link` (ignored at degree 1). O(1) and allocation-free for
 * profiled resolutions; others are interpolated over tokens (O(log resolutions), also
 * allocation-free) or, beyond the profiled range and for batch 1, extrapolated. A loaded profile
 * is read-only: threads may share it. Returns -1 when (model, degree, batch, link) has no row
 * (and no fallback), or no set of `degree` GPUs has that link class on this hardware. */
tetri_ns profile_lookup_step_ns(const tetri_profile *p, tetri_model model, int width, int height,
                                int degree, int batch, tetri_link link);
/* The full record behind a lookup. Returns 0, or -1 with err naming what is missing. */
int profile_step_cost(const tetri_profile *p, tetri_model model, int width, int height, int degree,
                      int batch, tetri_link link, tetri_step_cost *out, tetri_error *err);
/* Cost of moving a request's state (latent, text embeddings) to a different GPU set: linear in
 * tokens between migration rows; the nvlink rows when `link` has none; 0 when the profile has no
 * migration rows for the model. */
tetri_ns profile_migration_ns(const tetri_profile *p, tetri_model model, int width, int height, tetri_link link);
/* ---- the one block-cost rule ---------------------------------------------------------------------
 * A block of q steps of a batch on GPU set G occupies G for q x T(model, size, |G|, batch, link(G))
 * plus the migration of its members' state when G differs from where they last ran. Members move
 * in parallel, so the block waits for the slowest move. The host (predicted block times, the
 * simulator's and the emulated backend's block times) and every policy cost blocks by these. */

/* The move a block pays for one member: none before its first block (prev = 0) or on the same set,
 * else the migration cost over the link class that joins the two sets. `by_link`: that model and
 * size's cost per link class (profile_migration_ns, or a policy's cached copy). */
static inline tetri_ns tetri_migration_rule_ns(const tetri_cluster *c, tetri_gpuset prev, tetri_gpuset gpus,
                                               const tetri_ns by_link[TETRI_LINK_COUNT])
{
    return prev == 0 || prev == gpus ? 0 : by_link[tetri_cluster_link(c, prev | gpus)];
}
/* The same rule when only the degree of the next set is known (before placement): placement keeps
 * a request on its set when the degree does not change, so only a new degree is sure to move it,
 * at least at the fast link's cost. A lower bound of tetri_migration_rule_ns once the set is chosen. */
static inline tetri_ns tetri_migration_estimate_ns(tetri_gpuset prev, int degree, const tetri_ns by_link[TETRI_LINK_COUNT])
{
    return prev != 0 && tetri_gpuset_count(prev) != degree ? by_link[TETRI_LINK_FAST] : 0;
}

/* A member at its first block (prev = 0) moves nothing but makes its state first (stage
 * 'prepare': seeded inputs, the conditioning of its whole schedule); a block's members at their
 * first block do so one after another on the GPU's stream. `prepare_ns`: profile_prepare_ns of
 * the members' model and size (or a policy's cached copy). With the move rule above, what a block
 * pays before its steps: the host's block times and the policies' block sizing both. */
static inline tetri_ns tetri_prepare_rule_ns(tetri_gpuset prev, int n_members, tetri_ns prepare_ns)
{
    return prev == 0 ? (tetri_ns)n_members * prepare_ns : 0;
}

/* A block's lead-in, what it pays before its steps, for members that share `prev` (one request, or
 * a batch formed at one schedule position): the move rule plus the prepare rule. `_rule` once the
 * set is chosen; `_estimate` before, from the degree alone (tetri_migration_estimate_ns). */
static inline tetri_ns tetri_lead_in_rule_ns(const tetri_cluster *c, tetri_gpuset prev, tetri_gpuset gpus, int n_members,
                                             const tetri_ns by_link[TETRI_LINK_COUNT], tetri_ns prepare_ns)
{
    return tetri_migration_rule_ns(c, prev, gpus, by_link) + tetri_prepare_rule_ns(prev, n_members, prepare_ns);
}
static inline tetri_ns tetri_lead_in_estimate_ns(tetri_gpuset prev, int degree, int n_members, const tetri_ns by_link[TETRI_LINK_COUNT],
                                                 tetri_ns prepare_ns)
{
    return tetri_migration_estimate_ns(prev, degree, by_link) + tetri_prepare_rule_ns(prev, n_members, prepare_ns);
}

typedef struct tetri_block_cost {
    tetri_ns step_ns;       /* one step at the set's degree, batch and link class */
    tetri_ns compute_ns;    /* steps x step_ns */
    tetri_ns migration_ns;  /* the slowest member's move (0: nobody moves) */
    tetri_ns prepare_ns;    /* its members' first blocks: making their state (stage 'prepare'; 0 without rows) */
    tetri_ns total_ns;      /* compute_ns + migration_ns + prepare_ns: how long the block holds its GPUs */
    double step_cv;         /* the step's coefficient of variation (0: unknown) */
} tetri_block_cost;

/* A request's preparation before its first step on the executor (its state: seeded inputs and the
 * conditioning of its whole schedule), from the profile's stage 'prepare' rows, linear in tokens
 * between them; 0 when the profile has none (the analytic profiles). */
tetri_ns profile_prepare_ns(const tetri_profile *p, tetri_model model, int width, int height);
/* Costs a block of `steps` steps of `batch` requests of (model, width, height) on `gpus` whose
 * members last ran on prev[0..n_prev-1] (0: never ran; such a member pays its preparation). Returns 0, or -1 with err naming what the
 * profile lacks. */
int profile_block_cost(const tetri_profile *p, tetri_model model, int width, int height, int steps, int batch,
                       tetri_gpuset gpus, const tetri_gpuset *prev, int n_prev, tetri_block_cost *out, tetri_error *err);

/* How a GPU that idled runs its next block (the optional idle_speedup table): a power-bound GPU
 * runs below its top clock under sustained load, and its clock rises while it idles. The profile's
 * step times are measured back to back; a block whose GPUs each idled min_idle_ns or more before
 * it (or ran nothing before) runs its first boost_ns of compute at factor x those times. */
typedef struct tetri_idle_speedup {
    bool present;           /* false: the profile has no row for its hardware (factor 1) */
    tetri_ns min_idle_ns, boost_ns;
    double factor;          /* (0, 1] */
} tetri_idle_speedup;
const tetri_idle_speedup *profile_idle_speedup(const tetri_profile *p);
/* The rule: a block's compute of `compute_ns` after its GPUs idled `idle_ns` (< 0: they never ran). */
static inline tetri_ns tetri_idle_speedup_rule_ns(const tetri_idle_speedup *s, tetri_ns compute_ns, tetri_ns idle_ns)
{
    if (!s->present || (idle_ns >= 0 && idle_ns < s->min_idle_ns)) return compute_ns;
    const tetri_ns boosted = compute_ns < s->boost_ns ? compute_ns : s->boost_ns;
    return compute_ns - (tetri_ns)llround((double)boosted * (1.0 - s->factor));
}

/* Degrees with rows for this model, ascending (1, 2, 4, 8 ...). Returns how many (<= max). */
int profile_degrees(const tetri_profile *p, tetri_model model, int *degrees, int max);
/* The loaded step rows of this hardware, sorted by model, tokens, width, degree, batch, link. */
typedef struct tetri_profile_row {
    tetri_model model;
    int width, height, degree, ulysses, ring, batch;
    tetri_link link;
    tetri_step_cost cost;
    int samples;
} tetri_profile_row;
int profile_row_count(const tetri_profile *p);
const tetri_profile_row *profile_row_at(const tetri_profile *p, int i);

/* Every hardware the database holds (not only the loaded one), sorted by name. */
typedef struct tetri_profile_hw {
    char name[48], gpu[64];
    int n_gpus, fast_domain_size, rows;
    /* The link model (schema 2; zero / "" where the profile has none): effective all-to-all
     * bandwidth per rank on the fast and slow links, one all-to-all's floor, and its source. */
    double fast_link_gbps, slow_link_gbps, a2a_latency_us;
    char link_source[256];
} tetri_profile_hw;
int profile_hardware_count(const tetri_profile *p);
const tetri_profile_hw *profile_hardware_at(const tetri_profile *p, int i);

/* Largest batch size with a row at this model/resolution/degree (1 when only single requests). */
int profile_max_batch(const tetri_profile *p, tetri_model model, int width, int height, int degree);

#endif
