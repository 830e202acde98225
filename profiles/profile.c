/* profiles/profile.c: the profile loader and the cost-model lookups (see profile.h).
 *
 * profile_open reads every row of one hardware into memory and builds, per model:
 *   - the distinct resolutions, sorted by tokens, with a small open-addressing hash (w, h) -> index,
 *     so a lookup at a profiled resolution is a hash probe and an array read: O(1), no allocation;
 *   - one series per (degree, batch, link) over tokens, with a GSL interpolant (Steffen's monotone
 *     cubic from 3 points, linear from 2) built at load, so an unprofiled resolution costs a binary
 *     search and a polynomial, still without allocating. Beyond a series' ends, batch-1 lookups
 *     scale the nearest row by the analytic model's ratio (flagged extrapolated).
 * Nothing here writes: the database is opened read-only and never created. */
#include "config.h"

#include "profiles/profile.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_interp.h>
#include <sqlite3.h>

#include "core/digest.h"
#include "profiles/analytic.h"

#define MAX_RES 64        /* distinct resolutions per model */
#define MAX_DEGREES 8     /* distinct SP degrees per model */
#define MAX_BATCH 16
#define MAX_HW_LISTED 32
#define RES_HASH_SLOTS 128 /* >= 2 x MAX_RES, a power of two */

typedef struct resolution {
    int width, height;
    double tokens;
} resolution;

/* One (degree, batch, link) over tokens: what interpolation reads. */
typedef struct series {
    int n;
    double tokens[MAX_RES], median[MAX_RES], p10_ratio[MAX_RES], p90_ratio[MAX_RES], cv[MAX_RES];
    int analytic[MAX_RES];
    gsl_interp *interp; /* NULL when n < 2 */
} series;

typedef struct model_table {
    int n_res, n_deg, max_batch;
    resolution res[MAX_RES];
    int16_t res_hash[RES_HASH_SLOTS]; /* index into res, -1 empty */
    int deg[MAX_DEGREES];
    int8_t deg_index[TETRI_MAX_GPUS + 1]; /* degree -> index into deg, -1 absent */
    /* cells[((r * n_deg + d) * max_batch + (b - 1)) * TETRI_LINK_COUNT + link]; median_ns 0: absent */
    tetri_step_cost *cells;
    series *series[MAX_DEGREES][MAX_BATCH][TETRI_LINK_COUNT];
    /* migration rows: (tokens, link) -> ns, sorted by tokens */
    int n_mig[TETRI_LINK_COUNT];
    double mig_tokens[TETRI_LINK_COUNT][MAX_RES], mig_ns[TETRI_LINK_COUNT][MAX_RES];
    /* stage 'prepare' rows (a request's state made before its first step): tokens -> ns, sorted */
    int n_prep;
    double prep_tokens[MAX_RES], prep_ns[MAX_RES];
} model_table;

struct tetri_profile {
    char path[4096];
    char hardware[48];
    int flags;
    int fast_domain_size;
    tetri_cluster cluster;
    const analytic_hw *analytic; /* built-in model of this hardware, or NULL */
    model_table models[TETRI_MODEL_COUNT];
    tetri_profile_row *rows;
    int n_rows;
    tetri_profile_hw hw[MAX_HW_LISTED];
    int n_hw;
    tetri_idle_speedup idle;     /* the idle_speedup row of the hardware (present false: none) */
    uint64_t digest;             /* profile_digest: everything above that shapes a cost */
};

/* ---- default path ------------------------------------------------------------------------------ */

/* $TETRI_PROFILE when set and non-empty, else NULL: the first place profile_default_path looks. */
static const char *default_from_env(void)
{
    const char *env = getenv("TETRI_PROFILE");
    return env && *env ? env : NULL;
}

const char *profile_default_path(void)
{
    const char *env = default_from_env();
    if (env) return env;
    static const char installed[] = TETRI_PKGDATADIR "/default.db";
    if (access(installed, R_OK) == 0) return installed;
    static const char source_tree[] = TETRI_SOURCE_PROFILE;
    if (access(source_tree, R_OK) == 0) {
        /* Out-of-tree builds compile in "build/../profiles/default.db": say it plainly. */
        static char resolved[PATH_MAX];
        return realpath(source_tree, resolved) ? resolved : source_tree;
    }
    return installed;
}

/* ---- small helpers --------------------------------------------------------------------------- */

static unsigned res_hash_slot(int width, int height)
{
    uint32_t k = (uint32_t)width * 2654435761u ^ (uint32_t)height * 40503u;
    return (k ^ (k >> 15)) & (RES_HASH_SLOTS - 1);
}

static int res_find(const model_table *m, int width, int height)
{
    for (unsigned s = res_hash_slot(width, height), i = 0; i < RES_HASH_SLOTS; i++, s = (s + 1) & (RES_HASH_SLOTS - 1)) {
        int r = m->res_hash[s];
        if (r < 0) return -1;
        if (m->res[r].width == width && m->res[r].height == height) return r;
    }
    return -1;
}

static tetri_step_cost *cell(const model_table *m, int r, int d, int batch, tetri_link link)
{
    return &m->cells[((r * m->n_deg + d) * m->max_batch + (batch - 1)) * TETRI_LINK_COUNT + link];
}

/* Linear interpolation of ys over sorted xs at t, clamped to the ends. */
static double linear_at(const double *xs, const double *ys, int n, double t)
{
    assert(n >= 1);
    if (t <= xs[0]) return ys[0];
    if (t >= xs[n - 1]) return ys[n - 1];
    int lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (xs[mid] <= t) lo = mid;
        else hi = mid;
    }
    return ys[lo] + (ys[hi] - ys[lo]) * (t - xs[lo]) / (xs[hi] - xs[lo]);
}

static double tokens_of(int width, int height) { return (double)(width / 16) * (height / 16); }

/* ---- loading ------------------------------------------------------------------------------------ */

