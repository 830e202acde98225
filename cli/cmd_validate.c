/* cli/cmd_validate.c: `tetri validate`: the same trace through the simulator and through a live
 * backend, per policy, into one results database, then the comparison of each live run with its
 * simulated twin (results/validate.h). The runs are tetri serve's (cli/sim_command.h: every option
 * of tetri sim and serve applies); this file takes validate's own options out of the command line,
 * hands the rest over with --backend set to --live's backend, and prints the comparison. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/sim_command.h"
#include "profiles/profile.h"
#include "results/results.h"
#include "results/validate.h"

/* Exit status when --strict is given and a pair misses a target (1: a failure, 2: bad options). */
#define VALIDATE_EXIT_MISSED 3

static void validate_usage(FILE *f)
{
    fprintf(f,
            "usage: tetri validate --live BACKEND [options of tetri sim and serve] [--csv FILE|-] [--strict]\n"
            "                      [--target-mean X] [--target-p99 X] [--target-attainment X] [--ks-alpha X]\n"
            "       tetri validate --from-db --db FILE [--experiment NAME] [--twin-profile FILE]\n"
            "                      [--twin-actual FILE] [--csv FILE|-]\n"
            "                      [--strict] [targets]\n"
            "\n"
            "Runs one trace (generated from the workload options of tetri sim, or --trace FILE) through the\n"
            "simulator on --profile (normally a measured one) and through the live backend, for every\n"
            "--policy, into one results database (backends sim and emulated or exec), under the run keys\n"
            "tetri sim and tetri serve use (runs already there are not run again). Then, per policy, it\n"
            "compares the live run with the simulated one:\n"
            "  end-to-end latency (finish - arrival): mean over finished requests, p50, p90, p99 (a dropped\n"
            "  request counts as infinite), sim and live and the relative error (live - sim) / sim;\n"
            "  SLO attainment sim, live and the difference; a two-sample Kolmogorov-Smirnov test of the\n"
            "  two latency samples (D, asymptotic p-value, rejected or not at --ks-alpha); the live blocks'\n"
            "  duration against the profile's prediction (relative error: mean, p50, p90, the worst\n"
            "  model/resolution/batch/degree class and every class's mean); and a verdict against the targets.\n"
            "With 5 or more jittered simulated runs of the same trace, policy, hardware and profile in the\n"
            "experiment (its envelope: tetri sim --trace T --jitter --seeds 1-20 --db DB --experiment E;\n"
            "the trace is matched by content, not file name), it also prints where the live mean, p99 and\n"
            "attainment lie among theirs (min..max, the live value's percentile rank) and an envelope\n"
            "verdict: WITHIN ENVELOPE when each lies within their min..max widened by its target (mean,\n"
            "p99: x (1 -+ target); attainment: -+ target), else OUTSIDE ENVELOPE.\n"
            "\n"
            "  --live BACKEND        where the live runs go: emulated or gpu (their options: --speed,\n"
            "                        --settle-us, ... for emulated, --devices, --weights, ... for gpu:\n"
            "                        tetri serve --help)\n"
            "  --db FILE             results database (default results.db)\n"
            "  --experiment NAME     experiment in it (default validate)\n"
            "  --csv FILE|-          also write the comparison as CSV, one row per policy (\"-\": stdout; the\n"
            "                        runs' progress then goes to stderr)\n"
            "  --target-mean X       largest |relative error| of the mean latency (default 0.02)\n"
            "  --target-p99 X        largest |relative error| of the p99 latency (default 0.05)\n"
            "  --target-attainment X largest |attainment difference| (default 0.02)\n"
            "  --ks-alpha X          the KS test's level: a p-value below it rejects (default 0.05)\n"
            "  --sim-jitter          the simulator draws each block's time from the profile's CV (as\n"
            "                        --jitter) while the live backend runs as it is: the way to compare\n"
            "                        with real GPUs (whose times vary; the GPU backend takes no --jitter)\n"
            "  --strict              exit with status 3 when any policy misses a target; a pair with an\n"
            "                        envelope (5+ jittered sims) is judged by its envelope verdict instead\n"
            "                        (a single simulated run is one draw of a spread; the KS test is not in it)\n"
            "  --from-db             run nothing: compare every live run of --db (of --experiment, else of\n"
            "                        every experiment) that has a simulated twin (same key, no backend part;\n"
            "                        else jitter off and the same trace by content, wherever its file lay)\n"
            "  --twin-profile FILE   with --from-db: each twin (and envelope) is the simulator's run on the\n"
            "                        profile FILE instead of the one the live run ran on, the rest of its\n"
            "                        key the same (simulate it first: tetri sim --trace T --profile FILE\n"
            "                        --policy P --db DB --experiment E): how a profile measured another way\n"
            "                        or elsewhere predicts the same live runs\n"
            "  --twin-actual FILE    with --from-db: each twin is the simulator's run whose blocks ran by the\n"
            "                        profile FILE while it predicted with the live run's own (tetri sim\n"
            "                        --actual-profile FILE: the same decisions' inputs, the GPU's own block\n"
            "                        times, e.g. a profile measured on the GPU that served); with\n"
            "                        --twin-profile, on that profile\n"
            "\n"
            "The targets are issue 9's: mean error at most 2%%, p99 at most 5%%, attainment within 0.02,\n"
            "the KS test not rejecting at 5%%. docs/validation.md explains the table.\n"
            "Exit status: 0 it ran (verdicts are information), 1 a run or file failed or ended early, 2 bad\n"
            "options, 3 with --strict: some policy missed a target (or lies outside its envelope), 128+N\n"
            "stopped by signal N.\n");
}

