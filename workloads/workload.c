/* workloads/workload.c: the paper's workload generator (DESIGN section 7; see workload.h).
 *
 * Draw order, fixed so experiments compose: first every inter-arrival gap, then every resolution,
 * from one gsl_rng_mt19937 seeded by the spec's seed. So for one seed the arrival times do not
 * depend on the mix, the resolutions or the SLO scale (an SLO-scale sweep moves only deadlines),
 * and a Poisson trace at another rate is the same trace with its gaps rescaled (up to ns rounding). */
#include "workloads/workload.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

/* The reader's bounds (trace.c): a generated trace must read back. */
#define WORKLOAD_MAX_SIDE TETRI_MAX_SIDE
#define WORKLOAD_MAX_STEPS 100000
#define WORKLOAD_MAX_REQUESTS 10000000
#define WORKLOAD_MAX_NS (1000000000LL * TETRI_NS_PER_S)
/* An explicit SLO base: at most a day (x slo_scale 1000 stays far inside WORKLOAD_MAX_NS). */
#define WORKLOAD_MAX_SLO_BASE_NS (86400LL * TETRI_NS_PER_S)

const char *tetri_arrival_name(tetri_arrival_kind a)
{
    switch (a) {
    case TETRI_ARRIVAL_POISSON: return "poisson";
    case TETRI_ARRIVAL_GAMMA: return "gamma";
    }
    return "?";
}

const char *tetri_mix_name(tetri_mix_kind m)
{
    switch (m) {
    case TETRI_MIX_UNIFORM: return "uniform";
    case TETRI_MIX_SKEWED: return "skewed";
    case TETRI_MIX_HOMOGENEOUS: return "homogeneous";
    }
    return "?";
}

int tetri_arrival_parse(const char *s, tetri_arrival_kind *out)
{
    if (!s) return -1;
    if (strcasecmp(s, "poisson") == 0) *out = TETRI_ARRIVAL_POISSON;
    else if (strcasecmp(s, "gamma") == 0) *out = TETRI_ARRIVAL_GAMMA;
    else return -1;
    return 0;
}

int tetri_mix_parse(const char *s, tetri_mix_kind *out)
{
    if (!s) return -1;
    if (strcasecmp(s, "uniform") == 0) *out = TETRI_MIX_UNIFORM;
    else if (strcasecmp(s, "skewed") == 0) *out = TETRI_MIX_SKEWED;
    else if (strcasecmp(s, "homogeneous") == 0) *out = TETRI_MIX_HOMOGENEOUS;
    else return -1;
    return 0;
}

void workload_spec_default(workload_spec *s)
{
    assert(s);
    memset(s, 0, sizeof *s);
    s->model = TETRI_MODEL_FLUX_DEV;
    s->steps = 20;
    s->n_resolutions = 4;
    s->resolutions[0] = 256;
    s->resolutions[1] = 512;
    s->resolutions[2] = 1024;
    s->resolutions[3] = 2048;
    s->mix = TETRI_MIX_UNIFORM;
    s->skew_alpha = 1.0;
    s->homogeneous_resolution = 1024;
    s->arrival = TETRI_ARRIVAL_POISSON;
    s->rate_per_min = 12.0;
    s->gamma_cv = 2.0;
    s->slo_scale = 1.0;
    s->seed = 1;
    s->n_requests = 300;
}

/* SLO bases of DESIGN section 7, keyed by token count (side/16 squared). */
static const struct { int64_t tokens; tetri_ns base; } slo_anchors[] = {
    {256, 1500 * TETRI_NS_PER_MS},   /* 256 x 256 */
    {1024, 2000 * TETRI_NS_PER_MS},  /* 512 x 512 */
    {4096, 3000 * TETRI_NS_PER_MS},  /* 1024 x 1024 */
    {16384, 5000 * TETRI_NS_PER_MS}, /* 2048 x 2048 */
};
#define N_SLO_ANCHORS (sizeof slo_anchors / sizeof slo_anchors[0])

