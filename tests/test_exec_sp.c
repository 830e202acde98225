/* tests/test_exec_sp.c: the GPU backend's sequence-parallel logic without a GPU (make check):
 * exec/sp_plan.c (set names, ranks, which degrees each GPU captures, the graph inventory, the
 * refusals of a block, the GPU-to-GPU copies and bytes of a request's move between placements) and
 * exec/workers.c's every_gpu driving (a block of k GPUs run on its k workers, one merged event);
 * across processes (tetri-mpi): the refusal of a move between processes, and the GPU options
 * flattened for the other ranks (exec/gpu_wire.c) with each rank's devices. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "exec/gpu_wire.h"
#include "exec/sp_plan.h"
#include "exec/workers.h"

#define DEG(k) (1u << (k))

static void set_names(void **state)
{
    (void)state;
    char b[64];
    tetri_gpuset_name(1ULL << 4, b, sizeof b);
    assert_string_equal(b, "GPU 4");
    tetri_gpuset_name(tetri_gpuset_block(0, 4), b, sizeof b);
    assert_string_equal(b, "GPUs 0-3");
    tetri_gpuset_name(0x26, b, sizeof b);
    assert_string_equal(b, "GPUs 1,2,5");
    tetri_gpuset_name(0, b, sizeof b);
    assert_string_equal(b, "no GPU");
}

static void ranks(void **state)
{
    (void)state;
    const tetri_gpuset s = tetri_gpuset_block(4, 4);
    for (int r = 0; r < 4; r++) {
        assert_int_equal(sp_plan_rank(s, 4 + r), r);
        assert_int_equal(sp_plan_gpu_of_rank(s, r), 4 + r);
    }
    assert_int_equal(sp_plan_rank(s, 3), -1);
    assert_int_equal(sp_plan_rank(s, 8), -1);
    assert_int_equal(sp_plan_rank(0x26, 5), 2); /* a ragged set's numbering is by position too */
    assert_int_equal(sp_plan_gpu_of_rank(0x26, 1), 2);
}

static void gpu_degrees(void **state)
{
    (void)state;
    const unsigned all = DEG(2) | DEG(4) | DEG(8);
    assert_int_equal(sp_plan_gpu_degrees(1, all, 0), DEG(1));
    assert_int_equal(sp_plan_gpu_degrees(2, all, 1), DEG(1) | DEG(2));
    assert_int_equal(sp_plan_gpu_degrees(8, all, 7), DEG(1) | all);
    assert_int_equal(sp_plan_gpu_degrees(8, DEG(4), 5), DEG(1) | DEG(4));
    /* six GPUs: 0-3 hold a set of 4; 4 and 5 only a pair */
    assert_int_equal(sp_plan_gpu_degrees(6, all, 3), DEG(1) | DEG(2) | DEG(4));
    assert_int_equal(sp_plan_gpu_degrees(6, all, 4), DEG(1) | DEG(2));
    /* three GPUs: GPU 2 has no pair */
    assert_int_equal(sp_plan_gpu_degrees(3, all, 2), DEG(1));
}

static void shape_degrees(void **state)
{
    (void)state;
    dit_config c;
    dit_config_flux_dev(&c); /* 24 heads */
    const unsigned all = DEG(2) | DEG(4) | DEG(8);
    assert_int_equal(sp_plan_shape_degrees(&c, 512, 16 * 16, all), DEG(1) | all);
    assert_int_equal(sp_plan_shape_degrees(&c, 512, 16 * 16, DEG(2)), DEG(1) | DEG(2));
    assert_int_equal(sp_plan_shape_degrees(&c, 512, 2 * 2, all), DEG(1) | DEG(2) | DEG(4)); /* 4 image rows: not 8 ranks */
    assert_int_equal(sp_plan_shape_degrees(&c, 512, 16 * 16, 0), DEG(1));
}

