/* cli/cmd_profile.c: `tetri profile`: show a profile database, look one step cost up, or generate
 * analytic rows and print their calibration. Argument parsing and printing only; the work is in
 * profiles/. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "core/types.h"
#include "profiles/analytic.h"
#include "profiles/profile.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri profile [--db FILE] [--hardware NAME]          show a profile's rows\n"
            "       tetri profile measure --out FILE [...]              measure this GPU (--help for more)\n"
            "       tetri profile --lookup --model M --res R --degree K [--batch B] [--link L]\n"
            "                     [--db FILE] [--hardware NAME] [--analytic-fallback]\n"
            "       tetri profile --analytic --out FILE [--force] [--hardware LIST] [--fit] [--set K=V,...]\n"
            "       tetri profile --calibration [--fit] [--set K=V,...]  the calibration table only\n"
            "\n"
            "A profile is an SQLite database of per-step latencies (one denoising step of a batch of\n"
            "identical requests at a sequence-parallel degree over a link class), keyed by hardware,\n"
            "model and resolution; the simulator and the policies read their costs from it.\n"
            "\n"
            "Without --db the default profile is used: $TETRI_PROFILE when set, else the installed\n"
            "default.db, else this source tree's profiles/default.db (now: %s).\n"
            "\n"
            "show options:\n"
            "  --db FILE           the profile database\n"
            "  --hardware NAME     which hardware of the database (default: the one it names as\n"
            "                      default, h100x8 in the shipped profile; else its first by name)\n"
            "\n"
            "lookup options (one step cost, as the simulator would see it):\n"
            "  --model M           flux-dev or sd3-medium\n"
            "  --res R             a side (1280 = 1280x1280) or WxH (1280x720); multiples of 16.\n"
            "                      Resolutions not in the profile are interpolated over tokens and\n"
            "                      flagged; outside the profiled range they are extrapolated\n"
            "  --degree K          sequence-parallel degree (GPUs per request)\n"
            "  --batch B           identical requests batched together (default 1)\n"
            "  --link L            nvlink (default) or pcie: the slowest link inside the GPU set\n"
            "  --analytic-fallback answer degrees the profile lacks from the analytic model\n"
            "\n"
            "generation options:\n"
            "  --analytic          write analytic rows (FLOPs, achieved rates, all-to-all bytes over\n"
            "                      links, launch costs) for flux-dev and sd3-medium at 256..2048,\n"
            "                      degrees 1,2,4,8, batches 1-4 at 256 and 512, and print the model's\n"
            "                      error against every measured reference row\n"
            "  --out FILE          where; a new file, or with --force an existing profile (replaced\n"
            "                      atomically). Any other file (a results database...) is never replaced\n"
            "  --force             replace an existing profile at --out\n"
            "  --hardware LIST     comma-separated, of: h100x8, h200x8, a40x4 (default: all)\n"
            "  --fit               refit the model's constants to the reference first (prints them;\n"
            "                      the shipped profile uses the frozen ones in profiles/analytic.c)\n"
            "  --set K=V,...       override constants for a what-if profile (after --fit): launch_us,\n"
            "                      coll_host_us, ew_efficiency, ew_efficiency_hbm3e, overlap_p,\n"
            "                      attn_head64_factor. E.g. launch_us=1,coll_host_us=5: an executor\n"
            "                      replaying CUDA graphs instead of launching eagerly. The rows'\n"
            "                      method column records the constants used\n"
            "\n"
            "examples:\n"
            "  tetri profile                                    the default profile, first hardware\n"
            "  tetri profile --hardware a40x4\n"
            "  tetri profile --lookup --model flux-dev --res 1280 --degree 2\n"
            "  tetri profile --analytic --out my.db --hardware h100x8\n"
            "  tetri profile --analytic --out graphs.db --set launch_us=1,coll_host_us=5\n"
            "\n"
            "The schema, the model and its calibration are in docs/profiles.md.\n"
            "Exit status: 0 ok, 1 bad profile or missing row, 2 bad options.\n",
            profile_default_path());
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "tetri profile: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n(tetri profile --help for the options)\n");
    return 2;
}

/* "1280" or "1280x720". */
static int parse_res(const char *s, int *w, int *h)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *x = strchr(buf, 'x');
    if (x) *x = 0;
    if (tetri_int_parse(buf, 16, TETRI_MAX_SIDE, w) < 0) return -1;
    if (x) {
        if (tetri_int_parse(x + 1, 16, TETRI_MAX_SIDE, h) < 0) return -1;
    } else {
        *h = *w;
    }
    return *w % 16 || *h % 16 ? -1 : 0;
}

