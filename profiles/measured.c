/* profiles/measured.c: measured rows into a profile database (see measured.h). */
#include "config.h"

#include "profiles/measured.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "profiles/profile.h"
#include "profiles/schema_sql.h" /* generated from profiles/schema.sql: profile_schema_sql */

static int cmp_float(const void *a, const void *b)
{
    const float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

void measured_row_from_samples(measured_row *r, float *ms, int n)
{
    qsort(ms, (size_t)n, sizeof *ms, cmp_float);
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += ms[i];
    const double mean = sum / n;
    for (int i = 0; i < n; i++) sq += (ms[i] - mean) * (ms[i] - mean);
    r->samples = n;
    r->median_ns = (tetri_ns)llround((n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2])) * 1e6);
    r->p10_ns = (tetri_ns)llround(ms[(int)ceil(0.1 * n) - 1] * 1e6);
    r->p90_ns = (tetri_ns)llround(ms[(int)ceil(0.9 * n) - 1] * 1e6);
    r->cv = n > 1 && mean > 0 ? sqrt(sq / (n - 1)) / mean : 0.0;
}

static int sql_fail(sqlite3 *db, const char *path, const char *what, tetri_error *err)
{
    return tetri_errorf(err, "profile %s: %s: %s", path, what, db ? sqlite3_errmsg(db) : "out of memory");
}

/* Schema 1 -> 2: the hardware's link-model columns, and the step and migration tables rebuilt
 * under schema 2's CHECK (SQLite cannot alter one), their rows copied. */
static int upgrade_v1(sqlite3 *db, const char *path, tetri_error *err)
{
    static const char sql[] = "ALTER TABLE hardware ADD COLUMN a2a_latency_us REAL;"
                              "ALTER TABLE hardware ADD COLUMN link_source TEXT;"
                              "ALTER TABLE step_latency RENAME TO step_latency_v1;"
                              "ALTER TABLE migration RENAME TO migration_v1;";
    static const char copy[] = "INSERT INTO step_latency SELECT * FROM step_latency_v1; DROP TABLE step_latency_v1;"
                               "INSERT INTO migration SELECT * FROM migration_v1; DROP TABLE migration_v1;"
                               "UPDATE meta SET value = '2' WHERE key = 'schema_version';";
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) || sqlite3_exec(db, profile_schema_sql, NULL, NULL, NULL) ||
        sqlite3_exec(db, copy, NULL, NULL, NULL))
        return sql_fail(db, path, "upgrading the profile from schema 1 to 2", err);
    return 0;
}

/* A new file gets the schema and meta; an existing one must say it is a tetri profile (one of
 * schema 1 is upgraded). */
static int schema_or_check(sqlite3 *db, const char *path, const measured_hardware *hw, tetri_error *err)
{
    sqlite3_stmt *st = NULL;
    int tables = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        tables = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (tables < 0) return sql_fail(db, path, "not an SQLite database", err);
    if (tables == 0) {
        char meta[512];
        snprintf(meta, sizeof meta,
                 "INSERT INTO meta VALUES ('kind', 'tetri-profile'), ('schema_version', '%d'), "
                 "('generator', 'tetri %s profile measure'), ('default_hardware', '%s');",
                 TETRI_PROFILE_SCHEMA_VERSION, PACKAGE_VERSION, hw->name);
        if (sqlite3_exec(db, profile_schema_sql, NULL, NULL, NULL) || sqlite3_exec(db, meta, NULL, NULL, NULL))
            return sql_fail(db, path, "creating the schema", err);
        return 0;
    }
    int ours = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'kind'", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        ours = strcmp((const char *)sqlite3_column_text(st, 0), "tetri-profile") == 0;
    sqlite3_finalize(st);
    if (!ours) return tetri_errorf(err, "profile %s: not a tetri profile (meta kind is not 'tetri-profile'); give a new file", path);
    long version = 0;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        version = strtol((const char *)sqlite3_column_text(st, 0), NULL, 10);
    sqlite3_finalize(st);
    if (version > TETRI_PROFILE_SCHEMA_VERSION)
        return tetri_errorf(err, "profile %s: schema version %ld is newer than this tetri writes (%d)", path, version,
                            TETRI_PROFILE_SCHEMA_VERSION);
    return version == 1 ? upgrade_v1(db, path, err) : 0;
}

