/* sched/rssp.c: rssp, resolution-specific sequence parallelism (DESIGN section 8).
 *
 * FCFS; every resolution runs all its steps at one fixed degree, chosen once from the profile:
 * the largest power-of-two degree k (k <= GPUs, with a profile row) whose parallel efficiency
 *     eff(k) = k0 T(k0) / (k T(k))
 * is at least the option `eff` (default 0.5), where T(k) is the per-step time at degree k
 * (batch 1, over the link class of an aligned block of k GPUs) and k0 the smallest degree with a
 * row (1 on every shipped profile, so eff(k) = T(1) / (k T(k)): the speed-up per GPU). With eff=0.5
 * a resolution scales out while each doubling still buys at least half of its ideal speed-up
 * overall. The paper's choice on 8 x H100 is 1/1/2/8 for 256/512/1024/2048; `tetri demo` prints
 * what this rule gives on the profile in use.
 *
 * A request takes a free aligned block of its degree (place=buddy, the default: the free block
 * whose enclosing larger blocks are most occupied, so large blocks stay whole for 2048-pixel
 * requests; place=first: the lowest-numbered free block). Strict FCFS: when the head cannot start,
 * nobody does; backfill=on lets later requests start meanwhile (which may delay the head).
 * Cost per call: O(pending x GPUs / degree x log GPUs). */
#include "sched/policies.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"

static const tetri_option_spec rssp_options[] = {
    {"eff", TETRI_OPT_DOUBLE, "0.5", "0.0..1.0", "parallel efficiency T(1)/(k T(k)) the chosen degree k must keep"},
    {"backfill", TETRI_OPT_BOOL, "off", NULL, "let later requests start when the head of the queue cannot"},
    {"place", TETRI_OPT_ENUM, "buddy", "buddy|first", "which free aligned block: keep large blocks whole, or the lowest"},
    {NULL, 0, NULL, NULL, NULL},
};

/* Resolutions seen so far and their degree: filled on first sight, so decide() stays O(1) per
 * request afterwards. Bounded; when full, degrees are recomputed (same answer, a little slower). */
#define RSSP_CACHE 64

typedef struct rssp_degree_entry {
    tetri_model model;
    int32_t width, height;
    int32_t degree;
} rssp_degree_entry;

typedef struct rssp {
    const tetri_profile *profile;
    const tetri_cluster *cluster;
    double eff;
    bool backfill;
    bool buddy;
    int n_cache;
    rssp_degree_entry cache[RSSP_CACHE];
} rssp;

int rssp_degree(const struct tetri_profile *profile, const tetri_cluster *cluster, tetri_model model, int width,
                int height, double eff)
{
    int best = 0;
    double ref = 0; /* k0 T(k0) */
    for (int k = 1; k <= cluster->n_gpus; k *= 2) {
        tetri_link link = tetri_cluster_link(cluster, tetri_gpuset_block(0, k));
        tetri_ns t = profile_lookup_step_ns(profile, model, width, height, k, 1, link);
        if (t <= 0) continue;
        if (ref == 0) {
            ref = (double)k * (double)t;
            best = k;
        } else if (ref / ((double)k * (double)t) >= eff) {
            best = k;
        }
    }
    /* No row at any degree: degree 1, and the host reports the missing row by name. */
    return best ? best : 1;
}

static int rssp_degree_cached(rssp *x, const tetri_request *r)
{
    for (int i = 0; i < x->n_cache; i++) {
        const rssp_degree_entry *e = &x->cache[i];
        if (e->model == r->model && e->width == r->width && e->height == r->height) return e->degree;
    }
    int k = rssp_degree(x->profile, x->cluster, r->model, r->width, r->height, x->eff);
    if (x->n_cache < RSSP_CACHE)
        x->cache[x->n_cache++] = (rssp_degree_entry){.model = r->model, .width = r->width, .height = r->height, .degree = k};
    return k;
}

static void *rssp_create(const tetri_options *o, const struct tetri_profile *profile, const tetri_cluster *cluster,
                         tetri_error *err)
{
    if (!profile) return tetri_errorf(err, "rssp needs a profile to choose its degrees"), NULL;
    rssp *x = calloc(1, sizeof *x);
    if (!x) return tetri_errorf(err, "out of memory"), NULL;
    x->profile = profile;
    x->cluster = cluster;
    x->eff = tetri_options_double(o, "eff");
    x->backfill = tetri_options_bool(o, "backfill");
    x->buddy = strcmp(tetri_options_str(o, "place"), "buddy") == 0;
    return x;
}

/* The free aligned block of `k` GPUs to use, or 0 when none is free. */
static tetri_gpuset rssp_find_block(const rssp *x, int k, tetri_gpuset occupied)
{
    const int n = x->cluster->n_gpus;
    const tetri_gpuset all = tetri_cluster_all(x->cluster);
    tetri_gpuset best = 0;
    uint64_t best_score = 0;
    for (int first = 0; first + k <= n; first += k) {
        tetri_gpuset b = tetri_gpuset_block(first, k);
        if (b & occupied) continue;
        if (!x->buddy) return b;
        /* Occupancy of the enclosing blocks of size 2k, 4k, ...: the tightest enclosing block
         * weighs most (7 bits per level, at most 6 levels for 64 GPUs). */
        uint64_t score = 0;
        for (int size = 2 * k; size <= 2 * n && size <= TETRI_MAX_GPUS; size *= 2) {
            tetri_gpuset enclosing = tetri_gpuset_block(first & ~(size - 1), size) & all;
            score = (score << 7) | (uint64_t)tetri_gpuset_count(enclosing & occupied);
        }
        if (!best || score > best_score) {
            best = b;
            best_score = score;
        }
    }
    return best;
}

static int rssp_decide(void *self, const tetri_view *v, tetri_plan *plan, tetri_error *err)
{
    rssp *x = self;
    tetri_gpuset occupied = v->busy;
    for (int32_t i = 0; i < v->n_requests; i++) {
        const tetri_request *r = v->requests[i];
        if (r->state != TETRI_REQ_WAITING) continue;
        int k = rssp_degree_cached(x, r);
        assert(k >= 1 && k <= x->cluster->n_gpus);
        tetri_gpuset b = rssp_find_block(x, k, occupied);
        if (!b) {
            if (x->backfill) continue;
            return 0; /* strict FCFS: the head waits */
        }
        plan->assign[plan->n_assign++] = (tetri_assignment){
            .req = {r->id}, .n_req = 1, .gpus = b, .steps = tetri_request_steps_left(r)};
        occupied |= b;
        if (occupied == tetri_cluster_all(x->cluster)) return 0;
    }
    return 0;
}

static void rssp_destroy(void *self) { free(self); }

const tetri_policy_ops tetri_policy_rssp = {
    .name = "rssp",
    .summary = "resolution-specific SP: FCFS, each resolution at its own fixed degree (largest with parallel efficiency >= eff), any free aligned block",
    .options = rssp_options,
    .create = rssp_create,
    .decide = rssp_decide,
    .destroy = rssp_destroy,
};
