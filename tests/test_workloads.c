/* tests/test_workloads.c: the workload generator (statistics, determinism, SLO bases, spec
 * validation and text form) and the CSV trace reader/writer (round trip, accepted forms, and one
 * test per kind of bad input, each checking the file:line and the reason). */
#define _GNU_SOURCE /* fopencookie: streams that fail or never end, for the reader's error paths */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workloads/workload.h"

/* ---- helpers -------------------------------------------------------------------------------- */

/* The CSV text of a trace, malloc'd. */
static char *trace_to_text(const tetri_trace *t)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    assert_int_equal(trace_write_csv(f, t), 0);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* Reads `text` as a trace named "t.csv". */
static int read_text(const char *text, tetri_trace *t, tetri_error *err)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fputs(text, f);
    rewind(f);
    int rc = trace_read_csv_stream(f, "t.csv", t, err);
    fclose(f);
    return rc;
}

/* Expects `text` to be rejected with a message that starts with "t.csv:LINE: " and contains
 * every one of the NULL-terminated fragments. */
static void expect_rejected(const char *text, int line, ...)
{
    tetri_trace t = {.entries = (tetri_trace_entry *)0x1, .n = 99};
    tetri_error err = {{0}};
    int rc = read_text(text, &t, &err);
    if (rc != -1) fail_msg("accepted: %s", text);
    assert_null(t.entries);
    assert_int_equal(t.n, 0);
    char prefix[32];
    snprintf(prefix, sizeof prefix, "t.csv:%d: ", line);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0) fail_msg("message '%s' does not start with '%s'", err.msg, prefix);
    va_list ap;
    va_start(ap, line);
    for (const char *frag; (frag = va_arg(ap, const char *));)
        if (!strstr(err.msg, frag)) fail_msg("message '%s' lacks '%s'", err.msg, frag);
    va_end(ap);
}

#define HEADER "id,model,width,height,steps,arrival_s,deadline_s\n"

static void gaps(const tetri_trace *t, double *mean, double *cv)
{
    double sum = 0, sum2 = 0, prev = 0;
    for (size_t i = 0; i < t->n; i++) {
        double g = (double)(t->entries[i].arrival) / 1e9 - prev;
        prev = (double)t->entries[i].arrival / 1e9;
        sum += g;
        sum2 += g * g;
    }
    *mean = sum / (double)t->n;
    double var = sum2 / (double)t->n - *mean * *mean;
    *cv = sqrt(var) / *mean;
}

/* ---- SLO bases ------------------------------------------------------------------------------ */

static void slo_base_anchors_and_interpolation(void **state)
{
    (void)state;
    assert_int_equal(workload_slo_base_ns(256, 256), 1500000000LL);
    assert_int_equal(workload_slo_base_ns(512, 512), 2000000000LL);
    assert_int_equal(workload_slo_base_ns(1024, 1024), 3000000000LL);
    assert_int_equal(workload_slo_base_ns(2048, 2048), 5000000000LL);
    /* 768 x 768 = 2304 tokens, between 1024 (2 s) and 4096 (3 s): 2 + 1280/3072 s, truncated to ns. */
    assert_int_equal(workload_slo_base_ns(768, 768), 2000000000LL + 1000000000LL * 1280 / 3072);
    /* Interpolated over tokens, not sides: 256 x 1024 has the tokens of 512 x 512. */
    assert_int_equal(workload_slo_base_ns(256, 1024), 2000000000LL);
    /* Clamped outside the anchors. */
    assert_int_equal(workload_slo_base_ns(16, 16), 1500000000LL);
    assert_int_equal(workload_slo_base_ns(4096, 4096), 5000000000LL);
    /* Monotone in size. */
    tetri_ns prev = 0;
    for (int side = 16; side <= 4096; side += 16) {
        tetri_ns b = workload_slo_base_ns(side, side);
        assert_true(b >= prev);
        prev = b;
    }
}

/* ---- generator statistics ------------------------------------------------------------------- */

static void poisson_mean_gap_and_cv(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    s.n_requests = 20000;
    double rates[] = {6, 12, 18};
    for (int k = 0; k < 3; k++) {
        s.rate_per_min = rates[k];
        tetri_trace t;
        tetri_error err = {{0}};
        assert_int_equal(workload_generate(&s, &t, &err), 0);
        assert_int_equal(t.n, 20000);
        double mean, cv;
        gaps(&t, &mean, &cv);
        double want = 60.0 / rates[k];
        /* The sample mean's standard error is want / sqrt(20000) = 0.7%: 3% is over 4 sigma. */
        if (fabs(mean - want) > 0.03 * want) fail_msg("rate %g: mean gap %g, want %g", rates[k], mean, want);
        if (fabs(cv - 1.0) > 0.05) fail_msg("rate %g: gap CV %g, want 1 (exponential)", rates[k], cv);
        for (size_t i = 0; i < t.n; i++) {
            assert_int_equal(t.entries[i].id, (int32_t)i);
            if (i) assert_true(t.entries[i].arrival >= t.entries[i - 1].arrival);
        }
        tetri_trace_free(&t);
    }
}