/* ---- the command line ---------------------------------------------------------------------------- */

typedef struct validate_args {
    const char *live, *csv_path, *db_path, *experiment;
    const char *twin_profile; /* --twin-profile FILE (--from-db) */
    const char *twin_actual;  /* --twin-actual FILE (--from-db) */
    int strict, from_db, experiment_given, sim_jitter, jitter_given;
    validate_targets targets;
    char **rest;            /* argv for tetri serve: argv[0], what is not validate's, then --backend LIVE ... */
    int n_rest;
} validate_args;

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "tetri validate: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(tetri validate --help for the options)\n");
    return 2;
}

/* A target's value: a number in [lo, hi]. */
static int parse_target(const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (!*text || *end || errno || !isfinite(v) || v < lo || v > hi)
        return usage_error("%s: '%s' is not a number in [%g, %g]", opt, text, lo, hi);
    *out = v;
    return 0;
}

/* The value of option argv[*i], whether "--opt VALUE" or "--opt=VALUE"; NULL when it has none. */
static const char *value_of(int argc, char **argv, int *i, const char *opt)
{
    size_t len = strlen(opt);
    if (argv[*i][len] == '=') return argv[*i] + len + 1;
    return *i + 1 < argc ? argv[++*i] : NULL;
}

/* Whether argv[i] is option `opt`, alone or as "--opt=VALUE". */
static int is_option(const char *arg, const char *opt)
{
    size_t len = strlen(opt);
    return strncmp(arg, opt, len) == 0 && (arg[len] == 0 || arg[len] == '=');
}

/* One of validate's own options at argv[*i] (and its value): 1 taken, 0 not validate's, -1 a usage
 * error (printed). */
static int take_own_option(int argc, char **argv, int *i, validate_args *a)
{
    static const struct { const char *name; double lo, hi; size_t field; } targets[] = {
        {"--target-mean", 0, 1e6, offsetof(validate_targets, mean_err)},
        {"--target-p99", 0, 1e6, offsetof(validate_targets, p99_err)},
        {"--target-attainment", 0, 1, offsetof(validate_targets, sar_diff)},
        {"--ks-alpha", 0, 1, offsetof(validate_targets, ks_alpha)},
    };
    const char *arg = argv[*i];
    if (strcmp(arg, "--strict") == 0) return a->strict = 1;
    if (strcmp(arg, "--from-db") == 0) return a->from_db = 1;
    if (strcmp(arg, "--sim-jitter") == 0) return a->sim_jitter = 1;
    const char **text = is_option(arg, "--live") ? &a->live : is_option(arg, "--csv") ? &a->csv_path
                      : is_option(arg, "--twin-profile") ? &a->twin_profile
                      : is_option(arg, "--twin-actual")  ? &a->twin_actual : NULL;
    for (size_t t = 0; !text && t < sizeof targets / sizeof targets[0]; t++) {
        if (!is_option(arg, targets[t].name)) continue;
        const char *v = value_of(argc, argv, i, targets[t].name);
        if (!v) {
            usage_error("%s needs a value", targets[t].name);
            return -1;
        }
        double *field = (double *)((char *)&a->targets + targets[t].field);
        return parse_target(targets[t].name, v, targets[t].lo, targets[t].hi, field) ? -1 : 1;
    }
    if (!text) return 0;
    const char *name = text == &a->live ? "--live" : text == &a->csv_path ? "--csv" : text == &a->twin_profile ? "--twin-profile" : "--twin-actual";
    if (!(*text = value_of(argc, argv, i, name))) {
        usage_error("%s needs a value", name);
        return -1;
    }
    return 1;
}

