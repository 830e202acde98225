/* profiles/generate.c: writes a profile database of analytic rows (`tetri profile --analytic`).
 * The rows and their order depend only on the model and its frozen parameters, so generating twice
 * gives the same rows (tests/test_profiles.c checks profiles/default.db against a fresh one). */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "profiles/analytic.h"
#include "profiles/profile.h"
#include "profiles/schema_sql.h" /* generated from profiles/schema.sql: profile_schema_sql */

static const int resolutions[] = {256, 512, 768, 1024, 1536, 2048};
#define N_RES (int)(sizeof resolutions / sizeof resolutions[0])
/* Selective batching (DESIGN 8.7) batches small requests only: batch rows up to this size. */
#define BATCH_MAX_RES 512
#define BATCH_MAX 4

/* Step-time spread. The analytic model predicts a median only; the reference shows launch-bound
 * steps wander (FLUX 256 read 45 and 64 ms in two runs) while arithmetic-bound ones hold within a
 * few percent. Assumed: cv = 2% + 10% x the host share of the step. */
static double assumed_cv(const analytic_breakdown *b)
{
    double host_share = b->host_s / (b->host_s + b->gpu_s);
    return 0.02 + 0.10 * host_share;
}

static int exec_sql(sqlite3 *db, const char *sql, const char *path, tetri_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
    tetri_errorf(err, "profile %s: %s", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    return -1;
}

static int step_done(sqlite3 *db, sqlite3_stmt *st, const char *path, tetri_error *err)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_DONE) return 0;
    return tetri_errorf(err, "profile %s: writing a row: %s", path, sqlite3_errmsg(db));
}