static void inventory(void **state)
{
    (void)state;
    sp_inventory inv;
    const unsigned shapes2[] = {DEG(1) | DEG(2), DEG(1) | DEG(2)};
    sp_plan_inventory(2, DEG(2), shapes2, 2, 3, &inv);
    assert_int_equal(inv.degrees, DEG(1) | DEG(2));
    assert_int_equal(inv.graphs[0], 12); /* 2 shapes x 3 batches x degrees 1 and 2 */
    assert_int_equal(inv.sp_graphs[1], 6);
    assert_int_equal(inv.total_graphs, 24);
    assert_int_equal(inv.total_sp_graphs, 12);
    assert_int_equal(inv.sp_sets, 1);
    /* six GPUs, degrees 2 and 4 asked for; the second shape does not run at 4 */
    const unsigned shapes6[] = {DEG(1) | DEG(2) | DEG(4), DEG(1) | DEG(2)};
    sp_plan_inventory(6, DEG(2) | DEG(4) | DEG(8), shapes6, 2, 1, &inv);
    assert_int_equal(inv.wanted, DEG(1) | DEG(2) | DEG(4)); /* 8 does not fit six GPUs */
    assert_int_equal(inv.graphs[0], 2 + 2 + 1);
    assert_int_equal(inv.graphs[5], 2 + 2);
    assert_int_equal(inv.sp_sets, 3 + 1);
    assert_int_equal(inv.gpu_degrees[4], DEG(1) | DEG(2));
    /* one GPU: degree 1 only, whatever is asked */
    sp_plan_inventory(1, DEG(2), shapes2, 2, 4, &inv);
    assert_int_equal(inv.degrees, DEG(1));
    assert_int_equal(inv.total_sp_graphs, 0);
    assert_int_equal(inv.total_graphs, 8);
}

static void refused(const sp_inventory *inv, tetri_gpuset set, unsigned shape, int batch, const char *why_off, const char *want)
{
    tetri_error err = {{0}};
    assert_int_equal(sp_plan_check_block(inv, set, shape, batch, why_off, &err), -1);
    if (!strstr(err.msg, want)) fail_msg("'%s' lacks '%s'", err.msg, want);
}

static void check_block(void **state)
{
    (void)state;
    sp_inventory inv;
    const unsigned shapes[] = {DEG(1) | DEG(2) | DEG(4), DEG(1) | DEG(2)};
    sp_plan_inventory(4, DEG(2) | DEG(4), shapes, 2, 2, &inv);
    tetri_error err = {{0}};
    assert_int_equal(sp_plan_check_block(&inv, tetri_gpuset_block(2, 2), shapes[0], 2, NULL, &err), 0);
    assert_int_equal(sp_plan_check_block(&inv, tetri_gpuset_block(0, 4), shapes[0], 1, NULL, &err), 0);
    refused(&inv, 0x6, shapes[0], 1, NULL, "GPUs 1-2: not an aligned");
    refused(&inv, 0x7, shapes[0], 1, NULL, "degree 3 on GPUs 0-2");
    refused(&inv, 0x5, shapes[0], 1, NULL, "GPUs 0,2");
    refused(&inv, tetri_gpuset_block(4, 2), shapes[0], 1, NULL, "the cluster has 4 GPUs");
    refused(&inv, tetri_gpuset_block(0, 4), shapes[1], 1, NULL, "does not run at degree 4");
    refused(&inv, tetri_gpuset_block(0, 2), shapes[0], 3, NULL, "batch 3 has no graph");
    /* sequence parallelism off: the reason is given */
    sp_plan_inventory(4, 0, shapes, 2, 2, &inv);
    refused(&inv, tetri_gpuset_block(0, 2), DEG(1), 1, "built without NCCL", "sequence parallelism is off: built without NCCL");
    refused(&inv, tetri_gpuset_block(0, 2), DEG(1), 1, NULL, "not among the degrees captured");
}

/* Every row lands once, on the GPU of the new rank that holds it. */
static void check_moves(tetri_gpuset from, tetri_gpuset to, int rows)
{
    sp_plan_move mv[SP_PLAN_MAX_MOVES];
    const int n = sp_plan_moves(from, to, rows, mv);
    int *got = calloc((size_t)rows, sizeof *got);
    for (int i = 0; i < n; i++) {
        dit_sp_shard s, d;
        dit_sp_shard_of(rows, rows, tetri_gpuset_count(from), mv[i].src_rank, &s);
        dit_sp_shard_of(rows, rows, tetri_gpuset_count(to), mv[i].dst_rank, &d);
        assert_int_equal(mv[i].src_gpu, sp_plan_gpu_of_rank(from, mv[i].src_rank));
        assert_int_equal(mv[i].dst_gpu, sp_plan_gpu_of_rank(to, mv[i].dst_rank));
        for (int r = 0; r < mv[i].rows; r++) {
            assert_int_equal(s.t0 + mv[i].src_row + r, d.t0 + mv[i].dst_row + r);
            got[s.t0 + mv[i].src_row + r]++;
        }
    }
    for (int r = 0; r < rows; r++) assert_int_equal(got[r], 1);
    free(got);
}

