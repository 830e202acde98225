/* cli/cmd_sweep.c: `tetri sweep FILE.ini [options]`: an experiment file (read with inih) holding
 * one or more grids, each run as `tetri sim` would run it from the file's keys and the command
 * line's options (which override the file's), on every core by default.
 *
 * A file's keys are tetri sim's long options without "--" (docs/sweeps.md lists them with their
 * defaults); [sweep] (or no section) holds the keys every grid shares, and each [grid NAME] section
 * one grid, its keys replacing the shared ones of the same name. Lists in profile, hardware and
 * model make one grid per combination; a policy's option may list values (policy_grid.h). Every key
 * is checked as it is read: an unknown key or a bad value stops the sweep with FILE:LINE: key.
 * Started by mpirun, the sweep runs across the ranks (cli/sweep_mpi.h), in tetri-mpi: tetri execs
 * it, as it execs tetri-gpu for GPU commands, so that tetri itself never links MPI. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/gpu_dispatch.h"
#include "cli/policy_grid.h"
#include "cli/sim_grid.h"
#include "sched/policy.h"
#include "sim/sweep_jobs.h"
#ifdef TETRI_HAVE_MPI
#include "cli/sweep_mpi.h"
#endif

#define SWEEP_MAX_GRIDS 64
#define SWEEP_FILE_MAX (1 << 20) /* an experiment file is a page or two; this keeps a wrong file out */

enum { LAYER_SHARED, LAYER_GRID, LAYER_FLAGS };

/* One key = value of the file, or one option of the command line. */
typedef struct sweep_entry {
    char *name, *value; /* value NULL: a switch given on the command line */
    int line;           /* in the file; 0 for the command line */
    int layer, grid;    /* grid: the [grid NAME] index, -1 when shared or a flag */
} sweep_entry;

typedef struct sweep_file {
    const char *path;
    sweep_entry *e;
    size_t n, cap;
    char *grids[SWEEP_MAX_GRIDS];
    int n_grids;
    int line;             /* the line being read */
    tetri_error err;      /* the first error */
    int bad_line;         /* its line */
} sweep_file;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: tetri sweep FILE.ini [options of tetri sim] [--jobs N] [-q]\n"
            "\n"
            "Runs the experiment FILE describes: one or more grids of policies x rates x mixes x SLO\n"
            "scales x seeds (and profiles, hardware and models) into one results database, each run\n"
            "written once; run it again to finish what a killed sweep left (runs already there are\n"
            "skipped). Keys are tetri sim's options without \"--\" (tetri sim --help), e.g.\n"
            "\n"
            "  [sweep]\n"
            "  experiment = paper              ; default: FILE's name without .ini\n"
            "  db = paper.db                   ; default: results.db\n"
            "  policy = tetriserve:g=1,2,5     ; repeat the key for more; values after a key= are a grid\n"
            "  mix = uniform,skewed\n"
            "  slo-scale = 1.0:1.5:0.1\n"
            "  seeds = 1-5\n"
            "  [grid rates]                    ; one more grid: its keys replace [sweep]'s\n"
            "  rate = 6:18:2\n"
            "\n"
            "Options on the command line override the file's keys (docs/sweeps.md has every key and its\n"
            "default); the experiment stores the file and the options that ran.\n"
            "  --jobs N    runs at a time, each in a worker process (default: the %d cores available)\n"
            "  -q          only the summary lines; on a terminal, otherwise a progress bar\n"
            "Exit status: 0 ok, 1 a run or file failed, 2 a bad file or option.\n",
            sweep_cores_available());
}

static int push_entry(sweep_file *f, const char *name, const char *value, int line, int layer, int grid)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 32;
        sweep_entry *e = realloc(f->e, cap * sizeof *e);
        if (!e) return tetri_errorf(&f->err, "out of memory");
        f->e = e;
        f->cap = cap;
    }
    sweep_entry *e = &f->e[f->n];
    *e = (sweep_entry){.name = strdup(name), .value = value ? strdup(value) : NULL, .line = line, .layer = layer, .grid = grid};
    if (!e->name || (value && !e->value)) return tetri_errorf(&f->err, "out of memory");
    f->n++;
    return 0;
}

