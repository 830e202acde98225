/* tests/fuzz/fuzz_profile.c: the profile reader (profile_open and the lookups) on hostile files.
 * The first input byte picks how the rest becomes a database file:
 *   0: the bytes are the file itself (SQLite must reject junk, the loader whatever SQLite accepts);
 *   1: a valid analytic profile with byte patches, (offset: 3 bytes, value: 1 byte) each, so the
 *      pages of a real profile are corrupted;
 *   2: a valid analytic profile with its rows edited, CHECK constraints off, so rows hold
 *      impossible values the loader (not SQLite) must catch. Every 8 bytes are one edit: table,
 *      column, row, kind and a value, made into an UPDATE or DELETE from fixed names only (raw
 *      SQL could ATTACH or VACUUM INTO files anywhere).
 * Properties: never crash, leak or trip a sanitizer; an open either fails with a message naming the
 * file or succeeds, and then every lookup is -1 or positive, agrees with profile_step_cost, and an
 * exact row reads back exactly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "profiles/analytic.h"
#include "profiles/profile.h"
#include "tests/fuzz/fuzz.h"

static char base_path[256], work_path[256];
static unsigned char *base;
static size_t base_size;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_profile: property broken: %s\n", what);
        abort();
    }
}

static void init_once(void)
{
    if (base) return;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(base_path, sizeof base_path, "%s/fuzz_profile_base.%ld.db", tmp, (long)getpid());
    snprintf(work_path, sizeof work_path, "%s/fuzz_profile_work.%ld.db", tmp, (long)getpid());
    tetri_error err = {{0}};
    /* The smallest valid profile with both link classes: a40x4. */
    check(analytic_generate(base_path, "a40x4", analytic_default_params(), &err) == 0, err.msg);
    FILE *f = fopen(base_path, "rb");
    check(f != NULL, "reading the base profile");
    fseek(f, 0, SEEK_END);
    base_size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    base = malloc(base_size);
    check(base && fread(base, 1, base_size, f) == base_size, "reading the base profile");
    fclose(f);
    unlink(base_path);
}

static void write_file(const unsigned char *bytes, size_t n)
{
    FILE *f = fopen(work_path, "wb");
    check(f != NULL, "writing the work file");
    check(fwrite(bytes, 1, n, f) == n, "writing the work file");
    fclose(f);
}

static void exercise(const tetri_profile *p)
{
    static const int sides[] = {16, 256, 384, 512, 1024, 1280, 2048, 4096};
    const tetri_cluster *c = profile_cluster(p);
    check(c->n_gpus >= 1 && c->n_gpus <= TETRI_MAX_GPUS, "cluster size");
    for (int m = 0; m < TETRI_MODEL_COUNT; m++)
        for (size_t s = 0; s < sizeof sides / sizeof sides[0]; s++)
            for (int k = 1; k <= 8; k++)
                for (int b = 1; b <= 3; b++)
                    for (int l = 0; l < TETRI_LINK_COUNT; l++) {
                        tetri_ns t = profile_lookup_step_ns(p, (tetri_model)m, sides[s], sides[s], k, b, (tetri_link)l);
                        check(t == -1 || t > 0, "lookup is -1 or positive");
                        tetri_step_cost cost;
                        tetri_error err = {{0}};
                        int rc = profile_step_cost(p, (tetri_model)m, sides[s], sides[s], k, b, (tetri_link)l, &cost, &err);
                        check(rc == 0 ? cost.median_ns == t : t == -1 && err.msg[0], "step_cost agrees with lookup");
                    }
    for (int i = 0; i < profile_row_count(p); i++) {
        const tetri_profile_row *r = profile_row_at(p, i);
        tetri_ns t = profile_lookup_step_ns(p, r->model, r->width, r->height, r->degree, r->batch, r->link);
        /* Several ulysses/ring splits of one degree: the fastest wins, so <= this row. */
        if (!(t > 0 && t <= r->cost.median_ns)) {
            fprintf(stderr, "row %s %dx%d degree %d batch %d %s median %lld: lookup %lld\n", tetri_model_name(r->model), r->width,
                    r->height, r->degree, r->batch, tetri_link_name(r->link), (long long)r->cost.median_ns, (long long)t);
            check(0, "an exact row reads back");
        }
        check(profile_migration_ns(p, r->model, r->width, r->height, r->link) >= 0, "migration non-negative");
    }
    int degrees[TETRI_MAX_GPUS];
    for (int m = 0; m < TETRI_MODEL_COUNT; m++) {
        int n = profile_degrees(p, (tetri_model)m, degrees, TETRI_MAX_GPUS);
        for (int i = 1; i < n; i++) check(degrees[i - 1] < degrees[i], "degrees ascending");
        check(profile_max_batch(p, (tetri_model)m, 256, 256, 1) >= 1, "max batch");
    }
}

