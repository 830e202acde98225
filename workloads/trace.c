/* workloads/trace.c: the CSV trace reader and writer (see trace.h and docs/trace-format.md).
 *
 * The reader is strict on purpose: a trace is the input of every experiment, so a silently
 * misread line would corrupt results without anyone noticing. Every rejection names the file,
 * the line and the field, and says why. It must never crash on arbitrary bytes (the fuzz target
 * tests/fuzz/fuzz_trace.c checks that, and that write(read(x)) is a fixed point).
 *
 * Times are parsed and printed as exact decimal seconds with nanosecond resolution, without a
 * floating-point round trip, so write -> read -> write is byte-identical. */
#include "workloads/trace.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define TRACE_N_FIELDS 7
static const char *const trace_field_names[TRACE_N_FIELDS] = {
    "id", "model", "width", "height", "steps", "arrival_s", "deadline_s",
};
#define TRACE_HEADER "id,model,width,height,steps,arrival_s,deadline_s"

/* Bounds that keep every later computation inside its integer type: times plus any sum of step
 * times fit in int64 nanoseconds. Sides follow the one rule of core/types.h, the profile's. */
#define TRACE_MAX_STEPS 100000
#define TRACE_MAX_SECONDS 1000000000LL /* about 31.7 years */
/* The longest line read: a request line is under 200 bytes and the generator's comment under
 * 1100. A longer one is not a trace, and reading it whole could exhaust memory. */
#define TRACE_MAX_LINE 65536
/* The comment `tetri workload` writes first: its generator parameters (workload_spec_format). */
#define TRACE_GENERATOR_PREFIX "# tetri workload: "

void tetri_trace_free(tetri_trace *t)
{
    if (!t) return;
    free(t->entries);
    free(t->generator);
    t->entries = NULL;
    t->generator = NULL;
    t->n = 0;
}

/* ---- error messages ------------------------------------------------------------------------ */

/* A field's raw text, quoted, for a message: at most 40 bytes, non-printable bytes as \xNN, so a
 * message about binary junk stays one readable line. */
static void quote_field(const char *s, size_t len, char *buf, size_t cap)
{
    assert(cap >= 64);
    size_t o = 0;
    buf[o++] = '\'';
    size_t shown = len > 40 ? 40 : len;
    for (size_t i = 0; i < shown && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'') buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    if (shown < len && o + 5 < cap) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
}

