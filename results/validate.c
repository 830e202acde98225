/* results/validate.c: live runs beside their simulated twins: pairing, statistics, verdicts, the
 * table and the CSV of `tetri validate` (see validate.h). */
#include "results/validate.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "results/report.h"

/* Targets are compared with this slack, so that an attainment difference of exactly 0.02 (two
 * ratios met/n whose difference rounds to 0.020000000000000018) meets a target of 0.02. */
#define TARGET_SLACK 1e-12

/* ---- pairing ------------------------------------------------------------------------------------ */

/* The start of the backend part "|backend=..." of a run key, or NULL. The last one: the backend
 * part holds no '|', while a trace's file name before it might hold anything. */
static const char *backend_part(const char *key)
{
    const char *found = NULL;
    for (const char *p = strstr(key, "|backend="); p; p = strstr(p + 1, "|backend=")) found = p;
    return found;
}

int validate_sim_key(const char *live_key, char *buf, size_t len)
{
    const char *b = backend_part(live_key);
    if (!b) return -1;
    snprintf(buf, len, "%.*s", (int)(b - live_key), live_key);
    return 0;
}

static int is_sim(const results_run *r) { return strcmp(r->backend, "sim") == 0; }

/* The index of the run of experiment `experiment` (any, when < 0) with key `key` on the simulator
 * (want_sim) or a live backend, or n when there is none. */
static size_t find_run(const results_run *runs, size_t n, int64_t experiment, const char *key, int want_sim)
{
    for (size_t i = 0; i < n; i++)
        if ((experiment < 0 || runs[i].experiment_id == experiment) && is_sim(&runs[i]) == want_sim &&
            strcmp(runs[i].run_key, key) == 0)
            return i;
    return n;
}

/* The first simulated run of live's experiment with jitter off whose key names the same trace by
 * its content (validate_envelope_key), or n. */
static size_t find_twin_by_content(const results_run *runs, size_t n, const results_run *live)
{
    char want[8192], key[8192];
    int on;
    if (validate_envelope_key(live->run_key, want, sizeof want, &on)) return n;
    for (size_t i = 0; i < n; i++)
        if (is_sim(&runs[i]) && runs[i].experiment_id == live->experiment_id &&
            validate_envelope_key(runs[i].run_key, key, sizeof key, &on) == 0 && !on && strcmp(key, want) == 0)
            return i;
    return n;
}

/* The profile's part of a run key (sim/sweep.c's sweep_run_key: "|profile=<16 hex digits>,..."). */
#define KEY_PROFILE "|profile="

int validate_key_on_profile(const char *key, const char *digest, char *buf, size_t len)
{
    const char *at = strstr(key, KEY_PROFILE);
    if (!at || strlen(digest) != 16) return -1;
    at += strlen(KEY_PROFILE);
    const char *end = at + strspn(at, "0123456789abcdef");
    if (end - at != 16) return -1;
    int w = snprintf(buf, len, "%.*s%s%s", (int)(at - key), key, digest, end);
    return w >= 0 && (size_t)w < len ? 0 : -1;
}

int validate_key_with_actual(const char *key, const char *digest, char *buf, size_t len)
{
    const char *b = backend_part(key);
    if (strlen(digest) != 16 || strstr(key, ",actual=")) return -1;
    const int at = b ? (int)(b - key) : (int)strlen(key);
    int w = snprintf(buf, len, "%.*s,actual=%s%s", at, key, digest, b ? b : "");
    return w >= 0 && (size_t)w < len ? 0 : -1;
}

/* The simulated twin of live run `live` among runs, or n: the run of its key without the backend
 * part, else (a validation with --sim-jitter) of that key with jitter on, else a run with jitter
 * off of the same trace by content: a live run made on the GPU machine names the trace at the
 * path it had there, and its twin simulated here names it where it lies here. With `digest`
 * (not NULL), the twin is looked for on that profile instead of the live run's; with `actual`,
 * among runs whose blocks ran by the profile of that digest (--actual-profile). */
static size_t find_twin(const results_run *runs, size_t n, const results_run *live, const char *digest, const char *actual)
{
    char key[4096], moved_key[4096], on_profile[4096];
    if (digest || actual) {
        char *k = NULL; /* the moved key: on_profile, then moved_key */
        if (digest) {
            if (validate_key_on_profile(live->run_key, digest, on_profile, sizeof on_profile)) return n;
            k = on_profile;
        }
        if (actual) {
            if (validate_key_with_actual(k ? k : live->run_key, actual, moved_key, sizeof moved_key)) return n;
            k = moved_key;
        }
        results_run moved = *live;
        moved.run_key = k;
        return find_twin(runs, n, &moved, NULL, NULL);
    }
    if (validate_sim_key(live->run_key, key, sizeof key)) return n;
    size_t twin = find_run(runs, n, live->experiment_id, key, 1);
    const char *off = strstr(key, "|jitter=off,");
    if (twin < n) return twin;
    if (off) {
        char jittered[4096];
        snprintf(jittered, sizeof jittered, "%.*s|jitter=on,%s", (int)(off - key), key, off + strlen("|jitter=off,"));
        twin = find_run(runs, n, live->experiment_id, jittered, 1);
        if (twin < n) return twin;
    }
    return find_twin_by_content(runs, n, live);
}

/* validate_find_pairs, each twin looked for on the profile of `digest` and with the actual profile
 * of `actual` when they are not NULL. */