static void gamma_mean_gap_and_cv(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    s.n_requests = 20000;
    s.arrival = TETRI_ARRIVAL_GAMMA;
    double cvs[] = {0.5, 2.0, 3.0};
    for (int k = 0; k < 3; k++) {
        s.gamma_cv = cvs[k];
        tetri_trace t;
        tetri_error err = {{0}};
        assert_int_equal(workload_generate(&s, &t, &err), 0);
        double mean, cv;
        gaps(&t, &mean, &cv);
        /* Heavier tails at larger CV: the mean's standard error is cv x 5 s / sqrt(n) (2.1% at cv 3). */
        if (fabs(mean - 5.0) > 0.08 * 5.0) fail_msg("cv %g: mean gap %g, want 5", cvs[k], mean);
        if (fabs(cv - cvs[k]) > 0.1 * cvs[k]) fail_msg("gamma: gap CV %g, want %g", cv, cvs[k]);
        tetri_trace_free(&t);
    }
}

static void mix_shares_match_the_paper(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    tetri_error err = {{0}};
    double shares[TETRI_MAX_RESOLUTIONS];
    assert_int_equal(workload_mix_shares(&s, shares, TETRI_MAX_RESOLUTIONS, &err), 4);
    for (int i = 0; i < 4; i++) assert_true(fabs(shares[i] - 0.25) < 1e-12);

    s.mix = TETRI_MIX_SKEWED;
    assert_int_equal(workload_mix_shares(&s, shares, TETRI_MAX_RESOLUTIONS, &err), 4);
    /* exp(alpha L_i / L_max), L = 256, 1024, 4096, 16384 tokens. */
    double w[4] = {exp(1.0 / 64), exp(4.0 / 64), exp(16.0 / 64), exp(1.0)}, total = w[0] + w[1] + w[2] + w[3];
    for (int i = 0; i < 4; i++) assert_true(fabs(shares[i] - w[i] / total) < 1e-12);
    assert_true(shares[3] > 0.44 && shares[3] < 0.45); /* 2048 dominates at alpha = 1 */

    /* The generated trace follows the shares (standard error at n = 20000 under 0.4%). */
    int sides[4] = {256, 512, 1024, 2048};
    for (int mix = 0; mix < 2; mix++) {
        s.mix = mix ? TETRI_MIX_SKEWED : TETRI_MIX_UNIFORM;
        s.n_requests = 20000;
        workload_mix_shares(&s, shares, TETRI_MAX_RESOLUTIONS, &err);
        tetri_trace t;
        assert_int_equal(workload_generate(&s, &t, &err), 0);
        size_t count[4] = {0};
        for (size_t i = 0; i < t.n; i++) {
            int k = 0;
            while (k < 4 && sides[k] != t.entries[i].width) k++;
            assert_true(k < 4);
            assert_int_equal(t.entries[i].height, t.entries[i].width);
            count[k]++;
        }
        for (int k = 0; k < 4; k++) {
            double got = (double)count[k] / (double)t.n;
            if (fabs(got - shares[k]) > 0.015) fail_msg("%s: share of %d is %g, want %g", tetri_mix_name(s.mix), sides[k], got, shares[k]);
        }
        tetri_trace_free(&t);
    }

    s.mix = TETRI_MIX_HOMOGENEOUS;
    s.homogeneous_resolution = 768;
    s.n_requests = 500;
    tetri_trace t;
    assert_int_equal(workload_generate(&s, &t, &err), 0);
    for (size_t i = 0; i < t.n; i++) {
        assert_int_equal(t.entries[i].width, 768);
        assert_int_equal(t.entries[i].height, 768);
    }
    tetri_trace_free(&t);
}

static void deadlines_are_arrival_plus_scaled_base(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    s.slo_scale = 1.3;
    s.steps = 28;
    s.model = TETRI_MODEL_SD3_MEDIUM;
    tetri_trace t;
    tetri_error err = {{0}};
    assert_int_equal(workload_generate(&s, &t, &err), 0);
    assert_int_equal(t.n, 300);
    for (size_t i = 0; i < t.n; i++) {
        const tetri_trace_entry *e = &t.entries[i];
        assert_int_equal(e->steps, 28);
        assert_int_equal(e->model, TETRI_MODEL_SD3_MEDIUM);
        tetri_ns want = llround(1.3 * (double)workload_slo_base_ns(e->width, e->height));
        assert_int_equal(e->deadline - e->arrival, want);
    }
    tetri_trace_free(&t);
}

/* ---- determinism ---------------------------------------------------------------------------- */