static int line_error(tetri_error *err, const char *name, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int line_error(tetri_error *err, const char *name, long line, const char *fmt, ...)
{
    char reason[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return tetri_errorf(err, "%.200s:%ld: %s", name, line, reason);
}

/* ---- field parsing ------------------------------------------------------------------------- */

typedef struct field {
    const char *s;
    size_t len;
} field;

typedef enum num_status {
    NUM_OK = 0,
    NUM_NOT_NUMBER,
    NUM_NEGATIVE,
    NUM_TOO_LARGE,
    NUM_TOO_PRECISE,
} num_status;

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* A whole number: an optional '-', then digits. Never overflows: values above `max` report
 * NUM_TOO_LARGE however many digits follow. */
static num_status parse_whole(field f, int64_t max, int64_t *out)
{
    size_t i = 0;
    int negative = 0;
    if (i < f.len && f.s[i] == '-') {
        negative = 1;
        i++;
    }
    if (i == f.len) return NUM_NOT_NUMBER;
    int64_t v = 0;
    int too_large = 0;
    for (; i < f.len; i++) {
        if (!is_digit(f.s[i])) return NUM_NOT_NUMBER;
        if (!too_large) {
            v = v * 10 + (f.s[i] - '0');
            if (v > max) too_large = 1;
        }
    }
    if (negative && (v != 0 || too_large)) return NUM_NEGATIVE;
    if (too_large) return NUM_TOO_LARGE;
    *out = v;
    return NUM_OK;
}

/* Seconds as exact decimal: digits, optionally '.' and up to 9 more digits (nanoseconds), at
 * least one digit in all. No sign, no exponent: the writer never produces them and accepting them
 * would break the byte-identical round trip's promise that every accepted form is canonical-able. */
static num_status parse_seconds(field f, tetri_ns *out)
{
    size_t i = 0;
    if (f.len > 0 && f.s[0] == '-') {
        tetri_ns ignored;
        num_status rest = parse_seconds((field){f.s + 1, f.len - 1}, &ignored);
        return rest == NUM_NOT_NUMBER ? NUM_NOT_NUMBER : NUM_NEGATIVE;
    }
    int64_t whole = 0;
    int digits = 0, too_large = 0;
    for (; i < f.len && is_digit(f.s[i]); i++, digits++) {
        if (!too_large) {
            whole = whole * 10 + (f.s[i] - '0');
            if (whole > TRACE_MAX_SECONDS) too_large = 1;
        }
    }
    int64_t frac = 0;
    int frac_digits = 0;
    if (i < f.len && f.s[i] == '.') {
        for (i++; i < f.len && is_digit(f.s[i]); i++, frac_digits++)
            if (frac_digits < 9) frac = frac * 10 + (f.s[i] - '0');
        digits += frac_digits;
    }
    if (i != f.len || digits == 0) return NUM_NOT_NUMBER;
    if (too_large) return NUM_TOO_LARGE;
    if (frac_digits > 9) return NUM_TOO_PRECISE;
    for (int d = frac_digits; d < 9; d++) frac *= 10;
    tetri_ns ns = whole * TETRI_NS_PER_S + frac;
    if (ns > TRACE_MAX_SECONDS * TETRI_NS_PER_S) return NUM_TOO_LARGE;
    *out = ns;
    return NUM_OK;
}

static field trim(field f)
{
    while (f.len > 0 && (f.s[0] == ' ' || f.s[0] == '\t')) {
        f.s++;
        f.len--;
    }
    while (f.len > 0 && (f.s[f.len - 1] == ' ' || f.s[f.len - 1] == '\t')) f.len--;
    return f;
}

/* Splits a line (without its end of line) at commas. Returns the number of fields found; stores
 * at most `max`, but counts on so the caller can say how many there were. */
static int split_fields(const char *s, size_t len, field *out, int max)
{
    int n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ',') {
            if (n < max) out[n] = trim((field){s + start, i - start});
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* Checks a whole-number field: reports "FIELD 'text' REASON" in err. */
static int check_whole(field f, int64_t min, int64_t max, const char *what, const char *name, long line,
                       int64_t *out, tetri_error *err)
{
    char q[96];
    quote_field(f.s, f.len, q, sizeof q);
    switch (parse_whole(f, max, out)) {
    case NUM_OK: break;
    case NUM_NEGATIVE: return line_error(err, name, line, "%s %s is negative (must be at least %lld)", what, q, (long long)min);
    case NUM_TOO_LARGE: return line_error(err, name, line, "%s %s is too large (at most %lld)", what, q, (long long)max);
    default: return line_error(err, name, line, "%s %s is not a whole number", what, q);
    }
    if (*out < min) return line_error(err, name, line, "%s %s is too small (must be at least %lld)", what, q, (long long)min);
    return 0;
}

static int check_seconds(field f, const char *what, const char *name, long line, tetri_ns *out, tetri_error *err)
{
    char q[96];
    quote_field(f.s, f.len, q, sizeof q);
    switch (parse_seconds(f, out)) {
    case NUM_OK: return 0;
    case NUM_NEGATIVE: return line_error(err, name, line, "%s %s is negative (times are seconds from the trace's start, >= 0)", what, q);
    case NUM_TOO_LARGE: return line_error(err, name, line, "%s %s is too large (at most %lld s)", what, q, TRACE_MAX_SECONDS);
    case NUM_TOO_PRECISE: return line_error(err, name, line, "%s %s has more than 9 decimals (times have nanosecond resolution)", what, q);
    default:
        return line_error(err, name, line, "%s %s is not a number of seconds (expected digits with an optional '.' and up to 9 decimals, e.g. 12.5)", what, q);
    }
}

static int check_side(field f, const char *what, const char *name, long line, int32_t *out, tetri_error *err)
{
    int64_t v;
    if (check_whole(f, 16, TETRI_MAX_SIDE, what, name, line, &v, err) < 0) return -1;
    if (v % 16 != 0) return line_error(err, name, line, "%s %lld is not a multiple of 16 (DiT latents are 16-pixel patches)", what, (long long)v);
    *out = (int32_t)v;
    return 0;
}

/* ---- reader -------------------------------------------------------------------------------- */

static int is_blank_or_comment(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
    return i == len || s[i] == '#';
}

/* The header, when present, must name the seven columns in order: a file whose columns mean
 * something else must not be read as a trace. */
static int check_header(const field *f, int n, const char *name, long line, tetri_error *err)
{
    if (n < TRACE_N_FIELDS)
        return line_error(err, name, line, "header has %d columns, missing '%s' (expected " TRACE_HEADER ")", n, trace_field_names[n]);
    if (n > TRACE_N_FIELDS)
        return line_error(err, name, line, "header has %d columns, expected 7 (" TRACE_HEADER ")", n);
    for (int i = 0; i < TRACE_N_FIELDS; i++) {
        size_t want = strlen(trace_field_names[i]);
        if (f[i].len != want || strncmp(f[i].s, trace_field_names[i], want) != 0) {
            char q[96];
            quote_field(f[i].s, f[i].len, q, sizeof q);
            return line_error(err, name, line, "header column %d is %s, expected '%s' (the header is " TRACE_HEADER ")", i + 1, q,
                              trace_field_names[i]);
        }
    }
    return 0;
}

/* Parses one request line into *e. `index` is the id it must carry; `prev_arrival` and
 * `prev_line` are the previous request's (prev_line 0 for the first). */
static int parse_request(const field *f, int n, size_t index, tetri_ns prev_arrival, long prev_line, const char *name,
                         long line, tetri_trace_entry *e, tetri_error *err)
{
    if (n < TRACE_N_FIELDS)
        return line_error(err, name, line, "missing field '%s': a request has 7 fields (" TRACE_HEADER "), this line has %d",
                          trace_field_names[n], n);
    if (n > TRACE_N_FIELDS) {
        char q[96];
        quote_field(f[TRACE_N_FIELDS].s, f[TRACE_N_FIELDS].len, q, sizeof q);
        return line_error(err, name, line, "extra field %s: a request has exactly 7 fields (" TRACE_HEADER "), this line has %d", q, n);
    }
    int64_t v;
    if (check_whole(f[0], 0, INT32_MAX, "id", name, line, &v, err) < 0) return -1;
    if ((uint64_t)v != (uint64_t)index)
        return line_error(err, name, line, "id %lld is out of order: expected %zu (ids count 0, 1, 2, ... in file order)", (long long)v, index);
    e->id = (int32_t)v;

    char model[64] = "";
    if (f[1].len < sizeof model) {
        memcpy(model, f[1].s, f[1].len);
        model[f[1].len] = '\0';
    }
    if (f[1].len >= sizeof model || tetri_model_parse(model, &e->model) < 0) {
        char q[96];
        quote_field(f[1].s, f[1].len, q, sizeof q);
        return line_error(err, name, line, "model %s is unknown (known: %s, %s)", q, tetri_model_name(TETRI_MODEL_FLUX_DEV),
                          tetri_model_name(TETRI_MODEL_SD3_MEDIUM));
    }
    if (check_side(f[2], "width", name, line, &e->width, err) < 0) return -1;
    if (check_side(f[3], "height", name, line, &e->height, err) < 0) return -1;
    if (check_whole(f[4], 1, TRACE_MAX_STEPS, "steps", name, line, &v, err) < 0) return -1;
    e->steps = (int32_t)v;
    if (check_seconds(f[5], "arrival_s", name, line, &e->arrival, err) < 0) return -1;
    if (check_seconds(f[6], "deadline_s", name, line, &e->deadline, err) < 0) return -1;
    if (prev_line > 0 && e->arrival < prev_arrival)
        return line_error(err, name, line,
                          "arrival_s %lld.%09lld is before the previous request's %lld.%09lld (line %ld): requests must be sorted by arrival",
                          (long long)(e->arrival / TETRI_NS_PER_S), (long long)(e->arrival % TETRI_NS_PER_S),
                          (long long)(prev_arrival / TETRI_NS_PER_S), (long long)(prev_arrival % TETRI_NS_PER_S), prev_line);
    if (e->deadline <= e->arrival)
        return line_error(err, name, line, "deadline_s %lld.%09lld is not after arrival_s %lld.%09lld",
                          (long long)(e->deadline / TETRI_NS_PER_S), (long long)(e->deadline % TETRI_NS_PER_S),
                          (long long)(e->arrival / TETRI_NS_PER_S), (long long)(e->arrival % TETRI_NS_PER_S));
    return 0;
}

/* The next line of f into *buf (NUL-terminated, without its end: "\n", "\r\n", or a lone "\r" as
 * old Mac files end lines), growing *buf up to TRACE_MAX_LINE bytes. Returns its length, -1 at the
 * end of the file (nothing left), or -2 with err ("name:line: why") for a line too long, memory
 * that ran out, or a read error of any kind: none of them is ever taken for the end. */
static long read_line(FILE *f, char **buf, size_t *cap, const char *name, long line, tetri_error *err)
{
    size_t len = 0;
    int c;
    for (;;) {
        errno = 0;
        c = getc_unlocked(f);
        if (c == EOF || c == '\n') break;
        if (c == '\r') {
            int next = getc_unlocked(f);
            if (next != '\n' && next != EOF) ungetc(next, f);
            break;
        }
        if (len == TRACE_MAX_LINE) {
            line_error(err, name, line, "line is longer than %d bytes (a request line is under 200): is this a trace?",
                       TRACE_MAX_LINE);
            return -2;
        }
        if (len + 1 >= *cap) {
            size_t grown_cap = *cap ? 2 * *cap : 256;
            char *grown = realloc(*buf, grown_cap);
            if (!grown) {
                line_error(err, name, line, "out of memory reading the line (%zu bytes so far)", len);
                return -2;
            }
            *buf = grown;
            *cap = grown_cap;
        }
        (*buf)[len++] = (char)c;
    }
    if (c == EOF && ferror(f)) {
        line_error(err, name, line, "read error: %s", strerror(errno ? errno : EIO));
        return -2;
    }
    if (c == EOF && len == 0) return -1;
    if (!*buf) { /* an empty first line: nothing was stored yet */
        if (!(*buf = malloc(256))) {
            line_error(err, name, line, "out of memory reading the line");
            return -2;
        }
        *cap = 256;
    }
    (*buf)[len] = '\0';
    return (long)len;
}

/* A "# tetri workload: SPEC" comment before the first request: SPEC into t->generator. Returns 0,
 * or -1 (out of memory) with err. */
static int take_generator(const char *text, size_t len, tetri_trace *t, const char *name, long line, tetri_error *err)
{
    const size_t plen = sizeof TRACE_GENERATOR_PREFIX - 1;
    if (t->generator || t->n || len <= plen || memcmp(text, TRACE_GENERATOR_PREFIX, plen) != 0) return 0;
    if (!(t->generator = strndup(text + plen, len - plen))) return line_error(err, name, line, "out of memory");
    return 0;
}

int trace_read_csv_stream(FILE *f, const char *name, tetri_trace *out, tetri_error *err)
{
    assert(f && out);
    if (!name) name = "(trace)";
    memset(out, 0, sizeof *out);
    tetri_trace t = {0};
    size_t cap = 0;
    char *buf = NULL;
    size_t buf_cap = 0;
    long line = 0, prev_line = 0;
    int seen_content = 0;
    int rc = -1;
    long got;
    flockfile(f);
    while ((got = read_line(f, &buf, &buf_cap, name, line + 1, err)) >= 0) {
        line++;
        size_t len = (size_t)got;
        const char *text = buf;
        /* A UTF-8 byte-order mark, as spreadsheet programs write, is not part of the header. */
        if (line == 1 && len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
            text += 3;
            len -= 3;
        }
        if (memchr(text, '\0', len)) {
            line_error(err, name, line, "line contains a NUL byte (is this a binary file?)");
            goto done;
        }
        if (is_blank_or_comment(text, len)) {
            if (take_generator(text, len, &t, name, line, err)) goto done;
            continue;
        }
        field fields[TRACE_N_FIELDS + 1];
        int n = split_fields(text, len, fields, TRACE_N_FIELDS + 1);
        if (!seen_content) {
            seen_content = 1;
            /* The header is optional; a first line whose first field is "id" is one. */
            if (fields[0].len == 2 && strncmp(fields[0].s, "id", 2) == 0) {
                if (check_header(fields, n, name, line, err) < 0) goto done;
                continue;
            }
        }
        if (t.n == cap) {
            size_t new_cap = cap ? cap * 2 : 256;
            tetri_trace_entry *grown = realloc(t.entries, new_cap * sizeof *grown);
            if (!grown) {
                line_error(err, name, line, "out of memory after %zu requests", t.n);
                goto done;
            }
            t.entries = grown;
            cap = new_cap;
        }
        tetri_ns prev_arrival = t.n ? t.entries[t.n - 1].arrival : 0;
        memset(&t.entries[t.n], 0, sizeof t.entries[t.n]);
        if (parse_request(fields, n, t.n, prev_arrival, prev_line, name, line, &t.entries[t.n], err) < 0) goto done;
        t.n++;
        prev_line = line;
    }
    if (got == -2) goto done;
    if (t.n == 0) {
        line_error(err, name, line > 0 ? line : 1, "no requests (%s)",
                   line == 0 ? "the file is empty" : "the file has only a header, comments or blank lines");
        goto done;
    }
    *out = t;
    t.entries = NULL;
    t.generator = NULL;
    rc = 0;
done:
    funlockfile(f);
    free(buf);
    tetri_trace_free(&t);
    return rc;
}

int trace_read_csv(const char *path, tetri_trace *out, tetri_error *err)
{
    assert(path && out);
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return tetri_errorf(err, "%.200s: cannot open: %s", path, strerror(errno));
    int rc = trace_read_csv_stream(f, path, out, err);
    fclose(f);
    return rc;
}

/* ---- writer -------------------------------------------------------------------------------- */

int trace_write_csv(FILE *f, const tetri_trace *t)
{
    assert(f && t);
    /* The generator's parameters first, as a comment, so the file says how to make it again. */
    assert(!t->generator || !strpbrk(t->generator, "\r\n"));
    if (t->generator && fprintf(f, TRACE_GENERATOR_PREFIX "%s\n", t->generator) < 0) return -1;
    if (fputs(TRACE_HEADER "\n", f) < 0) return -1;
    for (size_t i = 0; i < t->n; i++) {
        const tetri_trace_entry *e = &t->entries[i];
        /* The reader's invariants; a trace built in memory must satisfy them too. */
        assert(e->arrival >= 0 && e->deadline > e->arrival);
        assert(e->width > 0 && e->width % 16 == 0 && e->height > 0 && e->height % 16 == 0);
        assert(i == 0 || e->arrival >= t->entries[i - 1].arrival);
        if (fprintf(f, "%d,%s,%d,%d,%d,%lld.%09lld,%lld.%09lld\n", (int)e->id, tetri_model_name(e->model), (int)e->width,
                    (int)e->height, (int)e->steps, (long long)(e->arrival / TETRI_NS_PER_S),
                    (long long)(e->arrival % TETRI_NS_PER_S), (long long)(e->deadline / TETRI_NS_PER_S),
                    (long long)(e->deadline % TETRI_NS_PER_S)) < 0)
            return -1;
    }
    return ferror(f) ? -1 : 0;
}
