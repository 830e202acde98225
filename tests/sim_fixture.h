/* tests/sim_fixture.h: small hand-made profile databases and traces for the simulator's tests.
 * defines: fixture_row, fixture_profile_db, fixture_open_profile, fixture_trace, fixture_tmp_path.
 *
 * Profiles are written with sqlite3 straight from profiles/schema.sql (found through $TETRI_SRCDIR),
 * so the tests know every step time exactly and never depend on the shipped default profile. */
#ifndef TETRI_TESTS_SIM_FIXTURE_H
#define TETRI_TESTS_SIM_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/profile.h"
#include "workloads/trace.h"

typedef struct fixture_row {
    int side;          /* square resolution */
    int degree;
    tetri_ns median_ns;
    double cv;
    int batch;         /* 0 means 1 */
    const char *link;  /* NULL means "nvlink" */
} fixture_row;

/* A unique scratch path in the build directory: "<tag>-<pid>.<ext>". */
static inline void fixture_tmp_path(char *buf, size_t len, const char *tag, const char *ext)
{
    snprintf(buf, len, "%s-%ld.%s", tag, (long)getpid(), ext);
}

static inline char *fixture_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) buf[n] = 0;
    fclose(f);
    return buf;
}

/* Writes a flux-dev profile for hardware `hw` (n GPUs, NVLink domains of `domain` GPUs) with the
 * given rows and a migration cost of `migration_ns` for every side that has a row. Returns 0 or -1. */
static inline int fixture_profile_db(const char *path, const char *hw, int n_gpus, int domain,
                                     const fixture_row *rows, int n_rows, tetri_ns migration_ns)
{
    const char *srcdir = getenv("TETRI_SRCDIR");
    char schema_path[1024];
    snprintf(schema_path, sizeof schema_path, "%s/profiles/schema.sql", srcdir ? srcdir : "..");
    char *schema = fixture_read_file(schema_path);
    if (!schema) {
        fprintf(stderr, "fixture: cannot read %s (set TETRI_SRCDIR)\n", schema_path);
        return -1;
    }
    unlink(path);
    sqlite3 *db;
    int rc = sqlite3_open(path, &db) != SQLITE_OK;
    char *msg = NULL;
    if (!rc) rc = sqlite3_exec(db, schema, NULL, NULL, &msg) != SQLITE_OK;
    free(schema);
    char sql[1024];
    snprintf(sql, sizeof sql,
             "BEGIN; INSERT INTO meta VALUES ('kind','tetri-profile'), ('schema_version','%d');"
             "INSERT INTO hardware (name, gpu, n_gpus, fast_domain_size) VALUES ('%s', 'test GPU', %d, %d);",
             TETRI_PROFILE_SCHEMA_VERSION, hw, n_gpus, domain);
    if (!rc) rc = sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK;
    for (int i = 0; i < n_rows && !rc; i++) {
        const fixture_row *r = &rows[i];
        snprintf(sql, sizeof sql,
                 "INSERT INTO step_latency (hardware, model, width, height, degree, ulysses, ring, batch, link,"
                 " median_ns, p10_ns, p90_ns, cv, samples, source) VALUES ('%s', 'flux-dev', %d, %d, %d, %d, 1, %d,"
                 " '%s', %lld, %lld, %lld, %.17g, 10, 'measured');"
                 "INSERT OR IGNORE INTO migration VALUES ('%s', 'flux-dev', %d, %d, 'nvlink', %lld, 'measured');"
                 "INSERT OR IGNORE INTO migration VALUES ('%s', 'flux-dev', %d, %d, 'pcie', %lld, 'measured');",
                 hw, r->side, r->side, r->degree, r->degree, r->batch ? r->batch : 1, r->link ? r->link : "nvlink",
                 (long long)r->median_ns, (long long)r->median_ns, (long long)r->median_ns, r->cv, hw, r->side, r->side,
                 (long long)migration_ns, hw, r->side, r->side, (long long)migration_ns);
        rc = sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK;
    }
    if (!rc) rc = sqlite3_exec(db, "COMMIT;", NULL, NULL, &msg) != SQLITE_OK;
    if (rc) fprintf(stderr, "fixture: %s: %s\n", path, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc ? -1 : 0;
}

static inline tetri_profile *fixture_open_profile(const char *path, const char *hw)
{
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    if (profile_open(path, hw, 0, &p, &err)) {
        fprintf(stderr, "fixture: profile_open(%s): %s\n", path, err.msg);
        return NULL;
    }
    return p;
}

/* A trace of n flux-dev requests; arrays give each one's side, steps, arrival and deadline (ns). */
static inline tetri_trace fixture_trace(int n, const int *side, const int *steps, const tetri_ns *arrival,
                                        const tetri_ns *deadline)
{
    const size_t count = n > 0 ? (size_t)n : 0;
    tetri_trace t = {.entries = calloc(count ? count : 1, sizeof(tetri_trace_entry)), .n = count};
    for (int i = 0; i < n; i++)
        t.entries[i] = (tetri_trace_entry){.id = i, .model = TETRI_MODEL_FLUX_DEV, .width = side[i], .height = side[i],
                                           .steps = steps[i], .arrival = arrival[i], .deadline = deadline[i]};
    return t;
}

#endif
