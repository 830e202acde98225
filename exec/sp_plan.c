/* exec/sp_plan.c: the GPU backend's sequence-parallel bookkeeping (see sp_plan.h). */
#include "exec/sp_plan.h"

#include <stdio.h>
#include <string.h>

int sp_plan_gpu_of_rank(tetri_gpuset set, int r)
{
    for (int i = 0; i < r; i++) set &= set - 1;
    return __builtin_ctzll(set);
}

int sp_plan_rank(tetri_gpuset set, int gpu)
{
    if (gpu < 0 || gpu >= TETRI_MAX_GPUS || !tetri_gpuset_has(set, gpu)) return -1;
    return tetri_gpuset_count(set & ((1ULL << gpu) - 1));
}

unsigned sp_plan_gpu_degrees(int n_gpus, unsigned wanted, int gpu)
{
    unsigned out = 1u << 1;
    for (int k = 2; k <= DIT_SP_MAX_DEGREE; k *= 2)
        if ((wanted >> k & 1u) && (gpu / k + 1) * k <= n_gpus) out |= 1u << k;
    return out;
}

unsigned sp_plan_shape_degrees(const dit_config *c, int T, int N, unsigned wanted)
{
    unsigned out = 1u << 1;
    for (int k = 2; k <= DIT_SP_MAX_DEGREE; k *= 2)
        if ((wanted >> k & 1u) && dit_sp_check(c, k, T, N, NULL) == 0) out |= 1u << k;
    return out;
}

void sp_plan_inventory(int n_gpus, unsigned wanted, const unsigned *shape_degrees, int n_shapes, int max_batch, sp_inventory *out)
{
    memset(out, 0, sizeof *out);
    out->n_gpus = n_gpus;
    out->max_batch = max_batch;
    out->wanted = 1u << 1;
    for (int k = 2; k <= DIT_SP_MAX_DEGREE && k <= n_gpus; k *= 2) out->wanted |= wanted & (1u << k);
    for (int g = 0; g < n_gpus; g++) {
        const unsigned held = sp_plan_gpu_degrees(n_gpus, wanted, g);
        for (int s = 0; s < n_shapes; s++) {
            const unsigned both = held & shape_degrees[s];
            out->gpu_degrees[g] |= both;
            for (int k = 1; k <= DIT_SP_MAX_DEGREE; k *= 2)
                if (both >> k & 1u) {
                    out->graphs[g] += max_batch;
                    if (k > 1) out->sp_graphs[g] += max_batch;
                }
        }
        out->degrees |= out->gpu_degrees[g];
        out->total_graphs += out->graphs[g];
        out->total_sp_graphs += out->sp_graphs[g];
    }
    /* a set has graphs when its first GPU does (every GPU of an aligned block holds the same degrees) */
    for (int k = 2; k <= DIT_SP_MAX_DEGREE; k *= 2)
        for (int first = 0; first + k <= n_gpus; first += k)
            if (out->gpu_degrees[first] >> k & 1u) out->sp_sets++;
}

int sp_plan_check_block(const sp_inventory *inv, tetri_gpuset set, unsigned shape_degrees, int batch, const char *why_off,
                        tetri_error *err)
{
    char name[96];
    tetri_gpuset_name(set, name, sizeof name);
    const int k = tetri_gpuset_count(set);
    if (k < 1 || 63 - __builtin_clzll(set) >= inv->n_gpus)
        return tetri_errorf(err, "a block on %s: the cluster has %d GPUs", name, inv->n_gpus);
    if (!tetri_gpuset_is_block(set) || k > DIT_SP_MAX_DEGREE)
        return tetri_errorf(err, "a block of degree %d on %s: not an aligned power-of-two block of up to %d GPUs, so it has no NCCL "
                                 "communicator (sequence parallelism runs on aligned blocks: GPUs 0-1, 2-3, 0-3, ...)", k, name,
                            DIT_SP_MAX_DEGREE);
    if (!(inv->wanted >> k & 1u))
        return why_off ? tetri_errorf(err, "a block of degree %d on %s: sequence parallelism is off: %s", k, name, why_off)
                       : tetri_errorf(err, "a block of degree %d on %s: degree %d is not among the degrees captured at start-up", k, name, k);
    if (!(shape_degrees >> k & 1u))
        return tetri_errorf(err, "a block of degree %d on %s: its requests' shape does not run at degree %d (attention heads or rows "
                                 "per rank: dit_sp_check)", k, name, k);
    if (batch < 1 || batch > inv->max_batch)
        return tetri_errorf(err, "a block of degree %d on %s: batch %d has no graph (batches 1-%d)", k, name, batch, inv->max_batch);
    return 0;
}