static void moves(void **state)
{
    (void)state;
    const tetri_gpuset sets[] = {1, 2, 0x3, 0xC, 0xF, 0xF0, 0xFF};
    for (size_t i = 0; i < sizeof sets / sizeof *sets; i++)
        for (size_t j = 0; j < sizeof sets / sizeof *sets; j++) check_moves(sets[i], sets[j], 37);
    /* 1 -> 2 on GPUs 0-1: the first half stays on GPU 0, the second goes to GPU 1 */
    sp_plan_move mv[SP_PLAN_MAX_MOVES];
    assert_int_equal(sp_plan_moves(1, 0x3, 10, mv), 2);
    assert_int_equal(mv[0].src_gpu, 0);
    assert_int_equal(mv[0].dst_gpu, 0);
    assert_int_equal(mv[1].dst_gpu, 1);
    assert_int_equal(mv[1].rows, 5);
}

static void migration_bytes(void **state)
{
    (void)state;
    sp_plan_bytes b;
    /* GPU 0 -> GPUs 0-1: half of each stays; rank 0's conditioning is local, rank 1's crosses */
    sp_plan_migration_bytes(1, 0x3, 10, 20, 2, 4, 100, &b);
    assert_int_equal(b.local, 5 * 2 + 10 * 4 + 100);
    assert_int_equal(b.peer, 5 * 2 + 10 * 4 + 100);
    /* GPUs 0-1 -> 2-3: everything crosses */
    sp_plan_migration_bytes(0x3, 0xC, 10, 20, 2, 4, 100, &b);
    assert_int_equal(b.local, 0);
    assert_int_equal(b.peer, 10 * 2 + 20 * 4 + 2 * 100);
    /* GPUs 0-1 -> GPU 1: rank 0's rows cross; the conditioning comes from GPU 0 (source rank 0) */
    sp_plan_migration_bytes(0x3, 0x2, 10, 20, 2, 4, 100, &b);
    assert_int_equal(b.local, 5 * 2 + 10 * 4);
    assert_int_equal(b.peer, 5 * 2 + 10 * 4 + 100);
}

/* ---- workers: every_gpu ---- */

typedef struct fake {
    atomic_int runs[8];
    int fail_mask;      /* GPUs whose part fails */
    int fatal_mask;
} fake;

static void fake_run(void *ctx, int gpu, const workers_job *job, host_event *ev)
{
    fake *f = ctx;
    atomic_fetch_add(&f->runs[gpu], 1);
    struct timespec ts = {0, (long)(1 + gpu) * 2000000}; /* a higher GPU ends later */
    nanosleep(&ts, NULL);
    if (f->fail_mask >> gpu & 1) {
        ev->kind = HOST_EVENT_FAILED;
        ev->fatal = f->fatal_mask >> gpu & 1;
        snprintf(ev->why, sizeof ev->why, "GPU %d failed", gpu);
    }
    (void)job;
}

static void run_block(workers *w, host_backend *be, tetri_gpuset gpus, host_event *ev)
{
    tetri_assignment a = {.req = {0}, .n_req = 1, .gpus = gpus, .steps = 1};
    host_block blk = {.slot = 7, .a = &a, .pred_ns = 1000000, .emulate_ns = 1000000};
    tetri_error err = {{0}};
    assert_int_equal(be->ops->start_block(be->self, &blk, &err), 0);
    assert_int_equal(be->ops->wait_next(be->self, TETRI_NS_NEVER, ev, &err), 0);
    assert_int_equal(ev->slot, 7);
    /* one event per block: nothing more comes */
    host_event more;
    assert_int_equal(be->ops->wait_next(be->self, be->ops->now(be->self) + 20000000, &more, &err), 0);
    assert_int_equal(more.kind, HOST_EVENT_TIMEOUT);
    (void)w;
}

