/* cli/cmd_merge.c: `tetri merge`: every run of several results databases into one (results/merge.h),
 * e.g. tetri validate's device calls, one policy each, or a sweep's shards from several machines.
 * defines: cmd_merge. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "results/merge.h"
#include "results/results.h"

static void merge_usage(FILE *f)
{
    fprintf(f,
            "usage: tetri merge --out OUT.db IN.db [IN.db ...]\n"
            "\n"
            "Copies every run of every experiment of each IN results database into OUT (created if missing):\n"
            "one database of runs made apart (tetri validate's device calls, one policy each; a sweep's\n"
            "shards from several machines) for tetri report, tetri plot and tetri validate --from-db.\n"
            "\n"
            "Experiments are matched by name. One new to OUT takes IN's config text; one in both keeps OUT's,\n"
            "followed by \"# merged from IN.db:\" and IN's text unless OUT's already contains it. A run keeps\n"
            "every field and row. A run whose key OUT's experiment has already is compared with it by content\n"
            "(every row but the host measurements): the same, it is left (\"already there\"); different, OUT's\n"
            "is kept, both files and the key are named on stderr and the exit status is 1, and the other runs\n"
            "are still merged. Each run is written in its own transaction: merging again copies nothing, and\n"
            "a merge cut short is finished by running it again.\n"
            "\n"
            "  --out FILE   the database to merge into (created if missing; never one of the INs)\n"
            "  IN.db ...    results databases to copy from, in this order (read only)\n"
            "\n"
            "Prints a line per IN (runs copied, already there, conflicting) and the total. Exit status 0;\n"
            "1 when a database cannot be read or written or a run conflicts; 2 for a usage error.\n");
}

/* What the command line asked for: ins[0..n_ins-1] point into argv. */
typedef struct merge_args {
    const char *out_path;
    const char **ins;
    int n_ins;
} merge_args;

/* A usage error: the message, then the usage. Returns 2. */
static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "tetri merge: %s%s%s\n\n", what, arg ? " " : "", arg ? arg : "");
    merge_usage(stderr);
    return 2;
}

/* Parses argv into *a (a->ins allocated for argc entries). Returns -1 when all is well, else the
 * exit status (0 after --help, 2 for a usage error, with its message printed). */
static int parse_args(int argc, char **argv, merge_args *a)
{
    *a = (merge_args){.ins = malloc((size_t)argc * sizeof *a->ins)};
    if (!a->ins) {
        fprintf(stderr, "tetri merge: out of memory\n");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
            merge_usage(stdout);
            return 0;
        } else if (strcmp(o, "--out") == 0) {
            if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] == '-'))
                return usage_error("option --out needs a value (a file)", NULL);
            a->out_path = argv[++i];
        } else if (o[0] == '-') {
            return usage_error("unknown option", o);
        } else {
            a->ins[a->n_ins++] = o;
        }
    }
    if (!a->out_path) return usage_error("--out FILE is required", NULL);
    if (a->n_ins == 0) return usage_error("give at least one results database to merge (IN.db)", NULL);
    return -1;
}

/* Refuses an IN that is OUT: the same name, or the same file (a link, another spelling). A file
 * that does not exist is left to results_open_readonly, whose message names it. */
static int refuse_out_as_input(const char *out_path, const char *in_path, tetri_error *err)
{
    struct stat out_sb, in_sb;
    if (strcmp(out_path, in_path) == 0 ||
        (stat(out_path, &out_sb) == 0 && stat(in_path, &in_sb) == 0 && out_sb.st_dev == in_sb.st_dev &&
         out_sb.st_ino == in_sb.st_ino))
        return tetri_errorf(err, "%s: is the --out database %s itself; a database is not merged into itself",
                            in_path, out_path);
    return 0;
}

/* Opens every IN for reading (into ins[]) before OUT is made, so that a missing or wrong IN
 * leaves no new OUT behind. */
static int open_inputs(const merge_args *a, results_db **ins, tetri_error *err)
{
    for (int i = 0; i < a->n_ins; i++)
        if (refuse_out_as_input(a->out_path, a->ins[i], err) || results_open_readonly(a->ins[i], &ins[i], err)) return -1;
    return 0;
}

/* Where a conflict message names its two files. */
typedef struct conflict_names {
    const char *out_path, *in_path;
} conflict_names;

static void print_conflict(const results_merge_conflict *c, void *ctx)
{
    const conflict_names *names = ctx;
    fprintf(stderr,
            "tetri merge: %s: run '%s' of experiment '%s' differs from %s's; kept %s's (first at dump line %zu:\n"
            "  %s: %s\n  %s: %s)\n",
            names->in_path, c->run_key, c->experiment, names->out_path, names->out_path, c->line, names->out_path,
            c->into_line, names->in_path, c->from_line);
}

static void print_counts(const char *label, const results_merge_counts *n)
{
    printf("%s: %lld run(s) copied, %lld already there, %lld conflicting\n", label, (long long)n->copied,
           (long long)n->already, (long long)n->conflicting);
}

/* Merges each IN into out in order, printing its line; the sums into *total. */
static int merge_inputs(const merge_args *a, results_db *out, results_db **ins, results_merge_counts *total,
                        tetri_error *err)
{
    for (int i = 0; i < a->n_ins; i++) {
        results_merge_counts n = {0, 0, 0};
        conflict_names names = {a->out_path, a->ins[i]};
        const int rc = results_merge(out, ins[i], a->ins[i], &n, print_conflict, &names, err);
        total->copied += n.copied;
        total->already += n.already;
        total->conflicting += n.conflicting;
        if (rc) return tetri_error_prefix(err, "merging %s (%lld run(s) copied before this; merge again to finish)",
                                          a->ins[i], (long long)n.copied);
        print_counts(a->ins[i], &n);
    }
    return 0;
}

int cmd_merge(int argc, char **argv)
{
    merge_args a;
    int status = parse_args(argc, argv, &a);
    if (status >= 0) {
        free(a.ins);
        return status;
    }
    tetri_error err = {{0}};
    results_db **ins = calloc((size_t)a.n_ins, sizeof *ins), *out = NULL;
    results_merge_counts total = {0, 0, 0};
    int rc = 1;
    if (!ins) tetri_errorf(&err, "out of memory");
    else if (!open_inputs(&a, ins, &err) && !results_open(a.out_path, &out, &err) && !merge_inputs(&a, out, ins, &total, &err))
        rc = 0;
    if (rc) {
        fprintf(stderr, "tetri merge: %s\n", err.msg);
    } else {
        char label[600];
        snprintf(label, sizeof label, "total into %s", a.out_path);
        print_counts(label, &total);
    }
    if (rc == 0 && total.conflicting)
        fprintf(stderr, "tetri merge: %lld run(s) conflict: %s kept its own run of each key named above\n",
                (long long)total.conflicting, a.out_path);
    results_close(out);
    for (int i = 0; ins && i < a.n_ins; i++) results_close(ins[i]);
    free(ins);
    free(a.ins);
    return rc ? 1 : total.conflicting ? 1 : 0;
}