static int insert_rows(sqlite3 *db, const char *path, const measured_hardware *hw, const measured_row *rows, size_t n,
                       const char *date, tetri_error *err)
{
    sqlite3_stmt *hs = NULL, *ss = NULL;
    int rc = -1;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO hardware VALUES (?, ?, ?, ?, 'nvlink', ?, 'pcie', ?, ?, ?)", -1, &hs, NULL) ||
        sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO step_latency VALUES (?, ?, ?, ?, ?, ?, 1, ?, 'nvlink', ?, ?, ?, ?, ?, ?, ?, ?)", -1,
                           &ss, NULL)) {
        sql_fail(db, path, "preparing", err);
        goto done;
    }
    sqlite3_bind_text(hs, 1, hw->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(hs, 2, hw->gpu, -1, SQLITE_STATIC);
    sqlite3_bind_int(hs, 3, hw->n_gpus);
    sqlite3_bind_int(hs, 4, hw->fast_domain_size > 0 ? hw->fast_domain_size : 1);
    const double link[3] = {hw->fast_link_gbps, hw->slow_link_gbps, hw->a2a_latency_us};
    for (int i = 0; i < 3; i++) {
        if (link[i] > 0) sqlite3_bind_double(hs, 5 + i, link[i]);
        else sqlite3_bind_null(hs, 5 + i);
    }
    if (hw->link_source) sqlite3_bind_text(hs, 8, hw->link_source, -1, SQLITE_STATIC);
    else sqlite3_bind_null(hs, 8);
    if (sqlite3_step(hs) != SQLITE_DONE) { sql_fail(db, path, "writing the hardware", err); goto done; }
    for (size_t i = 0; i < n; i++) {
        const measured_row *r = &rows[i];
        int k = 1;
        sqlite3_bind_text(ss, k++, hw->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ss, k++, tetri_model_name(r->model), -1, SQLITE_STATIC);
        sqlite3_bind_int(ss, k++, r->width);
        sqlite3_bind_int(ss, k++, r->height);
        sqlite3_bind_int(ss, k++, r->degree);
        sqlite3_bind_int(ss, k++, r->degree); /* ulysses = degree */
        sqlite3_bind_int(ss, k++, r->batch);
        sqlite3_bind_int64(ss, k++, r->median_ns);
        sqlite3_bind_int64(ss, k++, r->p10_ns);
        sqlite3_bind_int64(ss, k++, r->p90_ns);
        sqlite3_bind_double(ss, k++, r->cv);
        sqlite3_bind_int(ss, k++, r->samples);
        sqlite3_bind_text(ss, k++, r->source ? r->source : "measured", -1, SQLITE_STATIC);
        sqlite3_bind_text(ss, k++, date, -1, SQLITE_STATIC);
        sqlite3_bind_text(ss, k++, r->method, -1, SQLITE_STATIC);
        if (sqlite3_step(ss) != SQLITE_DONE) {
            tetri_errorf(err, "profile %s: writing the row of %s %dx%d batch %d: %s", path, tetri_model_name(r->model), r->width,
                         r->height, r->batch, sqlite3_errmsg(db));
            goto done;
        }
        sqlite3_reset(ss);
    }
    rc = 0;
done:
    sqlite3_finalize(hs);
    sqlite3_finalize(ss);
    return rc;
}

/* The 'prepare' stage rows, replacing those of the same hardware, model and size. */
static int insert_stages(sqlite3 *db, const char *path, const measured_hardware *hw, const measured_stage *st, size_t n, tetri_error *err)
{
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO stage_latency VALUES (?, ?, ?, ?, 'prepare', ?, 'measured')", -1, &ins, NULL))
        return sql_fail(db, path, "preparing (stage_latency: is this profile's schema older than the 'prepare' stage?)", err);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_bind_text(ins, 1, hw->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, tetri_model_name(st[i].model), -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 3, st[i].width);
        sqlite3_bind_int(ins, 4, st[i].height);
        sqlite3_bind_int64(ins, 5, st[i].median_ns);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = sql_fail(db, path, "writing a prepare stage row (an older profile's CHECK refuses 'prepare': write a new file)", err);
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    return rc;
}