/* Notes --db and --experiment (tetri serve's too) as they pass; refuses what validate replaces. */
static int watch_passed_option(int argc, char **argv, int i, validate_args *a)
{
    const char *arg = argv[i];
    if (is_option(arg, "--backend")) return usage_error("--backend is tetri serve's: tetri validate takes --live BACKEND");
    if (is_option(arg, "--stop-after")) return usage_error("--stop-after does not apply to tetri validate (both passes run whole)");
    if (strcmp(arg, "--jitter") == 0) a->jitter_given = 1;
    int at = i;
    if (is_option(arg, "--db") && (a->db_path = value_of(argc, argv, &at, "--db"))) return 0;
    if (is_option(arg, "--experiment") && (a->experiment = value_of(argc, argv, &at, "--experiment")))
        a->experiment_given = 1;
    return 0;
}

/* Appends argument s to a->rest (room was made for every argument and 4 more). */
static void pass_on(validate_args *a, const char *s) { a->rest[a->n_rest++] = (char *)s; }

/* Splits argv into validate's options and tetri serve's (a->rest). Returns -1 when all is well,
 * else the exit status (0 after --help, 2 after a usage error, printed). */
static int parse_args(int argc, char **argv, validate_args *a)
{
    *a = (validate_args){.db_path = "results.db", .experiment = "validate", .targets = VALIDATE_DEFAULT_TARGETS};
    if (!(a->rest = calloc((size_t)argc + 6, sizeof *a->rest))) return usage_error("out of memory");
    pass_on(a, argv[0]);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            validate_usage(stdout);
            return 0;
        }
        int took = take_own_option(argc, argv, &i, a);
        if (took < 0) return 2;
        if (took) continue;
        if (watch_passed_option(argc, argv, i, a)) return 2;
        /* tetri serve's option: it and its value (if any) go on as typed; serve's parser decides */
        pass_on(a, argv[i]);
    }
    if (a->from_db) return a->sim_jitter ? usage_error("--sim-jitter is for the runs; --from-db runs nothing") : -1;
    if (a->twin_profile || a->twin_actual)
        return usage_error("%s compares runs already in --db: give --from-db", a->twin_profile ? "--twin-profile" : "--twin-actual");
    if (a->sim_jitter && a->jitter_given)
        return usage_error("--jitter draws the block times of both passes already; --sim-jitter, of the simulator's alone: give one");
    if (!a->live) return usage_error("--live is required: the backend to compare with (emulated or gpu)");
    tetri_error err = {{0}};
    if (sim_command_check_backend(a->live, &err)) return usage_error("--live: %s", err.msg);
    pass_on(a, "--backend");
    pass_on(a, a->live);
    if (!a->experiment_given) {
        pass_on(a, "--experiment");
        pass_on(a, a->experiment);
    }
    return -1;
}

/* With --from-db, the only other options are --db and --experiment (taken here). Returns 0 or 2. */
static int parse_from_db_rest(validate_args *a)
{
    if (a->live) return usage_error("--from-db compares every live run in --db: --live does not apply");
    for (int i = 1; i < a->n_rest; i++) {
        int at = i;
        if ((is_option(a->rest[i], "--db") || is_option(a->rest[i], "--experiment")) &&
            value_of(a->n_rest, a->rest, &at, is_option(a->rest[i], "--db") ? "--db" : "--experiment")) {
            i = at;
            continue;
        }
        return usage_error("--from-db compares runs already in --db: '%s' does not apply", a->rest[i]);
    }
    return 0;
}