static int find_pairs(const results_run *runs, size_t n, const char *const *live_keys, const char *const *sim_keys, size_t n_keys,
                      const char *digest, const char *actual, validate_pair **out, size_t *n_out, size_t *n_unpaired,
                      tetri_error *err)
{
    *out = NULL;
    *n_out = 0;
    if (n_unpaired) *n_unpaired = 0;
    size_t cap = live_keys ? n_keys : n;
    validate_pair *pairs = calloc(cap ? cap : 1, sizeof *pairs);
    if (!pairs) return tetri_errorf(err, "out of memory");
    size_t count = 0;
    for (size_t k = 0; k < cap; k++) {
        size_t live = live_keys ? find_run(runs, n, -1, live_keys[k], 0) : k;
        if (live_keys && live == n) {
            free(pairs);
            return tetri_errorf(err, "live run '%s' is not in the database", live_keys[k]);
        }
        if (is_sim(&runs[live])) continue; /* scanning every run: only live ones pair */
        size_t twin = sim_keys ? find_run(runs, n, runs[live].experiment_id, sim_keys[k], 1) : find_twin(runs, n, &runs[live], digest, actual);
        if (twin == n) {
            if (!live_keys) {
                if (n_unpaired) (*n_unpaired)++;
                continue;
            }
            free(pairs);
            return tetri_errorf(err, "live run '%s' has no simulated twin ('%s')", runs[live].run_key,
                                sim_keys ? sim_keys[k] : "the same key without its backend part");
        }
        pairs[count].sim = &runs[twin];
        pairs[count].live = &runs[live];
        count++;
    }
    *out = pairs;
    *n_out = count;
    return 0;
}

int validate_find_pairs(const results_run *runs, size_t n, const char *const *live_keys, const char *const *sim_keys,
                        size_t n_keys, validate_pair **out, size_t *n_out, size_t *n_unpaired, tetri_error *err)
{
    return find_pairs(runs, n, live_keys, sim_keys, n_keys, NULL, NULL, out, n_out, n_unpaired, err);
}

int validate_find_pairs_twin(const results_run *runs, size_t n, const char *digest, const char *actual, validate_pair **out,
                             size_t *n_out, size_t *n_unpaired, tetri_error *err)
{
    return find_pairs(runs, n, NULL, NULL, 0, digest, actual, out, n_out, n_unpaired, err);
}

/* ---- statistics --------------------------------------------------------------------------------- */

/* (live - sim) / sim, with the infinite cases of validate.h. */
static double relative_error(double sim, double live)
{
    if (isnan(sim) || isnan(live)) return NAN;
    if (isinf(sim) && isinf(live)) return 0.0;
    if (isinf(sim) || isinf(live)) return INFINITY;
    if (sim == 0) return live == 0 ? 0.0 : INFINITY;
    return (live - sim) / sim;
}

/* Every request's latency into lat[0..n) (sorted; a dropped one +inf) and the figures of `out`. */
static void latency_of(const tetri_request_result *req, size_t n, double *lat, validate_latency *out)
{
    memset(out, 0, sizeof *out);
    double sum = 0;
    out->n = (int32_t)n;
    for (size_t i = 0; i < n; i++) {
        int finished = req[i].outcome != TETRI_DROPPED && req[i].finish >= 0;
        lat[i] = finished ? (double)(req[i].finish - req[i].arrival) / 1e9 : INFINITY;
        if (finished) sum += lat[i], out->finished++;
        out->met += req[i].outcome == TETRI_MET;
    }
    qsort(lat, n, sizeof *lat, stats_compare_double);
    out->mean_s = out->finished ? sum / out->finished : NAN;
    out->p50_s = stats_quantile_sorted(lat, n, 0.50);
    out->p90_s = stats_quantile_sorted(lat, n, 0.90);
    out->p99_s = stats_quantile_sorted(lat, n, 0.99);
    out->attainment = n ? (double)out->met / (double)n : 0.0;
}

/* Loads run `r`'s requests; lat (malloc) gets their sorted latencies, out the figures. */
static int load_latency(results_db *db, const results_run *r, tetri_request_result **req, size_t *n, double **lat,
                        validate_latency *out, tetri_error *err)
{
    if (results_load_requests(db, r->id, req, n, err)) return tetri_error_prefix(err, "run '%s'", r->run_key);
    *lat = malloc((*n ? *n : 1) * sizeof **lat);
    if (!*lat) return tetri_errorf(err, "out of memory");
    latency_of(*req, *n, *lat, out);
    return 0;
}

typedef struct class_sum {
    validate_block_class c;
    double sum, sum_idle;
} class_sum;

static int same_class(const validate_block_class *a, const validate_block_class *b)
{
    return a->model == b->model && a->width == b->width && a->height == b->height && a->batch == b->batch &&
           a->degree == b->degree;
}

/* Class order (model, tokens, width, batch, degree), for the worst class's tie-break. */
static int class_before(const validate_block_class *a, const validate_block_class *b)
{
    int64_t ta = (int64_t)a->width * a->height, tb = (int64_t)b->width * b->height;
    if (a->model != b->model) return a->model < b->model;
    if (ta != tb) return ta < tb;
    if (a->width != b->width) return a->width < b->width;
    if (a->batch != b->batch) return a->batch < b->batch;
    return a->degree < b->degree;
}

static void add_to_sum(class_sum *s, double e, bool idle)
{
    s->c.n++;
    s->sum += e;
    if (idle) {
        s->c.n_idle++;
        s->sum_idle += e;
    }
}

/* Adds one block's error to its class (classes has room for one more). */
static void add_to_class(class_sum *classes, size_t *n, const validate_block_class *c, double e, bool idle)
{
    size_t k = 0;
    while (k < *n && !same_class(&classes[k].c, c)) k++;
    if (k == *n) {
        classes[(*n)++] = (class_sum){.c = *c};
    }
    add_to_sum(&classes[k], e, idle);
}

/* The class with its means: overall, after idle, back to back. */
static validate_block_class class_means(const class_sum *s)
{
    validate_block_class c = s->c;
    c.err_mean = s->sum / (double)c.n;
    c.err_idle_mean = c.n_idle ? s->sum_idle / (double)c.n_idle : NAN;
    c.err_busy_mean = c.n > c.n_idle ? (s->sum - s->sum_idle) / (double)(c.n - c.n_idle) : NAN;
    return c;
}

