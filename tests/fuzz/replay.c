/* tests/fuzz/replay.c: runs every fuzz target linked in (TETRI_FUZZ_TARGET, tests/fuzz/fuzz.h)
 * over its seed corpus and crash regressions with a plain main(), so `make check` (and its
 * ASan+UBSan build) exercises the fuzz entry points without clang or libFuzzer.
 *
 *   replay                       every target over $TETRI_SRCDIR/tests/fuzz/{corpus,crashes}/NAME/
 *   replay NAME FILE...          one target over the given files (to reproduce a crash)
 *
 * A target whose corpus directory is missing or empty fails: a seed corpus is part of a target. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"

#define MAX_TARGETS 16
static struct {
    const char *name;
    tetri_fuzz_fn fn;
} targets[MAX_TARGETS];
static int n_targets;

void tetri_fuzz_register(const char *name, tetri_fuzz_fn fn)
{
    if (n_targets == MAX_TARGETS) {
        fprintf(stderr, "replay: more than %d fuzz targets; raise MAX_TARGETS\n", MAX_TARGETS);
        exit(99);
    }
    targets[n_targets].name = name;
    targets[n_targets].fn = fn;
    n_targets++;
}

/* Runs fn over one file. Returns 0, or -1 when the file cannot be read. */
static int replay_file(tetri_fuzz_fn fn, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    unsigned char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        fprintf(stderr, "replay: %s: read error\n", path);
        free(buf);
        return -1;
    }
    /* An exact-size copy, so ASan sees any read past the input's end. */
    unsigned char *exact = malloc(len ? len : 1);
    if (!exact) abort();
    memcpy(exact, buf, len);
    free(buf);
    fn(exact, len);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Replays every regular file of dir (sorted, dot files skipped). Returns the count, -1 on error,
 * or -2 when the directory does not exist. */
static int replay_dir(tetri_fuzz_fn fn, const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? -2 : (fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno)), -1);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names) abort();
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    int count = 0, rc = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (replay_file(fn, path) < 0) rc = -1;
        else count++;
        free(names[i]);
    }
    free(names);
    return rc < 0 ? -1 : count;
}

int main(int argc, char **argv)
{
    if (argc >= 2) {
        for (int t = 0; t < n_targets; t++)
            if (strcmp(targets[t].name, argv[1]) == 0) {
                for (int i = 2; i < argc; i++)
                    if (replay_file(targets[t].fn, argv[i]) < 0) return 1;
                printf("replay: %s: %d input(s), no crash\n", argv[1], argc - 2);
                return 0;
            }
        fprintf(stderr, "replay: no fuzz target '%s' (linked:", argv[1]);
        for (int t = 0; t < n_targets; t++) fprintf(stderr, " %s", targets[t].name);
        fprintf(stderr, ")\n");
        return 2;
    }
    const char *srcdir = getenv("TETRI_SRCDIR");
    if (!srcdir) srcdir = ".";
    if (n_targets == 0) {
        fprintf(stderr, "replay: no fuzz targets linked\n");
        return 1;
    }
    int failed = 0;
    for (int t = 0; t < n_targets; t++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/%s", srcdir, targets[t].name);
        int corpus = replay_dir(targets[t].fn, dir);
        if (corpus <= 0) {
            fprintf(stderr, "replay: %s: %s\n", dir, corpus == -2 ? "missing (every target needs a seed corpus)" : corpus == 0 ? "empty" : "unreadable");
            failed = 1;
            continue;
        }
        snprintf(dir, sizeof dir, "%s/tests/fuzz/crashes/%s", srcdir, targets[t].name);
        int crashes = replay_dir(targets[t].fn, dir);
        if (crashes == -1) failed = 1;
        printf("replay: %s: %d corpus input(s), %d crash regression(s), no crash\n", targets[t].name, corpus,
               crashes < 0 ? 0 : crashes);
    }
    return failed;
}
