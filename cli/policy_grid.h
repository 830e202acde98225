/* cli/policy_grid.h: a policy with option grids, "tetriserve:g=1,2,5,midround=wait,fill", made
 * into every combination: tetriserve:g=1,midround=wait ... tetriserve:g=5,midround=fill.
 * defines: policy_grid_expand, POLICY_GRID_MAX.
 *
 * In a policy's options an item with '=' starts a key; an item without one is one more value of
 * the key before it. The first key varies slowest, as in the grid's listing. */
#ifndef TETRI_CLI_POLICY_GRID_H
#define TETRI_CLI_POLICY_GRID_H

#include <stddef.h>

#include "core/error.h"

#define POLICY_GRID_MAX 1000 /* most policies one grid makes */

/* The specs of every combination, each malloc'ed, into *out (malloc'ed), their number in *n.
 * Returns 0, or -1 with err (an empty item, a value before any key, too many combinations). */
int policy_grid_expand(const char *spec, char ***out, size_t *n, tetri_error *err);

#endif
