/* cli/bench_model.c: bench-step's model options into a layout (contract in cli/bench_model.h). */
#include "cli/bench_model.h"

#include <stdio.h>

#include "core/error.h"
#include "core/types.h"

int bench_model_resolve(const char *model, const char *res_list, const char *text_tokens, const char *weights, const char *config,
                        int tiny, bench_model *out)
{
    tetri_model tm;
    if (tetri_model_parse(model, &tm) != 0) {
        fprintf(stderr, "tetri bench-step: unknown model '%s' (flux-dev, sd3-medium)\n", model);
        return 2;
    }
    out->n_res = tetri_sides_parse(res_list, 8192, out->res, BENCH_MAX_RES);
    if (out->n_res <= 0) {
        fprintf(stderr, "tetri bench-step: --res '%s': a comma-separated list of multiples of 16\n", res_list);
        return 2;
    }
    out->text_tokens = -1;
    if (text_tokens && tetri_int_parse(text_tokens, 1, 8192, &out->text_tokens)) {
        fprintf(stderr, "tetri bench-step: --text-tokens '%s': a whole number of tokens, 1..8192\n", text_tokens);
        return 2;
    }
    tetri_error err = {{0}};
    if (dit_config_choose(weights, config, tiny, tm == TETRI_MODEL_FLUX_DEV ? DIT_ARCH_FLUX : DIT_ARCH_SD3, &out->cfg, &err)) {
        fprintf(stderr, "tetri bench-step: %s\n", err.msg);
        return 1;
    }
    if (out->text_tokens < 0) out->text_tokens = dit_default_text_tokens(&out->cfg);
    if (dit_layout_build(&out->cfg, &out->L, &err)) {
        fprintf(stderr, "tetri bench-step: %s\n", err.msg);
        return 1;
    }
    return 0;
}
