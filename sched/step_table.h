/* sched/step_table.h: per-resolution step times cached from the cost model, for the policies.
 * defines: TETRI_STEP_MAX_DEGREES, step_class, step_table, step_table_init/free/find/class,
 *          step_class_ns, step_table_degree_index, step_tau_from, step_table_round_slowest.
 *
 * Policies ask for the same few (model, width, height) step times thousands of times per run.
 * The table asks the profile once per resolution class, for every degree the profile and cluster
 * allow, both link classes and every batch size, and keeps the answers in a flat array, so a
 * decide() call only scans a handful of classes and never allocates (the array grows only when a
 * new resolution first appears, which happens a few times per run). */
#ifndef TETRI_SCHED_STEP_TABLE_H
#define TETRI_SCHED_STEP_TABLE_H

#include "core/error.h"
#include "sched/policy.h"
#include "core/types.h"

#define TETRI_STEP_MAX_DEGREES 16

/* The step times of one resolution class. Times are -1 where the profile has no row. */
typedef struct step_class {
    tetri_model model;
    int32_t width, height;
    /* t[d][link][b]: one step of a batch of b identical requests at degree index d. b = 1..MAX. */
    tetri_ns t[TETRI_STEP_MAX_DEGREES][TETRI_LINK_COUNT][TETRI_MAX_BATCH + 1];
    /* Batch 1 over the best link a set of that degree can have on this cluster (-1: no row). */
    tetri_ns t_best[TETRI_STEP_MAX_DEGREES];
    int32_t max_batch[TETRI_STEP_MAX_DEGREES]; /* profile_max_batch at that degree, 1..TETRI_MAX_BATCH */
    int32_t batch_limit;                       /* the largest of them */
    tetri_ns t_min;      /* fastest batch-1 step over degrees (best link); -1: no degree at all */
    int32_t fastest;     /* degree index of t_min */
    tetri_ns migration_ns[TETRI_LINK_COUNT]; /* a move per link class: the by_link of profile.h's migration rule */
    tetri_ns prepare_ns; /* a request's preparation before its first step: the prepare_ns of profile.h's prepare rule */
} step_class;

typedef struct step_table {
    const struct tetri_profile *profile;
    const tetri_cluster *cluster;
    int32_t n_degrees;
    int32_t degree[TETRI_STEP_MAX_DEGREES];        /* ascending, each <= the cluster's GPU count */
    tetri_link best_link[TETRI_STEP_MAX_DEGREES];  /* FAST when one fast domain holds that many GPUs */
    int8_t index_of[TETRI_MAX_GPUS + 1];           /* degree -> index, -1 when not a degree */
    step_class *cls;
    int32_t n_cls, cap_cls;
    int32_t last_hit;                              /* the class found last: runs repeat them */
    /* Per model: the largest, over the profile's resolutions, of the fastest batch-1 step
     * (degrees of this table, their best link); 0 when the profile has no row of that model. */
    tetri_ns profile_slowest_fastest[TETRI_MODEL_COUNT];
    /* step_table_round_slowest's over view.served, computed at its first call for that array */
    const tetri_request_class *served_of;
    tetri_ns served_slowest;
} step_table;

/* Reads the degrees the profile has (every model's, merged) that fit the cluster. Returns 0, or -1 with err when the profile has no usable degree. */
int step_table_init(step_table *t, const struct tetri_profile *profile, const tetri_cluster *cluster, tetri_error *err);
void step_table_free(step_table *t);
/* The index of the class of (model, width, height), looked up in the profile the first time;
 * -1 only when out of memory. An index stays valid for the table's life; a pointer from
 * step_table_class only until the next new class (the array may move), so callers keep indices. */
int32_t step_table_find(step_table *t, tetri_model model, int32_t width, int32_t height);
static inline int32_t step_table_find_request(step_table *t, const tetri_request *r)
{
    return step_table_find(t, r->model, r->width, r->height);
}
static inline const step_class *step_table_class(const step_table *t, int32_t index)
{
    return &t->cls[index];
}
/* One step at degree index d over `link` with a batch of b; falls back to the other link class
 * when the profile has only that one (a cluster whose sets are all of one class). -1: no row. */
static inline tetri_ns step_class_ns(const step_class *c, int d, tetri_link link, int b)
{
    tetri_ns t = c->t[d][link][b];
    return t > 0 ? t : c->t[d][link == TETRI_LINK_FAST ? TETRI_LINK_SLOW : TETRI_LINK_FAST][b];
}
static inline int step_table_degree_index(const step_table *t, int degree)
{
    return degree >= 0 && degree <= TETRI_MAX_GPUS ? t->index_of[degree] : -1;
}

/* Which classes a round length (tetriserve's and optimal's tau = g x the slowest fastest step)
 * is taken over:
 *   SERVED   the classes the run serves (view.served, the workload's), and any seen besides; the
 *            profile's of the models seen when the host declares none. Stable from the first round.
 *   PROFILE  every resolution the profile has for the models seen, and the classes seen: stable
 *            too, but a profile wider than the workload (2048 px rows, 1024 px served) makes
 *            rounds of the slowest size the run never serves.
 *   SEEN     the classes that have arrived so far (tau grows when a slower one first comes).
 *   PENDING  the classes of the requests in this view. */
typedef enum step_tau_from { STEP_TAU_SERVED, STEP_TAU_PROFILE, STEP_TAU_SEEN, STEP_TAU_PENDING } step_tau_from;

/* The slowest, over the classes `from` names, of the fastest batch-1 step (step_class.t_min);
 * classes the profile cannot run are left out. 0 when there is none; -1 when out of memory. Adds
 * the view's requests' classes to the table first. O(classes + requests) a call. */
tetri_ns step_table_round_slowest(step_table *t, const tetri_view *v, step_tau_from from);

#endif
