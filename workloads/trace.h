/* workloads/trace.h: a trace is the list of requests a run serves, in arrival order.
 * defines: tetri_trace_entry, tetri_trace, trace_read_csv, trace_write_csv, tetri_trace_free.
 *
 * CSV format (one header line, then one request a line; see docs/trace-format.md):
 *   id,model,width,height,steps,arrival_s,deadline_s
 * The reader rejects bad input with file:line and the reason and never crashes: a line longer
 * than any trace's, memory that runs out and read errors too, never taken for the end of the file.
 * Lines end in LF, CRLF or a lone CR. The writer puts `generator` first as a comment. */
#ifndef TETRI_WORKLOADS_TRACE_H
#define TETRI_WORKLOADS_TRACE_H

#include <stddef.h>
#include <stdio.h>

#include "core/error.h"
#include "core/types.h"

typedef struct tetri_trace_entry {
    int32_t id;             /* 0..n-1 in arrival order */
    tetri_model model;
    int32_t width, height;  /* multiples of 16 */
    int32_t steps;
    tetri_ns arrival, deadline;
} tetri_trace_entry;

typedef struct tetri_trace {
    tetri_trace_entry *entries;
    size_t n;
    /* The parameters of the generator that made it (workload_spec_format's text), from the
     * "# tetri workload: ..." comment `tetri workload` writes first; NULL when it has none. Read
     * as written: whether they still describe the requests is the replayer's to check. */
    char *generator;
} tetri_trace;

void tetri_trace_free(tetri_trace *t);
/* Reads a CSV trace. Returns 0, or -1 with "path:line: reason" in err. */
int trace_read_csv(const char *path, tetri_trace *out, tetri_error *err);
/* Same from an open stream; `name` labels errors. */
int trace_read_csv_stream(FILE *f, const char *name, tetri_trace *out, tetri_error *err);
/* Writes the CSV form (the generator comment when set, the header, the requests); byte-identical
 * for identical traces. Returns 0 or -1 (I/O error). */
int trace_write_csv(FILE *f, const tetri_trace *t);

#endif