tetri_ns workload_slo_base_ns(int32_t width, int32_t height)
{
    assert(width > 0 && height > 0);
    int64_t tokens = (int64_t)(width / 16) * (height / 16);
    if (tokens <= slo_anchors[0].tokens) return slo_anchors[0].base;
    for (size_t i = 1; i < N_SLO_ANCHORS; i++) {
        if (tokens <= slo_anchors[i].tokens) {
            /* Integer arithmetic, so the base is the same on every machine. */
            int64_t t0 = slo_anchors[i - 1].tokens, t1 = slo_anchors[i].tokens;
            tetri_ns b0 = slo_anchors[i - 1].base, b1 = slo_anchors[i].base;
            return b0 + (b1 - b0) * (tokens - t0) / (t1 - t0);
        }
    }
    return slo_anchors[N_SLO_ANCHORS - 1].base;
}

tetri_ns workload_spec_slo_base_ns(const workload_spec *s, int32_t width, int32_t height)
{
    assert(s);
    if (s->n_slo_bases == 0) return workload_slo_base_ns(width, height);
    for (int i = 0; i < s->n_slo_bases && i < TETRI_MAX_RESOLUTIONS; i++)
        if (s->slo_base_sides[i] == width && width == height) return s->slo_bases[i];
    return -1;
}

static int finite_positive(double x) { return isfinite(x) && x > 0; }

static int check_side(int32_t side, const char *what, tetri_error *err)
{
    if (side <= 0 || side > WORKLOAD_MAX_SIDE || side % 16 != 0)
        return tetri_errorf(err, "%s: %d is not a valid side (a multiple of 16 between 16 and %d)", what, (int)side,
                            WORKLOAD_MAX_SIDE);
    return 0;
}

/* Explicit SLO bases: valid sides, each once, bases in (0, WORKLOAD_MAX_SLO_BASE_NS], and one for
 * every side the mix uses. */
static int validate_slo_bases(const workload_spec *s, tetri_error *err)
{
    if (s->n_slo_bases == 0) return 0;
    if (s->n_slo_bases < 0 || s->n_slo_bases > TETRI_MAX_RESOLUTIONS)
        return tetri_errorf(err, "slo_bases: %d given, need 1 to %d", (int)s->n_slo_bases, TETRI_MAX_RESOLUTIONS);
    for (int i = 0; i < s->n_slo_bases; i++) {
        if (check_side(s->slo_base_sides[i], "slo_bases", err) < 0) return -1;
        if (s->slo_bases[i] <= 0 || s->slo_bases[i] > WORKLOAD_MAX_SLO_BASE_NS)
            return tetri_errorf(err, "slo_bases: %lld ns for side %d is out of range (1 ns to %lld s)", (long long)s->slo_bases[i],
                                (int)s->slo_base_sides[i], WORKLOAD_MAX_SLO_BASE_NS / TETRI_NS_PER_S);
        for (int j = 0; j < i; j++)
            if (s->slo_base_sides[j] == s->slo_base_sides[i])
                return tetri_errorf(err, "slo_bases: side %d is listed twice", (int)s->slo_base_sides[i]);
    }
    int n_used = s->mix == TETRI_MIX_HOMOGENEOUS ? 1 : s->n_resolutions;
    for (int i = 0; i < n_used; i++) {
        int32_t side = s->mix == TETRI_MIX_HOMOGENEOUS ? s->homogeneous_resolution : s->resolutions[i];
        if (workload_spec_slo_base_ns(s, side, side) < 0) return tetri_errorf(err, "slo_bases: no base for side %d", (int)side);
    }
    return 0;
}