static void sweep_file_free(sweep_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->e[i].name);
        free(f->e[i].value);
    }
    free(f->e);
    for (int g = 0; g < f->n_grids; g++) free(f->grids[g]);
}

/* on/off and the usual spellings of a switch's value: 1 on, 0 off, -1 neither. */
static int switch_value(const char *v)
{
    static const char *const on[] = {"on", "true", "yes", "1"}, *const off[] = {"off", "false", "no", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, on[i]) == 0) return 1;
        if (strcasecmp(v, off[i]) == 0) return 0;
    }
    return -1;
}

/* Keys whose values may be lists of grids to run one after the other. */
static int is_grid_list_key(const char *name)
{
    return strcmp(name, "profile") == 0 || strcmp(name, "hardware") == 0 || strcmp(name, "model") == 0;
}

/* One value checked as tetri sim takes it (each item of a list key, each policy of a grid). */
static int check_value(const char *name, const char *value, tetri_error *err)
{
    const int arity = sim_option_arity(name);
    if (arity < 0) return tetri_errorf(err, "unknown key (keys are tetri sim's options: tetri sim --help)");
    if (arity == 0) return switch_value(value) < 0 ? tetri_errorf(err, "'%s' is not on or off", value) : 0;
    if (strcmp(name, "policy") == 0) {
        char **specs;
        size_t n;
        if (policy_grid_expand(value, &specs, &n, err)) return -1;
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            char policy[TETRI_POLICY_SPEC_MAX];
            snprintf(policy, sizeof policy, "%.*s", (int)strcspn(specs[i], ":"), specs[i]);
            if (rc == 0 && !tetri_policy_find(policy))
                rc = tetri_errorf(err, "'%s' is not a policy (tetri policies lists them)", policy);
            free(specs[i]);
        }
        free(specs);
        return rc;
    }
    if (!is_grid_list_key(name)) return sim_option_check(name, value, err);
    const size_t len = strlen(value);
    if (!len || value[0] == ',' || value[len - 1] == ',' || strstr(value, ",,"))
        return tetri_errorf(err, "'%s' has an empty item (a stray comma?)", value);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", value);
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save))
        if (sim_option_check(name, item, err)) return -1;
    return 0;
}

/* value without the blanks around its commas ("uniform, skewed" is "uniform,skewed"). */
static void squeeze_commas(const char *value, char *out, size_t len)
{
    size_t n = 0;
    for (const char *c = value; *c && n + 1 < len; c++) {
        if ((*c == ' ' || *c == '\t') && (n > 0 && out[n - 1] == ',')) continue;
        if (*c == ' ' || *c == '\t') {
            const char *next = c + strspn(c, " \t");
            if (*next == ',') continue;
        }
        out[n++] = *c;
    }
    out[n] = '\0';
}

/* The section a key is in: [sweep] (or none) is -1, [grid NAME] its grid index. Returns -2 with
 * f->err for any other section. inih tells a key's section, not a section's start: an empty
 * [grid NAME] makes no grid. */
static int section_of(sweep_file *f, const char *section)
{
    if (!section[0] || strcmp(section, "sweep") == 0) return -1;
    for (int g = 0; g < f->n_grids; g++)
        if (strcmp(f->grids[g], section + 5) == 0 && strncmp(section, "grid ", 5) == 0) return g;
    if (strncmp(section, "grid ", 5) != 0 || !section[5])
        return tetri_errorf(&f->err, "[%s]: the sections are [sweep] and [grid NAME]", section) - 1;
    if (f->n_grids == SWEEP_MAX_GRIDS) return tetri_errorf(&f->err, "[%s]: more than %d grids", section, SWEEP_MAX_GRIDS) - 1;
    if (!(f->grids[f->n_grids] = strdup(section + 5))) return tetri_errorf(&f->err, "out of memory") - 1;
    return f->n_grids++;
}