static char *generate_text(const workload_spec *s)
{
    tetri_trace t;
    tetri_error err = {{0}};
    assert_int_equal(workload_generate(s, &t, &err), 0);
    char *text = trace_to_text(&t);
    tetri_trace_free(&t);
    return text;
}

static void same_seed_same_bytes_other_seed_other_bytes(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    for (int arrival = 0; arrival < 2; arrival++) {
        s.arrival = arrival ? TETRI_ARRIVAL_GAMMA : TETRI_ARRIVAL_POISSON;
        s.seed = 1;
        char *a = generate_text(&s), *b = generate_text(&s);
        assert_string_equal(a, b);
        s.seed = 2;
        char *c = generate_text(&s);
        assert_true(strcmp(a, c) != 0);
        /* Seed 0 is a seed of its own (GSL's mt19937 would map a raw 0 to its default 4357). */
        s.seed = 0;
        char *d = generate_text(&s);
        s.seed = 4356;
        char *e = generate_text(&s);
        assert_true(strcmp(d, e) != 0 && strcmp(d, a) != 0);
        free(a), free(b), free(c), free(d), free(e);
    }
}

static void arrivals_do_not_depend_on_mix_or_scale(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    tetri_trace base, other;
    tetri_error err = {{0}};
    assert_int_equal(workload_generate(&s, &base, &err), 0);
    workload_spec v = s;
    v.mix = TETRI_MIX_SKEWED;
    v.slo_scale = 1.5;
    assert_int_equal(workload_generate(&v, &other, &err), 0);
    for (size_t i = 0; i < base.n; i++) assert_int_equal(base.entries[i].arrival, other.entries[i].arrival);
    tetri_trace_free(&other);
    /* Same mix, other scale: only deadlines move. */
    v = s;
    v.slo_scale = 1.2;
    assert_int_equal(workload_generate(&v, &other, &err), 0);
    for (size_t i = 0; i < base.n; i++) {
        assert_int_equal(base.entries[i].width, other.entries[i].width);
        assert_true(other.entries[i].deadline > base.entries[i].deadline);
    }
    tetri_trace_free(&other);
    tetri_trace_free(&base);
}

/* ---- spec validation and text form ---------------------------------------------------------- */

static void expect_invalid(const workload_spec *s, const char *field)
{
    tetri_error err = {{0}};
    tetri_trace t = {0};
    assert_int_equal(workload_generate(s, &t, &err), -1);
    assert_null(t.entries);
    if (strncmp(err.msg, field, strlen(field)) != 0 || err.msg[strlen(field)] != ':')
        fail_msg("error '%s' does not name field '%s'", err.msg, field);
}

static void spec_validation_names_the_field(void **state)
{
    (void)state;
    workload_spec d, s;
    workload_spec_default(&d);
    s = d, s.n_requests = 0, expect_invalid(&s, "n");
    s = d, s.steps = 0, expect_invalid(&s, "steps");
    s = d, s.rate_per_min = 0, expect_invalid(&s, "rate");
    s = d, s.rate_per_min = NAN, expect_invalid(&s, "rate");
    s = d, s.rate_per_min = -3, expect_invalid(&s, "rate");
    s = d, s.slo_scale = 0, expect_invalid(&s, "slo_scale");
    s = d, s.slo_scale = INFINITY, expect_invalid(&s, "slo_scale");
    /* So small that the deadline would round onto the arrival (found by fuzz_workload). */
    s = d, s.slo_scale = 8e-11, expect_invalid(&s, "slo_scale");
    s = d, s.slo_scale = 0.001;
    tetri_trace t;
    tetri_error e;
    assert_int_equal(workload_generate(&s, &t, &e), 0);
    assert_int_equal(t.entries[0].deadline - t.entries[0].arrival, workload_slo_base_ns(t.entries[0].width, t.entries[0].width) / 1000);
    tetri_trace_free(&t);
    s = d, s.resolutions[1] = 500, expect_invalid(&s, "resolutions");
    s = d, s.resolutions[1] = 256, expect_invalid(&s, "resolutions"); /* listed twice */
    s = d, s.n_resolutions = 0, expect_invalid(&s, "resolutions");
    s = d, s.mix = TETRI_MIX_HOMOGENEOUS, s.homogeneous_resolution = 1000, expect_invalid(&s, "res");
    s = d, s.mix = TETRI_MIX_SKEWED, s.skew_alpha = NAN, expect_invalid(&s, "alpha");
    s = d, s.arrival = TETRI_ARRIVAL_GAMMA, s.gamma_cv = 0, expect_invalid(&s, "cv");
    s = d, s.seed = WORKLOAD_MAX_SEED + 1, expect_invalid(&s, "seed");
    s = d, s.model = TETRI_MODEL_COUNT, expect_invalid(&s, "model");
    /* A rate so low the trace would outlive the time limit. */
    s = d, s.rate_per_min = 1e-9, expect_invalid(&s, "rate");
    /* Fields that do not apply are not checked: a bad cv under Poisson is harmless. */
    s = d, s.gamma_cv = -1;
    tetri_error err;
    assert_int_equal(workload_spec_validate(&s, &err), 0);
}