int workload_spec_validate(const workload_spec *s, tetri_error *err)
{
    assert(s);
    if ((unsigned)s->model >= TETRI_MODEL_COUNT) return tetri_errorf(err, "model: unknown model %d", (int)s->model);
    if (s->steps < 1 || s->steps > WORKLOAD_MAX_STEPS)
        return tetri_errorf(err, "steps: %d is out of range (1 to %d)", (int)s->steps, WORKLOAD_MAX_STEPS);
    if (s->n_requests < 1 || s->n_requests > WORKLOAD_MAX_REQUESTS)
        return tetri_errorf(err, "n: %d requests is out of range (1 to %d)", (int)s->n_requests, WORKLOAD_MAX_REQUESTS);
    if (s->seed > WORKLOAD_MAX_SEED)
        return tetri_errorf(err, "seed: %llu is too large (at most %llu: GSL's mt19937 takes 32-bit seeds)",
                            (unsigned long long)s->seed, (unsigned long long)WORKLOAD_MAX_SEED);
    switch (s->mix) {
    case TETRI_MIX_UNIFORM:
    case TETRI_MIX_SKEWED:
        if (s->n_resolutions < 1 || s->n_resolutions > TETRI_MAX_RESOLUTIONS)
            return tetri_errorf(err, "resolutions: %d given, need 1 to %d", (int)s->n_resolutions, TETRI_MAX_RESOLUTIONS);
        for (int i = 0; i < s->n_resolutions; i++) {
            if (check_side(s->resolutions[i], "resolutions", err) < 0) return -1;
            for (int j = 0; j < i; j++)
                if (s->resolutions[j] == s->resolutions[i])
                    return tetri_errorf(err, "resolutions: %d is listed twice", (int)s->resolutions[i]);
        }
        if (s->mix == TETRI_MIX_SKEWED && !(isfinite(s->skew_alpha) && fabs(s->skew_alpha) <= 100))
            return tetri_errorf(err, "alpha: %g is out of range (a finite number between -100 and 100)", s->skew_alpha);
        break;
    case TETRI_MIX_HOMOGENEOUS:
        if (check_side(s->homogeneous_resolution, "res", err) < 0) return -1;
        break;
    default: return tetri_errorf(err, "mix: unknown mix %d", (int)s->mix);
    }
    if (s->arrival != TETRI_ARRIVAL_POISSON && s->arrival != TETRI_ARRIVAL_GAMMA)
        return tetri_errorf(err, "arrival: unknown arrival process %d", (int)s->arrival);
    if (!finite_positive(s->rate_per_min))
        return tetri_errorf(err, "rate: %g requests per minute must be a positive number", s->rate_per_min);
    if (s->arrival == TETRI_ARRIVAL_GAMMA && !(finite_positive(s->gamma_cv) && s->gamma_cv <= 100))
        return tetri_errorf(err, "cv: %g must be a positive number up to 100 (1 is Poisson-like, larger is burstier)", s->gamma_cv);
    /* From 0.001 (so every deadline is at least 1.5 ms after its arrival, never rounded onto it)
     * to 1000 (so deadlines stay far inside the trace's time limit). */
    if (!(s->slo_scale >= 0.001 && s->slo_scale <= 1000))
        return tetri_errorf(err, "slo_scale: %g is out of range (0.001 to 1000)", s->slo_scale);
    if (s->load != 0 && !(s->load > 0 && s->load <= WORKLOAD_MAX_LOAD))
        return tetri_errorf(err, "load: %g is out of range (above 0, at most %g of capacity)", s->load, WORKLOAD_MAX_LOAD);
    return validate_slo_bases(s, err);
}

/* The share of each resolution, as weights (not normalised). */
static void mix_weights(const workload_spec *s, double *w)
{
    double max_tokens = 0;
    for (int i = 0; i < s->n_resolutions; i++) {
        double tokens = (double)(s->resolutions[i] / 16) * (s->resolutions[i] / 16);
        if (tokens > max_tokens) max_tokens = tokens;
    }
    for (int i = 0; i < s->n_resolutions; i++) {
        double tokens = (double)(s->resolutions[i] / 16) * (s->resolutions[i] / 16);
        w[i] = s->mix == TETRI_MIX_SKEWED ? exp(s->skew_alpha * tokens / max_tokens) : 1.0;
    }
}