int sp_plan_check_move(int32_t id, tetri_gpuset from, tetri_gpuset to, int gpus_per_process, tetri_error *err)
{
    if (gpus_per_process <= 0 || from == 0 || from == to) return 0;
    const tetri_gpuset both = from | to;
    const int lo = __builtin_ctzll(both) / gpus_per_process, hi = (63 - __builtin_clzll(both)) / gpus_per_process;
    if (lo == hi) return 0;
    char a[96], b[96];
    tetri_gpuset_name(from, a, sizeof a);
    tetri_gpuset_name(to, b, sizeof b);
    const int pf = __builtin_ctzll(from) / gpus_per_process, pt = __builtin_ctzll(to) / gpus_per_process;
    return tetri_errorf(err, "request %d would move from %s to %s, across processes (%d GPU%s each: process %d%s to process %d%s): "
                             "moving a request's state between processes is not supported yet (only peer copies within a process); "
                             "serve with a policy that keeps each request on one GPU set (xdit-sp1, xdit-sp2, ...), or with one "
                             "process holding every GPU a request may move between (--gpus-per-process)",
                        id, a, b, gpus_per_process, gpus_per_process == 1 ? "" : "s", pf,
                        (63 - __builtin_clzll(from)) / gpus_per_process != pf ? "+" : "", pt,
                        (63 - __builtin_clzll(to)) / gpus_per_process != pt ? "+" : "");
}

int sp_plan_moves(tetri_gpuset from, tetri_gpuset to, int rows, sp_plan_move *out)
{
    dit_sp_move mv[SP_PLAN_MAX_MOVES];
    const int n = dit_sp_migration_plan(rows, tetri_gpuset_count(from), tetri_gpuset_count(to), mv);
    for (int i = 0; i < n; i++)
        out[i] = (sp_plan_move){.src_gpu = sp_plan_gpu_of_rank(from, mv[i].src_rank), .dst_gpu = sp_plan_gpu_of_rank(to, mv[i].dst_rank),
                                .src_rank = mv[i].src_rank, .dst_rank = mv[i].dst_rank, .src_row = mv[i].src_row,
                                .dst_row = mv[i].dst_row, .rows = mv[i].rows};
    return n;
}

static void add_rows(tetri_gpuset from, tetri_gpuset to, int rows, size_t row_bytes, sp_plan_bytes *out)
{
    sp_plan_move mv[SP_PLAN_MAX_MOVES];
    const int n = sp_plan_moves(from, to, rows, mv);
    for (int i = 0; i < n; i++) *(mv[i].src_gpu == mv[i].dst_gpu ? &out->local : &out->peer) += (size_t)mv[i].rows * row_bytes;
}

void sp_plan_migration_bytes(tetri_gpuset from, tetri_gpuset to, int T, int N, size_t txt_row, size_t lat_row, size_t cond,
                             sp_plan_bytes *out)
{
    *out = (sp_plan_bytes){0};
    add_rows(from, to, T, txt_row, out);
    add_rows(from, to, N, lat_row, out);
    const int a = tetri_gpuset_count(from), b = tetri_gpuset_count(to);
    for (int r = 0; r < b; r++) *(sp_plan_gpu_of_rank(from, r % a) == sp_plan_gpu_of_rank(to, r) ? &out->local : &out->peer) += cond;
}