/* One edit of mode 2 from 8 bytes: table, column, row (2), kind, value (3). */
static void edit_sql(const uint8_t *e, char *sql, size_t size)
{
    static const char *const tables[] = {"meta", "hardware", "step_latency", "migration"};
    static const char *const columns[][16] = {
        {"key", "value", NULL},
        {"name", "gpu", "n_gpus", "fast_domain_size", "fast_link_gbps", "slow_link_gbps", NULL},
        {"hardware", "model", "width", "height", "degree", "ulysses", "ring", "batch", "link", "median_ns", "p10_ns", "p90_ns",
         "cv", "samples", "source", NULL},
        {"hardware", "model", "width", "height", "link", "median_ns", NULL},
    };
    static const char *const texts[] = {"'nvlink'", "'pcie'", "'flux-dev'", "'sd3'", "'a40x4'", "'h100x8'", "''", "'x'",
                                        "'measured'", "'analytic'", "'2'", "'tetri-profile'", "'schema_version'", "'kind'",
                                        "'default_hardware'", "'1e9'"};
    int t = e[0] % 4, n_cols = 0;
    while (columns[t][n_cols]) n_cols++;
    const char *col = columns[t][e[1] % n_cols];
    int row = (e[2] << 8 | e[3]) % 128 + 1;
    int32_t v = (int32_t)((uint32_t)e[5] << 16 | (uint32_t)e[6] << 8 | e[7]);
    if (v & 0x800000) v -= 0x1000000; /* signed 24 bits */
    switch (e[4] % 8) {
    case 0: snprintf(sql, size, "UPDATE %s SET %s = %d WHERE rowid = %d", tables[t], col, v, row); break;
    case 1: snprintf(sql, size, "UPDATE %s SET %s = NULL WHERE rowid = %d", tables[t], col, row); break;
    case 2: snprintf(sql, size, "UPDATE %s SET %s = %s WHERE rowid = %d", tables[t], col, texts[e[5] % 16], row); break;
    case 3: snprintf(sql, size, "UPDATE %s SET %s = %d.5e%d WHERE rowid = %d", tables[t], col, v % 100, e[6] % 40 - 20, row); break;
    case 4: snprintf(sql, size, "UPDATE %s SET %s = %s * %d WHERE rowid = %d", tables[t], col, col, v % 17 - 8, row); break;
    case 5: snprintf(sql, size, "DELETE FROM %s WHERE rowid = %d", tables[t], row); break;
    case 6: snprintf(sql, size, "UPDATE %s SET %s = 9223372036854775807 WHERE rowid = %d", tables[t], col, row); break;
    default: snprintf(sql, size, "UPDATE %s SET %s = %d", tables[t], col, v % 4096); break; /* every row */
    }
}

TETRI_FUZZ_TARGET(profile)
{
    init_once();
    if (size == 0) return 0;
    const uint8_t mode = data[0] % 3;
    data++;
    size--;
    if (mode == 0) {
        write_file(data, size);
    } else if (mode == 1) {
        unsigned char *copy = malloc(base_size);
        check(copy != NULL, "memory");
        memcpy(copy, base, base_size);
        for (size_t i = 0; i + 4 <= size; i += 4) {
            size_t off = ((size_t)data[i] << 16 | (size_t)data[i + 1] << 8 | data[i + 2]) % base_size;
            copy[off] = data[i + 3];
        }
        write_file(copy, base_size);
        free(copy);
    } else {
        write_file(base, base_size);
        sqlite3 *db = NULL;
        if (sqlite3_open_v2(work_path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK) {
            /* No journal, no fsync: the file is scratch. */
            sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;",
                         NULL, NULL, NULL);
            for (size_t i = 0; i + 8 <= size; i += 8) {
                char sql[256];
                edit_sql(data + i, sql, sizeof sql);
                sqlite3_exec(db, sql, NULL, NULL, NULL); /* a constraint may refuse it: fine */
            }
        }
        sqlite3_close(db);
    }
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    const char *hw = NULL;
    for (int attempt = 0; attempt < 2; attempt++, hw = "a40x4") {
        if (profile_open(work_path, hw, attempt ? TETRI_PROFILE_ANALYTIC_FALLBACK : 0, &p, &err) == 0) {
            check(p != NULL, "open returns a profile");
            exercise(p);
            profile_close(p);
        } else {
            check(p == NULL && strstr(err.msg, work_path) != NULL, "an open error names the file");
        }
    }
    unlink(work_path);
    return 0;
}