int workload_mix_shares(const workload_spec *s, double *shares, int max, tetri_error *err)
{
    if (workload_spec_validate(s, err) < 0) return -1;
    if (s->mix == TETRI_MIX_HOMOGENEOUS) {
        if (max >= 1) shares[0] = 1.0;
        return 1;
    }
    double w[TETRI_MAX_RESOLUTIONS], total = 0;
    mix_weights(s, w);
    for (int i = 0; i < s->n_resolutions; i++) total += w[i];
    for (int i = 0; i < s->n_resolutions && i < max; i++) shares[i] = w[i] / total;
    return s->n_resolutions;
}

int workload_generate(const workload_spec *s, tetri_trace *out, tetri_error *err)
{
    assert(s && out);
    memset(out, 0, sizeof *out);
    if (workload_spec_validate(s, err) < 0) return -1;

    size_t n = (size_t)s->n_requests;
    tetri_trace_entry *e = calloc(n, sizeof *e);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!e || !rng) {
        free(e);
        if (rng) gsl_rng_free(rng);
        return tetri_errorf(err, "out of memory generating %zu requests", n);
    }
    /* mt19937 maps seed 0 to its default seed 4357; seed + 1 keeps every seed distinct. */
    gsl_rng_set(rng, (unsigned long)(s->seed + 1));

    /* Arrivals: gaps with mean 60/rate seconds. Gamma with shape k = 1/cv^2 and scale
     * theta = mean cv^2 has that mean and CV cv (k = 1 is the exponential, i.e. Poisson). */
    double mean_gap_s = 60.0 / s->rate_per_min;
    double gamma_shape = 1.0 / (s->gamma_cv * s->gamma_cv), gamma_scale = mean_gap_s * s->gamma_cv * s->gamma_cv;
    tetri_ns t = 0;
    for (size_t i = 0; i < n; i++) {
        double gap_s = s->arrival == TETRI_ARRIVAL_POISSON ? gsl_ran_exponential(rng, mean_gap_s)
                                                           : gsl_ran_gamma(rng, gamma_shape, gamma_scale);
        double gap_ns = floor(gap_s * 1e9 + 0.5);
        if (!(gap_ns >= 0) || gap_ns > (double)(WORKLOAD_MAX_NS - t)) {
            free(e);
            gsl_rng_free(rng);
            return tetri_errorf(err, "rate: %g requests per minute over %d requests spans more than %lld s (the trace limit); raise rate or lower n",
                                s->rate_per_min, (int)s->n_requests, WORKLOAD_MAX_NS / TETRI_NS_PER_S);
        }
        t += (tetri_ns)gap_ns;
        e[i].arrival = t;
    }

    /* Resolutions: one uniform draw per request against the cumulative shares (the homogeneous
     * mix draws too, so the stream stays aligned across mixes). */
    double w[TETRI_MAX_RESOLUTIONS], cum[TETRI_MAX_RESOLUTIONS], total = 0;
    int n_res = s->mix == TETRI_MIX_HOMOGENEOUS ? 1 : s->n_resolutions;
    if (s->mix == TETRI_MIX_HOMOGENEOUS) w[0] = 1.0;
    else mix_weights(s, w);
    for (int r = 0; r < n_res; r++) cum[r] = (total += w[r]);
    for (size_t i = 0; i < n; i++) {
        double u = gsl_rng_uniform(rng) * total;
        int r = 0;
        while (r < n_res - 1 && u >= cum[r]) r++;
        int32_t side = s->mix == TETRI_MIX_HOMOGENEOUS ? s->homogeneous_resolution : s->resolutions[r];
        e[i].id = (int32_t)i;
        e[i].model = s->model;
        e[i].width = e[i].height = side;
        e[i].steps = s->steps;
        tetri_ns slo = (tetri_ns)llround(s->slo_scale * (double)workload_spec_slo_base_ns(s, side, side));
        /* slo <= 1000 x a day, so no overflow; the check below keeps the deadline readable. */
        assert(slo > 0);
        e[i].deadline = e[i].arrival + slo;
        if (e[i].deadline > WORKLOAD_MAX_NS) {
            free(e);
            gsl_rng_free(rng);
            return tetri_errorf(err, "rate: %g requests per minute over %d requests spans more than %lld s (the trace limit); raise rate or lower n",
                                s->rate_per_min, (int)s->n_requests, WORKLOAD_MAX_NS / TETRI_NS_PER_S);
        }
    }
    gsl_rng_free(rng);
    out->entries = e;
    out->n = n;
    return 0;
}

