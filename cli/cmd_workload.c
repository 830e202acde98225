/* cli/cmd_workload.c: `tetri workload`: generate a request trace (CSV) from options, or check one.
 * Argument parsing and printing only; the generator and reader live in workloads/, SLO bases and
 * rates relative to a profile (--slo-base profile:X, --load) in sim/normalize.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "profiles/profile.h"
#include "sim/normalize.h"
#include "workloads/workload.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri workload [options] [-o FILE]     generate a trace (CSV)\n"
            "       tetri workload --check FILE            read a trace (- for stdin), print a summary\n"
            "                                              or the error (file:line: reason)\n"
            "\n"
            "Generates the TetriServe paper's workload: requests for one model at square resolutions,\n"
            "arriving as a Poisson (or bursty gamma) process, each with a deadline of\n"
            "arrival + slo-scale x base, base = 1.5/2/3/5 s at 256/512/1024/2048 (interpolated over\n"
            "tokens for other sizes). The same options and seed give the same file, byte for byte.\n"
            "\n"
            "generation options (defaults: the paper's preset):\n"
            "  --model NAME        flux-dev (default) or sd3-medium\n"
            "  --steps N           denoising steps per request (default 20)\n"
            "  --mix KIND          uniform (default: equal shares), skewed (share of resolution i\n"
            "                      ~ exp(alpha L_i / L_max), L = tokens) or homogeneous (one size)\n"
            "  --resolutions LIST  square sides, multiples of 16 (default 256,512,1024,2048)\n"
            "  --res SIDE          the one side of --mix homogeneous (default 1024; implies it)\n"
            "  --alpha X           skew of --mix skewed (default 1; larger favours big images)\n"
            "  --arrival KIND      poisson (default) or gamma\n"
            "  --rate R            mean arrivals per minute (default 12)\n"
            "  --load RHO          instead of --rate: the offered load as a fraction of the cluster's\n"
            "                      capacity (its GPUs), each request costing its cheapest GPU-seconds\n"
            "                      in the profile; above 0, at most 10 (above 1 is overload)\n"
            "  --slo-base B        fixed (default) or profile:X[:best|:one]: each resolution's base is X\n"
            "                      times its standalone latency in the profile (steps x step time at the\n"
            "                      fastest degree, or on one GPU)\n"
            "  --profile FILE      the profile of --load and --slo-base profile:X (default: %s)\n"
            "  --hardware NAME     hardware in the profile (default: the profile's default)\n"
            "  --analytic          the analytic model for degrees the profile did not measure\n"
            "  --cv X              gamma only: coefficient of variation of gaps (default 2)\n"
            "  --slo-scale X       deadline multiplier over the base, 0.001 to 1000 (default 1.0;\n"
            "                      the paper sweeps 1.0 to 1.5)\n"
            "  --seed N            random seed, 0 to 4294967294 (default 1)\n"
            "  -n N                number of requests (default 300)\n"
            "  -o FILE             write the trace here (default: standard output)\n"
            "\n"
            "examples:\n"
            "  tetri workload -o paper.csv                         300 requests, uniform, 12/min\n"
            "  tetri workload --mix skewed --rate 18 --slo-scale 1.2 --seed 7 -o skewed.csv\n"
            "  tetri workload --arrival gamma --cv 3 -n 1000 -o bursty.csv\n"
            "  tetri workload --load 0.8 --slo-base profile:3 -o rel.csv  rate and SLOs from the profile\n"
            "  tetri workload --check my-trace.csv\n"
            "\n"
            "The file format (columns id,model,width,height,steps,arrival_s,deadline_s) is in\n"
            "docs/trace-format.md. With --load or --slo-base profile:X, the rate and bases chosen are\n"
            "printed (to standard error when the trace goes to standard output).\n"
            "Exit status: 0 ok, 1 bad trace, profile or I/O error, 2 bad options.\n",
            profile_default_path());
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tetri workload: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(tetri workload --help for the options)\n");
    return 2;
}

/* Prints count, per-resolution counts, arrival span and rate, and SLO range of a trace. */
static void print_summary(FILE *f, const char *name, const tetri_trace *t)
{
    enum { MAX_SIZES = 32 };
    typedef struct size_count { int32_t w, h; size_t count; } size_count;
    size_count sizes[MAX_SIZES];
    int n_sizes = 0;
    size_t other = 0, per_model[TETRI_MODEL_COUNT] = {0};
    int32_t min_steps = t->entries[0].steps, max_steps = t->entries[0].steps;
    tetri_ns min_slo = TETRI_NS_NEVER, max_slo = 0;
    double sum_slo = 0;
    for (size_t i = 0; i < t->n; i++) {
        const tetri_trace_entry *e = &t->entries[i];
        per_model[e->model]++;
        if (e->steps < min_steps) min_steps = e->steps;
        if (e->steps > max_steps) max_steps = e->steps;
        tetri_ns slo = e->deadline - e->arrival;
        if (slo < min_slo) min_slo = slo;
        if (slo > max_slo) max_slo = slo;
        sum_slo += (double)slo;
        int k = 0;
        while (k < n_sizes && !(sizes[k].w == e->width && sizes[k].h == e->height)) k++;
        if (k == n_sizes) {
            if (n_sizes == MAX_SIZES) {
                other++;
                continue;
            }
            sizes[n_sizes++] = (size_count){e->width, e->height, 0};
        }
        sizes[k].count++;
    }
    /* Sorted by pixel count, so the summary reads small to large whatever the file order. */
    for (int a = 1; a < n_sizes; a++)
        for (int b = a; b > 0 && (int64_t)sizes[b].w * sizes[b].h < (int64_t)sizes[b - 1].w * sizes[b - 1].h; b--) {
            size_count tmp = sizes[b];
            sizes[b] = sizes[b - 1];
            sizes[b - 1] = tmp;
        }
    double first = (double)t->entries[0].arrival / 1e9, last = (double)t->entries[t->n - 1].arrival / 1e9;
    fprintf(f, "%s: %zu requests\n", name, t->n);
    fprintf(f, "  models:      ");
    for (int m = 0; m < TETRI_MODEL_COUNT; m++)
        if (per_model[m]) fprintf(f, " %s %zu", tetri_model_name((tetri_model)m), per_model[m]);
    fprintf(f, "\n  steps:        %d", (int)min_steps);
    if (max_steps != min_steps) fprintf(f, " to %d", (int)max_steps);
    fprintf(f, "\n  arrivals:     %.3f s to %.3f s (span %.3f s)", first, last, last - first);
    /* n - 1 gaps over the span: independent of where the trace's clock starts. */
    if (last > first) fprintf(f, ", %.2f requests/min", (double)(t->n - 1) * 60.0 / (last - first));
    fprintf(f, "\n  SLO (deadline - arrival): %.3f s to %.3f s, mean %.3f s\n", (double)min_slo / 1e9, (double)max_slo / 1e9,
            sum_slo / (double)t->n / 1e9);
    fprintf(f, "  resolutions:\n");
    for (int k = 0; k < n_sizes; k++)
        fprintf(f, "    %5dx%-5d %6zu  (%.1f%%)\n", (int)sizes[k].w, (int)sizes[k].h, sizes[k].count,
                100.0 * (double)sizes[k].count / (double)t->n);
    if (other) fprintf(f, "    (other sizes) %zu\n", other);
}

