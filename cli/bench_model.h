/* cli/bench_model.h: the model a `tetri bench-step` command line names (--model, --res,
 * --text-tokens, --config | --weights | --tiny), checked and built into its layout: one reading
 * for bench-step (cli/cmd_bench_step.c, on the GPU) and its --plan-memory (cli/cmd_plan_memory.c).
 * defines: BENCH_MAX_RES, bench_model, bench_model_resolve. */
#ifndef TETRI_CLI_BENCH_MODEL_H
#define TETRI_CLI_BENCH_MODEL_H

#include "dit/model.h"

#define BENCH_MAX_RES 32

typedef struct bench_model {
    dit_config cfg;
    dit_layout L;              /* built: the caller frees it (dit_layout_free) */
    int res[BENCH_MAX_RES];    /* --res, in pixels */
    int n_res;
    int text_tokens;           /* --text-tokens, else the model's default */
} bench_model;

/* Reads the options (text_tokens NULL: the model's default) and builds the layout. Returns 0, or
 * the exit status after saying why on stderr as "tetri bench-step: ...": 2 for a bad option, 1
 * when the model cannot be built (its config or weights folder). */
int bench_model_resolve(const char *model, const char *res_list, const char *text_tokens, const char *weights, const char *config,
                        int tiny, bench_model *out);

#endif
