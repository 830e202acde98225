/* cli/cmd_demo.c: `tetri demo`: the TetriServe paper's scenarios end to end, simulated.
 * flux-h100x8 (the default): FLUX.1-dev on 8 x H100 (the shipped default profile), 300 requests at
 * 12/min, mixes uniform and skewed, SLO scales 1.0 to 1.5; sd3-a40x4: SD3-medium on 4 x A40 (NVLink
 * pairs, PCIe between them; the profile's analytic a40x4 rows), SLOs and rate relative to that
 * hardware (below). Every baseline and every registered scheduler of the scenario's list, into
 * DIR/results.db; then the SLO-attainment table and plots. Argument parsing and printing only: the
 * sweep, the report and the plots are the modules' own. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/commands.h"
#include "plots/plot.h"
#include "profiles/profile.h"
#include "results/report.h"
#include "results/results.h"
#include "sched/policies.h"
#include "sim/normalize.h"
#include "sim/sweep.h"
#include "workloads/workload.h"

/* The policies the demo compares, in table order; a name the registry lacks is left out, so a
 * new policy is one line here (a scenario takes those that fit its GPU count). */
static const char *const demo_policies[] = {
    "xdit-sp1", "xdit-sp2", "xdit-sp4", "xdit-sp8", "rssp", "edf-dyn", "tetriserve",
};
#define N_DEMO_POLICIES (sizeof demo_policies / sizeof demo_policies[0])
#define DEMO_EXPERIMENT "demo"
#define DEMO_DEFAULT_SEEDS 3

/* A scenario: the model on the hardware of the profile, the workload, and how SLOs and the rate
 * are set. slo_x > 0: each resolution's SLO base is slo_x times its standalone latency at its
 * fastest degree on the profile (sim/normalize.h), and load > 0: the rate offering that load of
 * the cluster; else the paper's fixed bases (1.5/2/3/5 s) and rate_per_min. */
typedef struct demo_scenario {
    const char *name, *title, *hardware;
    tetri_model model;
    int steps, max_degree;
    double rate_per_min, load, slo_x;
    const char *paper_degrees; /* rssp's degrees in the paper, or NULL */
} demo_scenario;
static const demo_scenario scenarios[] = {
    {"flux-h100x8", "FLUX.1-dev on 8 x H100", "h100x8", TETRI_MODEL_FLUX_DEV, 20, 8, 12.0, 0, 0, "1/1/2/8"},
    /* SD3-medium's 28 steps; on A40s the paper's fixed bases cannot be met at 2048 px (one takes
     * 28 x 337 ms at degree 4 against 5 s), so the bases are 2 x each resolution's fastest
     * standalone latency and the rate offers 0.5 of the four GPUs (docs/ampere.md) */
    {"sd3-a40x4", "SD3-medium on 4 x A40 (NVLink pairs 0-1, 2-3; PCIe across)", "a40x4", TETRI_MODEL_SD3_MEDIUM, 28, 4, 0, 0.5, 2.0,
     NULL},
};
#define N_SCENARIOS (sizeof scenarios / sizeof scenarios[0])

/* The degree a policy name fixes (xdit-spN), else 0. */
static int fixed_degree(const char *policy)
{
    return strncmp(policy, "xdit-sp", 7) == 0 ? atoi(policy + 7) : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri demo [--scenario NAME] [--out DIR] [--seeds N] [--profile FILE] [-q]\n"
            "\n"
            "The TetriServe paper's scenarios, simulated in seconds. flux-h100x8 (the default): FLUX.1-dev\n"
            "on 8 x H100 (the shipped default profile), 300 requests per run arriving at 12/min (Poisson),\n"
            "20 steps, resolutions 256/512/1024/2048 in the uniform and the skewed mix, deadlines at SLO\n"
            "scale 1.0 to 1.5 (step 0.1), for the policies xdit-sp1, xdit-sp2, xdit-sp4, xdit-sp8, rssp,\n"
            "edf-dyn and tetriserve (those built in). sd3-a40x4: SD3-medium on 4 x A40 (the profile's\n"
            "a40x4: NVLink pairs 0-1 and 2-3, PCIe between the pairs; analytic rows, no measurement),\n"
            "28 steps, the same resolutions, mixes and scales, SLO bases 2 x each resolution's fastest\n"
            "standalone latency there and the rate that offers 0.5 of the four GPUs (docs/ampere.md),\n"
            "policies up to xdit-sp4. Prints the SLO-attainment table (mean over seeds), writes the\n"
            "results database and the SLO-attainment plots (PNG) into DIR, and says where.\n"
            "\n"
            "  --scenario NAME flux-h100x8 (default) or sd3-a40x4\n"
            "  --out DIR       where to write (default ./tetri-demo; created; its results.db is replaced)\n"
            "  --seeds N       workload seeds 1..N per point (default %d)\n"
            "  --profile FILE  latency profile (default: %s)\n"
            "  -q, --quiet     no per-run lines\n"
            "\n"
            "Afterwards: tetri report --db DIR/results.db (more tables, CSV), tetri plot (more figures),\n"
            "tetri sim (your own sweeps). Exit status: 0 ok, 1 a run or file failed, 2 bad options.\n",
            DEMO_DEFAULT_SEEDS, profile_default_path());
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "tetri demo: %s '%s'\n(tetri demo --help for the options)\n", what, arg);
    return 2;
}

