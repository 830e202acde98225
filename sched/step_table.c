/* sched/step_table.c: the per-resolution cache of step times (see step_table.h). */
#include "sched/step_table.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/profile.h"

/* The largest fast domain of the cluster: sets up to that size can be all-fast. */
static int largest_fast_domain(const tetri_cluster *c)
{
    int best = 1;
    for (int g = 0; g < c->n_gpus; g++) {
        int n = 0;
        for (int h = 0; h < c->n_gpus; h++) n += c->fast_domain[h] == c->fast_domain[g];
        if (n > best) best = n;
    }
    return best;
}

int step_table_init(step_table *t, const struct tetri_profile *profile, const tetri_cluster *cluster, tetri_error *err)
{
    memset(t, 0, sizeof *t);
    t->profile = profile;
    t->cluster = cluster;
    memset(t->index_of, -1, sizeof t->index_of);
    /* Union of every model's degrees: a policy serves whatever model a trace names. */
    int seen[TETRI_MAX_GPUS + 1] = {0};
    for (int m = 0; m < TETRI_MODEL_COUNT; m++) {
        int deg[TETRI_STEP_MAX_DEGREES];
        int n = profile_degrees(profile, (tetri_model)m, deg, TETRI_STEP_MAX_DEGREES);
        for (int i = 0; i < n; i++)
            if (deg[i] >= 1 && deg[i] <= cluster->n_gpus) seen[deg[i]] = 1;
    }
    int dom = largest_fast_domain(cluster);
    for (int k = 1; k <= cluster->n_gpus && k <= TETRI_MAX_GPUS; k++) {
        if (!seen[k] || t->n_degrees == TETRI_STEP_MAX_DEGREES) continue;
        t->index_of[k] = (int8_t)t->n_degrees;
        t->best_link[t->n_degrees] = k <= dom ? TETRI_LINK_FAST : TETRI_LINK_SLOW;
        t->degree[t->n_degrees++] = k;
    }
    if (t->n_degrees == 0)
        return tetri_errorf(err, "profile %s has no degree that fits the %d GPUs of %s", profile_path(profile),
                            cluster->n_gpus, cluster->hardware);
    /* Rows come sorted by model, tokens, width: one pass finds each resolution's fastest step. */
    for (int i = 0, n = profile_row_count(profile); i < n;) {
        const tetri_profile_row *r = profile_row_at(profile, i);
        tetri_ns fastest = 0;
        int j = i;
        for (; j < n; j++) {
            const tetri_profile_row *q = profile_row_at(profile, j);
            if (q->model != r->model || q->width != r->width || q->height != r->height) break;
            int d = step_table_degree_index(t, q->degree);
            if (d < 0 || q->batch != 1 || q->link != t->best_link[d]) continue;
            if (!fastest || q->cost.median_ns < fastest) fastest = q->cost.median_ns;
        }
        if ((unsigned)r->model < TETRI_MODEL_COUNT && fastest > t->profile_slowest_fastest[r->model])
            t->profile_slowest_fastest[r->model] = fastest;
        i = j;
    }
    t->cap_cls = 8;
    t->cls = calloc((size_t)t->cap_cls, sizeof *t->cls);
    if (!t->cls) return tetri_errorf(err, "out of memory");
    return 0;
}

void step_table_free(step_table *t)
{
    free(t->cls);
    t->cls = NULL;
    t->n_cls = t->cap_cls = 0;
}

static void fill_class(const step_table *t, step_class *c)
{
    c->t_min = -1;
    c->fastest = -1;
    c->batch_limit = 1;
    for (int d = 0; d < t->n_degrees; d++) {
        int k = t->degree[d];
        for (int l = 0; l < TETRI_LINK_COUNT; l++)
            for (int b = 0; b <= TETRI_MAX_BATCH; b++)
                c->t[d][l][b] = b == 0 ? -1 : profile_lookup_step_ns(t->profile, c->model, c->width, c->height, k, b, (tetri_link)l);
        c->t_best[d] = step_class_ns(c, d, t->best_link[d], 1);
        int mb = profile_max_batch(t->profile, c->model, c->width, c->height, k);
        c->max_batch[d] = mb < 1 ? 1 : mb > TETRI_MAX_BATCH ? TETRI_MAX_BATCH : mb;
        if (c->max_batch[d] > c->batch_limit) c->batch_limit = c->max_batch[d];
        if (c->t_best[d] > 0 && (c->t_min < 0 || c->t_best[d] < c->t_min)) {
            c->t_min = c->t_best[d];
            c->fastest = d;
        }
    }
    for (int l = 0; l < TETRI_LINK_COUNT; l++) {
        tetri_ns m = profile_migration_ns(t->profile, c->model, c->width, c->height, (tetri_link)l);
        c->migration_ns[l] = m > 0 ? m : 0;
    }
    c->prepare_ns = profile_prepare_ns(t->profile, c->model, c->width, c->height);
}

int32_t step_table_find(step_table *t, tetri_model model, int32_t width, int32_t height)
{
    if (t->last_hit < t->n_cls) {
        const step_class *c = &t->cls[t->last_hit];
        if (c->model == model && c->width == width && c->height == height) return t->last_hit;
    }
    for (int32_t i = 0; i < t->n_cls; i++) {
        const step_class *c = &t->cls[i];
        if (c->model == model && c->width == width && c->height == height) {
            t->last_hit = i;
            return i;
        }
    }
    if (t->n_cls == t->cap_cls) {
        step_class *grown = realloc(t->cls, (size_t)t->cap_cls * 2 * sizeof *grown);
        if (!grown) return -1;
        t->cls = grown;
        t->cap_cls *= 2;
    }
    step_class *c = &t->cls[t->n_cls];
    memset(c, 0, sizeof *c);
    c->model = model;
    c->width = width;
    c->height = height;
    fill_class(t, c);
    t->last_hit = t->n_cls++;
    return t->last_hit;
}

tetri_ns step_table_round_slowest(step_table *t, const tetri_view *v, step_tau_from from)
{
    tetri_ns slowest = 0;
    for (int32_t i = 0; i < v->n_requests; i++) {
        int32_t c = step_table_find_request(t, v->requests[i]);
        if (c < 0) return -1;
        if (from == STEP_TAU_PENDING && t->cls[c].t_min > slowest) slowest = t->cls[c].t_min;
    }
    if (from == STEP_TAU_PENDING) return slowest;
    if (from == STEP_TAU_SERVED && v->n_served > 0) {
        if (t->served_of != v->served) { /* once a run: the served classes do not change */
            step_class c;
            t->served_slowest = 0;
            for (int32_t i = 0; i < v->n_served; i++) {
                c = (step_class){.model = v->served[i].model, .width = v->served[i].width, .height = v->served[i].height};
                fill_class(t, &c);
                if (c.t_min > t->served_slowest) t->served_slowest = c.t_min;
            }
            t->served_of = v->served;
        }
        slowest = t->served_slowest;
    } else if (from != STEP_TAU_SEEN) { /* PROFILE, or SERVED with none declared */
        for (int32_t i = 0; i < t->n_cls; i++) {
            tetri_ns p = t->profile_slowest_fastest[t->cls[i].model];
            if (p > slowest) slowest = p;
        }
    }
    for (int32_t i = 0; i < t->n_cls; i++)
        if (t->cls[i].t_min > slowest) slowest = t->cls[i].t_min;
    return slowest;
}
