/* core/options.h: policy options, parsed the same way for every policy.
 * defines: tetri_option_spec, tetri_options, tetri_options_parse, tetri_options_get_*,
 *          tetri_options_format.
 *
 * Text form: "key=value,key=value" (what follows "name:" in "--policy tetriserve:g=5,elastic=off").
 * Every key must be declared in the policy's spec; unknown keys, bad numbers and values outside an
 * enum's choices are errors that name the key. Booleans accept on/off, true/false, yes/no, 1/0. */
#ifndef TETRI_CORE_OPTIONS_H
#define TETRI_CORE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/error.h"

typedef enum tetri_opt_type { TETRI_OPT_INT, TETRI_OPT_DOUBLE, TETRI_OPT_BOOL, TETRI_OPT_ENUM } tetri_opt_type;

typedef struct tetri_option_spec {
    const char *name;
    tetri_opt_type type;
    const char *default_value; /* text, parsed like a user's value */
    const char *choices;       /* ENUM: "a|b|c"; INT/DOUBLE: optional "min..max"; else NULL */
    const char *help;          /* one line for `tetri policies` */
} tetri_option_spec;
/* A spec table ends with an entry whose name is NULL. */

#define TETRI_MAX_OPTIONS 24
#define TETRI_OPTION_VALUE_MAX 48

typedef struct tetri_options {
    const tetri_option_spec *spec;
    int n;
    char value[TETRI_MAX_OPTIONS][TETRI_OPTION_VALUE_MAX]; /* canonical text, defaults filled */
    bool given[TETRI_MAX_OPTIONS];                         /* set by the user, not defaulted */
} tetri_options;

/* Parses `text` (may be NULL or "") against `spec`; fills defaults. Returns 0, or -1 with err. */
int tetri_options_parse(const tetri_option_spec *spec, const char *text, tetri_options *out, tetri_error *err);
/* Typed getters; the name must be in the spec (asserted). */
long tetri_options_int(const tetri_options *o, const char *name);
double tetri_options_double(const tetri_options *o, const char *name);
bool tetri_options_bool(const tetri_options *o, const char *name);
const char *tetri_options_str(const tetri_options *o, const char *name);
/* Canonical text of every option in spec order ("g=5,elastic=on,..."), for result rows. */
void tetri_options_format(const tetri_options *o, char *buf, size_t len);

#endif