static void pick_worst(const class_sum *classes, size_t n, validate_block_class *worst)
{
    memset(worst, 0, sizeof *worst);
    int64_t largest = 0;
    for (size_t k = 0; k < n; k++) largest = classes[k].c.n > largest ? classes[k].c.n : largest;
    const int64_t least = largest < VALIDATE_CLASS_MIN_BLOCKS ? 1 : VALIDATE_CLASS_MIN_BLOCKS;
    for (size_t k = 0; k < n; k++) {
        if (classes[k].c.n < least) continue;
        validate_block_class c = class_means(&classes[k]);
        double a = fabs(c.err_mean), w = fabs(worst->err_mean);
        if (worst->n == 0 || a > w || (a == w && (c.n > worst->n || (c.n == worst->n && class_before(&c, worst)))))
            *worst = c;
    }
}

/* Every class with its mean error into out->classes, in class order (insertion sort: few classes). */
static void keep_classes(const class_sum *classes, size_t n, validate_blocks *out)
{
    out->n_classes = (int32_t)n;
    size_t kept = 0;
    for (size_t k = 0; k < n; k++) {
        validate_block_class c = class_means(&classes[k]);
        size_t at = kept;
        while (at > 0 && class_before(&c, &out->classes[at - 1])) at--;
        if (at >= VALIDATE_MAX_CLASSES) continue;
        const size_t last = kept < VALIDATE_MAX_CLASSES ? kept : VALIDATE_MAX_CLASSES - 1;
        memmove(&out->classes[at + 1], &out->classes[at], (last - at) * sizeof c);
        out->classes[at] = c;
        if (kept < VALIDATE_MAX_CLASSES) kept++;
    }
}

/* The live blocks' errors: overall and per class (model and resolution from the block's first
 * request: a batch holds requests of one model and size), each split by whether the block started
 * after its GPUs idled (TETRI_AFTER_IDLE_NS; blocks come in start order, failed ones included, as
 * they held their GPUs too). */
static int block_errors(const tetri_block_result *b, size_t n_b, const tetri_request_result *req, size_t n_req,
                        validate_blocks *out, tetri_error *err)
{
    memset(out, 0, sizeof *out);
    out->err_mean = out->err_p50 = out->err_p90 = NAN;
    double *rel = malloc((n_b ? n_b : 1) * sizeof *rel);
    class_sum *classes = malloc((n_b ? n_b : 1) * sizeof *classes);
    if (!rel || !classes) {
        free(rel);
        free(classes);
        return tetri_errorf(err, "out of memory");
    }
    size_t n_classes = 0;
    double sum = 0;
    class_sum all;
    memset(&all, 0, sizeof all);
    tetri_ns last_end[TETRI_MAX_GPUS];
    bool ran[TETRI_MAX_GPUS] = {false};
    for (size_t i = 0; i < n_b; i++) {
        tetri_ns pred = b[i].pred_end - b[i].pred_start;
        bool idle = true;
        for (tetri_gpuset g = b[i].gpus; g; g &= g - 1) {
            const int gpu = __builtin_ctzll(g);
            if (gpu >= TETRI_MAX_GPUS) continue;
            if (ran[gpu] && b[i].start - last_end[gpu] < TETRI_AFTER_IDLE_NS) idle = false;
            if (!ran[gpu] || b[i].end > last_end[gpu]) last_end[gpu] = b[i].end;
            ran[gpu] = true;
        }
        if (b[i].failed) out->failed++;
        if (b[i].failed || pred <= 0) continue;
        double e = (double)((b[i].end - b[i].start) - pred) / (double)pred;
        rel[out->n++] = e;
        sum += e;
        int32_t id = b[i].req[0];
        const tetri_request_result *r = id >= 0 && (size_t)id < n_req ? &req[id] : NULL;
        validate_block_class c = {.model = r ? r->model : TETRI_MODEL_FLUX_DEV, .width = r ? r->width : 0,
                                  .height = r ? r->height : 0, .batch = b[i].n_req,
                                  .degree = tetri_gpuset_count(b[i].gpus)};
        add_to_class(classes, &n_classes, &c, e, idle);
        add_to_sum(&all, e, idle);
    }
    if (all.c.n) out->all = class_means(&all);
    if (out->n) {
        qsort(rel, (size_t)out->n, sizeof *rel, stats_compare_double);
        out->err_mean = sum / (double)out->n;
        out->err_p50 = stats_quantile_sorted(rel, (size_t)out->n, 0.50);
        out->err_p90 = stats_quantile_sorted(rel, (size_t)out->n, 0.90);
    }
    pick_worst(classes, n_classes, &out->worst);
    keep_classes(classes, n_classes, out);
    free(rel);
    free(classes);
    return 0;
}

static unsigned misses_of(const validate_pair *p, const validate_targets *t)
{
    unsigned m = 0;
    if (!(fabs(p->err_mean) <= t->mean_err + TARGET_SLACK)) m |= VALIDATE_MISS_MEAN;
    if (!(fabs(p->err_p99) <= t->p99_err + TARGET_SLACK)) m |= VALIDATE_MISS_P99;
    if (!(fabs(p->sar_diff) <= t->sar_diff + TARGET_SLACK)) m |= VALIDATE_MISS_SAR;
    if (p->ks.p < t->ks_alpha) m |= VALIDATE_MISS_KS;
    return m;
}

