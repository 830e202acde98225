/* cli/cmd_workload.c: `tetri workload`: generate a request trace (CSV) from options, or check one.
 * Argument parsing and printing only; the generator and reader live in workloads/. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
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
            "  tetri workload --check my-trace.csv\n"
            "\n"
            "The file format (columns id,model,width,height,steps,arrival_s,deadline_s) is in\n"
            "docs/trace-format.md. Exit status: 0 ok, 1 bad trace or I/O error, 2 bad options.\n");
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
    OPT_SLO_SCALE, OPT_SEED, OPT_CHECK,
};

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
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* Option -> the spec key it sets (workload_spec_set), indexed by code - OPT_MODEL. */
    static const char *const keys[] = {"model", "steps", "mix", "resolutions", "res", "alpha",
                                       "arrival", "rate", "cv", "slo_scale", "seed"};
    workload_spec spec;
    workload_spec_default(&spec);
    const char *out_path = NULL, *check_path = NULL;
    int given[OPT_CHECK - OPT_MODEL + 1] = {0};
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

    tetri_trace t;
    if (workload_generate(&spec, &t, &err) < 0) {
        fprintf(stderr, "tetri workload: %s\n(tetri workload --help for the options)\n", err.msg);
        return 2;
    }
    FILE *f = stdout;
    if (out_path && !(f = fopen(out_path, "w"))) {
        fprintf(stderr, "tetri workload: %s: cannot write: %s\n", out_path, strerror(errno));
        tetri_trace_free(&t);
        return 1;
    }
    char desc[512];
    workload_spec_format(&spec, desc, sizeof desc);
    /* The spec as a comment: the file says how to make it again; readers skip '#' lines. */
    int bad = fprintf(f, "# tetri workload: %s\n", desc) < 0 || trace_write_csv(f, &t) < 0;
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