static void spec_text_round_trip_and_errors(void **state)
{
    (void)state;
    workload_spec s, back;
    workload_spec_default(&s);
    char a[512], b[512];
    workload_spec_format(&s, a, sizeof a);
    assert_string_equal(a, "model=flux-dev,steps=20,mix=uniform,resolutions=256/512/1024/2048,arrival=poisson,rate=12,"
                           "slo_scale=1,seed=1,n=300");
    s.mix = TETRI_MIX_SKEWED, s.skew_alpha = 0.7, s.arrival = TETRI_ARRIVAL_GAMMA, s.gamma_cv = 2.5;
    s.rate_per_min = 0.1, s.slo_scale = 1.1, s.seed = 99, s.n_requests = 7, s.model = TETRI_MODEL_SD3_MEDIUM;
    workload_spec_format(&s, a, sizeof a);
    tetri_error err = {{0}};
    workload_spec_default(&back);
    assert_int_equal(workload_spec_parse(a, &back, &err), 0);
    workload_spec_format(&back, b, sizeof b);
    assert_string_equal(a, b);
    assert_true(back.rate_per_min == 0.1 && back.slo_scale == 1.1 && back.gamma_cv == 2.5);

    workload_spec_default(&back);
    assert_int_equal(workload_spec_parse("mix=homogeneous,res=512", &back, &err), 0);
    assert_int_equal(back.mix, TETRI_MIX_HOMOGENEOUS);
    assert_int_equal(back.homogeneous_resolution, 512);
    assert_int_equal(workload_spec_set(&back, "resolutions", "256,768", &err), 0);
    assert_int_equal(back.n_resolutions, 2);
    assert_int_equal(back.resolutions[1], 768);
    assert_int_equal(workload_spec_set(&back, "rate", "1\r", &err), -1);
    assert_string_equal(err.msg, "rate: the value contains a control character (byte 0x0d)");

    const struct { const char *text, *frag; } bad[] = {
        {"colour=red", "unknown workload key 'colour'"}, {"rate=fast", "rate: 'fast' is not a number"},
        {"rate=0", "rate"}, {"n=0", "n: 0 is out of range"}, {"steps=2.5", "steps: '2.5' is not a whole number"},
        {"mix=lumpy", "mix: 'lumpy' is unknown"}, {"res=100", "res: 100 is not a multiple of 16"},
        {"resolutions=256//512", "resolutions"}, {"model=dalle", "model: 'dalle' is unknown"},
        {"seed=-1", "seed"}, {"rate", "not key=value"}, {"rate=12,", "trailing ','"},
        {"arrival=uniform", "arrival: 'uniform' is unknown"},
        /* Messages echo the text, so control bytes are refused up front (found by fuzz_workload). */
        {"rate=12,seed\nx=1", "byte 0x0a at offset 12 is a control character"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        workload_spec_default(&back);
        err.msg[0] = '\0';
        assert_int_equal(workload_spec_parse(bad[i].text, &back, &err), -1);
        if (!strstr(err.msg, bad[i].frag)) fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err.msg, bad[i].frag);
    }
}

/* ---- CSV reader and writer ------------------------------------------------------------------ */

/* Explicit SLO bases (issue 15) replace the fixed ones side by side, and with the load they are in
 * the text only when set, read back exactly; a side the mix uses without a base is refused. */