int validate_compare(results_db *db, validate_pair *p, const validate_targets *t, tetri_error *err)
{
    tetri_request_result *req_s = NULL, *req_l = NULL;
    tetri_block_result *blocks = NULL;
    double *lat_s = NULL, *lat_l = NULL;
    size_t n_s = 0, n_l = 0, n_b = 0;
    int rc = -1;
    if (load_latency(db, p->sim, &req_s, &n_s, &lat_s, &p->s, err) ||
        load_latency(db, p->live, &req_l, &n_l, &lat_l, &p->l, err))
        goto out;
    p->err_mean = relative_error(p->s.mean_s, p->l.mean_s);
    p->err_p50 = relative_error(p->s.p50_s, p->l.p50_s);
    p->err_p90 = relative_error(p->s.p90_s, p->l.p90_s);
    p->err_p99 = relative_error(p->s.p99_s, p->l.p99_s);
    p->sar_diff = p->l.attainment - p->s.attainment;
    stats_ks_two_sample(lat_s, n_s, lat_l, n_l, &p->ks);
    if (results_load_blocks(db, p->live->id, &blocks, &n_b, err)) {
        tetri_error_prefix(err, "run '%s'", p->live->run_key);
        goto out;
    }
    if (block_errors(blocks, n_b, req_l, n_l, &p->blocks, err)) goto out;
    p->misses = misses_of(p, t);
    rc = 0;
out:
    free(req_s);
    free(req_l);
    free(lat_s);
    free(lat_l);
    free(blocks);
    return rc;
}

/* ---- the envelope -------------------------------------------------------------------------------- */

/* The last occurrence of `needle` in [from, end), or NULL. */
static const char *last_in(const char *from, const char *end, const char *needle)
{
    const char *found = NULL;
    for (const char *p = strstr(from, needle); p && p < end; p = strstr(p + 1, needle)) found = p;
    return found;
}

/* The workload's identity within [w, end) (validate_envelope_key), as a start and a length. */
static void workload_identity(const char *w, const char *end, const char **start, int *len)
{
    const char *digest = strncmp(w, "trace=", 6) == 0 ? last_in(w, end, ",digest=") : NULL;
    const char *gen = digest ? strstr(digest, ",generator:") : NULL;
    *start = !digest ? w : gen && gen < end ? gen + strlen(",generator:") : digest + 1;
    *len = (int)(end - *start);
}

int validate_envelope_key(const char *run_key, char *buf, size_t len, int *jitter_on)
{
    const char *backend = backend_part(run_key), *end = backend ? backend : run_key + strlen(run_key);
    const char *w = strstr(run_key, "|workload=");
    const char *j = w && w < end ? last_in(w, end, "|jitter=") : NULL;
    if (!j) return -1;
    const char *rest = strchr(j + 1, '|');
    if (!rest || rest > end) rest = end;
    const char *on = j + strlen("|jitter=");
    *jitter_on = strncmp(on, "on", 2) == 0 && (on + 2 == rest || on[2] == ',');
    const char *ident;
    int ident_len;
    workload_identity(w + strlen("|workload="), j, &ident, &ident_len);
    int n = snprintf(buf, len, "%.*s|workload=%.*s%.*s", (int)(w - run_key), run_key, ident_len, ident,
                     (int)(end - rest), rest);
    return n >= 0 && (size_t)n < len ? 0 : -1;
}

double validate_percentile_rank(const double *v, size_t n, double x)
{
    size_t count = 0, below = 0, equal = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        count++;
        below += v[i] < x;
        equal += v[i] == x;
    }
    if (isnan(x) || count == 0) return NAN;
    return 100.0 * ((double)below + 0.5 * (double)equal) / (double)count;
}

/* One figure over the envelope: v[0..n) its values, `live` the live run's; widened by `target`,
 * relative (x (1 -+ target)) or absolute (-+ target). Returns whether live lies within. */
static int envelope_stat(validate_envelope_stat *s, const double *v, size_t n, double live, double target, int relative)
{
    *s = (validate_envelope_stat){.min = NAN, .max = NAN, .lo = NAN, .hi = NAN, .live = live};
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i])) continue;
        if (s->n++ == 0 || v[i] < s->min) s->min = v[i];
        if (s->n == 1 || v[i] > s->max) s->max = v[i];
    }
    s->rank = validate_percentile_rank(v, n, live);
    if (s->n == 0) return 0;
    /* an infinite min stays infinite whatever the target (inf x 0 would be NaN) */
    s->lo = !relative ? s->min - target : isinf(s->min) ? s->min : s->min * (1 - target);
    s->hi = relative ? s->max * (1 + target) : s->max + target;
    return !isnan(live) && live >= s->lo - TARGET_SLACK && live <= s->hi + TARGET_SLACK;
}

int validate_envelope_fill(validate_envelope *e, const validate_latency *runs, size_t n, const validate_latency *live,
                           const validate_targets *t, tetri_error *err)
{
    memset(e, 0, sizeof *e);
    double *v = calloc(n ? n : 1, sizeof *v);
    if (!v) return tetri_errorf(err, "out of memory");
    e->n = n;
    for (size_t i = 0; i < n; i++) v[i] = runs[i].mean_s;
    if (!envelope_stat(&e->mean, v, n, live->mean_s, t->mean_err, 1)) e->misses |= VALIDATE_MISS_MEAN;
    for (size_t i = 0; i < n; i++) v[i] = runs[i].p99_s;
    if (!envelope_stat(&e->p99, v, n, live->p99_s, t->p99_err, 1)) e->misses |= VALIDATE_MISS_P99;
    for (size_t i = 0; i < n; i++) v[i] = runs[i].attainment;
    if (!envelope_stat(&e->sar, v, n, live->attainment, t->sar_diff, 0)) e->misses |= VALIDATE_MISS_SAR;
    free(v);
    return 0;
}

/* Whether runs[i] belongs to the envelope of the live run whose envelope key is live_key. */
static int in_envelope(const results_run *r, const results_run *live, const char *live_key)
{
    char key[8192];
    int on;
    return is_sim(r) && r->experiment_id == live->experiment_id &&
           validate_envelope_key(r->run_key, key, sizeof key, &on) == 0 && on && strcmp(key, live_key) == 0;
}