static int sql_fail(tetri_error *err, const char *path, sqlite3 *db, const char *what)
{
    int code = sqlite3_errcode(db);
    if (code == SQLITE_NOTADB)
        return tetri_errorf(err, "profile %s: not an SQLite database (is it a tetri profile? see `tetri profile --help`)", path);
    return tetri_errorf(err, "profile %s: %s: %s", path, what, sqlite3_errmsg(db));
}

static int table_exists(sqlite3 *db, const char *name, int *exists)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return -1;
    *exists = rc == SQLITE_ROW;
    return 0;
}

static int check_meta(sqlite3 *db, const char *path, tetri_error *err)
{
    int has_meta = 0;
    if (table_exists(db, "meta", &has_meta) < 0) return sql_fail(err, path, db, "reading its tables");
    if (!has_meta) return tetri_errorf(err, "profile %s: not a tetri profile (no meta table)", path);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT key, value FROM meta WHERE key IN ('kind', 'schema_version')", -1, &st, NULL) != SQLITE_OK)
        return sql_fail(err, path, db, "reading meta");
    char kind[64] = "", version[64] = "";
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(st, 0), *v = (const char *)sqlite3_column_text(st, 1);
        if (!k || !v) continue;
        snprintf(strcmp(k, "kind") == 0 ? kind : version, 64, "%s", v);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(err, path, db, "reading meta");
    if (strcmp(kind, "tetri-profile") != 0)
        return tetri_errorf(err, "profile %s: not a tetri profile (meta kind is '%s', expected 'tetri-profile')", path, kind);
    char *end;
    errno = 0;
    long v = strtol(version, &end, 10);
    if (!*version || *end || errno || v < 1)
        return tetri_errorf(err, "profile %s: meta schema_version '%s' is not a positive integer", path, version);
    if (v > TETRI_PROFILE_SCHEMA_VERSION)
        return tetri_errorf(err, "profile %s: schema version %ld is newer than this tetri reads (%d): upgrade tetri or regenerate the profile",
                            path, v, TETRI_PROFILE_SCHEMA_VERSION);
    return 0;
}

/* The database's own choice of hardware when the caller names none (meta 'default_hardware'), or
 * "" when it has none. */
static int default_hardware(sqlite3 *db, char *out, size_t size)
{
    sqlite3_stmt *st;
    out[0] = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'default_hardware'", -1, &st, NULL) != SQLITE_OK) return -1;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return 0;
}

/* The hardware rows' link model, where the schema has it (2 on; a schema-1 profile reads as none). */
static int load_link_models(tetri_profile *p, sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT fast_link_gbps, slow_link_gbps, a2a_latency_us, link_source FROM hardware WHERE name = ?", -1, &st,
                           NULL) != SQLITE_OK)
        return 0; /* no such columns: schema 1 */
    int rc = SQLITE_DONE;
    for (int i = 0; i < p->n_hw && (rc == SQLITE_DONE || rc == SQLITE_ROW); i++) {
        tetri_profile_hw *h = &p->hw[i];
        sqlite3_reset(st);
        sqlite3_bind_text(st, 1, h->name, -1, SQLITE_STATIC);
        if ((rc = sqlite3_step(st)) != SQLITE_ROW) continue;
        h->fast_link_gbps = sqlite3_column_double(st, 0);
        h->slow_link_gbps = sqlite3_column_double(st, 1);
        h->a2a_latency_us = sqlite3_column_double(st, 2);
        const char *src = (const char *)sqlite3_column_text(st, 3);
        snprintf(h->link_source, sizeof h->link_source, "%s", src ? src : "");
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static int load_hardware(tetri_profile *p, sqlite3 *db, const char *want, tetri_error *err)
{
    char preferred[48] = "";
    if (!want && default_hardware(db, preferred, sizeof preferred) < 0) return sql_fail(err, p->path, db, "reading meta");
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT h.name, h.gpu, h.n_gpus, h.fast_domain_size, "
                           "(SELECT count(*) FROM step_latency s WHERE s.hardware = h.name) FROM hardware h ORDER BY h.name",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(err, p->path, db, "reading hardware");
    int rc, chosen = -1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0), *gpu = (const char *)sqlite3_column_text(st, 1);
        int n = sqlite3_column_int(st, 2), dom = sqlite3_column_int(st, 3);
        if (!name || !*name) {
            sqlite3_finalize(st);
            return tetri_errorf(err, "profile %s: hardware row with an empty name", p->path);
        }
        if (p->n_hw == MAX_HW_LISTED) {
            sqlite3_finalize(st);
            return tetri_errorf(err, "profile %s: more than %d hardware rows", p->path, MAX_HW_LISTED);
        }
        tetri_profile_hw *h = &p->hw[p->n_hw];
        snprintf(h->name, sizeof h->name, "%s", name);
        snprintf(h->gpu, sizeof h->gpu, "%s", gpu ? gpu : "");
        h->n_gpus = n;
        h->fast_domain_size = dom;
        h->rows = sqlite3_column_int(st, 4);
        if (want ? strcmp(name, want) == 0 : chosen < 0 || strcmp(name, preferred) == 0) chosen = p->n_hw;
        p->n_hw++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(err, p->path, db, "reading hardware");
    if (p->n_hw == 0) return tetri_errorf(err, "profile %s: no hardware rows", p->path);
    if (load_link_models(p, db) < 0) return sql_fail(err, p->path, db, "reading the hardware's link model");
    if (chosen < 0) {
        char known[512] = "";
        size_t len = 0;
        for (int i = 0; i < p->n_hw && len < sizeof known; i++)
            len += (size_t)snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", p->hw[i].name);
        return tetri_errorf(err, "profile %s: unknown hardware '%s' (known: %s)", p->path, want, known);
    }
    const tetri_profile_hw *h = &p->hw[chosen];
    if (h->n_gpus < 1 || h->n_gpus > TETRI_MAX_GPUS)
        return tetri_errorf(err, "profile %s: hardware %s: n_gpus %d outside 1..%d", p->path, h->name, h->n_gpus, TETRI_MAX_GPUS);
    if (h->fast_domain_size < 1)
        return tetri_errorf(err, "profile %s: hardware %s: fast_domain_size %d must be >= 1", p->path, h->name, h->fast_domain_size);
    snprintf(p->hardware, sizeof p->hardware, "%s", h->name);
    p->fast_domain_size = h->fast_domain_size < h->n_gpus ? h->fast_domain_size : h->n_gpus;
    tetri_cluster_init(&p->cluster, h->name, h->n_gpus, h->fast_domain_size);
    p->analytic = analytic_hardware_find(h->name);
    return 0;
}