/* A double in the shortest of %.15g / %.17g that reads back to the same value. */
static void format_double(char *buf, size_t len, double x)
{
    snprintf(buf, len, "%.15g", x);
    if (strtod(buf, NULL) != x) snprintf(buf, len, "%.17g", x);
}

/* ",slo_bases=256:300000000/512:..." for the sides the mix uses, or "" without explicit bases. */
static void format_slo_bases(const workload_spec *s, char *buf, size_t len)
{
    buf[0] = '\0';
    if (s->n_slo_bases == 0) return;
    int n_used = s->mix == TETRI_MIX_HOMOGENEOUS ? 1 : s->n_resolutions;
    size_t o = (size_t)snprintf(buf, len, ",slo_bases=");
    for (int i = 0; i < n_used && i < TETRI_MAX_RESOLUTIONS && o < len; i++) {
        int32_t side = s->mix == TETRI_MIX_HOMOGENEOUS ? s->homogeneous_resolution : s->resolutions[i];
        o += (size_t)snprintf(buf + o, len - o, "%s%d:%lld", i ? "/" : "", (int)side,
                              (long long)workload_spec_slo_base_ns(s, side, side));
    }
}

void workload_spec_format(const workload_spec *s, char *buf, size_t len)
{
    assert(s && buf && len > 0);
    char rate[32], scale[32], extra[96] = "", load[48] = "";
    format_double(rate, sizeof rate, s->rate_per_min);
    format_double(scale, sizeof scale, s->slo_scale);
    if (s->load != 0) {
        char v[32];
        format_double(v, sizeof v, s->load);
        snprintf(load, sizeof load, ",load=%s", v);
    }
    char res[TETRI_MAX_RESOLUTIONS * 8] = "";
    if (s->mix == TETRI_MIX_HOMOGENEOUS) {
        snprintf(res, sizeof res, "res=%d", (int)s->homogeneous_resolution);
    } else {
        size_t o = (size_t)snprintf(res, sizeof res, "resolutions=");
        for (int i = 0; i < s->n_resolutions && i < TETRI_MAX_RESOLUTIONS && o < sizeof res; i++)
            o += (size_t)snprintf(res + o, sizeof res - o, "%s%d", i ? "/" : "", (int)s->resolutions[i]);
        if (s->mix == TETRI_MIX_SKEWED) {
            char alpha[32];
            format_double(alpha, sizeof alpha, s->skew_alpha);
            snprintf(extra, sizeof extra, ",alpha=%s", alpha);
        }
    }
    char cv[48] = "";
    if (s->arrival == TETRI_ARRIVAL_GAMMA) {
        char v[32];
        format_double(v, sizeof v, s->gamma_cv);
        snprintf(cv, sizeof cv, ",cv=%s", v);
    }
    char bases[TETRI_MAX_RESOLUTIONS * 32];
    format_slo_bases(s, bases, sizeof bases);
    snprintf(buf, len, "model=%s,steps=%d,mix=%s,%s%s,arrival=%s,rate=%s%s%s,slo_scale=%s%s,seed=%llu,n=%d",
             tetri_model_name(s->model), (int)s->steps, tetri_mix_name(s->mix), res, extra,
             tetri_arrival_name(s->arrival), rate, load, cv, scale, bases, (unsigned long long)s->seed, (int)s->n_requests);
}

/* ---- text form ------------------------------------------------------------------------------ */

static int parse_double_value(const char *key, const char *v, double *out, tetri_error *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != '\0') return tetri_errorf(err, "%s: '%.60s' is not a number", key, v);
    if (errno == ERANGE || !isfinite(x))
        return tetri_errorf(err, "%s: '%.60s' is out of range (too large, or too close to 0, for a number)", key, v);
    *out = x;
    return 0;
}