/* inih's callback for each key = value. Returns 0 on the first error (inih reports its line). */
static int on_ini_item(void *user, const char *section, const char *name, const char *value)
{
    sweep_file *f = user;
    if (f->err.msg[0]) return 1; /* only the first error is told */
    const int grid = section_of(f, section);
    tetri_error err = {{0}};
    char v[1024];
    squeeze_commas(value, v, sizeof v);
    if (grid >= -1 && check_value(name, v, &err) == 0 &&
        push_entry(f, name, v, f->line, grid >= 0 ? LAYER_GRID : LAYER_SHARED, grid) == 0)
        return 1;
    if (err.msg[0]) tetri_errorf(&f->err, "%s: %s", name, err.msg);
    f->bad_line = f->line;
    return 0;
}

/* inih's reader over the file's text: one line at a time, counted (f->line), so each key knows
 * its line; a line too long for inih's buffer is an error rather than two lines. */
typedef struct text_reader {
    const char *at;
    sweep_file *f;
} text_reader;

static char *read_line(char *str, int num, void *stream)
{
    text_reader *r = stream;
    if (!*r->at) return NULL;
    const char *nl = strchr(r->at, '\n');
    const size_t len = nl ? (size_t)(nl - r->at) + 1 : strlen(r->at);
    size_t copy = len;
    r->f->line++;
    if (len >= (size_t)num) {
        if (!r->f->err.msg[0]) {
            tetri_errorf(&r->f->err, "a line longer than %d characters (split a list over several keys)", num - 2);
            r->f->bad_line = r->f->line;
        }
        copy = (size_t)num - 1;
    }
    memcpy(str, r->at, copy);
    str[copy] = '\0';
    r->at += len;
    /* inih tells a section only with its first key: a [grid NAME] without keys (one that runs the
     * shared keys as they are) is made a grid here. */
    const char *open = str + strspn(str, " \t"), *close = strchr(open, ']');
    if (*open == '[' && close && !r->f->err.msg[0]) {
        char section[256];
        snprintf(section, sizeof section, "%.*s", (int)(close - open - 1), open + 1);
        if (section_of(r->f, section) < -1) r->f->bad_line = r->f->line;
    }
    return str;
}

/* The whole file (for inih and for the experiment's stored config). Returns it, or NULL with err. */
static char *read_file(const char *path, tetri_error *err)
{
    FILE *in = fopen(path, "rb");
    if (!in) return tetri_errorf(err, "%s: %s", path, strerror(errno)), NULL;
    char *text = malloc(SWEEP_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, SWEEP_FILE_MAX + 1, in) : 0;
    const int bad = !text || ferror(in) || n > SWEEP_FILE_MAX || memchr(text, '\0', n);
    fclose(in);
    if (bad) {
        tetri_errorf(err, "%s: %s", path, !text ? "out of memory" : n > SWEEP_FILE_MAX ? "larger than 1 MiB: not an experiment file"
                                                                  : "cannot be read as text");
        free(text);
        return NULL;
    }
    text[n] = '\0';
    return text;
}

/* The file's keys into f. Returns 0, or -1 with err naming FILE:LINE: key. */
static int parse_file(sweep_file *f, const char *text, tetri_error *err)
{
    text_reader r = {.at = text, .f = f};
    const int line = ini_parse_stream(read_line, &r, on_ini_item, f);
    if (!f->err.msg[0] && line == 0) return 0;
    if (line < 0) return tetri_errorf(err, "%s: out of memory", f->path);
    if (!f->err.msg[0]) return tetri_errorf(err, "%s:%d: not 'key = value', '[sweep]' or '[grid NAME]'", f->path, line);
    return tetri_errorf(err, "%s:%d: %s", f->path, f->bad_line ? f->bad_line : line, f->err.msg);
}