static int check_trace(const char *path)
{
    tetri_trace t;
    tetri_error err = {{0}};
    int rc = strcmp(path, "-") == 0 ? trace_read_csv_stream(stdin, "(stdin)", &t, &err) : trace_read_csv(path, &t, &err);
    if (rc < 0) {
        fprintf(stderr, "tetri workload: %s\n", err.msg);
        return 1;
    }
    print_summary(stdout, strcmp(path, "-") == 0 ? "(stdin)" : path, &t);
    tetri_trace_free(&t);
    return 0;
}

enum {
    OPT_MODEL = 256, OPT_STEPS, OPT_MIX, OPT_RESOLUTIONS, OPT_RES, OPT_ALPHA, OPT_ARRIVAL, OPT_RATE, OPT_CV,
    OPT_SLO_SCALE, OPT_SEED, OPT_CHECK, OPT_LOAD, OPT_SLO_BASE, OPT_PROFILE, OPT_HARDWARE, OPT_ANALYTIC,
};

/* What --load, --slo-base, --profile, --hardware and --analytic ask for. */
typedef struct relative_args {
    normalize_slo_base slo_base;
    double load; /* 0: none */
    const char *profile_path, *hardware;
    int analytic;
} relative_args;

/* Prints the bases and the rate chosen, and per resolution the cheapest degree. */
static void print_relative(FILE *f, const tetri_profile *p, const relative_args *r, const workload_spec *w)
{
    fprintf(f, "tetri workload: profile %s (%s), %d GPUs\n", profile_path(p), profile_hardware(p), profile_cluster(p)->n_gpus);
    int n = w->mix == TETRI_MIX_HOMOGENEOUS ? 1 : w->n_resolutions;
    for (int i = 0; i < n; i++) {
        int32_t side = w->mix == TETRI_MIX_HOMOGENEOUS ? w->homogeneous_resolution : w->resolutions[i];
        tetri_ns alone, cheap;
        int d_alone, d_cheap;
        tetri_error err = {{0}};
        if (normalize_standalone_ns(p, w->model, side, w->steps, r->slo_base.one_gpu, &alone, &d_alone, &err) ||
            normalize_cheapest_ns(p, w->model, side, w->steps, &cheap, &d_cheap, &err))
            continue; /* normalize_* succeeded on the same inputs before */
        fprintf(f, "  %5d: standalone %.3f s (degree %d), cheapest %.3f GPU-s (degree %d), SLO base %.3f s\n", (int)side,
                (double)alone / 1e9, d_alone, (double)cheap / 1e9, d_cheap,
                (double)workload_spec_slo_base_ns(w, side, side) / 1e9);
    }
    if (r->load > 0) fprintf(f, "  load %g of %d GPUs: rate %.4f requests/min\n", r->load, profile_cluster(p)->n_gpus, w->rate_per_min);
}

