/* tests/sched_fixture.h: a small synthetic profile and request helpers for the scheduler tests.
 * defines: fixture_profile_spec, fixture_make_profile, fixture_step_ms, fixture_rng.
 *
 * The profile is written with SQLite from profiles/schema.sql ($TETRI_SRCDIR), so the tests
 * exercise the real loader. Step times follow a simple, fully known model (so expected values
 * can be computed by hand): T1 = 10 ms + 0.05 ms per token; degree k: T1 x (0.15 + 0.85 / k) +
 * 2 ms of all-to-all (+ 10 ms over the slow link); batch b: x (1 + 0.6 (b - 1)). */
#ifndef TETRI_TESTS_SCHED_FIXTURE_H
#define TETRI_TESTS_SCHED_FIXTURE_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture_profile_spec {
    const char *hardware;
    int n_gpus, domain;      /* fast domain size */
    double migration_ms;     /* per request move */
    int max_batch;           /* batch rows up to this at sides <= 512 */
} fixture_profile_spec;

static inline double fixture_step_ms(int side, int k, int b, int slow)
{
    double tokens = (side / 16.0) * (side / 16.0);
    double t1 = 10.0 + 0.05 * tokens;
    double t = k == 1 ? t1 : t1 * (0.15 + 0.85 / k) + 2.0 + (slow ? 10.0 : 0.0);
    return t * (1.0 + 0.6 * (b - 1));
}

/* Writes the profile to `path` (replacing it). Returns 0, or -1 after printing why. */
static inline int fixture_make_profile(const char *path, const fixture_profile_spec *s)
{
    const char *src = getenv("TETRI_SRCDIR");
    char schema_path[1024];
    snprintf(schema_path, sizeof schema_path, "%s/profiles/schema.sql", src ? src : "..");
    FILE *f = fopen(schema_path, "r");
    if (!f) { perror(schema_path); return -1; }
    static char schema[16384];
    size_t n = fread(schema, 1, sizeof schema - 1, f);
    schema[n] = 0;
    fclose(f);
    remove(path);
    sqlite3 *db;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    char *msg = NULL;
    char sql[512];
    int rc = sqlite3_exec(db, schema, NULL, NULL, &msg);
    rc |= sqlite3_exec(db, "BEGIN; INSERT INTO meta VALUES ('kind','tetri-profile'),('schema_version','1');", NULL, NULL, &msg);
    snprintf(sql, sizeof sql, "INSERT INTO hardware(name,gpu,n_gpus,fast_domain_size) VALUES ('%s','test GPU',%d,%d);",
             s->hardware, s->n_gpus, s->domain);
    rc |= sqlite3_exec(db, sql, NULL, NULL, &msg);
    static const int sides[] = {256, 512, 1024, 2048};
    static const char *const models[] = {"flux-dev", "sd3-medium"};
    for (int m = 0; m < 2; m++)
        for (int i = 0; i < 4; i++) {
            int side = sides[i];
            for (int k = 1; k <= s->n_gpus && k <= 8; k *= 2)
                for (int slow = 0; slow < 2; slow++) {
                    if (!slow && k > s->domain) continue;          /* no fast set that large */
                    if (slow && (k == 1 || s->domain >= s->n_gpus)) continue; /* no slow set at all */
                    int max_b = side <= 512 ? s->max_batch : 1;
                    for (int b = 1; b <= max_b; b++) {
                        snprintf(sql, sizeof sql,
                                 "INSERT INTO step_latency(hardware,model,width,height,degree,ulysses,batch,link,median_ns,source) "
                                 "VALUES ('%s','%s',%d,%d,%d,%d,%d,'%s',%lld,'analytic');",
                                 s->hardware, models[m], side, side, k, k, b, slow ? "pcie" : "nvlink",
                                 (long long)(fixture_step_ms(side, k, b, slow) * 1e6));
                        rc |= sqlite3_exec(db, sql, NULL, NULL, &msg);
                    }
                }
            for (int slow = 0; slow < 2; slow++) {
                snprintf(sql, sizeof sql, "INSERT INTO migration VALUES ('%s','%s',%d,%d,'%s',%lld,'analytic');", s->hardware,
                         models[m], side, side, slow ? "pcie" : "nvlink", (long long)(s->migration_ms * 1e6));
                rc |= sqlite3_exec(db, sql, NULL, NULL, &msg);
            }
        }
    rc |= sqlite3_exec(db, "COMMIT;", NULL, NULL, &msg);
    if (rc != SQLITE_OK) fprintf(stderr, "fixture profile %s: %s\n", path, msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* A tiny deterministic generator (xorshift64*), so tests do not depend on libc's rand. */
static inline uint64_t fixture_rng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

#endif
