/* sim/sweep.c: sweeps of simulated runs into a results database (contract in sim/sweep.h). */
#include "sim/sweep.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

/* A canonical policy, a workload text (< 512) and the rest: never cut, so two runs never share a key. */
#define SWEEP_KEY_MAX (TETRI_POLICY_SPEC_MAX + 1024)

void sweep_run_key(char *buf, size_t len, const char *policy_canonical, const char *workload_text,
                   const sweep_spec *s, uint64_t seed)
{
    /* The workload text already holds the seed for generated workloads; a replayed trace's only
     * seed is the jitter's, so it is written out. */
    snprintf(buf, len, "policy=%s|workload=%s|jitter=%s,seed=%llu|timeline_ns=%lld|hardware=%s", policy_canonical,
             workload_text, s->jitter ? "on" : "off", (unsigned long long)seed, (long long)s->timeline_period,
             profile_hardware(s->profile));
}

/* Canonical text of every policy, checked against the profile's cluster before anything runs. */
static char (*canonical_policies(const sweep_spec *s, tetri_error *err))[TETRI_POLICY_SPEC_MAX]
{
    char (*canon)[TETRI_POLICY_SPEC_MAX] = calloc(s->n_policies ? s->n_policies : 1, sizeof *canon);
    if (!canon) return tetri_errorf(err, "out of memory"), NULL;
    for (size_t p = 0; p < s->n_policies; p++) {
        tetri_policy pol;
        if (tetri_policy_create(&pol, s->policies[p], s->profile, profile_cluster(s->profile), err)) {
            free(canon);
            return NULL;
        }
        snprintf(canon[p], sizeof canon[p], "%s", pol.spec);
        tetri_policy_destroy(&pol);
    }
    return canon;
}

typedef struct sweep_ctx {
    const sweep_spec *s;
    results_db *db;
    int64_t experiment;
    char (*canon)[TETRI_POLICY_SPEC_MAX];
    sweep_stats *stats;
    tetri_error *err;
} sweep_ctx;

/* Runs every policy on one trace. Returns 0, 1 when stop_after was reached, or -1. */
static int run_policies(sweep_ctx *c, const tetri_trace *trace, const char *workload_text, const char *mix,
                        double scale, double rate, uint64_t seed, const char *model)
{
    const sweep_spec *s = c->s;
    for (size_t p = 0; p < s->n_policies; p++) {
        char key[SWEEP_KEY_MAX];
        sweep_run_key(key, sizeof key, c->canon[p], workload_text, s, seed);
        sweep_run_report rep = {.policy = c->canon[p], .policy_given = s->policies[p], .mix = mix, .slo_scale = scale, .rate_per_min = rate,
                                .seed = seed, .run_key = key};
        int done = results_run_done(c->db, c->experiment, key, c->err);
        if (done < 0) return -1;
        if (done) {
            c->stats->runs_skipped++;
            rep.skipped = 1;
            if (s->progress) s->progress(s->progress_ctx, &rep);
            continue;
        }
        if (s->stop_after > 0 && c->stats->runs_written >= s->stop_after) {
            c->stats->stopped_early = 1;
            return 1;
        }
        assert(trace); /* NULL only when every run of it is already done */
        sim_config cfg = {.profile = s->profile, .policy_spec = c->canon[p], .jitter = s->jitter, .seed = seed,
                          .check_plans = s->check_plans, .timeline_period = s->timeline_period};
        sim_result res;
        if (sim_run(&cfg, trace, &res, c->err)) {
            sim_result_free(&res);
            return tetri_error_prefix(c->err, "run %s", key);
        }
        tetri_run_info info = {.run_key = key, .policy = c->canon[p], .workload = workload_text, .mix = mix,
                               .slo_scale = scale, .rate_per_min = rate, .seed = seed, .backend = "sim",
                               .hardware = profile_hardware(s->profile), .model = model};
        int rc = results_write_run(c->db, c->experiment, &info, &res.summary, res.requests, res.n_requests,
                                   res.timeline, res.n_timeline, c->err);
        if (rc == 0) {
            c->stats->runs_written++;
            rep.summary = &res.summary;
            if (s->progress) s->progress(s->progress_ctx, &rep);
        }
        sim_result_free(&res);
        if (rc) return tetri_error_prefix(c->err, "writing run %s", key);
    }
    return 0;
}

/* 1 when every policy's run of this workload is already complete (no need to generate it). */
static int all_done(sweep_ctx *c, const char *workload_text, uint64_t seed)
{
    for (size_t p = 0; p < c->s->n_policies; p++) {
        char key[SWEEP_KEY_MAX];
        sweep_run_key(key, sizeof key, c->canon[p], workload_text, c->s, seed);
        int done = results_run_done(c->db, c->experiment, key, c->err);
        if (done != 1) return done;
    }
    return 1;
}