static void explicit_slo_bases_and_load(void **state)
{
    (void)state;
    workload_spec s, back;
    workload_spec_default(&s);
    s.n_requests = 50;
    const int32_t sides[] = {2048, 256, 512, 1024, 768};
    for (int i = 0; i < 5; i++) s.slo_base_sides[i] = sides[i], s.slo_bases[i] = (i + 1) * 1000000007LL;
    s.n_slo_bases = 5;
    s.load = 0.85;
    tetri_error err = {{0}};
    assert_int_equal(workload_spec_validate(&s, &err), 0);
    char a[WORKLOAD_TEXT_MAX], b[WORKLOAD_TEXT_MAX];
    workload_spec_format(&s, a, sizeof a);
    assert_non_null(strstr(a, ",rate=12,load=0.85,slo_scale=1,slo_bases=256:2000000014/512:3000000021/1024:4000000028/"
                              "2048:1000000007,seed="));
    workload_spec_default(&back);
    assert_int_equal(workload_spec_parse(a, &back, &err), 0);
    workload_spec_format(&back, b, sizeof b);
    assert_string_equal(a, b);
    assert_true(back.load == 0.85);

    tetri_trace t;
    s.slo_scale = 1.5;
    assert_int_equal(workload_generate(&s, &t, &err), 0);
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(t.entries[i].deadline - t.entries[i].arrival,
                         llround(1.5 * (double)workload_spec_slo_base_ns(&s, t.entries[i].width, t.entries[i].width)));
    tetri_trace_free(&t);

    s.mix = TETRI_MIX_HOMOGENEOUS, s.homogeneous_resolution = 1536;
    assert_int_equal(workload_spec_validate(&s, &err), -1);
    assert_string_equal(err.msg, "slo_bases: no base for side 1536");
    s.homogeneous_resolution = 768;
    workload_spec_format(&s, a, sizeof a);
    assert_non_null(strstr(a, ",slo_bases=768:5000000035,"));
    s.load = 10.5;
    assert_int_equal(workload_spec_validate(&s, &err), -1);
    assert_non_null(strstr(err.msg, "load: 10.5 is out of range"));

    const struct { const char *text, *frag; } bad[] = {
        {"load=0", "load: 0 is out of range"}, {"load=-1", "load: -1 is out of range"}, {"load=x", "load: 'x' is not a number"},
        {"slo_bases=256", "slo_bases: '256' is not SIDE:NS"}, {"slo_bases=256:0", "slo_bases: 0 is out of range"},
        {"slo_bases=100:5", "slo_bases: 100"}, {"slo_bases=256:5//512:5", "slo_bases"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        workload_spec_default(&back);
        err.msg[0] = '\0';
        int rc = workload_spec_parse(bad[i].text, &back, &err);
        if (rc == 0) rc = workload_spec_validate(&back, &err);
        assert_int_equal(rc, -1);
        if (!strstr(err.msg, bad[i].frag)) fail_msg("'%s': error '%s' lacks '%s'", bad[i].text, err.msg, bad[i].frag);
    }
}

static void write_read_write_is_byte_identical(void **state)
{
    (void)state;
    workload_spec s;
    workload_spec_default(&s);
    s.arrival = TETRI_ARRIVAL_GAMMA;
    s.mix = TETRI_MIX_SKEWED;
    tetri_trace t, back;
    tetri_error err = {{0}};
    assert_int_equal(workload_generate(&s, &t, &err), 0);
    char *first = trace_to_text(&t);
    assert_int_equal(read_text(first, &back, &err), 0);
    assert_int_equal(back.n, t.n);
    for (size_t i = 0; i < t.n; i++) {
        const tetri_trace_entry *a = &t.entries[i], *b = &back.entries[i];
        assert_int_equal(a->id, b->id);
        assert_int_equal(a->model, b->model);
        assert_int_equal(a->width, b->width);
        assert_int_equal(a->height, b->height);
        assert_int_equal(a->steps, b->steps);
        assert_int_equal(a->arrival, b->arrival);
        assert_int_equal(a->deadline, b->deadline);
    }
    char *second = trace_to_text(&back);
    assert_string_equal(first, second);
    free(first), free(second);
    tetri_trace_free(&t);
    tetri_trace_free(&back);
}

static void writer_prints_exact_decimal_seconds(void **state)
{
    (void)state;
    tetri_trace_entry e[2] = {
        {0, TETRI_MODEL_FLUX_DEV, 256, 256, 20, 0, 1},
        {1, TETRI_MODEL_SD3_MEDIUM, 512, 1024, 28, 1500000000LL, 999999999999999999LL},
    };
    tetri_trace t = {.entries = e, .n = 2};
    char *text = trace_to_text(&t);
    assert_string_equal(text, HEADER "0,flux-dev,256,256,20,0.000000000,0.000000001\n"
                                     "1,sd3-medium,512,1024,28,1.500000000,999999999.999999999\n");
    free(text);
}

static void reader_accepts_comments_blank_lines_crlf_and_no_header(void **state)
{
    (void)state;
    tetri_trace t;
    tetri_error err = {{0}};
    const char *text = "# a comment before the header\r\n"
                       "\r\n"
                       HEADER
                       "  # indented comment\n"
                       "0, FLUX.1-dev ,512,512,20,1.5,3.5\r\n"
                       "\t\n"
                       "1,sd3,256,768,1,1.5,.25e0\n";
    /* ".25e0": exponents are not accepted */
    assert_int_equal(read_text(text, &t, &err), -1);
    assert_non_null(strstr(err.msg, "t.csv:7: deadline_s '.25e0' is not a number"));
    text = "# no header at all\n"
           "0, FLUX.1-dev ,512,512,20,1.5,3.5\r\n"
           "1,sd3,256,768,1,1.5,2.\n"
           "2,sd3-medium,16,16,100000,2,2.000000001"; /* no final newline */
    assert_int_equal(read_text(text, &t, &err), 0);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.entries[0].model, TETRI_MODEL_FLUX_DEV);
    assert_int_equal(t.entries[0].arrival, 1500000000LL);
    assert_int_equal(t.entries[0].deadline, 3500000000LL);
    assert_int_equal(t.entries[1].model, TETRI_MODEL_SD3_MEDIUM);
    assert_int_equal(t.entries[1].width, 256);
    assert_int_equal(t.entries[1].height, 768);
    assert_int_equal(t.entries[1].deadline, 2000000000LL);
    assert_int_equal(t.entries[2].steps, 100000);
    assert_int_equal(t.entries[2].deadline - t.entries[2].arrival, 1);
    tetri_trace_free(&t);
    /* A UTF-8 byte-order mark before the header (spreadsheet exports) is skipped. */
    assert_int_equal(read_text("\xEF\xBB\xBF" HEADER "0,flux-dev,512,512,20,1,3\r\n", &t, &err), 0);
    assert_int_equal(t.n, 1);
    tetri_trace_free(&t);
    /* ... but only at the start of the file. */
    expect_rejected(HEADER "\xEF\xBB\xBF" "0,flux-dev,512,512,20,1,3\n", 2, "id '\\xef\\xbb\\xbf0' is not a whole number", NULL);
}

