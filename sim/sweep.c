/* sim/sweep.c: sweeps of runs into a results database (contract in sim/sweep.h). */
#include "sim/sweep.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/digest.h"
#include "core/types.h"
#include "sim/normalize.h"
#include "sim/sim.h"

/* A replayed trace's workload text: its name, its digest and its generator's spec. */
#define SWEEP_REPLAY_TEXT_MAX (2 * WORKLOAD_TEXT_MAX)
/* A canonical policy, a workload text and the rest: never cut, so two runs never share a key. */
#define SWEEP_KEY_MAX (TETRI_POLICY_SPEC_MAX + SWEEP_REPLAY_TEXT_MAX + 1024)

/* The cluster's set rule in a run key: nothing for the default (any), so the keys of runs made
 * before the rule existed still match; ",sets=aligned" otherwise (also on the GPU backend, where
 * it is the default, so its simulated twin under the same rule pairs with it). */
static const char *sets_part(const tetri_profile *p)
{
    return profile_cluster(p)->sets == TETRI_SETS_ALIGNED ? ",sets=aligned" : "";
}

void sweep_run_key(char *buf, size_t len, const char *policy_canonical, const char *workload_text,
                   const sweep_spec *s, uint64_t seed)
{
    /* The workload text already holds the seed for generated workloads; a replayed trace's only
     * seed is the jitter's, so it is written out. The profile is named by its content digest (the
     * same rows under another file name are the same profile; another profile under the same name
     * is not). The simulator's keys carry no backend part. The set rule sits with the profile's
     * part, before any backend part, so a live run's key less its backend is its twin's. */
    char actual[48] = "";
    if (s->actual) snprintf(actual, sizeof actual, SWEEP_KEY_ACTUAL "%016llx", (unsigned long long)profile_digest(s->actual));
    snprintf(buf, len, "policy=%s|workload=%s|jitter=%s,seed=%llu|timeline_ns=%lld|hardware=%s|" SWEEP_KEY_PROFILE "%016llx,analytic=%s%s%s%s%s",
             policy_canonical, workload_text, s->jitter ? "on" : "off", (unsigned long long)seed,
             (long long)s->timeline_period, profile_hardware(s->profile), (unsigned long long)profile_digest(s->profile),
             profile_flags(s->profile) & TETRI_PROFILE_ANALYTIC_FALLBACK ? "on" : "off", sets_part(s->profile), actual,
             s->backend ? "|" : "", s->backend ? s->backend->key : "");
}

/* How many values the rate dimension has: loads, else rates, else the base's one rate. */
static size_t n_rate_values(const sweep_spec *s)
{
    return s->n_loads ? s->n_loads : s->n_rates ? s->n_rates : 1;
}

/* The workload at rate (or load) ri, mix mi, scale si of the grid, from s->base. Returns 0 or -1. */
static int workload_at(const sweep_spec *s, size_t ri, size_t mi, size_t si, workload_spec *w, tetri_error *err)
{
    *w = s->base;
    if (s->n_mixes) w->mix = s->mixes[mi];
    if (s->n_slo_scales) w->slo_scale = s->slo_scales[si];
    if (s->n_rates) w->rate_per_min = s->rates[ri];
    if (s->n_loads) {
        if (s->n_rates) return tetri_errorf(err, "a sweep takes rates or loads, not both");
        w->load = s->loads[ri];
        if (workload_spec_validate(w, err) || normalize_load_rate(s->profile, w, s->loads[ri], err)) return -1;
    }
    return workload_spec_validate(w, err);
}

/* Every workload of the grid (seeds change no rule, so one seed stands for all). */
static int check_workloads(const sweep_spec *s, tetri_error *err)
{
    if (s->trace) return 0;
    workload_spec w;
    for (size_t i = 0; i < (s->n_mixes ? s->n_mixes : 1); i++)
        for (size_t j = 0; j < (s->n_slo_scales ? s->n_slo_scales : 1); j++)
            for (size_t k = 0; k < n_rate_values(s); k++)
                if (workload_at(s, k, i, j, &w, err)) return -1;
    return 0;
}

int sweep_prepare(const sweep_spec *s, char (*canon)[TETRI_POLICY_SPEC_MAX], size_t *bad_policy, tetri_error *err)
{
    *bad_policy = SIZE_MAX;
    if (s->n_policies == 0) return tetri_errorf(err, "a sweep needs at least one policy");
    if (check_workloads(s, err)) return -1;
    for (size_t p = 0; p < s->n_policies; p++) {
        tetri_policy pol;
        if (tetri_policy_create(&pol, s->policies[p], s->profile, profile_cluster(s->profile), err)) {
            *bad_policy = p;
            return -1;
        }
        snprintf(canon[p], sizeof canon[p], "%s", pol.spec);
        tetri_policy_destroy(&pol);
    }
    return 0;
}