static void print_run(void *ctx, const sweep_run_report *r)
{
    (void)ctx;
    const tetri_run_summary *s = r->summary;
    if (!s) return;
    printf("  %-12s %-8s scale %.1f seed %llu: %3d/%d met\n", r->policy_given, r->mix, r->slo_scale,
           (unsigned long long)r->seed, s->met, s->n);
}

/* The table (report module) and the SLO-attainment figures (plots module) of the demo's runs. */
static int table_and_plots(const char *db_path, const char *out_dir, tetri_error *err)
{
    results_db *db;
    /* Read-write on purpose: a read-only SQLite connection leaves -wal/-shm files behind it. */
    if (results_open(db_path, &db, err)) return -1;
    int64_t id;
    results_run *runs = NULL;
    size_t n = 0;
    plot_set set = {0};
    int rc = -1;
    report_options opt = {.by = {REPORT_DIM_MIX, REPORT_DIM_SCALE, REPORT_DIM_POLICY}, .n_by = 3};
    if (results_find_experiment(db, DEMO_EXPERIMENT, &id, err) || results_load_runs(db, id, &runs, &n, err)) goto done;
    printf("\nSLO attainment (fraction of requests finished by their deadline):\n");
    if (report_print_tables(stdout, runs, n, &opt, err)) goto done;
    printf("\nresults database: %s\n", db_path);

    plot_options po = {.out_dir = out_dir, .kinds = "attainment_vs_scale"};
    char scripts[4096], gnuplot[4096];
    if (plot_prepare(db, runs, n, &po, &set, err) || plot_scripts_dir(scripts, sizeof scripts, err) ||
        plot_write_scripts(&set, scripts, out_dir, err))
        goto done;
    if (!plot_gnuplot_program(gnuplot, sizeof gnuplot)) {
        /* Still useful without gnuplot: the data and the scripts are there to draw later. */
        printf("plots: gnuplot is not installed, so no images; their data and %s/plot.sh are written\n"
               "       (install gnuplot, e.g. with scripts/install-deps, then: cd %s && sh plot.sh)\n",
               out_dir, out_dir);
        rc = 0;
        goto done;
    }
    printf("SLO-attainment plots:\n");
    for (size_t i = 0; i < set.n; i++) {
        if (plot_render(&set.figures[i], gnuplot, out_dir, err)) goto done;
        printf("  %s/%s.png  (%s)\n", out_dir, set.figures[i].base, set.figures[i].title);
    }
    rc = 0;
done:
    plot_set_free(&set);
    results_runs_free(runs, n);
    results_close(db);
    return rc;
}

