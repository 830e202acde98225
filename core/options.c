/* core/options.c: policy option parsing (see options.h). */
#include "core/options.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int find(const tetri_option_spec *spec, const char *name, size_t len)
{
    for (int i = 0; spec && spec[i].name; i++)
        if (strlen(spec[i].name) == len && strncmp(spec[i].name, name, len) == 0) return i;
    return -1;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"on", "true", "yes", "1"}, *const no[] = {"off", "false", "no", "0"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(v, no[i]) == 0) { *out = false; return 0; }
    }
    return -1;
}

/* Reads a "min..max" range. Split at ".." first: sscanf("%lf..") would swallow "0." of "0..1". */
static bool range_of(const char *choices, double *lo, double *hi)
{
    const char *dots = choices ? strstr(choices, "..") : NULL;
    if (!dots) return false;
    char *end;
    char first[32];
    size_t n = (size_t)(dots - choices);
    if (n == 0 || n >= sizeof first) return false;
    memcpy(first, choices, n);
    first[n] = 0;
    *lo = strtod(first, &end);
    if (*end) return false;
    *hi = strtod(dots + 2, &end);
    return *end == 0;
}

/* Checks `v` against the spec entry and writes its canonical text to out. */
static int canonical(const tetri_option_spec *s, const char *v, char *out, tetri_error *err)
{
    char *end;
    switch (s->type) {
    case TETRI_OPT_INT: {
        errno = 0;
        long x = strtol(v, &end, 10);
        if (!*v || *end) return tetri_errorf(err, "option %s: '%s' is not an integer", s->name, v);
        double lo, hi;
        if (errno == ERANGE)
            return tetri_errorf(err, "option %s: %s is out of range (%s)", s->name, v,
                                range_of(s->choices, &lo, &hi) ? s->choices : "too large for an integer");
        if (range_of(s->choices, &lo, &hi)) {
            if ((double)x < lo || (double)x > hi)
                return tetri_errorf(err, "option %s: %ld is outside %s", s->name, x, s->choices);
        }
        snprintf(out, TETRI_OPTION_VALUE_MAX, "%ld", x);
        return 0;
    }
    case TETRI_OPT_DOUBLE: {
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end) return tetri_errorf(err, "option %s: '%s' is not a number", s->name, v);
        double lo, hi;
        if (errno == ERANGE || !isfinite(x))
            return tetri_errorf(err, "option %s: %s is out of range (%s)", s->name, v,
                                range_of(s->choices, &lo, &hi) ? s->choices : "too large, or too close to 0, for a number");
        if (range_of(s->choices, &lo, &hi)) {
            if (x < lo || x > hi)
                return tetri_errorf(err, "option %s: %g is outside %s", s->name, x, s->choices);
        }
        snprintf(out, TETRI_OPTION_VALUE_MAX, "%.17g", x);
        return 0;
    }
    case TETRI_OPT_BOOL: {
        bool b;
        if (parse_bool(v, &b)) return tetri_errorf(err, "option %s: '%s' is not on/off", s->name, v);
        snprintf(out, TETRI_OPTION_VALUE_MAX, "%s", b ? "on" : "off");
        return 0;
    }
    case TETRI_OPT_ENUM: {
        size_t vl = strlen(v);
        for (const char *c = s->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == vl && strncmp(c, v, vl) == 0) {
                snprintf(out, TETRI_OPTION_VALUE_MAX, "%s", v);
                return 0;
            }
            c = bar ? bar + 1 : c + cl;
        }
        return tetri_errorf(err, "option %s: '%s' is not one of %s", s->name, v, s->choices);
    }
    }
    return tetri_errorf(err, "option %s: bad type", s->name);
}

int tetri_options_parse(const tetri_option_spec *spec, const char *text, tetri_options *out, tetri_error *err)
{
    memset(out, 0, sizeof *out);
    out->spec = spec;
    for (int i = 0; spec && spec[i].name; i++) {
        assert(i < TETRI_MAX_OPTIONS);
        if (canonical(&spec[i], spec[i].default_value, out->value[i], err))
            return tetri_error_prefix(err, "default of");
        out->n = i + 1;
    }
    const char *p = text ? text : "";
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        if (len == 0) return tetri_errorf(err, "empty option in '%s'", text);
        if (!eq) return tetri_errorf(err, "option '%.*s' has no value (write key=value)", (int)len, p);
        int idx = find(spec, p, (size_t)(eq - p));
        if (idx < 0) {
            char known[512] = "";
            for (int i = 0; spec && spec[i].name; i++) {
                strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, spec[i].name, sizeof known - strlen(known) - 1);
            }
            return tetri_errorf(err, "unknown option '%.*s' (known: %s)", (int)(eq - p), p,
                                known[0] ? known : "none");
        }
        if (out->given[idx]) return tetri_errorf(err, "option %s given twice", spec[idx].name);
        char v[TETRI_OPTION_VALUE_MAX];
        size_t vl = len - (size_t)(eq + 1 - p);
        if (vl >= sizeof v) return tetri_errorf(err, "option %s: value too long", spec[idx].name);
        memcpy(v, eq + 1, vl);
        v[vl] = 0;
        if (canonical(&spec[idx], v, out->value[idx], err)) return -1;
        out->given[idx] = true;
        p += len + (comma ? 1 : 0);
        if (comma && !*p) return tetri_errorf(err, "trailing ',' in '%s'", text);
    }
    return 0;
}

static int index_of(const tetri_options *o, const char *name)
{
    int i = find(o->spec, name, strlen(name));
    assert(i >= 0 && "option not in the policy's spec");
    return i;
}

long tetri_options_int(const tetri_options *o, const char *name) { return strtol(o->value[index_of(o, name)], NULL, 10); }
double tetri_options_double(const tetri_options *o, const char *name) { return strtod(o->value[index_of(o, name)], NULL); }
bool tetri_options_bool(const tetri_options *o, const char *name) { return strcmp(o->value[index_of(o, name)], "on") == 0; }
const char *tetri_options_str(const tetri_options *o, const char *name) { return o->value[index_of(o, name)]; }

void tetri_options_format(const tetri_options *o, char *buf, size_t len)
{
    size_t used = 0;
    if (len) buf[0] = 0;
    for (int i = 0; i < o->n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s=%s", i ? "," : "", o->spec[i].name, o->value[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}