static void workers_every_gpu(void **state)
{
    (void)state;
    fake f = {.fail_mask = 0};
    const workers_runner r = {.name = "exec", .ctx = &f, .every_gpu = true, .run = fake_run};
    const workers_options o = {.n_gpus = 4, .speed = 1.0, .spin_ns = -1};
    workers *w = NULL;
    tetri_error err = {{0}};
    assert_int_equal(workers_open(&o, &r, &w, &err), 0);
    host_backend be;
    workers_bind(&be, w);
    host_event ev;
    run_block(w, &be, 0xC, &ev); /* GPUs 2-3: both run, one DONE at the later end */
    assert_int_equal(ev.kind, HOST_EVENT_DONE);
    assert_int_equal(atomic_load(&f.runs[2]), 1);
    assert_int_equal(atomic_load(&f.runs[3]), 1);
    assert_int_equal(atomic_load(&f.runs[0]), 0);
    assert_true(ev.end_real_ns - ev.start_real_ns >= 8000000); /* GPU 3's part: 8 ms */
    f.fail_mask = 0x8;  /* GPU 3 fails, not fatally */
    run_block(w, &be, 0xF, &ev);
    assert_int_equal(ev.kind, HOST_EVENT_FAILED);
    assert_false(ev.fatal);
    assert_string_equal(ev.why, "GPU 3 failed");
    f.fail_mask = 0xA;  /* GPUs 1 and 3: the lower one's why; fatal when any part is */
    f.fatal_mask = 0x8;
    run_block(w, &be, 0xF, &ev);
    assert_string_equal(ev.why, "GPU 1 failed");
    assert_true(ev.fatal);
    f.fail_mask = 0;
    run_block(w, &be, 0x1, &ev); /* degree 1 still runs on its GPU alone */
    assert_int_equal(ev.kind, HOST_EVENT_DONE);
    assert_int_equal(atomic_load(&f.runs[0]), 3);
    assert_int_equal(atomic_load(&f.runs[1]), 2);
    workers_close(w, TETRI_NS_PER_S);
}

/* Moves within one process are peer copies; between processes they are refused, saying so. */
static void check_move(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    const tetri_gpuset g0 = 1, g1 = 2, g01 = 3, g23 = 0xC, g03 = 0xF;
    assert_int_equal(sp_plan_check_move(1, g0, g1, 0, &err), 0);    /* one process */
    assert_int_equal(sp_plan_check_move(1, 0, g01, 1, &err), 0);    /* a first placement moves nothing */
    assert_int_equal(sp_plan_check_move(1, g01, g01, 1, &err), 0);  /* nor does staying */
    assert_int_equal(sp_plan_check_move(1, g0, g1, 2, &err), 0);    /* GPUs 0 and 1 share process 0 */
    assert_int_equal(sp_plan_check_move(1, g01, g0, 2, &err), 0);
    assert_int_equal(sp_plan_check_move(1, g23, 1ULL << 3, 2, &err), 0);
    assert_int_equal(sp_plan_check_move(7, g0, g1, 1, &err), -1);
    assert_non_null(strstr(err.msg, "request 7 would move from GPU 0 to GPU 1, across processes (1 GPU each: process 0 to process 1)"));
    assert_non_null(strstr(err.msg, "not supported yet"));
    assert_int_equal(sp_plan_check_move(3, g01, g0, 1, &err), -1);  /* gathering from both processes */
    assert_non_null(strstr(err.msg, "from GPUs 0-1 to GPU 0, across processes (1 GPU each: process 0+ to process 0)"));
    assert_int_equal(sp_plan_check_move(3, g01, g03, 2, &err), -1);
    assert_non_null(strstr(err.msg, "(2 GPUs each: process 0 to process 0+)"));
}

