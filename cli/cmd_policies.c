/* cli/cmd_policies.c: `tetri policies`: every registered policy, its summary and its options
 * (type, default, allowed values, help), in registry order. `tetri policies NAME` shows one. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "sched/policy.h"

static const char *type_name(tetri_opt_type t)
{
    switch (t) {
    case TETRI_OPT_INT: return "int";
    case TETRI_OPT_DOUBLE: return "number";
    case TETRI_OPT_BOOL: return "on|off";
    case TETRI_OPT_ENUM: return "choice";
    }
    return "?";
}

static void show(const tetri_policy_ops *p)
{
    printf("%s\n  %s\n", p->name, p->summary);
    if (!p->options || !p->options[0].name) {
        printf("  options: none\n\n");
        return;
    }
    printf("  options (--policy %s:key=value,...):\n", p->name);
    for (const tetri_option_spec *o = p->options; o->name; o++) {
        char kind[96];
        if (o->type == TETRI_OPT_ENUM) snprintf(kind, sizeof kind, "%s", o->choices);
        else if (o->choices) snprintf(kind, sizeof kind, "%s %s", type_name(o->type), o->choices);
        else snprintf(kind, sizeof kind, "%s", type_name(o->type));
        printf("    %-15s %-28s default %-11s %s\n", o->name, kind, o->default_value, o->help);
    }
    printf("\n");
}

/* s with bytes that are not printable ASCII as \xNN: a name typed by the user goes back to the
 * terminal, and control bytes in it must not act there. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f) fputc(*p, f);
        else fprintf(f, "\\x%02x", *p);
    }
}

int cmd_policies(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0))) {
        fprintf(argc == 2 ? stdout : stderr, "usage: tetri policies [NAME]\n"
                "  lists every policy with its options, types, defaults and help\n");
        return argc == 2 ? 0 : 2;
    }
    if (argc == 2) {
        const tetri_policy_ops *p = tetri_policy_find(argv[1]);
        if (!p) {
            fprintf(stderr, "tetri policies: unknown policy '");
            put_escaped(stderr, argv[1]);
            fprintf(stderr, "' (known:");
            for (size_t i = 0; i < tetri_policy_registry_len; i++)
                fprintf(stderr, "%s %s", i ? "," : "", tetri_policy_registry[i]->name);
            fprintf(stderr, ")\n");
            return 1;
        }
        show(p);
        return 0;
    }
    for (size_t i = 0; i < tetri_policy_registry_len; i++) show(tetri_policy_registry[i]);
    return 0;
}