/* The command line after FILE into f (LAYER_FLAGS). Returns 0, 1 after --help, or -1 with err. */
static int parse_flags(sweep_file *f, int argc, char **argv, const char **file, tetri_error *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) return 1;
        if (a[0] != '-' || !a[1]) {
            if (*file) return tetri_errorf(err, "unexpected argument '%s' (one experiment file)", a);
            *file = a;
            continue;
        }
        char name[64];
        const char *eq = strchr(a, '='), *value = NULL;
        if (strcmp(a, "-q") == 0) snprintf(name, sizeof name, "quiet");
        else if (strcmp(a, "-n") == 0) snprintf(name, sizeof name, "requests");
        else if (a[1] == '-') snprintf(name, sizeof name, "%.*s", (int)(eq ? eq - a - 2 : (long)strlen(a) - 2), a + 2);
        else return tetri_errorf(err, "unknown option '%s'", a);
        const int arity = sim_option_arity(name);
        if (arity < 0) return tetri_errorf(err, "unknown option '%s'", a);
        if (arity == 1) {
            value = eq && a[1] == '-' ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
            if (!value) return tetri_errorf(err, "%s needs a value", a);
            if (check_value(name, value, err)) return tetri_error_prefix(err, "--%s", name);
        } else if (eq) {
            return tetri_errorf(err, "--%s takes no value", name);
        }
        if (push_entry(f, name, value, 0, LAYER_FLAGS, -1)) return tetri_errorf(err, "%s", f->err.msg);
    }
    if (!*file) return tetri_errorf(err, "which experiment file? (tetri sweep FILE.ini)");
    return 0;
}

/* Options that set the same thing: a later layer giving one replaces the earlier layers' others. */
static const char *option_group(const char *name)
{
    if (strcmp(name, "load") == 0) return "rate";
    if (strcmp(name, "seed") == 0) return "seeds";
    return name;
}

/* Whether entry i counts for grid g: it is shared, g's or a flag, and no later layer gives its group. */
static int entry_applies(const sweep_file *f, size_t i, int g)
{
    const sweep_entry *e = &f->e[i];
    if (e->layer == LAYER_GRID && e->grid != g) return 0;
    for (size_t k = 0; k < f->n; k++) {
        const sweep_entry *o = &f->e[k];
        if (o->layer <= e->layer || (o->layer == LAYER_GRID && o->grid != g)) continue;
        if (strcmp(option_group(o->name), option_group(e->name)) == 0) return 0;
    }
    return 1;
}

/* An argv under construction (its strings owned). */
typedef struct arg_list {
    char **v;
    int n, cap;
} arg_list;

static int arg_push(arg_list *l, const char *a)
{
    if (l->n + 2 > l->cap) {
        int cap = l->cap ? 2 * l->cap : 64;
        char **v = realloc(l->v, (size_t)cap * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n] = strdup(a))) return -1;
    l->v[++l->n] = NULL;
    return 0;
}

static void arg_free(arg_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    *l = (arg_list){0};
}

/* One entry as options: a policy grid as one --policy each, a switch when on, `choice` for a list key. */
static int push_option(arg_list *l, const sweep_entry *e, const char *choice)
{
    char opt[80];
    snprintf(opt, sizeof opt, "--%s", e->name);
    if (!e->value || sim_option_arity(e->name) == 0) return !e->value || switch_value(e->value) == 1 ? arg_push(l, opt) : 0;
    if (strcmp(e->name, "policy") != 0) return arg_push(l, opt) || arg_push(l, choice ? choice : e->value);
    char **specs;
    size_t n;
    tetri_error err;
    if (policy_grid_expand(e->value, &specs, &n, &err)) return -1; /* checked when read: only memory */
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) rc = arg_push(l, opt) || arg_push(l, specs[i]);
        free(specs[i]);
    }
    free(specs);
    return rc;
}

/* The value of list key `name` that applies to grid g (the last given), or NULL. */
static const char *list_value(const sweep_file *f, int g, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->e[i].name, name) == 0 && entry_applies(f, i, g)) v = f->e[i].value;
    return v;
}

/* Item k of a comma list into buf. Returns the number of items. */
static int list_item(const char *list, int k, char *buf, size_t len)
{
    int n = 0;
    for (const char *at = list;; n++) {
        const char *comma = strchr(at, ',');
        const size_t item = comma ? (size_t)(comma - at) : strlen(at);
        if (n == k) snprintf(buf, len, "%.*s", (int)item, at);
        if (!comma) return n + 1;
        at = comma + 1;
    }
}

/* A planned invocation of tetri sim: its argv and what to call it. */
typedef struct sweep_plan {
    arg_list args[SWEEP_MAX_GRIDS * 8];
    char label[SWEEP_MAX_GRIDS * 8][160];
    int n;
} sweep_plan;

static const char *const LIST_KEYS[3] = {"profile", "hardware", "model"};