/* ---- the runs and the comparison ----------------------------------------------------------------- */

/* Run keys, in the order the runs ran (or were found already written). */
typedef struct key_list {
    char **keys;
    size_t n, cap;
    int out_of_memory;
} key_list;

/* Both passes' keys: the two passes walk one grid in one order, so the k-th live run's twin is the
 * k-th simulated run (with --sim-jitter the keys differ in their jitter part too). */
typedef struct pass_keys {
    key_list sim, live;
} pass_keys;

static void collect_key(void *ctx, const sweep_run_report *r, int live)
{
    pass_keys *both = ctx;
    key_list *k = live ? &both->live : &both->sim;
    if (k->out_of_memory) return;
    if (k->n == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 16;
        char **grown = realloc(k->keys, cap * sizeof *grown);
        if (!grown) {
            k->out_of_memory = 1;
            return;
        }
        k->keys = grown;
        k->cap = cap;
    }
    if (!(k->keys[k->n] = strdup(r->run_key))) k->out_of_memory = 1;
    else k->n++;
}

static void key_list_free(key_list *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->keys[i]);
    free(k->keys);
}

/* Whether --csv sends the CSV to stdout ("-"), which then holds nothing else. */
static int csv_to_stdout(const validate_args *a) { return a->csv_path && strcmp(a->csv_path, "-") == 0; }

/* Writes the CSV to path ("-": stdout). Returns 0 or -1 with err. */
static int write_csv(const char *path, const validate_pair *pairs, size_t n, tetri_error *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (!f) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    validate_write_csv(f, pairs, n);
    if (f == stdout) return fflush(f) == 0 ? 0 : tetri_errorf(err, "stdout: cannot write: %s", strerror(errno));
    return fclose(f) == 0 ? 0 : tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
}

/* The content digest (16 hex digits, as run keys write it) of profile `path` (given as `option`)
 * for the hardware of the live runs among runs[0..n), which must all be of one. Returns 0 or -1 with err. */
static int twin_profile_digest(const char *option, const char *path, const results_run *runs, size_t n, char digest[17],
                               tetri_error *err)
{
    const char *hw = NULL;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(runs[i].backend, "sim") == 0) continue;
        if (hw && strcmp(hw, runs[i].hardware) != 0)
            return tetri_errorf(err, "%s: the live runs are of hardware %s and %s: choose one with --experiment", option, hw,
                                runs[i].hardware);
        hw = runs[i].hardware;
    }
    if (!hw) return tetri_errorf(err, "%s: no live run to compare", option);
    tetri_profile *p = NULL;
    if (profile_open_option(option, path, hw, 0, &p, err)) return -1;
    snprintf(digest, 17, "%016llx", (unsigned long long)profile_digest(p));
    profile_close(p);
    return 0;
}

/* Pairs, compares and prints. keys NULL: every pair found (--from-db); else live_keys[k] with
 * sim_keys[k]. Returns the exit status. */