static void reader_missing_field(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0,3.0\n1,flux-dev,512,512,20,2.0\n", 3, "missing field 'deadline_s'",
                    "this line has 6", NULL);
    expect_rejected("0\n", 1, "missing field 'model'", NULL);
}

static void reader_extra_field(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0,3.0,urgent\n", 2, "extra field 'urgent'", "exactly 7 fields", NULL);
}

static void reader_not_a_number(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,wide,512,20,1.0,3.0\n", 2, "width 'wide' is not a whole number", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,twenty,1.0,3.0\n", 2, "steps 'twenty' is not a whole number", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,soon,3.0\n", 2, "arrival_s 'soon' is not a number of seconds", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0,\n", 2, "deadline_s '' is not a number", NULL);
    expect_rejected(HEADER "x,flux-dev,512,512,20,1.0,3.0\n", 2, "id 'x' is not a whole number", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0.0,3.0\n", 2, "arrival_s '1.0.0' is not a number", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1e3,3.0\n", 2, "arrival_s '1e3' is not a number", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,-x,3.0\n", 2, "arrival_s '-x' is not a number", NULL);
    expect_rejected(HEADER "0,flux-dev,5 12,512,20,1.0,3.0\n", 2, "width '5 12' is not a whole number", NULL);
}

static void reader_negative_arrival(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,512,512,20,-1.5,3.0\n", 2, "arrival_s '-1.5' is negative", NULL);
}

static void reader_unsorted_arrival(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,512,512,20,5.0,9.0\n# gap\n1,flux-dev,512,512,20,4.999999999,9.0\n", 4,
                    "arrival_s 4.999999999 is before the previous request's 5.000000000 (line 2)", "sorted by arrival", NULL);
}

static void reader_resolution_not_multiple_of_16(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,500,512,20,1.0,3.0\n", 2, "width 500 is not a multiple of 16", NULL);
    expect_rejected(HEADER "0,flux-dev,512,1000,20,1.0,3.0\n", 2, "height 1000 is not a multiple of 16", NULL);
}

static void reader_width_height_not_positive(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,0,512,20,1.0,3.0\n", 2, "width '0' is too small (must be at least 16)", NULL);
    expect_rejected(HEADER "0,flux-dev,512,-16,20,1.0,3.0\n", 2, "height '-16' is negative", NULL);
}

static void reader_deadline_before_arrival(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,512,512,20,3.0,2.5\n", 2, "deadline_s 2.500000000 is not after arrival_s 3.000000000", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,3.0,3\n", 2, "deadline_s 3.000000000 is not after arrival_s", NULL);
}

static void reader_unknown_model(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,dall-e,512,512,20,1.0,3.0\n", 2, "model 'dall-e' is unknown", "flux-dev, sd3-medium", NULL);
    expect_rejected(HEADER "0,,512,512,20,1.0,3.0\n", 2, "model '' is unknown", NULL);
}