static int parse_int_value(const char *key, const char *v, long long min, long long max, long long *out, tetri_error *err)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end != '\0' || !((*v >= '0' && *v <= '9') || *v == '-'))
        return tetri_errorf(err, "%s: '%.60s' is not a whole number", key, v);
    if (errno == ERANGE || x < min || x > max)
        return tetri_errorf(err, "%s: %.60s is out of range (%lld to %lld)", key, v, min, max);
    *out = x;
    return 0;
}

static int parse_resolutions(const char *v, workload_spec *s, tetri_error *err)
{
    int n = 0;
    const char *p = v;
    for (;;) {
        char item[32];
        size_t len = strcspn(p, ",/");
        if (len == 0 || len >= sizeof item)
            return tetri_errorf(err, "resolutions: '%.60s' is not a list of sides like 256,512,1024,2048", v);
        memcpy(item, p, len);
        item[len] = '\0';
        if (n == TETRI_MAX_RESOLUTIONS) return tetri_errorf(err, "resolutions: more than %d given", TETRI_MAX_RESOLUTIONS);
        long long side;
        if (parse_int_value("resolutions", item, 16, WORKLOAD_MAX_SIDE, &side, err) < 0) return -1;
        if (side % 16 != 0) return tetri_errorf(err, "resolutions: %lld is not a multiple of 16", side);
        s->resolutions[n++] = (int32_t)side;
        if (p[len] == '\0') break;
        p += len + 1;
    }
    s->n_resolutions = n;
    return 0;
}

/* "256:300000000/512:..." (side:base in ns) into the spec's explicit bases. */
static int parse_slo_bases(const char *v, workload_spec *s, tetri_error *err)
{
    int n = 0;
    const char *p = v;
    for (;;) {
        char item[48];
        size_t len = strcspn(p, "/");
        char *colon;
        if (len == 0 || len >= sizeof item)
            return tetri_errorf(err, "slo_bases: '%.60s' is not a list of SIDE:NS like 256:300000000/512:400000000", v);
        memcpy(item, p, len);
        item[len] = '\0';
        if (!(colon = strchr(item, ':'))) return tetri_errorf(err, "slo_bases: '%s' is not SIDE:NS", item);
        *colon = '\0';
        if (n == TETRI_MAX_RESOLUTIONS) return tetri_errorf(err, "slo_bases: more than %d given", TETRI_MAX_RESOLUTIONS);
        long long side, base;
        if (parse_int_value("slo_bases", item, 16, WORKLOAD_MAX_SIDE, &side, err) < 0 ||
            parse_int_value("slo_bases", colon + 1, 1, WORKLOAD_MAX_SLO_BASE_NS, &base, err) < 0)
            return -1;
        s->slo_base_sides[n] = (int32_t)side;
        s->slo_bases[n++] = base;
        if (p[len] == '\0') break;
        p += len + 1;
    }
    s->n_slo_bases = n;
    return 0;
}

/* Index of the first control byte of s, or -1: messages echo user text, and must stay one line. */
static long first_control_byte(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return (long)(p - s);
    return -1;
}