/* Real time, for the split between simulating and writing (never seen by a run). */
static double real_seconds(void)
{
    return (double)tetri_monotonic_ns() / 1e9;
}

typedef struct sweep_ctx {
    const sweep_spec *s;
    results_db *db;
    int64_t experiment;
    char (*canon)[TETRI_POLICY_SPEC_MAX];
    /* per policy, for the current workload: DONE_NO, DONE_YES (already written) or NOT_MINE
     * (claimed by another process) */
    unsigned char *done;
    long next_index;      /* the grid index of the next run (s->claim) */
    sweep_stats *stats;
    tetri_error *err;
} sweep_ctx;

/* One run on the simulator or the sweep's backend. Returns 0, or -1 with err. */
static int run_one(sweep_ctx *c, const char *policy, const tetri_trace *trace, uint64_t seed, host_result *res)
{
    const sweep_spec *s = c->s;
    host_config cfg = {.profile = s->profile, .actual = s->actual, .policy_spec = policy, .jitter = s->jitter, .seed = seed,
                       .check_plans = s->check_plans, .timeline_period = s->timeline_period,
                       .max_failures = s->max_failures, .stop = s->stop};
    if (!s->backend) return sim_run(&cfg, trace, res, c->err);
    memset(res, 0, sizeof *res);
    host_arrival *arr = sim_arrivals_of(trace);
    if (!arr) return tetri_errorf(c->err, "out of memory for %zu requests", trace->n);
    host_backend be;
    void *handle = NULL;
    int rc = s->backend->open(s->backend->ctx, s->profile, arr, trace->n, &be, &handle, c->err);
    if (rc == 0) {
        rc = host_run(&cfg, &be, arr, trace->n, res, c->err);
        s->backend->close(s->backend->ctx, handle);
    }
    free(arr);
    return rc;
}

enum { DONE_NO = 0, DONE_YES = 1, NOT_MINE = 2 };

/* 1 when the run of `key` is already written, 0 when not, -1 with c->err. */
static int run_done(sweep_ctx *c, const char *key)
{
    if (c->s->known_done) return c->s->known_done(c->s->writer_ctx, key);
    return results_run_done(c->db, c->experiment, key, c->err);
}

/* Which policies' runs of this workload are this process's (s->claim), and which of those are
 * already written (c->done). Returns how many need no run here, or -1. */
static long count_done(sweep_ctx *c, const char *workload_text, uint64_t seed)
{
    long n = 0;
    for (size_t p = 0; p < c->s->n_policies; p++) {
        const long index = c->next_index++;
        if (c->s->claim && !c->s->claim(c->s->claim_ctx, index)) {
            c->done[p] = NOT_MINE;
            n++;
            continue;
        }
        char key[SWEEP_KEY_MAX];
        sweep_run_key(key, sizeof key, c->canon[p], workload_text, c->s, seed);
        int done = run_done(c, key);
        if (done < 0) return -1;
        c->done[p] = (unsigned char)done;
        n += done;
    }
    return n;
}

static void report_skipped(sweep_ctx *c, sweep_run_report *rep)
{
    c->stats->runs_skipped++;
    rep->skipped = 1;
    if (c->s->progress) c->s->progress(c->s->progress_ctx, rep);
}

/* Runs every policy not yet done (count_done) on one trace. Returns 0, 1 when stop_after was
 * reached, or -1. */