static void print_calibration(const analytic_params *prm)
{
    printf("calibration against ../shared/reference/MEASUREMENTS.md (PyTorch eager, Ulysses), ms per step:\n");
    printf("%-8s %-22s %-10s %5s %3s %9s %9s %7s\n", "hardware", "reference table", "model", "res", "sp", "measured",
           "predicted", "error");
    double sum_sq = 0, worst_big = 0;
    int n = analytic_calibration_count();
    for (int i = 0; i < n; i++) {
        const analytic_calib_row *r = analytic_calibration_at(i);
        double pred = analytic_calibration_predict(r, prm);
        double rel = pred / r->measured_ms - 1;
        sum_sq += log(pred / r->measured_ms) * log(pred / r->measured_ms);
        if (r->res >= 1024 && fabs(rel) > worst_big) worst_big = fabs(rel);
        printf("%-8s %-22s %-10s %5d %3d %9.1f %9.1f %+6.1f%%\n", r->hardware, r->source, tetri_model_name(r->model), r->res,
               r->degree, r->measured_ms, pred, 100 * rel);
    }
    printf("rms log error %.3f over %d rows; worst |error| at >= 1024: %.1f%%\n", sqrt(sum_sq / n), n, 100 * worst_big);
    printf("constants: launch %.2f us/kernel, all-to-all host %.1f us, element-wise efficiency %.3f (HBM3, GDDR6) / "
           "%.3f (HBM3e), overlap p %.2f, attention at head dim 64 x%.3f\n",
           prm->launch_us, prm->coll_host_us, prm->ew_efficiency, prm->ew_efficiency_hbm3e, prm->overlap_p,
           prm->attn_head64_factor);
}