/* Reads and checks every step row of the hardware into p->rows. */
static int load_step_rows(tetri_profile *p, sqlite3 *db, tetri_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT model, width, height, degree, ulysses, ring, batch, link, median_ns, p10_ns, p90_ns, cv, "
                           "samples, source FROM step_latency WHERE hardware = ?",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(err, p->path, db, "reading step_latency");
    sqlite3_bind_text(st, 1, p->hardware, -1, SQLITE_STATIC);
    int rc, cap = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        char where[4400];
        snprintf(where, sizeof where, "profile %s: step_latency row %d of %s (%s %dx%d degree %d batch %d %s)", p->path,
                 p->n_rows + 1, p->hardware, model ? model : "NULL", sqlite3_column_int(st, 1), sqlite3_column_int(st, 2),
                 sqlite3_column_int(st, 3), sqlite3_column_int(st, 6),
                 sqlite3_column_text(st, 7) ? (const char *)sqlite3_column_text(st, 7) : "NULL");
        if (p->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            tetri_profile_row *grown = realloc(p->rows, (size_t)cap * sizeof *grown);
            if (!grown) {
                sqlite3_finalize(st);
                return tetri_errorf(err, "%s: out of memory", where);
            }
            p->rows = grown;
        }
        tetri_profile_row *r = &p->rows[p->n_rows];
        memset(r, 0, sizeof *r);
        int bad = 0;
        const char *why = NULL;
        if (!model || tetri_model_parse(model, &r->model) < 0) why = "unknown model", bad = 1;
        int64_t w = sqlite3_column_int64(st, 1), h = sqlite3_column_int64(st, 2);
        int64_t degree = sqlite3_column_int64(st, 3), uly = sqlite3_column_int64(st, 4), ring = sqlite3_column_int64(st, 5);
        int64_t batch = sqlite3_column_int64(st, 6);
        const char *link = (const char *)sqlite3_column_text(st, 7);
        int64_t med = sqlite3_column_int64(st, 8);
        int has_p10 = sqlite3_column_type(st, 9) != SQLITE_NULL, has_p90 = sqlite3_column_type(st, 10) != SQLITE_NULL;
        int64_t p10 = sqlite3_column_int64(st, 9), p90 = sqlite3_column_int64(st, 10);
        double cv = sqlite3_column_double(st, 11);
        const char *source = (const char *)sqlite3_column_text(st, 13);
        if (bad) {
        } else if (w < 16 || h < 16 || w > TETRI_MAX_SIDE || h > TETRI_MAX_SIDE || w % 16 || h % 16) {
            why = "width and height must be multiples of 16 in 16..16384";
        } else if (degree < 1 || degree > p->cluster.n_gpus) {
            why = "degree outside 1..n_gpus of its hardware";
        } else if (uly < 1 || ring < 1 || uly > degree || ring > degree || uly * ring != degree) {
            why = "ulysses x ring must equal degree";
        } else if (batch < 1 || batch > MAX_BATCH) {
            why = "batch outside 1..16";
        } else if (!link || tetri_link_parse(link, &r->link) < 0) {
            why = "link must be 'nvlink' or 'pcie'";
        } else if (degree == 1 && r->link != TETRI_LINK_FAST) {
            why = "a single GPU has no link: degree-1 rows say nvlink";
        } else if (r->link == TETRI_LINK_FAST && degree > p->fast_domain_size) {
            why = "nvlink row wider than the hardware's fast domain (fast_domain_size)";
        } else if (r->link == TETRI_LINK_SLOW && p->fast_domain_size >= p->cluster.n_gpus) {
            why = "pcie row, but every GPU of the hardware shares fast links (fast_domain_size >= n_gpus)";
        } else if (med <= 0 || med > 3600 * TETRI_NS_PER_S) {
            why = "median_ns must be in (0, 1 hour]";
        } else if ((has_p10 && (p10 <= 0 || p10 > med)) || (has_p90 && (p90 < med || p90 / 1000 > med))) {
            why = "0 < p10_ns <= median_ns <= p90_ns <= 1000 x median_ns violated";
        } else if (!(cv >= 0 && cv <= 10)) {
            why = "cv outside 0..10";
        } else if (!source || (strcmp(source, "measured") != 0 && strcmp(source, "analytic") != 0 &&
                               strcmp(source, "measured-compute+modelled-comm") != 0)) {
            why = "source must be 'measured', 'analytic' or 'measured-compute+modelled-comm'";
        }
        if (why) {
            sqlite3_finalize(st);
            return tetri_errorf(err, "%s: %s", where, why);
        }
        r->width = (int)w;
        r->height = (int)h;
        r->degree = (int)degree;
        r->ulysses = (int)uly;
        r->ring = (int)ring;
        r->batch = (int)batch;
        r->samples = sqlite3_column_int(st, 12);
        r->cost.median_ns = med;
        r->cost.p10_ns = has_p10 ? p10 : med;
        r->cost.p90_ns = has_p90 ? p90 : med;
        r->cost.cv = cv;
        r->cost.analytic = strcmp(source, "analytic") == 0;
        r->cost.modelled_comm = strcmp(source, "measured-compute+modelled-comm") == 0;
        p->n_rows++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(err, p->path, db, "reading step_latency");
    if (p->n_rows == 0) return tetri_errorf(err, "profile %s: no step_latency rows for hardware %s", p->path, p->hardware);
    return 0;
}