/* Appends run r's figures to fig[*n]. Returns 0 or -1 with err. */
static int envelope_figures(results_db *db, const results_run *r, validate_latency *fig, size_t *n, tetri_error *err)
{
    tetri_request_result *req = NULL;
    double *lat = NULL;
    size_t n_req = 0;
    int rc = load_latency(db, r, &req, &n_req, &lat, &fig[*n], err);
    if (rc == 0) (*n)++;
    free(req);
    free(lat);
    return rc;
}

int validate_compare_envelope(results_db *db, validate_pair *p, const results_run *runs, size_t n_runs,
                              const validate_targets *t, tetri_error *err)
{
    memset(&p->env, 0, sizeof p->env);
    char live_key[8192];
    int on;
    /* The twin's identity (its trace by content, policy, profile): the live run's but for the
     * profile when the twins were looked for on another (validate_find_pairs_twin). */
    if (validate_envelope_key(p->sim->run_key, live_key, sizeof live_key, &on)) return 0; /* no key of that form */
    validate_latency *fig = malloc((n_runs ? n_runs : 1) * sizeof *fig);
    if (!fig) return tetri_errorf(err, "out of memory");
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; i < n_runs && rc == 0; i++)
        if (in_envelope(&runs[i], p->live, live_key)) rc = envelope_figures(db, &runs[i], fig, &n, err);
    if (rc == 0) rc = validate_envelope_fill(&p->env, fig, n, &p->l, t, err);
    free(fig);
    return rc;
}

int validate_envelope_shown(const validate_pair *p) { return p->env.n >= VALIDATE_ENVELOPE_MIN_RUNS; }

unsigned validate_strict_misses(const validate_pair *p)
{
    return validate_envelope_shown(p) ? p->env.misses : p->misses;
}

/* ---- text ---------------------------------------------------------------------------------------- */

/* Seconds with 4 decimals; "inf" (a dropped request's), "-" (none). */
static const char *fmt_seconds(char *buf, size_t len, double v)
{
    if (isnan(v)) snprintf(buf, len, "-");
    else if (isinf(v)) snprintf(buf, len, "inf");
    else snprintf(buf, len, "%.4f", v);
    return buf;
}

/* A relative error as a signed percentage with 2 decimals; "inf", "-". */
static const char *fmt_percent(char *buf, size_t len, double v)
{
    if (isnan(v)) snprintf(buf, len, "-");
    else if (isinf(v)) snprintf(buf, len, "inf");
    else snprintf(buf, len, "%+.2f%%", 100.0 * v);
    return buf;
}

/* "flux-dev 1024x1024 batch 1 degree 4", or "-" when there is no class. */
static const char *fmt_class(char *buf, size_t len, const validate_block_class *c)
{
    if (c->n == 0) snprintf(buf, len, "-");
    else snprintf(buf, len, "%s %dx%d batch %d degree %d", tetri_model_name(c->model), c->width, c->height, c->batch,
                  c->degree);
    return buf;
}

void validate_describe_workload(const results_run *r, char *buf, size_t len)
{
    char params[160];
    snprintf(params, sizeof params, "%s mix, SLO scale %g, %g/min", r->mix, r->slo_scale, r->rate_per_min);
    if (strncmp(r->workload, "trace=", 6) != 0) {
        snprintf(buf, len, "%s", params);
        return;
    }
    /* "trace=NAME,digest=HEX[,generator:SPEC]": the name, and the generator's parameters when the
     * trace still matches them (its mix is then not "trace") */
    const char *name = r->workload + 6, *digest = NULL;
    for (const char *d = strstr(name, ",digest="); d; d = strstr(d + 1, ",digest=")) digest = d;
    int name_len = digest ? (int)(digest - name) : (int)strlen(name);
    if (strcmp(r->mix, "trace") == 0) snprintf(buf, len, "trace %.*s", name_len, name);
    else snprintf(buf, len, "trace %.*s (%s)", name_len, name, params);
}

/* "mean +1.20% (<= 2%)" style pieces of the verdict line. */
static void verdict_text(const validate_pair *p, const validate_targets *t, char *buf, size_t len)
{
    char e1[32], e2[32];
    snprintf(buf, len, "%s: mean %s (%s %g%%), p99 %s (%s %g%%), attainment %+.3f (%s %g), KS p %.4g (%s %g)",
             p->misses ? "MISS" : "PASS", fmt_percent(e1, sizeof e1, p->err_mean),
             p->misses & VALIDATE_MISS_MEAN ? "beyond" : "within", 100 * t->mean_err,
             fmt_percent(e2, sizeof e2, p->err_p99), p->misses & VALIDATE_MISS_P99 ? "beyond" : "within",
             100 * t->p99_err, p->sar_diff, p->misses & VALIDATE_MISS_SAR ? "beyond" : "within", t->sar_diff, p->ks.p,
             p->misses & VALIDATE_MISS_KS ? "<" : ">=", t->ks_alpha);
}

static void print_latency_row(FILE *out, const char *name, double s, double l, double e)
{
    char a[32], b[32], c[32];
    fprintf(out, "  %-16s %10s %10s %10s\n", name, fmt_seconds(a, sizeof a, s), fmt_seconds(b, sizeof b, l),
            fmt_percent(c, sizeof c, e));
}

/* "0th", "1st", "22nd", "13th": n with its English ordinal suffix. */
static const char *fmt_ordinal(char *buf, size_t len, int n)
{
    const char *suffix = n % 100 >= 11 && n % 100 <= 13 ? "th" : n % 10 == 1 ? "st" : n % 10 == 2 ? "nd" : n % 10 == 3 ? "rd" : "th";
    snprintf(buf, len, "%d%s", n, suffix);
    return buf;
}