/* Opens the profile when r asks for it and sets w's bases and rate from it. Returns the exit
 * status on failure (1), or 0. */
static int apply_relative(const relative_args *r, workload_spec *w, FILE *info)
{
    if (!r->slo_base.from_profile && r->load == 0) return 0;
    tetri_error err = {{0}};
    tetri_profile *p = NULL;
    int bad = profile_open_option("--profile", r->profile_path, r->hardware, r->analytic ? TETRI_PROFILE_ANALYTIC_FALLBACK : 0, &p, &err) ||
              normalize_slo_bases(p, &r->slo_base, w, &err) || (r->load > 0 && normalize_load_rate(p, w, r->load, &err));
    if (bad) fprintf(stderr, "tetri workload: %s\n", err.msg);
    else print_relative(info, p, r, w);
    profile_close(p);
    return bad ? 1 : 0;
}

/* Generates the trace of spec and writes it, the spec as a '#' comment first, to out_path (NULL:
 * standard output). Returns the exit status. */
static int generate_and_write(const workload_spec *spec, const char *out_path)
{
    tetri_error err = {{0}};
    tetri_trace t;
    if (workload_generate(spec, &t, &err) < 0) {
        fprintf(stderr, "tetri workload: %s\n(tetri workload --help for the options)\n", err.msg);
        return 2;
    }
    FILE *f = stdout;
    if (out_path && !(f = fopen(out_path, "w"))) {
        fprintf(stderr, "tetri workload: %s: cannot write: %s\n", out_path, strerror(errno));
        tetri_trace_free(&t);
        return 1;
    }
    char desc[WORKLOAD_TEXT_MAX];
    workload_spec_format(spec, desc, sizeof desc);
    /* The spec as the generator comment: the file says how to make it again, and a replay records
     * its mix, SLO scale and rate (sim/sweep.c). */
    t.generator = desc;
    int bad = trace_write_csv(f, &t) < 0;
    t.generator = NULL; /* desc is not the trace's to free */
    int saved_errno = errno;
    if (f != stdout) bad |= fclose(f) != 0;
    else bad |= fflush(f) != 0;
    tetri_trace_free(&t);
    if (bad) {
        fprintf(stderr, "tetri workload: %s: write error: %s\n", out_path ? out_path : "(stdout)", strerror(saved_errno ? saved_errno : errno));
        return 1;
    }
    return 0;
}

/* One of --load, --slo-base, --profile, --hardware, --analytic into r. Returns 0 or -1 with err. */
static int take_relative_option(relative_args *r, int c, const char *value, tetri_error *err)
{
    workload_spec check;
    switch (c) {
    case OPT_LOAD:
        /* workload_spec_set checks the range, with the spec's words; name the option instead */
        if (workload_spec_set(&check, "load", value, err)) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            return tetri_errorf(err, "--%s", msg);
        }
        r->load = check.load;
        return 0;
    case OPT_SLO_BASE: return normalize_parse_slo_base(value, "--slo-base", &r->slo_base, err);
    case OPT_PROFILE: r->profile_path = value; return 0;
    case OPT_HARDWARE: r->hardware = value; return 0;
    default: r->analytic = 1; return 0;
    }
}