int workload_spec_set(workload_spec *s, const char *key, const char *v, tetri_error *err)
{
    assert(s && key && v);
    long bad_key = first_control_byte(key), bad_value = first_control_byte(v);
    if (bad_key >= 0)
        return tetri_errorf(err, "workload key contains a control character (byte 0x%02x)", (unsigned char)key[bad_key]);
    if (bad_value >= 0)
        return tetri_errorf(err, "%.40s: the value contains a control character (byte 0x%02x)", key, (unsigned char)v[bad_value]);
    long long x;
    if (strcmp(key, "model") == 0) {
        if (tetri_model_parse(v, &s->model) < 0)
            return tetri_errorf(err, "model: '%.60s' is unknown (known: %s, %s)", v, tetri_model_name(TETRI_MODEL_FLUX_DEV),
                                tetri_model_name(TETRI_MODEL_SD3_MEDIUM));
    } else if (strcmp(key, "steps") == 0) {
        if (parse_int_value(key, v, 1, WORKLOAD_MAX_STEPS, &x, err) < 0) return -1;
        s->steps = (int32_t)x;
    } else if (strcmp(key, "mix") == 0) {
        if (tetri_mix_parse(v, &s->mix) < 0)
            return tetri_errorf(err, "mix: '%.60s' is unknown (uniform, skewed or homogeneous)", v);
    } else if (strcmp(key, "resolutions") == 0) {
        return parse_resolutions(v, s, err);
    } else if (strcmp(key, "res") == 0) {
        if (parse_int_value(key, v, 16, WORKLOAD_MAX_SIDE, &x, err) < 0) return -1;
        if (x % 16 != 0) return tetri_errorf(err, "res: %lld is not a multiple of 16", x);
        s->homogeneous_resolution = (int32_t)x;
    } else if (strcmp(key, "alpha") == 0) {
        return parse_double_value(key, v, &s->skew_alpha, err);
    } else if (strcmp(key, "arrival") == 0) {
        if (tetri_arrival_parse(v, &s->arrival) < 0) return tetri_errorf(err, "arrival: '%.60s' is unknown (poisson or gamma)", v);
    } else if (strcmp(key, "rate") == 0) {
        if (parse_double_value(key, v, &s->rate_per_min, err) < 0) return -1;
        if (!finite_positive(s->rate_per_min)) return tetri_errorf(err, "rate: %.60s must be > 0 (requests per minute)", v);
    } else if (strcmp(key, "load") == 0) {
        if (parse_double_value(key, v, &s->load, err) < 0) return -1;
        if (!(s->load > 0 && s->load <= WORKLOAD_MAX_LOAD))
            return tetri_errorf(err, "load: %.60s is out of range (above 0, at most %g of capacity; above 1 is overload)", v,
                                WORKLOAD_MAX_LOAD);
    } else if (strcmp(key, "slo_bases") == 0) {
        return parse_slo_bases(v, s, err);
    } else if (strcmp(key, "cv") == 0) {
        if (parse_double_value(key, v, &s->gamma_cv, err) < 0) return -1;
        if (!finite_positive(s->gamma_cv)) return tetri_errorf(err, "cv: %.60s must be > 0", v);
    } else if (strcmp(key, "slo_scale") == 0) {
        if (parse_double_value(key, v, &s->slo_scale, err) < 0) return -1;
        if (!finite_positive(s->slo_scale)) return tetri_errorf(err, "slo_scale: %.60s must be > 0", v);
    } else if (strcmp(key, "seed") == 0) {
        if (parse_int_value(key, v, 0, (long long)WORKLOAD_MAX_SEED, &x, err) < 0) return -1;
        s->seed = (uint64_t)x;
    } else if (strcmp(key, "n") == 0) {
        if (parse_int_value(key, v, 1, WORKLOAD_MAX_REQUESTS, &x, err) < 0) return -1;
        s->n_requests = (int32_t)x;
    } else {
        return tetri_errorf(err, "unknown workload key '%.60s' (known: model, steps, mix, resolutions, res, alpha, arrival, rate, load, cv, slo_scale, slo_bases, seed, n)", key);
    }
    return 0;
}

int workload_spec_parse(const char *text, workload_spec *s, tetri_error *err)
{
    assert(s);
    if (!text) return 0;
    long bad = first_control_byte(text);
    if (bad >= 0)
        return tetri_errorf(err, "workload: byte 0x%02x at offset %ld is a control character (the spec is one line of key=value pairs)",
                            (unsigned char)text[bad], bad);
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ",");
        char pair[WORKLOAD_TEXT_MAX];
        if (len == 0 || len >= sizeof pair) return tetri_errorf(err, "workload: bad item near '%.60s'", p);
        memcpy(pair, p, len);
        pair[len] = '\0';
        char *eq = strchr(pair, '=');
        if (!eq || eq == pair) return tetri_errorf(err, "workload: '%s' is not key=value", pair);
        *eq = '\0';
        if (workload_spec_set(s, pair, eq + 1, err) < 0) return -1;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') return tetri_errorf(err, "workload: trailing ',' in '%.60s'", text);
        }
    }
    return 0;
}