static void reader_ids_out_of_order(void **state)
{
    (void)state;
    expect_rejected(HEADER "1,flux-dev,512,512,20,1.0,3.0\n", 2, "id 1 is out of order: expected 0", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0,3.0\n0,flux-dev,512,512,20,1.0,3.0\n", 3, "id 0 is out of order: expected 1", NULL);
}

static void reader_steps_below_one(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,512,512,0,1.0,3.0\n", 2, "steps '0' is too small (must be at least 1)", NULL);
}

static void reader_huge_values(void **state)
{
    (void)state;
    expect_rejected(HEADER "0,flux-dev,99999999999999999999999999,512,20,1.0,3.0\n", 2, "width '9999", "too large (at most 16384)", NULL);
    /* One size rule with the simulator's (TETRI_MAX_SIDE): what the reader takes, a profile can cost. */
    expect_rejected(HEADER "0,flux-dev,16400,512,20,1.0,3.0\n", 2, "width '16400' is too large (at most 16384)", NULL);
    expect_rejected(HEADER "0,flux-dev,512,32768,20,1.0,3.0\n", 2, "height '32768' is too large (at most 16384)", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,100001,1.0,3.0\n", 2, "steps '100001' is too large", NULL);
    expect_rejected(HEADER "99999999999999999999,flux-dev,512,512,20,1.0,3.0\n", 2, "id '9999", "too large", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0,18446744073709551616.5\n", 2, "deadline_s '1844", "too large (at most 1000000000 s)", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1000000000.000000001,1000000001\n", 2, "arrival_s", "too large", NULL);
    expect_rejected(HEADER "0,flux-dev,512,512,20,1.0000000001,3\n", 2, "arrival_s '1.0000000001' has more than 9 decimals", NULL);
}

static void reader_empty_and_header_only(void **state)
{
    (void)state;
    expect_rejected("", 1, "no requests (the file is empty)", NULL);
    expect_rejected(HEADER "# nothing\n\n", 3, "no requests (the file has only a header", NULL);
}

static void reader_bad_header_and_binary(void **state)
{
    (void)state;
    expect_rejected("id,model,w,height,steps,arrival_s,deadline_s\n", 1, "header column 3 is 'w', expected 'width'", NULL);
    expect_rejected("id,model,width\n", 1, "header has 3 columns, missing 'height'", NULL);
    tetri_trace t;
    tetri_error err = {{0}};
    FILE *f = tmpfile();
    fwrite(HEADER "0,flux\0-dev,512,512,20,1.0,3.0\n", 1, sizeof HEADER + 30, f);
    rewind(f);
    assert_int_equal(trace_read_csv_stream(f, "t.csv", &t, &err), -1);
    fclose(f);
    assert_non_null(strstr(err.msg, "t.csv:2: line contains a NUL byte"));
    /* Non-printable bytes are escaped in messages. */
    expect_rejected(HEADER "0,\x01\xff,512,512,20,1.0,3.0\n", 2, "model '\\x01\\xff' is unknown", NULL);
}

/* Lines may end in a lone CR (old Mac files), not only LF and CRLF. */
static void reader_accepts_cr_line_ends(void **state)
{
    (void)state;
    tetri_trace t;
    tetri_error err = {{0}};
    const char *text = "# made on a Mac\rid,model,width,height,steps,arrival_s,deadline_s\r0,flux-dev,256,256,20,1.0,3.0\r"
                       "1,flux-dev,512,512,20,2.0,4.0\r\r2,flux-dev,512,512,20,2.5,4.5";
    if (read_text(text, &t, &err)) fail_msg("%s", err.msg);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.entries[2].arrival, 2500 * TETRI_NS_PER_MS);
    tetri_trace_free(&t);
    expect_rejected(HEADER "0,flux-dev,256,256,20,1.0,3.0\r1,flux-dev,256,256,20,0.5,3.0\r", 3, "before the previous request's", NULL);
}

/* A stream of `head`, then `fill` bytes for ever (or, with fail_errno, a read error), through
 * fopencookie: a huge line or a failing device without writing either to disk. */
typedef struct cookie_source {
    const char *head;
    size_t pos;
    char fill;
    int fail_errno;
} cookie_source;

static ssize_t cookie_read(void *cookie, char *buf, size_t size)
{
    cookie_source *c = cookie;
    size_t head_len = strlen(c->head), n = 0;
    while (n < size && c->pos < head_len) buf[n++] = c->head[c->pos++];
    if (n == 0 && c->fail_errno) {
        errno = c->fail_errno;
        return -1;
    }
    while (n < size) buf[n++] = c->fill;
    return (ssize_t)n;
}

static FILE *cookie_stream(cookie_source *c)
{
    cookie_io_functions_t io = {.read = cookie_read};
    FILE *f = fopencookie(c, "r", io);
    assert_non_null(f);
    return f;
}

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* In a child, with the address space limited to what it uses plus 64 MiB (not under ASan, whose
 * shadow memory needs far more), reads an endless line after two good ones and writes the
 * reader's answer to fd: "rc|message". A reader that took running out of memory for the end of
 * the file would answer 0 (one request, read as shorter); it must stop at line 3 and say why. */
static void read_endless_line_in_child(int fd)
{
#ifndef UNDER_ASAN
    long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (statm && fscanf(statm, "%ld", &pages) == 1) {
        rlim_t limit = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + ((rlim_t)64 << 20);
        struct rlimit rl = {limit, limit};
        setrlimit(RLIMIT_AS, &rl);
    }
    if (statm) fclose(statm);
#endif
    cookie_source src = {.head = "id,model,width,height,steps,arrival_s,deadline_s\n0,flux-dev,256,256,20,1.0,3.0\n", .fill = 'x'};
    FILE *f = cookie_stream(&src);
    tetri_trace t;
    tetri_error err = {{0}};
    int rc = trace_read_csv_stream(f, "(endless)", &t, &err);
    dprintf(fd, "%d|%s", rc, rc ? err.msg : "");
    _exit(0);
}

static void reader_stops_on_a_huge_line(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        read_endless_line_in_child(fds[1]);
    }
    close(fds[1]);
    char answer[1024] = "";
    size_t got = 0;
    ssize_t n;
    while ((n = read(fds[0], answer + got, sizeof answer - 1 - got)) > 0) got += (size_t)n;
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    if (strncmp(answer, "-1|(endless):3: ", 16) != 0 || !strstr(answer, "line is longer than 65536 bytes"))
        fail_msg("reader answered '%s'", answer);
}

/* A read error anywhere stops the reading with file:line and the system's reason. */
static void reader_stops_on_a_read_error(void **state)
{
    (void)state;
    cookie_source src = {.head = "id,model,width,height,steps,arrival_s,deadline_s\n0,flux-dev,256,256,20,1.0,3.0\n",
                         .fail_errno = EIO};
    FILE *f = cookie_stream(&src);
    tetri_trace t;
    tetri_error err = {{0}};
    assert_int_equal(trace_read_csv_stream(f, "(disk)", &t, &err), -1);
    fclose(f);
    assert_string_equal(err.msg, "(disk):3: read error: Input/output error");
    assert_null(t.entries);
}

/* The generator's comment is read back, and written again first. */
static void reader_keeps_the_generator_comment(void **state)
{
    (void)state;
    tetri_trace t;
    tetri_error err = {{0}};
    if (read_text("# tetri workload: model=flux-dev,steps=20,n=1\n" HEADER "0,flux-dev,256,256,20,1.0,3.0\n", &t, &err))
        fail_msg("%s", err.msg);
    assert_string_equal(t.generator, "model=flux-dev,steps=20,n=1");
    char *text = trace_to_text(&t);
    assert_true(strncmp(text, "# tetri workload: model=flux-dev,steps=20,n=1\n" HEADER, strlen(HEADER) + 46) == 0);
    free(text);
    tetri_trace_free(&t);
    /* Other comments, and one after the first request, are not the generator's. */
    if (read_text("# hand-made\n" HEADER "0,flux-dev,256,256,20,1.0,3.0\n# tetri workload: n=5\n", &t, &err)) fail_msg("%s", err.msg);
    assert_null(t.generator);
    tetri_trace_free(&t);
}

static void reader_missing_file(void **state)
{
    (void)state;
    tetri_trace t;
    tetri_error err = {{0}};
    assert_int_equal(trace_read_csv("/nonexistent/trace.csv", &t, &err), -1);
    assert_non_null(strstr(err.msg, "/nonexistent/trace.csv: cannot open"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(slo_base_anchors_and_interpolation),
        cmocka_unit_test(poisson_mean_gap_and_cv),
        cmocka_unit_test(gamma_mean_gap_and_cv),
        cmocka_unit_test(mix_shares_match_the_paper),
        cmocka_unit_test(deadlines_are_arrival_plus_scaled_base),
        cmocka_unit_test(same_seed_same_bytes_other_seed_other_bytes),
        cmocka_unit_test(arrivals_do_not_depend_on_mix_or_scale),
        cmocka_unit_test(spec_validation_names_the_field),
        cmocka_unit_test(spec_text_round_trip_and_errors),
        cmocka_unit_test(explicit_slo_bases_and_load),
        cmocka_unit_test(write_read_write_is_byte_identical),
        cmocka_unit_test(writer_prints_exact_decimal_seconds),
        cmocka_unit_test(reader_accepts_comments_blank_lines_crlf_and_no_header),
        cmocka_unit_test(reader_missing_field),
        cmocka_unit_test(reader_extra_field),
        cmocka_unit_test(reader_not_a_number),
        cmocka_unit_test(reader_negative_arrival),
        cmocka_unit_test(reader_unsorted_arrival),
        cmocka_unit_test(reader_resolution_not_multiple_of_16),
        cmocka_unit_test(reader_width_height_not_positive),
        cmocka_unit_test(reader_deadline_before_arrival),
        cmocka_unit_test(reader_unknown_model),
        cmocka_unit_test(reader_ids_out_of_order),
        cmocka_unit_test(reader_steps_below_one),
        cmocka_unit_test(reader_huge_values),
        cmocka_unit_test(reader_empty_and_header_only),
        cmocka_unit_test(reader_bad_header_and_binary),
        cmocka_unit_test(reader_missing_file),
        cmocka_unit_test(reader_accepts_cr_line_ends),
        cmocka_unit_test(reader_stops_on_a_huge_line),
        cmocka_unit_test(reader_stops_on_a_read_error),
        cmocka_unit_test(reader_keeps_the_generator_comment),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