int cmd_demo(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"out", required_argument, NULL, 'o'},
        {"scenario", required_argument, NULL, 'S'},
        {"seeds", required_argument, NULL, 's'},
        {"profile", required_argument, NULL, 'p'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out_dir = "tetri-demo", *profile_arg = NULL;
    long n_seeds = DEMO_DEFAULT_SEEDS;
    const demo_scenario *sc = &scenarios[0];
    int quiet = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:qs:p:S:", long_options, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'S': {
            sc = NULL;
            for (size_t i = 0; i < N_SCENARIOS && !sc; i++)
                if (strcmp(optarg, scenarios[i].name) == 0) sc = &scenarios[i];
            if (!sc) return usage_error("--scenario is flux-h100x8 or sd3-a40x4, not", optarg);
            break;
        }
        case 'o': out_dir = optarg; break;
        case 'p': profile_arg = optarg; break;
        case 'q': quiet = 1; break;
        case 's': {
            char *end;
            errno = 0;
            n_seeds = strtol(optarg, &end, 10);
            if (!*optarg || *end || errno || n_seeds < 1 || n_seeds > 100)
                return usage_error("--seeds wants a count from 1 to 100, not", optarg);
            break;
        }
        case ':': return usage_error("this option needs a value:", argv[optind - 1]);
        default: return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc) return usage_error("unexpected argument", argv[optind]);
    if (!*out_dir) return usage_error("--out needs a directory, not", out_dir);

    tetri_error err = {{0}};
    tetri_profile *profile = NULL;
    results_db *db = NULL;
    int rc = 1;
    if (profile_open_option("--profile", profile_arg, sc->hardware, 0, &profile, &err)) {
        fprintf(stderr, "tetri demo: %s\n", err.msg);
        return 1;
    }

    const char *policies[N_DEMO_POLICIES];
    size_t n_policies = 0;
    for (size_t i = 0; i < N_DEMO_POLICIES; i++)
        if (tetri_policy_find(demo_policies[i]) && fixed_degree(demo_policies[i]) <= sc->max_degree)
            policies[n_policies++] = demo_policies[i];
    const tetri_mix_kind mixes[] = {TETRI_MIX_UNIFORM, TETRI_MIX_SKEWED};
    const double scales[] = {1.0, 1.1, 1.2, 1.3, 1.4, 1.5};
    uint64_t seeds[100];
    for (long s = 0; s < n_seeds; s++) seeds[s] = (uint64_t)s + 1;

    printf("tetri demo: %s (scenario %s; profile %s, hardware %s), simulated\n", sc->title, sc->name, profile_path(profile),
           profile_hardware(profile));
    workload_spec base;
    workload_spec_default(&base);
    base.model = sc->model;
    base.steps = sc->steps;
    double loads[1] = {sc->load};
    if (sc->slo_x > 0) {
        normalize_slo_base nb = {.from_profile = 1, .x = sc->slo_x, .one_gpu = 0};
        if (normalize_slo_bases(profile, &nb, &base, &err)) {
            fprintf(stderr, "tetri demo: %s\n", err.msg);
            profile_close(profile);
            return 1;
        }
    } else {
        base.rate_per_min = sc->rate_per_min;
    }
    if (sc->load > 0)
        printf("  workload: 300 requests per run, Poisson at the rate offering %.1f of the %d GPUs (per mix), %d steps,\n"
               "            256/512/1024/2048 px, mixes uniform and skewed, SLO scale 1.0 to 1.5 step 0.1, seeds 1..%ld\n",
               sc->load, profile_cluster(profile)->n_gpus, sc->steps, n_seeds);
    else
        printf("  workload: 300 requests per run, Poisson at %.0f/min, %d steps, 256/512/1024/2048 px,\n"
               "            mixes uniform and skewed, SLO scale 1.0 to 1.5 step 0.1, seeds 1..%ld\n",
               sc->rate_per_min, sc->steps, n_seeds);
    if (sc->slo_x > 0) {
        printf("  SLO bases (%.1f x the fastest standalone latency on this profile):", sc->slo_x);
        for (int i = 0; i < base.n_slo_bases; i++)
            printf("%s %d px %.2f s", i ? "," : "", base.slo_base_sides[i], (double)base.slo_bases[i] / TETRI_NS_PER_S);
        printf("\n");
    }
    printf("  policies:");
    for (size_t i = 0; i < n_policies; i++) printf(" %s", policies[i]);
    printf("\n  rssp's degree per resolution on this profile (largest k with T(1)/(k T(k)) >= 0.5):");
    static const int sides[] = {256, 512, 1024, 2048};
    for (int i = 0; i < 4; i++)
        printf("%s%d", i ? "/" : " ",
               rssp_degree(profile, profile_cluster(profile), sc->model, sides[i], sides[i], 0.5));
    if (sc->paper_degrees) printf(" for 256/512/1024/2048 (the paper's: %s)\n", sc->paper_degrees);
    else printf(" for 256/512/1024/2048\n");
    fflush(stdout);

    char db_path[4096];
    snprintf(db_path, sizeof db_path, "%s/results.db", out_dir);
    if (plot_make_dir(out_dir, &err)) {
        fprintf(stderr, "tetri demo: %s\n", err.msg);
        goto out;
    }
    /* A demo is one self-contained scenario: start its database afresh so the table shows exactly
     * this run's grid (tetri sim is the command that resumes and accumulates). */
    if (unlink(db_path) && errno != ENOENT) {
        fprintf(stderr, "tetri demo: cannot replace %s: %s\n", db_path, strerror(errno));
        goto out;
    }
    if (results_open(db_path, &db, &err)) {
        fprintf(stderr, "tetri demo: %s\n", err.msg);
        goto out;
    }
    sweep_spec s = {.profile = profile, .policies = policies, .n_policies = n_policies, .mixes = mixes, .n_mixes = 2,
                    .slo_scales = scales, .n_slo_scales = 6, .seeds = seeds, .n_seeds = (size_t)n_seeds,
                    .timeline_period = TETRI_NS_PER_S, .experiment = DEMO_EXPERIMENT,
                    .progress = quiet ? NULL : print_run};
    s.base = base;
    if (sc->load > 0) {
        s.loads = loads;
        s.n_loads = 1;
    }
    char config[512];
    snprintf(config, sizeof config, "tetri demo --scenario %s --seeds %ld\nprofile=%s hardware=%s", sc->name, n_seeds, profile_path(profile),
             profile_hardware(profile));
    s.config_text = config;
    sweep_stats st;
    if (sweep_run(&s, db, &st, &err)) {
        fprintf(stderr, "tetri demo: %s\n", err.msg);
        goto out;
    }
    results_close(db);
    db = NULL;
    printf("%ld runs simulated\n", st.runs_written);
    if (table_and_plots(db_path, out_dir, &err)) {
        fprintf(stderr, "tetri demo: %s\n", err.msg);
        goto out;
    }
    printf("next: tetri report --db %s (more tables, --csv), tetri plot (every figure), tetri sim (your sweeps)\n",
           db_path);
    rc = 0;
out:
    results_close(db);
    profile_close(profile);
    return rc;
}