static int show(const tetri_profile *p)
{
    printf("profile %s\n\n", profile_path(p));
    printf("%-10s %-26s %5s %12s %6s\n", "hardware", "gpu", "gpus", "fast domain", "rows");
    for (int i = 0; i < profile_hardware_count(p); i++) {
        const tetri_profile_hw *h = profile_hardware_at(p, i);
        printf("%-10s %-26s %5d %12d %6d%s\n", h->name, h->gpu, h->n_gpus, h->fast_domain_size, h->rows,
               strcmp(h->name, profile_hardware(p)) == 0 ? "   <- shown" : "");
    }
    for (int i = 0; i < profile_hardware_count(p); i++) {
        const tetri_profile_hw *h = profile_hardware_at(p, i);
        if (strcmp(h->name, profile_hardware(p)) != 0 || !h->link_source[0]) continue;
        printf("\nlink model of %s (one all-to-all = floor + bytes a rank sends / bandwidth): nvlink %.1f GB/s, pcie %.1f GB/s, "
               "floor %.0f us\n  source: %s\n",
               h->name, h->fast_link_gbps, h->slow_link_gbps, h->a2a_latency_us, h->link_source);
    }
    const tetri_cluster *c = profile_cluster(p);
    int degrees[TETRI_MAX_GPUS + 1], n_deg = 0;
    for (int k = 1; k <= c->n_gpus; k++) {
        int any = 0;
        for (int i = 0; i < profile_row_count(p) && !any; i++) any = profile_row_at(p, i)->degree == k;
        if (any) degrees[n_deg++] = k;
    }
    printf("\n%s: median ms per denoising step by SP degree ('-': no row; source: m measured, a analytic,\n"
           "c one rank's compute measured + all-to-alls modelled)\n",
           profile_hardware(p));
    printf("%-10s %-10s %5s %-6s", "model", "res", "batch", "link");
    for (int d = 0; d < n_deg; d++) printf("  deg %-4d", degrees[d]);
    printf(" source\n");
    /* Rows come sorted by model, tokens, width, degree, batch, link: one output line per
     * (model, resolution, batch, link), degrees across. */
    int n = profile_row_count(p);
    int n_measured = 0, n_analytic = 0, n_modelled = 0;
    for (int i = 0; i < n; i++) {
        const tetri_profile_row *r = profile_row_at(p, i);
        if (r->cost.analytic) n_analytic++;
        else if (r->cost.modelled_comm) n_modelled++;
        else n_measured++;
    }
    for (int mi = 0; mi < TETRI_MODEL_COUNT; mi++) {
        int prev_w = -1, prev_h = -1;
        for (int i = 0; i < n; i++) {
            const tetri_profile_row *r = profile_row_at(p, i);
            if ((int)r->model != mi || (r->width == prev_w && r->height == prev_h)) continue;
            prev_w = r->width;
            prev_h = r->height;
            int max_batch = 1;
            for (int j = i; j < n && profile_row_at(p, j)->width == r->width && profile_row_at(p, j)->height == r->height &&
                            (int)profile_row_at(p, j)->model == mi;
                 j++)
                if (profile_row_at(p, j)->batch > max_batch) max_batch = profile_row_at(p, j)->batch;
            for (int b = 1; b <= max_batch; b++)
                for (int l = 0; l < TETRI_LINK_COUNT; l++) {
                    char line[512], res[32], sources[8] = "";
                    int len = 0, any = 0, srcs = 0;
                    snprintf(res, sizeof res, "%dx%d", r->width, r->height);
                    len += snprintf(line + len, sizeof line - len, "%-10s %-10s %5d %-6s", tetri_model_name(r->model), res, b,
                                    tetri_link_name((tetri_link)l));
                    for (int d = 0; d < n_deg; d++) {
                        const tetri_profile_row *hit = NULL;
                        for (int j = i; j < n && !hit; j++) {
                            const tetri_profile_row *q = profile_row_at(p, j);
                            if ((int)q->model != mi || q->width != r->width || q->height != r->height) break;
                            if (q->degree == degrees[d] && q->batch == b && (int)q->link == l) hit = q;
                        }
                        if (hit) {
                            len += snprintf(line + len, sizeof line - len, "  %8.2f", hit->cost.median_ns / 1e6);
                            any = 1;
                            srcs |= hit->cost.analytic ? 2 : hit->cost.modelled_comm ? 4 : 1;
                        } else {
                            len += snprintf(line + len, sizeof line - len, "  %8s", "-");
                        }
                    }
                    if (!any) continue;
                    snprintf(sources, sizeof sources, "%s%s%s%s%s", srcs & 1 ? "m" : "", (srcs & 1) && (srcs & 6) ? "+" : "",
                             srcs & 4 ? "c" : "", (srcs & 4) && (srcs & 2) ? "+" : "", srcs & 2 ? "a" : "");
                    printf("%s %s\n", line, sources);
                }
        }
    }
    printf("\n%d rows: %d measured, %d analytic", n, n_measured, n_analytic);
    if (n_modelled) printf(", %d measured compute + modelled all-to-alls", n_modelled);
    if (n_analytic) printf(" (analytic rows stand in until measured ones replace them; docs/profiles.md)");
    printf("\nmigration (ms, nvlink) at 1024x1024: flux-dev %.3f, sd3-medium %.3f\n",
           profile_migration_ns(p, TETRI_MODEL_FLUX_DEV, 1024, 1024, TETRI_LINK_FAST) / 1e6,
           profile_migration_ns(p, TETRI_MODEL_SD3_MEDIUM, 1024, 1024, TETRI_LINK_FAST) / 1e6);
    const tetri_idle_speedup *idle = profile_idle_speedup(p);
    if (idle->present)
        printf("idle speed-up: after %.0f ms or more of idling, a block's first %.0f ms of steps run at %.4f x (the simulator's "
               "block times; predictions keep the rows')\n", (double)idle->min_idle_ns / 1e6, (double)idle->boost_ns / 1e6, idle->factor);
    else
        printf("idle speed-up: none (blocks after idling run as back to back)\n");
    return 0;
}