static int row_order(const void *a, const void *b)
{
    const tetri_profile_row *x = a, *y = b;
    double tx = tokens_of(x->width, x->height), ty = tokens_of(y->width, y->height);
#define CMP(u, v) if ((u) != (v)) return (u) < (v) ? -1 : 1
    CMP(x->model, y->model);
    CMP(tx, ty);
    CMP(x->width, y->width);
    CMP(x->degree, y->degree);
    CMP(x->batch, y->batch);
    CMP(x->link, y->link);
    CMP(x->cost.median_ns, y->cost.median_ns);
    CMP(x->ulysses, y->ulysses);
#undef CMP
    return 0;
}

/* Builds the per-model tables from the sorted rows. */
static int build_tables(tetri_profile *p, tetri_error *err)
{
    qsort(p->rows, (size_t)p->n_rows, sizeof *p->rows, row_order);
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) {
        model_table *m = &p->models[mi];
        memset(m->res_hash, -1, sizeof m->res_hash);
        memset(m->deg_index, -1, sizeof m->deg_index);
        m->max_batch = 0;
    }
    /* Pass 1: resolutions, degrees, batch bounds. */
    for (int i = 0; i < p->n_rows; i++) {
        const tetri_profile_row *r = &p->rows[i];
        model_table *m = &p->models[r->model];
        if (res_find(m, r->width, r->height) < 0) {
            if (m->n_res == MAX_RES)
                return tetri_errorf(err, "profile %s: %s has more than %d resolutions", p->path, tetri_model_name(r->model), MAX_RES);
            m->res[m->n_res] = (resolution){r->width, r->height, tokens_of(r->width, r->height)};
            unsigned s = res_hash_slot(r->width, r->height);
            while (m->res_hash[s] >= 0) s = (s + 1) & (RES_HASH_SLOTS - 1);
            m->res_hash[s] = (int16_t)m->n_res++;
        }
        if (m->deg_index[r->degree] < 0) {
            if (m->n_deg == MAX_DEGREES)
                return tetri_errorf(err, "profile %s: %s has more than %d distinct degrees", p->path, tetri_model_name(r->model), MAX_DEGREES);
            m->deg_index[r->degree] = (int8_t)m->n_deg;
            m->deg[m->n_deg++] = r->degree;
        }
        if (r->batch > m->max_batch) m->max_batch = r->batch;
    }
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) {
        model_table *m = &p->models[mi];
        if (m->n_res == 0) continue;
        /* Degrees ascending, so profile_degrees lists them in order and indices are stable. */
        for (int a = 1; a < m->n_deg; a++)
            for (int b = a; b > 0 && m->deg[b - 1] > m->deg[b]; b--) {
                int t = m->deg[b];
                m->deg[b] = m->deg[b - 1];
                m->deg[b - 1] = t;
            }
        for (int d = 0; d < m->n_deg; d++) m->deg_index[m->deg[d]] = (int8_t)d;
        size_t n_cells = (size_t)m->n_res * m->n_deg * m->max_batch * TETRI_LINK_COUNT;
        m->cells = calloc(n_cells, sizeof *m->cells);
        if (!m->cells) return tetri_errorf(err, "profile %s: out of memory", p->path);
    }
    /* Pass 2: cells (the fastest ulysses/ring split of a degree wins: rows are sorted by median)
     * and series points. */
    for (int i = 0; i < p->n_rows; i++) {
        const tetri_profile_row *r = &p->rows[i];
        model_table *m = &p->models[r->model];
        int ri = res_find(m, r->width, r->height), d = m->deg_index[r->degree];
        tetri_step_cost *c = cell(m, ri, d, r->batch, r->link);
        if (c->median_ns > 0) continue;
        *c = r->cost;
        series **sp = &m->series[d][r->batch - 1][r->link];
        if (!*sp && !(*sp = calloc(1, sizeof **sp))) return tetri_errorf(err, "profile %s: out of memory", p->path);
        series *s = *sp;
        double t = tokens_of(r->width, r->height);
        double med = (double)r->cost.median_ns;
        if (s->n > 0 && s->tokens[s->n - 1] == t) {
            /* Same token count, another aspect ratio: the series keeps their mean (the exact cells
             * still answer exact lookups). Rows come sorted by tokens, so only the last can tie. */
            int k = s->n - 1;
            s->median[k] = 0.5 * (s->median[k] + med);
            s->analytic[k] |= r->cost.analytic;
            continue;
        }
        assert(s->n < MAX_RES);
        s->tokens[s->n] = t;
        s->median[s->n] = med;
        s->p10_ratio[s->n] = (double)r->cost.p10_ns / med;
        s->p90_ratio[s->n] = (double)r->cost.p90_ns / med;
        s->cv[s->n] = r->cost.cv;
        s->analytic[s->n] = r->cost.analytic;
        s->n++;
    }
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) {
        model_table *m = &p->models[mi];
        for (int d = 0; d < m->n_deg; d++)
            for (int b = 0; b < m->max_batch; b++)
                for (int l = 0; l < TETRI_LINK_COUNT; l++) {
                    series *s = m->series[d][b][l];
                    if (!s || s->n < 2) continue;
                    s->interp = gsl_interp_alloc(s->n >= 3 ? gsl_interp_steffen : gsl_interp_linear, (size_t)s->n);
                    if (!s->interp || gsl_interp_init(s->interp, s->tokens, s->median, (size_t)s->n) != 0)
                        return tetri_errorf(err, "profile %s: cannot build the interpolant of %s degree %d batch %d", p->path,
                                            tetri_model_name((tetri_model)mi), m->deg[d], b + 1);
                }
    }
    return 0;
}

