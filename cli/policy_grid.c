/* cli/policy_grid.c: policy option grids (contract in cli/policy_grid.h). */
#include "cli/policy_grid.h"

#include <stdlib.h>
#include <string.h>

#define GRID_KEYS_MAX 32
#define GRID_VALUES_MAX 64

typedef struct grid_key {
    const char *name;                   /* points into the working copy */
    const char *values[GRID_VALUES_MAX];
    size_t n_values;
} grid_key;

/* The options after ':' into keys with their values. Returns the number of keys, or -1 with err. */
static int split_keys(const char *spec, char *opts, grid_key *keys, tetri_error *err)
{
    int n = 0;
    for (char *item = opts, *next; item; item = next) {
        next = strchr(item, ',');
        if (next) *next++ = '\0';
        if (!*item) return tetri_errorf(err, "policy '%s': an empty option (a stray comma?)", spec);
        char *eq = strchr(item, '=');
        if (eq) {
            if (n == GRID_KEYS_MAX) return tetri_errorf(err, "policy '%s': more than %d options", spec, GRID_KEYS_MAX);
            *eq = '\0';
            keys[n++] = (grid_key){.name = item, .values = {eq + 1}, .n_values = 1};
            continue;
        }
        if (n == 0) return tetri_errorf(err, "policy '%s': value '%s' comes before any key=", spec, item);
        if (keys[n - 1].n_values == GRID_VALUES_MAX)
            return tetri_errorf(err, "policy '%s': more than %d values of %s", spec, GRID_VALUES_MAX, keys[n - 1].name);
        keys[n - 1].values[keys[n - 1].n_values++] = item;
    }
    return n;
}

/* Combination `index` (mixed radix, the last key fastest) as "name:k=v,...". */
static char *combination(const char *name, const grid_key *keys, int n_keys, size_t index)
{
    size_t len = strlen(name) + 2, pick[GRID_KEYS_MAX];
    for (int k = n_keys - 1; k >= 0; k--) {
        pick[k] = index % keys[k].n_values;
        index /= keys[k].n_values;
        len += strlen(keys[k].name) + strlen(keys[k].values[pick[k]]) + 2;
    }
    char *s = malloc(len), *at = s;
    if (!s) return NULL;
    at = stpcpy(at, name);
    for (int k = 0; k < n_keys; k++) {
        at = stpcpy(at, k ? "," : ":");
        at = stpcpy(stpcpy(stpcpy(at, keys[k].name), "="), keys[k].values[pick[k]]);
    }
    return s;
}

int policy_grid_expand(const char *spec, char ***out, size_t *n, tetri_error *err)
{
    *out = NULL;
    *n = 0;
    char *copy = strdup(spec);
    if (!copy) return tetri_errorf(err, "out of memory");
    char *colon = strchr(copy, ':');
    grid_key keys[GRID_KEYS_MAX];
    int n_keys = 0;
    if (colon) {
        *colon = '\0';
        n_keys = split_keys(spec, colon + 1, keys, err);
    }
    size_t count = 1;
    for (int k = 0; k < n_keys && count <= POLICY_GRID_MAX; k++) count *= keys[k].n_values;
    if (n_keys >= 0 && count > POLICY_GRID_MAX)
        n_keys = tetri_errorf(err, "policy '%s' makes more than %d combinations", spec, POLICY_GRID_MAX);
    if (n_keys >= 0 && !(*out = calloc(count, sizeof **out))) n_keys = tetri_errorf(err, "out of memory");
    for (size_t i = 0; n_keys >= 0 && i < count; i++) {
        if (!((*out)[i] = combination(copy, keys, n_keys, i))) n_keys = tetri_errorf(err, "out of memory");
        else (*n)++;
    }
    free(copy);
    if (n_keys >= 0) return 0;
    for (size_t i = 0; i < *n; i++) free((*out)[i]);
    free(*out);
    *out = NULL;
    *n = 0;
    return -1;
}
