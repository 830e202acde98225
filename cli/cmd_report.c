/* cli/cmd_report.c: `tetri report`: SLO-attainment tables and long CSV from a results database. */
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
            "usage: tetri report --db FILE [--experiment NAME] [--by DIMS] [--metric M] [--runs] [--csv FILE|-]\n"
            "                    [--timing] [--requests FILE|-]\n"
            "       tetri report --db FILE --list\n"
            "\n"
            "Prints SLO attainment (met / n) tables from a results database (or another --metric): one per mix\n"
            "(and per model, hardware, backend, rate or experiment when those differ), rows policy, columns\n"
            "SLO scale; each cell is the mean over seeds, with the number of seeds and min..max.\n"
            "\n"
            "  --db FILE          results database (written by tetri sim / tetri demo)\n"
            "  --experiment NAME  only this experiment (default: every experiment in the db)\n"
            "  --by DIMS          table split, columns, rows: comma list of experiment, model, hardware,\n"
            "                     backend, mix, rate, scale, policy; the last two are columns and rows\n"
            "                     (default mix,scale,policy; e.g. mix,rate,policy for attainment vs rate)\n"
            "  --metric M         what the cells show: attainment (default), p50 or p99 (latency, s),\n"
            "                     degree (mean SP degree), gpu_s (GPU-seconds), dropped (requests)\n"
            "  --runs             also one line per run (counts, latency p50/p99, mean degree, GPU-s, times)\n"
            "  --csv FILE|-       write long-format CSV, one row per run (\"-\": stdout, no table)\n"
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

int cmd_report(int argc, char **argv)
{
    const char *db_path = NULL, *experiment = NULL, *csv_path = NULL, *requests_path = NULL, *by = "mix,scale,policy",
               *metric = "attainment";
    int show_runs = 0, with_timing = 0, list = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            report_usage(stdout);
            return 0;
        } else if (strcmp(a, "--db") == 0) {
            if (!(db_path = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--experiment") == 0) {
            if (!(experiment = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--csv") == 0) {
            /* "-" is a value here, not an option. */
            if (i + 1 >= argc) {
                fprintf(stderr, "tetri report: option --csv needs a value (a file, or - for stdout)\n");
                return 2;
            }
            csv_path = argv[++i];
        } else if (strcmp(a, "--requests") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tetri report: option --requests needs a value (a file, or - for stdout)\n");
                return 2;
            }
            requests_path = argv[++i];
        } else if (strcmp(a, "--by") == 0) {
            if (!(by = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--metric") == 0) {
            if (!(metric = option_value(argc, argv, &i))) return 2;
        } else if (strcmp(a, "--runs") == 0) {
            show_runs = 1;
        } else if (strcmp(a, "--timing") == 0) {
            with_timing = 1;
        } else if (strcmp(a, "--list") == 0) {
            list = 1;
        } else {
            fprintf(stderr, "tetri report: unknown argument '%s'\n\n", a);
            report_usage(stderr);
            return 2;
        }
    }
    if (!db_path) {
        fprintf(stderr, "tetri report: --db FILE is required\n\n");
        report_usage(stderr);
        return 2;
    }
    tetri_error err = {{0}};
    report_options opt;
    if (report_parse_by(by, opt.by, &opt.n_by, &err) || report_parse_metric(metric, &opt.metric, &err)) {
        fprintf(stderr, "tetri report: %s\n", err.msg);
        return 2;
    }
    results_db *db = NULL;
    if (results_open_readonly(db_path, &db, &err)) {
        fprintf(stderr, "tetri report: %s\n", err.msg);
        return 1;
    }
    int rc = 1;
    results_run *runs = NULL;
    size_t n_runs = 0;
    int64_t experiment_id = -1;
    if (list) {
        rc = list_experiments(db, &err) ? 1 : 0;
        goto done;
    }
    if (experiment && results_find_experiment(db, experiment, &experiment_id, &err)) goto done;
    if (results_load_runs(db, experiment_id, &runs, &n_runs, &err)) goto done;
    if (n_runs == 0) {
        tetri_errorf(&err, "%s: no runs%s%s", db_path, experiment ? " in experiment " : "", experiment ? experiment : "");
        goto done;
    }
    int csv_to_stdout = csv_path && strcmp(csv_path, "-") == 0;
    int requests_to_stdout = requests_path && strcmp(requests_path, "-") == 0;
    if (csv_to_stdout && requests_to_stdout) {
        tetri_errorf(&err, "--csv - and --requests - both want stdout; give one of them a file");
        goto done;
    }
    if (!csv_to_stdout && !requests_to_stdout) {
        if (report_print_tables(stdout, runs, n_runs, &opt, &err)) goto done;
        if (show_runs) {
            printf("\n");
            report_print_runs(stdout, runs, n_runs);
        }
    }
    if (csv_path) {
        FILE *f = csv_to_stdout ? stdout : fopen(csv_path, "w");
        if (!f) {
            tetri_errorf(&err, "%s: cannot write CSV: %s", csv_path, strerror(errno));
            goto done;
        }
        report_write_csv(f, runs, n_runs, with_timing);
        if (!csv_to_stdout) {
            if (fclose(f) != 0) {
                tetri_errorf(&err, "%s: cannot write CSV: %s", csv_path, strerror(errno));
                goto done;
            }
            printf("\nwrote %s (%zu runs)\n", csv_path, n_runs);
        }
    }
    if (requests_path) {
        FILE *f = requests_to_stdout ? stdout : fopen(requests_path, "w");
        if (!f) {
            tetri_errorf(&err, "%s: cannot write CSV: %s", requests_path, strerror(errno));
            goto done;
        }
        int bad = report_write_requests_csv(f, db, runs, n_runs, &err);
        if (!requests_to_stdout && fclose(f) != 0 && !bad) {
            tetri_errorf(&err, "%s: cannot write CSV: %s", requests_path, strerror(errno));
            bad = 1;
        }
        if (bad) goto done;
        if (!requests_to_stdout) printf("wrote %s (the requests of %zu runs)\n", requests_path, n_runs);
    }
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