/* Grid g's invocations, one per (profile, hardware, model) of its lists. Returns 0 or -1 with err. */
static int plan_grid(const sweep_file *f, int g, const char *experiment, sweep_plan *p, tetri_error *err)
{
    const char *lists[3];
    int counts[3], combos = 1;
    for (int k = 0; k < 3; k++) {
        lists[k] = list_value(f, g, LIST_KEYS[k]);
        counts[k] = lists[k] ? list_item(lists[k], -1, NULL, 0) : 1;
        combos *= counts[k];
    }
    for (int c = 0; c < combos; c++) {
        if (p->n == (int)(sizeof p->args / sizeof p->args[0]))
            return tetri_errorf(err, "%s: more than %zu grids after profile, hardware and model lists", f->path,
                                sizeof p->args / sizeof p->args[0]);
        arg_list *l = &p->args[p->n];
        char choice[3][256] = {"", "", ""};
        size_t used = (size_t)snprintf(p->label[p->n], sizeof p->label[p->n], "%s%s", g >= 0 ? "grid " : "", g >= 0 ? f->grids[g] : "grid");
        for (int k = 0, rest = c; k < 3; rest /= counts[k], k++)
            if (lists[k]) {
                list_item(lists[k], rest % counts[k], choice[k], sizeof choice[k]);
                if (counts[k] > 1 && used < sizeof p->label[p->n])
                    used += (size_t)snprintf(p->label[p->n] + used, sizeof p->label[p->n] - used, ", %s %s", LIST_KEYS[k], choice[k]);
            }
        int rc = arg_push(l, "sweep") || arg_push(l, "--experiment") || arg_push(l, experiment);
        for (size_t i = 0; rc == 0 && i < f->n; i++) {
            if (!entry_applies(f, i, g)) continue;
            int k = 0;
            while (k < 3 && strcmp(f->e[i].name, LIST_KEYS[k]) != 0) k++;
            rc = push_option(l, &f->e[i], k < 3 ? choice[k] : NULL);
        }
        p->n++;
        if (rc) return tetri_errorf(err, "out of memory");
    }
    return 0;
}

/* The experiment's stored config: the command line, every invocation, and the file itself. */
static char *config_text(int argc, char **argv, const sweep_plan *p, const char *path, const char *text)
{
    size_t len = strlen(text) + strlen(path) + 64;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    for (int k = 0; k < p->n; k++)
        for (int i = 0; i < p->args[k].n; i++) len += strlen(p->args[k].v[i]) + 24;
    char *s = malloc(len), *at = s;
    if (!s) return NULL;
    at = stpcpy(at, "tetri");
    for (int i = 0; i < argc; i++) at = stpcpy(stpcpy(at, " "), argv[i]);
    for (int k = 0; k < p->n; k++) {
        at = stpcpy(at, "\nran: tetri sim");
        for (int i = 1; i < p->args[k].n; i++) at = stpcpy(stpcpy(at, " "), p->args[k].v[i]);
    }
    at = stpcpy(stpcpy(stpcpy(at, "\n--- "), path), " ---\n");
    stpcpy(at, text);
    return s;
}

/* FILE's name without its folder and .ini: the default experiment name. */
static void default_experiment(const char *path, char *buf, size_t len)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".ini") == 0) n -= 4;
    snprintf(buf, len, "%.*s", (int)n, base);
}

static int run_plan(const sweep_plan *p, const char *config, int quiet)
{
    sim_grid_options o = {.default_jobs = sweep_cores_available(), .progress_bar = 1, .config_text = config};
    for (int k = 0; k < p->n; k++) {
        if (!quiet && p->n > 1) printf("tetri sweep: %s (%d of %d)\n", p->label[k], k + 1, p->n);
        fflush(stdout);
        int rc = sim_grid_run(p->args[k].n, p->args[k].v, &o);
        if (rc) return rc;
    }
    if (p->n > 1)
        printf("tetri sweep: %d grids, %ld runs in %.2f s: %.1f runs/s; simulating %.2f s, writing results %.2f s (summed "
               "over jobs)\n", p->n, o.runs, o.elapsed_s, o.elapsed_s > 0 ? (double)o.runs / o.elapsed_s : 0.0, o.sim_s, o.write_s);
    return 0;
}

int cli_mpirun_ranks(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 0) return atoi(v);
    }
    return 1;
}