int cmd_profile(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "measure") == 0) return cmd_profile_measure(argc - 1, argv + 1);
    enum { OPT_DB = 256, OPT_HW, OPT_LOOKUP, OPT_MODEL, OPT_RES, OPT_DEGREE, OPT_BATCH, OPT_LINK, OPT_FALLBACK,
           OPT_ANALYTIC, OPT_OUT, OPT_FIT, OPT_CALIB, OPT_SET, OPT_FORCE };
    static const struct option long_options[] = {
        {"help", no_argument, NULL, 'h'},
        {"db", required_argument, NULL, OPT_DB},
        {"hardware", required_argument, NULL, OPT_HW},
        {"lookup", no_argument, NULL, OPT_LOOKUP},
        {"model", required_argument, NULL, OPT_MODEL},
        {"res", required_argument, NULL, OPT_RES},
        {"degree", required_argument, NULL, OPT_DEGREE},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"link", required_argument, NULL, OPT_LINK},
        {"analytic-fallback", no_argument, NULL, OPT_FALLBACK},
        {"analytic", no_argument, NULL, OPT_ANALYTIC},
        {"out", required_argument, NULL, OPT_OUT},
        {"fit", no_argument, NULL, OPT_FIT},
        {"calibration", no_argument, NULL, OPT_CALIB},
        {"set", required_argument, NULL, OPT_SET},
        {"force", no_argument, NULL, OPT_FORCE},
        {NULL, 0, NULL, 0},
    };
    const char *db = NULL, *hardware = NULL, *out = NULL, *set = NULL;
    int lookup = 0, analytic = 0, fit = 0, calib = 0, force = 0, flags = 0, have_model = 0, width = 0, height = 0, degree = 0, batch = 1;
    tetri_model model = TETRI_MODEL_FLUX_DEV;
    tetri_link link = TETRI_LINK_FAST;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case OPT_DB: db = optarg; break;
        case OPT_HW: hardware = optarg; break;
        case OPT_LOOKUP: lookup = 1; break;
        case OPT_MODEL:
            if (tetri_model_parse(optarg, &model) < 0) return usage_error("--model '%s': not flux-dev or sd3-medium", optarg);
            have_model = 1;
            break;
        case OPT_RES:
            if (parse_res(optarg, &width, &height) < 0)
                return usage_error("--res '%s': want a side or WxH, multiples of 16 in 16..16384", optarg);
            break;
        case OPT_DEGREE:
            if (tetri_int_parse(optarg, 1, TETRI_MAX_GPUS, &degree) < 0) return usage_error("--degree '%s': want 1..64", optarg);
            break;
        case OPT_BATCH:
            if (tetri_int_parse(optarg, 1, 64, &batch) < 0) return usage_error("--batch '%s': want 1..64", optarg);
            break;
        case OPT_LINK:
            if (tetri_link_parse(optarg, &link) < 0) return usage_error("--link '%s': want nvlink or pcie", optarg);
            break;
        case OPT_FALLBACK: flags |= TETRI_PROFILE_ANALYTIC_FALLBACK; break;
        case OPT_ANALYTIC: analytic = 1; break;
        case OPT_OUT: out = optarg; break;
        case OPT_FIT: fit = 1; break;
        case OPT_CALIB: calib = 1; break;
        case OPT_SET: set = optarg; break;
        case OPT_FORCE: force = 1; break;
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) return usage_error("unexpected argument '%s'", argv[optind]);
    if (lookup + analytic + calib > 1) return usage_error("%s", "--lookup, --analytic and --calibration are separate modes: pick one");

    if (analytic || calib) {
        if (db) return usage_error("%s", "--db is for reading; --analytic writes to --out");
        if (analytic && !out) return usage_error("%s", "--analytic needs --out FILE");
        if (calib && (out || hardware || force)) return usage_error("%s", "--calibration takes only --fit and --set");
        analytic_params prm = *analytic_default_params();
        tetri_error err = {{0}};
        /* Before any output: an --out that must not be replaced is an error, not a table then an error. */
        if (analytic && analytic_may_replace(out, force, &err) < 0) {
            fprintf(stderr, "tetri profile: %s\n", err.msg);
            return 1;
        }
        if (fit) {
            double rms = analytic_fit(&prm);
            printf("refitted (rms log error %.4f): launch_us %.3f, coll_host_us %.2f, ew_efficiency %.4f, ew_efficiency_hbm3e "
                   "%.4f, overlap_p %.3f, attn_head64_factor %.4f\n\n",
                   rms, prm.launch_us, prm.coll_host_us, prm.ew_efficiency, prm.ew_efficiency_hbm3e, prm.overlap_p,
                   prm.attn_head64_factor);
        }
        if (set) {
            if (analytic_params_set(&prm, set, &err) < 0) {
                fprintf(stderr, "tetri profile: %s\n(tetri profile --help for the options)\n", err.msg);
                return 2;
            }
            printf("constants overridden (--set %s): a what-if model, not the calibrated one\n\n", set);
        }
        print_calibration(&prm);
        if (!analytic) return 0;
        if (analytic_generate(out, hardware, &prm, &err) < 0) {
            fprintf(stderr, "tetri profile: %s\n", err.msg);
            return strstr(err.msg, "--hardware") ? 2 : 1;
        }
        printf("\nwrote %s (%s)\n", out, hardware ? hardware : "h100x8, h200x8, a40x4");
        return 0;
    }
    if (out || fit || set || force) return usage_error("%s", "--out, --force, --fit and --set go with --analytic or --calibration");

    if (lookup) {
        if (!have_model || !width || !degree) return usage_error("%s", "--lookup needs --model, --res and --degree");
    } else if (have_model || width || degree || batch != 1 || link != TETRI_LINK_FAST || flags) {
        return usage_error("%s", "--model, --res, --degree, --batch, --link and --analytic-fallback go with --lookup");
    }
    tetri_profile *p = NULL;
    tetri_error err = {{0}};
    if (profile_open_option("--db", db, hardware, flags, &p, &err) < 0) {
        fprintf(stderr, "tetri profile: %s\n", err.msg);
        return 1;
    }
    int rc = 0;
    if (lookup) {
        tetri_step_cost cost;
        if (profile_step_cost(p, model, width, height, degree, batch, link, &cost, &err) < 0) {
            fprintf(stderr, "tetri profile: %s\n", err.msg);
            rc = 1;
        } else {
            printf("%s %s %dx%d (%d tokens) degree %d batch %d %s: %.3f ms per step (p10 %.3f, p90 %.3f, cv %.3f)\n",
                   profile_hardware(p), tetri_model_name(model), width, height, (width / 16) * (height / 16), degree, batch,
                   tetri_link_name(degree == 1 ? TETRI_LINK_FAST : link), cost.median_ns / 1e6, cost.p10_ns / 1e6,
                   cost.p90_ns / 1e6, cost.cv);
            printf("%s, from %s rows\n",
                   cost.fallback ? "no row for this degree: the analytic model's prediction (--analytic-fallback)"
                   : cost.extrapolated ? "extrapolated beyond the profiled resolutions (nearest row x the analytic model's ratio)"
                   : cost.interpolated ? "interpolated over tokens between profiled resolutions"
                                       : "exact: a profiled resolution",
                   cost.fallback ? "no" : cost.analytic ? "analytic" : "measured");
        }
    } else {
        rc = show(p);
    }
    profile_close(p);
    return rc;
}
