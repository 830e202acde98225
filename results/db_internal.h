/* results/db_internal.h: the results_db handle, shared by the writer (db.c) and reader (read.c).
 * defines: struct results_db, results_sql_error, results_prepare.
 * Not part of the public contract: only results/ includes it. */
#ifndef TETRI_RESULTS_DB_INTERNAL_H
#define TETRI_RESULTS_DB_INTERNAL_H

#include <sqlite3.h>

#include "results/results.h"

struct results_db {
    sqlite3 *sql;
    char path[512];
    int readonly;
    int schema_version;         /* as found; a read-only handle keeps an old file's (1: no block table) */
    /* Prepared once, reused for every run: writing a run binds and steps, it never re-parses SQL. */
    sqlite3_stmt *insert_run, *insert_request, *insert_timeline, *insert_block, *delete_partial;
    sqlite3_stmt *select_run_done, *select_experiment, *insert_experiment;
    /* Prepared too, so ending a transaction after an out-of-memory error needs no new allocation. */
    sqlite3_stmt *begin_tx, *commit_tx, *rollback_tx;
    /* Reader statements, prepared on first use. */
    sqlite3_stmt *select_requests, *select_timeline, *select_degree, *select_blocks, *select_block_errors;
};

/* "PATH: what: sqlite's message" into err. Returns -1. */
int results_sql_error(results_db *db, tetri_error *err, const char *what);
/* Prepares `sql` into *stmt unless already prepared. Returns 0 or -1 with err. */
int results_prepare(results_db *db, sqlite3_stmt **stmt, const char *sql, tetri_error *err);

#endif