static int load_migration(tetri_profile *p, sqlite3 *db, tetri_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT model, width, height, link, median_ns FROM migration WHERE hardware = ? "
                               "ORDER BY model, (width / 16) * (height / 16), width, link",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(err, p->path, db, "reading migration");
    sqlite3_bind_text(st, 1, p->hardware, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0), *link = (const char *)sqlite3_column_text(st, 3);
        int w = sqlite3_column_int(st, 1), h = sqlite3_column_int(st, 2);
        int64_t ns = sqlite3_column_int64(st, 4);
        tetri_model mo;
        tetri_link li;
        const char *why = NULL;
        if (!model || tetri_model_parse(model, &mo) < 0) why = "unknown model";
        else if (w < 16 || h < 16 || w > TETRI_MAX_SIDE || h > TETRI_MAX_SIDE || w % 16 || h % 16) why = "width and height must be multiples of 16 in 16..16384";
        else if (!link || tetri_link_parse(link, &li) < 0) why = "link must be 'nvlink' or 'pcie'";
        else if (ns < 0 || ns > 3600 * TETRI_NS_PER_S) why = "median_ns must be in [0, 1 hour]";
        if (why) {
            /* Format before finalizing: the column texts belong to the statement. */
            tetri_errorf(err, "profile %s: migration row (%s %s %dx%d %s): %s", p->path, p->hardware, model ? model : "NULL", w, h,
                         link ? link : "NULL", why);
            sqlite3_finalize(st);
            return -1;
        }
        model_table *m = &p->models[mo];
        int n = m->n_mig[li];
        double t = tokens_of(w, h);
        if (n > 0 && m->mig_tokens[li][n - 1] == t) continue; /* same tokens: the first aspect ratio stands */
        if (n == MAX_RES) {
            tetri_errorf(err, "profile %s: more than %d migration rows for %s %s", p->path, MAX_RES, model, link);
            sqlite3_finalize(st);
            return -1;
        }
        m->mig_tokens[li][n] = t;
        m->mig_ns[li][n] = (double)ns;
        m->n_mig[li]++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(err, p->path, db, "reading migration");
    return 0;
}

/* The 'prepare' stage rows (written by tetri profile measure): what a request's first block spends
 * making its state before its first step. */
static int load_prepare(tetri_profile *p, sqlite3 *db, tetri_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT model, width, height, median_ns FROM stage_latency WHERE hardware = ? AND stage = 'prepare' "
                               "ORDER BY model, (width / 16) * (height / 16), width",
                           -1, &st, NULL) != SQLITE_OK)
        return sql_fail(err, p->path, db, "reading stage_latency");
    sqlite3_bind_text(st, 1, p->hardware, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *model = (const char *)sqlite3_column_text(st, 0);
        const int w = sqlite3_column_int(st, 1), h = sqlite3_column_int(st, 2);
        const int64_t ns = sqlite3_column_int64(st, 3);
        tetri_model mo;
        const char *why = NULL;
        if (!model || tetri_model_parse(model, &mo) < 0) why = "unknown model";
        else if (w < 16 || h < 16 || w > TETRI_MAX_SIDE || h > TETRI_MAX_SIDE || w % 16 || h % 16) why = "width and height must be multiples of 16 in 16..16384";
        else if (ns < 0 || ns > 3600 * TETRI_NS_PER_S) why = "median_ns must be in [0, 1 hour]";
        if (why) {
            tetri_errorf(err, "profile %s: stage_latency prepare row (%s %s %dx%d): %s", p->path, p->hardware, model ? model : "NULL", w, h, why);
            sqlite3_finalize(st);
            return -1;
        }
        model_table *m = &p->models[mo];
        const double t = tokens_of(w, h);
        if ((m->n_prep > 0 && m->prep_tokens[m->n_prep - 1] == t) || m->n_prep == MAX_RES) continue;
        m->prep_tokens[m->n_prep] = t;
        m->prep_ns[m->n_prep++] = (double)ns;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(err, p->path, db, "reading stage_latency");
    return 0;
}