int measured_write(const char *path, const measured_hardware *hw, const measured_row *rows, size_t n,
                   const measured_stage *stages, size_t n_stages, const char *date, tetri_error *err)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) != SQLITE_OK) {
        int rc = sql_fail(db, path, "cannot open", err);
        sqlite3_close(db);
        return rc;
    }
    sqlite3_busy_timeout(db, 10000);
    int rc = -1;
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) { sql_fail(db, path, "cannot start a transaction", err); goto done; }
    if (schema_or_check(db, path, hw, err)) goto rollback;
    if (insert_rows(db, path, hw, rows, n, date, err) || insert_stages(db, path, hw, stages, n_stages, err)) goto rollback;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) { sql_fail(db, path, "cannot commit", err); goto rollback; }
    rc = 0;
    goto done;
rollback:
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
done:
    if (sqlite3_close(db) != SQLITE_OK && rc == 0) rc = tetri_errorf(err, "profile %s: closing failed", path);
    return rc;
}

/* An existing profile opened for one write: a transaction begun, `setup` run when not NULL, `insert`
 * prepared. Returns 0, or -1 with err (and *db, *ins for end_write, which closes them). */
static int begin_write(const char *path, const char *setup, const char *insert, const char *what, sqlite3 **db, sqlite3_stmt **ins,
                       tetri_error *err)
{
    *db = NULL;
    *ins = NULL;
    if (sqlite3_open_v2(path, db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) return sql_fail(*db, path, "cannot open", err);
    sqlite3_busy_timeout(*db, 10000);
    if (sqlite3_exec(*db, "BEGIN IMMEDIATE", NULL, NULL, NULL) || (setup && sqlite3_exec(*db, setup, NULL, NULL, NULL)) ||
        sqlite3_prepare_v2(*db, insert, -1, ins, NULL))
        return sql_fail(*db, path, what, err);
    return 0;
}

/* Commits begin_write's transaction when rc is 0 (err set when that fails), else rolls it back;
 * closes what it opened. Returns the status. */
static int end_write(const char *path, sqlite3 *db, sqlite3_stmt *ins, int rc, tetri_error *err)
{
    if (rc == 0 && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL)) rc = sql_fail(db, path, "cannot commit", err);
    if (rc) sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return rc;
}

int measured_write_migration(const char *path, const char *hw, const measured_migration *rows, size_t n, tetri_error *err)
{
    sqlite3 *db;
    sqlite3_stmt *ins;
    int rc = begin_write(path, NULL, "INSERT OR REPLACE INTO migration VALUES (?, ?, ?, ?, 'nvlink', ?, 'analytic')",
                         "writing migration rows", &db, &ins, err);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_text(ins, 1, hw, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 2, tetri_model_name(rows[i].model), -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 3, rows[i].width);
        sqlite3_bind_int(ins, 4, rows[i].height);
        sqlite3_bind_int64(ins, 5, rows[i].median_ns);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = sql_fail(db, path, "writing a migration row", err);
        sqlite3_reset(ins);
    }
    return end_write(path, db, ins, rc, err);
}

int measured_write_idle_speedup(const char *path, const char *hw, const measured_idle_speedup *s, tetri_error *err)
{
    if (!(s->factor > 0 && s->factor <= 1) || s->min_idle_ns < 0 || s->boost_ns < 0)
        return tetri_errorf(err, "profile %s: idle speed-up of %s: factor %g, boost %lld ns, idle %lld ns out of range", path, hw,
                            s->factor, (long long)s->boost_ns, (long long)s->min_idle_ns);
    sqlite3 *db;
    sqlite3_stmt *ins;
    /* the schema first: a profile older than the table gets it */
    int rc = begin_write(path, profile_schema_sql, "INSERT OR REPLACE INTO idle_speedup VALUES (?, ?, ?, ?, 'measured', ?)",
                         "writing the idle_speedup row", &db, &ins, err);
    if (rc == 0) {
        sqlite3_bind_text(ins, 1, hw, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, s->min_idle_ns);
        sqlite3_bind_int64(ins, 3, s->boost_ns);
        sqlite3_bind_double(ins, 4, s->factor);
        sqlite3_bind_text(ins, 5, s->method ? s->method : "", -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = sql_fail(db, path, "writing the idle_speedup row", err);
    }
    return end_write(path, db, ins, rc, err);
}
