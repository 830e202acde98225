/* tests/fuzz/fuzz_trace.c: fuzz target of the CSV trace reader (workloads/trace.c).
 *
 * Properties checked on every input, by abort() when broken:
 * - the reader never crashes, leaks or reads out of bounds (ASan/UBSan);
 * - a rejection is one message "fuzz.csv:LINE: reason" and leaves the output trace empty;
 * - an accepted trace satisfies the reader's invariants (ids 0..n-1, sorted arrivals, deadlines
 *   after arrivals, sides multiples of 16), and write -> read -> write is a fixed point: the
 *   written text reads back to the same requests and writes the same bytes again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "workloads/trace.h"

static char *write_text(const tetri_trace *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f || trace_write_csv(f, t) < 0 || fclose(f) != 0) abort();
    return buf;
}

static int read_text(const char *text, size_t len, tetri_trace *t, tetri_error *err)
{
    static char empty[1];
    FILE *f = fmemopen(len ? (void *)text : empty, len, "r");
    if (!f) abort();
    int rc = trace_read_csv_stream(f, "fuzz.csv", t, err);
    fclose(f);
    return rc;
}

static int well_formed_error(const char *msg)
{
    const char *p = msg;
    if (strncmp(p, "fuzz.csv:", 9) != 0) return 0;
    p += 9;
    if (*p < '1' || *p > '9') return 0;
    while (*p >= '0' && *p <= '9') p++;
    return p[0] == ':' && p[1] == ' ' && p[2] != '\0' && !strchr(msg, '\n');
}

TETRI_FUZZ_TARGET(trace)
{
    tetri_trace t = {.entries = (tetri_trace_entry *)1, .n = 1};
    tetri_error err = {{0}};
    if (read_text((const char *)data, size, &t, &err) < 0) {
        if (t.entries || t.n || !well_formed_error(err.msg)) abort();
        return 0;
    }
    if (t.n == 0) abort();
    for (size_t i = 0; i < t.n; i++) {
        const tetri_trace_entry *e = &t.entries[i];
        if (e->id != (int32_t)i || e->arrival < 0 || e->deadline <= e->arrival || e->width <= 0 || e->width % 16 ||
            e->height <= 0 || e->height % 16 || e->steps < 1 || (i && e->arrival < t.entries[i - 1].arrival))
            abort();
    }
    char *first = write_text(&t);
    tetri_trace back;
    if (read_text(first, strlen(first), &back, &err) < 0 || back.n != t.n) abort();
    char *second = write_text(&back);
    if (strcmp(first, second) != 0) abort();
    free(first);
    free(second);
    tetri_trace_free(&back);
    tetri_trace_free(&t);
    return 0;
}