/* The optional idle_speedup row of the hardware (a table older profiles do not have). */
static int load_idle_speedup(tetri_profile *p, sqlite3 *db, tetri_error *err)
{
    int exists = 0;
    if (table_exists(db, "idle_speedup", &exists) < 0) return sql_fail(err, p->path, db, "reading its tables");
    if (!exists) return 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT min_idle_ns, boost_ns, factor FROM idle_speedup WHERE hardware = ?", -1, &st, NULL) != SQLITE_OK)
        return sql_fail(err, p->path, db, "reading idle_speedup");
    sqlite3_bind_text(st, 1, p->hardware, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const int64_t idle = sqlite3_column_int64(st, 0), boost = sqlite3_column_int64(st, 1);
        const double f = sqlite3_column_double(st, 2);
        const char *why = NULL;
        if (idle < 0 || idle > 3600 * TETRI_NS_PER_S) why = "min_idle_ns must be in [0, 1 hour]";
        else if (boost < 0 || boost > 3600 * TETRI_NS_PER_S) why = "boost_ns must be in [0, 1 hour]";
        else if (!(f > 0 && f <= 1)) why = "factor must be in (0, 1]";
        if (why) {
            sqlite3_finalize(st);
            return tetri_errorf(err, "profile %s: idle_speedup row of %s: %s", p->path, p->hardware, why);
        }
        p->idle = (tetri_idle_speedup){.present = true, .min_idle_ns = idle, .boost_ns = boost, .factor = f};
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return sql_fail(err, p->path, db, "reading idle_speedup");
    return 0;
}

const tetri_idle_speedup *profile_idle_speedup(const tetri_profile *p) { return &p->idle; }

tetri_ns profile_prepare_ns(const tetri_profile *p, tetri_model model, int width, int height)
{
    if ((unsigned)model >= TETRI_MODEL_COUNT) return 0;
    const model_table *m = &p->models[model];
    if (m->n_prep == 0) return 0;
    return (tetri_ns)llround(linear_at(m->prep_tokens, m->prep_ns, m->n_prep, tokens_of(width, height)));
}

/* The analytic model behind the fallback and the extrapolation beyond profiled resolutions: the
 * hardware's built-in one (else h100x8's, as series_cost uses) and the calibrated constants. */
static uint64_t digest_analytic(uint64_t h, const tetri_profile *p)
{
    const analytic_hw *hw = p->analytic ? p->analytic : analytic_hardware_find("h100x8");
    const analytic_params *prm = analytic_default_params();
    h = tetri_digest_str(h, hw->name);
    const double hw_values[] = {hw->n_gpus, hw->fast_domain_size, hw->fast_link_gbps, hw->slow_link_gbps,
                                hw->a2a_latency_us, hw->hbm_gbps, hw->memory, hw->compute_scale};
    for (size_t i = 0; i < sizeof hw_values / sizeof hw_values[0]; i++) h = tetri_digest_double(h, hw_values[i]);
    const double prm_values[] = {prm->launch_us, prm->coll_host_us, prm->ew_efficiency, prm->ew_efficiency_hbm3e,
                                 prm->overlap_p, prm->attn_head64_factor};
    for (size_t i = 0; i < sizeof prm_values / sizeof prm_values[0]; i++) h = tetri_digest_double(h, prm_values[i]);
    return h;
}

/* What every lookup reads, once loaded: the hardware, the step rows (sorted), the migration
 * points, the flags and the analytic model. The path, other hardware's rows and sample counts do
 * not shape a cost and stay out. */
static uint64_t content_digest(const tetri_profile *p)
{
    uint64_t h = tetri_digest_str(TETRI_DIGEST_INIT, p->hardware);
    h = tetri_digest_i64(h, p->cluster.n_gpus);
    h = tetri_digest_i64(h, p->fast_domain_size);
    h = tetri_digest_i64(h, p->flags);
    for (int i = 0; i < p->n_rows; i++) {
        const tetri_profile_row *r = &p->rows[i];
        const int64_t v[] = {r->model, r->width, r->height, r->degree, r->ulysses, r->ring, r->batch, r->link,
                             r->cost.median_ns, r->cost.p10_ns, r->cost.p90_ns, r->cost.analytic};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) h = tetri_digest_i64(h, v[k]);
        h = tetri_digest_double(h, r->cost.cv);
    }
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++)
        for (int l = 0; l < TETRI_LINK_COUNT; l++) {
            const model_table *m = &p->models[mi];
            h = tetri_digest_i64(h, m->n_mig[l]);
            for (int k = 0; k < m->n_mig[l]; k++)
                h = tetri_digest_double(tetri_digest_double(h, m->mig_tokens[l][k]), m->mig_ns[l][k]);
        }
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) { /* the prepare stage: first blocks cost it */
        const model_table *m = &p->models[mi];
        h = tetri_digest_i64(h, m->n_prep);
        for (int k = 0; k < m->n_prep; k++) h = tetri_digest_double(tetri_digest_double(h, m->prep_tokens[k]), m->prep_ns[k]);
    }
    if (p->idle.present) { /* only then: a profile without the row keeps the digest it had */
        h = tetri_digest_i64(tetri_digest_i64(h, p->idle.min_idle_ns), p->idle.boost_ns);
        h = tetri_digest_double(h, p->idle.factor);
    }
    return digest_analytic(h, p);
}