static int run_policies(sweep_ctx *c, const tetri_trace *trace, const char *workload_text, const char *mix,
                        const workload_spec *w, uint64_t seed, const char *model)
{
    const double scale = w ? w->slo_scale : 0.0, rate = w ? w->rate_per_min : 0.0;
    const sweep_spec *s = c->s;
    for (size_t p = 0; p < s->n_policies; p++) {
        if (c->done[p] == NOT_MINE) continue;
        char key[SWEEP_KEY_MAX];
        sweep_run_key(key, sizeof key, c->canon[p], workload_text, s, seed);
        sweep_run_report rep = {.policy = c->canon[p], .policy_given = s->policies[p], .mix = mix, .slo_scale = scale, .rate_per_min = rate,
                                .load = w ? w->load : 0.0, .seed = seed, .run_key = key,
                                .trace_name = s->trace ? (s->trace_name ? s->trace_name : "(unnamed)") : NULL};
        /* Looked up again: a sweep beside this one may have written it since count_done. */
        int done = c->done[p] ? 1 : run_done(c, key);
        if (done < 0) return -1;
        if (done) {
            report_skipped(c, &rep);
            continue;
        }
        if (s->stop_after > 0 && c->stats->runs_written >= s->stop_after) {
            c->stats->stopped_early = 1;
            return 1;
        }
        assert(trace); /* NULL only when every run of it is already done */
        host_result res;
        const double t0 = real_seconds();
        if (run_one(c, c->canon[p], trace, seed, &res)) {
            host_result_free(&res);
            return tetri_error_prefix(c->err, "run %s", key);
        }
        tetri_run_info info = {.run_key = key, .policy = c->canon[p], .workload = workload_text, .mix = mix,
                               .slo_scale = scale, .rate_per_min = rate, .seed = seed,
                               .backend = s->backend ? s->backend->name : "sim",
                               .hardware = profile_hardware(s->profile), .model = model};
        res.summary.partial = res.partial;
        snprintf(res.summary.note, sizeof res.summary.note, "%s", res.partial_why);
        const double t1 = real_seconds();
        int rc = s->write_run ? s->write_run(s->writer_ctx, &info, &res, c->err)
                              : results_write_run(c->db, c->experiment, &info, &res.summary, res.requests, res.n_requests,
                                                  res.timeline, res.n_timeline, res.blocks, res.n_blocks, c->err);
        rep.sim_s = t1 - t0;
        rep.write_s = real_seconds() - t1;
        c->stats->sim_s += rep.sim_s;
        c->stats->write_s += rep.write_s;
        if (rc == 0 && res.partial) {
            c->stats->runs_partial++;
            snprintf(c->stats->partial_why, sizeof c->stats->partial_why, "%s", res.partial_why);
        }
        if (rc == 0) {
            c->stats->runs_written++;
            rep.summary = &res.summary;
            rep.result = &res;
            if (s->progress) s->progress(s->progress_ctx, &rep);
        } else if (rc == 1) {
            report_skipped(c, &rep); /* written by a sweep beside this one while this one ran it */
        }
        const bool partial = res.partial;
        host_result_free(&res);
        if (rc < 0) return tetri_error_prefix(c->err, "writing run %s", key);
        if (partial) return 1; /* a stop or a failed backend ends the sweep too */
    }
    return 0;
}

static int sweep_generated(sweep_ctx *c)
{
    const sweep_spec *s = c->s;
    const size_t n_rates = n_rate_values(s), n_mixes = s->n_mixes ? s->n_mixes : 1,
                 n_scales = s->n_slo_scales ? s->n_slo_scales : 1, n_seeds = s->n_seeds ? s->n_seeds : 1;
    for (size_t ri = 0; ri < n_rates; ri++)
        for (size_t mi = 0; mi < n_mixes; mi++)
            for (size_t si = 0; si < n_scales; si++)
                for (size_t ei = 0; ei < n_seeds; ei++) {
                    workload_spec w;
                    if (workload_at(s, ri, mi, si, &w, c->err)) return -1;
                    if (s->n_seeds) w.seed = s->seeds[ei];
                    char text[WORKLOAD_TEXT_MAX];
                    workload_spec_format(&w, text, sizeof text);
                    long done = count_done(c, text, w.seed);
                    if (done < 0) return -1;
                    tetri_trace trace = {0};
                    if (done < (long)s->n_policies && workload_generate(&w, &trace, c->err))
                        return tetri_error_prefix(c->err, "workload %s", text);
                    int rc = run_policies(c, done < (long)s->n_policies ? &trace : NULL, text, tetri_mix_name(w.mix), &w,
                                          w.seed, tetri_model_name(w.model));
                    tetri_trace_free(&trace);
                    if (rc) return rc;
                }
    return 0;
}

/* Every field of every entry (core/digest.h), so the digest is the same on every machine. */
static uint64_t trace_digest(const tetri_trace *t)
{
    uint64_t h = TETRI_DIGEST_INIT;
    for (size_t i = 0; i < t->n; i++) {
        const tetri_trace_entry *e = &t->entries[i];
        const int64_t v[] = {e->id, e->model, e->width, e->height, e->steps, e->arrival, e->deadline};
        for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) h = tetri_digest_i64(h, v[k]);
    }
    return h;
}

