/* cli/cmd_plan_memory.c: `tetri bench-step --plan-memory`: the device memory bench-step would take
 * for each configuration, and whether it fits a GPU of --gpu-memory, computed on the CPU from the
 * model's layout and the runner's carve (dit/gpu_plan.h): no GPU, no CUDA. It runs in tetri itself
 * (cli/gpu_dispatch.c keeps it off tetri-gpu), so CI checks the arithmetic. In a build without the
 * GPU program, any other bench-step line says there is none. */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/bench_model.h"
#include "cli/commands.h"
#include "cli/gpu_dispatch.h"
#include "core/types.h"
#include "dit/gpu_plan.h"
#include "dit/model.h"

#define GIB(x) ((double)(x) / (double)(1 << 30))

/* The schedule bench-step's slots are made for (cli/cmd_bench_step.c, BENCH_STEPS). */
#define PLAN_STEPS 28

int bench_step_has_plan_memory(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--plan-memory") == 0) return 1;
    return 0;
}

int cmd_bench_step_plan(int argc, char **argv)
{
    if (!bench_step_has_plan_memory(argc, argv)) {
        /* Only in a build without tetri-gpu (main.c hands every other bench-step line to it). */
        tetri_error err = {{0}};
        char *av[] = {"tetri", "bench-step", NULL};
        tetri_gpu_exec(av, &err);
        fprintf(stderr, "tetri bench-step: it runs on the GPU, but %s\n(bench-step --plan-memory runs here: the memory plan only)\n",
                err.msg);
        return 1;
    }
    static const struct option longopts[] = {
        {"model", required_argument, 0, 'm'},   {"res", required_argument, 0, 'r'},      {"batch", required_argument, 0, 'b'},
        {"text-tokens", required_argument, 0, 't'}, {"config", required_argument, 0, 'c'}, {"weights", required_argument, 0, 'W'},
        {"tiny", no_argument, 0, 'T'},          {"attention", required_argument, 0, 'a'}, {"gpu-memory", required_argument, 0, 'M'},
        {"plan-memory", no_argument, 0, 'P'},
        /* bench-step's timing options: taken, and of no consequence to the plan */
        {"warmup", required_argument, 0, 'x'},  {"iters", required_argument, 0, 'x'},    {"seed", required_argument, 0, 'x'},
        {"eager", no_argument, 0, 'y'},         {"gemm", required_argument, 0, 'x'},     {"gemm-log", no_argument, 0, 'y'},
        {"paths", required_argument, 0, 'x'},   {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *model = "flux-dev", *res_list = "256,512,1024,2048", *config = NULL, *weights = NULL, *attn = "auto", *mem = NULL;
    const char *tokens_arg = NULL;
    int batch = 1, tiny = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'm': model = optarg; break;
        case 'r': res_list = optarg; break;
        case 'b': batch = atoi(optarg); break;
        case 't': tokens_arg = optarg; break;
        case 'c': config = optarg; break;
        case 'W': weights = optarg; break;
        case 'T': tiny = 1; break;
        case 'a': attn = optarg; break;
        case 'M': mem = optarg; break;
        case 'P': case 'x': case 'y': break;
        case 'h':
            printf("usage: tetri bench-step --plan-memory [--gpu-memory SIZE|GPU] [--model NAME] [--res LIST] [--batch N]\n"
                   "                        [--text-tokens N] [--config FILE | --weights DIR | --tiny] [--attention NAME]\n"
                   "  The device memory bench-step takes for each resolution (weights, cuBLASLt workspaces, the\n"
                   "  runner's activations, its slots for a %d-step schedule, and an allowance of %.0f GiB for the\n"
                   "  CUDA context, the libraries' kernels, the graph and cuDNN's workspace), from the model's\n"
                   "  layout: no GPU needed. With --gpu-memory (e.g. 48G = 48 GiB, 48GB = 48e9 bytes, or a GPU:\n"
                   "  a40, a100-80, h100, h200, their memory as nvidia-smi reports it) it says whether each fits.\n"
                   "  Exit status: 0 every configuration fits (or no --gpu-memory), 1 one does not or an error, 2 bad options.\n",
                   PLAN_STEPS, GIB(DIT_MEM_RESERVE_BYTES));
            return 0;
        default: return 2;
        }
    }
    if (optind < argc) { fprintf(stderr, "tetri bench-step: unexpected argument '%s'\n", argv[optind]); return 2; }
    if (batch < 1 || batch > 64) { fprintf(stderr, "tetri bench-step: --batch must be 1..64\n"); return 2; }
    if (strcmp(attn, "auto") && strcmp(attn, "flash") && strcmp(attn, "flash-mma") && strcmp(attn, "cudnn") && strcmp(attn, "oracle")) {
        fprintf(stderr, "tetri bench-step: --attention must be auto, flash, flash-mma, cudnn or oracle, not '%s'\n", attn);
        return 2;
    }
    size_t gpu_bytes = 0;
    char gpu_label[128] = "";
    if (mem && dit_parse_gpu_memory(mem, &gpu_bytes, gpu_label, sizeof gpu_label)) {
        fprintf(stderr, "tetri bench-step: --gpu-memory '%s': a size (48G, 46068MiB, 48GB) or a GPU (a40, a100-80, h100, h200)\n", mem);
        return 2;
    }
    bench_model bm;
    const int bad = bench_model_resolve(model, res_list, tokens_arg, weights, config, tiny, &bm);
    if (bad) return bad;
    const dit_config *cfg = &bm.cfg;
    dit_layout *L = &bm.L;
    const int text_tokens = bm.text_tokens;
    dit_mem_plan p0;
    dit_mem_plan_compute(L, batch, text_tokens, 1, 1, PLAN_STEPS, 0, &p0);
    printf("# memory plan: %s (%.2f B parameters), batch %d, %d text tokens, slots of a %d-step schedule, attention %s%s%s\n",
           cfg->arch == DIT_ARCH_FLUX ? "FLUX" : "SD3", (double)L->n_weights / 1e9, batch, text_tokens, PLAN_STEPS, attn,
           mem ? ", on " : "", gpu_label);
    printf("# weights %.2f GiB + cuBLASLt workspaces %.2f GiB + allowance %.2f GiB (CUDA context, library kernels, graph, cuDNN\n"
           "# workspace: not counted, allowed for) + per resolution below; GiB = 2^30 bytes\n",
           GIB(p0.weights), GIB(2 * (size_t)DIT_GEMM_WORKSPACE_BYTES), GIB(p0.reserve));
    printf("%6s %14s %16s %10s %14s %10s  %s\n", "res", "tokens", "activations GiB", "slots GiB", "workspace GiB", "total GiB",
           mem ? "fits?" : "");
    int refused = 0;
    for (int r = 0; r < bm.n_res; r++) {
        const int g = bm.res[r] / 16;
        dit_mem_plan p;
        dit_mem_plan_compute(L, batch, text_tokens, g, g, PLAN_STEPS, strcmp(attn, "oracle") == 0, &p);
        if (cfg->arch == DIT_ARCH_SD3 && g > cfg->pos_embed_max) {
            printf("%6d %14s  SD3's positional table stops at %d px (pos_embed_max_size %d)\n", bm.res[r], "-", cfg->pos_embed_max * 16,
                   cfg->pos_embed_max);
            refused++;
            continue;
        }
        char tok[32], verdict[96] = "";
        snprintf(tok, sizeof tok, "%d+%d", g * g, text_tokens);
        if (mem) {
            if (p.total <= gpu_bytes) snprintf(verdict, sizeof verdict, "fits, %.2f GiB to spare", GIB(gpu_bytes - p.total));
            else {
                snprintf(verdict, sizeof verdict, "DOES NOT FIT: %.2f GiB short", GIB(p.total - gpu_bytes));
                refused++;
            }
        }
        printf("%6d %14s %16.2f %10.3f %14.2f %10.2f  %s\n", bm.res[r], tok, GIB(p.activations), GIB(p.slots), GIB(p.workspaces),
               GIB(p.total), verdict);
    }
    if (refused && mem) printf("# %d of %d configurations would be refused on %s\n", refused, bm.n_res, gpu_label);
    dit_layout_free(L);
    return refused ? 1 : 0;
}