#ifndef TETRI_HAVE_MPI
/* tetri hands the command to tetri-mpi (beside it, else installed), as it hands GPU commands to
 * tetri-gpu: tetri itself never links MPI. */
int cli_exec_mpi_program(const char *command, char **argv, tetri_error *err)
{
    char self[PATH_MAX], path[PATH_MAX + 16] = "";
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            snprintf(path, sizeof path, "%s/tetri-mpi", self);
        }
    }
    if (!path[0] || access(path, X_OK) != 0) snprintf(path, sizeof path, "%s", TETRI_PKGLIBEXECDIR "/tetri-mpi");
    if (access(path, X_OK) != 0)
        return tetri_errorf(err, "started by mpirun (%d ranks), but this tetri was built without MPI (configure found "
                                 "none; no tetri-mpi beside it or in %s): install MPI (openmpi-bin, libopenmpi-dev) and "
                                 "rebuild, or run tetri %s without mpirun",
                            cli_mpirun_ranks(), TETRI_PKGLIBEXECDIR, command);
    if (tetri_exec_hop(path, err)) return -1;
    int argc = 0;
    while (argv[argc]) argc++;
    char **args = calloc((size_t)argc + 2, sizeof *args); /* path, command, argv[1..], NULL */
    if (!args) return tetri_errorf(err, "out of memory");
    args[0] = path;
    args[1] = (char *)command;
    for (int i = 1; i < argc; i++) args[i + 1] = argv[i];
    execv(path, args);
    free(args);
    return tetri_errorf(err, "cannot run %s: %s", path, strerror(errno));
}
#endif

static int sweep_command(int argc, char **argv);

int cmd_sweep(int argc, char **argv)
{
    if (cli_mpirun_ranks() <= 1) return sweep_command(argc, argv);
#ifdef TETRI_HAVE_MPI
    if (sweep_mpi_start(&argc, &argv)) {
        fprintf(stderr, "tetri sweep: MPI_Init failed\n");
        return 1;
    }
    const int rc = sweep_command(argc, argv);
    sweep_mpi_end();
    return rc;
#else
    tetri_error err = {{0}};
    cli_exec_mpi_program("sweep", argv, &err);
    fprintf(stderr, "tetri sweep: %s\n", err.msg);
    return 1;
#endif
}

static int sweep_command(int argc, char **argv)
{
    sweep_file f = {0};
    tetri_error err = {{0}};
    const char *file = NULL;
    char *text = NULL, *config = NULL;
    sweep_plan *plan = calloc(1, sizeof *plan);
    int rc = 2, parsed = plan ? parse_flags(&f, argc, argv, &file, &err) : tetri_errorf(&err, "out of memory");
    if (parsed == 1) {
        usage(stdout);
        rc = 0;
        goto out;
    }
    /* The file's entries come first: flags were pushed to f by parse_flags, and entry order only
     * matters within a layer. */
    f.path = file;
    if (parsed == 0 && !(text = read_file(file, &err))) parsed = -1, rc = 1;
    if (parsed == 0) parsed = parse_file(&f, text, &err);
    char experiment[256];
    if (parsed == 0) default_experiment(file, experiment, sizeof experiment);
    for (int g = f.n_grids ? 0 : -1; parsed == 0 && g < f.n_grids; g++) parsed = plan_grid(&f, g, experiment, plan, &err);
    if (parsed == 0 && !(config = config_text(argc, argv, plan, file, text))) parsed = tetri_errorf(&err, "out of memory");
    if (parsed) {
        fprintf(stderr, "tetri sweep: %s\n", err.msg);
        if (rc == 2) fprintf(stderr, "(tetri sweep --help; the keys: docs/sweeps.md)\n");
        goto out;
    }
    int quiet = 0;
    for (size_t i = 0; i < f.n; i++) quiet |= strcmp(f.e[i].name, "quiet") == 0 && (!f.e[i].value || switch_value(f.e[i].value) == 1);
    rc = run_plan(plan, config, quiet);
out:
    if (plan)
        for (int k = 0; k < plan->n; k++) arg_free(&plan->args[k]);
    free(plan);
    free(config);
    free(text);
    sweep_file_free(&f);
    return rc;
}