static int write_hardware(sqlite3 *db, const analytic_hw *hw, const analytic_params *prm, const char *path, tetri_error *err)
{
    sqlite3_stmt *hs = NULL, *ss = NULL, *ms = NULL;
    int ok = -1;
    if (sqlite3_prepare_v2(db, "INSERT INTO hardware VALUES (?, ?, ?, ?, 'nvlink', ?, 'pcie', ?, ?, ?)", -1, &hs, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO step_latency VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, 0, 'analytic', NULL, ?)", -1,
                           &ss, NULL) ||
        sqlite3_prepare_v2(db, "INSERT INTO migration VALUES (?, ?, ?, ?, ?, ?, 'analytic')", -1, &ms, NULL)) {
        tetri_errorf(err, "profile %s: %s", path, sqlite3_errmsg(db));
        goto out;
    }
    sqlite3_bind_text(hs, 1, hw->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(hs, 2, hw->gpu, -1, SQLITE_STATIC);
    sqlite3_bind_int(hs, 3, hw->n_gpus);
    sqlite3_bind_int(hs, 4, hw->fast_domain_size);
    sqlite3_bind_double(hs, 5, hw->fast_link_gbps);
    sqlite3_bind_double(hs, 6, hw->slow_link_gbps);
    sqlite3_bind_double(hs, 7, hw->a2a_latency_us);
    sqlite3_bind_text(hs, 8, hw->link_basis, -1, SQLITE_STATIC);
    if (step_done(db, hs, path, err) < 0) goto out;

    char method[1024];
    snprintf(method, sizeof method,
             "analytic (eager Ulysses model, docs/profiles.md): launch %.1f us, all-to-all host %.0f us, element-wise "
             "efficiency %.3f/%.3f, overlap p %.0f, head-dim-64 attention x%.3f; calibrated %s; %s",
             prm->launch_us, prm->coll_host_us, prm->ew_efficiency, prm->ew_efficiency_hbm3e, prm->overlap_p,
             prm->attn_head64_factor,
             hw->measured_basis ? "against this GPU's reference rows (MEASUREMENTS.md)" : "on H100/H200 only, datasheet rates here",
             hw->basis);
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) {
        const char *model = tetri_model_name((tetri_model)mi);
        for (int ri = 0; ri < N_RES; ri++) {
            int res = resolutions[ri];
            for (int degree = 1; degree <= hw->n_gpus; degree *= 2)
                for (int link = 0; link < TETRI_LINK_COUNT; link++) {
                    /* A set of `degree` GPUs is all-NVLink when it fits one domain, and can span
                     * domains (PCIe) when the cluster has more than one. */
                    int fast_possible = degree <= hw->fast_domain_size;
                    int slow_possible = degree > 1 && hw->n_gpus > hw->fast_domain_size;
                    if (link == TETRI_LINK_FAST ? !fast_possible : !slow_possible) continue;
                    for (int batch = 1; batch <= (res <= BATCH_MAX_RES ? BATCH_MAX : 1); batch++) {
                        analytic_breakdown b;
                        double s = analytic_step(hw, prm, (tetri_model)mi, res, res, degree, batch, (tetri_link)link, &b);
                        double cv = assumed_cv(&b);
                        tetri_ns med = (tetri_ns)llround(s * 1e9);
                        sqlite3_bind_text(ss, 1, hw->name, -1, SQLITE_STATIC);
                        sqlite3_bind_text(ss, 2, model, -1, SQLITE_STATIC);
                        sqlite3_bind_int(ss, 3, res);
                        sqlite3_bind_int(ss, 4, res);
                        sqlite3_bind_int(ss, 5, degree);
                        sqlite3_bind_int(ss, 6, degree); /* all Ulysses, ring 1 */
                        sqlite3_bind_int(ss, 7, batch);
                        sqlite3_bind_text(ss, 8, tetri_link_name((tetri_link)link), -1, SQLITE_STATIC);
                        sqlite3_bind_int64(ss, 9, med);
                        /* p10/p90 of a normal with that cv (z = 1.2816). */
                        sqlite3_bind_int64(ss, 10, (tetri_ns)llround(s * 1e9 * (1 - 1.2816 * cv)));
                        sqlite3_bind_int64(ss, 11, (tetri_ns)llround(s * 1e9 * (1 + 1.2816 * cv)));
                        sqlite3_bind_double(ss, 12, round(cv * 1e4) / 1e4);
                        sqlite3_bind_text(ss, 13, method, -1, SQLITE_STATIC);
                        if (step_done(db, ss, path, err) < 0) goto out;
                    }
                }
            for (int link = 0; link < TETRI_LINK_COUNT; link++) {
                if (link == TETRI_LINK_SLOW && hw->n_gpus <= hw->fast_domain_size) continue;
                sqlite3_bind_text(ms, 1, hw->name, -1, SQLITE_STATIC);
                sqlite3_bind_text(ms, 2, model, -1, SQLITE_STATIC);
                sqlite3_bind_int(ms, 3, res);
                sqlite3_bind_int(ms, 4, res);
                sqlite3_bind_text(ms, 5, tetri_link_name((tetri_link)link), -1, SQLITE_STATIC);
                sqlite3_bind_int64(ms, 6, (tetri_ns)llround(analytic_migration(hw, (tetri_model)mi, res, res, (tetri_link)link) * 1e9));
                if (step_done(db, ms, path, err) < 0) goto out;
            }
        }
    }
    ok = 0;
out:
    sqlite3_finalize(hs);
    sqlite3_finalize(ss);
    sqlite3_finalize(ms);
    return ok;
}

/* Splits the comma-separated list into built-in hardware (all of them for NULL or ""). */
static int pick_hardware(const char *list, const analytic_hw **out, int *n, tetri_error *err)
{
    *n = 0;
    if (!list || !*list) {
        for (int i = 0; i < analytic_hardware_count(); i++) out[(*n)++] = analytic_hardware_at(i);
        return 0;
    }
    const char *s = list;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        char name[48];
        if (len == 0 || len >= sizeof name) return tetri_errorf(err, "--hardware '%s': empty or overlong name", list);
        memcpy(name, s, len);
        name[len] = 0;
        const analytic_hw *hw = analytic_hardware_find(name);
        if (!hw) {
            char known[256] = "";
            size_t k = 0;
            for (int i = 0; i < analytic_hardware_count() && k < sizeof known; i++)
                k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", i ? ", " : "", analytic_hardware_at(i)->name);
            return tetri_errorf(err, "--hardware: no analytic model for '%s' (known: %s)", name, known);
        }
        for (int i = 0; i < *n; i++)
            if (out[i] == hw) return tetri_errorf(err, "--hardware: '%s' given twice", name);
        out[(*n)++] = hw;
        s += len + (comma ? 1 : 0);
        if (comma && !*s) return tetri_errorf(err, "--hardware '%s': trailing comma", list);
    }
    return 0;
}