/* A figure of the envelope: seconds (4 decimals) or an attainment (3). */
static const char *fmt_figure(char *buf, size_t len, double v, int seconds)
{
    if (seconds || isnan(v) || isinf(v)) return fmt_seconds(buf, len, v);
    snprintf(buf, len, "%.3f", v);
    return buf;
}

/* "  mean (finished)  live 16.2034 s at the 0th percentile of 16.7412..19.4655 s" */
static void print_envelope_row(FILE *out, const char *name, const validate_envelope_stat *s, int seconds)
{
    char live[32], lo[32], hi[32], rank[32] = "no";
    if (!isnan(s->rank)) fmt_ordinal(rank, sizeof rank, (int)floor(s->rank + 0.5));
    fprintf(out, "  %-16s live %s%s at the %s percentile of %s..%s%s\n", name, fmt_figure(live, sizeof live, s->live, seconds),
            seconds ? " s" : "", rank, fmt_figure(lo, sizeof lo, s->min, seconds), fmt_figure(hi, sizeof hi, s->max, seconds),
            seconds ? " s" : "");
}

/* Appends "mean within 16.4064..19.8548 s" (or "outside") to the envelope verdict in buf. */
static void envelope_range_text(char *buf, size_t len, const char *name, const validate_envelope_stat *s, int missed,
                                int seconds)
{
    char lo[32], hi[32];
    snprintf(buf + strlen(buf), len - strlen(buf), "%s%s %s %s..%s%s", buf[0] ? ", " : "", name,
             missed ? "outside" : "within", fmt_figure(lo, sizeof lo, s->lo, seconds),
             fmt_figure(hi, sizeof hi, s->hi, seconds), seconds ? " s" : "");
}

/* The names of the missed targets, ';'-separated ("mean;ks"), or "" when none. */
static void misses_text(unsigned m, char *buf, size_t len)
{
    static const char *const names[] = {"mean", "p99", "attainment", "ks"};
    buf[0] = 0;
    for (int b = 0; b < 4; b++)
        if (m & (1u << b)) snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? ";" : "", names[b]);
}

static void print_envelope(FILE *out, const validate_envelope *e)
{
    char missed[64], ranges[256] = "";
    fprintf(out, "envelope (%zu jittered sims)\n", e->n);
    print_envelope_row(out, "mean (finished)", &e->mean, 1);
    print_envelope_row(out, "p99", &e->p99, 1);
    print_envelope_row(out, "SLO attainment", &e->sar, 0);
    envelope_range_text(ranges, sizeof ranges, "mean", &e->mean, e->misses & VALIDATE_MISS_MEAN, 1);
    envelope_range_text(ranges, sizeof ranges, "p99", &e->p99, e->misses & VALIDATE_MISS_P99, 1);
    envelope_range_text(ranges, sizeof ranges, "attainment", &e->sar, e->misses & VALIDATE_MISS_SAR, 0);
    misses_text(e->misses, missed, sizeof missed);
    fprintf(out, "envelope verdict   %s%s%s: %s (min..max widened by the targets)\n",
            e->misses ? "OUTSIDE ENVELOPE (" : "WITHIN ENVELOPE", missed, e->misses ? ")" : "", ranges);
}

static void print_pair(FILE *out, const validate_pair *p, const results_run *runs, size_t n_runs,
                       const validate_targets *t)
{
    char label[256], workload[600], x[64], y[64], z[64], w[128], verdict[512];
    report_policy_label(p->live, runs, NULL, n_runs, label, sizeof label);
    validate_describe_workload(p->live, workload, sizeof workload);
    const char *settings = backend_part(p->live->run_key);
    fprintf(out, "== %s | %s, seed %" PRIu64 " | %s on %s | sim vs %s ==\n", label, workload, p->live->seed, p->live->model,
            p->live->hardware, p->live->backend);
    fprintf(out, "live backend       %s\n", settings ? settings + 1 : p->live->backend);
    fprintf(out, "requests           %d sim (%d finished), %d live (%d finished)\n", p->s.n, p->s.finished, p->l.n,
            p->l.finished);
    if (strcmp(p->sim->status, "done") != 0 || strcmp(p->live->status, "done") != 0)
        fprintf(out, "status             sim %s, live %s (a partial run ended early: its unfinished requests count as dropped)\n",
                p->sim->status, p->live->status);
    fprintf(out, "latency (s)        %10s %10s %10s\n", "sim", "live", "error");
    print_latency_row(out, "mean (finished)", p->s.mean_s, p->l.mean_s, p->err_mean);
    print_latency_row(out, "p50", p->s.p50_s, p->l.p50_s, p->err_p50);
    print_latency_row(out, "p90", p->s.p90_s, p->l.p90_s, p->err_p90);
    print_latency_row(out, "p99", p->s.p99_s, p->l.p99_s, p->err_p99);
    fprintf(out, "SLO attainment     %10.3f %10.3f %+10.3f\n", p->s.attainment, p->l.attainment, p->sar_diff);
    fprintf(out, "KS test            D = %.4f, p = %.4g (n = %zu, %zu): %s at %g%%\n", p->ks.d, p->ks.p, p->ks.n1, p->ks.n2,
            p->ks.p < t->ks_alpha ? "REJECTED" : "not rejected", 100 * t->ks_alpha);
    fprintf(out, "live blocks        %" PRId64 " (%" PRId64 " failed, left out); duration vs predicted: mean %s, p50 %s, p90 %s\n",
            p->blocks.n, p->blocks.failed, fmt_percent(x, sizeof x, p->blocks.err_mean),
            fmt_percent(y, sizeof y, p->blocks.err_p50), fmt_percent(z, sizeof z, p->blocks.err_p90));
    if (p->blocks.all.n_idle > 0 && p->blocks.all.n_idle < p->blocks.all.n)
        fprintf(out, "  idle before      %" PRId64 " started after %g ms or more of idling: mean %s; %" PRId64 " back to back: mean %s\n",
                p->blocks.all.n_idle, (double)TETRI_AFTER_IDLE_NS / TETRI_NS_PER_MS, fmt_percent(x, sizeof x, p->blocks.all.err_idle_mean),
                p->blocks.all.n - p->blocks.all.n_idle, fmt_percent(y, sizeof y, p->blocks.all.err_busy_mean));
    if (p->blocks.worst.n)
        fprintf(out, "  worst class      %s: mean %s over %" PRId64 " block%s\n", fmt_class(w, sizeof w, &p->blocks.worst),
                fmt_percent(x, sizeof x, p->blocks.worst.err_mean), p->blocks.worst.n, p->blocks.worst.n == 1 ? "" : "s");
    if (p->blocks.n_classes > 1) {
        const int32_t shown = p->blocks.n_classes < VALIDATE_MAX_CLASSES ? p->blocks.n_classes : VALIDATE_MAX_CLASSES;
        for (int32_t k = 0; k < shown; k++) {
            const validate_block_class *c = &p->blocks.classes[k];
            fprintf(out, "  %-16s %s: mean %s over %" PRId64 " block%s", k == 0 ? "by class" : "", fmt_class(w, sizeof w, c),
                    fmt_percent(x, sizeof x, c->err_mean), c->n, c->n == 1 ? "" : "s");
            if (c->n_idle > 0 && c->n_idle < c->n)
                fprintf(out, " (after idling %s over %" PRId64 ", back to back %s over %" PRId64 ")", fmt_percent(y, sizeof y, c->err_idle_mean),
                        c->n_idle, fmt_percent(z, sizeof z, c->err_busy_mean), c->n - c->n_idle);
            fputc('\n', out);
        }
        if (p->blocks.n_classes > shown) fprintf(out, "  %-16s (%d more classes)\n", "", p->blocks.n_classes - shown);
    }
    verdict_text(p, t, verdict, sizeof verdict);
    fprintf(out, "verdict            %s\n", verdict);
    if (validate_envelope_shown(p)) print_envelope(out, &p->env);
    fputc('\n', out);
}

