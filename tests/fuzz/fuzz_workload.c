/* tests/fuzz/fuzz_workload.c: fuzz target of the workload spec text form and the generator
 * (workloads/workload.c).
 *
 * Properties checked on every input, by abort() when broken:
 * - workload_spec_parse never crashes on arbitrary text, and a rejection names a key or says what
 *   is wrong in one line;
 * - for a spec that parses and validates (n capped at 64 to keep runs fast), generation succeeds or
 *   fails with a message, and a generated trace is accepted by the CSV reader and writes back to
 *   the same bytes: the generator never makes a trace the reader refuses;
 * - format(parse(format(spec))) == format(spec). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "workloads/workload.h"

static char *write_text(const tetri_trace *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || trace_write_csv(f, t) < 0 || fclose(f) != 0) abort();
    return buf;
}

TETRI_FUZZ_TARGET(workload)
{
    if (size > 4096) return 0;
    char text[4097];
    memcpy(text, data, size);
    text[size] = '\0';
    workload_spec s;
    workload_spec_default(&s);
    tetri_error err = {{0}};
    if (workload_spec_parse(text, &s, &err) < 0) {
        if (err.msg[0] == '\0' || strchr(err.msg, '\n')) abort();
        return 0;
    }
    if (s.n_requests > 64) s.n_requests = 64;
    if (workload_spec_validate(&s, &err) < 0) {
        if (err.msg[0] == '\0') abort();
        return 0;
    }
    char a[512], b[512];
    workload_spec_format(&s, a, sizeof a);
    workload_spec back;
    workload_spec_default(&back);
    if (workload_spec_parse(a, &back, &err) < 0) abort();
    workload_spec_format(&back, b, sizeof b);
    if (strcmp(a, b) != 0) abort();

    tetri_trace t;
    if (workload_generate(&s, &t, &err) < 0) {
        if (err.msg[0] == '\0' || t.entries) abort();
        return 0;
    }
    char *first = write_text(&t);
    FILE *f = fmemopen(first, strlen(first), "r");
    tetri_trace read_back;
    if (!f || trace_read_csv_stream(f, "generated.csv", &read_back, &err) < 0) {
        fprintf(stderr, "generated trace rejected: %s\nspec: %s\n", err.msg, a);
        abort();
    }
    fclose(f);
    char *second = write_text(&read_back);
    if (strcmp(first, second) != 0) abort();
    free(first);
    free(second);
    tetri_trace_free(&read_back);
    tetri_trace_free(&t);
    return 0;
}
