/* plots/gnuplot.c: running gnuplot over the figures' CSV: each figure's script (its variables
 * assigned, then the plots/ script of its kind) written beside its CSV, rendered to SVG, and where
 * the scripts and gnuplot are found.
 * defines: plot_write_scripts, plot_render, plot_scripts_dir, plot_gnuplot_program (plot.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "plots/plot_dirs.h"
#include "plots/plot_internal.h"

/* A gnuplot single-quoted string: ' doubles. */
static void gp_quote(char *buf, size_t len, const char *s)
{
    size_t used = 0;
    if (used + 1 < len) buf[used++] = '\'';
    for (; *s && used + 3 < len; s++) {
        if (*s == '\'') buf[used++] = '\'';
        buf[used++] = *s;
    }
    buf[used++] = '\'';
    buf[used] = 0;
}

/* The -e argument of gnuplot for figure f (paths relative to OUT). */
static void gnuplot_assignments(const plot_figure *f, char *buf, size_t len)
{
    char title[600], policies[2100], base[420];
    gp_quote(title, sizeof title, f->title);
    gp_quote(policies, sizeof policies, f->policies);
    gp_quote(base, sizeof base, f->base);
    snprintf(buf, len, "outbase=%s; datafile=%s.'.csv'; plottitle=%s; policies=%s; npol=%d; scriptdir='scripts'%s%s", base,
             base, title, policies, f->n_policies, f->extra[0] ? "; " : "", f->extra);
}

static int copy_file(const char *from, const char *to, tetri_error *err)
{
    FILE *in = fopen(from, "rb");
    if (!in) return tetri_errorf(err, "%s: cannot read plot script: %s", from, strerror(errno));
    FILE *out = fopen(to, "wb");
    if (!out) {
        fclose(in);
        return tetri_errorf(err, "%s: cannot write: %s", to, strerror(errno));
    }
    char buf[8192];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, got, out) != got) break;
    int bad = ferror(in) || ferror(out);
    fclose(in);
    if (fclose(out) != 0 || bad) return tetri_errorf(err, "%s: cannot copy from %s", to, from);
    return 0;
}

int plot_write_scripts(const plot_set *set, const char *scripts_dir, const char *out_dir, tetri_error *err)
{
    char path[1024], from[1024];
    snprintf(path, sizeof path, "%s/scripts", out_dir);
    if (plot_make_dir(path, err)) return -1;
    const char *shared[] = {"common.gp", "svg.gp", "attainment_vs_scale_panels_draw.gp"};
    for (size_t i = 0; i < sizeof shared / sizeof shared[0]; i++) {
        snprintf(from, sizeof from, "%s/%s", scripts_dir, shared[i]);
        snprintf(path, sizeof path, "%s/scripts/%s", out_dir, shared[i]);
        if (copy_file(from, path, err)) return -1;
    }
    char kinds[] = PLOT_KINDS;
    char *save = NULL;
    for (char *k = strtok_r(kinds, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        snprintf(from, sizeof from, "%s/%s.gp", scripts_dir, k);
        snprintf(path, sizeof path, "%s/scripts/%s.gp", out_dir, k);
        if (copy_file(from, path, err)) return -1;
    }
    snprintf(path, sizeof path, "%s/plot.sh", out_dir);
    FILE *sh = fopen(path, "w");
    if (!sh) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    fprintf(sh, "#!/bin/sh\n# Redraws every figure of this folder (written by tetri plot): PNG and SVG from the CSV files.\n"
                "# Edit scripts/*.gp to restyle. Needs gnuplot 5.2 or newer.\nset -e\ncd \"$(dirname \"$0\")\"\n"
                "GNUPLOT=${GNUPLOT:-gnuplot}\n");
    for (size_t i = 0; i < set->n; i++) {
        char assign[4096];
        gnuplot_assignments(&set->figures[i], assign, sizeof assign);
        /* Shell single quotes around the assignments: ' becomes '\''. */
        fputs("\"$GNUPLOT\" -e '", sh);
        for (const char *p = assign; *p; p++) {
            if (*p == '\'') fputs("'\\''", sh);
            else fputc(*p, sh);
        }
        fprintf(sh, "' scripts/%s.gp\n", set->figures[i].kind);
    }
    if (fclose(sh) != 0) return tetri_errorf(err, "%s: cannot write: %s", path, strerror(errno));
    chmod(path, 0755);
    return 0;
}

static int nonempty_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0;
}

int plot_render(const plot_figure *f, const char *gnuplot, const char *out_dir, tetri_error *err)
{
    char assign[4096], script[128], png[1024], svg[1024];
    gnuplot_assignments(f, assign, sizeof assign);
    snprintf(script, sizeof script, "scripts/%s.gp", f->kind);
    snprintf(png, sizeof png, "%s/%s.png", out_dir, f->base);
    snprintf(svg, sizeof svg, "%s/%s.svg", out_dir, f->base);
    unlink(png);
    unlink(svg);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return tetri_errorf(err, "cannot start %s: %s", gnuplot, strerror(errno));
    if (pid == 0) {
        if (chdir(out_dir) != 0) _exit(126);
        char *argv[] = {(char *)gnuplot, "-e", assign, script, NULL};
        execvp(gnuplot, argv);
        _exit(127);
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return tetri_errorf(err, "waiting for %s: %s", gnuplot, strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return tetri_errorf(err, "%s failed on %s (%s %d); its messages are above", gnuplot, f->base,
                            WIFEXITED(status) ? "exit status" : "signal",
                            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    if (!nonempty_file(png) || !nonempty_file(svg))
        return tetri_errorf(err, "%s ran on %s but did not write %s and %s", gnuplot, f->base, png, svg);
    return 0;
}

int plot_scripts_dir(char *buf, size_t len, tetri_error *err)
{
    const char *env = getenv("TETRI_PLOTS_DIR");
    const char *tried[3];
    int n_tried = 0;
    const char *candidates[3] = {env && env[0] ? env : NULL, TETRI_PLOTS_SRCDIR, TETRI_PLOTS_INSTALLDIR};
    for (int i = 0; i < 3; i++) {
        if (!candidates[i]) continue;
        char probe[1024];
        snprintf(probe, sizeof probe, "%s/attainment_vs_scale.gp", candidates[i]);
        if (nonempty_file(probe)) {
            snprintf(buf, len, "%s", candidates[i]);
            return 0;
        }
        tried[n_tried++] = candidates[i];
        if (i == 0) break; /* an explicit TETRI_PLOTS_DIR that lacks the scripts is an error, not a hint */
    }
    return tetri_errorf(err, "no gnuplot scripts (attainment_vs_scale.gp, ...) in %s%s%s%s%s; set TETRI_PLOTS_DIR",
                        tried[0], n_tried > 1 ? " or " : "", n_tried > 1 ? tried[1] : "", n_tried > 2 ? " or " : "",
                        n_tried > 2 ? tried[2] : "");
}

int plot_gnuplot_program(char *buf, size_t len)
{
    const char *env = getenv("TETRI_GNUPLOT");
    const char *prog = env && env[0] ? env : TETRI_GNUPLOT;
    if (strchr(prog, '/')) {
        snprintf(buf, len, "%s", prog);
        return access(prog, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    if (!path) return 0;
    for (const char *p = path; *p;) {
        size_t w = strcspn(p, ":");
        snprintf(buf, len, "%.*s/%s", (int)w, p, prog);
        if (w && access(buf, X_OK) == 0) return 1;
        p += w;
        if (*p == ':') p++;
    }
    snprintf(buf, len, "%s", prog);
    return 0;
}