void validate_print(FILE *out, const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                    const validate_targets *t)
{
    for (size_t i = 0; i < n; i++) print_pair(out, &pairs[i], runs, n_runs, t);
    validate_print_summary(out, pairs, n, runs, n_runs, t);
}


/* The verdict column's text: "PASS" or "MISS (mean;p99)". */
static void verdict_cell(unsigned misses, char *buf, size_t len)
{
    char missed[64];
    misses_text(misses, missed, sizeof missed);
    snprintf(buf, len, "%s%s%s", misses ? "MISS (" : "PASS", missed, misses ? ")" : "");
}

/* The envelope column's text: "WITHIN, 20 sims", "OUTSIDE (mean), 20 sims", or "-" when not shown. */
static void envelope_cell(const validate_pair *p, char *buf, size_t len)
{
    char missed[64];
    misses_text(p->env.misses, missed, sizeof missed);
    if (!validate_envelope_shown(p)) snprintf(buf, len, "-");
    else snprintf(buf, len, "%s%s%s, %zu sims", p->env.misses ? "OUTSIDE (" : "WITHIN", missed, p->env.misses ? ")" : "",
                  p->env.n);
}

/* The widths of the policy and verdict columns, and how many pairs show an envelope. */
static size_t summary_widths(const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                             int *policy_w, int *verdict_w)
{
    char text[256];
    size_t shown = 0;
    *policy_w = 6;
    *verdict_w = 7;
    for (size_t i = 0; i < n; i++) {
        report_policy_label(pairs[i].live, runs, NULL, n_runs, text, sizeof text);
        if ((int)strlen(text) > *policy_w) *policy_w = (int)strlen(text);
        verdict_cell(pairs[i].misses, text, sizeof text);
        if ((int)strlen(text) > *verdict_w) *verdict_w = (int)strlen(text);
        shown += validate_envelope_shown(&pairs[i]) != 0;
    }
    return shown;
}

void validate_print_summary(FILE *out, const validate_pair *pairs, size_t n, const results_run *runs, size_t n_runs,
                            const validate_targets *t)
{
    int policy_w, verdict_w;
    const size_t shown = summary_widths(pairs, n, runs, n_runs, &policy_w, &verdict_w);
    /* the envelope column only when some pair has one: without, the table is as it was */
    const int env_w = shown ? verdict_w : 0;
    fprintf(out, "%-*s %-9s %4s %9s %9s %9s %9s %8s %7s %9s  %-*s%s\n", policy_w, "policy", "live", "seed", "mean_err",
            "p90_err", "p99_err", "SAR_diff", "KS_p", "KS_D", "block_err", env_w, "verdict", shown ? "  envelope" : "");
    size_t pass = 0, within = 0;
    for (size_t i = 0; i < n; i++) {
        const validate_pair *p = &pairs[i];
        char label[256], a[32], b[32], c[32], d[32], verdict[96], env[128];
        report_policy_label(p->live, runs, NULL, n_runs, label, sizeof label);
        verdict_cell(p->misses, verdict, sizeof verdict);
        envelope_cell(p, env, sizeof env);
        fprintf(out, "%-*s %-9s %4" PRIu64 " %9s %9s %9s %+9.3f %8.4g %7.4f %9s  %-*s%s%s\n", policy_w, label,
                p->live->backend, p->live->seed, fmt_percent(a, sizeof a, p->err_mean),
                fmt_percent(b, sizeof b, p->err_p90), fmt_percent(c, sizeof c, p->err_p99), p->sar_diff, p->ks.p, p->ks.d,
                fmt_percent(d, sizeof d, p->blocks.err_mean), env_w, verdict, shown ? "  " : "", shown ? env : "");
        pass += p->misses == 0;
        within += validate_envelope_shown(p) && p->env.misses == 0;
    }
    fprintf(out, "%zu of %zu pair%s meet every target (mean error <= %g%%, p99 error <= %g%%, attainment within %g, KS p >= %g)\n",
            pass, n, n == 1 ? "" : "s", 100 * t->mean_err, 100 * t->p99_err, t->sar_diff, t->ks_alpha);
    if (shown)
        fprintf(out, "%zu of %zu pair%s with an envelope (%d or more jittered sims) lie within it\n", within, shown,
                shown == 1 ? "" : "s", VALIDATE_ENVELOPE_MIN_RUNS);
}