/* What the SQLite file at path says it is: its meta 'kind' into kind ("" when it has none). Returns
 * 0, or -1 when it is not an SQLite database at all. */
static int sqlite_kind(const char *path, char *kind, size_t len)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    kind[0] = '\0';
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st) == SQLITE_ROW ? SQLITE_OK : SQLITE_NOTADB;
    sqlite3_finalize(st);
    st = NULL;
    if (rc == SQLITE_OK && sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'kind'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(kind, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

int analytic_may_replace(const char *path, int force, tetri_error *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return errno == ENOENT ? 0 : tetri_errorf(err, "profile %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return tetri_errorf(err, "profile %s: exists and is not a regular file; not replacing it", path);
    char kind[64];
    if (sb.st_size > 0 && sqlite_kind(path, kind, sizeof kind) == 0 && strcmp(kind, "tetri-profile") == 0)
        return force ? 0 : tetri_errorf(err, "profile %s: exists (a tetri profile); give --force to replace it", path);
    const char *what = sb.st_size == 0                              ? "an empty file"
                       : sqlite_kind(path, kind, sizeof kind) != 0   ? "not an SQLite database"
                       : strcmp(kind, "tetri-results") == 0          ? "a tetri results database"
                                                                     : "an SQLite database of another kind";
    return tetri_errorf(err, "profile %s: exists and is not a tetri profile (%s); not replacing it, even with --force: "
                             "choose another --out, or remove it first",
                        path, what);
}

int analytic_generate(const char *path, const char *hardware_list, const analytic_params *prm, tetri_error *err)
{
    const analytic_hw *hws[16];
    int n_hw;
    assert(analytic_hardware_count() <= 16);
    if (pick_hardware(hardware_list, hws, &n_hw, err) < 0) return -1;
    /* Built beside the target and renamed over it: a failed run leaves the old file alone. */
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp-%ld", path, (long)getpid());
    unlink(tmp);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(tmp, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        tetri_errorf(err, "profile %s: cannot create: %s", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        unlink(tmp);
        return -1;
    }
    char meta[512];
    snprintf(meta, sizeof meta,
             "INSERT INTO meta VALUES ('kind', 'tetri-profile'), ('schema_version', '%d'), "
             "('generator', 'tetri %s profile --analytic'), ('default_hardware', '%s');",
             TETRI_PROFILE_SCHEMA_VERSION, PACKAGE_VERSION, hws[0]->name);
    int ok = exec_sql(db, "PRAGMA journal_mode = OFF; PRAGMA page_size = 4096; BEGIN;", path, err) == 0 &&
             exec_sql(db, profile_schema_sql, path, err) == 0 && exec_sql(db, meta, path, err) == 0;
    for (int i = 0; ok && i < n_hw; i++) ok = write_hardware(db, hws[i], prm, path, err) == 0;
    ok = ok && exec_sql(db, "COMMIT; VACUUM;", path, err) == 0;
    if (sqlite3_close(db) != SQLITE_OK && ok) ok = tetri_errorf(err, "profile %s: closing failed", path) == 0;
    if (ok && rename(tmp, path) != 0) ok = tetri_errorf(err, "profile %s: cannot replace it: %s", path, strerror(errno)) == 0;
    if (!ok) unlink(tmp);
    return ok ? 0 : -1;
}