int profile_open(const char *path, const char *hardware, int flags, tetri_profile **out, tetri_error *err)
{
    *out = NULL;
    if (!path || !*path) return tetri_errorf(err, "profile: no path given");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tetri_errorf(err, "profile %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return tetri_errorf(err, "profile %s: not a regular file", path);
    tetri_profile *p = calloc(1, sizeof *p);
    if (!p) return tetri_errorf(err, "profile %s: out of memory", path);
    snprintf(p->path, sizeof p->path, "%s", path);
    p->flags = flags;
    sqlite3 *db = NULL;
    /* Read-only and no URI: a missing file is an error, never a new empty database. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    int ok = -1;
    if (rc != SQLITE_OK) {
        tetri_errorf(err, "profile %s: cannot open: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    } else if (check_meta(db, path, err) == 0 && load_hardware(p, db, hardware, err) == 0 && load_step_rows(p, db, err) == 0 &&
               build_tables(p, err) == 0 && load_migration(p, db, err) == 0 && load_prepare(p, db, err) == 0 &&
               load_idle_speedup(p, db, err) == 0) {
        p->digest = content_digest(p);
        ok = 0;
    }
    sqlite3_close(db);
    if (ok < 0) {
        profile_close(p);
        return -1;
    }
    *out = p;
    return 0;
}

int profile_open_option(const char *option, const char *given, const char *hardware, int flags, tetri_profile **out,
                        tetri_error *err)
{
    if (profile_open(given ? given : profile_default_path(), hardware, flags, out, err) == 0) return 0;
    if (given) return tetri_error_prefix(err, "%s", option);
    if (default_from_env()) return tetri_error_prefix(err, "TETRI_PROFILE");
    size_t len = strnlen(err->msg, sizeof err->msg);
    snprintf(err->msg + len, sizeof err->msg - len, " (the default: give one with %s, or set TETRI_PROFILE)", option);
    return -1;
}

void profile_close(tetri_profile *p)
{
    if (!p) return;
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) {
        model_table *m = &p->models[mi];
        free(m->cells);
        for (int d = 0; d < MAX_DEGREES; d++)
            for (int b = 0; b < MAX_BATCH; b++)
                for (int l = 0; l < TETRI_LINK_COUNT; l++) {
                    series *s = m->series[d][b][l];
                    if (!s) continue;
                    if (s->interp) gsl_interp_free(s->interp);
                    free(s);
                }
    }
    free(p->rows);
    free(p);
}

/* ---- accessors ----------------------------------------------------------------------------------- */

const tetri_cluster *profile_cluster(const tetri_profile *p) { return &p->cluster; }
void profile_set_sets(tetri_profile *p, tetri_sets sets) { p->cluster.sets = sets; }
const char *profile_hardware(const tetri_profile *p) { return p->hardware; }
const char *profile_path(const tetri_profile *p) { return p->path; }
uint64_t profile_digest(const tetri_profile *p) { return p->digest; }
int profile_flags(const tetri_profile *p) { return p->flags; }
int profile_row_count(const tetri_profile *p) { return p->n_rows; }
const tetri_profile_row *profile_row_at(const tetri_profile *p, int i)
{
    assert(i >= 0 && i < p->n_rows);
    return &p->rows[i];
}
int profile_hardware_count(const tetri_profile *p) { return p->n_hw; }
const tetri_profile_hw *profile_hardware_at(const tetri_profile *p, int i)
{
    assert(i >= 0 && i < p->n_hw);
    return &p->hw[i];
}

int profile_degrees(const tetri_profile *p, tetri_model model, int *degrees, int max)
{
    if ((unsigned)model >= TETRI_MODEL_COUNT) return 0;
    const model_table *m = &p->models[model];
    int n = 0;
    for (int d = 0; d < m->n_deg && n < max; d++) degrees[n++] = m->deg[d];
    return n;
}

int profile_max_batch(const tetri_profile *p, tetri_model model, int width, int height, int degree)
{
    if ((unsigned)model >= TETRI_MODEL_COUNT || degree < 1 || degree > TETRI_MAX_GPUS) return 1;
    const model_table *m = &p->models[model];
    int d = m->deg_index[degree];
    if (d < 0) return 1;
    int r = res_find(m, width, height);
    double t = tokens_of(width, height);
    int best = 1;
    for (int b = 2; b <= m->max_batch; b++)
        for (int l = 0; l < TETRI_LINK_COUNT; l++) {
            if (r >= 0 && cell(m, r, d, b, (tetri_link)l)->median_ns > 0) best = b;
            const series *s = m->series[d][b - 1][l];
            /* An unprofiled resolution between two profiled batch-b points is batchable too. */
            if (r < 0 && s && s->n >= 2 && t >= s->tokens[0] && t <= s->tokens[s->n - 1]) best = b;
        }
    return best;
}

/* ---- lookups -------------------------------------------------------------------------------------- */

/* Fills *out from the analytic model (degree fallback). -1 when this hardware has no built-in model. */
static int analytic_cost(const tetri_profile *p, tetri_model model, int width, int height, int degree, int batch,
                         tetri_link link, tetri_step_cost *out)
{
    if (!p->analytic || 24 % degree != 0) return -1; /* Ulysses splits the 24 heads evenly */
    double s = analytic_step(p->analytic, analytic_default_params(), model, width, height, degree, batch, link, NULL);
    tetri_ns ns = (tetri_ns)llround(s * 1e9);
    *out = (tetri_step_cost){.median_ns = ns, .p10_ns = ns, .p90_ns = ns, .analytic = 1, .fallback = 1};
    return 0;
}

/* The cost at (model, w x h) from series s. Returns 0, or -1 when it cannot be had (a batch > 1
 * outside its profiled range, or no model to extrapolate with). */
static int series_cost(const tetri_profile *p, const series *s, tetri_model model, int width, int height, int degree,
                       int batch, tetri_link link, tetri_step_cost *out)
{
    const double t = tokens_of(width, height);
    double med;
    int analytic, extrapolated = 0;
    if (s->n >= 2 && t >= s->tokens[0] && t <= s->tokens[s->n - 1]) {
        med = gsl_interp_eval(s->interp, s->tokens, s->median, t, NULL);
        int lo = 0;
        while (lo + 1 < s->n && s->tokens[lo + 1] <= t) lo++;
        analytic = s->analytic[lo] | s->analytic[lo + 1 < s->n ? lo + 1 : lo];
    } else {
        /* Outside: scale the nearest point by how the analytic model grows from its resolution.
         * Only for single requests: a batch size profiled at small resolutions says nothing of
         * large ones. */
        if (batch != 1) return -1;
        const analytic_hw *hw = p->analytic ? p->analytic : analytic_hardware_find("h100x8");
        int k = t < s->tokens[0] ? 0 : s->n - 1;
        /* A square of the nearest point's token count stands for its resolution. */
        int side = (int)lround(sqrt(s->tokens[k])) * 16;
        const analytic_params *prm = analytic_default_params();
        double ratio = analytic_step(hw, prm, model, width, height, degree, 1, link, NULL) /
                       analytic_step(hw, prm, model, side, side, degree, 1, link, NULL);
        med = s->median[k] * ratio;
        analytic = s->analytic[k];
        extrapolated = 1;
    }
    double p10r = linear_at(s->tokens, s->p10_ratio, s->n, t), p90r = linear_at(s->tokens, s->p90_ratio, s->n, t);
    tetri_ns ns = (tetri_ns)llround(med);
    if (ns < 1) ns = 1;
    *out = (tetri_step_cost){.median_ns = ns,
                             .p10_ns = (tetri_ns)llround(med * p10r),
                             .p90_ns = (tetri_ns)llround(med * p90r),
                             .cv = linear_at(s->tokens, s->cv, s->n, t),
                             .interpolated = 1,
                             .analytic = analytic,
                             .extrapolated = extrapolated};
    return 0;
}

/* The shared path of both lookups. Returns 0 with *out, or -1 (why in *why, for the error). */
static int lookup(const tetri_profile *p, tetri_model model, int width, int height, int degree, int batch, tetri_link link,
                  tetri_step_cost *out, const char **why)
{
    if ((unsigned)model >= TETRI_MODEL_COUNT || width < 16 || height < 16 || width > TETRI_MAX_SIDE || height > TETRI_MAX_SIDE || batch < 1 ||
        (unsigned)link >= TETRI_LINK_COUNT) {
        *why = "invalid request";
        return -1;
    }
    if (degree < 1 || degree > p->cluster.n_gpus) {
        *why = "degree exceeds the hardware's GPUs";
        return -1;
    }
    if (degree == 1) link = TETRI_LINK_FAST; /* one GPU: no communication, the link does not matter */
    if (link == TETRI_LINK_FAST && degree > p->fast_domain_size) {
        *why = "no set of that many GPUs shares fast links on this hardware (its sets span pcie)";
        return -1;
    }
    if (link == TETRI_LINK_SLOW && p->fast_domain_size == p->cluster.n_gpus) {
        *why = "every GPU of this hardware shares fast links (no pcie sets)";
        return -1;
    }
    const model_table *m = &p->models[model];
    int d = m->deg_index[degree];
    const series *s = d >= 0 && batch <= m->max_batch ? m->series[d][batch - 1][link] : NULL;
    if (!s) {
        if ((p->flags & TETRI_PROFILE_ANALYTIC_FALLBACK) && analytic_cost(p, model, width, height, degree, batch, link, out) == 0)
            return 0;
        *why = m->n_res == 0 ? "model not in the profile" : d < 0 ? "degree not profiled" : "no rows for this batch size and link";
        return -1;
    }
    int r = res_find(m, width, height);
    if (r >= 0) {
        const tetri_step_cost *c = cell(m, r, d, batch, link);
        if (c->median_ns > 0) {
            *out = *c;
            return 0;
        }
    }
    if (series_cost(p, s, model, width, height, degree, batch, link, out) == 0) return 0;
    *why = "batch size profiled only at other resolutions";
    return -1;
}

tetri_ns profile_lookup_step_ns(const tetri_profile *p, tetri_model model, int width, int height, int degree, int batch,
                                tetri_link link)
{
    tetri_step_cost c;
    const char *why;
    return lookup(p, model, width, height, degree, batch, link, &c, &why) == 0 ? c.median_ns : -1;
}

int profile_step_cost(const tetri_profile *p, tetri_model model, int width, int height, int degree, int batch,
                      tetri_link link, tetri_step_cost *out, tetri_error *err)
{
    const char *why = NULL;
    if (lookup(p, model, width, height, degree, batch, link, out, &why) == 0) return 0;
    char degrees[128] = "";
    size_t len = 0;
    if ((unsigned)model < TETRI_MODEL_COUNT) {
        const model_table *m = &p->models[model];
        for (int d = 0; d < m->n_deg && len < sizeof degrees; d++)
            len += (size_t)snprintf(degrees + len, sizeof degrees - len, "%s%d", d ? ", " : "", m->deg[d]);
    }
    return tetri_errorf(err, "profile %s: no step cost for hardware %s, model %s, %dx%d, degree %d, batch %d, link %s: %s "
                             "(degrees profiled: %s%s)",
                        p->path, p->hardware, tetri_model_name(model), width, height, degree, batch, tetri_link_name(link), why,
                        *degrees ? degrees : "none",
 p->analytic && !(p->flags & TETRI_PROFILE_ANALYTIC_FALLBACK) && why && strstr(why, "not profiled")
                            ? "; the analytic model can fill it in: open with the analytic fallback"
                            : "");
}

tetri_ns profile_migration_ns(const tetri_profile *p, tetri_model model, int width, int height, tetri_link link)
{
    if ((unsigned)model >= TETRI_MODEL_COUNT || (unsigned)link >= TETRI_LINK_COUNT) return 0;
    const model_table *m = &p->models[model];
    if (m->n_mig[link] == 0) link = TETRI_LINK_FAST;
    int n = m->n_mig[link];
    if (n == 0) return 0; /* a profile without migration rows: moving state costs nothing (documented) */
    double t = tokens_of(width, height);
    const double *xs = m->mig_tokens[link], *ys = m->mig_ns[link];
    double ns;
    if (n >= 2 && t > xs[n - 1]) /* linear in bytes, so in tokens: extend the last segment */
        ns = ys[n - 1] + (ys[n - 1] - ys[n - 2]) * (t - xs[n - 1]) / (xs[n - 1] - xs[n - 2]);
    else
        ns = linear_at(xs, ys, n, t);
    return ns < 0 ? 0 : (tetri_ns)llround(ns);
}

int profile_block_cost(const tetri_profile *p, tetri_model model, int width, int height, int steps, int batch,
                       tetri_gpuset gpus, const tetri_gpuset *prev, int n_prev, tetri_block_cost *out, tetri_error *err)
{
    const tetri_cluster *c = &p->cluster;
    tetri_step_cost step;
    if (profile_step_cost(p, model, width, height, tetri_gpuset_count(gpus), batch, tetri_cluster_link(c, gpus), &step, err))
        return -1;
    tetri_ns by_link[TETRI_LINK_COUNT];
    bool moves = false;
    for (int k = 0; k < n_prev; k++) moves |= prev[k] != 0 && prev[k] != gpus;
    for (int l = 0; l < TETRI_LINK_COUNT; l++)
        by_link[l] = moves ? profile_migration_ns(p, model, width, height, (tetri_link)l) : 0;
    *out = (tetri_block_cost){.step_ns = step.median_ns, .compute_ns = steps * step.median_ns, .step_cv = step.cv};
    const tetri_ns prepare = profile_prepare_ns(p, model, width, height);
    for (int k = 0; k < n_prev; k++) {
        tetri_ns m = tetri_migration_rule_ns(c, prev[k], gpus, by_link);
        if (m > out->migration_ns) out->migration_ns = m;
        out->prepare_ns += tetri_prepare_rule_ns(prev[k], 1, prepare);
    }
    out->total_ns = out->compute_ns + out->migration_ns + out->prepare_ns;
    return 0;
}