int sweep_trace_generator(const tetri_trace *t, workload_spec *w)
{
    if (!t->generator) return 0;
    tetri_error err = {{0}};
    workload_spec_default(w);
    tetri_trace again = {0};
    int same = workload_spec_parse(t->generator, w, &err) == 0 && workload_generate(w, &again, &err) == 0 &&
               again.n == t->n && trace_digest(&again) == trace_digest(t);
    tetri_trace_free(&again);
    return same;
}

static int sweep_trace(sweep_ctx *c)
{
    const sweep_spec *s = c->s;
    const char *model = s->trace->n ? tetri_model_name(s->trace->entries[0].model) : "none";
    /* The trace's content goes into the run key with its name: a file edited and replayed under
     * the same name into the same database is a new run, not one "already there". A trace that
     * its generator's spec still describes is recorded as that workload (mix, SLO scale, rate,
     * load, the spec in the text), so reports keep traces of different parameters apart. */
    const uint64_t digest = trace_digest(s->trace);
    workload_spec gen;
    const int generated = sweep_trace_generator(s->trace, &gen);
    char text[SWEEP_REPLAY_TEXT_MAX], spec[WORKLOAD_TEXT_MAX] = "";
    if (generated) workload_spec_format(&gen, spec, sizeof spec);
    snprintf(text, sizeof text, "trace=%.400s,digest=%016llx%s%s", s->trace_name ? s->trace_name : "(unnamed)",
             (unsigned long long)digest, generated ? ",generator:" : "", spec);
    for (size_t ei = 0; ei < (s->n_seeds ? s->n_seeds : 1); ei++) {
        uint64_t seed = s->n_seeds ? s->seeds[ei] : s->base.seed;
        if (count_done(c, text, seed) < 0) return -1;
        int rc = run_policies(c, s->trace, text, generated ? tetri_mix_name(gen.mix) : "trace", generated ? &gen : NULL,
                              seed, model);
        if (rc) return rc;
    }
    return 0;
}

/* Runs written by a tetri whose keys did not name the profile cannot be matched: resuming would
 * run each again beside its old row, and a report would count both. */
static int refuse_old_keys(results_db *db, int64_t experiment_id, const char *experiment, tetri_error *err)
{
    int64_t n_old;
    if (results_runs_lacking_key_part(db, experiment_id, "|" SWEEP_KEY_PROFILE, &n_old, err)) return -1;
    if (n_old == 0) return 0;
    return tetri_errorf(err,
                        "experiment '%s' holds %lld run(s) written by an older tetri, whose run keys do not name the "
                        "profile: a sweep cannot tell which of them it would repeat. Write to a new experiment "
                        "(--experiment) or database (--db)",
                        experiment, (long long)n_old);
}

long sweep_runs_total(const sweep_spec *s)
{
    const size_t n_seeds = s->n_seeds ? s->n_seeds : 1;
    if (s->trace) return (long)(s->n_policies * n_seeds);
    return (long)(s->n_policies * n_rate_values(s) * (s->n_mixes ? s->n_mixes : 1) * (s->n_slo_scales ? s->n_slo_scales : 1) *
                  n_seeds);
}

int sweep_run(const sweep_spec *s, results_db *db, sweep_stats *stats, tetri_error *err)
{
    assert(s && s->profile && (db || (s->write_run && s->known_done)) && stats);
    memset(stats, 0, sizeof *stats);
    if (s->n_policies == 0) return tetri_errorf(err, "a sweep needs at least one policy");
    sweep_ctx c = {.s = s, .db = db, .canon = s->canonical, .stats = stats, .err = err};
    char (*own)[TETRI_POLICY_SPEC_MAX] = NULL;
    c.done = calloc(s->n_policies, 1);
    if (!c.done) return tetri_errorf(err, "out of memory");
    if (!c.canon) {
        size_t bad;
        own = c.canon = calloc(s->n_policies, sizeof *own);
        if (!own || sweep_prepare(s, own, &bad, err)) {
            if (!own) tetri_errorf(err, "out of memory");
            free(own);
            free(c.done);
            return -1;
        }
    }
    const char *experiment = s->experiment ? s->experiment : "sim";
    int rc = db ? results_experiment(db, experiment, s->config_text ? s->config_text : "", &c.experiment, err) : 0;
    if (rc == 0 && db) rc = refuse_old_keys(db, c.experiment, experiment, err);
    if (rc == 0) {
        stats->runs_total = sweep_runs_total(s);
        rc = s->trace ? sweep_trace(&c) : sweep_generated(&c);
    }
    free(own);
    free(c.done);
    return rc < 0 ? -1 : 0;
}
