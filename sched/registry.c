/* sched/registry.c: every policy tetri knows, and creating one from "name:key=value,...".
 * A new policy: one file in sched/, its ops declared in sched/policies.h, one line below. */
#include "sched/policies.h"
#include "sched/policy.h"

#include <stdio.h>
#include <string.h>

const tetri_policy_ops *const tetri_policy_registry[] = {
    TETRI_POLICY_LIST
};
const size_t tetri_policy_registry_len = sizeof tetri_policy_registry / sizeof tetri_policy_registry[0];

const tetri_policy_ops *tetri_policy_find(const char *name)
{
    for (size_t i = 0; i < tetri_policy_registry_len; i++)
        if (strcmp(tetri_policy_registry[i]->name, name) == 0) return tetri_policy_registry[i];
    return NULL;
}

int tetri_policy_create(tetri_policy *p, const char *spec, const struct tetri_profile *profile,
                        const tetri_cluster *cluster, tetri_error *err)
{
    memset(p, 0, sizeof *p);
    /* Messages below quote the spec: a control byte would reach the terminal raw. */
    for (const char *c = spec; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return tetri_errorf(err, "policy spec: byte 0x%02x at offset %d is a control character", (unsigned char)*c,
                                (int)(c - spec));
    char name[64];
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    if (len == 0 || len >= sizeof name) return tetri_errorf(err, "policy '%s': bad name", spec);
    memcpy(name, spec, len);
    name[len] = 0;
    const tetri_policy_ops *ops = tetri_policy_find(name);
    if (!ops) {
        char known[512] = "";
        for (size_t i = 0; i < tetri_policy_registry_len; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, tetri_policy_registry[i]->name, sizeof known - strlen(known) - 1);
        }
        return tetri_errorf(err, "unknown policy '%s' (known: %s)", name, known);
    }
    if (tetri_options_parse(ops->options, colon ? colon + 1 : NULL, &p->options, err))
        return tetri_error_prefix(err, "policy %s", name);
    if (tetri_policy_format_spec(p, name, err)) return -1;
    p->ops = ops;
    p->self = ops->create(&p->options, profile, cluster, err);
    if (!p->self) return tetri_error_prefix(err, "policy %s", name);
    return 0;
}

int tetri_policy_format_spec(tetri_policy *p, const char *name, tetri_error *err)
{
    /* Room for every option at its longest, so the check below sees the whole text. */
    char opts[TETRI_MAX_OPTIONS * (64 + TETRI_OPTION_VALUE_MAX)];
    tetri_options_format(&p->options, opts, sizeof opts);
    int w = snprintf(p->spec, sizeof p->spec, "%s%s%s", name, opts[0] ? ":" : "", opts);
    if (w < 0 || (size_t)w >= sizeof p->spec)
        return tetri_errorf(err, "policy %s: its options written out take %d characters, more than the %zu a run records; shorten the values",
                            name, w, sizeof p->spec - 1);
    return 0;
}

void tetri_policy_destroy(tetri_policy *p)
{
    if (p->ops && p->self) p->ops->destroy(p->self);
    p->ops = NULL;
    p->self = NULL;
}