static int sweep_generated(sweep_ctx *c)
{
    const sweep_spec *s = c->s;
    const size_t n_rates = s->n_rates ? s->n_rates : 1, n_mixes = s->n_mixes ? s->n_mixes : 1,
                 n_scales = s->n_slo_scales ? s->n_slo_scales : 1, n_seeds = s->n_seeds ? s->n_seeds : 1;
    for (size_t ri = 0; ri < n_rates; ri++)
        for (size_t mi = 0; mi < n_mixes; mi++)
            for (size_t si = 0; si < n_scales; si++)
                for (size_t ei = 0; ei < n_seeds; ei++) {
                    workload_spec w = s->base;
                    if (s->n_rates) w.rate_per_min = s->rates[ri];
                    if (s->n_mixes) w.mix = s->mixes[mi];
                    if (s->n_slo_scales) w.slo_scale = s->slo_scales[si];
                    if (s->n_seeds) w.seed = s->seeds[ei];
                    if (workload_spec_validate(&w, c->err)) return tetri_error_prefix(c->err, "workload");
                    char text[512];
                    workload_spec_format(&w, text, sizeof text);
                    int done = all_done(c, text, w.seed);
                    if (done < 0) return -1;
                    if (done) {
                        if (run_policies(c, NULL, text, tetri_mix_name(w.mix), w.slo_scale, w.rate_per_min, w.seed,
                                         tetri_model_name(w.model)) < 0)
                            return -1;
                        continue;
                    }
                    tetri_trace trace = {0};
                    if (workload_generate(&w, &trace, c->err)) return tetri_error_prefix(c->err, "workload %s", text);
                    int rc = run_policies(c, &trace, text, tetri_mix_name(w.mix), w.slo_scale, w.rate_per_min, w.seed,
                                          tetri_model_name(w.model));
                    tetri_trace_free(&trace);
                    if (rc) return rc;
                }
    return 0;
}

/* FNV-1a over every field of every entry, byte by byte of each value as a 64-bit integer (not
 * the struct's bytes: padding), so the digest is the same on every machine. */
static uint64_t trace_digest(const tetri_trace *t)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < t->n; i++) {
        const tetri_trace_entry *e = &t->entries[i];
        const int64_t v[] = {e->id, e->model, e->width, e->height, e->steps, e->arrival, e->deadline};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++)
            for (int b = 0; b < 64; b += 8) h = (h ^ (((uint64_t)v[k] >> b) & 0xff)) * 0x100000001b3ULL;
    }
    return h;
}

static int sweep_trace(sweep_ctx *c)
{
    const sweep_spec *s = c->s;
    const char *model = s->trace->n ? tetri_model_name(s->trace->entries[0].model) : "none";
    /* The trace's content goes into the run key with its name: a file edited and replayed under
     * the same name into the same database is a new run, not one "already there". */
    const uint64_t digest = trace_digest(s->trace);
    for (size_t ei = 0; ei < (s->n_seeds ? s->n_seeds : 1); ei++) {
        uint64_t seed = s->n_seeds ? s->seeds[ei] : s->base.seed;
        char text[512];
        snprintf(text, sizeof text, "trace=%.400s,digest=%016llx", s->trace_name ? s->trace_name : "(unnamed)",
                 (unsigned long long)digest);
        int rc = run_policies(c, s->trace, text, "trace", 0.0, 0.0, seed, model);
        if (rc) return rc;
    }
    return 0;
}

int sweep_run(const sweep_spec *s, results_db *db, sweep_stats *stats, tetri_error *err)
{
    assert(s && s->profile && db && stats);
    memset(stats, 0, sizeof *stats);
    if (s->n_policies == 0) return tetri_errorf(err, "a sweep needs at least one policy");
    char (*canon)[TETRI_POLICY_SPEC_MAX] = canonical_policies(s, err);
    if (!canon) return -1;
    sweep_ctx c = {.s = s, .db = db, .canon = canon, .stats = stats, .err = err};
    int rc = results_experiment(db, s->experiment ? s->experiment : "sim", s->config_text ? s->config_text : "",
                                &c.experiment, err);
    if (rc == 0) {
        if (s->trace) {
            stats->runs_total = (long)(s->n_policies * (s->n_seeds ? s->n_seeds : 1));
            rc = sweep_trace(&c);
        } else {
            stats->runs_total = (long)(s->n_policies * (s->n_rates ? s->n_rates : 1) * (s->n_mixes ? s->n_mixes : 1) *
                                       (s->n_slo_scales ? s->n_slo_scales : 1) * (s->n_seeds ? s->n_seeds : 1));
            rc = sweep_generated(&c);
        }
    }
    free(canon);
    return rc < 0 ? -1 : 0;
}
