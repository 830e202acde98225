/* core/types.c: names of models, links and outcomes; cluster topology helpers; the command line's
 * side lists and whole numbers. */
#include "core/types.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <strings.h>

static const char *const model_names[TETRI_MODEL_COUNT] = {"flux-dev", "sd3-medium"};

const char *tetri_model_name(tetri_model m)
{
    return (unsigned)m < TETRI_MODEL_COUNT ? model_names[m] : "?";
}

int tetri_model_parse(const char *name, tetri_model *out)
{
    static const struct { const char *alias; tetri_model m; } aliases[] = {
        {"flux-dev", TETRI_MODEL_FLUX_DEV},   {"flux", TETRI_MODEL_FLUX_DEV},
        {"FLUX.1-dev", TETRI_MODEL_FLUX_DEV}, {"flux1-dev", TETRI_MODEL_FLUX_DEV},
        {"sd3-medium", TETRI_MODEL_SD3_MEDIUM}, {"sd3", TETRI_MODEL_SD3_MEDIUM},
        {"SD3-medium", TETRI_MODEL_SD3_MEDIUM}, {"stable-diffusion-3-medium", TETRI_MODEL_SD3_MEDIUM},
    };
    if (!name) return -1;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcasecmp(name, aliases[i].alias) == 0) {
            *out = aliases[i].m;
            return 0;
        }
    return -1;
}

const char *tetri_link_name(tetri_link l)
{
    return l == TETRI_LINK_FAST ? "nvlink" : l == TETRI_LINK_SLOW ? "pcie" : "?";
}

int tetri_link_parse(const char *name, tetri_link *out)
{
    if (strcasecmp(name, "nvlink") == 0 || strcasecmp(name, "fast") == 0) *out = TETRI_LINK_FAST;
    else if (strcasecmp(name, "pcie") == 0 || strcasecmp(name, "slow") == 0) *out = TETRI_LINK_SLOW;
    else return -1;
    return 0;
}

const char *tetri_outcome_name(tetri_outcome o)
{
    switch (o) {
    case TETRI_MET: return "met";
    case TETRI_LATE: return "late";
    case TETRI_DROPPED: return "dropped";
    }
    return "?";
}

void tetri_gpuset_name(tetri_gpuset set, char *buf, size_t len)
{
    const int n = tetri_gpuset_count(set);
    if (len == 0) return;
    if (n == 0) { snprintf(buf, len, "no GPU"); return; }
    const int first = __builtin_ctzll(set), last = 63 - __builtin_clzll(set);
    if (n == 1) { snprintf(buf, len, "GPU %d", first); return; }
    if (last - first + 1 == n) { snprintf(buf, len, "GPUs %d-%d", first, last); return; }
    size_t used = (size_t)snprintf(buf, len, "GPUs ");
    for (int g = first; g <= last && used < len; g++)
        if (tetri_gpuset_has(set, g)) used += (size_t)snprintf(buf + used, len - used, "%s%d", g == first ? "" : ",", g);
}

const char *tetri_sets_name(tetri_sets s) { return s == TETRI_SETS_ALIGNED ? "aligned" : "any"; }

int tetri_sets_parse(const char *name, tetri_sets *out)
{
    if (strcmp(name, "any") == 0) *out = TETRI_SETS_ANY;
    else if (strcmp(name, "aligned") == 0) *out = TETRI_SETS_ALIGNED;
    else return -1;
    return 0;
}

tetri_link tetri_cluster_link(const tetri_cluster *c, tetri_gpuset set)
{
    if (set == 0) return TETRI_LINK_FAST;
    int first = __builtin_ctzll(set);
    int dom = c->fast_domain[first];
    for (tetri_gpuset s = set & (set - 1); s; s &= s - 1)
        if (c->fast_domain[__builtin_ctzll(s)] != dom) return TETRI_LINK_SLOW;
    return TETRI_LINK_FAST;
}

void tetri_cluster_init(tetri_cluster *c, const char *hardware, int n_gpus, int domain_size)
{
    assert(n_gpus >= 1 && n_gpus <= TETRI_MAX_GPUS && domain_size >= 1);
    memset(c, 0, sizeof *c);
    c->n_gpus = n_gpus;
    for (int g = 0; g < n_gpus; g++) c->fast_domain[g] = g / domain_size;
    snprintf(c->hardware, sizeof c->hardware, "%s", hardware ? hardware : "");
}

int tetri_int_parse(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    const long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

int tetri_sides_parse(const char *list, int max_side, int *out, int max)
{
    int n = 0;
    for (const char *p = list; *p;) {
        char *end;
        const long v = strtol(p, &end, 10);
        if (end == p || v < 16 || v > max_side || v % 16 || n == max) return -1;
        out[n++] = (int)v;
        p = end;
        if (*p == ',' && p[1]) p++;
        else if (*p) return -1;
    }
    return n ? n : -1;
}

tetri_ns tetri_monotonic_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (tetri_ns)t.tv_sec * TETRI_NS_PER_S + t.tv_nsec;
}

double tetri_seconds_since(tetri_ns t0) { return (double)(tetri_monotonic_ns() - t0) / 1e9; }