int cmd_workload(int argc, char **argv)
{
    static const struct option long_options[] = {
        {"model", required_argument, NULL, OPT_MODEL},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"mix", required_argument, NULL, OPT_MIX},
        {"resolutions", required_argument, NULL, OPT_RESOLUTIONS},
        {"res", required_argument, NULL, OPT_RES},
        {"alpha", required_argument, NULL, OPT_ALPHA},
        {"arrival", required_argument, NULL, OPT_ARRIVAL},
        {"rate", required_argument, NULL, OPT_RATE},
        {"cv", required_argument, NULL, OPT_CV},
        {"slo-scale", required_argument, NULL, OPT_SLO_SCALE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"check", required_argument, NULL, OPT_CHECK},
        {"load", required_argument, NULL, OPT_LOAD},
        {"slo-base", required_argument, NULL, OPT_SLO_BASE},
        {"profile", required_argument, NULL, OPT_PROFILE},
        {"hardware", required_argument, NULL, OPT_HARDWARE},
        {"analytic", no_argument, NULL, OPT_ANALYTIC},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* Option -> the spec key it sets (workload_spec_set), indexed by code - OPT_MODEL. */
    static const char *const keys[] = {"model", "steps", "mix", "resolutions", "res", "alpha",
                                       "arrival", "rate", "cv", "slo_scale", "seed"};
    workload_spec spec;
    workload_spec_default(&spec);
    const char *out_path = NULL, *check_path = NULL;
    int given[OPT_ANALYTIC - OPT_MODEL + 1] = {0};
    relative_args rel = {0};
    int n_given = 0;
    tetri_error err = {{0}};

    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":hn:o:", long_options, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'o': out_path = optarg; break;
        case OPT_CHECK: check_path = optarg; break;
        case OPT_LOAD: case OPT_SLO_BASE: case OPT_PROFILE: case OPT_HARDWARE: case OPT_ANALYTIC:
            given[c - OPT_MODEL] = 1;
            n_given++;
            if (take_relative_option(&rel, c, optarg, &err)) {
                fprintf(stderr, "tetri workload: %s\n(tetri workload --help for the options)\n", err.msg);
                return 2;
            }
            break;
        case 'n':
        case OPT_MODEL: case OPT_STEPS: case OPT_MIX: case OPT_RESOLUTIONS: case OPT_RES: case OPT_ALPHA:
        case OPT_ARRIVAL: case OPT_RATE: case OPT_CV: case OPT_SLO_SCALE: case OPT_SEED: {
            const char *key = c == 'n' ? "n" : keys[c - OPT_MODEL];
            if (c != 'n') given[c - OPT_MODEL] = 1;
            n_given++;
            if (workload_spec_set(&spec, key, optarg, &err) < 0) {
                /* err starts with the key; show the option the user typed instead. */
                const char *why = strchr(err.msg, ':');
                fprintf(stderr, "tetri workload: %s%s: %s\n(tetri workload --help for the options)\n", c == 'n' ? "-" : "--",
                        c == 'n' ? "n" : long_options[c - OPT_MODEL].name, why ? why + 2 : err.msg);
                return 2;
            }
            break;
        }
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);

    if (check_path) {
        if (n_given || out_path) return usage_error("%s: --check reads a trace; it takes no generation options or -o", check_path);
        return check_trace(check_path);
    }

    /* Options that only mean something with another: say so rather than silently ignore them. */
    if (given[OPT_RES - OPT_MODEL]) {
        if (given[OPT_MIX - OPT_MODEL] && spec.mix != TETRI_MIX_HOMOGENEOUS)
            return usage_error("--res is the side of --mix homogeneous, not of --mix %s", tetri_mix_name(spec.mix));
        spec.mix = TETRI_MIX_HOMOGENEOUS;
    }
    if (given[OPT_RESOLUTIONS - OPT_MODEL] && spec.mix == TETRI_MIX_HOMOGENEOUS)
        return usage_error("%s", "--resolutions lists the sizes of a uniform or skewed mix; --mix homogeneous takes --res SIDE");
    if (given[OPT_ALPHA - OPT_MODEL] && spec.mix != TETRI_MIX_SKEWED)
        return usage_error("--alpha applies to --mix skewed only (the mix is %s)", tetri_mix_name(spec.mix));
    if (given[OPT_CV - OPT_MODEL] && spec.arrival != TETRI_ARRIVAL_GAMMA)
        return usage_error("--cv applies to --arrival gamma only (the arrival process is %s)", tetri_arrival_name(spec.arrival));

    if (given[OPT_LOAD - OPT_MODEL] && given[OPT_RATE - OPT_MODEL])
        return usage_error("%s", "--rate and --load are exclusive: give the arrival rate or the offered load, not both");
    if ((given[OPT_PROFILE - OPT_MODEL] || given[OPT_HARDWARE - OPT_MODEL] || given[OPT_ANALYTIC - OPT_MODEL]) &&
        !rel.slo_base.from_profile && rel.load == 0)
        return usage_error("%s", "--profile, --hardware and --analytic apply to --load and --slo-base profile:X only");
    if (apply_relative(&rel, &spec, out_path ? stdout : stderr)) return 1;

    return generate_and_write(&spec, out_path);
}