static int compare_runs(const validate_args *a, const char *experiment, const char *const *live_keys,
                        const char *const *sim_keys, size_t n_keys)
{
    tetri_error err = {{0}};
    results_db *db = NULL;
    results_run *runs = NULL;
    validate_pair *pairs = NULL;
    size_t n_runs = 0, n_pairs = 0, n_unpaired = 0;
    int64_t experiment_id = -1;
    int rc = 1;
    char digest[17] = "", actual[17] = "";
    if (results_open_readonly(a->db_path, &db, &err) ||
        (experiment && results_find_experiment(db, experiment, &experiment_id, &err)) ||
        results_load_runs(db, experiment_id, &runs, &n_runs, &err) ||
        (a->twin_profile && twin_profile_digest("--twin-profile", a->twin_profile, runs, n_runs, digest, &err)) ||
        (a->twin_actual && twin_profile_digest("--twin-actual", a->twin_actual, runs, n_runs, actual, &err)) ||
        (a->twin_profile || a->twin_actual
             ? validate_find_pairs_twin(runs, n_runs, a->twin_profile ? digest : NULL, a->twin_actual ? actual : NULL, &pairs,
                                        &n_pairs, &n_unpaired, &err)
             : validate_find_pairs(runs, n_runs, live_keys, sim_keys, n_keys, &pairs, &n_pairs, &n_unpaired, &err)))
        goto out;
    if (n_pairs == 0) {
        tetri_errorf(&err, "%s: no live run with a simulated twin%s%s%s%s%s%s%s", a->db_path, experiment ? " in experiment " : "",
                     experiment ? experiment : "", a->twin_profile ? " on profile " : "", a->twin_profile ? a->twin_profile : "",
                     a->twin_actual ? " whose blocks ran by " : "", a->twin_actual ? a->twin_actual : "",
                     a->twin_profile || a->twin_actual ? " (simulate the live runs' traces so first: tetri validate --help)" : "");
        goto out;
    }
    if (a->twin_profile && !csv_to_stdout(a))
        printf("twins: the simulator on %s (profile=%s), not the profile each live run ran on\n", a->twin_profile, digest);
    if (a->twin_actual && !csv_to_stdout(a))
        printf("twins: blocks run by %s (actual=%s), predicted by %s\n", a->twin_actual, actual,
               a->twin_profile ? "the profile above" : "the profile each live run ran on");
    for (size_t i = 0; i < n_pairs; i++)
        if (validate_compare(db, &pairs[i], &a->targets, &err) ||
            validate_compare_envelope(db, &pairs[i], runs, n_runs, &a->targets, &err))
            goto out;
    if (n_unpaired) fprintf(stderr, "tetri validate: %zu live run%s without a simulated twin left out\n", n_unpaired, n_unpaired == 1 ? "" : "s");
    if (!csv_to_stdout(a)) validate_print(stdout, pairs, n_pairs, runs, n_runs, &a->targets);
    if (a->csv_path && write_csv(a->csv_path, pairs, n_pairs, &err)) goto out;
    rc = 0;
    for (size_t i = 0; i < n_pairs && a->strict; i++)
        if (validate_strict_misses(&pairs[i])) rc = VALIDATE_EXIT_MISSED;
out:
    if (rc == 1) fprintf(stderr, "tetri validate: %s\n", err.msg);
    free(pairs);
    results_runs_free(runs, n_runs);
    results_close(db);
    return rc;
}

/* The two passes through tetri serve's sweep, then the comparison. With --csv -, the runs' progress
 * goes to stderr, so that stdout is the CSV alone. */
static int run_and_compare(validate_args *a)
{
    pass_keys keys = {{0}, {0}};
    sim_passes passes = {.simulator_first = 1, .simulator_jitter = a->sim_jitter, .observe = collect_key, .ctx = &keys};
    int saved_stdout = -1;
    fflush(stdout);
    if (csv_to_stdout(a) && ((saved_stdout = dup(STDOUT_FILENO)) < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0)) {
        fprintf(stderr, "tetri validate: cannot send progress to stderr: %s\n", strerror(errno));
        return 1;
    }
    int rc = sim_command_serve(a->n_rest, a->rest, "validate", &passes);
    fflush(stdout);
    if (saved_stdout >= 0) {
        dup2(saved_stdout, STDOUT_FILENO);
        close(saved_stdout);
    }
    if (rc == 0 && (keys.sim.out_of_memory || keys.live.out_of_memory || keys.sim.n != keys.live.n)) {
        fprintf(stderr, "tetri validate: %s\n", keys.sim.n != keys.live.n ? "the two passes ran different grids" : "out of memory");
        rc = 1;
    }
    if (rc == 0)
        rc = compare_runs(a, a->experiment, (const char *const *)keys.live.keys, (const char *const *)keys.sim.keys, keys.live.n);
    key_list_free(&keys.sim);
    key_list_free(&keys.live);
    return rc;
}

int cmd_validate(int argc, char **argv)
{
    validate_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0 && !a.from_db) rc = run_and_compare(&a);
    else if (rc < 0 && (rc = parse_from_db_rest(&a)) == 0)
        rc = compare_runs(&a, a.experiment_given ? a.experiment : NULL, NULL, NULL, 0);
    free(a.rest);
    return rc;
}
