/* cli/cmd_report.c: `tetri report`: SLO-attainment (or another metric's) tables, per-run and
 * per-run block lines, and long CSV from a results database. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "results/report.h"
#include "results/results.h"

static void report_usage(FILE *f)
{
    fprintf(f,
            "usage: tetri report --db FILE [--experiment NAME] [--by DIMS] [--metric M] [--runs] [--blocks]\n"
            "                    [--csv FILE|-] [--timing] [--requests FILE|-]\n"
            "       tetri report --db FILE --list\n"
            "\n"
            "Prints SLO attainment (met / n) tables from a results database (or another --metric): one per mix\n"
            "(and per model, hardware, backend, rate or experiment when those differ), rows policy, columns\n"
            "SLO scale; each cell is the mean over seeds, with the number of seeds and min..max.\n"
            "\n"
            "  --db FILE          results database (written by tetri sim / tetri demo)\n"
            "  --experiment NAME  only this experiment (default: every experiment in the db)\n"
            "  --by DIMS          table split, columns, rows: comma list of experiment, model, hardware,\n"
            "                     backend, mix, rate, load, scale, policy; the last two are columns and\n"
            "                     rows (default mix,scale,policy; e.g. mix,rate,policy for attainment vs\n"
            "                     rate, mix,load,policy vs the offered load of tetri sim --load)\n"
            "  --metric M         what the cells show: attainment (default), p50 or p99 (latency, s),\n"
            "                     degree (mean SP degree), gpu_s (GPU-seconds), dropped (requests),\n"
            "                     block_err (mean of (actual - predicted) / predicted block duration)\n"
            "  --runs             also one line per run (counts, latency p50/p99, mean degree, GPU-s, times)\n"
            "  --blocks           also one line per run on its blocks, predicted vs actual: count, failed,\n"
            "                     relative duration error mean/p50/p99, start delay p50/p99 (ms)\n"
            "  --csv FILE|-       write long-format CSV, one row per run (with --blocks, its block statistics)\n"
            "                     (\"-\": stdout, no table)\n"
            "  --timing           add host measurements to the CSV (wall time, decision times; these\n"
            "                     differ between repeated runs, the other columns do not)\n"
            "  --requests FILE|-  write every request of the runs as CSV (times in s; \"-\": stdout, no table)\n"
            "  --list             list the experiments and their run counts\n");
}

/* Takes the value of option argv[*i] ("--db FILE"). NULL (and a message) when it is missing. */
static const char *option_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc || (argv[*i + 1][0] == '-' && argv[*i + 1][1] == '-')) {
        fprintf(stderr, "tetri report: option %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int list_experiments(results_db *db, tetri_error *err)
{
    results_experiment_info *e;
    size_t n;
    if (results_list_experiments(db, &e, &n, err)) return -1;
    printf("%-24s %6s\n", "experiment", "runs");
    for (size_t i = 0; i < n; i++) printf("%-24s %6lld\n", e[i].name, (long long)e[i].n_runs);
    results_experiments_free(e, n);
    return 0;
}

/* What the command line asked for. */
typedef struct report_args {
    const char *db_path, *experiment, *csv_path, *requests_path, *by, *metric;
    int show_runs, show_blocks, with_timing, list;
} report_args;

/* Parses argv into *a. Returns -1 when all is well, else the exit status (0 after --help, 2 for a
 * usage error, with its message printed). */
static int parse_args(int argc, char **argv, report_args *a)
{
    *a = (report_args){.by = "mix,scale,policy", .metric = "attainment"};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            report_usage(stdout);
            return 0;
        } else if (strcmp(o, "--db") == 0) {
            if (!(a->db_path = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(o, "--experiment") == 0) {
            if (!(a->experiment = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(o, "--csv") == 0 || strcmp(o, "--requests") == 0) {
            /* "-" is a value here, not an option. */
            if (i + 1 >= argc) {
                fprintf(stderr, "tetri report: option %s needs a value (a file, or - for stdout)\n", o);
                return 2;
            }
            const char **value = strcmp(o, "--csv") == 0 ? &a->csv_path : &a->requests_path;
            *value = argv[++i];
        } else if (strcmp(o, "--by") == 0) {
            if (!(a->by = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(o, "--metric") == 0) {
            if (!(a->metric = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(o, "--runs") == 0) {
            a->show_runs = 1;
        } else if (strcmp(o, "--blocks") == 0) {
            a->show_blocks = 1;
        } else if (strcmp(o, "--timing") == 0) {
            a->with_timing = 1;
        } else if (strcmp(o, "--list") == 0) {
            a->list = 1;
        } else {
            fprintf(stderr, "tetri report: unknown argument '%s'\n\n", o);
            report_usage(stderr);
            return 2;
        }
    }
    if (!a->db_path) {
        fprintf(stderr, "tetri report: --db FILE is required\n\n");
        report_usage(stderr);
        return 2;
    }
    return -1;
}

/* Writes the per-run CSV (requests 0) or the per-request CSV (1) to path ("-": stdout). */
static int write_csv(const char *path, int requests, results_db *db, const results_run *runs, size_t n_runs,
                     int with_timing, int with_blocks, tetri_error *err)
{
    int to_stdout = strcmp(path, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(path, "w");
    if (!f) return tetri_errorf(err, "%s: cannot write CSV: %s", path, strerror(errno));
    int bad = 0;
    if (requests) bad = report_write_requests_csv(f, db, runs, n_runs, err);
    else report_write_csv(f, runs, n_runs, with_timing, with_blocks);
    if (!to_stdout && fclose(f) != 0 && !bad) bad = tetri_errorf(err, "%s: cannot write CSV: %s", path, strerror(errno));
    if (bad) return -1;
    if (to_stdout) return 0;
    if (requests) printf("wrote %s (the requests of %zu runs)\n", path, n_runs);
    else printf("\nwrote %s (%zu runs)\n", path, n_runs);
    return 0;
}

int cmd_report(int argc, char **argv)
{
    report_args a;
    int status = parse_args(argc, argv, &a);
    if (status >= 0) return status;
    tetri_error err = {{0}};
    report_options opt;
    if (report_parse_by(a.by, opt.by, &opt.n_by, &err) || report_parse_metric(a.metric, &opt.metric, &err)) {
        fprintf(stderr, "tetri report: %s\n", err.msg);
        return 2;
    }
    results_db *db = NULL;
    if (results_open_readonly(a.db_path, &db, &err)) {
        fprintf(stderr, "tetri report: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    results_run *runs = NULL;
    size_t n_runs = 0;
    int64_t experiment_id = -1;
    if (a.list) {
        rc = list_experiments(db, &err) ? 1 : 0;
        goto done;
    }
    if (a.experiment && results_find_experiment(db, a.experiment, &experiment_id, &err)) goto done;
    if (results_load_runs(db, experiment_id, &runs, &n_runs, &err)) goto done;
    if (n_runs == 0) {
        tetri_errorf(&err, "%s: no runs%s%s", a.db_path, a.experiment ? " in experiment " : "",
                     a.experiment ? a.experiment : "");
        goto done;
    }
    int csv_to_stdout = a.csv_path && strcmp(a.csv_path, "-") == 0;
    int requests_to_stdout = a.requests_path && strcmp(a.requests_path, "-") == 0;
    if (csv_to_stdout && requests_to_stdout) {
        tetri_errorf(&err, "--csv - and --requests - both want stdout; give one of them a file");
        goto done;
    }
    if (!csv_to_stdout && !requests_to_stdout) {
        if (report_print_tables(stdout, runs, n_runs, &opt, &err)) goto done;
        if (a.show_runs) {
            printf("\n");
            report_print_runs(stdout, runs, n_runs);
        }
        if (a.show_blocks) {
            printf("\n");
            report_print_blocks(stdout, runs, n_runs);
        }
    }
    if (a.csv_path && write_csv(a.csv_path, 0, db, runs, n_runs, a.with_timing, a.show_blocks, &err)) goto done;
    if (a.requests_path && write_csv(a.requests_path, 1, db, runs, n_runs, 0, 0, &err)) goto done;
    if (fflush(stdout) != 0) {
        tetri_errorf(&err, "cannot write to stdout: %s", strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (rc) fprintf(stderr, "tetri report: %s\n", err.msg);
    results_runs_free(runs, n_runs);
    results_close(db);
    return rc;
}