/* The options rank 0 ships, and what another rank makes of them. */
static void wire(void **state)
{
    (void)state;
    tetri_error err = {{0}};
    const gpu_shape shapes[2] = {{256, 256, 8}, {512, 512, 8}};
    gpu_options o = {.n_gpus = 4, .model = TETRI_MODEL_SD3_MEDIUM, .weight_seed = 9, .shapes = shapes, .n_shapes = 2, .max_batch = 2,
                     .sp_degrees = DEG(2), .attention = 1, .time_limit = 1.5, .time_limit_floor_ns = 2 * TETRI_NS_PER_S,
                     .settle_ns = 5, .spin_ns = 6, .poll_real_ns = 7, .save_latents_dir = "/tmp/lat", .inject_error_at = 3,
                     .inject_hang_at = 4, .log = stdout};
    for (int g = 0; g < 4; g++) o.devices[g] = g;
    static gpu_wire w; /* 5 KB: off the test's stack */
    assert_int_equal(gpu_wire_pack(&o, false, true, &w, &err), 0);
    gpu_shape got_shapes[GPU_WIRE_SHAPES];
    gpu_options got;
    gpu_wire_unpack(&w, 2, 2, 2, 0, got_shapes, &got);
    assert_int_equal(got.n_gpus, 4);
    assert_int_equal(got.devices[2], 0); /* rank 1's GPUs 2, 3 on a node of its own: its devices 0, 1 */
    assert_int_equal(got.devices[3], 1);
    gpu_wire_unpack(&w, 2, 2, 2, 2, got_shapes, &got); /* second on its node: devices 2, 3 */
    assert_int_equal(got.devices[2], 2);
    assert_int_equal(got.devices[3], 3);
    gpu_wire_unpack(&w, 2, 2, 2, 0, got_shapes, &got);
    assert_int_equal(got.model, TETRI_MODEL_SD3_MEDIUM);
    assert_null(got.weights_dir);
    assert_string_equal(got.save_latents_dir, "/tmp/lat");
    assert_int_equal(got.weight_seed, 9);
    assert_int_equal(got.n_shapes, 2);
    assert_int_equal(got.shapes[1].width, 512);
    assert_int_equal(got.max_batch, 2);
    assert_int_equal(got.sp_degrees, DEG(2));
    assert_int_equal(got.attention, 1);
    assert_true(got.time_limit == 1.5);
    assert_int_equal(got.time_limit_floor_ns, 2 * TETRI_NS_PER_S);
    assert_int_equal(got.settle_ns + got.spin_ns + got.poll_real_ns, 18);
    assert_int_equal(got.inject_error_at, 3);
    assert_int_equal(got.inject_hang_at, 4);
    assert_null(got.log); /* quiet */
    assert_int_equal(got.gpus_per_process, 2);
    assert_int_equal(got.first_gpu, 2);
    assert_int_equal(got.n_local, 2);
    assert_true(got.external_workers);
    assert_null(got.nccl_id);
    /* --devices: each entry is the CUDA device on its GPU's own process */
    o.devices[2] = 5, o.devices[3] = 4;
    assert_int_equal(gpu_wire_pack(&o, true, false, &w, &err), 0);
    gpu_wire_unpack(&w, 2, 2, 2, 2, got_shapes, &got);
    assert_int_equal(got.devices[2], 5);
    assert_int_equal(got.devices[3], 4);
    assert_ptr_equal(got.log, stdout);
    /* what does not fit */
    char long_path[GPU_WIRE_PATH_MAX + 8];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    o.weights_dir = long_path;
    assert_int_equal(gpu_wire_pack(&o, false, false, &w, &err), -1);
    assert_non_null(strstr(err.msg, "--weights: a path of"));
    o.weights_dir = NULL;
    o.n_shapes = GPU_WIRE_SHAPES + 1;
    assert_int_equal(gpu_wire_pack(&o, false, false, &w, &err), -1);
    assert_non_null(strstr(err.msg, "shapes"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_names),       cmocka_unit_test(ranks),           cmocka_unit_test(gpu_degrees),
        cmocka_unit_test(shape_degrees),   cmocka_unit_test(inventory),       cmocka_unit_test(check_block),
        cmocka_unit_test(moves),           cmocka_unit_test(migration_bytes), cmocka_unit_test(workers_every_gpu),
        cmocka_unit_test(check_move),      cmocka_unit_test(wire),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