/* ---- CSV ----------------------------------------------------------------------------------------- */

/* A number field: "inf", empty for NaN, else printf's fmt. */
static void csv_number(FILE *out, const char *fmt, double v)
{
    fputc(',', out);
    if (isinf(v)) fputs(v > 0 ? "inf" : "-inf", out);
    else if (!isnan(v)) fprintf(out, fmt, v);
}

static void csv_text(FILE *out, const char *s)
{
    fputc(',', out);
    report_csv_field(out, s);
}

static void csv_side_by_side(FILE *out, double s, double l, double e)
{
    csv_number(out, "%.6f", s);
    csv_number(out, "%.6f", l);
    csv_number(out, "%.6f", e);
}

/* The envelope's columns: its runs, min, max and the live rank of each figure, its verdict and
 * misses; all but the count empty when it is not shown. */
static void csv_envelope(FILE *out, const validate_pair *p)
{
    const validate_envelope *e = &p->env;
    const int shown = validate_envelope_shown(p);
    const validate_envelope_stat *stats[] = {&e->mean, &e->p99, &e->sar};
    fprintf(out, ",%zu", e->n);
    for (int k = 0; k < 3; k++) {
        csv_number(out, "%.6f", shown ? stats[k]->min : NAN);
        csv_number(out, "%.6f", shown ? stats[k]->max : NAN);
        csv_number(out, "%.1f", shown ? stats[k]->rank : NAN);
    }
    char missed[64] = "";
    if (shown) misses_text(e->misses, missed, sizeof missed);
    fprintf(out, ",%s,%s", !shown ? "" : e->misses ? "OUTSIDE" : "WITHIN", missed);
}

static void csv_row(FILE *out, const validate_pair *p)
{
    const results_run *r = p->live;
    char cls[128], missed[64];
    report_csv_field(out, r->experiment);
    csv_text(out, r->model);
    csv_text(out, r->hardware);
    csv_text(out, r->mix);
    fprintf(out, ",%g,%g,%" PRIu64, r->slo_scale, r->rate_per_min, r->seed);
    csv_text(out, r->policy_name);
    csv_text(out, r->policy);
    csv_text(out, r->backend);
    fprintf(out, ",%d,%d,%d,%d", p->s.n, p->l.n, p->s.finished, p->l.finished);
    csv_side_by_side(out, p->s.mean_s, p->l.mean_s, p->err_mean);
    csv_side_by_side(out, p->s.p50_s, p->l.p50_s, p->err_p50);
    csv_side_by_side(out, p->s.p90_s, p->l.p90_s, p->err_p90);
    csv_side_by_side(out, p->s.p99_s, p->l.p99_s, p->err_p99);
    csv_side_by_side(out, p->s.attainment, p->l.attainment, p->sar_diff);
    fprintf(out, ",%.6f,%.6g,%d,%" PRId64 ",%" PRId64, p->ks.d, p->ks.p, (p->misses & VALIDATE_MISS_KS) != 0, p->blocks.n,
            p->blocks.failed);
    csv_number(out, "%.6f", p->blocks.err_mean);
    csv_number(out, "%.6f", p->blocks.err_p50);
    csv_number(out, "%.6f", p->blocks.err_p90);
    csv_text(out, p->blocks.worst.n ? fmt_class(cls, sizeof cls, &p->blocks.worst) : "");
    fprintf(out, ",%" PRId64, p->blocks.worst.n);
    csv_number(out, "%.6f", p->blocks.worst.n ? p->blocks.worst.err_mean : NAN);
    misses_text(p->misses, missed, sizeof missed);
    fprintf(out, ",%s,%s", p->misses ? "MISS" : "PASS", missed);
    csv_text(out, p->sim->status);
    csv_text(out, r->status);
    csv_text(out, p->sim->run_key);
    csv_text(out, r->run_key);
    csv_envelope(out, p);
    fputc('\n', out);
}

void validate_write_csv(FILE *out, const validate_pair *pairs, size_t n)
{
    fputs("experiment,model,hardware,mix,slo_scale,rate_per_min,seed,policy_name,policy,live_backend,n_sim,n_live,"
          "finished_sim,finished_live,mean_sim_s,mean_live_s,mean_err,p50_sim_s,p50_live_s,p50_err,p90_sim_s,p90_live_s,"
          "p90_err,p99_sim_s,p99_live_s,p99_err,attainment_sim,attainment_live,attainment_diff,ks_d,ks_p,ks_reject,"
          "blocks,failed_blocks,block_err_mean,block_err_p50,block_err_p90,worst_class,worst_class_blocks,"
          "worst_class_err_mean,verdict,misses,sim_status,live_status,sim_run_key,live_run_key,envelope_runs,"
          "envelope_mean_min_s,envelope_mean_max_s,envelope_mean_rank,envelope_p99_min_s,envelope_p99_max_s,"
          "envelope_p99_rank,envelope_attainment_min,envelope_attainment_max,envelope_attainment_rank,"
          "envelope_verdict,envelope_misses\n",
          out);
    for (size_t i = 0; i < n; i++) csv_row(out, &pairs[i]);
}
