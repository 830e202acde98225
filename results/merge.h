/* results/merge.h: copying every run of one results database into another (`tetri merge`): the
 * runs of tetri validate's device calls, or of a sweep sharded over machines, into one database.
 * defines: results_merge_counts, results_merge_conflict, results_merge_conflict_fn, results_merge.
 *
 * Built on the public results API (results.h) alone. Experiments are matched by name: one new to
 * the target takes the source's config text; one in both whose config text does not contain the
 * source's gets it appended after a line "# merged from NAME:", so no config is lost and merging
 * twice adds nothing. A run is matched by (experiment, run key): one the target lacks is copied
 * with every field (identity, summary, partial status and note, host measurements) and every
 * request, timeline sample and block, so its results_dump_run is the source's byte for byte; one
 * it has is compared by results_dump_run (host measurements left out): the same is left alone, a
 * different one is a conflict, and the target's is kept. Each run is written in its own
 * transaction: a merge cut short is finished by merging again. */
#ifndef TETRI_RESULTS_MERGE_H
#define TETRI_RESULTS_MERGE_H

#include <stddef.h>
#include <stdint.h>

#include "results/results.h"

typedef struct results_merge_counts {
    int64_t copied;             /* runs written into the target */
    int64_t already;            /* runs the target had with the same content */
    int64_t conflicting;        /* runs the target had with other content (the target's kept) */
} results_merge_counts;

/* A run of the source whose key the target has with other content. */
typedef struct results_merge_conflict {
    const char *experiment, *run_key;
    size_t line;                /* the first line (1, 2, ...) of the two dumps that differs */
    char into_line[128];        /* that line of the target's dump, from a little before the first */
    char from_line[128];        /*   differing character ("..." where cut), and of the source's */
} results_merge_conflict;

typedef void results_merge_conflict_fn(const results_merge_conflict *conflict, void *ctx);

/* Copies every run of every experiment of `from` into `into` (opened for writing) as above, in
 * results_load_runs order. from_name names `from` in an appended config text. Each conflict is
 * handed to on_conflict (may be NULL) and counted; the merge goes on. The counts are added to
 * *counts. Returns 0, or -1 with err at the first run that cannot be read or written (the runs
 * before it stay written). */
int results_merge(results_db *into, results_db *from, const char *from_name, results_merge_counts *counts,
                  results_merge_conflict_fn *on_conflict, void *ctx, tetri_error *err);

#endif
